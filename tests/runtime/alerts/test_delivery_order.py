"""Each channel's notifications arrive in order, once each, after an outage; a bad one is set aside.

Real deliveries to the local HTTP recorder, on both stores, with the clock in the test's hands.
"""

from __future__ import annotations

from typing import Any

from plimsoll.core.config import NotifyConfig
from plimsoll.core.notifiers.base import Message
from plimsoll.core.notify import PROBE_AFTER_ATTEMPTS, DeliveryStatus, Dispatcher
from plimsoll.core.store import Store
from plimsoll.runtime import storage
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.alerts.engine import AlertEngine
from plimsoll.runtime.alerts.samples import StoreSamples
from tests.runtime.alerts.helpers import T0
from tests.support.servers import HttpRecorder, Response

DOWN = Response(503, {"down": True})


def _notify(url: str, **overrides: Any) -> NotifyConfig:
    """A webhook channel ``hook``: no immediate retries, 1 s backoff, a breaker of five."""
    channel = {"kind": "webhook", "url": url, "retries": 0, "backoff_seconds": 1}
    channel.update({"breaker_threshold": 5, "breaker_reset_seconds": 30, **overrides})
    return NotifyConfig.model_validate({"channels": {"hook": channel}})


def _queue_rule() -> AlertsConfig:
    """The reviewer's setup: QueueDeep (queue_depth > 10 for 6 s), evaluated every second."""
    return AlertsConfig.model_validate(
        {
            "evaluation_interval": "1s",
            "channels": ["hook"],
            "group_wait": "0s",
            "group_interval": "2s",
            "rules": [
                {"name": "QueueDeep", "metric": "queue_depth", "op": ">", "value": 10, "for": "6s"}
            ],
        }
    )


def test_after_an_outage_a_resolve_never_overtakes_its_firing(
    any_store: Store, http_recorder: HttpRecorder
) -> None:
    """Issue 6, review item 1: the firing's retry came due after the resolve's, which went first.

    The receiver is down while the alert fires and resolves; the firing has failed more often
    (so waits longer for its retry) than the resolve queued after it. Once the receiver is
    back, both arrive, the firing first, once each.
    """
    clock = [T0]
    engine = AlertEngine(
        _queue_rule(), any_store, StoreSamples(any_store), channels=["hook"], clock=lambda: clock[0]
    )
    dispatcher = _sender(any_store, http_recorder, clock)
    http_recorder.default = DOWN
    queued_behind: tuple[bool, bool] | None = None
    back = 0
    for second in range(60):
        now = clock[0] = T0 + second
        depth = 50.0 if 2 <= second < 15 else 0.0  # deep from 2 s to 15 s
        storage.add_samples(any_store, [storage.Sample("queue_depth", depth, now)])
        engine.cycle(now)
        due = {i.payload["fields"]["status"]: i.next_attempt_at for i in dispatcher.pending()}
        if queued_behind is None and "resolved" in due:
            # The resolve is queued due at once while the firing waits for its retry: what
            # made a claim by due time alone send the resolve first.
            queued_behind = (due["resolved"] <= now, due["firing"] > now)
        if second == 16:
            http_recorder.default = Response(200, {"ok": True})  # the receiver is back
            back = len(http_recorder.requests)
        dispatcher.flush_outbox()
    assert queued_behind == (True, True)
    assert back >= 2  # the firing was tried (and failed) during the outage
    assert [r.json()["title"] for r in http_recorder.requests[back:]] == [
        "[FIRING:1] QueueDeep (alertname=QueueDeep)",
        "[RESOLVED] QueueDeep (alertname=QueueDeep)",
    ]
    assert any_store.outbox_pending() == [] and any_store.outbox_given_up() == []


def _sender(store: Store, recorder: HttpRecorder, clock: list[float]) -> Dispatcher:
    """A dispatcher to the recorder's ``/hook`` on the test's clock, never sleeping."""
    return Dispatcher(
        _notify(f"{recorder.url}/hook"), store, clock=lambda: clock[0], sleep=lambda s: None
    )


