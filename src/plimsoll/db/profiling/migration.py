"""Queries profiled before and after pending migrations, without keeping the migrations.

Two ways, chosen by :class:`Mode`:

- ``transaction`` (default): one transaction on the target database profiles the queries,
  runs the pending migrations as the dry run does (:mod:`plimsoll.db.dry_run`), profiles them
  again and is rolled back. Nothing is kept, but the migrations' locks are held while the
  queries run a second time, and a migration that cannot run in a transaction (``CREATE INDEX
  CONCURRENTLY``) stops it there. An index created in the same transaction on a table with
  HOT-updated rows may not be usable by that transaction yet; use ``copy`` to be exact.
- ``copy``: a scratch copy of the database (``CREATE DATABASE ... TEMPLATE``, which needs no
  other session connected to the source: fit for a development or staging database) gets
  the migrations applied for real by the migrator, is profiled before and after, and is
  dropped.

Each query's median after is judged against its samples before, by the same rules as a
baseline check (:func:`plimsoll.db.profiling.baselines.judge`). A query that ran before and
fails after was broken by the migrations: an ERROR with the server's error. A query that
failed before is not the migrations' doing: if it fails after too (or there is no after) it is
a plain failure, which counts as a WARNING (the profile is incomplete); if it runs after, it
is reported as running after the migrations only, with nothing to compare.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo

from plimsoll.core.errors import CannotRunError
from plimsoll.db import migrations as files
from plimsoll.db.connection import connect_url
from plimsoll.db.dry_run import DryRunReport
from plimsoll.db.dry_run import run_plan as run_in_transaction
from plimsoll.db.migrator import MigrationError, Migrator
from plimsoll.db.profiling.baselines import (
    DEFAULT_MIN_DELTA_MS,
    DEFAULT_THRESHOLD,
    Judgement,
    Status,
    compare_profiles,
    worst,
)
from plimsoll.db.profiling.profiler import (
    ProfileReport,
    QueryProfile,
    QueryProfiler,
    profile_database,
)
from plimsoll.db.profiling.queries import Query


class Mode(StrEnum):
    """Where the migrations run while profiling."""

    TRANSACTION = "transaction"
    COPY = "copy"


@dataclass
class MigrationProfile:
    """Queries profiled before and after the pending migrations, and the verdicts."""

    mode: Mode
    migrations: list[str]
    before: ProfileReport
    after: ProfileReport | None = None
    problem: str | None = None
    # A pending migration failed while being profiled: it would fail when applied too.
    migration_failed: bool = False
    threshold: float = DEFAULT_THRESHOLD
    comparisons: list[tuple[QueryProfile, QueryProfile, Judgement]] = field(default_factory=list)
    dry_run: DryRunReport | None = None

    @property
    def broken(self) -> list[tuple[QueryProfile, QueryProfile, Judgement]]:
        """The comparisons of queries that ran before and fail after."""
        return [c for c in self.comparisons if c[2].broken is not None]

    @property
    def failed(self) -> list[tuple[QueryProfile, QueryProfile | None]]:
        """Queries that failed before, and after too (or with no after-profile): before, after."""
        found: list[tuple[QueryProfile, QueryProfile | None]] = []
        for old in self.before.profiles:
            if old.server_error is None:
                continue
            new = self.after.get(old.query.key) if self.after else None
            if new is None or new.server_error is not None:
                found.append((old, new))
        return found

    @property
    def after_only(self) -> list[tuple[QueryProfile, QueryProfile]]:
        """Queries that failed before and run after the migrations: nothing to compare."""
        if self.after is None:
            return []
        found = []
        for old in self.before.profiles:
            new = self.after.get(old.query.key)
            if old.server_error is not None and new is not None and new.measurements:
                found.append((old, new))
        return found

    @property
    def status(self) -> Status:
        """The worst verdict (a broken query, or a migration that failed, is an ERROR); a
        plain failure counts as a WARNING."""
        statuses = [j.status for _, _, j in self.comparisons]
        statuses += [Status.ERROR] * self.migration_failed
        return worst(statuses + [Status.WARNING] * bool(self.failed))

    def to_dict(self) -> dict[str, Any]:
        """The profile as a JSON-ready dict."""
        return {
            "mode": self.mode.value,
            "migrations": self.migrations,
            "threshold": self.threshold,
            "status": self.status.value,
            "problem": self.problem,
            "migration_failed": self.migration_failed,
            "before": self.before.to_dict(),
            "after": self.after.to_dict() if self.after else None,
            "comparisons": [
                {
                    "key": old.query.key,
                    "name": old.query.name,
                    "metric": old.metric.value,
                    "before": old.median,
                    "after": new.median,
                    "change": j.change,
                    "change_pct": None if j.change is None else round(j.change * 100, 1),
                    "status": j.status.value,
                    "improved": j.improved,
                    "broken": j.broken,
                    "plan_before": list(old.measurements[-1].nodes),
                    "plan_after": list(new.measurements[-1].nodes) if new.measurements else [],
                }
                for old, new, j in self.comparisons
            ],
            "broken": [old.query.key for old, _, _ in self.broken],
            "failed": [
                {
                    "key": old.query.key,
                    "name": old.query.name,
                    "error_before": old.error,
                    "error_after": None if new is None else new.error,
                }
                for old, new in self.failed
            ],
            "after_only": [
                {"key": old.query.key, "name": old.query.name, "error_before": old.error}
                for old, _ in self.after_only
            ],
        }


def profile_migrations(
    profiler: QueryProfiler,
    migrator: Migrator,
    queries: Sequence[Query],
    *,
    target: str | None = None,
    mode: Mode = Mode.TRANSACTION,
    threshold: float = DEFAULT_THRESHOLD,
    min_delta_ms: float = DEFAULT_MIN_DELTA_MS,
) -> MigrationProfile:
    """Profile ``queries`` before and after ``migrator``'s pending migrations (up to ``target``)."""
    if mode is Mode.COPY:
        result = _on_copy(profiler, migrator, queries, target)
    else:
        result = _in_transaction(profiler, migrator, queries, target)
    result.threshold = threshold
    if result.after is not None:
        result.comparisons = compare_profiles(
            result.before, result.after, threshold=threshold, min_delta_ms=min_delta_ms
        )
    return result


