"""The results of an assessment: per statement, per migration, and for the whole run.

These are the public result types (``plimsoll.db.risk``): frozen dataclasses with
``as_dict()`` for ``--format json``. A :class:`StatementRisk` says what one statement locks,
whether it blocks reads or writes, rewrites or scans, which tables it touches, how long the
application is blocked (``lock_seconds``) and how long it runs (``duration``), its score and
level, the lint findings on it, and what to do instead. A :class:`MigrationRisk` adds up its
statements, accounting for locks held until the migration's transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plimsoll.db.lint.findings import Finding
from plimsoll.db.risk.calibration import Calibration
from plimsoll.db.risk.facts import Load, LockHolder, ServerFacts
from plimsoll.db.risk.levels import Level, highest
from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.predict import ZERO, Estimate
from plimsoll.db.risk.score import Score


@dataclass(frozen=True)
class TableImpact:
    """A relation a statement touches: the lock it takes there and what is known of it.

    ``new``: created earlier in the same run (no other session sees or waits for it yet).
    ``reason``: why a relation the statement does not name is reached (a CASCADE, a foreign
    key's other table), from the live facts. ``emptied``: every row of it is deleted
    (``TRUNCATE``); ``dropped``: the statement drops it.
    """

    name: str
    relation: str | None
    lock: LockLevel | None
    exists: bool
    new: bool
    rows: float
    total_bytes: int
    dependents: int
    reason: str | None = None
    emptied: bool = False
    dropped: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "name": self.name,
            "relation": self.relation,
            "lock": self.lock.value if self.lock else None,
            "exists": self.exists,
            "new": self.new,
            "rows": round(self.rows),
            "total_bytes": self.total_bytes,
            "dependents": self.dependents,
            "reason": self.reason,
            "emptied": self.emptied,
            "dropped": self.dropped,
        }


@dataclass(frozen=True)
class StatementRisk:
    """The risk of one statement of a migration.

    ``lock_level`` is the strongest lock on a relation others use (None: none that matters);
    ``blocks_reads``/``blocks_writes`` whether it makes the application's ``SELECT`` or
    ``INSERT``/``UPDATE``/``DELETE`` wait; ``rewrites``/``scans`` whether it copies or reads
    every row; ``concurrently`` the ``CONCURRENTLY`` form; ``transactional`` whether it can run
    in a transaction block; ``known`` false when the lock profile had no entry (worst case).
    ``lock_seconds`` is how long the application is blocked by this statement alone (zero
    when nothing blocks), including ``wait``, the time its lock request may queue behind
    sessions holding a conflicting lock (bounded by ``lock_timeout``); ``duration`` how long
    it runs once it has its locks. ``row_locks``: rows of a table in use it changes and keeps
    locked until the commit (``UPDATE``/``DELETE``: concurrent writes of them wait). ``fails``:
    why it will fail against the live database (None: nothing says it will).
    """

    index: int
    line: int
    end_line: int
    text: str
    kind: str
    action: str
    lock_level: LockLevel | None
    blocks_reads: bool
    blocks_writes: bool
    rewrites: bool
    scans: bool
    concurrently: bool
    transactional: bool
    known: bool
    tables: tuple[TableImpact, ...]
    work: tuple[str, ...]
    lock_seconds: Estimate
    duration: Estimate
    score: Score
    findings: tuple[Finding, ...] = ()
    recommendations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    blockers: tuple[LockHolder, ...] = ()
    wait: Estimate = ZERO
    row_locks: float = 0.0
    fails: str | None = None

    @property
    def level(self) -> Level:
        """The statement's risk level."""
        return self.score.level

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "index": self.index,
            "line": self.line,
            "end_line": self.end_line,
            "text": self.text,
            "kind": self.kind,
            "action": self.action,
            "lock_level": self.lock_level.value if self.lock_level else None,
            "blocks_reads": self.blocks_reads,
            "blocks_writes": self.blocks_writes,
            "rewrites": self.rewrites,
            "scans": self.scans,
            "concurrently": self.concurrently,
            "transactional": self.transactional,
            "known": self.known,
            "tables": [t.as_dict() for t in self.tables],
            "work": list(self.work),
            "lock_seconds": self.lock_seconds.as_dict(),
            "duration": self.duration.as_dict(),
            "score": self.score.as_dict(),
            "level": self.level.value,
            "findings": [f.as_dict() for f in self.findings],
            "recommendations": list(self.recommendations),
            "notes": list(self.notes),
            "blockers": [b.as_dict() for b in self.blockers],
            "wait": self.wait.as_dict(),
            "row_locks": round(self.row_locks),
            "fails": self.fails,
        }


