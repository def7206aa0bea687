"""Fixtures of the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore, Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A fresh SQLite state store in the test's folder, closed afterwards."""
    with SqliteStore(tmp_path / "state.db") as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store on each backend in turn: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        opened = open_store(tmp_path / "state.db")
    else:
        opened = open_store(url=request.getfixturevalue("pg_database").dsn)
    with opened:
        yield opened
