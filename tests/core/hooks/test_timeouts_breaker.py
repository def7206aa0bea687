"""Per-hook and per-phase timeouts, and the per-hook circuit breaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from plimsoll.core.hooks import (
    CircuitState,
    HookBreakers,
    HookContext,
    HookExecutor,
    HookFailed,
    HookRegistry,
    Outcome,
)
from plimsoll.core.store import SqliteStore
from tests.core.hooks.support import DbPhase, FakeClock, Recorder, context

PHASE = DbPhase.BEFORE_STATEMENT


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event stuck hooks wait on; set at the end so abandoned threads finish."""
    event = threading.Event()
    yield event
    event.set()


def test_a_hook_past_its_timeout_is_recorded_as_timed_out(release: threading.Event) -> None:
    registry = HookRegistry()
    rec = Recorder()
    registry.hook(PHASE, name="stuck", timeout=0.05, error_strategy="fail_safe")(
        lambda ctx: release.wait(5)
    )
    registry.hook(PHASE, name="next", priority=1)(rec.hook("next"))

    began = time.monotonic()
    trace = HookExecutor(registry).run_phase(context(PHASE))

    assert time.monotonic() - began < 1.0
    stuck = trace.result("stuck")
    assert stuck.outcome is Outcome.TIMED_OUT
    assert stuck.error == (
        "exceeded its timeout of 0.05s; its thread was abandoned and may still be running"
    )
    assert 40 <= stuck.duration_ms < 500
    assert rec.calls == ["next"]


def test_a_timed_out_fail_fast_hook_raises_and_is_not_retried(release: threading.Event) -> None:
    registry = HookRegistry()
    calls: list[int] = []

    def stuck(ctx: HookContext) -> None:
        calls.append(1)
        release.wait(5)

    registry.hook(PHASE, name="stuck", timeout=0.05, error_strategy="retry", retries=3)(stuck)
    with pytest.raises(HookFailed, match="'stuck' timed out"):
        HookExecutor(registry).run_phase(context(PHASE))
    assert calls == [1]


def test_the_phase_timeout_bounds_every_hook(release: threading.Event) -> None:
    registry = HookRegistry()
    registry.hook(PHASE, name="slow", error_strategy="fail_safe")(lambda ctx: release.wait(5))
    registry.hook(PHASE, name="later", error_strategy="fail_safe", priority=1)(lambda ctx: None)

    began = time.monotonic()
    executor = HookExecutor(registry, phase_timeouts={PHASE: 0.1})
    trace = executor.run_phase(context(PHASE))

    assert time.monotonic() - began < 1.0
    assert trace.deadline_exceeded
    assert trace.result("slow").outcome is Outcome.TIMED_OUT
    assert "exceeded the phase timeout" in (trace.result("slow").error or "")
    later = trace.result("later")
    assert (later.outcome, later.attempts) == (Outcome.TIMED_OUT, 0)
    assert later.error == "the phase timeout was reached before the hook started"


def test_default_timeout_applies_to_hooks_without_one(release: threading.Event) -> None:
    registry = HookRegistry()
    registry.hook(PHASE, name="slow", error_strategy="fail_safe")(lambda ctx: release.wait(5))
    trace = HookExecutor(registry, default_timeout=0.05).run_phase(context(PHASE))
    assert trace.result("slow").outcome is Outcome.TIMED_OUT


