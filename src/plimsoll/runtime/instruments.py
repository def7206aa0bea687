"""Counter, Gauge, Histogram, Summary and Timer: thin, typed wrappers over prometheus_client.

Every instrument creates one prometheus_client metric in a registry (the ``registry`` argument,
else the module's default registry, ``prometheus_client.REGISTRY`` unless changed with
:func:`set_default_registry`). plimsoll adds three things and nothing else:

- **get-or-create**: declaring a metric a second time in the same registry returns the first
  instrument (prometheus_client raises on duplicates), and redeclaring the name with another type,
  other labels, unit, buckets or multiprocess mode fails at the call with :class:`InstrumentError`
  saying what was declared before;
- **cached labelled series**: ``counter.labels("GET")`` returns one :class:`CounterChild` per label
  values, to keep and call without any lookup (``GET = requests.labels("GET")``);
- **Timer** and **InProgress**: context managers and decorators for sync *and* async functions.

The hot paths are prometheus_client's own: an unlabelled instrument's (or a child's) ``inc``,
``observe`` and ``set`` are prometheus_client's bound methods themselves, so a call costs what
prometheus_client's call costs (``bench/bench_instruments.py`` measures it).
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, ClassVar, Generic, NoReturn, Protocol, Self, TypeVar, cast

import prometheus_client
from prometheus_client.registry import CollectorRegistry

from plimsoll.core.errors import UsageError

__all__ = [
    "Counter",
    "CounterChild",
    "Gauge",
    "GaugeChild",
    "Histogram",
    "HistogramChild",
    "InProgress",
    "Instrument",
    "InstrumentError",
    "MetricKind",
    "MetricSpec",
    "Summary",
    "SummaryChild",
    "Timer",
    "all_declared",
    "declared",
    "full_name",
    "get_default_registry",
    "set_default_registry",
]

F = TypeVar("F", bound=Callable[..., Any])
ChildT = TypeVar("ChildT", bound="_Series")

DEFAULT_BUCKETS: tuple[float, ...] = tuple(prometheus_client.Histogram.DEFAULT_BUCKETS)


class InstrumentError(UsageError, ValueError):
    """A metric used wrongly: a bad name or label, a name redeclared with another shape, a
    labelled metric used without its labels. A ``ValueError`` too, as prometheus_client's are."""

    slug = "instrument"


