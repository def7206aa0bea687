"""``plimsoll db lint``: lint schema files, migrations, or a live database.

Exit 0 when nothing at or above ``--fail-on`` was found, 1 when something was, 2 for bad
usage or configuration (an unknown rule or library, a missing path), 3 when a database given
with ``--env`` cannot be reached. A syntax error in a file is a finding (``syntax-error``),
and so is a file that is not UTF-8 (``encoding-error``, at its first bad byte); the other files
are still linted.
"""

from __future__ import annotations

import gc
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plimsoll import __version__
from plimsoll.cli import output
from plimsoll.cli.options import PathOpt, remember_format
from plimsoll.cli.output import print_json
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import UsageError

if TYPE_CHECKING:
    from plimsoll.db.lint.engine import LintReport
    from plimsoll.db.lint.registry import Registry


class LintFormat(StrEnum):
    """Output formats of ``db lint``."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"


def _split(values: list[str] | None) -> list[str]:
    """Comma-separated option values, flattened (``--select a,b --select c``)."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def lint(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATHS",
            help="Files or folders (default: db.lint.paths, else the schema and migrations folders).",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            help="Lint this environment's live database (with PATHS: the files applied on top).",
        ),
    ] = None,
    library: Annotated[
        list[str] | None,
        typer.Option(
            "--library",
            "-l",
            metavar="NAMES",
            help="Add rule libraries (comma-separated): hipaa, gdpr, ...",
        ),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", metavar="IDS", help="Run only these rule ids (comma-separated)."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", metavar="IDS", help="Skip these rule ids (comma-separated)."),
    ] = None,
    pg_version: Annotated[
        str | None,
        typer.Option(
            "--pg-version",
            metavar="VERSION",
            help="PostgreSQL version to assume, MAJOR or MAJOR.MINOR: 17, 16.2, 9.6"
            " (default: the --env server's, else db.lint.pg_version).",
        ),
    ] = None,
    fmt: Annotated[
        LintFormat,
        typer.Option("--format", "-f", help="Output format.", callback=remember_format),
    ] = LintFormat.TEXT,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="SEVERITY",
            help="Lowest severity that fails the run: error, warning or info.",
        ),
    ] = None,
    explain: Annotated[
        str | None,
        typer.Option("--explain", metavar="RULE", help="Show a rule's documentation and exit."),
    ] = None,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="List the rules and libraries and exit.")
    ] = False,
    path: PathOpt = None,
) -> None:
    """Lint PostgreSQL schema files and migrations (or a live database) for safety and compliance."""
    # The command builds large acyclic trees and exits: the cyclic collector would only walk
    # them again and again (a third of the run on a large schema), so it stays off.
    gc.disable()
    from plimsoll.db.lint.registry import load_registry
    from plimsoll.db.lint.rule import Severity

    if explain is not None or list_rules:
        if fmt not in (LintFormat.TEXT, LintFormat.JSON):
            what = "--explain" if explain is not None else "--list-rules"
            raise UsageError(f"{what} prints text or json, not {fmt.value}")
        registry = load_registry()
        if fmt is not LintFormat.JSON:
            _say_failures(registry)
        if explain is not None:
            from plimsoll.db.lint.docs import explain as explain_rule

            page = explain_rule(explain, registry)
            if fmt is LintFormat.JSON:
                print_json(
                    {
                        "rule": explain,
                        "plugin": _plugin(registry, explain),
                        "markdown": page,
                        "warnings": registry.failures,
                    }
                )
            else:
                sys.stdout.write(page)
        else:
            _list_rules(registry, fmt)
        return
    loaded = state(ctx).config(start=(path or Path.cwd()).resolve())
    settings = loaded.config.db.lint
    # Only the rule folders of the libraries in use are imported (start-up of every run).
    registry = load_registry(
        [*settings.libraries, *_split(library)],
        [*settings.select, *settings.ignore, *settings.rules, *_split(select), *_split(ignore)],
    )
    threshold = fail_on or settings.fail_on
    if threshold not in ("error", "warning", "info"):
        raise UsageError(f"--fail-on: expected error, warning or info, not {threshold!r}")
    if path is not None and paths:
        # -C runs the command as if started there: relative PATHS are read from that folder.
        paths = [p if p.is_absolute() else path / p for p in paths]
    report = _run(loaded, registry, paths, env, library, select, ignore, _major(pg_version))
    # Said once, with the run's other warnings (stderr, the JSON report, the SARIF log).
    report.configuration_warnings = list(registry.failures)
    _keep_timings(loaded)
    _render(report, registry, fmt, loaded)
    _warn(report)
    if report.failed(Severity(threshold)):
        raise typer.Exit(1)


