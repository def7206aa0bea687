"""What a metric declaration asks for, and the checks and names built from it.

The pure part of :mod:`plimsoll.runtime.instruments`: the metric kinds, :class:`MetricSpec` (one
declaration's shape), the exposed name as prometheus_client builds it, the validation of label
names and buckets, and the error messages for declarations prometheus_client refuses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import prometheus_client

from plimsoll.core.errors import UsageError

__all__ = [
    "DEFAULT_BUCKETS",
    "InstrumentError",
    "MetricKind",
    "MetricSpec",
    "check_labelnames",
    "creation_error",
    "full_name",
    "normalise_buckets",
]

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


def creation_error(spec: MetricSpec, exc: ValueError, others: Iterable[MetricSpec]) -> str:
    """Say why prometheus_client refused the metric, naming the plimsoll declaration (among
    ``others``, those of the same registry) it clashes with."""
    message = str(exc)
    if "Duplicated timeseries" in message:
        mine = set(spec.series_names())
        for other in others:
            if mine & set(other.series_names()):
                return (
                    f"metric {spec.name!r} ({spec.kind.value}) clashes with {other.name!r}, "
                    f"already declared as {other.describe()}: they expose the same series "
                    f"{sorted(mine & set(other.series_names()))!r}"
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


def check_labelnames(kind: MetricKind, name: str, labelnames: Iterable[str]) -> tuple[str, ...]:
    """The label names of metric ``name`` as a tuple, refusing a bare string and reserved names."""
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


def normalise_buckets(name: str, buckets: Sequence[float]) -> tuple[float, ...]:
    """Histogram bucket bounds as floats ending with ``+Inf``, as prometheus_client keeps them."""
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