class MetricKind(StrEnum):
    """The four prometheus_client metric types plimsoll wraps."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    SUMMARY = "summary"


_SERIES_SUFFIXES: dict[MetricKind, tuple[str, ...]] = {
    MetricKind.COUNTER: ("", "_total", "_created"),
    MetricKind.GAUGE: ("",),
    MetricKind.HISTOGRAM: ("", "_bucket", "_count", "_sum", "_created"),
    MetricKind.SUMMARY: ("", "_count", "_sum", "_created"),
}


@dataclass(frozen=True)
class MetricSpec:
    """What one declaration asks for; every declaration of a name must have the same shape."""

    kind: MetricKind
    name: str
    documentation: str
    labelnames: tuple[str, ...] = ()
    unit: str = ""
    buckets: tuple[float, ...] = ()
    multiprocess_mode: str = ""

    @property
    def shape(self) -> tuple[object, ...]:
        """Everything but the documentation: two declarations must agree on all of it."""
        return (self.kind, self.labelnames, self.unit, self.buckets, self.multiprocess_mode)

    def series_names(self) -> tuple[str, ...]:
        """The sample names prometheus_client registers for this metric (what can clash)."""
        return tuple(self.name + suffix for suffix in _SERIES_SUFFIXES[self.kind])

    def describe(self) -> str:
        """One phrase for error messages: ``a counter with labels ('method',)``."""
        text = f"a {self.kind.value} with labels {self.labelnames!r}"
        if self.unit:
            text += f", unit {self.unit!r}"
        if self.buckets:
            text += f", buckets {_format_buckets(self.buckets)}"
        if self.multiprocess_mode and self.multiprocess_mode != "all":
            text += f", multiprocess_mode {self.multiprocess_mode!r}"
        return text


def _format_buckets(buckets: tuple[float, ...]) -> str:
    return "(" + ", ".join("+Inf" if math.isinf(b) else f"{b:g}" for b in buckets) + ")"


def full_name(
    kind: MetricKind, name: str, namespace: str = "", subsystem: str = "", unit: str = ""
) -> str:
    """The exposed metric name, built exactly as prometheus_client builds it.

    Parts are joined with ``_``; a counter's ``_total`` suffix is dropped (prometheus_client adds it
    back to the sample), and the unit is appended unless the name already ends with it.
    """
    if not name:
        raise InstrumentError("a metric needs a non-empty name")
    joined = "_".join(part for part in (namespace, subsystem, name) if part)
    if kind is MetricKind.COUNTER and joined.endswith("_total"):
        joined = joined[: -len("_total")]
    if unit and not joined.endswith("_" + unit):
        joined += "_" + unit
    return joined


# --- the default registry and the declarations ------------------------------------------------

_default_registry: CollectorRegistry = prometheus_client.REGISTRY

# Per registry (weakly: a test's throwaway registry goes away with its instruments), the
# instruments declared in it by exposed name. One lock: declarations are rare, never a hot path.
_declared: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Instrument[Any]]] = (
    weakref.WeakKeyDictionary()
)
_declare_lock = threading.RLock()


def get_default_registry() -> CollectorRegistry:
    """The registry instruments go into when none is passed (``prometheus_client.REGISTRY`` unless set)."""
    return _default_registry


def set_default_registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    """Make ``registry`` the default for instruments declared from now on; ``None`` restores
    ``prometheus_client.REGISTRY``. Returns the previous default (to restore it later).

    Instruments already declared stay in the registry they were declared in.
    """
    global _default_registry
    previous = _default_registry
    _default_registry = registry if registry is not None else prometheus_client.REGISTRY
    return previous


def declared(registry: CollectorRegistry | None = None) -> tuple[Instrument[Any], ...]:
    """The instruments declared through plimsoll in ``registry`` (the default one when ``None``)."""
    target = registry if registry is not None else _default_registry
    with _declare_lock:
        return tuple(_declared.get(target, {}).values())


def all_declared() -> tuple[Instrument[Any], ...]:
    """Every instrument declared through plimsoll, in every registry still alive."""
    with _declare_lock:
        return tuple(family for table in _declared.values() for family in table.values())


# --- series: one set of label values ----------------------------------------------------------


class _Series:
    """Common part of one time series (a labelled child, or an instrument without labels).

    The names in ``_bound`` are set on the instance to prometheus_client's bound methods, which
    shadow the methods defined on the class (those stay for documentation and ``help()``): the
    call then goes straight to prometheus_client with no wrapper frame in between.
    ``label_values`` holds the series' label values as strings (empty without labels).
    """

    _bound: ClassVar[tuple[str, ...]] = ()
    # True only on an instrument declared with labels: it has no value of its own.
    _needs_labels: bool = False

    _metric: Any
    label_values: tuple[str, ...]

    def _bind(self, metric: Any, label_values: tuple[str, ...]) -> None:
        self._metric = metric
        self.label_values = label_values
        attrs = self.__dict__
        for attr in self._bound:
            attrs[attr] = getattr(metric, attr)

    @classmethod
    def _wrap(cls, metric: Any, label_values: tuple[str, ...]) -> Self:
        series = object.__new__(cls)
        series._bind(metric, label_values)
        return series

    @property
    def metric(self) -> Any:
        """The underlying prometheus_client metric (or labelled child), for what plimsoll does not wrap."""
        return self._metric

    def _check_has_value(self) -> None:
        """Fail now, not later, when a labelled instrument is used without its labels."""


class CounterChild(_Series):
    """One series of a :class:`Counter`: a total that only goes up."""

    _bound = ("inc",)

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        """Add ``amount`` (>= 0) to the total; ``exemplar`` labels are kept for OpenMetrics."""
        self._metric.inc(amount, exemplar)


class GaugeChild(_Series):
    """One series of a :class:`Gauge`: a value that goes up and down."""

    _bound = ("inc", "dec", "set", "set_to_current_time")

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` to the value."""
        self._metric.inc(amount)

    def dec(self, amount: float = 1) -> None:
        """Subtract ``amount`` from the value."""
        self._metric.dec(amount)

    def set(self, value: float) -> None:
        """Set the value."""
        self._metric.set(value)

    def set_to_current_time(self) -> None:
        """Set the value to the current Unix time in seconds."""
        self._metric.set_to_current_time()

    def time(self) -> Timer:
        """A :class:`Timer` that sets this gauge to the seconds a block or call took."""
        if self._needs_labels:
            self._check_has_value()
        return Timer._recording(self.set)

    def track_inprogress(self) -> InProgress:
        """An :class:`InProgress` that counts the blocks or calls running right now in this gauge."""
        self._check_has_value()
        return InProgress(self)


