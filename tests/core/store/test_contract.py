"""The Store interface, run on both backends: outbox, breakers, runs, baselines, timings, parts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from plimsoll.core.errors import CannotRunError
from plimsoll.core.store import (
    BaselineCheck,
    BreakerState,
    MigrationRun,
    OperationTiming,
    QueryBaseline,
    QuerySample,
    SqliteStore,
    Store,
)
from tests.core.store.conftest import Backend, hammer


def test_reopening_keeps_data_and_the_schema_version(
    backend: Backend, opener: Callable[[], Store]
) -> None:
    first = opener()
    first.outbox_add("hook", {"title": "kept"}, now=1.0, next_attempt_at=1.0)
    first.close()
    again = opener()
    assert [i.payload["title"] for i in again.outbox_pending()] == ["kept"]
    assert again.schema_version == first.schema_version >= 1


def test_outbox_lifecycle(store: Store) -> None:
    first = store.outbox_add("hook", {"title": "a"}, now=10.0, next_attempt_at=10.0, last_error="x")
    second = store.outbox_add("mail", {"title": "b"}, now=11.0, next_attempt_at=50.0)
    assert [i.id for i in store.outbox_pending()] == [first, second]
    assert [i.id for i in store.outbox_pending("mail")] == [second]

    claimed = store.outbox_claim(20.0, lease_seconds=100.0)
    assert [i.id for i in claimed] == [first]
    assert claimed[0].payload == {"title": "a"} and claimed[0].last_error == "x"
    assert (claimed[0].created_at, claimed[0].next_attempt_at) == (10.0, 10.0)
    # Leased: a second claimer at the same time gets nothing.
    assert store.outbox_claim(20.0, lease_seconds=100.0) == []
    leased = store.outbox_get(first)
    assert leased is not None and leased.next_attempt_at == 120.0

    store.outbox_failed(first, error="boom", next_attempt_at=30.0)
    item = store.outbox_get(first)
    assert item is not None and item.attempts == 1 and item.last_error == "boom"
    assert [i.id for i in store.outbox_claim(60.0, lease_seconds=5.0, channels=["hook"])] == [first]
    assert store.outbox_claim(60.0, lease_seconds=5.0, channels=[]) == []
    assert store.outbox_claim(70.0, lease_seconds=5.0, channels=["none"]) == []

    store.outbox_delivered(first, 61.0)
    assert [i.id for i in store.outbox_pending()] == [second]
    assert store.outbox_purge(delivered_before=100.0) == 1
    assert store.outbox_get(first) is None

    store.outbox_postpone(second, 5.0)
    assert [i.id for i in store.outbox_claim(6.0, lease_seconds=1.0)] == [second]


def test_outbox_claim_takes_the_oldest_first_up_to_the_limit(store: Store) -> None:
    ids = [store.outbox_add("c", {"i": i}, now=0.0, next_attempt_at=0.0) for i in range(5)]
    assert [i.id for i in store.outbox_claim(1.0, lease_seconds=10.0, limit=3)] == ids[:3]
    # The first three are leased (in flight elsewhere): the two behind them wait their turn.
    assert store.outbox_claim(1.0, lease_seconds=10.0) == []
    for item_id in ids[:3]:
        store.outbox_delivered(item_id, 2.0)
    assert [i.payload["i"] for i in store.outbox_claim(2.0, lease_seconds=10.0)] == [3, 4]


def test_outbox_claim_is_first_in_first_out_per_channel(store: Store) -> None:
    """A newer item never overtakes an older one of its channel, even when due sooner."""
    firing = store.outbox_add("hook", {"t": "firing"}, now=1.0, next_attempt_at=30.0)
    resolved = store.outbox_add("hook", {"t": "resolved"}, now=2.0, next_attempt_at=20.0)
    other = store.outbox_add("mail", {"t": "other"}, now=3.0, next_attempt_at=20.0)
    # At 25 the resolve is due but the firing is not: only the other channel's item goes.
    assert [i.id for i in store.outbox_claim(25.0, lease_seconds=100.0)] == [other]
    # At 30 both are due: taken together, the firing first.
    assert [i.id for i in store.outbox_claim(30.0, lease_seconds=1.0)] == [firing, resolved]
    store.outbox_failed(firing, error="down", next_attempt_at=50.0)
    store.outbox_postpone(resolved, 40.0)
    assert store.outbox_claim(45.0, lease_seconds=1.0) == []
    assert store.outbox_head("hook") == store.outbox_get(firing)
    # Given up, the firing no longer holds the channel (but it is kept, and listed).
    store.outbox_give_up(firing, now=46.0, error="rejected (given up)")
    assert [i.id for i in store.outbox_claim(46.0, lease_seconds=1.0)] == [resolved]
    assert [i.id for i in store.outbox_pending("hook")] == [resolved]
    [dead] = store.outbox_given_up()
    assert (dead.id, dead.dead_at, dead.last_error) == (firing, 46.0, "rejected (given up)")
    assert store.outbox_head("hook") == store.outbox_get(resolved)
    # Revived, it goes first again.
    store.outbox_revive(firing, next_attempt_at=60.0, error="down")
    assert store.outbox_given_up() == []
    assert store.outbox_claim(70.0, lease_seconds=1.0, channels=["hook"])[0].id == firing
    assert store.outbox_get(firing).last_error == "down"  # type: ignore[union-attr]


def test_outbox_given_up_items_are_purged_and_free_their_key(store: Store) -> None:
    first = store.outbox_add("gh", {"v": 1}, now=1.0, next_attempt_at=1.0, dedupe_key="pr-1")
    store.outbox_give_up(first, now=2.0, error="rejected")
    # A given-up item is not the live one a key replaces: the new payload queues afresh.
    second = store.outbox_add("gh", {"v": 2}, now=3.0, next_attempt_at=3.0, dedupe_key="pr-1")
    assert second != first
    assert [i.payload["v"] for i in store.outbox_pending("gh")] == [2]
    assert store.outbox_head("nope") is None
    assert store.outbox_purge(delivered_before=2.0) == 0  # given up at 2.0: kept until after
    assert store.outbox_purge(delivered_before=2.5) == 1
    assert store.outbox_get(first) is None and store.outbox_get(second) is not None


def test_outbox_dedupe_key_replaces_the_pending_payload(store: Store) -> None:
    one = store.outbox_add("gh", {"v": 1}, now=1.0, next_attempt_at=9.0, dedupe_key="pr-1")
    two = store.outbox_add(
        "gh", {"v": 2}, now=2.0, next_attempt_at=5.0, dedupe_key="pr-1", last_error="e"
    )
    other = store.outbox_add("gh", {"v": 3}, now=3.0, next_attempt_at=5.0, dedupe_key="pr-2")
    elsewhere = store.outbox_add("mail", {"v": 9}, now=3.0, next_attempt_at=5.0, dedupe_key="pr-1")
    assert one == two != other != elsewhere
    pending = store.outbox_pending("gh")
    assert [(i.id, i.payload["v"], i.next_attempt_at, i.created_at) for i in pending] == [
        (one, 2, 5.0, 1.0),
        (other, 3, 5.0, 3.0),
    ]
    assert pending[0].last_error == "e"
    # A later attempt never pushes an earlier one back.
    store.outbox_add("gh", {"v": 5}, now=4.0, next_attempt_at=50.0, dedupe_key="pr-1")
    again = store.outbox_get(one)
    assert again is not None and again.next_attempt_at == 5.0 and again.last_error == "e"
    assert store.outbox_supersede("gh", "pr-1", now=6.0) == 1
    assert [i.id for i in store.outbox_pending("gh")] == [other]
    retired = store.outbox_get(one)
    assert retired is not None and retired.delivered_at == 6.0
    assert retired.last_error == "superseded by a newer message"
    # Once delivered, the same key queues afresh.
    assert store.outbox_add("gh", {"v": 4}, now=7.0, next_attempt_at=7.0, dedupe_key="pr-1") != one


def test_breaker_state(store: Store) -> None:
    assert store.breaker_get("hook") == BreakerState("hook", 0, None)
    assert store.breaker_failure("hook", now=1.0, threshold=2) == BreakerState("hook", 1, None)
    assert store.breaker_failure("hook", now=2.0, threshold=2) == BreakerState("hook", 2, 2.0)
    # A failure past the threshold (a failed half-open trial) re-stamps the opening.
    assert store.breaker_failure("hook", now=9.0, threshold=2) == BreakerState("hook", 3, 9.0)
    assert store.breaker_get("other").failures == 0
    store.breaker_success("hook")
    assert store.breaker_get("hook") == BreakerState("hook", 0, None)
    # A threshold of one (or less) opens at the first failure.
    assert store.breaker_failure("fast", now=3.0, threshold=0) == BreakerState("fast", 1, 3.0)


def test_migration_runs_newest_first(store: Store) -> None:
    run = MigrationRun(
        "dev", "0001", "accounts", "up", 1.0, 2.5, 1500, "applied", server_version=150000,
        tables=(("public.accounts", 8192), ("public.audit", None)),
    )  # fmt: skip
    first = store.migration_run_add(run)
    second = store.migration_run_add(
        MigrationRun("prod", "0002", "index", "down", 3.0, 3.1, 100, "failed", error="boom")
    )
    assert second > first
    runs = store.migration_runs()
    assert [r.id for r in runs] == [second, first]
    assert runs[1] == MigrationRun(**{**run.__dict__, "id": first})
    assert runs[0].error == "boom" and runs[0].tables == () and runs[0].server_version is None
    assert [r.version for r in store.migration_runs("dev")] == ["0001"]
    assert [r.id for r in store.migration_runs(limit=1)] == [second]


def test_safe_from_many_threads(store: Store) -> None:
    errors = hammer(store, threads=6, per_thread=25)
    assert errors == []
    assert len(store.outbox_pending()) == 150
    assert store.breaker_get("shared").failures == 150


_CLAIMER = """
import json, sys, time
from plimsoll.core.store import open_store
kind, target = sys.argv[1], sys.argv[2]
store = open_store(target) if kind == "sqlite" else open_store(url=target)
ids = []
batches = 0
while store.outbox_pending():
    batch = store.outbox_claim(100.0, lease_seconds=10_000.0, limit=7)
    if not batch:
        time.sleep(0.001)  # every due item is in another claimer's hands: wait for its turn
        continue
    for item in batch:
        ids.append(item.id)
        store.outbox_delivered(item.id, time.time())
    batches += 1
    store.breaker_failure("shared", now=1.0, threshold=1_000_000)
