"""``plimsoll db migrate``: status, up, down, generate and validate."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
from plimsoll.core.errors import ExitCode, PlimsollError, UsageError
from plimsoll.core.paths import STATE_DIR
from plimsoll.db import migrations as files

if TYPE_CHECKING:
    from plimsoll.db.migrator import AppliedRow, Migrator, RunReport

app = typer.Typer(
    help="Apply and revert migrations; one migrator at a time, each migration in a transaction.",
    no_args_is_help=True,
)

SHOWN_APPLIED = 20
# `up --out-of-order`, kept in the invocation's shared ``ctx.meta`` so that every path building
# the migrator for this command (the interactive one too) sees it.
_OUT_OF_ORDER = "plimsoll.migrate.out_of_order"


def _loaded(ctx: typer.Context, path: Path | None) -> LoadedConfig:
    return state(ctx).config(start=(path or Path.cwd()).resolve())


def _folder(loaded: LoadedConfig) -> Path:
    return loaded.root / loaded.config.db.migrations_dir


def _migrator(
    ctx: typer.Context, env: str | None, path: Path | None, *, engine: bool = True
) -> Migrator:
    """The migrator of the project (see :func:`_open`), its misnamed files warned about."""
    migrator, scanned = _open(ctx, env, path, engine=engine)
    migrator.warn_misnamed(scanned)
    return migrator


def _open(
    ctx: typer.Context, env: str | None, path: Path | None, *, engine: bool = True
) -> tuple[Migrator, files.Scan]:
    """The migrator of the project and its migrations folder, scanned before anything else.

    A broken folder (a bad name, a duplicate version) is a usage error (exit 2) before any
    server is started or connected to. Misnamed files are left to the caller to report.
    """
    # The db engine (psycopg, pglast, hooks) is imported by the commands that use it, so
    # every other plimsoll command starts without it.
    from plimsoll.core.store import open_configured
    from plimsoll.db.checksums import ChecksumCache
    from plimsoll.db.connection import resolve_url
    from plimsoll.db.hooks import build_registry, executor_for
    from plimsoll.db.migrator import Migrator, Settings

    loaded = _loaded(ctx, path)
    _check_hook_channels(loaded)
    cache = loaded.root / STATE_DIR / "cache" / "migration-checksums.json"
    scanned = files.scan(_folder(loaded), ChecksumCache(cache))
    target = resolve_url(loaded, env)
    db = loaded.config.db
    environment = db.environments.get(target.name)

    def key(name: str) -> str:
        """The config key a timeout came from: the environment's, else the db section's."""
        if environment is not None and getattr(environment, name):
            return f"db.environments.{target.name}.{name}"
        return f"db.{name}"

    settings = Settings(
        tracking_table=db.tracking_table,
        lock_timeout=target.lock_timeout,
        statement_timeout=target.statement_timeout,
        lock_wait_seconds=db.migrator_lock_timeout_seconds,
        out_of_order=db.out_of_order or bool(ctx.meta.get(_OUT_OF_ORDER)),
        lock_timeout_key=key("lock_timeout"),
        statement_timeout_key=key("statement_timeout"),
        source=str(loaded.source) if loaded.source else "",
    )
    # Reading status runs no hooks and records nothing: it skips loading them.
    store = open_configured(loaded.config.store, loaded.root) if engine else None
    hooks = None
    if engine:
        # The store keeps the hooks' circuit breakers from one command to the next, and the
        # outbox of the alerts alert_only hooks send through the notify channels.
        registry = build_registry(db, root=loaded.root)
        hooks = executor_for(db, registry, notify=loaded.config.notify, store=store)
    migrator = Migrator(
        target.url.get_secret_value(),
        _folder(loaded),
        settings,
        on_wait=lambda message: output.err_console().print(f"[yellow]{message}[/yellow]"),
        hooks=hooks,
        store=store,
        checksum_cache=cache,
        project_root=loaded.root,
    )
    return migrator, scanned


def _check_hook_channels(loaded: LoadedConfig) -> None:
    """A config hook naming a channel notify does not configure is a configuration error."""
    from plimsoll.db.hooks import check_channels

    check_channels(
        loaded.config.db, loaded.config.notify, str(loaded.source) if loaded.source else ""
    )


def _run(migrator: Migrator, direction: str, fmt: Format, **options: Any) -> None:
    """Run ``up`` or ``down`` and report it; after a failure, report what was done before it.

    SIGTERM (a cancelled CI job) is taken as Ctrl-C: the running statement is cancelled and
    its migration rolled back, instead of the process dying while the server goes on.
    """
    from plimsoll.cli.interrupt import sigterm_interrupts
    from plimsoll.db.migrator import RunReport

    report = RunReport(direction)
    run = migrator.up if direction == "up" else migrator.down
    try:
        with sigterm_interrupts():
            run(report=report, **options)
    except PlimsollError as exc:
        if report.steps or report.database is not None or fmt is Format.JSON:
            _report(report, fmt, error=str(exc))
        raise
    except KeyboardInterrupt:
        if report.steps:
            _report(report, fmt, error="interrupted")
        output.err_console().print(
            "plimsoll: interrupted: the running statement was cancelled; its migration was"
            " rolled back (unless it ran outside a transaction)",
            markup=False,
        )
        raise typer.Exit(130) from None
    _report(report, fmt)


def _report(report: RunReport, fmt: Format, error: str | None = None) -> None:
    """What a run did: the database first (which one it changed), then each step."""
    if fmt is Format.JSON:
        print_json(
            {
                "direction": report.direction,
                "database": report.database.to_dict() if report.database else None,
                "waited_seconds": round(report.waited_seconds, 3),
                "steps": [vars(step) for step in report.steps],
                "error": error,
                "hook_trace": json.loads(report.hook_trace) if report.hook_trace else None,
            }
        )
        return
    out = output.console()
    if report.database is not None:
        out.print(f"database {report.database.describe()}", markup=False, emoji=False)
    if not report.steps and error is None:
        out.print("nothing to do")
        return
    for step in report.steps:
        how = "" if step.transactional else " (outside a transaction)"
        if step.out_of_order:
            how += " (out of order)"
        out.print(
            f"{step.direction:>4} {step.version}_{step.name}  {step.duration_ms} ms{how}",
            markup=False,
            emoji=False,
        )


@app.command()
def status(
    ctx: typer.Context, env: EnvOpt = None, fmt: FormatOpt = Format.TEXT, path: PathOpt = None
) -> None:
    """Show applied, pending and out-of-order migrations, drift and invalid indexes.

    Exit 1 when an applied file changed, was renamed or is gone; when a pending migration is
    older than the newest applied one (out of order: `up` refuses it, unless
    db.out_of_order = true); or when a failed concurrent build left an INVALID index (a
    partitioned table's index waiting for its partitions' is shown, not failed).
    """
    migrator, scanned = _open(ctx, env, path, engine=False)
    migrator.warn_misnamed(scanned)
    result = migrator.status(scanned)
    allowed = migrator.settings.out_of_order
    late = {m.key for m in result.out_of_order}
    problems = (
        bool(result.drift)
        or bool(late and not allowed)
        or any(not i.waiting for i in result.invalid_indexes)
    )
    # What each applied row is now: its file's name (a renamed file's new one) and state.
    drifted = {files.version_key(d.version): d for d in result.drift}

    def applied_state(row: AppliedRow) -> tuple[str, str]:
        found = drifted.get(files.version_key(row.version))
        if found is None:
            return row.name, "applied"
        return found.name, found.kind.value

    def pending_state(migration: files.Migration) -> str:
        return "out of order" if migration.key in late else "pending"

    if fmt is Format.JSON:
        applied = []
        for r in result.applied:
            name, state = applied_state(r)
            applied.append(
                {**vars(r), "name": name, "applied_at": r.applied_at.isoformat(), "state": state}
            )
        print_json(
            {
                "database": result.database.to_dict() if result.database else None,
                "current": result.current,
                "server_version": result.server_version,
                "applied": applied,
                "pending": [
                    {"version": m.version, "name": m.name, "state": pending_state(m)}
                    for m in result.pending
                ],
                "out_of_order": [
                    {"version": m.version, "name": m.name, "newest_applied": result.newest_applied}
                    for m in result.out_of_order
                ],
                "out_of_order_allowed": allowed,
                "drift": [vars(d) for d in result.drift],
                "invalid_indexes": [vars(i) for i in result.invalid_indexes],
            }
        )
    else:
        table = Table(
            title=f"migrations (current: {escape(result.current or 'none')})", title_justify="left"
        )
        for column in ("version", "name", "state", "applied at", "ms"):
            table.add_column(column, overflow="fold")
        # A long history is summarised: the newest applied and every pending one are what matter.
        shown = result.applied[-SHOWN_APPLIED:]
        if len(result.applied) > len(shown):
            hidden = len(result.applied) - len(shown)
            table.add_row("…", f"{hidden} earlier migrations applied", "", "", "")
        for row in shown:
            name, state = applied_state(row)
            table.add_row(
                row.version,
                escape(name),
                state if state == "applied" else f"[red]{state}[/red]",
                f"{row.applied_at:%Y-%m-%d %H:%M:%S}",
                str(row.execution_ms),
            )
        for migration in result.pending:
            state = pending_state(migration)
            colour = "red" if state != "pending" and not allowed else "yellow"
            table.add_row(
                migration.version, escape(migration.name), f"[{colour}]{state}[/{colour}]", "", ""
            )
        out = output.console()
        if result.database is not None:
            # Which database: PG* variables or a service file may point elsewhere than meant.
            out.print(f"database {result.database.describe()}", markup=False, emoji=False)
        out.print(table)
        for d in result.drift:
            out.print(f"{d.label}: {d.problem}", style="red", markup=False)
        for m in result.out_of_order:
            then = (
                "`up` applies it out of order (db.out_of_order = true)"
                if allowed
                else "`up` refuses it unless --out-of-order (or db.out_of_order = true)"
            )
            out.print(
                f"{m.label}: older than the newest applied migration {result.newest_applied};"
                f" {then}",
                style="yellow" if allowed else "red",
                markup=False,
            )
        for i in result.invalid_indexes:
            colour = "yellow" if i.waiting else "red"
            out.print(f"[{colour}]{escape(i.describe())}[/{colour}]")
    if problems:
        raise typer.Exit(int(ExitCode.FINDINGS))


AllowChangedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-changed", help="Go on although applied files changed, were renamed or are gone."
    ),
]
"""``--allow-changed`` of ``up`` and ``down``: drift refuses neither then."""


@app.command()
def up(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Option("--target", metavar="VERSION", help="Stop after this version.")
    ] = None,
    allow_changed: AllowChangedOpt = False,
    out_of_order: Annotated[
        bool,
        typer.Option(
            "--out-of-order",
            help="Apply pending migrations older than the newest applied one too (for good: "
            "db.out_of_order = true).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Run them in one transaction and roll it back: timings, locks, rows; nothing kept. "
            "CREATE INDEX / DROP INDEX / REINDEX ... CONCURRENTLY run as their transactional form "
            "(the real statement's locks are reported); VACUUM and the like are skipped. Exit 1 if a "
            "migration fails, cannot be dry-run (ALTER SYSTEM, CREATE DATABASE, setval, ...) or "
            "moves a sequence backwards; the last line says why.",
        ),
    ] = False,
    interactive: Annotated[
        bool,
        typer.Option(
            "--interactive",
            "-i",
            help="Walk the pending migrations in a terminal: preview and risk of each, then "
            "apply, dry-run first, skip or abort.",
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Never ask; with --max-risk, the risk gate for scripts."),
    ] = False,
    max_risk: Annotated[
        str | None,
        typer.Option(
            "--max-risk",
            metavar="LEVEL",
            help="LOW, MEDIUM, HIGH or CRITICAL. With --yes: assess, and apply nothing (exit 1) "
            "if a pending migration is above LEVEL. With --interactive: such a migration can "
            "only be dry-run or skipped.",
        ),
    ] = None,
    env: EnvOpt = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Apply the pending migrations in version order, each in its own transaction.

    A pending migration older than the newest applied one (a branch merged after a newer
    migration was deployed) is out of order: it was written against a schema without the
    newer migrations, so `up` refuses it (exit 1, nothing applied) unless --out-of-order or
    db.out_of_order = true, and then says it applied it out of order. Applied files that
    changed, were renamed or are gone are refused unless --allow-changed.
    """
    if out_of_order:
        ctx.meta[_OUT_OF_ORDER] = True
    if interactive or yes or max_risk is not None:
        if dry_run:
            raise UsageError("--dry-run cannot be combined with --interactive, --yes or --max-risk")
        from plimsoll.cli.db_migrate_interactive import interactive_up

        interactive_up(
            ctx,
            env,
            yes,
            max_risk,
            fmt,
            interactive=interactive,
            target=target,
            allow_changed=allow_changed,
            path=path,
        )
        return
    migrator = _migrator(ctx, env, path)
    if dry_run:
        from plimsoll.cli.db_dry_run import render_dry_run
        from plimsoll.db.dry_run import dry_run as run_dry

        dry = run_dry(migrator, target)
        render_dry_run(dry, fmt)
        if dry.failed:
            raise typer.Exit(int(ExitCode.FINDINGS))
        return
    _run(migrator, "up", fmt, target=target, allow_changed=allow_changed)


