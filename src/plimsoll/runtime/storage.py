"""The runtime part's tables in the state store: metric samples and usage events.

Part name ``runtime`` (kept in ``meta`` as ``schema.runtime``, see
:meth:`plimsoll.core.store.Store.ensure_part_schema`). Versions, one line each:

  1: runtime_samples (metric samples: raw and downsampled), usage_events (tracked calls and
     events), usage_drops (how many usage events a tracker dropped because its queue was full).

Table layout (stable: the alerts and SLO parts read ``runtime_samples`` through
:func:`samples`, :func:`series`, :func:`latest` and :func:`metric_names`, never directly):

``runtime_samples``
    ``id`` (integer key), ``metric`` (a Prometheus sample name such as
    ``http_requests_total`` or ``system_cpu_percent``), ``labels`` (canonical JSON of the label
    set: an object with sorted keys and string values, ``{}`` for none), ``ts`` (Unix seconds,
    UTC; the sampling time of a raw row, the start of its bucket for a downsampled one),
    ``value`` (the value; the mean of the bucket when downsampled), ``resolution`` (0 for a raw
    sample, else the bucket width in seconds, e.g. 60 or 3600), ``count`` (how many raw samples
    the row stands for), ``min_value`` and ``max_value`` (extremes of the bucket; equal to
    ``value`` for a raw sample). A time range is held at one resolution only: downsampling
    replaces raw rows by their buckets in one transaction (a raw sample written late, after its
    bucket was made, becomes a second row of that bucket when its turn comes).

``usage_events``
    ``id``, ``ts`` (Unix seconds, UTC, when the call started or the event happened), ``kind``
    (``feature``, ``api_call``, ``error`` or ``event``), ``feature`` (the name tracked),
    ``duration_ms`` (null for a point event), ``ok`` (1, or 0 when the call raised),
    ``error`` (the exception's class name only, never its message: messages may carry personal
    data), ``session`` (an optional pseudonymous id the application supplies), ``properties``
    (JSON object of small application-supplied values). ``id`` is a plain rowid (no
    AUTOINCREMENT: the hot insert path skips the sequence table).

``usage_drops``
    ``id``, ``ts``, ``dropped``: each row says a tracker dropped that many events (its queue was
    full) before ``ts``; their sum is the total dropped.

The functions take any :class:`~plimsoll.core.store.Store`, SQLite or PostgreSQL
(``store.url``): the tables are the same on both (:data:`MIGRATIONS` for SQLite,
:data:`POSTGRES_MIGRATIONS` for PostgreSQL, with identity keys and ``double precision``
times), the SQL is written once with ``?`` placeholders, and
:class:`~plimsoll.core.store.parts.Dialect` spells the rest (the JSON label lookup, the
bucket arithmetic, byte-order sorting).
"""

from __future__ import annotations

import functools
import json
import math
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plimsoll.core.store import Store
from plimsoll.core.store.parts import Dialect, PartSql, part_sql
from plimsoll.core.store.seam import StoreConnection

__all__ = [
    "PART",
    "MIGRATIONS",
    "POSTGRES_MIGRATIONS",
    "LabelSet",
    "Sample",
    "StoredSample",
    "UsageEvent",
    "add_drops",
    "EventRow",
    "add_event_rows",
    "add_events",
    "event_row",
    "add_samples",
    "count_events",
    "downsample",
    "dropped_total",
    "ensure_schema",
    "events",
    "labels_key",
    "latest",
    "metric_names",
    "purge_events",
    "purge_samples",
    "samples",
    "sample_rows",
    "series",
]

PART = "runtime"

# MIGRATIONS[n] takes the runtime tables from version n to n + 1 (see the module docstring).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE runtime_samples (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            metric TEXT NOT NULL,
            labels TEXT NOT NULL DEFAULT '{}',
            ts REAL NOT NULL,
            value REAL NOT NULL,
            resolution INTEGER NOT NULL DEFAULT 0,
            count INTEGER NOT NULL DEFAULT 1,
            min_value REAL NOT NULL,
            max_value REAL NOT NULL
        )
        """,
        "CREATE INDEX runtime_samples_metric ON runtime_samples (metric, ts)",
        "CREATE INDEX runtime_samples_resolution ON runtime_samples (resolution, ts)",
        """
        CREATE TABLE usage_events (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,
            feature TEXT NOT NULL,
            duration_ms REAL,
            ok INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            session TEXT,
            properties TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX usage_events_ts ON usage_events (ts)",
        "CREATE INDEX usage_events_feature ON usage_events (feature, ts)",
        """
        CREATE TABLE usage_drops (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            dropped INTEGER NOT NULL
        )
        """,
    ),
)

