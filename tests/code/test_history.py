"""The history branch: git-object writes with compare-and-swap, reads, push, migration."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.gitplumbing import Git, PushOutcome, TreeEntry
from plimsoll.code.history import (
    History,
    HistoryEntry,
    PushResult,
    entries_of,
    free_record_path,
    merge_files,
)
from plimsoll.code.record import CURRENT_SCHEMA_VERSION, LATEST_PATH, Record, record_filename
from plimsoll.core.errors import NotARepositoryError, UsageError
from tests.support.gitrepo import GitRepo, make_repo

BASE = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def rec(i: int, *, sha: str | None = None, when: datetime | None = None, **extra: Any) -> Record:
    return Record(
        timestamp=when or BASE + timedelta(minutes=i),
        commit_sha=sha or f"{i:07x}{'ab' * 16}{i % 10}",
        metrics={"stats": {"index": i}},
        package_version="1.0.0",
        **extra,
    )


def history_files(repo: GitRepo, branch: str = "code-metrics") -> list[str]:
    return repo.git("ls-tree", "-r", "--name-only", branch).splitlines()


# -- the work tree, the index and HEAD are never touched ------------------------------------


def snapshot(repo: GitRepo) -> dict[str, Any]:
    index = repo.path / ".git" / "index"
    files = {
        str(p.relative_to(repo.path)): p.read_bytes()
        for p in sorted(repo.path.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo.path).parts
    }
    return {
        # Read the index bytes before anything runs git status (which may refresh it).
        "index": hashlib.sha256(index.read_bytes()).hexdigest() if index.exists() else None,
        "index_mtime": index.stat().st_mtime_ns if index.exists() else None,
        "head_ref": repo.git("symbolic-ref", "-q", "HEAD", check=False),
        "head": repo.git("rev-parse", "-q", "--verify", "HEAD", check=False),
        "status": repo.git("status", "--porcelain=v2", "--untracked-files=all"),
        "files": files,
    }


@pytest.fixture
def no_optional_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keeps the test's own `git status` from rewriting the index it is comparing.
    monkeypatch.setenv("GIT_OPTIONAL_LOCKS", "0")


@pytest.mark.usefixtures("no_optional_locks")
def test_writing_never_touches_work_tree_index_or_head(git_repo: GitRepo) -> None:
    git_repo.commit("initial", {"src/app.py": "print(1)\n", "README.md": "hi\n"})
    git_repo.write("src/app.py", "print(2)\n")  # unstaged change
    git_repo.write("staged.txt", "staged\n")
    git_repo.git("add", "staged.txt")  # staged change
    git_repo.write("untracked.txt", "new\n")
    before = snapshot(git_repo)

    history = History(git_repo.path)
    history.append(rec(1))
    history.append(rec(2))
    history.commit({"history/notes.txt": b"x"}, ["history/notes.txt"], "noop-ish")
    history.migrate_all()

    assert snapshot(git_repo) == before
    assert len(history.entries()) == 2


@pytest.mark.usefixtures("no_optional_locks")
def test_first_write_in_a_repository_without_commits(git_repo: GitRepo) -> None:
    git_repo.write("wip.py", "x = 1\n")
    before = snapshot(git_repo)
    history = History(git_repo.path)
    assert not history.exists()
    assert history.entries() == []
    assert history.latest() is None
    history.append(rec(1))
    assert snapshot(git_repo) == before
    assert git_repo.git("symbolic-ref", "HEAD") == "refs/heads/main"


def test_first_append_creates_an_orphan_commit(git_repo: GitRepo) -> None:
    git_repo.commit("initial", {"a.txt": "a"})
    history = History(git_repo.path)
    path = history.append(rec(1))
    assert path == "history/2025_03_01_12_01_00__0000001__1.0.0.json"
    assert history.exists()
    parents = git_repo.git("rev-list", "--parents", "-n", "1", "code-metrics").split()
    assert len(parents) == 1  # the commit alone: no parent
    assert git_repo.git("merge-base", "main", "code-metrics", check=False) == ""
    assert sorted(history_files(git_repo)) == [path, LATEST_PATH]
    history.append(rec(2))
    assert git_repo.git("rev-list", "--count", "code-metrics") == "2"


def test_not_a_repository_and_bad_branch_names(tmp_path: Path, git_repo: GitRepo) -> None:
    with pytest.raises(NotARepositoryError):
        History(tmp_path / "nowhere")
    with pytest.raises(UsageError):
        History(git_repo.path, branch="bad..branch")


# -- appending and reading -------------------------------------------------------------------


def test_entries_are_parsed_from_names_and_sorted(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    for i in (3, 1, 2):
        history.append(rec(i))
    entries = history.entries()
    assert [e.sha7 for e in entries] == ["0000001", "0000002", "0000003"]
    assert all(e.version == "1.0.0" and not e.compressed and e.blob for e in entries)
    assert entries[0].timestamp == BASE + timedelta(minutes=1)


def test_same_name_gets_a_suffix_instead_of_overwriting(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    first = rec(1)
    second = rec(1, commit_message="second run")
    p1 = history.append(first)
    p2 = history.append(second)
    p3 = history.append(second)
    assert p2 == p1.replace(".json", "__2.json")
    assert p3 == p1.replace(".json", "__3.json")
    loaded = [history.load(e) for e in history.entries()]
    assert [r.commit_message for r in loaded] == [None, "second run", "second run"]


def test_latest_is_the_newest_by_timestamp_not_the_last_written(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    history.append(rec(5))
    history.append(rec(1))
    latest = history.latest()
    assert latest is not None and latest.metrics == {"stats": {"index": 5}}
    blob = git_repo.git("show", f"code-metrics:{LATEST_PATH}")
    assert Record.from_json(blob) == rec(5)


def test_load_all_skips_and_reports_bad_records(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    history.append(rec(1))
    unknown = {**rec(2).to_dict(), "schema_version": "7.0"}
    history.commit(
        {
            "history/2025_03_01_12_02_00__bad0002__1.0.0.json": b"{ truncated",
            "history/2025_03_01_12_03_00__bad0003__1.0.0.json": json.dumps(unknown).encode(),
            "history/2025_03_01_12_04_00__bad0004__1.0.0.json.gz": b"not gzip",
            "history/README.md": b"not a record name, ignored",
        },
        [],
        "add bad records",
    )
    errors: list[tuple[str, str]] = []
    records = history.load_all(on_error=lambda entry, msg: errors.append((entry.sha7, msg)))
    assert [r.metrics["stats"]["index"] for r in records] == [1]
    assert [sha for sha, _ in errors] == ["bad0002", "bad0003", "bad0004"]
    assert "not valid JSON" in errors[0][1]
    assert "unknown schema_version '7.0'" in errors[1][1]
    assert "gzip" in errors[2][1]
    assert all(msg.startswith("history/") for _, msg in errors)
    # Without a callback the bad ones are skipped too.
    assert len(history.load_all()) == 1


def test_compressed_records_are_read_transparently(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    record = rec(1)
    path = "history/2025_03_01_12_01_00__0000001__1.0.0.json.gz"
    history.commit({path: gzip.compress(record.to_bytes())}, [], "compressed")
    (entry,) = history.entries()
    assert entry.compressed
    assert history.load(entry) == record
    assert history.load_all() == [record]
    # latest.json is always plain JSON, even when the newest record is compressed.
    assert Record.from_json(git_repo.git("show", f"code-metrics:{LATEST_PATH}")) == record


def test_find_returns_the_newest_record_of_a_commit(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    sha = "abcdef0123456789abcdef0123456789abcdef01"
    history.append(rec(1, sha=sha, commit_message="old"))
    history.append(rec(2, sha=sha, commit_message="new"))
    history.append(rec(3))
    found = history.find(sha)
    assert found is not None and found.commit_message == "new"
    assert history.find("abcdef") == found
    assert history.find("ABCDEF0123") == found
    assert history.find("abcdef0999") is None
    assert history.find("1234567") is None
    with pytest.raises(UsageError):
        history.find("not-a-sha")


def test_an_ambiguous_sha_prefix_is_refused_naming_the_candidates(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    one = "abcdef1" + "1" * 33
    two = "abcdef2" + "2" * 33
    history.append(rec(1, sha=one))
    history.append(rec(2, sha=two))
    with pytest.raises(UsageError, match="ambiguous") as caught:
        history.find("abcdef")
    assert "abcdef222222" in caught.value.message and "abcdef111111" in caught.value.message
    found = history.find("abcdef1")
    assert found is not None and found.commit_sha == one


def test_migrate_all_reports_an_invalid_record_at_the_current_version(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    good = rec(1)
    bad = {**rec(2).to_dict(), "metrics": []}
    bad_path = record_filename(rec(2))
    numeric = {**rec(3).to_dict(), "schema_version": 1.0}
    numeric_path = record_filename(rec(3))
    history.commit(
        {
            record_filename(good): good.to_bytes(),
            bad_path: json.dumps(bad).encode(),
            numeric_path: json.dumps(numeric).encode(),
        },
        [],
        "seed",
    )
    report = history.migrate_all(dry_run=True)
    assert report.unchanged == 1 and not report.migrated
    failed = dict(report.failed)
    assert failed[bad_path] == "record field 'metrics' must be an object, not list"
    assert "must be a string such as '1.2', not a number (1.0)" in failed[numeric_path]
    text = report.describe()
    # The path is named once per line, not again inside the reason.
    assert f"cannot migrate {bad_path}: record field 'metrics'" in text
    assert text.count(bad_path) == 1
    assert (
        text.splitlines()[-1]
        == f"0 would migrate, 1 already at {CURRENT_SCHEMA_VERSION}, 2 unreadable"
    )


def test_commit_adds_and_deletes_in_one_commit_and_recomputes_latest(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    paths = [history.append(rec(i)) for i in range(3)]
    before = history.tip()
    tip = history.commit({}, [paths[2], "history/never-existed.json"], "drop newest")
    assert git_repo.git("rev-parse", f"{tip}^") == before
    latest = history.latest()
    assert latest is not None and latest.metrics["stats"]["index"] == 1
    history.commit({}, paths[:2], "drop all")
    assert history.entries() == []
    assert LATEST_PATH not in history_files(git_repo)
    assert history.latest() is None
    with pytest.raises(ValueError):
        history.commit({LATEST_PATH: b"{}"}, [], "no")
    with pytest.raises(ValueError):
        history.commit({"../escape": b"x"}, [], "no")


def test_unchanged_commit_writes_nothing(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    history.append(rec(1))
    tip = history.tip()
    assert history.commit({}, ["history/missing.json"], "nothing") == tip
    assert history.tip() == tip


# -- concurrency -----------------------------------------------------------------------------

WRITER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from plimsoll.code.history import History
from plimsoll.code.record import Record
repo, index, start = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
# Writers 0-3 produce the same file name (same second, commit and version) on purpose.
sha = "feedface" * 5 if index < 4 else f"{index:07x}" + "0" * 33
record = Record(timestamp=datetime(2025, 1, 1, 0, 0, 0, index, tzinfo=UTC), commit_sha=sha,
                metrics={"writer": {"index": index}}, package_version="1.0")
time.sleep(max(0.0, start - time.time()))
print(History(repo).append(record))
"""


