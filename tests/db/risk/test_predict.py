"""Heuristic costs and bounds, and the learned model from recorded runs: pure logic."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plimsoll.core.store import MigrationRun
from plimsoll.db.risk.calibration import Calibration, CalibrationCache
from plimsoll.db.risk.config import RiskConfig, Throughput
from plimsoll.db.risk.evaluate import interval_seconds
from plimsoll.db.risk.facts import TableFacts
from plimsoll.db.risk.learned import LearnedModel, Sample, folder_profiler, samples_from_runs, t95
from plimsoll.db.risk.operations import ColumnInfo, Work, WorkKind
from plimsoll.db.risk.predict import Estimate, heuristic, seconds_text, total, work_cost

CAL = Calibration(
    rewrite_bytes_per_second=50e6,
    scan_bytes_per_second=500e6,
    index_rows_per_second_narrow=2e6,
    index_rows_per_second_wide=1e6,
    statement_seconds=0.001,
    source="measured",
    measured_at="2026-01-01T00:00:00+00:00",
    spread={"rewrite": 1.5},
)
ORDERS = TableFacts(
    name="orders",
    exists=True,
    qualified="orders",
    kind="r",
    rows=1_000_000,
    heap_bytes=100_000_000,
    total_bytes=150_000_000,
    index_bytes=50_000_000,
    indexes=2,
    columns={"id": ColumnInfo("bigint", True, True), "email": ColumnInfo("text")},
)
PARENTS = TableFacts(name="parents", exists=True, heap_bytes=50_000_000, total_bytes=60_000_000)
TABLES = {"orders": ORDERS, "parents": PARENTS}


def cost(work: Work, planner: tuple[float, float] | None = None) -> float:
    return work_cost(work, TABLES, CAL, RiskConfig(), planner).seconds


def test_each_kind_of_work_at_the_calibrated_speed() -> None:
    assert cost(Work(WorkKind.REWRITE, "orders")) == pytest.approx(3.0)  # 150 MB / 50 MB/s
    assert cost(Work(WorkKind.SCAN, "orders")) == pytest.approx(0.2)  # 100 MB / 500 MB/s
    # Both heaps, times the join factor 1.5.
    assert cost(Work(WorkKind.FOREIGN_KEY_SCAN, "orders", "parents")) == pytest.approx(0.45)
    narrow = Work(WorkKind.INDEX_BUILD, "orders", columns=("id",))
    wide = Work(WorkKind.INDEX_BUILD, "orders", columns=("email",))
    assert cost(narrow) == pytest.approx(0.5) and cost(wide) == pytest.approx(1.0)
    assert cost(Work(WorkKind.INDEX_BUILD, "orders", columns=None)) == pytest.approx(1.0)
    concurrent = Work(WorkKind.INDEX_BUILD, "orders", columns=("id",), concurrent=True)
    assert cost(concurrent) == pytest.approx(1.0)  # x2
    every = Work(WorkKind.INDEX_BUILD, "orders", every_index=True)
    assert cost(every) == pytest.approx(2.0)  # two indexes, wide
    assert cost(Work(WorkKind.CATALOG, "orders")) == 0.0


def test_rows_written_use_the_planner_or_the_statement() -> None:
    listed = work_cost(Work(WorkKind.ROWS, "orders", rows=1000), TABLES, CAL, RiskConfig())
    assert listed.bytes == pytest.approx(1000 * 100)  # the table's 100 bytes per row
    planned = work_cost(
        Work(WorkKind.ROWS, "orders", estimate=True), TABLES, CAL, RiskConfig(), (5000, 76)
    )
    assert planned.bytes == pytest.approx(5000 * 100) and "planner" in planned.basis
    unknown = work_cost(Work(WorkKind.ROWS, "orders"), TABLES, CAL, RiskConfig())
    assert unknown.seconds == 0 and "not known" in unknown.basis


def test_absent_tables_cost_nothing_and_unknown_work_is_a_rewrite() -> None:
    assert cost(Work(WorkKind.REWRITE, "new_table")) == 0.0
    worst = work_cost(Work(WorkKind.UNKNOWN, "orders"), TABLES, CAL, RiskConfig())
    assert worst.worst_case and worst.seconds == pytest.approx(3.0)


def test_heuristic_bounds_follow_uncertainty_and_spread() -> None:
    config = RiskConfig()
    costs = [work_cost(Work(WorkKind.REWRITE, "orders"), TABLES, CAL, config)]
    estimate = heuristic(costs, CAL, config)
    assert estimate.mean == pytest.approx(3.001)
    # Each part by its own speed's spread: the rewrite's 1.5, the statement overhead's 1.0.
    assert estimate.high == pytest.approx(3.0 * 3 * 1.5 + 0.001 * 3)
    assert estimate.low == pytest.approx(3.0 / 4.5 + 0.001 / 3)
    assert estimate.method == "heuristic" and "rewrite of 150.0 MB" in estimate.basis
    assert estimate.basis.endswith("bounds / and x 4.5")
    # A noisy statement timing does not widen a rewrite's bounds (the reviewer's x7.1).
    noisy = Calibration(**{**CAL.as_dict(), "spread": {"rewrite": 1.05, "statement": 2.38}})
    rewrite = heuristic(costs, noisy, config)
    assert rewrite.high / rewrite.mean == pytest.approx(3 * 1.05, rel=0.01)
    defaults = Calibration.defaults(Throughput(), "turned off")
    loose = heuristic(costs, defaults, config)
    assert loose.high / loose.mean == pytest.approx(6.0)  # doubled when not calibrated


def test_totals_and_texts() -> None:
    a = Estimate(1.0, 2.0, 4.0, "heuristic")
    b = Estimate(0.5, 1.0, 2.0, "learned", samples=3)
    both = total([a, b])
    assert (both.low, both.mean, both.high, both.method, both.samples) == (
        1.5,
        3.0,
        6.0,
        "mixed",
        3,
    )
    assert total([a, Estimate(0, None, math.inf, "unknown")]).mean is None
    assert seconds_text(0.0123) == "12 ms" and seconds_text(1.84) == "1.8 s"
    assert seconds_text(300) == "5.0 min" and seconds_text(0.0001) == "<1 ms"
    assert a.text() == "2.0 s (1.0 s-4.0 s)"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("1min", 60.0), ("500ms", 0.5), ("250", 0.25), ("0", None), ("", None),
     ("2h", 7200.0), ("soon", None)],
)  # fmt: skip
def test_postgresql_time_settings(text: str, seconds: float | None) -> None:
    assert interval_seconds(text) == seconds


def test_student_t_quantiles() -> None:
    assert t95(1) == pytest.approx(12.706)
    assert t95(4) == pytest.approx(2.776)
    assert t95(200) == 1.96
    assert t95(0) == math.inf


def test_learned_mean_and_95_percent_interval() -> None:
    # Three rewrites at 20, 25 and 30 ns per byte on tables near 100 MB.
    samples = [
        Sample(WorkKind.REWRITE, "a", 100_000_000, 2.0, 15, "1_a"),
        Sample(WorkKind.REWRITE, "b", 80_000_000, 2.0, 15, "2_b"),
        Sample(WorkKind.REWRITE, "c", 50_000_000, 1.5, 15, "3_c"),
        Sample(WorkKind.SCAN, "d", 100_000_000, 0.1, 15, "4_d"),
        Sample(WorkKind.REWRITE, "e", 5_000_000_000, 60.0, 15, "5_e"),  # not a similar size
    ]
    model = LearnedModel(samples, min_samples=3, size_ratio=10)
    estimate = model.predict(WorkKind.REWRITE, 200_000_000, 15)
    assert estimate is not None and estimate.method == "learned" and estimate.samples == 3
    predictions = [2.0 / 1e8 * 2e8, 2.0 / 8e7 * 2e8, 1.5 / 5e7 * 2e8]
    mean = statistics.fmean(predictions)
    # The interval is taken on the logarithms: durations are positive, their spread relative.
    logs = [math.log(p) for p in predictions]
    half = 4.303 * statistics.stdev(logs) * math.sqrt(1 + 1 / 3)
    assert estimate.mean == pytest.approx(mean)
    assert estimate.high == pytest.approx(math.exp(statistics.fmean(logs) + half))
    assert estimate.low == pytest.approx(math.exp(statistics.fmean(logs) - half))
    assert 0 < estimate.low < mean < estimate.high
    assert model.predict(WorkKind.SCAN, 200_000_000, 15) is None  # one sample only
    assert model.predict(WorkKind.REWRITE, 200_000_000, 16) is None  # another major version


def _run(version: str, name: str, table: str, size: int, ms: int, **kw: object) -> MigrationRun:
    values: dict[str, object] = {
        "database": "db",
        "version": version,
        "name": name,
        "direction": "up",
        "started_at": 0.0,
        "finished_at": 1.0,
        "duration_ms": ms,
        "outcome": "applied",
        "server_version": 150005,
        "tables": ((table, size),),
    }
    values.update(kw)
    return MigrationRun(**values)  # type: ignore[arg-type]


def test_samples_come_from_runs_that_did_one_kind_of_work(tmp_path: Path) -> None:
    (tmp_path / "0001_token.up.sql").write_text(
        "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
    )
    (tmp_path / "0002_two.up.sql").write_text(
        "ALTER TABLE orders ADD CONSTRAINT c CHECK (id > 0);\nCREATE INDEX ON orders (id);\n"
    )
    (tmp_path / "0003_label.up.sql").write_text("COMMENT ON TABLE orders IS 'x';\n")
    runs = [
        _run("0001", "token", "orders", 100_000_000, 2000),
        _run("0002", "two", "orders", 100_000_000, 900),
        _run("0003", "label", "orders", 100_000_000, 3),
        _run("0001", "token", "orders", 100_000_000, 2000, direction="down"),
        _run("0001", "token", "orders", 100_000_000, 2000, outcome="failed"),
        _run("0004", "gone", "orders", 100_000_000, 2000),
    ]
    samples = samples_from_runs(runs, folder_profiler(tmp_path))
    assert samples == [Sample(WorkKind.REWRITE, "orders", 100_000_000, 2.0, 15, "0001_token")]
    assert samples[0].rate == pytest.approx(2e-8)


def test_calibration_cache_round_trip_age_and_damage(tmp_path: Path) -> None:
    path = tmp_path / ".plimsoll" / "cache" / "risk-calibration.json"
    cache = CalibrationCache(path)
    now = datetime.now(UTC)
    fresh = Calibration(**{**CAL.as_dict(), "measured_at": now.isoformat()})
    cache.put("42/150005", fresh)
    assert (tmp_path / ".plimsoll" / ".gitignore").read_text().endswith("*\n")
    got = cache.get("42/150005", max_age_days=30)
    assert got is not None and got.source == "cache"
    assert got.rewrite_bytes_per_second == CAL.rewrite_bytes_per_second
    assert cache.get("42/160000", max_age_days=30) is None  # another version
    assert cache.get("42/150005", max_age_days=30, now=now + timedelta(days=31)) is None
    cache.put("7/150005", fresh)
    assert cache.get("42/150005", max_age_days=30) is not None  # kept beside the other
    path.write_text("{not json")
    assert cache.get("42/150005", max_age_days=30) is None
