"""Service level objectives: error budgets, multi-window multi-burn-rate alerts, reports.

- :mod:`~plimsoll.runtime.slo.model`: objectives (ratio or latency), the ``runtime.slo`` section;
- :mod:`~plimsoll.runtime.slo.storage`: SLO events in the store, and counts derived from samples;
- :mod:`~plimsoll.runtime.slo.budget`: error budget and burn-rate arithmetic (pure);
- :mod:`~plimsoll.runtime.slo.burn`: the multi-window multi-burn-rate alerts;
- :mod:`~plimsoll.runtime.slo.alerting`: those alerts raised by ``plimsoll runtime watch``
  through the alert engine (lifecycle, routing, silences, escalation, notifications);
- :mod:`~plimsoll.runtime.slo.report`: the status of an objective and compliance per period;
- :mod:`~plimsoll.runtime.slo.openslo`: OpenSLO v1 documents as objectives;
- :mod:`~plimsoll.runtime.slo.prometheus`: Prometheus recording and alerting rules.
"""