def test_eight_processes_appending_at_once_all_land(git_repo: GitRepo) -> None:
    git_repo.commit("initial")
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(git_repo.path), str(i), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outputs]
    written = sorted(out.strip() for out, _ in outputs)
    assert len(set(written)) == 8
    history = History(git_repo.path)
    assert sorted(e.path for e in history.entries()) == written
    indexes = sorted(r.metrics["writer"]["index"] for r in history.load_all())
    assert indexes == list(range(8))
    suffixed = [p for p in written if "feedfac" in p]
    assert len(suffixed) == 4 and sum("__" in p.split("__1.0")[-1] for p in suffixed) == 3
    assert git_repo.git("rev-list", "--count", "code-metrics") == "8"


def test_ten_thousand_records_read_with_one_batch(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    count = 10_000
    records = [rec(i) for i in range(count)]
    blobs = git.write_blobs([r.to_bytes() for r in records] + [b"{broken"])
    rows = [
        TreeEntry("100644", "blob", blob, record_filename(r).split("/")[-1])
        for r, blob in zip(records, blobs, strict=False)
    ]
    rows.append(TreeEntry("100644", "blob", blobs[-1], "2026_01_01_00_00_00__bbbbbbb__x.json"))
    subtree = git.mktree(rows)
    root = git.mktree([TreeEntry("040000", "tree", subtree, "history")])
    commit = git.commit_tree(root, [], "bulk")
    assert git.update_ref("refs/heads/code-metrics", commit, None)

    history = History(git_repo.path)
    entries = history.entries()
    assert len(entries) == count + 1
    errors: list[HistoryEntry] = []
    loaded = history.load_all(on_error=lambda entry, _msg: errors.append(entry))
    assert [e.sha7 for e in errors] == ["bbbbbbb"]
    assert len(loaded) == count
    assert [r.metrics["stats"]["index"] for r in loaded] == list(range(count))
    assert loaded[1234] == records[1234]


# -- push and merge --------------------------------------------------------------------------


def clone(remote: Path, path: Path) -> GitRepo:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True, capture_output=True)
    repo = GitRepo(path)
    repo.git("config", "user.name", "Test User")
    repo.git("config", "user.email", "user@example.test")
    return repo


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    seed = make_repo(tmp_path / "seed")
    seed.commit("initial", {"app.py": "x = 1\n"})
    bare = tmp_path / "remote.git"
    seed.git("clone", "-q", "--bare", str(seed.path), str(bare))
    return bare


