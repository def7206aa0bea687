"""Composing libraries into the set of rules a run uses, with an audit trail of every choice.

Libraries are taken in order; ``select`` narrows, and ``ignore``, the config (``enabled =
false``) and the server version disable. Then, between the rules that still run, a rule met
twice with different settings (severity, options) is a conflict; so are two rules of which one
declares the other in ``conflicts_with`` (a rule disabled contradicts nothing: disabling one
of two resolves their conflict). The strategy resolves them: ``error`` refuses the combination
(exit 2, naming the keys that resolve it), ``warn`` keeps the first setting (or both rules)
and says so, ``prefer-first`` and ``prefer-last`` keep the earlier or the later library's
choice. Then the config's library options (``library_options``: the options a library's rules
share, set once) apply to each rule of the library that takes them, and the config's
per-rule severity and options override. The :class:`Audit` records the libraries and
versions, what was disabled and why, what was overridden (from the effective value to the
new one, and by which setting), the conflicts and how they were resolved, deprecated rules
still in use, and warnings about the configuration (an ignore naming a removed rule).

Errors about the configuration name the file (``config_file``) and the key path
(``db.lint.rules.<id>.options.tables[0]``) and exit 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from plimsoll.core.errors import ConfigError, UsageError
from plimsoll.db.lint.findings import (
    ENCODING_ERROR,
    ENGINE_FINDINGS,
    PSQL_META_COMMAND,
    SYNTAX_ERROR,
)
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
    warnings: list[str] = field(default_factory=list)
    enabled: int = 0
    # How many enabled rules each library (or ``--select``) brought in.
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def reports_syntax_errors(self) -> bool:
        """Whether files that do not parse are reported (unless ``syntax-error`` is ignored)."""
        return not any(entry["rule"] == SYNTAX_ERROR for entry in self.disabled)

    @property
    def reports_meta_commands(self) -> bool:
        """Whether psql meta-command lines are reported (unless ``psql-meta-command`` is
        ignored)."""
        return not any(entry["rule"] == PSQL_META_COMMAND for entry in self.disabled)

    @property
    def reports_encoding_errors(self) -> bool:
        """Whether files that are not UTF-8 are reported (unless ``encoding-error`` is
        ignored)."""
        return not any(entry["rule"] == ENCODING_ERROR for entry in self.disabled)

    def as_dict(self) -> dict[str, Any]:
        """The audit trail as plain data."""
        return {
            "libraries": self.libraries,
            "rules_enabled": self.enabled,
            "rules_by_source": self.sources,
            "disabled": self.disabled,
            "overridden": self.overridden,
            "conflicts": self.conflicts,
            "deprecated": self.deprecated,
            "warnings": self.warnings,
        }


@dataclass
class _Choice:
    severity: Severity
    options: dict[str, Any]
    library: str
    libraries: list[str]


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    """``unknown <kind> 'name'``, with the closest known name (case set aside)."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1)
    hint = f" (did you mean {by_lower[close[0]]}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}"


class _Where:
    """Where a setting came from, for messages: a command-line flag or a config key (with
    its file)."""

    def __init__(self, config_key: str, config_file: str | None) -> None:
        self.config_key = config_key
        self.config_file = config_file

    def key(self, suffix: str) -> str:
        """``<file>: db.lint.<suffix>`` (the file left out when unknown)."""
        key = f"{self.config_key}.{suffix}"
        return f"{self.config_file}: {key}" if self.config_file else key