@app.command()
def down(
    ctx: typer.Context,
    steps: Annotated[
        int | None,
        typer.Option("--steps", help="How many to revert, last applied first (default 1)."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            metavar="VERSION",
            help="Revert every migration applied after this one (0: all).",
        ),
    ] = None,
    allow_changed: AllowChangedOpt = False,
    env: EnvOpt = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Revert the last applied migrations with their down files, last applied first.

    The order is the one the migrations were applied in (the tracking table's
    applied_rank), not their versions: after an out-of-order migration the two differ, and
    the one applied last may depend on a newer version's tables. --steps N reverts the last N
    applied (default 1); --target V reverts every migration applied after V (0: all).
    Refused, as up is, when applied files changed, were renamed or are gone, unless
    --allow-changed.
    """
    _run(
        _migrator(ctx, env, path),
        "down",
        fmt,
        steps=steps,
        target=target,
        allow_changed=allow_changed,
    )


@app.command()
def baseline(
    ctx: typer.Context,
    version: Annotated[
        str,
        typer.Argument(
            metavar="VERSION",
            help="The last migration the database already has (the newest version: all of them).",
        ),
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List what would be marked; change nothing."),
    ] = False,
    env: EnvOpt = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Mark the pending migrations up to VERSION as applied without running them.

    For a database whose schema existed before plimsoll managed it (made by hand or by
    another tool): its tracking table then says which migrations it already has, and up
    applies only the later ones. Each marked migration gets a tracking row with its file's
    checksum, as up would write, and an execution time of 0, all in one transaction.
    Migrations already applied are left as they are; a pending migration older than the
    newest applied one (a branch merged late: it never ran) is refused (exit 2).
    """
    marked = _migrator(ctx, env, path, engine=False).baseline(version, dry_run=dry_run)
    if fmt is Format.JSON:
        print_json(
            {
                "version": version,
                "dry_run": dry_run,
                "baselined": [{"version": m.version, "name": m.name} for m in marked],
            }
        )
        return
    out = output.console()
    if not marked:
        out.print(f"nothing to mark: every migration up to {version} is applied", markup=False)
        return
    verb = "would mark" if dry_run else "marked"
    for migration in marked:
        out.print(f"{verb} {migration.label} as applied (not run)", markup=False, emoji=False)


@app.command()
def generate(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="What the migration does, e.g. add_users.")
    ],
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Write an empty up/down pair with the next version (both files, or neither).

    The migrations folder must exist (`plimsoll db init` makes it), as for every other
    migrate command.
    """
    folder = _folder(_loaded(ctx, path))
    existing = files.discover(folder)
    version = files.next_version(existing, datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    up_file, down_file = files.new_migration_files(folder, name, version)
    if fmt is Format.JSON:
        print_json({"version": version, "up": str(up_file), "down": str(down_file)})
    else:
        output.console().print(f"created {up_file}\ncreated {down_file}")


@app.command()
def validate(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            metavar="ENV",
            help="Also check this environment's database (without it: the files only).",
        ),
    ] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Check the migration files, and the database they would be applied to, as up would.

    The files: names and versions, SQL that parses with only the transaction control the
    migrator accepts, Python that compiles, imports and defines up(conn). Importing runs the
    module's top-level code (as alembic does), with the project's folder first on the import
    path, as up has it: an import that would fail at deploy fails here. With --env, the
    database too: applied files that changed, were renamed or are gone, and pending
    migrations older than the newest applied one (out of order, unless db.out_of_order =
    true); without it nothing is connected to, so a pull-request check needs no database.
    Exit 1 on any of these; a file that starts like a migration but is not one, a subfolder
    holding files named like migrations (migrations are the files directly in the
    migrations folder: those in subfolders are never applied), and a migration without a
    down, are warnings. A migration file that cannot be read is bad input (exit 2).
    """
    loaded = _loaded(ctx, path)
    if env is None:
        _check_hook_channels(loaded)
        folder = _folder(loaded)
        scanned = files.scan(folder)
        migrator = None
    else:
        migrator, scanned = _open(ctx, env, path, engine=False)
        folder = migrator.folder
    problems: list[dict[str, Any]] = [
        {"file": str(m.path), "error": m.reason, "severity": "warning"} for m in scanned.misnamed
    ]
    for migration in scanned.migrations:
        for file in (migration.up, migration.down):
            if file is None:
                continue
            error = _file_problem(file, loaded.root)
            if error is not None:
                problems.append({"file": str(file), "error": error})
        if not migration.has_down:
            problems.append(
                {"file": str(migration.up), "error": "no down migration", "severity": "warning"}
            )
    if migrator is not None:
        problems.extend(_database_problems(migrator, scanned))
    errors = [p for p in problems if p.get("severity") != "warning"]
    if fmt is Format.JSON:
        print_json(
            {
                "migrations": len(scanned.migrations),
                "database_checked": migrator is not None,
                "problems": problems,
            }
        )
    else:
        out = output.console()
        out.print(f"{len(scanned.migrations)} migrations in {folder}", markup=False)
        for p in problems:
            where = p.get("migration") or p["file"]
            text = p["error"] if p["error"].startswith(where) else f"{where}: {p['error']}"
            colour = "yellow" if p.get("severity") == "warning" else "red"
            out.print(text, style=colour, markup=False)
    if errors:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _database_problems(migrator: Migrator, scanned: files.Scan) -> list[dict[str, Any]]:
    """What the database says about the files: drift, and out-of-order pending migrations."""
    result = migrator.status(scanned)
    by_key = {m.key: m for m in scanned.migrations}
    problems: list[dict[str, Any]] = []
    for d in result.drift:
        found = by_key.get(files.version_key(d.version))
        problems.append(
            {"file": str(found.up) if found else None, "migration": d.label, "error": d.problem}
        )
    for m in result.out_of_order:
        problem: dict[str, Any] = {
            "file": str(m.up),
            "migration": m.label,
            "error": f"older than the newest applied migration {result.newest_applied}: out"
            " of order",
        }
        if migrator.settings.out_of_order:
            problem["severity"] = "warning"  # allowed: `up` applies it
        problems.append(problem)
    return problems


