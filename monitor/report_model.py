"""What a monthly quality-control report holds: plain data, no rendering, no storage.

:mod:`monitor.report_data` fills a :class:`MonthlyReport` from the database as of
the end of the month (data time); :mod:`monitor.report_render` turns it into HTML
and PDF in French or English. Every figure a report shows is also an entry of its
:class:`Manifest`, with the command that recomputes it.

Proportions are 0..1 (shown as percent), durations in days, times timezone-aware
in the establishment's zone. ``None`` stands for "undefined" (no cases), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from alerts.traffic_light import Light, Reason

__all__ = [
    "LIGHTS",
    "ActionLine",
    "CusumPanel",
    "DeviceMonth",
    "DriftLine",
    "EstimateLine",
    "FindingLine",
    "IncidentLine",
    "InventoryLine",
    "Light",
    "Manifest",
    "ManifestEntry",
    "MetricLine",
    "MonthlyReport",
    "OutcomeCounts",
    "Reason",
    "ReviewSummary",
    "SubgroupLine",
    "TrendPoint",
    "VigilanceLine",
    "Volume",
]

LIGHTS = ("green", "amber", "red", "grey")
"""Traffic lights, best to worst; grey: no data to judge."""


@dataclass(frozen=True)
class TrendPoint:
    """One month of a metric: value and interval 0..1 (None without cases), ``n`` its
    denominator (verified positives for sensitivity, negatives for specificity...)."""

    month: date
    value: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True)
class Volume:
    """The month's exams as known at its end: ``predictions`` device outputs, ``verified``
    with a determinate outcome, ``pending`` awaiting one, ``excluded`` indeterminate
    outputs under an exclude policy; ``verification_rate`` verified / (verified +
    pending), None without cases; label delays in days (None without outcome);
    ``results_checked``: AI results given with a score checked against the registry's
    threshold, ``results_contradicting`` those on the other side of it."""

    predictions: int
    verified: int
    pending: int
    excluded: int
    verification_rate: float | None
    median_label_delay_days: float | None
    last_prediction: datetime | None
    results_checked: int = 0
    results_contradicting: int = 0


@dataclass(frozen=True)
class MetricLine:
    """One metric of the whole device over the month, against the claim when there is
    one. ``p_value``: one-sided exact binomial test of "below the claim";
    ``below_claim``: the whole interval lies under the claimed value."""

    metric: str
    value: float | None
    low: float | None
    high: float | None
    n: int
    claimed: float | None
    p_value: float | None
    below_claim: bool


@dataclass(frozen=True)
class SubgroupLine:
    """One subgroup (dimension = value) over the month. ``gap`` is the subgroup minus the
    rest of the device (Newcombe interval) with Holm-adjusted p-values across every
    subgroup of the device and month; ``flagged`` lists the metrics whose gap is
    significantly negative after adjustment; ``too_small`` when fewer verified cases
    than the minimum for a decision."""

    dimension: str
    value: str
    n: int
    sensitivity: tuple[float | None, float | None, float | None]
    specificity: tuple[float | None, float | None, float | None]
    sensitivity_gap: tuple[float | None, float | None, float | None]
    specificity_gap: tuple[float | None, float | None, float | None]
    sensitivity_p_adjusted: float | None
    specificity_p_adjusted: float | None
    too_small: bool
    flagged: tuple[str, ...]
    below_claim: tuple[str, ...]


@dataclass(frozen=True)
class CusumPanel:
    """One control chart of the device as detection ran it at the end of the month:
    statistic (dimensionless) per verified observation in arrival order, decision
    limit, first signal time (None if it never crossed), and what it watches."""

    chart: str
    metric: str
    slice_label: str
    version: str | None
    subgroup: dict[str, str] | None
    times: tuple[datetime, ...]
    statistic: tuple[float, ...]
    limit: float
    signal_at: datetime | None
    in_control_rate: float
    observations: int
    finding_id: int | None


@dataclass(frozen=True)
class DriftLine:
    """One input or output column: distance between the reference period and the last
    ``detection.drift_window_days``, against its threshold."""

    column: str
    method: str
    score: float
    threshold: float
    drift: bool
    n_reference: int
    n_current: int


@dataclass(frozen=True)
class EstimateLine:
    """One month: performance estimated from scores (CBPE) against realised, 0..1."""

    month: date
    cases: int
    verified_share: float
    estimated_sensitivity: float | None
    realised_sensitivity: float | None
    realised_sensitivity_low: float | None
    realised_sensitivity_high: float | None
    estimated_specificity: float | None
    realised_specificity: float | None
    realised_specificity_low: float | None
    realised_specificity_high: float | None


@dataclass(frozen=True)
class ActionLine:
    """A corrective action of a finding."""

    action_id: int
    finding_id: int
    kind: str
    description: str
    owner: str
    due: date | None
    done: date | None


@dataclass(frozen=True)
class FindingLine:
    """A finding that matters to the month: raised in it, or still active at its end.
    ``status`` is its status at the end of the month; ``events`` the workflow steps
    taken in the month (``opened``, ``acknowledged``, ``confirmed``, ``dismissed``,
    ``action_taken``, ``closed``, ``reopened``, ``action_added``, ``action_done``)
    with their dates."""

    finding_id: int
    rule: str
    metric: str | None
    severity: str
    slice_label: str
    detected: date
    since: date | None
    value: float | None
    threshold: float | None
    status: str
    events: tuple[tuple[str, date], ...]
    dismissal_reason: str | None
    incident: int
    text: dict[str, str] = field(default_factory=dict)
    """The finding in plain words, by language (:func:`alerts.incident_texts.finding_text`)."""


@dataclass(frozen=True)
class IncidentLine:
    """An incident the month's findings belong to: one degradation, named by its root
    finding (the narrowest slice that explains it) with the findings supporting it.
    ``summary`` and ``evidence`` (None for a lone finding) are plain texts by language;
    ``finding_ids`` are the month's findings of the incident, the root first when it is
    one of them."""

    incident_id: int
    severity: str
    summary: dict[str, str]
    evidence: dict[str, str | None]
    finding_ids: tuple[int, ...]


@dataclass(frozen=True)
class VigilanceLine:
    """A materiovigilance draft written in the month (nothing is ever sent)."""

    draft_id: int
    finding_id: int
    created: datetime
    lang: str
    fmt: str
    sha256: str
    user: str


@dataclass(frozen=True)
class ReviewSummary:
    """Case review of the device: queued, adjudicated and skipped in the month, and what
    is still waiting at report time; ``changed`` adjudications that reversed the
    outcome the case had before."""

    queued: int
    adjudicated: int
    skipped: int
    waiting: int
    changed: int


@dataclass(frozen=True)
class OutcomeCounts:
    """The month's outcomes of the device (:mod:`monitor.outcome_counts`): ``decided``
    (``positive`` + ``negative``), ``unmentioned`` (final reports silent about the
    target, counted as ``policy`` - the device's ``unmentioned`` policy - says),
    ``uncertain`` (indeterminate) and ``quarantined`` (malformed outcome rows of the
    device's target)."""

    decided: int
    positive: int
    negative: int
    unmentioned: int
    uncertain: int
    quarantined: int
    policy: str


@dataclass(frozen=True)
class DeviceMonth:
    """Everything the report shows about one device for the month."""

    device_id: str
    name: str
    manufacturer: str
    versions: tuple[str, ...]
    light: Light
    volume: Volume
    metrics: tuple[MetricLine, ...]
    trend: dict[str, tuple[TrendPoint, ...]]
    claims: dict[str, float | None]
    subgroups: tuple[SubgroupLine, ...]
    cusum: tuple[CusumPanel, ...]
    drift: tuple[DriftLine, ...]
    drift_report: str | None
    drift_note: str | None
    estimates: tuple[EstimateLine, ...]
    estimate_note: str | None
    findings: tuple[FindingLine, ...]
    actions: tuple[ActionLine, ...]
    vigilance: tuple[VigilanceLine, ...]
    review: ReviewSummary
    outcomes: OutcomeCounts | None = None
    incidents: tuple[IncidentLine, ...] = ()
    """The incidents (warning or critical) of the month's findings, most severe first."""


@dataclass(frozen=True)
class InventoryLine:
    """One device of the establishment's inventory (the 3.4-05 cartographie) with what
    its risk analysis lacks (names of :class:`monitor.registry.RiskAnalysis` items)."""

    device_id: str
    name: str
    manufacturer: str
    model: str | None
    ce_class: str | None
    udi_di: str | None
    versions: tuple[str, ...]
    departments: tuple[str, ...]
    sites: tuple[str, ...]
    date_in_service: date | None
    intended_purpose: str | None
    ai_based: bool
    claimed_sensitivity: float | None
    claimed_specificity: float | None
    risk_missing: tuple[str, ...]


@dataclass(frozen=True)
class ManifestEntry:
    """One figure the report shows and how to recompute it.

    ``argv``: the ``dmn-monitor`` command (without the program name and config) whose
    JSON output holds it; ``select``: the keys a row of that output must match (a list
    value: the row's value is one of it); ``field``: the row's key holding the value
    (dots for nested keys), or ``aggregate="count"`` for the number of matching rows,
    or ``formula``: an arithmetic expression of the row's keys (e.g. ``linked /
    (linked + awaiting_truth)``). ``value`` is exactly what that gives (unrounded)."""

    key: str
    label: str
    value: Any
    argv: tuple[str, ...]
    select: dict[str, Any]
    field: str | None = None
    aggregate: Literal["count"] | None = None
    formula: str | None = None


@dataclass
class Manifest:
    """Every figure of a report, in the order it appears."""

    entries: list[ManifestEntry] = field(default_factory=list)

    def add(self, entry: ManifestEntry) -> Any:
        """Record ``entry`` and give back its value (so a figure is taken from here)."""
        self.entries.append(entry)
        return entry.value


@dataclass(frozen=True)
class MonthlyReport:
    """The month's report for the establishment (or one device): ``start``/``end`` the
    month's bounds (end exclusive), ``as_of`` the data time of every figure (the
    month's last instant), ``alpha`` the significance level of flags (1 - confidence),
    ``reviewers`` the names the sign-off block lists (blank lines when empty)."""

    month: date
    start: datetime
    end: datetime
    as_of: datetime
    generated: datetime
    establishment: str
    timezone: str
    devices: tuple[DeviceMonth, ...]
    inventory: tuple[InventoryLine, ...]
    reviewers: tuple[str, ...]
    manifest: Manifest
    min_cases: int
    confidence: float
    alpha: float
    interval_method: str = "wilson"
    quarantined_without_device: int = 0
    """Outcome rows of the month quarantined with no device's target (unknown target)."""
