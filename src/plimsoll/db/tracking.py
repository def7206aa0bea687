"""The migrator's tracking table: which migrations a database has, and in what order.

- Columns (``plimsoll_migrations`` by default, ``db.tracking_table``): version (the primary
  key), name, checksum (SHA-256 of the file), applied_at, execution_ms, applied_by, and
  applied_rank: the order rows were applied in, from an identity column (Flyway's
  ``installed_rank``). ``down`` follows it. Not ``applied_at``: rows written in one
  transaction (a baseline) share it, and a server clock set back would reorder them.
- applied_rank on an older table: a table made before the rank existed gets it on the next
  ``up`` or ``down`` (:func:`ensure_table`), its rows numbered by ``applied_at`` (then
  version): all they have. Until then (``status`` changes nothing; a role that does not own
  the table cannot add it) its rows are read in that same order.
- Schema: the table is named schema-qualified. An unqualified ``db.tracking_table`` is
  resolved once, when a run starts (:func:`resolve_table`): the table the search_path finds,
  else ``current_schema()``, where PostgreSQL would create it. A migration's ``SET
  search_path`` cannot then move it.
- Another tool's table: a name that is not a table, or a table without these columns, is a
  ConfigError naming ``db.tracking_table`` (exit 2), never written to.
- Created only when missing: the table (and its schema) are created under the migrator lock
  when they do not exist (:func:`create_table`), so that a deploy role with SELECT, INSERT
  and DELETE on an existing table needs no CREATE right.
- Privileges: a run needs SELECT and INSERT on the table (DELETE for ``down``); a right
  missing, or the right to create a missing table or schema, is a one-line CannotRunError
  (exit 3) naming the role and the GRANT that would do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql as pgsql

from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.core.log import get_logger
from plimsoll.db.migrate_errors import one_line

# The migrator's logger: its events keep the logger name (the JSON log's "logger") they had.
log = get_logger("plimsoll.db.migrator")

TRACKING_COLUMNS = ("version", "name", "checksum", "applied_at", "execution_ms", "applied_by")
"""The columns a plimsoll tracking table has (applied_rank aside: a table of the layout
before it gets it on the next run)."""


@dataclass(frozen=True)
class TrackingTable:
    """The tracking table as a run names it: schema-qualified, resolved once when it starts.

    ``schema`` is None when the configured name is unqualified and the search_path names no
    schema that exists (nowhere to create it). ``columns`` is None when it does not exist.
    """

    configured: str
    schema: str | None
    name: str
    columns: tuple[str, ...] | None
    kind: str | None = None
    schema_exists: bool = True
    can_select: bool = True
    can_insert: bool = True
    can_delete: bool = True
    user: str = ""
    search_path: str = ""

    @property
    def exists(self) -> bool:
        """Whether the table exists."""
        return self.columns is not None

    @property
    def qualified(self) -> str:
        """``schema.name``, for messages."""
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> pgsql.Composable:
        """The schema-qualified name as SQL."""
        assert self.schema is not None  # resolved: checked before any statement uses it
        return pgsql.Identifier(self.schema, self.name)

    @property
    def has_rank(self) -> bool:
        """Whether it has the ``applied_rank`` column."""
        return "applied_rank" in (self.columns or ())


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


# The order rows of a tracking table without applied_rank were applied in, as far as it can tell:
# rows of one transaction share applied_at, and are then taken in (numeric) version order.
_APPLIED_ORDER = pgsql.SQL("applied_at, string_to_array(version, '.')::numeric[]")

# The tracking table, found as PostgreSQL finds an unqualified name: on the search_path, else
# where it would be created (current_schema()); its columns and this role's rights on it.
_RESOLVE_TRACKING = """
SELECT coalesce(n.nspname, %(schema)s, current_schema()), c.relkind::text,
  CASE WHEN c.oid IS NOT NULL THEN ARRAY(SELECT a.attname::text FROM pg_attribute AS a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) END,
  EXISTS (SELECT FROM pg_namespace
    WHERE nspname = coalesce(n.nspname, %(schema)s, current_schema())),
  coalesce(has_table_privilege(c.oid, 'SELECT'), false),
  coalesce(has_table_privilege(c.oid, 'INSERT'), false),
  coalesce(has_table_privilege(c.oid, 'DELETE'), false),
  current_user::text, current_setting('search_path')
