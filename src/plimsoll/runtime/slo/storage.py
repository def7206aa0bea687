"""SLO events in the state store, and event counts derived from the monitor's samples.

Part name ``slo`` (kept in ``meta`` as ``schema.slo``). Versions, one line each:

  1: slo_events (good and total events per objective and time bucket).

``slo_events``
    ``slo`` (the objective's name), ``ts`` (Unix seconds, UTC: the start of a
    :data:`BUCKET_SECONDS` bucket), ``good`` and ``total`` (events in the bucket). One row per
    objective and bucket: recording adds to it, so many processes may record at once.

A window ``[since, until)`` counts the buckets starting inside it, so a window's edges are
exact to one bucket (a minute).

Objectives over a counter pair or a histogram read ``runtime_samples`` instead, through
:mod:`plimsoll.runtime.storage`: the events of a window are the counters' increase over it,
from the first sample in the window to the last, a counter reset counting its new value as the
increase (as Prometheus' ``increase`` does, without extrapolation).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Mapping

from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.core.store import SqliteConnection, SqliteStore, Store
from plimsoll.runtime import storage as runtime_storage
from plimsoll.runtime.slo.budget import Counts
from plimsoll.runtime.slo.model import Objective

__all__ = [
    "BUCKET_SECONDS",
    "MIGRATIONS",
    "PART",
    "counts",
    "ensure_schema",
    "event_counts",
    "increase",
    "purge",
    "record",
    "record_many",
    "sample_counts",
]

PART = "slo"
BUCKET_SECONDS = 60

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE slo_events (
            slo TEXT NOT NULL,
            ts REAL NOT NULL,
            good REAL NOT NULL,
            total REAL NOT NULL,
            PRIMARY KEY (slo, ts)
        )
        """,
    ),
)

_READY: weakref.WeakSet[Store] = weakref.WeakSet()


def _db(store: Store) -> SqliteConnection:
    if not isinstance(store, SqliteStore):
        raise CannotRunError(
            f"the SLO tables need the SQLite state store, not {type(store).__name__}"
        )
    return store.db


def ensure_schema(store: Store) -> int:
    """Create or migrate the SLO tables of ``store``; return their version."""
    if store in _READY:
        return len(MIGRATIONS)
    version = store.ensure_part_schema(PART, MIGRATIONS)
    _READY.add(store)
    return version


def _bucket(at: float) -> float:
    return float(math.floor(at / BUCKET_SECONDS) * BUCKET_SECONDS)