class HistogramChild(_Series):
    """One series of a :class:`Histogram`: observations counted into buckets."""

    _bound = ("observe",)

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        """Record one observation (for durations, in seconds)."""
        self._metric.observe(amount, exemplar)

    def time(self) -> Timer:
        """A :class:`Timer` that observes the seconds each block or call takes."""
        if self._needs_labels:
            self._check_has_value()
        return Timer._recording(self.observe)


class SummaryChild(_Series):
    """One series of a :class:`Summary`: the count and sum of observations."""

    _bound = ("observe",)

    def observe(self, amount: float) -> None:
        """Record one observation (for durations, in seconds)."""
        self._metric.observe(amount)

    def time(self) -> Timer:
        """A :class:`Timer` that observes the seconds each block or call takes."""
        if self._needs_labels:
            self._check_has_value()
        return Timer._recording(self.observe)


# --- instruments: a declared metric and its labelled series -----------------------------------


class Instrument(_Series, Generic[ChildT]):
    """A declared metric (the base of Counter, Gauge, Histogram and Summary): its spec, its
    registry, its prometheus_client metric and the cache of its labelled series."""

    _kind: ClassVar[MetricKind]
    _child_class: ClassVar[type[_Series]]

    spec: MetricSpec
    _registry: weakref.ref[CollectorRegistry]
    _children: dict[tuple[object, ...], ChildT]
    _children_lock: threading.Lock

    @classmethod
    def _declare(
        cls,
        spec: MetricSpec,
        registry: CollectorRegistry | None,
        create: Callable[[CollectorRegistry], Any],
    ) -> Self:
        """Return the instrument already declared as ``spec.name`` in the registry, else create it."""
        target = registry if registry is not None else _default_registry
        with _declare_lock:
            table = _declared.setdefault(target, {})
            existing = table.get(spec.name)
            if existing is not None:
                if type(existing) is not cls or existing.spec.shape != spec.shape:
                    raise InstrumentError(
                        f"metric {spec.name!r} is already declared in this registry as "
                        f"{existing.spec.describe()}; it cannot be redeclared as {spec.describe()}"
                    )
                return cast(Self, existing)
            try:
                metric = create(target)
            except ValueError as exc:
                raise InstrumentError(_creation_error(spec, exc, table)) from None
            family = object.__new__(cls)
            family._init_family(spec, metric, target)
            table[spec.name] = family
            return family

    def _init_family(self, spec: MetricSpec, metric: Any, registry: CollectorRegistry) -> None:
        self.spec = spec
        # Weakly: the declarations table is keyed weakly by registry, and a strong reference from
        # its value back to its key would keep every throwaway registry alive forever.
        self._registry = weakref.ref(registry)
        self._children = {}
        self._children_lock = threading.Lock()
        self._bind(metric, ())
        if spec.labelnames:
            # A labelled metric has no value of its own: its mutators fail with a message that
            # says what to do, instead of prometheus_client's "metric is missing label values".
            self._needs_labels = True
            for attr in self._bound:
                self.__dict__[attr] = self._raise_needs_labels

    @property
    def name(self) -> str:
        """The exposed metric name (a counter's without ``_total``)."""
        return self.spec.name

    @property
    def labelnames(self) -> tuple[str, ...]:
        """The label names, in the order ``labels()`` takes their values."""
        return self.spec.labelnames

    def labels(self, *values: object, **by_name: object) -> ChildT:
        """The series for these label values (by position or by name), created once and cached.

        Keep the result to skip even this lookup on a hot path: ``GET = latency.labels("GET")``.
        """
        key: tuple[object, ...]
        if by_name:
            if values:
                raise InstrumentError(
                    f"{self._what()}: pass label values by position or by name, not both"
                )
            try:
                key = tuple([by_name[label] for label in self.spec.labelnames])
            except KeyError:
                key = ()
            if len(by_name) != len(self.spec.labelnames) or not key:
                raise InstrumentError(
                    f"{self._what()} takes the labels {self.spec.labelnames!r}, "
                    f"got {tuple(sorted(by_name))!r}"
                )
        else:
            key = values
        try:
            child = self._children.get(key)
        except TypeError:  # an unhashable label value: prometheus_client uses its str()
            key = tuple(str(value) for value in key)
            child = self._children.get(key)
        if child is None:
            child = self._new_child(key)
        return child

    def _new_child(self, key: tuple[object, ...]) -> ChildT:
        if not self.spec.labelnames:
            raise InstrumentError(f"{self._what()} has no labels: call its methods directly")
        if len(key) != len(self.spec.labelnames):
            raise InstrumentError(
                f"{self._what()} takes {len(self.spec.labelnames)} label value(s) "
                f"{self.spec.labelnames!r}, got {len(key)}"
            )
        metric = self._metric.labels(*key)
        child = cast(ChildT, self._child_class._wrap(metric, tuple(str(value) for value in key)))
        with self._children_lock:
            return self._children.setdefault(key, child)

    def remove(self, *values: object) -> None:
        """Drop the series with these label values (it disappears from the exposition)."""
        if len(values) != len(self.spec.labelnames):
            raise InstrumentError(
                f"{self._what()} takes {len(self.spec.labelnames)} label value(s) "
                f"{self.spec.labelnames!r}, got {len(values)}"
            )
        wanted = tuple(str(value) for value in values)
        self._metric.remove(*values)
        with self._children_lock:
            # The cache may hold the series under several keys (200 and "200"): drop them all.
            for key in [k for k, child in self._children.items() if child.label_values == wanted]:
                del self._children[key]

    def clear(self) -> None:
        """Drop every labelled series."""
        self._metric.clear()
        with self._children_lock:
            self._children = {}

    @property
    def registry(self) -> CollectorRegistry | None:
        """The registry the metric was declared in (``None`` once nothing else holds it)."""
        return self._registry()

    def unregister(self) -> None:
        """Remove this metric from its registry; declaring it again creates a fresh one."""
        registry = self._registry()
        if registry is None:
            return
        with _declare_lock:
            table = _declared.get(registry)
            if table is not None and table.get(self.spec.name) is self:
                del table[self.spec.name]
            try:
                registry.unregister(self._metric)
            except KeyError:  # already unregistered through prometheus_client directly
                pass

    def _check_has_value(self) -> None:
        if self._needs_labels:
            self._raise_needs_labels()

    def _raise_needs_labels(self, *_args: object, **_kwargs: object) -> NoReturn:
        raise InstrumentError(
            f"{self._what()} has labels {self.spec.labelnames!r}: "
            f"pick a series with .labels(...) first"
        )

    def _what(self) -> str:
        return f"{self.spec.kind.value} {self.spec.name!r}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.name!r} labels={self.spec.labelnames!r}>"


