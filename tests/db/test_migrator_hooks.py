"""The migrator's hooks and run records against a real PostgreSQL.

Validation phases around the checks (and on_error/cleanup when they fail), durations that
leave the hooks out, the tables a Python migration touched, the line of a failing Python
migration, the structured events, and ``down`` refusing changed files.
"""

from __future__ import annotations

import json
import logging
import textwrap
import time
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.core import plugins
from plimsoll.core.config import DbConfig, parse
from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks import HookContext, HookExecutor, HookFailed, HookRegistry
from plimsoll.core.store import SqliteStore
from plimsoll.db.dry_run import dry_run
from plimsoll.db.hooks import (
    DbPhase,
    ErrorContext,
    RunContext,
    build_registry,
    describe_hooks,
    executor_for,
)
from plimsoll.db.migrator import DriftError, MigrationError, Migrator

# What the duration tests' hooks sleep: far more than the migrations' own SQL takes.
HOOK_SECONDS = 0.6


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


class Seen:
    """Records the phase and context of every hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, HookContext]] = []

    def __call__(self, ctx: HookContext) -> None:
        self.calls.append((ctx.phase, ctx))

    @property
    def phases(self) -> list[str]:
        return [phase for phase, _ in self.calls]

    def context(self, phase: DbPhase) -> Any:
        return next(ctx for seen, ctx in self.calls if seen == phase)


def _every_phase(seen: Seen) -> HookExecutor:
    registry = HookRegistry()
    for phase in DbPhase:
        if phase not in (DbPhase.BEFORE_STATEMENT, DbPhase.AFTER_STATEMENT):
            registry.hook(phase, name=f"seen_{phase.value}")(seen)
    return HookExecutor(registry)


# --- validation phases ------------------------------------------------------------------------


def test_before_validation_runs_before_the_checks_and_after_validation_after(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(tmp_path / "m", {"0001_a.up.sql": "CREATE TABLE a (id int);\n"})
    seen = Seen()
    executor = _every_phase(seen)

    # A before_validation hook that adds a migration: validation (run after it) plans it.
    def generate(ctx: HookContext) -> None:
        _write(folder, {"0002_b.up.sql": "CREATE TABLE b (id int);\n"})

    executor.registry.hook(DbPhase.BEFORE_VALIDATION, name="generate", priority=1)(generate)
    report = Migrator(pg_database.dsn, folder, hooks=executor).up()

    assert [s.version for s in report.steps] == ["0001", "0002"]
    assert seen.phases == [
        "before_validation",
        "after_validation",
        "before_migration",
        "after_migration",
        "before_migration",
        "after_migration",
        "cleanup",
    ]
    before: RunContext = seen.context(DbPhase.BEFORE_VALIDATION)
    after: RunContext = seen.context(DbPhase.AFTER_VALIDATION)
    assert (before.pending, after.pending) == ((), ("0001_a", "0002_b"))
    assert seen.context(DbPhase.CLEANUP).pending == ("0001_a", "0002_b")


def test_a_failed_validation_runs_on_error_and_cleanup(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {"0001_a.up.sql": "CREATE TABLE a (id int);\n"})
    Migrator(pg_database.dsn, folder).up()
    (folder / "0001_a.up.sql").write_text("CREATE TABLE a (id bigint);\n")
    _write(folder, {"0002_b.up.sql": "CREATE TABLE b (id int);\n"})
    seen = Seen()

    with pytest.raises(DriftError) as caught:
        Migrator(pg_database.dsn, folder, hooks=_every_phase(seen)).up()

    assert seen.phases == ["before_validation", "on_error", "cleanup"]
    error: ErrorContext = seen.context(DbPhase.ON_ERROR)
    assert (error.direction, error.migration, error.error) == ("up", None, str(caught.value))
    assert "0001_a: changed since it was applied" in error.error
    assert seen.context(DbPhase.CLEANUP).pending == ()
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('b')").fetchone() == (None,)


def test_a_failing_on_error_hook_does_not_hide_the_error(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {"0001_a.up.sql": "SELECT 1 / 0;\n"})
    registry = HookRegistry()

    def broken(ctx: HookContext) -> None:
        raise RuntimeError("pager down")

    registry.hook(DbPhase.ON_ERROR, name="page")(broken)
    with pytest.raises(MigrationError, match="division by zero"):
        Migrator(pg_database.dsn, folder, hooks=HookExecutor(registry)).up()


def test_a_failing_cleanup_hook_does_not_hide_the_error(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {"0001_a.up.sql": "SELECT 1 / 0;\n"})
    registry = HookRegistry()

    def broken(ctx: HookContext) -> None:
        raise RuntimeError("cleanup boom")

    registry.hook(DbPhase.CLEANUP, name="tidy")(broken)
    with pytest.raises(MigrationError, match="division by zero"):
        Migrator(pg_database.dsn, folder, hooks=HookExecutor(registry)).up()
    # After a run that went well, a failing fail-fast cleanup hook is the run's error.
    (folder / "0001_a.up.sql").write_text("CREATE TABLE a (id int);\n")
    with pytest.raises(HookFailed, match="cleanup boom"):
        Migrator(pg_database.dsn, folder, hooks=HookExecutor(registry)).up()


def test_down_refuses_changed_applied_files_unless_allowed(
    pg_database: Any, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path / "m",
        {"0001_a.up.sql": "CREATE TABLE a (id int);\n", "0001_a.down.sql": "DROP TABLE a;\n"},
    )
    migrator = Migrator(pg_database.dsn, folder)
    migrator.up()
    (folder / "0001_a.up.sql").write_text("CREATE TABLE a (id bigint);\n")
    with pytest.raises(DriftError, match="0001_a: changed since it was applied"):
        migrator.down()
    assert [r.version for r in migrator.status().applied] == ["0001"]
    assert [s.version for s in migrator.down(allow_changed=True).steps] == ["0001"]
    assert migrator.status().applied == ()


# --- durations --------------------------------------------------------------------------------


def _sleep(ctx: HookContext) -> None:
    time.sleep(HOOK_SECONDS)


@pytest.mark.parametrize(
    ("name", "text", "statement_hooks"),
    [
        ("0001_a.up.sql", "CREATE TABLE a (id int);\n", False),
        ("0001_a.up.sql", "CREATE TABLE a (id int);\n", True),
        ("0001_a.py", "def up(conn):\n    conn.execute('CREATE TABLE a (id int)')\n", False),
    ],
    ids=["batched", "statement-hooks", "python"],
)
def test_durations_leave_the_hooks_out(
    pg_database: Any, tmp_path: Path, name: str, text: str, statement_hooks: bool
) -> None:
    folder = _write(tmp_path / "m", {name: text})
    registry = HookRegistry()
    registry.hook(DbPhase.BEFORE_MIGRATION, name="before")(_sleep)
    registry.hook(DbPhase.AFTER_MIGRATION, name="after")(_sleep)
    if statement_hooks:
        registry.hook(DbPhase.BEFORE_STATEMENT, name="each")(_sleep)
    with SqliteStore.memory() as store:
        began = time.perf_counter()
        report = Migrator(pg_database.dsn, folder, hooks=HookExecutor(registry), store=store).up()
        wall_ms = (time.perf_counter() - began) * 1000
        (run,) = store.migration_runs()
    with psycopg.connect(pg_database.dsn) as conn:
        row = conn.execute("SELECT execution_ms FROM plimsoll_migrations").fetchone()
    assert row is not None
    (step,) = report.steps
    hooks_ms = HOOK_SECONDS * 1000 * (3 if statement_hooks else 2)
    assert wall_ms >= hooks_ms  # the hooks did run, and took their time
    # The migration's own SQL (a CREATE TABLE) takes far less than one hook's sleep.
    limit = HOOK_SECONDS * 1000 * 0.8
    assert step.duration_ms < limit and run.duration_ms == step.duration_ms
    assert row[0] < limit


# --- Python migrations ------------------------------------------------------------------------

PY_TABLES = """\
from psycopg import sql


