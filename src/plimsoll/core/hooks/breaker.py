"""A circuit breaker per hook: after N consecutive failures across runs the hook is skipped.

The state lives in a :class:`BreakerStore`: in memory by default (it lasts as long as the
process), or the plimsoll state store (``core.store.Store`` has the same three methods), so
the count survives between command invocations. After ``reset_seconds`` the breaker is
half-open: the next run tries the hook once; a success closes it, a failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from plimsoll.core.store import BreakerState


class BreakerStore(Protocol):
    """Where breaker state is kept (``core.store.Store`` satisfies this)."""

    def breaker_get(self, channel: str) -> BreakerState:
        """Return the state under ``channel`` (closed with no failures when unknown)."""
        ...

    def breaker_failure(self, channel: str, *, now: float, threshold: int) -> BreakerState:
        """Count one more consecutive failure; open (or re-open) at ``threshold``."""
        ...

    def breaker_success(self, channel: str) -> None:
        """Close the breaker and forget its failures."""
        ...


class MemoryBreakerStore:
    """Breaker state in a dict, safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, BreakerState] = {}

    def breaker_get(self, channel: str) -> BreakerState:
        """Return the state under ``channel`` (closed with no failures when unknown)."""
        with self._lock:
            return self._states.get(channel, BreakerState(channel))

    def breaker_failure(self, channel: str, *, now: float, threshold: int) -> BreakerState:
        """Count one more consecutive failure; open (or re-open) at ``threshold``."""
        with self._lock:
            old = self._states.get(channel, BreakerState(channel))
            failures = old.failures + 1
            # Re-stamping on every failure past the threshold makes a failed half-open trial
            # wait a full reset period again (the same rule as the SQLite store).
            opened_at = now if failures >= max(threshold, 1) else old.opened_at
            state = BreakerState(channel, failures, opened_at)
            self._states[channel] = state
            return state

    def breaker_success(self, channel: str) -> None:
        """Close the breaker and forget its failures."""
        with self._lock:
            self._states.pop(channel, None)


class CircuitState(StrEnum):
    """Whether a hook's breaker lets it run."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class HookBreakers:
    """The breakers of all hooks: ``threshold`` consecutive failures open one for ``reset_seconds``.

    ``threshold=0`` disables the breakers.
    """

    def __init__(
        self,
        threshold: int = 5,
        reset_seconds: float = 300.0,
        *,
        store: BreakerStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.store: BreakerStore = store if store is not None else MemoryBreakerStore()
        self._clock = clock

    def state(self, key: str) -> CircuitState:
        """Return the breaker state of the hook with ``key``."""
        current = self.store.breaker_get(key)
        if self.threshold <= 0 or current.opened_at is None or current.failures < self.threshold:
            return CircuitState.CLOSED
        if self._clock() - current.opened_at >= self.reset_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def retry_in(self, key: str) -> float:
        """Return the seconds until an open breaker lets the hook try again (0 when it may)."""
        current = self.store.breaker_get(key)
        if self.state(key) is not CircuitState.OPEN or current.opened_at is None:
            return 0.0
        return max(0.0, current.opened_at + self.reset_seconds - self._clock())

    def failures(self, key: str) -> int:
        """Return the consecutive failures counted for ``key``."""
        return self.store.breaker_get(key).failures

    def success(self, key: str) -> None:
        """Record a success: the breaker closes."""
        if self.threshold > 0:
            self.store.breaker_success(key)

    def failure(self, key: str) -> None:
        """Record a failure: one more towards opening (or re-opening) the breaker."""
        if self.threshold > 0:
            self.store.breaker_failure(key, now=self._clock(), threshold=self.threshold)
