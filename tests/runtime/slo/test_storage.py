"""SLO events in the store, counts from sampled counters and histograms, and status scenarios."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from plimsoll.core.errors import ConfigError
from plimsoll.core.store import Store
from plimsoll.core.store.parts import part_sql
from plimsoll.runtime import storage as runtime_storage
from plimsoll.runtime.monitor import registry_samples
from plimsoll.runtime.slo import storage
from plimsoll.runtime.slo.budget import Counts
from plimsoll.runtime.slo.model import Objective
from plimsoll.runtime.slo.report import compliance, status

# A minute boundary, so buckets fall exactly on window edges.
NOW = 1_700_006_400.0
MINUTE = 60.0


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here on both backends: a SQLite file, then a fresh PostgreSQL database."""
    return any_store


def fast_burn_events(store: Store, slo: str = "api") -> None:
    """Three days of 1,000 events a minute; 2% of them bad during the last hour only."""
    rows = []
    for k in range(1, 3 * 24 * 60 + 1):
        bad = 20 if k <= 60 else 0
        rows.append((slo, 1000.0 - bad, 1000.0, NOW - k * MINUTE))
    assert storage.record_many(store, rows) == 4320


def test_record_adds_into_minute_buckets(store: Store) -> None:
    storage.record(store, "api", 9, 10, NOW + 1)
    storage.record(store, "api", 5, 5, NOW + 59.9)
    storage.record(store, "api", 1, 2, NOW + 60)
    storage.record(store, "other", 0, 100, NOW)
    assert storage.event_counts(store, "api", NOW, NOW + 60) == Counts(14, 15)
    assert storage.event_counts(store, "api", NOW, NOW + 120) == Counts(15, 17)
    assert storage.event_counts(store, "api", NOW + 120, NOW + 180) == Counts(0, 0)
    rows = part_sql(store, "SLO").connection.query(
        "SELECT COUNT(*) AS n FROM slo_events WHERE slo = 'api'"
    )
    assert rows[0]["n"] == 2
    assert storage.purge(store, NOW + 60) == 2
    assert storage.event_counts(store, "api", 0, NOW + 600) == Counts(1, 2)


def test_record_rejects_bad_counts(store: Store) -> None:
    with pytest.raises(ValueError, match="exceed"):
        storage.record(store, "api", 11, 10, NOW)
    with pytest.raises(ValueError, match="negative"):
        storage.record(store, "api", -1, 10, NOW)
    with pytest.raises(ValueError, match="finite"):
        storage.record(store, "api", float("nan"), 10, NOW)
    # Nothing half-written by the rejected batch.
    with pytest.raises(ValueError):
        storage.record_many(store, [("api", 1, 1, NOW), ("api", 2, 1, NOW)])
    assert storage.event_counts(store, "api", 0, NOW * 2) == Counts(0, 0)


def test_only_the_fast_burn_page_fires(store: Store) -> None:
    fast_burn_events(store)
    result = status(store, Objective(name="api", target=0.999), NOW)
    # By hand: the last hour holds 60,000 events, 1,200 bad: 0.02 / 0.001 = a burn rate of 20.
    assert result.burn_rates["5m"] == pytest.approx(20.0)  # 100 bad of 5,000
    assert result.burn_rates["30m"] == pytest.approx(20.0)  # 600 of 30,000
    assert result.burn_rates["1h"] == pytest.approx(20.0)
    assert result.burn_rates["6h"] == pytest.approx(1200 / 360_000 / 0.001)  # 3.33
    assert result.burn_rates["3d"] == pytest.approx(1200 / 4_320_000 / 0.001)  # 0.28
    assert [a.alert.name for a in result.firing] == ["fast-burn"]
    assert result.paging and result.failing
    # The period: 4,320,000 events allow 4,320 bad; 1,200 spent leaves 3,120 (72.2%).
    assert result.budget.allowed == pytest.approx(4320.0)
    assert result.budget.consumed == 1200
    assert result.budget.remaining == pytest.approx(3120.0)
    assert result.budget.remaining_fraction == pytest.approx(1 - 1200 / 4320)
    assert not result.budget.exhausted
    document = result.to_dict()
    assert document["firing"] == ["fast-burn"] and document["failing"] is True


def test_an_hour_later_nothing_fires(store: Store) -> None:
    fast_burn_events(store)
    # Keep traffic flowing, all good, for another hour: the short windows recover first.
    storage.record_many(store, [("api", 1000, 1000, NOW + k * MINUTE) for k in range(60)])
    later = status(store, Objective(name="api", target=0.999), NOW + 3600)
    assert later.burn_rates["5m"] == 0.0
    assert later.firing == [] and not later.failing


