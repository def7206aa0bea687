"""Retention: pure planning over synthetic entries, then apply on a real history branch."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plimsoll.code import retention
from plimsoll.code.history import History, HistoryEntry
from plimsoll.code.record import LATEST_PATH, Record, record_filename, record_path
from plimsoll.code.retention import PlanKind, plan_compress, plan_prune, plan_rotate
from plimsoll.core.errors import UsageError
from tests.support.gitrepo import GitRepo

# A Wednesday, so ISO-week arithmetic below is easy to follow.
NOW = datetime(2025, 6, 11, 12, 0, 0, tzinfo=UTC)


def entry(when: datetime, sha: str = "abc1234", compressed: bool = False) -> HistoryEntry:
    path = record_path(when, sha, "1.0", compressed=compressed)
    return HistoryEntry(path, when, sha, "1.0", compressed)


def daily(days: int, hour: int = 9) -> list[HistoryEntry]:
    """One record per day for ``days`` days back from NOW (day 0 = today)."""
    start = NOW.replace(hour=hour)
    return [entry(start - timedelta(days=d), sha=f"{d:07d}") for d in range(days)]


def ages(plan_items: tuple[retention.Decision, ...]) -> list[int]:
    return sorted((NOW - d.entry.timestamp).days for d in plan_items)


# -- prune ---------------------------------------------------------------------------------


def test_prune_keeps_everything_recent() -> None:
    entries = daily(30)
    plan = plan_prune(entries, NOW)
    assert plan.delete == ()
    assert len(plan.keep) == 30
    assert all("younger than 30 days" in d.reason for d in plan.keep)


def test_prune_keeps_one_per_iso_week_then_one_per_month() -> None:
    entries = daily(400)
    plan = plan_prune(entries, NOW)
    kept = {d.path for d in plan.keep}
    assert kept.isdisjoint(d.path for d in plan.delete)
    assert len(plan.keep) + len(plan.delete) == 400

    recent = [e for e in entries if NOW - e.timestamp < timedelta(days=30)]
    assert all(e.path in kept for e in recent)

    weekly = [e for e in entries if timedelta(days=30) <= NOW - e.timestamp < timedelta(days=90)]
    by_week: dict[tuple[int, int], list[HistoryEntry]] = {}
    for e in weekly:
        year, week, _ = e.timestamp.isocalendar()
        by_week.setdefault((year, week), []).append(e)
    for members in by_week.values():
        kept_here = [e for e in members if e.path in kept]
        # Exactly the newest record of each ISO week survives.
        assert kept_here == [max(members, key=lambda e: e.timestamp)]

    monthly = [e for e in entries if NOW - e.timestamp >= timedelta(days=90)]
    by_month: dict[tuple[int, int], list[HistoryEntry]] = {}
    for e in monthly:
        by_month.setdefault((e.timestamp.year, e.timestamp.month), []).append(e)
    for members in by_month.values():
        assert [e for e in members if e.path in kept] == [max(members, key=lambda e: e.timestamp)]
    assert len(plan.keep) == 30 + len(by_week) + len(by_month)


def test_prune_reasons_name_the_period_and_the_survivor() -> None:
    entries = daily(120)
    plan = plan_prune(entries, NOW)
    week_keep = [d for d in plan.keep if "ISO week" in d.reason]
    assert week_keep and week_keep[0].reason.startswith("newest of ISO week 2025-W")
    month_delete = [d for d in plan.delete if "calendar month" in d.reason]
    assert month_delete and month_delete[0].reason.startswith("superseded by ")
    assert "in calendar month 2025-0" in month_delete[0].reason


def test_prune_several_records_a_day_keeps_the_newest_of_the_period() -> None:
    week_ago = NOW - timedelta(days=40)
    same_week = [entry(week_ago.replace(hour=h), sha=f"{h:07d}") for h in (1, 5, 23)]
    plan = plan_prune(same_week, NOW)
    assert [d.entry.timestamp.hour for d in plan.keep] == [23]
    assert [d.entry.timestamp.hour for d in plan.delete] == [1, 5]


def test_prune_with_a_daily_tier_between_keep_and_weekly() -> None:
    two_a_day = [e for d in daily(20, hour=1) for e in (d, entry(d.timestamp.replace(hour=5), "b"))]
    plan = plan_prune(two_a_day, NOW, keep_days=7, weekly_after_days=14, monthly_after_days=90)
    days_kept = [d for d in plan.keep if "newest of day" in d.reason]
    assert len(days_kept) == 7  # days 7..13 back: one per day, the later (05:00) one
    assert all(d.entry.timestamp.hour == 5 for d in days_kept)
    daily_deletes = [d for d in plan.delete if NOW - d.entry.timestamp < timedelta(days=14)]
    assert len(daily_deletes) == 7
    assert all(" in day 2025-" in d.reason for d in daily_deletes)


def test_prune_older_than_restricts_deletion() -> None:
    entries = daily(400)
    full = plan_prune(entries, NOW)
    limited = plan_prune(entries, NOW, older_than_days=200)
    assert limited.delete
    assert all(NOW - d.entry.timestamp >= timedelta(days=200) for d in limited.delete)
    assert {d.path for d in limited.delete} < {d.path for d in full.delete}
    protected = [d for d in limited.keep if "--older-than" in d.reason]
    assert protected and all(NOW - d.entry.timestamp < timedelta(days=200) for d in protected)


def test_prune_validates_its_tiers() -> None:
    with pytest.raises(UsageError, match="ordered"):
        plan_prune([], NOW, keep_days=60, weekly_after_days=30)
    with pytest.raises(UsageError):
        plan_prune([], NOW, older_than_days=-1)
    with pytest.raises(ValueError):
        plan_prune([], datetime(2025, 1, 1))
    assert plan_prune([], NOW).empty


def test_future_records_are_kept() -> None:
    plan = plan_prune([entry(NOW + timedelta(days=3))], NOW)
    assert len(plan.keep) == 1 and plan.delete == ()


# -- compress and rotate -------------------------------------------------------------------


def test_plan_compress_picks_old_uncompressed_records() -> None:
    old_gz = entry(NOW - timedelta(days=100), sha="0000100", compressed=True)
    entries = [*daily(60), old_gz]
    plan = plan_compress(entries, NOW, older_than_days=30)
    assert plan.kind is PlanKind.COMPRESS
    assert ages(plan.compress) == list(range(30, 60))
    assert all(d.reason == "older than 30 days" for d in plan.compress)
    assert any(d.reason == "already compressed" for d in plan.keep)
    assert plan.delete == ()


def test_plan_rotate_deletes_past_max_age_and_warns_first() -> None:
    plan = plan_rotate(daily(40), NOW, max_age_days=30)
    assert ages(plan.delete) == list(range(30, 40))
    assert ages(plan.warnings) == list(range(23, 30))
    soonest = max(plan.warnings, key=lambda d: NOW - d.entry.timestamp)
    assert soonest.reason == "will be rotated within 1 day"
    assert len(plan.keep) == 30


def test_plan_json_and_description() -> None:
    plan = plan_rotate(daily(40), NOW, max_age_days=30)
    doc = retention.plan_to_json(plan)
    assert json.loads(json.dumps(doc))["kind"] == "rotate"
    assert len(doc["delete"]) == 10 and doc["delete"][0]["reason"]
    text = retention.describe(plan, dry_run=True)
    assert "would delete" in text and text.startswith("warning: ")
    assert "dry run" in text.splitlines()[-1]


# -- apply on a real repository ------------------------------------------------------------


def record_at(when: datetime, i: int) -> Record:
    return Record(
        timestamp=when,
        commit_sha=f"{i:07x}" + "d" * 33,
        metrics={"stats": {"i": i}},
        package_version="1.0",
    )


@pytest.fixture
def history(git_repo: GitRepo) -> History:
    history = History(git_repo.path)
    days = [0, 1, 2, 35, 36, 37, 38, 120, 125, 150]
    now = datetime.now(UTC)
    records = [record_at(now - timedelta(days=d, hours=1), i) for i, d in enumerate(days)]
    adds = {record_filename(r): r.to_bytes() for r in records}
    assert len(adds) == len(days)
    history.commit(adds, [], "seed")
    return history


def planner_of(plan_fn: Any, **kwargs: Any) -> retention.Planner:
    return functools.partial(plan_fn, **kwargs)  # type: ignore[no-any-return]


def test_apply_prune_in_one_commit_and_dry_run_writes_nothing(history: History) -> None:
    now = datetime.now(UTC)
    prune = planner_of(plan_prune, now=now)
    tip = history.tip()
    plan, dry = retention.run(history, prune, dry_run=True)
    assert plan.delete
    assert dry.commit is None and history.tip() == tip
    assert dry.deleted == tuple(d.path for d in plan.delete)

    again, result = retention.run(history, prune)
    assert again == plan
    assert result.commit == history.tip()
    assert history.git.run("rev-parse", f"{result.commit}^").decode().strip() == tip
    remaining = {e.path for e in history.entries()}
    assert remaining == {d.path for d in plan.keep}
    latest = history.latest()
    assert latest is not None and latest.metrics["stats"]["i"] == 0
    assert result.to_dict()["commit"] == result.commit


def test_apply_compress_keeps_records_readable(history: History) -> None:
    before = history.load_all()
    compress = planner_of(plan_compress, now=datetime.now(UTC), older_than_days=30)
    plan, result = retention.run(history, compress)
    assert len(plan.compress) == 7
    assert [new for _, new in result.compressed] == [f"{d.path}.gz" for d in plan.compress]
    entries = history.entries()
    assert sum(e.compressed for e in entries) == 7
    assert not any(e.path + ".gz" in {x.path for x in entries} for e in entries)
    assert history.load_all() == before
    # Prune still works on compressed names.
    pruned, _ = retention.run(history, planner_of(plan_prune, now=datetime.now(UTC)))
    assert any(d.entry.compressed for d in pruned.delete)
    assert len(history.load_all()) == len(pruned.keep)


def test_apply_rotate_everything_removes_latest(history: History) -> None:
    rotate = planner_of(plan_rotate, now=datetime.now(UTC) + timedelta(days=400), max_age_days=30)
    plan, _ = retention.run(history, rotate, check_readable=False)
    assert len(plan.delete) == 10
    assert history.entries() == []
    assert history.latest() is None
    listed = history.git.run("ls-tree", "--name-only", history.ref).decode().split()
    assert LATEST_PATH not in listed


def test_apply_an_empty_plan_does_nothing(history: History) -> None:
    tip = history.tip()
    rotate = planner_of(plan_rotate, now=datetime.now(UTC), max_age_days=1000)
    plan, result = retention.run(history, rotate)
    assert plan.empty
    assert result.commit is None and history.tip() == tip
