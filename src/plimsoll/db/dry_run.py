"""Dry-run: pending migrations run for real inside one transaction that is then rolled back.

Each statement's duration, the locks it needs (:mod:`plimsoll.db.dry_run_locks`: those
``pg_locks`` shows it took, and those its kind takes that the transaction held already) and
the rows it affected are captured; the rollback leaves the schema and the data as they were.
Sequence values taken by ``nextval`` are the one thing PostgreSQL never rolls back: the
sequences the dry run moved are reported (:mod:`plimsoll.db.dry_run_sequences`), never set
back (other sessions may have taken later values meanwhile; going back would hand out
duplicates); one moved backwards fails the dry run.

A statement that cannot run in a transaction block (:mod:`plimsoll.db.dry_run_guard`) is run
as its transactional equivalent (``CREATE INDEX CONCURRENTLY`` as ``CREATE INDEX``, with the
locks the real statement takes, not those observed) or, changing no schema (``VACUUM``),
skipped with a note. A migration with one that has neither, or that calls ``setval``, is
reported as not dry-runnable, with the reason, and is not run; neither is anything after it,
since it might depend on it: those are named in :attr:`DryRunReport.not_run`, and
:func:`verdict` says in one line why the dry run failed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from plimsoll.core.log import get_logger
from plimsoll.db import migrations as files
from plimsoll.db.connection import connect_url
from plimsoll.db.dry_run_guard import Execution, Substitute
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

if TYPE_CHECKING:
    from plimsoll.db.sql import Statement
    from plimsoll.db.sqljson import JsonStatement

__all__ = [
    "DryRunReport",
    "Execution",
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
    "verdict",
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

    ``execution`` says how it ran: as written; as its transactional ``equivalent`` (that
    SQL), its ``locks`` then those the real statement takes (state ``documented``) and
    ``equivalent_locks`` those the equivalent took (never what the real run takes); or
    ``skipped``, not run at all. ``note`` says why and what differs.
    """

    line: int
    kind: str
    duration_ms: float
    rows: int | None
    locks: tuple[Lock, ...]
    transient_locks: int = 0
    execution: Execution = Execution.AS_WRITTEN
    equivalent: str | None = None
    equivalent_locks: tuple[Lock, ...] = ()
    note: str | None = None


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
                run_plan(conn, migrator, plan, report, equivalents=True)
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
    _finished(report, fields, clock, _first_problem(report), verdict(report))
    return report


def verdict(report: DryRunReport) -> str | None:
    """Why the dry run failed, in one line (None: it did not).

    ``0003_x cannot be dry-run (line 1: ALTER SYSTEM); 0004_y, 0005_z were not tried``: the
    migration it stopped at and why, the migrations after it, and the sequences it moved
    backwards.
    """
    parts = []
    for migration in report.migrations:
        if migration.error:
            parts.append(f"{migration.label} failed ({migration.error})")
        elif not migration.dry_runnable:
            parts.append(f"{migration.label} cannot be dry-run ({migration.reason})")
    if report.not_run:
        were = "was" if len(report.not_run) == 1 else "were"
        parts.append(f"{', '.join(report.not_run)} {were} not tried")
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
            return f"{migration.label} cannot be dry-run ({migration.reason})"
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
    *,
    equivalents: bool = False,
) -> None:
    """Run ``plan`` in ``conn``'s open transaction, filling ``report``; the caller rolls back.

    It stops at the first migration that fails or cannot be dry-run, and names the ones
    after it in ``report.not_run``. ``report.used_sequences`` gets the sequences the
    transaction locked to change: pass them to :func:`moved_sequences` after the rollback.
    ``equivalents``: a statement that cannot run in a transaction block is run as its
    transactional equivalent, or skipped (see :mod:`plimsoll.db.dry_run_guard`), as
    :func:`dry_run` does; without it (the default, for the callers written before), its
    migration is not dry-runnable.
    """
    locks = LockTracker(conn, migrator)
    try:
        for index, migration in enumerate(plan):
            # Each migration from the session the run found, as `up` runs it (SET search_path,
            # SET ROLE, ... of one do not reach the next), with the timeouts set.
            migrator.begin_migration(conn, local=True)
            run = _migration(conn, migration, locks, equivalents, migrator.project_root)
            report.migrations.append(run)
            if run.error or not run.dry_runnable:
                report.stopped_at = run.label
                report.not_run = [m.label for m in plan[index + 1 :]]
                return
    finally:
        report.used_sequences |= locks.sequences
        locks.close()


def _migration(
    conn: psycopg.Connection[Any],
    migration: files.Migration,
    locks: LockTracker,
    equivalents: bool,
    root: Path | None = None,
) -> MigrationRun:
    """Dry-run one migration in the open transaction (nothing of it when it cannot be).

    ``root``: the project's folder, importable by a Python migration (as when it is applied).
    """
    if migration.kind is files.Kind.PYTHON:
        return _python(conn, migration, locks, root)
    from plimsoll.db.dry_run_guard import refusal
    from plimsoll.db.sqljson import parse_json

    version = conn.info.server_version
    steps = plan_sql(migration.up, version)
    trees = []
    for statement in steps.statements:
        (tree,) = parse_json(statement.text, str(migration.up)).statements
        trees.append(tree)
    stand_ins: list[Substitute | None] = [None] * len(trees)
    reason = steps.reason
    if equivalents and not steps.transactional:
        stand_ins, reason = _stand_ins(steps.statements, trees, version)
    reasons = [
        reason,
        refusal((s.start_line, t.node) for s, t in zip(steps.statements, trees, strict=True)),
    ]
    if any(reasons):
        why = "; ".join(r for r in reasons if r)
        return MigrationRun(migration.version, migration.name, dry_runnable=False, reason=why)
    runs: list[StatementRun] = []
    for statement, tree, stand_in in zip(steps.statements, trees, stand_ins, strict=True):
        try:
            if stand_in is None:
                runs.append(_as_written(conn, migration, statement, tree, locks))
            else:
                runs.append(_instead(conn, migration, statement, tree, stand_in, locks))
        except _Failed as failed:
            error = f"{migration.up}:{statement.start_line}: {failed}"
            return MigrationRun(migration.version, migration.name, tuple(runs), error=error)
    return MigrationRun(migration.version, migration.name, tuple(runs))


