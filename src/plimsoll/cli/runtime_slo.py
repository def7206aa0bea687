"""``plimsoll runtime slo``: the status of each objective, and its export as Prometheus rules.

- ``slo`` shows, per objective: target, compliance over its period, the error budget (allowed,
  consumed, remaining), the burn rate over each alert window, the burn alerts whose condition
  holds now, and the burn alerts ``runtime watch`` raised that are not resolved (their state in
  the store: pending, firing, acknowledged); exit 1 when a budget is exhausted or a page-level
  alert fires. ``--periods N`` adds the compliance of the last N whole periods.
- ``slo export --prometheus [-o FILE]`` prints recording and multi-burn-rate alerting rules.

Objectives come from ``runtime.slo`` (with its OpenSLO files) or a file given with ``--file``
(an OpenSLO v1 file, or the keys of ``runtime.slo`` in YAML or TOML).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from plimsoll.cli import output
from plimsoll.cli.options import FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.runtime_common import OutputOpt, fits, load_config
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from plimsoll.runtime.alerts.state import Alert
    from plimsoll.runtime.slo.model import SloConfig
    from plimsoll.runtime.slo.report import SloStatus

slo_app = typer.Typer(
    help="Service level objectives: error budgets, burn rates, Prometheus rules.",
    invoke_without_command=True,
)

# --at may be a moment ahead of this process's clock (another machine's), not more.
AT_SLACK_SECONDS = 60.0

FileOpt = Annotated[
    Path | None,
    typer.Option("--file", help="An OpenSLO v1 file, or runtime.slo keys in YAML/TOML."),
]


def _config(loaded: LoadedConfig, file: Path | None) -> SloConfig:
    from plimsoll.runtime.slo.loader import slo_config

    return slo_config(loaded, file)


def _percent(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _alert_text(alerts: list[Alert]) -> str:
    style = {"pending": "yellow", "firing": "bold red", "acknowledged": "magenta"}
    # One a line: the states stay readable however narrow the terminal.
    return "\n".join(f"{a.rule} [{style.get(a.state.value, '')}]{a.state.value}[/]" for a in alerts)


def _alert_dict(alert: Alert) -> dict[str, object]:
    return {
        "alertname": alert.rule,
        "fingerprint": alert.fingerprint,
        "state": alert.state.value,
        "severity": alert.severity,
        "window": alert.labels.get("window"),
        "since": alert.fired_at or alert.active_since,
        "summary": alert.summary,
    }


def _cells(item: SloStatus, raised: dict[str, list[Alert]] | None) -> dict[str, str]:
    """The text of each column for one objective (rich markup)."""
    from plimsoll.core.rules import parse_duration

    budget = item.budget
    left = budget.remaining_fraction
    style = "bold red" if budget.exhausted else ("yellow" if left < 0.25 else "green")
    burns = "\n".join(
        f"{window} {_rate(item.burn_rates.get(window))}x"
        for window in sorted(item.burn_rates, key=parse_duration)
    )
    firing = "\n".join(
        f"[{'bold red' if a.alert.pages else 'yellow'}]{a.alert.name}[/]" for a in item.firing
    )
    compliance = _percent(budget.compliance)
    if item.warnings:
        compliance += " [yellow](?)[/]"  # the warnings under the table say why
    return {
        "slo": item.objective.name,
        "target": f"{_percent(item.objective.target)} / {item.objective.period}",
        "compliance": compliance,
        "budget left": f"[{style}]{_percent(left, 1)}[/]",
        "bad / allowed": f"{budget.consumed:g} / {budget.allowed:g}",
        "burn rate": burns or "-",
        "burning": firing or "-",
        "raised": "-"
        if raised is None
        else _alert_text(raised.get(item.objective.name, [])) or "-",
    }


def _table(statuses: list[SloStatus], raised: dict[str, list[Alert]] | None) -> Table:
    """One row an objective, seven columns: the burn rates and alerts one a line in their cell.

    A column per burn window made the table too wide for a terminal to show the names.
    """
    table = Table(title="service level objectives", title_justify="left")
    table.add_column("slo", overflow="fold")
    for column in ("target", "compliance", "budget left", "bad / allowed"):
        table.add_column(column, justify="right", overflow="fold")
    table.add_column("burn rate", justify="right", no_wrap=True)
    burning = "burning" + (" / raised by watch" if raised is not None else "")
    table.add_column(burning, overflow="fold")
    for item in statuses:
        cells = _cells(item, raised)
        alerts = cells.pop("burning"), cells.pop("raised")
        table.add_row(*cells.values(), "\n".join(alerts if raised is not None else alerts[:1]))
    return table


def _blocks(statuses: list[SloStatus], raised: dict[str, list[Alert]] | None) -> list[str]:
    """The table's content as lines, one block per objective, for a console too narrow for it
    (off a terminal rich assumes 80 columns: a table would cut or fold every value)."""
    lines = ["service level objectives"]
    for item in statuses:
        cells = _cells(item, raised)
        lines.append(
            f"{cells['slo']}: target {cells['target']}, compliance {cells['compliance']},"
            f" budget left {cells['budget left']}, bad / allowed {cells['bad / allowed']}"
        )
        lines.append("  burn rate: " + cells["burn rate"].replace("\n", ", "))
        lines.append("  burning: " + cells["burning"].replace("\n", ", "))
        if raised is not None:
            lines.append("  raised by watch: " + cells["raised"].replace("\n", ", "))
    return lines


@slo_app.callback()
def slo(
    ctx: typer.Context,
    file: FileOpt = None,
    periods: Annotated[
        int,
        typer.Option("--periods", min=0, metavar="N", help="Also report the last N whole periods."),
    ] = 0,
    at: Annotated[
        float | None,
        typer.Option(
            "--at",
            help="Evaluate at this Unix time, now or past (default: now); the alerts raised"
            " then as the store remembers them.",
        ),
    ] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Status of each SLO; exit 1 when a budget is exhausted or a page-level burn alert fires."""
    if ctx.invoked_subcommand is not None:
        return
    from plimsoll.core.store import open_configured
    from plimsoll.runtime.slo.alerting import active_alerts
    from plimsoll.runtime.slo.report import compliance, status

    clock = time.time()
    if at is not None and not (math.isfinite(at) and 0 < at <= clock + AT_SLACK_SECONDS):
        raise UsageError(f"--at: {at:g} is not a Unix time in seconds, now or past")
    loaded = load_config(ctx, path)
    config = _config(loaded, file)
    now = clock if at is None else at
    store = open_configured(loaded.config.store, loaded.root)
    try:
        statuses = [status(store, o, now, config.alerts_for(o)) for o in config.objectives]
        history = {o.name: compliance(store, o, now, periods) for o in config.objectives if periods}
        # At a past time, the alerts raised then (from their recorded changes), not today's.
        raised = active_alerts(store, at) if config.objectives else {}
    finally:
        store.close()
    failing = any(s.failing for s in statuses)
    if fmt is Format.JSON:
        documents = []
        for item in statuses:
            document = item.to_dict()
            document["raised"] = [_alert_dict(a) for a in raised.get(item.objective.name, [])]
            if periods:
                document["periods"] = [p.to_dict() for p in history[item.objective.name]]
            documents.append(document)
        print_json({"at": now, "slos": documents, "failing": failing})
    else:
        out = output.console()
        if not statuses:
            out.print("no SLO configured (runtime.slo.objectives, runtime.slo.openslo or --file)")
        else:
            shown = raised if raised else None
            table = _table(statuses, shown)
            if fits(out, table):
                out.print(table)
            else:
                for line in _blocks(statuses, shown):
                    out.print(line, soft_wrap=True)
            for item in statuses:
                for warning in item.warnings:
                    output.err_console().print(
                        f"warning: slo {item.objective.name}: {warning}",
                        markup=False,
                        soft_wrap=True,
                    )
            for name, past in history.items():
                table = Table(title=f"{name}: compliance per period", title_justify="left")
                for column in ("from", "to", "compliance", "budget left", "met"):
                    table.add_column(column, overflow="fold")
                for p in past:
                    met = p.budget.met
                    table.add_row(
                        time.strftime("%Y-%m-%d %H:%M", time.gmtime(p.start)),
                        time.strftime("%Y-%m-%d %H:%M", time.gmtime(p.end)),
                        _percent(p.budget.compliance),
                        _percent(p.budget.remaining_fraction, 1),
                        "-" if met is None else ("yes" if met else "[bold red]no[/]"),
                    )
                out.print(table)
    if failing:
        raise typer.Exit(int(ExitCode.FINDINGS))


@slo_app.command(name="export")
def export(
    ctx: typer.Context,
    prometheus: Annotated[
        bool,
        typer.Option("--prometheus", help="Prometheus recording and alerting rules (the default)."),
    ] = True,
    file: FileOpt = None,
    out_file: OutputOpt = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Print the SLOs as a Prometheus rule file (YAML, or JSON with --format json)."""
    import json

    from plimsoll.runtime.slo.prometheus import rule_file, to_yaml

    config = _config(load_config(ctx, path), file)
    document, notes = rule_file(config)
    text = to_yaml(document) if fmt is Format.TEXT else json.dumps(document, indent=2) + "\n"
    if out_file is not None:
        from plimsoll.core.files import write_whole

        write_whole(out_file, text)
    else:
        typer.echo(text, nl=False)
    for note in notes:
        output.err_console().print(f"note: {note}", markup=False)
