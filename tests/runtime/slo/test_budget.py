"""Error budget and burn-rate arithmetic, checked against hand computations."""

from __future__ import annotations

import pytest

from plimsoll.runtime.slo.budget import Counts, budget, burn_rate
from plimsoll.runtime.slo.burn import evaluate, windows
from plimsoll.runtime.slo.model import DEFAULT_BURN_ALERTS, Objective, SloConfig, parse_target


def test_burn_rate_by_hand() -> None:
    # 99.9%: budget 0.001. 30 bad of 1000 is an error ratio of 0.03: a burn rate of 30.
    assert burn_rate(Counts(970, 1000), 0.999) == pytest.approx(30.0)
    # 99%: 5 bad of 1000 is 0.005 over a budget of 0.01: half the sustainable rate.
    assert burn_rate(Counts(995, 1000), 0.99) == pytest.approx(0.5)
    assert burn_rate(Counts(0, 0), 0.999) == 0.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        burn_rate(Counts(1, 1), 1.0)


def test_budget_by_hand() -> None:
    # 1,000,000 events at 99.9%: 1,000 may fail; 250 did: 750 left, 75% of the budget.
    b = budget(Counts(999_750, 1_000_000), 0.999)
    assert b.allowed == pytest.approx(1000.0)
    assert b.consumed == 250
    assert b.remaining == pytest.approx(750.0)
    assert b.remaining_fraction == pytest.approx(0.75)
    assert b.compliance == pytest.approx(0.99975)
    assert b.met is True and b.exhausted is False
    # 1,500 failed: overspent by half; the objective is missed.
    over = budget(Counts(998_500, 1_000_000), 0.999)
    assert over.remaining == pytest.approx(-500.0)
    assert over.remaining_fraction == pytest.approx(-0.5)
    assert over.exhausted is True and over.met is False
    # Exactly the allowance: exhausted, yet the objective is still (just) met.
    edge = budget(Counts(999_000, 1_000_000), 0.999)
    assert edge.exhausted is True and edge.met is True
    empty = budget(Counts(0, 0), 0.999)
    assert empty.exhausted is False and empty.met is None and empty.remaining_fraction == 1.0


def test_counts_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="exceed"):
        Counts(11, 10)
    with pytest.raises(ValueError, match="negative"):
        Counts(-1, 10)
    assert (Counts(1, 2) + Counts(3, 4)) == Counts(4, 6)


def test_targets() -> None:
    assert parse_target("99.9%") == pytest.approx(0.999)
    assert parse_target(0.95) == 0.95
    for bad in (1, 0, "100%", "abc", True, 99.9):
        with pytest.raises(ValueError):
            parse_target(bad)


def test_default_alerts_are_the_workbook_ones() -> None:
    assert [(a.name, a.severity, a.factor, a.long, a.short) for a in DEFAULT_BURN_ALERTS] == [
        ("fast-burn", "page", 14.4, "1h", "5m"),
        ("medium-burn", "page", 6.0, "6h", "30m"),
        ("slow-burn", "ticket", 1.0, "3d", "6h"),
    ]
    assert windows(DEFAULT_BURN_ALERTS) == ["5m", "30m", "1h", "6h", "3d"]
    # 14.4x over an hour spends 2% of a 30-day budget: 14.4 * 1h / 720h.
    assert 14.4 * 1 / (30 * 24) == pytest.approx(0.02)


def test_evaluate_needs_both_windows() -> None:
    rates = {300.0: 20.0, 3600.0: 20.0, 1800.0: 20.0, 21600.0: 3.0, 259200.0: 0.5}

    def counts_for(seconds: float) -> Counts:
        # An error ratio of rate * 0.001 over 100,000 events.
        bad = rates[seconds] * 0.001 * 100_000
        return Counts(100_000 - bad, 100_000)

    results = {r.alert.name: r for r in evaluate(counts_for, 0.999)}
    assert results["fast-burn"].firing and results["fast-burn"].pages
    assert results["fast-burn"].long_rate == pytest.approx(20.0)
    # 30m burns at 20 but 6h only at 3: the medium alert needs both over 6.
    assert not results["medium-burn"].firing
    assert results["medium-burn"].short_rate == pytest.approx(20.0)
    assert not results["slow-burn"].firing
    # Exactly at the factor does not fire (">" as in the exported rules).
    rates.update({300.0: 14.4, 3600.0: 14.4})
    assert not evaluate(counts_for, 0.999)[0].firing


def test_objective_validation() -> None:
    o = Objective.model_validate({"name": "api", "target": "99.9%"})
    assert o.period_seconds == 30 * 86400 and o.kind == "events"
    assert o.error_budget == pytest.approx(0.001)
    with pytest.raises(ValueError, match="not both"):
        Objective.model_validate(
            {"name": "x", "target": 0.9, "ratio": {"good": "a", "total": "b"},
             "latency": {"metric": "h", "threshold": 0.1}}
        )  # fmt: skip
    with pytest.raises(ValueError, match="base name"):
        Objective.model_validate(
            {"name": "x", "target": 0.9, "latency": {"metric": "h_bucket", "threshold": 0.1}}
        )
    with pytest.raises(ValueError, match="defined twice"):
        SloConfig.model_validate(
            {"objectives": [{"name": "a", "target": 0.9}, {"name": "a", "target": 0.9}]}
        )
    with pytest.raises(ValueError, match="shorter"):
        SloConfig.model_validate(
            {"burn_alerts": [{"name": "x", "severity": "page", "factor": 2,
                              "long": "5m", "short": "1h"}]}
        )  # fmt: skip