def test_exhausted_budget_fails_without_alerts(store: Store) -> None:
    # A bad day long ago spent the whole budget; nothing burns now.
    storage.record(store, "api", 900, 1000, NOW - 10 * 86400)
    storage.record(store, "api", 100_000, 100_000, NOW - 3 * 86400 - 600)
    result = status(store, Objective.model_validate({"name": "api", "target": "99.9%"}), NOW)
    assert result.firing == []
    # 101,000 events allow 101 bad; 100 were: not yet exhausted.
    assert result.budget.remaining == pytest.approx(1.0)
    storage.record(store, "api", 990, 1000, NOW - 5 * 86400)
    result = status(store, Objective.model_validate({"name": "api", "target": "99.9%"}), NOW)
    assert result.budget.exhausted and result.failing and not result.paging


def test_compliance_per_period(store: Store) -> None:
    day = 86400.0
    objective = Objective(name="api", target=0.99, period="1d")
    storage.record(store, "api", 980, 1000, NOW - 2.5 * day)  # 98%: missed
    storage.record(store, "api", 995, 1000, NOW - 1.5 * day)  # 99.5%: met
    report = compliance(store, objective, NOW, periods=3)
    assert [(p.start, p.end) for p in report] == [
        (NOW - 3 * day, NOW - 2 * day),
        (NOW - 2 * day, NOW - day),
        (NOW - day, NOW),
    ]
    assert [p.budget.met for p in report] == [False, True, None]
    assert report[0].budget.compliance == pytest.approx(0.98)
    assert report[1].budget.remaining_fraction == pytest.approx(0.5)


def test_increase_handles_resets() -> None:
    assert storage.increase([(0, 5), (1, 8), (2, 2), (3, 6)]) == pytest.approx(3 + 2 + 4)
    assert storage.increase([]) == 0.0


def _sample(store: Store, registry: CollectorRegistry, at: float) -> None:
    runtime_storage.add_samples(store, registry_samples(registry, at))


def test_counts_from_a_sampled_counter_pair(store: Store) -> None:
    registry = CollectorRegistry()
    total = Counter("app_requests", "requests", ["route"], registry=registry)
    good = Counter("app_requests_good", "good requests", ["route"], registry=registry)
    total.labels("/pay").inc(0)
    good.labels("/pay").inc(0)
    total.labels("/home").inc(1000)  # another route: not selected
    _sample(store, registry, NOW - 600)
    total.labels("/pay").inc(100)
    good.labels("/pay").inc(90)
    _sample(store, registry, NOW - 300)
    total.labels("/pay").inc(50)
    good.labels("/pay").inc(50)
    _sample(store, registry, NOW - 60)
    objective = Objective.model_validate(
        {"name": "pay", "target": 0.99,
         "ratio": {"good": "app_requests_good_total", "total": "app_requests_total",
                   "labels": {"route": "/pay"}}}
    )  # fmt: skip
    assert storage.counts(store, objective, NOW - 3600, NOW) == Counts(140, 150)
    # The last five minutes: only the second increase.
    assert storage.counts(store, objective, NOW - 301, NOW) == Counts(50, 50)


def test_counts_from_a_sampled_histogram(store: Store) -> None:
    registry = CollectorRegistry()
    latency = Histogram(
        "app_latency_seconds", "latency", buckets=(0.1, 0.3, 1.0), registry=registry
    )
    _sample(store, registry, NOW - 120)
    for value in (0.05, 0.05, 0.05, 0.2, 0.2, 0.2, 0.2, 0.5, 0.5, 2.0):
        latency.observe(value)
    _sample(store, registry, NOW - 60)
    objective = Objective.model_validate(
        {"name": "fast", "target": 0.9,
         "latency": {"metric": "app_latency_seconds", "threshold": 0.3}}
    )  # fmt: skip
    # 7 of the 10 observations took at most 0.3 s.
    assert storage.counts(store, objective, NOW - 3600, NOW) == Counts(7, 10)
    off_bucket = objective.model_copy(
        update={"latency": objective.latency.model_copy(update={"threshold": 0.25})}  # type: ignore[union-attr]
    )
    with pytest.raises(ConfigError, match=r"0.25 is not a bucket bound .*0.1, 0.3, 1.0, \+Inf"):
        storage.counts(store, off_bucket, NOW - 3600, NOW)
