#!/usr/bin/env python3
"""Benchmark: ``plimsoll db lint`` against squawk, for speed and for agreement.

Speed. One generated schema file of N tables (5,000 by default): each with 10 columns, an
index and a foreign key, about 15,000 statements. Timed as processes, best of ``--repeat``:
``plimsoll db lint FILE --format json`` (the default libraries, ``safety`` and ``general``:
statement rules over every statement, then the catalog built from the file and the schema
rules over it) and ``squawk --reporter json FILE`` (squawk-cli from PyPI, installed into
``bench/.venv-peers``). Targets: plimsoll's wall time <= squawk's at 5,000 tables, and
<= 0.5 s at 500 tables.

Agreement. Every SQL case of the rules both tools have (``tests/db/lint/cases/*.yaml``, the
rules mapped below) is written to a migration file; both tools lint every file; the table
shows, per rule, the files where both, only plimsoll or only squawk reported it.

Usage: ``.venv/bin/python bench/bench_lint.py [--tables 5000] [--repeat 3] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import (  # noqa: E402
    REPO,
    CannotRun,
    Verdicts,
    main_guard,
    main_python,
    peers_python,
    say,
    table,
    timed,
)

SQUAWK_SPEC = "squawk-cli==2.70.0"
CASES = REPO / "tests" / "db" / "lint" / "cases"
# plimsoll rule id -> squawk rule name, for the rules both tools have.
SHARED_RULES = {
    "require-concurrent-index-creation": "require-concurrent-index-creation",
    "require-concurrent-index-deletion": "require-concurrent-index-deletion",
    "adding-field-with-default": "adding-field-with-default",
    "adding-required-field": "adding-required-field",
    "adding-not-nullable-field": "adding-not-nullable-field",
    "adding-foreign-key-constraint": "adding-foreign-key-constraint",
    "constraint-missing-not-valid": "constraint-missing-not-valid",
    "changing-column-type": "changing-column-type",
    "disallowed-unique-constraint": "disallowed-unique-constraint",
    "adding-primary-key-constraint": "adding-serial-primary-key-field",
    "require-concurrent-reindex": "require-concurrent-reindex",
    "require-concurrent-partition-detach": "require-concurrent-partition-detach",
    "require-lock-timeout": "require-lock-timeout",
    "require-statement-timeout": "require-statement-timeout",
    "ban-concurrent-index-creation-in-transaction": "ban-concurrent-index-creation-in-transaction",
    "transaction-nesting": "transaction-nesting",
    "ban-drop-column": "ban-drop-column",
    "ban-drop-table": "ban-drop-table",
    "ban-drop-database": "ban-drop-database",
    "ban-drop-not-null": "ban-drop-not-null",
    "ban-truncate-cascade": "ban-truncate-cascade",
    "ban-char-field": "ban-char-field",
    "renaming-column": "renaming-column",
    "renaming-table": "renaming-table",
    "prefer-robust-stmts": "prefer-robust-stmts",
    "prefer-identity": "prefer-identity",
    "prefer-bigint-over-int": "prefer-bigint-over-int",
    "prefer-bigint-over-smallint": "prefer-bigint-over-smallint",
    "prefer-text-field": "prefer-text-field",
    "prefer-timestamp-tz": "prefer-timestamp-tz",
    "ban-create-domain-with-constraint": "ban-create-domain-with-constraint",
    "ban-alter-domain-with-add-constraint": "ban-alter-domain-with-add-constraint",
    "ban-uncommitted-transaction": "ban-uncommitted-transaction",
    "ban-drop-default": "ban-drop-default",
    "require-enum-value-ordering": "require-enum-value-ordering",
}
TYPES = [
    "text",
    "integer",
    "timestamptz",
    "boolean",
    "numeric(12,2)",
    "varchar(80)",
    "jsonb",
    "date",
]


def generate(tables: int) -> str:
    """A schema of ``tables`` tables: 10 columns, an index and a foreign key each."""
    out: list[str] = []
    for n in range(tables):
        columns = ["id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]
        columns += [f"c{i} {t}" for i, t in enumerate(TYPES)]
        columns.append("parent_id bigint")
        body = ",\n  ".join(columns)
        out.append(f"CREATE TABLE t{n} (\n  {body}\n);")
        out.append(f"COMMENT ON TABLE t{n} IS 'table {n}';")
        out.append(f"CREATE INDEX t{n}_parent_idx ON t{n} (parent_id);")
        parent = f"t{n - 1}" if n else "t0"
        out.append(
            f"ALTER TABLE t{n} ADD CONSTRAINT t{n}_parent_fk FOREIGN KEY (parent_id)"
            f" REFERENCES {parent} (id);"
        )
    return "\n\n".join(out) + "\n"


def _best(cmd: list[str | Path], repeat: int, cwd: Path) -> tuple[float, str]:
    best = float("inf")
    out = ""
    for _ in range(repeat):
        run = timed(cmd, cwd, ok_codes=(0, 1), timeout=600)
        if run.seconds < best:
            best, out = run.seconds, run.stdout
    return best, out


def speed(
    work: Path, tables: int, repeat: int, squawk: Path, plimsoll: Path
) -> tuple[float, float]:
    """(plimsoll seconds, squawk seconds) on a generated schema of ``tables`` tables."""
    path = work / f"schema_{tables}.sql"
    path.write_text(generate(tables))
    # The generated file is a schema (every table new), as the folder configured says.
    (work / "plimsoll.toml").write_text('[db]\nschema_dir = "."\n[db.lint]\npg_version = 17\n')
    ours, out = _best([plimsoll, "db", "lint", path.name, "--format", "json"], repeat, work)
    data = json.loads(out)
    theirs, squawk_out = _best(
        [squawk, "--pg-version=17.0", "--reporter", "json", path.name], repeat, work
    )
    say(
        f"{tables} tables ({data['statements']} statements): plimsoll {ours:.3f}s"
        f" ({len(data['findings'])} findings), squawk {theirs:.3f}s"
        f" ({len(json.loads(squawk_out or '[]'))} findings)"
    )
    return ours, theirs


def agreement(work: Path, squawk: Path, plimsoll: Path) -> list[list[object]]:
    """Per shared rule: case files where both, only plimsoll, only squawk reported it."""
    folder = work / "cases"
    folder.mkdir()
    files: dict[str, str] = {}
    number = 0
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        rule = data["rule"]
        if rule not in SHARED_RULES:
            continue
        for case in data["cases"]:
            if "sql" not in case or case.get("migration") is False or case.get("options"):
                continue  # only what both tools read the same way: one migration, defaults
            if case.get("pg_version", 17) != 17 or case.get("assume_in_transaction"):
                continue
            number += 1
            name = f"{number:04d}_case.up.sql"
            (folder / name).write_text(case["sql"])
            files[name] = rule
    if not files:
        raise CannotRun(f"no cases of shared rules under {CASES}")
    (work / "plimsoll.toml").write_text("[db.lint]\npg_version = 17\nmigrator_settings = false\n")
    selected = ",".join(r for r in SHARED_RULES if (CASES / f"{r}.yaml").exists())
    ours = timed(
        [plimsoll, "db", "lint", "cases", "--select", selected, "--format", "json"],
        work,
        ok_codes=(0, 1),
    )
    theirs = timed(
        [squawk, "--pg-version=17.0", "--reporter", "json", *sorted(files)], folder, ok_codes=(0, 1)
    )
    found_ours: dict[str, set[str]] = defaultdict(set)
    for finding in json.loads(ours.stdout)["findings"]:
        found_ours[finding["rule"]].add(Path(finding["file"]).name)
    found_theirs: dict[str, set[str]] = defaultdict(set)
    for finding in json.loads(theirs.stdout or "[]"):
        found_theirs[finding["rule_name"]].add(Path(finding["file"]).name)
    rows: list[list[object]] = []
    for rule, squawk_rule in SHARED_RULES.items():
        mine = found_ours.get(rule, set())
        peer = found_theirs.get(squawk_rule, set())
        cases = [f for f, r in files.items() if r == rule]
        if not cases and not mine and not peer:
            continue
        # Agreement over the files of this rule's own cases: both flagged or both silent.
        agree = sum((f in mine) == (f in peer) for f in cases)
        rows.append(
            [
                rule,
                squawk_rule,
                len(cases),
                len(mine & peer),
                len(mine - peer),
                len(peer - mine),
                f"{100 * agree / len(cases):.0f}%" if cases else "-",
            ]
        )
    return rows


def main() -> None:
    """Run both measurements and print the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    plimsoll = main_python().parent / "plimsoll"
    squawk = peers_python(SQUAWK_SPEC).parent / "squawk"
    if not squawk.exists():
        raise CannotRun(f"{SQUAWK_SPEC} installed no squawk executable")
    work = Path(tempfile.mkdtemp(prefix="plimsoll-bench-lint-"))
    verdicts = Verdicts("bench_lint")
    try:
        ours, theirs = speed(work, args.tables, args.repeat, squawk, plimsoll)
        small, _ = speed(work, 500, args.repeat, squawk, plimsoll)
        rows = agreement(work, squawk, plimsoll)
        print(
            table(
                [
                    "plimsoll rule",
                    "squawk rule",
                    "cases",
                    "both",
                    "only plimsoll",
                    "only squawk",
                    "agree",
                ],
                rows,
            )
        )
        verdicts.target(
            f"lint {args.tables} tables vs squawk",
            f"{ours:.3f}s vs {theirs:.3f}s = {ours / theirs:.2f}x",
            "<= 1.0x",
            ours <= theirs,
        )
        verdicts.target("lint 500 tables", f"{small:.3f}s", "<= 0.5 s", small <= 0.5)
        verdicts.summary()
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main_guard(main)