def _creation_error(spec: MetricSpec, exc: ValueError, table: dict[str, Instrument[Any]]) -> str:
    """Say why prometheus_client refused the metric, naming the plimsoll instrument it clashes with."""
    message = str(exc)
    if "Duplicated timeseries" in message:
        mine = set(spec.series_names())
        for other in table.values():
            if mine & set(other.spec.series_names()):
                return (
                    f"metric {spec.name!r} ({spec.kind.value}) clashes with {other.spec.name!r}, "
                    f"already declared as {other.spec.describe()}: they expose the same series "
                    f"{sorted(mine & set(other.spec.series_names()))!r}"
                )
        return (
            f"metric {spec.name!r} is already registered in this registry outside plimsoll "
            f"(a prometheus_client metric or collector): {message}"
        )
    return f"metric {spec.name!r}: {message}"


_RESERVED_LABELS: dict[MetricKind, str] = {
    MetricKind.HISTOGRAM: "le",
    MetricKind.SUMMARY: "quantile",
}


def _labelnames(kind: MetricKind, name: str, labelnames: Iterable[str]) -> tuple[str, ...]:
    # A bare string is iterable too: "method" would become six one-letter labels.
    if isinstance(labelnames, str):
        raise InstrumentError(
            f"metric {name!r}: labelnames must be a sequence of names, not the string {labelnames!r}"
        )
    labels = tuple(labelnames)
    # Checked here because prometheus_client's own message for these is garbled.
    reserved = _RESERVED_LABELS.get(kind)
    if reserved in labels:
        raise InstrumentError(
            f"metric {name!r}: the label {reserved!r} is reserved in a {kind.value} "
            f"(prometheus_client adds it to every sample)"
        )
    return labels