def _titles(recorder: HttpRecorder) -> list[str]:
    """The titles the recorder received, in order."""
    return [r.json()["title"] for r in recorder.requests]


def test_a_message_the_channel_rejects_is_given_up_once_a_later_one_goes(
    any_store: Store, http_recorder: HttpRecorder
) -> None:
    clock = [T0]
    dispatcher = _sender(any_store, http_recorder, clock)
    # The receiver rejects "bad" (HTTP 400, which retrying cannot fix) and takes the rest.
    http_recorder.script(Response(400, {"error": "bad payload"}))
    [bad] = dispatcher.send(Message("bad"))
    assert bad.status is DeliveryStatus.QUEUED  # alone, it is kept: it may be the channel
    http_recorder.script(Response(400, {"error": "bad payload"}))
    clock[0] += 2  # its retry is due
    [good] = dispatcher.send(Message("good"))
    # "bad" was tried again first, rejected again, set aside; then "good" went.
    assert good.status is DeliveryStatus.DELIVERED
    assert _titles(http_recorder) == ["bad", "bad", "good"]
    [dead] = dispatcher.given_up()
    assert dead.id == bad.outbox_id and dead.attempts == 2 and dead.dead_at == clock[0]
    assert "HTTP 400" in (dead.last_error or "") and "given up" in (dead.last_error or "")
    assert dispatcher.pending() == []
    # Later messages go straight on; the given-up one is never sent again.
    [after] = dispatcher.send(Message("after"))
    assert after.delivered and _titles(http_recorder)[-1] == "after"
    clock[0] += 3600
    assert dispatcher.flush_outbox() == []
    assert _titles(http_recorder).count("bad") == 2


def test_a_channel_rejecting_everything_keeps_every_message_in_order(
    any_store: Store, http_recorder: HttpRecorder
) -> None:
    clock = [T0]
    dispatcher = _sender(any_store, http_recorder, clock)
    # A revoked token: every message is refused (401): the channel is at fault, not a message.
    http_recorder.default = Response(401, {"error": "bad token"})
    dispatcher.send(Message("one"))
    clock[0] += 2
    [two] = dispatcher.send(Message("two"))
    assert two.status is DeliveryStatus.QUEUED
    # "one" was set aside while "two" was tried; "two" failed too, so "one" is back in front.
    assert _titles(http_recorder) == ["one", "one", "two"]
    assert dispatcher.given_up() == []
    assert [i.payload["title"] for i in dispatcher.pending()] == ["one", "two"]
    http_recorder.default = Response(200, {"ok": True})  # the token is fixed
    clock[0] += 30
    results = dispatcher.flush_outbox()
    assert [r.status for r in results] == [DeliveryStatus.DELIVERED] * 2
    assert _titles(http_recorder)[-2:] == ["one", "two"]


def test_a_message_failing_again_and_again_stops_blocking_its_channel(
    any_store: Store, http_recorder: HttpRecorder
) -> None:
    clock = [T0]
    dispatcher = _sender(any_store, http_recorder, clock)
    # The receiver answers 503 to "poison" every time (a crash on its content), not to others.
    http_recorder.script(*[503] * PROBE_AFTER_ATTEMPTS)
    dispatcher.send(Message("poison"))
    for _ in range(PROBE_AFTER_ATTEMPTS - 1):
        clock[0] += 31
        dispatcher.flush_outbox()
    [item] = dispatcher.pending()
    assert item.attempts == PROBE_AFTER_ATTEMPTS
    http_recorder.script(503)
    clock[0] += 31
    [sent] = dispatcher.send(Message("next"))
    assert sent.delivered
    assert _titles(http_recorder)[-2:] == ["poison", "next"]
    [dead] = dispatcher.given_up()
    assert dead.payload["title"] == "poison" and dead.attempts == PROBE_AFTER_ATTEMPTS + 1
