"""Data drift without labels: a reference sample against a current sample.

The statistics and their conventions are those of Evidently's legacy stattests
(``evidently.legacy.calculations.stattests``, 0.7.x), so that the numbers here equal
Evidently's on the same data (to rounding) while running on numpy in milliseconds:

- ``"psi"``: population stability index, natural log, drift when ``PSI >= 0.1``.
- ``"jensenshannon"``: Jensen-Shannon *distance* (square root of the divergence,
  natural log, in [0, sqrt(ln 2)]), drift when ``>= 0.1``.
- ``"wasserstein"``: first Wasserstein distance divided by the reference standard
  deviation (population std, floored at 0.001): "Wasserstein distance (normed)",
  in reference-std units, drift when ``>= 0.1``. Numeric only.
- ``"ks"``: two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp, two-sided,
  ``method="auto"``), drift when ``p <= 0.05``. Numeric only.
- ``"chisquare"``: chi-square goodness of fit of current counts against reference
  proportions scaled to the current size, drift when ``p < 0.05``.
- ``"z"``: two-proportion Z-test (pooled) of the share *not* in the first category
  (first in sorted order), drift when ``p < 0.05``.

Binning for PSI and Jensen-Shannon: categories are the union of the values seen in
either sample; a numeric column whose reference has more than 20 distinct values is
binned instead on Sturges edges (numpy ``bins="sturges"``) over both samples together.
For PSI only, empty bins get a small share: ``min_nonzero / 1e6`` if the smallest
non-empty share of that sample is <= 1e-4, else 1e-4 (each sample separately, no
renormalisation). NaN and +-inf are dropped first; a sample left empty is a
ValueError (Evidently raises too).

>>> result = categorical_drift(["CT"] * 50 + ["MR"] * 50, ["CT"] * 80 + ["MR"] * 20, "z")
>>> result.drift_detected, round(result.p_value, 5)
(True, 1e-05)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr, rel_entr
from scipy.stats import chi2, ks_2samp

__all__ = [
    "CATEGORICAL_METHODS",
    "COLUMN_KINDS",
    "DEFAULT_THRESHOLDS",
    "DRIFT_METHODS",
    "NUMERIC_METHODS",
    "DriftResult",
    "categorical_drift",
    "categorical_drift_from_counts",
    "default_method",
    "numeric_drift",
]

DRIFT_METHODS = ("psi", "jensenshannon", "wasserstein", "ks", "chisquare", "z")
"""All methods, named as Evidently names its stattests."""

NUMERIC_METHODS = DRIFT_METHODS
"""Methods for numeric columns (chisquare and z treat each distinct value as a category)."""

CATEGORICAL_METHODS = ("psi", "jensenshannon", "chisquare", "z")
"""Methods for categorical columns (and for counts)."""

COLUMN_KINDS = ("numeric", "categorical")
"""Column kinds :func:`default_method` accepts."""

DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.1,
    "jensenshannon": 0.1,
    "wasserstein": 0.1,
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
}
"""Evidently's default threshold per method (a distance for the first three, a p-value
for the tests)."""

_P_VALUE_METHODS = frozenset({"ks", "chisquare", "z"})
_CATEGORY_LIMIT = 20  # a numeric reference with more distinct values is histogram-binned
_SMALL_REFERENCE = 1000  # Evidently's default-method switch on the reference size
_WASSERSTEIN_MIN_STD = 0.001

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One drift statistic between a reference and a current sample.

    ``statistic`` is the distance (psi, jensenshannon, wasserstein) or the test
    statistic (KS D, chi-square, signed z); ``p_value`` is None for distances.
    ``score`` is what Evidently reports and compares with ``threshold``: the p-value
    for tests, the distance otherwise. A chi-square statistic is inf (p = 0) when a
    category occurs only in the current sample.
    """

    method: str
    statistic: float
    threshold: float
    drift_detected: bool
    p_value: float | None = None

    @property
    def score(self) -> float:
        """Evidently's drift score: the p-value for tests, else the statistic."""
        return self.statistic if self.p_value is None else self.p_value


def default_method(kind: str, n_reference: int, n_unique: int) -> str:
    """Evidently's default method for a column.

    ``n_reference`` is the reference size (non-missing values), ``n_unique`` the number
    of distinct non-missing values in both samples together. Up to 1000 reference
    values: ``ks`` for a numeric column with more than 5 distinct values, otherwise
    ``chisquare`` when there are more than 2 distinct values and ``z`` when at most 2.
    Beyond 1000: ``wasserstein`` for numeric with more than 5 distinct values, otherwise
    ``jensenshannon``.
    """
    if kind not in COLUMN_KINDS:
        raise ValueError(f"unknown column kind {kind!r}; use one of {', '.join(COLUMN_KINDS)}")
    if n_reference < 0 or n_unique < 0:
        raise ValueError("n_reference and n_unique must be non-negative")
    many_values = kind == "numeric" and n_unique > 5
    if n_reference <= _SMALL_REFERENCE:
        if many_values:
            return "ks"
        return "chisquare" if n_unique > 2 else "z"
    return "wasserstein" if many_values else "jensenshannon"