FROM (SELECT to_regclass(%(name)s) AS oid) AS r
LEFT JOIN pg_class AS c ON c.oid = r.oid
LEFT JOIN pg_namespace AS n ON n.oid = c.relnamespace
"""

# What pg_class.relkind stands for, for an error naming what a name is instead of a table.
_KINDS = {
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "i": "index",
    "I": "partitioned index",
    "f": "foreign table",
    "c": "composite type",
    "t": "TOAST table",
}


def resolve_table(conn: psycopg.Connection[Any], configured: str, key: str) -> TrackingTable:
    """Find the tracking table ``configured`` names, as ``conn`` sees it now.

    ``key`` is the config key that named it (with its file), for errors: a ConfigError
    when the name is another tool's table (not a table, or without the columns of one).
    """
    schema, dot, name = configured.rpartition(".")
    row = conn.execute(
        _RESOLVE_TRACKING, {"schema": schema if dot else None, "name": configured}
    ).fetchone()
    assert row is not None  # one row, always
    table = TrackingTable(
        configured,
        row[0],
        name,
        tuple(row[2]) if row[2] is not None else None,
        row[1],
        bool(row[3]),
        bool(row[4]),
        bool(row[5]),
        bool(row[6]),
        row[7],
        row[8],
    )
    if table.exists:
        missing = [c for c in TRACKING_COLUMNS if c not in (table.columns or ())]
        if table.kind not in ("r", "p"):
            why = f"{table.qualified} is a {_KINDS.get(table.kind or '', 'relation')}"
        elif missing:
            why = (
                f"columns {', '.join(table.columns or ()) or 'none'}; one has"
                f" {', '.join(TRACKING_COLUMNS)}"
            )
        else:
            return table
        raise ConfigError(
            f"{key} {configured} exists but is not a plimsoll tracking table ({why}):"
            " name another table"
        )
    return table


def ensure_table(
    conn: psycopg.Connection[Any], configured: str, key: str, needs: str
) -> TrackingTable:
    """The run's tracking table: created (with its schema) only when missing, so that a
    role with just ``SELECT`` and ``needs`` (INSERT or DELETE) on it can run; one of the
    layout before ``applied_rank`` is given it when the role may.

    Called under the migrator lock (CREATE TABLE IF NOT EXISTS is not safe against a
    concurrent one). ``key`` names ``db.tracking_table`` (with its file) in errors: a right
    missing is a CannotRunError, another tool's table a ConfigError.
    """
    table = resolve_table(conn, configured, key)
    if not table.exists:
        return create_table(conn, table, key)
    granted = {
        "SELECT": table.can_select,
        "INSERT": table.can_insert,
        "DELETE": table.can_delete,
    }
    missing = [right for right in ("SELECT", needs) if not granted[right]]
    if missing:
        raise CannotRunError(
            f"{key} {table.configured}: role {table.user} lacks {' and '.join(missing)}"
            f" on {table.qualified}"
            f" (GRANT SELECT, INSERT, DELETE ON {table.qualified} TO {table.user})"
        )
    if not table.has_rank:
        try:
            add_rank(conn, table)
        except psycopg.errors.InsufficientPrivilege:
            # The old layout is still read in the order rows were applied (applied_at):
            # a deploy role that does not own the table goes on with it.
            log.warning(
                "cannot add applied_rank to %s (role %s does not own it): down follows"
                " applied_at; run `plimsoll db migrate up` once as its owner",
                table.qualified,
                table.user,
                extra={"event": "tracking_table_not_upgraded"},
            )
            return table
        table = replace(table, columns=(*(table.columns or ()), "applied_rank"))
    return table


def create_table(conn: psycopg.Connection[Any], table: TrackingTable, key: str) -> TrackingTable:
    """Create the missing tracking table (and its schema); a one-line error (exit 3)
    naming ``key`` (``db.tracking_table``) and the right missing when the role may not.

    A name whose schema cannot be told (the search_path names none that exists) is a
    ConfigError (exit 2). Returns the table as its owner now has it: every right on it.
    """
    if table.schema is None:
        raise ConfigError(
            f"{key} {table.configured}: no schema to create it in (the search_path"
            f" {table.search_path!r} names no schema that exists): write it as"
            f" schema.{table.name}"
        )
    if not table.schema_exists:
        try:
            conn.execute(
                pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(table.schema))
            )
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CannotRunError(
                f"{key} {table.configured}: schema {table.schema} does not exist and role"
                f" {table.user} may not create it (no CREATE privilege on database"
                f" {conn.info.dbname}: {one_line(exc)}); create it once as a role that may"
            ) from None
    try:
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
            ).format(table.sql)
        )
    except psycopg.errors.InsufficientPrivilege as exc:
        raise CannotRunError(
            f"{key} {table.configured}: table {table.qualified} does not exist and role"
            f" {table.user} may not create it (no CREATE privilege on schema {table.schema}:"
            f" {one_line(exc)}); create it once as a role that may, then GRANT SELECT,"
            f" INSERT, DELETE ON {table.qualified} TO {table.user}"
        ) from None
    # Its owner now: every right on it.
    return replace(
        table,
        columns=(*TRACKING_COLUMNS, "applied_rank"),
        kind="r",
        schema_exists=True,
        can_select=True,
        can_insert=True,
        can_delete=True,
    )


def add_rank(conn: psycopg.Connection[Any], tracking: TrackingTable) -> None:
    """Add ``applied_rank`` to a table of the old layout, numbering its rows by applied_at.

    Rows sharing an applied_at (written in one transaction) are numbered by version. One
    transaction: a migrator stopped half-way leaves the old layout, and tries again. A role
    that does not own the table gets psycopg's InsufficientPrivilege.
    """
    table = tracking.sql
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


def applied_rows(conn: psycopg.Connection[Any], table: TrackingTable, key: str) -> list[AppliedRow]:
    """The rows of ``table`` in the order they were applied (none when it does not exist).

    By ``applied_rank``; a table of the layout before it (read as it is: nothing is changed)
    by ``applied_at``, then version. A table the role may not read is a CannotRunError
    naming ``key`` (``db.tracking_table``).
    """
    if not table.exists:
        return []
    if not table.can_select:
        raise CannotRunError(
            f"{key} {table.configured}: role {table.user} lacks SELECT on {table.qualified}"
            f" (GRANT SELECT, INSERT, DELETE ON {table.qualified} TO {table.user})"
        )
    rank, order = (
        (pgsql.SQL("applied_rank"), pgsql.SQL("applied_rank"))
        if table.has_rank
        else (pgsql.SQL("NULL::bigint"), _APPLIED_ORDER)
    )
    rows = conn.execute(
        pgsql.SQL(
            "SELECT version, name, checksum, applied_at, execution_ms, applied_by, {}"
            " FROM {} ORDER BY {}"
        ).format(rank, table.sql, order)
    ).fetchall()
    return [AppliedRow(*row) for row in rows]
