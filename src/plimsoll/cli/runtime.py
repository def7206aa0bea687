"""``plimsoll runtime``: the running service's health checks.

``plimsoll runtime health`` runs the checks of ``runtime.health`` once, concurrently, each
with its timeout, and prints a table or (``--format json``) the health+json document. With no
check configured it runs the system check and says so. Exit 0 for pass and warn, 1 for fail,
2 for a bad configuration, 3 when a configured check's plugin cannot be loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from plimsoll.cli import output
from plimsoll.cli.options import FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.runtime_common import config_where, database_url, load_config
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode

if TYPE_CHECKING:
    from plimsoll.runtime.config import RuntimeConfig
    from plimsoll.runtime.health import CheckResult, HealthReport

app = typer.Typer(
    help="The running service: health checks, monitor, alerts, SLOs and usage analytics.",
    no_args_is_help=True,
)


_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def _runtime_config(ctx: typer.Context, path: Path | None) -> tuple[RuntimeConfig, LoadedConfig]:
    loaded = load_config(ctx, path)
    return loaded.config.runtime, loaded


def _observed(result: CheckResult) -> str:
    if result.observed_value is None:
        return "-"
    value = result.observed_value
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{shown} {result.observed_unit}" if result.observed_unit else shown


def _table(report: HealthReport) -> Table:
    table = Table(title="health checks", title_justify="left")
    table.add_column("check", style="cyan", no_wrap=True)
    table.add_column("id", overflow="fold")
    table.add_column("status")
    table.add_column("observed", justify="right")
    table.add_column("output", overflow="fold")
    for result in report.results:
        status = result.status.value
        table.add_row(
            result.key,
            result.component_id or "",
            f"[{_STATUS_STYLE[status]}]{status}[/]",
            _observed(result),
            result.output or "",
        )
    return table


def _summary(report: HealthReport) -> str:
    counts = {s: sum(1 for r in report.results if r.status.value == s) for s in _STATUS_STYLE}
    detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    style = _STATUS_STYLE[report.status.value]
    return f"status: [{style}]{report.status.value}[/] ({detail or 'no checks'})"


def health(ctx: typer.Context, fmt: FormatOpt = Format.TEXT, path: PathOpt = None) -> None:
    """Run the configured health checks once; exit 1 when one fails (0 for pass and warn)."""
    from plimsoll.runtime.checks.loader import DEFAULT_NOTE, build_runner
    from plimsoll.runtime.health import CheckContext, Status

    runtime, loaded = _runtime_config(ctx, path)
    context = CheckContext(database_url=lambda env: database_url(loaded, env))
    runner = build_runner(
        runtime.health, where=config_where(loaded), context=context, default_system=True
    )
    if not runtime.health.checks and fmt is Format.TEXT:
        output.err_console().print(DEFAULT_NOTE, soft_wrap=True, markup=False)
    report = runner.run(force=True)
    if fmt is Format.JSON:
        print_json(report.document())
    else:
        out = output.console()
        out.print(_table(report))
        out.print(_summary(report), soft_wrap=True)
    if report.status is Status.FAIL:
        raise typer.Exit(int(ExitCode.FINDINGS))


app.command(name="health")(health)
