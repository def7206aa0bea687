"""MigrationPreview: the files, the hooks, and the risk assessed against a real PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from plimsoll.core.hooks import ErrorStrategy, Hook, HookRegistry
from plimsoll.db import migrations as files
from plimsoll.db.hooks import DbPhase
from plimsoll.db.preview import (
    INTERNAL_HOOK_SOURCE,
    build_preview,
    down_of,
    planned_hooks,
    render_preview,
)
from plimsoll.db.risk import RiskConfig, assess
from tests.support.postgres import PgDatabase


def _folder(tmp_path: Path, found: dict[str, str]) -> list[files.Migration]:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for name, text in found.items():
        (folder / name).write_text(text)
    return files.discover(folder)


def _text(renderable: Any) -> str:
    console = Console(record=True, width=160, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def _noop(context: object) -> None:
    return None


def _registry() -> HookRegistry:
    registry = HookRegistry()
    registry.add(Hook("audit", DbPhase.BEFORE_MIGRATION, _noop, source="config"))
    registry.add(
        Hook(
            "count_rows",
            DbPhase.AFTER_STATEMENT,
            _noop,
            error_strategy=ErrorStrategy.FAIL_SAFE,
        )
    )
    registry.add(Hook("page_oncall", DbPhase.ON_ERROR, _noop, source="plugin pager"))
    registry.add(
        Hook("plimsoll-progress", DbPhase.BEFORE_STATEMENT, _noop, source=INTERNAL_HOOK_SOURCE)
    )
    return registry


def test_the_way_down_of_each_kind_of_migration(tmp_path: Path) -> None:
    found = _folder(
        tmp_path,
        {
            "0001_a.up.sql": "CREATE TABLE a (id int);\n",
            "0001_a.down.sql": "DROP TABLE a;\n",
            "0002_b.up.sql": "CREATE TABLE b (id int);\n",
            "0003_c.py": "def up(conn):\n    pass\n\ndef down(conn):\n    pass\n",
            "0004_d.py": "def up(conn):\n    pass\n",
        },
    )
    downs = [down_of(m) for m in found]
    assert [d.reversible for d in downs] == [True, False, True, False]
    assert downs[0].text == "DROP TABLE a;\n" and downs[0].path == found[0].down
    assert downs[2].language == "python" and downs[2].path == found[2].up
    assert downs[1].as_dict() == {"reversible": False, "path": None, "text": None}


def test_planned_hooks_in_phase_order_per_statement_and_without_internal_ones() -> None:
    hooks = planned_hooks(_registry(), statements=3)
    assert [(h.phase, h.name, h.times) for h in hooks] == [
        ("before_migration", "audit", 1),
        ("after_statement", "count_rows", 3),
        ("on_error", "page_oncall", 1),
    ]
    assert hooks[1].error_strategy == "fail_safe" and hooks[1].when == "after each statement"
    assert hooks[2].source == "plugin pager" and hooks[2].when == "if it fails"
    # A Python migration's statements are not seen by the migrator: no statement hooks.
    python = planned_hooks(_registry(), statements=1, per_statement=False)
    assert [h.name for h in python] == ["audit", "page_oncall"]
    assert planned_hooks(None, statements=2) == ()


def test_a_preview_without_risk_reads_the_files(tmp_path: Path) -> None:
    found = _folder(
        tmp_path,
        {
            "0001_two.up.sql": "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n",
            "0002_py.py": "def up(conn):\n    conn.execute('SELECT 1')\n",
        },
    )
    sql = build_preview(found[0], None, _registry())
    assert sql.language == "sql" and sql.source.startswith("CREATE TABLE a")
    assert [h.times for h in sql.hooks if h.name == "count_rows"] == [2]  # two statements parsed
    assert sql.level is None and sql.confirm_name == "0001_two"  # nothing says which table
    assert not sql.down.reversible and sql.recommendations == ()
    shown = _text(render_preview(sql, root=tmp_path, position=(1, 2)))
    assert "0001_two (1 of 2)" in shown and "migrations/0001_two.up.sql" in shown
    assert "CREATE TABLE b (id int);" in shown and "risk not assessed" in shown
    assert "down: irreversible (no down migration)" in shown
    assert "after_statement: count_rows (x2) - after each statement; fail_safe, from code" in shown
    assert "plimsoll-progress" not in shown
    python = build_preview(found[1], None, None)
    assert python.language == "python" and "conn.execute" in _text(render_preview(python))
    json.dumps(python.as_dict())  # plain data


def test_a_python_migration_is_previewed_as_the_worst_case(
    tmp_path: Path, pg_database: PgDatabase
) -> None:
    (migration,) = _folder(
        tmp_path, {"0001_seed.py": "def up(conn):\n    conn.execute('SELECT 1')\n"}
    )
    report = assess([migration], pg_database.dsn, config=RiskConfig(calibrate=False))
    preview = build_preview(migration, report.migrations[0], _registry())
    assert preview.risk is not None and not preview.risk.statements[0].known
    assert preview.level in ("HIGH", "CRITICAL") and preview.confirm_name == "0001_seed"
    assert [h.name for h in preview.hooks] == ["audit", "page_oncall"]  # no statement hooks
    shown = _text(render_preview(preview))
    assert "what it locks cannot be told before it runs: scored as the worst case" in shown
    assert "❱" not in shown


@pytest.fixture
def accounts(pg_database: PgDatabase) -> PgDatabase:
    """A database with a 20,000-row ``accounts`` table and a view on it."""
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, email text, plan text)")
        conn.execute(
            "INSERT INTO accounts SELECT g, 'u' || g || '@example.test', 'free'"
            " FROM generate_series(1, 20000) g"
        )
        conn.execute("ANALYZE accounts")
        conn.execute("CREATE VIEW paying AS SELECT id FROM accounts WHERE plan <> 'free'")
    return pg_database


def test_preview_of_assessed_migrations_shows_locks_risk_time_and_advice(
    tmp_path: Path, accounts: PgDatabase
) -> None:
    found = _folder(
        tmp_path,
        {
            "0001_index.up.sql": "CREATE INDEX accounts_email ON accounts (email);\n",
            "0001_index.down.sql": "DROP INDEX accounts_email;\n",
            "0002_check.up.sql": (
                "ALTER TABLE accounts ADD CONSTRAINT plan_known\n"
                "  CHECK (plan IN ('free', 'pro'));\n"
            ),
            "0003_token.up.sql": (
                "SELECT 1;\nALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
            ),
            "0004_concurrent.up.sql": "CREATE INDEX CONCURRENTLY accounts_plan ON accounts (plan);\n",
        },
    )
    report = assess(found, accounts.dsn, config=RiskConfig(calibrate=False))
    previews = [build_preview(m, r, None) for m, r in zip(found, report.migrations, strict=True)]
    index, check, token, concurrent = previews

    first = index.risk
    assert first is not None and first.statements[0].lock_level is not None
    assert first.statements[0].lock_level.value == "SHARE"  # CREATE INDEX blocks writes only
    assert first.statements[0].blocks_writes and not first.statements[0].blocks_reads
    assert any("CONCURRENTLY" in advice for advice in index.recommendations)
    assert index.down.reversible and index.confirm_name == "accounts"
    shown = _text(render_preview(index, root=tmp_path))
    assert "SHARE" in shown and "writes" in shown and "DROP INDEX accounts_email;" in shown
    assert f"runs {first.duration.text()}" in shown
    assert "blocks writes on accounts (SHARE, from line 1 to the commit)" in shown
    assert "lint migrations/0001_index.up.sql:1:" in shown  # relative to the root

    assert any("NOT VALID, then VALIDATE" in advice for advice in check.recommendations)
    assert check.risk is not None and check.risk.statements[0].scans

    assert token.risk is not None and token.risk.statements[1].rewrites
    assert token.risk.statements[1].lock_level is not None
    assert token.risk.statements[1].lock_level.value == "ACCESS EXCLUSIVE"
    rendered = _text(render_preview(token))
    # The rewriting statement's line is marked in the source; the harmless SELECT is not.
    marked = [line for line in rendered.splitlines() if "❱" in line]
    assert len(marked) == 1 and "ADD COLUMN token" in marked[0]
    assert "rewrite" in rendered and "reads+writes" in rendered
    # How the time was estimated, and why the lock profile says it rewrites.
    assert f"line 2: heuristic: {token.risk.statements[1].duration.basis}" in rendered
    assert "gen_random_uuid() is computed for every row" in rendered

    assert concurrent.risk is not None and not concurrent.risk.transactional
    assert concurrent.risk.statements[0].lock_level is not None
    assert concurrent.risk.statements[0].lock_level.value == "SHARE UPDATE EXCLUSIVE"
    assert any("outside a transaction" in advice for advice in concurrent.recommendations)
    data = json.loads(json.dumps(token.as_dict(), default=str))
    assert data["level"] == token.risk.level.value and data["down"]["reversible"] is False
    assert data["risk"]["statements"][1]["lock_level"] == "ACCESS EXCLUSIVE"
