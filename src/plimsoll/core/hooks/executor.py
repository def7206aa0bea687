"""The executor: runs the hooks of a phase with a scheduling strategy and each hook's error strategy.

Scheduling (``ExecutionStrategy``):

- ``sequential``: one at a time, by priority (lower first); ``depends_on`` is honoured too.
- ``parallel``: all at once on a bounded thread pool; a phase whose hooks declare
  ``depends_on`` is rejected (use ``dag``).
- ``dag``: level by level; each level's hooks run at once, after every hook they depend on.
  A hook whose dependency did not succeed is skipped.

Error strategies (``ErrorStrategy``): ``fail_fast`` stops the phase (hooks already running
finish, the others are skipped) and raises :class:`HookFailed` carrying the trace, so the caller
can roll back; ``retry`` tries again with exponential backoff, then acts as ``fail_fast``;
``fail_safe`` records the failure and continues; ``alert_only`` records, continues and sends a
message through the notifier given to the executor.

Timeouts: a hook's own ``timeout_seconds`` (else the executor's ``default_timeout``) bounds each
attempt, and a phase timeout bounds the whole phase. A timed-out hook's thread is abandoned (see
:mod:`plimsoll.core.hooks.runner`). A circuit breaker per hook skips a hook that has failed too
many runs in a row, until its reset time has passed; a ``fail_fast`` or ``retry`` hook skipped
that way still stops the phase (it did not run, so what it guards was not checked).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks import events, graph
from plimsoll.core.hooks.alerts import AlertTarget, send_alert
from plimsoll.core.hooks.breaker import CircuitState, HookBreakers
from plimsoll.core.hooks.errors import HookFailed
from plimsoll.core.hooks.model import (
    ErrorStrategy,
    ExecutionStrategy,
    Hook,
    HookContext,
    Outcome,
    new_run_id,
)
from plimsoll.core.hooks.registry import HookRegistry
from plimsoll.core.hooks.runner import Attempted, run_hook
from plimsoll.core.hooks.trace import HookResult, PhaseOutcome, PhaseTrace, RunTrace

# Hooks run at once by one executor when the caller does not say.
DEFAULT_MAX_WORKERS = 4
_STOPPING = (ErrorStrategy.FAIL_FAST, ErrorStrategy.RETRY)


class HookExecutor:
    """Runs the hooks a :class:`HookRegistry` holds for a phase.

    ``alerts`` receives the ``alert_only`` messages: a ``core.notify.Dispatcher`` or a callable
    ``(message, channels)``. ``breakers`` keeps the per-hook circuit breakers (in memory by
    default; pass ``HookBreakers(store=...)`` to keep them between processes). ``phase_timeouts``
    maps a phase to its time limit in seconds. ``sleep`` waits between retries.
    """

    def __init__(
        self,
        registry: HookRegistry,
        *,
        strategy: ExecutionStrategy | str = ExecutionStrategy.SEQUENTIAL,
        max_workers: int = DEFAULT_MAX_WORKERS,
        default_timeout: float | None = None,
        phase_timeouts: Mapping[str, float] | None = None,
        alerts: AlertTarget | None = None,
        breakers: HookBreakers | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_workers < 1:
            raise ConfigError(f"hooks: max_workers must be at least 1, not {max_workers}")
        self.registry = registry
        self.strategy = ExecutionStrategy(strategy)
        self.max_workers = max_workers
        self.default_timeout = default_timeout
        self.phase_timeouts = dict(phase_timeouts or {})
        self.alerts = alerts
        self.breakers = breakers if breakers is not None else HookBreakers()
        self.sleep = sleep

    def start_run(self, run_id: str | None = None) -> HookRun:
        """Begin a run that collects the trace of each phase it executes."""
        return HookRun(self, run_id or new_run_id())

    def run_phase(
        self,
        context: HookContext,
        *,
        strategy: ExecutionStrategy | str | None = None,
        timeout: float | None = None,
    ) -> PhaseTrace:
        """Run the hooks of ``context.phase`` and return the phase's trace.

        Raises :class:`HookFailed` when a ``fail_fast`` or ``retry`` hook fails, and ConfigError
        when the phase's dependencies are invalid (before any hook runs).
        """
        phase = context.phase
        chosen = ExecutionStrategy(strategy or self.strategy)
        hooks = self.registry.for_phase(phase)
        graph.check(phase, hooks)
        if chosen is ExecutionStrategy.PARALLEL:
            linked = [h.name for h in hooks if h.depends_on]
            if linked:
                raise ConfigError(
                    f"hooks of phase {phase}: {', '.join(linked)} declare depends_on, which the "
                    "parallel strategy cannot honour; use the dag strategy"
                )
        limit = timeout if timeout is not None else self.phase_timeouts.get(phase)
        state = _PhaseState(
            self, context, None if limit is None else time.monotonic() + limit, chosen
        )
        events.executing(phase, context.run_id, chosen.value, len(hooks))
        started_at, clock = time.time(), time.perf_counter()
        results: list[HookResult] = []
        for batch in _plan(chosen, hooks):
            results.extend(self._run_batch(batch, state))
        trace = PhaseTrace(
            phase=phase,
            run_id=context.run_id,
            strategy=chosen,
            outcome=_phase_outcome(results, state.stopped_by),
            started_at=started_at,
            ended_at=time.time(),
            duration_ms=(time.perf_counter() - clock) * 1000,
            hooks=tuple(results),
            deadline_exceeded=state.deadline is not None and time.monotonic() >= state.deadline,
        )
        events.phase_done(trace)
        if state.stopped_by is not None:
            raise HookFailed(state.stopped_by, RunTrace(context.run_id, (trace,)))
        return trace

    def _run_batch(self, batch: list[Hook], state: _PhaseState) -> list[HookResult]:
        if len(batch) == 1:
            return [state.execute(batch[0])]
        workers = min(self.max_workers, len(batch))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plimsoll-hooks") as pool:
            futures = [pool.submit(state.execute, h) for h in batch]
            return [f.result() for f in futures]


class HookRun:
    """One run across phases: executes them in turn and keeps their traces under one run id."""

    def __init__(self, executor: HookExecutor, run_id: str) -> None:
        self.executor = executor
        self.run_id = run_id
        self._phases: list[PhaseTrace] = []

    def run_phase(
        self,
        context: HookContext,
        *,
        strategy: ExecutionStrategy | str | None = None,
        timeout: float | None = None,
    ) -> PhaseTrace:
        """Run one phase (see :meth:`HookExecutor.run_phase`); ``HookFailed`` carries the whole run."""
        if context.run_id != self.run_id:
            raise ValueError(f"context of run {context.run_id} given to run {self.run_id}")
        try:
            trace = self.executor.run_phase(context, strategy=strategy, timeout=timeout)
        except HookFailed as exc:
            self._phases.extend(exc.trace.phases)
            raise HookFailed(exc.result, self.trace) from None
        self._phases.append(trace)
        return trace

    @property
    def trace(self) -> RunTrace:
        """Return the trace of the phases run so far."""
        return RunTrace(self.run_id, tuple(self._phases))


def _plan(strategy: ExecutionStrategy, hooks: tuple[Hook, ...]) -> list[list[Hook]]:
    """Return the batches to run one after the other; the hooks of one batch run at once."""
    if not hooks:
        return []
    if strategy is ExecutionStrategy.SEQUENTIAL:
        return [[h] for h in graph.order(hooks)]
    if strategy is ExecutionStrategy.PARALLEL:
        return [list(hooks)]
    return graph.levels(hooks)


def _phase_outcome(results: list[HookResult], stopped_by: HookResult | None) -> PhaseOutcome:
    if stopped_by is not None:
        return PhaseOutcome.FAILED
    if all(r.outcome is Outcome.SUCCEEDED for r in results):
        return PhaseOutcome.SUCCEEDED
    return PhaseOutcome.DEGRADED


@dataclass
class _PhaseState:
    """What the hooks of one running phase share: results so far and the fail-fast stop."""

    executor: HookExecutor
    context: HookContext
    deadline: float | None
    strategy: ExecutionStrategy
    results: dict[str, HookResult] = field(default_factory=dict)
    stopped_by: HookResult | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def execute(self, hook: Hook) -> HookResult:
        """Run one hook (or skip it) and record the result."""
        result = self._decide(hook)
        events.finished(result, self.context.run_id)
        with self.lock:
            self.results[hook.name] = result
            # A stopping hook that could not run because its breaker is open has not done
            # its job either: the phase must not go on as if it had (fail fast, not pass).
            blocked = result.outcome is Outcome.BREAKER_OPEN
            stops = (result.failed or blocked) and hook.error_strategy in _STOPPING
            if stops and self.stopped_by is None:
                self.stopped_by = result
        if result.failed and hook.error_strategy is ErrorStrategy.ALERT_ONLY:
            send_alert(self.executor.alerts, hook, result, self.context.run_id)
        return result

    def _decide(self, hook: Hook) -> HookResult:
        with self.lock:
            stopped_by = self.stopped_by
            blocked = [
                self.results[d] for d in hook.depends_on if not _succeeded(self.results.get(d))
            ]
        if stopped_by is not None:
            return self._without_running(
                hook, Outcome.SKIPPED, f"not run: hook {stopped_by.name!r} failed"
            )
        if blocked:
            first = blocked[0]
            return self._without_running(
                hook, Outcome.SKIPPED, f"dependency {first.name!r} {first.outcome.value}"
            )
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return self._without_running(
                hook, Outcome.TIMED_OUT, "the phase timeout was reached before the hook started"
            )
        breakers = self.executor.breakers
        if breakers.state(hook.key) is CircuitState.OPEN:
            failures = breakers.failures(hook.key)
            plural = "" if failures == 1 else "s"
            reason = f"breaker open after {failures} consecutive failure{plural}"
            if hook.error_strategy in _STOPPING:
                reason += (
                    f": not run, and a {hook.error_strategy.value} hook that cannot run stops"
                    f" the phase (next try in {breakers.retry_in(hook.key):.0f}s)"
                )
            return self._without_running(hook, Outcome.BREAKER_OPEN, reason)
        return self._run(hook)

    def _run(self, hook: Hook) -> HookResult:
        run_id = self.context.run_id
        events.started(hook, run_id)
        started_at, clock = time.time(), time.perf_counter()
        attempted = run_hook(
            hook,
            self.context,
            default_timeout=self.executor.default_timeout,
            deadline=self.deadline,
            sleep=self.executor.sleep,
            on_retry=lambda n, delay, error: events.retrying(hook, run_id, n, delay, error),
        )
        result = self._result(hook, attempted, started_at, time.time(), clock)
        # Without an attempt the phase ran out of time first: that says nothing about the hook.
        if attempted.attempts > 0:
            if result.failed:
                self.executor.breakers.failure(hook.key)
            else:
                self.executor.breakers.success(hook.key)
        return result

    def _without_running(self, hook: Hook, outcome: Outcome, reason: str) -> HookResult:
        now = time.time()
        return self._result(hook, Attempted(outcome, 0, reason), now, now, None)

    @staticmethod
    def _result(
        hook: Hook, attempted: Attempted, started_at: float, ended_at: float, clock: float | None
    ) -> HookResult:
        duration = 0.0 if clock is None else (time.perf_counter() - clock) * 1000
        return HookResult(
            name=hook.name,
            phase=hook.phase,
            outcome=attempted.outcome,
            started_at=started_at,
            ended_at=ended_at,
            duration_ms=duration,
            attempts=attempted.attempts,
            error=attempted.error,
            traceback=attempted.traceback,
            depends_on=hook.depends_on,
            error_strategy=hook.error_strategy,
        )


def _succeeded(result: HookResult | None) -> bool:
    return result is not None and result.outcome is Outcome.SUCCEEDED
