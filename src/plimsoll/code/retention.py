"""Retention of the metrics history: tiered pruning, compression and rotation.

Planning is pure: each ``plan_*`` function takes the history's entries (parsed from file
names, no blob read) and a fixed ``now`` and returns which records to keep, delete or
compress, each with its reason. :func:`apply` then carries a plan out as one
compare-and-swap commit on the history branch (or reports it, in a dry run).

Tiers of :func:`plan_prune`, by a record's age:

- younger than ``keep_days``: every record is kept;
- from ``keep_days`` to ``weekly_after_days`` (when the latter is larger): the newest per day;
- from ``weekly_after_days`` to ``monthly_after_days``: the newest per ISO week;
- beyond ``monthly_after_days``: the newest per calendar month.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from plimsoll.code.history import History, HistoryEntry, gzip_bytes
from plimsoll.core.errors import UsageError

# Rotation warns about the records it will remove within this many days.
ROTATE_WARNING_DAYS = 7


class PlanKind(StrEnum):
    """Which retention operation a plan belongs to."""

    PRUNE = "prune"
    COMPRESS = "compress"
    ROTATE = "rotate"


@dataclass(frozen=True)
class Decision:
    """What happens to one record, and why."""

    entry: HistoryEntry
    reason: str

    @property
    def path(self) -> str:
        """The record's path on the history branch."""
        return self.entry.path


