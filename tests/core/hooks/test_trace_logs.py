"""The run trace (JSON, totals, critical path) and the structured log events."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest

from plimsoll.core.hooks import (
    HookContext,
    HookExecutor,
    HookFailed,
    HookRegistry,
    PhaseOutcome,
)
from plimsoll.core.hooks.graph import critical_path
from tests.core.hooks.support import DbPhase, Recorder, context


def _dag(registry: HookRegistry, rec: Recorder) -> None:
    phase = DbPhase.AFTER_MIGRATION
    registry.hook(phase, name="a")(rec.hook("a", 0.02))
    registry.hook(phase, name="b", depends_on=["a"])(rec.hook("b", 0.15))
    registry.hook(phase, name="c", depends_on=["a"])(rec.hook("c", 0.01))
    registry.hook(phase, name="d", depends_on=["b", "c"])(rec.hook("d", 0.02))


def test_trace_json_and_critical_path_on_a_known_dag() -> None:
    registry = HookRegistry()
    _dag(registry, Recorder())
    run = HookExecutor(registry, strategy="dag").start_run()

    trace = run.run_phase(context(DbPhase.AFTER_MIGRATION, run.run_id))

    assert trace.critical_path == ("a", "b", "d")
    expected = sum(trace.result(n).duration_ms for n in ("a", "b", "d"))
    assert trace.critical_path_ms == pytest.approx(expected)
    assert trace.critical_path_ms >= 190
    # b and c ran at once, so the phase took about the critical path, not the sum.
    assert trace.duration_ms < sum(h.duration_ms for h in trace.hooks)

    (doc,) = json.loads(run.trace.to_json())["phases"]
    assert (doc["phase"], doc["run_id"], doc["strategy"]) == ("after_migration", run.run_id, "dag")
    assert doc["critical_path"]["hooks"] == ["a", "b", "d"]
    assert doc["totals"]["succeeded"] == 4
    b = next(h for h in doc["hooks"] if h["name"] == "b")
    assert set(b) >= {"start", "end", "duration_ms", "outcome", "attempts", "error"}
    assert datetime.fromisoformat(b["end"]) >= datetime.fromisoformat(b["start"])
    assert (b["outcome"], b["attempts"], b["error"], b["depends_on"]) == (
        "succeeded",
        1,
        None,
        ["a"],
    )


def test_a_run_collects_its_phases_and_a_failure_carries_them_all() -> None:
    registry = HookRegistry()
    registry.hook(DbPhase.BEFORE_VALIDATION, name="ok")(lambda ctx: None)

    def bad(ctx: HookContext) -> None:
        raise OSError("disk full")

    registry.hook(DbPhase.BEFORE_MIGRATION, name="bad")(bad)
    run = HookExecutor(registry).start_run("run-1")

    run.run_phase(context(DbPhase.BEFORE_VALIDATION, run.run_id))
    with pytest.raises(HookFailed) as caught:
        run.run_phase(context(DbPhase.BEFORE_MIGRATION, run.run_id))

    doc = json.loads(caught.value.trace.to_json())
    assert doc["run_id"] == "run-1"
    assert doc["outcome"] == "failed"
    assert [p["phase"] for p in doc["phases"]] == ["before_validation", "before_migration"]
    assert doc["phases"][1]["hooks"][0]["error"] == "OSError: disk full"
    assert "OSError: disk full" in doc["phases"][1]["hooks"][0]["traceback"]
    assert run.trace.outcome is PhaseOutcome.FAILED
    with pytest.raises(ValueError, match="given to run run-1"):
        run.run_phase(context(DbPhase.CLEANUP, "another-run"))


def test_the_dag_critical_path_follows_the_level_barrier() -> None:
    registry = HookRegistry()
    rec = Recorder()
    phase = DbPhase.AFTER_MIGRATION
    registry.hook(phase, name="quick")(rec.hook("quick", 0.02))
    registry.hook(phase, name="slow")(rec.hook("slow", 0.2))
    # "next" depends on "quick" only, but its level starts when "slow" ends.
    registry.hook(phase, name="next", depends_on=["quick"])(rec.hook("next", 0.02))

    trace = HookExecutor(registry, strategy="dag").run_phase(context(phase))

    assert rec.spans["next"][0] >= rec.spans["slow"][1]  # the barrier held it back
    assert trace.critical_path == ("slow", "next")
    expected = trace.result("slow").duration_ms + trace.result("next").duration_ms
    assert trace.critical_path_ms == pytest.approx(expected)
    # The path explains the phase: all of its duration but the engine's own overhead.
    assert trace.critical_path_ms <= trace.duration_ms < trace.critical_path_ms + 50


def test_the_sequential_critical_path_is_the_whole_sequence() -> None:
    registry = HookRegistry()
    rec = Recorder()
    phase = DbPhase.AFTER_MIGRATION
    registry.hook(phase, name="one")(rec.hook("one", 0.01))
    registry.hook(phase, name="two", priority=1)(rec.hook("two", 0.05))
    registry.hook(phase, name="three", priority=2)(rec.hook("three", 0.01))

    trace = HookExecutor(registry).run_phase(context(phase))

    assert trace.critical_path == ("one", "two", "three")
    assert trace.critical_path_ms == pytest.approx(sum(h.duration_ms for h in trace.hooks))


def test_critical_path_without_dependencies_is_the_longest_hook() -> None:
    assert critical_path({"x": 5.0, "y": 9.0}, {}) == (("y",), 9.0)
    assert critical_path({"x": 5.0, "y": 1.0, "z": 1.0}, {"y": ["x"], "z": ["y"]}) == (
        ("x", "y", "z"),
        7.0,
    )


def test_log_events_carry_the_structured_fields(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # log.configure() (run by other tests) stops propagation; caplog listens at the root.
    monkeypatch.setattr(logging.getLogger("plimsoll"), "propagate", True)
    caplog.set_level(logging.INFO, logger="plimsoll")
    registry = HookRegistry()
    phase = DbPhase.AFTER_VALIDATION
    registry.hook(phase, name="good")(lambda ctx: None)

    def bad(ctx: HookContext) -> None:
        raise ValueError("bad row")

    registry.hook(phase, name="bad", error_strategy="fail_safe", priority=1)(bad)
    ctx = context(phase)

    HookExecutor(registry).run_phase(ctx)

    records = [r for r in caplog.records if r.name == "plimsoll.core.hooks"]
    assert [getattr(r, "event", None) for r in records] == [
        "executing_hooks",
        "hook_start",
        "hook_completed",
        "hook_start",
        "hook_failed",
        "phase_completed",
    ]
    for r in records:
        assert (getattr(r, "phase", None), getattr(r, "run_id", None)) == (phase.value, ctx.run_id)
    completed, failed = records[2], records[4]
    assert (getattr(completed, "hook", None), getattr(completed, "outcome", None)) == (
        "good",
        "succeeded",
    )
    assert isinstance(getattr(completed, "duration_ms", None), float)
    assert (getattr(failed, "hook", None), getattr(failed, "outcome", None)) == ("bad", "failed")
    assert failed.levelno == logging.WARNING
    assert "ValueError: bad row" in getattr(failed, "traceback", "")
    assert getattr(records[-1], "outcome", None) == "degraded"