# The same tables on PostgreSQL: identity keys, double precision numbers, label and property
# JSON kept as text (read back and compared as the SQLite store's are).
POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE runtime_samples (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            metric text NOT NULL,
            labels text NOT NULL DEFAULT '{}',
            ts double precision NOT NULL,
            value double precision NOT NULL,
            resolution integer NOT NULL DEFAULT 0,
            count bigint NOT NULL DEFAULT 1,
            min_value double precision NOT NULL,
            max_value double precision NOT NULL
        )
        """,
        "CREATE INDEX runtime_samples_metric ON runtime_samples (metric, ts)",
        "CREATE INDEX runtime_samples_resolution ON runtime_samples (resolution, ts)",
        """
        CREATE TABLE usage_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            ts double precision NOT NULL,
            kind text NOT NULL,
            feature text NOT NULL,
            duration_ms double precision,
            ok integer NOT NULL DEFAULT 1,
            error text,
            session text,
            properties text NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX usage_events_ts ON usage_events (ts)",
        "CREATE INDEX usage_events_feature ON usage_events (feature, ts)",
        """
        CREATE TABLE usage_drops (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            ts double precision NOT NULL,
            dropped bigint NOT NULL
        )
        """,
    ),
)

LabelSet = tuple[tuple[str, str], ...]
"""A label set as sorted ``(name, value)`` pairs: hashable, usable as a dict key."""

# Stores whose runtime tables are known to be current, so each call does not re-check meta.
_READY: weakref.WeakSet[Store] = weakref.WeakSet()


@dataclass(frozen=True)
class Sample:
    """One sampled value of a metric, to be written with :func:`add_samples`."""

    metric: str
    value: float
    timestamp: float
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredSample:
    """A row of ``runtime_samples`` as read back: raw (``resolution`` 0) or a bucket's mean."""

    metric: str
    labels: LabelSet
    timestamp: float
    value: float
    resolution: int
    count: int
    min_value: float
    max_value: float


@dataclass(frozen=True)
class UsageEvent:
    """One usage event: a tracked call (feature or API call), an error, or a plain event.

    ``error`` is an exception class name, ``session`` a pseudonymous id from the application;
    neither ever holds a login name or a message.
    """

    kind: str
    feature: str
    timestamp: float
    duration_ms: float | None = None
    ok: bool = True
    error: str | None = None
    session: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


def _sql(store: Store) -> PartSql:
    return part_sql(store, "runtime")


def _db(store: Store) -> StoreConnection:
    return _sql(store).connection


def ensure_schema(store: Store) -> int:
    """Create or migrate the runtime tables of ``store``; return their version.

    Every other function here calls it, so a caller never needs to; it costs one meta lookup per
    store object.
    """
    if store in _READY:
        return len(MIGRATIONS)
    dialect = _sql(store).dialect
    version = store.ensure_part_schema(PART, dialect.pick(MIGRATIONS, POSTGRES_MIGRATIONS))
    _READY.add(store)
    return version


def labels_key(labels: Mapping[str, str] | None) -> str:
    """The canonical JSON text of a label set (sorted keys, string values), as stored."""
    if not labels:
        return "{}"
    return json.dumps({str(k): str(v) for k, v in labels.items()}, sort_keys=True)


@functools.lru_cache(maxsize=65536)
def _label_set(text: str) -> LabelSet:
    # Every stored row repeats its series' label text: decoded once per distinct text (the
    # result is an immutable tuple, so sharing it is safe).
    return tuple(sorted(json.loads(text).items()))


def _label_filter(dialect: Dialect, labels: Mapping[str, str] | None) -> tuple[str, list[Any]]:
    """SQL matching rows whose labels include every given pair (other labels may be present)."""
    if not labels:
        return "", []
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in sorted(labels.items()):
        # The name is a parameter, so no label name can escape it.
        expression, key = dialect.json_text("labels", name)
        clauses.append(f"{expression} = ?")
        params.extend([key, str(value)])
    return " AND " + " AND ".join(clauses), params


def _range(since: float | None, until: float | None, **equal: object) -> tuple[str, list[Any]]:
    # `` AND ...`` conditions: ``since <= ts <= until``, then ``column = value`` for each of
    # ``equal`` not None (a filter not asked for).
    sql, params = "", list[Any]()
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    if until is not None:
        sql += " AND ts <= ?"
        params.append(until)
    for column, value in equal.items():
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    return sql, params


