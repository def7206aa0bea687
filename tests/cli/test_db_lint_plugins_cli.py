"""``plimsoll db lint`` with a third party's plugin installed: broken rules and broken plugins
are warnings in every format, and the rules say where they come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_code_cli import plimsoll

_RULES = '''
from typing import ClassVar
from plimsoll.db.lint.library import Library
from plimsoll.db.lint.rule import Severity, StatementRule, Violation


class NoTmp(StatementRule):
    """Do not create tmp_ tables."""

    id = "acme-no-tmp"
    severity = Severity.ERROR
    help = "Rename it."
    node_types: ClassVar[tuple[str, ...]] = ("CreateStmt",)

    def check(self, statement, context):
        name = statement.node["relation"]["relname"]
        if name == "boom":
            raise ValueError("crashed on boom")
        if name.startswith("tmp_"):
            yield Violation(f"scratch table {name}")


class Shadow(StatementRule):
    """Claims a built-in id."""

    id = "ban-drop-table"
    severity = Severity.INFO
    help = "x"

    def check(self, statement, context):
        yield Violation("shadow")


LIBRARY = Library.of("acme", "1.0.0", "ACME house rules", "acme-no-tmp")
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project, and an installed plugin distribution (a dist-info on PYTHONPATH) with a
    working module, a rule that raises on one table, a clashing id and a broken entry point."""
    site = tmp_path / "site"
    (site / "acmeplug").mkdir(parents=True)
    (site / "acmeplug" / "__init__.py").write_text("")
    (site / "acmeplug" / "rules.py").write_text(_RULES)
    info = site / "acmeplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acmeplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[plimsoll.lint_rules]\nacme-rules = acmeplug.rules\nacme-broken = acmeplug.missing\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    root = tmp_path / "svc"
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "plimsoll.toml").write_text("[db.lint]\nlibraries = ['safety', 'acme']\n")
    (root / "db" / "migrations" / "0001_init.up.sql").write_text(
        "SET lock_timeout = '1s';\nSET statement_timeout = '5s';\n"
        "CREATE TABLE boom (id bigint PRIMARY KEY);\n"
        "CREATE TABLE tmp_x (id bigint PRIMARY KEY);\nDROP TABLE old;\n"
    )
    return root


SHADOW = (
    "rule ban-drop-table of plugin acme-rules skipped: already defined by"
    " plimsoll.db.lint.rules.safety.ban_drop_table"
)
BROKEN = "plugin acme-broken (acmeplug.missing) skipped: failed to load: ModuleNotFoundError:"
CRASH = (
    "rule acme-no-tmp failed at db/migrations/0001_init.up.sql:3 and was skipped there:"
    " ValueError: crashed on boom"
)


def test_a_raising_plugin_rule_is_a_warning_and_the_findings_stay(project: Path) -> None:
    done = plimsoll(project, "db", "lint", "-f", "json", check=1)
    data = json.loads(done.stdout)
    found = [(f["rule"], f["line"]) for f in data["findings"]]
    assert ("acme-no-tmp", 4) in found and ("ban-drop-table", 5) in found
    warnings = data["warnings"]
    assert warnings[0] == SHADOW
    assert warnings[1].startswith(BROKEN)
    assert warnings[2] == CRASH
    # Text: each said once on stderr, and no other wording of the same failure.
    text = plimsoll(project, "db", "lint", check=1)
    assert text.stderr.count("acme-broken") == 1, text.stderr
    assert f"warning: {SHADOW}" in text.stderr and f"warning: {CRASH}" in text.stderr
    assert "lint plugin skipped" not in text.stderr


def test_sarif_carries_plugin_failures_as_configuration_notifications(project: Path) -> None:
    done = plimsoll(project, "db", "lint", "-f", "sarif", check=1)
    invocation = json.loads(done.stdout)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    texts = [n["message"]["text"] for n in invocation["toolConfigurationNotifications"]]
    assert texts[0] == SHADOW and texts[1].startswith(BROKEN) and len(texts) == 2
    results = json.loads(done.stdout)["runs"][0]["results"]
    assert "acme-no-tmp" in {r["ruleId"] for r in results}


def test_explain_and_list_rules_say_where_a_plugin_rule_comes_from(project: Path) -> None:
    page = plimsoll(project, "db", "lint", "--explain", "acme-no-tmp").stdout
    assert "| Libraries | acme |" in page  # no link into plimsoll's own docs
    assert (
        "| Provided by | plugin: package acmeplug, entry point acme-rules = acmeplug.rules |"
        in (page)
    )
    data = json.loads(
        plimsoll(project, "db", "lint", "--explain", "acme-no-tmp", "-f", "json").stdout
    )
    assert data["plugin"] == {
        "entry_point": "acme-rules",
        "value": "acmeplug.rules",
        "distribution": "acmeplug",
    }
    builtin = plimsoll(project, "db", "lint", "--explain", "ban-drop-table").stdout
    assert "[safety](README.md#safety)" in builtin and "Provided by" not in builtin
    listed = json.loads(plimsoll(project, "db", "lint", "--list-rules", "-f", "json").stdout)
    rules = {rule["id"]: rule for rule in listed["rules"]}
    assert rules["acme-no-tmp"]["plugin"]["distribution"] == "acmeplug"
    assert rules["ban-drop-table"]["plugin"] is None
    assert {lib["name"]: lib["plugin"] for lib in listed["libraries"]}["acme"] == "acme-rules"
    assert listed["warnings"][0] == SHADOW
