"""The db part's hook phases, the context each phase's hooks receive, and the executor.

The executor is built from the configuration: its strategy, workers and phase timeouts; the
circuit breakers (``db.hook_breaker_threshold`` failures in a row open a hook's breaker for
``db.hook_breaker_reset_seconds``) kept in the state store, so that they count across runs;
and the ``alert_only`` messages sent through ``core.notify`` to the hook's ``channels`` (or
notify's default channels).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.config import DbConfig, NotifyConfig, unknown_channels
from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks import (
    ErrorStrategy,
    HookBreakers,
    HookContext,
    HookExecutor,
    HookRegistry,
    HookRun,
    NotifyAlerts,
)

if TYPE_CHECKING:
    from plimsoll.core.store import Store


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
    """Validation and cleanup: the run as a whole.

    ``pending`` holds the migrations the run applies (or reverts), as validation planned
    them: empty in ``before_validation`` (nothing is planned yet), and in ``cleanup`` after
    a validation that failed.
    """

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
    """When a migration failed (after its rollback), or the validation before any ran.

    ``migration`` is None when validation failed (an applied file changed, a bad target, a
    fail-fast validation hook, ...).
    """

    direction: str
    database: str
    migration: str | None
    error: str


def build_registry(
    config: DbConfig, registry: HookRegistry | None = None, *, root: Path | None = None
) -> HookRegistry:
    """Hooks from code (``registry``), from config (``db.hooks``) and from entry points.

    A code hook of a phase not in :class:`DbPhase` is a ConfigError; an entry point's is
    skipped and reported in ``registry.failures`` (and logged).

    Config hooks name ``module:function``; with ``root`` (the project's folder), a module
    there is importable as it is under ``python -m``, also from the ``plimsoll`` script.
    """
    registry = registry if registry is not None else HookRegistry()
    # A hook of a phase the migrator does not run would silently never run: the caller's own
    # (code) is refused, a plugin's is reported and skipped like a plugin that fails to load.
    # Config hooks' phases were checked when the config loaded.
    registry.check_phases(DbPhase)
    if config.hooks and root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    registry.add_specs(config.hooks)
    registry.load_entry_points(DbPhase)
    registry.validate()
    return registry


def describe_hooks(registry: HookRegistry, config: DbConfig) -> dict[str, Any]:
    """The registered hooks and the skipped plugins, as plain data (``plimsoll db hooks``).

    ``hooks`` in the order the migrator meets them (phase, then priority), each with where it
    came from (``config``, ``entry point`` with its name, ``code``), its options, its own
    timeout (each attempt) and its phase's (the whole phase; None: no limit). ``failed``: the
    entry points (or hooks of them) that were skipped, with the error.
    """
    phase_timeouts = dict(config.hook_phase_timeouts)
    hooks: list[dict[str, Any]] = []
    for phase in DbPhase:
        for found in registry.for_phase(phase):
            source, _, entry_point = found.source.partition(" ")
            hooks.append(
                {
                    "name": found.name,
                    "phase": found.phase,
                    "source": "entry point" if source == "plugin" else found.source,
                    "entry_point": entry_point or None,
                    "priority": found.priority,
                    "depends_on": list(found.depends_on),
                    "strategy": found.error_strategy.value,
                    "retries": found.retries,
                    "timeout_seconds": found.timeout_seconds,
                    "phase_timeout_seconds": phase_timeouts.get(phase.value),
                    "channels": list(found.channels),
                }
            )
    failed = [
        {"entry_point": f.name, "value": f.value, "error": f.error} for f in registry.failures
    ]
    return {"execution": config.hook_strategy, "hooks": hooks, "failed": failed}


def check_channels(config: DbConfig, notify: NotifyConfig, where: str = "") -> None:
    """Reject a config hook naming a channel that ``notify.channels`` does not configure.

    Also an ``alert_only`` hook when there is no channel at all: its alerts would go nowhere.
    ``where`` (the configuration file) prefixes the message.
    """
    prefix = f"{where}: " if where else ""
    for index, spec in enumerate(config.hooks):
        problem = unknown_channels(f"db.hooks[{index}].channels", spec.channels, notify.channels)
        if problem is not None:
            raise ConfigError(prefix + problem)
        if spec.error_strategy is ErrorStrategy.ALERT_ONLY and not notify.channels:
            raise ConfigError(
                f"{prefix}db.hooks[{index}].error_strategy: alert_only needs a channel to alert,"
                " and notify.channels configures none"
            )


def executor_for(
    config: DbConfig,
    registry: HookRegistry,
    *,
    notify: NotifyConfig | None = None,
    store: Store | None = None,
) -> HookExecutor:
    """An executor with the db config's strategy, workers, phase timeouts and breakers.

    ``store`` keeps the hooks' breakers between runs (in memory without one) and the
    notification outbox; ``notify`` is where ``alert_only`` hooks alert (without it their
    failures are only logged).
    """
    return HookExecutor(
        registry,
        strategy=config.hook_strategy,
        max_workers=config.hook_max_workers,
        phase_timeouts=dict(config.hook_phase_timeouts),
        alerts=NotifyAlerts(notify, store) if notify is not None else None,
        breakers=HookBreakers(
            config.hook_breaker_threshold, config.hook_breaker_reset_seconds, store=store
        ),
    )


__all__ = [
    "DbPhase",
    "ErrorContext",
    "HookRun",
    "MigrationContext",
    "RunContext",
    "StatementContext",
    "build_registry",
    "check_channels",
    "describe_hooks",
    "executor_for",
]
