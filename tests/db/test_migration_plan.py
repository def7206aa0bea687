"""Planning migrations: plan_sql's decisions, transaction control in Python migrations, and
the setting user code runs in."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from plimsoll.core.errors import InputError
from plimsoll.db.migration_plan import plan_sql, transaction_control_word, user_code
from plimsoll.db.sql import QualifiedName


def test_plan_sql_names_tables_and_the_non_transactional_reason(tmp_path: Path) -> None:
    path = tmp_path / "1_x.up.sql"
    path.write_text(
        'CREATE TABLE s."T" (id int);\nINSERT INTO s."T" VALUES (1);\n'
        'CREATE INDEX CONCURRENTLY i ON s."T" (id);\n'
    )
    plan = plan_sql(path, 150000)
    assert plan.tables == (QualifiedName("s", "T"),)
    assert not plan.transactional
    assert plan.reason and plan.reason.startswith("line 3:")
    assert len(plan.statements) == 3


def test_a_parse_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "2_bad.up.sql"
    path.write_text("CREATE TABLE a (id int);\nCREATE TABLE (;\n")
    with pytest.raises(InputError, match=r"2_bad.up.sql:2"):
        plan_sql(path, 150000)


def test_copy_from_stdin_is_refused_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "3_rows.up.sql"
    path.write_text("CREATE TABLE a (id int);\nCOPY a (id) FROM stdin;\n1\n2\n\\.\n")
    with pytest.raises(InputError, match=r"3_rows.up.sql:2: COPY \.\.\. FROM stdin cannot run"):
        plan_sql(path, 150000)


@pytest.mark.parametrize(
    ("text", "has_params", "word"),
    [
        ("COMMIT", False, "COMMIT"),
        ("  -- done\n/* really */ commit work", False, "COMMIT"),
        ("rollback", False, "ROLLBACK"),
        ("BEGIN", False, "BEGIN"),
        ("start  transaction isolation level serializable", False, "START TRANSACTION"),
        ("END", False, "END"),
        ("abort", False, "ABORT"),
        ("PREPARE TRANSACTION 'x'", False, "PREPARE TRANSACTION"),
        ("CREATE TABLE a (id int); COMMIT; CREATE TABLE b (id int)", False, "COMMIT"),
        # Savepoints nest in the migrator's transaction: allowed.
        ("SAVEPOINT s", False, None),
        ("ROLLBACK TO SAVEPOINT s", False, None),
        ("rollback work to s", False, None),
        ("SAVEPOINT s; ROLLBACK TO s; RELEASE s", False, None),
        ("DO $$BEGIN PERFORM 1; END$$", False, None),
        ("INSERT INTO t VALUES ('x; COMMIT')", False, None),
        ("INSERT INTO t VALUES (%s); x", True, None),  # one statement: parameters
        ("endpoint", False, None),
    ],
)
def test_transaction_control_is_found_by_its_statement(
    text: str, has_params: bool, word: str | None
) -> None:
    assert transaction_control_word(text, has_params) == word


def test_user_code_prints_to_stderr_with_the_project_importable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "projmod_x.py").write_text("VALUE = 42\n")
    before = list(sys.path)
    with user_code(tmp_path):
        print("from user code")
        assert sys.path[0] == str(tmp_path)
        assert importlib.import_module("projmod_x").VALUE == 42
    print("after")
    assert sys.path == before
    captured = capsys.readouterr()
    assert captured.out == "after\n" and captured.err == "from user code\n"
    sys.modules.pop("projmod_x", None)
