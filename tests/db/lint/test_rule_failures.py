"""A rule whose check raises, or yields what is not a Violation: a warning, never the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.engine import SourceFile, lint_catalog, lint_sources
from plimsoll.db.lint.library import Library
from plimsoll.db.lint.registry import Registry, load_registry
from plimsoll.db.lint.rule import SchemaRule, Severity, StatementRule, Violation
from plimsoll.db.lint.rule_failures import MAX_FAILURES


class _Fragile(StatementRule):
    """Flags tables named tmp_*; raises on a table named boom, yields a string for odd."""

    id = "fragile-rule"
    severity = Severity.ERROR
    help = "Rename it."
    node_types: ClassVar[tuple[str, ...]] = ("CreateStmt",)

    def check(self, statement: Any, context: Any) -> Iterator[Violation]:
        name = statement.node["relation"]["relname"]
        if name.startswith("boom"):
            raise ValueError(f"crashed on\n{name}")
        if name == "odd":
            yield "just a string"  # type: ignore[misc]
            return
        if name.startswith("tmp_"):
            yield Violation(f"scratch table {name}")


class _FragileSchema(SchemaRule):
    """Always raises."""

    id = "fragile-schema-rule"
    severity = Severity.WARNING
    help = "None."

    def check(self, catalog: Any, context: Any) -> Iterator[Violation]:
        raise KeyError("no such table")


def _registry() -> Registry:
    registry = Registry()
    for rule_id in ("ban-drop-table", "require-primary-key"):
        registry.add(load_registry().rules[rule_id], "builtin")
    registry.add(_Fragile, "test")
    registry.add(_FragileSchema, "test")
    registry.add(Library.of("t", "1.0.0", "test", *registry.rules), "test")
    return registry


def _lint(sql: str) -> Any:
    active, audit = compose(_registry(), ["t"])
    source = SourceFile("m.sql", sql, migration=True)
    return lint_sources([source], active, audit, pg_version=17)


def test_a_raising_rule_is_skipped_there_and_the_others_go_on() -> None:
    report = _lint(
        "CREATE TABLE tmp_a (id int);\nCREATE TABLE boom (id int);\n"
        "CREATE TABLE tmp_b (id int);\nDROP TABLE x;\n"
    )
    found = [(f.rule, f.line) for f in report.findings]
    # The fragile rule still reports before and after the statement it failed on.
    assert ("fragile-rule", 1) in found and ("fragile-rule", 3) in found
    assert ("ban-drop-table", 4) in found
    # The schema rule that works still reports, the one that raises is a warning.
    assert [f.line for f in report.findings if f.rule == "require-primary-key"] == [1, 2, 3]
    assert report.warnings == [
        "rule fragile-rule failed at m.sql:2 and was skipped there: ValueError: crashed on boom",
        "rule fragile-schema-rule failed at the schema (files) and was skipped there:"
        " KeyError: 'no such table'",
    ]
    assert report.as_dict()["warnings"] == report.warnings


def test_a_yielded_non_violation_is_the_same_failure() -> None:
    report = _lint("CREATE TABLE odd (id int PRIMARY KEY);\nCREATE TABLE tmp_c (id int);\n")
    assert [(f.rule, f.line) for f in report.findings if f.rule == "fragile-rule"] == [
        ("fragile-rule", 2)
    ]
    assert report.warnings[0] == (
        "rule fragile-rule failed at m.sql:1 and was skipped there:"
        " TypeError: check yielded str 'just a string', not a Violation"
    )


def test_a_rule_that_keeps_failing_is_left_out() -> None:
    sql = "".join(f"CREATE TABLE boom{n} (id int);\n" for n in range(MAX_FAILURES + 2))
    report = _lint(sql)
    failed = [w for w in report.warnings if w.startswith("rule fragile-rule")]
    assert len(failed) == MAX_FAILURES + 1
    assert failed[-1] == (
        f"rule fragile-rule failed {MAX_FAILURES} times: left out for the rest of the run"
    )


def test_a_live_catalog_lint_reports_the_schema_rule_failure() -> None:
    active, audit = compose(_registry(), ["t"])
    report = lint_catalog(Catalog(), active, audit, pg_version=17)
    assert report.warnings == [
        "rule fragile-schema-rule failed at the schema (database) and was skipped there:"
        " KeyError: 'no such table'"
    ]


def test_registry_failures_name_the_rule_and_the_plugin() -> None:
    registry = Registry()
    registry.plugins.add("acme")
    registry.add(load_registry().rules["ban-drop-table"], "builtin")

    class _Shadow(_Fragile):
        id = "ban-drop-table"

    class _BadId(_Fragile):
        id = "Bad_Id"

    registry.add(_Shadow, "acme")
    registry.add(_BadId, "acme")
    registry.add(42, "acme")
    assert registry.failures == [
        "rule ban-drop-table of plugin acme skipped: already defined by"
        " plimsoll.db.lint.rules.safety.ban_drop_table",
        "rule 'Bad_Id' of plugin acme skipped: its id is not kebab-case",
        "plugin acme skipped: not a rule, library or module (int)",
    ]
    assert registry.from_plugin("ban-drop-table") is None


def test_a_schema_rule_failure_in_the_forked_child_is_reported(monkeypatch: Any) -> None:
    """Large inputs run the schema rules in a forked child: its failures come back too."""
    import plimsoll.db.lint.engine as engine

    monkeypatch.setattr(engine, "PARALLEL_CHARACTERS", 0)
    report = _lint("CREATE TABLE boom (id int PRIMARY KEY);\n")
    assert report.warnings == [
        "rule fragile-rule failed at m.sql:1 and was skipped there: ValueError: crashed on boom",
        "rule fragile-schema-rule failed at the schema (files) and was skipped there:"
        " KeyError: 'no such table'",
    ]
