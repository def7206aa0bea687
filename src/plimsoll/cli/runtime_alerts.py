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
from plimsoll.cli.options import FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.runtime_common import (
    OutputOpt,
    config_where,
    database_url,
    fits,
    load_config,
    open_store,
)
from plimsoll.core.config import LoadedConfig, unknown_channels
from plimsoll.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from plimsoll.runtime.alerts.config import AlertsConfig
    from plimsoll.runtime.alerts.state import Alert

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


def _where(loaded: LoadedConfig, section: str, file: Path | None) -> tuple[str, str | None]:
    """The key prefix and the file that configuration errors of ``section`` name: its own
    file when given (its keys at the top), else the configuration's ``section``."""
    from plimsoll.runtime.config_loader import config_source

    if file is not None:
        return "", str(file)
    return section, config_source(loaded)


def _checked(loaded: LoadedConfig, rules: Path | None) -> AlertsConfig:
    """The alerting configuration, its channels checked against ``notify.channels``."""
    from plimsoll.runtime.alerts.engine import check_channels

    config = _alerts(loaded, rules)
    where, source = _where(loaded, "runtime.alerts", rules)
    check_channels(config, loaded.config.notify.channels, where, source)
    return config


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


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
    out = output.console()
    if not found:
        out.print("no alerts")
        return
    table = Table(title="alerts", title_justify="left")
    # An id, a state and a time are read whole or not at all: never folded.
    table.add_column("id", no_wrap=True)
    table.add_column("rule", overflow="fold")
    for column in ("state", "severity", "since"):
        table.add_column(column, no_wrap=True)
    for column in ("labels", "summary"):
        table.add_column(column, overflow="fold")
    rows = [_alert_row(alert) for alert in found]
    for row in rows:
        table.add_row(*row.values())
    if fits(out, table):
        out.print(table)
        return
    # Too narrow for every cell whole (off a terminal rich assumes 80 columns): a block each.
    for row in rows:
        out.print(
            f"{row['id']}  {row['rule']}  {row['state']}  {row['severity']}  since {row['since']}",
            soft_wrap=True,
        )
        if row["labels"]:
            out.print(f"    {row['labels']}", soft_wrap=True, markup=False)
        out.print(f"    {row['summary']}", soft_wrap=True, markup=False)


def _alert_row(alert: Alert) -> dict[str, str]:
    """The cells of one alert in ``alerts list`` (the state with its colour markup)."""
    labels = ", ".join(
        f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity")
    )
    style = _STATE_STYLE[alert.state.value]
    since = alert.resolved_at or alert.fired_at or alert.active_since
    return {
        "id": alert.fingerprint[:8],
        "rule": alert.rule,
        "state": f"[{style}]{alert.state.value}[/]",
        "severity": alert.severity,
        "since": _when(since),
        "labels": labels,
        "summary": alert.summary,
    }


