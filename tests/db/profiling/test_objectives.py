"""plimsoll's own objectives: timings recorded in the store and judged against their targets."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.core.store import OperationTiming, SqliteStore
from plimsoll.db.profiling import objectives
from plimsoll.db.profiling.objectives import (
    OBJECTIVES,
    Objective,
    ObjectiveStatus,
    Operation,
    TimingRecorder,
    compliance,
    evaluate,
    flush_timings,
    record_timing,
    timed,
    timed_operation,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "state.db") as opened:
        yield opened


def test_the_published_objectives() -> None:
    targets = {str(o.operation): (o.target_seconds, o.percentile) for o in OBJECTIVES}
    assert targets == {
        "hook_execution": (0.050, 99.0),
        "risk_assessment": (5.0, 99.0),
        "rule_composition": (0.100, 99.0),
        "baseline_lookup": (0.010, 99.0),
        "regression_check": (0.020, 99.0),
    }


def test_recording_into_the_store_and_timing_a_block(store: SqliteStore) -> None:
    record_timing(store, Operation.RISK_ASSESSMENT, 1.25)
    with timed(store, Operation.HOOK_EXECUTION):
        time.sleep(0.02)
    with pytest.raises(RuntimeError), timed(store, Operation.HOOK_EXECUTION):
        raise RuntimeError("boom")
    risk = store.timings(Operation.RISK_ASSESSMENT)
    assert [(t.seconds, t.ok) for t in risk] == [(1.25, True)]
    hooks = store.timings(Operation.HOOK_EXECUTION)
    assert [t.ok for t in hooks] == [True, False]
    assert 0.02 <= hooks[0].seconds < 1.0


def test_without_a_store_timings_wait_in_the_default_recorder(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = TimingRecorder()
    monkeypatch.setattr(objectives, "DEFAULT_RECORDER", recorder)

    @timed_operation(Operation.RULE_COMPOSITION)
    def compose(x: int) -> int:
        return x * 2

    assert compose(21) == 42
    record_timing(None, Operation.HOOK_EXECUTION, 0.001)
    assert [t.operation for t in recorder.pending()] == ["rule_composition", "hook_execution"]
    assert flush_timings(store) == 2 and recorder.pending() == []
    assert len(store.timings()) == 2
    assert flush_timings(store) == 0


def test_a_store_that_cannot_be_written_never_fails_the_caller(store: SqliteStore) -> None:
    store.close()
    recorder = TimingRecorder()
    recorder.record("x", 0.5)
    assert recorder.flush(store) == 0
    with pytest.raises(ValueError, match="negative"):
        recorder.record("x", -1.0)


def _timings(operation: str, values: list[float]) -> list[OperationTiming]:
    return [OperationTiming(operation, v, float(i)) for i, v in enumerate(values)]


def test_p99_budget_and_status() -> None:
    values = [0.010 + 0.0001 * i for i in range(198)] + [0.080, 0.090]
    results = {
        str(r.objective.operation): r for r in evaluate(_timings(Operation.HOOK_EXECUTION, values))
    }
    hook = results["hook_execution"]
    expected = statistics.quantiles(values, n=100, method="inclusive")[98]
    assert hook.observed == pytest.approx(expected)
    assert hook.count == 200 and hook.maximum == 0.090
    # 2 of 200 over 50 ms: 1% allowed is 2, so the budget is spent exactly.
    assert hook.within == pytest.approx(198 / 200)
    assert hook.budget_remaining == pytest.approx(0.0)
    assert expected < 0.050 and hook.status is ObjectiveStatus.MET
    assert results["risk_assessment"].status is ObjectiveStatus.NO_DATA
    breached = evaluate(_timings("risk_assessment", [6.0, 7.0, 1.0]))[1]
    assert breached.status is ObjectiveStatus.BREACHED and breached.budget_remaining < 0
    payload = breached.to_dict()
    assert payload["target_ms"] == 5000.0 and payload["status"] == "breached"


def test_compliance_reads_the_window(store: SqliteStore) -> None:
    now = 1_000_000.0
    store.timings_add(
        [
            OperationTiming("baseline_lookup", 0.5, now - 40 * 86400),  # outside the window
            OperationTiming("baseline_lookup", 0.002, now - 3600),
        ]
    )
    custom = (Objective("baseline_lookup", 0.010),)
    [result] = compliance(store, now=now, objectives=custom)
    assert result.count == 1 and result.status is ObjectiveStatus.MET
    [wide] = compliance(store, now=now, window_seconds=50 * 86400, objectives=custom)
    assert wide.count == 2 and wide.status is ObjectiveStatus.BREACHED


def test_timings_past_twice_the_window_go_when_a_recorder_first_writes(
    store: SqliteStore,
) -> None:
    now = 1_800_000_000.0
    day = 86400.0
    old = [OperationTiming("hook_execution", 0.01, now - d * day, True) for d in (10, 59, 61, 90)]
    store.timings_add(old)
    recorder = objectives.TimingRecorder(clock=lambda: now)
    recorder.record(Operation.HOOK_EXECUTION, 0.02)
    assert recorder.flush(store) == 1
    kept = sorted(now - t.recorded_at for t in store.timings(Operation.HOOK_EXECUTION))
    assert kept == [0.0, 10 * day, 59 * day]  # 61 and 90 days old: past 60
    # Once per store: a later write purges nothing more (nor fails).
    store.timings_add([OperationTiming("hook_execution", 0.01, now - 70 * day, True)])
    recorder.record(Operation.HOOK_EXECUTION, 0.03)
    assert recorder.flush(store) == 1
    assert len(store.timings(Operation.HOOK_EXECUTION)) == 5
