"""The db part's hook phases and the context each phase's hooks receive."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from plimsoll.core.config import DbConfig
from plimsoll.core.hooks import HookContext, HookExecutor, HookRegistry, HookRun


class DbPhase(StrEnum):
    """When db hooks run, in the order a migration run meets them."""

    BEFORE_VALIDATION = "before_validation"
    AFTER_VALIDATION = "after_validation"
    BEFORE_MIGRATION = "before_migration"
    BEFORE_STATEMENT = "before_statement"
    AFTER_STATEMENT = "after_statement"
    AFTER_MIGRATION = "after_migration"
    ON_ERROR = "on_error"
    CLEANUP = "cleanup"


@dataclass(frozen=True, kw_only=True)
class RunContext(HookContext):
    """Validation and cleanup: the run as a whole."""

    direction: str
    database: str
    pending: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MigrationContext(HookContext):
    """Before and after one migration."""

    direction: str
    database: str
    migration: str
    duration_ms: int | None = None


@dataclass(frozen=True, kw_only=True)
class StatementContext(HookContext):
    """Before and after one statement of a SQL migration."""

    migration: str
    file: str
    line: int
    statement: str


@dataclass(frozen=True, kw_only=True)
class ErrorContext(HookContext):
    """When a migration failed (after its rollback)."""

    direction: str
    database: str
    migration: str
    error: str


def build_registry(
    config: DbConfig, registry: HookRegistry | None = None, *, root: Path | None = None
) -> HookRegistry:
    """Hooks from code (``registry``), from config (``db.hooks``) and from entry points.

    Config hooks name ``module:function``; with ``root`` (the project's folder), a module
    there is importable as it is under ``python -m``, also from the ``plimsoll`` script.
    """
    registry = registry or HookRegistry()
    if config.hooks and root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    registry.add_specs(config.hooks)
    registry.load_entry_points()
    registry.validate()
    return registry


def executor_for(config: DbConfig, registry: HookRegistry) -> HookExecutor:
    """An executor with the db config's strategy, workers and phase timeouts."""
    return HookExecutor(
        registry,
        strategy=config.hook_strategy,
        max_workers=config.hook_max_workers,
        phase_timeouts=dict(config.hook_phase_timeouts),
    )


__all__ = [
    "DbPhase",
    "ErrorContext",
    "HookRun",
    "MigrationContext",
    "RunContext",
    "StatementContext",
    "build_registry",
    "executor_for",
]