def up(conn):
    conn.execute("CREATE TABLE py_items (id int, label text)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO py_items VALUES (%s, %s)", [(1, "a"), (2, "100%")])
        cur.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier("py_other")))
    conn.execute("UPDATE py_items SET label = label WHERE label LIKE '1%%' OR id = %s", (9,))
"""


def test_a_python_migration_records_the_tables_it_touched(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(tmp_path / "m", {"0001_py.py": PY_TABLES})
    with SqliteStore.memory() as store:
        report = Migrator(pg_database.dsn, folder, store=store).up()
        (run,) = store.migration_runs()
    with psycopg.connect(pg_database.dsn) as conn:
        sizes = conn.execute(
            "SELECT pg_total_relation_size('py_items'), pg_total_relation_size('py_other')"
        ).fetchone()
        assert conn.execute("SELECT label FROM py_items ORDER BY id").fetchall() == [
            ("a",),
            ("100%",),
        ]
    assert report.steps[0].tables == ("py_items", "py_other")
    assert sizes is not None
    assert run.tables == (("py_items", sizes[0]), ("py_other", sizes[1]))
    assert sizes[0] > 0


def test_a_failing_python_migration_names_its_line(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_a.py": (
                "def up(conn):\n"
                "    conn.execute('CREATE TABLE a (id int)')\n"
                "    _check(conn)\n\n\n"
                "def _check(conn):\n"
                "    raise ValueError('no rows to move')\n"
            ),
        },
    )
    path = folder / "0001_a.py"
    with pytest.raises(MigrationError) as caught:
        Migrator(pg_database.dsn, folder).up()
    assert str(caught.value) == (f"{path}:7: up() failed: ValueError: no rows to move; rolled back")
    path.write_text("def up(conn):\n    conn.execute('SELECT 1')\n    conn.execute('SELEC 2')\n")
    with pytest.raises(MigrationError, match=rf"^{path}:3: up\(\) failed: ERROR: syntax error"):
        Migrator(pg_database.dsn, folder).up()
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('a')").fetchone() == (None,)


# --- events -----------------------------------------------------------------------------------


@pytest.fixture
def events(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Any:
    # log.configure() (run by other tests) stops propagation; caplog listens at the root.
    monkeypatch.setattr(logging.getLogger("plimsoll"), "propagate", True)
    caplog.set_level(logging.INFO, logger="plimsoll")

    def named(event: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if getattr(r, "event", None) == event]

    return named


def test_migration_applied_carries_run_version_and_direction(
    pg_database: Any, tmp_path: Path, events: Any
) -> None:
    folder = _write(
        tmp_path / "m",
        {"0001_a.up.sql": "CREATE TABLE a (id int);\n", "0001_a.down.sql": "DROP TABLE a;\n"},
    )
    registry = HookRegistry()
    registry.hook(DbPhase.CLEANUP, name="noop")(lambda ctx: None)
    migrator = Migrator(pg_database.dsn, folder, hooks=HookExecutor(registry))
    up = migrator.up()
    migrator.down()
    applied = events("migration_applied")
    assert [(r.version, r.direction, r.migration) for r in applied] == [
        ("0001", "up", "0001_a"),
        ("0001", "down", "0001_a"),
    ]
    assert up.hook_trace is not None and applied[0].run_id in up.hook_trace
    assert applied[0].run_id != applied[1].run_id
    assert all(isinstance(r.duration_ms, int) for r in applied)


def test_dry_run_events_carry_their_fields(pg_database: Any, tmp_path: Path, events: Any) -> None:
    folder = _write(
        tmp_path / "m",
        {"0001_a.up.sql": "CREATE TABLE a (id int);\n", "0002_b.up.sql": "SELECT 1 / 0;\n"},
    )
    report = dry_run(Migrator(pg_database.dsn, folder))
    assert report.failed
    (start,) = events("dry_run_start")
    assert (start.pending, start.target) == (["0001_a", "0002_b"], None)
    assert start.database.endswith(f"/{pg_database.dbname}")
    (failed,) = events("dry_run_failed")
    assert failed.error == report.migrations[1].error and "division by zero" in failed.error
    assert isinstance(failed.duration_ms, float) and failed.duration_ms > 0
    assert failed.migrations == 2 and failed.rolled_back is True
    assert events("dry_run_completed") == []


# --- configuration ----------------------------------------------------------------------------


def test_the_config_knows_the_migrator_phases() -> None:
    assert DbConfig.HOOK_PHASES == tuple(phase.value for phase in DbPhase)


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        (
            {"name": "x", "phase": "befor_migration", "callable": "pkg.mod:fn"},
            "plimsoll.toml: db.hooks[0].phase: unknown phase: expected one of before_validation,"
            " after_validation, before_migration, before_statement, after_statement,"
            " after_migration, on_error, cleanup",
        ),
        (
            {"name": "x", "phase": "cleanup", "callable": "pkg.mod.fn"},
            "plimsoll.toml: db.hooks[0].callable: expected an import path"
            " package.module:function (a module, a colon, then the function's name)",
        ),
    ],
)
def test_a_bad_hook_in_config_is_refused_at_load(hook: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"db": {"hooks": [hook]}}, "plimsoll.toml", env={})
    assert str(caught.value) == expected


def test_a_misspelt_phase_in_hook_phase_timeouts_is_refused_at_load() -> None:
    # It was ignored: the timeout the user meant for after_migration never applied.
    with pytest.raises(ConfigError) as caught:
        parse({"db": {"hook_phase_timeouts": {"after_migrat": 5}}}, "plimsoll.toml", env={})
    assert str(caught.value).startswith(
        "plimsoll.toml: db.hook_phase_timeouts.after_migrat: unknown phase: expected one of"
    )


# --- plugins ----------------------------------------------------------------------------------


def _plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **eps: str) -> None:
    """A plugin module with hooks, exposed through ``plimsoll.hooks`` entry points."""
    (tmp_path / "plimsoll_test_db_plugin.py").write_text(
        textwrap.dedent(
            """
            from plimsoll.core.hooks import hook

            ran = []

            @hook("after_migrate")
            def misspelt(ctx):
                ran.append(("misspelt", ctx.phase))

            @hook("after_migration", priority=5, timeout=2.5, error_strategy="fail_safe")
            def audit(ctx):
                ran.append(("audit", ctx.migration))
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    group = plugins.HOOKS
    points = [EntryPoint(name, value, group) for name, value in eps.items()]
    monkeypatch.setattr(plugins, "_entry_points", lambda g: points if g == group else [])


