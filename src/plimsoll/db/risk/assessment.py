"""``assess``: the risk of migrations against a live database, as one :class:`RiskReport`.

The steps, each in its own module:

1. parse each migration (PostgreSQL's parser, ``plimsoll.db.sqljson``) and ask
   ``plimsoll.db.sql.transactional`` which statements cannot run in a transaction block;
   after a ``SET search_path`` in a migration, qualify the names of the statements that
   follow with the schemas that path gives them (``paths``);
2. read the live facts of every relation the migrations name (``facts``) and the server's
   calibration (``calibration``: cached, or measured once);
3. profile each statement, in the order they run, against those facts as the statements
   before it change them (``lock_profile``, ``alter_table``, ``run_state``), with what it
   reaches through dependencies and what will make it fail (``cascade``); relations reached
   that way are read in a second round;
4. lint the migrations for the anomalies factor (``anomalies``), unless findings are given;
5. learn from recorded runs in the store (``learned``), when there is a store;
6. price, score and advise per statement, then per migration (``evaluate``).

Nothing in the target database is changed, except the calibration's scratch schema, created and
dropped once per server (``db.risk.calibrate = false`` turns it off).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from plimsoll.db.migrations import Kind, Migration, read_sql_text
from plimsoll.db.risk.calibration import Calibration, CalibrationCache, calibrate
from plimsoll.db.risk.config import RiskConfig
from plimsoll.db.risk.evaluate import (
    Context,
    ParsedStatement,
    Timeouts,
    evaluate_migration,
    evaluate_statement,
    interval_seconds,
)
from plimsoll.db.risk.facts import Facts, estimate_rows, read_facts, read_tables
from plimsoll.db.risk.learned import LearnedModel, folder_profiler, samples_from_runs
from plimsoll.db.risk.lock_profile import unknown
from plimsoll.db.risk.planning import Planned, Script, plan_run, qualify_run, relation_names
from plimsoll.db.risk.report import MigrationRisk, RiskReport
from plimsoll.db.sqljson import JsonScript, parse_json

if TYPE_CHECKING:
    from plimsoll.core.config import LintConfig
    from plimsoll.core.store import Store
    from plimsoll.db.lint.findings import Finding

APPLICATION_NAME = "plimsoll-risk"
HISTORY_LIMIT = 5000


@dataclass(frozen=True)
class _Source:
    label: str
    source: str
    text: str | None
    folder: Path | None


@dataclass
class _Parsed:
    source: _Source
    script: JsonScript | None
    statements: list[ParsedStatement]


def _sources(
    migrations: Sequence[Migration] | Sequence[tuple[str, str]],
    labels: Mapping[Path, str] | None = None,
) -> list[_Source]:
    out: list[_Source] = []
    for item in migrations:
        if isinstance(item, Migration):
            label = (labels or {}).get(item.up, item.label)
            if item.kind is Kind.PYTHON:
                out.append(_Source(label, str(item.up), None, item.up.parent))
                continue
            text = read_sql_text(item.up)  # a byte-order mark dropped, as the migrator does
            out.append(_Source(label, str(item.up), text, item.up.parent))
        else:
            label, text = item
            out.append(_Source(label, label, text, None))
    return out


def _parse(source: _Source, server_version: int) -> _Parsed:
    """Parse a migration; SqlSyntaxError (exit 2) propagates with its file and line."""
    if source.text is None:
        return _Parsed(source, None, [])
    from plimsoll.db.sql import parse_sql, transactional

    script = parse_json(source.text, source.source)
    requirements: list[tuple[bool, str | None]] = []
    ast_statements = parse_sql(source.text, source.source).statements
    if len(ast_statements) == len(script.statements):
        for node in ast_statements:
            need = transactional(node, server_version)
            requirements.append((need.in_transaction, need.reason))
    statements = []
    for position, statement in enumerate(script.statements):
        line, _ = script.line_column(statement.start)
        end_line, _ = script.line_column(statement.start + max(statement.length - 1, 0))
        in_transaction, reason = requirements[position] if requirements else (True, None)
        statements.append(
            ParsedStatement(
                index=position + 1,
                line=line,
                end_line=end_line,
                text=script.statement_text(statement),
                kind=statement.kind,
                transactional=in_transaction,
                reason=reason,
            )
        )
    return _Parsed(source, script, statements)


def _connect(conninfo: str, config: RiskConfig) -> psycopg.Connection[Any]:
    from plimsoll.db.connection import connect_url

    conn = connect_url(
        conninfo, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=10
    )
    conn.execute(
        "SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', '60s', false)",
        (config.facts_lock_timeout,),
    )
    return conn


def _learned(
    store: Store | None, folders: Sequence[Path], config: RiskConfig
) -> LearnedModel | None:
    if store is None or not folders:
        return None
    runs = store.migration_runs(limit=HISTORY_LIMIT)
    samples = []
    for folder in dict.fromkeys(folders):
        samples.extend(samples_from_runs(runs, folder_profiler(folder)))
    return LearnedModel(samples, config.learned_min_samples, config.learned_size_ratio)


def _lint(
    parsed: Sequence[_Parsed],
    pg_version: int,
    lint_config: LintConfig | None,
    settings: Mapping[str, str],
) -> list[Finding]:
    from plimsoll.db.lint.engine import SourceFile
    from plimsoll.db.risk.anomalies import lint_findings

    texts = {p.source.source: p.source.text for p in parsed if p.source.text is not None}
    sources = [
        SourceFile(source, text, True, settings=dict(settings), wrapped=True)
        for source, text in texts.items()
    ]
    return lint_findings(sources, pg_version=pg_version, lint_config=lint_config) if sources else []


def assess(
    migrations: Sequence[Migration] | Sequence[tuple[str, str]],
    conninfo: str,
    *,
    config: RiskConfig | None = None,
    store: Store | None = None,
    lint_findings: Sequence[Finding] | None = None,
    lint_config: LintConfig | None = None,
    migrator_settings: Mapping[str, str] | None = None,
    calibration_cache: Path | None = None,
    calibration: Calibration | None = None,
    recalibrate: bool = False,
    history_folder: Path | None = None,
    on_calibrate: Callable[[], None] | None = None,
    labels: Mapping[Path, str] | None = None,
) -> RiskReport:
    """Assess ``migrations`` (in the order they would run) against the database at ``conninfo``.

    ``migrations``: :class:`~plimsoll.db.migrations.Migration` objects (their up files are
    read; a Python migration cannot be read ahead and is the worst case) or ``(label, sql)``
    pairs. ``store``: recorded runs to learn durations from (the migrations folder of the
    given Migrations, or ``history_folder``, tells what each run did). ``lint_findings``:
    findings already computed, whose ``file`` is the migration's source (``str(migration.up)``,
    or the label of a pair); otherwise the statement rules of ``lint_config`` (or the
    ``safety`` library) run here. ``migrator_settings``: the ``lock_timeout`` and
    ``statement_timeout`` the migrator will set. ``calibration_cache``: the JSON file of
    calibrations (None: measure on every call, unless ``calibration`` is given).
    ``history_folder``: the project's migrations folder, whose files tell what each recorded
    run did (default: each migration's own folder). ``labels``: names to show for migration
    files (by their up file) instead of ``<version>_<name>``.

    Raises SqlSyntaxError/InputError (exit 2) for a migration that does not parse or read,
    CannotRunError (exit 3) when the database cannot be reached.
    """
    started = time.perf_counter()
    config = config or RiskConfig()
    settings = dict(migrator_settings or {"lock_timeout": "5s", "statement_timeout": "1min"})
    timeouts = {name: interval_seconds(settings.get(name)) for name in _TIMEOUTS}
    sources = _sources(migrations, labels)
    with _connect(conninfo, config) as conn:
        server_version = conn.info.server_version
        parsed = [_parse(source, server_version) for source in sources]
        scripts = [_script(p) for p in parsed]
        runs = qualify_run(conn, scripts)
        names, functions = relation_names(runs)
        facts = read_facts(
            conn,
            names,
            functions,
            long_transaction_seconds=config.long_transaction_seconds,
        )
        if calibration is None:
            conn.execute("SET statement_timeout = 0")
            calibration = calibrate(
                conn,
                facts.server.cache_key,
                cache=CalibrationCache(calibration_cache) if calibration_cache else None,
                throughput=config.uncalibrated,
                enabled=config.calibrate,
                rows=config.calibration_rows,
                repeats=config.calibration_repeats,
                max_age_days=config.calibration_max_age_days,
                force=recalibrate,
                on_measure=on_calibrate,
            )
            conn.execute("SET statement_timeout = '60s'")
        plans = plan_run(conn, runs, facts, timeouts)
        reached = [n for n in _locked(plans) if n not in facts.tables]
        if reached:
            # Relations reached through dependencies (a CASCADE, a foreign key's other table).
            notes: list[str] = []
            facts = facts.with_tables(read_tables(conn, reached, notes), notes)
            plans = plan_run(conn, runs, facts, timeouts)
        planner = _planner_rows(conn, parsed, plans)
    findings = (
        list(lint_findings)
        if lint_findings is not None
        else _lint(parsed, facts.server.major, lint_config, settings)
    )
    folders = [history_folder] if history_folder else [s.folder for s in sources if s.folder]
    ctx = Context(
        config=config,
        facts=facts,
        calibration=calibration,
        model=_learned(store, [f for f in folders if f is not None], config),
        findings=_unique(findings),
        statement_timeout=timeouts["statement_timeout"],
        lock_timeout=timeouts["lock_timeout"],
    )
    results = [_migration(p, steps, planner, ctx) for p, steps in zip(parsed, plans, strict=True)]
    return RiskReport(
        migrations=tuple(results),
        server=facts.server,
        load=facts.load,
        calibration=calibration,
        method=_method(config, calibration, ctx.model, facts),
        caveats=_caveats(calibration, results, facts),
        weights=config.weights.as_dict(),
        notes=facts.notes,
        duration_seconds=time.perf_counter() - started,
    )


_TIMEOUTS = ("lock_timeout", "statement_timeout")


def _script(item: _Parsed) -> Script | None:
    if item.script is None:
        return None
    return [
        (s.kind, s.node, f"{item.source.label} line {parsed.line}")
        for s, parsed in zip(item.script.statements, item.statements, strict=True)
    ]


def _locked(plans: Sequence[Sequence[Planned]]) -> list[str]:
    names = (
        name
        for steps in plans
        for step in steps
        for name in (
            *(lock.table for lock in step.profile.locks),
            *(w.table for w in step.profile.work if w.table),
            *(w.referenced for w in step.profile.work if w.referenced),
        )
    )
    return list(dict.fromkeys(names))


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """Each finding once (a migration given twice is linted twice)."""
    return list(dict.fromkeys(findings))


def _planner_rows(
    conn: psycopg.Connection[Any],
    parsed: Sequence[_Parsed],
    plans: Sequence[Sequence[Planned]],
) -> dict[tuple[int, int], tuple[float, float] | None]:
    out: dict[tuple[int, int], tuple[float, float] | None] = {}
    for item, steps in zip(parsed, plans, strict=True):
        for position, step in enumerate(steps):
            if any(work.estimate for work in step.profile.work) and not step.profile.fails:
                text = item.statements[position].text
                out[(id(item), position)] = estimate_rows(conn, text, step.search_path)
    return out


def _migration(
    item: _Parsed,
    steps: Sequence[Planned],
    planner: Mapping[tuple[int, int], tuple[float, float] | None],
    ctx: Context,
) -> MigrationRisk:
    source = item.source
    if item.script is None:
        statement = ParsedStatement(1, 1, 1, f"<Python migration {source.source}>", "Python")
        worst = unknown(
            "Python", None, "a Python migration's statements are not known before it runs"
        )
        risk = evaluate_statement(statement, worst, source.source, ctx)
        return evaluate_migration(source.label, source.source, [risk], ctx)
    risks = [
        evaluate_statement(
            statement,
            steps[position].profile,
            source.source,
            ctx,
            planner.get((id(item), position)),
            Timeouts(steps[position].lock_timeout, steps[position].statement_timeout),
        )
        for position, statement in enumerate(item.statements)
    ]
    return evaluate_migration(source.label, source.source, risks, ctx)


def _method(
    config: RiskConfig, calibration: Calibration, model: LearnedModel | None, facts: Facts
) -> tuple[str, ...]:
    weights = config.weights
    floor = (
        "; the score is at least the lock time's value (db.risk.lock_time_floor): blocking "
        "reads and writes for 0.1 s is MEDIUM, 0.5 s HIGH, 10 s CRITICAL"
        if config.lock_time_floor
        else ""
    )
    lines = [
        f"score = data volume {weights.data_volume:.0%} + lock time {weights.lock_time:.0%}"
        f" + dependencies {weights.dependencies:.0%} + anomalies {weights.anomalies:.0%}"
        f" + concurrent load {weights.concurrent_load:.0%} (each factor a curve from 0 to 1,"
        f" db.risk.curves){floor}; LOW < 0.25 <= MEDIUM < 0.5 <= HIGH < 0.75 <= CRITICAL",
        f"locks: the lock profile of PostgreSQL {facts.server.major} (from its documentation); "
        "a statement it does not know is the worst case",
    ]
    if calibration.calibrated:
        spreads = ", ".join(
            f"{speed.replace('_', ' ')} {calibration.spread_of(speed):.2f}"
            for speed in ("rewrite", "scan", "index_narrow", "index_wide", "statement")
        )
        lines.append(
            f"durations: heuristic = this server's speed, measured on {calibration.rows:,} "
            f"rows ({calibration.measured_at}), times the sizes involved; bounds: each part "
            f"divided and multiplied by {config.uncertainty:g} x the spread of its own speed "
            f"over the calibration runs ({spreads})"
        )
    else:
        lines.append(
            f"durations: heuristic = default speeds ({calibration.reason}) times the sizes "
            f"involved; bounds / and x {config.uncertainty * 2:g}"
        )
    samples = len(model.samples) if model else 0
    lines.append(
        f"learned: {samples} recorded runs usable (those whose work is certain without live "
        f"facts); with {config.learned_min_samples} or more of the same kind on tables within "
        f"{config.learned_size_ratio:g}x the size, their mean and 95% interval (on a log "
        "scale) replace the heuristic"
    )
    return tuple(lines)


def _caveats(
    calibration: Calibration, results: Sequence[MigrationRisk], facts: Facts
) -> tuple[str, ...]:
    caveats = [
        "a lock is assumed to be granted at once: a statement first waits for conflicting locks "
        "of open transactions (lock_timeout bounds that), and every later query on the table "
        "queues behind it meanwhile",
        "row counts and sizes are the live statistics; run ANALYZE on tables that changed a lot",
    ]
    if calibration.calibrated:
        caveats.append(
            "the calibration table fits in memory: a table that does not is read from disk and "
            "takes longer than predicted"
        )
    else:
        caveats.append(f"this server is not calibrated ({calibration.reason}): wider bounds")
    if not facts.server.sees_all_sessions:
        caveats.append(
            "this role sees only its own sessions: other users' activity and long transactions "
            "are not counted (grant it pg_read_all_stats)"
        )
    statements = [s for m in results for s in m.statements]
    if any(not s.known for s in statements):
        caveats.append(
            "statements the lock profile does not know are scored as the worst case; see their notes"
        )
    if any(s.duration.method == "learned" for s in statements):
        caveats.append(
            "learned predictions assume the server is as busy as during the recorded runs"
        )
    return tuple(caveats)
