"""What ``plimsoll code`` says: skipped files, errors, bad revisions, history marks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_code_cli import GOOD, plimsoll
from tests.support.gitrepo import GitRepo

ALL_FILE_COLLECTORS = ["stats", "complexity", "maintainability", "debt", "interrogate"]


def _config(collectors: list[str], extra: str = "") -> str:
    return (
        '[project]\nname = "demo"\nversion = "1.0.0"\n\n'
        f'[tool.plimsoll.code]\npaths = ["src"]\ncollectors = {json.dumps(collectors)}\n{extra}'
    )


BOM = b'\xef\xbb\xbf"""With a byte-order mark."""\n\n\ndef f(a):\n    """F."""\n    return a\n'
LATIN1 = b'# -*- coding: latin-1 -*-\n"""Caf\xe9."""\n\n\ndef g(a):\n    """G."""\n    return a\n'


def test_files_only_interrogate_cannot_read_are_blamed_on_interrogate(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"pyproject.toml": _config([*ALL_FILE_COLLECTORS, "mypy"])})
    (git_repo.path / "src/pkg").mkdir(parents=True)
    (git_repo.path / "src/pkg/bom.py").write_bytes(BOM)
    (git_repo.path / "src/pkg/latin.py").write_bytes(LATIN1)
    git_repo.commit("odd encodings")
    done = plimsoll(git_repo.path, "code", "collect", "--no-store")
    warnings = sorted(ln for ln in done.stderr.splitlines() if ln.startswith("warning:"))
    assert warnings == [
        "warning: interrogate skipped src/pkg/bom.py: interrogate cannot read a file that "
        "starts with a UTF-8 byte-order mark (BOM)",
        "warning: interrogate skipped src/pkg/latin.py: interrogate cannot read a file that "
        "is not UTF-8 (iso-8859-1)",
    ]
    assert "does not parse" not in done.stderr
    data = json.loads(plimsoll(git_repo.path, "code", "collect", "--no-store", "-f", "json").stdout)
    metrics = data["records"][0]["metrics"]
    # Python reads both files: every other collector analysed them.
    assert sorted(metrics["stats"]["per_file"]) == ["src/pkg/bom.py", "src/pkg/latin.py"]
    assert metrics["mypy"]["files_checked"] == 2 and metrics["mypy"]["skipped_files"] == []
    assert [(s["path"], s["collectors"]) for s in data["skipped_files"]] == [
        ("src/pkg/bom.py", ["interrogate"]),
        ("src/pkg/latin.py", ["interrogate"]),
    ]


def test_a_real_syntax_error_names_every_collector_that_skipped_it(git_repo: GitRepo) -> None:
    git_repo.commit(
        "init",
        {"pyproject.toml": _config(ALL_FILE_COLLECTORS), "src/bad.py": "def broken(:\n"},
    )
    done = plimsoll(git_repo.path, "code", "collect", "--no-store")
    [warning] = [ln for ln in done.stderr.splitlines() if ln.startswith("warning:")]
    assert warning == (
        "warning: complexity, debt, interrogate, maintainability, stats skipped src/bad.py: "
        "does not parse: line 1 invalid syntax"
    )


def test_a_collector_error_goes_below_a_narrow_table(git_repo: GitRepo) -> None:
    missing = "reports/" + "/".join(["a-rather-long-folder-name"] * 6) + "/.coverage"
    config = _config(
        ["stats", "coverage"], f'\n[tool.plimsoll.code.coverage]\ndata_file = "{missing}"\n'
    )
    git_repo.commit("init", {"pyproject.toml": config, "src/a.py": GOOD})
    done = plimsoll(git_repo.path, "code", "collect", "--no-store")
    lines = done.stdout.splitlines()
    table = [ln for ln in lines if ln[:1] in "┏┃┡│└"]
    assert table and max(len(ln) for ln in table) <= 80
    assert any("coverage" in ln and "error" in ln and "see below" in ln for ln in table)
    [error] = [ln for ln in lines if ln.startswith("coverage error: ")]
    assert missing in error  # whole, on one line, under the table
    assert lines.index(error) > lines.index(table[-1])


def test_bad_revisions_and_collectors_say_what_was_wrong(git_repo: GitRepo) -> None:
    git_repo.commit("init", {"pyproject.toml": _config(["stats"]), "src/a.py": GOOD})
    plimsoll(git_repo.path, "code", "collect")
    done = plimsoll(git_repo.path, "code", "diff", "bogus", "main", check=2)
    assert "'bogus' is not a commit, tag or branch of this repository" in done.stderr
    assert "is not a commit sha or sha prefix" not in done.stderr
    flag = plimsoll(git_repo.path, "code", "collect", "--collectors", "nope", check=2)
    assert "plimsoll: error: --collectors: unknown collector 'nope' (known: " in flag.stderr
    assert "code.collectors" not in flag.stderr


def test_a_range_beyond_a_shallow_clone_says_the_clone_is_shallow(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.commit("init", {"pyproject.toml": _config(["stats"]), "src/a.py": GOOD})
    for n in range(3):
        git_repo.commit(f"change {n}", {f"src/m{n}.py": GOOD})
    clone = tmp_path / "shallow"
    url = f"file://{git_repo.path}"
    GitRepo(tmp_path).git("clone", "-q", "--depth", "1", url, str(clone))
    done = plimsoll(clone, "code", "collect", "--rev", "HEAD~2..HEAD", check=2)
    assert "not a revision range of this repository" in done.stderr
    assert "this clone is shallow" in done.stderr and "git fetch --unshallow" in done.stderr


def test_history_marks_dirty_and_detached_records_and_gives_full_shas(git_repo: GitRepo) -> None:
    first = git_repo.commit("init", {"pyproject.toml": _config(["stats"]), "src/a.py": GOOD})
    header = plimsoll(git_repo.path, "code", "collect").stdout.splitlines()[0]
    assert header.endswith(", 1 file")
    git_repo.write("src/a.py", GOOD + "\nX = 1\n")  # a tracked file changed: dirty
    plimsoll(git_repo.path, "code", "collect")
    git_repo.git("checkout", "-q", "--", "src/a.py")
    second = git_repo.commit("two", {"src/b.py": GOOD})
    git_repo.git("checkout", "-q", "--detach", "HEAD")
    assert plimsoll(git_repo.path, "code", "collect").stdout.splitlines()[0].endswith(", 2 files")
    listed = json.loads(plimsoll(git_repo.path, "code", "history", "-f", "json").stdout)
    assert [h["commit"] for h in listed] == [second, first, first]
    assert [h["commit_short"] for h in listed] == [second[:7], first[:7], first[:7]]
    assert [(h["worktree_dirty"], h["detached_head"]) for h in listed] == [
        (False, True),
        (True, False),
        (False, False),
    ]
    rows = [
        ln for ln in plimsoll(git_repo.path, "code", "history").stdout.splitlines() if "│" in ln
    ]
    assert "detached HEAD" in rows[0] and "dirty" not in rows[0]
    assert "dirty" in rows[1] and "detached" not in rows[1]
    assert "clean" in rows[2]


def _no_read_access(command: list[str]) -> list[str]:
    """``command`` run without the right to read files it does not own (as root: dropped)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop the right to read any file")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *command]


