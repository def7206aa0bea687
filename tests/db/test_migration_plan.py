"""Planning migrations: plan_sql's decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.errors import InputError
from plimsoll.db.migration_plan import plan_sql
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
