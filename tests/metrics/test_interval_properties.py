"""Properties every interval must have, for any counts (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import (
    PROPORTION_CI_METHODS,
    binary_metrics,
    newcombe_difference_ci,
    proportion_ci,
    proportion_ci_array,
)

SETTINGS = settings(max_examples=200, deadline=None)
EPS = 1e-12

methods = st.sampled_from(PROPORTION_CI_METHODS)
confidences = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999])


@st.composite
def counts(draw: st.DrawFn, max_n: int = 5000) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=max_n))
    return draw(st.integers(min_value=0, max_value=n)), n


@SETTINGS
@given(counts(), methods, confidences)
def test_interval_contains_estimate_within_unit_range(
    kn: tuple[int, int], method: str, confidence: float
) -> None:
    k, n = kn
    low, high = proportion_ci(k, n, confidence, method)
    assert 0.0 <= low <= k / n + EPS
    assert k / n - EPS <= high <= 1.0


@SETTINGS
@given(counts(max_n=500), methods, confidences)
def test_interval_narrows_with_more_data(
    kn: tuple[int, int], method: str, confidence: float
) -> None:
    k, n = kn
    low, high = proportion_ci(k, n, confidence, method)
    low10, high10 = proportion_ci(10 * k, 10 * n, confidence, method)
    assert high10 - low10 <= high - low + EPS


@SETTINGS
@given(counts(), methods)
def test_higher_confidence_gives_a_wider_interval(kn: tuple[int, int], method: str) -> None:
    k, n = kn
    low90, high90 = proportion_ci(k, n, 0.9, method)
    low99, high99 = proportion_ci(k, n, 0.99, method)
    assert low99 <= low90 + EPS and high99 >= high90 - EPS


@SETTINGS
@given(st.lists(counts(max_n=300), min_size=1, max_size=20), methods, confidences)
def test_array_form_equals_scalar_form(
    kns: list[tuple[int, int]], method: str, confidence: float
) -> None:
    k, n = (np.array(c) for c in zip(*kns, strict=True))
    low, high = proportion_ci_array(k, n, confidence, method)
    for i, (ki, ni) in enumerate(kns):
        assert (low[i], high[i]) == proportion_ci(ki, ni, confidence, method)


@SETTINGS
@given(counts(), counts(), confidences)
def test_newcombe_interval_contains_the_difference(
    kn1: tuple[int, int], kn2: tuple[int, int], confidence: float
) -> None:
    diff, low, high = newcombe_difference_ci(*kn1, *kn2, confidence)
    assert diff == kn1[0] / kn1[1] - kn2[0] / kn2[1]
    assert -1.0 <= low <= diff + EPS
    assert diff - EPS <= high <= 1.0


cells = st.integers(min_value=0, max_value=400)


@SETTINGS
@given(cells, cells, cells, cells, methods, confidences)
def test_binary_metric_intervals_contain_their_values(
    tp: int, fp: int, tn: int, fn: int, method: str, confidence: float
) -> None:
    for name, (value, low, high) in binary_metrics(tp, fp, tn, fn, confidence, method).items():
        if math.isnan(value):
            assert math.isnan(low) and math.isnan(high), name
            continue
        if math.isnan(low):
            # Only a likelihood ratio of 0 keeps its value without an interval.
            assert name.startswith("lr_") and value == 0.0 and math.isnan(high), name
            continue
        tolerance = EPS * max(1.0, abs(value))
        assert low - tolerance <= value <= high + tolerance, name
        if not name.startswith("lr_"):
            assert low >= -1.0 and high <= 1.0, name
