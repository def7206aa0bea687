"""``plimsoll code collect --rev A..B``: which commits a warning is about, and the branch each
backfilled record names, with the real command on a real history with a merged side branch."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_code_history_cli import plimsoll
from tests.support.gitrepo import GitRepo, make_repo

CONFIG = '[tool.plimsoll.code]\npaths = ["pkg"]\ncollectors = ["stats"]\n'
BROKEN = "def broken(:\n"


def _history(tmp_path: Path) -> tuple[GitRepo, dict[str, str]]:
    """main: one, two (bad.py and once.py do not parse), three (once.py fixed), and the merge
    of a side branch made from one."""
    repo = make_repo(tmp_path / "repo")
    shas = {"one": repo.commit("one", {"pyproject.toml": CONFIG, "pkg/m.py": "X = 1\n"})}
    repo.git("checkout", "-q", "-b", "side")
    shas["side"] = repo.commit("side", {"pkg/side.py": "Y = 1\n"})
    repo.git("checkout", "-q", "main")
    shas["two"] = repo.commit("two", {"pkg/bad.py": BROKEN, "pkg/once.py": BROKEN})
    shas["three"] = repo.commit("three", {"pkg/once.py": "Z = 1\n"})
    repo.git("merge", "-q", "--no-ff", "side", "-m", "merge")
    shas["merge"] = repo.git("rev-parse", "HEAD")
    return repo, shas


def test_backfill_warnings_name_the_commits_of_a_skipped_file(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    done = plimsoll(repo.path, "code", "collect", "--rev", f"{shas['one']}..main")
    warnings = sorted(line for line in done.stderr.splitlines() if line.startswith("warning:"))
    short = {name: sha[:7] for name, sha in shas.items()}
    assert warnings == [
        f"warning: stats skipped pkg/bad.py in 3 commits ({short['two']}, {short['three']}, "
        f"{short['merge']}): does not parse: line 1 invalid syntax",
        f"warning: stats skipped pkg/once.py in commit {short['two']}: does not parse: "
        "line 1 invalid syntax",
    ]


def test_backfill_warnings_over_many_commits_list_five_and_count_the_rest(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = repo.commit("one", {"pyproject.toml": CONFIG, "pkg/bad.py": BROKEN})
    made = [repo.commit(f"c{n}", {"pkg/m.py": f"X = {n}\n"}) for n in range(7)]
    done = plimsoll(repo.path, "code", "collect", "--rev", f"{first}..main")
    [warning] = [line for line in done.stderr.splitlines() if "bad.py" in line]
    listed = ", ".join(sha[:7] for sha in made[:5])
    assert f"skipped pkg/bad.py in 7 commits ({listed} and 2 more): does not parse" in warning


def test_backfilled_records_name_the_branch_the_range_was_given_from(tmp_path: Path) -> None:
    repo, shas = _history(tmp_path)
    plimsoll(repo.path, "code", "collect", "--rev", f"{shas['one']}..main")
    records = json.loads(plimsoll(repo.path, "code", "history", "-f", "json").stdout)
    branches = {r["commit"]: r["branch"] for r in records}
    # The commits made on main say so, as a collect on main would record them; the side
    # branch's commit, merged in, was not made on main.
    assert branches == {
        shas["two"]: "main",
        shas["three"]: "main",
        shas["merge"]: "main",
        shas["side"]: None,
    }
    shown = plimsoll(repo.path, "code", "show", shas["three"]).stdout
    assert f"{shas['three'][:10]} on main," in shown
    # A range ending at origin/main names main; one ending at a sha names no branch; a single
    # revision given as HEAD on main names main.
    other = make_repo(tmp_path / "other")
    base = other.commit("one", {"pyproject.toml": CONFIG, "pkg/m.py": "X = 1\n"})
    tip = other.commit("two", {"pkg/m.py": "X = 2\n"})
    other.git("update-ref", "refs/remotes/origin/main", tip)
    three = other.commit("three", {"pkg/m.py": "X = 3\n"})
    plimsoll(other.path, "code", "collect", "--rev", f"{base}..origin/main")
    plimsoll(other.path, "code", "collect", "--rev", f"{tip}..{three}")
    four = other.commit("four", {"pkg/m.py": "X = 4\n"})
    plimsoll(other.path, "code", "collect", "--rev", "HEAD")
    named = json.loads(plimsoll(other.path, "code", "history", "-f", "json").stdout)
    assert [(r["commit"], r["branch"]) for r in named] == [
        (four, "main"),
        (three, None),
        (tip, "main"),
    ]