def _file_problem(file: Path, root: Path) -> str | None:
    """Why ``up`` would refuse ``file`` before sending anything (None: it would not).

    SQL: it parses, and its transaction control is what the migrator accepts. Python: it
    compiles, defines ``up(conn)``, and imports as ``up`` imports it (``root`` first on the
    import path, its prints on stderr): its top-level code runs.
    """
    from plimsoll.db.migration_plan import load_module, plan_text, user_code

    # A file that cannot be read is bad input (exit 2), as it is for every migrate command;
    # one that is not UTF-8 is a problem of the file, listed with the others. A byte-order
    # mark is dropped, as up drops it.
    data = files.read_bytes(file)
    try:
        text = files.decode_text(data, file)
    except PlimsollError as exc:
        return str(exc)
    if file.suffix == ".sql":
        try:
            # The server version only matters for ALTER TYPE ... ADD VALUE before 12.
            plan_text(text, str(file), 120000)
        except PlimsollError as exc:
            return str(exc)
        return None
    try:
        compile(text, str(file), "exec")
    except SyntaxError as exc:
        return f"{file}:{exc.lineno}: {exc.msg}"
    if not files.defines_function(text, "up"):
        return f"{file}: defines no up(conn)"
    try:
        with user_code(root):
            load_module(file)
    except PlimsollError as exc:
        return str(exc)
    return None


