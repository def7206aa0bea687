#!/usr/bin/env python3
"""Benchmark 2: backfilling 50 commits of a real repository, plimsoll vs ``wily build``.

The repository is built from 50 successive releases of ``requests`` on PyPI (2.10.0 .. 2.32.3,
sdists cached in ``bench/.cache/sdists``, about 20 MB in all): a first commit holds only the
configuration, then each release's package folder (``requests/``, from ``src/requests`` in the
newer layout) is one commit, so the history is real code evolving, vendored urllib3/chardet
included up to 2.15.

Measured in one run, each from a fresh cache:

* ``wily build requests -n 50 -o raw,cyclomatic,maintainability`` (wily in ``bench/.venv-peers``);
* ``plimsoll code collect --rev FIRST..LAST --collectors stats,complexity,maintainability
  --no-store`` (FIRST is the configuration commit, so the range is the 50 releases).

Target: plimsoll's seconds per commit <= wily's.

Usage: ``.venv/bin/python bench/bench_backfill.py [--commits 50] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import (  # noqa: E402
    WILY_SPEC,
    CannotRun,
    Verdicts,
    count_lines,
    extract,
    git,
    main_guard,
    main_python,
    peers_python,
    python_files,
    rmtree,
    run,
    say,
    sdist,
    table,
    timed,
)

# 50 successive releases of requests (yanked 2.32.0 and 2.32.1 are not on PyPI's index).
VERSIONS = """
2.10.0 2.11.0 2.11.1 2.12.0 2.12.1 2.12.2 2.12.3 2.12.4 2.12.5 2.13.0
2.14.0 2.14.1 2.14.2 2.15.1 2.16.0 2.16.1 2.16.2 2.16.3 2.16.4 2.16.5
2.17.0 2.17.1 2.17.2 2.17.3 2.18.0 2.18.1 2.18.2 2.18.3 2.18.4 2.19.0
2.19.1 2.20.0 2.20.1 2.21.0 2.22.0 2.23.0 2.24.0 2.25.0 2.25.1 2.26.0
2.27.0 2.27.1 2.28.0 2.28.1 2.28.2 2.29.0 2.30.0 2.31.0 2.32.2 2.32.3
""".split()

COLLECTORS = "stats,complexity,maintainability"
WILY_OPERATORS = "raw,cyclomatic,maintainability"
PACKAGE = "requests"

CONFIG = f"""[project]
name = "requests-history"
version = "0"

[tool.plimsoll.code]
paths = ["{PACKAGE}"]
collectors = ["stats", "complexity", "maintainability"]
"""


def download(versions: list[str]) -> dict[str, Path]:
    """The sdists of ``versions`` (downloaded four at a time when not cached yet)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(versions, pool.map(lambda v: sdist(PACKAGE, v), versions), strict=True))


