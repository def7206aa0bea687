"""Dry-run: pending migrations run for real inside one transaction that is then rolled back.

Each statement's duration, the locks its transaction holds right after it (from ``pg_locks``)
and the rows it affected are captured; the rollback leaves the schema and the data as they
were (sequence values taken by ``nextval`` are the one thing PostgreSQL never rolls back). A
migration that cannot run inside a transaction block is reported as not dry-runnable, with
the reason, and is not run; neither is anything after it, since it might depend on it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from plimsoll.core.log import get_logger
from plimsoll.db import migrations as files
from plimsoll.db.migration_plan import plan_sql
from plimsoll.db.migrator import Migrator

log = get_logger(__name__)

# Locks the transaction holds, other than on its own virtual/transaction id.
_LOCKS = """
SELECT l.locktype, COALESCE(c.relname, l.relation::text, ''), l.mode
FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND l.locktype NOT IN ('virtualxid', 'transactionid')
  AND (c.relname IS NULL OR c.relname NOT LIKE 'pg\\_%')
ORDER BY 2, 3
"""


@dataclass(frozen=True)
class Lock:
    """A lock held by the dry-run's transaction."""

    locktype: str
    relation: str
    mode: str


@dataclass(frozen=True)
class StatementRun:
    """One statement as the dry run saw it."""

    line: int
    kind: str
    duration_ms: float
    rows: int | None
    locks: tuple[Lock, ...]


@dataclass(frozen=True)
class MigrationRun:
    """One migration's dry run: its statements, or why it could not be dry-run."""

    version: str
    name: str
    statements: tuple[StatementRun, ...] = ()
    dry_runnable: bool = True
    reason: str | None = None
    error: str | None = None


@dataclass
class DryRunReport:
    """What the dry run found; nothing of it was kept."""

    migrations: list[MigrationRun] = field(default_factory=list)
    rolled_back: bool = False

    @property
    def failed(self) -> bool:
        """Whether a statement failed or a migration could not be dry-run."""
        return any(m.error or not m.dry_runnable for m in self.migrations)


def _locks(conn: psycopg.Connection[Any]) -> tuple[Lock, ...]:
    return tuple(Lock(*row) for row in conn.execute(_LOCKS).fetchall())


def dry_run(migrator: Migrator, target: str | None = None) -> DryRunReport:
    """Run ``migrator``'s pending migrations (up to ``target``) and roll everything back."""
    found = files.discover(migrator.folder)
    report = DryRunReport()
    log.info("dry run starting", extra={"event": "dry_run_start"})
    with psycopg.connect(migrator.conninfo, application_name="plimsoll-dry-run") as conn:
        applied = migrator.applied_files(conn)
        plan = files.plan_up(found, applied, target)
        try:
            run_plan(conn, migrator, plan, report)
        finally:
            conn.rollback()
            report.rolled_back = True
    event = "dry_run_failed" if report.failed else "dry_run_completed"
    log.info("dry run finished", extra={"event": event, "migrations": len(report.migrations)})
    return report


def run_plan(
    conn: psycopg.Connection[Any],
    migrator: Migrator,
    plan: Sequence[files.Migration],
    report: DryRunReport,
) -> None:
    """Run ``plan`` in ``conn``'s open transaction, filling ``report``; the caller rolls back."""
    migrator.set_timeouts(conn, local=True)
    for migration in plan:
        if migration.kind is files.Kind.PYTHON:
            report.migrations.append(_python(conn, migration))
            if report.migrations[-1].error:
                return
            continue
        steps = plan_sql(migration.up, conn.info.server_version)
        if not steps.transactional:
            report.migrations.append(
                MigrationRun(
                    migration.version, migration.name, dry_runnable=False, reason=steps.reason
                )
            )
            return
        runs: list[StatementRun] = []
        for statement in steps.statements:
            started = time.perf_counter()
            try:
                cursor = conn.execute(statement.text, prepare=False)
            except psycopg.Error as exc:
                message = (exc.diag.message_primary or str(exc)).splitlines()[0]
                report.migrations.append(
                    MigrationRun(
                        migration.version,
                        migration.name,
                        tuple(runs),
                        error=f"{migration.up}:{statement.start_line}: {message}",
                    )
                )
                return
            took = (time.perf_counter() - started) * 1000
            rows = cursor.rowcount if cursor.rowcount >= 0 else None
            runs.append(
                StatementRun(
                    statement.start_line, statement.kind, round(took, 3), rows, _locks(conn)
                )
            )
        report.migrations.append(MigrationRun(migration.version, migration.name, tuple(runs)))


def _python(conn: psycopg.Connection[Any], migration: files.Migration) -> MigrationRun:
    from plimsoll.db.migration_plan import load_module

    function = getattr(load_module(migration.up), "up", None)
    started = time.perf_counter()
    try:
        if callable(function):
            function(conn)
    except psycopg.Error as exc:
        message = (exc.diag.message_primary or str(exc)).splitlines()[0]
        return MigrationRun(migration.version, migration.name, error=f"{migration.up}: {message}")
    took = (time.perf_counter() - started) * 1000
    run = StatementRun(1, "python:up", round(took, 3), None, _locks(conn))
    return MigrationRun(migration.version, migration.name, (run,))