def _major(pg_version: str | None) -> int | None:
    """The major version ``--pg-version`` names (the config's own words when it is wrong)."""
    if pg_version is None:
        return None
    from plimsoll.core.config import LintConfig

    try:
        return LintConfig.parse_pg_version(pg_version)
    except ValueError as exc:
        raise UsageError(f"--pg-version: {exc}") from None


def _say_failures(registry: Registry) -> None:
    """What failed to load (plugins, their rules), on stderr, once each."""
    err = output.err_console()
    for failure in registry.failures:
        err.print(f"warning: {failure}", style="yellow", markup=False, soft_wrap=True)


def _plugin(registry: Registry, rule_id: str) -> dict[str, Any] | None:
    """The plugin that provides ``rule_id`` (entry point, value, package); None: built-in."""
    from plimsoll.db.lint.registry import plugin_source

    name = registry.from_plugin(rule_id)
    if name is None:
        return None
    source = plugin_source(name)
    if source is None:
        return {"entry_point": name, "value": None, "distribution": None}
    return source.as_dict()


def _run(
    loaded: LoadedConfig,
    registry: Registry,
    paths: list[Path] | None,
    env: str | None,
    library: list[str] | None,
    select: list[str] | None,
    ignore: list[str] | None,
    pg_version: int | None,
) -> LintReport:
    from plimsoll.db.lint.compose import ConflictStrategy, RuleOverride, compose
    from plimsoll.db.lint.engine import LiveDatabase, lint_catalog, lint_sources
    from plimsoll.db.lint.rule import Severity
    from plimsoll.db.lint.sources import collect

    db = loaded.config.db
    settings = db.lint
    libraries = list(dict.fromkeys([*settings.libraries, *_split(library)]))
    overrides = {
        rule_id: RuleOverride(
            enabled=rule.enabled,
            severity=Severity(rule.severity) if rule.severity else None,
            options=rule.options,
        )
        for rule_id, rule in settings.rules.items()
    }
    database = None
    environment = None
    version = pg_version
    if env is not None:
        from plimsoll.db.connection import resolve_url
        from plimsoll.db.lint.live import read_database

        target = resolve_url(loaded, env)
        database = read_database(target.url.get_secret_value(), db.tracking_table)
        environment = {"name": target.name, **database.where}
        version = version or database.major
    version = version or settings.pg_version
    active, audit = compose(
        registry,
        libraries,
        select=_split(select),
        ignore=_split(ignore),
        config_select=settings.select,
        config_ignore=settings.ignore,
        config_libraries=settings.libraries,
        library_options=settings.library_options,
        config_file=config_file(loaded),
        config_key=config_prefix(loaded) + "db.lint",
        overrides=overrides,
        strategy=ConflictStrategy(settings.conflict_strategy),
        pg_version=version,
    )
    if database is not None and not paths:
        report = lint_catalog(database.catalog, active, audit, pg_version=version)
        report.environment = environment
        return report
    chosen = list(paths or []) or _default_paths(loaded)
    migrator = {"lock_timeout": db.lock_timeout, "statement_timeout": db.statement_timeout}
    collected = collect(
        chosen,
        loaded.root,
        migrations_dir=loaded.root / db.migrations_dir,
        schema_dir=loaded.root / db.schema_dir,
        migrator_settings=migrator if settings.migrator_settings else None,
    )
    sources = collected.sources
    if not sources:
        raise UsageError(f"no .sql files under {', '.join(str(p) for p in chosen)}")
    report = lint_sources(
        sources,
        active,
        audit,
        pg_version=version,
        assume_in_transaction=settings.assume_in_transaction,
        known_rules=frozenset(registry.rules),
        live=LiveDatabase(database.catalog, database.applied) if database is not None else None,
    )
    report.environment = environment
    report.order = collected.order
    report.reordered = collected.reordered
    report.extra["migrations"] = sum(1 for source in sources if source.migration)
    report.extra["run_by_migrator"] = sum(1 for source in sources if source.wrapped)
    return report