@app.command("hooks")
def hooks_(ctx: typer.Context, fmt: FormatOpt = Format.TEXT, path: PathOpt = None) -> None:
    """List the migration hooks: from the config, entry points and code, in the order they run.

    Exit 1 when a hook plugin was skipped (it failed to load, or declares a phase the
    migrator does not have): it is listed with its error.
    """
    from plimsoll.db.hooks import build_registry, describe_hooks

    loaded = _loaded(ctx, path)
    _check_hook_channels(loaded)
    db = loaded.config.db
    listing = describe_hooks(build_registry(db, root=loaded.root), db)
    if fmt is Format.JSON:
        print_json(listing)
    else:
        _print_hooks(listing)
    if listing["failed"]:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _print_hooks(listing: dict[str, Any]) -> None:
    """The hooks as a table, then the skipped plugins with their errors."""
    console = output.console()
    if not listing["hooks"]:
        console.print("No hooks registered.")
    else:
        table = Table(title=f"Hooks ({listing['execution']})")
        for column in ("Phase", "Name", "Source", "Priority", "Strategy", "Timeout"):
            table.add_column(column, justify="right" if column == "Priority" else "left")
        for hook in listing["hooks"]:
            source = hook["source"]
            if hook["entry_point"]:
                source = f"{source} {hook['entry_point']}"
            own, phase = hook["timeout_seconds"], hook["phase_timeout_seconds"]
            timeout = ", ".join(
                part
                for part in (
                    f"{own:g}s" if own is not None else "",
                    f"phase {phase:g}s" if phase is not None else "",
                )
                if part
            )
            table.add_row(
                hook["phase"],
                escape(hook["name"]),
                escape(source),
                str(hook["priority"]),
                hook["strategy"],
                timeout or "-",
            )
        console.print(table)
    if listing["failed"]:
        failed = Table(title="Skipped hook plugins")
        for column in ("Entry point", "Value", "Error"):
            failed.add_column(column)
        for item in listing["failed"]:
            failed.add_row(
                escape(item["entry_point"]), escape(item["value"]), escape(item["error"])
            )
        output.err_console().print(failed)
