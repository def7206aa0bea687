"""``plimsoll code``: collect code metrics, keep their history on a git branch, gate on thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from plimsoll.cli import output
from plimsoll.cli.lazy import LazyModule
from plimsoll.cli.options import FormatOpt, PathOpt, remember_format
from plimsoll.cli.output import Format, ReportFormat, fmt_value, print_json
from plimsoll.cli.state import state
from plimsoll.core.errors import ExitCode

if TYPE_CHECKING:
    from plimsoll.code import commands, retention, summary
    from plimsoll.code.collect import Collection
    from plimsoll.code.record import Record
    from plimsoll.code.thresholds import ThresholdReport
else:
    # The engine is imported when a command runs, not when the CLI starts.
    commands = LazyModule("plimsoll.code.commands")
    retention = LazyModule("plimsoll.code.retention")
    summary = LazyModule("plimsoll.code.summary")
thresholds = LazyModule("plimsoll.code.thresholds")

app = typer.Typer(
    help=(
        "Code metrics per commit: collect, history on a git branch, thresholds for CI.\n\n"
        "The history branch is code.branch; unset, it is code-metrics for a project at the "
        "top of its git repository and code-metrics-<folder> for one in a subfolder (its "
        "configuration file's folder, / written -: code-metrics-services-api), so the "
        "projects of a monorepo keep separate histories."
    ),
    no_args_is_help=True,
)


def _project(ctx: typer.Context, path: Path | None) -> commands.Project:
    start = (path or Path.cwd()).resolve()
    loaded = state(ctx).config(start=start)
    project = commands.open_project(loaded, start)
    for notice in project.notices:
        _warn(f"warning: {notice}")
    return project


def _say(out: Any, text: str) -> None:
    """Print one message line as it is: never wrapped at the console width, no markup.

    Off a terminal rich assumes 80 columns, and a line such as "stored <path> on branch ..."
    cut in two is hard to grep; a record header's "[dirty work tree]" is text, not a style.
    """
    out.print(text, soft_wrap=True, markup=False, highlight=False)


def _names(collectors: str | None) -> list[str] | None:
    if not collectors:
        return None
    return [n.strip() for n in collectors.split(",") if n.strip()]


# The value column's widest: a long text (a path) is folded rather than widening every row.
VALUE_WIDTH = 48


def _metrics_table(record: Record, title: str) -> Table:
    """The record's headline metrics; collectors that failed are one row each, "error".

    The error itself (often long: a tool's message) is printed below the table by
    :func:`_print_metrics`, so the table stays as narrow as its numbers.
    """
    table = Table(title=title, title_justify="left")
    table.add_column("collector", style="cyan")
    table.add_column("metric")
    # A value may be a path or a message: wrapped whole, never cut.
    table.add_column("value", justify="right", overflow="fold", max_width=VALUE_WIDTH)
    for name in sorted(record.metrics):
        flat = summary.flatten(record.metrics[name])
        for i, (key, value) in enumerate(flat.items()):
            table.add_row(name if i == 0 else "", key, fmt_value(value))
    for name in sorted(record.collector_errors):
        table.add_row(name, "[red]error[/red]", "see below")
    return table


def _print_metrics(out: Any, record: Record, title: str) -> None:
    """The metrics table, then one line per collector that failed, with its error."""
    out.print(_metrics_table(record, title))
    for name, error in sorted(record.collector_errors.items()):
        _say(out, f"{name} error: {' '.join(error.split())}")


def _record_header(record: Record) -> str:
    flags = []
    if record.worktree_dirty:
        flags.append("dirty work tree")
    if record.detached_head:
        flags.append("detached HEAD")
    where = record.branch or "(no branch)"
    extra = f" [{', '.join(flags)}]" if flags else ""
    took = record.collection_duration_seconds
    duration = f", {took:.1f}s" if took is not None else ""
    return (
        f"{record.commit_sha[:10]} on {where}, {record.timestamp:%Y-%m-%d %H:%M:%S} UTC"
        f"{duration}{extra}"
    )


def _threshold_table(report: ThresholdReport, violations_only: bool) -> Table:
    table = Table(title="thresholds", title_justify="left")
    table.add_column("", width=2)
    table.add_column("rule")
    table.add_column("actual", justify="right")
    table.add_column("action")
    table.add_column("message", overflow="fold")
    marks = {
        "pass": "[green]✓[/green]",
        "fail": "[red]✗[/red]",
        "warn": "[yellow]![/yellow]",
        "error": "[red]?[/red]",
        "skip": "[dim]-[/dim]",
    }
    shown = report.violations if violations_only else report.results
    for result in shown:
        table.add_row(
            marks[thresholds.status(result)],
            result.spec.label,
            _actual_cell(result.actual, result.spec.value),
            result.spec.action.value,
            result.message,
        )
    return table


def _actual_cell(value: Any, threshold: Any) -> str:
    """``value`` as the table shows numbers, with as many more decimals as it takes to tell it
    from ``threshold`` (a failing ``>= 28.93`` never shows an actual of 28.93)."""
    text = fmt_value(value)
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (value, threshold)
    )
    if not numbers or float(value) == float(threshold) or text != fmt_value(float(threshold)):
        return text
    for digits in range(3, 18):
        shown = f"{float(value):.{digits}f}"
        if shown != f"{float(threshold):.{digits}f}":
            return shown
    return repr(value)


def _deliver(
    project: commands.Project, report: ThresholdReport, record: Record
) -> tuple[list[str], list[str]]:
    """Deliver the report's notify and comment rules: a line per channel, and the warnings.

    The warnings (a notify rule with nowhere to go) are also printed on stderr now.
    """
    # Imported when a report is delivered: notify and its channels are not start-up cost.
    from plimsoll.code.delivery import deliver_threshold_report

    done = deliver_threshold_report(project.loaded.config, report, project.root, record.commit_sha)
    for warning in done.warnings:
        _warn(f"warning: {warning}")
    return done.lines, done.warnings


@app.command()
def collect(
    ctx: typer.Context,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate", help="Check thresholds after collecting (exit 1 on a failed `fail` rule)."
        ),
    ] = False,
    rev: Annotated[
        str | None,
        typer.Option(
            "--rev", metavar="A..B", help="Backfill past commits A..B in a temporary worktree."
        ),
    ] = None,
    collectors: Annotated[
        str | None,
        typer.Option(
            "--collectors",
            metavar="NAMES",
            help="Comma-separated collectors (default: configured).",
        ),
    ] = None,
    push: Annotated[
        bool,
        typer.Option(
            "--push", help="Push the history branch to code.remote afterwards, retrying on a race."
        ),
    ] = False,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not write the record to the history branch.")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Re-analyse every file.")] = False,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Collect metrics for HEAD (or a range of commits) and store the record on the history branch.

    The history branch is code.branch, by default code-metrics, or code-metrics-<folder> for
    a project in a subfolder of its repository (see `plimsoll code --help`).

    With --validate, delta rules compare with the base branch's record (see `plimsoll code
    validate --help`); a `fail` delta rule with no baseline record is skipped with a warning
    and the gate passes, unless code.require_baseline = true, which fails it (exit 1).
    """
    project = _project(ctx, path)
    names = _names(collectors)
    if names:
        commands.check_collector_names(names)
    if validate:
        # A threshold on a metric no collector records: exit 2 before collecting anything.
        commands.check_thresholds(project)
    out = output.console()
    collections: list[Collection]
    filled: commands.Backfill | None = None
    with output.progress(fmt is Format.TEXT) as bar:
        if rev:
            task = bar.add_task("backfill", total=None) if bar else None

            def on_commit(index: int, total: int, sha: str) -> None:
                if bar is not None and task is not None:
                    bar.update(task, total=total, completed=index, description=f"commit {sha[:7]}")

            filled = commands.backfill(
                project, rev, names=names, use_cache=not no_cache, on_commit=on_commit
            )
            collections = filled.collections
        else:
            wanted = names or project.config.collectors
            task = bar.add_task("collecting", total=len(wanted)) if bar else None

            def on_done(outcome: Any) -> None:
                if bar is not None and task is not None:
                    bar.update(task, advance=1, description=f"{outcome.name} done")

            collections = [
                commands.collect(project, names=names, use_cache=not no_cache, on_done=on_done)
            ]
    stored = (
        commands.store(project, [c.record for c in collections], push=push)
        if not no_store and collections
        else None
    )
    paths = stored.paths if stored is not None else []
    gated = (
        (commands.gated_record(project, filled) if filled is not None else collections[-1].record)
        if validate and (collections or filled is not None)
        else None
    )
    checked = commands.check(project, gated) if gated is not None else None
    report = checked.report if checked is not None else None
    delivered, undelivered = (
        _deliver(project, report, gated) if report is not None and gated else ([], [])
    )
    skipped = _skipped_files(collections)
    if fmt is Format.JSON:
        print_json(
            {
                "records": [c.record.to_dict() for c in collections],
                "stored": paths,
                "pushed": stored is not None and stored.push is not None,
                "push": _push_json(stored),
                "skipped_files": skipped,
                "already_recorded": filled.already_recorded if filled is not None else [],
                "thresholds": thresholds.to_json(report) if report is not None else None,
                "baseline": _baseline_json(checked),
                "notified": delivered,
                "notify_warnings": undelivered,
            }
        )
    else:
        _warn_skipped(skipped, name_commits=filled is not None)
        if filled is not None:
            _say(out, _backfill_line(filled, rev or ""))
        for collection in collections[-1:]:
            files = f"{collection.files} file{'' if collection.files == 1 else 's'}"
            _say(out, f"{_record_header(collection.record)}, {files}")
            _print_metrics(out, collection.record, "metrics")
        if stored is not None:
            more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
            for p in paths[-1:]:
                _say(out, f"stored {p}{more} on branch {stored.branch}")
            push_line = stored.push_line()
            if push_line:
                _say(out, push_line)
        if checked is not None:
            _say_baseline(out, checked)
            out.print(_threshold_table(checked.report, violations_only=False))
        for line in delivered:
            _say(out, f"notified {line}")
    if stored is not None and stored.push_error is not None:
        # The record is stored (and said so above); the push's failure is the command's.
        raise stored.push_error
    if report is not None and report.exit_code:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _skipped_files(collections: list[Collection]) -> list[dict[str, Any]]:
    """Files skipped by collectors, once per file and reason: path, why, which collectors, and
    the commits it happened in."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for collection in collections:
        for skip in summary.skipped_files(collection.record.metrics):
            item = found.setdefault(
                (skip.path, skip.error),
                {"path": skip.path, "error": skip.error, "collectors": [], "commits": []},
            )
            item["collectors"] = sorted({*item["collectors"], *skip.collectors})
            item["commits"].append(collection.record.commit_sha)
    return list(found.values())


def _warn_skipped(skipped: list[dict[str, Any]], name_commits: bool = False) -> None:
    """One warning line per skipped file and reason on stderr, naming the collectors.

    With ``name_commits`` (a backfill), the commits it happened in too, so the file can be
    found in a long range.
    """
    for item in skipped:
        commits = item["commits"]
        where = ""
        if len(commits) == 1 and name_commits:
            where = f" in commit {commits[0][:7]}"
        elif len(commits) > 1:
            shown = ", ".join(sha[:7] for sha in commits[:5])
            more = f" and {len(commits) - 5} more" if len(commits) > 5 else ""
            where = f" in {len(commits)} commits ({shown}{more})"
        who = ", ".join(item["collectors"])
        _warn(f"warning: {who} skipped {item['path']}{where}: {item['error']}")


def _warn(text: str) -> None:
    # Escaped: a reason may quote source code holding "[...]".
    output.err_console().print(f"[yellow]{escape(text)}[/yellow]", soft_wrap=True, highlight=False)


def _backfill_line(filled: commands.Backfill, rev: str) -> str:
    line = f"collected {len(filled.collections)} of the {filled.commits} commit(s) of {rev}"
    recorded = filled.already_recorded
    if recorded:
        shown = ", ".join(sha[:7] for sha in recorded[:5])
        more = f" and {len(recorded) - 5} more" if len(recorded) > 5 else ""
        line += f"; {len(recorded)} already had a record ({shown}{more}), skipped"
    return line


def _baseline_json(checked: commands.Validation | None) -> dict[str, Any] | None:
    return checked.baseline_json() if checked is not None else None


def _warn_baseline(checked: commands.Validation) -> None:
    """On stderr: a base branch that is not here, and each fail rule left unchecked."""
    if checked.baseline is not None and checked.baseline.warning:
        _warn(f"warning: {checked.baseline.warning}")
    for line in checked.unchecked:
        _warn(f"warning: {line}")


def _say_baseline(out: Any, checked: commands.Validation) -> None:
    """Say which record(s) deltas compared with, or why there was none; warn on stderr."""
    _warn_baseline(checked)
    for line in checked.baseline_lines():
        _say(out, line)


def _push_json(stored: commands.StoreResult | None) -> dict[str, Any] | None:
    if stored is not None and stored.push_error is not None:
        return {"remote": stored.remote, "branch": stored.branch, "error": str(stored.push_error)}
    if stored is None or stored.push is None:
        return None
    return {
        "remote": stored.remote,
        "branch": stored.branch,
        "outcome": stored.push.outcome.value,
        "attempts": stored.push.attempts,
        "merges": stored.push.merges,
        "commit": stored.push.commit,
    }


@app.command()
def validate(
    ctx: typer.Context,
    rev: Annotated[
        str | None,
        typer.Argument(
            metavar="REV",
            help="Commit whose record to check (default: HEAD's record, else the newest).",
        ),
    ] = None,
    violations_only: Annotated[
        bool, typer.Option("--violations-only", help="Show only rules that did not pass.")
    ] = False,
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="Output format.", callback=remember_format),
    ] = ReportFormat.TEXT,
    path: PathOpt = None,
) -> None:
    """Check a stored record against the configured thresholds (exit 1 when a `fail` rule fails).

    Without REV, the record of HEAD's commit is checked when there is one, else the newest
    record on the branch (whichever branch wrote it); the output says which.

    Delta rules (delta = true) compare with the newest recorded commit of code.base_branch at
    or before its merge base with the commit (on the base branch: before the commit). In a
    shallow clone, where that history is not here, with the base branch's tip (origin/main)
    when it has a record, else with the commit's parent; the output says which. Each rule
    uses the newest record of that commit holding its metric. A `fail` delta rule with no
    baseline record is shown skipped with a warning saying why, and the gate passes: set
    code.require_baseline = true to fail the gate (exit 1) instead.
    """
    project = _project(ctx, path)
    selected = commands.select_record(project, rev)
    record = selected.record
    checked = commands.check(project, record)
    report = checked.report
    delivered, undelivered = _deliver(project, report, record)
    if fmt is ReportFormat.JSON:
        print_json(
            {
                **thresholds.to_json(report, violations_only=violations_only),
                "commit_sha": record.commit_sha,
                "selected": selected.selection.value,
                "baseline": _baseline_json(checked),
                "notified": delivered,
                "notify_warnings": undelivered,
            }
        )
    elif fmt is ReportFormat.MARKDOWN:
        _warn_baseline(checked)
        text = thresholds.render_markdown(report, violations_only=violations_only)
        lines = checked.baseline_lines()
        if lines:
            text += "\n" + "\n\n".join(lines) + "\n"
        typer.echo(text)
    else:
        out = output.console()
        if selected.describe():
            _say(out, selected.describe())
        _say(out, _record_header(record))
        _say_baseline(out, checked)
        out.print(_threshold_table(report, violations_only))
        for line in delivered:
            _say(out, f"notified {line}")
    if report.exit_code:
        raise typer.Exit(int(ExitCode.FINDINGS))


def _report_corrupt(entry: Any, message: str) -> None:
    """Tell the user a record was skipped because it could not be read."""
    # A message quotes the record's bytes: escaped, so a "[...]" in it is shown, not styled.
    reason = message.removeprefix(f"{entry.path}: ")
    text = escape(f"skipped {entry.path}: {reason}")
    output.err_console().print(f"[yellow]{text}[/yellow]", soft_wrap=True, highlight=False)


def _tree_state(record: Record | None) -> str:
    """How the work tree was when ``record`` was collected: clean, or its flags."""
    if record is None:
        return ""
    flags = [
        flag
        for flag, on in (("dirty", record.worktree_dirty), ("detached HEAD", record.detached_head))
        if on
    ]
    return f"[yellow]{', '.join(flags)}[/yellow]" if flags else "clean"


def _history_json(entry: Any, record: Record | None, problem: str | None) -> dict[str, Any]:
    """One history entry as JSON: the record's full commit sha (``commit``) and flags."""
    return {
        "path": entry.path,
        "timestamp": entry.timestamp.isoformat(),
        "commit": record.commit_sha if record is not None else None,
        "commit_short": entry.sha7,
        "version": entry.version,
        "compressed": entry.compressed,
        "readable": problem is None,
        "error": problem,
        "branch": record.branch if record is not None else None,
        "worktree_dirty": record.worktree_dirty if record is not None else None,
        "detached_head": record.detached_head if record is not None else None,
        "project_path": record.project_path if record is not None else None,
    }


@app.command()
def history(
    ctx: typer.Context,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=0, help="Show at most this many (newest); 0: all."),
    ] = 20,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """List the records on the history branch, newest first.

    The branch is code.branch, by default code-metrics, or code-metrics-<folder> for a project
    in a subfolder of its repository. Records of a dirty work tree or a detached HEAD are
    marked.

    A record that cannot be read (corrupt, or of an unknown schema version) is marked, with
    the reason; every other command skips it.
    """
    project = _project(ctx, path)
    history_ = project.history()
    newest_first = list(reversed(history_.entries()))
    entries = newest_first[:limit] if limit else newest_first
    records, problems = history_.read_entries(entries)
    hint = history_.unfetched_hint() if not newest_first else None
    if hint is not None:
        _warn(f"warning: no records on branch {project.branch!r} here: {hint}")
    if fmt is Format.JSON:
        print_json([_history_json(e, records.get(e.path), problems.get(e.path)) for e in entries])
        return
    table = Table(title=f"history on {project.branch}", title_justify="left")
    # "record": whether the file can be read, not whether its thresholds passed.
    for column in ("timestamp (UTC)", "commit", "version", "record", "work tree"):
        table.add_column(column, no_wrap=True)
    table.add_column("file", overflow="fold")  # a path to copy: wrapped whole, never cut
    for e in entries:
        state = "[red]unreadable[/red]" if e.path in problems else "readable"
        found = records.get(e.path)
        table.add_row(
            f"{e.timestamp:%Y-%m-%d %H:%M:%S}",
            e.sha7,
            e.version,
            state,
            _tree_state(found),
            e.path,
        )
    output.console().print(table)
    for e in entries:
        if e.path in problems:
            _warn(f"unreadable {e.path}: {problems[e.path]}")


