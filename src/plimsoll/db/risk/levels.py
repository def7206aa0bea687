"""Risk levels: the published cut points of the score, and the order of the levels.

A score is a number from 0 to 1. Its level is LOW below 0.25, MEDIUM below 0.5, HIGH below
0.75 and CRITICAL from 0.75 up. The cut points are part of the published method (``plimsoll
db risk --help`` and the report state them); the weights and curves that make the score are
configurable (``db.risk``), the cut points are not, so a level means the same everywhere.
"""

from __future__ import annotations

from enum import StrEnum

#: The lowest score of each level above LOW.
MEDIUM_FROM = 0.25
HIGH_FROM = 0.5
CRITICAL_FROM = 0.75


class Level(StrEnum):
    """A risk level, from LOW to CRITICAL."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """0 for LOW up to 3 for CRITICAL (for comparing levels)."""
        return _RANKS[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        """A level from its name in any case (``high``, ``HIGH``); ValueError names the choices."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            choices = ", ".join(level.value for level in cls)
            raise ValueError(f"expected one of {choices}, not {text!r}") from None

    def at_least(self, other: Level) -> bool:
        """Whether this level is ``other`` or above it."""
        return self.rank >= other.rank


_RANKS = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2, Level.CRITICAL: 3}


def level_for(score: float) -> Level:
    """The level of a score: LOW < 0.25 <= MEDIUM < 0.5 <= HIGH < 0.75 <= CRITICAL."""
    if score >= CRITICAL_FROM:
        return Level.CRITICAL
    if score >= HIGH_FROM:
        return Level.HIGH
    if score >= MEDIUM_FROM:
        return Level.MEDIUM
    return Level.LOW


def highest(levels: list[Level] | tuple[Level, ...]) -> Level:
    """The highest of ``levels`` (LOW when there are none)."""
    return max(levels, key=lambda level: level.rank, default=Level.LOW)
