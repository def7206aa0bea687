"""Timer and InProgress: context managers and decorators (sync and async) around instruments.

:class:`Timer` records how long a block or a call took into a histogram, a summary or a gauge;
:class:`InProgress` counts in a gauge the blocks or calls running right now. Both are returned by
the instruments' ``time()`` and ``track_inprogress()`` (:mod:`plimsoll.runtime.instruments`, which
re-exports them) and can be built directly.
"""

from __future__ import annotations

import functools
import inspect
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar, cast

from plimsoll.runtime.metric_spec import InstrumentError

if TYPE_CHECKING:
    from plimsoll.runtime.series import GaugeChild

__all__ = ["InProgress", "Timer"]

F = TypeVar("F", bound=Callable[..., Any])


class _Observer(Protocol):
    def observe(self, amount: float) -> None: ...


class _Around(ABC):
    """What Timer and InProgress share: ``async with`` runs the ``with`` methods, and the
    decorator runs the ``enter`` of :meth:`_hooks` before each call and its ``leave`` (given what
    ``enter`` returned) after it, even when the call raises. The per-call state is that return
    value, never the instance, so a decorated function can run any number of calls at once."""

    __slots__ = ()

    @abstractmethod
    def _hooks(self) -> tuple[Callable[[], Any], Callable[[Any], None]]: ...

    if TYPE_CHECKING:
        # Each subclass defines its own; declared here for the async forms.
        def __enter__(self) -> Self: ...
        def __exit__(self, *args: Any, **kwargs: Any) -> None: ...

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def __call__(self, func: F) -> F:
        """Decorate ``func`` (a plain or an ``async`` function): each call is timed or counted."""
        # Calling a generator function only creates the generator: wrapping it would measure nothing.
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise InstrumentError(
                f"{type(self).__name__} cannot decorate the generator function "
                f"{func.__qualname__!r}: a call only creates the generator; use it as a context "
                f"manager around the loop that consumes it"
            )
        enter, leave = self._hooks()
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def around_async(*args: Any, **kwargs: Any) -> Any:
                token = enter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    leave(token)

            return cast(F, around_async)

        @functools.wraps(func)
        def around(*args: Any, **kwargs: Any) -> Any:
            token = enter()
            try:
                return func(*args, **kwargs)
            finally:
                leave(token)

        return cast(F, around)


class Timer(_Around):
    """Times a block (``with``, ``async with``) or every call of a function (as a decorator, sync
    or async) and records the seconds into a histogram, a summary, or sets a gauge to them.

    ``histogram.time()`` returns a fresh Timer; ``Timer(histogram)`` and ``Timer(callable)`` work
    too. The duration is recorded even when the block or the call raises. One Timer times one
    block at a time (``elapsed`` holds the last duration); as a decorator it is safe for any
    number of concurrent calls.
    """

    __slots__ = ("_record", "_start", "elapsed")

    def __init__(self, target: _Observer | Callable[[float], None]) -> None:
        """Record into ``target``: anything with ``observe(seconds)``, or a callable taking seconds."""
        if getattr(target, "_needs_labels", False):
            cast(Any, target)._raise_needs_labels()
        observe = getattr(target, "observe", None)
        if observe is None and not callable(target):
            raise InstrumentError(
                f"Timer needs a histogram, a summary or a callable taking seconds, got {target!r}"
            )
        self._record = cast(Callable[[float], None], observe if observe is not None else target)
        self._start = 0.0
        self.elapsed: float | None = None

    @classmethod
    def _recording(cls, record: Callable[[float], None]) -> Timer:
        # The instruments' time(): the target is known good, skip __init__'s checks (they cost
        # more than the timing itself on a `with` block).
        timer = object.__new__(cls)
        timer._record = record
        timer._start = 0.0
        timer.elapsed = None
        return timer

    def _hooks(self) -> tuple[Callable[[], float], Callable[[float], None]]:
        record = self._record
        clock = time.perf_counter

        def leave(start: float) -> None:
            record(clock() - start)

        # perf_counter itself starts each call: no wrapper frame on the way in.
        return clock, leave

    def __enter__(self) -> Self:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Three named parameters, not *exc_info: packing a tuple costs ~10 ns on every `with`.
        self.elapsed = elapsed = time.perf_counter() - self._start
        self._record(elapsed)


class InProgress(_Around):
    """Counts the blocks or calls running right now in a gauge: +1 on entry, -1 on exit.

    A context manager (``with``, ``async with``) and a decorator for sync and async functions. In
    multiprocess mode declare the gauge with ``multiprocess_mode="livesum"`` so processes add up
    and a dead worker's calls are forgotten.
    """

    __slots__ = ("_inc", "_dec")

    def __init__(self, gauge: GaugeChild) -> None:
        """Track in ``gauge`` (an unlabelled :class:`Gauge` or one of its labelled series)."""
        gauge._check_has_value()
        self._inc = gauge.inc
        self._dec = gauge.dec

    def _hooks(self) -> tuple[Callable[[], None], Callable[[None], None]]:
        dec = self._dec

        def leave(_token: None) -> None:
            dec()

        # The gauge's own inc on the way in: no wrapper frame.
        return self._inc, leave

    def __enter__(self) -> Self:
        self._inc()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Three named parameters, not *exc_info: packing a tuple costs ~10 ns on every `with`.
        self._dec()
