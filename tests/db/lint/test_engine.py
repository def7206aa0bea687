"""The lint engine: contexts, inline ignores, syntax errors, file order and sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.errors import UsageError
from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.engine import SourceFile, lint_sources
from plimsoll.db.lint.ignores import read_ignores
from plimsoll.db.lint.registry import load_registry
from plimsoll.db.lint.sources import collect_sources
from plimsoll.db.sqljson import parse_json

RULE = "require-concurrent-index-creation"


def _lint(*sources: SourceFile) -> list[tuple[str, str, int, int]]:
    active, audit = compose(load_registry(), [], select=[RULE])
    report = lint_sources(sources, active, audit, pg_version=16)
    return [(f.rule, f.file or "", f.line, f.column) for f in report.findings]


def _context(sql: str) -> StatementContext:
    script = parse_json(sql, "m.sql")
    context = StatementContext(script, 16)
    for statement in script.statements:
        context.advance(statement)
    return context


def test_context_follows_creations_settings_and_transactions() -> None:
    context = _context(
        "SET lock_timeout = '2s'; BEGIN; CREATE TABLE s.a (x int);"
        " CREATE MATERIALIZED VIEW v AS SELECT 1; ALTER TABLE s.a RENAME TO b;"
    )
    assert context.lock_timeout_set and not context.statement_timeout_set
    assert context.explicit_transaction and context.in_transaction
    assert {"s.a", "s.b", "public.v"} <= context.created
    context = _context("SET statement_timeout = 0; BEGIN; COMMIT; RESET lock_timeout;")
    assert not context.statement_timeout_set and not context.explicit_transaction


def test_search_path_changes_the_default_schema() -> None:
    context = _context("SET search_path TO app, public; CREATE TABLE t (x int);")
    assert "app.t" in context.created


def test_ignore_directives_place_and_scope() -> None:
    sql = (
        "CREATE INDEX a ON t (x); -- plimsoll: ignore require-concurrent-index-creation\n"
        "CREATE INDEX b ON t (x);\n"
        "/* a note */ -- plimsoll: ignore\n"
        "CREATE INDEX c\n  ON t (x);\n"
    )
    ignores = read_ignores(parse_json(sql, "f.sql"))
    assert ignores.silenced(RULE, 1)
    assert not ignores.silenced(RULE, 2)
    assert ignores.silenced("any-rule", 4) and ignores.silenced(RULE, 5)
    assert _lint(SourceFile("f.sql", sql, True)) == [(RULE, "f.sql", 2, 1)]


def test_ignore_file_silences_the_whole_file() -> None:
    sql = "CREATE INDEX a ON t (x);\n-- plimsoll: ignore-file require-concurrent-index-creation\n"
    assert _lint(SourceFile("f.sql", sql, True)) == []
    other = "CREATE INDEX a ON t (x);\n-- plimsoll: ignore-file some-other-rule\n"
    assert _lint(SourceFile("f.sql", other, True)) == [(RULE, "f.sql", 1, 1)]


def test_a_syntax_error_is_a_finding_and_other_files_go_on() -> None:
    found = _lint(
        SourceFile("bad.sql", "CREATE INDEX a ON t (x);\nSELECT FROM WHERE;\n", True),
        SourceFile("good.sql", "\n\n  CREATE INDEX é ON t (x);", True),
    )
    assert found == [("syntax-error", "bad.sql", 2, 13), (RULE, "good.sql", 3, 3)]


def test_syntax_errors_can_be_ignored_like_a_rule() -> None:
    active, audit = compose(load_registry(), [], select=[RULE], ignore=["syntax-error"])
    sources = [
        SourceFile("bad.sql", "SELECT FROM WHERE;\n", True),
        SourceFile("good.sql", "CREATE INDEX a ON t (x);\n", True),
    ]
    report = lint_sources(sources, active, audit, pg_version=16)
    assert [(f.rule, f.file) for f in report.findings] == [(RULE, "good.sql")]


def test_block_comment_directives_and_ids_naming_no_rule() -> None:
    active, audit = compose(load_registry(), [], select=[RULE])
    sql = (
        "/* plimsoll: ignore require-concurrent-index-creation */\n"
        "CREATE INDEX a ON t (x);\n"
        "-- plimsoll: ignore require-concurent-index-creation\n"
        "CREATE INDEX b ON t (y);\n"
    )
    report = lint_sources(
        [SourceFile("m.sql", sql, True)],
        active,
        audit,
        pg_version=16,
        known_rules=frozenset(load_registry().rules),
    )
    assert [(f.rule, f.line) for f in report.findings] == [(RULE, 4)]
    assert report.silenced == 1
    assert report.warnings == [
        "m.sql:3: 'plimsoll: ignore' names no rule: 'require-concurent-index-creation'"
        " (did you mean require-concurrent-index-creation?)"
    ]


def test_an_ignore_may_give_its_reason() -> None:
    """The reason after the ids is no list of rule ids: it silences nothing and warns of
    nothing; only a token that looks like a rule id and names none is a warning."""
    registry = load_registry()
    active, audit = compose(registry, [], select=[RULE, "changing-column-type"])
    sql = (
        "-- plimsoll: ignore changing-column-type because we checked\n"
        "ALTER TABLE t ALTER COLUMN c TYPE bigint;\n"
        "-- plimsoll: ignore require-concurrent-index-creation, changing-column-type: hand-made\n"
        "CREATE INDEX a ON t (x);\n"
        "/* plimsoll: ignore require-concurrent-index-creation -- see ticket-42 */\n"
        "CREATE INDEX b ON t (x);\n"
        "-- plimsoll: ignore prefer-robust-stmt the rest is a reason\n"
        "CREATE INDEX c ON t (x);\n"
    )
    report = lint_sources(
        [SourceFile("m.sql", sql, True)],
        active,
        audit,
        pg_version=16,
        known_rules=frozenset(registry.rules),
    )
    assert [(f.rule, f.line) for f in report.findings] == [(RULE, 8)]
    assert report.silenced == 3
    assert report.warnings == [
        "m.sql:7: 'plimsoll: ignore' names no rule: 'prefer-robust-stmt'"
        " (did you mean prefer-robust-stmts?)"
    ]
    ignores = read_ignores(parse_json(sql, "m.sql"))
    assert [rule for _, rule in ignores.named] == [
        "changing-column-type",
        "changing-column-type",
        "require-concurrent-index-creation",
        "require-concurrent-index-creation",
        "prefer-robust-stmt",
    ]


def test_columns_count_characters_not_bytes() -> None:
    sql = "/* é東 */ CREATE INDEX a ON t (x);"
    assert _lint(SourceFile("f.sql", sql, True)) == [(RULE, "f.sql", 1, 10)]


def test_sources_order_and_kinds(tmp_path: Path) -> None:
    schema = tmp_path / "db" / "schema"
    migrations = tmp_path / "db" / "migrations"
    (schema / "10_tables").mkdir(parents=True)
    (schema / "00_common").mkdir()
    migrations.mkdir(parents=True)
    (schema / "10_tables" / "a.sql").write_text("CREATE TABLE a (x int);")
    (schema / "00_common" / "z.sql").write_text("CREATE SCHEMA app;")
    (migrations / "10_b.up.sql").write_text("SELECT 1;")
    (migrations / "9_a.up.sql").write_text("SELECT 1;")
    (migrations / "9_a.down.sql").write_text("SELECT 1;")
    sources = collect_sources(
        [schema, migrations],
        tmp_path,
        migrations_dir=migrations,
        migrator_settings={"lock_timeout": "5s"},
    )
    assert [(s.path, s.migration, s.build) for s in sources] == [
        ("db/schema/00_common/z.sql", False, True),
        ("db/schema/10_tables/a.sql", False, True),
        ("db/migrations/9_a.up.sql", True, True),
        ("db/migrations/9_a.down.sql", True, False),
        ("db/migrations/10_b.up.sql", True, True),
    ]
    assert sources[2].settings == {"lock_timeout": "5s"} and sources[0].settings == {}


def test_sources_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="missing.sql: no such file or folder"):
        collect_sources([tmp_path / "missing.sql"], tmp_path)


def test_a_file_that_is_not_utf8_is_a_finding_and_the_others_are_linted(tmp_path: Path) -> None:
    """One Latin-1 file no longer ends the run (exit 2): it is an ``encoding-error`` at the
    line and column of its first bad byte, and the other files are linted."""
    latin = "-- caf\u00e9 first line is fine in UTF-8\nCREATE TABLE l\u00e9 (id int);\n"
    data = latin.replace("caf\u00e9", "cafe").encode("latin-1")
    (tmp_path / "a_latin1.sql").write_bytes(data)
    (tmp_path / "2_good.up.sql").write_text("CREATE INDEX orders_idx ON orders (id);\n")
    sources = collect_sources([tmp_path], tmp_path)
    bad = next(s for s in sources if s.path == "a_latin1.sql")
    # Python's own decoder says where the first bad byte is: line 2, after "CREATE TABLE l".
    with pytest.raises(UnicodeDecodeError) as caught:
        data.decode("utf-8")
    assert bad.encoding is not None and bad.encoding.offset == caught.value.start
    assert (bad.encoding.line, bad.encoding.column, bad.encoding.byte) == (2, 15, 0xE9)
    active, audit = compose(load_registry(), [], select=[RULE])
    report = lint_sources(sources, active, audit, pg_version=16)
    assert [(f.rule, f.file, f.line, f.column) for f in report.findings] == [
        ("encoding-error", "a_latin1.sql", 2, 15),
        (RULE, "2_good.up.sql", 1, 1),
    ]
    assert "byte 0xe9" in report.findings[0].message
    # Like syntax-error, the engine's finding can be ignored.
    active, audit = compose(load_registry(), [], select=[RULE], ignore=["encoding-error"])
    report = lint_sources(sources, active, audit, pg_version=16)
    assert [f.rule for f in report.findings] == [RULE]


def test_a_loose_file_is_a_migration_and_the_schema_folder_holds_schema_files(
    tmp_path: Path,
) -> None:
    """``hotfix.sql`` outside the schema folder is a change to a live database (as squawk and
    ``db risk`` take it); a file in the schema folder builds a fresh one (every table new)."""
    schema = tmp_path / "db" / "schema"
    schema.mkdir(parents=True)
    (schema / "tables.sql").write_text("CREATE TABLE orders (id bigint PRIMARY KEY);\n")
    (tmp_path / "hotfix.sql").write_text("CREATE INDEX orders_idx ON orders (id);\n")
    sources = collect_sources(
        [schema, tmp_path / "hotfix.sql"], tmp_path, schema_dir=tmp_path / "db" / "schema"
    )
    assert [(s.path, s.migration, s.wrapped) for s in sources] == [
        ("db/schema/tables.sql", False, False),
        ("hotfix.sql", True, False),
    ]
    active, audit = compose(load_registry(), [], select=[RULE])
    report = lint_sources(sources, active, audit, pg_version=16)
    assert [(f.rule, f.file) for f in report.findings] == [(RULE, "hotfix.sql")]
    # Without a schema folder (the library call of old), any such file is a schema file.
    assert not collect_sources([tmp_path / "hotfix.sql"], tmp_path)[0].migration


def test_set_local_lasts_as_long_as_its_transaction() -> None:
    """SET LOCAL outside a transaction block has no effect; inside one it ends at COMMIT; a
    ROLLBACK takes back the SETs since BEGIN; 0 in any unit is no timeout."""
    context = _context("SET LOCAL lock_timeout = '2s';")
    assert not context.lock_timeout_set and context.ineffective == {"lock_timeout": 0}
    context = _context("BEGIN; SET LOCAL lock_timeout = '2s';")
    assert context.lock_timeout_set
    context = _context("BEGIN; SET LOCAL lock_timeout = '2s'; COMMIT;")
    assert not context.lock_timeout_set
    context = _context("SET lock_timeout = '1s'; BEGIN; SET LOCAL lock_timeout = '0'; COMMIT;")
    assert context.setting("lock_timeout") == "1s"
    context = _context("BEGIN; SET lock_timeout = '2s'; ROLLBACK;")
    assert not context.lock_timeout_set
    for zero in ("0", "'0s'", "'0ms'", "'0min'", "'0.0s'"):
        assert not _context(f"SET statement_timeout = {zero};").statement_timeout_set, zero
    assert _context("SET statement_timeout = '500ms';").statement_timeout_set


def test_a_mistyped_id_silences_nothing_and_is_named() -> None:
    """A first word not shaped like a rule id is a mistyped id, never the start of a reason
    that would leave the directive silencing every rule (``changing_column_type``, ``PG001``)."""
    registry = load_registry()
    active, audit = compose(registry, [], select=["changing-column-type"])
    sql = (
        "-- plimsoll: ignore changing_column_type\n"
        "ALTER TABLE t ALTER COLUMN c TYPE bigint;\n"
        "-- plimsoll: ignore-file PG001 because\n"
        "-- plimsoll: ignore -- every rule, on purpose\n"
        "ALTER TABLE t ALTER COLUMN d TYPE bigint;\n"
    )
    report = lint_sources(
        [SourceFile("m.sql", sql, True)],
        active,
        audit,
        pg_version=16,
        known_rules=frozenset(registry.rules),
    )
    assert [(f.rule, f.line) for f in report.findings] == [("changing-column-type", 2)]
    assert report.silenced == 1
    assert report.warnings == [
        "m.sql:1: 'plimsoll: ignore' names no rule: 'changing_column_type'"
        " (did you mean changing-column-type?)",
        "m.sql:3: 'plimsoll: ignore' names no rule: 'pg001'",
    ]
