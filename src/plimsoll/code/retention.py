"""Retention of the metrics history: tiered pruning, compression and rotation.

Planning is pure: each ``plan_*`` function takes the history's entries (parsed from file
names), the records among them that cannot be read, and a fixed ``now``, and returns which
records to keep, delete or compress, each with its reason. :func:`run` then plans on the
history branch's tip and carries the plan out as one compare-and-swap commit (or reports it,
in a dry run). After a lost compare-and-swap it plans again on the new tip, so a concurrent
prune, compress or migrate never has its work undone by a stale plan, and the report says
what was really done.

An unreadable record (corrupt, or of an unknown schema version) is never chosen as the
survivor of a period and never deleted or compressed in place of a readable one: prune and
compress leave it untouched and name it in their report.

Tiers of :func:`plan_prune`, by a record's age:

- younger than ``keep_days``: every record is kept;
- from ``keep_days`` to ``weekly_after_days`` (when the latter is larger): the newest per day;
- from ``weekly_after_days`` to ``monthly_after_days``: the newest per ISO week;
- beyond ``monthly_after_days``: the newest per calendar month.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from plimsoll.code.gitplumbing import TreeEntry
from plimsoll.code.history import Files, History, HistoryEntry, entries_of, gzip_bytes
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
    unreadable: tuple[Decision, ...] = ()  # kept untouched: they cannot be read

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


def _unreadable(
    entries: Sequence[HistoryEntry], unreadable: Mapping[str, str] | None
) -> tuple[list[HistoryEntry], tuple[Decision, ...]]:
    """Split ``entries`` into readable ones and Decisions keeping the unreadable ones."""
    problems = unreadable or {}
    readable = [e for e in entries if e.path not in problems]
    kept = tuple(
        Decision(e, f"unreadable, left untouched: {problems[e.path]}")
        for e in sorted(entries, key=lambda e: e.sort_key)
        if e.path in problems
    )
    return readable, kept


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
    unreadable: Mapping[str, str] | None = None,
) -> Plan:
    """Plan tiered pruning: all recent records, then one per day, ISO week, calendar month.

    In each thinned period the newest readable record is kept. ``older_than_days`` restricts
    deletion to records at least that old (younger ones are kept even where a tier would drop
    them). ``unreadable`` maps the paths of records that cannot be read to why: they are
    left untouched, listed in the plan's ``unreadable``, and never survive in place of a
    readable record.
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

    readable, kept_unreadable = _unreadable(entries, unreadable)
    decided: dict[str, Decision] = {}
    buckets: dict[tuple[str, str], list[HistoryEntry]] = defaultdict(list)
    for entry in readable:
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

    ordered = [decided[e.path] for e in sorted(readable, key=lambda e: e.sort_key)]
    return Plan(
        kind=PlanKind.PRUNE,
        now=now,
        keep=tuple(d for d in ordered if d.path not in deletes),
        delete=tuple(d for d in ordered if d.path in deletes),
        unreadable=kept_unreadable,
    )


def plan_compress(
    entries: Sequence[HistoryEntry],
    now: datetime,
    older_than_days: int,
    unreadable: Mapping[str, str] | None = None,
) -> Plan:
    """Plan gzip compression of the records at least ``older_than_days`` old.

    Records in ``unreadable`` (path -> why) are left untouched and listed in the plan.
    """
    now = _check_now(now)
    _check_days("older_than_days", older_than_days)
    threshold = timedelta(days=older_than_days)
    readable, kept_unreadable = _unreadable(entries, unreadable)
    keep: list[Decision] = []
    compress: list[Decision] = []
    for entry in sorted(readable, key=lambda e: e.sort_key):
        if entry.compressed:
            keep.append(Decision(entry, "already compressed"))
        elif now - entry.timestamp >= threshold:
            compress.append(Decision(entry, f"older than {_plural(older_than_days)}"))
        else:
            keep.append(Decision(entry, f"younger than {_plural(older_than_days)}"))
    return Plan(
        PlanKind.COMPRESS,
        now,
        keep=tuple(keep),
        compress=tuple(compress),
        unreadable=kept_unreadable,
    )


