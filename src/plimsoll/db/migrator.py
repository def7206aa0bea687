"""Applies and reverts migrations against a live PostgreSQL, one migrator at a time.

- Tracking table (``plimsoll_migrations`` by default): version, name, checksum (SHA-256 of
  the file), applied_at, execution_ms, applied_by, and applied_rank: the order rows were
  applied in, from an identity column (Flyway's ``installed_rank``). ``down`` follows it.
  Not ``applied_at``: rows written in one transaction (a baseline) share it, and a server
  clock set back would reorder them. A table made before the rank existed gets it on the
  next ``up`` or ``down``, its rows numbered by ``applied_at`` (then version): all they have.
- Order (see :mod:`plimsoll.db.migrations`): a pending migration older than the newest
  applied one is refused unless ``out_of_order`` is allowed; ``status`` lists such ones.
- File names: a file that starts like a migration but is not one is warned about once per
  :class:`Migrator`.
- One migrator at a time: a session-level advisory lock held for the whole run; a second
  migrator waits (saying so) up to ``lock_wait_seconds``, then finds nothing left to do.
- Each migration runs in its own transaction with ``lock_timeout`` and ``statement_timeout``
  set locally, and its tracking row is written in that same transaction: a migrator killed
  mid-way leaves the database at the previous version.
- A migration containing a statement that cannot run in a transaction block (``CREATE
  INDEX CONCURRENTLY``, ``VACUUM``, ...) runs statement by statement outside one, with the
  timeouts set for the session; its tracking row is written once every statement succeeded.
  Put such a statement in a migration of its own: if a later statement of the same file
  fails, the earlier ones stay applied. An INVALID index left by a failed concurrent build
  is reported by ``status`` and before the next ``up``.
- ``BEGIN``/``COMMIT`` in a file: one pair wrapping the whole file is dropped (the migrator
  opens the transaction itself); any other transaction control is an error naming its line.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql

from plimsoll.core.errors import ExitCode, PlimsollError, UsageError
from plimsoll.core.hooks import HookContext, HookExecutor, HookFailed, HookRun
from plimsoll.core.log import get_logger
from plimsoll.core.store import MigrationRun, Store
from plimsoll.db import migrations as files
from plimsoll.db.advisory import take_advisory_lock
from plimsoll.db.checksums import ChecksumCache
from plimsoll.db.hooks import DbPhase, ErrorContext, MigrationContext, RunContext, StatementContext
from plimsoll.db.migration_plan import MigrationPlan, load_module, plan_sql
from plimsoll.db.profiling.objectives import Operation, flush_timings, record_timing

if TYPE_CHECKING:
    from plimsoll.db.sql import QualifiedName, Statement

log = get_logger(__name__)

APPLIED = "applied"
"""The outcome of a migration run that applied or reverted its migration (store, trace)."""
FAILED = "failed"
"""The outcome of a run, or a migration, that failed: rolled back, later ones not run."""
INTERRUPTED = "interrupted"
"""The outcome of a run, or a migration, stopped by Ctrl-C or SIGTERM."""


class MigrationError(PlimsollError):
    """A migration failed: rolled back, later ones not run (exit 1, a finding)."""

    exit_code = ExitCode.FINDINGS
    slug = "migration-failed"


class DriftError(PlimsollError):
    """Applied migration files changed since; refused unless allowed (exit 1)."""

    exit_code = ExitCode.FINDINGS
    slug = "migration-drift"


class LockTimeoutError(PlimsollError):
    """Another migrator held the lock for longer than we were willing to wait (exit 3)."""

    exit_code = ExitCode.CANNOT_RUN
    slug = "migrator-locked"


@dataclass(frozen=True)
class Settings:
    """How the migrator behaves; from the ``db`` config and the environment."""

    tracking_table: str = "plimsoll_migrations"
    lock_timeout: str = "5s"
    statement_timeout: str = "1min"
    lock_wait_seconds: float = 60.0
    # Apply pending migrations older than the newest applied one (``db.out_of_order``).
    out_of_order: bool = False


@dataclass(frozen=True)
class AppliedRow:
    """A row of the tracking table (``applied_rank`` None: a table of the layout before it)."""

    version: str
    name: str
    checksum: str
    applied_at: datetime
    execution_ms: int
    applied_by: str
    applied_rank: int | None = None


@dataclass(frozen=True)
class InvalidIndex:
    """An index that is not valid: one a failed concurrent build left, or a partitioned
    table's index made ``ON ONLY`` that waits for its partitions' indexes to be attached.

    ``partitions`` is the partitioned table's number of partitions (None for a plain index)
    and ``attached`` how many have their index attached.
    """

    schema: str
    table: str
    index: str
    partitions: int | None = None
    attached: int = 0

    @property
    def waiting(self) -> bool:
        """Whether it is a partitioned table's index still being put together (no failure)."""
        return self.partitions is not None

    def describe(self) -> str:
        """One line saying what is wrong and what to do."""
        name = f"{self.schema}.{self.index}"
        if self.partitions is None:
            return (
                f"index {name} on {self.table} is INVALID (a failed concurrent build?):"
                " drop it and build it again"
            )
        return (
            f"index {name} on partitioned table {self.table} is not valid yet: {self.attached}"
            f" of {self.partitions} partitions have their index attached (ALTER INDEX {name}"
            " ATTACH PARTITION ...)"
        )