class Counter(Instrument[CounterChild], CounterChild):
    """A total that only goes up (requests served, errors, bytes sent), exposed as ``<name>_total``.

    ``Counter("requests", "Requests served.", ["method"])`` declares it in the default registry;
    declaring it again returns the same counter.
    """

    _kind = MetricKind.COUNTER
    _child_class = CounterChild

    def __new__(
        cls,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = None,
    ) -> Counter:
        """Declare (or return the already declared) counter ``name``."""
        labels = _labelnames(MetricKind.COUNTER, name, labelnames)
        spec = MetricSpec(
            MetricKind.COUNTER,
            full_name(MetricKind.COUNTER, name, namespace, subsystem, unit),
            documentation,
            labels,
            unit,
        )
        return cls._declare(
            spec,
            registry,
            lambda target: prometheus_client.Counter(
                name,
                documentation,
                labels,
                namespace=namespace,
                subsystem=subsystem,
                unit=unit,
                registry=target,
            ),
        )


class Gauge(Instrument[GaugeChild], GaugeChild):
    """A value that goes up and down (queue length, connections in use, temperature).

    ``multiprocess_mode`` says how the values of several processes combine in multiprocess mode
    (prometheus_client's modes: ``all``, ``liveall``, ``min``, ``max``, ``sum``, ``livesum``,
    ``mostrecent``, ... — the ``live`` ones forget a process once it is marked dead).
    """

    _kind = MetricKind.GAUGE
    _child_class = GaugeChild

    def __new__(
        cls,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        multiprocess_mode: str = "all",
        registry: CollectorRegistry | None = None,
    ) -> Gauge:
        """Declare (or return the already declared) gauge ``name``."""
        labels = _labelnames(MetricKind.GAUGE, name, labelnames)
        spec = MetricSpec(
            MetricKind.GAUGE,
            full_name(MetricKind.GAUGE, name, namespace, subsystem, unit),
            documentation,
            labels,
            unit,
            multiprocess_mode=multiprocess_mode,
        )
        return cls._declare(
            spec,
            registry,
            lambda target: prometheus_client.Gauge(
                name,
                documentation,
                labels,
                namespace=namespace,
                subsystem=subsystem,
                unit=unit,
                registry=target,
                multiprocess_mode=cast(Any, multiprocess_mode),
            ),
        )


