"""``plimsoll db risk``: how risky pending migrations are against a live database, and why.

For each migration: the locks each statement takes and what they block, whether it rewrites or
scans a table, the predicted time the application is blocked and the total duration with
bounds, a score from 0 to 1 made of five published factors, its level, the lint findings on it
and what to do instead, and whether it will fail against the live database. Exit 0, or 1 when a
migration is at or above the failing level (``--fail-level``, else ``db.risk.fail_level``,
default CRITICAL) or will fail; 2 for bad usage or a migration that does not parse; 3 when the
database cannot be reached. The method is documented in docs/db-risk.md.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plimsoll.cli import output
from plimsoll.cli.options import EnvOpt, FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode, UsageError
from plimsoll.core.paths import STATE_DIR

if TYPE_CHECKING:
    from plimsoll.core.store import Store
    from plimsoll.db.migrations import Migration
    from plimsoll.db.migrator import Migrator
    from plimsoll.db.risk.config import RiskConfig
    from plimsoll.db.risk.report import MigrationRisk, RiskReport, StatementRisk

CACHE_NAME = "risk-calibration.json"


def _risk_config(loaded: LoadedConfig) -> RiskConfig:
    from plimsoll.db.risk.config import RiskConfig

    # ``db.risk`` joins the configuration model later; until then the defaults apply.
    configured = getattr(loaded.config.db, "risk", None)
    return configured if isinstance(configured, RiskConfig) else RiskConfig()


def _chosen(loaded: LoadedConfig, given: list[str]) -> tuple[list[Migration], dict[Path, str]]:
    """The migrations asked for, each once, in the order given; labels of files outside the
    project's migrations folder (their file names)."""
    from plimsoll.db import migrations as files

    folder = loaded.root / loaded.config.db.migrations_dir
    known = files.discover(folder) if folder.is_dir() else []
    by_version = {m.version: m for m in known}
    by_label = {m.label: m for m in known}
    out: dict[Path, Migration] = {}
    labels: dict[Path, str] = {}
    for item in given:
        path = Path(item)
        if path.is_file():
            resolved = path.resolve()
            match = next((m for m in known if m.up.resolve() == resolved), None)
            if match is None:
                match = _loose(path)
                labels[match.up] = path.name
            out.setdefault(match.up.resolve(), match)
            continue
        found = by_label.get(item) or by_version.get(item)
        if found is None:
            raise UsageError(
                f"{item}: not a file, nor a migration version in {folder}"
                " (give a .sql or .py file, a version or a <version>_<name> label)"
            )
        out.setdefault(found.up.resolve(), found)
    return list(out.values()), labels


def _say_applied(chosen: list[Migration], migrator: Migrator) -> None:
    """Warn about named migrations this database has applied: they are assessed as if run
    again (where a CREATE will fail, for one), which is rarely what was meant."""
    applied = {row.version for row in migrator.status().applied}
    for migration in chosen:
        if migration.version in applied and migration.up.parent == migrator.folder:
            output.err_console().print(
                f"note: {migration.label} is already applied to this database: assessed as if"
                " it ran again",
                style="yellow",
                markup=False,
                soft_wrap=True,
            )


