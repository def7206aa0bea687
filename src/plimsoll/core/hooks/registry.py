"""The registry: every hook by phase, declared in code, in configuration, or by plugins.

Names are unique within a phase (``depends_on`` refers to them). Register before running:
the executor reads a snapshot of the registry when a phase starts.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from enum import Enum

from plimsoll.core import plugins
from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks import graph
from plimsoll.core.hooks.model import (
    ErrorStrategy,
    F,
    Hook,
    declared_hooks,
    hook,
    phase_name,
)
from plimsoll.core.hooks.spec import HookSpec
from plimsoll.core.log import get_logger

log = get_logger(__name__)


class HookRegistry:
    """Hooks by phase, in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: list[Hook] = []
        self._failures: list[plugins.LoadFailure] = []

    def add(self, new: Hook) -> Hook:
        """Register ``new``; a second hook with the same name in the same phase is a ConfigError."""
        with self._lock:
            for existing in self._hooks:
                if existing.phase == new.phase and existing.name == new.name:
                    raise ConfigError(
                        f"hook {new.name!r} is registered twice for phase {new.phase} "
                        f"(from {existing.source} and {new.source})"
                    )
            self._hooks.append(new)
        return new

    def hook(
        self,
        phase: str | Enum,
        *,
        name: str | None = None,
        priority: int = 0,
        depends_on: Iterable[str] = (),
        timeout: float | None = None,
        error_strategy: ErrorStrategy | str = ErrorStrategy.FAIL_FAST,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        channels: Iterable[str] = (),
    ) -> Callable[[F], F]:
        """Decorate a function to register it as a hook of ``phase`` (see :func:`hook`)."""
        marker = hook(
            phase,
            name=name,
            priority=priority,
            depends_on=depends_on,
            timeout=timeout,
            error_strategy=error_strategy,
            retries=retries,
            backoff_seconds=backoff_seconds,
            channels=channels,
        )

        def register(fn: F) -> F:
            marked = marker(fn)
            self.add(declared_hooks(marked)[-1])
            return marked

        return register

    def add_specs(self, specs: Iterable[HookSpec]) -> list[Hook]:
        """Import and register the hooks of a configuration; the first problem raises ConfigError."""
        return [self.add(spec.to_hook()) for spec in specs]

    def load_entry_points(
        self, phases: Iterable[str | Enum] | None = None
    ) -> tuple[plugins.LoadFailure, ...]:
        """Register the hooks of the ``plimsoll.hooks`` entry points.

        An entry point names a function marked with :func:`hook`, or a list of them. One that
        fails to import, is not a marked hook, or clashes with a registered name is reported
        (returned, logged, and kept in :attr:`failures`) by name and skipped. With ``phases``
        (the part's phases), a hook declared for any other phase would never run: it is
        reported the same way, naming the hook, the phase and the closest known phase, and
        skipped (the entry point's other hooks still register).
        """
        known = None if phases is None else tuple(phase_name(p) for p in phases)
        found = plugins.discover(plugins.HOOKS)
        failures = list(found.failures)
        for ep_name, obj in found.loaded.items():
            for problem in self._add_plugin(ep_name, obj, known):
                failures.append(
                    plugins.LoadFailure(plugins.HOOKS, ep_name, _describe(obj), problem)
                )
                log.warning(
                    "hook plugin %s (%s) skipped: %s",
                    ep_name,
                    _describe(obj),
                    problem,
                    extra={"event": "plugin.failed", "plugin": ep_name, "group": plugins.HOOKS},
                )
        with self._lock:
            self._failures.extend(failures)
        return tuple(failures)

    @property
    def failures(self) -> tuple[plugins.LoadFailure, ...]:
        """Return the entry points (or their hooks) :meth:`load_entry_points` reported and skipped."""
        with self._lock:
            return tuple(self._failures)

    def _add_plugin(self, ep_name: str, obj: object, known: tuple[str, ...] | None) -> list[str]:
        """Register an entry point's hooks; return what was wrong (nothing: all registered)."""
        items = list(obj) if isinstance(obj, list | tuple) else [obj]
        declared = [h for item in items for h in declared_hooks(item)]
        unmarked = [item for item in items if not declared_hooks(item)]
        if unmarked or not declared:
            return [_not_marked(unmarked[0] if unmarked else None)]
        # A hook of an unknown phase is dropped alone: dependencies stay within a phase, so
        # the entry point's other hooks cannot depend on it.
        problems = (
            []
            if known is None
            else [_unknown_phase(h, known) for h in declared if h.phase not in known]
        )
        declared = [h for h in declared if known is None or h.phase in known]
        # All or nothing: half a plugin's hooks could leave its dependencies dangling.
        with self._lock:
            taken = {(h.phase, h.name) for h in self._hooks}
        clash = next((h for h in declared if (h.phase, h.name) in taken), None)
        if clash is not None:
            return [f"hook {clash.name!r} is already registered for phase {clash.phase}", *problems]
        for h in declared:
            self.add(replace(h, source=f"plugin {ep_name}"))
        return problems

    def check_phases(self, phases: Iterable[str | Enum]) -> None:
        """Refuse a hook registered for a phase not in ``phases``: it would never run.

        For hooks registered in code (the caller's own): a ConfigError naming the hook, its
        phase and the closest known phase. Call it before loading the entry points, whose
        hooks of an unknown phase :meth:`load_entry_points` reports and skips instead.
        """
        known = tuple(phase_name(p) for p in phases)
        with self._lock:
            stray = next((h for h in self._hooks if h.phase not in known), None)
        if stray is not None:
            raise ConfigError(f"{_unknown_phase(stray, known)} (registered in {stray.source})")

    def for_phase(self, phase: str | Enum) -> tuple[Hook, ...]:
        """Return the hooks of ``phase`` by priority (lower first), then registration order."""
        key = phase_name(phase)
        with self._lock:
            hooks = [h for h in self._hooks if h.phase == key]
        return tuple(sorted(hooks, key=lambda h: h.priority))

    def phases(self) -> list[str]:
        """Return the phases with at least one hook, in order of first registration."""
        with self._lock:
            return list(dict.fromkeys(h.phase for h in self._hooks))

    def validate(self) -> None:
        """Check every phase's dependencies: an unknown hook or a cycle raises ConfigError."""
        for phase in self.phases():
            graph.check(phase, self.for_phase(phase))

    def __len__(self) -> int:
        """Return the number of registered hooks, all phases together."""
        with self._lock:
            return len(self._hooks)


def _describe(obj: object) -> str:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}:{qualname}" if module and qualname else type(obj).__name__


def _unknown_phase(declared: Hook, known: tuple[str, ...]) -> str:
    """Why a hook of a phase the part does not have is refused, with a did-you-mean."""
    close = difflib.get_close_matches(declared.phase, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    return (
        f"hook {declared.name!r} is declared for unknown phase {declared.phase!r} and would"
        f" never run ({hint}expected one of {', '.join(known)})"
    )


def _not_marked(item: object) -> str:
    """Why an entry point's object is not a hook, in words (None: an empty list)."""
    fix = "decorate it with @hook(phase) from plimsoll.core.hooks"
    if item is None:
        return "it names an empty list: expected a function marked with @hook, or a list of them"
    if callable(item):
        return f"{_describe(item)} is not marked with @hook: {fix}"
    return f"it names a value of type {type(item).__name__}, not a function marked with @hook"
