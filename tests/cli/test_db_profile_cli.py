"""``plimsoll db profile``, ``db baseline record|show|check`` and ``db slo`` end to end."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import tomllib
from pathlib import Path

import psycopg
import pytest
from rich.console import Console
from rich.table import Table

from plimsoll.cli.db_profile import _baselines_table, _fit, _overhead_line
from plimsoll.core.store import OperationTiming, SqliteStore
from plimsoll.db.profiling.baselines import BaselineStats
from plimsoll.db.profiling.explain import Metric
from plimsoll.db.profiling.profiler import Overhead, ProfileReport, Sampling
from plimsoll.db.profiling.stats import Summary
from tests.db.profiling.conftest import MIGRATION, ORDERS, QUERIES
from tests.support.cli import COMMAND, ENV, plimsoll
from tests.support.postgres import PgDatabase


@pytest.fixture
def project(tmp_path: Path, pg_database: PgDatabase) -> Path:
    """A project whose development database holds the orders table, one migration pending."""
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(ORDERS)
    root = tmp_path / "service"
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[db.environments.development]\nurl = "{pg_database.dsn}"\n'
        '[db.environments.down]\nurl = "postgresql://app:s3cret-pw@127.0.0.1:1/app"\n'
    )
    (root / "db" / "queries.sql").write_text(QUERIES)
    (root / "db" / "migrations" / "0001_reindex_orders.up.sql").write_text(MIGRATION)
    return root


def test_baseline_check_flags_the_query_a_migration_made_slower(project: Path) -> None:
    recorded = json.loads(plimsoll(project, "db", "baseline", "record", "-f", "json").stdout)
    assert recorded["environment"] == "development"
    assert {b["key"]: b["samples"] for b in recorded["recorded"]} == {
        "by_customer": 5,
        "big_amounts": 5,
        "by_id": 5,
    }
    assert recorded["sampling"]["actual"] == 1.0 and recorded["overhead"]["wall_ms"] > 0
    shown = json.loads(plimsoll(project, "db", "baseline", "show", "-f", "json").stdout)
    means = {b["key"]: b["mean"] for b in shown["baselines"]}
    assert means == {b["key"]: b["mean"] for b in recorded["recorded"]}
    assert all(not b["stale"] for b in shown["baselines"])

    plimsoll(project, "db", "migrate", "up")
    failed = plimsoll(project, "db", "baseline", "check", "-f", "json", check=1)
    result = json.loads(failed.stdout)
    assert result["status"] == "error" and result["regressions"] == ["by_customer"]
    verdicts = {v["key"]: v for v in result["verdicts"]}
    slower = verdicts["by_customer"]
    assert slower["status"] == "error"
    assert slower["current"] > slower["baseline"]["high"]
    assert slower["baseline"]["mean"] == means["by_customer"]
    assert slower["change"] == pytest.approx(
        (slower["current"] - means["by_customer"]) / means["by_customer"], rel=1e-2
    )
    assert slower["plan_changed"] and any("Seq Scan" in node for node in slower["plan"])
    assert [v["key"] for v in result["improvements"]] == ["big_amounts"]
    assert verdicts["big_amounts"]["status"] == "ok" and verdicts["by_id"]["status"] == "ok"

    text = plimsoll(project, "db", "baseline", "check", "--no-overhead", check=1).stdout
    assert "ERROR: by_customer: " in text and "vs baseline" in text and "95% interval" in text
    improvements = text.split("improvements:")[1]
    assert "big_amounts" in improvements and "by_customer" not in improvements

    history = json.loads(
        plimsoll(project, "db", "baseline", "show", "--query", "by_customer", "-f", "json").stdout
    )
    assert [c["status"] for c in history["checks"]] == ["error", "error"]
    objectives = json.loads(plimsoll(project, "db", "slo", "-f", "json", check=None).stdout)
    counts = {o["operation"]: o["count"] for o in objectives["objectives"]}
    assert counts["baseline_lookup"] == 6 and counts["regression_check"] == 6


def test_profile_compares_before_and_after_the_pending_migration(project: Path) -> None:
    # Five runs: "improved" needs the new time below the 95% prediction interval, which for
    # two or three samples of a loaded machine can reach down to zero (t = 12.7 and 4.3).
    done = plimsoll(project, "db", "profile", "--runs", "5", "-f", "json", check=1)
    result = json.loads(done.stdout)
    assert result["mode"] == "transaction" and result["migrations"] == ["0001_reindex_orders"]
    by_key = {c["key"]: c for c in result["comparisons"]}
    assert by_key["by_customer"]["status"] == "error"
    assert by_key["by_customer"]["after"] > by_key["by_customer"]["before"]
    assert by_key["big_amounts"]["improved"]
    before = {q["key"]: q for q in result["before"]["queries"]}
    assert by_key["by_customer"]["before"] == before["by_customer"]["median"]
    assert len(before["by_customer"]["samples"]) == 5
    # Rolled back: the migration is still pending.
    status = json.loads(plimsoll(project, "db", "migrate", "status", "-f", "json").stdout)
    assert [p["version"] for p in status["pending"]] == ["0001"]

    text = plimsoll(project, "db", "profile", "--runs", "5", check=1).stdout
    assert "0001_reindex_orders (in a rolled-back transaction)" in text
    assert "ERROR" in text and "(improved)" in text
    assert "profiler overhead" in text and "EXPLAIN ANALYZE timing overhead" in text
    sampled = json.loads(
        plimsoll(
            project,
            "db",
            "profile",
            "--sample-rate",
            "0.5",
            "--seed",
            "7",
            "-f",
            "json",
            check=None,
        ).stdout
    )
    sampling = sampled["before"]["sampling"]
    assert sampling["total"] == 3 and sampling["requested"] == 0.5
    assert sampling["profiled"] == len(sampled["before"]["queries"])
    assert sampling["actual"] == pytest.approx(sampling["profiled"] / 3, abs=1e-4)
    wrong = plimsoll(project, "db", "profile", "--migration", "9", check=2)
    assert "--migration 9: no migration has that version" in wrong.stderr


def test_slo_reports_a_breached_objective_from_the_stored_timings(project: Path) -> None:
    values = [0.010] * 95 + [0.200] * 5
    with SqliteStore(project / ".plimsoll" / "state.db") as store:
        import time

        now = time.time()
        store.timings_add([OperationTiming("hook_execution", v, now - 60) for v in values])
        store.timings_add([OperationTiming("rule_composition", 0.004, now - 60)])
    done = plimsoll(project, "db", "slo", "-f", "json", check=1)
    result = json.loads(done.stdout)
    assert not result["compliant"]
    by_op = {o["operation"]: o for o in result["objectives"]}
    hooks = by_op["hook_execution"]
    expected = statistics.quantiles(values, n=100, method="inclusive")[98]
    assert hooks["status"] == "breached" and hooks["observed_ms"] == pytest.approx(expected * 1000)
    assert hooks["count"] == 100 and hooks["within_target"] == 0.95
    assert by_op["rule_composition"]["status"] == "met"
    assert by_op["risk_assessment"]["status"] == "no_data"
    text = plimsoll(project, "db", "slo", check=1).stdout
    assert "BREACHED" in text and "no data" in text
    assert plimsoll(project, "db", "slo", "--window", "1s").returncode == 0


def test_bad_input_exits_2_and_an_unreachable_database_3(project: Path) -> None:
    missing = plimsoll(project, "db", "baseline", "check", "-q", "nope.sql", check=2)
    assert "nope.sql: cannot read the queries file" in missing.stderr
    bad = project / "bad.sql"
    bad.write_text("-- name: fine\nSELECT 1;\nUPDATE orders SET amount = 0;\n")
    refused = plimsoll(project, "db", "baseline", "record", "-q", str(bad), check=2)
    assert f"{bad}:3: only read queries can be profiled" in refused.stderr
    rate = plimsoll(project, "db", "profile", "--sample-rate", "2", check=2)
    assert "--sample-rate: must be within (0, 1]" in rate.stderr
    window = plimsoll(project, "db", "slo", "--window", "soon", check=2)
    assert "--window: invalid duration" in window.stderr
    down = plimsoll(project, "db", "baseline", "check", "--env", "down", check=3)
    assert "unreachable" in down.stderr and "s3cret-pw" not in down.stdout + down.stderr
    (project / "db" / "queries.sql").unlink()
    none = plimsoll(project, "db", "baseline", "record", check=2)
    assert "no queries to profile" in none.stderr and "pg_stat_statements" in none.stderr
    nothing = plimsoll(project, "db", "baseline", "show")
    assert "no baselines for development" in nothing.stdout
    unknown = plimsoll(project, "db", "baseline", "show", "--query", "zzz", check=2)
    assert "--query zzz: no baseline of that query in development" in unknown.stderr


BROKEN_QUERIES = (
    "-- name: note_ü\nSELECT note FROM orders WHERE id = 7;\n"
    "-- name: never\nSELECT nosuch FROM orders;\n"
)


def _server_error(project: Path, sql: str) -> str:
    url = tomllib.loads((project / "plimsoll.toml").read_text())["db"]["environments"]
    with psycopg.connect(url["development"]["url"]) as conn, pytest.raises(psycopg.Error) as e:
        conn.execute(sql)
    return str(e.value.diag.message_primary)


def test_a_migration_that_breaks_a_query_fails_profile_and_check(project: Path) -> None:
    plimsoll(project, "db", "migrate", "up")
    (project / "q.sql").write_text(BROKEN_QUERIES)
    recorded = json.loads(
        plimsoll(project, "db", "baseline", "record", "-q", "q.sql", "-f", "json", check=1).stdout
    )
    assert [b["key"] for b in recorded["recorded"]] == ["note_ü"]
    assert [f["key"] for f in recorded["failed"]] == ["never"]
    (project / "db" / "migrations" / "0002_drop_note.up.sql").write_text(
        "ALTER TABLE orders DROP COLUMN note;\n"
    )

    # db profile: note_ü ran before the migration and fails after it.
    for fail_on in ("error", "warning"):
        done = plimsoll(project, "db", "profile", "-q", "q.sql", "--fail-on", fail_on, check=1)
        assert "ERROR: note_ü: broken by the migrations: column" in done.stdout
    result = json.loads(
        plimsoll(project, "db", "profile", "-q", "q.sql", "-f", "json", check=1).stdout
    )
    assert result["status"] == "error" and result["broken"] == ["note_ü"]
    [entry] = result["comparisons"]
    assert entry["status"] == "error" and entry["after"] is None
    assert entry["broken"] == 'column "note" does not exist'
    assert [f["key"] for f in result["failed"]] == ["never"]
    assert result["after"]["sampling"]["actual"] == 1.0
    assert result["after"]["sampling"]["failed"] == 2
    text = plimsoll(project, "db", "profile", "-q", "q.sql", check=1).stdout
    assert "actual 0.00" not in text and "after: sampled 2 of 2 queries" in text
    assert "(rate asked 1, actual 1.00), 0 measured, 2 failed" in text
    assert "failed before and after the migrations (not their doing): q.sql:4:" in text
    # A query failing before and after alone: a plain failure, fatal only with --fail-on warning.
    (project / "never.sql").write_text("-- name: never\nSELECT nosuch FROM orders;\n")
    plimsoll(project, "db", "profile", "-q", "never.sql", check=0)
    plimsoll(project, "db", "profile", "-q", "never.sql", "--fail-on", "warning", check=1)

    # db baseline check after the migration is applied: an ERROR verdict, whatever --fail-on.
    plimsoll(project, "db", "migrate", "up")
    expected = _server_error(project, "SELECT note FROM orders WHERE id = 7")
    checked = plimsoll(project, "db", "baseline", "check", "-q", "q.sql", "-f", "json", check=1)
    report = json.loads(checked.stdout)
    assert report["status"] == "error" and report["regressions"] == report["broken"] == ["note_ü"]
    [verdict] = report["verdicts"]
    assert (verdict["key"], verdict["status"], verdict["current"]) == ("note_ü", "error", None)
    assert verdict["broken"] == expected and f"broken: {expected}" in verdict["message"]
    assert [f["key"] for f in report["failed"]] == ["never"]
    strict = plimsoll(
        project, "db", "baseline", "check", "-q", "q.sql", "--fail-on", "warning", check=1
    )
    assert "ERROR: note_ü: broken: " in strict.stdout
    assert "failed, with no baseline to judge it by (not a regression): q.sql:4:" in strict.stdout
    plimsoll(project, "db", "baseline", "check", "-q", "never.sql", check=0)
    plimsoll(project, "db", "baseline", "check", "-q", "never.sql", "--fail-on", "warning", check=1)

    history = plimsoll(project, "db", "baseline", "show", "--query", "note_ü", "-f", "json")
    checks = json.loads(history.stdout)["checks"]
    assert [(c["status"], c["current"]) for c in checks] == [("error", None)] * 2
    shown = plimsoll(project, "db", "baseline", "show", "--query", "note_ü").stdout
    assert "broken" in shown and "inf" not in shown


def _at_width(project: Path, width: int, *args: str, check: int = 0) -> list[str]:
    done = subprocess.run(
        [*COMMAND, *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={**ENV, "COLUMNS": str(width)},
        timeout=120,
    )
    assert done.returncode == check, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    # Tables fit the terminal; the sentences below them are one long line by design.
    assert all(len(line) <= width for line in lines if line.startswith(("┃", "│", "┏", "└")))
    return lines


INTERVAL = re.compile(r"│ \d+\.\d+\.\.\d+\.\d+ +│")


def _rows(lines: list[str], pattern: str) -> list[str]:
    rows = [line for line in lines if INTERVAL.search(line)]
    assert len(rows) == 3 and all(re.search(pattern, row) for row in rows), "\n".join(lines)
    return rows


def test_baseline_tables_keep_numbers_and_ranges_on_one_line_at_80_columns(
    project: Path,
) -> None:
    # A long name leaves the numbers too little room unless they keep theirs: at 76 columns
    # rich's own shrinking (widest column first) would cut the intervals in two.
    (project / "db" / "queries.sql").write_text(
        QUERIES.replace("by_customer", "orders_of_one_customer_by_their_id")
    )
    numbers = r"│ \d+ +│ \d+\.\d+ +│ \d+\.\d+ +│"
    _rows(_at_width(project, 80, "db", "baseline", "record"), numbers)
    for width in (80, 76):
        _rows(_at_width(project, width, "db", "baseline", "show"), numbers)
    plimsoll(project, "db", "migrate", "up")
    for width in (80, 76):
        lines = _at_width(project, width, "db", "baseline", "check", check=1)
        _rows(lines, r"│ \d+\.\d+ ms +│ \d+\.\d+ ms +│")
    # Too narrow for any of that: every column wraps, as rich would have it.
    narrow = _at_width(project, 50, "db", "baseline", "show")
    assert not any(INTERVAL.search(line) for line in narrow)


def _report(instrumentation_ms: float | None, noise: float | None, runs: int) -> ProfileReport:
    overhead = Overhead(200.0, 120.0, 60.0, instrumentation_ms, 125.9, noise)
    return ProfileReport("after", runs, [], Sampling(1.0, 3, 3, 3), overhead)


def test_the_instrumentation_overhead_is_a_number_only_beyond_the_noise() -> None:
    negative = _overhead_line(_report(-31.094, 45.2, 5))
    assert "EXPLAIN ANALYZE timing overhead within noise (±45.200 ms over 5 runs)" in negative
    assert "-31" not in negative and "%" not in negative.split("timing overhead")[1]
    assert "within noise (±" in _overhead_line(_report(12.0, 45.2, 5))
    measured = _overhead_line(_report(50.0, 4.5, 5))
    assert "timing overhead 50.000 ms ±4.500 (39.7% of the untimed execution)" in measured
    one_run = _overhead_line(_report(5.0, None, 1))
    assert "5.000 ms (4.0% of the untimed execution) (noise not measured: 1 run)" in one_run
    assert _overhead_line(_report(-5.0, None, 1)).endswith("timing overhead within noise")
    assert "timing overhead" not in _overhead_line(_report(None, None, 5))


def _baseline(name: str, low: float, high: float) -> BaselineStats:
    return BaselineStats(
        baseline_id=1,
        query_key=name,
        name=name,
        query="SELECT 1",
        metric=Metric.EXECUTION_MS,
        summary=Summary(5, (low + high) / 2, 0.002, low, high),
        created_at=1.795e9,
        updated_at=1.795e9,
        age_seconds=3600.0,
        stale=False,
    )


def _lines(table: Table, width: int) -> list[str]:
    console = Console(width=width, no_color=True)
    with console.capture() as captured:
        console.print(table)
    return captured.get().splitlines()


@pytest.mark.parametrize("width", [80, 76, 74])
def test_a_range_is_never_cut_while_the_names_have_room(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    baselines = [
        _baseline("orders_of_one_customer_by_their_id", 0.004, 0.032),
        _baseline("by_id", 10.5, 17.25),
    ]
    # Below 80 columns rich alone shrinks the widest columns first and folds the range in
    # two (at 80 the short form "low..high" just fits) ...
    raw = _lines(_baselines_table(baselines, "t"), width)
    assert any("0.004..0.032" in line for line in raw) is (width >= 80)
    # ... the numbers keep their width and the name and the date wrap instead.
    lines = _lines(_fit(_baselines_table(baselines, "t")), width)
    assert any("│ 0.004..0.032 │" in line for line in lines), "\n".join(lines)
    assert any("│ 10.5..17.2 " in line for line in lines), "\n".join(lines)
    assert max(len(line) for line in lines) <= width


@pytest.mark.parametrize("copy", [False, True])
def test_a_pending_migration_that_fails_while_profiled_fails_the_profile(
    project: Path, copy: bool
) -> None:
    plimsoll(project, "db", "migrate", "up")
    (project / "db" / "migrations" / "0002_broken.up.sql").write_text(
        "ALTER TABLE orders ADD COLUMN total numeric;\nSELECT 1 / 0;\n"
    )
    args = ["db", "profile", "-f", "json", *(["--copy"] if copy else [])]
    result = json.loads(plimsoll(project, *args, check=1).stdout)
    assert result["status"] == "error" and result["migration_failed"] is True
    assert "0002_broken" in result["problem"] and "division by zero" in result["problem"]
