"""The wizard's flow with scripted answers: first over an in-memory engine (the decisions
alone), then over the real migrator and a real PostgreSQL (what really gets applied)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from plimsoll.core.hooks import HookExecutor, HookRegistry
from plimsoll.db import migrations as files
from plimsoll.db.dry_run import MigrationRun as DryMigrationRun
from plimsoll.db.hooks import DbPhase
from plimsoll.db.migrator import DriftError, MigrationError, Migrator, RunReport, StepResult
from plimsoll.db.preview import MigrationPreview
from plimsoll.db.risk import Estimate, Level, LockHold, LockLevel, MigrationRisk, RiskConfig, Score
from plimsoll.db.wizard import (
    Choice,
    MigratorEngine,
    Notice,
    Outcome,
    Summary,
    Wizard,
    gate,
)
from tests.support.postgres import PgDatabase

# --- a scripted terminal ------------------------------------------------------------------------


@dataclass
class Recorder:
    """A progress display that remembers what it was told."""

    events: list[tuple[str, int]] = field(default_factory=list)

    def started(self, migration: str, line: int, text: str) -> None:
        self.events.append(("started", line))

    def finished(self, line: int) -> None:
        self.events.append(("finished", line))


class ScriptedIO:
    """Answers from a list (None stands for end of input); records everything shown."""

    def __init__(self, answers: Sequence[str | None]) -> None:
        self.answers: deque[str | None] = deque(answers)
        self.previews: list[MigrationPreview] = []
        self.allowed: list[tuple[Choice, ...]] = []
        self.prompts: list[str] = []
        self.notices: list[tuple[Notice, str]] = []
        self.dry_runs: list[DryMigrationRun] = []
        self.progress: dict[str, Recorder] = {}
        self.summary: Summary | None = None

    def _next(self) -> str | None:
        return self.answers.popleft() if self.answers else None

    def show_preview(self, preview: MigrationPreview, position: int, total: int) -> None:
        self.previews.append(preview)

    def choose(self, preview: MigrationPreview, allowed: Sequence[Choice]) -> Choice:
        self.allowed.append(tuple(allowed))
        answer = self._next()
        return Choice.ABORT if answer is None else Choice(answer)

    def ask(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self._next()

    def notice(self, text: str, kind: Notice = Notice.INFO) -> None:
        self.notices.append((kind, text))

    def show_dry_run(self, preview: MigrationPreview, run: DryMigrationRun) -> None:
        self.dry_runs.append(run)

    @contextmanager
    def applying(self, preview: MigrationPreview, statements: int) -> Iterator[Recorder]:
        recorder = self.progress.setdefault(preview.label, Recorder())
        yield recorder

    def show_summary(self, summary: Summary) -> None:
        self.summary = summary

    def said(self, kind: Notice) -> list[str]:
        return [text for k, text in self.notices if k is kind]


# --- an in-memory engine ------------------------------------------------------------------------


def _estimate(seconds: float) -> Estimate:
    return Estimate(seconds / 3, seconds, seconds * 3, "heuristic")


def _risk(label: str, level: Level, table: str | None) -> MigrationRisk:
    holds = (LockHold(table, LockLevel.ACCESS_EXCLUSIVE, 1, _estimate(2.0)),) if table else ()
    scores = {Level.LOW: 0.1, Level.MEDIUM: 0.3, Level.HIGH: 0.6, Level.CRITICAL: 0.9}
    return MigrationRisk(
        label=label,
        source=label,
        transactional=True,
        statements=(),
        holds=holds,
        lock_seconds=_estimate(2.0),
        duration=_estimate(2.0),
        score=Score(scores[level], level, ()),
    )


@dataclass
class MemoryEngine:
    """Pending migrations with given levels; applying records the label (or fails)."""

    migrations: list[files.Migration]
    levels: dict[str, tuple[Level, str | None]]
    failing: set[str] = field(default_factory=set)
    not_dry_runnable: set[str] = field(default_factory=set)
    applied: list[str] = field(default_factory=list)
    dried: list[str] = field(default_factory=list)
    assessed: int = 0
    registry: HookRegistry | None = None
    notices: list[str] = field(default_factory=list)

    def pending(self) -> list[files.Migration]:
        return [m for m in self.migrations if m.label not in self.applied]

    def assess(self, migrations: Sequence[files.Migration], on_calibrate: Any) -> Any:
        self.assessed += 1
        return SimpleNamespace(
            migrations=[_risk(m.label, *self.levels[m.label]) for m in migrations]
        )

    def dry_run(self, migration: files.Migration) -> DryMigrationRun:
        self.dried.append(migration.label)
        if migration.label in self.not_dry_runnable:
            return DryMigrationRun(
                migration.version, migration.name, dry_runnable=False, reason="line 1: VACUUM"
            )
        return DryMigrationRun(migration.version, migration.name)

    def apply(self, migrations: Sequence[files.Migration], progress: Any) -> RunReport:
        report = RunReport("up")
        for m in migrations:
            if m.label in self.failing:
                raise MigrationError(f"{m.up}:1: ERROR: boom; {m.label} rolled back")
            self.applied.append(m.label)
            report.steps.append(StepResult(m.version, m.name, "up", 7, True, 1))
        return report


def _migrations(tmp_path: Path, count: int) -> list[files.Migration]:
    folder = tmp_path / "migrations"
    folder.mkdir(parents=True)
    for number in range(1, count + 1):
        (folder / f"000{number}_m{number}.up.sql").write_text(f"CREATE TABLE t{number} (id int);\n")
    return files.discover(folder)


def _engine(tmp_path: Path, *levels: tuple[Level, str | None]) -> MemoryEngine:
    found = _migrations(tmp_path, len(levels))
    return MemoryEngine(found, {m.label: level for m, level in zip(found, levels, strict=True)})


LOW = (Level.LOW, None)


def test_skip_then_apply_leaves_the_skipped_one_pending(tmp_path: Path) -> None:
    engine = _engine(tmp_path, LOW, LOW, LOW)
    io = ScriptedIO(["skip", "apply", "apply"])
    summary = Wizard(engine, io).run()
    assert engine.applied == ["0002_m2", "0003_m3"]
    assert [s.outcome for s in summary.steps] == [Outcome.SKIPPED, Outcome.APPLIED, Outcome.APPLIED]
    assert summary.steps[1].duration_ms == 7 and summary.exit_code == 0
    assert summary.line() == "applied 2, skipped 1"
    assert io.summary is summary and engine.assessed == 1
    warned = io.said(Notice.WARNING)
    assert len(warned) == 2 and warned[0].startswith("skipped before: 0001_m1; applying 0002_m2")
    assert not io.prompts  # nothing LOW asks for a table name


def test_a_high_migration_is_applied_only_once_its_table_is_typed(tmp_path: Path) -> None:
    engine = _engine(tmp_path, (Level.HIGH, "accounts"))
    io = ScriptedIO(["apply", "account", "ACCOUNTS", "", "apply", None, "apply", " accounts "])
    summary = Wizard(engine, io).run()
    assert engine.applied == ["0001_m1"]
    assert (
        len(io.prompts) == 5 and "type the table it locks, accounts, to apply it" in io.prompts[0]
    )
    assert io.said(Notice.WARNING) == [
        "'account' is not 'accounts': 0001_m1 was not applied",
        "'ACCOUNTS' is not 'accounts': 0001_m1 was not applied",
    ]
    assert io.said(Notice.INFO).count("not confirmed: 0001_m1 was not applied") == 2
    assert summary.steps[0].outcome is Outcome.APPLIED and summary.steps[0].level == "HIGH"


def test_q_at_the_confirmation_goes_back_to_the_choices(tmp_path: Path) -> None:
    engine = _engine(tmp_path, (Level.HIGH, "accounts"))
    io = ScriptedIO(["apply", "q", "skip"])
    summary = Wizard(engine, io).run()
    assert engine.applied == [] and len(io.prompts) == 1
    assert "(empty or q: go back; it has no down migration)" in io.prompts[0]
    assert summary.steps[0].outcome is Outcome.SKIPPED


def test_a_migration_that_cannot_be_dry_run_is_not_counted_as_dry_run(tmp_path: Path) -> None:
    engine = _engine(tmp_path, LOW)
    engine.not_dry_runnable = {"0001_m1"}
    summary = Wizard(engine, ScriptedIO(["dry-run", "skip"])).run()
    assert engine.dried == ["0001_m1"]
    assert summary.steps[0].outcome is Outcome.SKIPPED and not summary.steps[0].dry_run


def test_a_risky_migration_without_a_table_is_confirmed_by_its_label(tmp_path: Path) -> None:
    engine = _engine(tmp_path, (Level.CRITICAL, None))
    io = ScriptedIO(["apply", "0001_m1"])
    Wizard(engine, io).run()
    assert engine.applied == ["0001_m1"] and "type its label, 0001_m1" in io.prompts[0]


def test_above_max_risk_it_can_be_dry_run_or_skipped_but_not_applied(tmp_path: Path) -> None:
    engine = _engine(tmp_path, (Level.HIGH, "accounts"), (Level.MEDIUM, "orders"))
    # "apply" is not offered for the first; the answer is ignored and the question asked again.
    io = ScriptedIO(["apply", "dry-run", "skip", "apply"])
    summary = Wizard(engine, io, max_risk=Level.MEDIUM, confirm_from=Level.CRITICAL).run()
    assert io.allowed[0] == (Choice.DRY_RUN, Choice.SKIP, Choice.ABORT)
    assert Choice.APPLY in io.allowed[-1]
    assert engine.dried == ["0001_m1"] and engine.applied == ["0002_m2"]
    assert "0001_m1 is HIGH, above --max-risk MEDIUM" in io.said(Notice.WARNING)[0]
    first = summary.steps[0]
    assert (first.outcome, first.dry_run) == (Outcome.SKIPPED, True)
    # The dry run of a migration holding a blocking lock warns that it takes it too.
    assert any("the dry run takes the same locks on accounts" in t for t in io.said(Notice.WARNING))


def test_abort_and_end_of_input_stop_the_walk(tmp_path: Path) -> None:
    engine = _engine(tmp_path, LOW, LOW, LOW)
    summary = Wizard(engine, ScriptedIO(["apply", "abort"])).run()
    assert engine.applied == ["0001_m1"]
    assert [s.outcome for s in summary.steps] == [
        Outcome.APPLIED,
        Outcome.ABORTED,
        Outcome.NOT_REACHED,
    ]
    assert summary.aborted and summary.exit_code == 1
    assert summary.line() == "applied 1, skipped 0, aborted at 0002_m2, 1 not reached"
    ended = Wizard(engine, ScriptedIO([])).run()  # stdin closed: nothing more is applied
    assert [s.outcome for s in ended.steps] == [Outcome.ABORTED, Outcome.NOT_REACHED]
    assert engine.applied == ["0001_m1"]


def test_a_failing_migration_ends_the_walk(tmp_path: Path) -> None:
    engine = _engine(tmp_path, LOW, LOW, LOW)
    engine.failing = {"0002_m2"}
    io = ScriptedIO(["apply", "apply", "apply"])
    summary = Wizard(engine, io).run()
    assert engine.applied == ["0001_m1"]
    assert [s.outcome for s in summary.steps] == [
        Outcome.APPLIED,
        Outcome.FAILED,
        Outcome.NOT_REACHED,
    ]
    assert "boom; 0002_m2 rolled back" in summary.steps[1].detail
    assert io.said(Notice.ERROR) == [summary.steps[1].detail]
    assert summary.failed and summary.exit_code == 1
    assert summary.as_dict()["summary"] == "applied 1, skipped 0, failed at 0002_m2, 1 not reached"


def test_nothing_pending_is_not_assessed(tmp_path: Path) -> None:
    engine = _engine(tmp_path, LOW)
    engine.applied = ["0001_m1"]
    io = ScriptedIO([])
    summary = Wizard(engine, io).run()
    assert summary.steps == () and summary.exit_code == 0 and engine.assessed == 0
    assert summary.line() == "nothing to do: no pending migrations"


def test_gate_applies_all_or_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path, LOW, (Level.HIGH, "accounts"))
    refused = gate(engine, Level.MEDIUM)
    assert not refused.passed and refused.run is None and engine.applied == []
    assert [m.label for m in refused.above] == ["0002_m2"]
    assert refused.as_dict()["above"] == ["0002_m2"]
    passed = gate(engine, Level.HIGH)
    assert passed.passed and engine.applied == ["0001_m1", "0002_m2"]
    assert [step["version"] for step in passed.as_dict()["applied"]] == ["0001", "0002"]
    assert gate(engine, Level.LOW).run is None  # nothing pending any more
    unassessed = _engine(tmp_path / "other", (Level.CRITICAL, "accounts"))
    assert gate(unassessed, None).passed and unassessed.assessed == 0
    assert unassessed.applied == ["0001_m1"]


# --- the real migrator ----------------------------------------------------------------------------

REAL = {
    "0001_accounts.up.sql": (
        "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n"
        "INSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 1000) g;\n"
        "CREATE INDEX accounts_email ON accounts (email);\n"
    ),
    "0001_accounts.down.sql": "DROP TABLE accounts;\n",
    "0002_orders.up.sql": "CREATE TABLE orders (id bigint PRIMARY KEY);\n",
    "0003_plan.up.sql": "ALTER TABLE accounts ADD COLUMN plan text NOT NULL DEFAULT 'free';\n",
}


def _real(tmp_path: Path, db: PgDatabase, found: dict[str, str] = REAL, **kwargs: Any) -> Migrator:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, text in found.items():
        (folder / name).write_text(text)
    return Migrator(db.dsn, folder, **kwargs)


def _versions(db: PgDatabase) -> list[str]:
    with db.connect() as conn:
        rows = conn.execute("SELECT version FROM plimsoll_migrations ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def _relation(db: PgDatabase, name: str) -> bool:
    with db.connect() as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


NO_CALIBRATION = RiskConfig(calibrate=False)


def test_real_walk_applies_exactly_the_chosen_ones_with_progress(
    tmp_path: Path, pg_database: PgDatabase
) -> None:
    migrator = _real(tmp_path, pg_database)
    engine = MigratorEngine(migrator, risk_config=NO_CALIBRATION)
    io = ScriptedIO(["dry-run", "apply", "skip", "apply"])
    summary = Wizard(engine, io, confirm_from=Level.CRITICAL).run()
    assert [s.outcome for s in summary.steps] == [
        Outcome.APPLIED,
        Outcome.SKIPPED,
        Outcome.APPLIED,
    ]
    assert _versions(pg_database) == ["0001", "0003"]
    assert not _relation(pg_database, "orders")
    assert [m.version for m in migrator.status().pending] == ["0002"]
    # The dry run really ran the three statements, holding their locks, and kept nothing.
    (dry,) = io.dry_runs
    assert [s.line for s in dry.statements] == [1, 2, 3] and dry.statements[1].rows == 1000
    # Each statement lists the locks it newly took: CREATE TABLE already took ShareLock on
    # accounts (building its primary key), so CREATE INDEX adds only its new index's.
    assert ("ShareLock", "public.accounts") in {
        (lk.mode, lk.relation) for lk in dry.statements[0].locks
    }
    assert ("AccessExclusiveLock", "public.accounts_email") in {
        (lk.mode, lk.relation) for lk in dry.statements[2].locks
    }
    # Progress came from the migrator's own statement hooks, statement by statement.
    assert io.progress["0001_accounts"].events == [
        ("started", 1),
        ("finished", 1),
        ("started", 2),
        ("finished", 2),
        ("started", 3),
        ("finished", 3),
    ]
    assert io.progress["0003_plan"].events == [("started", 1), ("finished", 1)]
    preview = io.previews[0]
    assert preview.risk is not None and len(preview.risk.statements) == 3
    assert preview.hooks == ()  # plimsoll's progress hooks are not the user's


def test_real_failure_rolls_back_and_stops(tmp_path: Path, pg_database: PgDatabase) -> None:
    found = {
        "0001_ok.up.sql": "CREATE TABLE a (id int);\n",
        "0002_bad.up.sql": "CREATE TABLE b (id int);\nINSERT INTO nope VALUES (1);\n",
        "0003_later.up.sql": "CREATE TABLE c (id int);\n",
    }
    migrator = _real(tmp_path, pg_database, found)
    summary = Wizard(
        MigratorEngine(migrator, risk_config=NO_CALIBRATION),
        ScriptedIO(["apply", "apply", "apply"]),
        confirm_from=Level.CRITICAL,
    ).run()
    assert [s.outcome for s in summary.steps] == [
        Outcome.APPLIED,
        Outcome.FAILED,
        Outcome.NOT_REACHED,
    ]
    assert "0002_bad.up.sql:2:" in summary.steps[1].detail
    assert _versions(pg_database) == ["0001"]
    assert not _relation(pg_database, "b") and not _relation(pg_database, "c")


def test_user_hooks_are_previewed_and_run(tmp_path: Path, pg_database: PgDatabase) -> None:
    calls: list[tuple[str, int | None]] = []
    registry = HookRegistry()

    @registry.hook(DbPhase.BEFORE_MIGRATION, name="announce")
    def announce(context: Any) -> None:
        calls.append((context.phase, None))

    @registry.hook(DbPhase.AFTER_STATEMENT, name="count")
    def count(context: Any) -> None:
        calls.append((context.phase, context.line))

    migrator = _real(
        tmp_path,
        pg_database,
        {"0001_two.up.sql": REAL["0001_accounts.up.sql"]},
        hooks=HookExecutor(registry),
    )
    io = ScriptedIO(["apply"])
    Wizard(
        MigratorEngine(migrator, risk_config=NO_CALIBRATION), io, confirm_from=Level.CRITICAL
    ).run()
    assert [(h.phase, h.name, h.times) for h in io.previews[0].hooks] == [
        ("before_migration", "announce", 1),
        ("after_statement", "count", 3),
    ]
    assert calls == [
        ("before_migration", None),
        ("after_statement", 1),
        ("after_statement", 2),
        ("after_statement", 3),
    ]
    assert len(io.progress["0001_two"].events) == 6


def test_real_engine_refuses_changed_files_and_honours_the_target(
    tmp_path: Path, pg_database: PgDatabase
) -> None:
    migrator = _real(tmp_path, pg_database)
    engine = MigratorEngine(migrator, target="0002", progress=False)
    assert [m.version for m in engine.pending()] == ["0001", "0002"]
    engine.apply(engine.pending()[:1], None)
    (migrator.folder / "0001_accounts.up.sql").write_text("CREATE TABLE other (id int);\n")
    with pytest.raises(DriftError, match="0001_accounts: changed since it was applied"):
        engine.pending()
    allowed = MigratorEngine(migrator, allow_changed=True, progress=False)
    assert [m.version for m in allowed.pending()] == ["0002", "0003"]
    with pytest.raises(Exception, match="--target 0009: no migration has that version"):
        MigratorEngine(migrator, target="0009", allow_changed=True, progress=False).pending()
    # Applying a migration someone else applied meanwhile does nothing.
    assert engine.apply(list(files.discover(migrator.folder))[:1], None).steps == []
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (1000,)


def test_the_wizards_dry_run_reports_the_sequences_it_advanced(
    tmp_path: Path, pg_database: PgDatabase
) -> None:
    with pg_database.connect() as conn:
        conn.execute("CREATE TABLE counters (id bigint GENERATED ALWAYS AS IDENTITY, n int)")
        conn.commit()
    migrator = _real(
        tmp_path, pg_database, {"0001_fill.up.sql": "INSERT INTO counters (n) VALUES (1), (2);\n"}
    )
    engine = MigratorEngine(migrator, risk_config=NO_CALIBRATION)
    (migration,) = migrator.status().pending
    run = engine.dry_run(migration)
    assert [(s.qualified, s.before, s.after) for s in run.sequences] == [
        ("public.counters_id_seq", None, 2)
    ]
    with pg_database.connect() as conn:
        # Rolled back: no rows; the sequence, as PostgreSQL has it, stays advanced.
        assert conn.execute("SELECT count(*) FROM counters").fetchone() == (0,)
        assert conn.execute("SELECT last_value FROM counters_id_seq").fetchone() == (2,)
