"""``plimsoll db``: set up a project's database files, and run the embedded PostgreSQL.

``plimsoll db init`` scaffolds ``db/`` and the configuration section. ``plimsoll db server
start|stop|status|url`` manage the local server used by every environment without a URL.
``status`` exits 0 when the server runs and 1 when it does not (like a failing check), so
scripts can test it; the other commands exit 0 on success and 3 when the server cannot run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from plimsoll.cli import output
from plimsoll.cli.options import FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode

if TYPE_CHECKING:
    from plimsoll.db.server import EmbeddedServer, ServerStatus

app = typer.Typer(
    help=(
        "PostgreSQL schema changes: build, migrate, diff, dry-run, lint, risk and profiling;"
        " the embedded server."
    ),
    no_args_is_help=True,
)
server_app = typer.Typer(
    help="The local PostgreSQL plimsoll runs for environments without a URL.",
    no_args_is_help=True,
)
app.add_typer(server_app, name="server")


def _server(loaded: LoadedConfig) -> EmbeddedServer:
    # Imported here: the db part (psycopg) is loaded only by the commands that use it.
    from plimsoll.db.connection import embedded_server

    return embedded_server(loaded)


def _loaded(ctx: typer.Context, path: Path | None) -> LoadedConfig:
    return state(ctx).config(start=(path or Path.cwd()).resolve())


def _show(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@app.command()
def init(ctx: typer.Context, fmt: FormatOpt = Format.TEXT, path: PathOpt = None) -> None:
    """Create db/schema, db/migrations, db/seeds and the db section of the configuration."""
    loaded = _loaded(ctx, path)
    from plimsoll.db.project import init_project

    result = init_project(loaded.root, loaded.config.db)
    if fmt is Format.JSON:
        print_json(result.to_dict())
        return
    out = output.console()
    if not result.changed:
        out.print(
            f"nothing to do: {result.root} already has its db folders and a db section in "
            f"{_show(result.config_file, result.root)}"
        )
        return
    for created in result.created:
        out.print(f"created  {_show(created, result.root)}")
    for updated in result.updated:
        out.print(f"updated  {_show(updated, result.root)} (db section appended)")
    out.print(
        "environments without a url (DATABASE_URL unset) use the embedded server: "
        "`plimsoll db server start`"
    )


def _status_table(status: ServerStatus, root: Path) -> Table:
    table = Table(title="embedded PostgreSQL", title_justify="left", show_header=False)
    table.add_column("key", style="cyan")
    table.add_column("value", overflow="fold")
    state_text = "[green]running[/green]" if status.running else "[yellow]stopped[/yellow]"
    if not status.initialized:
        state_text += " (not initialised yet)"
    table.add_row("state", state_text)
    table.add_row("pid", str(status.pid) if status.pid is not None else "-")
    table.add_row("version", status.version or "-")
    table.add_row("data dir", _show(status.data_dir, root))
    table.add_row("socket dir", _show(status.socket_dir, root))
    table.add_row("tcp", f"127.0.0.1:{status.port}" if status.tcp else "off")
    table.add_row("database", status.database)
    table.add_row("url", status.url)
    table.add_row("log", _show(status.log_file, root))
    return table


@server_app.command()
def start(ctx: typer.Context, fmt: FormatOpt = Format.TEXT, path: PathOpt = None) -> None:
    """Start the embedded server (initialising it on first use); a running one is left as is."""
    loaded = _loaded(ctx, path)
    server = _server(loaded)
    spinner = (
        output.err_console().status("starting PostgreSQL", spinner="dots")
        if fmt is Format.TEXT and output.interactive()
        else contextlib.nullcontext()
    )
    with spinner:
        info = server.start()
    if fmt is Format.JSON:
        print_json(info.to_dict())
        return
    out = output.console()
    status = info.status
    where = _show(status.data_dir, loaded.root)
    if info.initialized:
        out.print(f"initialised {where}")
    if info.started:
        out.print(f"started PostgreSQL {status.version or ''} (pid {status.pid}) in {where}")
    else:
        out.print(
            f"already running: PostgreSQL {status.version or ''} (pid {status.pid}) in {where}"
        )
    if info.database_created:
        out.print(f"created database {status.database}")
    out.print(status.url, soft_wrap=True)


@server_app.command()
def stop(ctx: typer.Context, fmt: FormatOpt = Format.TEXT, path: PathOpt = None) -> None:
    """Stop the embedded server (open sessions are ended); nothing happens when it is stopped."""
    loaded = _loaded(ctx, path)
    server = _server(loaded)
    was_running = server.stop()
    if fmt is Format.JSON:
        print_json({"stopped": was_running, "was_running": was_running})
        return
    where = _show(server.data_dir, loaded.root)
    output.console().print(f"stopped {where}" if was_running else f"not running: {where}")


@server_app.command()
def status(ctx: typer.Context, fmt: FormatOpt = Format.TEXT, path: PathOpt = None) -> None:
    """Show whether the embedded server runs, with its pid, version and URL (exit 1 if stopped)."""
    loaded = _loaded(ctx, path)
    current = _server(loaded).status()
    if fmt is Format.JSON:
        print_json(current.to_dict())
    else:
        output.console().print(_status_table(current, loaded.root))
    if not current.running:
        raise typer.Exit(int(ExitCode.FINDINGS))


@server_app.command()
def url(ctx: typer.Context, fmt: FormatOpt = Format.TEXT, path: PathOpt = None) -> None:
    """Print the embedded server's libpq URL (for psql and other clients; it has no password)."""
    loaded = _loaded(ctx, path)
    server = _server(loaded)
    if fmt is Format.JSON:
        current = server.status()
        print_json({"url": current.url, "running": current.running})
        return
    # Plain echo: the URL is meant for $(...) and must not be wrapped or coloured.
    typer.echo(server.url())