def test_the_breaker_opens_after_consecutive_failures_then_half_opens() -> None:
    registry = HookRegistry()
    state = {"fail": True, "calls": 0}

    def sometimes(ctx: HookContext) -> None:
        state["calls"] += 1
        if state["fail"]:
            raise RuntimeError("replica lag")

    registry.hook(PHASE, name="lag", error_strategy="fail_safe")(sometimes)
    clock = FakeClock()
    breakers = HookBreakers(threshold=2, reset_seconds=60, clock=clock)
    executor = HookExecutor(registry, breakers=breakers)
    key = registry.for_phase(PHASE)[0].key

    def outcome() -> Outcome:
        return executor.run_phase(context(PHASE)).result("lag").outcome

    assert [outcome(), outcome()] == [Outcome.FAILED, Outcome.FAILED]
    assert breakers.state(key) is CircuitState.OPEN
    trace = executor.run_phase(context(PHASE))
    assert trace.result("lag").outcome is Outcome.BREAKER_OPEN
    assert trace.result("lag").error == "breaker open after 2 consecutive failures"
    assert state["calls"] == 2  # skipped, not called

    clock.now += 61
    assert breakers.state(key) is CircuitState.HALF_OPEN
    assert outcome() is Outcome.FAILED  # the half-open trial fails: open again at once
    assert breakers.state(key) is CircuitState.OPEN
    assert outcome() is Outcome.BREAKER_OPEN

    clock.now += 61
    state["fail"] = False
    assert outcome() is Outcome.SUCCEEDED  # the trial succeeds: closed
    assert breakers.state(key) is CircuitState.CLOSED
    assert breakers.failures(key) == 0


def test_a_success_resets_the_consecutive_count() -> None:
    breakers = HookBreakers(threshold=2, clock=FakeClock())
    breakers.failure("k")
    breakers.success("k")
    breakers.failure("k")
    assert breakers.state("k") is CircuitState.CLOSED


def test_breaker_state_can_live_in_the_state_store() -> None:
    with SqliteStore.memory() as store:
        clock = FakeClock()
        first = HookBreakers(threshold=1, reset_seconds=10, store=store, clock=clock)
        first.failure("hook:p:x")
        # Another process (a new HookBreakers over the same store) sees the open breaker.
        second = HookBreakers(threshold=1, reset_seconds=10, store=store, clock=clock)
        assert second.state("hook:p:x") is CircuitState.OPEN


@pytest.mark.parametrize("strategy", ["fail_fast", "retry"])
def test_an_open_breaker_does_not_turn_a_stopping_hook_into_a_pass(strategy: str) -> None:
    registry = HookRegistry()
    rec = Recorder()
    calls: list[int] = []

    def guard(ctx: HookContext) -> None:
        calls.append(1)
        raise RuntimeError("replica lag")

    registry.hook(PHASE, name="guard", error_strategy=strategy, retries=0)(guard)
    registry.hook(PHASE, name="after", priority=1)(rec.hook("after"))
    clock = FakeClock()
    executor = HookExecutor(
        registry, breakers=HookBreakers(threshold=1, reset_seconds=60, clock=clock)
    )
    with pytest.raises(HookFailed, match="'guard' failed"):
        executor.run_phase(context(PHASE))

    # The breaker is open now: the guard is not called, and the phase still stops.
    with pytest.raises(HookFailed) as caught:
        executor.run_phase(context(PHASE))
    assert calls == [1]
    assert rec.calls == []
    assert str(caught.value) == (
        f"hook 'guard' in phase {PHASE.value}: breaker open after 1 consecutive failure: not"
        f" run, and a {strategy} hook that cannot run stops the phase (next try in 60s)"
    )
    (phase,) = caught.value.trace.phases
    assert phase.outcome.value == "failed"
    assert [(h.name, h.outcome) for h in phase.hooks] == [
        ("guard", Outcome.BREAKER_OPEN),
        ("after", Outcome.SKIPPED),
    ]


def test_an_open_breaker_skips_a_fail_safe_hook_and_the_phase_goes_on() -> None:
    registry = HookRegistry()
    rec = Recorder()

    def flaky(ctx: HookContext) -> None:
        raise RuntimeError("down")

    registry.hook(PHASE, name="flaky", error_strategy="fail_safe")(flaky)
    registry.hook(PHASE, name="after", priority=1)(rec.hook("after"))
    executor = HookExecutor(registry, breakers=HookBreakers(threshold=1, clock=FakeClock()))
    executor.run_phase(context(PHASE))
    trace = executor.run_phase(context(PHASE))
    assert trace.result("flaky").outcome is Outcome.BREAKER_OPEN
    assert trace.outcome.value == "degraded"
    assert rec.calls == ["after", "after"]
