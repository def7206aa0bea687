"""What a hook is: its context, its options, the choices an executor offers, and the marker decorator.

The engine is generic: a phase is any string (usually a member of a ``StrEnum`` the part
declares), and a part passes its own :class:`HookContext` subclass to the hooks of a phase.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, NoReturn, TypeVar

from plimsoll.core.errors import ConfigError

# A hook is called with the phase's context; an async hook returns a coroutine the engine runs.
HookFn = Callable[[Any], object]
F = TypeVar("F", bound=Callable[..., object])

# The attribute the ``hook`` decorator sets on a function: every hook declared on it.
HOOKS_ATTRIBUTE = "__plimsoll_hooks__"


class ErrorStrategy(StrEnum):
    """What a failing hook does to its phase."""

    FAIL_FAST = "fail_fast"
    FAIL_SAFE = "fail_safe"
    RETRY = "retry"
    ALERT_ONLY = "alert_only"


class ExecutionStrategy(StrEnum):
    """How the hooks of one phase are scheduled."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    DAG = "dag"


class Outcome(StrEnum):
    """What became of one hook in one phase."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    BREAKER_OPEN = "breaker_open"


def phase_name(phase: str | Enum) -> str:
    """Return the plain string of a phase (an Enum's value, since ``str()`` of a mixin Enum is its repr)."""
    if isinstance(phase, Enum):
        return str(phase.value)
    return str(phase)


def to_error_strategy(value: ErrorStrategy | str, hook_name: str) -> ErrorStrategy:
    """Return ``value`` as an :class:`ErrorStrategy`; an unknown one is a ConfigError naming the hook."""
    try:
        return ErrorStrategy(value)
    except ValueError:
        choices = ", ".join(s.value for s in ErrorStrategy)
        raise ConfigError(
            f"hook {hook_name!r}: unknown error_strategy {value!r} (expected one of {choices})"
        ) from None


def new_run_id() -> str:
    """Return a fresh run id."""
    return uuid.uuid4().hex


class ReadOnlyDict(dict[str, Any]):
    """A dict that refuses changes: the hooks of a phase share one context.

    A dict subclass rather than a ``MappingProxyType`` so that a hook can still hand its
    context to ``dataclasses.asdict``, ``copy.deepcopy`` or ``json.dumps``.
    """

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError("hook context attributes are read-only")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> ReadOnlyDict:
        import copy

        return ReadOnlyDict({key: copy.deepcopy(value, memo) for key, value in self.items()})


@dataclass(frozen=True, kw_only=True)
class HookContext:
    """What every hook receives: the phase, the run id and free-form attributes.

    Parts subclass it (keyword-only fields, so a subclass may add required ones) to give their
    hooks typed fields, e.g. the migration being applied.
    """

    phase: str
    run_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", phase_name(self.phase))
        # Read-only: the context is shared by hooks running at the same time.
        object.__setattr__(self, "attributes", ReadOnlyDict(self.attributes))


@dataclass(frozen=True)
class Hook:
    """One hook: a callable bound to a phase with its scheduling and error-handling options.

    ``retries`` and ``backoff_seconds`` are used by the ``retry`` strategy (``1 + retries``
    attempts, waits of ``backoff * 2**n``); ``channels`` by ``alert_only`` (empty: the
    notifier's default channels). ``source`` says where it was declared (code, config, a plugin).
    """

    name: str
    phase: str
    fn: HookFn
    priority: int = 0
    depends_on: tuple[str, ...] = ()
    timeout_seconds: float | None = None
    error_strategy: ErrorStrategy = ErrorStrategy.FAIL_FAST
    retries: int = 3
    backoff_seconds: float = 1.0
    channels: tuple[str, ...] = ()
    source: str = "code"

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", phase_name(self.phase))
        object.__setattr__(self, "depends_on", _names(self.depends_on))
        object.__setattr__(self, "channels", _names(self.channels))
        object.__setattr__(
            self, "error_strategy", to_error_strategy(self.error_strategy, self.name)
        )
        problem = self._problem()
        if problem:
            raise ConfigError(f"hook {self.name!r}: {problem}")

    def _problem(self) -> str | None:
        if not self.name:
            return "a hook needs a name"
        if not self.phase:
            return "a hook needs a phase"
        if not callable(self.fn):
            return f"{type(self.fn).__name__} is not callable"
        if self.timeout_seconds is not None and self.timeout_seconds <= 0:
            return "timeout must be positive"
        if self.retries < 0:
            return "retries must be zero or more"
        if self.backoff_seconds < 0:
            return "backoff_seconds must be zero or more"
        if self.name in self.depends_on:
            return "a hook cannot depend on itself"
        return None

    @property
    def key(self) -> str:
        """Return the hook's identity across runs (its breaker is kept under it)."""
        return f"hook:{self.phase}:{self.name}"


def hook(
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
    """Mark a function as a hook of ``phase`` without registering it anywhere.

    This is what a plugin uses: its ``plimsoll.hooks`` entry point names the marked function
    (or a list of them). Stacking the decorator declares the function for several phases.
    The name defaults to the function's ``__name__``.
    """

    def mark(fn: F) -> F:
        hook_name = name if name else str(getattr(fn, "__name__", type(fn).__name__))
        declared = Hook(
            name=hook_name,
            phase=phase_name(phase),
            fn=fn,
            priority=priority,
            depends_on=_names(depends_on),
            timeout_seconds=timeout,
            error_strategy=to_error_strategy(error_strategy, hook_name),
            retries=retries,
            backoff_seconds=backoff_seconds,
            channels=_names(channels),
        )
        setattr(fn, HOOKS_ATTRIBUTE, (*declared_hooks(fn), declared))
        return fn

    return mark


def _names(value: Iterable[str]) -> tuple[str, ...]:
    # One name given as a bare string must not become a tuple of its letters.
    return (value,) if isinstance(value, str) else tuple(value)


def declared_hooks(obj: object) -> tuple[Hook, ...]:
    """Return the hooks the ``hook`` decorator declared on ``obj`` (none when it is not marked)."""
    found = getattr(obj, HOOKS_ATTRIBUTE, ())
    if isinstance(found, tuple) and all(isinstance(h, Hook) for h in found):
        return found
    return ()