def _loose(path: Path) -> Migration:
    """A SQL or Python file outside the migrations folder, assessed as a migration of its own."""
    from plimsoll.db.migrations import Kind, Migration, checksum

    if path.suffix not in (".sql", ".py"):
        raise UsageError(f"{path}: expected a .sql file or a Python migration (.py)")
    name = path.name.removesuffix(path.suffix).removesuffix(".up")
    version, _, rest = name.partition("_")
    if not version.isdigit():
        version, rest = "0", name
    kind = Kind.PYTHON if path.suffix == ".py" else Kind.SQL
    return Migration(version, rest or name, kind, path, None, checksum(path.read_bytes()), False)


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
            metavar="MIGRATIONS",
            help="Migration files or versions (default: the environment's pending migrations).",
        ),
    ] = None,
    env: EnvOpt = None,
    fmt: FormatOpt = Format.TEXT,
    fail_level: Annotated[
        str | None,
        typer.Option(
            "--fail-level",
            metavar="LEVEL",
            help="Exit 1 from this level up: LOW, MEDIUM, HIGH or CRITICAL "
            "(default: db.risk.fail_level, CRITICAL).",
        ),
    ] = None,
    recalibrate: Annotated[
        bool,
        typer.Option("--recalibrate", help="Measure the server's speed again, ignoring the cache."),
    ] = False,
    path: PathOpt = None,
) -> None:
    """Score pending migrations for risk against a live database and predict their downtime.

    MIGRATIONS are migration files (.sql or .py), or versions (or <version>_<name> labels) of the project's migrations; by default, the migrations pending in the environment. For each statement: the lock it takes (from PostgreSQL's documentation, by server version) and on which tables, including those a CASCADE or a foreign key reaches; whether it blocks reads or writes, rewrites or scans a table; how long the application would be blocked; and whether it will fail against the live database (a missing table or column, a type change under a view). For each migration: locks held until its commit.

    The score (0 to 1) weighs data volume 25%, lock time 35%, dependencies 15%, anomalies (lint findings) 15% and concurrent load 10%, and is at least the lock time's own value (blocking reads and writes for 0.1 s is MEDIUM, 0.5 s HIGH, 10 s CRITICAL); levels: LOW < 0.25 <= MEDIUM < 0.5 <= HIGH < 0.75 <= CRITICAL. Weights and curves are set in the db.risk section of the configuration (\\[tool.plimsoll.db.risk] in pyproject.toml) and explained in docs/db-risk.md. Durations come from this server's speed, measured once on a scratch table (cached in .plimsoll/cache/risk-calibration.json), times the table sizes, and from recorded runs of similar migrations once there are enough.

    Exit codes: 0 below the failing level; 1 when a migration is at or above it (--fail-level, else db.risk.fail_level, default CRITICAL) or will fail; 2 bad usage or a migration that does not parse; 3 the database cannot be reached.
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
    if not migrations:
        from plimsoll.db import migrations as files

        # Read the folder before resolving the URL, which may start the embedded server: a
        # project without migrations is bad input, not a reason to start one.
        files.discover(loaded.root / db.migrations_dir)
    target = resolve_url(loaded, env)
    url = target.url.get_secret_value()
    labels: dict[Path, str] = {}
    if migrations:
        chosen, labels = _chosen(loaded, migrations)
        _say_applied(
            chosen,
            Migrator(
                url, loaded.root / db.migrations_dir, Settings(tracking_table=db.tracking_table)
            ),
        )
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
            # Recorded runs are read against the project's own migrations, whatever is assessed.
            history_folder=loaded.root / db.migrations_dir,
            labels=labels,
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
        return "reads and writes"
    if statement.blocks_writes:
        return "writes"
    if statement.row_locks:
        return f"updates and deletes of {statement.row_locks:,.0f} rows"
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
    broken = [m.label for m in report.migrations if m.failures]
    if broken:
        verdict += f"; {len(broken)} will fail: {', '.join(broken)}"
    out.print(f"overall {_level(report.level)}; {verdict}", soft_wrap=True)


def _render_migration(out: Any, migration: MigrationRisk, root: Path) -> None:
    from plimsoll.db.risk.operations import shown

    header = (
        f"[bold]{migration.label}[/bold] ({_show(migration.source, root)}) "
        f"{_level(migration.level, migration.score.value)}"
    )
    if migration.failures:
        header += " [bold red]WILL FAIL[/bold red]"
    out.print(header, soft_wrap=True)
    for failure in migration.failures:
        out.print(f"  will fail at {failure}", soft_wrap=True, markup=False)
    _render_holds(out, migration, shown)
    out.print(
        f"  runs {migration.duration.text()} [{migration.duration.method}]"
        + ("" if migration.transactional else "; outside a transaction"),
        soft_wrap=True,
        markup=False,
    )
    for s in migration.statements:
        _render_statement(out, s, shown)
    _render_factors(out, migration)
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
        if not note.startswith("will fail: "):  # said at the top
            out.print(f"  note: {note}", soft_wrap=True, markup=False)
    for advice in migration.recommendations:
        out.print(f"  [cyan]recommendation[/cyan]: {advice}", soft_wrap=True, highlight=False)
    out.print()


def _render_holds(out: Any, migration: MigrationRisk, shown: Any) -> None:
    until = "the commit" if migration.transactional else "the statement ends"
    for hold in migration.holds:
        level = "row locks" if hold.rows else hold.level.value
        what = f"{hold.blocks} of" if hold.rows else f"{hold.blocks} on"
        out.print(
            f"  blocks {what} {shown(hold.table)} ({level}, from line {hold.from_line} to "
            f"{until}) for {hold.seconds.text()}",
            soft_wrap=True,
            markup=False,
        )
    blind = [s for s in migration.statements if not s.known and s.blocks_reads and not s.tables]
    for s in blind:
        out.print(
            f"  may block reads and writes of any table it touches (line {s.line} cannot be "
            "read ahead: the worst case) for an unknown time",
            soft_wrap=True,
            markup=False,
        )
    if not migration.holds and not blind:
        out.print("  blocks no reads or writes of tables in use", markup=False)


def _render_statement(out: Any, s: StatementRisk, shown: Any) -> None:
    from plimsoll.db.risk.predict import seconds_text

    lock = s.lock_level.value if s.lock_level else "no lock on a table in use"
    if s.lock_seconds.mean:
        blocked = f"; blocks {_blocks(s)} for {seconds_text(s.lock_seconds.mean)}"
    elif s.blocks_reads or s.blocks_writes:
        blocked = f"; may block {_blocks(s)} for an unknown time"
    else:
        blocked = ""
    out.print(
        f"  line {s.line}: {_short(s.action, 72)}  {_level(s.level, s.score.value)}",
        soft_wrap=True,
        highlight=False,
    )
    out.print(f"    {lock}; {_does(s)}{blocked}", soft_wrap=True, markup=False)
    for table in s.tables:
        effects = [e for e, on in (("emptied", table.emptied), ("dropped", table.dropped)) if on]
        if table.reason is None and not (effects and table.exists):
            continue
        lock_on = f"{table.lock.value} on " if table.lock else ""
        why = f": {table.reason}" if table.reason else ""
        lost = (
            f" ({', '.join(effects)}: {table.rows:,.0f} rows)" if effects and table.exists else ""
        )
        out.print(f"    {lock_on}{shown(table.name)}{lost}{why}", soft_wrap=True, markup=False)


def _render_factors(out: Any, migration: MigrationRisk) -> None:
    from rich.table import Table

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
    score = migration.score
    if score.floored and score.weighted is not None:
        out.print(
            f"  score {score.value:.2f} = the lock time's value, above the weighted sum "
            f"{score.weighted:.2f}: the blocking time alone makes it {score.level.value}",
            soft_wrap=True,
            markup=False,
        )