@dataclass(frozen=True)
class Status:
    """Where a database stands: applied (by version), pending, changed files, invalid indexes.

    ``out_of_order`` are the pending migrations older than ``newest_applied`` (its label).
    """

    applied: tuple[AppliedRow, ...]
    pending: tuple[files.Migration, ...]
    drift: tuple[files.Drift, ...]
    invalid_indexes: tuple[InvalidIndex, ...]
    server_version: int
    out_of_order: tuple[files.Migration, ...] = ()
    newest_applied: str | None = None

    @property
    def current(self) -> str | None:
        """The newest applied version, or None."""
        if not self.applied:
            return None
        return max(self.applied, key=lambda r: files.version_key(r.version)).version


@dataclass(frozen=True)
class StepResult:
    """One migration applied or reverted."""

    version: str
    name: str
    direction: str
    duration_ms: int
    transactional: bool
    statements: int
    tables: tuple[str, ...] = ()
    # Applied although older than the newest applied migration (allowed by the caller).
    out_of_order: bool = False


@dataclass
class RunReport:
    """What a run did.

    ``hook_trace`` is the JSON trace of the run's hooks; its ``outcome`` is the run's when
    the run failed or was interrupted (``failed``, ``interrupted``), else its hooks'.
    """

    direction: str
    steps: list[StepResult] = field(default_factory=list)
    waited_seconds: float = 0.0
    hook_trace: str | None = None