def _check_ids(
    registry: Registry, ids: Iterable[str], where: str, *, ignoring: Audit | None = None
) -> None:
    """Refuse unknown rule ids (exit 2). A removed rule is refused too, except in an ignore
    (``ignoring`` is the audit then): silencing a rule that no longer exists is harmless,
    and a rule-package upgrade must not break CI over it, so it becomes a warning."""
    for rule_id in ids:
        if rule_id in ENGINE_FINDINGS:
            continue  # the engine's own findings: selected and ignored like rules
        rule = registry.rules.get(rule_id)
        if rule is None:
            raise UsageError(f"{where}: {_unknown('rule', rule_id, registry.rules)}")
        if rule.removed_in:
            use = f"; use {rule.replacement}" if rule.replacement else ""
            if ignoring is None:
                raise UsageError(f"{where}: rule {rule_id} was removed in {rule.removed_in}{use}")
            ignoring.warnings.append(
                f"{where}: rule {rule_id} was removed in {rule.removed_in}{use}"
                " (ignoring it does nothing; remove it from the list)"
            )
            entry = {"rule": rule_id, "reason": f"removed in {rule.removed_in}"}
            if rule.replacement:
                entry["replacement"] = rule.replacement
            if entry not in ignoring.disabled:
                ignoring.disabled.append(entry)


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
    config_libraries: Iterable[str] = (),
    library_options: Mapping[str, Mapping[str, Any]] | None = None,
    config_file: str | None = None,
) -> tuple[list[ActiveRule], Audit]:
    """The rules to run and the audit trail; UsageError/ConfigError (exit 2) on bad names.

    ``select``/``ignore`` come from the command line, ``config_select``/``config_ignore`` from
    the configuration: they act together, and errors and the audit trail say which named a
    rule. ``syntax-error``, ``encoding-error`` and ``psql-meta-command`` (the engine's
    findings) may be named too: ignored, files that do not parse (files that are not UTF-8,
    psql meta-command lines) are not reported (the audit trail says so). ``config_libraries`` are the names of
    ``libraries`` that the configuration gave (the others came from ``--library``), so an
    unknown one is reported under the right name; ``library_options`` are the options each
    library's rules share (``db.lint.library_options``); ``config_file`` is named in errors
    about the configuration.
    """
    where = _Where(config_key, config_file)
    overrides = dict(overrides or {})
    config_select, config_ignore = list(config_select), list(config_ignore)
    audit = Audit()
    _check_ids(registry, config_select, where.key("select"))
    _check_ids(registry, config_ignore, where.key("ignore"), ignoring=audit)
    _check_ids(registry, select, "--select")
    _check_ids(registry, ignore, "--ignore", ignoring=audit)
    _check_ids(registry, overrides, where.key("rules"))
    shared = _library_options(registry, library_options or {}, where)
    ignored_by = {rule_id: f"{config_key}.ignore" for rule_id in config_ignore}
    ignored_by.update({rule_id: "--ignore" for rule_id in ignore})
    select = [*config_select, *select]
    ignore = [*config_ignore, *ignore]
    for engine_finding in ENGINE_FINDINGS:
        if engine_finding in ignored_by:
            audit.disabled.append(
                {"rule": engine_finding, "reason": f"ignored by {ignored_by[engine_finding]}"}
            )
    select = [rule_id for rule_id in select if rule_id not in ENGINE_FINDINGS]
    chosen, differences = _from_libraries(
        registry, libraries, strategy, audit, set(config_libraries), where
    )
    for rule_id in select:
        if rule_id not in chosen:
            rule = registry.rules[rule_id]
            chosen[rule_id] = _Choice(rule.severity, {}, "--select", ["--select"])
    # Select, ignore, ``enabled = false`` and the server version decide first which rules run:
    # a conflict only matters between rules that run, so disabling one of two resolves it.
    reasons = {
        rule_id: _disabled_reason(
            registry.rules[rule_id], rule_id, select, ignored_by, overrides, pg_version, where
        )
        for rule_id in chosen
    }
    running = {rule_id for rule_id, reason in reasons.items() if reason is None}
    _resolve_setting_conflicts(differences, running, strategy, audit, where)
    _resolve_declared_conflicts(registry, chosen, running, strategy, audit, where)
    active: list[ActiveRule] = []
    for rule_id, choice in chosen.items():
        rule_class = registry.rules[rule_id]
        reason = reasons[rule_id]
        if reason:
            entry = {"rule": rule_id, "reason": reason}
            if rule_class.removed_in and rule_class.replacement:
                entry["replacement"] = rule_class.replacement
            if entry not in audit.disabled:
                audit.disabled.append(entry)
            continue
        override = overrides.get(rule_id, RuleOverride())
        base = _shared_options(registry, rule_class, choice, shared, audit, where)
        severity, options = _apply_override(rule_class, choice, base, override, audit, where)
        instance = rule_class(
            _options(rule_class, options, override.options, choice, shared, where)
        )
        if rule_class.deprecated_in:
            audit.deprecated.append(
                {
                    "rule": rule_id,
                    "deprecated_in": rule_class.deprecated_in,
                    "replacement": rule_class.replacement,
                }
            )
        active.append(ActiveRule(instance, severity, tuple(choice.libraries)))
        audit.sources[choice.library] = audit.sources.get(choice.library, 0) + 1
    audit.enabled = len(active)
    return active, audit