def _in_transaction(
    profiler: QueryProfiler,
    migrator: Migrator,
    queries: Sequence[Query],
    target: str | None,
) -> MigrationProfile:
    found = files.discover(migrator.folder)
    report = DryRunReport()
    with connect_url(migrator.conninfo, application_name="plimsoll-profile") as conn:
        try:
            # As up and the dry run plan it: db.out_of_order lets an older pending one in.
            plan = files.plan_up(
                found,
                migrator.applied_files(conn),
                target,
                out_of_order=migrator.settings.out_of_order,
            )
            migrator.set_timeouts(conn, local=True)
            before = profiler.profile(conn, queries, label="before")
            result = MigrationProfile(Mode.TRANSACTION, [m.label for m in plan], before)
            if not plan:
                result.problem = "no pending migrations: profiled the current state only"
                return result
            result.dry_run = report
            run_in_transaction(conn, migrator, plan, report)
            if report.failed:
                result.problem = _dry_run_problem(report)
                result.migration_failed = any(m.error for m in report.migrations)
                return result
            result.after = profiler.profile(conn, queries, label="after")
            return result
        finally:
            conn.rollback()
            report.rolled_back = True


def _dry_run_problem(report: DryRunReport) -> str:
    for migration in report.migrations:
        label = f"{migration.version}_{migration.name}"
        if not migration.dry_runnable:
            return (
                f"{label} cannot run inside a transaction ({migration.reason}): "
                "profile it on a scratch copy (--copy)"
            )
        if migration.error:
            return f"{label} failed: {migration.error}"
    return "the dry run failed"


def _on_copy(
    profiler: QueryProfiler,
    migrator: Migrator,
    queries: Sequence[Query],
    target: str | None,
) -> MigrationProfile:
    found = files.discover(migrator.folder)
    with psycopg.connect(migrator.conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
        source = str(row[0]) if row else ""
        planned = files.plan_up(
            found,
            migrator.applied_files(conn),
            target,
            out_of_order=migrator.settings.out_of_order,
        )
        labels = [m.label for m in planned]
    # Identifiers are at most 63 bytes: the source name is shortened, the suffix kept.
    copy = f"{source[:30]}_plimsoll_profile_{uuid.uuid4().hex[:8]}"
    admin_info = make_conninfo(migrator.conninfo, dbname="postgres")
    copy_info = make_conninfo(migrator.conninfo, dbname=copy)
    with psycopg.connect(admin_info, autocommit=True) as admin:
        try:
            admin.execute(
                pgsql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    pgsql.Identifier(copy), pgsql.Identifier(source)
                )
            )
        except psycopg.Error as exc:
            message = (exc.diag.message_primary or str(exc)).splitlines()[0]
            raise CannotRunError(
                f"cannot make a scratch copy of database {source}: {message} "
                "(a copy needs no other session connected to the source)"
            ) from None
        try:
            timeout = migrator.settings.statement_timeout
            before = profile_database(
                profiler, copy_info, queries, statement_timeout=timeout, label="before"
            )
            result = MigrationProfile(Mode.COPY, labels, before)
            if not labels:
                result.problem = "no pending migrations: profiled the current state only"
                return result
            scratch = Migrator(copy_info, migrator.folder, migrator.settings)
            try:
                scratch.up(target)
            except MigrationError as exc:
                result.problem = f"on the scratch copy: {exc}"
                result.migration_failed = True
                return result
            result.after = profile_database(
                profiler, copy_info, queries, statement_timeout=timeout, label="after"
            )
            return result
        finally:
            _drop(admin, copy)


def _drop(admin: psycopg.Connection[Any], name: str) -> None:
    """Drop the scratch copy, ending any session left on it."""
    if admin.info.server_version >= 130000:
        admin.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
        )
        return
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
    )
    admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {}").format(pgsql.Identifier(name)))