def test_store_with_push_reports_the_path_a_merge_renamed_the_record_to(
    remote: Path, tmp_path: Path
) -> None:
    from plimsoll.code.commands import Project, store
    from plimsoll.core.config import LoadedConfig, PlimsollConfig

    first = clone(remote, tmp_path / "first")
    History(first.path).append(rec(1, commit_message="pushed first"))
    History(first.path).push()
    second = clone(remote, tmp_path / "second")
    second.git("fetch", "-q", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")
    # The same name (same second, commit and version) with other content, written while
    # the remote's record was not yet fetched: the push merges and renames ours.
    second.git("update-ref", "-d", "refs/remotes/origin/code-metrics")
    project = Project(
        second.path, LoadedConfig(config=PlimsollConfig(), source=None, root=second.path)
    )
    mine = rec(1, commit_message="written second")
    result = store(project, [mine], push=True)
    assert result.push is not None and result.push.merges == 1
    (path,) = result.paths
    assert path != record_filename(mine) and "__2" in path
    shown = second.git("show", f"code-metrics:{path}")
    assert Record.from_json(shown).commit_message == "written second"


def test_two_clones_pushing_concurrently_both_land(remote: Path, tmp_path: Path) -> None:
    a = History(clone(remote, tmp_path / "a").path)
    b = History(clone(remote, tmp_path / "b").path)
    a.append(rec(1))
    a.append(rec(3))
    b.append(rec(2))
    b.append(rec(4))
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def push(name: str, history: History) -> None:
        barrier.wait()
        try:
            results[name] = history.push(retries=5)
        except Exception as exc:  # collected so the assertion shows it
            results[name] = exc

    threads = [threading.Thread(target=push, args=(n, h)) for n, h in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    shown = {k: str(v) for k, v in results.items()}
    assert all(isinstance(r, PushResult) for r in results.values()), shown
    assert all(r.outcome is PushOutcome.PUSHED for r in results.values())
    assert sum(r.merges for r in results.values()) >= 1

    on_remote = History(remote)
    assert [r.metrics["stats"]["index"] for r in on_remote.load_all()] == [1, 2, 3, 4]
    latest = on_remote.latest()
    assert latest is not None and latest.metrics["stats"]["index"] == 4
    # The work trees and HEADs of both clones stayed on main.
    for repo in (a, b):
        assert repo.git.run("symbolic-ref", "HEAD").strip() == b"refs/heads/main"
    # Each clone picks up everything with pull.
    a.pull()
    b.pull()
    remote_paths = [e.path for e in on_remote.entries()]
    assert [e.path for e in a.entries()] == [e.path for e in b.entries()] == remote_paths


def test_rejected_push_merges_and_retries(remote: Path, tmp_path: Path) -> None:
    a = History(clone(remote, tmp_path / "a").path)
    b = History(clone(remote, tmp_path / "b").path)
    a.append(rec(1))
    assert a.push().outcome is PushOutcome.PUSHED
    b.append(rec(2))
    result = b.push()
    assert result.outcome is PushOutcome.PUSHED
    assert result.merges == 1 and result.attempts == 2
    assert len(History(remote).entries()) == 2
    assert b.push().outcome is PushOutcome.UP_TO_DATE
    # a's next record lands on top of the merged history.
    assert a.pull()
    a.append(rec(3))
    assert a.push().merges == 0
    assert len(History(remote).entries()) == 3


def test_push_without_a_branch_does_nothing(git_repo: GitRepo) -> None:
    result = History(git_repo.path).push()
    assert result.outcome is PushOutcome.UP_TO_DATE and result.attempts == 0


def _entry(path: str, sha: str) -> TreeEntry:
    return TreeEntry("100644", "blob", sha * 40 if len(sha) == 1 else sha, path)


R1 = "history/2025_01_01_00_00_00__aaaaaaa__1.0.json"
R2 = "history/2025_01_02_00_00_00__bbbbbbb__1.0.json"
R3 = "history/2025_01_03_00_00_00__ccccccc__1.0.json"


def test_merge_files_keeps_both_sides_changes() -> None:
    base = {R1: _entry(R1, "1"), R2: _entry(R2, "2"), LATEST_PATH: _entry(LATEST_PATH, "2")}
    ours = {R1: _entry(R1, "1"), R3: _entry(R3, "3")}  # we pruned R2, added R3
    theirs = {R1: _entry(R1, "1"), R2: _entry(R2, "2"), "history/x.json": _entry("h", "4")}
    merged = merge_files(base, ours, theirs)
    assert set(merged) == {R1, R3, "history/x.json"}


def test_merge_files_keeps_both_versions_of_a_record_written_twice() -> None:
    ours = {R1: _entry(R1, "a")}
    theirs = {R1: _entry(R1, "b")}
    merged = merge_files({}, ours, theirs)
    assert merged[R1].sha == "b" * 40
    suffixed = R1.replace(".json", "__2.json")
    assert merged[suffixed].sha == "a" * 40 and merged[suffixed].path == suffixed


def test_merge_files_prefers_a_change_over_a_deletion() -> None:
    base = {R1: _entry(R1, "1")}
    merged = merge_files(base, {}, {R1: _entry(R1, "9")})
    assert merged[R1].sha == "9" * 40


def test_free_record_path_skips_plain_and_compressed_names() -> None:
    taken = {R1: _entry(R1, "1"), R1.replace(".json", "__2.json.gz"): _entry("x", "2")}
    assert free_record_path(taken, R2) == R2
    assert free_record_path(taken, R1) == R1.replace(".json", "__3.json")
    assert free_record_path(taken, R1 + ".gz") == R1.replace(".json", "__3.json.gz")


def test_entries_of_ignores_non_record_files() -> None:
    files = [
        _entry(R2, "2"),
        _entry(R1, "1"),
        _entry(LATEST_PATH, "1"),
        _entry("history/README.md", "3"),
        _entry("history/sub/" + R1.split("/")[-1], "4"),
    ]
    assert [e.path for e in entries_of(files)] == [R1, R2]


# -- migration -------------------------------------------------------------------------------


def umpyre_doc(i: int) -> dict[str, Any]:
    return {
        "schema_version": "1.0",
        "timestamp": f"2024-05-0{i}T10:00:00Z",
        "commit_sha": f"{i:07x}" + "c" * 33,
        "commit_message": f"commit {i}",
        "python_version": "3.10",
        "workflow_status": {},
        "metrics": {"umpyre_stats": {"n": i}, "wily": {"error": "no wily"}},
        "collection_duration_seconds": 1.0,
    }


def test_migrate_all_rewrites_old_records_in_one_commit(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    current = history.append(rec(9))
    v11 = {**umpyre_doc(2), "schema_version": "1.1", "package_version": "0.9"}
    v11["collector_durations"] = {}
    old_plain = "history/2024_05_01_10_00_00__0000001__unknown.json"
    old_gz = "history/2024_05_03_10_00_00__0000003__unknown.json.gz"
    v11_path = "history/2024_05_02_10_00_00__0000002__0.9.json"
    broken = "history/2024_05_04_10_00_00__0000004__unknown.json"
    history.commit(
        {
            old_plain: json.dumps(umpyre_doc(1)).encode(),
            v11_path: json.dumps(v11).encode(),
            old_gz: gzip.compress(json.dumps(umpyre_doc(3)).encode()),
            broken: b'{"schema_version": "0.3"}',
        },
        [],
        "import umpyre history",
    )
    tip = history.tip()

    dry = history.migrate_all(dry_run=True)
    assert history.tip() == tip
    assert dry.dry_run and dry.commit is None
    assert {(m.path, m.from_version) for m in dry.migrated} == {
        (old_plain, "1.0"),
        (v11_path, "1.1"),
        (old_gz, "1.0"),
    }
    assert dry.unchanged == 1 and [p for p, _ in dry.failed] == [broken]
    assert "would migrate" in dry.describe()

    report = history.migrate_all()
    assert report.commit is not None and history.tip() == report.commit
    assert git_repo.git("rev-parse", f"{report.commit}^") == tip
    assert report.to_dict()["migrated"][0]["from_version"] in {"1.0", "1.1"}
    for path in (old_plain, v11_path):
        doc = json.loads(git_repo.git("show", f"code-metrics:{path}"))
        assert doc["schema_version"] == CURRENT_SCHEMA_VERSION
    raw_gz = subprocess.run(
        ["git", "cat-file", "blob", f"code-metrics:{old_gz}"],
        cwd=git_repo.path,
        capture_output=True,
        check=True,
    ).stdout
    doc = json.loads(gzip.decompress(raw_gz))
    assert doc["schema_version"] == CURRENT_SCHEMA_VERSION
    assert doc["collector_errors"] == {"wily": "no wily"}
    assert current in history_files(git_repo)

    again = history.migrate_all()
    assert again.migrated == () and again.commit is None and again.unchanged == 4


def test_history_works_on_a_bare_repository(remote: Path) -> None:
    history = History(remote)
    history.append(rec(1))
    assert [r.metrics["stats"]["index"] for r in history.load_all()] == [1]
    assert os.path.isdir(remote)


# -- the remote-tracking branch (a fresh clone in CI) ----------------------------------------


def seeded_remote(remote: Path, tmp_path: Path, count: int = 2) -> GitRepo:
    """Push ``count`` records to ``remote``'s code-metrics from a first clone."""
    seed = clone(remote, tmp_path / "seed-clone")
    history = History(seed.path)
    for i in range(1, count + 1):
        history.append(rec(i))
    assert history.push().outcome is PushOutcome.PUSHED
    return seed


def test_fresh_clone_reads_the_remote_tracking_branch(remote: Path, tmp_path: Path) -> None:
    seeded_remote(remote, tmp_path)
    ci = clone(remote, tmp_path / "ci")
    assert ci.git("branch", "--list", "code-metrics") == ""  # only origin/code-metrics
    history = History(ci.path)
    assert history.tip() is None and history.exists()
    assert history.remote_tip() == ci.git("rev-parse", "origin/code-metrics")
    assert [e.sha7 for e in history.entries()] == ["0000001", "0000002"]
    latest = history.latest()
    assert latest is not None and latest.metrics == {"stats": {"index": 2}}
    assert history.find("0000001") == rec(1)


def test_record_in_a_fresh_clone_continues_the_remote_history(remote: Path, tmp_path: Path) -> None:
    seeded_remote(remote, tmp_path)
    ci = clone(remote, tmp_path / "ci")
    history = History(ci.path)
    remote_tip = ci.git("rev-parse", "origin/code-metrics")
    history.append(rec(3))
    # The local branch starts from the remote's tip: no unrelated history to merge later.
    assert ci.git("rev-parse", "code-metrics^") == remote_tip
    assert ci.git("rev-list", "--count", "code-metrics") == "3"
    assert [e.sha7 for e in history.entries()] == ["0000001", "0000002", "0000003"]
    assert Record.from_json(ci.git("show", f"code-metrics:{LATEST_PATH}")) == rec(3)
    pushed = history.push()
    assert (pushed.outcome, pushed.attempts, pushed.merges) == (PushOutcome.PUSHED, 1, 0)
    # A fast-forward: the remote's branch is linear, with no merge commit.
    on_remote = GitRepo(remote)
    assert on_remote.git("rev-list", "--merges", "code-metrics") == ""
    assert on_remote.git("rev-list", "--count", "code-metrics") == "3"


def test_local_branch_behind_the_remote_tracking_one(remote: Path, tmp_path: Path) -> None:
    seed = seeded_remote(remote, tmp_path, count=1)
    ci = clone(remote, tmp_path / "ci")
    ci.git("branch", "code-metrics", "origin/code-metrics")  # an old local copy
    old_local = ci.git("rev-parse", "code-metrics")
    History(seed.path).append(rec(2))
    History(seed.path).push()
    ci.git("fetch", "-q", "origin")  # the tracking branch moves, the local one stays behind
    history = History(ci.path)
    assert history.tip() == old_local
    assert [e.sha7 for e in history.entries()] == ["0000001", "0000002"]
    history.append(rec(3))
    assert ci.git("rev-parse", "code-metrics^") == ci.git("rev-parse", "origin/code-metrics")
    assert history.push().merges == 0


def test_diverged_local_and_remote_tracking_branches_are_read_and_written_merged(
    remote: Path, tmp_path: Path
) -> None:
    seed = seeded_remote(remote, tmp_path, count=1)
    ci = clone(remote, tmp_path / "ci")
    history = History(ci.path)
    history.append(rec(2))  # local only, not pushed
    seeded = History(seed.path)
    seeded.append(rec(3))
    seeded.push()
    ci.git("fetch", "-q", "origin")
    local, tracking = (
        ci.git("rev-parse", "code-metrics"),
        ci.git("rev-parse", "origin/code-metrics"),
    )
    assert ci.git("merge-base", "--is-ancestor", local, tracking, check=False) == ""
    assert [e.sha7 for e in history.entries()] == ["0000001", "0000002", "0000003"]
    history.append(rec(4))
    parents = ci.git("rev-list", "--parents", "-n", "1", "code-metrics").split()[1:]
    assert parents == [local, tracking]
    assert [e.sha7 for e in history.entries()] == ["0000001", "0000002", "0000003", "0000004"]
    assert history.push().merges == 0
    assert len(History(remote).entries()) == 4


def test_a_url_remote_reads_what_was_fetched_from_it(remote: Path, tmp_path: Path) -> None:
    seeded_remote(remote, tmp_path)
    repo = make_repo(tmp_path / "plain")
    history = History(repo.path, remote=str(remote))
    assert history.entries() == []
    assert history.pull()
    assert [e.sha7 for e in history.entries()] == ["0000001", "0000002"]


# -- the history branch must not be the checked-out one --------------------------------------


@pytest.mark.usefixtures("no_optional_locks")
def test_writing_to_the_checked_out_branch_is_refused(git_repo: GitRepo) -> None:
    git_repo.commit("initial", {"app.py": "x = 1\n"})
    before = snapshot(git_repo)
    tip = git_repo.git("rev-parse", "main")
    history = History(git_repo.path, branch="main")
    assert history.checked_out_in() == git_repo.path
    with pytest.raises(UsageError, match="'main' is checked out in"):
        history.append(rec(1))
    with pytest.raises(UsageError):
        history.commit({"history/x.json": b"{}"}, [], "no")
    assert git_repo.git("rev-parse", "main") == tip
    assert snapshot(git_repo) == before
    other = git_repo.path.parent / "other"
    git_repo.git("worktree", "add", "-q", "-b", "metrics-wt", str(other))
    with pytest.raises(UsageError, match="checked out in"):
        History(git_repo.path, branch="metrics-wt").append(rec(1))
    assert History(git_repo.path).checked_out_in() is None


# -- records of the same second --------------------------------------------------------------


def commits_of_one_second(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, n: int) -> list[str]:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2025-03-01T12:00:00Z")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2025-03-01T12:00:00Z")
    shas = [repo.commit(f"c{i}", {"f.txt": str(i)}) for i in range(n)]
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    return shas


def test_records_of_one_second_are_ordered_by_commit_ancestry(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    shas = commits_of_one_second(git_repo, monkeypatch, 6)
    # The test means something only if the shas' own order is not the commits' order.
    assert sorted(shas) != shas
    history = History(git_repo.path)
    for sha in reversed(shas):  # written newest first, as a backfill never would: still right
        history.append(rec(0, sha=sha, when=BASE))
    paths = [e.path for e in history.entries()]
    assert sorted(paths) != paths
    assert [e.sha7 for e in history.entries()] == [s[:7] for s in shas]
    assert [r.commit_sha for r in history.load_all()] == shas
    latest = history.latest()
    assert latest is not None and latest.commit_sha == shas[-1]
    assert (
        Record.from_json(git_repo.git("show", f"code-metrics:{LATEST_PATH}")).commit_sha
        == (shas[-1])
    )
    # A fresh reader agrees (no cache involved).
    assert [e.sha7 for e in History(git_repo.path).entries()] == [s[:7] for s in shas]


def test_records_of_one_second_are_ordered_by_their_full_time_first(git_repo: GitRepo) -> None:
    history = History(git_repo.path)
    late = rec(0, sha="0" * 40, when=BASE + timedelta(microseconds=900_000))
    early = rec(0, sha="f" * 40, when=BASE + timedelta(microseconds=100_000))
    history.append(late)
    history.append(early)
    assert [e.sha7 for e in history.entries()] == ["fffffff", "0000000"]
    assert history.latest() == late
    assert Record.from_json(git_repo.git("show", f"code-metrics:{LATEST_PATH}")) == late
