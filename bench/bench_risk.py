#!/usr/bin/env python3
"""Benchmark: risk assessment of a 20-statement migration against a database of 10,000 tables.

Server: the throwaway PostgreSQL of ``bench_migrate.py`` (``initdb`` in a ``/tmp`` folder, a unix
socket only, ``fsync`` off), stopped and removed at the end.

Database: 10,000 tables ``t_00001`` ... ``t_10000`` (``id bigint PRIMARY KEY``, a foreign key
column, ``email``, ``note``, ``amount``, ``created``: about 30,000 relations with their indexes
and TOAST tables), the ten the migration touches filled with 20,000 rows each, a view and a
foreign key among them, then ``ANALYZE``.

Migration: 20 statements of every common kind on those tables (a volatile and a constant
default, ``CREATE INDEX``, a CHECK added NOT VALID then validated, a foreign key, SET NOT NULL,
a type change, a new table referencing an old one and its index, an UPDATE and an INSERT, a
rename, a comment, a view, a default, a DROP INDEX IF EXISTS, a function and its trigger, a
GRANT).

Timed, after one run that calibrates the server (its time is printed too, once per server):

* ``plimsoll db risk <file> -f json``, the CLI (process start, configuration, parsing, live
  facts, calibration from its cache, lint, score), with the command registered as main.py does;
* ``assess()`` in this process (the same work without process start and imports).

Each is the best of ``--repeat`` runs. Target: **<= 1 s** for both. A missed target prints
MISS, never fails; exit code 3 only when something could not run.

Usage: ``.venv/bin/python bench/bench_risk.py [--tables 10000] [--repeat 5] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _benchlib import CannotRun, Verdicts, main_guard, main_python, say, table, timed  # noqa: E402
from bench_migrate import best, server  # noqa: E402

TARGET_SECONDS = 1.0
FILLED = 10
ROWS = 20_000

# The command registered the way main.py registers commands (harmless once it is there).
RUNNER = (
    "import sys\n"
    "from plimsoll.cli import db, main\n"
    "from plimsoll.cli.db_risk import risk\n"
    "if 'risk' not in {c.name for c in db.app.registered_commands}:\n"
    "    db.app.command(name='risk')(risk)\n"
    "sys.argv = ['plimsoll', *sys.argv[1:]]\n"
    "main.run()\n"
)

MIGRATION = """\
ALTER TABLE t_00001 ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE t_00002 ADD COLUMN flag boolean DEFAULT false;
CREATE INDEX t_00003_customer ON t_00003 (customer_id);
ALTER TABLE t_00004 ADD CONSTRAINT t_00004_amount CHECK (amount >= 0) NOT VALID;
ALTER TABLE t_00004 VALIDATE CONSTRAINT t_00004_amount;
ALTER TABLE t_00005 ADD CONSTRAINT t_00005_customer FOREIGN KEY (customer_id) REFERENCES t_00006 (id);
ALTER TABLE t_00007 ALTER COLUMN email SET NOT NULL;
ALTER TABLE t_00008 ALTER COLUMN note TYPE varchar(200);
CREATE TABLE new_items (id bigint PRIMARY KEY, t1_id bigint REFERENCES t_00001 (id));
CREATE INDEX new_items_t1 ON new_items (t1_id);
UPDATE t_00009 SET note = 'checked' WHERE id < 100;
INSERT INTO t_00010 (id, email, created) VALUES (999999, 'new@example.com', now());
ALTER TABLE t_00002 RENAME COLUMN note TO remark;
COMMENT ON TABLE t_00003 IS 'orders';
CREATE VIEW t_00009_emails AS SELECT id, email FROM t_00009;
ALTER TABLE t_00010 ALTER COLUMN amount SET DEFAULT 0;
DROP INDEX IF EXISTS t_00003_customer_old;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created := now(); RETURN NEW; END $$;
CREATE TRIGGER t_00009_touch BEFORE UPDATE ON t_00009 FOR EACH ROW EXECUTE FUNCTION touch();
GRANT SELECT ON t_00001 TO PUBLIC;
"""  # noqa: E501


def build_database(url: str, tables: int) -> None:
    """``tables`` tables, the first ten filled, a view and a foreign key among them."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        # In batches: one transaction holds a lock per table it creates.
        for first in range(1, tables + 1, 1000):
            last = min(first + 999, tables)
            conn.execute(
                f"DO $$ BEGIN FOR i IN {first}..{last} LOOP EXECUTE format("
                "'CREATE TABLE %I (id bigint PRIMARY KEY, customer_id bigint, email text,"
                " note text, amount numeric(10,2), created timestamptz)',"
                " 't_' || lpad(i::text, 5, '0')); END LOOP; END $$"
            )
        for i in range(1, FILLED + 1):
            conn.execute(
                f"INSERT INTO t_{i:05d} SELECT g, 1 + g % 5000, 'user' || g || '@example.com',"
                f" md5(g::text), g % 1000, now() FROM generate_series(1, {ROWS}) AS g"
            )
        conn.execute("CREATE VIEW t_00001_recent AS SELECT * FROM t_00001 WHERE id > 100")
        conn.execute(
            "ALTER TABLE t_00004 ADD CONSTRAINT t_00004_customer FOREIGN KEY (customer_id)"
            " REFERENCES t_00001 (id)"
        )
        conn.execute("ANALYZE")
        row = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind = 'r'"
        ).fetchone()
    if not row or row[0] != tables:
        raise CannotRun(f"expected {tables} tables, found {row[0] if row else 0}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the server and project folder")
    args = parser.parse_args()

    verdicts = Verdicts("bench_risk")
    python = main_python()
    work = Path(tempfile.mkdtemp(prefix="plimsoll-bench-risk-", dir="/tmp"))
    try:
        with server(args.keep) as pg:
            url = pg.fresh("risk")
            say(f"creating {args.tables} tables ({FILLED} filled with {ROWS} rows)")
            started = time.perf_counter()
            build_database(url, args.tables)
            say(f"  done in {time.perf_counter() - started:.1f} s")
            project = work / "project"
            (project / "db" / "migrations").mkdir(parents=True)
            (project / "plimsoll.toml").write_text(
                f'[db]\ndefault_environment = "bench"\n[db.environments.bench]\nurl = "{url}"\n',
                encoding="utf-8",
            )
            migration = project / "db" / "migrations" / "0001_bench.up.sql"
            migration.write_text(MIGRATION, encoding="utf-8")
            env = {"CI": "true", "NO_COLOR": "1"}
            command = [python, "-c", RUNNER, "db", "risk", str(migration), "-f", "json"]

            say("first run: calibrates the server once (cached in the project)")
            first = timed(command, cwd=project, env=env)
            report = json.loads(first.stdout)
            statements = report["migrations"][0]["statements"]
            if len(statements) != 20 or report["calibration"]["source"] != "measured":
                raise CannotRun("the first run did not assess 20 statements and calibrate")

            def cli(_n: int) -> float:
                run = timed(command, cwd=project, env=env)
                if json.loads(run.stdout)["calibration"]["source"] != "cache":
                    raise CannotRun("the calibration was not taken from the cache")
                return run.seconds

            say(f"CLI x{args.repeat}")
            cli_s = best(args.repeat, cli)

            from plimsoll.db.risk import assess

            cache = project / ".plimsoll" / "cache" / "risk-calibration.json"

            def in_process(_n: int) -> float:
                started = time.perf_counter()
                result = assess([("0001_bench", MIGRATION)], url, calibration_cache=cache)
                took = time.perf_counter() - started
                if len(result.migrations[0].statements) != 20:
                    raise CannotRun("assess() did not see 20 statements")
                return took

            say(f"assess() in process x{args.repeat} (after one warm-up)")
            in_process(0)
            inproc_s = best(args.repeat, in_process)
            start_up = best(
                args.repeat,
                lambda _n: timed([python, "-c", "import plimsoll.cli.main"], cwd=project).seconds,
            )
            levels = [s["level"] for s in statements]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\n== risk of a 20-statement migration, {args.tables} tables (best of {args.repeat})")
    print(
        table(
            ["run", "seconds"],
            [
                ["first run: CLI with calibration (once per server)", first.seconds],
                ["plimsoll db risk FILE -f json (CLI)", cli_s],
                ["  of which process start (import plimsoll.cli.main)", start_up],
                ["assess() in process", inproc_s],
            ],
        )
    )
    print(f"statement levels: {', '.join(levels)}; migration: {report['migrations'][0]['level']}")
    print()
    verdicts.target(
        f"db risk, 20 statements, {args.tables} tables, CLI",
        f"{cli_s:.3f} s",
        f"<= {TARGET_SECONDS} s",
        cli_s <= TARGET_SECONDS,
    )
    verdicts.target(
        f"assess(), 20 statements, {args.tables} tables, in process",
        f"{inproc_s:.3f} s",
        f"<= {TARGET_SECONDS} s",
        inproc_s <= TARGET_SECONDS,
    )
    verdicts.summary()


if __name__ == "__main__":
    main_guard(main)
