"""Lifecycle hooks: parts declare phases, users attach hooks, the executor runs them with a trace.

A part defines its phases (a ``StrEnum``) and a :class:`HookContext` subclass, then asks a
:class:`HookExecutor` to run each phase. Hooks come from code (``@registry.hook(...)``), from
configuration (:class:`HookSpec`) and from the ``plimsoll.hooks`` entry points.

Importing this package does not import ``core.config`` (which embeds :class:`HookSpec`).
"""

from __future__ import annotations

from plimsoll.core.hooks.alerts import AlertSink, AlertTarget, build_message
from plimsoll.core.hooks.breaker import (
    BreakerStore,
    CircuitState,
    HookBreakers,
    MemoryBreakerStore,
)
from plimsoll.core.hooks.errors import DependencyCycleError, HookFailed, UnknownDependencyError
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
