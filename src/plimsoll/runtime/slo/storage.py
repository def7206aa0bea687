"""SLO events in the state store, and event counts derived from the monitor's samples.

Part name ``slo`` (kept in ``meta`` as ``schema.slo``). Versions, one line each:

  1: slo_events (good and total events per objective and time bucket).

``slo_events``
    ``slo`` (the objective's name), ``ts`` (Unix seconds, UTC: the start of a
    :data:`BUCKET_SECONDS` bucket), ``good`` and ``total`` (events in the bucket). One row per
    objective and bucket: recording adds to it, so many processes may record at once.

The table is the same in either store, SQLite (:data:`MIGRATIONS`) or PostgreSQL
(:data:`POSTGRES_MIGRATIONS`), queried with one spelling of the SQL.

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
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from plimsoll.core.errors import ConfigError
from plimsoll.core.store import Store
from plimsoll.core.store.parts import PartSql, part_sql
from plimsoll.core.store.seam import StoreConnection
from plimsoll.runtime import storage as runtime_storage
from plimsoll.runtime.slo.budget import Counts
from plimsoll.runtime.slo.model import Objective

__all__ = [
    "BUCKET_SECONDS",
    "MIGRATIONS",
    "PART",
    "POSTGRES_MIGRATIONS",
    "counts",
    "counts_many",
    "ensure_schema",
    "event_counts",
    "increase",
    "purge",
    "record",
    "record_many",
    "sample_counts",
    "sample_counts_many",
    "window_counts",
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

# The same table on PostgreSQL, with double precision numbers.
POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE slo_events (
            slo text NOT NULL,
            ts double precision NOT NULL,
            good double precision NOT NULL,
            total double precision NOT NULL,
            PRIMARY KEY (slo, ts)
        )
        """,
    ),
)

_READY: weakref.WeakSet[Store] = weakref.WeakSet()


def _sql(store: Store) -> PartSql:
    return part_sql(store, "SLO")


def _db(store: Store) -> StoreConnection:
    return _sql(store).connection


def ensure_schema(store: Store) -> int:
    """Create or migrate the SLO tables of ``store``; return their version."""
    if store in _READY:
        return len(MIGRATIONS)
    dialect = _sql(store).dialect
    version = store.ensure_part_schema(PART, dialect.pick(MIGRATIONS, POSTGRES_MIGRATIONS))
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
            # Qualified: PostgreSQL finds a bare ``good`` ambiguous with ``excluded.good``.
            " ON CONFLICT (slo, ts) DO UPDATE SET good = slo_events.good + excluded.good,"
            " total = slo_events.total + excluded.total",
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
    # Sums of floats may drift a hair above the total: never report more good than total
    # (recording refuses more good than total, so no excess is worth a word here).
    return Counts(min(float(rows[0]["good"]), total), total)


def purge(store: Store, before: float, max_rows: int | None = None) -> int:
    """Delete SLO events in buckets starting before ``before`` (the oldest ``max_rows`` of them
    when given, so one call's work is bounded); return how many rows went."""
    ensure_schema(store)
    with _db(store).transaction() as conn:
        if max_rows is None:
            return conn.execute("DELETE FROM slo_events WHERE ts < ?", (before,)).rowcount
        return conn.execute(
            # By primary key (a row value): PostgreSQL has no rowid.
            "DELETE FROM slo_events WHERE (slo, ts) IN"
            " (SELECT slo, ts FROM slo_events WHERE ts < ? ORDER BY ts LIMIT ?)",
            (before, max(max_rows, 0)),
        ).rowcount


def increase(points: Iterable[tuple[float, float]]) -> float:
    """A counter's increase over time-ordered points; a drop is a reset (counts the new value)."""
    total = 0.0
    previous: float | None = None
    for _, value in points:
        if previous is not None:
            total += value - previous if value >= previous else value
        previous = value
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


_Series = Mapping[runtime_storage.LabelSet, list[tuple[float, float]]]


