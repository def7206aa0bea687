"""The dispatcher: channel selection, retries with backoff, the breaker, the outbox, redaction."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from plimsoll.core.config import NotifyConfig
from plimsoll.core.errors import ConfigError
from plimsoll.core.notifiers.base import (
    Message,
    Severity,
    display_url,
    redact,
    url_secret_parts,
)
from plimsoll.core.notify import (
    BreakerPhase,
    DeliveryStatus,
    Dispatcher,
    backoff_delay,
    breaker_phase,
)
from plimsoll.core.store import BreakerState, SqliteStore
from tests.support.servers import HttpRecorder, Response

TOKEN = "T0KEN-s3cr3t-abcdef"


class FakeTime:
    """A clock and a sleep that advances it, recording every wait."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "backoff_seconds": 0.01, **extra}


def make(
    channels: dict[str, dict[str, Any]],
    store: SqliteStore | None = None,
    time: FakeTime | None = None,
    default: list[str] | None = None,
) -> Dispatcher:
    config = NotifyConfig.model_validate({"channels": channels, "default_channels": default or []})
    time = time or FakeTime()
    return Dispatcher(config, store, clock=time.clock, sleep=time.sleep)


MSG = Message("Coverage fell", "Line coverage is **71%**.", Severity.WARNING, {"cov": 71.0})


# --- pure logic -------------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(i, 0.5) for i in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(40, 1.0) == 3600.0
    assert backoff_delay(3, 0.0) == 0.0


def test_breaker_phases() -> None:
    closed = BreakerState("c", 2, None)
    opened = BreakerState("c", 3, 100.0)
    assert breaker_phase(closed, now=0, threshold=3, reset_seconds=10) is BreakerPhase.CLOSED
    assert breaker_phase(opened, now=105, threshold=3, reset_seconds=10) is BreakerPhase.OPEN
    assert breaker_phase(opened, now=110, threshold=3, reset_seconds=10) is BreakerPhase.HALF_OPEN


def test_message_round_trip_and_markdown() -> None:
    assert Message.from_dict(MSG.to_dict()) == MSG
    text = MSG.markdown()
    assert text.startswith("Line coverage is **71%**.")
    assert "| cov | 71.0 |" in text


def test_redaction_helpers() -> None:
    url = f"https://user:pw@hooks.example.com/services/{TOKEN}?key=abcdefgh"
    parts = url_secret_parts(url)
    assert TOKEN in parts and "pw" in parts and "abcdefgh" in parts
    assert display_url(url) == "https://hooks.example.com/***"
    text = redact(f"failed {url} and mysql://a:b@db/x", [url, *parts])
    assert TOKEN not in text and "abcdefgh" not in text and "a:b@" not in text


# --- channel selection ------------------------------------------------------------------------


def test_unknown_channel_is_a_config_error_naming_it(http_recorder: HttpRecorder) -> None:
    dispatcher = make({"hook": webhook(http_recorder.url)})
    with pytest.raises(ConfigError, match="unknown channel nope"):
        dispatcher.send(MSG, ["hook", "nope"])
    assert http_recorder.requests == []
    bad_default = make({"hook": webhook(http_recorder.url)}, default=["gone"])
    with pytest.raises(ConfigError, match=r"notify.default_channels: unknown channel gone"):
        bad_default.send(MSG)


def test_defaults_then_all_channels(http_recorder: HttpRecorder) -> None:
    channels = {"a": webhook(f"{http_recorder.url}/a"), "b": webhook(f"{http_recorder.url}/b")}
    results = make(channels, default=["b"]).send(MSG)
    assert [r.channel for r in results] == ["b"]
    results = make(channels).send(MSG)
    assert [(r.channel, r.status) for r in results] == [
        ("a", DeliveryStatus.DELIVERED),
        ("b", DeliveryStatus.DELIVERED),
    ]
    assert sorted(r.path for r in http_recorder.requests) == ["/a", "/b", "/b"]


# --- retries, breaker, outbox -----------------------------------------------------------------


def test_retries_with_exponential_backoff_until_delivered(http_recorder: HttpRecorder) -> None:
    http_recorder.script(500, 503)
    time = FakeTime()
    dispatcher = make({"hook": webhook(http_recorder.url, retries=3)}, time=time)
    [result] = dispatcher.send(MSG)
    assert result.status is DeliveryStatus.DELIVERED and result.attempts == 3
    assert time.sleeps == [0.01, 0.02]
    assert len(http_recorder.requests) == 3
    assert dispatcher.pending() == []


