#!/usr/bin/env python3
"""Benchmark: parsing a large SQL migration file with ``plimsoll.db.sql.parse_sql``.

Setup: one generated script of N statements (50,000 by default, about 13 MB) mixing what
migrations hold: ``CREATE TABLE`` with constraints, ``ALTER TABLE``, ``CREATE INDEX``,
multi-row ``INSERT``, ``UPDATE``, ``DELETE``, PL/pgSQL functions with dollar-quoted bodies
containing semicolons, comments and blank lines. With ``--non-ascii`` every statement also has
a comment and a string literal with non-ASCII text (the location mapping's hard case).

Measured in one run, in one process, best of ``--repeat`` (the file is read once):

* ``pglast.parser.parse_sql`` of the whole file alone: the C parser and pglast's Python nodes,
  as a caller would run it (cyclic GC on) and with the GC paused as plimsoll does (the floor:
  the ratio to it is plimsoll's overhead); skipped with ``--non-ascii`` above 1,000 statements,
  where pglast's byte-to-character offset mapping is quadratic (hours);
* pglast's ``split`` then ``parse_sql`` of each statement (what plimsoll does underneath);
* ``plimsoll.db.sql.parse_sql``: the same plus statement texts, lines, columns and kinds;
* ``pglast.parser.split`` and ``plimsoll.db.sql.split_statements`` (texts only, no nodes);
* the peer, squawk (``squawk-cli`` 2.70.0 from PyPI, a Rust linter with its own PostgreSQL
  parser, installed into ``bench/.venv-peers``), as a process on the same file: its parse alone
  (``--debug parse``, output sent to /dev/null) and its normal lint run.

Target: plimsoll's ``parse_sql`` <= 1.5x pglast's own parse of the same file (the floor; with
``--non-ascii`` at scale, split + parse of each statement).

Usage: ``.venv/bin/python bench/bench_sql_parse.py [--statements 50000] [--repeat 3]
[--non-ascii] [--no-peer] [--keep]``
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _benchlib import CannotRun, Verdicts, main_guard, peers_python, say, table  # noqa: E402

SQUAWK_SPEC = "squawk-cli==2.70.0"
TARGET_OVERHEAD = 1.5


def generate(statements: int, non_ascii: bool, rows: int = 40, seed: int = 7) -> str:
    """A migration-like script of ``statements`` statements (``rows`` rows per INSERT)."""
    rng = random.Random(seed)
    note = " -- café, naïve, Größe, 東京, ☃\n" if non_ascii else "\n"
    label = "'Zürich ☃ 東京'" if non_ascii else "'Zurich'"
    out: list[str] = []
    n = 0
    table_no = 0
    while n < statements:
        table_no += 1
        t = f"app.t{table_no}"
        block = [
            f"-- table {table_no}{note}CREATE TABLE {t} (\n"
            "    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
            "    org_id bigint NOT NULL REFERENCES app.orgs (id) ON DELETE CASCADE,\n"
            f"    name text NOT NULL DEFAULT {label},\n"
            "    amount numeric(12, 2) CHECK (amount >= 0),\n"
            "    created_at timestamptz NOT NULL DEFAULT now()\n);",
            f"ALTER TABLE {t} ADD COLUMN note text;{note}",
            f"ALTER TABLE {t} ALTER COLUMN name SET DEFAULT {label}, "
            "ADD CONSTRAINT name_len CHECK (length(name) < 200) NOT VALID;",
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS t{table_no}_org ON {t} (org_id, created_at);",
            f"/* seed rows */ INSERT INTO {t} (org_id, name, amount) VALUES "
            + ", ".join(
                f"({rng.randint(1, 999)}, {label}, {rng.randint(0, 10**6) / 100})"
                for _ in range(rows)
            )
            + ";",
            f"UPDATE {t} SET amount = amount * 1.1 WHERE org_id IN "
            f"(SELECT id FROM app.orgs WHERE name LIKE 'a%') AND name <> {label};",
            f"DELETE FROM {t} WHERE created_at < now() - interval '30 days';\n",
            f"CREATE OR REPLACE FUNCTION app.f{table_no}(p bigint) RETURNS numeric\n"
            "LANGUAGE plpgsql AS $fn$\nDECLARE total numeric;\nBEGIN\n"
            f"  SELECT sum(amount) INTO total FROM {t} WHERE org_id = p; -- a; b\n"
            "  RETURN coalesce(total, 0);\nEND;\n$fn$;",
        ]
        out.extend(block)
        n += len(block)
    return "\n".join(out[:statements]) + "\n"


def best(fn: Callable[[], object], repeat: int) -> float:
    """The best wall time of ``repeat`` calls (each result dropped before the next call)."""
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
    return min(times)


def squawk_times(path: Path, repeat: int) -> list[tuple[str, float, str]]:
    """squawk's parse-only and lint runs on ``path``, best of ``repeat`` each."""
    python = peers_python(SQUAWK_SPEC)
    squawk = python.parent / "squawk"
    if not squawk.exists():
        raise CannotRun(f"{SQUAWK_SPEC} installed no `squawk` executable in {python.parent}")
    version = subprocess.run([squawk, "--version"], capture_output=True, text=True, check=False)
    rows = []
    for label, args in (
        ("squawk --debug parse (parse only)", ["--debug", "parse"]),
        ("squawk lint --reporter gcc", ["--reporter", "gcc"]),
    ):
        times = []
        note = ""
        for _ in range(repeat):
            start = time.perf_counter()
            done = subprocess.run(
                [squawk, *args, str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - start)
            # A lint run exits 1 when it finds violations; anything else with stderr is a failure.
            if done.returncode not in (0, 1):
                raise CannotRun(f"squawk {' '.join(args)} exited {done.returncode}: {done.stderr}")
            note = f"exit {done.returncode}"
        rows.append((f"{label} [{version.stdout.strip()}]", min(times), note))
    return rows


def main() -> None:
    """Generate the script, time each parser, print the table and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--non-ascii", action="store_true")
    parser.add_argument("--no-peer", action="store_true", help="skip squawk")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()

    import pglast.parser

    from plimsoll.db import sql

    text = generate(args.statements, args.non_ascii)
    work = Path(tempfile.mkdtemp(prefix="plimsoll-bench-sql-"))
    path = work / "big.up.sql"
    path.write_text(text, encoding="utf-8")
    size_mb = len(text.encode("utf-8")) / 1e6
    say(f"{path}: {args.statements} statements, {size_mb:.1f} MB, {text.count(chr(10))} lines")

    def paused(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            gc.disable()
            try:
                return fn()
            finally:
                gc.enable()

        return run

    rows: list[tuple[str, float | None, str]] = []
    # pglast alone maps each node's byte offset to a character index by scanning the later
    # non-ASCII characters: on a big non-ASCII script that is quadratic (hours at 50,000).
    whole_ok = not args.non_ascii or args.statements <= 1000
    raw_s = best(lambda: pglast.parser.parse_sql(text), args.repeat) if whole_ok else None
    floor_s = best(paused(lambda: pglast.parser.parse_sql(text)), args.repeat) if whole_ok else None
    each_s = best(
        paused(lambda: [pglast.parser.parse_sql(p) for p in pglast.parser.split(text)]),
        args.repeat,
    )
    ours_s = best(lambda: sql.parse_sql(text, str(path)), args.repeat)
    split_raw_s = best(lambda: pglast.parser.split(text), args.repeat)
    split_ours_s = best(lambda: sql.split_statements(text), args.repeat)
    count = len(sql.parse_sql(text).statements)
    if count != args.statements:
        raise CannotRun(f"parse_sql found {count} statements, expected {args.statements}")

    skipped = "skipped: quadratic in pglast on non-ASCII text"
    rows += [
        ("pglast parse_sql, whole file, gc on", raw_s, "" if whole_ok else skipped),
        ("pglast parse_sql, whole file, gc paused (floor)", floor_s, "" if whole_ok else skipped),
        ("pglast split + parse_sql each, gc paused", each_s, ""),
        (
            "plimsoll parse_sql",
            ours_s,
            (
                f"{ours_s / floor_s:.2f}x floor, {ours_s / raw_s:.2f}x gc-on"
                if floor_s and raw_s
                else f"{ours_s / each_s:.2f}x split+each"
            ),
        ),
        ("pglast split", split_raw_s, ""),
        ("plimsoll split_statements", split_ours_s, f"{split_ours_s / split_raw_s:.2f}x split"),
    ]
    if not args.no_peer:
        for label, seconds, note in squawk_times(path, args.repeat):
            rows.append((label, seconds, f"{note}; plimsoll/squawk {ours_s / seconds:.2f}x"))
    print(
        table(
            ["what", "seconds", "MB/s", "note"],
            [
                (
                    label,
                    "-" if s is None else f"{s:.3f}",
                    "-" if s is None else f"{size_mb / s:.1f}",
                    note,
                )
                for label, s, note in rows
            ],
        )
    )
    base = floor_s if floor_s is not None else each_s
    verdicts = Verdicts("bench_sql_parse")
    ratio = ours_s / base
    verdicts.target(
        f"plimsoll parse_sql vs pglast's own parse ({args.statements} statements, {size_mb:.1f} MB)",
        f"{ratio:.2f}x",
        f"<= {TARGET_OVERHEAD}x",
        ratio <= TARGET_OVERHEAD,
    )
    if args.keep:
        say(f"kept {path}")
    else:
        path.unlink()
        work.rmdir()


if __name__ == "__main__":
    main_guard(main)
