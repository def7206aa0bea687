"""The interactive migration wizard, as logic apart from the terminal.

:class:`Wizard` walks the pending migrations one by one. For each it shows the preview
(:mod:`plimsoll.db.preview`: SQL, locks, risk, estimated time, hooks, way down, advice) and asks
what to do:

* **apply** it now, in its own transaction (a run of its own, with the configured hooks),
  with live progress per statement; a migration at HIGH or above must first be confirmed by
  typing the name of the table it locks (an empty answer goes back to the question);
* **dry-run first**: run it in a transaction that is rolled back and show what it did
  (timings, locks, rows), then ask again;
* **skip** it: it stays pending, and the next one is offered (it will then run out of order:
  the wizard says so);
* **abort**: stop here; nothing after is applied.

A migration above ``max_risk`` can be dry-run or skipped, not applied. A migration that fails
ends the walk (later ones may depend on it). The :class:`Summary` at the end lists what became
of each pending migration.

:func:`gate` is the non-interactive counterpart (``--yes --max-risk LEVEL``): assess every
pending migration, apply them all only when none is above the level.

The terminal is behind :class:`WizardIO` and the database behind :class:`Engine`, so the flow is
tested with scripted answers; :class:`MigratorEngine` is the engine over a real
:class:`~plimsoll.db.migrator.Migrator`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from plimsoll.core.errors import ExitCode, UsageError
from plimsoll.db import migrations as files
from plimsoll.db.connection import connect_url
from plimsoll.db.hooks import DbPhase, StatementContext
from plimsoll.db.preview import INTERNAL_HOOK_SOURCE, MigrationPreview, build_preview
from plimsoll.db.risk.levels import Level

if TYPE_CHECKING:
    from plimsoll.core.config import LintConfig
    from plimsoll.core.hooks import HookRegistry
    from plimsoll.db.dry_run import MigrationRun as DryMigrationRun
    from plimsoll.db.migrator import Migrator, RunReport
    from plimsoll.db.risk import MigrationRisk, RiskConfig, RiskReport

#: The level from which applying a migration must be confirmed by typing its table's name.
CONFIRM_FROM = Level.HIGH


class Choice(StrEnum):
    """What to do with the migration on screen."""

    APPLY = "apply"
    DRY_RUN = "dry-run"
    SKIP = "skip"
    ABORT = "abort"


class Outcome(StrEnum):
    """What became of a pending migration."""

    APPLIED = "applied"
    SKIPPED = "skipped"
    FAILED = "failed"
    ABORTED = "aborted"
    NOT_REACHED = "not reached"


class Notice(StrEnum):
    """How a message to the user is shown."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class StatementProgress(Protocol):
    """Told as each statement of a migration being applied starts and ends."""

    def started(self, migration: str, line: int, text: str) -> None:
        """A statement of ``migration`` (at ``line`` of its file) starts."""

    def finished(self, line: int) -> None:
        """The statement at ``line`` succeeded."""


class WizardIO(Protocol):
    """The terminal side of the wizard: showing things and reading answers."""

    def show_preview(self, preview: MigrationPreview, position: int, total: int) -> None:
        """Show the preview of the ``position``-th of ``total`` pending migrations."""

    def choose(self, preview: MigrationPreview, allowed: Sequence[Choice]) -> Choice:
        """Ask what to do with ``preview``'s migration; the answer is one of ``allowed``.

        End of input counts as :attr:`Choice.ABORT`.
        """

    def ask(self, prompt: str) -> str | None:
        """Ask for a line of text; None at end of input."""

    def notice(self, text: str, kind: Notice = Notice.INFO) -> None:
        """Tell the user something."""

    def show_dry_run(self, preview: MigrationPreview, run: DryMigrationRun) -> None:
        """Show what a dry run of ``preview``'s migration did."""

    def applying(
        self, preview: MigrationPreview, statements: int
    ) -> AbstractContextManager[StatementProgress]:
        """A live progress display while ``preview``'s migration is applied."""

    def show_summary(self, summary: Summary) -> None:
        """Show what became of each pending migration."""


