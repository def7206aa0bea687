"""``plimsoll runtime usage`` and ``plimsoll runtime monitor``.

``usage`` reports the usage events in the state store over one window: per feature the calls,
the error rate and the duration percentiles (p50/p95/p99, inclusive linear interpolation), the
frequent sequences within sessions, and usage by hour (UTC). ``monitor`` runs the performance
monitor in the foreground, sampling this machine and process into the store, until SIGTERM,
SIGINT or ``--duration``. Exit 0; 2 for a bad option or configuration; 3 when the store cannot
be used.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from plimsoll.cli import output
from plimsoll.cli.options import FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.runtime_common import load_config, open_store
from plimsoll.core.errors import CannotRunError

if TYPE_CHECKING:
    from plimsoll.core.config import LoadedConfig
    from plimsoll.core.store import Store
    from plimsoll.runtime.analytics import UsageReport


def _store_path(loaded: LoadedConfig) -> Path:
    target = Path(loaded.config.store.path)
    return target if target.is_absolute() else loaded.root / target


def _store_name(loaded: LoadedConfig, store: Store) -> str:
    """Where the samples go, as the user knows it: the SQLite file, or the PostgreSQL store."""
    where = getattr(getattr(store, "connection", None), "where", None)
    if loaded.config.store.url is not None and where:
        return f"the PostgreSQL store at {where}"
    return str(_store_path(loaded))


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    # Sub-millisecond calls are common: keep three significant decimals there.
    return f"{value:.4f}" if value < 1 else f"{value:.2f}"


def _features_table(report: UsageReport) -> Table:
    table = Table(title=f"usage over {report.window}", title_justify="left")
    table.add_column("feature", style="cyan", overflow="fold")
    table.add_column("calls", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("error rate", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    table.add_column("error events", justify="right")
    for f in report.features:
        table.add_row(
            f.feature,
            str(f.calls),
            str(f.failed),
            f"{f.error_rate:.1%}",
            _ms(f.p50_ms),
            _ms(f.p95_ms),
            _ms(f.p99_ms),
            str(f.error_events),
        )
    return table


def _sequences_table(report: UsageReport) -> Table:
    table = Table(title="frequent sequences in sessions", title_justify="left")
    table.add_column("sequence", style="cyan", overflow="fold")
    table.add_column("sessions", justify="right")
    table.add_column("occurrences", justify="right")
    for s in report.sequences:
        table.add_row(" -> ".join(s.steps), str(s.sessions), str(s.occurrences))
    return table


def _by_hour(report: UsageReport) -> str:
    busiest = max(report.by_hour)
    if not busiest:
        return "by hour (UTC): no events"
    peak = report.by_hour.index(busiest)
    cells = " ".join(f"{h:02d}:{n}" for h, n in enumerate(report.by_hour) if n)
    return f"by hour (UTC), busiest {peak:02d}:00 with {busiest}: {cells}"


def _render(report: UsageReport) -> None:
    out = output.console()
    out.print(_features_table(report))
    if report.sequences:
        out.print(_sequences_table(report))
    out.print(_by_hour(report), soft_wrap=True)
    out.print(
        f"{report.events} events, {report.sessions} sessions, {report.dropped} dropped",
        soft_wrap=True,
    )
    for note in report.notes:
        output.err_console().print(note, soft_wrap=True, markup=False)


def usage(
    ctx: typer.Context,
    window: Annotated[
        str,
        typer.Option(
            "--window",
            "-w",
            metavar="DURATION",
            help="The window: 1h, 1d, 1w, 30d or any duration.",
        ),
    ] = "1d",
    top: Annotated[int, typer.Option("--top", min=0, metavar="N", help="Sequences to show.")] = 10,
    length: Annotated[
        int, typer.Option("--length", min=1, max=10, metavar="N", help="Steps in a sequence.")
    ] = 2,
    min_sessions: Annotated[
        int,
        typer.Option(
            "--min-sessions", min=1, metavar="N", help="Sessions a sequence must occur in."
        ),
    ] = 2,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Report usage over a window: per-feature calls, error rate, p50/p95/p99; sequences; hours."""
    from plimsoll.runtime.analytics import UsageReport, usage_report, window_seconds

    span = window_seconds(window)
    loaded = load_config(ctx, path)
    now = time.time()
    where = _store_path(loaded)
    if loaded.config.store.url is None and not where.exists():
        # Reading must not create a store: report an empty window and say why.
        report = UsageReport(
            window, now - span, now, (), (), (0,) * 24, 0, 0, 0,
            (f"no state store at {where} yet: nothing has been tracked",),
        )  # fmt: skip
    else:
        store = open_store(loaded)
        try:
            report = usage_report(
                store, window, now=now, sequence_length=length, min_sessions=min_sessions, top=top
            )
        finally:
            store.close()
    if fmt is Format.JSON:
        print_json(report.to_dict())
    else:
        _render(report)


def _seconds(value: str | None, flag: str) -> float | None:
    from plimsoll.core.rules import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None
    if seconds <= 0:
        raise typer.BadParameter("must be a positive duration", param_hint=flag)
    return seconds


def _wait_for_signal(duration: float | None) -> str:
    """Block until SIGTERM or SIGINT (or ``duration``); return what ended the wait."""
    import signal
    import threading

    stop = threading.Event()
    received: list[str] = []

    def handler(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop.wait(duration)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return received[0] if received else "duration"


def monitor(
    ctx: typer.Context,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval", "-i", metavar="SECONDS", help="Seconds between samples (runtime.monitor)."
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration",
            "-d",
            metavar="DURATION",
            help="Stop after this long (default: on SIGTERM/SIGINT).",
        ),
    ] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Run the performance monitor in the foreground until SIGTERM, SIGINT or --duration."""
    from plimsoll.runtime.monitor import PerformanceMonitor

    every = _seconds(interval, "--interval")
    limit = _seconds(duration, "--duration")
    loaded = load_config(ctx, path)
    settings = loaded.config.runtime.monitor
    store = open_store(loaded)
    try:
        sampler = PerformanceMonitor.from_config(
            store,
            settings,
            interval=every,
            usage_retention_seconds=loaded.config.runtime.usage.retention_seconds,
        )
        if output.interactive() and fmt is Format.TEXT:
            output.err_console().print(
                f"monitoring every {sampler.interval:g}s into {_store_name(loaded, store)}"
                " (Ctrl-C or SIGTERM to stop)",
                soft_wrap=True,
                markup=False,
            )
        started = time.monotonic()
        sampler.start()
        try:
            reason = _wait_for_signal(limit)
        finally:
            sampler.stop()
        if sampler.ticks < 1:
            # A run shorter than one interval still leaves one sample behind.
            sampler.tick()
        summary = {
            **sampler.summary(),
            "stopped_by": reason,
            "seconds": round(time.monotonic() - started, 3),
            "store": _store_name(loaded, store),
        }
    finally:
        store.close()
    if fmt is Format.JSON:
        print_json(summary)
    else:
        output.console().print(
            f"monitor stopped ({summary['stopped_by']}): {summary['ticks']} ticks,"
            f" {summary['written']} samples written, {summary['errors']} errors",
            soft_wrap=True,
        )
    if summary["ticks"] and summary["errors"] >= summary["ticks"]:
        raise CannotRunError(f"the monitor could not write samples: {summary['last_error']}")
