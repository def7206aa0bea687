"""Dry-run: pending migrations run for real inside one transaction that is then rolled back.

Each statement's duration, the locks it needs (:mod:`plimsoll.db.dry_run_locks`: those
``pg_locks`` shows it took, and those its kind takes that the transaction held already) and
the rows it affected are captured; the rollback leaves the schema and the data as they were.
Sequence values taken by ``nextval`` are the one thing PostgreSQL never rolls back: the
sequences the dry run moved are reported (:mod:`plimsoll.db.dry_run_sequences`), never set
back (other sessions may have taken later values meanwhile; going back would hand out
duplicates); one moved backwards fails the dry run. A migration that cannot run inside a
transaction block, or that calls ``setval`` (:mod:`plimsoll.db.dry_run_guard`), is reported as
not dry-runnable, with the reason, and is not run; neither is anything after it, since it
might depend on it: those are named in :attr:`DryRunReport.not_run`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from plimsoll.core.log import get_logger
from plimsoll.db import migrations as files
from plimsoll.db.connection import connect_url
from plimsoll.db.dry_run_locks import Lock, LockState, LockTracker, needed_locks
from plimsoll.db.dry_run_sequences import (
    SequenceAdvance,
    SequenceMove,
    SequenceState,
    advanced_sequences,
    moved_sequences,
    sequence_values,
)
from plimsoll.db.migration_plan import plan_sql
from plimsoll.db.migrator import Migrator, python_failure

__all__ = [
    "DryRunReport",
    "Lock",
    "LockState",
    "MigrationRun",
    "SequenceAdvance",
    "SequenceMove",
    "SequenceState",
    "StatementRun",
    "advanced_sequences",
    "dry_run",
    "moved_sequences",
    "run_plan",
    "sequence_values",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class StatementRun:
    """One statement as the dry run saw it.

    ``locks`` are every lock it needs: new ones (``pg_locks`` showed them after it) and
    those its kind takes that the transaction held already (see
    :class:`~plimsoll.db.dry_run_locks.Lock`). ``transient_locks`` counts the locks it took
    on relations it created and dropped itself (a rewrite's new files), which no other
    session can wait on: they are not listed.
    """

    line: int
    kind: str
    duration_ms: float
    rows: int | None
    locks: tuple[Lock, ...]
    transient_locks: int = 0


@dataclass(frozen=True)
class MigrationRun:
    """One migration's dry run: its statements, or why it could not be dry-run.

    ``sequences`` are those its dry run moved when it was dry-run alone (the wizard); a dry
    run of several migrations reports them once, in :attr:`DryRunReport.sequences`.
    """

    version: str
    name: str
    statements: tuple[StatementRun, ...] = ()
    dry_runnable: bool = True
    reason: str | None = None
    error: str | None = None
    sequences: tuple[SequenceMove, ...] = ()

    @property
    def label(self) -> str:
        """``version_name``."""
        return f"{self.version}_{self.name}"


@dataclass
class DryRunReport:
    """What the dry run found; nothing of it was kept but the ``sequences`` it moved.

    ``not_run`` are the pending migrations after the one it stopped at (``stopped_at``: one
    that failed or could not be dry-run), which it did not run.
    """

    migrations: list[MigrationRun] = field(default_factory=list)
    rolled_back: bool = False
    sequences: list[SequenceMove] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    stopped_at: str | None = None
    # Oids of the sequences the dry run locked to change (nextval, setval): see run_plan.
    used_sequences: set[int] = field(default_factory=set, repr=False)

    @property
    def backwards(self) -> list[SequenceMove]:
        """The sequences the dry run moved backwards: inserts may now collide."""
        return [s for s in self.sequences if s.backwards]

    @property
    def failed(self) -> bool:
        """Whether a statement failed, a migration could not be dry-run, or a sequence moved
        backwards."""
        return bool(self.backwards) or any(m.error or not m.dry_runnable for m in self.migrations)


def dry_run(migrator: Migrator, target: str | None = None) -> DryRunReport:
    """Run ``migrator``'s pending migrations (up to ``target``) and roll everything back.

    Logs ``dry_run_start`` (database, target, the planned migrations), then
    ``dry_run_completed`` or ``dry_run_failed`` (with the error and the duration), all at
    INFO: the report is what tells the user; the events, with their fields, are for the log.
    """
    found = files.discover(migrator.folder)
    report = DryRunReport()
    clock = time.perf_counter()
    fields: dict[str, Any] = {"target": target}
    with connect_url(migrator.conninfo, application_name="plimsoll-dry-run") as conn:
        fields["database"] = f"{conn.info.host}/{conn.info.dbname}"
        migrator.set_timeouts(conn, local=True)
        applied = migrator.applied_files(conn)
        plan = files.plan_up(found, applied, target, out_of_order=migrator.settings.out_of_order)
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
            except KeyboardInterrupt as exc:  # said on the "plimsoll: interrupted" line
                exc.add_note("the dry run's transaction was rolled back: nothing was applied")
                raise
            finally:
                conn.rollback()
                report.rolled_back = True
            report.sequences = moved_sequences(conn, sequences, report.used_sequences)
            conn.rollback()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            _finished(report, fields, clock, error, error)
            raise
    _finished(report, fields, clock, _first_problem(report), problem(report))
    return report


def problem(report: DryRunReport) -> str | None:
    """What went wrong, in one line: where the dry run stopped and why, the migrations it
    did not run, the sequences it moved backwards (None: nothing)."""
    parts = []
    for migration in report.migrations:
        if migration.error:
            parts.append(f"{migration.label} failed: {migration.error}")
        elif not migration.dry_runnable:
            parts.append(f"{migration.label} is not dry-runnable: {migration.reason}")
    if report.not_run:
        parts.append(f"not run: {', '.join(report.not_run)}")
    for sequence in report.backwards:
        parts.append(
            f"sequence {sequence.qualified} moved backwards"
            f" ({_value(sequence.before)} -> {_value(sequence.after)})"
        )
    return "; ".join(parts) or None


def _first_problem(report: DryRunReport) -> str | None:
    """The event's ``error``: the first statement error, why a migration could not be
    dry-run, or the first sequence moved backwards (None: none of them)."""
    for migration in report.migrations:
        if migration.error:
            return migration.error
        if not migration.dry_runnable:
            return f"{migration.label} is not dry-runnable: {migration.reason}"
    if report.backwards:
        return f"sequence {report.backwards[0].qualified} moved backwards"
    return None


def _value(value: int | None) -> str:
    return "unused" if value is None else str(value)


def _finished(
    report: DryRunReport,
    fields: dict[str, Any],
    clock: float,
    error: str | None,
    summary: str | None,
) -> None:
    """Log the end of the dry run: ``dry_run_failed`` with the error (its message the whole
    ``summary``), else ``dry_run_completed``.

    INFO, not WARNING: the report itself shows the failure (text or JSON, and exit 1); a
    warning would repeat it on the terminal as a dump of the event's fields.
    """
    outcome = {
        **fields,
        "event": "dry_run_failed" if error else "dry_run_completed",
        "duration_ms": round((time.perf_counter() - clock) * 1000, 3),
        "migrations": len(report.migrations),
        "not_run": report.not_run,
        "sequences_moved": len(report.sequences),
        "sequences_moved_backwards": len(report.backwards),
        "rolled_back": report.rolled_back,
    }
    if error:
        log.info("dry run failed: %s", summary or error, extra={**outcome, "error": error})
    else:
        log.info("dry run finished", extra=outcome)


def run_plan(
    conn: psycopg.Connection[Any],
    migrator: Migrator,
    plan: Sequence[files.Migration],
    report: DryRunReport,
) -> None:
    """Run ``plan`` in ``conn``'s open transaction, filling ``report``; the caller rolls back.

    It stops at the first migration that fails or cannot be dry-run, and names the ones
    after it in ``report.not_run``. ``report.used_sequences`` gets the sequences the
    transaction locked to change: pass them to :func:`moved_sequences` after the rollback.
    """
    migrator.set_timeouts(conn, local=True)
    locks = LockTracker(conn, migrator)
    try:
        for index, migration in enumerate(plan):
            run = _migration(conn, migration, locks)
            report.migrations.append(run)
            if run.error or not run.dry_runnable:
                report.stopped_at = run.label
                report.not_run = [m.label for m in plan[index + 1 :]]
                return
    finally:
        report.used_sequences |= locks.sequences
        locks.close()


def _migration(
    conn: psycopg.Connection[Any], migration: files.Migration, locks: LockTracker
) -> MigrationRun:
    """Dry-run one migration in the open transaction (nothing of it when it cannot be)."""
    if migration.kind is files.Kind.PYTHON:
        return _python(conn, migration, locks)
    from plimsoll.db.dry_run_guard import refusal
    from plimsoll.db.sqljson import parse_json

    version = conn.info.server_version
    steps = plan_sql(migration.up, version)
    trees = []
    for statement in steps.statements:
        (tree,) = parse_json(statement.text, str(migration.up)).statements
        trees.append(tree)
    reasons = [
        steps.reason,
        refusal((s.start_line, t.node) for s, t in zip(steps.statements, trees, strict=True)),
    ]
    if not steps.transactional or any(reasons):
        why = "; ".join(r for r in reasons if r)
        return MigrationRun(migration.version, migration.name, dry_runnable=False, reason=why)
    runs: list[StatementRun] = []
    for statement, tree in zip(steps.statements, trees, strict=True):
        wanted = locks.resolve(needed_locks(tree.kind, tree.node, version))
        started = time.perf_counter()
        try:
            cursor = conn.execute(statement.text, prepare=False)
        except psycopg.Error as exc:
            message = (exc.diag.message_primary or str(exc)).splitlines()[0]
            return MigrationRun(
                migration.version,
                migration.name,
                tuple(runs),
                error=f"{migration.up}:{statement.start_line}: {message}",
            )
        took = round((time.perf_counter() - started) * 1000, 3)
        rows = cursor.rowcount if cursor.rowcount >= 0 else None
        taken = locks.taken(wanted, f"{migration.label} line {statement.start_line}")
        runs.append(
            StatementRun(
                statement.start_line, statement.kind, took, rows, taken.locks, taken.transient
            )
        )
    return MigrationRun(migration.version, migration.name, tuple(runs))


def _python(
    conn: psycopg.Connection[Any], migration: files.Migration, locks: LockTracker
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
    taken = locks.taken((), migration.label)
    run = StatementRun(1, "python:up", round(took, 3), None, taken.locks, taken.transient)
    return MigrationRun(migration.version, migration.name, (run,))
