"""Applies and reverts migrations against a live PostgreSQL, one migrator at a time.

- Tracking table (``plimsoll_migrations`` by default; see :mod:`plimsoll.db.tracking`): a
  row per applied migration, numbered by ``applied_rank`` in the order rows were applied.
  ``down`` follows it.
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
  A Python migration's ``conn.execute("COMMIT")`` (or ``ROLLBACK``, ``BEGIN``, ``END``) is
  refused before it is sent, as psycopg refuses ``conn.commit()`` there.
- Session state: every migration starts from the session as the run found it, as if psql ran
  each file in a session of its own. A migration's ``SET search_path``, ``SET ROLE``,
  ``set_config(..., false)``, temporary tables... end with it (``RESET ALL``, ``SET SESSION
  AUTHORIZATION DEFAULT``, ``RESET ROLE``, ``DISCARD TEMP``...; never ``DISCARD ALL``, which
  would release the migrator's advisory lock). The tracking table is named schema-qualified
  (resolved once, when the run starts) and its row written as the role that connected,
  whatever role the migration took.
- Privileges: the tracking table (and its schema) are created only when missing, so a deploy
  role with SELECT, INSERT and DELETE on an existing table needs no CREATE right.
- Errors (see :mod:`plimsoll.db.migrate_errors`): a read-only database is refused before
  anything changes, a timeout the server refuses names its config key, and the first
  migration of a database already holding its schema says how to adopt it.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql

from plimsoll.core.errors import ExitCode, PlimsollError, UsageError
from plimsoll.core.hooks import HookContext, HookExecutor, HookFailed, HookRun
from plimsoll.core.log import get_logger
from plimsoll.core.store import MigrationRun, Store
from plimsoll.db import migrations as files
from plimsoll.db import tracking
from plimsoll.db.advisory import take_advisory_lock
from plimsoll.db.checksums import ChecksumCache
from plimsoll.db.hooks import DbPhase, ErrorContext, MigrationContext, RunContext, StatementContext
from plimsoll.db.migrate_errors import (
    ADOPT_HINT,
    ALREADY_EXISTS,
    error_position,
    one_line,
    python_failure,
    refuse_read_only,
    statement_line,
    timeout_error,
)
from plimsoll.db.migration_plan import MigrationPlan, load_module, plan_sql, user_code
from plimsoll.db.profiling.objectives import Operation, flush_timings, record_timing
from plimsoll.db.tracking import AppliedRow, TrackingTable

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
    """A migration failed: rolled back, later ones not run (exit 1, a finding).

    ``sqlstate`` is the server's error code, when the server raised it.
    """

    exit_code = ExitCode.FINDINGS
    slug = "migration-failed"

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


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
    # Where the timeouts were configured, for the error naming a bad one: the key (the db
    # section's or an environment's) and the config file.
    lock_timeout_key: str = "db.lock_timeout"
    statement_timeout_key: str = "db.statement_timeout"
    source: str = ""

    def where(self, key: str) -> str:
        """``key`` prefixed with the config file it is in (when known), for an error."""
        return f"{self.source}: {key}" if self.source else key


@dataclass(frozen=True)
class DatabaseInfo:
    """Which database a command read or changed (never its password)."""

    name: str
    host: str
    port: int
    user: str

    @classmethod
    def of(cls, conn: psycopg.Connection[Any]) -> DatabaseInfo:
        """The database ``conn`` is connected to, as libpq resolved it (PG* variables too)."""
        info = conn.info
        return cls(info.dbname, info.host, info.port, info.user)

    def describe(self) -> str:
        """One line: ``appdb on db.example.com:5432 as deploy`` (a socket: its folder)."""
        where = f"{self.host}:{self.port}"
        if self.host.startswith("/"):
            where += " (unix socket)"
        return f"{self.name} on {where} as {self.user}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: name, host (or socket folder), port and user."""
        return {"name": self.name, "host": self.host, "port": self.port, "user": self.user}


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
    database: DatabaseInfo | None = None

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
    # The database the run connected to (None: it did not get that far).
    database: DatabaseInfo | None = None


