"""A new version is reported, then compared once with its predecessor."""

from __future__ import annotations

import numpy as np
from scipy.stats import fisher_exact

from alerts.cases import NS_PER_DAY
from alerts.versions import (
    first_seen,
    version_change_findings,
    version_comparison,
    version_look_time,
)
from tests.alerts.views import START_NS, view_of


def _two_versions(sensitivity_after: float, n: int = 4000):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    days = np.sort(rng.uniform(0, 200, n))
    version = np.where(days < 100, "1.0", "2.0").astype(object)
    truth = (rng.random(n) < 0.3).astype(np.int8)
    sens = np.where(days < 100, 0.9, sensitivity_after)
    call = np.where(truth == 1, rng.random(n) < sens, rng.random(n) < 0.1).astype(np.int8)
    return view_of(truth, call, exam_day=days, version=version, as_of_day=220)


def test_a_new_version_is_reported_and_an_undeclared_one_is_a_warning() -> None:
    view = _two_versions(0.9)
    assert [v for v, _ in first_seen(view)] == ["1.0", "2.0"]
    declared = version_change_findings(view, "d", ["1.0", "2.0"])
    assert [(f.device_version, f.severity) for f in declared] == [("2.0", "info")]
    undeclared = version_change_findings(view, "d", ["1.0"])
    assert [(f.device_version, f.severity) for f in undeclared] == [("2.0", "warning")]


def test_a_worse_version_is_a_warning_with_fishers_exact_p_value() -> None:
    view = _two_versions(0.7)
    start = dict(first_seen(view))["2.0"]
    look = version_look_time(view, "2.0", 100)
    assert look is not None and start < look < START_NS + 220 * NS_PER_DAY
    found = version_comparison(view, "d", "2.0", "1.0", start, alpha=0.001)
    sensitivity = next(f for f in found if f.metric == "sensitivity")
    assert sensitivity.severity == "warning"
    after, before = sensitivity.evidence["after"], sensitivity.evidence["before"]
    table = [
        [after["n"] - after["correct"], after["correct"]],
        [before["n"] - before["correct"], before["correct"]],
    ]
    expected = fisher_exact(table, alternative="greater").pvalue
    assert abs(sensitivity.evidence["p_value"] - expected) < 1e-12
    specificity = next(f for f in found if f.metric == "specificity")
    assert specificity.severity == "info"


def test_an_equal_version_is_recorded_as_info() -> None:
    view = _two_versions(0.9)
    start = dict(first_seen(view))["2.0"]
    found = version_comparison(view, "d", "2.0", "1.0", start, alpha=0.001)
    assert {f.severity for f in found} == {"info"}


def test_no_look_before_enough_verified_cases() -> None:
    view = _two_versions(0.9)
    assert version_look_time(view, "2.0", 10_000) is None
