"""Composing libraries: conflicts and their strategies, overrides, versions, the audit trail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ConfigDict

from plimsoll.core.errors import ConfigError, UsageError
from plimsoll.db.lint.compose import ConflictStrategy, RuleOverride, compose
from plimsoll.db.lint.library import Library, LibraryRule
from plimsoll.db.lint.registry import Registry, load_registry
from plimsoll.db.lint.rule import PgVersions, SchemaRule, Severity, Violation


class _Base(SchemaRule):
    help = "fix it"

    def check(self, catalog: object, context: object) -> Iterator[Violation]:  # type: ignore[override]
        yield from ()


class Alpha(_Base):
    """Alpha."""

    id = "alpha"
    severity = Severity.WARNING

    class Options(BaseModel):
        """Alpha's options."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        limit: int = 10


class Beta(_Base):
    """Beta."""

    id = "beta"
    severity = Severity.ERROR
    conflicts_with = ("gamma",)


class Gamma(_Base):
    """Gamma."""

    id = "gamma"
    severity = Severity.WARNING


class Old(_Base):
    """Old."""

    id = "old"
    severity = Severity.WARNING
    deprecated_in = "1.2.0"
    replacement = "alpha"


class Gone(_Base):
    """Gone."""

    id = "gone"
    severity = Severity.WARNING
    removed_in = "2.0.0"
    replacement = "alpha"


class Modern(_Base):
    """Modern."""

    id = "modern"
    severity = Severity.WARNING
    pg_versions = PgVersions(minimum=12)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    for rule in (Alpha, Beta, Gamma, Old, Gone, Modern):
        reg.add(rule, "test")
    reg.add(Library.of("one", "1.0.0", "first", "alpha", "beta", "old", "modern"), "test")
    reg.add(
        Library.of(
            "two", "2.1.0", "second", LibraryRule("alpha", Severity.ERROR, {"limit": 5}), "gamma"
        ),
        "test",
    )
    return reg


def _ids(active: list) -> list[str]:
    return sorted(a.id for a in active)


def test_libraries_compose_with_an_audit_trail(registry: Registry) -> None:
    active, audit = compose(registry, ["one"], pg_version=15)
    assert _ids(active) == ["alpha", "beta", "modern", "old"]
    assert audit.libraries == [{"name": "one", "version": "1.0.0", "rules": 4}]
    assert audit.deprecated == [{"rule": "old", "deprecated_in": "1.2.0", "replacement": "alpha"}]
    assert audit.enabled == 4


def test_rules_outside_their_versions_are_disabled_and_said_so(registry: Registry) -> None:
    active, audit = compose(registry, ["one"], pg_version=11)
    assert "modern" not in _ids(active)
    assert {
        "rule": "modern",
        "reason": "does not apply to PostgreSQL 11 (applies to 12 and later)",
    } in audit.disabled


def test_setting_conflict_prefer_first_and_last(registry: Registry) -> None:
    active, audit = compose(registry, ["one", "two"], strategy=ConflictStrategy.PREFER_FIRST)
    alpha = next(a for a in active if a.id == "alpha")
    assert alpha.severity is Severity.WARNING and alpha.rule.options.limit == 10
    assert alpha.libraries == ("one", "two")
    assert audit.conflicts[0]["rule"] == "alpha" and audit.conflicts[0]["resolution"] == "one"
    active, audit = compose(registry, ["one", "two"], strategy=ConflictStrategy.PREFER_LAST)
    alpha = next(a for a in active if a.id == "alpha")
    assert alpha.severity is Severity.ERROR and alpha.rule.options.limit == 5


def test_conflict_strategy_error_refuses(registry: Registry) -> None:
    with pytest.raises(ConfigError, match="one and two set rule alpha differently") as caught:
        compose(registry, ["one", "two"], strategy=ConflictStrategy.ERROR)
    # The refusal names the keys that resolve it.
    message = str(caught.value)
    assert message.startswith("tool.plimsoll.db.lint.conflict_strategy: ")
    assert "tool.plimsoll.db.lint.rules.alpha.enabled = false" in message


