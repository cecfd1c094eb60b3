"""A device's monthly light: red for degraded performance, amber for what to watch,
green otherwise, grey without data; informational and dismissed findings never
change it."""

from __future__ import annotations

from alerts.traffic_light import FindingState, GapFlag, MonthFigure, traffic_light


def _figure(metric: str = "sensitivity", *, below: bool = False) -> MonthFigure:
    value = 0.845 if below else 0.93
    return MonthFigure(
        metric, value, value - 0.03, value + 0.025, 0.91, 1e-8 if below else 0.9, below
    )


def _finding(
    rule: str = "cusum",
    severity: str = "warning",
    status: str = "open",
    *,
    raised: bool = True,
    finding_id: int = 1,
) -> FindingState:
    return FindingState(finding_id, rule, "sensitivity", severity, "whole device", status, raised)


def _light(
    figures: list[MonthFigure] | None = None,
    findings: list[FindingState] | None = None,
    gaps: list[GapFlag] | None = None,
    *,
    predictions: int = 2000,
    verified: int = 1800,
    rate: float | None = 0.9,
) -> tuple[str, list[str]]:
    light = traffic_light(
        figures if figures is not None else [_figure(), _figure("specificity")],
        findings or [],
        gaps or [],
        predictions=predictions,
        verified=verified,
        verification_rate=rate,
        min_cases=30,
        min_verification_rate=0.5,
    )
    return light.color, [r.code for r in light.reasons]


def test_a_quiet_month_is_green_within_the_claim() -> None:
    assert _light() == ("green", ["within_claim"])


def test_a_month_wholly_below_the_claim_is_red_and_says_so_first() -> None:
    color, reasons = _light(
        [_figure(below=True), _figure("specificity")], [_finding(severity="critical")]
    )
    assert color == "red"
    assert reasons == ["below_claim", "finding"]


def test_a_performance_warning_raised_or_still_open_is_red() -> None:
    assert _light(findings=[_finding()])[0] == "red"
    assert _light(findings=[_finding(raised=False, status="acknowledged")])[0] == "red"
    assert _light(findings=[_finding(raised=False, status="confirmed")])[0] == "red"


def test_a_finding_under_corrective_action_or_closed_is_amber() -> None:
    assert _light(findings=[_finding(status="action_taken")]) == ("amber", ["finding"])
    assert _light(findings=[_finding(status="closed")]) == ("amber", ["finding"])


def test_informational_and_dismissed_findings_leave_the_light_green() -> None:
    assert _light(findings=[_finding(severity="info")])[0] == "green"
    assert _light(findings=[_finding(severity="critical", status="dismissed")])[0] == "green"


def test_an_old_finding_no_longer_active_does_not_count() -> None:
    assert _light(findings=[_finding(raised=False, status="closed")])[0] == "green"


def test_operational_findings_are_amber_even_when_critical() -> None:
    color, reasons = _light(findings=[_finding("outage", "critical")])
    assert (color, reasons) == ("amber", ["operational"])


def test_a_significant_subgroup_gap_is_amber_and_named() -> None:
    gap = GapFlag("sensitivity", "scanner_manufacturer", "Fujifilm", -0.26, 7.7e-14)
    light = traffic_light(
        [_figure()],
        [],
        [gap],
        predictions=100,
        verified=90,
        verification_rate=0.9,
        min_cases=30,
        min_verification_rate=0.5,
    )
    assert light.color == "amber"
    assert light.reasons[0].params["value"] == "Fujifilm"


def test_too_few_verified_cases_or_low_verification_is_amber() -> None:
    assert _light(verified=12) == ("amber", ["few_cases"])
    assert _light(rate=0.3) == ("amber", ["low_verification"])
    assert _light(rate=None)[0] == "green"


def test_a_month_without_device_output_is_grey_but_red_wins() -> None:
    assert _light([], predictions=0, verified=0, rate=None) == ("grey", ["no_data"])
    assert _light([], [_finding("outage", "critical")], predictions=0, verified=0)[0] == "amber"
    red = _light([], [_finding(severity="critical")], predictions=0, verified=0, rate=None)
    assert red[0] == "red"


def test_reasons_are_ordered_critical_first() -> None:
    light = traffic_light(
        [],
        [_finding(severity="warning", finding_id=1), _finding(severity="critical", finding_id=2)],
        [],
        predictions=10,
        verified=100,
        verification_rate=None,
        min_cases=30,
        min_verification_rate=0.5,
    )
    assert [r.params["finding_id"] for r in light.reasons] == [2, 1]
