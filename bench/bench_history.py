#!/usr/bin/env python3
"""Benchmark 3: reading 10,000 history records for a trend.

Setup (not timed against the target): one real record is collected from the ``requests``
sdist (in-process collectors plus bandit, interrogate and ruff, so the record has the shape
and size of a real one, per-file sections included), then 10,000 variations of it (distinct
commits, timestamps two hours apart, drifting values) are written to the ``code-metrics``
branch of a fresh repository in one commit through the History API's batch commit
(``History.commit``, which writes the blobs with ``git fast-import``). Reading cares only about
the tip's tree, so one commit with 10,000 records reads like 10,000 commits of them.

Measured in one run:

* ``plimsoll code trend stats.totals.sloc --format json --limit 0`` as a process (wall time);
* the same process's fixed cost: ``python -c "import plimsoll.cli.main"``;
* ``commands.trend(project, "stats.totals.sloc")`` timed inside a Python process (no start-up);
* the by-hand peer: ``git ls-tree`` of ``history/`` and one ``git cat-file --batch`` fed every
  path, each blob parsed with ``json.loads`` and the value picked out, in a plain loop.

Target: the CLI's trend (wall, process start included) <= 1 s, once the local trend index
exists (the first trend builds it and is reported apart).

Usage: ``.venv/bin/python bench/bench_history.py [--records 10000] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import (  # noqa: E402
    CannotRun,
    Verdicts,
    extract,
    git,
    git_init_commit,
    main_guard,
    main_python,
    rmtree,
    run,
    say,
    sdist,
    table,
    timed,
)

METRIC = "stats.totals.sloc"
TEMPLATE_COLLECTORS = "stats,complexity,maintainability,debt,bandit,interrogate,ruff"
BRANCH = "code-metrics"

# Runs in the project's venv: builds N records from the template and commits them in one go.
GENERATE = r"""
import copy, json, random, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from plimsoll.code.history import History
from plimsoll.code.record import Record, record_filename

