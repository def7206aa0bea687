"""Reading a live database for ``plimsoll db lint --env``: its catalog and server version."""

from __future__ import annotations

from plimsoll.db.catalog import Catalog
from plimsoll.db.connection import connect_url
from plimsoll.db.introspect import introspect


def server_major_version(conninfo: str) -> int:
    """The server's major version (``server_version_num // 10000``); CannotRunError if down."""
    with connect_url(conninfo, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    return int(row[0]) // 10000 if row else 0


def read_database(conninfo: str, exclude_tables: tuple[str, ...]) -> tuple[Catalog, int]:
    """The catalog and the major version of the database at ``conninfo``."""
    version = server_major_version(conninfo)
    return introspect(conninfo, exclude_tables=exclude_tables), version
