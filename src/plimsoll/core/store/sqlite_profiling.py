"""The SQLite store's profiling tables: query baselines with their samples, checks, timings.

A mixin of :class:`~plimsoll.core.store.sqlite.SqliteStore`, apart so each module keeps one area.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from plimsoll.core.store import rows as _rows
from plimsoll.core.store.records import BaselineCheck, OperationTiming, QueryBaseline, QuerySample
from plimsoll.core.store.sqlite_connection import SqliteConnection


class SqliteProfiling:
    """Baselines, baseline checks and operation timings over the store's SQLite connection."""

    db: SqliteConnection

    # --- query baselines ------------------------------------------------------------------

    def baseline_record(
        self, baseline: QueryBaseline, samples: Sequence[QuerySample], *, append: bool = False
    ) -> QueryBaseline:
        """Store ``samples`` as the query's current baseline (see :meth:`Store.baseline_record`)."""
        now = baseline.updated_at
        with self.db.transaction() as conn:
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
                cursor = conn.execute(
                    "INSERT INTO query_baselines (database, query_key, name, query, metric,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
                baseline_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO query_samples (baseline_id, recorded_at, value, execution_ms,"
                " planning_ms, total_cost, rows, shared_hit, shared_read, plan)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
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
                    for sample in samples
                ],
            )
            rows = conn.execute(
                "SELECT * FROM query_baselines WHERE id = ?", (baseline_id,)
            ).fetchall()
            return self._with_samples(conn, rows)[0]

    @staticmethod
    def _with_samples(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[QueryBaseline]:
        """Baseline rows as QueryBaselines carrying their samples (one query for all samples)."""
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        samples: list[sqlite3.Row] = []
        # Chunked: SQLite limits the number of parameters of one statement.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            samples += conn.execute(
                f"SELECT * FROM query_samples WHERE baseline_id IN ({', '.join('?' * len(chunk))})"
                " ORDER BY id",
                chunk,
            ).fetchall()
        return _rows.query_baselines(rows, samples)

    def baseline_get(self, database: str, query_key: str) -> QueryBaseline | None:
        """The current baseline of one query, with its samples, or None."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM query_baselines WHERE database = ? AND query_key = ?"
                " AND superseded_at IS NULL ORDER BY id DESC LIMIT 1",
                (database, query_key),
            ).fetchall()
            found = self._with_samples(conn, rows)
        return found[0] if found else None

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
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT * FROM query_baselines {clause} ORDER BY database, query_key, id DESC",
                params,
            ).fetchall()
            return self._with_samples(conn, rows)

    def baseline_checks_add(self, checks: Sequence[BaselineCheck]) -> None:
        """Keep the verdicts of one regression check."""
        with self.db.transaction() as conn:
            conn.executemany(
                f"INSERT INTO baseline_checks ({_rows.BASELINE_CHECK_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_rows.baseline_check_values(c) for c in checks],
            )

    def baseline_checks(
        self, database: str | None = None, *, query_key: str | None = None, limit: int = 1000
    ) -> list[BaselineCheck]:
        """Past verdicts, newest first (of one database and one query when given)."""
        clause, params = _rows.where(("database = ?", database), ("query_key = ?", query_key))
        rows = self.db.query(
            f"SELECT * FROM baseline_checks {clause} ORDER BY checked_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_rows.baseline_check(r) for r in rows]

    # --- operation timings ----------------------------------------------------------------

    def timings_add(self, timings: Sequence[OperationTiming]) -> None:
        """Keep how long some of plimsoll's own operations took."""
        if not timings:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO operation_timings (operation, seconds, recorded_at, ok)"
                " VALUES (?, ?, ?, ?)",
                [(t.operation, t.seconds, t.recorded_at, int(t.ok)) for t in timings],
            )

    def timings(
        self, operation: str | None = None, *, since: float | None = None
    ) -> list[OperationTiming]:
        """Recorded timings, oldest first (of one operation, from ``since``, when given)."""
        clause, params = _rows.where(("operation = ?", operation), ("recorded_at >= ?", since))
        rows = self.db.query(
            f"SELECT * FROM operation_timings {clause} ORDER BY recorded_at, id", params
        )
        return [_rows.operation_timing(r) for r in rows]

    def timings_purge(self, before: float) -> int:
        """Delete timings recorded before ``before``; return how many went."""
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM operation_timings WHERE recorded_at < ?", (before,))
            return cursor.rowcount