def advisory_key(table: str) -> int:
    """The advisory lock id of a tracking table (a stable signed 64-bit integer)."""
    digest = hashlib.sha256(f"plimsoll-migrator:{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# What each migration starts from: the session as the run found it, as if psql ran each file
# in a session of its own (a migration's SET, SET ROLE, set_config(..., false), temporary
# tables, LISTEN, cursors... end with it). RESET ALL returns every setting to its value at
# connection (the URL's options and the role's and database's settings included); it leaves
# the role alone, hence the two before it. Not DISCARD ALL: it releases the session's
# advisory locks (the migrator's own) and cannot run in a transaction block; not DEALLOCATE
# ALL: psycopg's prepared statements. Each is one statement (a part of a batch).
_RESET_SESSION = (
    "CLOSE ALL",
    "SET SESSION AUTHORIZATION DEFAULT",
    "RESET ROLE",
    "RESET ALL",
    "UNLISTEN *",
    "DISCARD TEMP",
    "DISCARD SEQUENCES",
)
# Who writes the tracking row: the role that connected, whatever role the migration took
# (SET ROLE to one without rights on the tracking table must not fail its row, nor own it).
_RESET_IDENTITY = ("SET SESSION AUTHORIZATION DEFAULT", "RESET ROLE")


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
        project_root: Path | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.folder = folder
        self.settings = settings or Settings()
        self.on_wait = on_wait
        self.hooks = hooks
        self.store = store
        self.checksums = ChecksumCache(checksum_cache) if checksum_cache is not None else None
        # The project's folder: first on sys.path while Python migrations load and run.
        self.project_root = project_root
        self._run_hooks: HookRun | None = None
        self._database = ""
        # The tracking table of the run under way (resolved once, when it starts).
        self._tracking: TrackingTable | None = None
        # The run's Python migrations, imported when it is validated.
        self._modules: dict[Path, Any] = {}
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

    def _tracking_for(self, conn: psycopg.Connection[Any]) -> TrackingTable:
        """The tracking table of the run under way, or as ``conn`` finds it now (no run)."""
        if self._tracking is not None:
            return self._tracking
        return tracking.resolve_table(conn, self.settings.tracking_table, self._tracking_key())

    def _tracking_key(self) -> str:
        """``db.tracking_table`` with its config file, for an error naming it."""
        return self.settings.where("db.tracking_table")

    def applied(self, conn: psycopg.Connection[Any]) -> list[AppliedRow]:
        """The rows of the tracking table in the order they were applied (none before the
        first run).

        By ``applied_rank``; a table of the layout before it (read as it is: ``status``
        changes nothing) by ``applied_at``, then version. A table the role may not read is a
        CannotRunError naming it; another tool's table a ConfigError.
        """
        return tracking.applied_rows(conn, self._tracking_for(conn), self._tracking_key())

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
            # A hook's print() must not land in the command's result on stdout.
            with user_code(None):
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
            database = DatabaseInfo.of(conn)
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
            database,
        )

    def applied_files(self, conn: psycopg.Connection[Any]) -> list[files.Applied]:
        """The tracking table's rows as the planning functions take them."""
        return [files.Applied(r.version, r.name, r.checksum) for r in self.applied(conn)]

    @contextmanager
    def _session(
        self, report: RunReport, needs: str = "INSERT"
    ) -> Iterator[tuple[psycopg.Connection[Any], list[files.Applied]]]:
        """A connection holding the migrator lock, with the tracking table and its rows.

        Before anything is changed: a read-only database is refused (exit 3), and the
        timeouts are checked (a bad value is a config error naming its key). ``needs`` is the
        right the run needs on the tracking table besides SELECT (INSERT, or DELETE for down).
        """
        with self._connect() as conn:
            report.database = DatabaseInfo.of(conn)
            refuse_read_only(conn)
            self.set_timeouts(conn, local=True)  # checked only: it ends with its statement
            with self._locked(conn, report):
                # Under the lock: CREATE TABLE IF NOT EXISTS is not safe against a concurrent one.
                self._tracking = tracking.ensure_table(
                    conn, self.settings.tracking_table, self._tracking_key(), needs
                )
                try:
                    yield conn, self.applied_files(conn)
                finally:
                    self._tracking = None
                    self._modules.clear()

    def _load_python(self, plan: Sequence[files.Migration], direction: str) -> None:
        """Import the plan's Python migrations before any migration runs (their top-level
        code runs once): one that cannot be imported, or lacks ``direction``, stops the run
        with nothing applied, not after the migrations before it."""
        for migration in plan:
            if migration.kind is files.Kind.PYTHON:
                module = self._module(migration)
                if not callable(getattr(module, direction, None)):
                    raise UsageError(f"{migration.up}: defines no {direction}(conn)")

    def _module(self, migration: files.Migration) -> Any:
        """A Python migration's module, imported once per run (see user_code)."""
        module = self._modules.get(migration.up)
        if module is None:
            with user_code(self.project_root):
                module = self._modules[migration.up] = load_module(migration.up)
        return module

    def _run_plan(
        self,
        conn: psycopg.Connection[Any],
        validate: Callable[[], Sequence[files.Migration]],
        report: RunReport,
        late: Sequence[files.Migration] = (),
        *,
        fresh: bool = False,
    ) -> RunReport:
        """One hooked run: validation between its hooks, the migrations, cleanup always.

        ``validate`` checks the files and returns the plan. ``before_validation`` runs before
        it and ``after_validation`` after it; when validation fails (or a fail-fast hook of
        its phases), ``on_error`` runs, then ``cleanup``, and nothing is applied. ``late``
        (filled by ``validate``) are the planned migrations applied out of order. ``fresh``:
        the tracking table had no row (a first migration finding its objects there already
        is a database to adopt: the error says how).
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
                try:
                    step = self._apply_hooked(conn, migration, direction, report)
                except MigrationError as exc:
                    first = fresh and direction == "up" and not report.steps
                    if first and exc.sqlstate in ALREADY_EXISTS:
                        raise MigrationError(
                            f"{exc}; {ADOPT_HINT}", sqlstate=exc.sqlstate
                        ) from None
                    raise
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
                self._load_python(plan, "up")
                return plan

            return self._run_plan(conn, validate, report, late, fresh=not applied)

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
        with self._session(report, needs="DELETE") as (conn, applied):

            def validate() -> list[files.Migration]:
                found = list(self.scan().migrations)
                self._refuse_drift(found, applied, allow_changed)
                if steps is not None and target is None and applied and steps > len(applied):
                    # As alembic does: reverting fewer than asked would go unnoticed in a
                    # script; --target 0 is the way to revert everything. With nothing
                    # applied, `--steps 1` is `down` itself: nothing to do, as without it.
                    count = (
                        "only 1 migration is"
                        if len(applied) == 1
                        else f"only {len(applied)} migrations are"
                    )
                    raise UsageError(
                        f"--steps {steps}: {count} applied (--target 0 reverts all of them)"
                    )
                plan = files.plan_down(found, applied, steps=steps, target=target)
                # The scan read the up files; a down file that cannot be read stops the run
                # here, before anything is reverted, not after the migrations before it.
                for migration in plan:
                    if migration.down is not None:
                        files.read_bytes(migration.down)
                self._load_python(plan, "down")
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
                self._load_python(todo, "up")
                return todo

            if todo:
                self._run_plan(conn, validate, report, late, fresh=not applied)
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
            ).format(self._run_table())
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
        """Set lock_timeout and statement_timeout, for the transaction when ``local``.

        A value the server refuses (``abc``, ``-1s``, ``25d``: beyond its range) is a
        ConfigError naming the key it came from.
        """
        try:
            conn.execute(self._timeouts_sql(local))
        except (psycopg.errors.InvalidParameterValue, psycopg.errors.DataException) as exc:
            raise timeout_error(exc, self.settings) from None

    def _timeouts_sql(self, local: bool) -> pgsql.Composed:
        """One statement setting both timeouts: set_config(..., is_local) is SET LOCAL / SET."""
        return pgsql.SQL(
            "SELECT set_config('lock_timeout', {}, {}), set_config('statement_timeout', {}, {})"
        ).format(
            pgsql.Literal(self.settings.lock_timeout),
            pgsql.Literal(local),
            pgsql.Literal(self.settings.statement_timeout),
            pgsql.Literal(local),
        )

    def begin_migration(self, conn: psycopg.Connection[Any], *, local: bool) -> None:
        """Start a migration from the session the run found (see _RESET_SESSION), with the
        timeouts set: one round trip."""
        conn.execute(";\n".join([*_RESET_SESSION, self._timeouts_sql(local).as_string(conn)]))

    def _run_table(self) -> pgsql.Composable:
        """The tracking table of the run under way, schema-qualified."""
        assert self._tracking is not None, "only inside a run (_session)"
        return self._tracking.sql

    def _record(
        self,
        conn: psycopg.Connection[Any],
        migration: files.Migration,
        direction: str,
        took_ms: int,
    ) -> None:
        table = self._run_table()
        # Written as the role that connected, whatever role the migration took.
        conn.execute(";".join(_RESET_IDENTITY))
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
        table = self._run_table()
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

        measure = self.store is not None and bool(plan.tables)
        parts = [
            self._timeouts_sql(True).as_string(conn),
            *(st.text for st in plan.statements),
            # The row is written as the role that connected (the sizes below are read with
            # the migration's search_path, which names its tables as it did).
            *_RESET_IDENTITY,
            self._record_sql(migration, direction).as_string(conn),
            # The sizes are read before COMMIT (the same values, seen by this transaction).
            *(
                [_sizes_sql(plan.tables, conn.info.server_version).as_string(conn)]
                if measure
                else []
            ),
        ]
        first_statement = 1
        # The transaction starts from the session the run found (see _RESET_SESSION).
        opening = ["BEGIN", *_RESET_SESSION]
        try:
            if self._has_hooks(DbPhase.BEFORE_MIGRATION):
                conn.execute(";\n".join(opening))
                self._phase(before)
            else:
                parts[0:0] = opening
                first_statement += len(opening)
            clock = time.perf_counter()
            done = run_batch(conn, parts)
            took = _ms_since(clock)
            self._after_migration(migration, direction, took)
            try:
                conn.execute("COMMIT")
            except psycopg.Error as exc:  # a deferred constraint is checked at COMMIT
                raise MigrationError(
                    f"{path}: at COMMIT: {one_line(exc)}; {migration.label} rolled back",
                    sqlstate=exc.sqlstate,
                ) from None
        except BatchFailed as failed:
            _rollback_quietly(conn)
            where = failed.index - first_statement
            if 0 <= where < len(plan.statements):
                statement = plan.statements[where]
                located = f"{path}:{statement_line(statement, failed.position)}"
            else:
                located = str(path)
            raise MigrationError(
                f"{located}: {one_line(failed.error)}; {migration.label} rolled back",
                sqlstate=failed.error.sqlstate,
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
                    self.begin_migration(conn, local=True)
                    self._phase(before)
                    took = self._run(conn, path, plan.statements, migration.label)
                    self._record(conn, migration, direction, took)
                    self._after_migration(migration, direction, took)
            except _StatementFailed as failed:
                raise MigrationError(
                    f"{failed.message}; {migration.label} rolled back", sqlstate=failed.sqlstate
                ) from None
            except psycopg.Error as exc:  # at COMMIT: a deferred constraint
                raise MigrationError(
                    f"{path}: at COMMIT: {one_line(exc)}; {migration.label} rolled back",
                    sqlstate=exc.sqlstate,
                ) from None
        else:
            log.info(
                "running %s outside a transaction: %s",
                migration.label,
                plan.reason,
                extra={"event": "migration_non_transactional", "migration": migration.label},
            )
            self.begin_migration(conn, local=False)
            try:
                self._phase(before)
                took = self._run(conn, path, plan.statements, migration.label)
                with conn.transaction():
                    self._record(conn, migration, direction, took)
            except _StatementFailed as failed:
                raise MigrationError(
                    f"{failed.message}; {migration.label} ran outside a transaction "
                    f"({plan.reason}): statements before this one stay applied",
                    sqlstate=failed.sqlstate,
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
        :func:`plimsoll.db.migration_plan.recording`, which also refuses transaction control
        before it is sent). Any exception it raises rolls it back and is reported with the
        file and line of the migration that raised it. One that ended the migrator's
        transaction anyway (through the raw libpq connection, say) is reported as what it
        did: what was committed stays, and the migration is not recorded. Its module is
        loaded and run inside :func:`plimsoll.db.migration_plan.user_code`.
        """
        from plimsoll.db.migration_plan import recording, tables_of

        module = self._module(migration)
        with user_code(self.project_root):
            function = getattr(module, direction, None)
            if not callable(function):
                raise UsageError(f"{migration.up}: defines no {direction}(conn)")
            try:
                with conn.transaction():
                    self.begin_migration(conn, local=True)
                    # Its id tells, afterwards, whether the transaction is still the one
                    # opened here.
                    xid = _scalar(conn, "SELECT txid_current()")
                    self._phase(before)
                    clock = time.perf_counter()
                    try:
                        with recording(conn) as executed:
                            function(conn)
                    except Exception as exc:  # noqa: BLE001 - the user's code: reported
                        failure = python_failure(migration.up, direction, exc)
                        ended = _transaction_ended(conn, xid, migration, direction)
                        if ended is not None:
                            raise MigrationError(f"{failure}; {ended}") from None
                        sqlstate = exc.sqlstate if isinstance(exc, psycopg.Error) else None
                        raise MigrationError(f"{failure}; rolled back", sqlstate=sqlstate) from None
                    ended = _transaction_ended(conn, xid, migration, direction)
                    if ended is not None:
                        raise MigrationError(f"{migration.up}: {ended}")
                    took = _ms_since(clock)
                    self._record(conn, migration, direction, took)
                    self._after_migration(migration, direction, took)
            except psycopg.Error as exc:  # at COMMIT, or the migration left its transaction failed
                raise MigrationError(
                    f"{migration.up}: {direction}() failed: {one_line(exc)}; rolled back",
                    sqlstate=exc.sqlstate,
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
                position = error_position(exc)
                line = statement_line(statement, position)
                raise _StatementFailed(f"{path}:{line}: {one_line(exc)}", exc.sqlstate) from None
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


def _scalar(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    """The one value ``query`` returns."""
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _transaction_ended(
    conn: psycopg.Connection[Any], xid: int, migration: files.Migration, direction: str
) -> str | None:
    """What a Python migration did to the migrator's transaction ``xid``, if it ended it.

    None while it is still open (or failed: rolled back by the caller, as usual). Otherwise
    whether it was committed or rolled back, and what that leaves: the server keeps each
    transaction's fate (``txid_status``), so this is what happened, not a guess.
    """
    status = conn.info.transaction_status
    if status == psycopg.pq.TransactionStatus.INERROR:
        return None
    if status == psycopg.pq.TransactionStatus.INTRANS:
        if _scalar(conn, "SELECT txid_current_if_assigned()") == xid:
            return None
    fate = _scalar(conn, "SELECT txid_status(%s)", (xid,))
    after = (
        "statements after it ran one by one, outside a transaction, and stay applied"
        if status == psycopg.pq.TransactionStatus.IDLE
        else "what ran in the transaction it opened next is rolled back"
    )
    if fate == "committed":
        return (
            f"{direction}() committed the transaction itself: statements before the COMMIT"
            f" stay applied ({after}); {migration.label} is not recorded"
        )
    return (
        f"{direction}() rolled back the transaction itself: statements before the ROLLBACK are"
        f" undone ({after}); {migration.label} is not recorded"
    )


def _rollback_quietly(conn: psycopg.Connection[Any]) -> None:
    """End the transaction a failed message left open (if the connection still stands)."""
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error:
        pass


class _StatementFailed(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


def _applied_by() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