def config_file(loaded: LoadedConfig) -> str | None:
    """The configuration file errors name (as the config loader names it), or None."""
    if loaded.source is None:
        return None
    return str(loaded.source)


def config_prefix(loaded: LoadedConfig) -> str:
    """What keys are prefixed with in the file: ``tool.plimsoll.`` in a pyproject.toml."""
    source = loaded.source
    return "tool.plimsoll." if source is not None and source.name == "pyproject.toml" else ""


def _keep_timings(loaded: LoadedConfig) -> None:
    """Write the rule-composition timing to the store (for `plimsoll db slo`), when there is one.

    A lint of files must not leave state behind, so a store is only written when the project
    already has one (a migration, a baseline or a health check made it).
    """
    from plimsoll.core.errors import PlimsollError
    from plimsoll.core.store import open_configured
    from plimsoll.db.profiling.objectives import flush_timings

    settings = loaded.config.store
    if settings.url is None and not (loaded.root / settings.path).exists():
        return
    try:
        store = open_configured(settings, loaded.root)
    except PlimsollError:
        return  # timings are for later; the lint itself stands
    try:
        flush_timings(store)
    finally:
        store.close()


def _default_paths(loaded: LoadedConfig) -> list[Path]:
    db = loaded.config.db
    configured = [loaded.root / p for p in db.lint.paths]
    if configured:
        return configured
    found = [
        loaded.root / d for d in (db.schema_dir, db.migrations_dir) if (loaded.root / d).is_dir()
    ]
    if not found:
        raise UsageError(
            f"nothing to lint: neither {db.schema_dir} nor {db.migrations_dir} exists"
            " (give files or folders, or run `plimsoll db init`)"
        )
    return found


def _render(report: LintReport, registry: Registry, fmt: LintFormat, loaded: LoadedConfig) -> None:
    if fmt is LintFormat.JSON:
        print_json(report.as_dict())
    elif fmt is LintFormat.SARIF:
        from plimsoll.db.lint.paths import report_base
        from plimsoll.db.lint.sarif import to_sarif

        # Paths from the repository's root (GitHub resolves them there), -C or not.
        print_json(
            to_sarif(
                report,
                registry,
                tool_version=__version__,
                base_dir=report_base(loaded.root),
                fallback_file=str(loaded.source) if loaded.source is not None else None,
            )
        )
    elif fmt is LintFormat.GITHUB:
        from plimsoll.db.lint.github import to_github
        from plimsoll.db.lint.paths import report_base

        sys.stdout.write(to_github(report, report_base(loaded.root)))
    else:
        _render_text(report)


