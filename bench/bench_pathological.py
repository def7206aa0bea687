#!/usr/bin/env python3
"""Benchmark 4: files with huge literals must not hang a collection.

The project has three files: ``huge_list.py`` (one list literal of about 5 MB spread over
lines), ``huge_dict.py`` (a dict literal of 200,000 lines) and a small ordinary module.

Measured in one run:

* ``radon raw`` alone on each huge file, killed at a cap (default 120 s) and reported as
  "did not finish" then;
* ``plimsoll code collect --collectors stats,complexity,maintainability,debt --no-cache
  --no-store`` on the whole project.

Target: plimsoll finishes within its per-file cap (``PER_FILE_SECONDS`` in
``plimsoll.code.collectors.base``, read from the source) for each huge file plus a margin,
every collector succeeds, and each huge file is either analysed or reported in that
collector's ``skipped_files`` while the small module is analysed.

Usage: ``.venv/bin/python bench/bench_pathological.py [--radon-cap 120] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import (  # noqa: E402
    CannotRun,
    Verdicts,
    git_init_commit,
    main_guard,
    main_python,
    rmtree,
    run,
    say,
    table,
    timed,
)

COLLECTORS = ["stats", "complexity", "maintainability", "debt"]
HUGE = ["huge_list.py", "huge_dict.py"]
MARGIN_SECONDS = 30.0

SMALL = '''"""An ordinary module next to the huge ones."""


def add(a: int, b: int) -> int:
    """Add two numbers."""
    # TODO: overflow checks
    if a > 0 and b > 0:
        return a + b
    return b + a


class Box:
    """A box."""

    def __init__(self, value: int) -> None:
        self.value = value
'''


def write_project(root: Path) -> dict[str, int]:
    """Write the three files, the config, and commit; sizes in bytes by file."""
    root.mkdir(parents=True)
    with (root / "huge_list.py").open("w", encoding="utf-8") as fh:
        fh.write('"""A 5 MB list literal."""\n\nDATA = [\n')
        size, i = 0, 0
        while size < 5_000_000:
            line = f"    'item-{i:07d}', {i * 7919 % 100003}, {i / 7:.6f}, None, True,\n"
            fh.write(line)
            size += len(line)
            i += 1
        fh.write("]\n")
    with (root / "huge_dict.py").open("w", encoding="utf-8") as fh:
        fh.write('"""A 200,000-line dict literal."""\n\nTABLE = {\n')
        for i in range(200_000):
            fh.write(f'    "key{i:06d}": {i},\n')
        fh.write("}\n")
    (root / "small.py").write_text(SMALL, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        f'[tool.plimsoll.code]\npaths = ["."]\ncollectors = {json.dumps(COLLECTORS)}\n',
        encoding="utf-8",
    )
    (root / ".gitignore").write_text(".plimsoll/\n", encoding="utf-8")
    git_init_commit(root)
    return {name: (root / name).stat().st_size for name in [*HUGE, "small.py"]}


def per_file_cap(python: Path) -> float:
    """plimsoll's per-file cap in seconds (its PER_FILE_SECONDS constant)."""
    out = run(
        [python, "-c", "from plimsoll.code.collectors.base import PER_FILE_SECONDS as s; print(s)"],
        check=False,
    )
    try:
        return float(out.stdout.strip())
    except ValueError:
        return 20.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--radon-cap", type=float, default=120.0, help="seconds before radon is killed"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()
    python = main_python()
    cap = per_file_cap(python)
    workdir = Path(tempfile.mkdtemp(prefix="plimsoll-bench-patho-"))
    try:
        root = workdir / "project"
        sizes = write_project(root)
        print("files: " + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in sizes.items()))

        rows = []
        for name in HUGE:
            say(f"radon raw {name} (cap {args.radon_cap:g}s)")
            r = timed(
                [python, "-m", "radon", "raw", "-j", name],
                cwd=root,
                timeout=args.radon_cap,
                ok_codes=None,
            )
            rows.append(
                (
                    f"radon raw {name}",
                    f"did not finish in {args.radon_cap:g}s"
                    if r.timed_out
                    else f"{r.seconds:.2f}s",
                )
            )

        say(f"plimsoll code collect --collectors {','.join(COLLECTORS)} --no-cache --no-store")
        budget = cap * len(HUGE) + MARGIN_SECONDS
        plim = timed(
            [
                python,
                "-m",
                "plimsoll",
                "code",
                "collect",
                "--collectors",
                ",".join(COLLECTORS),
                "--no-cache",
                "--no-store",
                "--format",
                "json",
            ],
            cwd=root,
            timeout=max(budget * 4, 600),
            ok_codes=None,
        )
        if plim.timed_out:
            rows.append(("plimsoll collect", f"killed after {plim.seconds:.0f}s"))
            print(table(["run", "wall"], rows))
            Verdicts("bench_pathological").target(
                "plimsoll does not hang", "killed", f"<= {budget:g}s", False
            )
            return
        if plim.returncode != 0:
            raise CannotRun(
                f"plimsoll code collect exited {plim.returncode}:\n{(plim.stderr or plim.stdout)[-3000:]}"
            )
        record = json.loads(plim.stdout)["records"][0]
        rows.append(("plimsoll collect (4 collectors, whole project)", f"{plim.seconds:.2f}s"))
        print()
        print(table(["run", "wall"], rows))

        metrics, errors = record.get("metrics", {}), record.get("collector_errors", {})
        durations = record.get("collector_durations", {})
        detail = []
        handled = True
        for name in COLLECTORS:
            if name in errors:
                detail.append((name, durations.get(name, "-"), "ERROR: " + errors[name]))
                handled = False
                continue
            skipped = {
                s["path"]: s.get("error", "")
                for s in metrics.get(name, {}).get("skipped_files", [])
            }
            if "small.py" in skipped:
                handled = False
            notes = "; ".join(f"{p}: {e}" for p, e in sorted(skipped.items())) or "nothing skipped"
            detail.append((name, durations.get(name, "-"), notes))
        print()
        print(table(["collector", "seconds", "skipped files"], detail))

        verdicts = Verdicts("bench_pathological")
        print()
        verdicts.target(
            "plimsoll does not hang on huge literals",
            f"{plim.seconds:.1f}s, per-file cap {cap:g}s",
            f"<= {budget:g}s ({len(HUGE)} files x cap + {MARGIN_SECONDS:g}s)",
            plim.seconds <= budget,
        )
        verdicts.target(
            "huge files analysed or reported skipped, the rest analysed, no collector error",
            "yes" if handled else "no",
            "yes",
            handled,
        )
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            rmtree(workdir)


if __name__ == "__main__":
    main_guard(main)
