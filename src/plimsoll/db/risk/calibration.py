"""This server's speed, measured once on a scratch table and cached: the heuristic's yardstick.

:func:`measure` creates a schema ``plimsoll_risk_<random>`` holding one table of
``calibration_rows`` rows (``id bigint PRIMARY KEY, payload text, n integer, k integer``,
about 8 MB per 100,000 rows), runs the operations a migration runs, times each, and drops the
schema whatever happens:

* **scan**: ``ADD CONSTRAINT ... CHECK (n >= 0)`` (a validation scan): heap bytes per second;
* **index build**: ``CREATE INDEX`` on an integer column (*narrow* keys: fixed width) and on the
  text column (*wide* keys): rows per second;
* **rewrite**: ``ADD COLUMN ... DEFAULT gen_random_uuid()`` (``random()`` before PostgreSQL 13):
  total bytes (heap and indexes, which are rebuilt) per second;
* **statement**: a catalog-only ``ALTER COLUMN ... SET DEFAULT``: seconds;
* **update** and **delete**: ``UPDATE`` of every row (a new version of each, its index entries,
  the WAL) and ``DELETE`` of every row, each in a transaction rolled back (then ``VACUUM``):
  heap bytes per second. An ``UPDATE`` writes far more than a rewrite of the same rows; a
  ``DELETE`` only marks them.

Each is repeated ``calibration_repeats`` times; the median is kept, and the spread (slowest over
fastest) widens the predictions' bounds. The result is cached in
``.plimsoll/cache/risk-calibration.json`` under ``<system identifier>/<server_version_num>``
and reused for ``calibration_max_age_days``.

The scratch table fits in memory; a table that does not will run slower (the report says so).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from plimsoll.core.log import get_logger
from plimsoll.core.paths import ensure_private_dir
from plimsoll.db.risk.config import Throughput

log = get_logger(__name__)

# 2: the update and delete speeds (version 1 entries are measured again).
CACHE_VERSION = 2
CACHE_FILE = Path(".plimsoll") / "cache" / "risk-calibration.json"


@dataclass(frozen=True)
class Calibration:
    """Speeds of one server, how they were obtained, and how much they varied.

    ``source`` is ``measured`` (just now), ``cache`` or ``defaults`` (not calibrated:
    ``reason`` says why). ``spread`` maps each speed to the ratio of its slowest run to its
    fastest (1.0 when measured once).
    """

    rewrite_bytes_per_second: float
    scan_bytes_per_second: float
    index_rows_per_second_narrow: float
    index_rows_per_second_wide: float
    statement_seconds: float
    update_bytes_per_second: float = Throughput().update_bytes_per_second
    delete_bytes_per_second: float = Throughput().delete_bytes_per_second
    source: str = "defaults"
    measured_at: str | None = None
    rows: int = 0
    table_bytes: int = 0
    server_version_num: int | None = None
    duration_seconds: float = 0.0
    spread: dict[str, float] = field(default_factory=dict)
    reason: str | None = None

    @property
    def calibrated(self) -> bool:
        """Whether the speeds were measured on this server (now or from the cache)."""
        return self.source != "defaults"

    def spread_of(self, speed: str) -> float:
        """The slowest-over-fastest ratio of one speed (1.0 when unknown)."""
        return max(self.spread.get(speed, 1.0), 1.0)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (what the cache file and the JSON report hold)."""
        return asdict(self)

    @classmethod
    def defaults(cls, throughput: Throughput, reason: str) -> Calibration:
        """The configured speeds for a server that was not measured, and why."""
        return cls(
            rewrite_bytes_per_second=throughput.rewrite_bytes_per_second,
            scan_bytes_per_second=throughput.scan_bytes_per_second,
            index_rows_per_second_narrow=throughput.index_rows_per_second_narrow,
            index_rows_per_second_wide=throughput.index_rows_per_second_wide,
            statement_seconds=throughput.statement_seconds,
            update_bytes_per_second=throughput.update_bytes_per_second,
            delete_bytes_per_second=throughput.delete_bytes_per_second,
            source="defaults",
            reason=reason,
        )


def _timed(conn: psycopg.Connection[Any], statement: sql.Composed) -> float:
    started = time.perf_counter()
    conn.execute(statement)
    return time.perf_counter() - started


def _ratio(values: list[float]) -> float:
    return max(values) / min(values) if values and min(values) > 0 else 1.0