class Engine(Protocol):
    """The database side of the wizard."""

    @property
    def registry(self) -> HookRegistry | None:
        """The hooks the migrator runs (for the previews)."""

    def pending(self) -> list[files.Migration]:
        """The pending migrations to walk, in order; problems to tell go to :attr:`notices`."""

    @property
    def notices(self) -> list[str]:
        """Warnings found by :meth:`pending` (an INVALID index, ...)."""

    def assess(
        self, migrations: Sequence[files.Migration], on_calibrate: Callable[[], None] | None
    ) -> RiskReport:
        """The risk of ``migrations``, applied in that order."""

    def dry_run(self, migration: files.Migration) -> DryMigrationRun:
        """Run ``migration`` in a transaction that is rolled back."""

    def apply(
        self, migrations: Sequence[files.Migration], progress: StatementProgress | None
    ) -> RunReport:
        """Apply exactly ``migrations``, in order, each in its own transaction."""


@dataclass(frozen=True)
class StepOutcome:
    """One pending migration in the summary."""

    label: str
    outcome: Outcome
    level: str | None = None
    score: float | None = None
    predicted: str | None = None
    duration_ms: int | None = None
    dry_run: bool = False
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "label": self.label,
            "outcome": self.outcome.value,
            "level": self.level,
            "score": None if self.score is None else round(self.score, 4),
            "predicted": self.predicted,
            "duration_ms": self.duration_ms,
            "dry_run": self.dry_run,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Summary:
    """What a walk through the pending migrations did."""

    steps: tuple[StepOutcome, ...] = ()

    def count(self, outcome: Outcome) -> int:
        """How many migrations ended with ``outcome``."""
        return sum(1 for step in self.steps if step.outcome is outcome)

    @property
    def aborted(self) -> bool:
        """Whether the user stopped the walk."""
        return self.count(Outcome.ABORTED) > 0

    @property
    def failed(self) -> bool:
        """Whether a migration failed (and was rolled back)."""
        return self.count(Outcome.FAILED) > 0

    @property
    def exit_code(self) -> ExitCode:
        """1 when a migration failed or the walk was aborted, else 0."""
        return ExitCode.FINDINGS if self.failed or self.aborted else ExitCode.OK

    def line(self) -> str:
        """One line: ``applied 2, skipped 1, aborted at 0004_x, 1 not reached``."""
        if not self.steps:
            return "nothing to do: no pending migrations"
        parts = [f"applied {self.count(Outcome.APPLIED)}", f"skipped {self.count(Outcome.SKIPPED)}"]
        for step in self.steps:
            if step.outcome in (Outcome.FAILED, Outcome.ABORTED):
                parts.append(f"{step.outcome.value} at {step.label}")
        if self.count(Outcome.NOT_REACHED):
            parts.append(f"{self.count(Outcome.NOT_REACHED)} not reached")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``--format json``)."""
        return {
            "steps": [step.as_dict() for step in self.steps],
            "applied": self.count(Outcome.APPLIED),
            "skipped": self.count(Outcome.SKIPPED),
            "failed": self.failed,
            "aborted": self.aborted,
            "summary": self.line(),
        }


def _outcome(
    preview: MigrationPreview, outcome: Outcome, *, dried: bool = False, **extra: Any
) -> StepOutcome:
    risk = preview.risk
    return StepOutcome(
        label=preview.label,
        outcome=outcome,
        level=preview.level,
        score=risk.score.value if risk is not None else None,
        predicted=risk.duration.text() if risk is not None else None,
        dry_run=dried,
        **extra,
    )


@dataclass
class Wizard:
    """Walks the pending migrations: preview, then apply, dry-run first, skip or abort.

    ``max_risk``: migrations above this level cannot be applied (dry-run and skip remain);
    ``confirm_from``: from this level, applying needs the table's name typed.
    """

    engine: Engine
    io: WizardIO
    max_risk: Level | None = None
    confirm_from: Level = CONFIRM_FROM
    _skipped: list[str] = field(default_factory=list, init=False, repr=False)

    def run(self) -> Summary:
        """Walk every pending migration and return (and show) the summary."""
        self._skipped = []
        plan = self.engine.pending()
        for text in self.engine.notices:
            self.io.notice(text, Notice.WARNING)
        if not plan:
            summary = Summary()
            self.io.show_summary(summary)
            return summary
        report = self.engine.assess(plan, self._calibrating)
        risks: dict[str, MigrationRisk] = {m.label: m for m in report.migrations}
        previews = [
            build_preview(migration, risks.get(migration.label), self.engine.registry)
            for migration in plan
        ]
        steps: list[StepOutcome] = []
        for position, preview in enumerate(previews, start=1):
            step = self._step(preview, position, len(previews))
            steps.append(step)
            if step.outcome in (Outcome.FAILED, Outcome.ABORTED):
                steps.extend(_outcome(rest, Outcome.NOT_REACHED) for rest in previews[position:])
                break
        summary = Summary(tuple(steps))
        self.io.show_summary(summary)
        return summary

    def _calibrating(self) -> None:
        self.io.notice("calibrating this server once: timing a scratch table (cached)")

    def _blocked(self, preview: MigrationPreview) -> bool:
        if self.max_risk is None or preview.risk is None:
            return False
        return preview.risk.level.rank > self.max_risk.rank

    def _needs_confirmation(self, preview: MigrationPreview) -> bool:
        # Not assessed: nothing says it is safe, so it is confirmed like a risky one.
        return preview.risk is None or preview.risk.level.at_least(self.confirm_from)

    def _step(self, preview: MigrationPreview, position: int, total: int) -> StepOutcome:
        self.io.show_preview(preview, position, total)
        if self._skipped:
            self.io.notice(
                f"skipped before: {', '.join(self._skipped)}; applying {preview.label} runs it "
                "before them (they stay pending, and run after it on the next `up`)",
                Notice.WARNING,
            )
        allowed = [Choice.APPLY, Choice.DRY_RUN, Choice.SKIP, Choice.ABORT]
        if self._blocked(preview):
            assert self.max_risk is not None
            allowed.remove(Choice.APPLY)
            self.io.notice(
                f"{preview.label} is {preview.level}, above --max-risk {self.max_risk.value}: "
                "it can be dry-run or skipped, not applied",
                Notice.WARNING,
            )
        dried = False
        while True:
            choice = self.io.choose(preview, allowed)
            if choice is Choice.DRY_RUN:
                dried = self._dry_run(preview) or dried
            elif choice is Choice.SKIP:
                self._skipped.append(preview.label)
                self.io.notice(f"skipped {preview.label}: it stays pending")
                return _outcome(preview, Outcome.SKIPPED, dried=dried)
            elif choice is Choice.ABORT:
                self.io.notice(f"aborted at {preview.label}: nothing more is applied")
                return _outcome(preview, Outcome.ABORTED, dried=dried)
            elif choice is Choice.APPLY and Choice.APPLY in allowed:
                if self._needs_confirmation(preview) and not self._confirmed(preview):
                    continue
                return self._apply(preview, dried)

    def _dry_run(self, preview: MigrationPreview) -> bool:
        """Dry-run the migration on screen; whether it could be (CONCURRENTLY cannot)."""
        risk = preview.risk
        if risk is not None and risk.holds:
            tables = ", ".join(hold.table for hold in risk.holds)
            self.io.notice(
                f"the dry run takes the same locks on {tables} for as long as it runs, "
                "then rolls back",
                Notice.WARNING,
            )
        run = self.engine.dry_run(preview.migration)
        self.io.show_dry_run(preview, run)
        return run.dry_runnable

    def _confirmed(self, preview: MigrationPreview) -> bool:
        """Whether the user typed the name asked for; an empty answer or ``q`` goes back."""
        expected = preview.confirm_name
        what = "the table it locks" if expected != preview.label else "its label"
        level = preview.level or "not assessed"
        undo = "" if preview.migration.has_down else "; it has no down migration"
        while True:
            typed = self.io.ask(
                f"{preview.label} is {level}: type {what}, {expected}, to apply it"
                f" (empty or q: go back{undo}): "
            )
            answer = (typed or "").strip()
            if answer == expected:
                return True
            if answer.lower() in ("", "q", "quit", "n", "no"):
                self.io.notice(f"not confirmed: {preview.label} was not applied")
                return False
            self.io.notice(
                f"{answer!r} is not {expected!r}: {preview.label} was not applied", Notice.WARNING
            )

    def _apply(self, preview: MigrationPreview, dried: bool) -> StepOutcome:
        from plimsoll.core.hooks import HookFailed
        from plimsoll.db.migrator import MigrationError

        count = len(preview.risk.statements) if preview.risk is not None else 1
        try:
            with self.io.applying(preview, count) as progress:
                report = self.engine.apply([preview.migration], progress)
        except (MigrationError, HookFailed) as exc:
            self.io.notice(str(exc), Notice.ERROR)
            return _outcome(preview, Outcome.FAILED, dried=dried, detail=str(exc))
        if not report.steps:
            detail = "already applied meanwhile (by another migrator)"
            self.io.notice(f"{preview.label}: {detail}", Notice.WARNING)
            return _outcome(preview, Outcome.SKIPPED, dried=dried, detail=detail)
        took = report.steps[0].duration_ms
        self.io.notice(f"applied {preview.label} in {took} ms", Notice.SUCCESS)
        return _outcome(preview, Outcome.APPLIED, dried=dried, duration_ms=took)


# --- the non-interactive gate -----------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """What ``--yes --max-risk LEVEL`` decided, and the run when it applied."""

    max_risk: Level | None
    report: RiskReport | None
    above: tuple[MigrationRisk, ...]
    run: RunReport | None

    @property
    def passed(self) -> bool:
        """Whether no pending migration was above the level (and so they were applied)."""
        return not self.above

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``--format json``)."""
        migrations = self.report.migrations if self.report is not None else ()
        return {
            "max_risk": self.max_risk.value if self.max_risk else None,
            "passed": self.passed,
            "migrations": [
                {
                    "label": m.label,
                    "level": m.level.value,
                    "score": round(m.score.value, 4),
                    "tables": list(m.tables),
                    "lock_seconds": m.lock_seconds.as_dict(),
                    "duration": m.duration.as_dict(),
                    "above": m in self.above,
                }
                for m in migrations
            ],
            "above": [m.label for m in self.above],
            "applied": [vars(step) for step in self.run.steps] if self.run else [],
        }


