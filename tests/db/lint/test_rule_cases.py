"""Every rule's pass and fail cases, from ``cases/<rule-id>.yaml``, run through the engine.

A case file:

```yaml
rule: require-concurrent-index-creation
cases:
  - name: an index on an existing table blocks writes
    sql: |
      CREATE INDEX orders_customer_idx ON orders (customer_id);
    expect: [1]            # the lines of the findings, in order; [] for a passing case
  - name: concurrently is fine
    sql: CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
    expect: []
    pg_version: 12         # optional (default 17)
    options: {}            # optional rule options
    migration: true        # optional (default: true for statement rules, false for schema rules)
    message: SHARE lock    # optional: a text every finding's message contains
    help: CONCURRENTLY     # optional: a text every finding's help contains
    expect_files: [a.sql]  # optional: the file of each finding, in order
    wrapped: true          # optional: a migration of the project's own, run by plimsoll's migrator
```

``files:`` (a list of ``{path, sql, migration, wrapped, build}``) replaces ``sql`` for cases that
span files (``build: false`` for a down migration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from plimsoll.db.lint.compose import RuleOverride, compose
from plimsoll.db.lint.engine import SourceFile, lint_sources
from plimsoll.db.lint.registry import load_registry

CASES_DIR = Path(__file__).parent / "cases"


def _case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.yaml"))


def _params() -> list[Any]:
    params = []
    for path in _case_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data.get("cases", []):
            params.append(pytest.param(data["rule"], case, id=f"{data['rule']}: {case['name']}"))
    return params


def _sources(case: dict[str, Any], default_migration: bool) -> list[SourceFile]:
    if "files" in case:
        return [
            SourceFile(
                f["path"],
                f["sql"],
                f.get("migration", default_migration),
                build=f.get("build", True),
                wrapped=f.get("wrapped", False),
            )
            for f in case["files"]
        ]
    return [
        SourceFile(
            "case.sql",
            case["sql"],
            case.get("migration", default_migration),
            wrapped=case.get("wrapped", False),
        )
    ]


@pytest.mark.parametrize(("rule_id", "case"), _params())
def test_case(rule_id: str, case: dict[str, Any]) -> None:
    """The rule finds exactly the expected lines, and says what the case expects."""
    registry = load_registry()
    rule = registry.rules[rule_id]
    pg_version = case.get("pg_version", 17)
    active, audit = compose(
        registry,
        [],
        select=[rule_id],
        overrides={rule_id: RuleOverride(options=case.get("options", {}))},
        pg_version=pg_version,
    )
    report = lint_sources(
        _sources(case, rule.kind == "statement"),
        active,
        audit,
        pg_version=pg_version,
        assume_in_transaction=case.get("assume_in_transaction", False),
    )
    syntax = [f for f in report.findings if f.rule == "syntax-error"]
    assert not syntax, f"the case's SQL does not parse: {syntax[0].message}"
    # The engine turns a rule that raises into a warning: a built-in one must never.
    assert report.warnings == []
    found = [f for f in report.findings if f.rule == rule_id]
    assert [f.line for f in found] == case["expect"], [f.message for f in found]
    if "expect_files" in case:
        assert [f.file for f in found] == case["expect_files"]
    if "message" in case:
        for finding in found:
            assert case["message"] in finding.message
    if "help" in case:
        for finding in found:
            assert case["help"] in finding.help


def test_every_rule_has_passing_and_failing_cases() -> None:
    """A rule without both kinds of case is untested: each built-in rule has a case file."""
    registry = load_registry()
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for path in _case_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert path.stem == data["rule"], f"{path.name} holds cases of {data['rule']}"
        assert data["rule"] in registry.rules, f"{path.name}: no rule {data['rule']}"
        by_rule[data["rule"]] = data.get("cases", [])
    for rule_id, rule in registry.rules.items():
        if rule.removed_in or not rule.__module__.startswith("plimsoll."):
            continue
        cases = by_rule.get(rule_id)
        assert cases, f"rule {rule_id} has no cases/{rule_id}.yaml"
        assert any(c["expect"] == [] for c in cases), f"{rule_id}: no passing case"
        assert any(c["expect"] for c in cases), f"{rule_id}: no failing case"
