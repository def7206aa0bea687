"""Running one hook: each attempt in its own daemon thread, bounded by a timeout, with retries.

Python cannot kill a thread. A hook that exceeds its timeout is recorded as timed out and its
thread is abandoned: it keeps running in the background until the hook returns by itself, and
being a daemon thread it never keeps the process alive. For that reason a timed-out attempt is
never retried, since a second copy would run alongside the first.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from plimsoll.core.hooks.model import ErrorStrategy, Hook, HookFn, Outcome

# No wait between retries is longer than this, however many attempts are configured.
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True)
class Attempted:
    """How the attempts at one hook ended: the last outcome, their number, the last error."""

    outcome: Outcome
    attempts: int
    error: str | None = None
    traceback: str | None = None


def backoff_delay(attempt: int, base_seconds: float) -> float:
    """Return the wait after failed attempt number ``attempt`` (0-based): ``base * 2**attempt``."""
    if base_seconds <= 0:
        return 0.0
    return float(min(MAX_BACKOFF_SECONDS, base_seconds * 2 ** min(max(attempt, 0), 32)))


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def call_once(fn: HookFn, context: object, timeout: float | None, name: str) -> Attempted:
    """Call ``fn(context)`` once in a daemon thread; an awaitable result runs with ``asyncio.run``."""
    box: dict[str, str] = {}

    def target() -> None:
        try:
            result = fn(context)
            if inspect.isawaitable(result):
                # Each hook thread gets its own event loop: no loop is shared between hooks.
                asyncio.run(_await(result))
        except BaseException as exc:  # noqa: B036 - the thread's end: everything is recorded
            box["error"] = f"{type(exc).__name__}: {exc}"
            box["traceback"] = traceback.format_exc()

    thread = threading.Thread(target=target, name=f"plimsoll-hook-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return Attempted(Outcome.TIMED_OUT, 1)
    if "error" in box:
        return Attempted(Outcome.FAILED, 1, box["error"], box["traceback"])
    return Attempted(Outcome.SUCCEEDED, 1)


def run_hook(
    hook: Hook,
    context: object,
    *,
    default_timeout: float | None,
    deadline: float | None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, float, str | None], None] | None = None,
) -> Attempted:
    """Run ``hook`` with its timeout, retrying under the ``retry`` strategy.

    ``deadline`` is the phase's end on the ``time.monotonic`` clock (None: no phase timeout);
    no attempt runs past it. ``on_retry(attempt, delay, error)`` is told before each wait.
    """
    max_attempts = 1 + hook.retries if hook.error_strategy is ErrorStrategy.RETRY else 1
    own = hook.timeout_seconds if hook.timeout_seconds is not None else default_timeout
    last = Attempted(Outcome.SUCCEEDED, 0)
    for number in range(1, max_attempts + 1):
        limit, by_phase = own, False
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return Attempted(
                    Outcome.TIMED_OUT,
                    number - 1,
                    last.error or "the phase timeout was reached before the hook could start",
                    last.traceback,
                )
            if limit is None or left < limit:
                limit, by_phase = left, True
        result = call_once(hook.fn, context, limit, hook.name)
        if result.outcome is Outcome.TIMED_OUT:
            cause = "the phase timeout" if by_phase else f"its timeout of {limit:g}s"
            return Attempted(
                Outcome.TIMED_OUT,
                number,
                f"exceeded {cause}; its thread was abandoned and may still be running",
            )
        last = Attempted(result.outcome, number, result.error, result.traceback)
        if result.outcome is Outcome.SUCCEEDED or number == max_attempts:
            return last
        delay = backoff_delay(number - 1, hook.backoff_seconds)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return Attempted(
                last.outcome,
                number,
                f"{last.error} (no time left in the phase for another attempt)",
                last.traceback,
            )
        if on_retry is not None:
            on_retry(number, delay, last.error)
        sleep(delay)
    return last
