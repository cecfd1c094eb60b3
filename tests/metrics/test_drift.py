"""metrics.drift: equal to Evidently's own stattests and to scipy / statsmodels."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, ks_2samp, wasserstein_distance
from statsmodels.stats.proportion import proportions_ztest

from metrics.drift import (
    CATEGORICAL_METHODS,
    DEFAULT_THRESHOLDS,
    DRIFT_METHODS,
    NUMERIC_METHODS,
    DriftResult,
    categorical_drift,
    categorical_drift_from_counts,
    default_method,
    numeric_drift,
)

# Importing evidently 0.7 emits deprecation warnings from its own imports (numpy.core,
# litestar's Dependency); pytest turns warnings into errors, so silence exactly those.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"numpy\.core is deprecated", DeprecationWarning)
    warnings.filterwarnings(
        "ignore", r"(Call to deprecated function|Use of deprecated class) 'Dependency"
    )
    from evidently.legacy.calculations.stattests import (
        chi_stat_test,
        jensenshannon_stat_test,
        ks_stat_test,
        psi_stat_test,
        wasserstein_stat_test,
        z_stat_test,
    )
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

EVIDENTLY_TESTS = {
    "psi": psi_stat_test,
    "jensenshannon": jensenshannon_stat_test,
    "wasserstein": wasserstein_stat_test,
    "ks": ks_stat_test,
    "chisquare": chi_stat_test,
    "z": z_stat_test,
}
KINDS = {"numeric": ColumnType.Numerical, "categorical": ColumnType.Categorical}
TOLERANCE = 1e-9
SEEDS = (0, 1, 2)
SIZES = {"small": (60, 40), "medium": (800, 300), "large": (6000, 2000)}
MODALITIES = np.array(["CR", "CT", "MG", "MR", "US"])


def evidently(method: str, kind: str, reference: object, current: object) -> tuple[float, bool]:
    """Evidently's drift score and flag, called as its data drift metric calls it."""
    with np.errstate(divide="ignore"):  # chisquare divides by a zero expected count
        result = EVIDENTLY_TESTS[method](
            pd.Series(reference), pd.Series(current), KINDS[kind], None
        )
    assert result.actual_threshold == DEFAULT_THRESHOLDS[method]
    return float(result.drift_score), bool(result.drifted)


def assert_matches_evidently(
    result: DriftResult, kind: str, reference: object, current: object
) -> None:
    score, drifted = evidently(result.method, kind, reference, current)
    assert result.score == pytest.approx(score, rel=TOLERANCE, abs=TOLERANCE)
    assert result.drift_detected is drifted
    assert result.threshold == DEFAULT_THRESHOLDS[result.method]


Sampler = Callable[[np.random.Generator, int, bool], npt.NDArray[np.float64]]
NUMERIC_SAMPLES: dict[str, Sampler] = {
    # An AI score in (0, 1): continuous, histogram-binned for PSI and Jensen-Shannon.
    "ai_score": lambda rng, n, shift: rng.beta(2.0 + shift, 5.0, n),
    # Patient age in whole years: about 80 distinct values, many ties.
    "age": lambda rng, n, shift: np.floor(rng.normal(62 + 3 * shift, 15, n)).clip(18, 99),
    # Few distinct values (at most 20 in the reference): counted per value.
    "grade": lambda rng, n, shift: rng.binomial(4, 0.3 + 0.1 * shift, n).astype(float),
}


