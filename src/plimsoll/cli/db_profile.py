"""``plimsoll db profile``, ``plimsoll db baseline record|show|check`` and ``plimsoll db slo``.

Queries come from ``--queries FILE``, else ``db/queries.sql`` when the project has one, else
``pg_stat_statements`` (or from it whenever ``--pg-stat-statements`` is given). Baselines live
in the state store, per environment.

Exit codes: ``profile`` and ``baseline check`` exit 1 when a query regressed (ERROR, or
WARNING too with ``--fail-on warning``). A query that ran before (before the migrations, or
when its baseline was recorded) and fails now is *broken*: an ERROR, so exit 1 whatever
``--fail-on`` says. A query that fails and never ran (failed before the migrations too, or has
no baseline) is a plain failure, not the migrations' doing: it is listed as failed and counts
as a WARNING, so it exits 1 only with ``--fail-on warning``. ``baseline record`` exits 1 when
a query failed to run (it gets no baseline); ``slo`` exits 1 when an objective is breached; 2 for
bad input (a missing or invalid queries file, a bad option); 3 when the database cannot be
reached or ``pg_stat_statements`` cannot be read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from plimsoll.cli import output
from plimsoll.cli.options import EnvOpt, FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from plimsoll.core.store import BaselineCheck, Store
    from plimsoll.db.connection import Target
    from plimsoll.db.migrator import Migrator
    from plimsoll.db.profiling.baselines import BaselineManager, BaselineStats, CheckReport
    from plimsoll.db.profiling.migration import MigrationProfile
    from plimsoll.db.profiling.objectives import ObjectiveResult
    from plimsoll.db.profiling.profiler import ProfileReport, QueryProfiler
    from plimsoll.db.profiling.queries import Query

DEFAULT_QUERIES = "db/queries.sql"
PGSS_LIMIT = 20

baseline_app = typer.Typer(
    help="Per-query performance baselines: record them, show them, check against them.",
    no_args_is_help=True,
)


class FailOn(StrEnum):
    """The verdict from which a check fails."""

    ERROR = "error"
    WARNING = "warning"


QueriesOpt = Annotated[
    Path | None,
    typer.Option(
        "--queries",
        "-q",
        help=f"File of read queries, one per statement, named by '-- name: x' (default: "
        f"{DEFAULT_QUERIES}, else pg_stat_statements).",
    ),
]
PgssOpt = Annotated[
    bool,
    typer.Option(
        "--pg-stat-statements",
        help=f"Take the top {PGSS_LIMIT} read queries of pg_stat_statements.",
    ),
]
RunsOpt = Annotated[
    int,
    typer.Option("--runs", "-n", min=1, max=1000, metavar="N", help="Measured runs of each query."),
]
RateOpt = Annotated[
    float,
    typer.Option("--sample-rate", help="Share of the queries profiled, within (0, 1]."),
]
SeedOpt = Annotated[
    str, typer.Option("--seed", help="Rotates which queries a sampling rate below 1 picks.")
]
ThresholdOpt = Annotated[
    float,
    typer.Option(
        "--threshold", help="Slower by this fraction (and outside the interval) is an ERROR."
    ),
]
OverheadOpt = Annotated[
    bool,
    typer.Option(
        "--overhead/--no-overhead",
        help="Also run each query with TIMING OFF to measure EXPLAIN ANALYZE's own overhead.",
    ),
]
FailOnOpt = Annotated[
    FailOn, typer.Option("--fail-on", help="Exit 1 from this verdict on: error or warning.")
]


# --- shared -------------------------------------------------------------------------------


def _loaded(ctx: typer.Context, path: Path | None) -> LoadedConfig:
    return state(ctx).config(start=(path or Path.cwd()).resolve())


def _check_options(sample_rate: float, threshold: float | None = None) -> None:
    if not 0.0 < sample_rate <= 1.0:
        raise UsageError(f"--sample-rate: must be within (0, 1], got {sample_rate:g}")
    if threshold is not None and threshold <= 0:
        raise UsageError(f"--threshold: must be above 0, got {threshold:g}")


def _target(loaded: LoadedConfig, env: str | None) -> Target:
    # The db engine is imported by the commands that use it (start-up of every other command).
    from plimsoll.db.connection import resolve_url

    return resolve_url(loaded, env)


def _queries(
    loaded: LoadedConfig, target: Target, queries_file: Path | None, pgss: bool
) -> list[Query]:
    from plimsoll.db.profiling.queries import from_pg_stat_statements, load_queries

    if queries_file is not None and pgss:
        raise UsageError("give either --queries or --pg-stat-statements, not both")
    if queries_file is not None:
        return load_queries(queries_file)
    default = loaded.root / DEFAULT_QUERIES
    if default.is_file() and not pgss:
        return load_queries(default)
    from plimsoll.db.connection import connect
    from plimsoll.db.profiling.queries import pg_stat_statements_available

    with connect(target) as conn:
        why = pg_stat_statements_available(conn)
        if why is not None and not pgss:
            raise UsageError(
                f"no queries to profile: give --queries FILE, write {DEFAULT_QUERIES}, or "
                f"install pg_stat_statements ({why})"
            )
        found = from_pg_stat_statements(conn, limit=PGSS_LIMIT)
    if not found:
        raise UsageError("pg_stat_statements holds no read queries of this database yet")
    return found


def _profiler(runs: int, sample_rate: float, seed: str, overhead: bool) -> QueryProfiler:
    from plimsoll.db.profiling.profiler import QueryProfiler

    return QueryProfiler(runs=runs, sample_rate=sample_rate, seed=seed, measure_overhead=overhead)


def _measure(target: Target, profiler: QueryProfiler, queries: list[Query]) -> ProfileReport:
    # Through connect(): an unreachable database is one line and exit 3, never a traceback.
    from plimsoll.db.connection import connect

    with connect(target) as conn:
        try:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)", (target.statement_timeout,)
            )
            return profiler.profile(conn, queries)
        finally:
            conn.rollback()


def _store(loaded: LoadedConfig) -> Store:
    from plimsoll.core.store import open_configured

    return open_configured(loaded.config.store, loaded.root)


def _manager(store: Store, database: str, threshold: float, stale_days: float) -> BaselineManager:
    from plimsoll.db.profiling.baselines import BaselineManager

    return BaselineManager(store, database, threshold=threshold, stale_after=stale_days * 86400)


def _ms(value: float | None, unit: str = "ms") -> str:
    if value is None:
        return "-"
    if unit != "ms":
        return f"{value:.2f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _pct(change: float | None) -> str:
    return "-" if change is None else f"{change * 100:+.1f}%"


_STATUS_STYLE = {"ok": "green", "warning": "yellow", "error": "red"}


# The columns (by header) of numbers and ranges ("0.000..0.021") in this module's tables:
# kept on one line while the others wrap.
_NUMERIC = frozenset(
    ("unit", "n", "mean", "stddev", "95% interval", "now", "baseline", "change")
    + ("before", "after", "current")
)
# The least width (text and padding) a wrapping column keeps when the numbers stay whole.
_MIN_TEXT_WIDTH = 9


def _fit(table: Table) -> Table:
    """``table`` with its numeric columns kept on one line when the terminal leaves room.

    Left to itself, rich shrinks the widest columns first, whatever they hold, and folds
    their cells: a range cut in two reads as two numbers. When the numbers take so much of a narrow terminal that the other
    columns would be a few characters wide, every column wraps instead (rich's default).
    """
    out = output.console()
    numeric = [c for c in table.columns if str(c.header) in _NUMERIC]
    wrapping = len(table.columns) - len(numeric)
    widths = [max(out.measure(cell).maximum for cell in [c.header, *c.cells]) + 2 for c in numeric]
    room = out.width - sum(widths) - (len(table.columns) + 1)
    if room >= _MIN_TEXT_WIDTH * wrapping:
        for column in numeric:
            column.no_wrap = True
    return table


def _status(text: str) -> str:
    return f"[{_STATUS_STYLE.get(text, 'white')}]{text.upper()}[/]"


def _overhead_line(report: ProfileReport) -> str:
    o, s = report.overhead, report.sampling
    failed = f", {s.failed} failed" if s.failed else ""
    line = (
        f"{report.label}: sampled {s.selected} of {s.total} queries (rate asked "
        f"{s.requested:g}, actual {s.actual:.2f}), {s.profiled} measured{failed}; "
        f"{report.runs} runs each; wall {o.wall_ms:.1f} ms, queries {o.measured_ms:.1f} ms, "
        f"profiler overhead {o.overhead_ms:.1f} ms ({o.overhead_pct:.0f}%)"
    )
    return line + _instrumentation(report)


def _instrumentation(report: ProfileReport) -> str:
    o = report.overhead
    if o.instrumentation_ms is None:
        return ""
    noise = o.instrumentation_noise_ms
    if o.instrumentation_within_noise:
        # A difference at or below zero, or smaller than chance moves it, is no overhead.
        bound = "" if noise is None else f" (±{noise:.3f} ms over {report.runs} runs)"
        return f"; EXPLAIN ANALYZE timing overhead within noise{bound}"
    line = f"; EXPLAIN ANALYZE timing overhead {o.instrumentation_ms:.3f} ms"
    if noise is not None:
        line += f" ±{noise:.3f}"
    if o.instrumentation_pct is not None:
        line += f" ({o.instrumentation_pct:.1f}% of the untimed execution)"
    if noise is None:
        line += f" (noise not measured: {report.runs} run)"
    return line


def _failed_lines(report: ProfileReport) -> list[str]:
    return [p.error for p in report.profiles if p.error]


# --- db profile ---------------------------------------------------------------------------


def _migrator(loaded: LoadedConfig, target: Target) -> Migrator:
    from plimsoll.db.migrator import Migrator, Settings

    db = loaded.config.db
    settings = Settings(
        tracking_table=db.tracking_table,
        lock_timeout=target.lock_timeout,
        statement_timeout=target.statement_timeout,
        lock_wait_seconds=db.migrator_lock_timeout_seconds,
    )
    return Migrator(target.url.get_secret_value(), loaded.root / db.migrations_dir, settings)


def _check_version(migrator: Migrator, version: str | None) -> None:
    if version is None:
        return
    from plimsoll.db import migrations as files

    known = {m.version for m in files.discover(migrator.folder)}
    wanted = files.target_key(version, "--migration")
    if all(files.version_key(v) != wanted for v in known):
        raise UsageError(f"--migration {version}: no migration has that version")


def profile(
    ctx: typer.Context,
    queries_file: QueriesOpt = None,
    pgss: PgssOpt = False,
    env: EnvOpt = None,
    migration: Annotated[
        str | None,
        typer.Option(
            "--migration",
            "-m",
            metavar="VERSION",
            help="Profile the pending migrations up to this version only.",
        ),
    ] = None,
    copy: Annotated[
        bool,
        typer.Option(
            "--copy",
            help="Apply the migrations on a scratch copy of the database instead of in a "
            "rolled-back transaction (needs no other session on the database).",
        ),
    ] = False,
    runs: RunsOpt = 5,
    sample_rate: RateOpt = 1.0,
    seed: SeedOpt = "",
    threshold: ThresholdOpt = 0.2,
    overhead: OverheadOpt = True,
    fail_on: FailOnOpt = FailOn.ERROR,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """EXPLAIN ANALYZE representative queries before and after the pending migrations.

    The migrations run in one transaction that is rolled back (or on a scratch copy with
    --copy): nothing is kept. Exit 1 when a query got slower (see --threshold, --fail-on) or
    broke (it ran before and fails after: always). A query that fails before too is listed as
    failed and fails the run only with --fail-on warning.
    """
    _check_options(sample_rate, threshold)
    loaded = _loaded(ctx, path)
    target = _target(loaded, env)
    migrator = _migrator(loaded, target)
    _check_version(migrator, migration)
    queries = _queries(loaded, target, queries_file, pgss)
    from plimsoll.db.connection import connect
    from plimsoll.db.profiling.migration import Mode, profile_migrations

    connect(target).close()
    result = profile_migrations(
        _profiler(runs, sample_rate, seed, overhead),
        migrator,
        queries,
        target=migration,
        mode=Mode.COPY if copy else Mode.TRANSACTION,
        threshold=threshold,
    )
    if fmt is Format.JSON:
        print_json({"environment": target.name, **result.to_dict()})
    else:
        _render_profile(result)
    _exit_on(result.status.value, fail_on)


def _exit_on(status: str, fail_on: FailOn) -> None:
    failing = {"error"} if fail_on is FailOn.ERROR else {"error", "warning"}
    if status in failing:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _render_profile(result: MigrationProfile) -> None:
    out = output.console()
    where = "a rolled-back transaction" if result.mode.value == "transaction" else "a scratch copy"
    if result.migrations:
        out.print(f"migrations: {', '.join(result.migrations)} (in {where})", soft_wrap=True)
    if result.problem:
        colour = "red" if result.migration_failed else "yellow"
        out.print(f"[{colour}]{escape(result.problem)}[/{colour}]", soft_wrap=True)
    if result.after is None:
        table = Table(title="queries", title_justify="left")
        for column in ("query", "median", "unit", "samples", "plan"):
            table.add_column(column, overflow="fold")
        for p in result.before.profiles:
            table.add_row(
                p.query.label,
                _ms(p.median, p.metric.unit),
                p.metric.unit,
                str(len(p.measurements)),
                escape(" > ".join(p.measurements[-1].nodes) if p.measurements else p.error or ""),
            )
        out.print(_fit(table))
    else:
        table = Table(
            title=f"before and after (threshold {result.threshold:.0%})", title_justify="left"
        )
        for column in ("query", "before", "after", "change", "verdict", "plan after"):
            table.add_column(column, overflow="fold")
        for old, new, judgement in result.comparisons:
            unit = old.metric.unit
            verdict = _status(judgement.status.value)
            if judgement.improved:
                verdict += " [cyan](improved)[/cyan]"
            before_plan = old.measurements[-1].nodes
            if judgement.broken is not None:
                after, plan = "[red]broken[/red]", f"[red]{escape(judgement.broken)}[/red]"
            else:
                after_plan = new.measurements[-1].nodes
                after = f"{_ms(new.median, unit)} {unit}"
                plan = (
                    escape(" > ".join(after_plan)) if after_plan != before_plan else "(unchanged)"
                )
            table.add_row(
                old.query.label,
                f"{_ms(old.median, unit)} {unit}",
                after,
                _pct(judgement.change),
                verdict,
                plan,
            )
        out.print(_fit(table))
    _render_profile_failures(result)
    for report in (result.before, result.after):
        if report is not None:
            out.print(_overhead_line(report), soft_wrap=True)


def _render_profile_failures(result: MigrationProfile) -> None:
    out = output.console()
    for old, _new, judgement in result.broken:
        q = old.query
        out.print(
            f"[red]ERROR: {escape(q.label)}: broken by the migrations: "
            f"{escape(judgement.broken or '')} ({escape(q.source)}:{q.line}); it ran before "
            f"them ({_ms(old.median, old.metric.unit)} {old.metric.unit})[/red]",
            soft_wrap=True,
        )
    for old, new in result.failed:
        if result.after is None:
            out.print(f"[yellow]failed: {escape(old.error or '')}[/yellow]", soft_wrap=True)
            continue
        after = "" if new is None or new.error == old.error else f"; after: {new.server_error}"
        out.print(
            f"[yellow]failed before and after the migrations (not their doing): "
            f"{escape((old.error or '') + after)}[/yellow]",
            soft_wrap=True,
        )
    for old, new in result.after_only:
        out.print(
            f"[cyan]runs after the migrations only (nothing to compare): "
            f"{escape(old.query.label)} {_ms(new.median, new.metric.unit)} {new.metric.unit}; "
            f"before: {escape(old.server_error or '')}[/cyan]",
            soft_wrap=True,
        )


# --- db baseline --------------------------------------------------------------------------


@baseline_app.command("record")
def record(
    ctx: typer.Context,
    queries_file: QueriesOpt = None,
    pgss: PgssOpt = False,
    env: EnvOpt = None,
    runs: RunsOpt = 5,
    sample_rate: RateOpt = 1.0,
    seed: SeedOpt = "",
    append: Annotated[
        bool,
        typer.Option(
            "--append", help="Add the samples to the current baselines instead of replacing them."
        ),
    ] = False,
    overhead: OverheadOpt = True,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Measure the queries now and keep the samples as their baselines (old ones kept as history)."""
    _check_options(sample_rate)
    loaded = _loaded(ctx, path)
    target = _target(loaded, env)
    queries = _queries(loaded, target, queries_file, pgss)
    report = _measure(target, _profiler(runs, sample_rate, seed, overhead), queries)
    store = _store(loaded)
    try:
        recorded = _manager(store, target.name, 0.2, 30).record(report, append=append)
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json(
            {
                "environment": target.name,
                "recorded": [b.to_dict() for b in recorded],
                "failed": [p.to_dict() for p in report.profiles if p.error],
                "sampling": report.sampling.to_dict(),
                "overhead": report.overhead.to_dict(),
            }
        )
    else:
        out = output.console()
        out.print(_fit(_baselines_table(recorded, f"baselines recorded for {target.name}")))
        for line in _failed_lines(report):
            out.print(f"[red]failed: {escape(line)}[/red]", soft_wrap=True)
        out.print(_overhead_line(report), soft_wrap=True)
    if any(p.error for p in report.profiles):
        raise typer.Exit(int(ExitCode.FINDINGS))


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


def _interval(low: float, high: float, unit: str) -> str:
    return f"{_ms(low, unit)}..{_ms(high, unit)}"


def _baselines_table(baselines: list[BaselineStats], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("query", "unit", "n", "mean", "stddev", "95% interval", "recorded", "age"):
        # Numbers and ranges stay on one line; the name and the dates give way (at spaces).
        table.add_column(column, overflow="fold")
    for b in baselines:
        s, unit = b.summary, b.metric.unit
        age = f"{b.age_seconds / 86400:.1f} d"
        if b.stale:
            age = f"[yellow]{age} stale[/yellow]"
        if b.superseded_at is not None:
            age += f" (superseded {_when(b.superseded_at)})"
        table.add_row(
            b.label,
            unit,
            str(s.count),
            _ms(s.mean, unit),
            _ms(s.stddev, unit),
            _interval(s.low, s.high, unit),
            _when(b.updated_at),
            age,
        )
    return table


@baseline_app.command("show")
def show(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Option(
            "--query", metavar="NAME", help="One query (its name or key), with its history."
        ),
    ] = None,
    env: EnvOpt = None,
    stale_days: Annotated[
        float,
        typer.Option(
            "--stale-days", min=0, metavar="DAYS", help="Baselines older than this are stale."
        ),
    ] = 30.0,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Show the baselines of an environment: samples, mean, spread, 95% interval, age."""
    loaded = _loaded(ctx, path)
    from plimsoll.db.connection import resolve
    from plimsoll.db.profiling.baselines import stored_current

    # No connection: the baselines are in the store, under the environment's name.
    database = resolve(loaded, env).name
    store = _store(loaded)
    try:
        manager = _manager(store, database, 0.2, stale_days)
        checks: list[BaselineCheck] = []
        if query is None:
            shown = manager.show()
        else:
            shown, checks = manager.history(query)
            if not shown:
                raise UsageError(f"--query {query}: no baseline of that query in {database}")
    finally:
        store.close()
    if fmt is Format.JSON:
        payload: dict[str, Any] = {
            "environment": database,
            "baselines": [b.to_dict() for b in shown],
        }
        if query is not None:
            payload["checks"] = [{**vars(c), "current": stored_current(c)} for c in checks]
        print_json(payload)
        return
    out = output.console()
    if not shown:
        out.print(f"no baselines for {database}: run `plimsoll db baseline record`")
        return
    title = f"baselines of {database}" if query is None else f"{query} in {database}: history"
    out.print(_fit(_baselines_table(shown, title)))
    if checks:
        table = Table(title="checks", title_justify="left")
        for column in ("checked", "status", "current", "mean", "change"):
            table.add_column(column, overflow="fold")
        for c in checks[:20]:
            status = _status(c.status) + (" [cyan](improved)[/cyan]" if c.improved else "")
            current = stored_current(c)
            now = "[red]broken[/red]" if current is None else _ms(current)
            table.add_row(_when(c.checked_at), status, now, _ms(c.mean), _pct(c.change))
        out.print(_fit(table))


@baseline_app.command("check")
def check(
    ctx: typer.Context,
    queries_file: QueriesOpt = None,
    pgss: PgssOpt = False,
    env: EnvOpt = None,
    runs: RunsOpt = 5,
    sample_rate: RateOpt = 1.0,
    seed: SeedOpt = "",
    threshold: ThresholdOpt = 0.2,
    stale_days: Annotated[
        float,
        typer.Option(
            "--stale-days", min=0, metavar="DAYS", help="Baselines older than this are stale."
        ),
    ] = 30.0,
    fail_on: FailOnOpt = FailOn.ERROR,
    overhead: OverheadOpt = True,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Measure the queries now and judge each against its baseline.

    Exit 1 on a regression (see --threshold, --fail-on) or a broken query (it has a baseline
    and fails now: always); a failing query without a baseline fails only with --fail-on warning.
    """
    _check_options(sample_rate, threshold)
    loaded = _loaded(ctx, path)
    target = _target(loaded, env)
    queries = _queries(loaded, target, queries_file, pgss)
    report = _measure(target, _profiler(runs, sample_rate, seed, overhead), queries)
    store = _store(loaded)
    try:
        result = _manager(store, target.name, threshold, stale_days).check(report)
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json({"environment": target.name, **result.to_dict()})
    else:
        _render_check(result)
    _exit_on(result.status.value, fail_on)


def _render_check(result: CheckReport) -> None:
    out = output.console()
    if result.verdicts:
        table = Table(
            title=f"{result.database}: against the baselines (threshold {result.threshold:.0%})",
            title_justify="left",
        )
        for column in ("query", "now", "baseline", "95% interval", "n", "change", "verdict"):
            table.add_column(column, overflow="fold")
        for v in result.verdicts:
            s, unit = v.baseline.summary, v.baseline.metric.unit
            verdict = _status(v.status.value)
            if v.judgement.improved:
                verdict += " [cyan](improved)[/cyan]"
            if v.baseline.stale:
                verdict += " [yellow](stale)[/yellow]"
            now = "[red]broken[/red]" if v.current is None else f"{_ms(v.current, unit)} {unit}"
            table.add_row(
                v.query.label,
                now,
                f"{_ms(s.mean, unit)} {unit}",
                _interval(s.low, s.high, unit),
                str(s.count),
                _pct(v.judgement.change),
                verdict,
            )
        out.print(_fit(table))
    for v in result.regressions:
        style = _STATUS_STYLE[v.status.value]
        out.print(f"[{style}]{v.status.value.upper()}[/]: {escape(v.message)}", soft_wrap=True)
    if result.improvements:
        out.print("[cyan]improvements:[/cyan]")
        for v in result.improvements:
            out.print(f"  {escape(v.message)}", soft_wrap=True)
    if result.stale:
        out.print("[yellow]stale baselines (record them again):[/yellow]")
        for b in result.stale:
            out.print(
                f"  {b.label}: recorded {_when(b.updated_at)}, {b.age_seconds / 86400:.0f} days ago",
                soft_wrap=True,
            )
    if result.missing:
        names = escape(", ".join(q.label for q in result.missing))
        out.print(
            f"[yellow]no baseline yet: {names} (`plimsoll db baseline record`)[/yellow]",
            soft_wrap=True,
        )
    for p in result.failed:
        out.print(
            f"[yellow]failed, with no baseline to judge it by (not a regression): "
            f"{escape(p.error or '')}[/yellow]",
            soft_wrap=True,
        )
    out.print(_overhead_line(result.profile), soft_wrap=True)


# --- db slo -------------------------------------------------------------------------------


def slo(
    ctx: typer.Context,
    window: Annotated[
        str,
        typer.Option(
            "--window", "-w", metavar="DURATION", help="How far back to look: 30d, 12h, 90m..."
        ),
    ] = "30d",
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """plimsoll's own objectives (hooks, risk, rule composition, baselines) from its timings.

    Exit 1 when an objective with data is breached.
    """
    from plimsoll.core.rules import parse_duration

    try:
        seconds = parse_duration(window)
    except ValueError as exc:
        raise UsageError(f"--window: {exc}") from None
    if seconds <= 0:
        raise UsageError("--window: must be longer than 0")
    loaded = _loaded(ctx, path)
    from plimsoll.db.profiling.objectives import ObjectiveStatus, compliance

    store = _store(loaded)
    try:
        results = compliance(store, window_seconds=seconds)
    finally:
        store.close()
    breached = any(r.status is ObjectiveStatus.BREACHED for r in results)
    if fmt is Format.JSON:
        print_json(
            {
                "window": window,
                "window_seconds": seconds,
                "compliant": not breached,
                "objectives": [r.to_dict() for r in results],
            }
        )
    else:
        output.console().print(_slo_table(results, window))
    if breached:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _slo_table(results: list[ObjectiveResult], window: str) -> Table:
    table = Table(title=f"plimsoll's objectives over {window}", title_justify="left")
    for column in ("operation", "objective", "observed", "n", "within", "budget left", "status"):
        table.add_column(column, overflow="fold")
    for r in results:
        o = r.objective
        status = {"met": "[green]met[/]", "breached": "[red]BREACHED[/]"}.get(
            r.status.value, "[dim]no data[/]"
        )
        table.add_row(
            str(o.operation),
            f"p{o.percentile:g} <= {_ms(o.target_seconds * 1000)} ms",
            "-" if r.observed is None else f"{_ms(r.observed * 1000)} ms",
            str(r.count),
            "-" if r.within is None else f"{r.within:.2%}",
            "-" if r.budget_remaining is None else f"{r.budget_remaining:.0%}",
            status,
        )
    return table
