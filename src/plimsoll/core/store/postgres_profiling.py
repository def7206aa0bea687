"""The PostgreSQL store's profiling tables: query baselines with their samples, checks, timings.

A mixin of :class:`~plimsoll.core.store.postgres.PostgresStore`, apart so each module keeps one
area.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plimsoll.core.store import rows as _rows
from plimsoll.core.store.postgres_connection import PgConn, PostgresConnection, lock_key
from plimsoll.core.store.records import BaselineCheck, OperationTiming, QueryBaseline, QuerySample


class PostgresProfiling:
    """Baselines, baseline checks and operation timings over the store's PostgreSQL connection."""

    connection: PostgresConnection

    # --- query baselines ------------------------------------------------------------------

    def baseline_record(
        self, baseline: QueryBaseline, samples: Sequence[QuerySample], *, append: bool = False
    ) -> QueryBaseline:
        """Store ``samples`` as the query's current baseline (see :meth:`Store.baseline_record`)."""
        now = baseline.updated_at
        with self.connection.transaction() as conn:
            # One recorder per query at a time: two cannot both find no current baseline and
            # each start one.
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s)",
                (lock_key("baseline", baseline.database, baseline.query_key),),
            )
            current = conn.execute(
                "SELECT id, metric FROM query_baselines WHERE database = %s AND query_key = %s"
                " AND superseded_at IS NULL ORDER BY id DESC LIMIT 1",
                (baseline.database, baseline.query_key),
            ).fetchone()
            # Samples of another metric (a time, a cost) cannot be pooled: start afresh.
            if append and current is not None and current["metric"] == baseline.metric:
                baseline_id = int(current["id"])
                conn.execute(
                    "UPDATE query_baselines SET updated_at = %s, query = %s,"
                    " name = COALESCE(%s, name) WHERE id = %s",
                    (now, baseline.query, baseline.name, baseline_id),
                )
            else:
                if current is not None:
                    conn.execute(
                        "UPDATE query_baselines SET superseded_at = %s WHERE id = %s",
                        (now, current["id"]),
                    )
                row = conn.execute(
                    "INSERT INTO query_baselines (database, query_key, name, query, metric,"
                    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (
                        baseline.database,
                        baseline.query_key,
                        baseline.name,
                        baseline.query,
                        baseline.metric,
                        baseline.created_at,
                        now,
                    ),
                ).fetchone()
                assert row is not None
                baseline_id = int(row["id"])
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO query_samples (baseline_id, recorded_at, value, execution_ms,"
                    " planning_ms, total_cost, rows, shared_hit, shared_read, plan)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
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
            found = conn.execute(
                "SELECT * FROM query_baselines WHERE id = %s", (baseline_id,)
            ).fetchall()
            return self._with_samples(conn, found)[0]

    @staticmethod
    def _with_samples(conn: PgConn, found: Sequence[Any]) -> list[QueryBaseline]:
        """Baseline rows as QueryBaselines carrying their samples (one query for all samples)."""
        if not found:
            return []
        samples = conn.execute(
            "SELECT * FROM query_samples WHERE baseline_id = ANY(%s) ORDER BY id",
            ([row["id"] for row in found],),
        ).fetchall()
        return _rows.query_baselines(found, samples)

    def baseline_get(self, database: str, query_key: str) -> QueryBaseline | None:
        """The current baseline of one query, with its samples, or None."""
        with self.connection.transaction(readonly=True) as conn:
            found = conn.execute(
                "SELECT * FROM query_baselines WHERE database = %s AND query_key = %s"
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
            ("database = %s", database),
            ("query_key = %s", query_key),
            always=() if include_superseded else ("superseded_at IS NULL",),
        )
        with self.connection.transaction(readonly=True) as conn:
            # Byte order, as SQLite sorts: the same listing whatever the database's collation.
            found = conn.execute(
                f"SELECT * FROM query_baselines {clause}"
                ' ORDER BY database COLLATE "C", query_key COLLATE "C", id DESC',
                params,
            ).fetchall()
            return self._with_samples(conn, found)

    def baseline_checks_add(self, checks: Sequence[BaselineCheck]) -> None:
        """Keep the verdicts of one regression check."""
        if not checks:
            return
        with self.connection.transaction() as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO baseline_checks ({_rows.BASELINE_CHECK_COLUMNS})"
                f" VALUES ({', '.join(['%s'] * 16)})",
                [_rows.baseline_check_values(c) for c in checks],
            )

    def baseline_checks(
        self, database: str | None = None, *, query_key: str | None = None, limit: int = 1000
    ) -> list[BaselineCheck]:
        """Past verdicts, newest first (of one database and one query when given)."""
        clause, params = _rows.where(("database = %s", database), ("query_key = %s", query_key))
        found = self.connection.query(
            f"SELECT * FROM baseline_checks {clause} ORDER BY checked_at DESC, id DESC LIMIT %s",
            (*params, limit),
        )
        return [_rows.baseline_check(row) for row in found]

    # --- operation timings ----------------------------------------------------------------

    def timings_add(self, timings: Sequence[OperationTiming]) -> None:
        """Keep how long some of plimsoll's own operations took."""
        if not timings:
            return
        with self.connection.transaction() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO operation_timings (operation, seconds, recorded_at, ok)"
                " VALUES (%s, %s, %s, %s)",
                [(t.operation, t.seconds, t.recorded_at, t.ok) for t in timings],
            )

    def timings(
        self, operation: str | None = None, *, since: float | None = None
    ) -> list[OperationTiming]:
        """Recorded timings, oldest first (of one operation, from ``since``, when given)."""
        clause, params = _rows.where(("operation = %s", operation), ("recorded_at >= %s", since))
        found = self.connection.query(
            f"SELECT * FROM operation_timings {clause} ORDER BY recorded_at, id", params
        )
        return [_rows.operation_timing(row) for row in found]

    def timings_purge(self, before: float) -> int:
        """Delete timings recorded before ``before``; return how many went."""
        with self.connection.transaction() as conn:
            cursor = conn.execute("DELETE FROM operation_timings WHERE recorded_at < %s", (before,))
            return cursor.rowcount