repo, template_path, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
template = json.loads(template_path.read_text())
rng = random.Random(42)
start = datetime(2020, 1, 1, tzinfo=UTC)
sloc = template["metrics"]["stats"]["totals"]["sloc"]
adds = {}
began = time.perf_counter()
for i in range(count):
    doc = copy.deepcopy(template)
    doc["timestamp"] = (start + timedelta(hours=2 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["commit_sha"] = "%040x" % rng.getrandbits(160)
    doc["commit_message"] = f"change {i}"
    doc["package_version"] = f"1.{i // 100}.{i % 100}"
    totals = doc["metrics"]["stats"]["totals"]
    totals["sloc"] = sloc + i // 3 + rng.randint(-20, 20)
    totals["loc"] = totals.get("loc", 0) + i // 2
    doc["collection_duration_seconds"] = round(rng.uniform(5, 30), 3)
    record = Record.from_dict(doc)
    adds[record_filename(record)] = record.to_bytes()
built = time.perf_counter() - began
History(repo, branch=sys.argv[4]).commit(adds, [], f"bench: {count} records")
print(json.dumps({"build_seconds": built, "commit_seconds": time.perf_counter() - began - built,
                  "bytes": sum(map(len, adds.values())), "records": len(adds)}))
"""

# Runs in the project's venv: the trend through the Python API, timed without process start.
IN_PROCESS = r"""
import json, sys, time
began = time.perf_counter()
from pathlib import Path
from plimsoll.code import commands
from plimsoll.core.config import load
imported = time.perf_counter() - began
repo = Path(sys.argv[1])
project = commands.open_project(load(start=repo), repo)
t0 = time.perf_counter()
points = commands.trend(project, sys.argv[2])
took = time.perf_counter() - t0
print(json.dumps({"import_seconds": imported, "trend_seconds": took, "points": len(points)}))
"""


def template_record(workdir: Path, python: Path) -> Path:
    """Collect one real record from the requests sdist; the path of its JSON."""
    project = extract(sdist("requests", "2.32.3"), workdir / "template")
    with (project / "pyproject.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[tool.plimsoll.code]\npaths = ["src"]\n')
    (project / ".gitignore").write_text(".plimsoll/\n.ruff_cache/\n", encoding="utf-8")
    git_init_commit(project)
    say(f"collecting a template record ({TEMPLATE_COLLECTORS})")
    result = timed(
        [
            python,
            "-m",
            "plimsoll",
            "code",
            "collect",
            "--no-store",
            "--format",
            "json",
            "--collectors",
            TEMPLATE_COLLECTORS,
        ],
        cwd=project,
        timeout=900,
        ok_codes=None,
    )
    if result.returncode != 0:
        raise CannotRun(
            f"plimsoll code collect exited {result.returncode}:\n"
            f"{(result.stderr or result.stdout)[-3000:]}"
        )
    record = json.loads(result.stdout)["records"][0]
    path = workdir / "template.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def by_hand(repo: Path) -> tuple[float, int]:
    """The peer: ls-tree, one ``git cat-file --batch`` for all blobs, json.loads in a loop."""
    began = time.perf_counter()
    listing = subprocess.run(
        ["git", "ls-tree", "-r", BRANCH, "history/"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # "<mode> blob <sha>\t<path>"; names start with the UTC timestamp, so sorting is time order.
    # Blobs are asked for by id: asking by "<branch>:<path>" makes git search the 10,000-entry
    # tree for every record (about 4x slower here).
    entries = sorted((line.split("\t", 1)[1], line.split()[2]) for line in listing)
    proc = subprocess.Popen(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=1 << 20,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        assert proc.stdin is not None
        proc.stdin.write("".join(f"{sha}\n" for _, sha in entries).encode())
        proc.stdin.close()

    writer = threading.Thread(target=feed)
    writer.start()
    values = []
    out = proc.stdout
    for _ in entries:
        header = out.readline().split()
        size = int(header[2])
        doc = json.loads(out.read(size))
        out.read(1)
        value = doc["metrics"]
        for key in METRIC.split("."):
            value = value[key]
        values.append((doc["timestamp"], value))
    writer.join()
    proc.wait()
    return time.perf_counter() - began, len(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    args = parser.parse_args()
    python = main_python()
    workdir = Path(tempfile.mkdtemp(prefix="plimsoll-bench-history-"))
    try:
        template = template_record(workdir, python)
        repo = workdir / "repo"
        repo.mkdir()
        (repo / "pyproject.toml").write_text(
            '[tool.plimsoll.code]\npaths = ["."]\n', encoding="utf-8"
        )
        git_init_commit(repo, "project")
        say(f"writing {args.records} records to {BRANCH}")
        made = json.loads(
            run(
                [python, "-c", GENERATE, repo, template, str(args.records), BRANCH], timeout=1800
            ).stdout
        )
        print(
            f"history: {made['records']} records, {made['bytes'] / 1e6:.1f} MB of JSON "
            f"({made['bytes'] / made['records'] / 1024:.1f} KiB each); built in "
            f"{made['build_seconds']:.1f}s, committed in {made['commit_seconds']:.1f}s"
        )
        git(repo, "gc", "-q")  # a packed repository, as a clone or an old one would be

        say("timing")
        start_only = timed([python, "-c", "import plimsoll.cli.main"], cwd=repo)
        trend_cmd = [
            python,
            "-m",
            "plimsoll",
            "code",
            "trend",
            METRIC,
            "--format",
            "json",
            "--limit",
            "0",
        ]
        # The first trend parses every record once into the local trend index (.plimsoll/cache);
        # every later one (the case the target is about: a dashboard or CI reading history
        # again) reads the index plus whatever records are new.
        cold = timed(trend_cmd, cwd=repo, timeout=600, ok_codes=None)
        cli = timed(trend_cmd, cwd=repo, timeout=600, ok_codes=None)
        if cli.returncode != 0 or cold.returncode != 0:
            raise CannotRun(
                f"plimsoll code trend exited {cli.returncode}:\n{(cli.stderr or cli.stdout)[-3000:]}"
            )
        points = len(json.loads(cli.stdout))
        inproc = json.loads(run([python, "-c", IN_PROCESS, repo, METRIC], timeout=600).stdout)
        peer_seconds, peer_points = by_hand(repo)
        if (
            points != args.records
            or inproc["points"] != args.records
            or peer_points != args.records
        ):
            print(
                f"note: points cli={points} in-process={inproc['points']} by-hand={peer_points}, "
                f"expected {args.records}"
            )

        print()
        print(
            table(
                ["what", "seconds"],
                [
                    ("plimsoll code trend, first run: builds the index (CLI, wall)", cold.seconds),
                    ("plimsoll code trend (CLI, wall)", cli.seconds),
                    (
                        "  of which process start + imports (python -c 'import plimsoll.cli.main')",
                        start_only.seconds,
                    ),
                    ("commands.trend() in process", inproc["trend_seconds"]),
                    ("by hand: ls-tree + cat-file --batch + json.loads loop", peer_seconds),
                ],
            )
        )
        verdicts = Verdicts("bench_history")
        print()
        print(f"info: first trend (index built from {args.records} records): {cold.seconds:.2f}s")
        verdicts.target(
            f"trend over {args.records} records, CLI wall time",
            f"{cli.seconds:.2f}s",
            "<= 1.00s",
            cli.seconds <= 1.0,
        )
        print(
            f"info: in-process trend / by-hand peer = {inproc['trend_seconds']:.2f}s / "
            f"{peer_seconds:.2f}s = {inproc['trend_seconds'] / peer_seconds:.2f}x"
        )
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            rmtree(workdir)


if __name__ == "__main__":
    main_guard(main)