@alerts_app.command(name="ack")
def ack(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="TARGET", help="A rule name or a fingerprint (prefix).")
    ],
    by: Annotated[
        str | None, typer.Option("--by", metavar="NAME", help="Who acknowledges.")
    ] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Acknowledge firing alerts: repeats and escalation stop until they resolve."""
    from plimsoll.runtime.alerts.state import AlertStore

    store = open_store(load_config(ctx, path))
    at = time.time()
    try:
        acked = AlertStore(store).acknowledge(target, by=by or getpass.getuser(), now=at)
    finally:
        store.close()
    now_acked = [a for a in acked if a.acked_at == at]
    if fmt is Format.JSON:
        print_json(
            {
                "acknowledged": [a.to_dict() for a in now_acked],
                "already_acknowledged": [a.to_dict() for a in acked if a not in now_acked],
            }
        )
        return
    out = output.console()
    for alert in acked:
        if alert in now_acked:
            out.print(f"acknowledged {alert.fingerprint[:8]} {alert.rule}", markup=False)
        else:
            out.print(
                f"{alert.fingerprint[:8]} {alert.rule} was acknowledged already"
                f" (by {alert.acked_by or 'someone'} at {_when(alert.acked_at)} UTC)",
                markup=False,
            )


@alerts_app.command(name="silence")
def silence(
    ctx: typer.Context,
    matchers: Annotated[
        list[str] | None,
        typer.Option(
            "--matcher",
            "-m",
            metavar="MATCHER",
            help="label=value, label!=value, label=~re, label!~re.",
        ),
    ] = None,
    duration: Annotated[
        str, typer.Option("--for", metavar="DURATION", help="How long, e.g. 2h.")
    ] = "1h",
    comment: Annotated[str, typer.Option("--comment", help="Why.")] = "",
    show: Annotated[bool, typer.Option("--list", help="List the silences in force.")] = False,
    expire: Annotated[
        int | None, typer.Option("--expire", metavar="ID", help="End silence ID now.")
    ] = None,
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
        list[str] | None,
        typer.Option("--channel", metavar="NAME", help="Only these channels."),
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
    configured = loaded.config.notify.channels
    problem = unknown_channels("--channel", channel or (), configured)
    if problem is not None:
        raise UsageError(problem)
    config = _alerts(loaded, rules) if channel else _checked(loaded, rules)
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
    # Nothing kept in an outbox (keep=False): a test reports what happened now, and a
    # failure is not delivered later.
    with Dispatcher(loaded.config.notify) as dispatcher:
        results = dispatcher.send(message, names, keep=False)
    if fmt is Format.JSON:
        print_json(
            {
                "results": [
                    {
                        "channel": r.channel,
                        "status": r.status.value,
                        "delivered": r.delivered,
                        "attempts": r.attempts,
                        "error": r.error,
                    }
                    for r in results
                ]
            }
        )
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
        str | None,
        typer.Option(
            "--interval", metavar="DURATION", help="Evaluation interval (default: config)."
        ),
    ] = None,
    monitor_interval: Annotated[
        float | None,
        typer.Option(
            "--monitor-interval",
            metavar="SECONDS",
            help="Seconds between samples (default: runtime.monitor).",
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
    from plimsoll.core.rules import parse_duration
    from plimsoll.runtime.alerts.prometheus import duration
    from plimsoll.runtime.slo.loader import slo_config
    from plimsoll.runtime.watch import Watch

    loaded = load_config(ctx, path)
    config = _alerts(loaded, rules)
    slos = slo_config(loaded, slo_file)
    if monitor_interval is not None and not monitor_interval > 0:
        raise UsageError("--monitor-interval: must be a positive number of seconds")
    if interval is not None:
        try:
            seconds = parse_duration(interval)
        except ValueError as exc:
            raise UsageError(f"--interval: {exc}") from None
        if not seconds > 0:  # zero would evaluate without pause, spinning a CPU
            raise UsageError("--interval: must be longer than zero")
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
            alerts_where=_where(loaded, "runtime.alerts", rules),
            slo_where=_where(loaded, "runtime.slo", slo_file),
        )  # fmt: skip
        process.install_signals()
        if fmt is Format.TEXT:
            watched = _plural(len(config.rules), "rule")
            if slos.objectives:
                watched += f" and the burn alerts of {_plural(len(slos.objectives), 'SLO')}"
            every = duration(config.evaluation_interval)
            output.err_console().print(
                f"watching: {watched} every {every} (SIGTERM or Ctrl-C to stop)", markup=False
            )
        stats = process.run()
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json(stats.to_dict())
    else:
        output.console().print(stats.summary(), markup=False)


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
    """Print the alert rules as Prometheus alerting rules (or Alertmanager routes): YAML or JSON.

    Rules over series only plimsoll's store has (health_check_status, the monitor's system
    readings) are left out, each named in a note on stderr: Prometheus never sees them.
    """
    from plimsoll.runtime.alerts.prometheus import alertmanager_config, rule_file, to_yaml

    if prometheus and alertmanager:
        raise UsageError("choose one of --prometheus and --alertmanager")
    loaded = load_config(ctx, path)
    if alertmanager:
        config = _checked(loaded, rules)
        document, notes = alertmanager_config(config, loaded.config.notify)
    else:
        document, notes = rule_file(_alerts(loaded, rules))
    text = to_yaml(document) if fmt is Format.TEXT else None
    if out_file is not None:
        import json

        from plimsoll.core.files import write_whole

        write_whole(out_file, text if text is not None else json.dumps(document, indent=2) + "\n")
    elif text is not None:
        typer.echo(text, nl=False)
    else:
        print_json(document)
    for note in notes:
        output.err_console().print(f"note: {note}", markup=False)
