"""Composing libraries into the set of rules a run uses, with an audit trail of every choice.

Libraries are taken in order. A rule met twice with different settings (severity, options) is
a conflict; so are two enabled rules of which one declares the other in ``conflicts_with``.
The strategy resolves them: ``error`` refuses the combination (exit 2), ``warn`` keeps the
first setting (or both rules) and says so, ``prefer-first`` and ``prefer-last`` keep the
earlier or the later library's choice. Then ``select`` narrows, ``ignore`` and the config
disable, and the config's per-rule severity and options override. The :class:`Audit` records
the libraries and versions, what was disabled and why, what was overridden, the conflicts and
how they were resolved, and deprecated rules still in use.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from plimsoll.core.errors import ConfigError, UsageError
from plimsoll.db.lint.findings import SYNTAX_ERROR
from plimsoll.db.lint.registry import Registry
from plimsoll.db.lint.rule import Rule, Severity
from plimsoll.db.profiling.objectives import Operation, timed_operation


class ConflictStrategy(StrEnum):
    """How a conflict between libraries is resolved."""

    ERROR = "error"
    WARN = "warn"
    PREFER_FIRST = "prefer-first"
    PREFER_LAST = "prefer-last"


@dataclass(frozen=True)
class RuleOverride:
    """The config's word on one rule: enabled or not, its severity, its options."""

    enabled: bool = True
    severity: Severity | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ActiveRule:
    """A rule as this run uses it: the instance (with its options) and its severity."""

    rule: Rule
    severity: Severity
    libraries: tuple[str, ...]

    @property
    def id(self) -> str:
        """The rule's id."""
        return self.rule.id


@dataclass
class Audit:
    """What was enabled, disabled, overridden and in conflict, and why (part of every report)."""

    libraries: list[dict[str, Any]] = field(default_factory=list)
    disabled: list[dict[str, str]] = field(default_factory=list)
    overridden: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    deprecated: list[dict[str, Any]] = field(default_factory=list)
    enabled: int = 0

    @property
    def reports_syntax_errors(self) -> bool:
        """Whether files that do not parse are reported (unless ``syntax-error`` is ignored)."""
        return not any(entry["rule"] == SYNTAX_ERROR for entry in self.disabled)

    def as_dict(self) -> dict[str, Any]:
        """The audit trail as plain data."""
        return {
            "libraries": self.libraries,
            "rules_enabled": self.enabled,
            "disabled": self.disabled,
            "overridden": self.overridden,
            "conflicts": self.conflicts,
            "deprecated": self.deprecated,
        }


@dataclass
class _Choice:
    severity: Severity
    options: dict[str, Any]
    library: str
    libraries: list[str]


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}"


def _check_ids(registry: Registry, ids: Iterable[str], where: str) -> None:
    for rule_id in ids:
        if rule_id == SYNTAX_ERROR:
            continue  # the engine's own finding: it can be selected and ignored like a rule
        rule = registry.rules.get(rule_id)
        if rule is None:
            raise UsageError(f"{where}: {_unknown('rule', rule_id, registry.rules)}")
        if rule.removed_in:
            use = f"; use {rule.replacement}" if rule.replacement else ""
            raise UsageError(f"{where}: rule {rule_id} was removed in {rule.removed_in}{use}")


@timed_operation(Operation.RULE_COMPOSITION)
def compose(
    registry: Registry,
    libraries: list[str],
    *,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    overrides: Mapping[str, RuleOverride] | None = None,
    strategy: ConflictStrategy = ConflictStrategy.WARN,
    pg_version: int | None = None,
    config_key: str = "tool.plimsoll.db.lint",
    config_select: Iterable[str] = (),
    config_ignore: Iterable[str] = (),
) -> tuple[list[ActiveRule], Audit]:
    """The rules to run and the audit trail; UsageError/ConfigError (exit 2) on bad names.

    ``select``/``ignore`` come from the command line, ``config_select``/``config_ignore`` from
    the configuration: they act together, and errors and the audit trail say which named a
    rule. ``syntax-error`` (the engine's finding) may be named too: ignored, files that do not
    parse are not reported (the audit trail says so).
    """
    overrides = dict(overrides or {})
    config_select, config_ignore = list(config_select), list(config_ignore)
    _check_ids(registry, config_select, f"{config_key}.select")
    _check_ids(registry, config_ignore, f"{config_key}.ignore")
    _check_ids(registry, select, "--select")
    _check_ids(registry, ignore, "--ignore")
    _check_ids(registry, overrides, f"{config_key}.rules")
    ignored_by = {rule_id: f"{config_key}.ignore" for rule_id in config_ignore}
    ignored_by.update({rule_id: "--ignore" for rule_id in ignore})
    select = [*config_select, *select]
    ignore = [*config_ignore, *ignore]
    audit = Audit()
    if SYNTAX_ERROR in ignored_by:
        audit.disabled.append(
            {"rule": SYNTAX_ERROR, "reason": f"ignored ({ignored_by[SYNTAX_ERROR]})"}
        )
    select = [rule_id for rule_id in select if rule_id != SYNTAX_ERROR]
    chosen = _from_libraries(registry, libraries, strategy, audit)
    for rule_id in select:
        if rule_id not in chosen:
            rule = registry.rules[rule_id]
            chosen[rule_id] = _Choice(rule.severity, {}, "--select", ["--select"])
    _resolve_declared_conflicts(registry, chosen, strategy, audit)
    active: list[ActiveRule] = []
    for rule_id, choice in chosen.items():
        rule_class = registry.rules[rule_id]
        reason = _disabled_reason(rule_class, rule_id, select, ignored_by, overrides, pg_version)
        if reason:
            audit.disabled.append({"rule": rule_id, "reason": reason})
            continue
        override = overrides.get(rule_id, RuleOverride())
        severity, options = _apply_override(rule_id, choice, override, audit)
        instance = rule_class(_options(rule_class, options, f"{config_key}.rules.{rule_id}"))
        if rule_class.deprecated_in:
            audit.deprecated.append(
                {
                    "rule": rule_id,
                    "deprecated_in": rule_class.deprecated_in,
                    "replacement": rule_class.replacement,
                }
            )
        active.append(ActiveRule(instance, severity, tuple(choice.libraries)))
    audit.enabled = len(active)
    return active, audit


