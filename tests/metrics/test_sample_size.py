"""Sample sizes by Buderer's (1996, Acad Emerg Med 3:895) formula, recomputed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from metrics import (
    SampleSize,
    sample_size_array,
    sample_size_for_sensitivity,
    sample_size_for_specificity,
)


def test_worked_example_sensitivity() -> None:
    # Sensitivity 0.90 to +/-0.05 at 95%: 1.959964^2 * 0.9 * 0.1 / 0.05^2 = 138.3 -> 139
    # positives; at prevalence 0.20: 139 / 0.2 = 695 exams.
    by_hand = 1.959964**2 * 0.9 * 0.1 / 0.05**2
    assert by_hand == pytest.approx(138.29, abs=0.01)
    assert sample_size_for_sensitivity(0.9) == SampleSize(cases=139, exams=None)
    assert sample_size_for_sensitivity(0.9, 0.05, prevalence=0.2) == SampleSize(139, 695)


def test_worked_example_specificity() -> None:
    # Specificity 0.85 to +/-0.05: 1.959964^2 * 0.85 * 0.15 / 0.0025 = 195.9 -> 196
    # negatives; prevalence 0.20 leaves 80% negatives: 196 / 0.8 = 245 exams.
    assert sample_size_for_specificity(0.85, prevalence=0.2) == SampleSize(196, 245)


@pytest.mark.parametrize("expected", [0.5, 0.7, 0.95, 0.99])
@pytest.mark.parametrize("half_width", [0.02, 0.05, 0.1])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_formula(expected: float, half_width: float, confidence: float) -> None:
    z = norm.ppf(1 - (1 - confidence) / 2)
    cases = math.ceil(z**2 * expected * (1 - expected) / half_width**2)
    result = sample_size_for_sensitivity(expected, half_width, 0.1, confidence)
    assert result.cases == cases
    assert result.exams == math.ceil(cases / 0.1 - 1e-9)
    assert result.exams * 0.1 >= cases - 1e-9


def test_rounding_noise_does_not_add_an_exam() -> None:
    # p = 0.5, d = 0.2165: 1.959964^2 * 0.25 / 0.2165^2 = 20.5 -> 21 cases, and
    # 21 / 0.7 is 30.000000000000004 in floating point: still 30 exams.
    assert 21 / 0.7 > 30
    assert sample_size_for_sensitivity(0.5, 0.2165, prevalence=0.7) == SampleSize(21, 30)


def test_prevalence_one_for_sensitivity() -> None:
    assert sample_size_for_sensitivity(0.9, prevalence=1.0) == SampleSize(139, 139)


def test_array_form_matches_scalar() -> None:
    expected = np.array([0.6, 0.8, 0.9, 0.95])
    cases, exams = sample_size_array(expected, 0.05, np.array([0.1, 0.2, 0.5, 1.0]))
    assert cases.dtype == np.int64 and exams.dtype == np.int64
    for i, (p, prevalence) in enumerate(zip(expected, [0.1, 0.2, 0.5, 1.0], strict=True)):
        assert (cases[i], exams[i]) == tuple(sample_size_for_sensitivity(p, 0.05, prevalence))


def test_array_form_unknown_share_gives_minus_one() -> None:
    cases, exams = sample_size_array([0.9, 0.9, 0.9], 0.05, [np.nan, 0.0, 0.2])
    assert cases.tolist() == [139, 139, 139]
    assert exams.tolist() == [-1, -1, 695]
    cases, exams = sample_size_array(0.9)
    assert (int(cases), int(exams)) == (139, -1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expected": 0.0}, "expected"),
        ({"expected": 1.0}, "expected"),
        ({"expected": math.nan}, "expected"),
        ({"expected": 0.9, "half_width": 0.0}, "half_width"),
        ({"expected": 0.9, "half_width": 0.6}, "half_width"),
        ({"expected": 0.9, "prevalence": 0.0}, "prevalence"),
        ({"expected": 0.9, "prevalence": 1.2}, "prevalence"),
        ({"expected": 0.9, "confidence": 1.0}, "confidence"),
    ],
)
def test_invalid_inputs(kwargs: dict[str, float], message: str) -> None:
    for function in (sample_size_for_sensitivity, sample_size_for_specificity):
        with pytest.raises(ValueError, match=message):
            function(**kwargs)


def test_specificity_needs_some_negatives() -> None:
    with pytest.raises(ValueError, match="no negatives"):
        sample_size_for_specificity(0.9, prevalence=1.0)


def test_array_share_out_of_range() -> None:
    with pytest.raises(ValueError, match="share"):
        sample_size_array(0.9, 0.05, 1.5)