def numeric_drift(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    method: str | None = None,
    threshold: float | None = None,
) -> DriftResult:
    """Drift of a numeric column (e.g. patient age in years, AI score).

    ``method`` is one of :data:`NUMERIC_METHODS`, or None for :func:`default_method`.
    ``threshold`` defaults to :data:`DEFAULT_THRESHOLDS`. NaN and +-inf are dropped;
    ValueError if either sample is then empty, for an unknown method, or for input
    that is not one-dimensional. A constant reference has std 0, so the normed
    Wasserstein distance divides by 0.001 instead.
    """
    ref = _finite(reference, "reference")
    cur = _finite(current, "current")
    if method is None:
        n_unique = np.unique(np.concatenate((ref, cur))).size
        method = default_method("numeric", ref.size, n_unique)
    _check_method(method, NUMERIC_METHODS, "numeric")
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)

    if method == "wasserstein":
        ref_sorted, cur_sorted = np.sort(ref), np.sort(cur)
        norm = max(float(np.std(ref)), _WASSERSTEIN_MIN_STD)
        distance = _wasserstein_sorted(ref_sorted, cur_sorted) / norm
        return DriftResult(method, distance, limit, distance >= limit)
    if method == "ks":
        test = ks_2samp(ref, cur)
        p_value = float(test.pvalue)
        return DriftResult(method, float(test.statistic), limit, p_value <= limit, p_value)
    if method in ("psi", "jensenshannon") and _more_unique_than(ref, _CATEGORY_LIMIT):
        edges = np.histogram_bin_edges(np.concatenate((ref, cur)), bins="sturges")
        # Equal-width edges: numpy's fast path gives the same counts as np.histogram(x, edges).
        bins, span = edges.size - 1, (float(edges[0]), float(edges[-1]))
        ref_counts = np.histogram(ref, bins=bins, range=span)[0].astype(np.float64)
        cur_counts = np.histogram(cur, bins=bins, range=span)[0].astype(np.float64)
    else:
        keys = np.union1d(ref, cur)
        ref_counts = np.bincount(np.searchsorted(keys, ref), minlength=keys.size).astype(float)
        cur_counts = np.bincount(np.searchsorted(keys, cur), minlength=keys.size).astype(float)
    return _from_counts(ref_counts, cur_counts, method, limit)


def categorical_drift(
    reference: Sequence[object] | npt.ArrayLike,
    current: Sequence[object] | npt.ArrayLike,
    method: str | None = None,
    threshold: float | None = None,
) -> DriftResult:
    """Drift of a categorical column (sex, body part, scanner, site, AI result ...).

    Values are labels (strings, or numbers used as codes); categories are those seen
    in either sample, sorted (the first one is the Z-test's reference category, so
    labels must be mutually comparable). Missing values (None, NaN) and +-inf are
    dropped; ValueError if a sample is then empty. ``method`` is one of
    :data:`CATEGORICAL_METHODS` or None for :func:`default_method`.
    """
    ref_counts, cur_counts = _category_counts(reference, current)
    return categorical_drift_from_counts(ref_counts, cur_counts, method, threshold)