class Histogram(Instrument[HistogramChild], HistogramChild):
    """Observations counted into cumulative buckets (latencies, sizes): quantiles at query time.

    ``buckets`` are upper bounds in increasing order (``+Inf`` is added when missing); the default
    is prometheus_client's, from 5 ms to 10 s.
    """

    _kind = MetricKind.HISTOGRAM
    _child_class = HistogramChild

    def __new__(
        cls,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        registry: CollectorRegistry | None = None,
    ) -> Histogram:
        """Declare (or return the already declared) histogram ``name``."""
        labels = _labelnames(MetricKind.HISTOGRAM, name, labelnames)
        bounds = _buckets(name, buckets)
        spec = MetricSpec(
            MetricKind.HISTOGRAM,
            full_name(MetricKind.HISTOGRAM, name, namespace, subsystem, unit),
            documentation,
            labels,
            unit,
            buckets=bounds,
        )
        return cls._declare(
            spec,
            registry,
            lambda target: prometheus_client.Histogram(
                name,
                documentation,
                labels,
                namespace=namespace,
                subsystem=subsystem,
                unit=unit,
                registry=target,
                buckets=bounds,
            ),
        )


def _buckets(name: str, buckets: Sequence[float]) -> tuple[float, ...]:
    # Normalised as prometheus_client does, so (1, 2) and (1, 2, inf) are the same declaration.
    try:
        bounds = tuple(float(bound) for bound in buckets)
    except (TypeError, ValueError):
        raise InstrumentError(
            f"metric {name!r}: buckets must be numbers, got {buckets!r}"
        ) from None
    if bounds and not math.isinf(bounds[-1]):
        bounds += (math.inf,)
    return bounds


class Summary(Instrument[SummaryChild], SummaryChild):
    """The count and sum of observations (prometheus_client computes no quantiles): cheap averages."""

    _kind = MetricKind.SUMMARY
    _child_class = SummaryChild

    def __new__(
        cls,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = None,
    ) -> Summary:
        """Declare (or return the already declared) summary ``name``."""
        labels = _labelnames(MetricKind.SUMMARY, name, labelnames)
        spec = MetricSpec(
            MetricKind.SUMMARY,
            full_name(MetricKind.SUMMARY, name, namespace, subsystem, unit),
            documentation,
            labels,
            unit,
        )
        return cls._declare(
            spec,
            registry,
            lambda target: prometheus_client.Summary(
                name,
                documentation,
                labels,
                namespace=namespace,
                subsystem=subsystem,
                unit=unit,
                registry=target,
            ),
        )


# --- Timer and InProgress ---------------------------------------------------------------------


class _Observer(Protocol):
    def observe(self, amount: float) -> None: ...


class Timer:
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
            cast(Instrument[Any], target)._raise_needs_labels()
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

    def __enter__(self) -> Self:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.elapsed = elapsed = time.perf_counter() - self._start
        self._record(elapsed)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Decorate ``func`` (a plain or an ``async`` function) to time each of its calls."""
        _refuse_generators(func, "Timer")
        record = self._record
        clock = time.perf_counter
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                start = clock()
                try:
                    return await func(*args, **kwargs)
                finally:
                    record(clock() - start)

            return cast(F, timed_async)

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return func(*args, **kwargs)
            finally:
                record(clock() - start)

        return cast(F, timed)


class InProgress:
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

    def __enter__(self) -> Self:
        self._inc()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._dec()

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._dec()

    def __call__(self, func: F) -> F:
        """Decorate ``func`` (a plain or an ``async`` function) to count its running calls."""
        _refuse_generators(func, "InProgress")
        inc, dec = self._inc, self._dec
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def tracked_async(*args: Any, **kwargs: Any) -> Any:
                inc()
                try:
                    return await func(*args, **kwargs)
                finally:
                    dec()

            return cast(F, tracked_async)

        @functools.wraps(func)
        def tracked(*args: Any, **kwargs: Any) -> Any:
            inc()
            try:
                return func(*args, **kwargs)
            finally:
                dec()

        return cast(F, tracked)


def _refuse_generators(func: Callable[..., Any], what: str) -> None:
    # Calling a generator function only creates the generator: wrapping it would measure nothing.
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise InstrumentError(
            f"{what} cannot decorate the generator function {func.__qualname__!r}: a call only "
            f"creates the generator; use it as a context manager around the loop that consumes it"
        )
