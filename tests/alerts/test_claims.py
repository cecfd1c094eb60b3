"""Below-claim: a month judged once, warning only past the budget-adjusted level."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from alerts.cases import NS_PER_DAY, scopes_of
from alerts.claims import below_claim_findings
from tests.alerts.views import START_NS, view_of

WINDOW = (START_NS, START_NS + 30 * NS_PER_DAY)
CLAIMS = {"sensitivity": 0.9, "specificity": 0.85}


def _month(tp: int, fn: int, tn: int, fp: int, manufacturer: str | np.ndarray = "GE"):  # type: ignore[no-untyped-def]
    truth = np.array([1] * (tp + fn) + [0] * (tn + fp), dtype=np.int8)
    call = np.array([1] * tp + [0] * fn + [0] * tn + [1] * fp, dtype=np.int8)
    days = np.linspace(0, 29, truth.size)
    return view_of(truth, call, exam_day=days, manufacturer=manufacturer, as_of_day=60)


def test_a_clearly_failing_month_is_a_warning_with_its_exact_p_value() -> None:
    view = _month(tp=60, fn=40, tn=170, fp=30)
    found = below_claim_findings(
        view, "d", scopes_of(view.cases, []), CLAIMS, WINDOW, false_alarms_per_year=0.01
    )
    sensitivity = [f for f in found if f.metric == "sensitivity"]
    assert len(sensitivity) == 1
    finding = sensitivity[0]
    assert finding.device_version == "1.0"  # the only version stands for all versions
    assert finding.severity == "warning"
    assert finding.value == 0.6 and finding.threshold == 0.9
    reference = binomtest(60, 100, 0.9, alternative="less").pvalue
    assert abs(finding.evidence["p_value"] - reference) < 1e-12
    # one slice (the only version is all versions), two metrics: alpha = 0.01 / (12 * 2)
    assert abs(finding.evidence["adjusted_alpha"] - 0.01 / 24) < 1e-15
    assert finding.evidence["affected_cases_total"] == 40


def test_a_month_below_the_claim_only_at_95_percent_is_info() -> None:
    view = _month(tp=80, fn=20, tn=170, fp=30)  # 0.80 [0.71-0.87] < 0.90, p = 0.002
    found = below_claim_findings(
        view, "d", scopes_of(view.cases, []), CLAIMS, WINDOW, false_alarms_per_year=0.01
    )
    assert {(f.metric, f.severity) for f in found} == {("sensitivity", "info")}


def test_cells_below_the_minimum_size_are_not_judged() -> None:
    view = _month(tp=5, fn=15, tn=170, fp=30)
    found = below_claim_findings(
        view, "d", scopes_of(view.cases, []), CLAIMS, WINDOW, false_alarms_per_year=0.01
    )
    assert [f for f in found if f.metric == "sensitivity"] == []


def test_exams_outside_the_window_do_not_count() -> None:
    view = _month(tp=60, fn=40, tn=170, fp=30)
    later = (WINDOW[1], WINDOW[1] + 30 * NS_PER_DAY)
    assert (
        below_claim_findings(
            view, "d", scopes_of(view.cases, []), CLAIMS, later, false_alarms_per_year=0.01
        )
        == []
    )
