"""Usage tracking: what an event holds, off by default, a bounded queue that never blocks,
exact accounting (stored + dropped == calls), flush at stop and at exit, and after fork."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage, usage
from plimsoll.runtime.usage import EventKind, TrackingError, UsageTracker


@pytest.fixture
def tracker(store: SqliteStore) -> Iterator[UsageTracker]:
    # A long flush interval: the tests decide when events reach the store (stop() flushes).
    made = UsageTracker(store, enabled=True, flush_interval=60.0)
    yield made
    made.stop()


def stored(store: SqliteStore) -> list[storage.UsageEvent]:
    return storage.events(store)


def test_off_by_default(store: SqliteStore) -> None:
    assert usage.get_tracker().enabled is False
    calls = []

    @usage.track_usage
    def work(x: int) -> int:
        calls.append(x)
        return x * 2

    assert work(21) == 42 and calls == [21]
    idle = UsageTracker(store)
    idle.record(EventKind.EVENT, "nothing")
    usage.track_event("nothing", {"n": 1})
    assert idle.stop() is True
    assert storage.count_events(store) == 0
    assert usage.get_tracker().stats()["queued"] == 0


def test_a_sync_call_is_recorded(store: SqliteStore, tracker: UsageTracker) -> None:
    @usage.track_usage(tracker=tracker)
    def compute(x: int, *, scale: int = 1) -> int:
        time.sleep(0.01)
        return x * scale

    before = time.time()
    started = time.perf_counter()
    assert compute(4, scale=3) == 12
    took_ms = (time.perf_counter() - started) * 1000
    after = time.time()
    assert compute.__name__ == "compute"  # functools.wraps
    assert tracker.stop() is True
    [event] = stored(store)
    assert event.kind == "feature"
    assert event.feature == f"{__name__}.test_a_sync_call_is_recorded.<locals>.compute"
    assert event.ok is True and event.error is None and event.session is None
    assert event.duration_ms is not None and 10.0 <= event.duration_ms <= took_ms
    assert before - 0.001 <= event.timestamp <= after
    assert event.properties == {}


def test_a_raising_call_keeps_the_class_name_only(
    store: SqliteStore, tracker: UsageTracker
) -> None:
    @usage.track_usage("payments.charge", kind="api_call", tracker=tracker)
    def charge(card: str) -> None:
        raise ValueError(f"card {card} declined for jane@example.com")

    with pytest.raises(ValueError, match="declined"):
        charge("4111-1111")
    tracker.stop()
    [event] = stored(store)
    assert (event.kind, event.feature, event.ok, event.error) == (
        "api_call",
        "payments.charge",
        False,
        "ValueError",
    )
    # Neither the message nor the argument reached the store file.
    store.db.query("PRAGMA wal_checkpoint(FULL)")
    data = b"".join(p.read_bytes() for p in Path(store.db.path).parent.glob("state.db*"))
    assert b"payments.charge" in data
    assert b"4111" not in data and b"jane@example.com" not in data and b"declined" not in data


def test_an_async_call_is_recorded(store: SqliteStore, tracker: UsageTracker) -> None:
    @usage.track_usage(tracker=tracker)
    async def fetch(n: int) -> int:
        await asyncio.sleep(0.02)
        return n + 1

    @usage.track_usage("fetch.broken", tracker=tracker)
    async def broken() -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    async def main() -> int:
        with pytest.raises(KeyError):
            await broken()
        return await fetch(1)

    assert asyncio.iscoroutinefunction(fetch)
    assert asyncio.run(main()) == 2
    tracker.stop()
    failed, ok = stored(store)
    assert (failed.feature, failed.ok, failed.error) == ("fetch.broken", False, "KeyError")
    assert ok.feature.endswith("<locals>.fetch") and ok.ok
    assert ok.duration_ms is not None and ok.duration_ms >= 19.0


def test_events_errors_and_blocks(store: SqliteStore, tracker: UsageTracker) -> None:
    usage.track_event("report.exported", {"format": "csv", "rows": 10}, tracker=tracker)
    usage.track_error("report.export", OSError("disk full"), tracker=tracker)
    usage.track_error("report.export", TimeoutError, tracker=tracker)
    with usage.tracked("orders.create", kind=EventKind.API_CALL, tracker=tracker):
        pass
    with pytest.raises(RuntimeError), usage.tracked("orders.cancel", tracker=tracker):
        raise RuntimeError("no")
    tracker.stop()
    events = stored(store)
    assert [(e.kind, e.feature, e.ok, e.error) for e in events] == [
        ("event", "report.exported", True, None),
        ("error", "report.export", False, "OSError"),
        ("error", "report.export", False, "TimeoutError"),
        ("api_call", "orders.create", True, None),
        ("feature", "orders.cancel", False, "RuntimeError"),
    ]
    assert events[0].properties == {"format": "csv", "rows": 10}
    assert events[0].duration_ms is None and events[3].duration_ms is not None


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"email": "a@b.c"}, "personal data"),
        ({"Username": "jane"}, "personal data"),
        ({"payload": {"nested": 1}}, "must be a string"),
        ({f"k{i}": i for i in range(40)}, "at most 32"),
    ],
)
def test_personal_or_bulky_properties_are_refused(
    tracker: UsageTracker, properties: dict[str, object], message: str
) -> None:
    with pytest.raises(TrackingError, match=message):
        usage.track_event("x", properties, tracker=tracker)
    assert isinstance(TrackingError("x"), ValueError)


def test_misuse_fails_at_the_call(tracker: UsageTracker) -> None:
    with pytest.raises(TrackingError, match="feature name"):
        usage.track_event("", tracker=tracker)
    with pytest.raises(TrackingError, match="kind must be 'feature' or 'api_call', not 'error'"):
        usage.track_usage(kind="error", tracker=tracker)(lambda: None)
    with pytest.raises(TrackingError, match="not 'nonsense'"):
        usage.track_usage(kind="nonsense", tracker=tracker)(lambda: None)
    with pytest.raises(TrackingError, match="unknown event kind"):
        tracker.record("nonsense", "x")
    with pytest.raises(TrackingError, match="store"):
        UsageTracker(enabled=True)
    with pytest.raises(TrackingError, match="pseudonymous"):
        usage.set_session("jane@example.com")
    with pytest.raises(TrackingError, match="secret"):
        usage.pseudonymous_id("42", secret="")


def test_a_generator_function_is_refused_and_a_block_times_its_loop(
    store: SqliteStore, tracker: UsageTracker
) -> None:
    """Issue 6, review item 9: a decorated generator recorded only its creation (0.001 ms,
    never failing), whatever its loop took or raised."""

    def rows() -> Iterator[int]:
        time.sleep(0.05)
        yield 1
        raise RuntimeError("broken feed")

    async def chunks() -> AsyncIterator[int]:
        yield 1

    with pytest.raises(TrackingError, match="generator function 'test_a_generator.*rows'"):
        usage.track_usage("feed", tracker=tracker)(rows)
    with pytest.raises(TrackingError, match="with tracked"):
        usage.track_usage(tracker=tracker)(chunks)
    # What the error says to do instead records the whole loop, and the error raised in it.
    with pytest.raises(RuntimeError), usage.tracked("feed", tracker=tracker):
        for _ in rows():
            pass
    assert tracker.stop() is True
    [event] = storage.events(store, feature="feed")
    assert event.ok is False and event.error == "RuntimeError"
    assert event.duration_ms is not None and event.duration_ms >= 50


def test_long_strings_are_truncated(store: SqliteStore, tracker: UsageTracker) -> None:
    usage.track_event("x", {"note": "a" * 1000}, tracker=tracker)
    tracker.stop()
    [event] = stored(store)
    assert event.properties == {"note": "a" * usage.MAX_TEXT}


def test_sessions_are_pseudonymous_and_scoped(store: SqliteStore, tracker: UsageTracker) -> None:
    first = usage.pseudonymous_id(1234, secret="salt")
    assert first == usage.pseudonymous_id("1234", secret=b"salt")
    assert first != usage.pseudonymous_id(1234, secret="other")
    assert len(first) == 32 and int(first, 16) >= 0 and "1234" not in first

    @usage.track_usage("step", tracker=tracker)
    def step() -> None:
        return None

    def in_thread() -> None:
        step()  # threads do not inherit the caller's context: no session here

    with usage.session(first):
        step()
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join()
    step()
    usage.track_event("explicit", session="s-2", tracker=tracker)
    tracker.stop()
    sessions = [e.session for e in stored(store)]
    assert sessions.count(first) == 1
    assert sessions.count(None) == 2
    assert sessions[-1] == "s-2"


def test_a_full_queue_drops_and_counts(store: SqliteStore) -> None:
    small = UsageTracker(store, enabled=True, queue_size=5, flush_interval=60.0)

    @usage.track_usage("busy", tracker=small)
    def busy(i: int) -> int:
        return i

    assert [busy(i) for i in range(20)] == list(range(20))
    assert small.stats()["queued"] == 5 and small.dropped == 15
    assert small.stop() is True
    assert storage.count_events(store) == 5
    assert storage.dropped_total(store) == 15
    assert small.stats()["stored"] == 5


def test_a_failed_write_is_counted_then_recorded(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SqliteStore(path)
    tracker = UsageTracker(first, enabled=True, flush_interval=60.0)
    for _ in range(7):
        usage.track_event("e", tracker=tracker)
    first.close()  # the next write fails: the events become dropped, never lost from the count
    assert tracker.flush() == 7
    assert tracker.write_errors == 1 and tracker.dropped == 7
    usage.track_event("e", tracker=tracker)
    with SqliteStore(path) as second:
        tracker.store = second
        assert tracker.stop() is True
        assert storage.count_events(second) == 1
        assert storage.dropped_total(second) == 7


def test_the_flusher_writes_in_the_background(store: SqliteStore) -> None:
    tracker = UsageTracker(store, enabled=True, flush_interval=0.05, batch_size=10)
    for i in range(25):
        usage.track_event(f"e{i}", tracker=tracker)
    deadline = time.monotonic() + 10
    while storage.count_events(store) < 25 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert storage.count_events(store) == 25  # without stop(): the thread did it
    thread = tracker._thread
    assert thread is not None and thread.is_alive()
    assert tracker.stop() is True
    assert not thread.is_alive() and tracker._thread is None


def test_stop_is_bounded_and_repeatable(store: SqliteStore) -> None:
    tracker = UsageTracker(store, enabled=True, flush_interval=60.0)
    usage.track_event("a", tracker=tracker)
    assert tracker.stop(timeout=5) is True
    assert tracker.stop(timeout=5) is True
    usage.track_event("b", tracker=tracker)  # disabled after stop: not recorded
    assert tracker.enable().enabled
    usage.track_event("c", tracker=tracker)
    assert tracker.stop() is True
    assert [e.feature for e in stored(store)] == ["a", "c"]


def test_stop_gives_up_on_a_stuck_store(store: SqliteStore) -> None:
    tracker = UsageTracker(store, enabled=True, flush_interval=0.01, batch_size=5)
    holding, release = threading.Event(), threading.Event()

    def hold_the_store() -> None:
        with store.db.transaction():  # the store is busy: the flusher's write waits
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_store)
    holder.start()
    assert holding.wait(10)
    for i in range(12):
        usage.track_event(f"e{i}", tracker=tracker)  # callers are never held up
    results: list[bool] = []
    stopper = threading.Thread(target=lambda: results.append(tracker.stop(timeout=0.3)))
    stopper.start()
    stopper.join(10)
    try:
        assert not stopper.is_alive(), "stop() waited for the stuck store"
        assert results == [False]  # it says not everything was written
    finally:
        release.set()
        holder.join(10)
    assert tracker.stop(timeout=10) is True  # the store is free again: the rest goes out
    assert storage.count_events(store) + storage.dropped_total(store) == 12


def test_a_million_calls_from_eight_threads(store: SqliteStore) -> None:
    """Reliability: no deadlock, and every call is either stored or counted as dropped."""
    tracker = UsageTracker(
        store, enabled=True, queue_size=20000, batch_size=5000, flush_interval=0.02
    )

    @usage.track_usage("hot", tracker=tracker)
    def hot(i: int) -> int:
        return i

    @usage.track_usage("hot.failing", tracker=tracker)
    def failing() -> None:
        raise LookupError

    threads_n, per_thread = 8, 125_000
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(per_thread - 1000):
                hot(i)
            for _ in range(1000):
                try:
                    failing()
                except LookupError:
                    pass
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a caller is stuck: deadlock"
    assert errors == []
    assert tracker.stop(timeout=60) is True
    calls = threads_n * per_thread
    in_store = storage.count_events(store)
    dropped = storage.dropped_total(store)
    assert in_store + dropped == calls
    assert (in_store, dropped) == (tracker.stored, tracker.dropped)
    assert in_store > 0  # the flusher kept up with part of it while the callers ran
    failed = store.db.query(
        "SELECT feature, error, COUNT(*) AS n FROM usage_events WHERE ok = 0 GROUP BY 1, 2"
    )
    assert [(r["feature"], r["error"]) for r in failed] in ([], [("hot.failing", "LookupError")])


def test_the_default_tracker_is_configured_explicitly(store: SqliteStore) -> None:
    @usage.track_usage("default.path")
    def work() -> int:
        return 1

    try:
        tracker = usage.configure(enabled=True, store=store, flush_interval=60.0)
        assert tracker is usage.get_tracker() and tracker.enabled
        work()
        usage.track_event("default.event")
    finally:
        assert usage.shutdown() is True
    work()  # off again
    assert [e.feature for e in stored(store)] == ["default.path", "default.event"]
    assert usage.configure(enabled=False).enabled is False


def test_configure_reads_the_configuration(tmp_path: Path) -> None:
    project = tmp_path / "app"
    (project / ".git").mkdir(parents=True)
    (project / "plimsoll.toml").write_text(
        '[store]\npath = "data/state.db"\n\n[runtime.usage]\nenabled = true\nqueue_size = 321\n'
    )
    tracker = usage.configure(path=project)
    try:
        assert tracker.enabled and tracker.queue_size == 321
        usage.track_event("from.config")
    finally:
        usage.shutdown()
        tracker.set_limits(queue_size=10000)
    opened = tracker.store
    assert isinstance(opened, SqliteStore)
    assert Path(opened.db.path) == project / "data" / "state.db"
    assert [e.feature for e in stored(opened)] == ["from.config"]
    (project / "plimsoll.toml").write_text("[runtime.usage]\nenabled = false\n")
    assert usage.configure(path=project).enabled is False
    with pytest.raises(TrackingError, match="queue_size"):
        usage.configure(enabled=False, queue_size=0)


_AT_EXIT = """
import sys
from plimsoll.core.store import SqliteStore
from plimsoll.runtime import usage

