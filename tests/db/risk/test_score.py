"""The published score: curves, weights, worst cases and load, and the configuration."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from plimsoll.db.risk.config import Curve, RiskConfig, Weights
from plimsoll.db.risk.levels import Level
from plimsoll.db.risk.score import FACTORS, Inputs, score


def test_linear_curve_interpolates_and_clamps() -> None:
    curve = Curve(points=((0, 0.0), (10, 1.0)))
    assert curve(-5) == 0.0
    assert curve(0) == 0.0
    assert curve(2.5) == pytest.approx(0.25)
    assert curve(10) == 1.0
    assert curve(1e9) == 1.0


def test_log_curve_interpolates_on_a_log_axis() -> None:
    curve = Curve(scale="log", points=((1, 0.0), (100, 1.0)))
    assert curve(10) == pytest.approx(0.5)
    assert curve(0) == 0.0  # at or below zero: the first point
    assert curve(1000) == 1.0
    three = Curve(scale="log", points=((0.1, 0.0), (1, 0.5), (10, 0.9)))
    assert three(math.sqrt(10)) == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ((), "at least one point"),
        (((1, 0.0), (1, 1.0)), "must increase"),
        (((0, 0.0), (1, 1.5)), "between 0 and 1"),
    ],
)
def test_bad_curves_are_refused(points: tuple[tuple[float, float], ...], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Curve(points=points)
    with pytest.raises(ValidationError, match="above 0"):
        Curve(scale="log", points=((0, 0.0), (1, 1.0)))


def test_weights_are_the_published_ones_and_must_add_up_to_one() -> None:
    assert Weights().as_dict() == {
        "data_volume": 0.25,
        "lock_time": 0.35,
        "dependencies": 0.15,
        "anomalies": 0.15,
        "concurrent_load": 0.10,
    }
    with pytest.raises(ValidationError, match="add up to 1 \\(they add up to 1.1\\)"):
        Weights(lock_time=0.45)
    assert Weights(lock_time=0.45, data_volume=0.15).lock_time == 0.45


def test_config_parses_levels_in_any_case_and_refuses_unknown_keys() -> None:
    assert RiskConfig.model_validate({"fail_level": "high"}).fail_level is Level.HIGH
    assert RiskConfig().fail_level is Level.CRITICAL
    with pytest.raises(ValidationError, match="expected one of LOW"):
        RiskConfig.model_validate({"fail_level": "severe"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        RiskConfig.model_validate({"weight": {}})
    custom = RiskConfig.model_validate(
        {"curves": {"lock_time": {"scale": "linear", "points": [[0, 0], [1, 1]]}}}
    )
    assert custom.curves.lock_time(0.5) == pytest.approx(0.5)


def quiet(**changes: object) -> Inputs:
    values: dict[str, object] = {
        "data_bytes": 0.0,
        "lock_seconds": 0.0,
        "dependents": 0,
        "anomaly_points": 0.0,
        "load_ratio": 0.0,
    }
    values.update(changes)
    return Inputs(**values)  # type: ignore[arg-type]


def test_score_is_the_weighted_sum_of_the_curves() -> None:
    config = RiskConfig()
    inputs = quiet(data_bytes=1e8, lock_seconds=2.0, dependents=3, anomaly_points=1.0,
                   load_ratio=0.5)  # fmt: skip
    result = score(inputs, config)
    assert [f.name for f in result.factors] == list(FACTORS)
    curves = config.curves
    expected = {
        "data_volume": 0.25 * curves.data_volume(1e8),
        "lock_time": 0.35 * curves.lock_time(2.0),
        "dependencies": 0.15 * curves.dependencies(3),
        "anomalies": 0.15 * curves.anomalies(1.0),
        "concurrent_load": 0.10 * curves.concurrent_load(0.5),
    }
    for factor in result.factors:
        assert factor.contribution == pytest.approx(expected[factor.name])
    assert result.weighted == pytest.approx(sum(expected.values()))
    assert result.value == pytest.approx(sum(expected.values())) and not result.floored
    # The documented anchor points of the default curves.
    assert curves.data_volume(1e8) == pytest.approx(0.75)
    assert curves.dependencies(3) == pytest.approx(0.6)
    assert curves.anomalies(1) == pytest.approx(0.6)
    assert result.level is Level.HIGH


@pytest.mark.parametrize(
    ("seconds", "level"),
    [(0.05, Level.LOW), (0.1, Level.MEDIUM), (0.3, Level.MEDIUM), (0.5, Level.HIGH),
     (5.0, Level.HIGH), (10.0, Level.CRITICAL), (228.0, Level.CRITICAL)],
)  # fmt: skip
def test_the_lock_time_alone_sets_the_least_level(seconds: float, level: Level) -> None:
    # The lock-time curve's knots sit on the levels' cut points: 0.1 s MEDIUM, 0.5 s HIGH,
    # 10 s CRITICAL, whatever the other factors say (the reviewer's 3.8 min outage was HIGH).
    config = RiskConfig()
    assert config.curves.lock_time(0.1) == pytest.approx(0.25)
    assert config.curves.lock_time(0.5) == pytest.approx(0.5)
    assert config.curves.lock_time(10.0) == pytest.approx(0.75)
    result = score(quiet(lock_seconds=seconds), config)
    assert result.level is level
    assert result.value == pytest.approx(
        max(result.weighted or 0.0, config.curves.lock_time(seconds))
    )
    # Calm factors no longer average a predicted outage away...
    outage = score(quiet(data_bytes=1.4e8, lock_seconds=228.0, dependents=2, anomaly_points=1.0),
                   config)  # fmt: skip
    assert outage.weighted is not None and outage.weighted < 0.75
    assert outage.level is Level.CRITICAL and outage.floored
    # ...unless the floor is turned off.
    off = RiskConfig(lock_time_floor=False)
    unfloored = score(quiet(lock_seconds=228.0), off)
    assert unfloored.value == unfloored.weighted and unfloored.level is Level.MEDIUM


def test_an_unknown_lock_time_is_not_floored_and_an_unbounded_wait_is() -> None:
    config = RiskConfig()
    unknown = score(quiet(lock_seconds=None, data_bytes=None), config)
    assert unknown.level is Level.HIGH and not unknown.floored
    unbounded = score(quiet(lock_seconds=math.inf), config)
    assert unbounded.level is Level.CRITICAL and unbounded.factor("lock_time").value == 1.0
    assert unbounded.as_dict()["factors"][1]["raw"] is None  # JSON has no infinity


def test_nothing_measured_is_low_and_unknowns_are_the_worst_case() -> None:
    config = RiskConfig()
    calm = score(quiet(), config)
    assert calm.value == 0.0 and calm.level is Level.LOW
    blind = score(quiet(data_bytes=None, lock_seconds=None), config)
    assert blind.factor("data_volume").value == 1.0
    assert blind.factor("lock_time").value == 1.0
    assert "worst case" in blind.factor("lock_time").detail
    assert blind.value == pytest.approx(0.6) and blind.level is Level.HIGH


def test_load_blockers_and_long_transactions() -> None:
    config = RiskConfig()
    assert score(quiet(load_ratio=0.1), config).factor("concurrent_load").value < 0.2
    assert score(quiet(long_transactions=2), config).factor("concurrent_load").value == 0.5
    blocked = score(quiet(blockers=1), config)
    assert blocked.factor("concurrent_load").value == 1.0
    assert blocked.factor("concurrent_load").contribution == pytest.approx(0.10)


def test_as_dict_shows_each_factor() -> None:
    data = score(quiet(lock_seconds=0.5), RiskConfig()).as_dict()
    lock = next(f for f in data["factors"] if f["name"] == "lock_time")
    assert lock == {
        "name": "lock_time",
        "raw": 0.5,
        "value": 0.5,
        "weight": 0.35,
        "contribution": 0.175,
        "detail": "",
    }
    assert data["weighted_sum"] == 0.175 and data["lock_time_floor"] is True
    assert data["value"] == 0.5 and data["level"] == "HIGH"