store.close()
print(json.dumps({"ids": ids, "batches": batches}))
"""


def test_processes_claiming_at_once_never_share_an_item(backend: Backend, store: Store) -> None:
    for i in range(300):
        store.outbox_add(f"hook{i % 5}", {"i": i}, now=0.0, next_attempt_at=0.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, backend.kind, backend.target], stdout=subprocess.PIPE
        )
        for _ in range(4)
    ]
    claimed: list[int] = []
    batches = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        claimed += json.loads(out)["ids"]
        batches += json.loads(out)["batches"]
    assert len(claimed) == 300
    assert len(set(claimed)) == 300
    # Each claimed batch counted one failure: concurrent increments all landed.
    assert store.breaker_get("shared").failures == batches
    # Whichever process took them, each channel's items went out in the order they came.
    delivered = [store.outbox_get(item_id) for item_id in sorted(claimed)]
    for channel in {f"hook{i}" for i in range(5)}:
        times = [i.delivered_at for i in delivered if i is not None and i.channel == channel]
        assert len(times) == 60 and times == sorted(times), channel  # type: ignore[type-var]


def _baseline(key: str, at: float, metric: str = "execution_ms") -> QueryBaseline:
    return QueryBaseline("dev", key, f"SELECT {key}", metric, at, at, name=key)


def test_baselines_replace_append_and_keep_history(store: Store) -> None:
    assert store.baseline_get("dev", "a") is None
    first = store.baseline_record(
        _baseline("a", 10.0),
        [
            QuerySample(
                10.0,
                1.5,
                execution_ms=1.5,
                planning_ms=0.1,
                total_cost=12.5,
                rows=3.0,
                shared_hit=3,
                shared_read=1,
                plan={"nodes": ["Seq Scan"], "top": "Seq Scan"},
            )
        ],
    )
    assert first.id is not None and [s.value for s in first.samples] == [1.5]
    sample = first.samples[0]
    assert sample.plan == {"nodes": ["Seq Scan"], "top": "Seq Scan"}
    assert (sample.shared_hit, sample.shared_read, sample.total_cost, sample.rows) == (
        3,
        1,
        12.5,
        3,
    )
    grown = store.baseline_record(_baseline("a", 20.0), [QuerySample(20.0, 2.5)], append=True)
    assert grown.id == first.id and [s.value for s in grown.samples] == [1.5, 2.5]
    assert (grown.created_at, grown.updated_at) == (10.0, 20.0)
    replaced = store.baseline_record(_baseline("a", 30.0), [QuerySample(30.0, 9.0)])
    assert replaced.id != first.id and [s.value for s in replaced.samples] == [9.0]
    # Another metric cannot be appended to: it starts a new baseline.
    cost = store.baseline_record(
        _baseline("a", 40.0, "total_cost"), [QuerySample(40, 7)], append=True
    )
    assert cost.id is not None and cost.id != replaced.id and cost.metric == "total_cost"
    b = store.baseline_record(_baseline("b", 50.0), [QuerySample(50.0, 1.0)])
    store.baseline_record(
        QueryBaseline("prod", "a", "q", "execution_ms", 1, 1), [QuerySample(1, 1)]
    )

    current = store.baseline_get("dev", "a")
    assert current is not None and current.id == cost.id and current.superseded_at is None
    assert [(x.query_key, x.id) for x in store.baselines("dev")] == [("a", cost.id), ("b", b.id)]
    history = store.baselines("dev", query_key="a", include_superseded=True)
    assert [x.id for x in history] == [cost.id, replaced.id, first.id]
    assert [x.superseded_at for x in history] == [None, 40.0, 30.0]
    assert [len(x.samples) for x in history] == [1, 1, 2]
    assert len(store.baselines()) == 3
    assert [x.database for x in store.baselines(query_key="a")] == ["dev", "prod"]


def test_baseline_checks_are_kept_newest_first(store: Store) -> None:
    store.baseline_checks_add([])
    store.baseline_checks_add(
        [
            BaselineCheck("dev", "a", 10.0, "ok", "execution_ms", 1.0, mean=1.0, samples=5),
            BaselineCheck("dev", "b", 10.0, "error", "execution_ms", 9.0, change=8.0, stale=True),
        ]
    )
    store.baseline_checks_add(
        [BaselineCheck("dev", "a", 20.0, "ok", "execution_ms", 0.4, improved=True, change=-0.6)]
    )
    checks = store.baseline_checks("dev")
    assert [(c.query_key, c.checked_at) for c in checks] == [("a", 20.0), ("b", 10.0), ("a", 10.0)]
    assert checks[0].improved is True and checks[1].stale is True and checks[1].change == 8.0
    assert checks[2].improved is False and checks[2].samples == 5 and checks[2].mean == 1.0
    assert [c.checked_at for c in store.baseline_checks("dev", query_key="a", limit=1)] == [20.0]
    assert store.baseline_checks("other") == []


def test_operation_timings(store: Store) -> None:
    store.timings_add([])
    store.timings_add(
        [
            OperationTiming("hook_execution", 0.01, 5.0),
            OperationTiming("hook_execution", 0.2, 1.0, ok=False),
            OperationTiming("baseline_lookup", 0.002, 3.0),
        ]
    )
    hooks = store.timings("hook_execution")
    assert [(t.seconds, t.ok) for t in hooks] == [(0.2, False), (0.01, True)]
    assert [t.operation for t in store.timings(since=3.0)] == ["baseline_lookup", "hook_execution"]
    assert store.timings_purge(before=4.0) == 2
    assert [t.recorded_at for t in store.timings()] == [5.0]


def test_part_schemas_are_versioned_apart(backend: Backend, opener: Callable[[], Store]) -> None:
    """A part's tables migrate by themselves, once, and a newer layout is refused."""
    v1 = [["CREATE TABLE part_things (id INTEGER PRIMARY KEY, name TEXT)"]]
    v2 = [*v1, ["ALTER TABLE part_things ADD COLUMN size INTEGER"]]
    store = opener()
    assert store.ensure_part_schema("things", v1) == 1
    assert store.ensure_part_schema("things", v1) == 1  # applied once
    store.close()
    store = opener()
    assert store.ensure_part_schema("things", v2) == 2
    assert backend.columns(store, "part_things") == ["id", "name", "size"]
    with pytest.raises(CannotRunError, match="things tables at version 2"):
        store.ensure_part_schema("things", v1)
    broken = [*v2, ["ALTER TABLE part_things ADD COLUMN extra INTEGER", "ALTER TABLE nope ADD x"]]
    with pytest.raises(CannotRunError, match="to version 3 failed"):
        store.ensure_part_schema("things", broken)
    assert store.ensure_part_schema("things", v2) == 2  # the failed step left nothing
    assert backend.columns(store, "part_things") == ["id", "name", "size"]
    assert store.ensure_part_schema("other", []) == 0
    # A statement is sent as written: a % in it is SQL, not a placeholder.
    percent = [["CREATE TABLE part_codes (code TEXT CHECK (code LIKE 'a%'))"]]
    assert store.ensure_part_schema("codes", percent) == 1
    assert backend.columns(store, "part_codes") == ["code"]


def test_a_forked_child_is_not_blocked_by_a_lock_held_in_the_parent(store: Store) -> None:
    """A thread holding the store's lock at fork() must not hang the child's first write.

    The child writes through a connection of its own, and leaving it does not close the
    parent's: the parent's next write (through its connection) sees the child's table.
    """
    if isinstance(store, SqliteStore):
        lock = store.db._lock
    else:
        lock = store.connection._lock  # type: ignore[attr-defined]
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        # The wrapper's own lock, as a thread between two statements holds it.
        with lock:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: one write, then leave
        try:
            store.ensure_part_schema("child", [["CREATE TABLE child_rows (x INTEGER)"]])
            store.outbox_add("child", {"pid": os.getpid()}, now=1.0, next_attempt_at=1.0)
            store.close()
            os._exit(0)
        except BaseException:
            os._exit(1)
    release.set()
    thread.join()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert store.ensure_part_schema("child", [["CREATE TABLE child_rows (x INTEGER)"]]) == 1
    assert [i.payload["pid"] for i in store.outbox_pending("child")] == [pid]
