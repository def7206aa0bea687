"""Round trips of generated migrations on the real server: two databases (A and B) built
from two schemas, the diff from A to B written as a migration, applied to A (A must then
equal B) and rolled back (A must equal what it was). With ``dumps``, "equal" is also what
``pg_dump --schema-only`` prints, so nothing the introspection does not read can hide."""

from __future__ import annotations

import difflib
import subprocess
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

    def dump(self, dsn: str) -> list[str]:
        """``pg_dump --schema-only`` of one database, without its comment lines, blank lines
        and the random ``\\restrict`` key of recent releases."""
        done = subprocess.run(
            [str(self.server.bindir / "pg_dump"), "--schema-only", "--dbname", dsn],
            capture_output=True,
            text=True,
            check=True,
        )
        return [
            line
            for line in done.stdout.splitlines()
            if line.strip()
            and not line.startswith(("--", "\\restrict", "\\unrestrict"))
            # Printed before the first table: the tracking table alone may bring them.
            and line not in _TABLE_SETTINGS
        ]

    def run(self, dsn: str, script: str) -> None:
        """Run ``script`` (``{role}`` replaced by the pair's role) on one database."""
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(script.replace("{role}", self.role))  # type: ignore[arg-type]

    def round_trip(
        self, schema_a: str, schema_b: str, data_a: str = "", *, dumps: bool = False
    ) -> RoundTrip:
        """Build A and B, generate A -> B, apply it to A and back, checking both ends (with
        ``dumps``, by pg_dump's output too)."""
        self.run(self.a, schema_a)
        self.run(self.b, schema_b)
        if data_a:
            self.run(self.a, data_a)
        original, target = introspect(self.a), introspect(self.b)
        dump_a, dump_b = (self.dump(self.a), self.dump(self.b)) if dumps else ([], [])
        if dumps:
            assert dump_a != dump_b, "pg_dump should see A and B differ"
        changes = diff(original, target)
        assert changes, "A and B should differ"
        up_file, down_file = generate(changes, "to_b", self.folder)
        up, down = up_file.read_text(), down_file.read_text()
        migrator = Migrator(self.a, self.folder)
        migrator.up()
        remaining = diff(introspect(self.a), target)
        assert remaining == [], ([(c.name, c.detail, c.up_sql) for c in remaining], up)
        if dumps:
            _same_dump(self.dump(self.a), dump_b, up)
        migrator.down()
        back = diff(introspect(self.a), original)
        assert back == [], ([(c.name, c.detail, c.up_sql) for c in back], down)
        if dumps:
            _same_dump(self.dump(self.a), dump_a, down)
        return RoundTrip(changes, up, down)

    def close(self) -> None:
        """Drop both databases, then the role."""
        with psycopg.connect(self.server.dsn, autocommit=True) as admin:
            for name in self.names:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.role)))


_TABLE_SETTINGS = ("SET default_tablespace = '';", "SET default_table_access_method = heap;")


def _same_dump(got: list[str], expected: list[str], script: str) -> None:
    """Assert two dumps are equal, showing how they differ and the script that ran."""
    got = _without_tracking(got)
    if got != expected:
        changed = "\n".join(difflib.unified_diff(expected, got, "expected", "got", lineterm=""))
        raise AssertionError(f"pg_dump differs:\n{changed}\n--- script:\n{script}")


def _without_tracking(dump: list[str]) -> list[str]:
    """A dump without the statements about the migrator's tracking table (the only thing
    the migration adds that is not the schema)."""
    out: list[str] = []
    skipping = False
    for line in dump:
        if "plimsoll_migrations" in line:
            # The statement goes on until its semicolon.
            skipping = not line.rstrip().endswith(";")
            continue
        if skipping:
            skipping = not line.rstrip().endswith(";")
            continue
        out.append(line)
    return out


@pytest.fixture
def pair(pg_server: PgServer, tmp_path: Path) -> Iterator[Pair]:
    """Databases A and B and a role, dropped after the test."""
    made = Pair(pg_server, tmp_path)
    try:
        yield made
    finally:
        made.close()
