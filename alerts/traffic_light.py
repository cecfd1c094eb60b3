"""A device's traffic light for a month of quality control, and the reasons for it.

The light answers "does this device need the quality team's attention this
month?" from what the statistics and the detection rules already decided; it adds
no test of its own, so it inherits their false-alarm control:

- **red** - performance degraded: the month's sensitivity or specificity lies
  wholly below the claim (its interval under the claimed value), or a performance
  finding (CUSUM/EWMA chart, below claim, version comparison) of warning or
  critical severity, raised in the month or still active at its end, is open,
  acknowledged or confirmed at the end of the month;
- **amber** - to watch: such a finding under corrective action or closed, a
  subgroup significantly worse than the rest of the device after multiplicity
  adjustment, an operational finding (outage, verification backlog, drift,
  estimated performance) of warning or critical severity raised in the month or
  active at its end, too few verified cases to judge the month, or verification
  below the floor;
- **grey** - no device output in the month, and nothing of the above;
- **green** - none of the above.

Informational findings, and findings dismissed by the end of the month, are listed
in the report but never change the light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from alerts.findings import PERFORMANCE_RULES

__all__ = [
    "ACTIVE_AT_END",
    "FindingState",
    "GapFlag",
    "Light",
    "MonthFigure",
    "Reason",
    "traffic_light",
]

ACTIVE_AT_END = ("open", "acknowledged", "confirmed", "action_taken")
"""Statuses of a finding that is still being dealt with."""

Color = Literal["green", "amber", "red", "grey"]


@dataclass(frozen=True)
class Reason:
    """One reason for a light, as a code and its parameters (texts are rendered per
    language by :mod:`monitor.report_texts`). Codes: ``below_claim`` (metric, value,
    low, high, claimed, p), ``finding`` (finding_id, rule, metric, severity, slice),
    ``subgroup_gap`` (metric, dimension, value, difference, p_adjusted),
    ``operational`` (finding_id, rule, severity), ``few_cases`` (n, min_cases),
    ``low_verification`` (rate, floor), ``no_data``, ``within_claim``."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Light:
    """A device's traffic light for the month and why (most serious reason first)."""

    color: Color
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class MonthFigure:
    """The whole device's metric over the month against the claim (proportions 0..1)."""

    metric: str
    value: float | None
    low: float | None
    high: float | None
    claimed: float | None
    p_value: float | None
    below_claim: bool


@dataclass(frozen=True)
class FindingState:
    """A finding as it stood at the end of the month. ``raised_in_month``: detected
    within the month; ``status``: its status at the month's end."""

    finding_id: int
    rule: str
    metric: str | None
    severity: str
    slice_label: str
    status: str
    raised_in_month: bool


@dataclass(frozen=True)
class GapFlag:
    """A subgroup significantly worse than the rest (difference < 0, adjusted p)."""

    metric: str
    dimension: str
    value: str
    difference: float
    p_adjusted: float


_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def _matters(state: FindingState) -> bool:
    return state.raised_in_month or state.status in ACTIVE_AT_END


def _finding_reason(state: FindingState) -> Reason:
    code = "finding" if state.rule in PERFORMANCE_RULES else "operational"
    params: dict[str, Any] = {
        "finding_id": state.finding_id,
        "rule": state.rule,
        "severity": state.severity,
    }
    if code == "finding":
        params |= {"metric": state.metric, "slice": state.slice_label}
    return Reason(code, params)


def traffic_light(
    figures: Sequence[MonthFigure],
    findings: Sequence[FindingState],
    gaps: Sequence[GapFlag],
    *,
    predictions: int,
    verified: int,
    verification_rate: float | None,
    min_cases: int,
    min_verification_rate: float,
) -> Light:
    """The month's light of one device and its reasons, most serious first.

    ``predictions``: device outputs in the month (0 gives grey); ``verified``: cases
    with a determinate outcome behind the month's figures (fewer than ``min_cases``
    makes the month too small to judge); ``verification_rate`` 0..1 or None.
    """
    red: list[Reason] = []
    amber: list[Reason] = []
    for figure in figures:
        if figure.below_claim:
            red.append(
                Reason(
                    "below_claim",
                    {
                        "metric": figure.metric,
                        "value": figure.value,
                        "low": figure.low,
                        "high": figure.high,
                        "claimed": figure.claimed,
                        "p": figure.p_value,
                    },
                )
            )
    ordered = sorted(findings, key=lambda f: (_SEVERITY_RANK.get(f.severity, 3), f.finding_id))
    for state in ordered:
        if state.severity == "info" or state.status == "dismissed" or not _matters(state):
            continue
        reason = _finding_reason(state)
        under_way = state.status in ("action_taken", "closed")
        if state.rule in PERFORMANCE_RULES and not under_way:
            red.append(reason)
        else:
            amber.append(reason)
    for gap in sorted(gaps, key=lambda g: g.p_adjusted):
        amber.append(
            Reason(
                "subgroup_gap",
                {
                    "metric": gap.metric,
                    "dimension": gap.dimension,
                    "value": gap.value,
                    "difference": gap.difference,
                    "p_adjusted": gap.p_adjusted,
                },
            )
        )
    if predictions > 0 and verified < min_cases:
        amber.append(Reason("few_cases", {"n": verified, "min_cases": min_cases}))
    if verification_rate is not None and verification_rate < min_verification_rate:
        amber.append(
            Reason("low_verification", {"rate": verification_rate, "floor": min_verification_rate})
        )
    if red:
        return Light("red", tuple(red + amber))
    if amber:
        return Light("amber", tuple(amber))
    if predictions == 0:
        return Light("grey", (Reason("no_data"),))
    return Light("green", (Reason("within_claim"),))
