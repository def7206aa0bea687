"""A local index of the history's scalar metrics, keyed by git blob id, so trends read fast.

A record file's blob id names its content for good, so an entry never goes stale: the
index only grows by the records it has not seen (and forgets those no longer on the
branch). Reading a trend over 10,000 records then parses 10,000 small rows instead of
10,000 full records with their per-file detail.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from plimsoll.code.history import History, HistoryEntry, parse_stored
from plimsoll.code.record import RecordError
from plimsoll.code.summary import is_detail
from plimsoll.core.gcpause import gc_paused
from plimsoll.core.paths import ensure_private_dir

INDEX_FILE = "history-index.sqlite"
BATCH = 500
# The layout of an indexed row (PRAGMA user_version); rows of another layout are dropped and
# the records indexed again. 2: empty maps are kept as ``{}`` (see index_leaves).
INDEX_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    blob TEXT PRIMARY KEY,
    commit_sha TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    metrics TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS unreadable (
    blob TEXT PRIMARY KEY,
    error TEXT NOT NULL
) WITHOUT ROWID;
"""


def scalar_leaves(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Every number, string, bool or null of ``metrics`` by dotted path, detail left out."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [("", metrics)]
    while stack:
        prefix, value = stack.pop()
        if isinstance(value, Mapping):
            for key, child in value.items():
                # Per-item detail is left out; a trend over it reads the records themselves.
                if is_detail(str(key)):
                    continue
                stack.append((f"{prefix}.{key}" if prefix else str(key), child))
        elif value is None or isinstance(value, bool | int | float | str):
            out[prefix] = value
    return out


def index_leaves(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`scalar_leaves`, plus ``{}`` at the path of each empty map.

    An empty map leaves no scalar behind, yet a complete count map that is empty (no ruff
    violation at all) still says its collector ran and counted every code zero times.
    """
    out = scalar_leaves(metrics)
    stack: list[tuple[str, Any]] = [("", metrics)]
    while stack:
        prefix, value = stack.pop()
        if not isinstance(value, Mapping):
            continue
        if not value and prefix:
            out[prefix] = {}
        for key, child in value.items():
            if not is_detail(str(key)):
                stack.append((f"{prefix}.{key}" if prefix else str(key), child))
    return out


def is_indexed_path(metric: str) -> bool:
    """Whether values of ``metric`` are kept in the index (not under a detail key)."""
    return not any(is_detail(part) for part in metric.split("."))


@dataclass(frozen=True)
class IndexedRecord:
    """One record as the index knows it: when, which commit, and its scalar metrics."""

    timestamp: datetime
    commit_sha: str
    metrics: dict[str, Any]


class TrendIndex:
    """The index file of one repository (under ``.plimsoll/cache``)."""

    def __init__(self, path: Path) -> None:
        ensure_private_dir(path.parent)
        self._conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version != INDEX_VERSION:
            try:
                with self._conn:
                    self._conn.execute("BEGIN IMMEDIATE")
                    # Checked again under the lock: another process may have just rebuilt it.
                    (version,) = self._conn.execute("PRAGMA user_version").fetchone()
                    if version != INDEX_VERSION:
                        self._conn.execute("DROP TABLE IF EXISTS records")
                        self._conn.execute("DROP TABLE IF EXISTS unreadable")
                        self._conn.execute(f"PRAGMA user_version = {INDEX_VERSION}")
            except sqlite3.OperationalError:
                pass  # another process is rebuilding it: it is only a cache
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        """Close the index file."""
        self._conn.close()

    def _known(self) -> dict[str, tuple[str, str, str]]:
        rows = self._conn.execute("SELECT blob, commit_sha, timestamp, metrics FROM records")
        return {blob: (sha, ts, metrics) for blob, sha, ts, metrics in rows}

    def _unreadable(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT blob, error FROM unreadable"))

    def _add(self, history: History, entries: Sequence[HistoryEntry]) -> None:
        for start in range(0, len(entries), BATCH):
            batch = entries[start : start + BATCH]
            blobs = history.git.read_blobs([e.blob for e in batch])
            rows, bad = [], []
            for entry, data in zip(batch, blobs, strict=True):
                try:
                    if data is None:
                        raise RecordError(f"{entry.path}: its blob is missing from the repository")
                    record = parse_stored(entry.path, data)
                except RecordError as exc:
                    bad.append((entry.blob, exc.message))
                    continue
                rows.append(
                    (
                        entry.blob,
                        record.commit_sha,
                        record.timestamp.isoformat(),
                        json.dumps(index_leaves(record.metrics)),
                    )
                )
            try:
                with self._conn:
                    self._conn.execute("BEGIN")
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", rows
                    )
                    self._conn.executemany("INSERT OR REPLACE INTO unreadable VALUES (?, ?)", bad)
            except sqlite3.OperationalError:
                pass  # another process holds the index: it is only a cache, read on

    def records(
        self, history: History, on_error: Callable[[HistoryEntry, str], None] | None = None
    ) -> list[IndexedRecord]:
        """Every readable record of ``history`` as indexed (new records parsed and added)."""
        entries = [e for e in history.entries() if e.blob]
        with gc_paused():
            known, unreadable = self._known(), self._unreadable()
            missing = [e for e in entries if e.blob not in known and e.blob not in unreadable]
            if missing:
                self._add(history, missing)
                known, unreadable = self._known(), self._unreadable()
            out = []
            for entry in entries:
                row = known.get(entry.blob)
                if row is None:
                    # Unreadable records are reported on every read, as load_all does.
                    if on_error is not None and entry.blob in unreadable:
                        on_error(entry, unreadable[entry.blob])
                    continue
                sha, ts, metrics = row
                out.append(IndexedRecord(datetime.fromisoformat(ts), sha, json.loads(metrics)))
        return out
