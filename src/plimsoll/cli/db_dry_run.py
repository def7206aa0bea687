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
from plimsoll.db.dry_run import (
    DryRunReport,
    Execution,
    Lock,
    LockState,
    SequenceMove,
    StatementRun,
    verdict,
)


def dry_run_data(report: DryRunReport) -> dict[str, Any]:
    """The report as JSON-ready data.

    ``rolled_back``, ``failed``, ``exit_code`` (0, or 1 when it failed) and ``exit_reason``
    (why, in one line, as the text report's closing ``exit 1:`` line; null when it did not),
    ``migrations`` (each statement's ``execution``: ``as-written``, ``equivalent`` (its SQL
    in ``equivalent``) or ``skipped``, with a ``note``; its ``locks``: every lock it needs,
    each with ``state`` ``new``, shown new by ``pg_locks``, ``held``, held since
    ``held_since``, or ``documented``, what the real statement takes where an equivalent ran,
    whose own locks are in ``equivalent_locks``; ``transient_locks`` counts those on
    relations it created and dropped), ``stopped_at`` and ``not_run`` (the migrations after
    it, not tried), and ``sequences_moved`` (each with ``backwards``: true fails the dry run).
    """
    reason = verdict(report)
    return {
        "rolled_back": report.rolled_back,
        "failed": report.failed,
        "exit_code": 1 if report.failed else 0,
        "exit_reason": reason if report.failed else None,
        "migrations": [asdict(m) for m in report.migrations],
        "stopped_at": report.stopped_at,
        "not_run": list(report.not_run),
        "sequences_moved": [asdict(s) for s in report.sequences],
    }


def _value(value: int | None) -> str:
    return "unused" if value is None else str(value)


def _move(sequence: SequenceMove) -> str:
    return f"{sequence.qualified} {_value(sequence.before)} -> {_value(sequence.after)}"


def outcome(report: DryRunReport) -> str:
    """The closing line, plain text: what was rolled back and what was not."""
    if not report.rolled_back:
        return "not rolled back"
    if not report.sequences:
        return "rolled back: nothing was kept"
    moved = ", ".join(_move(s) for s in report.sequences)
    return f"rolled back; sequences moved: {moved}; PostgreSQL never rolls them back"


def backwards_line(sequence: SequenceMove) -> str:
    """The error line of a sequence the dry run moved backwards."""
    following = "" if sequence.next is None else f" (next value {sequence.next})"
    return (
        f"error: sequence {sequence.qualified} moved backwards:"
        f" {_value(sequence.before)} -> {_value(sequence.after)}{following};"
        " inserts may collide with existing keys. PostgreSQL never rolls it back and the"
        " dry run does not set it (a live application may be using it): check it and set it"
        " forward with setval"
    )


def _lock(lock: Lock) -> str:
    text = f"{lock.mode} on {lock.relation}"
    if lock.state is LockState.HELD:
        text += f" (held since {lock.held_since})" if lock.held_since else " (held already)"
    elif lock.state is LockState.DOCUMENTED:
        text += " (the real statement's, not observed)"
    return text


def locks_text(statement: StatementRun) -> str:
    """A statement's relation locks in one line (``-`` for none)."""
    text = ", ".join(_lock(lock) for lock in statement.locks if lock.relation) or "-"
    if statement.transient_locks:
        count = statement.transient_locks
        text += (
            f" (+{count} on {'relations' if count > 1 else 'a relation'} it created and dropped)"
        )
    return text


def render_text(report: DryRunReport, console: Console) -> None:
    """Print the report on ``console``, one line per migration and per statement."""

    def say(text: str, style: str = "") -> None:
        # A Text is printed as it is: no markup, no emoji codes, whatever the names hold;
        # one line per item, never cut at the console's width (CI logs are searched).
        console.print(Text(text, style=style), emoji=False, soft_wrap=True)

    if not report.migrations:
        say("nothing to do")
    for migration in report.migrations:
        say(migration.label, "bold")
        if not migration.dry_runnable:
            say(f"  not dry-runnable: {migration.reason}", "yellow")
        for st in migration.statements:
            say(statement_line(st))
            if st.note:
                say(f"    note: {st.note}", "yellow")
        if migration.error:
            say(f"  {migration.error}", "red")
    for sequence in report.backwards:
        say(backwards_line(sequence), "red")
    say(outcome(report), "yellow" if report.sequences else "")
    reason = verdict(report)
    if report.failed and reason:
        say(f"exit 1: {reason}", "red")


def statement_line(st: StatementRun) -> str:
    """A statement's line: how it ran, its time, rows and locks."""
    if st.execution is Execution.SKIPPED:
        return f"  line {st.line} {st.kind}: skipped"
    rows = "" if st.rows is None else f", {st.rows} rows"
    how = ", dry-run as its transactional equivalent" if st.equivalent else ""
    return (
        f"  line {st.line} {st.kind}{how}: {st.duration_ms:.1f} ms{rows}; locks: {locks_text(st)}"
    )


def render_dry_run(report: DryRunReport, fmt: str, console: Console | None = None) -> None:
    """Print ``report`` as ``fmt`` (``text`` or ``json``; the CLI's ``Format`` values).

    JSON goes to stdout like every command's; text to ``console`` (default: stdout's).
    """
    if fmt == "json":
        output.print_json(dry_run_data(report))
    else:
        render_text(report, console or output.console())
