"""``plimsoll db risk``: how risky pending migrations are against a live database, and why.

For each migration: the locks each statement takes and what they block, whether it rewrites or
scans a table, the predicted time the application is blocked and the total duration with
bounds, a score from 0 to 1 made of five published factors, its level, the lint findings on it
and what to do instead. Exit 0, or 1 when a migration is at or above the failing level
(``--fail-level``, else ``db.risk.fail_level``, default CRITICAL); 2 for bad usage or a
migration that does not parse; 3 when the database cannot be reached.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plimsoll.cli import output
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode, UsageError
from plimsoll.core.paths import STATE_DIR

if TYPE_CHECKING:
    from plimsoll.core.store import Store
    from plimsoll.db.migrations import Migration
    from plimsoll.db.risk.config import RiskConfig
    from plimsoll.db.risk.report import MigrationRisk, RiskReport, StatementRisk

CACHE_NAME = "risk-calibration.json"


def _risk_config(loaded: LoadedConfig) -> RiskConfig:
    from plimsoll.db.risk.config import RiskConfig

    # ``db.risk`` joins the configuration model later; until then the defaults apply.
    configured = getattr(loaded.config.db, "risk", None)
    return configured if isinstance(configured, RiskConfig) else RiskConfig()


def _chosen(loaded: LoadedConfig, given: list[str]) -> list[Migration]:
    from plimsoll.db import migrations as files

    folder = loaded.root / loaded.config.db.migrations_dir
    known = files.discover(folder) if folder.is_dir() else []
    by_version = {m.version: m for m in known}
    by_label = {m.label: m for m in known}
    out: list[Migration] = []
    for item in given:
        path = Path(item)
        if path.is_file():
            resolved = path.resolve()
            match = next((m for m in known if m.up.resolve() == resolved), None)
            out.append(match or _loose(path))
            continue
        found = by_label.get(item) or by_version.get(item)
        if found is None:
            raise UsageError(
                f"{item}: not a file, nor a migration version in {folder}"
                " (give a .sql file, a version or a <version>_<name> label)"
            )
        out.append(found)
    return out


def _loose(path: Path) -> Migration:
    """A SQL file outside the migrations folder, assessed as a migration of its own."""
    from plimsoll.db.migrations import Kind, Migration, checksum

    if path.suffix != ".sql":
        raise UsageError(f"{path}: expected a .sql file")
    name = path.name.removesuffix(".sql").removesuffix(".up")
    version, _, rest = name.partition("_")
    if not version.isdigit():
        version, rest = "0", name
    return Migration(
        version, rest or name, Kind.SQL, path, None, checksum(path.read_bytes()), False
    )


def _open_store(loaded: LoadedConfig) -> Store | None:
    from plimsoll.core.errors import PlimsollError
    from plimsoll.core.store import open_configured

    try:
        return open_configured(loaded.config.store, loaded.root)
    except PlimsollError as exc:
        output.err_console().print(
            f"[yellow]no run history (the store cannot be opened: {exc}); heuristic only[/yellow]",
            soft_wrap=True,
        )
        return None


def risk(
    ctx: typer.Context,
    migrations: Annotated[
        list[str] | None,
        typer.Argument(
            help="Migration files or versions (default: the environment's pending migrations)."
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", "-e", help="Environment (default: db.default_environment)."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.TEXT,
    fail_level: Annotated[
        str | None,
        typer.Option(
            "--fail-level",
            help="Exit 1 from this level up: LOW, MEDIUM, HIGH or CRITICAL "
            "(default: db.risk.fail_level, CRITICAL).",
        ),
    ] = None,
    recalibrate: Annotated[
        bool,
        typer.Option("--recalibrate", help="Measure the server's speed again, ignoring the cache."),
    ] = False,
    path: Annotated[
        Path | None,
        typer.Option("--path", "-C", help="Run in this folder instead of the current one."),
    ] = None,
) -> None:
    """Score pending migrations for risk against a live database and predict their downtime.

    MIGRATIONS are migration files, or versions (or <version>_<name> labels) of the project's
    migrations; by default, the migrations pending in the environment. For each statement: the
    lock it takes (from PostgreSQL's documentation, by server version), whether it blocks reads
    or writes, rewrites or scans the table, and how long the application would be blocked; for
    each migration, locks held until its commit.

    The score (0 to 1) weighs data volume 25%, lock time 35%, dependencies 15%, anomalies (lint
    findings) 15% and concurrent load 10%; levels: LOW < 0.25 <= MEDIUM < 0.5 <= HIGH < 0.75 <=
    CRITICAL. Weights and curves: [tool.plimsoll.db.risk]. Durations come from this server's speed,
    measured once on a scratch table (cached in .plimsoll/cache/risk-calibration.json), times the
    table sizes, and from recorded runs of similar migrations once there are enough.

    Exit codes: 0 below the failing level; 1 when a migration is at or above it (--fail-level,
    else db.risk.fail_level, default CRITICAL); 2 bad usage or a migration that does not parse;
    3 the database cannot be reached.
    """
    from plimsoll.db.connection import resolve_url
    from plimsoll.db.migrator import Migrator, Settings
    from plimsoll.db.risk.assessment import assess
    from plimsoll.db.risk.levels import Level

    loaded = state(ctx).config(start=(path or Path.cwd()).resolve())
    config = _risk_config(loaded)
    try:
        threshold = Level.parse(fail_level) if fail_level else config.fail_level
    except ValueError as exc:
        raise UsageError(f"--fail-level: {exc}") from None
    db = loaded.config.db
    target = resolve_url(loaded, env)
    url = target.url.get_secret_value()
    if migrations:
        chosen = _chosen(loaded, migrations)
    else:
        settings = Settings(tracking_table=db.tracking_table)
        folder = loaded.root / db.migrations_dir
        chosen = list(Migrator(url, folder, settings).status().pending)
    if not chosen:
        _nothing(fmt, threshold)
        return
    store = _open_store(loaded)
    announce = fmt is Format.TEXT and output.interactive()
    started = time.perf_counter()
    try:
        report = assess(
            chosen,
            url,
            config=config,
            store=store,
            lint_config=db.lint,
            migrator_settings={
                "lock_timeout": target.lock_timeout,
                "statement_timeout": target.statement_timeout,
            },
            calibration_cache=loaded.root / STATE_DIR / "cache" / CACHE_NAME,
            recalibrate=recalibrate,
            on_calibrate=(lambda: _calibrating(config.calibration_rows)) if announce else None,
        )
    finally:
        if store is not None:
            # Timed for plimsoll's own objective (risk assessment p99 5 s, `plimsoll db slo`).
            from plimsoll.db.profiling.objectives import Operation, record_timing

            record_timing(store, Operation.RISK_ASSESSMENT, time.perf_counter() - started)
            store.close()
    failed = report.failed(threshold)
    if fmt is Format.JSON:
        print_json({**report.as_dict(), "fail_level": threshold.value, "failed": failed})
    else:
        _render(report, loaded.root, threshold)
    if failed:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _calibrating(rows: int) -> None:
    output.err_console().print(
        f"calibrating this server once: timing a scratch table of {rows:,} rows (cached)"
    )


def _nothing(fmt: Format, threshold: Any) -> None:
    if fmt is Format.JSON:
        print_json(
            {"level": "LOW", "migrations": [], "fail_level": threshold.value, "failed": False}
        )
    else:
        output.console().print("nothing to assess: no pending migrations")


# --- text rendering ------------------------------------------------------------------------

_COLOURS = {"LOW": "green", "MEDIUM": "yellow", "HIGH": "red", "CRITICAL": "bold red"}


def _level(level: Any, value: float | None = None) -> str:
    colour = _COLOURS.get(str(level), "white")
    shown = f"{level}" if value is None else f"{level} {value:.2f}"
    return f"[{colour}]{shown}[/{colour}]"


def _show(source: str, root: Path) -> str:
    try:
        return str(Path(source).resolve().relative_to(root.resolve()))
    except (ValueError, OSError):
        return source


def _blocks(statement: StatementRisk) -> str:
    if statement.blocks_reads:
        return "reads+writes"
    if statement.blocks_writes:
        return "writes"
    return "-"


def _does(statement: StatementRisk) -> str:
    what = "; ".join(dict.fromkeys(statement.work)) or "nothing"
    return what if statement.known else f"{what} (unknown statement: worst case)"


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _render(report: RiskReport, root: Path, threshold: Any) -> None:
    out = output.console()
    for migration in report.migrations:
        _render_migration(out, migration, root)
    server = report.server
    load = report.load
    calibration = report.calibration
    out.print(
        f"[bold]server[/bold] PostgreSQL {server.version}, database {server.database}: "
        f"{load.active} of {load.max_connections} connections active, "
        f"{len(load.long_transactions)} long transactions",
        soft_wrap=True,
    )
    if calibration.calibrated:
        out.print(
            f"[bold]calibration[/bold] ({calibration.source}, {calibration.measured_at}, "
            f"{calibration.rows:,} rows): rewrite {calibration.rewrite_bytes_per_second / 1e6:.1f}"
            f" MB/s, scan {calibration.scan_bytes_per_second / 1e6:.0f} MB/s, index build "
            f"{calibration.index_rows_per_second_narrow:,.0f} rows/s (narrow keys), "
            f"{calibration.index_rows_per_second_wide:,.0f} rows/s (wide keys)",
            soft_wrap=True,
            markup=True,
        )
    else:
        out.print(f"[bold]calibration[/bold] defaults: {calibration.reason}", soft_wrap=True)
    out.print("[bold]method[/bold]")
    for line in report.method:
        out.print(f"  {line}", soft_wrap=True, markup=False)
    out.print("[bold]caveats[/bold]")
    for line in (*report.caveats, *report.notes):
        out.print(f"  {line}", soft_wrap=True, markup=False)
    failing = [m.label for m in report.migrations if m.level.at_least(threshold)]
    verdict = (
        f"{len(failing)} migration(s) at {threshold.value} or above: {', '.join(failing)}"
        if failing
        else f"no migration at {threshold.value} or above"
    )
    out.print(f"overall {_level(report.level)}; {verdict}", soft_wrap=True)


def _render_migration(out: Any, migration: MigrationRisk, root: Path) -> None:
    from rich.table import Table

    from plimsoll.db.risk.predict import seconds_text

    out.print(
        f"[bold]{migration.label}[/bold] ({_show(migration.source, root)}) "
        f"{_level(migration.level, migration.score.value)}",
        soft_wrap=True,
    )
    if migration.holds:
        for hold in migration.holds:
            what = "reads and writes" if hold.level.blocks_reads else "writes"
            until = "the commit" if migration.transactional else "the statement ends"
            out.print(
                f"  blocks {what} on {hold.table} ({hold.level.value}, from line "
                f"{hold.from_line} to {until}) for {hold.seconds.text()}",
                soft_wrap=True,
                markup=False,
            )
    else:
        out.print("  blocks no reads or writes of tables in use", markup=False)
    out.print(
        f"  runs {migration.duration.text()} [{migration.duration.method}]"
        + ("" if migration.transactional else "; outside a transaction"),
        soft_wrap=True,
        markup=False,
    )
    for s in migration.statements:
        lock = s.lock_level.value if s.lock_level else "no lock on a table in use"
        blocked = (
            f"; blocks {_blocks(s)} for {seconds_text(s.lock_seconds.mean)}"
            if s.lock_seconds.mean
            else ""
        )
        out.print(
            f"  line {s.line}: {_short(s.action, 60)}  {_level(s.level, s.score.value)}",
            soft_wrap=True,
        )
        out.print(f"    {lock}; {_does(s)}{blocked}", soft_wrap=True, markup=False)
    factors = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("factor", "value", "weight", "contribution", "because"):
        factors.add_column(column, overflow="fold")
    for factor in migration.score.factors:
        factors.add_row(
            factor.name.replace("_", " "),
            f"{factor.value:.2f}",
            f"{factor.weight:.0%}",
            f"{factor.contribution:.3f}",
            factor.detail,
        )
    out.print(factors)
    for s in migration.statements:
        if s.duration.basis:
            out.print(
                f"  line {s.line}: {s.duration.method}: {s.duration.basis}",
                soft_wrap=True,
                markup=False,
            )
        for note in s.notes:
            out.print(f"  line {s.line}: {note}", soft_wrap=True, markup=False)
    for finding in migration.findings:
        where = f"{_show(finding.file, root)}:{finding.line}" if finding.file else finding.where
        out.print(
            f"  lint {where}: {finding.severity.value} {finding.rule}: {finding.message}",
            soft_wrap=True,
            markup=False,
        )
    for note in migration.notes:
        out.print(f"  note: {note}", soft_wrap=True, markup=False)
    for advice in migration.recommendations:
        out.print(f"  [cyan]recommendation[/cyan]: {advice}", soft_wrap=True)
    out.print()
