"""The structured log events of the hook engine.

Every event carries ``event``, ``phase`` and ``run_id``; those about one hook add ``hook``,
and those that end something add ``duration_ms`` and ``outcome``. ``hook_failed`` carries the
traceback text in ``traceback``.
"""

from __future__ import annotations

import logging

from plimsoll.core.hooks.model import Hook, Outcome
from plimsoll.core.hooks.trace import HookResult, PhaseTrace
from plimsoll.core.log import get_logger

log = get_logger("plimsoll.core.hooks")

EXECUTING_HOOKS = "executing_hooks"
HOOK_START = "hook_start"
HOOK_RETRY = "hook_retry"
HOOK_COMPLETED = "hook_completed"
HOOK_FAILED = "hook_failed"
HOOK_SKIPPED = "hook_skipped"
PHASE_COMPLETED = "phase_completed"


def executing(phase: str, run_id: str, strategy: str, hooks: int) -> None:
    """Log that a phase starts running ``hooks`` hooks."""
    log.info(
        "executing %d hooks for phase %s (%s)",
        hooks,
        phase,
        strategy,
        extra={
            "event": EXECUTING_HOOKS,
            "phase": phase,
            "run_id": run_id,
            "strategy": strategy,
            "hooks": hooks,
        },
    )


def started(hook: Hook, run_id: str) -> None:
    """Log that a hook starts."""
    log.info(
        "hook %s started",
        hook.name,
        extra={"event": HOOK_START, "phase": hook.phase, "hook": hook.name, "run_id": run_id},
    )


def retrying(hook: Hook, run_id: str, attempt: int, delay: float, error: str | None) -> None:
    """Log that a hook failed an attempt and will be tried again after ``delay`` seconds."""
    log.info(
        "hook %s attempt %d failed (%s); retrying in %.3gs",
        hook.name,
        attempt,
        error,
        delay,
        extra={
            "event": HOOK_RETRY,
            "phase": hook.phase,
            "hook": hook.name,
            "run_id": run_id,
            "attempt": attempt,
            "delay_seconds": delay,
        },
    )


def finished(result: HookResult, run_id: str) -> None:
    """Log how a hook ended: completed, failed (with its traceback) or skipped."""
    fields: dict[str, object] = {
        "phase": result.phase,
        "hook": result.name,
        "run_id": run_id,
        "duration_ms": round(result.duration_ms, 3),
        "outcome": result.outcome.value,
        "attempts": result.attempts,
    }
    if result.outcome is Outcome.SUCCEEDED:
        log.info("hook %s completed", result.name, extra={"event": HOOK_COMPLETED, **fields})
    elif result.failed:
        log.warning(
            "hook %s %s: %s",
            result.name,
            result.outcome.value.replace("_", " "),
            result.error,
            extra={
                "event": HOOK_FAILED,
                **fields,
                "error": result.error,
                "traceback": result.traceback or "",
            },
        )
    else:
        log.info(
            "hook %s skipped (%s)",
            result.name,
            result.error,
            extra={"event": HOOK_SKIPPED, **fields, "reason": result.error},
        )


def phase_done(trace: PhaseTrace) -> None:
    """Log that a phase ended, with its totals."""
    level = logging.WARNING if trace.failures else logging.INFO
    log.log(
        level,
        "phase %s %s in %.1f ms",
        trace.phase,
        trace.outcome.value,
        trace.duration_ms,
        extra={
            "event": PHASE_COMPLETED,
            "phase": trace.phase,
            "run_id": trace.run_id,
            "duration_ms": round(trace.duration_ms, 3),
            "outcome": trace.outcome.value,
            "totals": trace.totals,
        },
    )
