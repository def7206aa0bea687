#!/usr/bin/env python3
"""Benchmark 1: every collector on a real ~10k-line project vs each tool run alone by hand.

The project is the ``requests`` sdist from PyPI (pinned), unpacked into a temporary folder and
committed to a fresh git repository; ``src`` and ``tests`` together are about 10,700 lines of
Python. Coverage is left out: producing coverage data needs requests' own test dependencies
(pytest-httpbin, trustme, ...), which are not part of plimsoll's venv.

Measured in one run:

1. each tool alone on the same files, as a user would run it (``python -m <tool>`` from the
   project's venv, caches of mypy and ruff removed first): radon cc / mi / raw, bandit, pylint,
   mypy, ruff, interrogate;
2. ``plimsoll code collect --no-cache`` with all nine collectors (mypy/ruff caches removed first).
   Target: plimsoll's wall time <= 1.2 x the slowest single tool;
3. ``plimsoll code collect`` with the per-file cache, once to fill it, then again after each of
   three one-file changes: a function appended to a module few others import (``help.py``);
   a function appended to the core module nearly every file imports (``utils.py``); and the
   worst case, an existing function of ``utils.py`` edited in place (``get_netrc_auth``, which
   ``Session`` calls: every module whose analysis reaches ``Session`` is linted again, as
   pylint's results for it may change). Target: each <= 25% of the ``--no-cache`` run.
   pylint's cache is keyed by each file's import closure, so the second case re-lints most files.
   These runs are a developer's loop (``CI=false``): the run filling the cache starts the warm
   pylint, and the changes are collected once it answers (its wait is printed).

Usage: ``.venv/bin/python bench/bench_collect.py [--version 2.32.3] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import (  # noqa: E402
    CannotRun,
    Verdicts,
    count_lines,
    extract,
    git,
    git_init_commit,
    main_guard,
    main_python,
    python_files,
    rmtree,
    say,
    sdist,
    table,
    timed,
)

COLLECTORS = [
    "stats",
    "complexity",
    "maintainability",
    "debt",
    "bandit",
    "interrogate",
    "mypy",
    "pylint",
    "ruff",
]
PATHS = ["src", "tests"]
# A module little else imports, and one that nearly every file imports (through requests/__init__).
LEAF_FILE = "src/requests/help.py"
CORE_FILE = "src/requests/utils.py"
TOOL_CACHES = [".mypy_cache", ".ruff_cache", ".plimsoll"]
# Appended under a name of its own to each file changed (``{name}``: a name used by another
# file would make its importers reach the new function).
ADDED_FUNCTION = '''

def {name}(value, factor=2):
    """Added by bench_collect.py to measure a run after a small change."""
    if value is None:
        return None
    for _ in range(factor):
        value = value * 2
    return value
'''

# An in-place edit of an existing function of utils.py (get_netrc_auth), which Session uses.
EDIT = (
    '    netrc_file = os.environ.get("NETRC")\n',
    '    netrc_file = os.environ.get("NETRC") or None\n',
)

CONFIG = f"""