def plan_rotate(
    entries: Sequence[HistoryEntry],
    now: datetime,
    max_age_days: int,
    warning_days: int = ROTATE_WARNING_DAYS,
    unreadable: Mapping[str, str] | None = None,
) -> Plan:
    """Plan deletion of records older than ``max_age_days``; warn about those next in line.

    Age comes from file names, so rotation needs no record read: ``unreadable`` is accepted
    for a uniform planner signature and ignored (a record past the maximum age goes, read or
    not, which is what the maximum age asks for).
    """
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


class Planner(Protocol):
    """Makes a plan from the history's entries and its unreadable records (path -> why)."""

    def __call__(self, entries: Sequence[HistoryEntry], *, unreadable: Mapping[str, str]) -> Plan:
        """The plan for ``entries``."""
        ...


def _message(plan: Plan) -> str:
    parts = []
    if plan.delete:
        parts.append(f"delete {len(plan.delete)}")
    if plan.compress:
        parts.append(f"compress {len(plan.compress)}")
    return f"plimsoll: {plan.kind.value}: {', '.join(parts) or 'nothing'} records"


def run(
    history: History, planner: Planner, dry_run: bool = False, check_readable: bool = True
) -> tuple[Plan, ApplyResult]:
    """Plan on the history's tip and carry the plan out as one compare-and-swap commit.

    After a lost compare-and-swap the plan is made again on the new tip (a record another
    writer deleted or compressed meanwhile is neither brought back nor counted), and the
    plan returned is the one that was committed. ``check_readable`` reads the records (once
    per blob) so the planner knows which cannot be read. A dry run plans and writes nothing.
    """
    if dry_run:
        entries = history.entries()
        plan = planner(entries, unreadable=history.unreadable(entries) if check_readable else {})
        return plan, _result(plan, dry_run=True, commit=None)
    compressed_blobs: dict[str, str] = {}

    def change(files: Files) -> Plan:
        entries = entries_of(files.values())
        plan = planner(entries, unreadable=history.unreadable(entries) if check_readable else {})
        todo = [d.entry for d in plan.compress if d.entry.blob not in compressed_blobs]
        if todo:
            contents = history.read_contents(todo)
            blobs = history.git.write_blobs([gzip_bytes(data) for data in contents])
            compressed_blobs.update(zip((e.blob for e in todo), blobs, strict=True))
        for decision in plan.delete:
            files.pop(decision.path, None)
        for decision in plan.compress:
            files.pop(decision.path, None)
            new = f"{decision.path}.gz"
            files[new] = TreeEntry("100644", "blob", compressed_blobs[decision.entry.blob], new)
        return plan

    tip, plan = history.transact(change, _message)
    return plan, _result(plan, dry_run=False, commit=None if plan.empty else tip)


def _result(plan: Plan, dry_run: bool, commit: str | None) -> ApplyResult:
    return ApplyResult(
        dry_run=dry_run,
        commit=commit,
        deleted=tuple(d.path for d in plan.delete),
        compressed=tuple((d.path, f"{d.path}.gz") for d in plan.compress),
    )


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
        "unreadable": _decisions(plan.unreadable),
    }


def describe(plan: Plan, dry_run: bool = False) -> str:
    """A human-readable summary of the plan: warnings, then each change with its reason."""
    lines: list[str] = []
    for item in plan.warnings:
        lines.append(f"warning: {item.path}: {item.reason}")
    for item in plan.unreadable:
        lines.append(f"warning: {item.path}: {item.reason}")
    verb_delete = "would delete" if dry_run else "deleted"
    verb_compress = "would compress" if dry_run else "compressed"
    for item in plan.delete:
        lines.append(f"{verb_delete} {item.path}: {item.reason}")
    for item in plan.compress:
        lines.append(f"{verb_compress} {item.path}: {item.reason}")
    changed = len(plan.delete) + len(plan.compress)
    total = changed + len(plan.keep) + len(plan.unreadable)
    summary = f"{plan.kind.value}: {changed} of {total} records"
    if plan.empty:
        summary = f"{plan.kind.value}: nothing to do ({len(plan.keep)} records kept)"
    elif dry_run:
        summary += " would change (dry run: nothing written)"
    else:
        summary += " changed"
    if plan.unreadable:
        count = len(plan.unreadable)
        summary += f"; {count} unreadable record{'s' if count != 1 else ''} left untouched"
    lines.append(summary)
    return "\n".join(lines)
