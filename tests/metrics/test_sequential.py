"""Bernoulli CUSUM and EWMA charts: paths against the recursion, run lengths against
seeded Monte Carlo simulation, limits against their definition."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest

from metrics.sequential import (
    CusumSignal,
    arl0_for_budget,
    bernoulli_cusum_arl,
    bernoulli_cusum_limit,
    bernoulli_cusum_path,
    bernoulli_cusum_signal,
    bernoulli_ewma_arl,
    bernoulli_ewma_limit,
    bernoulli_ewma_path,
    bernoulli_ewma_signal,
)

RUNS = 12_000  # simulated run lengths per case (standard error about 1% of the ARL)
TOLERANCE_SE = 4.0  # chain ARL within 4 standard errors of the simulated mean


def _weights(p0: float, p1: float) -> tuple[float, float]:
    return math.log(p1 / p0), math.log((1.0 - p1) / (1.0 - p0))


def _cusum_loop(x: list[int], p0: float, p1: float) -> list[float]:
    up, down = _weights(p0, p1)
    s, out = 0.0, []
    for value in x:
        s = max(0.0, s + (up if value == 1 else down))
        out.append(s)
    return out


def _ewma_loop(x: list[int], p0: float, lam: float) -> list[float]:
    z, out = p0, []
    for value in x:
        z = lam * value + (1.0 - lam) * z
        out.append(z)
    return out


def _simulate(
    step: npt.NDArray[np.float64],
    start: float,
    limit: float,
    p: float,
    lam: float | None,
    seed: int,
) -> npt.NDArray[np.int64]:
    """Run lengths of RUNS charts: CUSUM when lam is None (step = (event, non-event)
    weights), otherwise EWMA with weight lam. Vectorised over the runs still alive."""
    rng = np.random.default_rng(seed)
    state = np.full(RUNS, start)
    lengths = np.zeros(RUNS, dtype=np.int64)
    alive = np.arange(RUNS)
    t = 0
    while alive.size:
        t += 1
        event = rng.random(alive.size) < p
        if lam is None:
            state[alive] = np.maximum(0.0, state[alive] + np.where(event, step[0], step[1]))
        else:
            state[alive] = lam * event + (1.0 - lam) * state[alive]
        done = state[alive] >= limit
        lengths[alive[done]] = t
        alive = alive[~done]
    return lengths


def _assert_close_to_simulation(arl: float, lengths: npt.NDArray[np.int64]) -> None:
    mean = float(lengths.mean())
    se = float(lengths.std(ddof=1)) / math.sqrt(lengths.size)
    assert abs(arl - mean) <= TOLERANCE_SE * se, (arl, mean, se)


# ----------------------------------------------------------------------- CUSUM path


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("p0", "p1", "rate"), [(0.1, 0.2, 0.12), (0.01, 0.03, 0.02)])
def test_cusum_path_follows_the_recursion(seed: int, p0: float, p1: float, rate: float) -> None:
    x = (np.random.default_rng(seed).random(3000) < rate).astype(int).tolist()
    path = bernoulli_cusum_path(x, p0, p1)
    assert path.dtype == np.float64 and path.shape == (3000,)
    np.testing.assert_allclose(path, _cusum_loop(x, p0, p1), rtol=1e-9, atol=1e-9)
    # Resets are exact zeros, as in the recursion.
    assert np.array_equal(path == 0.0, np.asarray(_cusum_loop(x, p0, p1)) == 0.0)


def test_cusum_path_edge_cases() -> None:
    up, _ = _weights(0.1, 0.2)
    assert bernoulli_cusum_path([], 0.1, 0.2).shape == (0,)
    assert np.array_equal(bernoulli_cusum_path([0] * 50, 0.1, 0.2), np.zeros(50))
    np.testing.assert_allclose(bernoulli_cusum_path([1] * 5, 0.1, 0.2), up * np.arange(1, 6))


@pytest.mark.parametrize(
    ("x", "p0", "p1", "message"),
    [
        ([0, 1], 0.2, 0.1, "must exceed p0"),
        ([0, 1], 0.1, 0.1, "must exceed p0"),
        ([0, 1], 0.0, 0.1, "p0 must be an event rate"),
        ([0, 1], 0.1, 1.0, "p1 must be an event rate"),
        ([0, 2], 0.1, 0.2, "only 0"),
        ([0, 0.5], 0.1, 0.2, "only 0"),
        ([[0, 1]], 0.1, 0.2, "1-D"),
    ],
)
def test_cusum_path_rejects_invalid_input(
    x: list[float], p0: float, p1: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bernoulli_cusum_path(x, p0, p1)


# --------------------------------------------------------------------- CUSUM signal


def test_cusum_signals_on_a_run_of_events_after_the_last_reset() -> None:
    up, _ = _weights(0.1, 0.2)  # 0.693 (and -0.118 per non-event)
    # One early event decays back to 0 after 6 non-events; the shift starts at index 12.
    x = [1] + [0] * 11 + [1] * 8
    signal = bernoulli_cusum_signal(x, 0.1, 0.2, h=3.0)
    assert signal.index == 16  # 5 events: 5 * 0.693 = 3.47 >= 3 > 4 * 0.693
    assert signal.change_index == 12
    assert signal.statistic == pytest.approx(5 * up)
    assert signal.max_statistic == pytest.approx(8 * up)


def test_cusum_change_index_is_zero_without_any_reset() -> None:
    up, down = _weights(0.1, 0.2)
    signal = bernoulli_cusum_signal([1, 0, 1, 1, 1, 1], 0.1, 0.2, h=3.0)
    assert (signal.index, signal.change_index) == (5, 0)
    assert signal.statistic == pytest.approx(5 * up + down)
    assert signal.max_statistic == signal.statistic


def test_cusum_without_signal_reports_the_last_and_largest_statistic() -> None:
    up, down = _weights(0.1, 0.2)
    signal = bernoulli_cusum_signal([1, 1, 0], 0.1, 0.2, h=3.0)
    assert (signal.index, signal.change_index) == (None, None)
    assert signal.statistic == pytest.approx(2 * up + down)
    assert signal.max_statistic == pytest.approx(2 * up)
    assert bernoulli_cusum_signal([], 0.1, 0.2, h=3.0) == CusumSignal(None, None, 0.0, 0.0)


@pytest.mark.parametrize("h", [0.0, -1.0, math.nan, math.inf])
def test_cusum_signal_needs_a_positive_limit(h: float) -> None:
    with pytest.raises(ValueError, match="h"):
        bernoulli_cusum_signal([0, 1], 0.1, 0.2, h)


# ------------------------------------------------------------------------ CUSUM ARL


@pytest.mark.parametrize(
    ("p0", "p1", "h", "p", "seed"),
    [
        (0.1, 0.2, 2.5, 0.1, 1),  # in control, ARL about 340
        (0.1, 0.2, 2.5, 0.2, 2),  # the shift it is tuned for
        (0.1, 0.2, 2.5, 0.3, 3),  # a larger shift
        (0.02, 0.05, 2.0, 0.02, 4),  # rarer events
        (0.3, 0.45, 2.0, 0.3, 5),  # weights ratio near 1.6
        (0.9, 0.95, 1.5, 0.9, 6),  # non-event weight larger than the event weight
    ],
)
def test_cusum_arl_matches_simulation(p0: float, p1: float, h: float, p: float, seed: int) -> None:
    arl = bernoulli_cusum_arl(p0, p1, h, p)
    lengths = _simulate(np.asarray(_weights(p0, p1)), 0.0, h, p, None, seed)
    _assert_close_to_simulation(arl, lengths)


def test_cusum_arl_exact_cases() -> None:
    up, _ = _weights(0.1, 0.2)
    # h below one event weight: every event signals, the run length is geometric.
    assert bernoulli_cusum_arl(0.1, 0.2, 0.5) == pytest.approx(10.0)
    assert bernoulli_cusum_arl(0.1, 0.2, 0.5, p=0.25) == pytest.approx(4.0)
    # Only events: the chart climbs by one weight per observation.
    assert bernoulli_cusum_arl(0.1, 0.2, 4.5 * up, p=1.0) == pytest.approx(5.0)
    # No events: never signals.
    assert bernoulli_cusum_arl(0.1, 0.2, 3.0, p=0.0) == math.inf


def test_cusum_arl_falls_with_the_true_rate_and_rises_with_h() -> None:
    by_rate = [bernoulli_cusum_arl(0.05, 0.1, 4.0, p) for p in (0.03, 0.05, 0.08, 0.1, 0.2)]
    assert all(a > b for a, b in itertools.pairwise(by_rate))
    by_h = [bernoulli_cusum_arl(0.05, 0.1, h) for h in (1.0, 2.0, 4.0, 8.0)]
    assert all(a < b for a, b in itertools.pairwise(by_h))


def test_cusum_arl_converges_with_resolution() -> None:
    fine = bernoulli_cusum_arl(0.1, 0.2, 6.0, resolution=100_000)
    assert bernoulli_cusum_arl(0.1, 0.2, 6.0) == pytest.approx(fine, rel=0.005)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p": 1.5}, "true event rate"),
        ({"p": -0.1}, "true event rate"),
        ({"h": 0.0}, "h"),
        ({"resolution": 0}, "resolution"),
    ],
)
def test_cusum_arl_rejects_invalid_input(kwargs: dict[str, float], message: str) -> None:
    arguments: dict[str, float] = {"p0": 0.1, "p1": 0.2, "h": 3.0} | kwargs
    with pytest.raises(ValueError, match=message):
        bernoulli_cusum_arl(**arguments)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- CUSUM limit


@pytest.mark.parametrize(
    ("p0", "p1", "arl0"),
    [
        (0.1, 0.2, 1000.0),
        (0.05, 0.1, 370.0),
        (0.01, 0.02, 1e5),
        (0.3, 0.4, 1e8),
        (0.2, 0.5, 5e4),
        (0.9, 0.95, 2000.0),
    ],
)
def test_cusum_limit_is_the_smallest_h_reaching_arl0(p0: float, p1: float, arl0: float) -> None:
    h = bernoulli_cusum_limit(p0, p1, arl0)
    assert bernoulli_cusum_arl(p0, p1, h) >= arl0
    assert bernoulli_cusum_arl(p0, p1, 0.99 * h) < arl0
    assert bernoulli_cusum_arl(p0, p1, h) < 1.1 * arl0


def test_cusum_limit_gives_the_in_control_arl_in_simulation() -> None:
    h = bernoulli_cusum_limit(0.1, 0.2, 200.0)
    lengths = _simulate(np.asarray(_weights(0.1, 0.2)), 0.0, h, 0.1, None, seed=7)
    se = float(lengths.std(ddof=1)) / math.sqrt(lengths.size)
    assert float(lengths.mean()) >= 200.0 - TOLERANCE_SE * se
    assert float(lengths.mean()) <= 1.1 * 200.0 + TOLERANCE_SE * se


def test_cusum_limit_increases_with_arl0() -> None:
    limits = [bernoulli_cusum_limit(0.05, 0.1, a) for a in (10, 100, 1e3, 1e4, 1e6, 1e8)]
    assert all(a < b for a, b in itertools.pairwise(limits))


def test_cusum_limit_below_one_event_weight_when_any_event_may_signal() -> None:
    # ARL 1/p0 = 20 when every event signals: any arl0 up to 20 needs only that.
    up, _ = _weights(0.05, 0.1)
    h = bernoulli_cusum_limit(0.05, 0.1, 20.0)
    assert 0.0 < h < up
    assert bernoulli_cusum_limit(0.05, 0.1, 1.0) == h


@pytest.mark.parametrize("arl0", [0.5, 0.0, -3.0, math.nan, math.inf])
def test_cusum_limit_rejects_invalid_arl0(arl0: float) -> None:
    with pytest.raises(ValueError, match="arl0"):
        bernoulli_cusum_limit(0.1, 0.2, arl0)


# ------------------------------------------------------------------------------ EWMA


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("p0", "lam"), [(0.1, 0.05), (0.02, 0.2), (0.5, 1.0)])
def test_ewma_path_follows_the_recursion(seed: int, p0: float, lam: float) -> None:
    x = (np.random.default_rng(seed).random(2000) < p0 * 1.2).astype(int).tolist()
    np.testing.assert_allclose(
        bernoulli_ewma_path(x, p0, lam), _ewma_loop(x, p0, lam), rtol=1e-10, atol=1e-12
    )


def test_ewma_path_edge_cases() -> None:
    assert bernoulli_ewma_path([], 0.1, 0.2).shape == (0,)
    np.testing.assert_allclose(bernoulli_ewma_path([0] * 3, 0.1, 0.5), [0.05, 0.025, 0.0125])
    np.testing.assert_allclose(
        bernoulli_ewma_path([1] * 3, 0.1, 0.5), 1.0 - 0.9 * 0.5 ** np.arange(1, 4)
    )


@pytest.mark.parametrize(
    ("p0", "lam", "message"), [(0.0, 0.1, "p0"), (0.1, 0.0, "lam"), (0.1, 1.5, "lam")]
)
def test_ewma_path_rejects_invalid_parameters(p0: float, lam: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bernoulli_ewma_path([0, 1], p0, lam)


def test_ewma_signal_and_change_index() -> None:
    # lam = 0.5, p0 = 0.1: an event lifts Z above p0 for 3 observations (0.55, 0.275,
    # 0.1375, then 0.069 <= 0.1); the shift starts at index 6 and the third event
    # reaches 0.5 + 0.25 + 0.125 + ... = 0.87 >= 0.8.
    x = [1, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    signal = bernoulli_ewma_signal(x, 0.1, 0.5, limit=0.8)
    path = _ewma_loop(x, 0.1, 0.5)
    assert signal.index == 8
    assert signal.change_index == 6
    assert signal.statistic == pytest.approx(path[8])
    assert signal.max_statistic == pytest.approx(max(path))
    quiet = bernoulli_ewma_signal([0, 0], 0.1, 0.5, limit=0.8)
    assert (quiet.index, quiet.change_index, quiet.statistic) == (None, None, 0.025)
    assert bernoulli_ewma_signal([], 0.1, 0.5, 0.8) == CusumSignal(None, None, 0.1, 0.1)
    # From Z_0 = p0 the first events give 0.55, 0.775, 0.8875.
    first = bernoulli_ewma_signal([1, 1, 1], 0.1, 0.5, limit=0.8)
    assert (first.index, first.change_index) == (2, 0)


@pytest.mark.parametrize("limit", [0.1, 0.05, 1.0])
def test_ewma_limit_must_lie_between_p0_and_1(limit: float) -> None:
    with pytest.raises(ValueError, match="limit"):
        bernoulli_ewma_signal([0, 1], 0.1, 0.5, limit)


@pytest.mark.parametrize(
    ("p0", "lam", "limit", "p", "seed"),
    [
        (0.1, 0.1, 0.2, 0.1, 11),
        (0.1, 0.1, 0.2, 0.2, 12),
        (0.05, 0.2, 0.3, 0.05, 13),
        (0.01, 0.02, 0.025, 0.01, 14),
        (0.3, 0.05, 0.4, 0.3, 15),
    ],
)
def test_ewma_arl_matches_simulation(
    p0: float, lam: float, limit: float, p: float, seed: int
) -> None:
    arl = bernoulli_ewma_arl(p0, lam, limit, p)
    lengths = _simulate(np.zeros(2), p0, limit, p, lam, seed)
    _assert_close_to_simulation(arl, lengths)


def test_ewma_arl_exact_cases() -> None:
    # lam above the limit: any event signals.
    assert bernoulli_ewma_arl(0.01, 0.05, 0.04) == pytest.approx(100.0)
    assert bernoulli_ewma_arl(0.1, 0.2, 0.3, p=0.0) == math.inf


def test_ewma_limit_is_the_smallest_limit_reaching_arl0() -> None:
    limit = bernoulli_ewma_limit(0.1, 0.1, 500.0)
    assert 0.1 < limit < 1.0
    assert bernoulli_ewma_arl(0.1, 0.1, limit) >= 500.0
    assert bernoulli_ewma_arl(0.1, 0.1, 0.99 * limit) < 500.0
    assert bernoulli_ewma_limit(0.1, 0.1, 5000.0) > limit
    with pytest.raises(ValueError, match="arl0"):
        bernoulli_ewma_limit(0.1, 0.1, 0.9)


# ---------------------------------------------------------------------------- budget


def test_arl0_for_budget_splits_the_false_alarms_over_the_charts() -> None:
    # 2 000 observations a year, 50 charts, 2 false alarms a year in all: each chart
    # may raise 0.04 a year, one every 50 000 observations.
    assert arl0_for_budget(2000.0, 50, 2.0) == pytest.approx(50_000.0)
    total = sum(n / arl0_for_budget(n, 3, 1.5) for n in (100.0, 2000.0, 40_000.0))
    assert total == pytest.approx(1.5)


def test_arl0_for_budget_is_at_least_one() -> None:
    assert arl0_for_budget(0.0, 10, 1.0) == 1.0
    assert arl0_for_budget(3.0, 1, 12.0) == 1.0


@pytest.mark.parametrize(
    ("observations", "charts", "budget", "message"),
    [
        (100.0, 0, 1.0, "charts"),
        (100.0, 2.5, 1.0, "charts"),
        (100.0, 10, 0.0, "false_alarms_per_year"),
        (100.0, 10, math.inf, "false_alarms_per_year"),
        (-1.0, 10, 1.0, "observations_per_year"),
        (math.nan, 10, 1.0, "observations_per_year"),
    ],
)
def test_arl0_for_budget_rejects_invalid_input(
    observations: float, charts: int, budget: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        arl0_for_budget(observations, charts, budget)
