"""What the hook tests share: the db part's phases and context, a recorder, a fake clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from plimsoll.core.hooks import HookContext, new_run_id


class DbPhase(StrEnum):
    """The phases the db migrator will declare (kept in tests: core knows no parts)."""

    BEFORE_VALIDATION = "before_validation"
    AFTER_VALIDATION = "after_validation"
    BEFORE_MIGRATION = "before_migration"
    AFTER_MIGRATION = "after_migration"
    BEFORE_STATEMENT = "before_statement"
    AFTER_STATEMENT = "after_statement"
    ON_ERROR = "on_error"
    CLEANUP = "cleanup"


@dataclass(frozen=True, kw_only=True)
class DbContext(HookContext):
    """A part's typed context: the migration being applied."""

    migration: str


def context(phase: DbPhase = DbPhase.BEFORE_MIGRATION, run_id: str | None = None) -> DbContext:
    """Return a context for ``phase`` with a fresh run id."""
    return DbContext(phase=phase, run_id=run_id or new_run_id(), migration="0001_init")


class Recorder:
    """Records which hooks ran, and when each started and ended (monotonic seconds)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.spans: dict[str, tuple[float, float]] = {}

    def hook(
        self, name: str, seconds: float = 0.0, barrier: threading.Barrier | None = None
    ) -> Callable[[HookContext], None]:
        """Return a hook that records itself, optionally sleeps or waits on ``barrier``."""

        def fn(ctx: HookContext) -> None:
            start = time.monotonic()
            with self.lock:
                self.calls.append(name)
            if barrier is not None:
                barrier.wait(timeout=2.0)
            if seconds:
                time.sleep(seconds)
            with self.lock:
                self.spans[name] = (start, time.monotonic())

        fn.__name__ = name
        return fn


class FakeClock:
    """A wall clock tests move by hand."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
