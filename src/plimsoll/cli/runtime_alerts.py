"""``plimsoll runtime alerts|watch|rules``: alerts in the store, the watch process, rule export.

- ``alerts list`` shows the alerts (active by default, ``--all`` with the resolved ones);
- ``alerts ack TARGET`` acknowledges the firing alerts of a rule or a fingerprint (prefix);
- ``alerts silence -m label=value ... --for 2h`` adds a silence, ``--list`` shows them,
  ``--expire ID`` ends one;
- ``alerts test`` sends a test notification to the routes' channels (exit 1 if one fails);
- ``watch`` runs the monitor, the health checks, the rules, the SLO burn-rate alerts and the
  notifications until SIGTERM;
- ``rules export --prometheus`` prints a Prometheus rule file, ``--alertmanager`` the routes.

The alert definitions come from ``runtime.alerts`` or a rules file given with ``--rules``; the
objectives whose burn alerts ``watch`` raises from ``runtime.slo`` or a file given with
``--slo-file``.
"""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from plimsoll.cli import output
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.runtime_common import (
    FormatOpt,
    OutputOpt,
    PathOpt,
    config_where,
    database_url,
    load_config,
    open_store,
)
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from plimsoll.runtime.alerts.config import AlertsConfig

alerts_app = typer.Typer(help="Alerts: list, acknowledge, silence, test.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules for Prometheus and Alertmanager.", no_args_is_help=True)

RulesOpt = Annotated[
    Path | None,
    typer.Option("--rules", help="A rules file (YAML or TOML) instead of runtime.alerts."),
]

_STATE_STYLE = {
    "pending": "yellow",
    "firing": "bold red",
    "acknowledged": "magenta",
    "resolved": "green",
}


def _alerts(loaded: LoadedConfig, rules: Path | None) -> AlertsConfig:
    from plimsoll.runtime.alerts.loader import alerts_config

    return alerts_config(loaded, rules)


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))


