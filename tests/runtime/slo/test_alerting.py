"""SLO burn-rate alerts raised by the alert engine itself: real store, real local webhook.

Events are written to the store as the application would (``slo.storage.record_many``); the
engine's cycle evaluates the burn alerts through :class:`BurnRateSource`, the outbox is flushed
by the real dispatcher to the local HTTP recorder, and every burn rate asserted is worked out
by hand in the comments.
"""

from __future__ import annotations

from typing import Any

import pytest

from plimsoll.core.errors import ConfigError
from plimsoll.core.store import SqliteStore
from plimsoll.runtime.alerts.engine import AlertEngine
from plimsoll.runtime.alerts.samples import StoreSamples
from plimsoll.runtime.alerts.silences import Silence, parse_matchers
from plimsoll.runtime.alerts.state import AlertState, AlertStore
from plimsoll.runtime.slo import storage
from plimsoll.runtime.slo.alerting import BurnRateSource, active_alerts
from plimsoll.runtime.slo.model import SloConfig
from plimsoll.runtime.slo.report import status
from tests.runtime.alerts.helpers import alerts_config, dispatcher, notify_config
from tests.support.servers import HttpRecorder

# A minute boundary, so buckets fall exactly on window edges.
NOW = 1_700_006_400.0
MINUTE = 60.0


def slo_config(**objective: Any) -> SloConfig:
    return SloConfig.model_validate(
        {"objectives": [{"name": "api", "target": "99%", "labels": {"team": "web"}, **objective}]}
    )


def background(store: SqliteStore, slo: str = "api", error: float = 0.0) -> None:
    """Three days of 1,000 events a minute, ``error`` of them bad (the minutes before NOW)."""
    bad = 1000.0 * error
    rows = [(slo, 1000.0 - bad, 1000.0, NOW - k * MINUTE) for k in range(1, 3 * 24 * 60 + 1)]
    storage.record_many(store, rows)


def burst(store: SqliteStore, minutes: int, bad: float, slo: str = "api") -> None:
    """``bad`` more failed events in each of the ``minutes`` minutes before NOW."""
    storage.record_many(store, [(slo, 0.0, bad, NOW - k * MINUTE) for k in range(1, minutes + 1)])


def engine_for(store: SqliteStore, slo: SloConfig, notify: Any, **alerting: Any) -> AlertEngine:
    config = alerts_config(rules=[], **alerting)
    source = BurnRateSource(
        slo, store, channels=list(notify.channels), policies=list(config.escalation)
    )
    return AlertEngine(
        config, store, StoreSamples(store), channels=list(notify.channels), sources=[source]
    )


def test_rules_labels_and_observations_match_the_report(store: SqliteStore) -> None:
    background(store)
    burst(store, 60, 250)  # the last hour: 250 bad of 1,250 a minute
    slo = slo_config()
    source = BurnRateSource(slo, store)
    assert [r.name for r in source.rules] == ["SLOFastBurn", "SLOMediumBurn", "SLOSlowBurn"]
    assert [r.severity_label for r in source.rules] == ["page", "page", "ticket"]
    observed = {rule.name: obs for rule, obs in source.observe(NOW)}
    fast = observed["SLOFastBurn"]
    assert dict(fast.labels) == {"slo": "api", "burn": "fast-burn", "window": "1h/5m",
                                 "team": "web"}  # fmt: skip
    # 1h and 5m: 250 of 1,250 bad = 20% -> 20 / 1% = 20x, over 14.4 in both windows.
    assert fast.holds is True and fast.value == pytest.approx(20.0)
    # 6h: 15,000 bad of 375,000 = 4% -> 4x; 30m: 20x. Medium needs 6x in both: the smaller is 4.
    assert observed["SLOMediumBurn"].holds is False
    assert observed["SLOMediumBurn"].value == pytest.approx(4.0)
    # 3d: 15,000 of 4,335,000 -> 0.346x, under 1: no ticket.
    assert observed["SLOSlowBurn"].holds is False
    assert observed["SLOSlowBurn"].value == pytest.approx(15_000 / 4_335_000 / 0.01)
    # The same numbers as `plimsoll runtime slo` reports.
    report = status(store, slo.objectives[0], NOW, slo.burn_alerts)
    assert [a.alert.name for a in report.firing] == ["fast-burn"]
    # Allowed over the 30d period: 1% of 4,335,000 = 43,350; 15,000 spent -> 65.4% left.
    assert report.budget.remaining_fraction == pytest.approx(1 - 15_000 / 43_350)
    assert fast.message == (
        "SLO api burns its error budget at 20x over 1h and 20x over 5m (alert above 14.4x);"
        " 65.4% of the 30d budget left"
    )