def _from_libraries(
    registry: Registry, libraries: list[str], strategy: ConflictStrategy, audit: Audit
) -> dict[str, _Choice]:
    chosen: dict[str, _Choice] = {}
    for name in libraries:
        library = registry.libraries.get(name)
        if library is None:
            raise UsageError(f"--library: {_unknown('library', name, registry.libraries)}")
        audit.libraries.append(
            {"name": library.name, "version": library.version, "rules": len(library.rules)}
        )
        for entry in library.rules:
            rule = registry.rules.get(entry.id)
            if rule is None:
                audit.disabled.append(
                    {"rule": entry.id, "reason": f"named by library {name} but not installed"}
                )
                continue
            choice = _Choice(entry.severity or rule.severity, dict(entry.options), name, [name])
            known = chosen.get(entry.id)
            if known is None:
                chosen[entry.id] = choice
                continue
            known.libraries.append(name)
            if (known.severity, known.options) == (choice.severity, choice.options):
                continue
            keep_last = strategy is ConflictStrategy.PREFER_LAST
            conflict = {
                "kind": "setting",
                "rule": entry.id,
                "libraries": [known.library, name],
                "first": {"severity": known.severity.value, "options": known.options},
                "second": {"severity": choice.severity.value, "options": choice.options},
                "resolution": (name if keep_last else known.library),
            }
            if strategy is ConflictStrategy.ERROR:
                raise ConfigError(
                    f"libraries {known.library} and {name} set rule {entry.id} differently"
                    " (conflict strategy 'error')"
                )
            audit.conflicts.append(conflict)
            if keep_last:
                chosen[entry.id] = _Choice(choice.severity, choice.options, name, known.libraries)
    return chosen


def _resolve_declared_conflicts(
    registry: Registry, chosen: dict[str, _Choice], strategy: ConflictStrategy, audit: Audit
) -> None:
    order = list(chosen)
    seen: set[frozenset[str]] = set()
    for rule_id in order:
        if rule_id not in chosen:
            continue
        for other in registry.rules[rule_id].conflicts_with:
            if other not in chosen or rule_id not in chosen:
                continue
            pair = frozenset((rule_id, other))
            if pair in seen:
                continue  # declared on both sides: one conflict, met once
            seen.add(pair)
            first, second = sorted((rule_id, other), key=order.index)
            if strategy is ConflictStrategy.ERROR:
                raise ConfigError(
                    f"rules {first} ({chosen[first].library}) and {second}"
                    f" ({chosen[second].library}) contradict each other (conflict strategy 'error')"
                )
            dropped = None
            if strategy is ConflictStrategy.PREFER_FIRST:
                dropped = second
            elif strategy is ConflictStrategy.PREFER_LAST:
                dropped = first
            audit.conflicts.append(
                {
                    "kind": "contradiction",
                    "rules": [first, second],
                    "libraries": [chosen[first].library, chosen[second].library],
                    "resolution": f"dropped {dropped}" if dropped else "kept both",
                }
            )
            if dropped:
                del chosen[dropped]
                audit.disabled.append({"rule": dropped, "reason": "lost a conflict"})


def _disabled_reason(
    rule: type[Rule],
    rule_id: str,
    select: list[str],
    ignored_by: Mapping[str, str],
    overrides: Mapping[str, RuleOverride],
    pg_version: int | None,
) -> str | None:
    if rule.removed_in:
        return f"removed in {rule.removed_in}"
    if select and rule_id not in select:
        return "not selected"
    if rule_id in ignored_by:
        return f"ignored ({ignored_by[rule_id]})"
    override = overrides.get(rule_id)
    if override is not None and not override.enabled:
        return "disabled in config"
    if pg_version is not None and pg_version not in rule.pg_versions:
        return f"does not apply to PostgreSQL {pg_version} (applies to {rule.pg_versions})"
    return None


def _apply_override(
    rule_id: str, choice: _Choice, override: RuleOverride, audit: Audit
) -> tuple[Severity, dict[str, Any]]:
    severity, options = choice.severity, dict(choice.options)
    if override.severity is not None and override.severity is not severity:
        audit.overridden.append(
            {
                "rule": rule_id,
                "field": "severity",
                "from": severity.value,
                "to": override.severity.value,
            }
        )
        severity = override.severity
    for key, value in override.options.items():
        if options.get(key) != value:
            audit.overridden.append(
                {"rule": rule_id, "field": f"options.{key}", "from": options.get(key), "to": value}
            )
        options[key] = value
    return severity, options


def _options(rule: type[Rule], options: Mapping[str, Any], key: str) -> Any:
    try:
        return rule.Options(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{key}.options.{where}: {first['msg']}") from None