def _check(slo: str, good: float, total: float, at: float) -> None:
    if not slo:
        raise ValueError("an SLO event needs the objective's name")
    for name, value in (("good", good), ("total", total), ("at", at)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
    if good < 0 or total < 0:
        raise ValueError(f"event counts cannot be negative (good {good}, total {total})")
    if good > total:
        raise ValueError(f"good events ({good:g}) cannot exceed the total ({total:g})")


def record(store: Store, slo: str, good: float, total: float, at: float) -> None:
    """Add ``good`` of ``total`` events of objective ``slo`` at time ``at`` (Unix seconds).

    Raises ``ValueError`` for negative or non-finite counts, or more good events than total.
    """
    record_many(store, [(slo, good, total, at)])


def record_many(store: Store, events: Iterable[tuple[str, float, float, float]]) -> int:
    """Add many ``(slo, good, total, at)`` events in one transaction; return how many."""
    rows = []
    for slo, good, total, at in events:
        _check(slo, good, total, at)
        rows.append((slo, _bucket(at), float(good), float(total)))
    if not rows:
        return 0
    ensure_schema(store)
    with _db(store).transaction() as conn:
        conn.executemany(
            "INSERT INTO slo_events (slo, ts, good, total) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (slo, ts) DO UPDATE SET good = good + excluded.good,"
            " total = total + excluded.total",
            rows,
        )
    return len(rows)


def event_counts(store: Store, slo: str, since: float, until: float) -> Counts:
    """Recorded events of ``slo`` in buckets starting in ``[since, until)``."""
    ensure_schema(store)
    rows = _db(store).query(
        "SELECT COALESCE(SUM(good), 0) AS good, COALESCE(SUM(total), 0) AS total"
        " FROM slo_events WHERE slo = ? AND ts >= ? AND ts < ?",
        (slo, since, until),
    )
    total = float(rows[0]["total"])
    # Sums of floats may drift a hair above the total: never report more good than total.
    return Counts(min(float(rows[0]["good"]), total), total)


def purge(store: Store, before: float) -> int:
    """Delete SLO events in buckets starting before ``before``; return how many rows went."""
    ensure_schema(store)
    with _db(store).transaction() as conn:
        return conn.execute("DELETE FROM slo_events WHERE ts < ?", (before,)).rowcount


def increase(points: Iterable[tuple[float, float]]) -> float:
    """A counter's increase over time-ordered points; a drop is a reset (counts the new value)."""
    total = 0.0
    previous: float | None = None
    for _, value in points:
        if previous is not None:
            total += value - previous if value >= previous else value
        previous = value
    return total


def _series_increase(
    store: Store,
    metric: str,
    since: float,
    until: float,
    labels: Mapping[str, str],
    keep: Mapping[str, str] | None = None,
) -> float:
    # The window is half-open like the events' one: a sample exactly at ``until`` is excluded.
    found = runtime_storage.series(store, metric, since, until, labels or None)
    total = 0.0
    for label_set, points in found.items():
        if keep is not None and any(dict(label_set).get(k) != v for k, v in keep.items()):
            continue
        total += increase(p for p in points if p[0] < until)
    return total


def _bound_key(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.inf


def _le_matches(value: str, threshold: float) -> bool:
    try:
        return math.isclose(float(value), threshold, rel_tol=1e-9)
    except ValueError:
        return False


def sample_counts(store: Store, objective: Objective, since: float, until: float) -> Counts:
    """Events of a ratio or latency objective over ``[since, until)``, from sampled counters.

    A latency objective's threshold must be one of the histogram's bucket bounds: good events
    are the increase of ``<metric>_bucket{le="<threshold>"}``, the total that of
    ``<metric>_count``. Raises ``ValueError`` for an objective over recorded events.
    """
    if objective.ratio is not None:
        ratio = objective.ratio
        good = _series_increase(store, ratio.good, since, until, ratio.labels)
        total = _series_increase(store, ratio.total, since, until, ratio.labels)
    elif objective.latency is not None:
        latency = objective.latency
        found = runtime_storage.series(
            store, f"{latency.metric}_bucket", since, until, latency.labels or None
        )
        good = 0.0
        matched = False
        for label_set, points in found.items():
            if _le_matches(dict(label_set).get("le", ""), latency.threshold):
                matched = True
                good += increase(p for p in points if p[0] < until)
        if found and not matched:
            # Counting every event as bad would silently burn the budget: say what is wrong.
            bounds = sorted({dict(ls).get("le", "?") for ls in found}, key=_bound_key)
            raise ConfigError(
                f"objective {objective.name}: latency.threshold {latency.threshold:g} is not a"
                f" bucket bound of {latency.metric} (bounds: {', '.join(bounds)})"
            )
        total = _series_increase(store, f"{latency.metric}_count", since, until, latency.labels)
    else:
        raise ValueError(f"objective {objective.name} counts recorded events, not samples")
    # Sampling at slightly different moments may put more good than total increase in a
    # window: the good events are capped at the total rather than failing.
    return Counts(min(good, total), total)


def counts(store: Store, objective: Objective, since: float, until: float) -> Counts:
    """Events of ``objective`` over ``[since, until)``, from wherever it counts them."""
    if objective.kind == "events":
        return event_counts(store, objective.name, since, until)
    return sample_counts(store, objective, since, until)