@alerts_app.command(name="list")
def list_alerts(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Show the alerts kept in the store (active ones unless --all)."""
    from plimsoll.runtime.alerts.state import AlertState, AlertStore

    store = open_store(load_config(ctx, path))
    try:
        wanted = None if show_all else [s for s in AlertState if s.active]
        found = AlertStore(store).alerts(wanted)
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json({"alerts": [a.to_dict() for a in found]})
        return
    table = Table(title="alerts", title_justify="left")
    for column in ("fingerprint", "rule", "state", "severity", "labels", "since", "summary"):
        table.add_column(column, overflow="fold")
    for alert in found:
        labels = ", ".join(
            f"{k}={v}"
            for k, v in sorted(alert.labels.items())
            if k not in ("alertname", "severity")
        )
        style = _STATE_STYLE[alert.state.value]
        since = alert.resolved_at or alert.fired_at or alert.active_since
        table.add_row(
            alert.fingerprint[:8], alert.rule, f"[{style}]{alert.state.value}[/]",
            alert.severity, labels, _when(since), alert.summary,
        )  # fmt: skip
    out = output.console()
    out.print(table if found else "no alerts")


@alerts_app.command(name="ack")
def ack(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="A rule name or a fingerprint (prefix).")],
    by: Annotated[str | None, typer.Option("--by", help="Who acknowledges.")] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Acknowledge firing alerts: repeats and escalation stop until they resolve."""
    from plimsoll.runtime.alerts.state import AlertStore

    store = open_store(load_config(ctx, path))
    try:
        acked = AlertStore(store).acknowledge(target, by=by or getpass.getuser(), now=time.time())
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json({"acknowledged": [a.to_dict() for a in acked]})
        return
    for alert in acked:
        output.console().print(f"acknowledged {alert.fingerprint[:8]} {alert.rule}")


@alerts_app.command(name="silence")
def silence(
    ctx: typer.Context,
    matchers: Annotated[
        list[str] | None,
        typer.Option("--matcher", "-m", help="label=value, label!=value, label=~re, label!~re."),
    ] = None,
    duration: Annotated[str, typer.Option("--for", help="How long, e.g. 2h.")] = "1h",
    comment: Annotated[str, typer.Option("--comment", help="Why.")] = "",
    show: Annotated[bool, typer.Option("--list", help="List the silences in force.")] = False,
    expire: Annotated[int | None, typer.Option("--expire", help="End silence ID now.")] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Add a silence (or list them, or end one): matching alerts are not notified meanwhile."""
    from plimsoll.core.rules import parse_duration
    from plimsoll.runtime.alerts.silences import Silence, parse_matchers
    from plimsoll.runtime.alerts.state import AlertStore

    now = time.time()
    try:
        parsed = parse_matchers(matchers or [])
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    store = open_store(load_config(ctx, path))
    try:
        alerts = AlertStore(store)
        if expire is not None:
            alerts.expire_silence(expire, now=now)
            result: dict[str, object] = {"expired": expire}
        elif show:
            result = {"silences": [s.to_dict() for s in alerts.silences(active_at=now)]}
        else:
            made = alerts.add_silence(
                Silence(parsed, now, now + seconds, comment, getpass.getuser()), now=now
            )
            result = {"silence": made.to_dict()}
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json(result)
        return
    out = output.console()
    if "silences" in result:
        table = Table(title="silences", title_justify="left")
        for column in ("id", "matchers", "ends", "comment"):
            table.add_column(column, overflow="fold")
        for item in result["silences"]:  # type: ignore[attr-defined]
            table.add_row(
                str(item["id"]), " ".join(item["matchers"]), _when(item["ends_at"]), item["comment"]
            )
        out.print(table)
    elif "expired" in result:
        out.print(f"silence {expire} expired")
    else:
        made_dict = result["silence"]
        out.print(f"silence {made_dict['id']} until {_when(made_dict['ends_at'])}")  # type: ignore[index]


@alerts_app.command(name="test")
def test_notification(
    ctx: typer.Context,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only these channels.")
    ] = None,
    rules: RulesOpt = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Send a test notification to the alert routes' channels; exit 1 when one fails."""
    from plimsoll.core.notifiers.base import Message, Severity
    from plimsoll.core.notify import Dispatcher
    from plimsoll.runtime.alerts.grouping import resolve_routes

    loaded = load_config(ctx, path)
    config = _alerts(loaded, rules)
    from plimsoll.runtime.slo.loader import slo_config

    # The SLOs' own channels receive burn alerts too: they are tested with the routes'.
    slo_channels = [c for o in slo_config(loaded).objectives for c in o.channels]
    routed = [c for r in resolve_routes(config) for c in r.channels]
    names = channel or list(dict.fromkeys([*routed, *slo_channels]))
    if not names:
        raise UsageError("no channel to test: set runtime.alerts.channels or pass --channel")
    message = Message(
        title="[TEST] plimsoll alert notification",
        body="A test of the alert notification channels; no action needed.",
        severity=Severity.INFO,
        tags=("alert", "test"),
    )
    # No retries kept in the outbox: a test reports what happened now.
    with Dispatcher(loaded.config.notify) as dispatcher:
        results = dispatcher.send(message, names)
    if fmt is Format.JSON:
        print_json({"results": [r.__dict__ | {"status": r.status.value} for r in results]})
    else:
        for r in results:
            verdict = "delivered" if r.delivered else f"FAILED: {r.error}"
            output.console().print(f"{r.channel}: {verdict}", markup=False)
    if not all(r.delivered for r in results):
        raise typer.Exit(int(ExitCode.FINDINGS))


def watch(
    ctx: typer.Context,
    rules: RulesOpt = None,
    monitor: Annotated[
        bool, typer.Option("--monitor/--no-monitor", help="Sample the system into the store.")
    ] = True,
    health: Annotated[
        bool, typer.Option("--health/--no-health", help="Run the configured health checks.")
    ] = True,
    interval: Annotated[
        str | None, typer.Option("--interval", help="Evaluation interval (default: config).")
    ] = None,
    monitor_interval: Annotated[
        float | None,
        typer.Option(
            "--monitor-interval", help="Seconds between samples (default: runtime.monitor)."
        ),
    ] = None,
    slo_file: Annotated[
        Path | None,
        typer.Option("--slo-file", help="SLOs from this file (OpenSLO, YAML, TOML)."),
    ] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Run the monitor, health checks, alert rules, SLO burn alerts and notifications until
    SIGTERM."""
    from plimsoll.runtime.slo.loader import slo_config
    from plimsoll.runtime.watch import Watch

    loaded = load_config(ctx, path)
    config = _alerts(loaded, rules)
    slos = slo_config(loaded, slo_file)
    if monitor_interval is not None and not monitor_interval > 0:
        raise UsageError("--monitor-interval: must be a positive number of seconds")
    if interval is not None:
        from plimsoll.core.rules import parse_duration

        try:
            parse_duration(interval)
        except ValueError as exc:
            raise UsageError(f"--interval: {exc}") from None
        config = config.model_copy(update={"evaluation_interval": interval})
    store = open_store(loaded)
    try:
        sampler = None
        if monitor:
            from plimsoll.runtime.monitor import PerformanceMonitor

            sampler = PerformanceMonitor.from_config(
                store,
                loaded.config.runtime.monitor,
                interval=monitor_interval,
                # Old SLO events go in the samples' retention pass (nothing to keep without SLOs).
                slo_retention_seconds=slos.retention_seconds if slos.objectives else None,
                usage_retention_seconds=loaded.config.runtime.usage.retention_seconds,
            )
        runner = None
        health_interval = loaded.config.runtime.health.interval_seconds or 10.0
        if health and loaded.config.runtime.health.checks:
            from plimsoll.runtime.checks.loader import build_runner
            from plimsoll.runtime.health import CheckContext

            context = CheckContext(database_url=lambda env: database_url(loaded, env))
            runner = build_runner(
                loaded.config.runtime.health, where=config_where(loaded), context=context
            )
        # Without a monitor of its own (the service samples), the watch purges the SLO
        # events it writes itself.
        purge = (
            (slos.retention_seconds, loaded.config.runtime.monitor.max_maintenance_rows)
            if slos.objectives and sampler is None
            else None
        )
        process = Watch(
            store, config, loaded.config.notify, monitor=sampler, health=runner,
            health_interval=health_interval, slo=slos, slo_retention=purge,
        )  # fmt: skip
        process.install_signals()
        if fmt is Format.TEXT:
            watched = f"{len(config.rules)} rules"
            if slos.objectives:
                watched += f" and the burn alerts of {len(slos.objectives)} SLOs"
            output.err_console().print(
                f"watching: {watched} every {config.evaluation_interval}"
                " (SIGTERM or Ctrl-C to stop)",
                markup=False,
            )
        stats = process.run()
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json(stats.to_dict())
    else:
        output.console().print(
            f"stopped after {stats.cycles} cycles; {stats.delivered} notifications delivered",
            markup=False,
        )


@rules_app.command(name="export")
def export(
    ctx: typer.Context,
    prometheus: Annotated[
        bool, typer.Option("--prometheus", help="A Prometheus rule file (the default).")
    ] = False,
    alertmanager: Annotated[
        bool, typer.Option("--alertmanager", help="An Alertmanager configuration.")
    ] = False,
    rules: RulesOpt = None,
    out_file: OutputOpt = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Print the alert rules as Prometheus alerting rules (or Alertmanager routes): YAML or JSON."""
    from plimsoll.runtime.alerts.prometheus import alertmanager_config, rule_file, to_yaml

    if prometheus and alertmanager:
        raise UsageError("choose one of --prometheus and --alertmanager")
    loaded = load_config(ctx, path)
    config = _alerts(loaded, rules)
    notes: list[str] = []
    if alertmanager:
        from plimsoll.runtime.alerts.engine import check_channels

        check_channels(config, loaded.config.notify.channels, "runtime.alerts")
        document, notes = alertmanager_config(config, loaded.config.notify)
    else:
        document = rule_file(config)
    text = to_yaml(document) if fmt is Format.TEXT else None
    if out_file is not None:
        import json

        out_file.write_text(text if text is not None else json.dumps(document, indent=2) + "\n")
    elif text is not None:
        typer.echo(text, nl=False)
    else:
        print_json(document)
    for note in notes:
        output.err_console().print(f"note: {note}", markup=False)
