"""The git plumbing wrapper, against real repositories."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from plimsoll.code.gitplumbing import Git, PushOutcome, TreeEntry
from plimsoll.core.errors import GitError, NotARepositoryError
from tests.support.gitrepo import GitRepo, make_repo


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_open_refuses_a_folder_that_is_no_repository(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError):
        Git.open(tmp_path)
    with pytest.raises(NotARepositoryError):
        Git.open(tmp_path / "missing")


def test_failures_are_one_line_git_errors(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    with pytest.raises(GitError) as info:
        git.run("cat-file", "-p", "deadbeef" * 5)
    assert str(info.value).startswith("git cat-file failed: ")
    assert "\n" not in str(info.value)


def test_blobs_are_written_and_read_back(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    sha = git.hash_object(b"hello\n")
    assert sha == blob_id(b"hello\n")
    assert git.read_blob(sha) == b"hello\n"


def test_write_blobs_in_one_batch_matches_hash_object(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    blobs = [f"record {i}\n".encode() * (i + 1) for i in range(50)] + [b"", b"\0binary\n"]
    ids = git.write_blobs(blobs)
    assert ids == [blob_id(b) for b in blobs]
    assert git.read_blobs(ids) == blobs


def test_read_blobs_reports_missing_objects_as_none(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    present = git.hash_object(b"x")
    assert git.read_blobs([present, "1" * 40, present]) == [b"x", None, b"x"]
    assert git.read_blobs([]) == []
    with pytest.raises(GitError):
        git.read_blob("1" * 40)


def test_mktree_commit_tree_ls_tree_and_rev_parse(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    a = git.hash_object(b"a")
    sub = git.mktree([TreeEntry("100644", "blob", a, "a.json")])
    root = git.mktree(
        [TreeEntry("040000", "tree", sub, "history"), TreeEntry("100644", "blob", a, "top")]
    )
    commit = git.commit_tree(root, [], "orphan")
    assert git.run("rev-list", "--parents", "-n", "1", commit).decode().split() == [commit]
    listed = git.ls_tree(commit, recursive=True)
    assert [(e.path, e.sha) for e in listed] == [("history/a.json", a), ("top", a)]
    assert [e.path for e in git.ls_tree(commit, ["history"], recursive=True)] == ["history/a.json"]
    assert git.rev_parse(f"{commit}:top") == a
    assert git.rev_parse("refs/heads/nothing") is None


def test_update_ref_is_a_compare_and_swap(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    tree = git.mktree([])
    first = git.commit_tree(tree, [], "one")
    second = git.commit_tree(tree, [first], "two")
    other = git.commit_tree(tree, [first], "other")
    ref = "refs/heads/metrics"
    assert git.update_ref(ref, first, None)
    # Creating again must fail: the ref exists now.
    assert not git.update_ref(ref, other, None)
    assert git.update_ref(ref, second, first)
    # A stale expected value loses the race and leaves the ref alone.
    assert not git.update_ref(ref, other, first)
    assert git.rev_parse(ref) == second
    assert git.is_ancestor(first, second)
    assert not git.is_ancestor(second, other)
    assert git.merge_base(second, other) == first
    assert len(git.zero_oid()) == 40


def test_commit_tree_works_without_a_configured_identity(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    repo.git("config", "--unset", "user.name")
    repo.git("config", "--unset", "user.email")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    git = Git(repo.path, env=env)
    commit = git.commit_tree(git.mktree([]), [], "no identity")
    assert git.rev_parse(commit) == commit


def test_check_branch_name(git_repo: GitRepo) -> None:
    git = Git.open(git_repo.path)
    assert git.check_branch_name("code-metrics")
    assert not git.check_branch_name("bad..name")
    assert not git.check_branch_name("with space")


def test_push_reports_a_non_fast_forward_as_rejected(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    make_repo(tmp_path / "seed").git("init", "-q", "--bare", str(remote))
    one = make_repo(tmp_path / "one")
    two = make_repo(tmp_path / "two")
    for repo in (one, two):
        repo.git("remote", "add", "origin", str(remote))
    one.commit("first")
    two.commit("unrelated")
    g1, g2 = Git.open(one.path), Git.open(two.path)
    assert g1.push("origin", "refs/heads/main:refs/heads/main") is PushOutcome.PUSHED
    assert g1.push("origin", "refs/heads/main:refs/heads/main") is PushOutcome.UP_TO_DATE
    assert g2.push("origin", "refs/heads/main:refs/heads/main") is PushOutcome.REJECTED
    assert g2.remote_has_ref("origin", "refs/heads/main")
    assert not g2.remote_has_ref("origin", "refs/heads/other")
    g2.fetch("origin", "+refs/heads/main:refs/remotes/origin/main")
    assert g2.rev_parse("refs/remotes/origin/main") == g1.rev_parse("refs/heads/main")
    with pytest.raises(GitError, match="git push failed"):
        g1.push(str(tmp_path / "no-such-remote"), "refs/heads/main:refs/heads/main")


def test_worktree_branches_names_every_checked_out_branch(git_repo: GitRepo) -> None:
    git_repo.commit("initial", {"a.txt": "a"})
    git = Git.open(git_repo.path)
    assert git.worktree_branches() == {"refs/heads/main": git_repo.path}
    linked = git_repo.path.parent / "linked folder"
    git_repo.git("worktree", "add", "-q", "-b", "side", str(linked))
    git_repo.git("worktree", "add", "-q", "--detach", str(git_repo.path.parent / "detached"))
    found = git.worktree_branches()
    # Compared with what git itself reports, folder names with spaces included.
    listed = git_repo.git("worktree", "list", "--porcelain")
    assert f"worktree {linked}" in listed and "branch refs/heads/side" in listed
    assert {ref: path.resolve() for ref, path in found.items()} == {
        "refs/heads/main": git_repo.path.resolve(),
        "refs/heads/side": linked.resolve(),
    }


def test_topological_order_puts_parents_first_among_commits_of_one_second(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Commits of the same second (a rebase, a script): their dates cannot order them.
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2025-01-01T00:00:05Z")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2025-01-01T00:00:05Z")
    shas = [git_repo.commit(f"c{i}") for i in range(6)]
    git = Git.open(git_repo.path)
    since = int(git_repo.git("log", "-1", "--format=%ct"))
    shuffled = [shas[3], shas[0], shas[5], shas[1], shas[4], shas[2]]
    missing = "ab" * 20  # a commit of another clone: left out, not an error
    assert git.topological_order([*shuffled, missing, "not-a-sha"], since) == shas
    assert git_repo.git("rev-list", "--reverse", "HEAD").split() == shas
    assert git.topological_order([], since) == []


def _remote_ahead(tmp_path: Path) -> tuple[Git, Path, str]:
    """A clone whose remote has moved on: (the clone, its tracking ref's file, the new tip)."""
    remote = tmp_path / "remote.git"
    seed = make_repo(tmp_path / "seed")
    seed.commit("first")
    GitRepo(tmp_path).git("clone", "-q", "--bare", str(seed.path), str(remote))
    clone = make_repo(tmp_path / "clone")
    clone.git("remote", "add", "origin", str(remote))
    clone.git("fetch", "-q", "origin")
    seed.git("push", "-q", str(remote), "main")  # nothing new yet
    tip = seed.commit("second")
    seed.git("push", "-q", str(remote), "main")
    return Git.open(clone.path), clone.path / ".git/refs/remotes/origin/main.lock", tip


def test_fetch_retries_while_another_fetch_holds_the_ref(tmp_path: Path) -> None:
    """Two plimsolls fetching into one clone: git's "cannot lock ref" is tried again."""
    git, lock, tip = _remote_ahead(tmp_path)
    lock.write_text("held by another fetch\n")
    release = threading.Timer(0.3, lock.unlink)
    release.start()
    try:
        git.fetch("origin", "+refs/heads/main:refs/remotes/origin/main")
    finally:
        release.join()
    assert git.rev_parse("refs/remotes/origin/main") == tip


def test_fetch_gives_up_when_the_ref_stays_locked(tmp_path: Path) -> None:
    git, lock, _ = _remote_ahead(tmp_path)
    lock.write_text("held for good\n")
    with pytest.raises(GitError, match="git fetch failed: .*(cannot lock ref|Unable to create)"):
        git.fetch("origin", "+refs/heads/main:refs/remotes/origin/main", attempts=2)
    with pytest.raises(GitError, match="git fetch failed"):
        git.fetch(str(tmp_path / "no-such-remote"), "+refs/heads/main:refs/remotes/x/main")


def test_probing_a_remote_names_its_commit_and_never_waits_long(tmp_path: Path) -> None:
    import socket
    import time

    remote = tmp_path / "remote.git"
    seed = make_repo(tmp_path / "seed")
    tip = seed.commit("first")
    seed.git("clone", "-q", "--bare", str(seed.path), str(remote))
    git = Git.open(seed.path)
    seed.git("remote", "add", "origin", str(remote))
    assert git.probe_remote_ref("origin", "refs/heads/main", timeout=10) == tip
    assert git.probe_remote_ref("origin", "refs/heads/other", timeout=10) is None
    assert git.probe_remote_ref("nowhere", "refs/heads/main", timeout=10) is None
    # A server that accepts the connection and never answers: given up on at the timeout.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        started = time.monotonic()
        found = git.probe_remote_ref(f"git://127.0.0.1:{port}/x.git", "refs/heads/main", 1.0)
        took = time.monotonic() - started
    assert found is None
    assert 0.9 <= took < 5
    assert git.has_commit(tip) and not git.has_commit("0" * 40)
