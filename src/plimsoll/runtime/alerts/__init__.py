"""Alerts over sampled metrics: rules, lifecycle, grouping, silences, escalation, delivery.

One evaluation cycle (:mod:`.engine`) reads the samples the monitor stored, evaluates every
:class:`~.rule.AlertRule` with :mod:`plimsoll.core.rules`, moves each alert through
pending, firing, acknowledged and resolved (:mod:`.state`, kept in the store), and queues the
notifications that grouping (:mod:`.grouping`), silences, maintenance windows, inhibition
(:mod:`.silences`) and escalation (:mod:`.escalation`) call for in the outbox of
:mod:`plimsoll.core.notify`, whose dispatcher delivers them. Rule sources evaluated alike
(:class:`~.engine.RuleSource`) bring rules of their own: the SLO burn-rate alerts of
:mod:`plimsoll.runtime.slo.alerting`.
"""