def test_a_plugin_hook_of_an_unknown_phase_is_reported_and_skipped(
    pg_database: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: Any
) -> None:
    _plugin(
        tmp_path,
        monkeypatch,
        **{
            "acme-audit": "plimsoll_test_db_plugin:audit",
            "acme-badphase": "plimsoll_test_db_plugin:misspelt",
        },
    )
    config = DbConfig()
    registry = build_registry(config)

    (failure,) = registry.failures
    assert (failure.name, failure.value) == ("acme-badphase", "plimsoll_test_db_plugin:misspelt")
    assert failure.error.startswith(
        "hook 'misspelt' is declared for unknown phase 'after_migrate' and would never run"
        " (did you mean after_migration? expected one of before_validation,"
    )
    (warning,) = events("plugin.failed")
    assert warning.levelno == logging.WARNING
    assert warning.plugin == "acme-badphase"
    assert warning.getMessage() == (
        f"hook plugin acme-badphase (plimsoll_test_db_plugin:misspelt) skipped: {failure.error}"
    )

    # A real run: the plugin's good hook runs after the migration, the misspelt one is gone.
    import plimsoll_test_db_plugin  # type: ignore[import-not-found]

    folder = _write(tmp_path / "m", {"0001_a.up.sql": "CREATE TABLE a (id int);\n"})
    Migrator(pg_database.dsn, folder, hooks=executor_for(config, registry)).up()
    assert plimsoll_test_db_plugin.ran == [("audit", "0001_a")]
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('a') IS NOT NULL").fetchone() == (True,)


