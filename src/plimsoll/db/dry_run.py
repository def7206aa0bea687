"""Dry-run: pending migrations run for real inside one transaction that is then rolled back.

Each statement's duration, the locks it newly took (from ``pg_locks``: those held after it
minus those held before it) and the rows it affected are captured; the rollback leaves the
schema and the data as they were. Sequence values taken by ``nextval`` are the one thing
PostgreSQL never rolls back: the sequences the dry run advanced are reported, never set back
(other sessions may have taken later values meanwhile; going back would hand out duplicates).
A migration that cannot run inside a transaction block is reported as not dry-runnable, with
the reason, and is not run; neither is anything after it, since it might depend on it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql as pgsql

from plimsoll.core.log import get_logger
from plimsoll.db import migrations as files
from plimsoll.db.connection import connect_url
from plimsoll.db.migration_plan import plan_sql
from plimsoll.db.migrator import Migrator, python_failure

log = get_logger(__name__)

# Locks the transaction holds: the columns after the first four identify the locked object,
# so two locks differ when their object or their mode differs. Left out: the transaction's
# own ids, the system catalogs and TOAST relations (every statement touches them), and the
# relations whose oids are passed (the migrator's tracking table and its indexes).
_LOCKS = """
SELECT l.locktype, COALESCE(c.relname, l.relation::text, ''), l.mode,
  CASE WHEN l.locktype = 'object'
    THEN COALESCE(pg_describe_object(l.classid, l.objid, l.objsubid), '') ELSE '' END,
  l.database, l.relation, l.page, l.tuple, l.classid, l.objid, l.objsubid
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.pid = pg_backend_pid() AND l.granted
  AND l.locktype NOT IN ('virtualxid', 'transactionid')
  AND (n.nspname IS NULL OR n.nspname NOT IN ('pg_catalog', 'pg_toast', 'information_schema'))
  AND (l.relation IS NULL OR l.relation <> ALL(%s::oid[]))
ORDER BY 2, 3, 4
"""

# The tracking table and its indexes (its TOAST relation is left out as all TOAST is).
_TRACKING = """
SELECT oid FROM pg_class WHERE oid = to_regclass(%(name)s)
UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = to_regclass(%(name)s)
"""

# Every sequence the user can read, with its last value (NULL: never used, or not readable).
# What the pg_sequences view computes, plus the oid, which currval takes.
_SEQUENCES = """
SELECT c.oid::int8, n.nspname, c.relname,
  CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
    THEN pg_sequence_last_value(c.oid) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND NOT pg_is_other_temp_schema(n.oid)
"""


@dataclass(frozen=True)
class Lock:
    """A lock a statement of the dry run took.

    ``relation`` names the locked relation (or its oid when it has no name, as the new
    files of a rewrite); ``object`` describes the locked object of an ``object`` lock
    (``schema public``); both are empty for other kinds of lock.
    """

    locktype: str
    relation: str
    mode: str
    object: str = ""


@dataclass(frozen=True)
class StatementRun:
    """One statement as the dry run saw it; ``locks`` are those it newly took."""

    line: int
    kind: str
    duration_ms: float
    rows: int | None
    locks: tuple[Lock, ...]


@dataclass(frozen=True)
class MigrationRun:
    """One migration's dry run: its statements, or why it could not be dry-run.

    ``sequences`` are those its dry run advanced when it was dry-run alone (the wizard); a
    dry run of several migrations reports them once, in :attr:`DryRunReport.sequences`.
    """

    version: str
    name: str
    statements: tuple[StatementRun, ...] = ()
    dry_runnable: bool = True
    reason: str | None = None
    error: str | None = None
    sequences: tuple[SequenceAdvance, ...] = ()


@dataclass(frozen=True)
class SequenceAdvance:
    """A sequence the dry run advanced: rolling back does not undo it.

    ``before`` is None when the sequence had never been used.
    """

    schema: str
    name: str
    before: int | None
    after: int | None

    @property
    def qualified(self) -> str:
        """``schema.name``."""
        return f"{self.schema}.{self.name}"


@dataclass
class DryRunReport:
    """What the dry run found; nothing of it was kept but the ``sequences`` it advanced."""

    migrations: list[MigrationRun] = field(default_factory=list)
    rolled_back: bool = False
    sequences: list[SequenceAdvance] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether a statement failed or a migration could not be dry-run."""
        return any(m.error or not m.dry_runnable for m in self.migrations)


# A lock's identity: every pg_locks column naming the object, and the mode. A stronger mode
# on an object already locked is another identity, so an upgrade shows as a new lock.
_Key = tuple[Any, ...]


class _LockTracker:
    """The locks the transaction holds, to tell what each statement newly took."""

    def __init__(self, conn: psycopg.Connection[Any], migrator: Migrator) -> None:
        self.conn = conn
        name = pgsql.SQL(".").join(
            pgsql.Identifier(part) for part in migrator.settings.tracking_table.split(".")
        )
        rows = conn.execute(_TRACKING, {"name": name.as_string(conn)}).fetchall()
        # The migrator's own bookkeeping is not the migration's doing.
        self.hidden = [row[0] for row in rows]
        self.held = self._held()

    def _held(self) -> dict[_Key, Lock]:
        rows = self.conn.execute(_LOCKS, (self.hidden,)).fetchall()
        return {(*row[4:], row[2], row[0]): Lock(*row[:4]) for row in rows}

    def taken(self) -> tuple[Lock, ...]:
        """The locks taken since the last call (or since the tracker was made)."""
        now = self._held()
        new = tuple(lock for key, lock in now.items() if key not in self.held)
        self.held = now
        return new