def test_an_unreadable_file_is_reported_and_skipped(git_repo: GitRepo) -> None:
    git_repo.commit(
        "init",
        {
            "pyproject.toml": _config([*ALL_FILE_COLLECTORS, "mypy", "pylint"]),
            "src/pkg/__init__.py": "",
            "src/pkg/a.py": GOOD,
            "src/pkg/secret.py": GOOD,
        },
    )
    secret = git_repo.path / "src/pkg/secret.py"
    secret.chmod(0)
    try:
        command = [sys.executable, "-m", "plimsoll", "code", "collect", "--no-store", "--no-cache"]
        done = subprocess.run(
            _no_read_access([*command, "-f", "json"]),
            cwd=git_repo.path,
            capture_output=True,
            text=True,
            check=False,
        )
        text = subprocess.run(
            _no_read_access(command), cwd=git_repo.path, capture_output=True, text=True, check=False
        )
    finally:
        secret.chmod(0o644)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    record = data["records"][0]
    assert record["collector_errors"] == {}
    [skipped] = data["skipped_files"]
    assert skipped["path"] == "src/pkg/secret.py"
    assert skipped["error"] == "cannot read: Permission denied"
    assert skipped["collectors"] == sorted([*ALL_FILE_COLLECTORS, "mypy", "pylint"])
    assert record["metrics"]["stats"]["file_count"] == 2
    assert record["metrics"]["mypy"]["files_checked"] == 2
    assert record["metrics"]["pylint"]["by_type"]["fatal"] == 0
    assert "skipped src/pkg/secret.py: cannot read: Permission denied" in text.stderr
