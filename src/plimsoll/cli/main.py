"""The ``plimsoll`` command: global options, error handling and the command groups."""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from plimsoll import __version__
from plimsoll.cli import check as check_cli
from plimsoll.cli import code as code_cli
from plimsoll.cli import db as db_cli
from plimsoll.cli import db_migrate as db_migrate_cli
from plimsoll.cli import db_profile as db_profile_cli
from plimsoll.cli import output
from plimsoll.cli import runtime as runtime_cli
from plimsoll.cli import runtime_alerts as runtime_alerts_cli
from plimsoll.cli import runtime_slo as runtime_slo_cli
from plimsoll.cli import runtime_usage as runtime_usage_cli
from plimsoll.cli.db_build import build as db_build
from plimsoll.cli.db_diff import diff as db_diff
from plimsoll.cli.db_lint import lint as db_lint
from plimsoll.cli.db_risk import risk as db_risk
from plimsoll.cli.state import State
from plimsoll.core import log
from plimsoll.core.errors import ExitCode, PlimsollError


def _no_type_on_flags() -> None:
    """Show no type in ``--help`` where it says nothing: typer 0.29 prints ``<bool>`` after
    every plain flag (``--all``, ``--help`` itself), as if it took a value, a Python type
    (``<list[Path]>``) next to an argument whose name already says what it takes, and
    ``<str>`` where the option's own name (``ENV``, as click writes it) says more."""
    import typer.core

    option_type = getattr(typer.core.TyperOption, "display_type_rich", None)
    argument_type = getattr(typer.core.TyperArgument, "display_type_rich", None)
    if option_type is None or argument_type is None:  # another typer: leave its help be
        return

    def option(self: typer.core.TyperOption, ctx: Any) -> str | None:
        if self.is_flag:
            return None
        shown = option_type(self, ctx)
        if shown == "<str>" and self.name:  # "--env <str>" says less than "--env ENV"
            return self.name.upper()
        return shown

    def argument(self: typer.core.TyperArgument, ctx: Any) -> str | None:
        return None if self.metavar else argument_type(self, ctx)

    typer.core.TyperOption.display_type_rich = option  # type: ignore[method-assign]
    typer.core.TyperArgument.display_type_rich = argument  # type: ignore[method-assign,assignment]


_no_type_on_flags()


def _reflow_paragraphs() -> None:
    """Reflow each help paragraph to the terminal: typer 0.29's rich help keeps every line
    break of a docstring's paragraph, so text wrapped at 100 columns in the source comes out
    ragged in 80. Lines that start a list item or are indented keep their break.

    typer's help module (rich's Markdown among its imports) loads only when help is shown, so
    the change is made then, not at the start of every command.
    """
    import re

    import typer.core

    keeps_break = re.compile(r"\n(?=\s|[-*•]\s|\d+[.)]\s)")

    def reflow(paragraphs: list[str], markup_mode: Any) -> str:
        joined = []
        for paragraph in paragraphs:
            if paragraph.startswith("\b"):
                joined.append(paragraph)
                continue
            kept = keeps_break.sub("\0", paragraph)
            joined.append(kept.replace("\n", " ").replace("\0", "\n"))
        return "\n\n".join(joined)

    def reflowing(format_help: Any) -> Any:
        def format_reflowed(self: Any, ctx: Any, formatter: Any) -> Any:
            import typer.rich_utils

            if hasattr(typer.rich_utils, "_fix_linebreaks"):  # else another typer: leave it
                typer.rich_utils._fix_linebreaks = reflow
            return format_help(self, ctx, formatter)

        return format_reflowed

    for command in (typer.core.TyperCommand, typer.core.TyperGroup):
        command.format_help = reflowing(command.format_help)  # type: ignore[method-assign]


_reflow_paragraphs()

app = typer.Typer(
    name="plimsoll",
    help="Keep a Python service and its PostgreSQL database within their safe limits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(code_cli.app, name="code")
db_cli.app.add_typer(db_migrate_cli.app, name="migrate")
db_cli.app.command(name="build")(db_build)
db_cli.app.command(name="diff")(db_diff)
db_cli.app.command(name="lint")(db_lint)
db_cli.app.command(name="risk")(db_risk)
db_cli.app.command(name="profile")(db_profile_cli.profile)
db_cli.app.add_typer(db_profile_cli.baseline_app, name="baseline")
db_cli.app.command(name="slo")(db_profile_cli.slo)
app.add_typer(db_cli.app, name="db")
runtime_cli.app.command(name="usage")(runtime_usage_cli.usage)
runtime_cli.app.command(name="monitor")(runtime_usage_cli.monitor)
runtime_cli.app.add_typer(runtime_alerts_cli.alerts_app, name="alerts")
runtime_cli.app.add_typer(runtime_alerts_cli.rules_app, name="rules")
runtime_cli.app.command(name="watch")(runtime_alerts_cli.watch)
runtime_cli.app.add_typer(runtime_slo_cli.slo_app, name="slo")
app.add_typer(runtime_cli.app, name="runtime")
app.command(name="check")(check_cli.check)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"plimsoll {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Configuration file (default: found from the current folder)."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="Log format on stderr: text or json.")
    ] = "text",
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Keep a Python service and its PostgreSQL database within their safe limits."""
    if log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    log.configure("debug" if debug else "warning", log_format)
    ctx.obj = State(config_path=config, debug=debug)


def run() -> None:
    """Entry point: run the app, turning plimsoll errors into one line and an exit code."""
    _exit(_run_app())


def _run_app() -> int:
    """Run the app; the exit code (errors reported as one line, tracebacks only with --debug)."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=True)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        typer.echo(str(done.code), err=True)
        return 1
    except PlimsollError as exc:
        if debug:  # the traceback as well, and still the documented exit code
            _print_traceback()
        typer.echo(f"plimsoll: error: {exc}", err=True)
        output.print_error_json(exc.slug, str(exc), int(exc.exit_code))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("plimsoll: interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback without --debug
        if debug:
            _print_traceback()
        message = f"{type(exc).__name__}: {exc}"
        typer.echo(f"plimsoll: internal error: {message} (run with --debug for details)", err=True)
        output.print_error_json("internal", message, int(ExitCode.CANNOT_RUN))
        return int(ExitCode.CANNOT_RUN)
    return 0


def _print_traceback() -> None:
    """The current exception's traceback on stderr (``--debug``)."""
    import traceback

    traceback.print_exc()


def _exit(code: int) -> NoReturn:
    """Leave with ``code`` without tearing the interpreter down object by object.

    Shutdown frees every object one at a time and runs a last full collection: after a large
    lint that is a sizeable part of the whole run, for nothing a finished command needs. What
    must happen at exit still does: the exit handlers run (logging, the usage queue's flush),
    and the output is flushed.
    """
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed pipe (`plimsoll ... | head`): nothing more can be said
        os._exit(code)