def build_repo(repo: Path, archives: dict[str, Path], scratch: Path) -> tuple[str, str, int]:
    """A git repository with one commit per release; (first sha, last sha, lines of the last)."""
    repo.mkdir(parents=True)
    (repo / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
    (repo / ".gitignore").write_text(".plimsoll/\n.wily/\n", encoding="utf-8")
    day = 1_500_000_000

    def commit(message: str, n: int) -> None:
        stamp = f"@{day + n * 86400} +0000"
        git(repo, "add", "-A")
        run_env = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        run(
            ["git", "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message],
            cwd=repo,
            env=run_env,
        )

    git(repo, "-c", "init.defaultBranch=main", "init", "-q")
    commit("plimsoll benchmark configuration", 0)
    first = git(repo, "rev-parse", "HEAD").strip()
    lines = 0
    for n, (version, archive) in enumerate(archives.items(), start=1):
        top = extract(archive, scratch / version)
        source = top / "src" / PACKAGE if (top / "src" / PACKAGE).is_dir() else top / PACKAGE
        if not source.is_dir():
            raise CannotRun(f"{archive.name}: no {PACKAGE}/ package folder")
        rmtree(repo / PACKAGE)
        shutil.copytree(source, repo / PACKAGE)
        commit(f"requests {version}", n)
        rmtree(scratch / version)
        lines = count_lines(repo, python_files(repo, [PACKAGE]))
    last = git(repo, "rev-parse", "HEAD").strip()
    return first, last, lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--commits", type=int, default=len(VERSIONS), help="releases to use (<= 50)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    parser.add_argument(
        "--wily-cap",
        type=float,
        default=600.0,
        help="seconds before wily build is killed (then its time is a lower bound)",
    )
    args = parser.parse_args()
    versions = VERSIONS[-args.commits :]

    python = main_python()
    peers = peers_python(WILY_SPEC)
    wily = peers.parent / "wily"
    archives = download(versions)

    workdir = Path(tempfile.mkdtemp(prefix="plimsoll-bench-backfill-"))
    try:
        repo = workdir / "repo"
        first, last, lines = build_repo(repo, archives, workdir / "scratch")
        commits = len(versions)
        first_lines = sum(
            len(blob.splitlines())
            for blob in [
                git(repo, "show", f"HEAD~{commits - 1}:{p}")
                for p in git(
                    repo, "ls-tree", "-r", "--name-only", f"HEAD~{commits - 1}", PACKAGE
                ).split()
                if p.endswith(".py")
            ]
        )
        print(
            f"repository: {commits} releases of requests ({versions[0]} .. {versions[-1]}), "
            f"{first_lines} lines of Python in the first, {lines} in the last ({repo})"
        )

        rmtree(repo / ".plimsoll")
        spec = f"{first}..{last}"
        say(
            f"plimsoll code collect --rev {spec[:7]}..{last[:7]} --collectors {COLLECTORS} --no-store"
        )
        plim = timed(
            [
                python,
                "-m",
                "plimsoll",
                "code",
                "collect",
                "--rev",
                spec,
                "--collectors",
                COLLECTORS,
                "--no-store",
                "--format",
                "json",
            ],
            cwd=repo,
            timeout=3600,
            ok_codes=None,
        )
        if plim.returncode != 0:
            raise CannotRun(
                f"plimsoll code collect --rev exited {plim.returncode}:\n"
                f"{(plim.stderr or plim.stdout)[-3000:]}"
            )
        records = json.loads(plim.stdout)["records"]
        errors = {n: e for r in records for n, e in r.get("collector_errors", {}).items()}
        for name, error in sorted(errors.items()):
            print(f"collector error: {name}: {error}")
        inside = sum(r.get("collection_duration_seconds") or 0.0 for r in records)
        skipped = sorted(
            {
                f"{s['path']} ({name})"
                for r in records
                for name, m in r.get("metrics", {}).items()
                for s in (m.get("skipped_files") or [])
            }
        )

        # wily checks each revision out in the repository itself, so it runs after plimsoll.
        say(f"wily build {PACKAGE} -n {commits} -o {WILY_OPERATORS} (cap {args.wily_cap:g}s)")
        wily_cache = workdir / "wily-cache"
        wily_run = timed(
            [wily, "-c", wily_cache, "build", PACKAGE, "-n", str(commits), "-o", WILY_OPERATORS],
            cwd=repo,
            timeout=args.wily_cap,
            ok_codes=None,
        )
        wily_done = (
            len(list((wily_cache / "git").glob("*.json"))) if (wily_cache / "git").is_dir() else 0
        )
        if not wily_run.timed_out and wily_run.returncode != 0:
            raise CannotRun(
                f"wily build exited {wily_run.returncode}:\n{(wily_run.stderr or wily_run.stdout)[-3000:]}"
            )

        plim_per = plim.seconds / max(1, len(records))
        if wily_run.timed_out:
            # Killed at the cap before finishing all revisions: its total is at least the cap.
            wily_per = args.wily_cap / commits
            wily_label = f">= {wily_per:.3f} (killed at {args.wily_cap:g}s, {wily_done}/{commits} revisions done)"
        else:
            wily_per = wily_run.seconds / commits
            wily_label = f"{wily_per:.3f}"
        print()
        print(
            table(
                ["tool", "commits", "wall seconds", "seconds/commit"],
                [
                    (f"wily build ({WILY_OPERATORS})", commits, wily_run.seconds, wily_label),
                    (f"plimsoll --rev ({COLLECTORS})", len(records), plim.seconds, plim_per),
                ],
            )
        )
        print(
            f"plimsoll: {inside:.2f}s of the {plim.seconds:.2f}s inside the collectors' runs "
            f"(the rest: process start, worktree checkouts, records)"
        )
        slow = sorted(records, key=lambda r: -(r.get("collection_duration_seconds") or 0))[:3]
        print(
            "plimsoll's slowest commits: "
            + ", ".join(
                f"{r.get('commit_message', '')[:20]} {r.get('collection_duration_seconds')}s {r.get('collector_durations')}"
                for r in slow
            )
        )
        if skipped:
            print(
                f"plimsoll skipped {len(skipped)} file/collector pairs (the per-file guard): "
                + "; ".join(skipped[:6])
                + (" ..." if len(skipped) > 6 else "")
            )
        verdicts = Verdicts("bench_backfill")
        print()
        ratio = plim_per / wily_per
        verdicts.target(
            "backfill seconds per commit, plimsoll vs wily",
            f"{plim_per:.3f}s / {'>= ' if wily_run.timed_out else ''}{wily_per:.3f}s = "
            f"{'<= ' if wily_run.timed_out else ''}{ratio:.2f}x",
            "<= 1.00x",
            ratio <= 1.0 and len(records) == commits,
        )
        if len(records) != commits:
            print(f"note: plimsoll collected {len(records)} commits, expected {commits}")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            rmtree(workdir)


if __name__ == "__main__":
    main_guard(main)
