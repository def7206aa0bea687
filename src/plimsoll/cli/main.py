"""The ``plimsoll`` command: global options, error handling and the command groups."""

from __future__ import annotations

import atexit
import errno
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
from plimsoll.cli import interrupt, output
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
    ragged in 80. Lines that start a list item or are indented keep their break. In a group's
    list of commands, each command's short help is one line, reflowed the same way.

    typer's help module (rich's Markdown among its imports) loads only when help is shown, so
    the change is made then, not at the start of every command.
    """
    import inspect
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

    def one_line(make_command_help: Any) -> Any:
        # A group lists each command with the first paragraph of its help; typer keeps that
        # paragraph's line breaks in rich mode, so a docstring wrapped in the source shows a
        # break in mid-sentence. The listing gets the paragraph as one line.
        def make_one_line(*, help_text: str, markup_mode: Any) -> Any:
            first = inspect.cleandoc(help_text).partition("\n\n")[0]
            if not first.startswith("\b"):  # click's mark for "keep these lines as they are"
                first = " ".join(line.strip() for line in first.splitlines())
            return make_command_help(help_text=first, markup_mode=markup_mode)

        make_one_line.plimsoll_one_line = True  # type: ignore[attr-defined]
        return make_one_line

    def reflowing(format_help: Any) -> Any:
        def format_reflowed(self: Any, ctx: Any, formatter: Any) -> Any:
            import typer.rich_utils

            if hasattr(typer.rich_utils, "_fix_linebreaks"):  # else another typer: leave it
                typer.rich_utils._fix_linebreaks = reflow
            make = getattr(typer.rich_utils, "_make_command_help", None)
            if make is not None and not hasattr(make, "plimsoll_one_line"):
                typer.rich_utils._make_command_help = one_line(make)
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
        str | None,
        typer.Option(
            "--log-format", help="Log format on stderr: text or json (default: log.format)."
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Keep a Python service and its PostgreSQL database within their safe limits."""
    if log_format is not None and log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    log.configure("debug" if debug else "warning", log_format or "text")
    ctx.obj = State(config_path=config, debug=debug, log_format=log_format)


def run() -> None:
    """Entry point: run the app, turning plimsoll errors into one line and an exit code.

    SIGTERM is taken as Ctrl-C (see :mod:`plimsoll.cli.interrupt`), and output that could
    not be written ends the command with an error of its own (see :func:`_output_status`).
    """
    interrupt.install()
    output.guard_streams()
    try:
        code = _run_app()
    except KeyboardInterrupt as exc:  # while reporting the command's end: still interrupted
        code = _interrupted(exc)
    # The command is over: from here on a signal just ends the process, never as a traceback.
    interrupt.restore_defaults()
    _exit(_output_status(code))


def _run_app() -> int:
    """Run the app; the exit code (errors reported as one line, tracebacks only with --debug)."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=True)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return _exit_status(done, done.code or 0)
        typer.echo(str(done.code), err=True)
        return 1
    except PlimsollError as exc:
        if debug:  # the traceback as well, and still the documented exit code
            _print_traceback()
        typer.echo(f"plimsoll: error: {exc}", err=True)
        output.print_error_json(exc.slug, str(exc), int(exc.exit_code))
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except Exception as exc:  # noqa: BLE001 - never a traceback without --debug
        if debug:
            _print_traceback()
        message = f"{type(exc).__name__}: {exc}"
        typer.echo(f"plimsoll: internal error: {message} (run with --debug for details)", err=True)
        output.print_error_json("internal", message, int(ExitCode.CANNOT_RUN))
        return int(ExitCode.CANNOT_RUN)
    return 0


def _exit_status(done: SystemExit, code: int) -> int:
    """The status of a command that ended with ``done``: an interrupt's, reported, if it was one.

    typer turns a KeyboardInterrupt it meets into a silent exit 130 (the interrupt is the
    cause of the ``Exit`` it raises): that is reported here like any other. A command that
    caught the interrupt itself, said so and exited 130 keeps its message; its status still
    tells SIGTERM (143) from SIGINT (130).
    """
    cause = done.__context__.__cause__ if done.__context__ is not None else None
    if isinstance(cause, KeyboardInterrupt):
        return _interrupted(cause)
    if code == 130 and interrupt.received() is not None:
        message = interrupt.describe(None)
        output.print_error_json("interrupted", message, interrupt.exit_status())
        return interrupt.exit_status()
    return code


def _interrupted(exc: BaseException) -> int:
    """Report an interrupt (one line, and the JSON error under ``--format json``); its status."""
    message = interrupt.describe(exc)
    status = interrupt.exit_status()
    typer.echo(f"plimsoll: {message}", err=True)
    output.print_error_json("interrupted", message, status)
    return status


def _output_status(code: int) -> int:
    """``code``, unless stdout could not be written: then one line on stderr, and exit 3.

    A closed pipe (``plimsoll ... | head -1``) is the reader's choice, not a failure: it stays
    quiet and keeps the command's own status, as other command-line tools do.
    """
    failure = output.stdout_failure()
    if failure is None or failure.errno == errno.EPIPE:
        return code
    reason = failure.strerror or type(failure).__name__
    typer.echo(f"plimsoll: error: cannot write the output: {reason}", err=True)
    return int(ExitCode.CANNOT_RUN)


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