def categorical_drift_from_counts(
    reference_counts: npt.ArrayLike,
    current_counts: npt.ArrayLike,
    method: str | None = None,
    threshold: float | None = None,
) -> DriftResult:
    """Categorical drift from two aligned count vectors (one entry per category).

    Equal to :func:`categorical_drift` on the rows behind the counts when categories
    are in sorted label order (the Z-test compares the first category with the rest;
    with two categories the order does not matter). Categories empty in both samples
    are ignored. ValueError for vectors of different shapes, negative or non-finite
    counts, or a sample with no counts.
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.ndim != 1 or ref.shape != cur.shape:
        raise ValueError(
            f"counts must be two 1-D vectors of the same length, got {ref.shape} and {cur.shape}"
        )
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(cur))):
        raise ValueError("counts must be finite")
    if np.any(ref < 0) or np.any(cur < 0):
        raise ValueError("counts must be non-negative")
    seen = (ref > 0) | (cur > 0)
    ref, cur = ref[seen], cur[seen]
    for name, counts in (("reference", ref), ("current", cur)):
        if counts.sum() <= 0:
            raise ValueError(f"the {name} sample is empty (no counts)")
    if method is None:
        method = default_method("categorical", round(float(ref.sum())), int(seen.sum()))
    _check_method(method, CATEGORICAL_METHODS, "categorical")
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
    return _from_counts(ref, cur, method, limit)


def _from_counts(ref: FloatArray, cur: FloatArray, method: str, limit: float) -> DriftResult:
    """psi, jensenshannon, chisquare or z on aligned counts of categories seen in either."""
    if method == "psi":
        ref_share = _fill_empty(ref / ref.sum())
        cur_share = _fill_empty(cur / cur.sum())
        psi = float(np.sum((ref_share - cur_share) * np.log(ref_share / cur_share)))
        return DriftResult(method, psi, limit, psi >= limit)
    if method == "jensenshannon":
        p, q = ref / ref.sum(), cur / cur.sum()
        m = (p + q) / 2.0
        divergence = float(np.sum(rel_entr(p, m)) + np.sum(rel_entr(q, m)))
        distance = math.sqrt(max(divergence / 2.0, 0.0))
        return DriftResult(method, distance, limit, distance >= limit)
    if method == "chisquare":
        statistic, p_value = _chisquare(ref, cur)
        return DriftResult(method, statistic, limit, p_value < limit, p_value)
    # "z", the one method left (callers check the name with _check_method)
    statistic, p_value = _z_test(ref, cur)
    return DriftResult(method, statistic, limit, p_value < limit, p_value)


def _chisquare(ref: FloatArray, cur: FloatArray) -> tuple[float, float]:
    """Current counts against reference counts scaled to the current total; df = k - 1.

    One category in both samples: statistic 0 and p = 1 (Evidently gives nan and no
    drift). A category absent from the reference: statistic inf and p = 0.
    """
    if ref.size == 1:
        return 0.0, 1.0
    expected = ref * (cur.sum() / ref.sum())
    if np.any(expected == 0.0):
        return math.inf, 0.0
    statistic = float(np.sum((cur - expected) ** 2 / expected))
    return statistic, float(chi2.sf(statistic, ref.size - 1))


def _z_test(ref: FloatArray, cur: FloatArray) -> tuple[float, float]:
    """Pooled two-proportion z of the share outside the first category (ref minus cur).

    A single category shared by both samples gives z = 0 and p = 1 (as Evidently).
    The two-sided p-value is ``2 * Phi(-|z|)`` (Evidently: ``2 * (1 - Phi(|z|))``, equal
    up to 1e-16 but without its cancellation for tiny p).
    """
    if ref.size == 1:
        return 0.0, 1.0
    n1, n2 = float(ref.sum()), float(cur.sum())
    p1, p2 = (n1 - ref[0]) / n1, (n2 - cur[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = float((p1 - p2) / math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)))
    return z, float(2.0 * ndtr(-abs(z)))


def _fill_empty(shares: FloatArray) -> FloatArray:
    """Evidently's PSI fill: zero shares become min_nonzero/1e6 if that min <= 1e-4, else 1e-4."""
    empty = shares == 0.0
    if not empty.any():
        return shares
    smallest = float(shares[~empty].min())
    filled = shares.copy()
    filled[empty] = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return filled


def _wasserstein_sorted(u: FloatArray, v: FloatArray) -> float:
    """First Wasserstein distance of two sorted samples: integral of |F_u - F_v|."""
    values = np.concatenate((u, v))
    values.sort(kind="mergesort")
    deltas = np.diff(values)
    u_cdf = np.searchsorted(u, values[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v, values[:-1], side="right") / v.size
    return float(np.dot(np.abs(u_cdf - v_cdf), deltas))


def _more_unique_than(values: FloatArray, limit: int) -> bool:
    """``np.unique(values).size > limit``, answered from a prefix when that suffices."""
    prefix = values[: 50 * limit]
    if np.unique(prefix).size > limit:
        return True
    return prefix.size < values.size and np.unique(values).size > limit


def _check_method(method: str, allowed: tuple[str, ...], kind: str) -> None:
    if method not in allowed:
        raise ValueError(
            f"unknown drift method {method!r} for a {kind} column; use one of {', '.join(allowed)}"
        )


def _finite(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"the {name} sample must be one-dimensional, got shape {array.shape}")
    array = array[np.isfinite(array)]
    if array.size == 0:
        raise ValueError(f"the {name} sample is empty (no finite values)")
    return array


def _category_counts(
    reference: Sequence[object] | npt.ArrayLike, current: Sequence[object] | npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Counts per category seen in either sample, categories in sorted order."""
    counts = []
    for name, values in (("reference", reference), ("current", current)):
        if isinstance(values, pd.Series):
            value_counts = values.value_counts(dropna=True)
        else:
            array = np.asarray(values)
            if array.ndim != 1:
                raise ValueError(f"the {name} sample must be one-dimensional, got {array.shape}")
            if array.dtype.kind in "US":  # numpy strings: no missing values, sorting is fast
                labels, label_counts = np.unique(array, return_counts=True)
                value_counts = pd.Series(label_counts, index=labels.astype(object))
            else:
                value_counts = pd.Series(array.astype(object)).value_counts(dropna=True)
        value_counts.index = value_counts.index.astype(object)
        keep = [
            count > 0 and not (isinstance(label, float) and math.isinf(label))
            for label, count in value_counts.items()
        ]
        value_counts = value_counts[keep]
        if value_counts.empty:
            raise ValueError(f"the {name} sample is empty (no non-missing values)")
        counts.append(value_counts)
    table = pd.concat(counts, axis=1, keys=["reference", "current"]).fillna(0.0)
    table = table.sort_index()
    return (
        table["reference"].to_numpy(dtype=np.float64),
        table["current"].to_numpy(dtype=np.float64),
    )
