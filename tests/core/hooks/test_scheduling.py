"""Scheduling strategies: sequential, parallel (really at once) and dag (levels, really at once)."""

from __future__ import annotations

import threading
import time

import pytest

from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks import (
    DependencyCycleError,
    ExecutionStrategy,
    HookExecutor,
    HookRegistry,
    Outcome,
    UnknownDependencyError,
)
from tests.core.hooks.support import DbPhase, Recorder, context

PHASE = DbPhase.BEFORE_MIGRATION


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return min(a[1], b[1]) - max(a[0], b[0])


def test_parallel_hooks_really_run_at_once() -> None:
    registry = HookRegistry()
    rec = Recorder()
    # Each waits for the other at the barrier: it only passes when both run at the same time.
    barrier = threading.Barrier(2)
    registry.hook(PHASE, name="a")(rec.hook("a", seconds=0.02, barrier=barrier))
    registry.hook(PHASE, name="b")(rec.hook("b", seconds=0.02, barrier=barrier))

    trace = HookExecutor(registry, strategy="parallel", max_workers=2).run_phase(context())

    assert [h.outcome for h in trace.hooks] == [Outcome.SUCCEEDED, Outcome.SUCCEEDED]
    assert _overlap(rec.spans["a"], rec.spans["b"]) > 0
    assert trace.strategy is ExecutionStrategy.PARALLEL


def test_parallel_is_bounded_by_max_workers() -> None:
    registry = HookRegistry()
    lock, running, peak = threading.Lock(), [0], [0]

    def counting(ctx: object) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.03)
        with lock:
            running[0] -= 1

    for name in "abcde":
        registry.hook(PHASE, name=name)(counting)
    HookExecutor(registry, strategy="parallel", max_workers=2).run_phase(context())
    assert peak[0] <= 2


def test_parallel_rejects_dependencies() -> None:
    registry = HookRegistry()
    registry.hook(PHASE, name="a")(lambda ctx: None)
    registry.hook(PHASE, name="b", depends_on=["a"])(lambda ctx: None)
    with pytest.raises(ConfigError, match="b declare depends_on.*use the dag strategy"):
        HookExecutor(registry, strategy="parallel").run_phase(context())


def test_dag_runs_level_by_level_and_each_level_at_once() -> None:
    registry = HookRegistry()
    rec = Recorder()
    barrier = threading.Barrier(2)
    registry.hook(PHASE, name="root")(rec.hook("root", seconds=0.01))
    registry.hook(PHASE, name="left", depends_on=["root"])(rec.hook("left", 0.02, barrier))
    registry.hook(PHASE, name="right", depends_on=["root"])(rec.hook("right", 0.02, barrier))
    registry.hook(PHASE, name="join", depends_on=["left", "right"], priority=-5)(rec.hook("join"))

    trace = HookExecutor(registry, strategy="dag").run_phase(context())

    assert trace.totals["succeeded"] == 4
    assert [h.name for h in trace.hooks] == ["root", "left", "right", "join"]
    spans = rec.spans
    assert spans["root"][1] <= min(spans["left"][0], spans["right"][0])
    assert _overlap(spans["left"], spans["right"]) > 0
    assert spans["join"][0] >= max(spans["left"][1], spans["right"][1])


def test_sequential_honours_dependencies_over_priority() -> None:
    registry = HookRegistry()
    rec = Recorder()
    registry.hook(PHASE, name="needs", priority=-100, depends_on=["base"])(rec.hook("needs"))
    registry.hook(PHASE, name="base", priority=100)(rec.hook("base"))
    registry.hook(PHASE, name="free", priority=0)(rec.hook("free"))
    HookExecutor(registry).run_phase(context())
    assert rec.calls == ["free", "base", "needs"]


def test_a_cycle_is_rejected_naming_its_members() -> None:
    registry = HookRegistry()
    registry.hook(PHASE, name="ok")(lambda ctx: None)
    registry.hook(PHASE, name="a", depends_on=["c", "ok"])(lambda ctx: None)
    registry.hook(PHASE, name="b", depends_on=["a"])(lambda ctx: None)
    registry.hook(PHASE, name="c", depends_on=["b"])(lambda ctx: None)
    with pytest.raises(DependencyCycleError) as caught:
        HookExecutor(registry, strategy="dag").run_phase(context())
    assert set(caught.value.members) == {"a", "b", "c"}
    assert "dependency cycle a -> c -> b -> a" in str(caught.value)
    with pytest.raises(DependencyCycleError):
        registry.validate()


def test_an_unknown_dependency_is_rejected_naming_it() -> None:
    registry = HookRegistry()
    rec = Recorder()
    registry.hook(PHASE, name="a", depends_on=["ghost"])(rec.hook("a"))
    with pytest.raises(UnknownDependencyError, match="'a' depends on unknown hook 'ghost'"):
        HookExecutor(registry, strategy="dag").run_phase(context())
    assert rec.calls == []  # nothing ran


def test_an_empty_phase_succeeds() -> None:
    trace = HookExecutor(HookRegistry(), strategy="dag").run_phase(context(DbPhase.CLEANUP))
    assert trace.hooks == () and trace.outcome.value == "succeeded"
    assert trace.critical_path == ()