@dataclass(frozen=True)
class Plan:
    """The outcome of a ``plan_*`` function: records kept, deleted, compressed, and warnings."""

    kind: PlanKind
    now: datetime
    keep: tuple[Decision, ...]
    delete: tuple[Decision, ...] = ()
    compress: tuple[Decision, ...] = ()
    warnings: tuple[Decision, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether applying the plan would change nothing."""
        return not self.delete and not self.compress


@dataclass(frozen=True)
class ApplyResult:
    """What :func:`apply` did (or, in a dry run, would do)."""

    dry_run: bool
    commit: str | None
    deleted: tuple[str, ...]
    compressed: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready document."""
        return {
            "dry_run": self.dry_run,
            "commit": self.commit,
            "deleted": list(self.deleted),
            "compressed": [{"from": old, "to": new} for old, new in self.compressed],
        }


def _check_now(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _check_days(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise UsageError(f"{name} must be zero or more days, not {value}")


def _plural(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _bucket(entry: HistoryEntry, tier: str) -> tuple[str, str]:
    stamp = entry.timestamp.astimezone(UTC)
    if tier == "month":
        return ("month", f"calendar month {stamp:%Y-%m}")
    if tier == "week":
        year, week, _ = stamp.isocalendar()
        return ("week", f"ISO week {year}-W{week:02d}")
    return ("day", f"day {stamp:%Y-%m-%d}")


def plan_prune(
    entries: Sequence[HistoryEntry],
    now: datetime,
    keep_days: int = 30,
    weekly_after_days: int = 30,
    monthly_after_days: int = 90,
    older_than_days: int | None = None,
) -> Plan:
    """Plan tiered pruning: all recent records, then one per day, ISO week, calendar month.

    In each thinned period the newest record is kept. ``older_than_days`` restricts deletion
    to records at least that old (younger ones are kept even where a tier would drop them).
    """
    now = _check_now(now)
    for name, value in (
        ("keep_days", keep_days),
        ("weekly_after_days", weekly_after_days),
        ("monthly_after_days", monthly_after_days),
        ("older_than_days", older_than_days),
    ):
        _check_days(name, value)
    if not keep_days <= weekly_after_days <= monthly_after_days:
        raise UsageError(
            "retention tiers must be ordered: keep_days <= weekly_after_days <= "
            f"monthly_after_days (got {keep_days}, {weekly_after_days}, {monthly_after_days})"
        )
    keep_span = timedelta(days=keep_days)
    weekly = timedelta(days=weekly_after_days)
    monthly = timedelta(days=monthly_after_days)

    decided: dict[str, Decision] = {}
    buckets: dict[tuple[str, str], list[HistoryEntry]] = defaultdict(list)
    for entry in entries:
        age = now - entry.timestamp
        if age < keep_span:
            decided[entry.path] = Decision(entry, f"younger than {_plural(keep_days)}")
            continue
        tier = "month" if age >= monthly else "week" if age >= weekly else "day"
        buckets[_bucket(entry, tier)].append(entry)

    deletes: set[str] = set()
    for (_, label), members in buckets.items():
        winner = max(members, key=lambda e: e.sort_key)
        for entry in members:
            if entry is winner:
                decided[entry.path] = Decision(entry, f"newest of {label}")
                continue
            age = now - entry.timestamp
            if older_than_days is not None and age < timedelta(days=older_than_days):
                decided[entry.path] = Decision(
                    entry, f"younger than {_plural(older_than_days)} (--older-than)"
                )
                continue
            name = winner.path.rsplit("/", 1)[-1]
            decided[entry.path] = Decision(entry, f"superseded by {name} in {label}")
            deletes.add(entry.path)

    ordered = [decided[e.path] for e in sorted(entries, key=lambda e: e.sort_key)]
    return Plan(
        kind=PlanKind.PRUNE,
        now=now,
        keep=tuple(d for d in ordered if d.path not in deletes),
        delete=tuple(d for d in ordered if d.path in deletes),
    )


def plan_compress(entries: Sequence[HistoryEntry], now: datetime, older_than_days: int) -> Plan:
    """Plan gzip compression of the records at least ``older_than_days`` old."""
    now = _check_now(now)
    _check_days("older_than_days", older_than_days)
    threshold = timedelta(days=older_than_days)
    keep: list[Decision] = []
    compress: list[Decision] = []
    for entry in sorted(entries, key=lambda e: e.sort_key):
        if entry.compressed:
            keep.append(Decision(entry, "already compressed"))
        elif now - entry.timestamp >= threshold:
            compress.append(Decision(entry, f"older than {_plural(older_than_days)}"))
        else:
            keep.append(Decision(entry, f"younger than {_plural(older_than_days)}"))
    return Plan(PlanKind.COMPRESS, now, keep=tuple(keep), compress=tuple(compress))


def plan_rotate(
    entries: Sequence[HistoryEntry],
    now: datetime,
    max_age_days: int,
    warning_days: int = ROTATE_WARNING_DAYS,
) -> Plan:
    """Plan deletion of records older than ``max_age_days``; warn about those next in line."""
    now = _check_now(now)
    _check_days("max_age_days", max_age_days)
    _check_days("warning_days", warning_days)
    max_age = timedelta(days=max_age_days)
    warn_from = max_age - timedelta(days=warning_days)
    keep: list[Decision] = []
    delete: list[Decision] = []
    warnings: list[Decision] = []
    for entry in sorted(entries, key=lambda e: e.sort_key):
        age = now - entry.timestamp
        if age >= max_age:
            delete.append(Decision(entry, f"older than {_plural(max_age_days)}"))
            continue
        keep.append(Decision(entry, f"younger than {_plural(max_age_days)}"))
        if age >= warn_from:
            left = max(1, math.ceil((max_age - age) / timedelta(days=1)))
            warnings.append(Decision(entry, f"will be rotated within {_plural(left)}"))
    return Plan(
        PlanKind.ROTATE, now, keep=tuple(keep), delete=tuple(delete), warnings=tuple(warnings)
    )


def apply(history: History, plan: Plan, dry_run: bool = False) -> ApplyResult:
    """Carry out ``plan`` as one compare-and-swap commit (``latest.json`` kept consistent).

    A dry run reads what compression needs but writes nothing.
    """
    deleted = tuple(d.path for d in plan.delete)
    compressed = tuple((d.path, f"{d.path}.gz") for d in plan.compress)
    if plan.empty or dry_run:
        return ApplyResult(dry_run=dry_run, commit=None, deleted=deleted, compressed=compressed)
    contents = history.read_contents([d.entry for d in plan.compress])
    adds = {new: gzip_bytes(data) for (_, new), data in zip(compressed, contents, strict=True)}
    removals = [*deleted, *(old for old, _ in compressed)]
    parts = []
    if deleted:
        parts.append(f"delete {len(deleted)}")
    if compressed:
        parts.append(f"compress {len(compressed)}")
    message = f"plimsoll: {plan.kind.value}: {', '.join(parts)} records"
    commit = history.commit(adds, removals, message)
    return ApplyResult(dry_run=False, commit=commit, deleted=deleted, compressed=compressed)


def _decisions(items: Sequence[Decision]) -> list[dict[str, str]]:
    return [{"path": d.path, "reason": d.reason} for d in items]


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as a JSON-ready document (kind, now, and each list of paths with reasons)."""
    return {
        "kind": plan.kind.value,
        "now": plan.now.isoformat().replace("+00:00", "Z"),
        "keep": _decisions(plan.keep),
        "delete": _decisions(plan.delete),
        "compress": _decisions(plan.compress),
        "warnings": _decisions(plan.warnings),
    }


def describe(plan: Plan, dry_run: bool = False) -> str:
    """A human-readable summary of the plan: warnings, then each change with its reason."""
    lines: list[str] = []
    for item in plan.warnings:
        lines.append(f"warning: {item.path}: {item.reason}")
    verb_delete = "would delete" if dry_run else "deleted"
    verb_compress = "would compress" if dry_run else "compressed"
    for item in plan.delete:
        lines.append(f"{verb_delete} {item.path}: {item.reason}")
    for item in plan.compress:
        lines.append(f"{verb_compress} {item.path}: {item.reason}")
    changed = len(plan.delete) + len(plan.compress)
    summary = f"{plan.kind.value}: {changed} of {changed + len(plan.keep)} records"
    if plan.empty:
        summary = f"{plan.kind.value}: nothing to do ({len(plan.keep)} records kept)"
    elif dry_run:
        summary += " would change (dry run: nothing written)"
    else:
        summary += " changed"
    lines.append(summary)
    return "\n".join(lines)
