"""Health checks and their report in the IETF health+json format (draft-inadarei-api-health-check).

A :class:`HealthCheck` measures one component and returns one or more :class:`CheckResult`
(status ``pass``, ``warn`` or ``fail``, an observed value and unit). A :class:`HealthRunner`
runs its checks concurrently, each in its own thread with its own timeout (a check still
running at its deadline is a ``fail`` with the output ``timed out after Ns``), and keeps each
check's results for the check's interval, so a readiness endpoint polled hundreds of times a
second runs every check at most once per interval. The aggregate status is the worst of all.

The report renders as the draft's document::

    {"status": "warn",
     "checks": {"database:responseTime": [{"componentId": "db:5432/app",
                                            "componentType": "datastore",
                                            "observedValue": 3.2, "observedUnit": "ms",
                                            "status": "pass", "time": "2024-05-01T10:00:00Z"}],
                ...}}

served as ``application/health+json`` with HTTP 200 for pass and warn, 503 for fail.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar

from plimsoll.core.log import get_logger

log = get_logger(__name__)

CONTENT_TYPE = "application/health+json"
DEFAULT_INTERVAL_SECONDS = 10.0
DEFAULT_TIMEOUT_SECONDS = 5.0
HTTP_OK = 200
HTTP_UNAVAILABLE = 503
# The keyword arguments every check's constructor takes; the rest are the check's own options.
COMMON_OPTIONS = ("component", "component_id", "interval_seconds", "timeout_seconds")


class Status(StrEnum):
    """A health status, from best to worst."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """0 for pass, 1 for warn, 2 for fail: the larger, the worse."""
        return _RANK[self]

    @property
    def http_status(self) -> int:
        """The HTTP status a health endpoint answers with: 200 for pass and warn, 503 for fail."""
        return HTTP_UNAVAILABLE if self is Status.FAIL else HTTP_OK


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def worst(statuses: Iterable[Status]) -> Status:
    """The worst of ``statuses``; ``pass`` when there are none."""
    return max(statuses, key=lambda s: s.rank, default=Status.PASS)


def by_threshold(value: float | None, warn: float | None, fail: float | None) -> Status:
    """``fail`` when ``value`` reaches ``fail``, else ``warn`` when it reaches ``warn``, else ``pass``.

    A threshold of None is not checked; a value of None (not measurable) passes.
    """
    if value is None:
        return Status.PASS
    if fail is not None and value >= fail:
        return Status.FAIL
    if warn is not None and value >= warn:
        return Status.WARN
    return Status.PASS


def utc_now() -> datetime:
    """The current time in UTC (what a result's ``time`` records)."""
    return datetime.now(UTC)


def iso_time(moment: datetime) -> str:
    """``moment`` as the ISO 8601 UTC form the draft's examples use (``2024-05-01T10:00:00Z``)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def one_line(text: str) -> str:
    """``text`` on a single line (driver errors span several)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _check_name(kind: str, value: str) -> str:
    if not value or ":" in value:
        # The draft joins component and measurement with a colon: neither may hold one.
        raise ValueError(f"{kind} {value!r} must be non-empty and must not contain ':'")
    return value


@dataclass(frozen=True)
class CheckResult:
    """One measurement of one component: a status, what was observed, and when."""

    component: str
    measurement: str
    status: Status
    observed_value: Any = None
    observed_unit: str | None = None
    output: str | None = None
    component_id: str | None = None
    component_type: str | None = None
    time: datetime = field(default_factory=utc_now)

    @property
    def key(self) -> str:
        """The key of this result in the document's ``checks``: ``component:measurement``."""
        return f"{self.component}:{self.measurement}"

    def to_json(self) -> dict[str, Any]:
        """The draft's check object (``componentId``, ``componentType``, ``observedValue``, ...).

        ``output`` is left out for ``pass``, as the draft asks.
        """
        data: dict[str, Any] = {}
        if self.component_id is not None:
            data["componentId"] = self.component_id
        if self.component_type is not None:
            data["componentType"] = self.component_type
        if self.observed_value is not None:
            data["observedValue"] = self.observed_value
        if self.observed_unit is not None:
            data["observedUnit"] = self.observed_unit
        data["status"] = self.status.value
        data["time"] = iso_time(self.time)
        if self.output and self.status is not Status.PASS:
            data["output"] = self.output
        return data


@dataclass(frozen=True)
class CheckContext:
    """What building a check from configuration may need from the rest of the configuration.

    ``database_url(environment)`` returns the URL of a ``db.environments`` entry (None: the
    default one); the ``database`` check uses it when it is given no ``url``.
    """

    database_url: Callable[[str | None], str] | None = None


class HealthCheck(ABC):
    """A health check: subclass it, set the class attributes, implement :meth:`check`.

    ``name`` is the check's type (its entry-point name) and the default component name;
    ``measurement`` the measurement its results report by default; ``component_type`` the
    draft's ``componentType`` (``component``, ``datastore``, ``system``). Keyword arguments of
    a subclass's ``__init__`` besides the common ones are its options in configuration (their
    annotations validate them). ``check`` may be a plain or an ``async`` method; it runs in a
    thread of its own, so blocking I/O is fine, and may return one result or several.
    """

    name: ClassVar[str] = "check"
    measurement: ClassVar[str] = "status"
    component_type: ClassVar[str] = "component"

    def __init__(
        self,
        *,
        component: str | None = None,
        component_id: str | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.component = _check_name("component", component or self.name)
        self.component_id = component_id
        if interval_seconds < 0:
            raise ValueError(f"interval_seconds must not be negative (got {interval_seconds})")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive (got {timeout_seconds})")
        self.interval_seconds = float(interval_seconds)
        self.timeout_seconds = float(timeout_seconds)

    @abstractmethod
    def check(self) -> CheckResult | Sequence[CheckResult] | Awaitable[Any]:
        """Measure the component now: one result, several, or an awaitable of either."""

    @classmethod
    def prepare_options(cls, options: dict[str, Any], context: CheckContext) -> dict[str, Any]:
        """The options from configuration, completed before validation (by default, as given).

        A check that can take a value from elsewhere in the configuration fills it in here;
        a ValueError is reported as a configuration error of the check's options.
        """
        return options

    def keys(self) -> tuple[tuple[str, str], ...]:
        """The (component, measurement) pairs this check reports: what a timeout marks failed."""
        return ((self.component, self.measurement),)

    def result(
        self,
        status: Status,
        observed_value: Any = None,
        observed_unit: str | None = None,
        output: str | None = None,
        *,
        measurement: str | None = None,
        component_id: str | None = None,
    ) -> CheckResult:
        """A result of this check (its component, type and id filled in)."""
        return CheckResult(
            component=self.component,
            measurement=measurement or self.measurement,
            status=status,
            observed_value=observed_value,
            observed_unit=observed_unit,
            output=output,
            component_id=component_id if component_id is not None else self.component_id,
            component_type=self.component_type,
        )

    def failures(self, output: str) -> list[CheckResult]:
        """A ``fail`` with ``output`` for every key of this check (a timeout, a crash)."""
        now = utc_now()
        return [
            CheckResult(
                component=component,
                measurement=measurement,
                status=Status.FAIL,
                output=output,
                component_id=self.component_id,
                component_type=self.component_type,
                time=now,
            )
            for component, measurement in self.keys()
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(component={self.component!r})"


# --- running ---------------------------------------------------------------------------------


def timed_out(seconds: float) -> str:
    """The output of a check that did not finish in time."""
    return f"timed out after {seconds:g}s"


def _normalise(check: HealthCheck, value: Any) -> list[CheckResult]:
    if isinstance(value, CheckResult):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        items = list(value)
        if items and all(isinstance(item, CheckResult) for item in items):
            return items
    return check.failures(
        f"{type(check).__name__}.check() returned {type(value).__name__}, "
        "expected a CheckResult or a list of them"
    )


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def execute(check: HealthCheck) -> list[CheckResult]:
    """Run ``check`` once in this thread (no timeout); a crash is a ``fail`` naming the error."""
    try:
        value: Any = check.check()
        if inspect.isawaitable(value):
            # An async check gets an event loop of its own: it runs in a worker thread.
            value = asyncio.run(_await(value))
        return _normalise(check, value)
    except Exception as exc:  # noqa: BLE001 - a check's failure is its result, never the caller's
        detail = one_line(str(exc))
        return check.failures(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


class _Attempt:
    """One run of one check in a daemon thread: a check stuck past its timeout is left behind."""

    def __init__(self, check: HealthCheck) -> None:
        self.check = check
        self.done = threading.Event()
        self.results: list[CheckResult] = []
        # Daemon: a check hung on a dead socket must not keep the process from exiting.
        self.thread = threading.Thread(
            target=self._run, name=f"plimsoll-health-{check.component}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        try:
            self.results = execute(self.check)
        finally:
            self.done.set()


@dataclass
class _Slot:
    """What the runner keeps per check: its last results, until when they hold, its last attempt."""

    results: tuple[CheckResult, ...] = ()
    expires_at: float = float("-inf")
    attempt: _Attempt | None = None


@dataclass(frozen=True)
class HealthReport:
    """The results of a run, with the service's identity: renders as the health+json document."""

    status: Status
    results: tuple[CheckResult, ...]
    service_id: str | None = None
    description: str | None = None
    version: str | None = None
    release_id: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def http_status(self) -> int:
        """200 for pass and warn, 503 for fail."""
        return self.status.http_status

    def checks(self) -> dict[str, list[dict[str, Any]]]:
        """The draft's ``checks``: results keyed ``component:measurement``, each key a list."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for result in self.results:
            grouped.setdefault(result.key, []).append(result.to_json())
        return grouped

    def output(self) -> str | None:
        """For warn and fail, which checks are not passing (the draft's top-level ``output``)."""
        if self.status is Status.PASS:
            return None
        keys = dict.fromkeys(r.key for r in self.results if r.status is self.status)
        return f"{self.status.value}: {', '.join(keys)}" if keys else None

    def document(self) -> dict[str, Any]:
        """The whole health+json document."""
        doc: dict[str, Any] = {"status": self.status.value}
        for key, value in (
            ("version", self.version),
            ("releaseId", self.release_id),
            ("serviceId", self.service_id),
            ("description", self.description),
        ):
            if value is not None:
                doc[key] = value
        if self.notes:
            doc["notes"] = list(self.notes)
        output = self.output()
        if output is not None:
            doc["output"] = output
        if self.results:
            doc["checks"] = self.checks()
        return doc

    @cached_property
    def body(self) -> bytes:
        """The document encoded once (compact JSON): endpoints serve the same bytes until a rerun."""
        return json.dumps(self.document(), separators=(",", ":"), default=str).encode("utf-8")


class HealthRunner:
    """Runs checks concurrently with a timeout each, and keeps their results for their interval.

    ``run()`` reruns only the checks whose interval has passed (all with ``force=True``) and
    returns the same :class:`HealthReport` object while nothing was rerun. Thread-safe: callers
    arriving while a run is in progress wait for it instead of starting their own. A check
    still stuck in an earlier, timed-out attempt is not started a second time; it stays
    ``fail`` until that attempt ends.
    """

    def __init__(
        self,
        checks: Sequence[HealthCheck],
        *,
        service_id: str | None = None,
        description: str | None = None,
        version: str | None = None,
        release_id: str | None = None,
        notes: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checks = tuple(checks)
        self.service_id = service_id
        self.description = description
        self.version = version
        self.release_id = release_id
        self.notes = tuple(notes)
        self._clock = clock
        self._slots = [_Slot() for _ in self.checks]
        self._lock = threading.Lock()
        self._report: HealthReport | None = None

    def peek(self) -> HealthReport | None:
        """The last report when no check's results have expired, else None (never blocks)."""
        report = self._report
        if report is None:
            return None
        now = self._clock()
        if any(slot.expires_at <= now for slot in self._slots):
            return None
        return report

    def run(self, *, force: bool = False) -> HealthReport:
        """Run the checks whose results expired (or all, with ``force``); the report of all."""
        with self._lock:
            now = self._clock()
            due = [i for i, slot in enumerate(self._slots) if force or slot.expires_at <= now]
            if not due and self._report is not None:
                return self._report
            self._run(due, now)
            self._report = self._make_report()
            return self._report

    def _run(self, due: list[int], started: float) -> None:
        attempts: dict[int, _Attempt | None] = {}
        for i in due:
            slot = self._slots[i]
            previous = slot.attempt
            if previous is not None and not previous.done.is_set():
                attempts[i] = None  # still stuck: report it, do not pile up another thread
            else:
                attempts[i] = slot.attempt = _Attempt(self.checks[i])
        began = time.monotonic()
        for i, attempt in attempts.items():
            check = self.checks[i]
            if attempt is not None:
                remaining = check.timeout_seconds - (time.monotonic() - began)
                attempt.done.wait(max(0.0, remaining))
            if attempt is not None and attempt.done.is_set():
                results = attempt.results
            else:
                results = check.failures(timed_out(check.timeout_seconds))
                log.warning(
                    "health check %s timed out after %gs",
                    check.component,
                    check.timeout_seconds,
                    extra={"event": "health.timeout", "check": check.component},
                )
            slot = self._slots[i]
            slot.results = tuple(results)
            slot.expires_at = started + check.interval_seconds

    def _make_report(self) -> HealthReport:
        results = tuple(r for slot in self._slots for r in slot.results)
        return HealthReport(
            status=worst(r.status for r in results),
            results=results,
            service_id=self.service_id,
            description=self.description,
            version=self.version,
            release_id=self.release_id,
            notes=self.notes,
        )

    def liveness(self) -> HealthReport:
        """The liveness report: the process answers, so ``pass``, with no checks run."""
        return HealthReport(
            status=Status.PASS,
            results=(),
            service_id=self.service_id,
            description=self.description,
            version=self.version,
            release_id=self.release_id,
        )
