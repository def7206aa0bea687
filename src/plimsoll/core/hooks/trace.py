"""The record of a run: each hook's outcome and timing, per-phase totals, the critical path, JSON.

The critical path of a phase is the chain of hooks that set its end time, read from when each
hook really started and ended: it ends with the hook that ended last, and each hook in it is
preceded by the hook that ended last before it started, i.e. the one it waited for. Whatever
made it wait is followed: a ``depends_on`` link, the barrier between two DAG levels (a level
starts when the slowest hook of the level before it ends, whether or not it depends on it),
a worker of the pool becoming free, or, under the ``sequential`` strategy, the hook before it
(so there the path is the whole sequence). Its total is the sum of those hooks' durations: the
phase's duration less the engine's own overhead. Hooks that did not run (skipped, breaker
open, no time left) take no part.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from plimsoll.core.hooks.model import ErrorStrategy, ExecutionStrategy, Outcome

# Outcomes that count as a failure of the hook (for its error strategy and its breaker).
FAILURES = frozenset({Outcome.FAILED, Outcome.TIMED_OUT})


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


class PhaseOutcome(StrEnum):
    """How a phase ended."""

    SUCCEEDED = "succeeded"
    DEGRADED = "degraded"
    FAILED = "failed"


@dataclass(frozen=True)
class HookResult:
    """What became of one hook: outcome, wall-clock start and end, duration, attempts, error.

    ``traceback`` holds the text of the last failure's traceback, when there was one.
    """

    name: str
    phase: str
    outcome: Outcome
    started_at: float
    ended_at: float
    duration_ms: float
    attempts: int = 0
    error: str | None = None
    traceback: str | None = None
    depends_on: tuple[str, ...] = ()
    error_strategy: ErrorStrategy = ErrorStrategy.FAIL_FAST

    @property
    def failed(self) -> bool:
        """Return True when the hook failed or timed out."""
        return self.outcome in FAILURES

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return {
            "name": self.name,
            "phase": self.phase,
            "outcome": self.outcome.value,
            "start": _iso(self.started_at),
            "end": _iso(self.ended_at),
            "duration_ms": round(self.duration_ms, 3),
            "attempts": self.attempts,
            "error": self.error,
            "traceback": self.traceback,
            "depends_on": list(self.depends_on),
            "error_strategy": self.error_strategy.value,
        }


def timed_critical_path(hooks: Sequence[HookResult]) -> tuple[tuple[str, ...], float]:
    """Return the chain of hooks that set the end time of their phase, and its total duration.

    See the module's doc. Ties (two hooks ending at the same instant) go to the longer hook.
    """
    ran = [h for h in hooks if h.attempts > 0]
    if not ran:
        return (), 0.0

    def latest(candidates: list[HookResult]) -> HookResult:
        return max(candidates, key=lambda h: (h.ended_at, h.duration_ms))

    chain = [latest(ran)]
    while True:
        start = chain[-1].started_at
        waited_for = [h for h in ran if h.ended_at <= start and h not in chain]
        if not waited_for:
            break
        chain.append(latest(waited_for))
    chain.reverse()
    return tuple(h.name for h in chain), sum(h.duration_ms for h in chain)


@dataclass(frozen=True)
class PhaseTrace:
    """The hooks of one phase in the order they started, with totals and the critical path."""

    phase: str
    run_id: str
    strategy: ExecutionStrategy
    outcome: PhaseOutcome
    started_at: float
    ended_at: float
    duration_ms: float
    hooks: tuple[HookResult, ...] = ()
    deadline_exceeded: bool = False

    @property
    def totals(self) -> dict[str, int]:
        """Return the number of hooks by outcome (every outcome present, zero included)."""
        counts = Counter(h.outcome for h in self.hooks)
        return {"hooks": len(self.hooks), **{o.value: counts.get(o, 0) for o in Outcome}}

    @property
    def failures(self) -> tuple[HookResult, ...]:
        """Return the hooks that failed or timed out."""
        return tuple(h for h in self.hooks if h.failed)

    @property
    def critical_path(self) -> tuple[str, ...]:
        """Return the chain of hooks that set the phase's end time (see the module's doc)."""
        return self._critical()[0]

    @property
    def critical_path_ms(self) -> float:
        """Return the total duration of the critical path."""
        return self._critical()[1]

    def _critical(self) -> tuple[tuple[str, ...], float]:
        return timed_critical_path(self.hooks)

    def result(self, name: str) -> HookResult:
        """Return the result of the hook called ``name`` (KeyError when it is not in the phase)."""
        for h in self.hooks:
            if h.name == name:
                return h
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the phase as JSON-ready data."""
        chain, total = self._critical()
        return {
            "phase": self.phase,
            "run_id": self.run_id,
            "strategy": self.strategy.value,
            "outcome": self.outcome.value,
            "start": _iso(self.started_at),
            "end": _iso(self.ended_at),
            "duration_ms": round(self.duration_ms, 3),
            "deadline_exceeded": self.deadline_exceeded,
            "totals": self.totals,
            "critical_path": {"hooks": list(chain), "duration_ms": round(total, 3)},
            "hooks": [h.to_dict() for h in self.hooks],
        }


@dataclass(frozen=True)
class RunTrace:
    """Every phase of one run, in the order they ran."""

    run_id: str
    phases: tuple[PhaseTrace, ...] = ()

    @property
    def outcome(self) -> PhaseOutcome:
        """Return the worst phase outcome (succeeded when no phase ran)."""
        rank = [PhaseOutcome.SUCCEEDED, PhaseOutcome.DEGRADED, PhaseOutcome.FAILED]
        return max((p.outcome for p in self.phases), key=rank.index, default=rank[0])

    @property
    def duration_ms(self) -> float:
        """Return the time spent in hooks' phases, summed."""
        return sum(p.duration_ms for p in self.phases)

    def phase(self, name: str) -> PhaseTrace:
        """Return the last trace of phase ``name`` (KeyError when it did not run)."""
        for p in reversed(self.phases):
            if p.phase == name:
                return p
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the run as JSON-ready data."""
        return {
            "run_id": self.run_id,
            "outcome": self.outcome.value,
            "duration_ms": round(self.duration_ms, 3),
            "phases": [p.to_dict() for p in self.phases],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return the run as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)