tracker = usage.configure(enabled=True, store=SqliteStore(sys.argv[1]), flush_interval=60.0)

@usage.track_usage("exit.work")
def work(i):
    return i

for i in range(250):
    work(i)
# no shutdown(): the atexit hook flushes
"""


def test_queued_events_are_flushed_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    done = subprocess.run(
        [sys.executable, "-c", _AT_EXIT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with SqliteStore(path) as opened:
        assert storage.count_events(opened) == 250
        assert storage.dropped_total(opened) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_gets_its_own_queue_and_flusher(store: SqliteStore) -> None:
    tracker = UsageTracker(store, enabled=True, flush_interval=60.0)
    for _ in range(3):
        usage.track_event("parent", tracker=tracker)
    store.db.query("SELECT 1")  # the store's lock is free when forking
    pid = os.fork()
    if pid == 0:  # the child: its queue starts empty, its own flusher writes its events
        code = 1
        try:
            alive = tracker._thread is not None and tracker._thread.is_alive()
            empty = tracker.stats()["queued"] == 0
            for _ in range(10):
                usage.track_event("child", tracker=tracker)
            code = 0 if (alive and empty and tracker.stop(timeout=20)) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tracker.stop() is True
    features = [e.feature for e in stored(store)]
    assert features.count("parent") == 3 and features.count("child") == 10
