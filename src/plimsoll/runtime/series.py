"""Series: one set of label values of a metric, the part of an instrument that records.

A labelled instrument's ``labels(...)`` returns one of these children (:class:`CounterChild`,
:class:`GaugeChild`, :class:`HistogramChild`, :class:`SummaryChild`); an unlabelled instrument is
its own series. Their ``inc``, ``observe`` and ``set`` are prometheus_client's bound methods, set on
the instance (see :class:`Series`), so the hot path has no plimsoll frame. The instruments
(:mod:`plimsoll.runtime.instruments`) re-export the children.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from plimsoll.runtime.timing import InProgress, Timer

__all__ = ["CounterChild", "GaugeChild", "HistogramChild", "Series", "SummaryChild"]


class Series:
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


class CounterChild(Series):
    """One series of a :class:`Counter`: a total that only goes up."""

    _bound = ("inc",)

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        """Add ``amount`` (>= 0) to the total; ``exemplar`` labels are kept for OpenMetrics."""
        self._metric.inc(amount, exemplar)


class GaugeChild(Series):
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


class _ObservingSeries(Series):
    """A series that records observations: a histogram's or a summary's."""

    _bound = ("observe",)

    def observe(self, amount: float) -> None:
        """Record one observation (for durations, in seconds)."""
        self._metric.observe(amount)

    def time(self) -> Timer:
        """A :class:`Timer` that observes the seconds each block or call takes."""
        if self._needs_labels:
            self._check_has_value()
        return Timer._recording(self.observe)


class HistogramChild(_ObservingSeries):
    """One series of a :class:`Histogram`: observations counted into buckets."""

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        """Record one observation (for durations, in seconds)."""
        self._metric.observe(amount, exemplar)


class SummaryChild(_ObservingSeries):
    """One series of a :class:`Summary`: the count and sum of observations."""
