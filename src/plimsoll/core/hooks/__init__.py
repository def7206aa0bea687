"""Lifecycle hooks: parts declare phases, users attach hooks, the executor runs them with a trace.

A part defines its phases (a ``StrEnum``) and a :class:`HookContext` subclass, then asks a
:class:`HookExecutor` to run each phase. Hooks come from code (``@registry.hook(...)``), from
configuration (:class:`HookSpec`) and from the ``plimsoll.hooks`` entry points.

Importing this package does not import ``core.config`` (which embeds :class:`HookSpec`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Where each public name lives. The names are imported on first use, so importing this package
# (which core.config does for HookSpec, i.e. every plimsoll command) costs almost nothing.
_HOME = {
    "AlertSink": "alerts",
    "AlertTarget": "alerts",
    "NotifyAlerts": "alerts",
    "build_message": "alerts",
    "BreakerStore": "breaker",
    "CircuitState": "breaker",
    "HookBreakers": "breaker",
    "MemoryBreakerStore": "breaker",
    "DependencyCycleError": "errors",
    "HookFailed": "errors",
    "UnknownDependencyError": "errors",
    "HookExecutor": "executor",
    "HookRun": "executor",
    "ErrorStrategy": "model",
    "ExecutionStrategy": "model",
    "Hook": "model",
    "HookContext": "model",
    "HookFn": "model",
    "Outcome": "model",
    "declared_hooks": "model",
    "hook": "model",
    "new_run_id": "model",
    "phase_name": "model",
    "HookRegistry": "registry",
    "backoff_delay": "runner",
    "HookSpec": "spec",
    "load_callable": "spec",
    "HookResult": "trace",
    "PhaseOutcome": "trace",
    "PhaseTrace": "trace",
    "RunTrace": "trace",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from plimsoll.core.hooks.alerts import AlertSink, AlertTarget, NotifyAlerts, build_message
    from plimsoll.core.hooks.breaker import (
        BreakerStore,
        CircuitState,
        HookBreakers,
        MemoryBreakerStore,
    )
    from plimsoll.core.hooks.errors import (
        DependencyCycleError,
        HookFailed,
        UnknownDependencyError,
    )
    from plimsoll.core.hooks.executor import HookExecutor, HookRun
    from plimsoll.core.hooks.model import (
        ErrorStrategy,
        ExecutionStrategy,
        Hook,
        HookContext,
        HookFn,
        Outcome,
        declared_hooks,
        hook,
        new_run_id,
        phase_name,
    )
    from plimsoll.core.hooks.registry import HookRegistry
    from plimsoll.core.hooks.runner import backoff_delay
    from plimsoll.core.hooks.spec import HookSpec, load_callable
    from plimsoll.core.hooks.trace import HookResult, PhaseOutcome, PhaseTrace, RunTrace

__all__ = [
    "AlertSink",
    "AlertTarget",
    "BreakerStore",
    "CircuitState",
    "DependencyCycleError",
    "ErrorStrategy",
    "ExecutionStrategy",
    "Hook",
    "HookBreakers",
    "HookContext",
    "HookExecutor",
    "HookFailed",
    "HookFn",
    "HookRegistry",
    "HookResult",
    "HookRun",
    "HookSpec",
    "MemoryBreakerStore",
    "NotifyAlerts",
    "Outcome",
    "PhaseOutcome",
    "PhaseTrace",
    "RunTrace",
    "UnknownDependencyError",
    "backoff_delay",
    "build_message",
    "declared_hooks",
    "hook",
    "load_callable",
    "new_run_id",
    "phase_name",
]
