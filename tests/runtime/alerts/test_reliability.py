"""Reliability: a notification target down for a while, and a restart in the middle of an alert."""

from __future__ import annotations

import time
from pathlib import Path

from plimsoll.runtime.alerts.engine import AlertEngine
from plimsoll.runtime.alerts.samples import StoreSamples
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
from tests.support.servers import HttpRecorder, Response


def test_target_down_then_back_gets_every_alert_in_order_once(
    tmp_path: Path, http_recorder: HttpRecorder
) -> None:
    store = open_store(tmp_path)
    notify = notify_config(f"{http_recorder.url}/hook")
    # One group per host, no waiting: each host's firing and resolving is its own message.
    config = alerts_config(group_by=["alertname", "host"], group_interval="0s")
    rules = [{**config.rules[0].model_dump(by_alias=True), "for": None}]
    eng = engine(store, alerts_config(group_by=["host"], group_interval="0s", rules=rules), notify)
    clock = [T0]
    send = dispatcher(store, notify, clock)
    # The target is down: every request answers 503 (slowly, to show the cycle never waits).
    http_recorder.default = Response(503, {"down": True}, delay_seconds=0.2)
    expected: list[str] = []
    cycle_seconds = []
    for step, host in enumerate("abcde"):
        at = T0 + 10 * step
        cpu(store, at, 99, host)
        started = time.perf_counter()
        result = eng.cycle(at)
        cycle_seconds.append(time.perf_counter() - started)
        assert result.notifications == 1
        expected.append(f"[FIRING:1] HighCPU (host={host})")
        clock[0] = at
        outcome = send.flush_outbox()
        assert not any(r.delivered for r in outcome)
    # Host a recovers while the target is still down: its resolve message queues behind.
    cpu(store, T0 + 60, 10, "a")
    for host in "bcde":
        cpu(store, T0 + 60, 99, host)
    eng.cycle(T0 + 60)
    expected.append("[RESOLVED] HighCPU (host=a)")
    failed_attempts = len(http_recorder.requests)
    assert 1 <= failed_attempts <= 5  # the breaker opened after 3 failures and held the rest
    # The cycle never waited on the 0.2 s answers of the target.
    assert max(cycle_seconds) < 0.2
    assert [i.payload["title"] for i in store.outbox_pending()] == expected
    # The target comes back; the breaker's reset (30 s) has passed.
    http_recorder.default = Response(200, {"ok": True})
    http_recorder.clear()
    clock[0] = T0 + 200
    for _ in range(3):  # flushing again delivers nothing twice
        send.flush_outbox()
        clock[0] += 60
    titles = [r.json()["title"] for r in http_recorder.requests]
    assert titles == expected
    assert store.outbox_pending() == []


def test_restart_in_the_middle_of_a_firing_alert(
    tmp_path: Path, http_recorder: HttpRecorder
) -> None:
    notify = notify_config(f"{http_recorder.url}/hook")
    # Evaluated every minute, as the cycles below: a restart between two cycles is no outage.
    config = alerts_config(evaluation_interval="1m")
    store = open_store(tmp_path)
    first = engine(store, config, notify)
    for minute in (0, 1):
        cpu(store, T0 + 60 * minute, 99)
        first.cycle(T0 + 60 * minute)
    [pending] = AlertStore(store).alerts()
    assert pending.state is AlertState.PENDING and pending.active_since == T0
    store.close()  # the process stops half-way through `for`

    store = open_store(tmp_path)
    second = AlertEngine(config, store, StoreSamples(store), channels=["hook"])
    cpu(store, T0 + 120, 99)
    result = second.cycle(T0 + 120)
    # The pending time survived the restart: 120 s held since T0, so it fires now.
    assert [t.to_state for t in result.transitions] == ["firing"]
    assert result.notifications == 1
    store.close()

    store = open_store(tmp_path)  # a second restart while firing
    third = AlertEngine(config, store, StoreSamples(store), channels=["hook"])
    [firing] = AlertStore(store).alerts()
    assert firing.state is AlertState.FIRING and firing.fired_at == T0 + 120
    cpu(store, T0 + 180, 99)
    result = third.cycle(T0 + 180)
    assert result.transitions == () and result.notifications == 0  # no duplicate message
    cpu(store, T0 + 240, 5)
    result = third.cycle(T0 + 240)
    assert [t.to_state for t in result.transitions] == ["resolved"]
    clock = [T0 + 400]
    send = dispatcher(store, notify, clock)
    send.flush_outbox()
    titles = [r.json()["title"] for r in http_recorder.requests]
    assert titles == [
        "[FIRING:1] HighCPU (alertname=HighCPU)",
        "[RESOLVED] HighCPU (alertname=HighCPU)",
    ]


def test_after_an_outage_a_pending_alert_holds_its_whole_for_again(tmp_path: Path) -> None:
    config = alerts_config(evaluation_interval="15s")  # HighCPU: cpu > 90 for 2m
    store = open_store(tmp_path)
    first = AlertEngine(config, store, StoreSamples(store), channels=["hook"])
    cpu(store, T0, 99)
    first.cycle(T0)
    store.close()  # stopped while pending, for ten minutes
    store = open_store(tmp_path)
    second = AlertEngine(config, store, StoreSamples(store), channels=["hook"])
    # The newest sample is the stale one from before the outage (within the rule's window).
    back = T0 + 600
    cpu(store, back - 30, 99)
    result = second.cycle(back)
    [alert] = AlertStore(store).alerts()
    assert result.transitions == () and alert.state is AlertState.PENDING
    assert alert.active_since == back  # the countdown started again
    cpu(store, back + 60, 99)
    assert second.cycle(back + 60).transitions == ()
    cpu(store, back + 120, 99)
    assert [t.to_state for t in second.cycle(back + 120).transitions] == ["firing"]