def gate(
    engine: Engine,
    max_risk: Level | None,
    *,
    on_calibrate: Callable[[], None] | None = None,
    progress: StatementProgress | None = None,
) -> GateResult:
    """Assess every pending migration; apply them all unless one is above ``max_risk``.

    Nothing is applied when one is above: a run stopping half-way is what the gate is for
    avoiding. Without ``max_risk`` everything pending is applied, unassessed.
    """
    plan = engine.pending()
    if not plan:
        return GateResult(max_risk, None, (), None)
    if max_risk is None:
        return GateResult(None, None, (), engine.apply(plan, progress))
    report = engine.assess(plan, on_calibrate)
    # A migration that will fail (a missing table, a type change under a view) is above any
    # level: applying the run would stop there.
    above = tuple(m for m in report.migrations if m.level.rank > max_risk.rank or m.failures)
    if above:
        return GateResult(max_risk, report, above, None)
    return GateResult(max_risk, report, (), engine.apply(plan, progress))


# --- the engine over a real migrator -----------------------------------------------------------


class MigratorEngine:
    """:class:`Engine` over a :class:`~plimsoll.db.migrator.Migrator` and a live database.

    ``progress``: register plimsoll's own statement hooks so :meth:`apply` reports each
    statement (the migrator then runs statements one by one instead of in one message).
    """

    def __init__(
        self,
        migrator: Migrator,
        *,
        risk_config: RiskConfig | None = None,
        lint_config: LintConfig | None = None,
        calibration_cache: Path | None = None,
        target: str | None = None,
        allow_changed: bool = False,
        progress: bool = True,
    ) -> None:
        self.migrator = migrator
        self.risk_config = risk_config
        self.lint_config = lint_config
        self.calibration_cache = calibration_cache
        self.target = target
        self.allow_changed = allow_changed
        self._notices: list[str] = []
        self._progress: StatementProgress | None = None
        if progress:
            self._register_progress()

    @property
    def registry(self) -> HookRegistry | None:
        """The migrator's hook registry (None when it runs no hooks)."""
        return self.migrator.hooks.registry if self.migrator.hooks is not None else None

    @property
    def notices(self) -> list[str]:
        """Warnings found by :meth:`pending`."""
        return list(self._notices)

    def _register_progress(self) -> None:
        from plimsoll.core.hooks import ErrorStrategy, Hook, HookExecutor, HookRegistry

        if self.migrator.hooks is None:
            self.migrator.hooks = HookExecutor(HookRegistry())
        for phase in (DbPhase.BEFORE_STATEMENT, DbPhase.AFTER_STATEMENT):
            self.migrator.hooks.registry.add(
                Hook(
                    name="plimsoll-progress",
                    phase=phase,
                    fn=self._on_statement,
                    # A display problem must never fail (and roll back) a migration.
                    error_strategy=ErrorStrategy.FAIL_SAFE,
                    source=INTERNAL_HOOK_SOURCE,
                )
            )

    def _on_statement(self, context: StatementContext) -> None:
        sink = self._progress
        if sink is None:
            return
        if context.phase == DbPhase.BEFORE_STATEMENT.value:
            sink.started(context.migration, context.line, context.statement)
        else:
            sink.finished(context.line)

    def pending(self) -> list[files.Migration]:
        """Pending migrations up to the target; changed applied files refused unless allowed."""
        from plimsoll.db.migrator import DriftError

        status = self.migrator.status()
        if status.drift and not self.allow_changed:
            listing = "; ".join(f"{d.version}_{d.name}: {d.problem}" for d in status.drift)
            raise DriftError(
                f"applied migrations changed: {listing} (use --allow-changed to go on)"
            )
        self._notices = [i.describe() for i in status.invalid_indexes]
        if self.target is None:
            chosen = list(status.pending)
        else:
            limit = files.target_key(self.target)  # a UsageError for `abc`, not a crash
            known = {m.key for m in status.pending} | {
                files.version_key(r.version) for r in status.applied
            }
            if limit not in known:
                raise UsageError(f"--target {self.target}: no migration has that version")
            chosen = [m for m in status.pending if m.key <= limit]
        # Refused before any preview, as `up` refuses it (Migrator.apply would, later).
        applied = [files.Applied(r.version, r.name, r.checksum) for r in status.applied]
        files.check_order(chosen, applied, allowed=self.migrator.settings.out_of_order)
        return chosen

    def assess(
        self, migrations: Sequence[files.Migration], on_calibrate: Callable[[], None] | None
    ) -> RiskReport:
        """Assess ``migrations`` with the migrator's timeouts and its store's recorded runs."""
        from plimsoll.db.risk import assess

        settings = self.migrator.settings
        return assess(
            migrations,
            self.migrator.conninfo,
            config=self.risk_config,
            store=self.migrator.store,
            lint_config=self.lint_config,
            migrator_settings={
                "lock_timeout": settings.lock_timeout,
                "statement_timeout": settings.statement_timeout,
            },
            calibration_cache=self.calibration_cache,
            history_folder=self.migrator.folder,
            on_calibrate=on_calibrate,
        )

    def dry_run(self, migration: files.Migration) -> DryMigrationRun:
        """Run ``migration`` alone in a transaction, then roll it back."""

        from plimsoll.db import dry_run as dry

        report = dry.DryRunReport()
        with connect_url(self.migrator.conninfo, application_name="plimsoll-dry-run") as conn:
            before = dry.sequence_values(conn)
            conn.rollback()
            try:
                # dry_run() plans every pending migration up to a target; the wizard dry-runs
                # exactly the one on screen (an earlier one may have been skipped). A
                # CONCURRENTLY statement runs as its transactional equivalent, as in up --dry-run.
                dry.run_plan(conn, self.migrator, [migration], report, equivalents=True)
            finally:
                conn.rollback()
            # The sequences the dry run locked to change: a setval(..., false) leaves no currval.
            moved = tuple(dry.moved_sequences(conn, before, report.used_sequences))
            conn.rollback()
        if report.migrations:
            return replace(report.migrations[0], sequences=moved)
        return dry.MigrationRun(migration.version, migration.name, sequences=moved)

    def apply(
        self, migrations: Sequence[files.Migration], progress: StatementProgress | None
    ) -> RunReport:
        """Apply exactly ``migrations`` (those still pending), in order, under the migrator lock.

        ``Migrator.up`` applies every pending migration up to a target; the wizard applies the
        one on screen only, leaving skipped ones pending (``Migrator.apply``).
        """
        with self._reporting(progress):
            return self.migrator.apply(migrations)

    @contextmanager
    def _reporting(self, progress: StatementProgress | None) -> Iterator[None]:
        self._progress = progress
        try:
            yield
        finally:
            self._progress = None
