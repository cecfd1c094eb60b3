"""Statistics on counts and arrays: pure functions, no database, no I/O.

- :mod:`metrics.proportions`: binomial proportion intervals (Wilson, continuity-
  corrected Wilson, Clopper-Pearson, Jeffreys, Agresti-Coull), scalar and vectorised.
- :mod:`metrics.confusion`: sensitivity, specificity, PPV, NPV, accuracy, prevalence,
  F1, Youden's J and likelihood ratios from 2x2 counts, with intervals.
- :mod:`metrics.claims`: observed rate against the manufacturer's claim.
- :mod:`metrics.subgroups`: subgroup against the rest (Newcombe difference interval,
  Fisher's exact test) with Holm and Benjamini-Hochberg adjustment.
- :mod:`metrics.sample_size`: cases and exams needed (Buderer 1996).
- :mod:`metrics.roc`: ROC points and AUC with DeLong's interval (fast form, ties).
- :mod:`metrics.calibration`: Brier score, expected calibration error, calibration
  intercept and slope, also from per-bin sufficient statistics.
- :mod:`metrics.verification`: Begg-Greenes correction for partial verification.
- :mod:`metrics.sequential`: Bernoulli CUSUM and EWMA charts, their average run
  lengths (Markov chain) and the decision limit for a false-alarm budget.
- :mod:`metrics.drift`: drift statistics without labels (PSI, Jensen-Shannon,
  Wasserstein, Kolmogorov-Smirnov, chi-square, Z), equal to Evidently's.
- :mod:`metrics.estimation`: performance estimated from calibrated scores while the
  truth is pending (confidence-based performance estimation, CBPE).

>>> from metrics import proportion_ci
>>> low, high = proportion_ci(81, 263)
>>> round(low, 4), round(high, 4)
(0.2553, 0.3662)
"""

from metrics.calibration import (
    PROBABILITY_CLIP,
    CalibrationBins,
    CalibrationFit,
    brier_from_sums,
    brier_score,
    calibration_bins,
    calibration_intercept_slope,
    ece_from_bins,
    expected_calibration_error,
)
from metrics.claims import CLAIM_ALTERNATIVES, ClaimComparison, compare_to_claim
from metrics.confusion import (
    BINARY_METRIC_NAMES,
    ConfusionCounts,
    Estimate,
    EstimateArrays,
    RateEstimate,
    binary_metrics,
    binary_metrics_array,
    diagnostic_rates,
)
from metrics.drift import (
    DRIFT_METHODS,
    DriftResult,
    categorical_drift,
    categorical_drift_from_counts,
    default_method,
    numeric_drift,
)
from metrics.estimation import (
    Calibrator,
    PerformanceEstimate,
    estimate_from_scores,
    estimate_performance,
    fit_calibrator,
)
from metrics.proportions import PROPORTION_CI_METHODS, proportion_ci, proportion_ci_array
from metrics.roc import RocPoints, auc_ci, delong_variance, roc_points
from metrics.sample_size import (
    SampleSize,
    sample_size_array,
    sample_size_for_sensitivity,
    sample_size_for_specificity,
)
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
from metrics.subgroups import (
    SubgroupComparison,
    benjamini_hochberg,
    compare_subgroups,
    holm,
    newcombe_difference_ci,
    newcombe_difference_ci_array,
)
from metrics.verification import VerificationCorrected, begg_greenes

__all__ = [
    "BINARY_METRIC_NAMES",
    "CLAIM_ALTERNATIVES",
    "DRIFT_METHODS",
    "PROBABILITY_CLIP",
    "PROPORTION_CI_METHODS",
    "CalibrationBins",
    "CalibrationFit",
    "Calibrator",
    "ClaimComparison",
    "ConfusionCounts",
    "CusumSignal",
    "DriftResult",
    "Estimate",
    "EstimateArrays",
    "PerformanceEstimate",
    "RateEstimate",
    "RocPoints",
    "SampleSize",
    "SubgroupComparison",
    "VerificationCorrected",
    "arl0_for_budget",
    "auc_ci",
    "begg_greenes",
    "benjamini_hochberg",
    "bernoulli_cusum_arl",
    "bernoulli_cusum_limit",
    "bernoulli_cusum_path",
    "bernoulli_cusum_signal",
    "bernoulli_ewma_arl",
    "bernoulli_ewma_limit",
    "bernoulli_ewma_path",
    "bernoulli_ewma_signal",
    "binary_metrics",
    "binary_metrics_array",
    "brier_from_sums",
    "brier_score",
    "calibration_bins",
    "calibration_intercept_slope",
    "categorical_drift",
    "categorical_drift_from_counts",
    "compare_subgroups",
    "compare_to_claim",
    "default_method",
    "delong_variance",
    "diagnostic_rates",
    "ece_from_bins",
    "estimate_from_scores",
    "estimate_performance",
    "expected_calibration_error",
    "fit_calibrator",
    "holm",
    "newcombe_difference_ci",
    "newcombe_difference_ci_array",
    "numeric_drift",
    "proportion_ci",
    "proportion_ci_array",
    "roc_points",
    "sample_size_array",
    "sample_size_for_sensitivity",
    "sample_size_for_specificity",
]