def _increases(
    found: _Series,
    sinces: Sequence[float],
    until: float,
    keep: Callable[[runtime_storage.LabelSet], bool] | None = None,
) -> list[float]:
    """The summed increase of the kept series over each ``[since, until)`` of ``sinces``."""
    out = [0.0] * len(sinces)
    for label_set, points in found.items():
        if keep is not None and not keep(label_set):
            continue
        times = [t for t, _ in points]
        # The windows are half-open like the events' ones: a sample exactly at ``until`` is out.
        end = bisect_left(times, until)
        for index, since in enumerate(sinces):
            out[index] += increase(points[bisect_left(times, since) : end])
    return out


def sample_counts_many(
    store: Store, objective: Objective, sinces: Sequence[float], until: float
) -> list[Counts]:
    """Events of a ratio or latency objective over each ``[since, until)``, from sampled
    counters read once (over the widest window) for all of them.

    A latency objective's threshold must be one of the histogram's bucket bounds: good events
    are the increase of ``<metric>_bucket{le="<threshold>"}``, the total that of
    ``<metric>_count``. Raises ``ValueError`` for an objective over recorded events.
    """
    if not sinces:
        return []
    since = min(sinces)
    missing: list[str] = []

    def read(metric: str, labels: Mapping[str, str] | None) -> _Series:
        found = runtime_storage.series(store, metric, since, until, labels)
        if not found:
            missing.append(metric)
        return found

    if objective.ratio is not None:
        ratio = objective.ratio
        labels = ratio.labels or None
        good = _increases(read(ratio.good, labels), sinces, until)
        total = _increases(read(ratio.total, labels), sinces, until)
    elif objective.latency is not None:
        latency = objective.latency
        labels = latency.labels or None
        found = read(f"{latency.metric}_bucket", labels)

        def bound(label_set: runtime_storage.LabelSet) -> bool:
            return _le_matches(dict(label_set).get("le", ""), latency.threshold)

        if found and not any(bound(ls) for ls in found):
            # Counting every event as bad would silently burn the budget: say what is wrong.
            bounds = sorted({dict(ls).get("le", "?") for ls in found}, key=_bound_key)
            raise ConfigError(
                f"objective {objective.name}: latency.threshold {latency.threshold:g} is not a"
                f" bucket bound of {latency.metric} (bounds: {', '.join(bounds)})"
            )
        good = _increases(found, sinces, until, keep=bound)
        total = _increases(read(f"{latency.metric}_count", labels), sinces, until)
    else:
        raise ValueError(f"objective {objective.name} counts recorded events, not samples")
    # Sampling at slightly different moments may put more good than total increase in a
    # window: the good events are capped at the total rather than failing, and the excess
    # kept for the report to judge (a large one means the counters are the wrong ones).
    return [
        Counts(min(g, t), t, max(g - t, 0.0), tuple(missing))
        for g, t in zip(good, total, strict=True)
    ]


def sample_counts(store: Store, objective: Objective, since: float, until: float) -> Counts:
    """Events of a ratio or latency objective over ``[since, until)``, from sampled counters
    (see :func:`sample_counts_many`)."""
    return sample_counts_many(store, objective, [since], until)[0]


def counts_many(
    store: Store, objective: Objective, sinces: Sequence[float], until: float
) -> list[Counts]:
    """Events of ``objective`` over each ``[since, until)``: sampled counters are read once."""
    if objective.kind == "events":
        return [event_counts(store, objective.name, since, until) for since in sinces]
    return sample_counts_many(store, objective, sinces, until)


def counts(store: Store, objective: Objective, since: float, until: float) -> Counts:
    """Events of ``objective`` over ``[since, until)``, from wherever it counts them."""
    if objective.kind == "events":
        return event_counts(store, objective.name, since, until)
    return sample_counts(store, objective, since, until)


def window_counts(
    store: Store, objective: Objective, at: float, lengths: Collection[float]
) -> Callable[[float], Counts]:
    """Events of ``objective`` over the window of a given length ending at ``at``.

    The ``lengths`` given are counted up front, in one read of sampled counters; any other
    length (the period, only wanted when an alert fires) is counted when asked, once.
    """
    wanted = sorted(set(lengths))
    cache = dict(
        zip(wanted, counts_many(store, objective, [at - w for w in wanted], at), strict=True)
    )

    def counts_for(seconds: float) -> Counts:
        if seconds not in cache:
            cache[seconds] = counts(store, objective, at - seconds, at)
        return cache[seconds]

    return counts_for