@app.command()
def show(
    ctx: typer.Context,
    rev: Annotated[
        str | None,
        typer.Argument(
            metavar="REV",
            help="Commit whose record to show (default: HEAD's record, else the newest).",
        ),
    ] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Show one record (without REV: HEAD's record, else the newest; the output says which)."""
    project = _project(ctx, path)
    selected = commands.select_record(project, rev)
    record = selected.record
    if fmt is Format.JSON:
        print_json(record.to_dict())
        return
    out = output.console()
    if selected.describe():
        _say(out, selected.describe())
    _say(out, _record_header(record))
    _say(out, f"message: {record.commit_message.splitlines()[0] if record.commit_message else ''}")
    _print_metrics(out, record, "metrics")


@app.command()
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(metavar="A", help="The older commit.")],
    b: Annotated[str, typer.Argument(metavar="B", help="The newer commit.")],
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Compare the records of two commits metric by metric."""
    project = _project(ctx, path)
    left, right = commands.record_for(project, a), commands.record_for(project, b)
    rows = commands.difference(left, right)
    if fmt is Format.JSON:
        print_json(
            {
                "a": left.commit_sha,
                "b": right.commit_sha,
                "changes": [{"metric": m, "a": x, "b": y, "change": c} for m, x, y, c in rows],
            }
        )
        return
    table = Table(title=f"{left.commit_sha[:7]} → {right.commit_sha[:7]}", title_justify="left")
    for column in ("metric", a, b, "change"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, x, y, change in rows:
        sign = "" if change is None else ("+" if change > 0 else "")
        table.add_row(
            metric,
            fmt_value(x),
            fmt_value(y),
            "" if change is None else f"{sign}{fmt_value(change)}",
        )
    if rows:
        output.console().print(table)
    else:
        _say(output.console(), "no differences")


SPARK = "▁▂▃▄▅▆▇█"


def _bar(value: float, low: float, high: float, width: int = 30) -> str:
    if high == low:
        return "█" * (width // 2)
    return "█" * max(1, round((value - low) / (high - low) * width))


@app.command()
def trend(
    ctx: typer.Context,
    metric: Annotated[
        str,
        typer.Argument(
            metavar="METRIC", help="Metric path, e.g. pylint.score or coverage.line_coverage."
        ),
    ],
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Last N records; 0: all.")
    ] = 30,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Show how one metric moved across history, as a terminal chart.

    Exits 2 when no record has METRIC, or when it is not a number (a group or a text).
    """
    project = _project(ctx, path)
    points = commands.trend(project, metric, limit, on_error=_report_corrupt)
    if fmt is Format.JSON:
        print_json(
            [
                {"timestamp": p.timestamp.isoformat(), "commit": p.commit_sha, "value": p.value}
                for p in points
            ]
        )
        return
    out = output.console()
    if not points:
        _say(out, f"no numeric values of {metric} in history (it is null in every record)")
        return
    values = [float(p.value) for p in points]
    low, high = min(values), max(values)
    spark = "".join(
        SPARK[0 if high == low else round((v - low) / (high - low) * (len(SPARK) - 1))]
        for v in values
    )
    _say(
        out,
        f"{metric}: {spark}  min {fmt_value(low)}  max {fmt_value(high)}  last {fmt_value(values[-1])}",
    )
    table = Table(show_header=True)
    for column in ("timestamp (UTC)", "commit", "value", ""):
        table.add_column(column, overflow="fold")
    for p in points:
        table.add_row(
            f"{p.timestamp:%Y-%m-%d %H:%M}",
            p.commit_sha[:7],
            fmt_value(p.value),
            _bar(float(p.value), low, high),
        )
    out.print(table)


def _retention(
    ctx: typer.Context,
    action: str,
    older_than: int | None,
    dry_run: bool,
    fmt: Format,
    path: Path | None,
) -> None:
    project = _project(ctx, path)
    plan, result = commands.run_retention(project, action, older_than, dry_run=dry_run)
    if fmt is Format.JSON:
        print_json({"action": action, **retention.plan_to_json(plan), **result.to_dict()})
        return
    _say(output.console(), retention.describe(plan, dry_run=dry_run))


DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")]


@app.command()
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than", metavar="N", min=0, help="Only prune records older than N days."
        ),
    ] = None,
    dry_run: DryRun = False,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Thin out old records: every record younger than code.retention.keep_days (30), one a
    day until code.retention.weekly_after_days (30; when it is larger than keep_days), one an
    ISO week until code.retention.monthly_after_days (90), then one a calendar month.

    The newest readable record of each period is kept. A record that cannot be read
    (corrupt, or of an unknown schema version) is left untouched and named in the output."""
    _retention(ctx, "prune", older_than, dry_run, fmt, path)


@app.command()
def compress(
    ctx: typer.Context,
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            metavar="N",
            min=0,
            help="Compress records older than N days (default: code.retention.compress_after_days).",
        ),
    ] = None,
    dry_run: DryRun = False,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Gzip old records; every command still reads them."""
    _retention(ctx, "compress", older_than, dry_run, fmt, path)