def _library_options(
    registry: Registry, given: Mapping[str, Mapping[str, Any]], where: _Where
) -> dict[str, dict[str, Any]]:
    """The configured library options, checked: a known library, options it shares."""
    out: dict[str, dict[str, Any]] = {}
    for name, options in given.items():
        library = registry.libraries.get(name)
        if library is None:
            unknown = _unknown("library", name, registry.libraries)
            raise ConfigError(f"{where.key('library_options')}: {unknown}")
        for key in options:
            if key not in library.shared_options:
                offered = ", ".join(library.shared_options) or "none"
                raise ConfigError(
                    f"{where.key(f'library_options.{name}.{key}')}: library {name} shares no"
                    f" option {key!r} (it shares: {offered}; set other options per rule under"
                    f" {where.config_key}.rules.<id>.options)"
                )
        out[name] = dict(options)
    return out


def _shared_options(
    registry: Registry,
    rule: type[Rule],
    choice: _Choice,
    shared: Mapping[str, Mapping[str, Any]],
    audit: Audit,
    where: _Where,
) -> dict[str, Any]:
    """The rule's options once its libraries' shared options are applied (in library order).

    A rule enabled by ``--select`` alone takes the shared options of the libraries it
    belongs to: they describe the schema, whichever way the rule was turned on. The audit
    trail names the full key that set each (``db.lint.library_options.hipaa.<option>``).
    """
    options = dict(choice.options)
    fields = rule.Options.model_fields
    libraries = [name for name in choice.libraries if name in shared]
    if not libraries and "--select" in choice.libraries:
        libraries = [name for name in shared if rule.id in registry.libraries[name].rule_ids]
    for library in libraries:
        for key, value in shared.get(library, {}).items():
            if key not in fields:
                continue
            before = options.get(key, _default(rule, key))
            if before != value:
                audit.overridden.append(
                    {
                        "rule": rule.id,
                        "field": f"options.{key}",
                        "from": before,
                        "to": value,
                        "by": f"{where.config_key}.library_options.{library}.{key}",
                    }
                )
            options[key] = value
    return options


def _default(rule: type[Rule], key: str) -> Any:
    """The rule's own default for option ``key`` (as plain data: lists, not tuples)."""
    info = rule.Options.model_fields.get(key)
    if info is None:
        return None
    value = info.get_default(call_default_factory=True, validated_data={})
    if isinstance(value, (tuple, frozenset, set)):
        value = list(value)
    return value


def _from_libraries(
    registry: Registry,
    libraries: list[str],
    strategy: ConflictStrategy,
    audit: Audit,
    from_config: set[str],
    where: _Where,
) -> tuple[dict[str, _Choice], list[dict[str, Any]]]:
    """The rules the libraries enable, each with its settings (the strategy picks which when
    two libraries set one differently), and those differences, for
    :func:`_resolve_setting_conflicts` to judge once it is known which rules run."""
    chosen: dict[str, _Choice] = {}
    differences: list[dict[str, Any]] = []
    for name in libraries:
        library = registry.libraries.get(name)
        if library is None:
            unknown = _unknown("library", name, registry.libraries)
            source = where.key("libraries") if name in from_config else "--library"
            raise UsageError(f"{source}: {unknown}")
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
            differences.append(conflict)
            if keep_last:
                chosen[entry.id] = _Choice(choice.severity, choice.options, name, known.libraries)
    return chosen, differences


def _conflict_error(where: _Where, what: str, rules: Sequence[str]) -> ConfigError:
    """The refusal of a conflict under strategy ``error``, naming the keys that resolve it."""
    key = where.config_key
    disable = " or ".join(f"{key}.rules.{rule_id}.enabled = false" for rule_id in rules)
    return ConfigError(
        f"{where.key('conflict_strategy')}: {what} (conflict strategy 'error'): set"
        f' {key}.conflict_strategy to "warn", "prefer-first" or "prefer-last", or'
        f" disable {'one of them' if len(rules) > 1 else 'it'}: {disable} (or list it in"
        f" {key}.ignore)"
    )