class _Failed(Exception):
    """A statement of the dry run failed: its message, as the server (or the real run) says."""


def _stand_ins(
    statements: Sequence[Statement], trees: Sequence[JsonStatement], version: int
) -> tuple[list[Substitute | None], str | None]:
    """What runs in place of each statement (None: itself, it can run in a transaction
    block), and ``line N: reason`` for each one that has no equivalent (None: every one
    has)."""
    from plimsoll.db.dry_run_guard import substitute
    from plimsoll.db.sql import transactional

    found: list[Substitute | None] = []
    missing: list[str] = []
    for statement, tree in zip(statements, trees, strict=True):
        requirement = transactional(statement, version)
        if requirement.in_transaction:
            found.append(None)
            continue
        reason = requirement.reason or tree.kind
        stand_in = substitute(tree.kind, tree.node, statement.text, reason)
        if stand_in is None:
            missing.append(f"line {statement.start_line}: {reason}")
        found.append(stand_in)
    return found, "; ".join(missing) or None


def _as_written(
    conn: psycopg.Connection[Any],
    migration: files.Migration,
    statement: Statement,
    tree: JsonStatement,
    locks: LockTracker,
) -> StatementRun:
    """Run ``statement`` as written; raise _Failed with the server's message."""
    wanted = locks.resolve(needed_locks(tree.kind, tree.node, conn.info.server_version))
    took, rows = _execute(conn, statement.text)
    taken = locks.taken(wanted, f"{migration.label} line {statement.start_line}")
    return StatementRun(
        statement.start_line, statement.kind, took, rows, taken.locks, taken.transient
    )


def _instead(
    conn: psycopg.Connection[Any],
    migration: files.Migration,
    statement: Statement,
    tree: JsonStatement,
    stand_in: Substitute,
    locks: LockTracker,
) -> StatementRun:
    """Run ``stand_in`` in place of ``statement`` (or nothing, when it is skipped).

    The real statement's locks are asked before the equivalent runs (it may drop what they
    are on); what the equivalent took goes to ``equivalent_locks``, never to ``locks``.
    """
    from plimsoll.db.dry_run_guard import server_check

    checked = server_check(conn, tree.kind, tree.node, stand_in)
    if isinstance(checked, str):
        raise _Failed(f"{checked} (the error the real {stand_in.statement} gets)")
    if checked.execution is Execution.SKIPPED:
        return StatementRun(
            statement.start_line,
            statement.kind,
            0.0,
            None,
            (),
            execution=Execution.SKIPPED,
            note=checked.note,
        )
    real = locks.documented(tree.kind, tree.node)
    took, rows = _execute(conn, checked.text)
    taken = locks.taken((), f"{migration.label} line {statement.start_line}")
    return StatementRun(
        statement.start_line,
        statement.kind,
        took,
        rows,
        real,
        taken.transient,
        execution=Execution.EQUIVALENT,
        equivalent=checked.text.strip(),
        equivalent_locks=taken.locks,
        note=checked.note,
    )


def _execute(conn: psycopg.Connection[Any], text: str) -> tuple[float, int | None]:
    """Run ``text``: its duration in ms and the rows it affected; raise _Failed."""
    started = time.perf_counter()
    try:
        cursor = conn.execute(text, prepare=False)
    except psycopg.Error as exc:
        raise _Failed((exc.diag.message_primary or str(exc)).splitlines()[0]) from None
    took = round((time.perf_counter() - started) * 1000, 3)
    return took, cursor.rowcount if cursor.rowcount >= 0 else None


def _python(
    conn: psycopg.Connection[Any],
    migration: files.Migration,
    locks: LockTracker,
    root: Path | None,
) -> MigrationRun:
    from plimsoll.db.migration_plan import load_module, recording, user_code

    # As when it is applied: its prints on stderr (stdout may be JSON), the project importable,
    # and a COMMIT of its own refused before it is sent (it would end the dry run's transaction).
    with user_code(root):
        function = getattr(load_module(migration.up), "up", None)
        started = time.perf_counter()
        try:
            if callable(function):
                with recording(conn):
                    function(conn)
        except Exception as exc:  # noqa: BLE001 - the user's code: reported with its line
            return MigrationRun(
                migration.version, migration.name, error=python_failure(migration.up, "up", exc)
            )
    took = (time.perf_counter() - started) * 1000
    taken = locks.taken((), migration.label)
    run = StatementRun(1, "python:up", round(took, 3), None, taken.locks, taken.transient)
    return MigrationRun(migration.version, migration.name, (run,))
