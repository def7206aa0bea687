"""Round trips of generated migrations on the real server: two databases (A and B) built
from two schemas, the diff from A to B written as a migration, applied to A (A must then
equal B) and rolled back (A must equal what it was)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from plimsoll.db.diff import Change, diff, generate
from plimsoll.db.introspect import introspect
from plimsoll.db.migrator import Migrator
from tests.support.postgres import PgServer


@dataclass(frozen=True)
class RoundTrip:
    """What a round trip did: the changes, and the migration's two scripts."""

    changes: list[Change]
    up: str
    down: str

    def change(self, object_type: str, name: str) -> Change:
        """The one change of ``object_type`` called ``name``."""
        found = [c for c in self.changes if (c.object_type, c.name) == (object_type, name)]
        assert len(found) == 1, [(c.object_type, c.name) for c in self.changes]
        return found[0]


class Pair:
    """Two fresh databases and a role of their own (roles are the server's: the name is
    unique and the role is dropped with the databases)."""

    def __init__(self, server: PgServer, tmp_path: Path) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.server = server
        self.role = f"plimsoll_diff_role_{suffix}"
        self.names = (f"t_diff_a_{suffix}", f"t_diff_b_{suffix}")
        self.a, self.b = (server.dsn_for(name) for name in self.names)
        self.folder = tmp_path / "migrations"
        with psycopg.connect(server.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(self.role)))
            for name in self.names:
                admin.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
                )

    def run(self, dsn: str, script: str) -> None:
        """Run ``script`` (``{role}`` replaced by the pair's role) on one database."""
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(script.replace("{role}", self.role))  # type: ignore[arg-type]

    def round_trip(self, schema_a: str, schema_b: str, data_a: str = "") -> RoundTrip:
        """Build A and B, generate A -> B, apply it to A and back, checking both ends."""
        self.run(self.a, schema_a)
        self.run(self.b, schema_b)
        if data_a:
            self.run(self.a, data_a)
        original, target = introspect(self.a), introspect(self.b)
        changes = diff(original, target)
        assert changes, "A and B should differ"
        up_file, down_file = generate(changes, "to_b", self.folder)
        up, down = up_file.read_text(), down_file.read_text()
        migrator = Migrator(self.a, self.folder)
        migrator.up()
        remaining = diff(introspect(self.a), target)
        assert remaining == [], ([(c.name, c.detail, c.up_sql) for c in remaining], up)
        migrator.down()
        back = diff(introspect(self.a), original)
        assert back == [], ([(c.name, c.detail, c.up_sql) for c in back], down)
        return RoundTrip(changes, up, down)

    def close(self) -> None:
        """Drop both databases, then the role."""
        with psycopg.connect(self.server.dsn, autocommit=True) as admin:
            for name in self.names:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))


@pytest.fixture
def pair(pg_server: PgServer, tmp_path: Path) -> Iterator[Pair]:
    """Databases A and B and a role, dropped after the test."""
    made = Pair(pg_server, tmp_path)
    try:
        yield made
    finally:
        made.close()