def measure(conn: psycopg.Connection[Any], *, rows: int = 100_000, repeats: int = 3) -> Calibration:
    """Measure this server's speeds on a scratch table (see the module docstring).

    ``conn`` must be in autocommit mode and allowed to create a schema. The schema is dropped
    afterwards, also when a measurement fails; psycopg errors propagate.
    """
    started = time.perf_counter()
    schema = sql.Identifier(f"plimsoll_risk_{secrets.token_hex(4)}")
    table = sql.SQL("{}.t").format(schema)
    version = conn.info.server_version
    default = "gen_random_uuid()" if version >= 130000 else "random()"
    column_type = "uuid" if version >= 130000 else "float8"
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
    try:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigint PRIMARY KEY, payload text NOT NULL, "
                "n integer NOT NULL, k integer NOT NULL)"
            ).format(table)
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT g, md5(g::text), g %% 1000, (random() * 1e9)::int "
                "FROM generate_series(1, %s) AS g"
            ).format(table),
            (rows,),
        )
        # Hint bits and the visibility map set, as on a table that has lived a while.
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(table))
        scans: list[float] = []
        narrow: list[float] = []
        wide: list[float] = []
        rewrites: list[float] = []
        catalog: list[float] = []
        updates: list[float] = []
        deletes: list[float] = []
        table_bytes = 0
        for n in range(repeats):
            heap, total = _sizes(conn, table)
            table_bytes = table_bytes or total
            check = sql.Identifier(f"c{n}")
            took = _timed(
                conn,
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (n >= 0)").format(table, check),
            )
            scans.append(heap / took)
            for column, speeds in (("k", narrow), ("payload", wide)):
                index = sql.Identifier(f"i{n}_{column}")
                took = _timed(
                    conn,
                    sql.SQL("CREATE INDEX {} ON {} ({})").format(
                        index, table, sql.Identifier(column)
                    ),
                )
                speeds.append(rows / took)
                conn.execute(sql.SQL("DROP INDEX {}.{}").format(schema, index))
            took = _timed(
                conn,
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {} DEFAULT {}").format(
                    table,
                    sql.Identifier(f"u{n}"),
                    sql.SQL(column_type),
                    sql.SQL(default),
                ),
            )
            rewrites.append(total / took)
            catalog.append(
                _timed(conn, sql.SQL("ALTER TABLE {} ALTER COLUMN n SET DEFAULT 0").format(table))
            )
            heap, _ = _sizes(conn, table)
            for statement, speeds in (
                (sql.SQL("UPDATE {} SET k = k + 1").format(table), updates),
                (sql.SQL("DELETE FROM {}").format(table), deletes),
            ):
                with conn.transaction(force_rollback=True):
                    speeds.append(heap / _timed(conn, statement))
            # The rolled-back versions are dead: make their room reusable, as after a day.
            conn.execute(sql.SQL("VACUUM {}").format(table))
    finally:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
    return Calibration(
        rewrite_bytes_per_second=statistics.median(rewrites),
        scan_bytes_per_second=statistics.median(scans),
        index_rows_per_second_narrow=statistics.median(narrow),
        index_rows_per_second_wide=statistics.median(wide),
        statement_seconds=statistics.median(catalog),
        update_bytes_per_second=statistics.median(updates),
        delete_bytes_per_second=statistics.median(deletes),
        source="measured",
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        rows=rows,
        table_bytes=table_bytes,
        server_version_num=version,
        duration_seconds=time.perf_counter() - started,
        spread={
            "rewrite": _ratio(rewrites),
            "scan": _ratio(scans),
            "index_narrow": _ratio(narrow),
            "index_wide": _ratio(wide),
            "statement": _ratio(catalog),
            "update": _ratio(updates),
            "delete": _ratio(deletes),
        },
    )


def _sizes(conn: psycopg.Connection[Any], table: sql.Composed) -> tuple[int, int]:
    row = conn.execute(
        sql.SQL(
            "SELECT pg_relation_size({0}::regclass), pg_total_relation_size({0}::regclass)"
        ).format(sql.Literal(table.as_string(conn)))
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class CalibrationCache:
    """The calibration cache file: one entry per ``<system identifier>/<version>``.

    The file is JSON (``{"version": 1, "servers": {key: calibration}}``), written atomically
    (a temporary file renamed over it); an unreadable file is treated as empty.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        servers = data.get("servers")
        return servers if isinstance(servers, dict) else {}

    def get(self, key: str, max_age_days: float, now: datetime | None = None) -> Calibration | None:
        """The cached calibration of ``key`` if younger than ``max_age_days``, else None."""
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            calibration = Calibration(**{**entry, "source": "cache"})
            measured = datetime.fromisoformat(str(calibration.measured_at))
        except (TypeError, ValueError):
            return None
        if (now or datetime.now(UTC)) - measured > timedelta(days=max_age_days):
            return None
        return calibration

    def put(self, key: str, calibration: Calibration) -> None:
        """Store ``calibration`` under ``key`` (other servers' entries are kept)."""
        servers = self._read()
        servers[key] = {**calibration.as_dict(), "source": "measured"}
        ensure_private_dir(self.path.parent)
        handle, temporary = tempfile.mkstemp(prefix=".risk-calibration-", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": CACHE_VERSION, "servers": servers}, out, indent=2)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def calibrate(
    conn: psycopg.Connection[Any],
    key: str,
    *,
    cache: CalibrationCache | None,
    throughput: Throughput,
    enabled: bool = True,
    rows: int = 100_000,
    repeats: int = 3,
    max_age_days: float = 30.0,
    force: bool = False,
    on_measure: Callable[[], None] | None = None,
) -> Calibration:
    """The calibration of the server behind ``conn``: cached, measured now, or the defaults.

    When measuring fails (no right to create a schema, a timeout), the configured speeds are
    used and ``reason`` says why; the assessment goes on.
    """
    if not enabled:
        return Calibration.defaults(throughput, "calibration is turned off (db.risk.calibrate)")
    if cache is not None and not force:
        cached = cache.get(key, max_age_days)
        if cached is not None:
            return cached
    if on_measure is not None:
        on_measure()
    try:
        measured = measure(conn, rows=rows, repeats=repeats)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        log.warning("calibration failed: %s", reason, extra={"event": "risk_calibration_failed"})
        return Calibration.defaults(throughput, f"calibration failed: {reason}")
    if cache is not None:
        try:
            cache.put(key, measured)
        except OSError as exc:
            log.warning(
                "could not cache the calibration in %s: %s",
                cache.path,
                exc,
                extra={"event": "risk_calibration_not_cached"},
            )
    return measured
