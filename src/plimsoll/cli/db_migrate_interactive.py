"""``plimsoll db migrate up --interactive`` and ``--yes --max-risk LEVEL``: risk-aware ``up``.

``--interactive`` walks the pending migrations in the terminal (:class:`plimsoll.db.wizard.Wizard`):
each one's preview and risk, then apply, dry-run first, skip or abort; a migration at HIGH or
above is applied only once the name of the table it locks is typed; live progress per statement
while it applies; a summary at the end. It needs a terminal: without one (stdin is not a TTY) it
says so and exits 2. It exits 1 when a migration failed or the walk was aborted.

``--yes --max-risk LEVEL`` is the same decision without a terminal
(:func:`plimsoll.db.wizard.gate`): every pending migration is assessed; if one is above LEVEL
nothing is applied and the exit code is 1, else they are all applied.

``db_migrate.up`` calls :func:`interactive_up` when one of these options is given.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from plimsoll.cli import output
from plimsoll.cli.interrupt import sigterm_interrupts
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state
from plimsoll.core.errors import ExitCode, UsageError
from plimsoll.core.paths import STATE_DIR
from plimsoll.db.preview import MigrationPreview, level_markup, render_preview
from plimsoll.db.wizard import (
    Choice,
    GateResult,
    MigratorEngine,
    Notice,
    Outcome,
    StatementProgress,
    Summary,
    Wizard,
    gate,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from plimsoll.db.dry_run import Lock as DryLock
    from plimsoll.db.dry_run import MigrationRun as DryMigrationRun
    from plimsoll.db.risk import Level

# The key that answers each choice, and how the choice reads in the question.
_KEYS = {Choice.APPLY: "a", Choice.DRY_RUN: "d", Choice.SKIP: "s", Choice.ABORT: "q"}
_WORDS = {
    Choice.APPLY: "(a)pply",
    Choice.DRY_RUN: "(d)ry-run first",
    Choice.SKIP: "(s)kip",
    Choice.ABORT: "(q) abort",
}
_ALIASES = {
    "a": Choice.APPLY,
    "apply": Choice.APPLY,
    "d": Choice.DRY_RUN,
    "dry": Choice.DRY_RUN,
    "dry-run": Choice.DRY_RUN,
    "s": Choice.SKIP,
    "skip": Choice.SKIP,
    "q": Choice.ABORT,
    "quit": Choice.ABORT,
    "abort": Choice.ABORT,
}
_STYLES = {
    Notice.INFO: "",
    Notice.SUCCESS: "green",
    Notice.WARNING: "yellow",
    Notice.ERROR: "bold red",
}
_OUTCOME_STYLES = {
    Outcome.APPLIED: "green",
    Outcome.SKIPPED: "yellow",
    Outcome.FAILED: "bold red",
    Outcome.ABORTED: "red",
    Outcome.NOT_REACHED: "dim",
}


def _short(text: str, width: int = 50) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _named(locks: Sequence[DryLock]) -> list[DryLock]:
    # A rewrite also locks the new files and TOAST relations, seen only by their number.
    return [lock for lock in locks if lock.relation and not lock.relation.isdigit()]


def _lock_text(mode: str, relation: str) -> str:
    from plimsoll.db.risk import LockLevel

    level = LockLevel.from_pg_locks(mode)
    return f"{level.value if level else mode} on {relation}"


class _StatementBar:
    """A rich progress task advanced by the migrator's statement hooks."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task

    def started(self, migration: str, line: int, text: str) -> None:
        """Show the statement now running."""
        # Refreshed at once: a statement shorter than the display's tick would never show.
        self.progress.update(
            self.task,
            description=f"applying {migration} line {line}: {_short(text)}",
            refresh=True,
        )

    def finished(self, line: int) -> None:
        """Count the statement as done."""
        self.progress.advance(self.task)


