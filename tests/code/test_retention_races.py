"""Retention with unreadable records, and retention racing other writers, on real git repositories.

A prune must never keep a corrupt record as a period's survivor in place of a readable one,
and a retention command that loses a compare-and-swap must plan again on the new tip rather
than replay its stale plan over the other writer's commit.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code import retention
from plimsoll.code.history import History, HistoryEntry
from plimsoll.code.record import (
    CURRENT_SCHEMA_VERSION,
    LATEST_PATH,
    Record,
    record_filename,
    record_path,
)
from plimsoll.code.retention import plan_compress, plan_prune
from tests.support.gitrepo import GitRepo

NOW = datetime(2025, 6, 11, 12, 0, 0, tzinfo=UTC)


def entry(when: datetime, sha: str) -> HistoryEntry:
    return HistoryEntry(record_path(when, sha, "1.2"), when, sha, "1.2", False)


# -- planning --------------------------------------------------------------------------------


def test_an_unreadable_record_is_never_the_survivor_of_its_period() -> None:
    # Four records of one old month; the newest cannot be read.
    month = [entry(NOW - timedelta(days=200, hours=h), f"{h:07d}") for h in range(4)]
    newest = month[0]
    plan = plan_prune(month, NOW, unreadable={newest.path: "record is not valid JSON"})
    assert [d.path for d in plan.unreadable] == [newest.path]
    assert "record is not valid JSON" in plan.unreadable[0].reason
    assert [d.path for d in plan.keep] == [month[1].path]  # the newest readable one
    assert {d.path for d in plan.delete} == {month[2].path, month[3].path}
    text = retention.describe(plan, dry_run=True)
    assert f"warning: {newest.path}: unreadable, left untouched" in text
    assert text.splitlines()[-1].endswith("1 unreadable record left untouched")
    assert retention.plan_to_json(plan)["unreadable"][0]["path"] == newest.path


def test_a_period_of_unreadable_records_only_is_left_alone() -> None:
    month = [entry(NOW - timedelta(days=200, hours=h), f"{h:07d}") for h in range(3)]
    plan = plan_prune(month, NOW, unreadable={e.path: "bad" for e in month})
    assert plan.empty and len(plan.unreadable) == 3 and not plan.keep


def test_compress_leaves_unreadable_records_untouched() -> None:
    old = [entry(NOW - timedelta(days=60 + d), f"{d:07d}") for d in range(3)]
    plan = plan_compress(old, NOW, 30, unreadable={old[1].path: "unknown schema_version"})
    assert {d.path for d in plan.compress} == {old[0].path, old[2].path}
    assert [d.path for d in plan.unreadable] == [old[1].path]


# -- on a real repository --------------------------------------------------------------------


def record_at(when: datetime, i: int) -> Record:
    return Record(
        timestamp=when,
        commit_sha=f"{i:07x}" + "e" * 33,
        metrics={"stats": {"i": i}},
        package_version="1.0",
    )


def files_on(history: History) -> set[str]:
    tip = history.tip()
    assert tip is not None
    return set(history.git.run("ls-tree", "-r", "--name-only", tip).decode().split())


def test_prune_keeps_a_corrupt_newest_record_and_the_newest_readable_one(
    git_repo: GitRepo,
) -> None:
    history = History(git_repo.path)
    now = datetime.now(UTC)
    # One record per day 200-203 days ago (one calendar month at most two), plus a corrupt
    # file newer than all of them in the same period.
    base = now - timedelta(days=200)
    base = base.replace(day=15)
    records = [record_at(base - timedelta(hours=h), h) for h in range(1, 5)]
    adds = {record_filename(r): r.to_bytes() for r in records}
    corrupt = record_path(base, "badbad0", "1.2")
    adds[corrupt] = b"{ not json"
    history.commit(adds, [], "seed")
    newest_readable = record_filename(records[0])

    prune = functools.partial(plan_prune, now=now)
    dry, dry_result = retention.run(history, prune, dry_run=True)
    assert [d.path for d in dry.unreadable] == [corrupt]
    assert corrupt not in dry_result.deleted and newest_readable not in dry_result.deleted

    plan, result = retention.run(history, prune)
    assert plan == dry
    remaining = files_on(history)
    assert remaining == {corrupt, newest_readable, LATEST_PATH}
    latest = history.latest()
    assert latest is not None and latest.commit_sha == records[0].commit_sha
    assert set(result.deleted) == {record_filename(r) for r in records[1:]}


def seeded(git_repo: GitRepo, days: list[int]) -> tuple[History, list[Record]]:
    history = History(git_repo.path)
    now = datetime.now(UTC)
    records = [record_at(now - timedelta(days=d, hours=1), i) for i, d in enumerate(days)]
    history.commit({record_filename(r): r.to_bytes() for r in records}, [], "seed")
    return history, records


# Ages in days: every one older than keep_days; several share ISO weeks and months.
AGES = [31, 32, 33, 40, 41, 95, 96, 97, 130, 131, 200, 201, 202]


def interleave(history: History, other: Any) -> None:
    """Make ``history``'s first compare-and-swap lose: ``other`` commits just before it."""
    real = history.git.update_ref
    calls = {"n": 0}

    def update_ref(ref: str, new: str, old: str | None, message: str = "plimsoll") -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            other()
        return real(ref, new, old, message=message)

    history.git.update_ref = update_ref  # type: ignore[method-assign]


