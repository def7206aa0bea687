"""Plugin discovery through ``importlib.metadata`` entry points.

Built-ins register through the same groups as third parties. A plugin that fails to
load is reported by name and skipped, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from plimsoll.core.log import get_logger

log = get_logger(__name__)

COLLECTORS = "plimsoll.collectors"
LINT_RULES = "plimsoll.lint_rules"
HOOKS = "plimsoll.hooks"
HEALTH_CHECKS = "plimsoll.health_checks"
NOTIFIERS = "plimsoll.notifiers"
VALIDATORS = "plimsoll.validators"

GROUPS = (COLLECTORS, LINT_RULES, HOOKS, HEALTH_CHECKS, NOTIFIERS, VALIDATORS)


@dataclass(frozen=True)
class LoadFailure:
    """A plugin that could not be loaded, with the reason."""

    group: str
    name: str
    value: str
    error: str


@dataclass(frozen=True)
class Discovered:
    """The plugins of one group that loaded, by name, and those that failed."""

    group: str
    loaded: dict[str, Any] = field(default_factory=dict)
    failures: tuple[LoadFailure, ...] = ()


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def discover(group: str) -> Discovered:
    """Load every entry point of ``group``; report failures by name instead of raising."""
    loaded: dict[str, Any] = {}
    failures: list[LoadFailure] = []
    for ep in _entry_points(group):
        if ep.name in loaded:
            # Two distributions claim one name: the first (alphabetical by value) wins, loudly.
            log.warning(
                "plugin %s in %s registered twice; keeping the first",
                ep.name,
                group,
                extra={"event": "plugin.duplicate", "plugin": ep.name, "group": group},
            )
            continue
        try:
            loaded[ep.name] = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must never be fatal
            failures.append(LoadFailure(group, ep.name, ep.value, f"{type(exc).__name__}: {exc}"))
            log.warning(
                "plugin %s (%s) failed to load: %s",
                ep.name,
                ep.value,
                exc,
                extra={"event": "plugin.failed", "plugin": ep.name, "group": group},
            )
    return Discovered(group, loaded, tuple(failures))


def names(group: str) -> list[str]:
    """The names registered in ``group``, without loading them."""
    return [ep.name for ep in _entry_points(group)]
