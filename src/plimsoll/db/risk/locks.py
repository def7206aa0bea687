"""PostgreSQL's table lock modes and which of them conflict (the documentation's table 13.2).

The application's own statements take ACCESS SHARE (``SELECT``) and ROW EXCLUSIVE (``INSERT``,
``UPDATE``, ``DELETE``). So a lock *blocks reads* when it conflicts with ACCESS SHARE (only
ACCESS EXCLUSIVE does) and *blocks writes* when it conflicts with ROW EXCLUSIVE (SHARE, SHARE
ROW EXCLUSIVE, EXCLUSIVE and ACCESS EXCLUSIVE). SHARE UPDATE EXCLUSIVE, what ``CREATE INDEX
CONCURRENTLY``, ``VALIDATE CONSTRAINT`` and plain ``VACUUM`` take, blocks neither.
"""

from __future__ import annotations

from enum import StrEnum


class LockLevel(StrEnum):
    """A table-level lock mode, as PostgreSQL's documentation names it."""

    ACCESS_SHARE = "ACCESS SHARE"
    ROW_SHARE = "ROW SHARE"
    ROW_EXCLUSIVE = "ROW EXCLUSIVE"
    SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
    SHARE = "SHARE"
    SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
    EXCLUSIVE = "EXCLUSIVE"
    ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"

    @property
    def rank(self) -> int:
        """1 (ACCESS SHARE) to 8 (ACCESS EXCLUSIVE): ``LOCK TABLE``'s mode numbers."""
        return _ORDER.index(self) + 1

    @property
    def blocks_reads(self) -> bool:
        """Whether the lock makes ``SELECT`` on the table wait."""
        return self.conflicts_with(LockLevel.ACCESS_SHARE)

    @property
    def blocks_writes(self) -> bool:
        """Whether the lock makes ``INSERT``, ``UPDATE`` and ``DELETE`` on the table wait."""
        return self.conflicts_with(LockLevel.ROW_EXCLUSIVE)

    def conflicts_with(self, other: LockLevel) -> bool:
        """Whether two sessions cannot hold this lock and ``other`` on one table at once."""
        return other in _CONFLICTS[self]

    @classmethod
    def from_rank(cls, rank: int) -> LockLevel:
        """The mode of ``LOCK TABLE``'s number (1 to 8); ValueError outside that range."""
        if not 1 <= rank <= len(_ORDER):
            raise ValueError(f"lock mode number {rank} is not between 1 and 8")
        return _ORDER[rank - 1]

    @classmethod
    def from_pg_locks(cls, mode: str) -> LockLevel | None:
        """The mode of a ``pg_locks.mode`` value (``AccessExclusiveLock``); None for others."""
        return _PG_LOCKS.get(mode)


_ORDER = tuple(LockLevel)
_AS, _RS, _RE, _SUE, _S, _SRE, _E, _AE = _ORDER
_CONFLICTS: dict[LockLevel, frozenset[LockLevel]] = {
    _AS: frozenset({_AE}),
    _RS: frozenset({_E, _AE}),
    _RE: frozenset({_S, _SRE, _E, _AE}),
    _SUE: frozenset({_SUE, _S, _SRE, _E, _AE}),
    _S: frozenset({_RE, _SUE, _SRE, _E, _AE}),
    _SRE: frozenset({_RE, _SUE, _S, _SRE, _E, _AE}),
    _E: frozenset({_RS, _RE, _SUE, _S, _SRE, _E, _AE}),
    _AE: frozenset(_ORDER),
}
_PG_LOCKS = {
    "AccessShareLock": _AS,
    "RowShareLock": _RS,
    "RowExclusiveLock": _RE,
    "ShareUpdateExclusiveLock": _SUE,
    "ShareLock": _S,
    "ShareRowExclusiveLock": _SRE,
    "ExclusiveLock": _E,
    "AccessExclusiveLock": _AE,
}


def strongest(levels: list[LockLevel] | tuple[LockLevel, ...]) -> LockLevel | None:
    """The strongest of ``levels``, or None when there are none."""
    return max(levels, key=lambda level: level.rank, default=None)
