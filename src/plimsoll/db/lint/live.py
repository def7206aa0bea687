"""Reading a live database for ``plimsoll db lint --env``: its catalog, server version, the
migrations its tracking table lists, and where it is (for the report; never the password)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plimsoll.db.catalog import Catalog
from plimsoll.db.connection import connect_url
from plimsoll.db.introspect import introspect


@dataclass(frozen=True)
class Database:
    """What a lint reads of a live database.

    ``major`` is ``server_version_num // 10000`` (9 for any 9.x); ``applied`` the versions
    (numeric keys) in the tracking table, empty when there is none; ``where`` names the
    database as libpq reached it: ``database``, ``host``, ``port``, ``user``.
    """

    catalog: Catalog
    major: int
    applied: frozenset[tuple[int, ...]] = frozenset()
    where: dict[str, Any] = field(default_factory=dict)


def server_major_version(conninfo: str) -> int:
    """The server's major version (``server_version_num // 10000``); CannotRunError if down."""
    with connect_url(conninfo, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    return int(row[0]) // 10000 if row else 0


def read_database(conninfo: str, tracking_table: str = "plimsoll_migrations") -> Database:
    """The catalog, version, applied migrations and whereabouts of the database at
    ``conninfo`` (its tracking table left out of the catalog)."""
    from psycopg import sql

    from plimsoll.db.migrations import version_key

    with connect_url(conninfo, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
        major = int(row[0]) // 10000 if row else 0
        info = conn.info
        where = {
            "database": info.dbname,
            "host": info.host,
            "port": info.port,
            "user": info.user,
        }
        applied: frozenset[tuple[int, ...]] = frozenset()
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (tracking_table,)).fetchone()
        if exists and exists[0]:
            name = sql.Identifier(*tracking_table.split("."))
            rows = conn.execute(sql.SQL("SELECT version FROM {}").format(name)).fetchall()
            applied = frozenset(version_key(str(r[0])) for r in rows if _numeric(str(r[0])))
    excluded = (tracking_table.split(".")[-1],)
    return Database(introspect(conninfo, exclude_tables=excluded), major, applied, where)


def _numeric(version: str) -> bool:
    """Whether a tracking row's version is a migration version (digits and dots)."""
    return all(part.isascii() and part.isdigit() for part in version.split("."))