def test_fast_burn_pages_the_webhook_then_resolves(
    store: SqliteStore, http_recorder: HttpRecorder
) -> None:
    background(store)
    burst(store, 60, 250)
    notify = notify_config(f"{http_recorder.url}/hook")
    engine = engine_for(store, slo_config(), notify)
    clock = [NOW]
    send = dispatcher(store, notify, clock)
    result = engine.cycle(NOW)
    assert [(t.rule, t.to_state) for t in result.transitions] == [("SLOFastBurn", "firing")]
    assert all(r.delivered for r in send.flush_outbox())
    [page] = http_recorder.requests
    body = page.json()
    assert body["title"] == "[FIRING:1] SLOFastBurn (alertname=SLOFastBurn)"
    assert body["severity"] == "critical"  # severity=page reads as critical to the channels
    assert "burn=fast-burn, severity=page, slo=api, team=web, window=1h/5m" in body["body"]
    assert "20x over 1h and 20x over 5m" in body["body"]
    assert "65.4% of the 30d budget left" in body["body"]
    [alert] = AlertStore(store).alerts([AlertState.FIRING])
    assert alert.labels["severity"] == "page" and alert.value == pytest.approx(20.0)
    assert list(active_alerts(store)) == ["api"]

    # Ten good minutes later (1,000 good a minute, nothing bad): 5m burns 0x, the page resolves
    # although the 1h window (50 bad minutes of 60) still burns 16.7x.
    storage.record_many(store, [("api", 1000.0, 1000.0, NOW + k * MINUTE) for k in range(10)])
    later = NOW + 10 * MINUTE
    result = engine.cycle(later)
    assert [(t.rule, t.to_state) for t in result.transitions] == [("SLOFastBurn", "resolved")]
    clock[0] = later
    assert all(r.delivered for r in send.flush_outbox())
    resolved = http_recorder.requests[-1].json()
    assert resolved["title"] == "[RESOLVED] SLOFastBurn (alertname=SLOFastBurn)"
    assert resolved["severity"] == "success"
    assert active_alerts(store) == {}
    history = [e["to_state"] for e in AlertStore(store).events()]
    assert history == ["firing", "resolved"]


def test_a_restart_resumes_the_firing_alert(
    store: SqliteStore, http_recorder: HttpRecorder
) -> None:
    background(store)
    burst(store, 60, 250)
    notify = notify_config(f"{http_recorder.url}/hook")
    engine_for(store, slo_config(), notify).cycle(NOW)
    [fired] = AlertStore(store).alerts([AlertState.FIRING])
    # A new process (a new engine and source over the same store), still burning a minute on.
    result = engine_for(store, slo_config(), notify).cycle(NOW + MINUTE)
    assert result.transitions == () and result.notifications == 0  # sent already, no repeat yet
    [again] = AlertStore(store).alerts([AlertState.FIRING])
    assert again.fingerprint == fired.fingerprint and again.fired_at == NOW


def test_objective_channels_subset_escalation_and_inhibition(
    store: SqliteStore, http_recorder: HttpRecorder
) -> None:
    # Three days at 2% bad (2x: the slow burn's ticket), then 30% in the last hour (30x: a page).
    background(store, error=0.02)
    burst(store, 60, 400)
    for slo in ("jobs", "batch"):
        background(store, slo=slo, error=0.02)
    notify = notify_config(
        f"{http_recorder.url}/hook",
        tickets={"kind": "webhook", "url": f"{http_recorder.url}/tickets", "retries": 0},
        pager={"kind": "webhook", "url": f"{http_recorder.url}/pager", "retries": 0},
    )
    slo = SloConfig.model_validate(
        {
            "burn_alerts": [
                {"name": "fast-burn", "severity": "page", "factor": 14.4, "long": "1h",
                 "short": "5m", "escalation": "oncall"},
                {"name": "slow-burn", "severity": "ticket", "factor": 1, "long": "3d",
                 "short": "6h"},
            ],
            "objectives": [
                {"name": "api", "target": "99%"},
                {"name": "jobs", "target": "99%", "alerts": ["slow-burn"],
                 "channels": ["tickets"]},
                {"name": "batch", "target": "99%", "alerts": []},
            ],
        }
    )  # fmt: skip
    engine = engine_for(
        store,
        slo,
        notify,
        group_by=["alertname", "slo"],
        escalation={"oncall": {"levels": [{"delay": "0s", "channels": ["pager"]}]}},
        inhibit=[
            {"source_matchers": ["severity=page"], "target_matchers": ["severity=ticket"],
             "equal": ["slo"]}
        ],
    )  # fmt: skip
    engine.cycle(NOW)
    firing = {(a.rule, a.labels["slo"]) for a in AlertStore(store).alerts([AlertState.FIRING])}
    # batch has no burn alert; jobs only the slow one; api both.
    assert firing == {("SLOFastBurn", "api"), ("SLOSlowBurn", "api"), ("SLOSlowBurn", "jobs")}
    sent = sorted((i.channel, i.payload["title"]) for i in store.outbox_pending())
    assert sent == [
        # api's ticket is inhibited by its page; jobs' ticket goes to its own channel.
        ("hook", "[FIRING:1] SLOFastBurn (alertname=SLOFastBurn, slo=api)"),
        ("pager", "[ESCALATION 1] SLOFastBurn"),
        ("tickets", "[FIRING:1] SLOSlowBurn (alertname=SLOSlowBurn, slo=jobs)"),
    ]
    ticket = next(i for i in store.outbox_pending() if i.channel == "tickets")
    assert ticket.payload["severity"] == "warning"  # severity=ticket


