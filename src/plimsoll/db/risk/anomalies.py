"""The anomalies factor's input: lint findings on the migrations, placed on their statements.

Risk uses the linter as it is (``plimsoll.db.lint``): the statement rules of the configured
libraries (``db.lint``: ``safety`` and ``general`` by default; ``safety`` alone without a
configuration), with the config's selections, ignores and per-rule overrides, on the
migrations as plimsoll's migrator runs them (one transaction each, ``lock_timeout`` and
``statement_timeout`` set). Schema rules are left out: they judge the whole schema, not the
change. Findings silenced inline (``-- plimsoll: ignore <rule>``) do not count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from plimsoll.db.lint.engine import SourceFile
from plimsoll.db.lint.findings import Finding

if TYPE_CHECKING:
    from plimsoll.core.config import LintConfig
    from plimsoll.db.risk.config import AnomalyPoints


def lint_findings(
    sources: Sequence[SourceFile],
    *,
    pg_version: int,
    lint_config: LintConfig | None = None,
) -> list[Finding]:
    """The statement rules' findings on ``sources`` (usage errors in the config propagate)."""
    from plimsoll.db.lint.compose import ConflictStrategy, RuleOverride, compose
    from plimsoll.db.lint.engine import lint_sources
    from plimsoll.db.lint.registry import load_registry
    from plimsoll.db.lint.rule import Severity

    registry = load_registry()
    library_options: dict[str, Any] = {}
    if lint_config is None:
        libraries, select, ignore, overrides = ["safety"], [], [], {}
        strategy = ConflictStrategy.WARN
    else:
        libraries = list(lint_config.libraries)
        select, ignore = list(lint_config.select), list(lint_config.ignore)
        library_options = dict(lint_config.library_options)
        overrides = {
            rule_id: RuleOverride(
                enabled=rule.enabled,
                severity=Severity(rule.severity) if rule.severity else None,
                options=rule.options,
            )
            for rule_id, rule in lint_config.rules.items()
        }
        strategy = ConflictStrategy(lint_config.conflict_strategy)
    active, audit = compose(
        registry,
        libraries,
        select=select,
        ignore=ignore,
        overrides=overrides,
        strategy=strategy,
        pg_version=pg_version,
        library_options=library_options,
    )
    statement_rules = [a for a in active if a.rule.kind == "statement"]
    report = lint_sources(sources, statement_rules, audit, pg_version=pg_version)
    return list(report.findings)


def points(findings: Sequence[Finding], weights: AnomalyPoints) -> float:
    """The anomalies factor's raw measure: each finding's points by its severity."""
    table: Mapping[str, float] = {
        "error": weights.error,
        "warning": weights.warning,
        "info": weights.info,
    }
    return sum(table.get(f.severity.value, 0.0) for f in findings)


def on_lines(findings: Sequence[Finding], file: str, first: int, last: int) -> list[Finding]:
    """The findings of ``file`` between lines ``first`` and ``last`` (inclusive)."""
    return [f for f in findings if f.file == file and first <= f.line <= last]