@dataclass(frozen=True)
class SequenceState:
    """A sequence's last value (None: never used, or not readable by the user)."""

    schema: str
    name: str
    value: int | None


def sequence_values(conn: psycopg.Connection[Any]) -> dict[int, SequenceState]:
    """Every readable sequence's last value, by oid (one query; a sequence read is cheap)."""
    rows = conn.execute(_SEQUENCES).fetchall()
    return {oid: SequenceState(schema, name, value) for oid, schema, name, value in rows}


def advanced_sequences(
    conn: psycopg.Connection[Any], before: dict[int, SequenceState]
) -> list[SequenceAdvance]:
    """The sequences that moved since ``before`` and that this session used.

    Call it after the rollback: a sequence the dry run created is gone again. A sequence
    that moved only because other sessions used it meanwhile is left out: ``currval`` is
    defined only for sequences this session called ``nextval`` (or ``setval``) on, and the
    dry run's connection is its own.
    """
    after = sequence_values(conn)
    moved: list[SequenceAdvance] = []
    for oid, old in before.items():
        new = after.get(oid)
        if new is None or new.value == old.value:
            continue
        try:
            with conn.transaction():
                conn.execute("SELECT currval(%s::oid::regclass)", (oid,))
        except psycopg.DatabaseError:
            # Not used by this session (or dropped meanwhile): not the dry run's doing.
            continue
        moved.append(SequenceAdvance(new.schema, new.name, old.value, new.value))
    return sorted(moved, key=lambda s: (s.schema, s.name))


def dry_run(migrator: Migrator, target: str | None = None) -> DryRunReport:
    """Run ``migrator``'s pending migrations (up to ``target``) and roll everything back.

    Logs ``dry_run_start`` (database, target, the planned migrations), then
    ``dry_run_completed`` or ``dry_run_failed`` (with the error and the duration).
    """
    found = files.discover(migrator.folder)
    report = DryRunReport()
    clock = time.perf_counter()
    fields: dict[str, Any] = {"target": target}
    with connect_url(migrator.conninfo, application_name="plimsoll-dry-run") as conn:
        fields["database"] = f"{conn.info.host}/{conn.info.dbname}"
        migrator.set_timeouts(conn, local=True)
        applied = migrator.applied_files(conn)
        plan = files.plan_up(found, applied, target)
        fields["pending"] = [m.label for m in plan]
        log.info(
            "dry run of %d migrations starting",
            len(plan),
            extra={"event": "dry_run_start", **fields},
        )
        try:
            sequences = sequence_values(conn)
            # Reading them took locks of their own: the dry run's transaction starts clean.
            conn.rollback()
            try:
                run_plan(conn, migrator, plan, report)
            finally:
                conn.rollback()
                report.rolled_back = True
            report.sequences = advanced_sequences(conn, sequences)
            conn.rollback()
        except Exception as exc:
            _finished(report, fields, clock, f"{type(exc).__name__}: {exc}")
            raise
    _finished(report, fields, clock, _first_problem(report))
    return report


def _first_problem(report: DryRunReport) -> str | None:
    """The first statement error, or why a migration could not be dry-run (None: neither)."""
    for migration in report.migrations:
        label = f"{migration.version}_{migration.name}"
        if migration.error:
            return migration.error
        if not migration.dry_runnable:
            return f"{label} is not dry-runnable: {migration.reason}"
    return None


def _finished(
    report: DryRunReport, fields: dict[str, Any], clock: float, error: str | None
) -> None:
    """Log the end of the dry run: ``dry_run_failed`` with the error, else ``dry_run_completed``."""
    outcome = {
        **fields,
        "event": "dry_run_failed" if error else "dry_run_completed",
        "duration_ms": round((time.perf_counter() - clock) * 1000, 3),
        "migrations": len(report.migrations),
        "sequences_advanced": len(report.sequences),
        "rolled_back": report.rolled_back,
    }
    if error:
        log.warning("dry run failed: %s", error, extra={**outcome, "error": error})
    else:
        log.info("dry run finished", extra=outcome)


def run_plan(
    conn: psycopg.Connection[Any],
    migrator: Migrator,
    plan: Sequence[files.Migration],
    report: DryRunReport,
) -> None:
    """Run ``plan`` in ``conn``'s open transaction, filling ``report``; the caller rolls back."""
    migrator.set_timeouts(conn, local=True)
    locks = _LockTracker(conn, migrator)
    for migration in plan:
        if migration.kind is files.Kind.PYTHON:
            report.migrations.append(_python(conn, migration, locks))
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
                    statement.start_line, statement.kind, round(took, 3), rows, locks.taken()
                )
            )
        report.migrations.append(MigrationRun(migration.version, migration.name, tuple(runs)))


def _python(
    conn: psycopg.Connection[Any], migration: files.Migration, locks: _LockTracker
) -> MigrationRun:
    from plimsoll.db.migration_plan import load_module

    function = getattr(load_module(migration.up), "up", None)
    started = time.perf_counter()
    try:
        if callable(function):
            function(conn)
    except Exception as exc:  # noqa: BLE001 - the user's code: reported with its line
        return MigrationRun(
            migration.version, migration.name, error=python_failure(migration.up, "up", exc)
        )
    took = (time.perf_counter() - started) * 1000
    run = StatementRun(1, "python:up", round(took, 3), None, locks.taken())
    return MigrationRun(migration.version, migration.name, (run,))
