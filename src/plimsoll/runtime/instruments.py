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
- **Timer** and **InProgress**: context managers and decorators for sync *and* async functions
  (in :mod:`plimsoll.runtime.timing`, re-exported here).

The hot paths are prometheus_client's own: an unlabelled instrument's (or a child's) ``inc``,
``observe`` and ``set`` are prometheus_client's bound methods themselves, so a call costs what
prometheus_client's call costs (``bench/bench_instruments.py`` measures it).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Generic, NoReturn, Self, TypeVar, cast

import prometheus_client
from prometheus_client.registry import CollectorRegistry

from plimsoll.runtime.metric_spec import (
    DEFAULT_BUCKETS,
    InstrumentError,
    MetricKind,
    MetricSpec,
    check_labelnames,
    creation_error,
    full_name,
    normalise_buckets,
)
from plimsoll.runtime.series import (
    CounterChild,
    GaugeChild,
    HistogramChild,
    Series,
    SummaryChild,
)
from plimsoll.runtime.timing import InProgress, Timer

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

ChildT = TypeVar("ChildT", bound="Series")

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


# --- instruments: a declared metric and its labelled series -----------------------------------


class Instrument(Series, Generic[ChildT]):
    """A declared metric (the base of Counter, Gauge, Histogram and Summary): its spec, its
    registry, its prometheus_client metric and the cache of its labelled series."""

    _kind: ClassVar[MetricKind]
    _child_class: ClassVar[type[Series]]
    _prometheus_class: ClassVar[Callable[..., Any]]

    spec: MetricSpec
    _registry: weakref.ref[CollectorRegistry]
    _children: dict[tuple[object, ...], ChildT]
    _children_lock: threading.Lock

    @classmethod
    def _new(
        cls,
        name: str,
        documentation: str,
        labelnames: Iterable[str],
        namespace: str,
        subsystem: str,
        unit: str,
        registry: CollectorRegistry | None,
        **options: Any,
    ) -> Self:
        """Declare (or return) the instrument of this class: what every ``__new__`` does.

        ``options`` are both :class:`MetricSpec` fields and prometheus_client arguments
        (``buckets``, ``multiprocess_mode``), passed on as they are.
        """
        kind = cls._kind
        labels = check_labelnames(kind, name, labelnames)
        spec = MetricSpec(
            kind,
            full_name(kind, name, namespace, subsystem, unit),
            documentation,
            labels,
            unit,
            **options,
        )
        return cls._declare(
            spec,
            registry,
            lambda target: cls._prometheus_class(
                name,
                documentation,
                labels,
                namespace=namespace,
                subsystem=subsystem,
                unit=unit,
                registry=target,
                **options,
            ),
        )

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
                others = [other.spec for other in table.values()]
                raise InstrumentError(creation_error(spec, exc, others)) from None
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


class _PlainInstrument(Instrument[ChildT]):
    """An instrument declared with the common options only (a counter, a summary)."""

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
    ) -> Self:
        """Declare (or return the already declared) metric ``name`` of this type."""
        return cls._new(name, documentation, labelnames, namespace, subsystem, unit, registry)


class Counter(_PlainInstrument[CounterChild], CounterChild):
    """A total that only goes up (requests served, errors, bytes sent), exposed as ``<name>_total``.

    ``Counter("requests", "Requests served.", ["method"])`` declares it in the default registry;
    declaring it again returns the same counter.
    """

    _kind = MetricKind.COUNTER
    _child_class = CounterChild
    _prometheus_class = prometheus_client.Counter


class Gauge(Instrument[GaugeChild], GaugeChild):
    """A value that goes up and down (queue length, connections in use, temperature).

    ``multiprocess_mode`` says how the values of several processes combine in multiprocess mode
    (prometheus_client's modes: ``all``, ``liveall``, ``min``, ``max``, ``sum``, ``livesum``,
    ``mostrecent``, ... — the ``live`` ones forget a process once it is marked dead).
    """

    _kind = MetricKind.GAUGE
    _child_class = GaugeChild
    _prometheus_class = prometheus_client.Gauge

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
        return cls._new(
            name,
            documentation,
            labelnames,
            namespace,
            subsystem,
            unit,
            registry,
            multiprocess_mode=multiprocess_mode,
        )


class Histogram(Instrument[HistogramChild], HistogramChild):
    """Observations counted into cumulative buckets (latencies, sizes): quantiles at query time.

    ``buckets`` are upper bounds in increasing order (``+Inf`` is added when missing); the default
    is prometheus_client's, from 5 ms to 10 s.
    """

    _kind = MetricKind.HISTOGRAM
    _child_class = HistogramChild
    _prometheus_class = prometheus_client.Histogram

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
        # The labels are checked before the buckets, so a bad label is the error reported first.
        labels = check_labelnames(MetricKind.HISTOGRAM, name, labelnames)
        bounds = normalise_buckets(name, buckets)
        return cls._new(
            name, documentation, labels, namespace, subsystem, unit, registry, buckets=bounds
        )


class Summary(_PlainInstrument[SummaryChild], SummaryChild):
    """The count and sum of observations (prometheus_client computes no quantiles): cheap averages."""

    _kind = MetricKind.SUMMARY
    _child_class = SummaryChild
    _prometheus_class = prometheus_client.Summary