@dataclass(frozen=True)
class LockHold:
    """How long a migration keeps a table locked in a blocking mode.

    In a transactional migration a lock is held from the statement that takes it to the
    commit, so the statements after it add to the time; outside a transaction each statement
    releases its locks when it ends. ``rows`` > 0: not a table lock but the row locks of an
    ``UPDATE``/``DELETE`` (``level`` ROW EXCLUSIVE): writes of those rows wait, a ``share`` of
    the table's rows.
    """

    table: str
    level: LockLevel
    from_line: int
    seconds: Estimate
    rows: float = 0.0
    share: float = 1.0

    @property
    def blocks(self) -> str:
        """What waits, in words."""
        if self.rows:
            return f"updates and deletes of {self.rows:,.0f} rows"
        return "reads and writes" if self.level.blocks_reads else "writes"

    def weight(self, writes_only_share: float) -> float:
        """How much of a full block this hold is: 1 for reads and writes (the lock factor)."""
        if self.level.blocks_reads:
            return 1.0
        return writes_only_share * (self.share if self.rows else 1.0)

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "table": self.table,
            "level": self.level.value,
            "blocks_reads": self.level.blocks_reads,
            "blocks_writes": self.level.blocks_writes or bool(self.rows),
            "row_locks": round(self.rows),
            "from_line": self.from_line,
            "seconds": self.seconds.as_dict(),
        }


@dataclass(frozen=True)
class MigrationRisk:
    """The risk of one migration: its statements, lock holds, duration, score and advice."""

    label: str
    source: str
    transactional: bool
    statements: tuple[StatementRisk, ...]
    holds: tuple[LockHold, ...]
    lock_seconds: Estimate
    duration: Estimate
    score: Score
    recommendations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    failures: tuple[str, ...] = ()

    @property
    def level(self) -> Level:
        """The migration's risk level."""
        return self.score.level

    @property
    def tables(self) -> tuple[str, ...]:
        """The relations others use that the migration locks in a blocking mode."""
        return tuple(hold.table for hold in self.holds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "label": self.label,
            "source": self.source,
            "transactional": self.transactional,
            "level": self.level.value,
            "score": self.score.as_dict(),
            "lock_seconds": self.lock_seconds.as_dict(),
            "duration": self.duration.as_dict(),
            "holds": [h.as_dict() for h in self.holds],
            "statements": [s.as_dict() for s in self.statements],
            "findings": [f.as_dict() for f in self.findings],
            "recommendations": list(self.recommendations),
            "notes": list(self.notes),
            "fails": list(self.failures),
        }


@dataclass(frozen=True)
class RiskReport:
    """An assessment: each migration's risk, the server and its load, the method and caveats."""

    migrations: tuple[MigrationRisk, ...]
    server: ServerFacts
    load: Load
    calibration: Calibration
    method: tuple[str, ...]
    caveats: tuple[str, ...]
    weights: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    duration_seconds: float = 0.0

    @property
    def level(self) -> Level:
        """The highest level of any migration (LOW when there are none)."""
        return highest([m.level for m in self.migrations])

    def failed(self, fail_level: Level) -> bool:
        """Whether a migration is at ``fail_level`` or above, or will fail when it runs."""
        return any(m.level.at_least(fail_level) or m.failures for m in self.migrations)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``plimsoll db risk --format json``)."""
        return {
            "level": self.level.value,
            "migrations": [m.as_dict() for m in self.migrations],
            "server": self.server.as_dict(),
            "load": self.load.as_dict(),
            "calibration": self.calibration.as_dict(),
            "weights": dict(self.weights),
            "levels": {"LOW": "< 0.25", "MEDIUM": "< 0.5", "HIGH": "< 0.75", "CRITICAL": ">= 0.75"},
            "fails": [f"{m.label}: {f}" for m in self.migrations for f in m.failures],
            "method": list(self.method),
            "caveats": list(self.caveats),
            "notes": list(self.notes),
            "duration_seconds": round(self.duration_seconds, 3),
        }
