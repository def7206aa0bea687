"""Lock modes (the documentation's conflict table) and risk levels: pure logic."""

from __future__ import annotations

import pytest

from plimsoll.db.risk.levels import Level, highest, level_for
from plimsoll.db.risk.locks import LockLevel, strongest

# PostgreSQL documentation, table 13.2 "Conflicting Lock Modes": each mode and the modes it
# conflicts with.
DOCUMENTED = {
    "ACCESS SHARE": {"ACCESS EXCLUSIVE"},
    "ROW SHARE": {"EXCLUSIVE", "ACCESS EXCLUSIVE"},
    "ROW EXCLUSIVE": {"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"},
    "SHARE UPDATE EXCLUSIVE": {
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    },
    "SHARE": {
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    },
    "SHARE ROW EXCLUSIVE": {
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    },
    "EXCLUSIVE": {
        "ROW SHARE",
        "ROW EXCLUSIVE",
        "SHARE UPDATE EXCLUSIVE",
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    },
    "ACCESS EXCLUSIVE": {level.value for level in LockLevel},
}


@pytest.mark.parametrize("mode", list(DOCUMENTED))
def test_conflicts_follow_the_documentation(mode: str) -> None:
    level = LockLevel(mode)
    conflicting = {other.value for other in LockLevel if level.conflicts_with(other)}
    assert conflicting == DOCUMENTED[mode]
    # The table is symmetric.
    for other in LockLevel:
        assert level.conflicts_with(other) == other.conflicts_with(level)


def test_what_blocks_the_applications_reads_and_writes() -> None:
    assert [lvl.value for lvl in LockLevel if lvl.blocks_reads] == ["ACCESS EXCLUSIVE"]
    assert [lvl.value for lvl in LockLevel if lvl.blocks_writes] == [
        "SHARE",
        "SHARE ROW EXCLUSIVE",
        "EXCLUSIVE",
        "ACCESS EXCLUSIVE",
    ]
    assert not LockLevel.SHARE_UPDATE_EXCLUSIVE.blocks_writes


def test_ranks_names_and_strongest() -> None:
    assert LockLevel.from_rank(5) is LockLevel.SHARE
    assert LockLevel.from_rank(8) is LockLevel.ACCESS_EXCLUSIVE
    with pytest.raises(ValueError, match="between 1 and 8"):
        LockLevel.from_rank(9)
    assert LockLevel.from_pg_locks("ShareUpdateExclusiveLock") is LockLevel.SHARE_UPDATE_EXCLUSIVE
    assert LockLevel.from_pg_locks("AdvisoryLock") is None
    assert strongest([LockLevel.SHARE, LockLevel.ROW_EXCLUSIVE]) is LockLevel.SHARE
    assert strongest([]) is None


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, Level.LOW),
        (0.2499, Level.LOW),
        (0.25, Level.MEDIUM),
        (0.4999, Level.MEDIUM),
        (0.5, Level.HIGH),
        (0.7499, Level.HIGH),
        (0.75, Level.CRITICAL),
        (1.0, Level.CRITICAL),
    ],
)
def test_published_level_cut_points(score: float, level: Level) -> None:
    assert level_for(score) is level


def test_level_parsing_and_order() -> None:
    assert Level.parse(" high ") is Level.HIGH
    with pytest.raises(ValueError, match="LOW, MEDIUM, HIGH, CRITICAL"):
        Level.parse("severe")
    assert Level.CRITICAL.at_least(Level.HIGH) and not Level.MEDIUM.at_least(Level.HIGH)
    assert highest([Level.MEDIUM, Level.CRITICAL, Level.LOW]) is Level.CRITICAL
    assert highest([]) is Level.LOW
