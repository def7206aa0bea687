"""Fixtures of the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    """A fresh SQLite state store in the test's folder, closed afterwards."""
    with SqliteStore(tmp_path / "state.db") as opened:
        yield opened
