"""``--format github``: workflow commands escaped as the Actions toolkit escapes them."""

from __future__ import annotations

import pytest

from plimsoll.db.lint.compose import Audit, compose
from plimsoll.db.lint.engine import LintReport, SourceFile, lint_sources
from plimsoll.db.lint.findings import Finding
from plimsoll.db.lint.github import annotation, escape_data, escape_property, to_github
from plimsoll.db.lint.registry import load_registry
from plimsoll.db.lint.rule import Severity


def _report(*findings: Finding) -> LintReport:
    return LintReport(findings=list(findings), audit=Audit(), pg_version=17)


def test_escaping_matches_the_toolkit() -> None:
    """escapeData: % CR LF; escapeProperty: also : and , (% first, so nothing is doubled)."""
    assert escape_data("100% a:b, c\r\nd") == "100%25 a:b, c%0D%0Ad"
    assert escape_property("100% a:b, c\r\nd") == "100%25 a%3Ab%2C c%0D%0Ad"
    assert escape_data("%0A") == "%250A"


def test_a_real_lint_run() -> None:
    """A warning from the engine: file, line, column and the rule as title; help follows."""
    registry = load_registry()
    rule_id = "require-concurrent-index-creation"
    active, audit = compose(registry, [], select=[rule_id], pg_version=17)
    source = SourceFile(
        "db/migrations/0001.sql", "SELECT 1;\n  CREATE INDEX i ON orders (a);\n", migration=True
    )
    out = to_github(lint_sources([source], active, audit, pg_version=17))
    (line,) = out.splitlines()
    assert out.endswith("\n")
    assert line.startswith(
        f"::warning file=db/migrations/0001.sql,line=2,col=3,title={rule_id}::CREATE INDEX on"
    )
    assert "%0AUse CREATE INDEX CONCURRENTLY" in line


@pytest.mark.parametrize(
    ("severity", "command"),
    [(Severity.ERROR, "error"), (Severity.WARNING, "warning"), (Severity.INFO, "notice")],
)
def test_commands_by_severity(severity: Severity, command: str) -> None:
    """error, warning and info become ::error, ::warning and ::notice."""
    finding = Finding("some-rule", severity, "m", "", "a.sql", 1, 2)
    assert (
        to_github(_report(finding)) == f"::{command} file=a.sql,line=1,col=2,title=some-rule::m\n"
    )


def test_properties_and_message_are_escaped() -> None:
    """A path with a comma and colon, a message with %, a colon and a line break."""
    finding = Finding(
        "rule-x",
        Severity.ERROR,
        "50% of rows: locked,\nreally",
        "Do this.",
        "db/a,b:c.sql",
        7,
        1,
    )
    assert annotation(finding) == (
        "::error file=db/a%2Cb%3Ac.sql,line=7,col=1,title=rule-x"
        "::50%25 of rows: locked,%0Areally%0ADo this."
    )


def test_live_database_finding_names_the_object() -> None:
    """No file: no file, line or col property; the object leads the message."""
    finding = Finding(
        "require-primary-key",
        Severity.ERROR,
        "table public.events has no primary key",
        "Add a PRIMARY KEY.",
        object="public.events",
    )
    assert annotation(finding) == (
        "::error title=require-primary-key"
        "::public.events: table public.events has no primary key%0AAdd a PRIMARY KEY."
    )


def test_no_line_means_no_line_property() -> None:
    """A file-level finding (line 0) names the file only."""
    finding = Finding("r", Severity.INFO, "m", "", "a.sql", 0, 0)
    assert annotation(finding) == "::notice file=a.sql,title=r::m"


def test_empty_report() -> None:
    """Nothing found: nothing printed."""
    assert to_github(_report()) == ""
