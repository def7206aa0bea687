"""The per-file result cache: SQLite keyed by (collector key, content hash), shared by processes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from plimsoll.core.paths import ensure_private_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT NOT NULL,
    sha TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key, sha)
) WITHOUT ROWID;
"""


class SqliteFileCache:
    """A :class:`~plimsoll.code.collectors.base.FileCache` in one SQLite file (WAL, safe across processes)."""

    def __init__(self, path: Path) -> None:
        ensure_private_dir(path.parent)
        self.path = path
        self._conn = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def get(self, key: str, sha: str) -> dict[str, Any] | None:
        """The cached result, or None."""
        row = self._conn.execute(
            "SELECT value FROM results WHERE key = ? AND sha = ?", (key, sha)
        ).fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except json.JSONDecodeError:
            return None  # a damaged entry is a miss; it gets rewritten
        return value if isinstance(value, dict) else None

    def put(self, key: str, sha: str, value: dict[str, Any]) -> None:
        """Store ``value``; a write that loses a lock race is dropped (the cache is only a cache)."""
        try:
            self._conn.execute(
                "INSERT OR REPLACE INTO results (key, sha, value) VALUES (?, ?, ?)",
                (key, sha, json.dumps(value)),
            )
        except sqlite3.OperationalError:
            pass

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
