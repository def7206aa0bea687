"""The evaluation cycle against a real store and real local webhook/SMTP servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.errors import ConfigError, InputError
from plimsoll.runtime.alerts.silences import Silence, parse_matchers
from plimsoll.runtime.alerts.state import AlertState, AlertStore
from tests.runtime.alerts.helpers import (
    T0,
    alerts_config,
    cpu,
    dispatcher,
    engine,
    notify_config,
    open_store,
)
from tests.support.servers import HttpRecorder, SmtpRecorder


def states(store: object) -> dict[str, str]:
    return {a.labels["host"]: a.state.value for a in AlertStore(store).alerts()}  # type: ignore[arg-type]


def test_lifecycle_pending_firing_acknowledged_resolved(
    tmp_path: Path, http_recorder: HttpRecorder
) -> None:
    store = open_store(tmp_path)
    notify = notify_config(f"{http_recorder.url}/hook")
    eng = engine(store, alerts_config(), notify)
    clock = [T0]
    send = dispatcher(store, notify, clock)
    cpu(store, T0, 95)
    result = eng.cycle(T0)
    assert [t.to_state for t in result.transitions] == ["pending"]
    assert states(store) == {"a": "pending"}
    cpu(store, T0 + 60, 96)
    eng.cycle(T0 + 60)
    assert states(store) == {"a": "pending"}  # held 60 s of the 120 s `for`
    cpu(store, T0 + 120, 97)
    result = eng.cycle(T0 + 120)
    assert [t.to_state for t in result.transitions] == ["firing"]
    assert result.notifications == 1
    clock[0] = T0 + 120
    [delivered] = send.flush_outbox()
    assert delivered.delivered
    [request] = http_recorder.requests
    body = request.json()
    assert body["title"] == "[FIRING:1] HighCPU (alertname=HighCPU)"
    assert body["severity"] == "critical"
    assert "CPU at 97% on a" in body["body"]
    [alert] = AlertStore(store).acknowledge("HighCPU", by="ana", now=T0 + 130)
    assert alert.state is AlertState.ACKNOWLEDGED and alert.acked_by == "ana"
    # Acknowledged again: nothing changes, and it says who took it when (no error).
    [again] = AlertStore(store).acknowledge("HighCPU", by="bo", now=T0 + 131)
    assert (again.acked_by, again.acked_at) == ("ana", T0 + 130)
    assert [e["to_state"] for e in AlertStore(store).events()].count("acknowledged") == 1
    with pytest.raises(InputError, match="no firing alert"):
        AlertStore(store).acknowledge("NoSuchRule", by="ana", now=T0 + 131)
    cpu(store, T0 + 180, 97)
    eng.cycle(T0 + 180)
    assert states(store) == {"a": "acknowledged"}  # still holds: stays acknowledged
    cpu(store, T0 + 240, 20)
    result = eng.cycle(T0 + 240)
    assert [t.to_state for t in result.transitions] == ["resolved"]
    clock[0] = T0 + 240
    send.flush_outbox()
    resolved = http_recorder.requests[-1].json()
    assert resolved["title"].startswith("[RESOLVED] HighCPU")
    assert resolved["fields"]["resolved"] == 1
    # What is observed now (20), not the last firing value (97), in the rule's own words
    # ("CPU at {value}% on {host}"), against the condition that fired (never "expected > 90",
    # which would call the firing state the healthy one).
    assert "CPU at 20% on a (no longer > 90)" in resolved["body"], resolved["body"]
    assert "97" not in resolved["body"] and "expected" not in resolved["body"]
    history = [e["to_state"] for e in AlertStore(store).events()]
    assert history == ["pending", "firing", "acknowledged", "resolved"]


def test_a_flap_shorter_than_for_never_fires(tmp_path: Path, http_recorder: HttpRecorder) -> None:
    store = open_store(tmp_path)
    eng = engine(store, alerts_config(), notify_config(http_recorder.url))
    for i, value in enumerate([95, 20, 95, 20]):
        cpu(store, T0 + 60 * i, value)
        eng.cycle(T0 + 60 * i)
    assert states(store) == {"a": "resolved"}
    assert store.outbox_pending() == []


def test_grouping_waits_then_sends_once_and_repeats(
    tmp_path: Path, http_recorder: HttpRecorder
) -> None:
    store = open_store(tmp_path)
    notify = notify_config(http_recorder.url)
    config = alerts_config(group_wait="30s", group_interval="1m", repeat_interval="10m")
    eng = engine(store, config, notify)
    config_rule = config.rules[0]
    assert config_rule.hold_seconds == 120
    for host in ("a", "b"):
        cpu(store, T0, 95, host)
        cpu(store, T0 + 120, 95, host)
    eng.cycle(T0)
    result = eng.cycle(T0 + 120)
    assert result.notifications == 0  # group_wait not over
    for t in (T0 + 150, T0 + 200, T0 + 400):
        for host in ("a", "b"):
            cpu(store, t, 95, host)
    assert eng.cycle(T0 + 150).notifications == 1  # both hosts in one message
    assert eng.cycle(T0 + 200).notifications == 0  # nothing changed, no repeat yet
    assert eng.cycle(T0 + 400).notifications == 0
    [item] = store.outbox_pending()
    assert item.payload["title"] == "[FIRING:2] HighCPU (alertname=HighCPU)"
    cpu(store, T0 + 800, 95, "a")
    cpu(store, T0 + 800, 95, "b")
    assert eng.cycle(T0 + 800).notifications == 1  # repeat_interval (10 m) passed
    assert store.outbox_pending()[-1].payload["fields"]["repeat"] is True


def test_silence_maintenance_and_inhibition_mute_notifications(
    tmp_path: Path, http_recorder: HttpRecorder
) -> None:
    store = open_store(tmp_path)
    config = alerts_config(
        rules=[
            {"name": "HighCPU", "metric": "system_cpu_percent", "op": ">", "value": 90,
             "severity": "warning"},
            {"name": "HostDown", "metric": "up", "op": "==", "value": 0, "severity": "critical"},
        ],
        group_by=["..."],
        inhibit=[{"source_matchers": ["alertname=HostDown"],
                  "target_matchers": ["severity=warning"], "equal": ["host"]}],
        maintenance=[{"name": "upgrade", "matchers": ["host=c"],
                      "starts_at": "2023-11-14T00:00:00+00:00",
                      "ends_at": "2023-11-15T00:00:00+00:00"}],
    )  # fmt: skip
    eng = engine(store, config, notify_config(http_recorder.url))
    alerts = AlertStore(store)
    alerts.add_silence(
        Silence(parse_matchers(["host=~b"]), T0 - 1, T0 + 3600, "deploying", "ana"), now=T0
    )
    from plimsoll.runtime import storage

    for host in "abcd":
        cpu(store, T0, 95, host)
    storage.add_samples(store, [storage.Sample("up", 0, T0, {"host": "d"})])
    eng.cycle(T0)
    titles = sorted(item.payload["title"] for item in store.outbox_pending())
    # a: notified; b: silenced; c: maintenance; d: HighCPU inhibited by HostDown on d.
    assert titles == [
        "[FIRING:1] HighCPU (alertname=HighCPU, host=a, severity=warning)",
        "[FIRING:1] HostDown (alertname=HostDown, host=d, severity=critical)",
    ]
    # Muted alerts still have their state.
    assert {a.labels["host"] for a in alerts.alerts([AlertState.FIRING])} == set("abcd")


def test_escalation_levels_until_acknowledged(
    tmp_path: Path, http_recorder: HttpRecorder, smtp_recorder: SmtpRecorder
) -> None:
    store = open_store(tmp_path)
    notify = notify_config(
        f"{http_recorder.url}/hook",
        mail={"kind": "smtp", "host": smtp_recorder.host, "port": smtp_recorder.port,
              "sender": "alerts@example.test", "to": ["oncall@example.test"]},
        chat={"kind": "apprise", "url": f"mmost://127.0.0.1:{http_recorder.port}/tok123456"},
    )  # fmt: skip
    config = alerts_config(
        channels=[],
        escalation={"ops": {"levels": [{"delay": "0s", "channels": ["chat"]},
                                       {"delay": "10m", "channels": ["mail"]},
                                       {"delay": "30m", "channels": ["hook"]}]}},
    )  # fmt: skip
    rules = [{**config.rules[0].model_dump(by_alias=True), "escalation": "ops", "for": None}]
    config = alerts_config(channels=[], escalation=config.model_dump()["escalation"], rules=rules)
    eng = engine(store, config, notify)
    clock = [T0]
    send = dispatcher(store, notify, clock)
    for minute in (0, 5, 11):
        cpu(store, T0 + 60 * minute, 99)
        eng.cycle(T0 + 60 * minute)
        clock[0] = T0 + 60 * minute
        assert all(r.delivered for r in send.flush_outbox())
    [chat] = http_recorder.requests_to("/hooks/tok123456")
    assert "[ESCALATION 1] HighCPU" in chat.json()["text"]
    [mail] = smtp_recorder.messages
    assert "[ESCALATION 2] HighCPU" in mail.message["Subject"]
    AlertStore(store).acknowledge("HighCPU", by="bo", now=T0 + 700)
    cpu(store, T0 + 3600, 99)
    eng.cycle(T0 + 3600)
    assert store.outbox_pending() == []  # level 3 never sent: acknowledged
    assert [r for r in http_recorder.requests if r.path == "/hook"] == []


def test_unknown_channel_is_a_config_error(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with pytest.raises(ConfigError, match=r"runtime.alerts.routes\[0\].channels: unknown channel"):
        engine(
            store,
            alerts_config(routes=[{"matchers": ["team=ops"], "channels": ["pager"]}]),
            notify_config("http://127.0.0.1:9"),
        )


def test_routes_send_matching_alerts_to_their_channels(
    tmp_path: Path, http_recorder: HttpRecorder
) -> None:
    store = open_store(tmp_path)
    notify = notify_config(
        f"{http_recorder.url}/hook",
        pager={"kind": "webhook", "url": f"{http_recorder.url}/pager", "retries": 0},
    )
    config = alerts_config(routes=[{"matchers": ["severity=critical"], "channels": ["pager"]}])
    config = alerts_config(routes=config.model_dump(by_alias=True)["routes"], rules=[
        {**config.rules[0].model_dump(by_alias=True), "for": None}])  # fmt: skip
    eng = engine(store, config, notify)
    cpu(store, T0, 99)
    eng.cycle(T0)
    assert [i.channel for i in store.outbox_pending()] == ["pager"]
