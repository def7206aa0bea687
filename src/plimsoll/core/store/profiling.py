"""The store's profiling tables, for every backend: query baselines and samples, checks, timings.

A mixin of :class:`~plimsoll.core.store.queries.SqlStore`, apart so each module keeps one area.
The SQL is written once (``?`` placeholders, see :mod:`plimsoll.core.store.seam`); what a
backend does differently comes through :meth:`_lock` and :attr:`_BYTE_ORDER`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from plimsoll.core.store import rows as _rows
from plimsoll.core.store.records import BaselineCheck, OperationTiming, QueryBaseline, QuerySample
from plimsoll.core.store.seam import SqlConn, StoreConnection, returned_id

# Ids per ``IN (...)`` list: SQLite limits the number of parameters of one statement.
_CHUNK = 500


class SqlProfiling(ABC):
    """Baselines, baseline checks and operation timings over the store's connection."""

    # Appended to a text column in ORDER BY so it sorts by bytes (as SQLite does by default),
    # the same listing whatever the database's collation.
    _BYTE_ORDER: ClassVar[str] = ""

    @property
    @abstractmethod
    def _connection(self) -> StoreConnection:
        """The backend's connection wrapper."""

    @abstractmethod
    def _lock(self, conn: SqlConn, *key: str) -> None:
        """Serialise the writers of ``key`` until the transaction of ``conn`` ends."""

    # --- query baselines ------------------------------------------------------------------

    def baseline_record(
        self, baseline: QueryBaseline, samples: Sequence[QuerySample], *, append: bool = False
    ) -> QueryBaseline:
        """Store ``samples`` as the query's current baseline (see :meth:`Store.baseline_record`)."""
        now = baseline.updated_at
        with self._connection.transaction() as conn:
            # One recorder per query at a time: two cannot both find no current baseline and
            # each start one.
            self._lock(conn, "baseline", baseline.database, baseline.query_key)
            current = conn.execute(
                "SELECT id, metric FROM query_baselines WHERE database = ? AND query_key = ?"
                " AND superseded_at IS NULL ORDER BY id DESC LIMIT 1",
                (baseline.database, baseline.query_key),
            ).fetchone()
            # Samples of another metric (a time, a cost) cannot be pooled: start afresh.
            if append and current is not None and current["metric"] == baseline.metric:
                baseline_id = int(current["id"])
                conn.execute(
                    "UPDATE query_baselines SET updated_at = ?, query = ?,"
                    " name = COALESCE(?, name) WHERE id = ?",
                    (now, baseline.query, baseline.name, baseline_id),
                )
            else:
                if current is not None:
                    conn.execute(
                        "UPDATE query_baselines SET superseded_at = ? WHERE id = ?",
                        (now, current["id"]),
                    )
                baseline_id = returned_id(
                    conn.execute(
                        "INSERT INTO query_baselines (database, query_key, name, query, metric,"
                        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                        (
                            baseline.database,
                            baseline.query_key,
                            baseline.name,
                            baseline.query,
                            baseline.metric,
                            baseline.created_at,
                            now,
                        ),
                    )
                )
            if samples:
                conn.executemany(
                    "INSERT INTO query_samples (baseline_id, recorded_at, value, execution_ms,"
                    " planning_ms, total_cost, rows, shared_hit, shared_read, plan)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [_sample_values(baseline_id, sample) for sample in samples],
                )
            found = conn.execute(
                "SELECT * FROM query_baselines WHERE id = ?", (baseline_id,)
            ).fetchall()
            return self._with_samples(conn, found)[0]

    @staticmethod
    def _with_samples(conn: SqlConn, found: Sequence[Any]) -> list[QueryBaseline]:
        """Baseline rows as QueryBaselines carrying their samples (a query per 500 baselines)."""
        ids = [row["id"] for row in found]
        samples: list[Any] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            samples += conn.execute(
                f"SELECT * FROM query_samples WHERE baseline_id IN ({', '.join('?' * len(chunk))})"
                " ORDER BY id",
                chunk,
            ).fetchall()
        return _rows.query_baselines(found, samples)

    def baseline_get(self, database: str, query_key: str) -> QueryBaseline | None:
        """The current baseline of one query, with its samples, or None."""
        with self._connection.read() as conn:
            found = conn.execute(
                "SELECT * FROM query_baselines WHERE database = ? AND query_key = ?"
                " AND superseded_at IS NULL ORDER BY id DESC LIMIT 1",
                (database, query_key),
            ).fetchall()
            baselines = self._with_samples(conn, found)
        return baselines[0] if baselines else None

    def baselines(
        self,
        database: str | None = None,
        *,
        query_key: str | None = None,
        include_superseded: bool = False,
    ) -> list[QueryBaseline]:
        """Baselines with their samples, by query then newest first (current ones by default)."""
        clause, params = _rows.where(
            ("database = ?", database),
            ("query_key = ?", query_key),
            always=() if include_superseded else ("superseded_at IS NULL",),
        )
        order = f"database{self._BYTE_ORDER}, query_key{self._BYTE_ORDER}, id DESC"
        with self._connection.read() as conn:
            found = conn.execute(
                f"SELECT * FROM query_baselines {clause} ORDER BY {order}", params
            ).fetchall()
            return self._with_samples(conn, found)

    def baseline_checks_add(self, checks: Sequence[BaselineCheck]) -> None:
        """Keep the verdicts of one regression check."""
        if not checks:
            return
        with self._connection.transaction() as conn:
            conn.executemany(
                f"INSERT INTO baseline_checks ({_rows.BASELINE_CHECK_COLUMNS})"
                f" VALUES ({', '.join('?' * 16)})",
                [_rows.baseline_check_values(c) for c in checks],
            )

    def baseline_checks(
        self, database: str | None = None, *, query_key: str | None = None, limit: int = 1000
    ) -> list[BaselineCheck]:
        """Past verdicts, newest first (of one database and one query when given)."""
        clause, params = _rows.where(("database = ?", database), ("query_key = ?", query_key))
        found = self._connection.query(
            f"SELECT * FROM baseline_checks {clause} ORDER BY checked_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_rows.baseline_check(row) for row in found]

    # --- operation timings ----------------------------------------------------------------

    def timings_add(self, timings: Sequence[OperationTiming]) -> None:
        """Keep how long some of plimsoll's own operations took."""
        if not timings:
            return
        with self._connection.transaction() as conn:
            # A bool is an integer to SQLite (0/1) and a boolean to PostgreSQL.
            conn.executemany(
                "INSERT INTO operation_timings (operation, seconds, recorded_at, ok)"
                " VALUES (?, ?, ?, ?)",
                [(t.operation, t.seconds, t.recorded_at, t.ok) for t in timings],
            )

    def timings(
        self, operation: str | None = None, *, since: float | None = None
    ) -> list[OperationTiming]:
        """Recorded timings, oldest first (of one operation, from ``since``, when given)."""
        clause, params = _rows.where(("operation = ?", operation), ("recorded_at >= ?", since))
        found = self._connection.query(
            f"SELECT * FROM operation_timings {clause} ORDER BY recorded_at, id", params
        )
        return [_rows.operation_timing(row) for row in found]

    def timings_purge(self, before: float) -> int:
        """Delete timings recorded before ``before``; return how many went."""
        with self._connection.transaction() as conn:
            cursor = conn.execute("DELETE FROM operation_timings WHERE recorded_at < ?", (before,))
            return int(cursor.rowcount)


def _sample_values(baseline_id: int, sample: QuerySample) -> tuple[Any, ...]:
    """The values of one sample, in the column order of the insert."""
    return (
        baseline_id,
        sample.recorded_at,
        sample.value,
        sample.execution_ms,
        sample.planning_ms,
        sample.total_cost,
        sample.rows,
        sample.shared_hit,
        sample.shared_read,
        _rows.plan_json(sample),
    )
