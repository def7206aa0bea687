"""How ``plimsoll db migrate up --dry-run`` prints its report, as text or JSON.

Every string the user or the server controls (migration names, statement kinds, relation
and sequence names, error messages) is printed as a rich ``Text``, never parsed as markup,
and with emoji codes off: a table named ``[bold]x:up:`` prints as itself.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.text import Text

from plimsoll.cli import output
from plimsoll.db.dry_run import DryRunReport, SequenceAdvance


def dry_run_data(report: DryRunReport) -> dict[str, Any]:
    """The report as JSON-ready data: ``rolled_back``, ``failed``, ``migrations`` (each
    statement's ``locks`` are those it newly took) and ``sequences_advanced``."""
    return {
        "rolled_back": report.rolled_back,
        "failed": report.failed,
        "migrations": [asdict(m) for m in report.migrations],
        "sequences_advanced": [asdict(s) for s in report.sequences],
    }


def _value(value: int | None) -> str:
    return "unused" if value is None else str(value)


def _advance(sequence: SequenceAdvance) -> str:
    return f"{sequence.qualified} {_value(sequence.before)} -> {_value(sequence.after)}"


def outcome(report: DryRunReport) -> str:
    """The closing line, plain text: what was rolled back and what was not."""
    if not report.rolled_back:
        return "not rolled back"
    if not report.sequences:
        return "rolled back: nothing was kept"
    moved = ", ".join(_advance(s) for s in report.sequences)
    return f"rolled back; sequences advanced: {moved}; PostgreSQL never rolls them back"


def render_text(report: DryRunReport, console: Console) -> None:
    """Print the report on ``console``, one line per migration and per statement."""

    def say(text: str, style: str = "") -> None:
        # A Text is printed as it is: no markup, no emoji codes, whatever the names hold.
        console.print(Text(text, style=style), emoji=False)

    if not report.migrations:
        say("nothing to do")
    for migration in report.migrations:
        say(f"{migration.version}_{migration.name}", "bold")
        if not migration.dry_runnable:
            say(f"  not dry-runnable: {migration.reason}", "yellow")
        for st in migration.statements:
            locks = (
                ", ".join(f"{lock.mode} on {lock.relation}" for lock in st.locks if lock.relation)
                or "-"
            )
            rows = "" if st.rows is None else f", {st.rows} rows"
            say(f"  line {st.line} {st.kind}: {st.duration_ms:.1f} ms{rows}; locks: {locks}")
        if migration.error:
            say(f"  {migration.error}", "red")
    say(outcome(report), "yellow" if report.sequences else "")


def render_dry_run(report: DryRunReport, fmt: str, console: Console | None = None) -> None:
    """Print ``report`` as ``fmt`` (``text`` or ``json``; the CLI's ``Format`` values).

    JSON goes to stdout like every command's; text to ``console`` (default: stdout's).
    """
    if fmt == "json":
        output.print_json(dry_run_data(report))
    else:
        render_text(report, console or output.console())
