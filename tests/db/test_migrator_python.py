"""Python migrations and their transaction, against a real PostgreSQL: transaction control is
refused before it is sent, and one that slips past (through the raw libpq connection) is
reported as what it did, never as "rolled back"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from plimsoll.core.errors import InputError
from plimsoll.db.migrator import MigrationError, Migrator


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _state(dsn: str) -> tuple[Any, ...]:
    """Whether c1 and c2 exist, and the versions tracked."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT to_regclass('c1'), to_regclass('c2')").fetchone()
        tracked = conn.execute(
            "SELECT array_agg(version ORDER BY version) FROM plimsoll_migrations"
        ).fetchone()
    assert row is not None and tracked is not None
    return (row[0], row[1], tracked[0])


def _migration(control: str) -> str:
    return (
        "def up(conn):\n"
        "    conn.execute('CREATE TABLE c1 (id int)')\n"
        f"    conn.execute({control!r})\n"
        "    conn.execute('CREATE TABLE c2 (id int)')\n"
    )


@pytest.mark.parametrize(
    "control",
    [
        "COMMIT",
        "rollback",
        "BEGIN",
        "END",
        "  -- done\n  commit work",
        "CREATE TABLE x (id int); COMMIT",
    ],
)
def test_transaction_control_in_a_python_migration_is_refused_before_it_is_sent(
    pg_database: Any, tmp_path: Path, control: str
) -> None:
    folder = _write(tmp_path / "m", {"0001_commit.py": _migration(control)})
    migrator = Migrator(pg_database.dsn, folder)
    with pytest.raises(MigrationError) as err:
        migrator.up()
    message = str(err.value)
    assert f"{folder / '0001_commit.py'}:3: up() failed: TransactionControlRefused:" in message
    assert message.endswith("; rolled back")
    assert _state(pg_database.dsn) == (None, None, None)  # true: nothing stayed
    # Fixed, the same migration applies: c1 was really rolled back.
    (folder / "0001_commit.py").write_text(_migration("SAVEPOINT s"))
    migrator.up()
    assert _state(pg_database.dsn) == ("c1", "c2", ["0001"])


def test_savepoints_and_nested_transactions_stay_allowed(pg_database: Any, tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "m",
        {
            "0001_nested.py": (
                "import psycopg\n\n\n"
                "def up(conn):\n"
                "    conn.execute('CREATE TABLE c1 (id int)')\n"
                "    try:\n"
                "        with conn.transaction():\n"
                "            conn.execute('CREATE TABLE c2 (id int)')\n"
                "            conn.execute('SELECT 1 / 0')\n"
                "    except psycopg.errors.DivisionByZero:\n"
                "        pass\n"
                "    conn.execute('SAVEPOINT s; ROLLBACK TO SAVEPOINT s; RELEASE SAVEPOINT s')\n"
            )
        },
    )
    Migrator(pg_database.dsn, folder).up()
    assert _state(pg_database.dsn) == ("c1", None, ["0001"])


@pytest.mark.parametrize(
    ("raw", "c1", "expected"),
    [
        (
            "COMMIT",
            "c1",
            "up() committed the transaction itself: statements before the COMMIT stay applied"
            " (statements after it ran one by one, outside a transaction, and stay applied);"
            " 0001_raw is not recorded",
        ),
        (
            "ROLLBACK",
            None,
            "up() rolled back the transaction itself: statements before the ROLLBACK are undone"
            " (statements after it ran one by one, outside a transaction, and stay applied);"
            " 0001_raw is not recorded",
        ),
        (
            "COMMIT; BEGIN",
            "c1",
            "up() committed the transaction itself: statements before the COMMIT stay applied"
            " (what ran in the transaction it opened next is rolled back); 0001_raw is not"
            " recorded",
        ),
    ],
)
def test_a_transaction_ended_behind_the_migrators_back_is_reported_as_what_happened(
    pg_database: Any, tmp_path: Path, raw: str, c1: str | None, expected: str
) -> None:
    # The raw libpq connection is not watched: what it did is read from the server after.
    folder = _write(
        tmp_path / "m",
        {
            "0001_raw.py": (
                "def up(conn):\n"
                "    conn.execute('CREATE TABLE c1 (id int)')\n"
                f"    conn.pgconn.exec_({raw.encode()!r})\n"
                "    conn.execute('CREATE TABLE c2 (id int)')\n"
            )
        },
    )
    with pytest.raises(MigrationError) as err:
        Migrator(pg_database.dsn, folder).up()
    assert str(err.value) == f"{folder / '0001_raw.py'}: {expected}"
    c2 = None if raw == "COMMIT; BEGIN" else "c2"
    assert _state(pg_database.dsn) == (c1, c2, None)


def test_a_python_migration_imports_the_projects_own_modules(
    pg_database: Any, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    (root / "shop_helpers_x").mkdir(parents=True)
    (root / "shop_helpers_x" / "__init__.py").write_text(
        "def add_audit(conn, table):\n    conn.execute(f'CREATE TABLE {table}_audit (id int)')\n"
    )
    folder = _write(
        root / "db" / "migrations",
        {
            "0001_items.up.sql": "CREATE TABLE items (id int);\n",
            "0002_audit.py": (
                "from shop_helpers_x import add_audit\n\n\n"
                "def up(conn):\n"
                "    add_audit(conn, 'items')\n"
            ),
        },
    )
    # Without the project's folder it cannot be imported: found before anything is applied.
    with pytest.raises(InputError) as err:
        Migrator(pg_database.dsn, folder).up()
    assert str(err.value) == (
        f"{folder / '0002_audit.py'}:1: failed to import: ModuleNotFoundError: No module named"
        " 'shop_helpers_x'"
    )
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM plimsoll_migrations").fetchone() == (0,)
    Migrator(pg_database.dsn, folder, project_root=root).up()
    with psycopg.connect(pg_database.dsn) as conn:
        assert conn.execute("SELECT to_regclass('items_audit')").fetchone() == ("items_audit",)
    assert str(root) not in __import__("sys").path  # taken off again