def test_client_error_is_not_retried_and_is_kept(http_recorder: HttpRecorder) -> None:
    http_recorder.script(Response(400, {"message": "bad payload"}))
    dispatcher = make({"hook": webhook(http_recorder.url, retries=3)})
    [result] = dispatcher.send(MSG)
    assert result.status is DeliveryStatus.QUEUED and result.attempts == 1
    assert result.error is not None and "HTTP 400" in result.error and "bad payload" in result.error
    [item] = dispatcher.pending()
    assert item.id == result.outbox_id and item.attempts == 1


def test_breaker_opens_skips_to_outbox_then_half_opens(http_recorder: HttpRecorder) -> None:
    http_recorder.script(500, 500, 500)
    time = FakeTime()
    channel = webhook(http_recorder.url, retries=5, breaker_threshold=3, breaker_reset_seconds=60)
    dispatcher = make({"hook": channel}, time=time)

    [first] = dispatcher.send(MSG)
    # The breaker opened on the third failure, so the remaining retries were not spent.
    assert first.status is DeliveryStatus.QUEUED and first.attempts == 3
    assert len(http_recorder.requests) == 3

    [second] = dispatcher.send(Message("second"))
    assert second.status is DeliveryStatus.QUEUED and second.attempts == 0
    assert second.error is not None and "circuit breaker open" in second.error
    assert len(http_recorder.requests) == 3  # nothing was sent while open

    # Half-open: one trial, which succeeds and closes the breaker. "third" never overtakes
    # the two older messages: the trial is the oldest, then the rest go in order.
    time.now += 61
    [third] = dispatcher.send(Message("third"))
    assert third.status is DeliveryStatus.DELIVERED and third.attempts == 1
    assert dispatcher.store.breaker_get("hook").failures == 0
    titles = [r.json()["title"] for r in http_recorder.requests[3:]]
    assert titles == ["Coverage fell", "second", "third"]
    assert dispatcher.flush_outbox() == []
    assert dispatcher.pending() == []


def test_failed_half_open_trial_reopens(http_recorder: HttpRecorder) -> None:
    http_recorder.script(500, 500)
    time = FakeTime()
    channel = webhook(http_recorder.url, retries=3, breaker_threshold=1, breaker_reset_seconds=10)
    dispatcher = make({"hook": channel}, time=time)
    assert dispatcher.send(MSG)[0].attempts == 1
    time.now += 11
    # Half-open: the one trial goes to the oldest message, which fails; the new one waits.
    [queued] = dispatcher.send(MSG)
    assert queued.attempts == 0 and queued.status is DeliveryStatus.QUEUED
    assert len(http_recorder.requests) == 2
    [oldest, _] = dispatcher.pending()
    assert oldest.attempts == 2
    assert dispatcher.send(MSG)[0].attempts == 0  # open again
    assert len(http_recorder.requests) == 2