def test_conflicts_are_only_between_rules_that_run(registry: Registry) -> None:
    """Under ``error``, disabling one of two contradicting rules (or the rule two libraries
    set differently) resolves the conflict: select, ignore and ``enabled`` apply first."""
    error = ConflictStrategy.ERROR
    where = {"config_key": "db.lint", "config_file": "plimsoll.toml"}
    # beta (one) contradicts gamma (two); alpha is set differently by both.
    with pytest.raises(ConfigError) as caught:
        compose(registry, ["one", "two"], strategy=error, ignore=["alpha"], **where)
    message = str(caught.value)
    assert message.startswith("plimsoll.toml: db.lint.conflict_strategy: rules beta (one) and")
    assert "gamma (two) contradict each other (conflict strategy 'error')" in message
    assert "db.lint.rules.beta.enabled = false or db.lint.rules.gamma.enabled = false" in message
    disabled = {"alpha": RuleOverride(enabled=False), "gamma": RuleOverride(enabled=False)}
    active, audit = compose(registry, ["one", "two"], strategy=error, overrides=disabled, **where)
    assert _ids(active) == ["beta", "modern", "old"]
    assert audit.conflicts == []
    assert {"rule": "gamma", "reason": "disabled by db.lint.rules.gamma.enabled"} in (
        audit.disabled
    )
    active, _ = compose(
        registry, ["one", "two"], strategy=error, config_ignore=["alpha", "beta"], **where
    )
    assert _ids(active) == ["gamma", "modern", "old"]
    active, _ = compose(registry, ["one", "two"], strategy=error, select=["gamma"], **where)
    assert _ids(active) == ["gamma"]
    # Under warn, a disabled rule has no conflict to record either.
    _, audit = compose(registry, ["one", "two"], ignore=["gamma", "alpha"])
    assert audit.conflicts == []


def test_the_builtin_gdpr_and_sox_libraries_work_together_once_one_rule_is_disabled() -> None:
    registry = load_registry()
    libraries = ["gdpr", "sox"]
    with pytest.raises(ConfigError, match="gdpr-erasure-path .* contradict each other"):
        compose(registry, libraries, strategy=ConflictStrategy.ERROR)
    active, audit = compose(
        registry,
        libraries,
        strategy=ConflictStrategy.ERROR,
        overrides={"sox-ledger-no-cascade-delete": RuleOverride(enabled=False)},
    )
    ids = {a.id for a in active}
    assert "gdpr-erasure-path" in ids and "sox-ledger-no-cascade-delete" not in ids
    assert audit.conflicts == []


def test_declared_contradictions(registry: Registry) -> None:
    active, audit = compose(registry, ["one", "two"], strategy=ConflictStrategy.WARN)
    assert {"beta", "gamma"} <= set(_ids(active))
    contradiction = next(c for c in audit.conflicts if c["kind"] == "contradiction")
    assert (
        contradiction["rules"] == ["beta", "gamma"] and contradiction["resolution"] == "kept both"
    )
    active, audit = compose(registry, ["one", "two"], strategy=ConflictStrategy.PREFER_FIRST)
    assert "gamma" not in _ids(active) and "beta" in _ids(active)
    active, _ = compose(registry, ["one", "two"], strategy=ConflictStrategy.PREFER_LAST)
    assert "beta" not in _ids(active) and "gamma" in _ids(active)


