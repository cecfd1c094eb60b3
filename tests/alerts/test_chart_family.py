"""A family of overlapping charts is calibrated together: its false alarms spend the budget."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alerts.chart_family import (
    CalibrationCache,
    FamilyChart,
    FamilyStream,
    calibrate_family,
    chart_weight,
    cusum_limit,
)
from metrics.sequential import bernoulli_cusum_arl, bernoulli_cusum_limit

P0, P1 = 0.10, 0.20


def _stream(observations: int, slices: int, rng: np.random.Generator) -> FamilyStream:
    """A whole-device chart and ``slices`` charts of one dimension splitting it."""
    value = rng.integers(0, slices, observations)
    charts = [FamilyChart("whole", 1.0, float(observations), np.arange(observations))]
    charts += [
        FamilyChart(
            f"value={v}",
            chart_weight(None, ("dim", str(v)), 1, {"dim": slices}),
            float(np.count_nonzero(value == v)),
            np.flatnonzero(value == v),
        )
        for v in range(slices)
    ]
    return FamilyStream("sensitivity", P0, P1, observations, tuple(charts))


def _family_alarm_share(stream: FamilyStream, theta: float, years: int, seed: int) -> float:
    """Share of independently simulated in-control years with at least one alarm."""
    rng = np.random.default_rng(seed)
    up, down = math.log(P1 / P0), math.log((1 - P1) / (1 - P0))
    limits = [cusum_limit(P0, P1, c.per_year / (theta * c.weight)) for c in stream.charts]
    alarmed = 0
    for _ in range(years):
        w = np.where(rng.random(stream.observations) < P0, up, down)
        for chart, limit in zip(stream.charts, limits, strict=True):
            c = np.cumsum(w[chart.positions])
            if (c - np.minimum(np.minimum.accumulate(c), 0.0)).max() >= limit:
                alarmed += 1
                break
    return alarmed / years


def test_the_calibrated_family_spends_its_budget_on_fresh_simulations() -> None:
    stream = _stream(6_000, 5, np.random.default_rng(1))
    family = calibrate_family([stream], budget=0.5, seed=2)
    # 1 - exp(-0.5) = 0.39 of the years have an alarm; checked on years never used.
    share = _family_alarm_share(stream, family.theta, 600, seed=3)
    assert share == pytest.approx(1 - math.exp(-0.5), abs=0.06)
    assert family.realised == pytest.approx(0.5, rel=0.2)
    low, high = family.realised_interval
    assert low < 0.5 < high


def test_identical_charts_share_one_budget_instead_of_splitting_it() -> None:
    n = 5_000
    one = FamilyStream("sensitivity", P0, P1, n, (FamilyChart("a", 1.0, n, np.arange(n)),))
    twins = FamilyStream(
        "sensitivity",
        P0,
        P1,
        n,
        (FamilyChart("a", 1.0, n, np.arange(n)), FamilyChart("b", 1.0, n, np.arange(n))),
    )
    alone = calibrate_family([one], budget=0.3, seed=5)
    together = calibrate_family([twins], budget=0.3, seed=5)
    # Bonferroni would halve each twin's share; the joint calibration sees they are one.
    assert together.arl0(n, 1.0) == pytest.approx(alone.arl0(n, 1.0), rel=0.05)
    assert together.bonferroni == pytest.approx(2 * together.realised, rel=0.2)


def test_the_interpolated_limit_matches_the_exact_chain() -> None:
    for arl0 in (500.0, 20_000.0, 1e6):
        exact = bernoulli_cusum_limit(P0, P1, arl0)
        assert cusum_limit(P0, P1, arl0) == pytest.approx(exact, abs=0.05)
        assert bernoulli_cusum_arl(P0, P1, cusum_limit(P0, P1, arl0)) == pytest.approx(
            arl0, rel=0.1
        )


def test_weights_share_a_dimension_among_its_values_and_versions() -> None:
    assert chart_weight(None, None, 2, {}) == 1.0
    assert chart_weight("2.0", None, 2, {}) == 0.5
    assert chart_weight("2.0", ("site", "A"), 2, {"site": 4}) == 0.125


def test_a_calibration_is_reused_until_the_family_changes() -> None:
    cache = CalibrationCache()
    rng = np.random.default_rng(7)
    first = cache.get([_stream(3_000, 3, rng)], 0.1)
    # Same charts, similar volume: the same calibration (and the same seed: replayable).
    assert cache.get([_stream(3_100, 3, rng)], 0.1) is first
    assert cache.get([_stream(3_000, 4, rng)], 0.1) is not first


def test_a_budget_of_zero_or_a_family_without_observations_is_refused() -> None:
    stream = _stream(100, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="budget"):
        calibrate_family([stream], budget=0.0)
    empty = FamilyStream("sensitivity", P0, P1, 0, ())
    with pytest.raises(ValueError, match="at least one chart"):
        calibrate_family([empty], budget=0.1)