def _metric_rows(
    store: Store,
    columns: str,
    metric: str,
    since: float | None,
    until: float | None,
    labels: Mapping[str, str] | None,
    order: str,
) -> list[Any]:
    # The rows of one metric in the range, of the series matching ``labels``, ``ORDER BY order``.
    ensure_schema(store)
    where, params = _range(since, until)
    sql = _sql(store)
    label_sql, label_params = _label_filter(sql.dialect, labels)
    order = order.replace("labels", "labels" + sql.dialect.byte_order)
    return sql.connection.query(
        f"SELECT {columns} FROM runtime_samples WHERE metric = ?{where}{label_sql} ORDER BY {order}",
        [metric, *params, *label_params],
    )


# --- samples ------------------------------------------------------------------------------------


def add_samples(store: Store, batch: Iterable[Sample]) -> int:
    """Write raw samples in one transaction; return how many were written.

    Non-finite values (NaN, infinities) are skipped: SQLite cannot keep a NaN, and no rule can
    compare one (PostgreSQL could keep them; both stores keep the same rows).
    """
    ensure_schema(store)
    rows = [
        (s.metric, labels_key(s.labels), s.timestamp, s.value, s.value, s.value)
        for s in batch
        if math.isfinite(s.value)
    ]
    if not rows:
        return 0
    with _db(store).transaction() as conn:
        conn.executemany(
            "INSERT INTO runtime_samples (metric, labels, ts, value, min_value, max_value)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)


def samples(
    store: Store,
    metric: str,
    since: float | None,
    until: float | None,
    labels: Mapping[str, str] | None = None,
) -> list[tuple[float, float]]:
    """The ``(timestamp, value)`` points of ``metric`` with ``since <= ts <= until``, oldest first.

    ``None`` leaves that end open. ``labels`` keeps the series whose labels include every given
    pair; without it every series of the metric is merged in time order (use :func:`series` to
    keep them apart). Downsampled points carry their bucket's start and mean.
    """
    rows = _metric_rows(store, "ts, value", metric, since, until, labels, "ts, id")
    return [(float(r["ts"]), float(r["value"])) for r in rows]


def series(
    store: Store,
    metric: str,
    since: float | None,
    until: float | None,
    labels: Mapping[str, str] | None = None,
) -> dict[LabelSet, list[tuple[float, float]]]:
    """Like :func:`samples`, but one list of points per label set (sorted ``(name, value)``)."""
    rows = _metric_rows(store, "labels, ts, value", metric, since, until, labels, "labels, ts, id")
    out: dict[LabelSet, list[tuple[float, float]]] = {}
    text: str | None = None
    points: list[tuple[float, float]] = []
    for r in rows:
        # Rows come ordered by their label text: one lookup per series, not per row.
        if r["labels"] != text:
            text = r["labels"]
            points = out.setdefault(_label_set(text), [])
        points.append((float(r["ts"]), float(r["value"])))
    return out


def latest(
    store: Store,
    metric: str,
    labels: Mapping[str, str] | None = None,
    *,
    before: float | None = None,
) -> tuple[float, float] | None:
    """The newest ``(timestamp, value)`` of ``metric`` (at or before ``before``), or None.

    ``labels`` selects as in :func:`samples`; with several matching series the newest point of
    any of them is returned.
    """
    rows = _metric_rows(
        store, "ts, value", metric, None, before, labels, "ts DESC, id DESC LIMIT 1"
    )
    return (float(rows[0]["ts"]), float(rows[0]["value"])) if rows else None


def metric_names(store: Store, since: float | None = None) -> list[str]:
    """The names of the metrics with samples (since ``since`` when given), sorted."""
    ensure_schema(store)
    where, params = _range(since, None)
    rows = _db(store).query(
        f"SELECT DISTINCT metric FROM runtime_samples WHERE 1 = 1{where}", params
    )
    # Sorted here, by code point (SQLite's byte order), whatever the database's collation.
    return sorted(str(r["metric"]) for r in rows)


def sample_rows(
    store: Store,
    metric: str | None = None,
    *,
    since: float | None = None,
    until: float | None = None,
    resolution: int | None = None,
) -> list[StoredSample]:
    """Full sample rows (with resolution, count, min and max), oldest first: for reports and tests."""
    ensure_schema(store)
    where, params = _range(since, until, metric=metric, resolution=resolution)
    sql = _sql(store)
    order = sql.dialect.byte_order
    rows = sql.connection.query(
        f"SELECT * FROM runtime_samples WHERE 1 = 1{where}"
        f" ORDER BY metric{order}, labels{order}, ts, id",
        params,
    )
    return [
        StoredSample(
            metric=r["metric"],
            labels=_label_set(r["labels"]),
            timestamp=float(r["ts"]),
            value=float(r["value"]),
            resolution=int(r["resolution"]),
            count=int(r["count"]),
            min_value=float(r["min_value"]),
            max_value=float(r["max_value"]),
        )
        for r in rows
    ]


def downsample(store: Store, *, source: int, target: int, before: float, max_rows: int) -> int:
    """Replace ``source``-resolution rows older than ``before`` by ``target``-second buckets.

    Only whole buckets are replaced (those ending at or before ``before``), oldest first, and
    about ``max_rows`` source rows per call (more only when a single bucket holds more), so one
    call's work is bounded; call again to continue. A bucket's value is the count-weighted mean
    of its rows, so averaging minute means into hours gives the mean of the raw samples. Returns
    the number of source rows replaced.
    """
    if target <= 0 or target <= source:
        raise ValueError(f"target resolution {target} must be above the source {source}")
    ensure_schema(store)
    aligned = (before // target) * target
    sql = _sql(store)
    bucket = sql.dialect.floor_div("ts", "?")
    with sql.connection.transaction() as conn:
        first = conn.execute(
            "SELECT ts FROM runtime_samples WHERE resolution = ? AND ts < ? ORDER BY ts LIMIT 1",
            (source, aligned),
        ).fetchone()
        if first is None:
            return 0
        nth = conn.execute(
            "SELECT ts FROM runtime_samples WHERE resolution = ? AND ts < ?"
            " ORDER BY ts LIMIT 1 OFFSET ?",
            (source, aligned, max(max_rows, 1)),
        ).fetchone()
        end = aligned
        if nth is not None:
            # Stop at the bucket holding the max_rows-th row, but always take one whole bucket.
            first_end = (float(first["ts"]) // target + 1) * target
            end = min(aligned, max(first_end, (float(nth["ts"]) // target) * target))
        columns = "metric, labels, ts, value, resolution, count, min_value, max_value"
        buckets = (
            f"SELECT metric, labels, {bucket} * ? AS bucket,"
            " SUM(value * count) / SUM(count), ?, SUM(count), MIN(min_value), MAX(max_value)"
        )
        if sql.dialect.postgres:
            # One statement, so the rows aggregated are exactly the rows deleted: under read
            # committed, a late sample committed between two statements would be lost.
            found = conn.execute(
                "WITH gone AS (DELETE FROM runtime_samples WHERE resolution = ? AND ts < ?"
                f" RETURNING {columns}), made AS (INSERT INTO runtime_samples ({columns})"
                f" {buckets} FROM gone GROUP BY metric, labels, bucket RETURNING 1)"
                " SELECT (SELECT COUNT(*) FROM gone) AS n, (SELECT COUNT(*) FROM made) AS b",
                (source, end, target, target, target),
            ).fetchone()
            return int(found["n"])
        # SQLite's write transaction holds its one write lock: two statements are safe.
        conn.execute(
            f"INSERT INTO runtime_samples ({columns}) {buckets}"
            " FROM runtime_samples WHERE resolution = ? AND ts < ?"
            " GROUP BY metric, labels, bucket",
            (target, target, target, source, end),
        )
        cursor = conn.execute(
            "DELETE FROM runtime_samples WHERE resolution = ? AND ts < ?", (source, end)
        )
        return cursor.rowcount


def purge_samples(
    store: Store, *, resolution: int, before: float, max_rows: int | None = None
) -> int:
    """Delete rows of one resolution older than ``before`` (at most ``max_rows``); return how many."""
    ensure_schema(store)
    with _db(store).transaction() as conn:
        if max_rows is None:
            cursor = conn.execute(
                "DELETE FROM runtime_samples WHERE resolution = ? AND ts < ?", (resolution, before)
            )
        else:
            cursor = conn.execute(
                "DELETE FROM runtime_samples WHERE id IN (SELECT id FROM runtime_samples"
                " WHERE resolution = ? AND ts < ? ORDER BY ts LIMIT ?)",
                (resolution, before, max_rows),
            )
        return cursor.rowcount


# --- usage events -------------------------------------------------------------------------------


EventRow = tuple[float, str, str, float | None, int, str | None, str | None, str]
"""A usage event as written: ``(ts, kind, feature, duration_ms, ok, error, session, properties)``
with ``ok`` 0 or 1 and ``properties`` JSON text (what a tracker builds without dataclasses)."""


def event_row(event: UsageEvent) -> EventRow:
    """The row :func:`add_event_rows` writes for ``event``."""
    return (
        event.timestamp,
        event.kind,
        event.feature,
        event.duration_ms,
        1 if event.ok else 0,
        event.error,
        event.session,
        json.dumps(dict(event.properties), sort_keys=True, default=str)
        if event.properties
        else "{}",
    )


def add_events(
    store: Store, batch: Sequence[UsageEvent], *, dropped: int = 0, now: float = 0.0
) -> int:
    """Write usage events (and a count of dropped ones) in one transaction; return how many.

    Writing both at once keeps ``stored + dropped`` exact even if the process dies mid-flush.
    """
    return add_event_rows(store, [event_row(e) for e in batch], dropped=dropped, now=now)


def add_event_rows(
    store: Store, rows: Sequence[EventRow], *, dropped: int = 0, now: float = 0.0
) -> int:
    """Like :func:`add_events`, for rows already in column order (see :data:`EventRow`)."""
    ensure_schema(store)
    if not rows and not dropped:
        return 0
    with _db(store).transaction() as conn:
        if rows:
            conn.executemany(
                "INSERT INTO usage_events"
                " (ts, kind, feature, duration_ms, ok, error, session, properties)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        if dropped:
            conn.execute("INSERT INTO usage_drops (ts, dropped) VALUES (?, ?)", (now, dropped))
    return len(rows)


def add_drops(store: Store, dropped: int, now: float) -> None:
    """Record that ``dropped`` usage events were lost to a full queue before ``now``."""
    if dropped:
        add_events(store, (), dropped=dropped, now=now)


def dropped_total(store: Store, since: float | None = None, until: float | None = None) -> int:
    """How many usage events trackers reported dropping (in the range, when given)."""
    ensure_schema(store)
    where, params = _range(since, until)
    rows = _db(store).query(
        f"SELECT COALESCE(SUM(dropped), 0) AS n FROM usage_drops WHERE 1 = 1{where}", params
    )
    return int(rows[0]["n"])


def count_events(store: Store, since: float | None = None, until: float | None = None) -> int:
    """How many usage events are stored (in the range, when given)."""
    ensure_schema(store)
    where, params = _range(since, until)
    rows = _db(store).query(f"SELECT COUNT(*) AS n FROM usage_events WHERE 1 = 1{where}", params)
    return int(rows[0]["n"])


def events(
    store: Store,
    since: float | None = None,
    until: float | None = None,
    *,
    feature: str | None = None,
    kinds: Sequence[str] | None = None,
) -> list[UsageEvent]:
    """Stored usage events with ``since <= ts <= until``, oldest first (filtered when asked)."""
    ensure_schema(store)
    where, params = _range(since, until, feature=feature)
    if kinds is not None:
        if not kinds:
            return []
        where += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params.extend(kinds)
    rows = _db(store).query(
        f"SELECT * FROM usage_events WHERE 1 = 1{where} ORDER BY ts, id", params
    )
    return [
        UsageEvent(
            kind=r["kind"],
            feature=r["feature"],
            timestamp=float(r["ts"]),
            duration_ms=None if r["duration_ms"] is None else float(r["duration_ms"]),
            ok=bool(r["ok"]),
            error=r["error"],
            session=r["session"],
            properties=json.loads(r["properties"]),
            id=int(r["id"]),
        )
        for r in rows
    ]


def purge_events(store: Store, before: float, max_rows: int | None = None) -> int:
    """Delete usage events (and drop counts) older than ``before``; return how many events went.

    With ``max_rows``, at most that many events go, oldest first (a backlog is worked off over
    several calls).
    """
    ensure_schema(store)
    with _db(store).transaction() as conn:
        conn.execute("DELETE FROM usage_drops WHERE ts < ?", (before,))
        if max_rows is None:
            return conn.execute("DELETE FROM usage_events WHERE ts < ?", (before,)).rowcount
        return conn.execute(
            "DELETE FROM usage_events WHERE id IN"
            " (SELECT id FROM usage_events WHERE ts < ? ORDER BY ts LIMIT ?)",
            (before, max(max_rows, 0)),
        ).rowcount