def test_select_ignore_and_overrides(registry: Registry) -> None:
    active, audit = compose(
        registry,
        ["one"],
        ignore=["beta"],
        overrides={"alpha": RuleOverride(severity=Severity.INFO, options={"limit": 3})},
    )
    alpha = next(a for a in active if a.id == "alpha")
    assert alpha.severity is Severity.INFO and alpha.rule.options.limit == 3
    assert {"rule": "beta", "reason": "ignored by --ignore"} in audit.disabled
    assert {
        "rule": "alpha",
        "field": "severity",
        "from": "warning",
        "to": "info",
        "by": "tool.plimsoll.db.lint.rules.alpha.severity",
    } in audit.overridden
    # Each override names the full key as the user wrote it, down to the option.
    assert {
        "rule": "alpha",
        "field": "options.limit",
        "from": 10,
        "to": 3,
        "by": "tool.plimsoll.db.lint.rules.alpha.options.limit",
    } in audit.overridden
    active, _ = compose(registry, [], select=["gamma"])
    assert _ids(active) == ["gamma"]


def test_the_audit_trail_says_whether_the_config_or_the_command_ignored_a_rule(
    registry: Registry,
) -> None:
    _, audit = compose(registry, ["one"], ignore=["alpha"], config_ignore=["beta"])
    assert {"rule": "alpha", "reason": "ignored by --ignore"} in audit.disabled
    assert {"rule": "beta", "reason": "ignored by tool.plimsoll.db.lint.ignore"} in audit.disabled
    with pytest.raises(UsageError, match=r"^tool.plimsoll.db.lint.ignore: unknown rule 'alpah'"):
        compose(registry, ["one"], config_ignore=["alpah"])


def test_syntax_error_can_be_named_and_ignored(registry: Registry) -> None:
    _, audit = compose(registry, ["one"], select=["syntax-error", "alpha"])
    assert audit.reports_syntax_errors
    _, audit = compose(registry, ["one"], ignore=["syntax-error"])
    assert not audit.reports_syntax_errors
    assert {"rule": "syntax-error", "reason": "ignored by --ignore"} in audit.disabled


def test_bad_names_are_usage_errors(registry: Registry) -> None:
    with pytest.raises(UsageError, match="unknown rule 'alpah' \\(did you mean alpha\\?\\)"):
        compose(registry, ["one"], select=["alpah"])
    with pytest.raises(UsageError, match="unknown library 'on'"):
        compose(registry, ["on"])
    with pytest.raises(UsageError, match="rule gone was removed in 2.0.0; use alpha"):
        compose(registry, ["one"], select=["gone"])


def test_ignoring_a_removed_rule_warns_and_names_the_replacement(registry: Registry) -> None:
    # A config that only silences a rule must survive the rule's removal (CI keeps working).
    _active, audit = compose(registry, ["one"], ignore=["gone"], config_ignore=["gone"])
    assert (
        audit.warnings
        == [
            "--ignore: rule gone was removed in 2.0.0; use alpha (ignoring it does nothing;"
            " remove it from the list)",
            "tool.plimsoll.db.lint.ignore: rule gone was removed in 2.0.0; use alpha (ignoring it"
            " does nothing; remove it from the list)",
        ][::-1]
    )
    assert {"rule": "gone", "reason": "removed in 2.0.0", "replacement": "alpha"} in audit.disabled


def test_bad_options_name_the_config_key(registry: Registry) -> None:
    with pytest.raises(ConfigError, match=r"tool.plimsoll.db.lint.rules.alpha.options.limt"):
        compose(registry, ["one"], overrides={"alpha": RuleOverride(options={"limt": 3})})


def test_builtin_libraries_load() -> None:
    registry = load_registry()
    assert not registry.failures, registry.failures
    assert {"safety", "general"} <= set(registry.libraries)
    for library in registry.libraries.values():
        missing = [r for r in library.rule_ids if r not in registry.rules]
        assert not missing, f"library {library.name} names unknown rules {missing}"


