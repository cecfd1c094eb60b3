"""Score scales: every score on 0..1, and a result at a threshold (score >= threshold)."""

from __future__ import annotations

import math

import pytest

from monitor.scores import check_result, in_scale, result_at, scale_range, to_unit


@pytest.mark.parametrize(
    ("value", "scale", "unit"),
    [(0.73, "unit", 0.73), (87.0, "percent", 0.87), (0.0, "logit", 0.5), (-800.0, "logit", 0.0)],
)
def test_a_score_is_converted_to_0_1(value: float, scale: str, unit: float) -> None:
    assert to_unit(value, scale) == pytest.approx(unit)  # type: ignore[arg-type]


def test_each_scale_has_its_range() -> None:
    assert [scale_range(s) for s in ("unit", "percent", "logit")] == [  # type: ignore[arg-type]
        "0..1",
        "0..100",
        "any number",
    ]
    assert in_scale(1.0, "unit") and not in_scale(1.39, "unit") and in_scale(1.39, "percent")
    assert in_scale(-12.0, "logit") and not in_scale(math.inf, "logit")


def test_at_or_above_the_threshold_is_positive() -> None:
    assert [result_at(s, 0.5) for s in (0.49, 0.5, 0.51)] == ["negative", "positive", "positive"]


@pytest.mark.parametrize(
    ("result", "score", "threshold", "check"),
    [
        ("positive", 0.7, 0.5, "agrees"),
        ("positive", 0.2, 0.5, "contradicts"),
        ("negative", 0.5, 0.5, "contradicts"),
        ("negative", 0.1, 0.5, "agrees"),
        ("indeterminate", 0.9, 0.5, None),
        ("positive", None, 0.5, None),
        ("positive", 0.9, None, None),
    ],
)
def test_a_given_result_agrees_or_contradicts_its_score(
    result: str, score: float | None, threshold: float | None, check: str | None
) -> None:
    assert check_result(result, score, threshold) == check


@pytest.mark.parametrize("logit", [-800.0, -40.0, -3.2, -1e-9, 0.0, 1e-9, 2.5, 40.0, 800.0])
def test_a_logit_score_is_the_logistic_function_of_scipy(logit: float) -> None:
    from scipy.special import expit

    assert to_unit(logit, "logit") == pytest.approx(float(expit(logit)), rel=1e-15, abs=1e-300)
