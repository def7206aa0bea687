"""Plugin discovery through ``importlib.metadata`` entry points.

Built-ins register through the same groups as third parties. A plugin that fails to
load is reported by name and skipped, never fatal.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plimsoll.core.log import get_logger

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

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
    # Imported here: reading the installed metadata is only needed when plugins are looked up.
    from importlib.metadata import entry_points

    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def discover(group: str, *, quiet: bool = False) -> Discovered:
    """Load every entry point of ``group``; report failures by name instead of raising.

    Failures are logged as warnings unless ``quiet``: the caller then reports them itself,
    once and in its own output (the lint's report and SARIF log), from ``failures``.
    """
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
            if not quiet:
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


class ImportPathError(ValueError):
    """An import path (``package.module:attr``) could not be resolved; the reason is one line."""

    def about(self, subject: str) -> str:
        """The one-line message about ``subject`` (e.g. ``validator 'pkg.mod:fn'``).

        "<subject> could not be imported: ..." for an import failure, else "<subject>: <reason>".
        """
        reason = str(self)
        joiner = " " if reason.startswith("could not be imported") else ": "
        return f"{subject}{joiner}{reason}"


def import_object(path: str) -> Any:
    """The object named by ``package.module:attr`` (the attribute may be dotted).

    Raises ImportPathError with a one-line reason (bad form, the module failing to import,
    a missing attribute); the caller puts it in its own message.
    """
    module_name, _, attr_path = path.partition(":")
    if not module_name or not attr_path:
        raise ImportPathError("expected 'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - user code: any import error is reported
        raise ImportPathError(f"could not be imported: {type(exc).__name__}: {exc}") from None
    for attr in attr_path.split("."):
        if not hasattr(target, attr):
            owner = getattr(target, "__name__", type(target).__name__)
            raise ImportPathError(f"{owner!r} has no attribute {attr!r}")
        target = getattr(target, attr)
    return target