def test_a_run_imports_only_the_rule_folders_of_its_libraries() -> None:
    """Start-up: the compliance folders stay unimported unless a library or id needs them."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from plimsoll.db.lint.registry import load_registry\n"
        "r = load_registry(['safety', 'general'], ['prefer-jsonb'])\n"
        "print(any(m.startswith('plimsoll.db.lint.rules.hipaa') for m in sys.modules))\n"
        "print(len(r.libraries), 'hipaa-phi-primary-key' in r.rules)\n"
        "r = load_registry(['safety'], ['hipaa-phi-primary-key'])\n"
        "print('hipaa-phi-primary-key' in r.rules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:3] == ["False", "6 False", "True"]


def test_library_options_reach_every_rule_taking_them(registry: Registry) -> None:
    registry.add(
        Library.of("three", "1.0.0", "shares", "alpha", "beta", shared_options=("limit",)),
        "test",
    )
    active, audit = compose(registry, ["three"], library_options={"three": {"limit": 3}})
    alpha = next(a for a in active if a.id == "alpha")
    assert alpha.rule.options.limit == 3
    # The audit says from what (the rule's own default, not null), to what, and by what.
    assert audit.overridden == [
        {
            "rule": "alpha",
            "field": "options.limit",
            "from": 10,
            "to": 3,
            "by": "tool.plimsoll.db.lint.library_options.three.limit",
        }
    ]
    # A rule's own options still win over the library's.
    overrides = {"alpha": RuleOverride(options={"limit": 7})}
    active, _audit = compose(
        registry, ["three"], library_options={"three": {"limit": 3}}, overrides=overrides
    )
    assert next(a for a in active if a.id == "alpha").rule.options.limit == 7


def test_library_options_are_checked(registry: Registry) -> None:
    registry.add(Library.of("three", "1.0.0", "shares", "alpha", shared_options=("limit",)), "test")
    with pytest.raises(ConfigError, match=r"db.lint.library_options.three.limt: library three"):
        compose(registry, ["three"], library_options={"three": {"limt": 3}})
    with pytest.raises(ConfigError, match=r"unknown library 'thre' \(did you mean three\?\)"):
        compose(registry, ["three"], library_options={"thre": {"limit": 3}})
    with pytest.raises(
        ConfigError, match=r"^cfg.toml: db.lint.library_options.three.limit: Input should be"
    ):
        compose(
            registry,
            ["three"],
            library_options={"three": {"limit": "many"}},
            config_key="db.lint",
            config_file="cfg.toml",
        )


def test_config_errors_name_the_file_and_key(registry: Registry) -> None:
    where = {"config_key": "db.lint", "config_file": "/p/plimsoll.toml"}
    with pytest.raises(UsageError, match=r"^/p/plimsoll.toml: db.lint.libraries: unknown library"):
        compose(registry, ["one", "hippa"], config_libraries=["one", "hippa"], **where)
    with pytest.raises(UsageError, match=r"^--library: unknown library 'ONE' \(did you mean one"):
        compose(registry, ["ONE"], **where)
    with pytest.raises(UsageError, match=r"^/p/plimsoll.toml: db.lint.ignore: unknown rule"):
        compose(registry, ["one"], config_ignore=["nope"], **where)
    with pytest.raises(UsageError, match=r"^/p/plimsoll.toml: db.lint.rules: unknown rule"):
        compose(registry, ["one"], overrides={"nope": RuleOverride()}, **where)
    with pytest.raises(
        ConfigError, match=r"^/p/plimsoll.toml: db.lint.rules.alpha.options.limit: Input should"
    ):
        compose(
            registry, ["one"], overrides={"alpha": RuleOverride(options={"limit": "x"})}, **where
        )


def test_a_bad_regular_expression_is_a_config_error_naming_its_index() -> None:
    registry = load_registry()
    overrides = {"security-public-grant": RuleOverride(options={"tables": ["^ok$", "(unclosed"]})}
    with pytest.raises(ConfigError) as caught:
        compose(
            registry,
            ["general"],
            overrides=overrides,
            config_key="db.lint",
            config_file="plimsoll.toml",
        )
    message = str(caught.value)
    assert message.startswith(
        "plimsoll.toml: db.lint.rules.security-public-grant.options.tables[1]"
    )
    assert "invalid regular expression '(unclosed'" in message
    assert "missing ), unterminated subpattern" in message