def test_outbox_survives_a_new_dispatcher_and_is_flushed_when_back(
    http_recorder: HttpRecorder, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    http_recorder.script(*[500] * 3)
    channels = {"hook": webhook(f"{http_recorder.url}/hook", retries=2)}
    time = FakeTime()
    with SqliteStore(path) as store:
        [result] = make(channels, store, time).send(MSG)
        assert result.status is DeliveryStatus.QUEUED and result.attempts == 3

    with SqliteStore(path) as store:
        dispatcher = make(channels, store, time)
        [item] = dispatcher.pending()
        assert item.channel == "hook" and Message.from_dict(item.payload) == MSG
        assert "HTTP 500" in (item.last_error or "")
        # Not due yet: the outbox waits for its backoff.
        assert dispatcher.flush_outbox() == []
        time.now += 3600
        [flushed] = dispatcher.flush_outbox()
        assert flushed.status is DeliveryStatus.DELIVERED and flushed.outbox_id == item.id
        assert dispatcher.pending() == []
        assert http_recorder.requests[-1].json()["title"] == "Coverage fell"


def test_flush_keeps_order_and_stops_at_the_first_failure(http_recorder: HttpRecorder) -> None:
    time = FakeTime()
    dispatcher = make({"hook": webhook(http_recorder.url, retries=0)}, time=time)
    http_recorder.script(500)
    dispatcher.send(Message("one"))
    # Not tried: "one" is still undelivered, and "two" must not overtake it.
    [two] = dispatcher.send(Message("two"))
    assert two.status is DeliveryStatus.QUEUED and two.attempts == 0
    assert len(http_recorder.requests) == 1
    time.now += 100
    http_recorder.script(500)
    results = dispatcher.flush_outbox()
    assert [r.attempts for r in results] == [1, 0]  # "two" waited behind "one"
    assert len(dispatcher.pending()) == 2
    time.now += 3600
    assert [r.status for r in dispatcher.flush_outbox()] == [DeliveryStatus.DELIVERED] * 2
    assert [r.json()["title"] for r in http_recorder.requests[-2:]] == ["one", "two"]


def test_same_key_is_deduplicated_and_a_newer_delivery_supersedes(
    http_recorder: HttpRecorder,
) -> None:
    dispatcher = make({"hook": webhook(http_recorder.url, retries=0)})
    http_recorder.script(500, 500)
    dispatcher.send(Message("v1", key="pr-7"))
    dispatcher.send(Message("v2", key="pr-7"))
    [item] = dispatcher.pending()
    assert item.payload["title"] == "v2"
    dispatcher.send(Message("v3", key="pr-7"))  # delivered: the kept v2 is now stale
    assert dispatcher.pending() == []


def test_several_channels_are_delivered_independently(http_recorder: HttpRecorder) -> None:
    http_recorder.script(500, 500, path="/down")
    channels = {
        "up": webhook(f"{http_recorder.url}/up"),
        "down": webhook(f"{http_recorder.url}/down", retries=1),
    }
    results = {r.channel: r for r in make(channels).send(MSG)}
    assert results["up"].delivered and not results["down"].delivered
    assert [i.channel for i in make(channels).pending()] == []  # private memory stores


# --- secrets ----------------------------------------------------------------------------------


def test_secrets_never_reach_errors_or_logs(
    http_recorder: HttpRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    # The server echoes the token back in its error body, as some services do.
    http_recorder.script(Response(401, f"invalid token {TOKEN} for /hooks/{TOKEN}"))
    unreachable = f"http://127.0.0.1:9/hooks/{TOKEN}"
    channels = {
        "echo": webhook(f"{http_recorder.url}/hooks/{TOKEN}", headers={"X-Token": TOKEN}),
        "dead": webhook(unreachable, retries=0),
        "apprise": {"kind": "apprise", "url": f"json://127.0.0.1:9/{TOKEN}", "retries": 0},
    }
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    dispatcher = make(channels)
    results = dispatcher.send(MSG)
    assert all(not r.delivered for r in results)
    assert http_recorder.requests[0].header("X-Token") == TOKEN  # it was really sent
    texts = [r.error or "" for r in results] + [i.last_error or "" for i in dispatcher.pending()]
    texts += [record.getMessage() for record in caplog.records]
    assert all(texts[:3]), texts
    for text in texts:
        assert TOKEN not in text
    assert any("***" in text for text in texts)


def test_delivered_messages_leave_the_outbox_after_the_retention(
    http_recorder: HttpRecorder,
) -> None:
    time = FakeTime()
    config = NotifyConfig.model_validate(
        {"channels": {"hook": webhook(http_recorder.url, retries=0)}, "outbox_retention": "1h"}
    )
    store = SqliteStore.memory()
    dispatcher = Dispatcher(config, store, clock=time.clock, sleep=time.sleep)
    http_recorder.script(500)
    dispatcher.send(Message("late"))  # queued: the first try failed
    time.now += 600
    [delivered] = dispatcher.flush_outbox()
    assert delivered.status is DeliveryStatus.DELIVERED and delivered.outbox_id is not None
    outbox_id = delivered.outbox_id
    assert store.outbox_get(outbox_id) is not None  # delivered, kept for the hour
    time.now += 1800
    dispatcher.flush_outbox()
    assert store.outbox_get(outbox_id) is not None
    time.now += 1900  # past the hour since delivery
    dispatcher.flush_outbox()
    assert store.outbox_get(outbox_id) is None
    with pytest.raises(ValueError, match="positive time"):
        NotifyConfig.model_validate({"outbox_retention": "0s"})