_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def _render_text(report: LintReport) -> None:
    from rich.text import Text

    out = output.console()
    # The header: what the findings below are relative to, when it is not the obvious.
    for note in report.reordered:
        out.print(f"order: {note}", soft_wrap=True, markup=False, highlight=False)
    if report.environment is not None:
        out.print(
            f"environment: {_environment(report.environment)}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    for finding in report.findings:
        style = _STYLE[finding.severity.value]
        # Assembled, never parsed as markup: messages quote the schema's own names.
        shown = Text.assemble(
            f"{finding.where}: ",
            (finding.severity.value, style),
            " ",
            (finding.rule, "bold"),
            f" {finding.message}",
        )
        out.print(shown, soft_wrap=True, highlight=False, emoji=False)
        out.print(
            f"  help: {finding.help}", soft_wrap=True, markup=False, highlight=False, emoji=False
        )
    counts = report.counts()
    audit = report.audit
    where = (
        f"{plural(report.files, 'file')}, {plural(report.statements, 'statement')}"
        if report.files
        else "the database"
    )
    out.print(
        f"{plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')},"
        f" {plural(counts['info'], 'note')} in {where}"
        f" (PostgreSQL {report.pg_version}; {_rules_from(audit)}"
        + (f"; {report.silenced} silenced inline" if report.silenced else "")
        + ")",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    for line in [*_scope_notes(report), *audit_lines(audit)]:
        out.print(line, soft_wrap=True, markup=False, highlight=False)


def _environment(environment: dict[str, Any]) -> str:
    """``development: database app on localhost:5432 as app`` (no password)."""
    where = f"database {environment.get('database')}"
    if environment.get("host"):
        where += f" on {environment['host']}"
        if environment.get("port"):
            where += f":{environment['port']}"
    if environment.get("user"):
        where += f" as {environment['user']}"
    return f"{environment.get('name')}: {where}"


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _rules_from(audit: Any) -> str:
    """``3 rules from safety 1.3.0 (2) and --select (1)``: where the enabled rules came from."""
    versions = {lib["name"]: f"{lib['name']} {lib['version']}" for lib in audit.libraries}
    sources = [
        f"{versions.get(name, name)} ({count})"
        if len(audit.sources) > 1
        else versions.get(name, name)
        for name, count in audit.sources.items()
    ]
    origin = f" from {', '.join(sources)}" if sources else ""
    return f"{plural(audit.enabled, 'rule')}{origin}"


def _shown(value: Any) -> str:
    """An option value as TOML would spell it (short values whole, long lists counted)."""
    import json

    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"[{len(value)} values]"
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)


def audit_lines(audit: Any) -> list[str]:
    """The audit trail in text: rules disabled (and why), settings overridden (from, to and
    by what), conflicts (what differed and how it was resolved), deprecated rules."""
    lines = []
    unselected = [d for d in audit.disabled if d["reason"] == "not selected"]
    for item in audit.disabled:
        if item["reason"] == "not selected":
            continue
        use = f"; use {item['replacement']}" if item.get("replacement") else ""
        lines.append(f"disabled: {item['rule']} ({item['reason']}{use})")
    if unselected:
        lines.append(f"disabled: {plural(len(unselected), 'rule')} not selected (--select)")
    for item in audit.overridden:
        by = f" by {item['by']}" if item.get("by") else ""
        lines.append(
            f"overridden: {item['rule']} {item['field']}"
            f" {_shown(item['from'])} -> {_shown(item['to'])}{by}"
        )
    for conflict in audit.conflicts:
        lines.append(_conflict_line(conflict))
    for item in audit.deprecated:
        use = f"; use {item['replacement']}" if item.get("replacement") else ""
        lines.append(f"deprecated: {item['rule']} (since {item['deprecated_in']}){use}")
    return lines


def _conflict_line(conflict: dict[str, Any]) -> str:
    """One conflict: the rule(s), the libraries, what differs, and what was kept."""
    libraries = conflict["libraries"]
    if conflict.get("kind") == "contradiction":
        first, second = conflict["rules"]
        return (
            f"conflict: {first} ({libraries[0]}) contradicts {second} ({libraries[1]}):"
            f" {conflict['resolution']}"
        )
    first, second = conflict.get("first", {}), conflict.get("second", {})
    differences = []
    if first.get("severity") != second.get("severity"):
        differences.append(
            f"severity {first.get('severity')} ({libraries[0]}) vs"
            f" {second.get('severity')} ({libraries[1]})"
        )
    options_a, options_b = first.get("options") or {}, second.get("options") or {}
    for key in sorted({*options_a, *options_b}):
        if options_a.get(key) != options_b.get(key):
            shown = [_shown(o[key]) if key in o else "the default" for o in (options_a, options_b)]
            differences.append(
                f"options.{key} {shown[0]} ({libraries[0]}) vs {shown[1]} ({libraries[1]})"
            )
    differ = "; ".join(differences) or "different settings"
    return (
        f"conflict: {conflict['rule']} set differently by {' and '.join(libraries)}: {differ};"
        f" kept {conflict['resolution']}'s"
    )


def _scope_notes(report: LintReport) -> list[str]:
    """What the run took as given, said once under the counts (text output only)."""
    notes = list(report.notes)
    migrations = int(report.extra.get("migrations", 0))
    if report.catalog_source == "schema files" and migrations:
        notes.append(
            f"schema rules checked the schema files' build; the {migrations} migration files"
            " were checked by the statement rules only"
        )
    if report.extra.get("run_by_migrator"):
        notes.append(
            "migrations in the migrations folder are linted as plimsoll's migrator runs them"
            " (one transaction each, with lock_timeout and statement_timeout set:"
            " db.lint.migrator_settings)"
        )
    return notes


def _warn(report: LintReport) -> None:
    """The run's own warnings (an ignore naming no rule, or a removed one), on stderr in
    every format."""
    err = output.err_console()
    for warning in [*report.configuration_warnings, *report.audit.warnings, *report.warnings]:
        err.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)