def test_a_code_hook_of_an_unknown_phase_is_refused() -> None:
    registry = HookRegistry()
    registry.hook("after_migrate", name="typo")(lambda ctx: None)
    with pytest.raises(ConfigError, match=r"^hook 'typo' is declared for unknown phase"):
        build_registry(DbConfig(), registry)


def test_describe_hooks_lists_every_source_and_the_failed_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plugin(
        tmp_path,
        monkeypatch,
        **{
            "acme-audit": "plimsoll_test_db_plugin:audit",
            "acme-badphase": "plimsoll_test_db_plugin:misspelt",
            "acme-missing": "plimsoll_no_such_module_x:fn",
        },
    )
    config = parse(
        {
            "db": {
                "hook_phase_timeouts": {"after_migration": 30},
                "hooks": [
                    {
                        "name": "gate",
                        "phase": "before_migration",
                        "callable": "plimsoll_test_db_plugin:audit",
                        "error_strategy": "retry",
                        "retries": 2,
                    }
                ],
            }
        },
        "plimsoll.toml",
        env={},
    ).db
    registry = HookRegistry()
    registry.hook(DbPhase.CLEANUP, name="mine", priority=-1)(lambda ctx: None)

    listing = describe_hooks(build_registry(config, registry), config)

    assert listing["execution"] == "sequential"
    rows = [
        (h["name"], h["phase"], h["source"], h["entry_point"], h["priority"], h["strategy"])
        for h in listing["hooks"]
    ]
    # In the order the migrator meets them.
    assert rows == [
        ("gate", "before_migration", "config", None, 0, "retry"),
        ("audit", "after_migration", "entry point", "acme-audit", 5, "fail_safe"),
        ("mine", "cleanup", "code", None, -1, "fail_fast"),
    ]
    audit = listing["hooks"][1]
    assert (audit["timeout_seconds"], audit["phase_timeout_seconds"]) == (2.5, 30)
    assert listing["hooks"][0]["retries"] == 2
    failed = {f["entry_point"]: f for f in listing["failed"]}
    assert sorted(failed) == ["acme-badphase", "acme-missing"]
    assert "unknown phase 'after_migrate'" in failed["acme-badphase"]["error"]
    assert failed["acme-missing"]["error"].startswith("ModuleNotFoundError")
    assert json.loads(json.dumps(listing)) == listing