@app.command()
def rotate(
    ctx: typer.Context,
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            metavar="N",
            min=0,
            help="Delete records older than N days (default: code.retention.max_age_days).",
        ),
    ] = None,
    dry_run: DryRun = False,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Delete records beyond the maximum age, warning first about those close to it."""
    _retention(ctx, "rotate", older_than, dry_run, fmt, path)


@app.command()
def migrate(
    ctx: typer.Context,
    dry_run: DryRun = False,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Rewrite the branch's records of older schema versions to the current one, in one commit."""
    project = _project(ctx, path)
    report = project.history().migrate_all(dry_run=dry_run)
    if fmt is Format.JSON:
        print_json(report.to_dict())
        return
    _say(output.console(), report.describe())


@app.command(name="collectors")
def list_collectors(fmt: FormatOpt = Format.TEXT) -> None:
    """List the collectors, whether each can run here, and the metric keys each records."""
    rows = commands.describe_collectors()
    if fmt is Format.JSON:
        print_json(rows)
        return
    table = Table(title="collectors", title_justify="left")
    for column in ("name", "status", "keys", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = "[green]ready[/green]" if row["ready"] else f"[red]{row['problem']}[/red]"
        # Each key with what it means (a threshold or a trend names these).
        keys = "\n".join(
            escape(f"{m['key']}: {m['description']}" if m["description"] else m["key"])
            for m in row["metrics"]
        )
        table.add_row(row["name"], status, keys, row["description"])
    output.console().print(table)
