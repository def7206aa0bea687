"""Error strategies: fail_fast, fail_safe, retry with backoff, alert_only; async hooks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from plimsoll.core.config import NotifyConfig, WebhookChannel
from plimsoll.core.hooks import (
    HookContext,
    HookExecutor,
    HookFailed,
    HookRegistry,
    Outcome,
    PhaseOutcome,
)
from plimsoll.core.notifiers.base import Message
from plimsoll.core.notify import Dispatcher
from tests.core.hooks.support import DbPhase, Recorder, context
from tests.support.servers import HttpRecorder

PHASE = DbPhase.BEFORE_MIGRATION


def boom(ctx: HookContext) -> None:
    raise ValueError("the table is locked")


def test_fail_fast_stops_the_phase_and_carries_the_trace() -> None:
    registry = HookRegistry()
    rec = Recorder()
    registry.hook(PHASE, name="first", priority=1)(rec.hook("first"))
    registry.hook(PHASE, name="breaks", priority=2)(boom)
    registry.hook(PHASE, name="never", priority=3)(rec.hook("never"))

    with pytest.raises(HookFailed) as caught:
        HookExecutor(registry).run_phase(context())

    failed = caught.value
    assert failed.result.name == "breaks"
    assert "ValueError: the table is locked" in str(failed)
    assert 'raise ValueError("the table is locked")' in (failed.result.traceback or "")
    (phase,) = failed.trace.phases
    assert phase.outcome is PhaseOutcome.FAILED
    assert [(h.name, h.outcome) for h in phase.hooks] == [
        ("first", Outcome.SUCCEEDED),
        ("breaks", Outcome.FAILED),
        ("never", Outcome.SKIPPED),
    ]
    assert phase.result("never").error == "not run: hook 'breaks' failed"
    assert rec.calls == ["first"]


def test_fail_fast_in_a_dag_lets_the_level_finish_and_skips_the_rest() -> None:
    registry = HookRegistry()
    rec = Recorder()
    # Both start before either ends: the barrier makes "sibling" already running when the
    # other fails (a hook of the level not yet started would be skipped instead).
    started = threading.Barrier(2)

    def breaks(ctx: HookContext) -> None:
        started.wait(timeout=2)
        boom(ctx)

    registry.hook(PHASE, name="breaks")(breaks)
    registry.hook(PHASE, name="sibling")(rec.hook("sibling", seconds=0.02, barrier=started))
    registry.hook(PHASE, name="after", depends_on=["sibling"])(rec.hook("after"))
    with pytest.raises(HookFailed) as caught:
        HookExecutor(registry, strategy="dag").run_phase(context())
    outcomes = {h.name: h.outcome for h in caught.value.trace.phases[0].hooks}
    assert outcomes == {
        "breaks": Outcome.FAILED,
        "sibling": Outcome.SUCCEEDED,
        "after": Outcome.SKIPPED,
    }


def test_fail_safe_records_and_continues_and_dependents_are_skipped() -> None:
    registry = HookRegistry()
    rec = Recorder()
    registry.hook(PHASE, name="breaks", error_strategy="fail_safe")(boom)
    registry.hook(PHASE, name="needs_it", depends_on=["breaks"])(rec.hook("needs_it"))
    registry.hook(PHASE, name="independent", priority=5)(rec.hook("independent"))

    trace = HookExecutor(registry, strategy="dag").run_phase(context())

    assert trace.outcome is PhaseOutcome.DEGRADED
    assert trace.result("breaks").outcome is Outcome.FAILED
    assert trace.result("breaks").error == "ValueError: the table is locked"
    assert trace.result("needs_it").outcome is Outcome.SKIPPED
    assert trace.result("needs_it").error == "dependency 'breaks' failed"
    assert rec.calls == ["independent"]
    assert trace.totals == {
        "hooks": 3,
        "succeeded": 1,
        "failed": 1,
        "timed_out": 0,
        "skipped": 1,
        "breaker_open": 0,
    }


def test_retry_backs_off_exponentially_and_counts_attempts() -> None:
    registry = HookRegistry()
    calls: list[int] = []

    def flaky(ctx: HookContext) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("try again")

    registry.hook(PHASE, name="flaky", error_strategy="retry", retries=4, backoff_seconds=0.001)(
        flaky
    )
    waits: list[float] = []
    trace = HookExecutor(registry, sleep=waits.append).run_phase(context())
    result = trace.result("flaky")
    assert (result.outcome, result.attempts, len(calls)) == (Outcome.SUCCEEDED, 3, 3)
    assert waits == [0.001, 0.002]


def test_retry_gives_up_after_its_attempts_then_fails_fast() -> None:
    registry = HookRegistry()
    registry.hook(PHASE, name="down", error_strategy="retry", retries=2, backoff_seconds=0.001)(
        boom
    )
    with pytest.raises(HookFailed) as caught:
        HookExecutor(registry).run_phase(context())  # real (tiny) sleeps
    assert caught.value.result.attempts == 3
    assert caught.value.result.outcome is Outcome.FAILED


def test_alert_only_continues_and_calls_the_notifier_callback() -> None:
    registry = HookRegistry()
    rec = Recorder()
    registry.hook(PHASE, name="noisy", error_strategy="alert_only", channels=["ops"])(boom)
    registry.hook(PHASE, name="next", priority=1)(rec.hook("next"))
    sent: list[tuple[Message, list[str] | None]] = []
    ctx = context()

    trace = HookExecutor(registry, alerts=lambda m, c: sent.append((m, c))).run_phase(ctx)

    assert rec.calls == ["next"]
    assert trace.result("noisy").outcome is Outcome.FAILED
    ((message, channels),) = sent
    assert channels == ["ops"]
    assert message.title == "plimsoll hook noisy failed (before_migration)"
    assert message.fields["run_id"] == ctx.run_id
    assert "ValueError: the table is locked" in message.body


def test_alert_only_delivers_through_a_dispatcher(http_recorder: HttpRecorder) -> None:
    channel = WebhookChannel(kind="webhook", url=f"{http_recorder.url}/hook")  # type: ignore[arg-type]
    registry = HookRegistry()
    registry.hook(PHASE, name="noisy", error_strategy="alert_only")(boom)
    with Dispatcher(NotifyConfig(channels={"ops": channel})) as dispatcher:
        trace = HookExecutor(registry, alerts=dispatcher).run_phase(context())
    assert trace.outcome is PhaseOutcome.DEGRADED
    (request,) = http_recorder.requests_to("/hook", "POST")
    body: dict[str, Any] = request.json()
    assert body["title"] == "plimsoll hook noisy failed (before_migration)"
    assert body["fields"]["hook"] == "noisy"


def test_a_failing_notifier_does_not_break_the_run() -> None:
    registry = HookRegistry()
    registry.hook(PHASE, name="noisy", error_strategy="alert_only")(boom)

    def broken(message: Message, channels: list[str] | None) -> None:
        raise RuntimeError("smtp down")

    trace = HookExecutor(registry, alerts=broken).run_phase(context())
    assert trace.result("noisy").outcome is Outcome.FAILED


def test_async_hooks_run_in_their_own_event_loop() -> None:
    registry = HookRegistry()
    loops: list[int] = []

    async def waits(ctx: HookContext) -> None:
        await asyncio.sleep(0.01)
        loops.append(id(asyncio.get_running_loop()))
        assert threading.current_thread().name.startswith("plimsoll-hook-")

    async def fails(ctx: HookContext) -> None:
        await asyncio.sleep(0)
        raise KeyError("missing")

    registry.hook(PHASE, name="waits")(waits)
    registry.hook(PHASE, name="waits_too")(waits)
    registry.hook(PHASE, name="fails", error_strategy="fail_safe", priority=9)(fails)
    trace = HookExecutor(registry, strategy="parallel").run_phase(context())
    assert [h.outcome for h in trace.hooks] == [
        Outcome.SUCCEEDED,
        Outcome.SUCCEEDED,
        Outcome.FAILED,
    ]
    assert trace.result("fails").error == "KeyError: 'missing'"
    assert len(loops) == 2