[tool.plimsoll.code]
paths = {json.dumps(PATHS)}
collectors = {json.dumps(COLLECTORS)}
"""


def prepare(workdir: Path, version: str) -> Path:
    """Unpack the requests sdist, add the plimsoll config and commit it all; the project root."""
    project = extract(sdist("requests", version), workdir / "unpacked")
    with (project / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write(CONFIG)
    (project / ".gitignore").write_text("".join(f"{c}/\n" for c in TOOL_CACHES), encoding="utf-8")
    git_init_commit(project, f"requests {version}")
    return project


def clear_caches(project: Path) -> None:
    """Remove the tools' and plimsoll's caches, so the next run starts cold."""
    for name in TOOL_CACHES:
        rmtree(project / name)


def by_hand(project: Path, python: Path, files: list[str]) -> list[tuple[str, float]]:
    """Each tool alone on ``files``; (label, seconds) per tool."""
    tools = {
        "radon cc": ["radon", "cc", "-j", *files],
        "radon mi": ["radon", "mi", "-j", *files],
        "radon raw": ["radon", "raw", "-j", *files],
        "bandit": ["bandit", "-r", "-f", "json", "-q", *files],
        "pylint": ["pylint", "--output-format=json2", "--persistent=n", *files],
        "mypy": ["mypy", "-O", "json", *files],
        "ruff": ["ruff", "check", "--output-format", "json", "--exit-zero", *files],
        "interrogate": ["interrogate", "-v", *files],
    }
    times = []
    for label, args in tools.items():
        clear_caches(project)
        say(f"by hand: {label}")
        result = timed([python, "-m", *args], cwd=project, ok_codes=None, timeout=1800)
        if result.returncode is None:
            raise CannotRun(f"{label} did not finish within 1800 s")
        if not result.stdout.strip() and label != "interrogate":
            raise CannotRun(
                f"{label} printed nothing (exit {result.returncode}): {result.stderr[-500:]}"
            )
        times.append((label, result.seconds))
    return times


def plimsoll_collect(project: Path, python: Path, *flags: str) -> tuple[float, dict]:
    """Time one ``plimsoll code collect`` (process start included); seconds and its record.

    Run as on a developer's machine (``CI=false``, whatever the shell running the benchmark
    says): the warm pylint server is part of that loop.
    """
    result = timed(
        [python, "-m", "plimsoll", "code", "collect", "--no-store", "--format", "json", *flags],
        cwd=project,
        timeout=3600,
        ok_codes=None,
        env={"CI": "false", "PLIMSOLL_PYLINT_SERVER": ""},
    )
    if result.returncode != 0:
        raise CannotRun(
            f"plimsoll code collect {' '.join(flags)} exited {result.returncode}:\n"
            f"{(result.stderr or result.stdout)[-3000:]}"
        )
    try:
        record = json.loads(result.stdout)["records"][0]
    except (ValueError, KeyError, IndexError) as exc:
        raise CannotRun(
            f"plimsoll code collect printed no record: {exc}: {result.stdout[:500]}"
        ) from None
    return result.seconds, record


def _warm_socket(project: Path) -> Path | None:
    """The socket of the warm pylint the collector uses for ``project``."""
    from plimsoll.code.collectors import _pylint_warm
    from plimsoll.code.collectors.base import CollectContext
    from plimsoll.code.collectors.pylint import PylintCollector

    key = PylintCollector().cache_key(CollectContext(project, ()))
    return _pylint_warm.socket_for(project, key)


def wait_for_warm_pylint(project: Path, seconds: float = 180) -> float | None:
    """Seconds until the warm pylint for ``project`` answers, or None (none started)."""
    from plimsoll.code.collectors import _pylint_warm

    sock = _warm_socket(project)
    started = time.monotonic()
    while sock is not None and time.monotonic() - started < seconds:
        if _pylint_warm.ping(sock):
            return time.monotonic() - started
        if not Path(f"{sock}.lock").exists() and time.monotonic() - started > 10:
            return None  # no server was started
        time.sleep(0.2)
    return None


def stop_warm_pylint(project: Path) -> None:
    """Stop the warm pylint of ``project`` (it would stop by itself once the folder is gone)."""
    sock = _warm_socket(project)
    if sock is None:
        return
    try:
        os.kill(int(Path(f"{sock}.lock").read_text().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", default="2.32.3", help="requests version to analyse")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    python = main_python()
    workdir = Path(tempfile.mkdtemp(prefix="plimsoll-bench-collect-"))
    try:
        project = prepare(workdir, args.version)
        files = python_files(project, PATHS)
        print(
            f"project: requests {args.version}, {len(files)} files, "
            f"{count_lines(project, files)} lines under {', '.join(PATHS)} ({project})"
        )

        tools = by_hand(project, python, files)

        clear_caches(project)
        say("plimsoll code collect --no-cache (all collectors)")
        cold, cold_record = plimsoll_collect(project, python, "--no-cache")

        clear_caches(project)
        say("plimsoll code collect (filling the per-file cache)")
        fill, _ = plimsoll_collect(project, python)
        # That run started the warm pylint (outside CI): a developer edits for longer than it
        # takes to build its trees, so the changes below are collected once it answers.
        waited = wait_for_warm_pylint(project)
        if waited is None:
            say("no warm pylint answered: the changes below run pylint cold")
        else:
            say(f"warm pylint ready {waited:.1f}s after the run that started it")

        # Two kinds of one-file change: a module few others import (pylint re-lints it and its
        # importers), and a core module nearly every file imports (pylint re-lints them all).
        def change(
            relpath: str, edit: tuple[str, str] | None = None
        ) -> tuple[float, dict[str, Any]]:
            path = project / relpath
            if edit is None:
                with path.open("a", encoding="utf-8") as fh:
                    stem = Path(relpath).stem
                    fh.write(ADDED_FUNCTION.replace("{name}", f"plimsoll_bench_{stem}_added"))
            else:
                text = path.read_text(encoding="utf-8")
                if edit[0] not in text:
                    raise CannotRun(f"{relpath} has no {edit[0]!r} to edit")
                path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
            git(project, "commit", "-q", "-am", f"change {relpath}")
            say(f"plimsoll code collect (cache, {relpath} changed)")
            return plimsoll_collect(project, python)

        leaf, leaf_record = change(LEAF_FILE)
        warm, warm_record = change(CORE_FILE)
        edit, edit_record = change(CORE_FILE, EDIT)
        stop_warm_pylint(project)

        # Diagnostics for the long pole: pylint as plimsoll runs it, alone, and plimsoll with
        # only its pylint collector (what the rest of the collectors cost it on a busy machine).
        say("diagnostics: pylint with plimsoll's arguments; plimsoll --collectors pylint")
        pylint_like = timed(
            [
                python,
                "-m",
                "pylint",
                "--output-format=json2:/dev/null,text",
                "--reports=y",
                "--persistent=n",
                *files,
            ],
            cwd=project,
            ok_codes=None,
            timeout=1800,
        )
        clear_caches(project)
        pylint_only, _ = plimsoll_collect(project, python, "--no-cache", "--collectors", "pylint")

        errors = {
            **cold_record.get("collector_errors", {}),
            **warm_record.get("collector_errors", {}),
            **leaf_record.get("collector_errors", {}),
            **edit_record.get("collector_errors", {}),
        }
        for name, error in sorted(errors.items()):
            print(f"collector error: {name}: {error}")

        print("\nEach tool alone (wall seconds, process start included):")
        print(table(["tool", "seconds"], tools))
        slowest_label, slowest = max(tools, key=lambda t: t[1])
        print(f"sum of all tools run one after another: {sum(t for _, t in tools):.2f}s")

        cold_d = cold_record.get("collector_durations", {})
        warm_d = warm_record.get("collector_durations", {})
        leaf_d = leaf_record.get("collector_durations", {})
        edit_d = edit_record.get("collector_durations", {})
        print("\nplimsoll collectors (seconds inside each collector's process):")
        print(
            table(
                [
                    "collector",
                    "--no-cache",
                    f"{LEAF_FILE} appended",
                    f"{CORE_FILE} appended",
                    f"{CORE_FILE} edited",
                ],
                [
                    (
                        n,
                        cold_d.get(n, "-"),
                        leaf_d.get(n, "-"),
                        warm_d.get(n, "-"),
                        edit_d.get(n, "-"),
                    )
                    for n in COLLECTORS
                ],
            )
        )
        relinted = [
            (label, r.get("metrics", {}).get("pylint", {}).get("linted_files"))
            for label, r in (
                ("appended to " + LEAF_FILE, leaf_record),
                ("appended to " + CORE_FILE, warm_record),
                ("edited in " + CORE_FILE, edit_record),
            )
        ]
        print(table(["change", "files pylint linted again"], relinted))
        print(
            table(
                ["plimsoll run", "wall seconds"],
                [
                    ("collect --no-cache", cold),
                    ("collect, empty cache (fills it)", fill),
                    (f"collect, cache, function appended to {LEAF_FILE}", leaf),
                    (f"collect, cache, function appended to {CORE_FILE}", warm),
                    (f"collect, cache, function edited in {CORE_FILE}", edit),
                    ("diagnostic: pylint by hand with plimsoll's arguments", pylint_like.seconds),
                    ("diagnostic: collect --no-cache --collectors pylint", pylint_only),
                ],
            )
        )

        verdicts = Verdicts("bench_collect")
        print()
        ratio = cold / slowest
        verdicts.target(
            "all collectors vs slowest single tool",
            f"{cold:.2f}s / {slowest:.2f}s ({slowest_label}) = {ratio:.2f}x",
            "<= 1.20x",
            ratio <= 1.2,
        )
        for label, seconds in (
            (f"function appended to {LEAF_FILE}", leaf),
            (f"function appended to {CORE_FILE}", warm),
            (f"function Session uses edited in {CORE_FILE} (worst case)", edit),
        ):
            second = seconds / cold
            verdicts.target(
                f"second run (cache, {label} changed) vs first (--no-cache)",
                f"{seconds:.2f}s / {cold:.2f}s = {second:.0%}",
                "<= 25%",
                second <= 0.25,
            )
        if errors:
            verdicts.target(
                "collectors without error", f"{len(errors)} failed: {', '.join(errors)}", "0", False
            )
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            rmtree(workdir)


if __name__ == "__main__":
    main_guard(main)
