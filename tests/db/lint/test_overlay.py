"""The schema checked with ``--env`` and files: the live catalog with the files on top.

A "live" catalog here is built from DDL (the same model introspection fills); the command
test (``tests/cli/test_db_lint_env_cli.py``) does it against a real database.
"""

from __future__ import annotations

from plimsoll.db.ddl import build_catalog
from plimsoll.db.diff.engine import diff
from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.engine import LintReport, LiveDatabase, SourceFile, lint_sources
from plimsoll.db.lint.overlay import DATABASE_SOURCE, database_script, lost_objects
from plimsoll.db.lint.registry import load_registry
from plimsoll.db.sqljson import parse_json

LIVE_SQL = """
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
COMMENT ON TABLE accounts IS 'who logs in';
CREATE TABLE scratch (note text);
CREATE TABLE events (day date) PARTITION BY RANGE (day);
CREATE MATERIALIZED VIEW daily AS SELECT 1 AS day;
"""


def _live() -> LiveDatabase:
    return LiveDatabase(build_catalog([parse_json(LIVE_SQL, "live.sql")]))


def _lint(rules: list[str], *sources: SourceFile, live: LiveDatabase | None = None) -> LintReport:
    active, audit = compose(load_registry(), [], select=rules)
    return lint_sources(sources, active, audit, pg_version=17, live=live or _live())


def test_the_database_round_trips_through_its_ddl() -> None:
    live = _live().catalog
    script = database_script(live)
    assert script.problems == ()
    assert script.script.source == DATABASE_SOURCE
    rebuilt = build_catalog([script.script])
    assert lost_objects(live, rebuilt) == []
    assert set(rebuilt.tables) == set(live.tables)
    assert not [c for c in diff(live, rebuilt) if c.object_type in ("table", "column")]


def test_a_lost_object_is_said() -> None:
    live = _live().catalog
    without = build_catalog([parse_json("CREATE TABLE accounts (id bigint PRIMARY KEY);", "x")])
    lost = lost_objects(live, without)
    assert any("public.scratch could not be rebuilt" in line for line in lost)


def test_new_tables_of_the_files_are_checked_with_the_database_ones() -> None:
    report = _lint(
        ["require-primary-key"],
        SourceFile("2_tokens.up.sql", "CREATE TABLE tokens (token text);\n", True),
    )
    found = [(f.object, f.file, f.line) for f in report.findings]
    assert ("public.tokens", "2_tokens.up.sql", 1) in found
    # The database's own table has no file and no line.
    assert ("public.scratch", None, 0) in found
    assert report.catalog_source == "database + files"
    assert report.warnings == []
    data = report.as_dict()["findings"]
    scratch = next(f for f in data if f["object"] == "public.scratch")
    assert (scratch["file"], scratch["line"], scratch["column"]) == (None, None, None)


def test_files_change_what_the_database_has() -> None:
    report = _lint(
        ["require-primary-key"],
        SourceFile("3_fix.up.sql", "ALTER TABLE scratch ADD PRIMARY KEY (note);\n", True),
    )
    assert "public.scratch" not in {f.object for f in report.findings}


def test_applied_migrations_are_not_applied_again() -> None:
    live = LiveDatabase(_live().catalog, applied=frozenset({(1,)}))
    sources = [
        # Applied already: its table is in the database (here: dropped since, by hand).
        SourceFile("1_old.up.sql", "CREATE TABLE old (x int);", True, version=(1,), own=True),
        SourceFile("2_new.up.sql", "CREATE TABLE new (x int);", True, version=(2,), own=True),
    ]
    report = _lint(["require-primary-key"], *sources, live=live)
    objects = {f.object for f in report.findings}
    assert "public.new" in objects and "public.old" not in objects
    assert report.notes == [
        "schema rules checked the database with 1 of the files applied on top; 1 migration"
        " its tracking table lists as applied was not applied again"
    ]


def test_a_statement_on_a_relation_nobody_has_is_said() -> None:
    report = _lint(
        ["require-primary-key"],
        SourceFile(
            "4.up.sql",
            "CREATE TABLE later (id int PRIMARY KEY);\nALTER TABLE later ADD COLUMN a int;\n"
            "ALTER TABLE nowhere ADD COLUMN b int;\nALTER TABLE IF EXISTS gone ADD COLUMN c int;\n"
            "CREATE INDEX ON app.accounts (email);\n",
            True,
        ),
    )
    assert report.warnings == [
        "4.up.sql:3: ALTER TABLE on public.nowhere, which neither the database nor an earlier"
        " file has: not applied to the schema the schema rules check",
        "4.up.sql:5: CREATE INDEX on app.accounts, which neither the database nor an earlier"
        " file has: not applied to the schema the schema rules check",
    ]


def test_statement_rules_know_the_database_relations() -> None:
    report = _lint(
        [
            "ban-concurrent-index-on-partitioned-table",
            "require-unique-index-for-concurrent-refresh",
        ],
        SourceFile(
            "5.up.sql",
            "CREATE INDEX CONCURRENTLY events_day_idx ON events (day);\n"
            "REFRESH MATERIALIZED VIEW CONCURRENTLY daily;\n",
            True,
        ),
    )
    assert [(f.rule, f.line) for f in report.findings] == [
        ("ban-concurrent-index-on-partitioned-table", 1),
        ("require-unique-index-for-concurrent-refresh", 2),
    ]
    assert all("as the database says" in f.message for f in report.findings)