@pytest.mark.parametrize("method", NUMERIC_METHODS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("sample", NUMERIC_SAMPLES)
@pytest.mark.parametrize("shifted", [False, True], ids=["same", "shifted"])
def test_numeric_drift_equals_evidently(method: str, size: str, sample: str, shifted: bool) -> None:
    n_reference, n_current = SIZES[size]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        reference = NUMERIC_SAMPLES[sample](rng, n_reference, False)
        current = NUMERIC_SAMPLES[sample](rng, n_current, shifted)
        result = numeric_drift(reference, current, method)
        assert result.method == method
        assert_matches_evidently(result, "numeric", reference, current)


def _modalities(rng: np.random.Generator, n: int, shifted: bool) -> npt.NDArray[np.str_]:
    shares = [0.1, 0.4, 0.05, 0.25, 0.2] if shifted else [0.1, 0.3, 0.1, 0.3, 0.2]
    return MODALITIES[rng.choice(MODALITIES.size, n, p=shares)]


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("shifted", [False, True], ids=["same", "shifted"])
def test_categorical_drift_equals_evidently(method: str, size: str, shifted: bool) -> None:
    n_reference, n_current = SIZES[size]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        reference = _modalities(rng, n_reference, False)
        current = _modalities(rng, n_current, shifted)
        result = categorical_drift(reference, current, method)
        assert_matches_evidently(result, "categorical", reference, current)
        assert_matches_evidently(
            categorical_drift(list(reference), list(current), method),
            "categorical",
            reference,
            current,
        )


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
def test_two_categories_sex_equals_evidently(method: str) -> None:
    rng = np.random.default_rng(7)
    reference = rng.choice(["F", "M"], 500, p=[0.5, 0.5])
    current = rng.choice(["F", "M"], 200, p=[0.6, 0.4])
    assert_matches_evidently(
        categorical_drift(reference, current, method), "categorical", reference, current
    )


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("sample", NUMERIC_SAMPLES)
def test_default_numeric_method_is_evidentlys_choice(size: str, sample: str) -> None:
    rng = np.random.default_rng(3)
    n_reference, n_current = SIZES[size]
    reference = NUMERIC_SAMPLES[sample](rng, n_reference, False)
    current = NUMERIC_SAMPLES[sample](rng, n_current, True)
    chosen = get_stattest(pd.Series(reference), pd.Series(current), ColumnType.Numerical, None)
    result = numeric_drift(reference, current)
    assert result.method == chosen.name
    assert_matches_evidently(result, "numeric", reference, current)


@pytest.mark.parametrize("labels", [["F", "M"], ["F", "M", "U"], list(MODALITIES)])
@pytest.mark.parametrize("size", SIZES)
def test_default_categorical_method_is_evidentlys_choice(labels: list[str], size: str) -> None:
    rng = np.random.default_rng(4)
    n_reference, n_current = SIZES[size]
    reference, current = rng.choice(labels, n_reference), rng.choice(labels, n_current)
    chosen = get_stattest(pd.Series(reference), pd.Series(current), ColumnType.Categorical, None)
    result = categorical_drift(reference, current)
    assert result.method == chosen.name
    assert_matches_evidently(result, "categorical", reference, current)


@pytest.mark.parametrize(
    ("kind", "n_reference", "n_unique", "expected"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chisquare"),
        ("numeric", 1000, 3, "chisquare"),
        ("numeric", 1000, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("categorical", 1000, 30, "chisquare"),
        ("categorical", 10, 2, "z"),
        ("categorical", 1001, 2, "jensenshannon"),
    ],
)
def test_default_method_boundaries(
    kind: str, n_reference: int, n_unique: int, expected: str
) -> None:
    assert default_method(kind, n_reference, n_unique) == expected


# --- independent references: scipy and statsmodels -------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("n_reference", "n_current"), [(40, 30), (3000, 12000)])
def test_ks_and_wasserstein_equal_scipy(seed: int, n_reference: int, n_current: int) -> None:
    rng = np.random.default_rng(seed)
    reference, current = rng.normal(60, 15, n_reference), rng.normal(63, 14, n_current)
    ks = numeric_drift(reference, current, "ks")
    expected = ks_2samp(reference, current)
    assert ks.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert ks.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    normed = numeric_drift(reference, current, "wasserstein")
    distance = wasserstein_distance(reference, current) / np.std(reference)
    assert normed.statistic == pytest.approx(distance, rel=1e-12)
    assert normed.p_value is None


@pytest.mark.parametrize("seed", SEEDS)
def test_categorical_statistics_equal_scipy_and_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.multinomial(5000, [0.1, 0.3, 0.1, 0.3, 0.2]).astype(float)
    current = rng.multinomial(1500, [0.1, 0.35, 0.1, 0.25, 0.2]).astype(float)
    js = categorical_drift_from_counts(reference, current, "jensenshannon")
    assert js.statistic == pytest.approx(jensenshannon(reference, current), rel=1e-12)
    chi = categorical_drift_from_counts(reference, current, "chisquare")
    expected = chisquare(current, reference * current.sum() / reference.sum())
    assert chi.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert chi.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    # Z-test: share outside the first category, pooled variance (statsmodels' default).
    outside = [reference.sum() - reference[0], current.sum() - current[0]]
    z, p_value = proportions_ztest(outside, [reference.sum(), current.sum()])
    result = categorical_drift_from_counts(reference, current, "z")
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-12)


def test_psi_worked_example() -> None:
    # Shares 0.5/0.5 against 0.8/0.2: (0.5-0.8) ln(0.5/0.8) + (0.5-0.2) ln(0.5/0.2) = 0.3 ln 4.
    result = categorical_drift(["CT"] * 50 + ["MR"] * 50, ["CT"] * 80 + ["MR"] * 20, "psi")
    assert result.statistic == pytest.approx(0.3 * math.log(4.0), rel=1e-14)
    assert result.drift_detected and result.p_value is None and result.score == result.statistic


def test_jensenshannon_of_disjoint_samples_is_sqrt_ln_2() -> None:
    result = categorical_drift(["CT"] * 10, ["MR"] * 5, "jensenshannon")
    assert result.statistic == pytest.approx(math.sqrt(math.log(2.0)), rel=1e-14)


# --- counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
def test_counts_give_the_same_result_as_rows(method: str) -> None:
    rng = np.random.default_rng(11)
    reference, current = _modalities(rng, 3000, False), _modalities(rng, 900, True)
    ref_counts = [int(np.sum(reference == label)) for label in MODALITIES]
    cur_counts = [int(np.sum(current == label)) for label in MODALITIES]
    from_rows = categorical_drift(reference, current, method)
    from_counts = categorical_drift_from_counts(ref_counts, cur_counts, method)
    assert from_counts.score == pytest.approx(from_rows.score, rel=1e-12, abs=1e-15)
    assert from_counts.drift_detected == from_rows.drift_detected


def test_counts_ignore_categories_empty_in_both() -> None:
    with_empty = categorical_drift_from_counts([30, 0, 70, 0], [20, 0, 80, 0], "chisquare")
    assert with_empty == categorical_drift_from_counts([30, 70], [20, 80], "chisquare")
    assert categorical_drift_from_counts([30, 0, 70], [20, 0, 80]).method == "z"


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        ([1, 2], [1, 2, 3], "same length"),
        ([[1, 2]], [[1, 2]], "1-D"),
        ([1, -1], [1, 1], "non-negative"),
        ([1, math.nan], [1, 1], "finite"),
        ([0, 0], [1, 1], "reference sample is empty"),
        ([1, 1], [0, 0], "current sample is empty"),
    ],
)
def test_invalid_counts_raise(reference: object, current: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        categorical_drift_from_counts(reference, current)  # type: ignore[arg-type]


# --- edge cases -----------------------------------------------------------------------


def test_nan_and_infinite_values_are_dropped() -> None:
    rng = np.random.default_rng(5)
    reference, current = rng.normal(0, 1, 200), rng.normal(0.5, 1, 100)
    dirty_reference = np.concatenate((reference, [np.nan, np.inf, -np.inf]))
    dirty_current = np.concatenate(([np.nan], current))
    for method in NUMERIC_METHODS:
        assert numeric_drift(dirty_reference, dirty_current, method) == numeric_drift(
            reference, current, method
        )
    labels = ["CT", "MR", None, "CT", math.nan, "US"]
    assert categorical_drift(labels, ["CT", "MR"], "chisquare") == categorical_drift(
        ["CT", "MR", "CT", "US"], ["CT", "MR"], "chisquare"
    )
    pandas_missing = pd.Series(["CT", pd.NA, "MR"], dtype="string")
    assert categorical_drift(pandas_missing, ["CT", "MR"], "psi").statistic == 0.0


@pytest.mark.parametrize(
    ("reference", "current", "which"),
    [([], [1.0], "reference"), ([1.0], [], "current"), ([math.nan], [1.0], "reference")],
)
def test_empty_numeric_sample_raises(
    reference: list[float], current: list[float], which: str
) -> None:
    with pytest.raises(ValueError, match=f"the {which} sample is empty"):
        numeric_drift(reference, current, "ks")


@pytest.mark.parametrize(
    ("reference", "current", "which"),
    [([], ["CT"], "reference"), (["CT"], [None, math.nan], "current")],
)
def test_empty_categorical_sample_raises(
    reference: list[object], current: list[object], which: str
) -> None:
    with pytest.raises(ValueError, match=f"the {which} sample is empty"):
        categorical_drift(reference, current)


def test_constant_numeric_columns() -> None:
    same = numeric_drift([70.0] * 50, [70.0] * 20, "wasserstein")
    assert same.statistic == 0.0 and not same.drift_detected
    # A constant reference has std 0: Evidently divides by 0.001 instead.
    moved = numeric_drift([70.0] * 50, [71.0] * 20, "wasserstein")
    assert moved.statistic == pytest.approx(1000.0) and moved.drift_detected
    assert_matches_evidently(moved, "numeric", [70.0] * 50, [71.0] * 20)
    assert numeric_drift([70.0] * 50, [70.0] * 20, "psi").statistic == 0.0
    assert numeric_drift([70.0] * 50, [70.0] * 20, "ks").p_value == 1.0


def test_single_shared_category_is_no_drift() -> None:
    z = categorical_drift(["CT"] * 30, ["CT"] * 10, "z")
    assert (z.statistic, z.p_value, z.drift_detected) == (0.0, 1.0, False)
    assert_matches_evidently(z, "categorical", ["CT"] * 30, ["CT"] * 10)
    # Evidently's chi-square gives nan (and no drift) here; p = 1 is the same decision.
    chi = categorical_drift(["CT"] * 30, ["CT"] * 10, "chisquare")
    assert (chi.statistic, chi.p_value, chi.drift_detected) == (0.0, 1.0, False)
    assert evidently("chisquare", "categorical", ["CT"] * 30, ["CT"] * 10)[1] is False


@pytest.mark.parametrize("method", CATEGORICAL_METHODS)
def test_category_only_in_current_equals_evidently(method: str) -> None:
    reference = ["CT"] * 60 + ["MR"] * 40
    current = ["CT"] * 30 + ["MR"] * 15 + ["PET"] * 5
    result = categorical_drift(reference, current, method)
    assert_matches_evidently(result, "categorical", reference, current)
    if method == "chisquare":
        assert (result.statistic, result.p_value, result.drift_detected) == (math.inf, 0.0, True)


def test_psi_fill_for_rare_categories_equals_evidently() -> None:
    # Smallest non-empty share 1/20000 <= 1e-4: empty categories get that share / 1e6.
    reference = ["CT"] * 19_999 + ["MR"]
    current = ["CT"] * 500 + ["US"] * 3
    assert_matches_evidently(
        categorical_drift(reference, current, "psi"), "categorical", reference, current
    )


def test_numeric_values_as_categories_equal_evidently() -> None:
    reference, current = [0.0] * 40 + [1.0] * 60, [0.0] * 30 + [1.0] * 10 + [2.0] * 5
    for method in ("chisquare", "z", "psi", "jensenshannon"):
        assert_matches_evidently(
            numeric_drift(reference, current, method), "numeric", reference, current
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: numeric_drift([1.0], [1.0], "chi2"), "unknown drift method"),
        (lambda: categorical_drift(["a"], ["a"], "wasserstein"), "unknown drift method"),
        (lambda: categorical_drift(["a"], ["a"], "ks"), "unknown drift method"),
        (lambda: numeric_drift([[1.0]], [1.0]), "one-dimensional"),
        (lambda: default_method("text", 10, 2), "unknown column kind"),
    ],
)
def test_invalid_arguments_raise(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_threshold_and_decision_rules() -> None:
    # Distances drift at score >= threshold, KS at p <= threshold, chisquare and z at p < threshold.
    reference, current = ["CT"] * 50 + ["MR"] * 50, ["CT"] * 80 + ["MR"] * 20
    psi = categorical_drift(reference, current, "psi")
    assert categorical_drift(reference, current, "psi", threshold=psi.statistic).drift_detected
    chi = categorical_drift(reference, current, "chisquare")
    assert chi.p_value is not None
    assert not categorical_drift(reference, current, "chisquare", chi.p_value).drift_detected
    ks = numeric_drift([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], "ks")
    assert ks.p_value is not None
    assert numeric_drift([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], "ks", ks.p_value).drift_detected
    assert set(DEFAULT_THRESHOLDS) == set(DRIFT_METHODS)


def test_result_is_frozen() -> None:
    result = numeric_drift([1.0, 2.0], [1.0, 3.0], "wasserstein")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.statistic = 0.0  # type: ignore[misc]