def advisory_key(table: str) -> int:
    """The advisory lock id of a tracking table (a stable signed 64-bit integer)."""
    digest = hashlib.sha256(f"plimsoll-migrator:{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# The order rows of a tracking table without applied_rank were applied in, as far as it can tell:
# rows of one transaction share applied_at, and are then taken in (numeric) version order.
_APPLIED_ORDER = pgsql.SQL("applied_at, string_to_array(version, '.')::numeric[]")


def _table(name: str) -> pgsql.Composable:
    parts = name.split(".")
    return pgsql.SQL(".").join(pgsql.Identifier(p) for p in parts)


def _line_of(statement: Statement, position: int | None) -> int:
    """The file line of a 1-based character position inside a statement's text."""
    if not position:
        return statement.start_line
    return statement.start_line + statement.text[: position - 1].count("\n")


class Migrator:
    """Status, up and down for one database and one migrations folder."""

    def __init__(
        self,
        conninfo: str,
        folder: Path,
        settings: Settings | None = None,
        *,
        on_wait: Callable[[str], None] | None = None,
        hooks: HookExecutor | None = None,
        store: Store | None = None,
        checksum_cache: Path | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.folder = folder
        self.settings = settings or Settings()
        self.on_wait = on_wait
        self.hooks = hooks
        self.store = store
        self.checksums = ChecksumCache(checksum_cache) if checksum_cache is not None else None
        self._run_hooks: HookRun | None = None
        self._database = ""
        # Misnamed files already warned about: once per migrator, however often it scans.
        self._warned: set[Path] = set()

    # -- connections ---------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        from plimsoll.db.connection import connect_url

        with connect_url(
            self.conninfo, autocommit=True, application_name="plimsoll-migrator"
        ) as conn:
            yield conn

    def _ensure_table(self, conn: psycopg.Connection[Any]) -> None:
        """Create the tracking table, or give one of the layout before ``applied_rank`` it."""
        schema, dot, _ = self.settings.tracking_table.rpartition(".")
        if dot:
            # A tracking table in a schema of its own: the schema is made with it.
            conn.execute(
                pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema))
            )
        conn.execute(
            pgsql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " version text PRIMARY KEY,"
                " name text NOT NULL,"
                " checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " execution_ms integer NOT NULL,"
                " applied_by text NOT NULL DEFAULT current_user,"
                " applied_rank bigint GENERATED BY DEFAULT AS IDENTITY)"
            ).format(_table(self.settings.tracking_table))
        )
        if not self._has_rank(conn):
            self._add_rank(conn)

    def _has_rank(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether the tracking table (which exists) has the ``applied_rank`` column."""
        row = conn.execute(
            "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass(%s)"
            " AND attname = 'applied_rank' AND NOT attisdropped)",
            (self.settings.tracking_table,),
        ).fetchone()
        return bool(row and row[0])

    def _add_rank(self, conn: psycopg.Connection[Any]) -> None:
        """Add ``applied_rank`` to a table of the old layout, numbering its rows by applied_at.

        Rows sharing an applied_at (written in one transaction) are numbered by version. One
        transaction: a migrator stopped half-way leaves the old layout, and tries again.
        """
        table = _table(self.settings.tracking_table)
        with conn.transaction():
            conn.execute(pgsql.SQL("ALTER TABLE {} ADD COLUMN applied_rank bigint").format(table))
            conn.execute(
                pgsql.SQL(
                    "UPDATE {t} SET applied_rank = o.rank FROM (SELECT version, row_number()"
                    " OVER (ORDER BY {order}) AS rank FROM {t}) AS o WHERE {t}.version = o.version"
                ).format(t=table, order=_APPLIED_ORDER)
            )
            conn.execute(
                pgsql.SQL(
                    "ALTER TABLE {} ALTER COLUMN applied_rank SET NOT NULL,"
                    " ALTER COLUMN applied_rank ADD GENERATED BY DEFAULT AS IDENTITY"
                ).format(table)
            )
            # The identity's sequence starts at 1: new rows are numbered after the old ones.
            conn.execute(
                pgsql.SQL(
                    "SELECT setval(pg_get_serial_sequence({name}, 'applied_rank'),"
                    " (SELECT coalesce(max(applied_rank), 0) + 1 FROM {t}), false)"
                ).format(name=pgsql.Literal(table.as_string(conn)), t=table)
            )

    def applied(self, conn: psycopg.Connection[Any]) -> list[AppliedRow]:
        """The rows of the tracking table in the order they were applied (none before the
        first run).

        By ``applied_rank``; a table of the layout before it (read as it is: ``status``
        changes nothing) by ``applied_at``, then version.
        """
        found = conn.execute(
            "SELECT c.oid IS NOT NULL, EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid"
            " AND a.attname = 'applied_rank' AND NOT a.attisdropped)"
            " FROM (SELECT to_regclass(%s) AS oid) AS c",
            (self.settings.tracking_table,),
        ).fetchone()
        if not found or not found[0]:
            return []
        rank, order = (
            (pgsql.SQL("applied_rank"), pgsql.SQL("applied_rank"))
            if found[1]
            else (pgsql.SQL("NULL::bigint"), _APPLIED_ORDER)
        )
        rows = conn.execute(
            pgsql.SQL(
                "SELECT version, name, checksum, applied_at, execution_ms, applied_by, {}"
                " FROM {} ORDER BY {}"
            ).format(rank, _table(self.settings.tracking_table), order)
        ).fetchall()
        return [AppliedRow(*row) for row in rows]

    @staticmethod
    def _invalid_indexes(conn: psycopg.Connection[Any]) -> list[InvalidIndex]:
        rows = conn.execute(
            "SELECT n.nspname, t.relname, i.relname,"
            " CASE WHEN i.relkind = 'I' THEN"
            "  (SELECT count(*) FROM pg_inherits h WHERE h.inhparent = t.oid) END,"
            " (SELECT count(*) FROM pg_inherits h WHERE h.inhparent = i.oid)"
            " FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_class t ON t.oid = x.indrelid"
            " JOIN pg_namespace n ON n.oid = i.relnamespace"
            " WHERE NOT x.indisvalid ORDER BY 1, 2, 3"
        ).fetchall()
        return [InvalidIndex(*row) for row in rows]

    @contextmanager
    def _locked(self, conn: psycopg.Connection[Any], report: RunReport) -> Iterator[None]:
        key = advisory_key(self.settings.tracking_table)

        def waiting() -> None:
            holder = conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND ((classid::bigint << 32) | objid::bigint) = %s",
                (key,),
            ).fetchone()
            who = f" (backend pid {holder[0]})" if holder else ""
            message = f"waiting for another migrator to finish{who}"
            # Said once: to the caller's own display when it has one, else as a warning.
            level = logging.INFO if self.on_wait is not None else logging.WARNING
            log.log(level, message, extra={"event": "migrator_waiting"})
            if self.on_wait is not None:
                self.on_wait(message)

        def timed_out(waited: float) -> LockTimeoutError:
            return LockTimeoutError(
                f"another migrator has held the migration lock for {waited:.0f}s "
                f"(db.migrator_lock_timeout_seconds = {self.settings.lock_wait_seconds:g})"
            )

        report.waited_seconds = take_advisory_lock(
            conn, key, self.settings.lock_wait_seconds, on_wait=waiting, timed_out=timed_out
        )
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                # The connection cannot run it (a command cancelled by Ctrl-C or SIGTERM still
                # in progress, or the server gone): the session's lock ends with the session,
                # closed right after, and the error being raised is the one to report.
                pass

    # -- hooks -----------------------------------------------------------------------------

    def _phase(self, context: HookContext) -> None:
        """Run the hooks of a phase; a fail-fast hook's HookFailed propagates (and rolls back)."""
        if self._run_hooks is not None and self._run_hooks.executor.registry.for_phase(
            context.phase
        ):
            trace = self._run_hooks.run_phase(context)
            # Kept in memory and written once per run (below): `plimsoll db slo` reads them.
            record_timing(None, Operation.HOOK_EXECUTION, trace.duration_ms / 1000)

    def _on_error(self, direction: str, migration: str | None, error: str) -> None:
        """Run the on_error hooks; the error being handled stays what the run reports."""
        context = ErrorContext(
            phase=DbPhase.ON_ERROR,
            run_id=self._run_id,
            direction=direction,
            database=self._database,
            migration=migration,
            error=error,
        )
        self._phase_after_failure(context)

    def _phase_after_failure(self, context: HookContext) -> None:
        """Run a phase while another error is being raised: a hook failing in it is logged.

        Its result is in the run's trace; raising it would hide the error that matters (and
        change the exit code).
        """
        try:
            self._phase(context)
        except HookFailed as failed:
            log.warning(
                "a %s hook failed: %s",
                context.phase,
                failed,
                extra={"event": f"{context.phase}_hook_failed", "run_id": self._run_id},
            )

    @property
    def _run_id(self) -> str:
        return self._run_hooks.run_id if self._run_hooks is not None else ""

    # -- public ----------------------------------------------------------------------------

    def scan(self) -> files.Scan:
        """The migrations folder (see :func:`plimsoll.db.migrations.scan`), warning about
        misnamed files this migrator has not warned about yet."""
        scanned = files.scan(self.folder, self.checksums)
        self.warn_misnamed(scanned)
        return scanned

    def warn_misnamed(self, scanned: files.Scan) -> None:
        """Log a warning for each misnamed file of ``scanned`` (once per migrator)."""
        for misnamed in scanned.misnamed:
            if misnamed.path not in self._warned:
                self._warned.add(misnamed.path)
                log.warning(
                    "%s",
                    misnamed.message,
                    extra={"event": "migration_file_misnamed"},
                )

    def status(self, scanned: files.Scan | None = None) -> Status:
        """Applied, pending, out-of-order and changed migrations, and invalid indexes.

        ``scanned`` is the folder as the caller scanned it already (its misnamed files are
        then the caller's to report); by default the folder is scanned here.
        """
        found = list((scanned or self.scan()).migrations)
        with self._connect() as conn:
            applied = self.applied(conn)
            invalid = self._invalid_indexes(conn)
            version = conn.info.server_version
        rows = [files.Applied(r.version, r.name, r.checksum) for r in applied]
        newest = files.newest_applied(rows)
        return Status(
            tuple(sorted(applied, key=lambda r: files.version_key(r.version))),
            tuple(files.pending(found, rows)),
            tuple(files.drift(found, rows)),
            tuple(invalid),
            version,
            tuple(files.out_of_order(found, rows)),
            newest.label if newest is not None else None,
        )

    def applied_files(self, conn: psycopg.Connection[Any]) -> list[files.Applied]:
        """The tracking table's rows as the planning functions take them."""
        return [files.Applied(r.version, r.name, r.checksum) for r in self.applied(conn)]

    @contextmanager
    def _session(
        self, report: RunReport
    ) -> Iterator[tuple[psycopg.Connection[Any], list[files.Applied]]]:
        """A connection holding the migrator lock, with the tracking table and its rows."""
        with self._connect() as conn, self._locked(conn, report):
            # Under the lock: CREATE TABLE IF NOT EXISTS is not safe against a concurrent one.
            self._ensure_table(conn)
            yield conn, self.applied_files(conn)

    def _run_plan(
        self,
        conn: psycopg.Connection[Any],
        validate: Callable[[], Sequence[files.Migration]],
        report: RunReport,
        late: Sequence[files.Migration] = (),
    ) -> RunReport:
        """One hooked run: validation between its hooks, the migrations, cleanup always.

        ``validate`` checks the files and returns the plan. ``before_validation`` runs before
        it and ``after_validation`` after it; when validation fails (or a fail-fast hook of
        its phases), ``on_error`` runs, then ``cleanup``, and nothing is applied. ``late``
        (filled by ``validate``) are the planned migrations applied out of order.
        """
        direction = report.direction
        self._database = f"{conn.info.host}/{conn.info.dbname}"
        self._run_hooks = self.hooks.start_run() if self.hooks is not None else None
        labels: tuple[str, ...] = ()
        try:
            try:
                self._phase(self._run_context(DbPhase.BEFORE_VALIDATION, direction, ()))
                plan = list(validate())
                labels = tuple(m.label for m in plan)
                self._phase(self._run_context(DbPhase.AFTER_VALIDATION, direction, labels))
            except PlimsollError as exc:
                self._on_error(direction, None, str(exc))
                raise
            out_of_order = {m.key for m in late}
            for migration in plan:
                step = self._apply_hooked(conn, migration, direction, report)
                if migration.key in out_of_order:
                    step = replace(step, out_of_order=True)
                    log.info(
                        "%s was applied out of order",
                        migration.label,
                        extra={"event": "migration_out_of_order", "migration": migration.label},
                    )
                report.steps.append(step)
        except BaseException as exc:
            self._cleanup(direction, labels, report, failed=_outcome_of(exc))
            raise
        self._cleanup(direction, labels, report, failed=None)
        return report

    def _cleanup(
        self, direction: str, labels: tuple[str, ...], report: RunReport, *, failed: str | None
    ) -> None:
        """Run the cleanup hooks and close the run's trace.

        After a failure (``failed``: how the run ended, ``failed`` or ``interrupted``) a
        failing cleanup hook is logged, not raised: the error the run reports, and its exit
        code, stay those of what failed first; the trace's outcome is the run's.
        """
        context = self._run_context(DbPhase.CLEANUP, direction, labels)
        try:
            if failed is not None:
                self._phase_after_failure(context)
            else:
                self._phase(context)
        finally:
            if self._run_hooks is not None:
                report.hook_trace = _trace_json(self._run_hooks, failed)
            self._run_hooks = None
            if self.store is not None:
                flush_timings(self.store)

    def _run_context(self, phase: DbPhase, direction: str, labels: tuple[str, ...]) -> RunContext:
        return RunContext(
            phase=phase,
            run_id=self._run_id,
            direction=direction,
            database=self._database,
            pending=labels,
        )

    def _refuse_drift(
        self,
        found: Sequence[files.Migration],
        applied: Sequence[files.Applied],
        allow_changed: bool,
    ) -> None:
        """Raise DriftError when applied files changed (or are gone), unless allowed."""
        changed = files.drift(found, applied)
        if changed and not allow_changed:
            listing = "; ".join(f"{d.version}_{d.name}: {d.problem}" for d in changed)
            raise DriftError(
                f"applied migrations changed: {listing} (use --allow-changed to go on)"
            )

    def up(
        self,
        target: str | None = None,
        *,
        allow_changed: bool = False,
        out_of_order: bool | None = None,
        report: RunReport | None = None,
    ) -> RunReport:
        """Apply pending migrations (up to ``target``), each in its own transaction.

        A pending migration older than the newest applied one is refused (OutOfOrderError,
        nothing applied) unless ``out_of_order`` (default: the settings' ``out_of_order``).
        ``report`` (when given) is filled as the run goes: after a failure it still tells
        which migrations were applied before it.
        """
        report = report if report is not None else RunReport("up")
        allowed = self.settings.out_of_order if out_of_order is None else out_of_order
        late: list[files.Migration] = []
        with self._session(report) as (conn, applied):

            def validate() -> list[files.Migration]:
                found = list(self.scan().migrations)
                self._refuse_drift(found, applied, allow_changed)
                for invalid in self._invalid_indexes(conn):
                    log.warning(
                        "%s",
                        invalid.describe(),
                        extra={"event": "invalid_index", "index": invalid.index},
                    )
                plan = files.plan_up(found, applied, target, out_of_order=allowed)
                late.extend(files.out_of_order(plan, applied))
                return plan

            return self._run_plan(conn, validate, report, late)

    def down(
        self,
        *,
        steps: int | None = None,
        target: str | None = None,
        allow_changed: bool = False,
        report: RunReport | None = None,
    ) -> RunReport:
        """Revert the last ``steps`` migrations applied (default 1), or all applied after
        ``target``, in the reverse of the order they were applied.

        Refused, as ``up`` is, when applied files changed since (their down may no longer
        undo what was applied), unless ``allow_changed``. ``report``, when given, is filled
        as in :meth:`up`.
        """
        report = report if report is not None else RunReport("down")
        with self._session(report) as (conn, applied):

            def validate() -> list[files.Migration]:
                found = list(self.scan().migrations)
                self._refuse_drift(found, applied, allow_changed)
                plan = files.plan_down(found, applied, steps=steps, target=target)
                # The scan read the up files; a down file that cannot be read stops the run
                # here, before anything is reverted, not after the migrations before it.
                for migration in plan:
                    if migration.down is not None:
                        files.read_bytes(migration.down)
                return plan

            return self._run_plan(conn, validate, report)

    def apply(self, migrations: Sequence[files.Migration]) -> RunReport:
        """Apply exactly ``migrations`` that are still pending, in order, in one hooked run.

        Unlike :meth:`up`, a pending migration left out stays pending (the wizard's "skip").
        Changed files are not checked here: the caller read :meth:`status` first. One older
        than the newest applied migration is refused (OutOfOrderError) unless the settings'
        ``out_of_order`` allows it.
        """
        report = RunReport("up")
        with self._session(report) as (conn, applied):
            done = {files.version_key(row.version) for row in applied}
            todo = [m for m in migrations if m.key not in done]
            late: list[files.Migration] = []

            def validate() -> list[files.Migration]:
                late.extend(files.check_order(todo, applied, allowed=self.settings.out_of_order))
                return todo

            if todo:
                self._run_plan(conn, validate, report, late)
        return report

    def baseline(self, target: str, *, dry_run: bool = False) -> list[files.Migration]:
        """Mark the pending migrations up to and including ``target`` as applied, running none.

        For a database whose schema was made before plimsoll managed it (by hand, by another
        tool): its tracking rows record each file's checksum as ``up`` would, with an
        ``execution_ms`` of 0, all in one transaction, under the migrator lock. Nothing is
        recorded in the store (risk prediction learns from migrations that ran). With
        ``dry_run`` the database is only read: not even the tracking table is created.
        Returns the migrations marked (or that would be).
        """
        found = list(self.scan().migrations)
        files.baseline_key(found, target)  # a wrong version is refused before connecting
        if dry_run:
            with self._connect() as conn:
                return files.plan_baseline(found, self.applied_files(conn), target)
        with self._session(RunReport("baseline")) as (conn, applied):
            plan = files.plan_baseline(found, applied, target)
            if not plan:
                return plan
            insert = pgsql.SQL(
                "INSERT INTO {} (version, name, checksum, execution_ms, applied_by)"
                " VALUES (%s, %s, %s, 0, %s)"
            ).format(_table(self.settings.tracking_table))
            with conn.transaction():
                for migration in plan:
                    conn.execute(
                        insert,
                        (migration.version, migration.name, migration.checksum, _applied_by()),
                    )
        for migration in plan:
            log.info(
                "marked %s as applied without running it",
                migration.label,
                extra={"event": "migration_baselined", "migration": migration.label},
            )
        return plan

    # -- applying --------------------------------------------------------------------------

    def _apply_hooked(
        self,
        conn: psycopg.Connection[Any],
        migration: files.Migration,
        direction: str,
        report: RunReport,
    ) -> StepResult:
        started = time.time()
        try:
            step, sizes = self._apply(conn, migration, direction)
        except (PlimsollError, KeyboardInterrupt) as exc:
            # Ctrl-C, or SIGTERM taken as one: the running statement was cancelled, and the
            # migration rolled back (see _interrupted); recorded as a failure is, for risk
            # prediction and the history, and the on_error hooks told.
            outcome = _outcome_of(exc)
            error = _interrupted(exc, migration) if outcome == INTERRUPTED else str(exc)
            self._remember(migration, direction, started, None, (), error, conn, outcome=outcome)
            self._on_error(direction, migration.label, error)
            if self._run_hooks is not None:
                report.hook_trace = _trace_json(self._run_hooks, outcome)
            raise
        self._remember(migration, direction, started, step, sizes, None, conn)
        if self._run_hooks is not None:
            report.hook_trace = self._run_hooks.trace.to_json()
        return step

    def set_timeouts(self, conn: psycopg.Connection[Any], local: bool) -> None:
        """Set lock_timeout and statement_timeout, for the transaction when ``local``."""
        # One round trip for both: set_config(..., is_local) is SET LOCAL / SET.
        conn.execute(
            "SELECT set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)",
            (self.settings.lock_timeout, local, self.settings.statement_timeout, local),
        )

    def _record(
        self,
        conn: psycopg.Connection[Any],
        migration: files.Migration,
        direction: str,
        took_ms: int,
    ) -> None:
        table = _table(self.settings.tracking_table)
        if direction == "up":
            conn.execute(
                pgsql.SQL(
                    "INSERT INTO {} (version, name, checksum, execution_ms, applied_by)"
                    " VALUES (%s, %s, %s, %s, %s)"
                ).format(table),
                (migration.version, migration.name, migration.checksum, took_ms, _applied_by()),
            )
        else:
            conn.execute(
                pgsql.SQL("DELETE FROM {} WHERE version = %s").format(table), (migration.version,)
            )

    def _has_hooks(self, *phases: DbPhase) -> bool:
        """Whether any hook of this run is registered for one of ``phases``."""
        if self._run_hooks is None:
            return False
        registry = self._run_hooks.executor.registry
        return any(registry.for_phase(phase) for phase in phases)

    def _statement_hooks(self) -> bool:
        """Whether any hook wants to run around each statement (which rules out batching)."""
        return self._has_hooks(DbPhase.BEFORE_STATEMENT, DbPhase.AFTER_STATEMENT)

    def _record_sql(self, migration: files.Migration, direction: str) -> pgsql.Composable:
        """The tracking-table change as SQL with its values inlined (for a batched migration)."""
        table = _table(self.settings.tracking_table)
        if direction != "up":
            return pgsql.SQL("DELETE FROM {} WHERE version = {}").format(
                table, pgsql.Literal(migration.version)
            )
        # execution_ms is measured by the server: from the arrival of the message holding the
        # migration's statements (statement_timestamp(), one for all of a simple-query
        # message) to this row. Not now(): the transaction may have begun before the
        # before-migration hooks, whose time is not the migration's.
        return pgsql.SQL(
            "INSERT INTO {} (version, name, checksum, execution_ms, applied_by) VALUES ({}, {},"
            " {}, (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::integer,"
            " {})"
        ).format(
            table,
            pgsql.Literal(migration.version),
            pgsql.Literal(migration.name),
            pgsql.Literal(migration.checksum),
            pgsql.Literal(_applied_by()),
        )

    def _apply_batched(
        self,
        conn: psycopg.Connection[Any],
        migration: files.Migration,
        direction: str,
        path: Path,
        plan: MigrationPlan,
        before: MigrationContext,
    ) -> tuple[int, Sizes | None]:
        """Run a transactional migration as one simple-query message, then COMMIT.

        The timeouts, every statement, the tracking row and the sizes of the touched tables go
        to the server together; since PostgreSQL 13 ``statement_timeout`` still applies to
        each statement of such a message. BEGIN travels with them unless before-migration
        hooks must run inside the transaction first. COMMIT is a message of its own, sent
        after the after-migration hooks: a migrator killed while the server works leaves an
        open transaction that the server rolls back when it finds the client gone (a COMMIT
        sent ahead would have kept the migration), and a failing fail-fast hook rolls the
        migration back. The failing statement is named from the message's own results (see
        :mod:`plimsoll.db.batch`): nothing is run twice. The duration is the message's, hooks
        excluded.
        """
        from plimsoll.db.batch import BatchFailed, run_batch

        timeouts = pgsql.SQL(
            "SELECT set_config('lock_timeout', {}, true), set_config('statement_timeout', {}, true)"
        ).format(
            pgsql.Literal(self.settings.lock_timeout),
            pgsql.Literal(self.settings.statement_timeout),
        )
        measure = self.store is not None and bool(plan.tables)
        parts = [
            timeouts.as_string(conn),
            *(st.text for st in plan.statements),
            self._record_sql(migration, direction).as_string(conn),
            # The sizes are read before COMMIT (the same values, seen by this transaction).
            *(
                [_sizes_sql(plan.tables, conn.info.server_version).as_string(conn)]
                if measure
                else []
            ),
        ]
        first_statement = 1
        try:
            if self._has_hooks(DbPhase.BEFORE_MIGRATION):
                conn.execute("BEGIN")
                self._phase(before)
            else:
                parts.insert(0, "BEGIN")
                first_statement += 1
            clock = time.perf_counter()
            done = run_batch(conn, parts)
            took = _ms_since(clock)
            self._after_migration(migration, direction, took)
            try:
                conn.execute("COMMIT")
            except psycopg.Error as exc:  # a deferred constraint is checked at COMMIT
                raise MigrationError(
                    f"{path}: at COMMIT: {_one_line(exc)}; {migration.label} rolled back"
                ) from None
        except BatchFailed as failed:
            _rollback_quietly(conn)
            where = failed.index - first_statement
            if 0 <= where < len(plan.statements):
                statement = plan.statements[where]
                located = f"{path}:{_line_of(statement, failed.position)}"
            else:
                located = str(path)
            raise MigrationError(
                f"{located}: {_one_line(failed.error)}; {migration.label} rolled back"
            ) from None
        except BaseException:
            _rollback_quietly(conn)
            raise
        sizes = _sizes_of(done.row(len(parts) - 1), plan.tables) if measure else None
        return took, sizes

    def _after_migration(self, migration: files.Migration, direction: str, took_ms: int) -> None:
        """Run the after-migration hooks (inside the migration's transaction, when it has one)."""
        self._phase(
            MigrationContext(
                phase=DbPhase.AFTER_MIGRATION,
                run_id=self._run_id,
                direction=direction,
                database=self._database,
                migration=migration.label,
                duration_ms=took_ms,
            )
        )

    def _remember(
        self,
        migration: files.Migration,
        direction: str,
        started: float,
        step: StepResult | None,
        sizes: Sizes,
        error: str | None,
        conn: psycopg.Connection[Any],
        *,
        outcome: str = FAILED,
    ) -> None:
        """Record the run in the store (risk prediction learns from these); never fails a run.

        ``sizes`` are the sizes of the tables the migration touched, just after it. The
        outcome is ``applied`` with a ``step``, else ``outcome`` (failed or interrupted).
        """
        if self.store is None:
            return
        finished = time.time()
        run = MigrationRun(
            database=self._database,
            version=migration.version,
            name=migration.name,
            direction=direction,
            started_at=started,
            finished_at=finished,
            duration_ms=step.duration_ms if step else int((finished - started) * 1000),
            outcome=APPLIED if step is not None else outcome,
            error=error,
            server_version=conn.info.server_version,
            tables=sizes,
        )
        try:
            self.store.migration_run_add(run)
        except Exception as exc:  # noqa: BLE001 - history is for later; the migration stands
            log.warning(
                "could not record the migration run: %s",
                exc,
                extra={"event": "migration_run_not_recorded"},
            )

    @staticmethod
    def _measure(conn: psycopg.Connection[Any], tables: Sequence[QualifiedName]) -> Sizes:
        """The total size of each of ``tables`` now (None for one that no longer exists)."""
        sizes: list[tuple[str, int | None]] = []
        version = conn.info.server_version
        for table in tables:
            try:
                row = conn.execute(_sizes_sql([table], version)).fetchone()
                sizes.append((str(table), row[0] if row else None))
            except psycopg.Error:
                sizes.append((str(table), None))
        return tuple(sizes)

    def _apply(
        self,
        conn: psycopg.Connection[Any],
        migration: files.Migration,
        direction: str,
    ) -> tuple[StepResult, Sizes]:
        """Apply or revert one migration; its result and the sizes of the tables it touched.

        Its duration (the step's, the tracking row's ``execution_ms``, the store's) is the time
        its own SQL took: the hooks around it and the statement hooks are not counted.
        """
        path = migration.up if direction == "up" else migration.down
        before = MigrationContext(
            phase=DbPhase.BEFORE_MIGRATION,
            run_id=self._run_id,
            direction=direction,
            database=self._database,
            migration=migration.label,
        )
        if migration.kind is files.Kind.PYTHON:
            took, tables = self._apply_python(conn, migration, direction, before)
            self._applied_event(migration, direction, took)
            measured = self._measure(conn, tables) if self.store is not None else ()
            step = StepResult(
                migration.version,
                migration.name,
                direction,
                took,
                True,
                1,
                tuple(str(name) for name in tables),
            )
            return step, measured
        assert path is not None  # plan_down only picks migrations with a way down
        plan = plan_sql(path, conn.info.server_version)
        sizes: Sizes | None = None
        if plan.transactional and not self._statement_hooks():
            took, sizes = self._apply_batched(conn, migration, direction, path, plan, before)
        elif plan.transactional:
            try:
                with conn.transaction():
                    self.set_timeouts(conn, local=True)
                    self._phase(before)
                    took = self._run(conn, path, plan.statements, migration.label)
                    self._record(conn, migration, direction, took)
                    self._after_migration(migration, direction, took)
            except _StatementFailed as failed:
                raise MigrationError(f"{failed.message}; {migration.label} rolled back") from None
            except psycopg.Error as exc:  # at COMMIT: a deferred constraint
                raise MigrationError(
                    f"{path}: at COMMIT: {_one_line(exc)}; {migration.label} rolled back"
                ) from None
        else:
            log.info(
                "running %s outside a transaction: %s",
                migration.label,
                plan.reason,
                extra={"event": "migration_non_transactional", "migration": migration.label},
            )
            self.set_timeouts(conn, local=False)
            try:
                self._phase(before)
                took = self._run(conn, path, plan.statements, migration.label)
                with conn.transaction():
                    self._record(conn, migration, direction, took)
            except _StatementFailed as failed:
                raise MigrationError(
                    f"{failed.message}; {migration.label} ran outside a transaction "
                    f"({plan.reason}): statements before this one stay applied"
                ) from None
            except KeyboardInterrupt as exc:
                exc.add_note(
                    f"{migration.label} ran outside a transaction ({plan.reason}): statements"
                    " before the cancelled one stay applied"
                )
                raise
            finally:
                conn.execute("RESET lock_timeout")
                conn.execute("RESET statement_timeout")
            try:
                self._after_migration(migration, direction, took)
            except HookFailed as exc:
                raise MigrationError(
                    f"{exc}; {migration.label} ran outside a transaction ({plan.reason}) and"
                    " stays applied"
                ) from None
        self._applied_event(migration, direction, took)
        if sizes is None:
            sizes = self._measure(conn, plan.tables) if self.store is not None else ()
        step = StepResult(
            migration.version,
            migration.name,
            direction,
            took,
            plan.transactional,
            len(plan.statements),
            tuple(str(name) for name in plan.tables),
        )
        return step, sizes

    def _apply_python(
        self,
        conn: psycopg.Connection[Any],
        migration: files.Migration,
        direction: str,
        before: MigrationContext,
    ) -> tuple[int, tuple[QualifiedName, ...]]:
        """Run a Python migration's ``up``/``down`` in a transaction; its SQL time and tables.

        The tables are read from the SQL it runs through the connection it is handed (see
        :func:`plimsoll.db.migration_plan.recording`). Any exception it raises rolls it back and is reported with
        the file and line of the migration that raised it.
        """
        from plimsoll.db.migration_plan import recording, tables_of

        module = load_module(migration.up)
        function = getattr(module, direction, None)
        if not callable(function):
            raise UsageError(f"{migration.up}: defines no {direction}(conn)")
        try:
            with conn.transaction():
                self.set_timeouts(conn, local=True)
                self._phase(before)
                clock = time.perf_counter()
                try:
                    with recording(conn) as executed:
                        function(conn)
                except Exception as exc:  # noqa: BLE001 - the user's code: reported, rolled back
                    raise MigrationError(
                        f"{python_failure(migration.up, direction, exc)}; rolled back"
                    ) from None
                took = _ms_since(clock)
                self._record(conn, migration, direction, took)
                self._after_migration(migration, direction, took)
        except psycopg.Error as exc:  # at COMMIT, or the migration left its transaction failed
            raise MigrationError(
                f"{migration.up}: {direction}() failed: {_one_line(exc)}; rolled back"
            ) from None
        return took, tables_of(executed)

    def _applied_event(self, migration: files.Migration, direction: str, took: int) -> None:
        log.info(
            "migration %s %s",
            direction,
            migration.label,
            extra={
                "event": "migration_applied",
                "run_id": self._run_id,
                "migration": migration.label,
                "version": migration.version,
                "direction": direction,
                "duration_ms": took,
            },
        )

    def _run(
        self, conn: psycopg.Connection[Any], path: Path, statements: Sequence[Statement], label: str
    ) -> int:
        """Run ``statements`` one by one with their hooks; return the ms the statements took."""
        spent = 0.0
        for statement in statements:
            before = StatementContext(
                phase=DbPhase.BEFORE_STATEMENT,
                run_id=self._run_id,
                migration=label,
                file=str(path),
                line=statement.start_line,
                statement=statement.text,
            )
            self._phase(before)
            clock = time.perf_counter()
            try:
                conn.execute(statement.text, prepare=False)
            except psycopg.Error as exc:
                position = _position(exc)
                line = _line_of(statement, position)
                raise _StatementFailed(f"{path}:{line}: {_one_line(exc)}") from None
            spent += time.perf_counter() - clock
            self._phase(replace(before, phase=DbPhase.AFTER_STATEMENT))
        return int(spent * 1000)


def _outcome_of(error: BaseException) -> str:
    """How a run or migration that raised ``error`` ended: interrupted or failed."""
    return INTERRUPTED if isinstance(error, KeyboardInterrupt) else FAILED


def _interrupted(error: BaseException, migration: files.Migration) -> str:
    """What is recorded for an interrupted migration: what became of it."""
    notes = [str(note) for note in getattr(error, "__notes__", ()) if str(note).strip()]
    undone = "; ".join(notes) or f"{migration.label} rolled back"
    return f"interrupted: the running statement was cancelled; {undone}"


def _trace_json(run: HookRun, failed: str | None) -> str:
    """The run's hook trace as JSON, its ``outcome`` the run's when the run did not succeed.

    The trace alone says how its hooks' phases went: every hook can succeed in a run whose
    migration failed or was interrupted, and the report must not then say "succeeded".
    """
    document = run.trace.to_dict()
    if failed is not None:
        document["outcome"] = failed
    return json.dumps(document, indent=2)


def _ms_since(clock: float) -> int:
    """Whole milliseconds since ``clock`` (a ``time.perf_counter`` reading)."""
    return int((time.perf_counter() - clock) * 1000)


Sizes = tuple[tuple[str, "int | None"], ...]
"""The total size in bytes of each table a migration touched (None: gone), by name."""


def _regclass_text(table: QualifiedName) -> str:
    """``table`` as ``to_regclass`` reads it: each part double-quoted, so any name is valid."""
    parts = [table.schema, table.name] if table.schema else [table.name]
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def _sizes_sql(tables: Sequence[QualifiedName], server_version: int) -> pgsql.Composed:
    """One row: the total size of each table (NULL for one that does not exist).

    A partitioned table stores nothing itself: its size is its partitions' (the whole tree,
    as the risk assessment counts it; ``pg_partition_tree`` is there from PostgreSQL 12).
    """
    if server_version >= 120000:
        size = (
            "(SELECT CASE c.relkind WHEN 'p' THEN (SELECT sum(pg_total_relation_size(t.relid))"
            "::bigint FROM pg_partition_tree(c.oid) AS t) ELSE pg_total_relation_size(c.oid) END"
            " FROM pg_class AS c WHERE c.oid = {})"
        )
    else:
        size = "pg_total_relation_size({})"
    return pgsql.SQL("SELECT {}").format(
        pgsql.SQL(", ").join(
            pgsql.SQL(size).format(
                pgsql.SQL("to_regclass({})").format(pgsql.Literal(_regclass_text(table)))
            )
            for table in tables
        )
    )


def _sizes_of(row: Sequence[str | None] | None, tables: Sequence[QualifiedName]) -> Sizes:
    """The sizes of ``tables`` from the text row of :func:`_sizes_sql` (None: no row)."""
    values = list(row) if row is not None else [None] * len(tables)
    return tuple(
        (str(table), None if value is None else int(value))
        for table, value in zip(tables, values, strict=True)
    )


def python_failure(path: Path, direction: str, error: BaseException) -> str:
    """What a Python migration's failure says: file and line, function, error on one line."""
    from plimsoll.db.migration_plan import failure_line

    line = failure_line(path, error)
    where = f"{path}:{line}" if line is not None else str(path)
    if isinstance(error, psycopg.Error):
        detail = _one_line(error)
    else:
        detail = f"{type(error).__name__}: {error}".strip()
    return f"{where}: {direction}() failed: {detail}"


def _rollback_quietly(conn: psycopg.Connection[Any]) -> None:
    """End the transaction a failed message left open (if the connection still stands)."""
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error:
        pass


class _StatementFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _position(exc: psycopg.Error) -> int | None:
    raw = getattr(exc.diag, "statement_position", None)
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _one_line(exc: psycopg.Error) -> str:
    """The server's error on one line: severity, message, and its DETAIL and HINT if any."""
    diag = exc.diag
    severity = getattr(diag, "severity", None) or "ERROR"
    text = str(exc).strip()
    primary = getattr(diag, "message_primary", None) or (text.splitlines()[0] if text else "")
    out = f"{severity}: {primary}"
    for label, value in (
        ("DETAIL", getattr(diag, "message_detail", None)),
        ("HINT", getattr(diag, "message_hint", None)),
    ):
        if value:
            out += f" ({label}: {' '.join(value.split())})"
    return out


def _applied_by() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