class TerminalIO:
    """The wizard's terminal: rich output on ``console``, answers read from stdin."""

    def __init__(self, console: Console, root: Path | None = None) -> None:
        self.console = console
        self.root = root

    def show_preview(self, preview: MigrationPreview, position: int, total: int) -> None:
        """Print the preview panel."""
        self.console.print()
        self.console.print(render_preview(preview, root=self.root, position=(position, total)))

    def choose(self, preview: MigrationPreview, allowed: Sequence[Choice]) -> Choice:
        """Ask until a valid answer; end of input aborts."""
        keys = "/".join(_KEYS[c] for c in allowed)
        question = f"{preview.label}: {', '.join(_WORDS[c] for c in allowed)}? [{keys}] "
        while True:
            answer = self.ask(question)
            if answer is None:
                return Choice.ABORT
            choice = _ALIASES.get(answer.strip().lower())
            if choice in allowed:
                assert choice is not None
                return choice
            self.console.print(f"answer one of {keys}", style="yellow", markup=False)

    def ask(self, prompt: str) -> str | None:
        """Read one line; None at end of input."""
        try:
            return self.console.input(Text(prompt, style="bold"))
        except EOFError:
            self.console.print()
            return None

    def notice(self, text: str, kind: Notice = Notice.INFO) -> None:
        """Print a message in the style of its kind."""
        self.console.print(text, style=_STYLES[kind], markup=False, soft_wrap=True)

    def show_dry_run(self, preview: MigrationPreview, run: DryMigrationRun) -> None:
        """Print what the dry run did, statement by statement, against the prediction."""
        if not run.dry_runnable:
            self.notice(f"not dry-runnable: {run.reason}", Notice.WARNING)
            return
        table = Table(
            title=f"dry run of {preview.label}", title_justify="left", box=None, pad_edge=False
        )
        for column in ("line", "statement", "took", "rows", "locks"):
            table.add_column(column, overflow="fold")
        for st in run.statements:
            # Every lock the statement needs; one the dry run's transaction held already
            # (an earlier statement took it) is marked: the real up takes it anew.
            locks = ", ".join(
                _lock_text(lock.mode, lock.relation)
                + (f" (held since {lock.held_since})" if lock.held_since else "")
                for lock in _named(st.locks)
            )
            table.add_row(
                str(st.line),
                st.kind + (f" ({st.execution.value})" if st.note else ""),
                "-" if st.execution == "skipped" else f"{st.duration_ms:.1f} ms",
                "-" if st.rows is None else str(st.rows),
                locks or "-",
            )
        self.console.print(table)
        for st in run.statements:
            # Run as a transactional equivalent, or skipped: its locks are the real
            # statement's, not those observed (the note says what differs).
            if st.note:
                self.notice(f"line {st.line}: {st.note}", Notice.WARNING)
        took = sum(st.duration_ms for st in run.statements)
        predicted = f" (predicted {preview.risk.duration.text()})" if preview.risk else ""
        if run.error:
            self.notice(f"dry run failed: {run.error}", Notice.ERROR)
        else:
            self.notice(f"dry run took {took:.0f} ms{predicted}", Notice.SUCCESS)
        from plimsoll.cli.db_dry_run import backwards_line
        from plimsoll.db.dry_run_sequences import describe

        for sequence in run.sequences:
            if sequence.backwards:
                self.notice(backwards_line(sequence), Notice.ERROR)
        if run.sequences:
            self.notice(
                f"rolled back; sequences moved: {describe(run.sequences)} (never rolled back)"
            )
        else:
            self.notice("rolled back: nothing was kept")

    @contextmanager
    def applying(self, preview: MigrationPreview, statements: int) -> Iterator[StatementProgress]:
        """A progress bar over the migration's statements while it applies."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        with bar:
            task = bar.add_task(f"applying {preview.label}", total=max(statements, 1))
            yield _StatementBar(bar, task)
            bar.update(task, completed=max(statements, 1), description=f"{preview.label} done")

    def show_summary(self, summary: Summary) -> None:
        """Print what became of each pending migration, then one line."""
        if summary.steps:
            table = Table(title="summary", title_justify="left", box=None, pad_edge=False)
            for column in ("migration", "risk", "outcome", "took", "predicted", "note"):
                table.add_column(column, overflow="fold")
            for step in summary.steps:
                outcome = step.outcome.value + (" (after a dry run)" if step.dry_run else "")
                table.add_row(
                    step.label,
                    level_markup(step.level, step.score),
                    Text(outcome, style=_OUTCOME_STYLES[step.outcome]),
                    "-" if step.duration_ms is None else f"{step.duration_ms} ms",
                    step.predicted or "-",
                    Text(step.detail),
                )
            self.console.print()
            self.console.print(table)
        self.console.print(summary.line(), markup=False, style="bold")


def _max_level(max_risk: str | None) -> Level | None:
    from plimsoll.db.risk import Level

    if max_risk is None:
        return None
    try:
        return Level.parse(max_risk)
    except ValueError as exc:
        raise UsageError(f"--max-risk: {exc}") from None


def interactive_up(
    ctx: typer.Context,
    env: str | None,
    yes: bool,
    max_risk: str | None,
    fmt: Format,
    *,
    interactive: bool = True,
    target: str | None = None,
    allow_changed: bool = False,
    path: Path | None = None,
) -> None:
    """Apply pending migrations after their risk: the wizard, or with ``yes`` the gate.

    ``interactive`` (``--interactive``) needs stdin to be a terminal (else exit 2); ``yes``
    (``--yes``) never asks, and with ``max_risk`` (``--max-risk LEVEL``) applies nothing and
    exits 1 when a pending migration is above LEVEL.
    """
    from plimsoll.cli.db_migrate import _migrator
    from plimsoll.cli.db_risk import CACHE_NAME, _risk_config

    level = _max_level(max_risk)
    if interactive and yes:
        raise UsageError(
            "--interactive asks before each migration and --yes never asks: give one of them"
        )
    if not interactive and not yes:
        raise UsageError("--max-risk needs --yes (the non-interactive gate) or --interactive")
    if interactive and not sys.stdin.isatty():
        raise UsageError(
            "--interactive needs a terminal, and stdin is not one; "
            "in a script, use --yes --max-risk LEVEL"
        )
    loaded = state(ctx).config(start=(path or Path.cwd()).resolve())
    migrator = _migrator(ctx, env, path)
    show_progress = interactive or (fmt is Format.TEXT and output.interactive())
    engine = MigratorEngine(
        migrator,
        risk_config=_risk_config(loaded),
        lint_config=loaded.config.db.lint,
        calibration_cache=loaded.root / STATE_DIR / "cache" / CACHE_NAME,
        target=target,
        allow_changed=allow_changed,
        progress=show_progress,
    )
    try:
        with sigterm_interrupts():
            if interactive:
                _walk(engine, level, fmt, loaded.root)
            else:
                _gate(engine, level, fmt, show_progress)
    except KeyboardInterrupt:
        output.err_console().print(
            "plimsoll: interrupted: nothing more is applied; a migration being applied was"
            " rolled back (unless it ran outside a transaction)",
            markup=False,
        )
        raise typer.Exit(130) from None
    finally:
        if migrator.store is not None:
            migrator.store.close()


def _walk(engine: MigratorEngine, level: Level | None, fmt: Format, root: Path) -> None:
    # With --format json the conversation goes to stderr, leaving stdout to the JSON summary.
    screen = output.err_console() if fmt is Format.JSON else output.console()
    summary = Wizard(engine, TerminalIO(screen, root), max_risk=level).run()
    if fmt is Format.JSON:
        print_json(summary.as_dict())
    if summary.exit_code is not ExitCode.OK:
        raise typer.Exit(int(summary.exit_code))


def _gate(engine: MigratorEngine, level: Level | None, fmt: Format, show_progress: bool) -> None:
    screen = output.err_console()
    announce = (
        (lambda: screen.print("calibrating this server once (cached)")) if show_progress else None
    )
    with _gate_progress(screen, show_progress) as progress:
        result = gate(engine, level, on_calibrate=announce, progress=progress)
    if fmt is Format.JSON:
        print_json(result.as_dict())
    else:
        _render_gate(result)
    if not result.passed:
        raise typer.Exit(int(ExitCode.FINDINGS))


@contextmanager
def _gate_progress(screen: Console, enabled: bool) -> Iterator[StatementProgress | None]:
    if not enabled:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=screen,
        transient=True,
    )
    with bar:
        yield _StatementBar(bar, bar.add_task("applying", total=None))


def _render_gate(result: GateResult) -> None:
    out = output.console()
    if result.report is not None:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("migration", "risk", "blocks", "blocked for", "runs"):
            table.add_column(column, overflow="fold")
        for m in result.report.migrations:
            holds = ", ".join(f"{h.blocks} {'of' if h.rows else 'on'} {h.table}" for h in m.holds)
            table.add_row(
                m.label,
                level_markup(m.level.value, m.score.value),
                holds or "-",
                m.lock_seconds.text(),
                m.duration.text(),
            )
        out.print(table)
    if not result.passed:
        assert result.max_risk is not None
        above = ", ".join(
            f"{m.label} ({'will fail' if m.failures else m.level.value})" for m in result.above
        )
        out.print(
            f"above --max-risk {result.max_risk.value}: {above}; nothing applied",
            style="bold red",
            markup=False,
            soft_wrap=True,
        )
        return
    steps = result.run.steps if result.run is not None else []
    if not steps:
        out.print("nothing to do")
        return
    if result.max_risk is not None:
        out.print(f"every pending migration is at or below {result.max_risk.value}: applied")
    for step in steps:
        how = "" if step.transactional else " (outside a transaction)"
        out.print(f"  up {step.version}_{step.name}  {step.duration_ms} ms{how}", markup=False)
