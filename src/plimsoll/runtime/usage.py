"""Usage analytics: ``@track_usage``, ``track_event`` and ``track_error``, kept in the store.

Off by default: nothing is recorded until :func:`configure` enables the default tracker (from
``runtime.usage.enabled`` in the configuration, or ``configure(enabled=True)``)::

    from plimsoll.runtime import usage

    usage.configure()                       # reads runtime.usage and the store from the config

    @usage.track_usage                      # a feature: name defaults to module.qualname
    def export_report(...): ...

    @usage.track_usage("orders.create", kind="api_call")
    async def create_order(...): ...

    with usage.session(usage.pseudonymous_id(user.id, secret=SALT)):
        ...                                 # events here carry that pseudonymous session id

How it stays out of the way: a tracked call appends one tuple to an in-memory queue
(``collections.deque``: no lock, no wait) and returns; when the queue is full the event is
dropped and counted instead. A background thread flushes the queue to the store in batches,
with the count of dropped events in the same transaction, so for every call either its event is
stored or it is counted as dropped (``stored + dropped == calls``). No lock is held while user
code or the store runs; the only lock a caller may take guards the drop counter for the length
of one addition. At exit (and on :meth:`UsageTracker.stop`) the queue is flushed within a
timeout. After ``fork()`` a child starts with an empty queue and its own flusher.

No personal data: events hold the feature name, the duration, whether the call raised and the
exception's *class name* (never its message or arguments), an optional session id the
application supplies (pseudonymous: :func:`pseudonymous_id` derives one with a keyed hash), and
small properties the application passes to :func:`track_event` (keys naming personal data,
such as ``email`` or ``username``, are refused).

Timing: durations come from ``time.perf_counter``; an event's wall time is the start of the call.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import inspect
import json
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from plimsoll.core.errors import UsageError
from plimsoll.core.log import get_logger
from plimsoll.runtime import storage

if TYPE_CHECKING:
    from plimsoll.core.store import Store

__all__ = [
    "PERSONAL_KEYS",
    "EventKind",
    "TrackingError",
    "UsageTracker",
    "configure",
    "get_tracker",
    "pseudonymous_id",
    "reset_session",
    "session",
    "set_session",
    "shutdown",
    "track_error",
    "track_event",
    "track_usage",
    "tracked",
]

F = TypeVar("F", bound=Callable[..., Any])

_log = get_logger("runtime.usage")


class EventKind(StrEnum):
    """What a usage event records."""

    FEATURE = "feature"
    API_CALL = "api_call"
    ERROR = "error"
    EVENT = "event"


class TrackingError(UsageError, ValueError):
    """Usage tracking used wrongly (a bad name, a property naming personal data, ...)."""

    slug = "usage-tracking"


# Property keys that name personal data: refused, so they cannot end up in the store by habit.
PERSONAL_KEYS = frozenset(
    {
        "address",
        "email",
        "e_mail",
        "first_name",
        "full_name",
        "ip",
        "ip_address",
        "last_name",
        "login",
        "password",
        "phone",
        "user",
        "user_name",
        "username",
    }
)
MAX_PROPERTIES = 32
MAX_TEXT = 256
MAX_NAME = 200

# An event in the queue: (kind, feature, perf_counter at start, duration in seconds or None,
# exception class name or None, session or None, properties or None).
_Entry = tuple[str, str, float, float | None, str | None, str | None, Mapping[str, Any] | None]

_SESSION: ContextVar[str | None] = ContextVar("plimsoll_usage_session", default=None)


# --- sessions -----------------------------------------------------------------------------------


def _check_session(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 128:
        raise TrackingError("a session id must be a non-empty string of at most 128 characters")
    if "@" in value:
        raise TrackingError(
            "a session id must be pseudonymous, not an email address: "
            "derive one with pseudonymous_id()"
        )
    return value


def set_session(value: str | None) -> Token[str | None]:
    """Make ``value`` the session id of events in this context (thread or task); return a token.

    Pass the token to ``reset_session`` (or use :func:`session`) to restore the previous one.
    """
    return _SESSION.set(_check_session(value))


def reset_session(token: Token[str | None]) -> None:
    """Restore the session id that :func:`set_session` replaced."""
    _SESSION.reset(token)


@contextmanager
def session(value: str | None) -> Iterator[None]:
    """Within the block, events carry the pseudonymous session id ``value``."""
    token = set_session(value)
    try:
        yield
    finally:
        _SESSION.reset(token)


def pseudonymous_id(value: str | int, secret: str | bytes) -> str:
    """A stable pseudonymous id for ``value`` (a user id): HMAC-SHA256 under the app's ``secret``.

    The same user gets the same id while the secret is kept, so sessions can be linked, and the
    id cannot be turned back into the user without the secret.
    """
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise TrackingError("pseudonymous_id needs a non-empty secret")
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:32]


def _call_kind(kind: EventKind | str, what: str) -> str:
    """The kind of a tracked call: feature or api_call (errors and events are not calls)."""
    value = str(kind.value if isinstance(kind, EventKind) else kind)
    if value not in (EventKind.FEATURE.value, EventKind.API_CALL.value):
        raise TrackingError(
            f"{what} records calls: kind must be 'feature' or 'api_call', not {value!r}"
            " (track_error and track_event record the others)"
        )
    return value


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise TrackingError(
            f"a feature name must be a non-empty string of at most {MAX_NAME} characters"
        )
    return name


def _check_properties(properties: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not properties:
        return None
    if len(properties) > MAX_PROPERTIES:
        raise TrackingError(f"at most {MAX_PROPERTIES} properties per event")
    clean: dict[str, Any] = {}
    for key, value in properties.items():
        if not isinstance(key, str) or not key:
            raise TrackingError("property names must be non-empty strings")
        if key.lower() in PERSONAL_KEYS:
            raise TrackingError(f"property {key!r} names personal data: usage events hold none")
        if isinstance(value, str):
            clean[key] = value[:MAX_TEXT]
        elif value is None or isinstance(value, bool | int):
            clean[key] = value
        elif isinstance(value, float) and math.isfinite(value):
            clean[key] = value
        else:
            raise TrackingError(
                f"property {key!r} must be a string, a number, a boolean or None, "
                f"not {type(value).__name__}"
            )
    return clean


# --- the tracker --------------------------------------------------------------------------------

_TRACKERS: weakref.WeakSet[UsageTracker] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for tracker in list(_TRACKERS):
        tracker._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class UsageTracker:
    """A bounded queue of usage events and the thread that flushes it to a store.

    ``queue_size`` bounds the queue (a few more may slip in when threads race to the last
    slot); ``batch_size`` events go to the store per transaction, at least every
    ``flush_interval`` seconds (sooner when the queue fills); ``flush_timeout`` bounds the final
    flush at stop and at exit.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        enabled: bool = False,
        queue_size: int = 10000,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        flush_timeout: float = 5.0,
    ) -> None:
        self.store = store
        self.enabled = False
        self.queue_size = self.batch_size = 1
        self.flush_interval = self.flush_timeout = 1.0
        self.set_limits(
            queue_size=queue_size,
            batch_size=batch_size,
            flush_interval=flush_interval,
            flush_timeout=flush_timeout,
        )
        self._reset_runtime_state()
        _TRACKERS.add(self)
        if enabled:
            self.enable(store)

    def set_limits(
        self,
        *,
        queue_size: int | None = None,
        batch_size: int | None = None,
        flush_interval: float | None = None,
        flush_timeout: float | None = None,
    ) -> None:
        """Change the queue bound, the batch size, the flush interval or the exit timeout."""
        if queue_size is not None and (isinstance(queue_size, bool) or queue_size < 1):
            raise TrackingError("queue_size must be at least 1")
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise TrackingError("batch_size must be at least 1")
        for label, value in (("flush_interval", flush_interval), ("flush_timeout", flush_timeout)):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise TrackingError(f"{label} must be a positive number of seconds")
        self.queue_size = queue_size or self.queue_size
        self.batch_size = batch_size or self.batch_size
        self.flush_interval = flush_interval or self.flush_interval
        self.flush_timeout = flush_timeout or self.flush_timeout
        self._wake_at = min(self.batch_size, self.queue_size)

    def _reset_runtime_state(self) -> None:
        # Everything a fork must not share with the parent: the queue, counters, locks, thread.
        self._queue: deque[_Entry] = deque()
        self._wake_at = min(self.batch_size, self.queue_size)
        self._drop_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pending_drops = 0
        self.dropped = 0
        self.stored = 0
        self.write_errors = 0

    # --- the caller's side (must never block) ---------------------------------------------

    def _put(self, entry: _Entry) -> None:
        queue = self._queue
        n = len(queue)
        if n < self.queue_size:
            queue.append(entry)
            if n == self._wake_at:
                self._wake.set()
        else:
            self._drop(1)

    def _put_call(self, kind: str, feature: str, start: float, error: str | None) -> None:
        # A timed call that ended now (off the decorators' hot path: errors and ``tracked``).
        self._put((kind, feature, start, time.perf_counter() - start, error, _SESSION.get(), None))

    def _drop(self, count: int) -> None:
        # ``+=`` on an attribute is not atomic across threads: this lock keeps the count exact.
        with self._drop_lock:
            self._pending_drops += count
            self.dropped += count

    def record(
        self,
        kind: EventKind | str,
        feature: str,
        *,
        duration: float | None = None,
        error: BaseException | type[BaseException] | str | None = None,
        session: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue one event now (``duration`` in seconds); a no-op while disabled.

        ``error`` is an exception, its class, or a class name: only the name is kept.
        """
        if not self.enabled:
            return
        try:
            kind = EventKind(kind).value
        except ValueError:
            choices = ", ".join(k.value for k in EventKind)
            raise TrackingError(f"unknown event kind {kind!r} (known: {choices})") from None
        _check_name(feature)
        props = _check_properties(properties)
        who = _check_session(session) if session is not None else _SESSION.get()
        start = time.perf_counter() - (duration or 0.0)
        self._put((kind, feature, start, duration, _error_name(error), who, props))

    # --- the flusher ----------------------------------------------------------------------

    def enable(self, store: Store | None = None) -> UsageTracker:
        """Start recording into ``store`` (or the store given before) and start the flusher."""
        if store is not None:
            self.store = store
        if self.store is None:
            raise TrackingError("usage tracking needs a store to write to")
        storage.ensure_schema(self.store)
        self.enabled = True
        self._start_thread()
        return self

    def _start_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="plimsoll-usage", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            # Drain in batches while a full batch is waiting, then sleep again.
            while self.flush() >= self.batch_size and not self._stopping:
                pass

    def flush(self, timeout: float | None = None) -> int:
        """Write up to one batch of queued events (and the drops counted) to the store.

        Returns how many events were taken from the queue. A failed write counts them as
        dropped (and the drop count is written with a later batch), so the accounting holds.
        With ``timeout``, gives up (returning 0) when another flush holds the queue that long.
        """
        store = self.store
        if store is None:
            return 0
        if not self._flush_lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return 0
        try:
            return self._flush_batch(store)
        finally:
            self._flush_lock.release()

    def _flush_batch(self, store: Store) -> int:
        # Called with the flush lock held: one batch from the queue, one transaction.
        queue = self._queue
        pop = queue.popleft
        taken: list[_Entry] = []
        for _ in range(self.batch_size):
            try:
                taken.append(pop())
            except IndexError:
                break
        with self._drop_lock:
            dropped, self._pending_drops = self._pending_drops, 0
        if not taken and not dropped:
            return 0
        now = time.time()
        offset = now - time.perf_counter()
        try:
            rows = [_row(entry, offset) for entry in taken]
            storage.add_event_rows(store, rows, dropped=dropped, now=now)
        except Exception as exc:  # noqa: BLE001 - never lose the count, never raise at exit
            self.write_errors += 1
            with self._drop_lock:
                self._pending_drops += dropped + len(taken)
                self.dropped += len(taken)
            _log.warning(
                "usage events not written: %s: %s",
                type(exc).__name__,
                exc,
                extra={"event": "usage_flush_error", "events": len(taken)},
            )
            return len(taken)
        self.stored += len(taken)
        return len(taken)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop recording, flush what is queued (within ``timeout``), and join the flusher.

        Returns whether everything queued was written. Safe to call more than once.
        """
        self.enabled = False
        limit = self.flush_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        thread = self._thread
        self._stopping = True
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._thread = None
        # Events queued between the flusher's last look and now, written from this thread.
        # A flusher stuck in the store holds the flush lock: waiting for it is bounded too.
        while self.store is not None and (left := deadline - time.monotonic()) > 0:
            if not self.flush(timeout=left) and not self._queue:
                break
        atexit.unregister(self._at_exit)
        return not self._queue and not self._pending_drops

    def _at_exit(self) -> None:
        self.stop()

    def _after_fork(self) -> None:
        # The parent flushes its own queue; the child starts clean with a flusher of its own.
        was_enabled = self.enabled
        self._reset_runtime_state()
        if was_enabled and self.store is not None:
            self._start_thread()

    def stats(self) -> dict[str, Any]:
        """What the tracker did: enabled, queued now, capacity, stored, dropped, write errors."""
        return {
            "enabled": self.enabled,
            "queued": len(self._queue),
            "queue_size": self.queue_size,
            "stored": self.stored,
            "dropped": self.dropped,
            "write_errors": self.write_errors,
        }

    # --- decorating -----------------------------------------------------------------------

    def wrap(
        self, func: F, name: str | None = None, kind: EventKind | str = EventKind.FEATURE
    ) -> F:
        """``func`` (sync or async) recording one ``kind`` event per call under ``name``.

        A generator function is refused (TrackingError): calling it only creates the
        generator, so the event would time nothing and miss every error raised while it runs.
        """
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TrackingError(
                f"track_usage cannot decorate the generator function {func.__qualname__!r}:"
                " a call only creates the generator; put `with tracked(...)` around the loop"
                " that consumes it"
            )
        feature = _check_name(name or f"{func.__module__}.{func.__qualname__}")
        what = _call_kind(kind, "track_usage")
        tracker = self
        perf = time.perf_counter
        current_session = _SESSION.get

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def tracked_async(*args: Any, **kwargs: Any) -> Any:
                if not tracker.enabled:
                    return await func(*args, **kwargs)
                start = perf()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    tracker._put_call(what, feature, start, type(exc).__name__)
                    raise
                tracker._put((what, feature, start, perf() - start, None, current_session(), None))
                return result

            return cast(F, tracked_async)

        @functools.wraps(func)
        def tracked_sync(*args: Any, **kwargs: Any) -> Any:
            if not tracker.enabled:
                return func(*args, **kwargs)
            start = perf()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                tracker._put_call(what, feature, start, type(exc).__name__)
                raise
            # The queue append is inlined here (not tracker._put): this is the hot path.
            queue = tracker._queue
            n = len(queue)
            if n < tracker.queue_size:
                queue.append((what, feature, start, perf() - start, None, current_session(), None))
                if n == tracker._wake_at:
                    tracker._wake.set()
            else:
                tracker._drop(1)
            return result

        return cast(F, tracked_sync)


def _error_name(error: BaseException | type[BaseException] | str | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, str):
        return error[:MAX_NAME]
    if isinstance(error, type):
        return error.__name__
    return type(error).__name__


def _row(entry: _Entry, offset: float) -> storage.EventRow:
    kind, feature, start, duration, error, who, props = entry
    return (
        start + offset,
        kind,
        feature,
        None if duration is None else duration * 1000.0,
        0 if error is not None else 1,
        error,
        who,
        json.dumps(props, sort_keys=True) if props else "{}",
    )


# --- the default tracker and the module-level API ---------------------------------------------

_default = UsageTracker()


def get_tracker() -> UsageTracker:
    """The default tracker (disabled until :func:`configure` enables it)."""
    return _default


def configure(
    enabled: bool | None = None,
    *,
    store: Store | None = None,
    path: Path | None = None,
    queue_size: int | None = None,
    batch_size: int | None = None,
    flush_interval: float | None = None,
    flush_timeout: float | None = None,
) -> UsageTracker:
    """Set up the default tracker; return it.

    Without ``enabled`` (or without ``store`` when enabling) the configuration found from
    ``path`` (the current folder by default) is read: ``runtime.usage`` gives ``enabled`` and
    the queue settings, ``store`` the state store. Explicit arguments win over the
    configuration. Disabling flushes what is queued and stops the flusher.
    """
    tracker = _default
    settings: Any = None
    opened: Store | None = None
    if enabled is None or (enabled and store is None):
        from plimsoll.core.config import load
        from plimsoll.core.store import open_configured

        loaded = load(None, start=(path or Path.cwd()).resolve())
        settings = loaded.config.runtime.usage
        if enabled is None:
            enabled = bool(settings.enabled)
        if enabled and store is None:
            store = opened = open_configured(loaded.config.store, loaded.root)

    def pick(given: Any, key: str) -> Any:
        return given if given is not None else getattr(settings, key, None)

    tracker.stop()
    tracker.set_limits(
        queue_size=pick(queue_size, "queue_size"),
        batch_size=pick(batch_size, "batch_size"),
        flush_interval=pick(flush_interval, "flush_interval_seconds"),
        flush_timeout=pick(flush_timeout, "flush_timeout_seconds"),
    )
    if store is not None:
        previous, tracker.store = tracker.store, store
        # A store this function opened from the configuration is its to close when replaced.
        if previous is not None and previous is not store and previous is _opened.get("store"):
            previous.close()
        _opened["store"] = opened
    if enabled:
        tracker.enable()
    return tracker


# The store configure() opened itself (closed when a later configure() replaces it).
_opened: dict[str, Store | None] = {}


def shutdown(timeout: float | None = None) -> bool:
    """Stop the default tracker, flushing what is queued; return whether all of it was written."""
    return _default.stop(timeout)


@overload
def track_usage(func: F, /) -> F: ...


@overload
def track_usage(
    name: str | None = None,
    /,
    *,
    kind: EventKind | str = ...,
    tracker: UsageTracker | None = ...,
) -> Callable[[F], F]: ...


def track_usage(
    func_or_name: Any = None,
    /,
    *,
    kind: EventKind | str = EventKind.FEATURE,
    tracker: UsageTracker | None = None,
) -> Any:
    """Record a usage event per call of the decorated function (sync or async).

    ``@track_usage``, ``@track_usage("name")`` or ``@track_usage(kind="api_call")``. The
    event holds the feature name (``module.qualname`` by default), the duration, and whether the
    call raised (with the exception's class name); the call's arguments are never recorded.
    A generator function is refused with TrackingError (a call only creates the generator):
    use ``with tracked("name"):`` around the loop that consumes it.
    """
    target = tracker or _default
    if callable(func_or_name):
        return target.wrap(func_or_name, None, kind)
    name = func_or_name
    if name is not None:
        _check_name(name)

    def decorate(func: F) -> F:
        return target.wrap(func, name, kind)

    return decorate


class tracked:  # noqa: N801 - used like a function: ``with tracked("export"):``
    """A block recorded as one call: ``with tracked("orders.create", kind="api_call"):``."""

    __slots__ = ("_feature", "_kind", "_start", "_tracker")

    def __init__(
        self,
        name: str,
        *,
        kind: EventKind | str = EventKind.FEATURE,
        tracker: UsageTracker | None = None,
    ) -> None:
        self._feature = _check_name(name)
        self._kind = _call_kind(kind, "tracked")
        self._tracker = tracker or _default
        self._start = 0.0

    def __enter__(self) -> tracked:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tracker = self._tracker
        if tracker.enabled:
            error = exc_type.__name__ if exc_type is not None else None
            tracker._put_call(self._kind, self._feature, self._start, error)


def track_event(
    name: str,
    properties: Mapping[str, Any] | None = None,
    *,
    session: str | None = None,
    tracker: UsageTracker | None = None,
) -> None:
    """Record a point event (no duration) with small, non-personal ``properties``."""
    (tracker or _default).record(EventKind.EVENT, name, session=session, properties=properties)


def track_error(
    feature: str,
    error: BaseException | type[BaseException] | str,
    *,
    session: str | None = None,
    tracker: UsageTracker | None = None,
) -> None:
    """Record that ``feature`` met ``error`` (only the exception's class name is kept)."""
    (tracker or _default).record(EventKind.ERROR, feature, error=error, session=session)