def _list_rules(registry: Registry, fmt: LintFormat) -> None:
    memberships: dict[str, list[str]] = {}
    for library in registry.libraries.values():
        for rule_id in library.rule_ids:
            memberships.setdefault(rule_id, []).append(library.name)
    rows: list[dict[str, Any]] = [
        {
            "id": rule.id,
            "kind": rule.kind,
            "severity": rule.severity.value,
            "pg_versions": str(rule.pg_versions),
            "libraries": memberships.get(rule.id, []),
            "summary": rule.summary(),
            "status": _status(rule),
            "plugin": _plugin(registry, rule.id),
        }
        for rule in sorted(registry.rules.values(), key=lambda r: r.id)
    ]
    if fmt is LintFormat.JSON:
        print_json(
            {
                "rules": rows,
                "libraries": [
                    {
                        "name": lib.name,
                        "version": lib.version,
                        "description": lib.description,
                        "rules": list(lib.rule_ids),
                        "plugin": registry.library_from_plugin(lib.name),
                    }
                    for lib in registry.libraries.values()
                ],
                "warnings": registry.failures,
            }
        )
        return
    from rich.table import Column, Table

    console = output.console()
    widest = max((len(row["id"]) for row in rows), default=4)
    if output.layout_width(console) < widest + 70:
        # Too narrow for a table that keeps every id whole: one rule per entry instead.
        for row in rows:
            libraries = ", ".join(row["libraries"]) or "no library"
            console.print(
                f"{row['id']}  {row['severity']}, {row['kind']}; {libraries}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            status = "" if row["status"] == "current" else f" ({row['status']})"
            console.print(f"    {row['summary']}{status}", markup=False, highlight=False)
            if row["plugin"] is not None:
                console.print(f"    from {_from(row['plugin'])}", markup=False, highlight=False)
        _list_libraries(registry, console)
        return
    # The id is what --select, --ignore and --explain take: never cut.
    rule = Column("rule", no_wrap=True, min_width=widest)
    # Where each rule comes from, when a plugin adds any: plimsoll's own, or the plugin's.
    plugged = any(row["plugin"] is not None for row in rows)
    table = Table(rule, "kind", "severity", "libraries", *(["from"] if plugged else []), "summary")
    for row in rows:
        status = "" if row["status"] == "current" else f" ({row['status']})"
        origin = [_from(row["plugin"])] if plugged else []
        table.add_row(
            row["id"],
            row["kind"],
            row["severity"],
            ", ".join(row["libraries"]),
            *origin,
            row["summary"] + status,
        )
    console.print(table)
    _list_libraries(registry, console)


def _from(plugin: dict[str, Any] | None) -> str:
    """``plimsoll`` for a built-in rule; the plugin's package and entry point otherwise."""
    if plugin is None:
        return "plimsoll"
    package = f"{plugin['distribution']} " if plugin["distribution"] else ""
    return f"{package}(entry point {plugin['entry_point']})"


def _status(rule: Any) -> str:
    """``current``, or ``deprecated in 1.2.0; use other-rule`` / ``removed in 2.0.0; ...``."""
    use = f"; use {rule.replacement}" if rule.replacement else ""
    if rule.removed_in:
        return f"removed in {rule.removed_in}{use}"
    if rule.deprecated_in:
        return f"deprecated in {rule.deprecated_in}{use}"
    return "current"


def _list_libraries(registry: Registry, console: Any) -> None:
    """The libraries under the rules: name, version, how many rules, what they are for."""
    console.print()
    for lib in sorted(registry.libraries.values(), key=lambda lib: lib.name):
        console.print(
            f"library {lib.name} {lib.version} ({len(lib.rule_ids)} rules): {lib.description}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
