"""Running the rules: statement rules over each file, schema rules over the catalog.

Files are parsed with :func:`plimsoll.db.sqljson.parse_json` (a syntax error is a
``syntax-error`` finding, a file that is not UTF-8 an ``encoding-error`` one, and the other
files go on). Statement rules see each statement of each
file in order, dispatched by node type, with a :class:`StatementContext`; the catalog is built
from the schema files (a fresh build), or, when there are none, from the migrations applied in
order, and schema rules check it. A live database is introspected instead (``lint_catalog``),
or, with files, taken as the starting point the files are applied to (``lint_sources`` with
a :class:`LiveDatabase`: see :mod:`plimsoll.db.lint.overlay`). Findings are silenced by
inline directives (``plimsoll.db.lint.ignores``) and sorted.

The JSON report (``--format json``, :meth:`LintReport.as_dict`) is versioned by
:data:`FORMAT_VERSION`; its fields are listed in :mod:`plimsoll.db.lint.report_format`, which
documents them (``docs/rules/report-format.md``).
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from plimsoll.core.gcpause import gc_paused
from plimsoll.db.lint.background import Background
from plimsoll.db.lint.carried import Carried
from plimsoll.db.lint.compose import ActiveRule, Audit
from plimsoll.db.lint.context import SchemaContext, StatementContext
from plimsoll.db.lint.findings import (
    ENCODING_ERROR,
    ENGINE_FINDINGS,
    PSQL_META_COMMAND,
    SYNTAX_ERROR,
    Finding,
)
from plimsoll.db.lint.ignores import FileIgnores, read_ignores, unknown_ids
from plimsoll.db.lint.known import KnownRelations
from plimsoll.db.lint.overlay import DATABASE_SOURCE
from plimsoll.db.lint.report_format import FORMAT_VERSION
from plimsoll.db.lint.rule import SchemaRule, Severity, StatementRule, Violation
from plimsoll.db.lint.rule_failures import RuleFailures
from plimsoll.db.sql import SqlSyntaxError
from plimsoll.db.sqljson import JsonScript, parse_json

if TYPE_CHECKING:
    from plimsoll.db.catalog import Catalog
    from plimsoll.db.sqlfiles import MetaCommand

# pg_dump's ``\restrict KEY`` / ``\unrestrict KEY`` lines (PostgreSQL 13.22, 14.19, 15.14,
# 16.10, 17.6 and later): security markers psql honours, in every dump. Skipped without a note:
# one for each would fail ``--fail-on info`` on every dump.
PG_DUMP_MARKERS = frozenset({"\\restrict", "\\unrestrict"})
# From this much SQL (characters), the catalog and the schema rules run in a forked child
# while the statement rules run here: below it, the fork costs more than it saves.
PARALLEL_CHARACTERS = 200_000


@dataclass(frozen=True)
class EncodingProblem:
    """Where a file stops being UTF-8: the first byte that does not decode, its 1-based line
    and column (characters before it on its line, plus one) and its byte offset."""

    line: int
    column: int
    byte: int
    offset: int

    @classmethod
    def of(cls, data: bytes, offset: int) -> EncodingProblem:
        """The problem at ``offset`` of ``data`` (everything before it decodes)."""
        line_start = data.rfind(b"\n", 0, offset) + 1
        before = data[line_start:offset].decode("utf-8").removeprefix("\ufeff")
        return cls(data.count(b"\n", 0, offset) + 1, len(before) + 1, data[offset], offset)


@dataclass(frozen=True)
class SourceFile:
    """A file to lint: how it is shown, its text, and whether it is a migration.

    ``build`` says whether its statements make up the schema the schema rules check (a down
    migration does not); ``settings`` are in effect before its first statement (what the
    migrator that runs it sets, such as ``lock_timeout``); ``wrapped``: plimsoll's migrator
    runs it, one transaction per migration. ``absolute`` is the file's absolute path (reports
    that name files from elsewhere, such as a repository's root, need it); ``version`` is a
    migration's version and ``own`` says it lies in the project's migrations folder (a live
    database's tracking table says whether it was applied). ``encoding`` is set for a file
    that is not UTF-8: its text is empty, and the run reports it (``encoding-error``) and
    lints the others.
    """

    path: str
    text: str
    migration: bool
    build: bool = True
    settings: Mapping[str, str] = field(default_factory=dict)
    wrapped: bool = False
    absolute: str | None = None
    version: tuple[int, ...] = ()
    own: bool = False
    encoding: EncodingProblem | None = None


@dataclass(frozen=True)
class LiveDatabase:
    """A live database the files are linted against (``--env`` with files).

    ``applied`` are the versions its tracking table lists: those of the project's own
    migrations are in the catalog already, and are not applied to it a second time.
    """

    catalog: Catalog
    applied: frozenset[tuple[int, ...]] = frozenset()


@dataclass
class LintReport:
    """The findings of a run, what was linted, and the audit trail of the rules used."""

    findings: list[Finding]
    audit: Audit
    pg_version: int
    files: int = 0
    statements: int = 0
    catalog_source: str = "files"
    duration_seconds: float = 0.0
    silenced: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Problems with the run itself rather than the SQL (an ignore naming no rule, a part of
    # the database or of the files that could not be applied to the schema checked).
    warnings: list[str] = field(default_factory=list)
    # Problems with the tool's set-up: plugins (or their rules) that could not be loaded.
    # In the JSON report's warnings, first; SARIF's toolConfigurationNotifications.
    configuration_warnings: list[str] = field(default_factory=list)
    # What the run took as given, said once (the order of the files, what was applied).
    notes: list[str] = field(default_factory=list)
    # The environment linted (``--env``): its name and where its database is, no password.
    environment: dict[str, Any] | None = None
    # ``alphabetical``, or ``version`` when version prefixes ordered the files otherwise;
    # ``reordered`` says for which folders (and the first pair that swapped).
    order: str = "alphabetical"
    reordered: list[str] = field(default_factory=list)
    # Each file as shown -> its absolute path.
    paths: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many findings of each severity."""
        out = {s.value: 0 for s in Severity}
        for finding in self.findings:
            out[finding.severity.value] += 1
        return out

    def failed(self, fail_on: Severity) -> bool:
        """Whether a finding is at least as serious as ``fail_on``."""
        return any(f.severity.rank >= fail_on.rank for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (``--format json``)."""
        return {
            "format_version": FORMAT_VERSION,
            "pg_version": self.pg_version,
            "environment": self.environment,
            "files": self.files,
            "statements": self.statements,
            "order": self.order,
            "catalog": self.catalog_source,
            "duration_seconds": round(self.duration_seconds, 3),
            "counts": self.counts(),
            "silenced": self.silenced,
            "warnings": [*self.configuration_warnings, *self.warnings],
            "notes": [*(f"order: {note}" for note in self.reordered), *self.notes],
            "findings": [f.as_dict() for f in self.findings],
            "audit": self.audit.as_dict(),
        }


class _Linter:
    """One run's state: the active rules split by kind, the findings and the ignores."""

    def __init__(self, rules: Sequence[ActiveRule], pg_version: int) -> None:
        self.pg_version = pg_version
        self.by_type: dict[str, list[ActiveRule]] = defaultdict(list)
        self.every_statement: list[ActiveRule] = []
        self.schema_rules: list[ActiveRule] = []
        for active in rules:
            rule = active.rule
            if isinstance(rule, StatementRule):
                if rule.node_types:
                    for node_type in rule.node_types:
                        self.by_type[node_type].append(active)
                else:
                    self.every_statement.append(active)
            elif isinstance(rule, SchemaRule):
                self.schema_rules.append(active)
        self.findings: list[Finding] = []
        self.ignores: dict[str, FileIgnores] = {}
        self.silenced = 0
        # A rule whose check raised (a plugin's, usually): said in the run's warnings and
        # skipped there, so that one broken rule never costs the other rules' findings.
        self.failures = RuleFailures()

    def keep(self, finding: Finding) -> None:
        """Add ``finding`` unless an inline directive silences it."""
        ignores = self.ignores.get(finding.file or "")
        if ignores is not None and ignores.silenced(finding.rule, finding.line):
            self.silenced += 1
            return
        self.findings.append(finding)

    def statements(self, script: JsonScript, context: StatementContext) -> None:
        """Run the statement rules over every statement of ``script``."""
        by_type = self.by_type
        every = self.every_statement

        def where(statement: Any) -> str:
            return f"{script.source}:{script.line_column(statement.start)[0]}"

        for statement in script.statements:
            wanted = by_type.get(statement.kind)
            if wanted or every:
                for active in (wanted or []) + every:
                    violations = self.failures.run(active, statement, context, where)
                    for violation in violations:
                        offset = (
                            statement.start if violation.location is None else violation.location
                        )
                        line, column = script.line_column(offset)
                        self.keep(_finding(active, violation, script.source, line, column))
            context.advance(statement)

    def schema(self, catalog: Catalog, context: SchemaContext) -> None:
        """Run the schema rules over ``catalog``."""
        for finding in self.check_schema(catalog, context):
            self.keep(finding)

    def check_schema(self, catalog: Catalog, context: SchemaContext) -> list[Finding]:
        """The schema rules' findings over ``catalog``, before inline ignores."""
        found: list[Finding] = []
        for active in self.schema_rules:
            violations = self.failures.run(
                active, catalog, context, lambda _: f"the schema ({context.source})"
            )
            for violation in violations:
                origin = violation.origin
                # An object that came from the live database (its DDL, applied first) is the
                # database's: no file, as a lint of the database alone reports it.
                if origin is not None and origin.file != DATABASE_SOURCE:
                    found.append(
                        _finding(active, violation, origin.file, origin.line, origin.column)
                    )
                else:
                    found.append(_finding(active, violation, None, 0, 0))
        return found

    def schema_findings(
        self, scripts: Sequence[JsonScript], pg_version: int, live: Catalog | None = None
    ) -> tuple[list[Finding], list[str]]:
        """Build the catalog from parsed ``scripts`` (in order), on top of the ``live``
        database's when given; the schema rules' findings, and what could not be applied."""
        from plimsoll.db.ddl_catalog import CatalogBuilder
        from plimsoll.db.lint.overlay import RelationTracker, database_script, lost_objects

        builder = CatalogBuilder()
        problems: list[str] = []
        tracker = None
        with gc_paused():
            if live is not None:
                base = database_script(live)
                problems.extend(base.problems)
                for statement in base.script.statements:
                    builder.apply(statement, base.script)
                problems.extend(lost_objects(live, builder.catalog()))
                tracker = RelationTracker.of_catalog(live)
            for script in scripts:
                for statement in script.statements:
                    if tracker is None or tracker.take(statement, script):
                        builder.apply(statement, script)
        if tracker is not None:
            problems.extend(tracker.problems)
        source = "files" if live is None else "database + files"
        found = self.check_schema(builder.catalog(), SchemaContext(pg_version, source))
        # Said through the result: in a forked child, this linter's own list is the child's.
        return found, [*problems, *self.failures.take()]


def _finding(
    active: ActiveRule, violation: Violation, file: str | None, line: int, column: int
) -> Finding:
    return Finding(
        rule=active.rule.id,
        severity=active.severity,
        message=violation.message,
        help=violation.help or active.rule.help,
        file=file,
        line=line,
        column=column,
        object=violation.object,
        libraries=active.libraries,
    )


def lint_sources(
    sources: Iterable[SourceFile],
    rules: Sequence[ActiveRule],
    audit: Audit,
    *,
    pg_version: int,
    assume_in_transaction: bool = False,
    known_rules: frozenset[str] | set[str] | None = None,
    live: LiveDatabase | None = None,
) -> LintReport:
    """Lint files: statement rules over each, schema rules over the catalog they build.

    Schema files are given in build order and migrations in version order; the catalog is
    the schema files' build when there are any, else the migrations applied in order. With
    ``live``, it is the live database's catalog with every file that builds applied on top
    (schema files, then the migrations its tracking table does not list), and what the
    statement rules know of relations starts from that database. With ``known_rules``
    (every rule id there is), an inline ignore naming another id is reported in the
    report's warnings: it silences nothing.
    """
    started = time.perf_counter()
    linter = _Linter(rules, pg_version)
    sources = list(sources)
    has_schema = any(not s.migration and s.build for s in sources)
    order: dict[str, int] = {}
    statements = 0
    # Every name that a schema build creates is new to the statements after it.
    built: set[str] = set()
    notes: list[str] = []
    if live is None:
        # The schema is the schema files' build when there are any, else the migrations'.
        catalog_sources = [s for s in sources if s.build and s.migration != has_schema]
        known = KnownRelations()
    else:
        applied = {id(s) for s in sources if s.build and s.own and s.version in live.applied}
        catalog_sources = [s for s in sources if s.build and id(s) not in applied]
        known = KnownRelations.of_catalog(live.catalog)
        note = (
            f"schema rules checked the database with {len(catalog_sources)} of the files"
            " applied on top"
        )
        if applied:
            many = len(applied) != 1
            note += (
                f"; {len(applied)} migration{'s' if many else ''} its tracking table lists as"
                f" applied {'were' if many else 'was'} not applied again"
            )
        notes.append(note)
    with gc_paused():
        parsed: list[tuple[SourceFile, JsonScript]] = []
        for source in sources:
            order.setdefault(source.path, len(order))
            if source.encoding is not None:
                if audit.reports_encoding_errors:
                    linter.keep(_encoding_finding(source.path, source.encoding))
                continue
            try:
                script = parse_json(source.text, source.path)
            except SqlSyntaxError as exc:
                if audit.reports_syntax_errors:
                    linter.keep(_syntax_finding(exc))
                continue
            statements += len(script.statements)
            linter.ignores[source.path] = read_ignores(script)
            if audit.reports_meta_commands:
                for command in script.meta_commands:
                    # pg_dump's own security markers: every dump since 15.14 has them.
                    if command.command not in PG_DUMP_MARKERS:
                        linter.keep(_meta_command_finding(source.path, command))
            parsed.append((source, script))
        schema_job = None
        if linter.schema_rules and catalog_sources:
            # A file that does not parse is left out (its syntax error is reported above).
            wanted = {id(s) for s in catalog_sources}
            scripts = [script for source, script in parsed if id(source) in wanted]
            # Forked after parsing: the child reads the parsed trees copy-on-write (measured:
            # cheaper than parsing them again there), builds the catalog and runs the schema
            # rules while this process runs the statement rules.
            schema_job = Background(
                partial(
                    linter.schema_findings,
                    scripts,
                    pg_version,
                    live.catalog if live is not None else None,
                ),
                fork=sum(len(s.text) for s in catalog_sources) >= PARALLEL_CHARACTERS,
            )
        elif linter.schema_rules and live is not None:
            # No file builds anything: the schema is the database's own.
            schema_job = Background(
                partial(_database_only, linter, live.catalog, pg_version), fork=False
            )
        # What a migration establishes (a validated CHECK, ...), seen by the migrations after it;
        # with a live database, starting from its columns.
        carried = Carried.of_catalog(live.catalog) if live is not None else Carried()
        for source, script in parsed:
            context = StatementContext(
                script,
                pg_version,
                migration=source.migration,
                assume_in_transaction=assume_in_transaction,
                settings=dict(source.settings),
                wrapped=source.wrapped,
            )
            if not source.migration:
                context.created = built
                context.known = known
            elif source.build:
                context.carried = carried
                context.known = known
            else:
                # A down migration sees what the ups before it established, and leaves it be:
                # the next up runs after this up, not after this down.
                context.carried = copy.deepcopy(carried)
                context.known = copy.deepcopy(known)
            linter.statements(script, context)
        problems: list[str] = []
        if schema_job is not None:
            found, problems = schema_job.result()
            for finding in found:
                linter.keep(finding)
        # Freed here, while the collector is paused: a large tree freed by reference counting
        # costs little, the same tree walked by a collection costs much.
        del parsed, schema_job
    linter.findings.sort(key=lambda f: f.sort_key(order))
    warnings = _unknown_ignores(linter.ignores, known_rules) if known_rules else []
    if live is not None:
        catalog_source = "database + files"
    else:
        catalog_source = "schema files" if has_schema else "migrations"
    return LintReport(
        findings=linter.findings,
        audit=audit,
        pg_version=pg_version,
        files=len(order),
        statements=statements,
        catalog_source=catalog_source,
        duration_seconds=time.perf_counter() - started,
        silenced=linter.silenced,
        warnings=[*warnings, *linter.failures.take(), *problems],
        notes=notes,
        paths={s.path: s.absolute for s in sources if s.absolute is not None},
    )


def _database_only(
    linter: _Linter, catalog: Catalog, pg_version: int
) -> tuple[list[Finding], list[str]]:
    """The schema rules' findings over a live database's catalog alone."""
    found = linter.check_schema(catalog, SchemaContext(pg_version, "database"))
    return found, linter.failures.take()


def _unknown_ignores(
    ignores: Mapping[str, FileIgnores], known: frozenset[str] | set[str]
) -> list[str]:
    """A line for each inline ignore id that names no rule (with the closest id, if any)."""
    import difflib

    known = {*known, *ENGINE_FINDINGS}
    out = []
    for path, found in ignores.items():
        for line, rule in unknown_ids(found, known):
            close = difflib.get_close_matches(rule, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            out.append(f"{path}:{line}: 'plimsoll: ignore' names no rule: {rule!r}{hint}")
    return out


def lint_catalog(
    catalog: Catalog, rules: Sequence[ActiveRule], audit: Audit, *, pg_version: int
) -> LintReport:
    """Lint a live database's catalog with the schema rules (statement rules need files)."""
    started = time.perf_counter()
    linter = _Linter(rules, pg_version)
    linter.schema(catalog, SchemaContext(pg_version, "database"))
    linter.findings.sort(key=lambda f: f.sort_key({}))
    return LintReport(
        findings=linter.findings,
        audit=audit,
        pg_version=pg_version,
        catalog_source="database",
        duration_seconds=time.perf_counter() - started,
        warnings=linter.failures.take(),
    )


def _meta_command_finding(path: str, command: MetaCommand) -> Finding:
    """A psql meta-command line of a file: left out of what is linted, and said so.

    A note when plimsoll's build and migrator skip it (``\\echo``, ``\\set
    ON_ERROR_STOP``); an error when they refuse it (``\\i``, ``\\c``): the file would not
    run. pg_dump's ``\\restrict`` markers never get here (:data:`PG_DUMP_MARKERS`).
    """
    if command.harmless:
        return Finding(
            rule=PSQL_META_COMMAND,
            severity=Severity.INFO,
            message=f"psql meta-command {command.command} is not SQL: skipped, not linted",
            help="Nothing to do: plimsoll's build and migrator skip it, and psql still runs it.",
            file=path,
            line=command.line,
            column=command.column,
        )
    return Finding(
        rule=PSQL_META_COMMAND,
        severity=Severity.ERROR,
        message=command.refusal(),
        help="Remove it: plimsoll's build and migrator refuse a file that holds it.",
        file=path,
        line=command.line,
        column=command.column,
    )


def _encoding_finding(path: str, problem: EncodingProblem) -> Finding:
    """A file that is not UTF-8: nothing of it was linted, and where it stops decoding."""
    return Finding(
        rule=ENCODING_ERROR,
        severity=Severity.ERROR,
        message=f"not UTF-8: byte 0x{problem.byte:02x} does not decode, so the file was not linted",
        help="Save the file as UTF-8 (iconv -f LATIN1 -t UTF-8, from its real encoding):"
        " plimsoll reads, builds and migrates UTF-8 only.",
        file=path,
        line=problem.line,
        column=problem.column,
    )


def _syntax_finding(exc: SqlSyntaxError) -> Finding:
    return Finding(
        rule=SYNTAX_ERROR,
        severity=Severity.ERROR,
        message=exc.reason,
        help="Fix the statement: PostgreSQL's own parser rejects it.",
        file=exc.source,
        line=exc.line,
        column=exc.column,
    )