def final_state_is_pruned_and_compressed(history: History, survivors: set[str]) -> None:
    records = {p for p in files_on(history) if p.startswith("history/")}
    assert records == {f"{p}.gz" for p in survivors}
    assert files_on(history) >= {LATEST_PATH}


def test_prune_losing_to_compress_plans_again_on_the_new_tip(git_repo: GitRepo) -> None:
    history, _ = seeded(git_repo, AGES)
    now = datetime.now(UTC)
    prune = functools.partial(plan_prune, now=now)
    compress = functools.partial(plan_compress, now=now, older_than_days=0)
    expected, _ = retention.run(history, prune, dry_run=True)
    survivors = {d.path for d in expected.keep}
    other = History(git_repo.path)
    interleave(history, lambda: retention.run(other, compress))

    plan, result = retention.run(history, prune)
    # The plan that was committed is the one made on compress's tip: compressed names.
    assert set(result.deleted) == {f"{d.path}.gz" for d in expected.delete}
    assert all(d.entry.compressed for d in plan.delete)
    final_state_is_pruned_and_compressed(history, survivors)
    assert result.commit == history.tip()


def test_compress_losing_to_prune_does_not_bring_deleted_records_back(git_repo: GitRepo) -> None:
    history, _ = seeded(git_repo, AGES)
    now = datetime.now(UTC)
    prune = functools.partial(plan_prune, now=now)
    compress = functools.partial(plan_compress, now=now, older_than_days=0)
    expected, _ = retention.run(history, prune, dry_run=True)
    survivors = {d.path for d in expected.keep}
    other = History(git_repo.path)
    interleave(history, lambda: retention.run(other, prune))

    plan, result = retention.run(history, compress)
    assert {old for old, _ in result.compressed} == survivors
    assert len(plan.compress) == len(survivors)
    final_state_is_pruned_and_compressed(history, survivors)


def test_migrate_losing_to_prune_does_not_bring_deleted_records_back(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    now = datetime.now(UTC)
    adds: dict[str, bytes] = {}
    for i, days in enumerate(AGES):
        when = now - timedelta(days=days, hours=1)
        doc = {
            "schema_version": "1.0",
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit_sha": f"{i:07x}" + "f" * 33,
            "metrics": {"stats": {"i": i}},
        }
        adds[record_path(when, doc["commit_sha"][:7], "1.0")] = json.dumps(doc).encode()
    history.commit(adds, [], "seed")
    prune = functools.partial(plan_prune, now=now)
    expected, _ = retention.run(history, prune, dry_run=True)
    other = History(git_repo.path)
    interleave(history, lambda: retention.run(other, prune))

    report = history.migrate_all()
    survivors = {d.path for d in expected.keep}
    assert {m.path for m in report.migrated} == survivors
    assert {p for p in files_on(history) if p.startswith("history/")} == survivors
    assert all(r.schema_version == CURRENT_SCHEMA_VERSION for r in history.load_all())


# -- real concurrent processes ---------------------------------------------------------------

CONFIG = """[project]
name = "demo"
version = "1.0"

[tool.plimsoll.code]
paths = ["pkg"]
collectors = ["stats"]
"""


def run_both(repo: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start ``code compress --older-than 0`` and ``code prune`` at the same moment."""
    env = {**os.environ, "NO_COLOR": "1", "CI": "true"}
    base = [sys.executable, "-m", "plimsoll", "code"]
    procs = [
        subprocess.Popen(
            [*base, *args, "--format", "json"],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (["compress", "--older-than", "0"], ["prune"])
    ]
    outs = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        outs.append(json.loads(stdout))
    return outs[0], outs[1]


@pytest.mark.parametrize("round_", range(3))
def test_prune_and_compress_racing_as_processes_both_land(git_repo: GitRepo, round_: int) -> None:
    git_repo.commit("one", {"pyproject.toml": CONFIG, "pkg/m.py": "x = 1\n"})
    history, _ = seeded(git_repo, AGES)
    now = datetime.now(UTC)
    expected, _ = retention.run(history, functools.partial(plan_prune, now=now), dry_run=True)
    survivors = {d.path for d in expected.keep}
    start = time.monotonic()
    compressed, pruned = run_both(git_repo.path)
    assert time.monotonic() - start < 120
    final_state_is_pruned_and_compressed(history, survivors)
    # Each report says what its own commit did: prune's deletions are exactly the records
    # that are gone (by either name), and compress compressed only survivors.
    gone = {p.removesuffix(".gz") for p in pruned["deleted"]}
    assert gone == {d.path for d in expected.delete}
    assert {c["from"] for c in compressed["compressed"]} <= {
        d.path for d in (*expected.keep, *expected.delete)
    }
    # Both commits are on the branch (the one that lost its race is a child of the other).
    log = git_repo.git("log", "--format=%s", "code-metrics").splitlines()
    assert any(line.startswith("plimsoll: prune: delete") for line in log)
    assert any(line.startswith("plimsoll: compress: compress") for line in log)
    records = [json.loads(gzip.decompress(b)) for b in _blobs(history)]
    assert len(records) == len(survivors)


def _blobs(history: History) -> list[bytes]:
    entries = history.entries()
    return [b for b in history.git.read_blobs([e.blob for e in entries]) if b is not None]