def _resolve_setting_conflicts(
    differences: list[dict[str, Any]],
    running: set[str],
    strategy: ConflictStrategy,
    audit: Audit,
    where: _Where,
) -> None:
    """Record (or, under ``error``, refuse) the rules two libraries set differently, of those
    that run: a rule disabled anyway runs with neither setting."""
    for conflict in differences:
        rule_id = conflict["rule"]
        if rule_id not in running:
            continue
        if strategy is ConflictStrategy.ERROR:
            first, second = conflict["libraries"]
            raise _conflict_error(
                where, f"libraries {first} and {second} set rule {rule_id} differently", [rule_id]
            )
        audit.conflicts.append(conflict)


def _resolve_declared_conflicts(
    registry: Registry,
    chosen: dict[str, _Choice],
    running: set[str],
    strategy: ConflictStrategy,
    audit: Audit,
    where: _Where,
) -> None:
    """Resolve each pair of running rules of which one declares the other in
    ``conflicts_with`` (a rule that does not run contradicts nothing)."""
    order = list(chosen)
    seen: set[frozenset[str]] = set()
    for rule_id in order:
        if rule_id not in chosen or rule_id not in running:
            continue
        for other in registry.rules[rule_id].conflicts_with:
            if other not in chosen or rule_id not in chosen or other not in running:
                continue
            pair = frozenset((rule_id, other))
            if pair in seen:
                continue  # declared on both sides: one conflict, met once
            seen.add(pair)
            first, second = sorted((rule_id, other), key=order.index)
            if strategy is ConflictStrategy.ERROR:
                raise _conflict_error(
                    where,
                    f"rules {first} ({chosen[first].library}) and {second}"
                    f" ({chosen[second].library}) contradict each other",
                    [first, second],
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
    where: _Where,
) -> str | None:
    if rule.removed_in:
        return f"removed in {rule.removed_in}"
    if select and rule_id not in select:
        return "not selected"
    if rule_id in ignored_by:
        return f"ignored by {ignored_by[rule_id]}"
    override = overrides.get(rule_id)
    if override is not None and not override.enabled:
        return f"disabled by {where.config_key}.rules.{rule_id}.enabled"
    if pg_version is not None and pg_version not in rule.pg_versions:
        return f"does not apply to PostgreSQL {pg_version} (applies to {rule.pg_versions})"
    return None


def _apply_override(
    rule: type[Rule],
    choice: _Choice,
    options: dict[str, Any],
    override: RuleOverride,
    audit: Audit,
    where: _Where,
) -> tuple[Severity, dict[str, Any]]:
    rule_id = rule.id
    # The audit trail names the full key as written in the file (``db.lint.rules.<id>.severity``).
    own = f"{where.config_key}.rules.{rule_id}"
    severity, options = choice.severity, dict(options)
    if override.severity is not None and override.severity is not severity:
        audit.overridden.append(
            {
                "rule": rule_id,
                "field": "severity",
                "from": severity.value,
                "to": override.severity.value,
                "by": f"{own}.severity",
            }
        )
        severity = override.severity
    for key, value in override.options.items():
        before = options.get(key, _default(rule, key))
        if before != value:
            audit.overridden.append(
                {
                    "rule": rule_id,
                    "field": f"options.{key}",
                    "from": before,
                    "to": value,
                    "by": f"{own}.options.{key}",
                }
            )
        options[key] = value
    return severity, options


def _options(
    rule: type[Rule],
    options: Mapping[str, Any],
    own: Mapping[str, Any],
    choice: _Choice,
    shared: Mapping[str, Mapping[str, Any]],
    where: _Where,
) -> Any:
    """The rule's Options; a ConfigError naming the file and key of the bad value."""
    try:
        return rule.Options(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        path = loc[0] + "".join(f"[{p}]" for p in loc[1:]) if loc else ""
        # Name the setting the value came from: the rule's options, or a library's.
        key = f"rules.{rule.id}.options.{path}"
        for library in choice.libraries:
            if loc and loc[0] not in own and loc[0] in shared.get(library, {}):
                key = f"library_options.{library}.{path}"
        raise ConfigError(f"{where.key(key)}: {first['msg']}") from None