def test_a_silence_mutes_the_page_but_keeps_its_state(
    store: SqliteStore, http_recorder: HttpRecorder
) -> None:
    background(store)
    burst(store, 60, 250)
    notify = notify_config(f"{http_recorder.url}/hook")
    engine = engine_for(store, slo_config(), notify)
    AlertStore(store).add_silence(
        Silence(parse_matchers(["slo=api", "severity=page"]), NOW - 1, NOW + 3600), now=NOW
    )
    engine.cycle(NOW)
    assert store.outbox_pending() == []
    assert [a.rule for a in AlertStore(store).alerts([AlertState.FIRING])] == ["SLOFastBurn"]


def test_an_objective_that_cannot_be_counted_keeps_its_alerts(store: SqliteStore) -> None:
    from plimsoll.runtime import storage as runtime_storage

    slo = SloConfig.model_validate(
        {"objectives": [{"name": "lat", "target": 0.99,
                         "latency": {"metric": "req_seconds", "threshold": 0.3}}]}
    )  # fmt: skip
    runtime_storage.add_samples(
        store,
        [runtime_storage.Sample("req_seconds_bucket", 1.0, NOW - 30, {"le": "0.5"}),
         runtime_storage.Sample("req_seconds_count", 1.0, NOW - 30)],
    )  # fmt: skip
    observations = BurnRateSource(slo, store).observe(NOW)
    assert {obs.holds for _, obs in observations} == {None}
    assert "latency.threshold 0.3 is not a bucket bound" in observations[0][1].message


def test_configuration_errors_name_the_key(store: SqliteStore) -> None:
    notify = notify_config("http://127.0.0.1:9/hook")
    with pytest.raises(ConfigError, match=r"runtime.slo.objectives\[0\].channels: unknown channel"):
        BurnRateSource(slo_config(channels=["nope"]), store, channels=list(notify.channels))
    with pytest.raises(
        ConfigError, match=r"runtime.slo.burn_alerts\[0\].escalation: unknown escalation policy"
    ):
        BurnRateSource(
            SloConfig.model_validate(
                {"objectives": [{"name": "a", "target": 0.9}],
                 "burn_alerts": [{"name": "x", "severity": "page", "factor": 2, "long": "1h",
                                  "short": "5m", "escalation": "ghost"}]}
            ),
            store,
            policies=[],
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"objectives\[0\].alerts: unknown burn alert 'fast'"):
        slo_config(alerts=["fast"])
    with pytest.raises(ValueError, match="both be named SLOFastBurn"):
        SloConfig.model_validate(
            {"burn_alerts": [
                {"name": "fast-burn", "severity": "page", "factor": 14.4, "long": "1h", "short": "5m"},
                {"name": "fast_burn", "severity": "page", "factor": 6, "long": "6h", "short": "30m"},
            ]}
        )  # fmt: skip
    with pytest.raises(ValueError, match="shorter than the longest burn-alert window"):
        SloConfig.model_validate({"retention": "2d"})
    clash = alerts_config(rules=[{"name": "SLOFastBurn", "metric": "m", "op": ">", "value": 1}])
    with pytest.raises(ConfigError, match="the name SLOFastBurn is taken"):
        AlertEngine(
            clash, store, StoreSamples(store), sources=[BurnRateSource(slo_config(), store)]
        )


def test_retention_defaults_to_the_longest_period_and_a_day() -> None:
    assert SloConfig().retention_seconds == 31 * 86400  # 30d default period + 1d
    config = SloConfig.model_validate(
        {"objectives": [{"name": "a", "target": 0.9, "period": "7d"},
                        {"name": "b", "target": 0.9, "period": "28d"}]}
    )  # fmt: skip
    assert config.retention_seconds == 29 * 86400
    short = SloConfig.model_validate({"objectives": [{"name": "a", "target": 0.9, "period": "1d"}]})
    assert short.retention_seconds == 3 * 86400  # never under the slow burn's 3d window
    assert SloConfig.model_validate({"retention": "90d"}).retention_seconds == 90 * 86400
