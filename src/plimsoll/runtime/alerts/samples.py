"""Where alert rules read their data: series of (time, value) points by metric and labels.

:class:`SampleReader` is what the engine needs: every series of some metrics between two times,
in one call per cycle. :class:`StoreSamples` reads the samples the monitor keeps in the store
(through :mod:`plimsoll.runtime.storage`); :class:`MemorySamples` holds series in memory (for
``alerts test`` on given values, and for pure tests).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Labels = tuple[tuple[str, str], ...]


def freeze_labels(labels: Mapping[str, Any] | None) -> Labels:
    """Labels as a sorted tuple of string pairs (hashable, one order)."""
    return tuple(sorted((str(k), str(v)) for k, v in (labels or {}).items()))


@dataclass(frozen=True)
class Series:
    """One metric's points for one label set, oldest first."""

    metric: str
    labels: Labels
    points: tuple[tuple[float, float], ...]

    @property
    def label_dict(self) -> dict[str, str]:
        """The labels as a dict."""
        return dict(self.labels)


class SampleReader(Protocol):
    """Reads series for the alert engine."""

    def series(
        self, metrics: Collection[str], since: float, until: float
    ) -> Mapping[str, Sequence[Series]]:
        """Every series of each metric with its points in ``[since, until]``, by metric."""


@dataclass
class MemorySamples:
    """Series kept in memory: ``add(metric, at, value, labels)`` then read like the store."""

    _points: dict[tuple[str, Labels], list[tuple[float, float]]] = field(default_factory=dict)

    def add(
        self, metric: str, at: float, value: float, labels: Mapping[str, Any] | None = None
    ) -> None:
        """Record one point (points of a series must come in time order)."""
        self._points.setdefault((metric, freeze_labels(labels)), []).append(
            (float(at), float(value))
        )

    def series(
        self, metrics: Collection[str], since: float, until: float
    ) -> dict[str, list[Series]]:
        """Every series of each metric with its points in ``[since, until]``, by metric."""
        wanted = set(metrics)
        found: dict[str, list[Series]] = {}
        for (metric, labels), points in self._points.items():
            if metric not in wanted:
                continue
            inside = tuple(p for p in points if since <= p[0] <= until)
            if inside:
                found.setdefault(metric, []).append(Series(metric, labels, inside))
        return found


def group_rows(
    rows: Iterable[tuple[str, Mapping[str, Any] | None, float, float]],
) -> dict[str, list[Series]]:
    """Series built from ``(metric, labels, at, value)`` rows (any order)."""
    points: dict[tuple[str, Labels], list[tuple[float, float]]] = {}
    for metric, raw_labels, at, value in rows:
        points.setdefault((metric, freeze_labels(raw_labels)), []).append((float(at), float(value)))
    found: dict[str, list[Series]] = {}
    for (metric, labels), pts in points.items():
        pts.sort()
        found.setdefault(metric, []).append(Series(metric, labels, tuple(pts)))
    return found


class StoreSamples:
    """The samples the monitor stored, read through :mod:`plimsoll.runtime.storage`."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def series(
        self, metrics: Collection[str], since: float, until: float
    ) -> dict[str, list[Series]]:
        """Every series of each metric with its points in ``[since, until]``, by metric."""
        from plimsoll.runtime import storage

        found: dict[str, list[Series]] = {}
        for metric in metrics:
            by_labels = storage.series(self.store, metric, since, until)
            if by_labels:
                found[metric] = [
                    Series(metric, labels, tuple(points)) for labels, points in by_labels.items()
                ]
        return found
