"""``plimsoll db profile``, ``db baseline record|show|check`` and ``db slo`` end to end."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from plimsoll.core.store import OperationTiming, SqliteStore
from tests.db.profiling.conftest import MIGRATION, ORDERS, QUERIES
from tests.support.cli import plimsoll
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
