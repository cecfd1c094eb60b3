"""Sequential detection: Bernoulli CUSUM (or EWMA) charts per version x subgroup.

Two charts per slice (:func:`alerts.cases.scopes_of`): misses among verified
positives (sensitivity) and false positives among verified negatives
(specificity). Observations are taken in outcome-arrival order: a case enters its
charts when its first determinate outcome arrives, with its truth as best known at
the as-of time. In-control rates come from the claimed performance (or a pinned
baseline); the chart is tuned to detect ``ratio`` times that rate.

The decision limit is computed, never hand-tuned: the device's yearly false-alarm
budget for charts is split equally among its active charts (those with an
observation in the last year), and each chart's limit gives it an in-control
average run length of ``observations per year x charts / budget`` observations
(:func:`metrics.sequential.arl0_for_budget`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alerts.cases import NS_PER_DAY, CaseView, Scope, scopes_of
from alerts.findings import FindingDraft, case_refs
from metrics.proportions import proportion_ci
from metrics.sequential import (
    CusumSignal,
    arl0_for_budget,
    bernoulli_cusum_limit,
    bernoulli_cusum_path,
    bernoulli_cusum_signal,
    bernoulli_ewma_limit,
    bernoulli_ewma_path,
    bernoulli_ewma_signal,
)

__all__ = [
    "CHART_METRICS",
    "ChartPath",
    "ChartSettings",
    "InControl",
    "chart_findings",
    "chart_key",
    "chart_paths",
]

CHART_METRICS = ("sensitivity", "specificity")
MIN_SPAN_DAYS = 90.0
"""A chart's observation rate is counted over at least this many days (young charts)."""


@dataclass(frozen=True)
class InControl:
    """In-control event rates: misses among positives, false positives among negatives."""

    miss_rate: float
    false_positive_rate: float
    source: str
    """``claim`` or ``baseline YYYY-MM-DD..YYYY-MM-DD``."""

    def rate(self, metric: str) -> float:
        return self.miss_rate if metric == "sensitivity" else self.false_positive_rate


@dataclass(frozen=True)
class ChartSettings:
    chart: str = "cusum"
    false_alarms_per_year: float = 0.08
    """The charts' share of the device's budget."""
    ratio: float = 2.0
    ewma_lambda: float = 0.05


def chart_key(version: str | None, subgroup: tuple[str, str] | None, metric: str) -> str:
    """Identifies one chart of a device (restart points are kept per key)."""
    sub = "" if subgroup is None else f"{subgroup[0]}={subgroup[1]}"
    return f"{version or ''}|{sub}|{metric}"


ARL_STEPS_PER_DECADE = 20


def _round_up(value: float) -> float:
    """Up to the next of 20 log-spaced values a decade (12% steps): limits are cached on
    it, and rounding up never makes a chart less strict than its share of the budget."""
    if value <= 1.0:
        return 1.0
    step = math.ceil(math.log10(value) * ARL_STEPS_PER_DECADE - 1e-9)
    return float(10.0 ** (step / ARL_STEPS_PER_DECADE))


@dataclass(frozen=True)
class _Stream:
    """One metric's observations of the whole device, in arrival order."""

    metric: str
    case_index: np.ndarray
    arrival_ns: np.ndarray
    event: np.ndarray


def _streams(view: CaseView) -> list[_Stream]:
    verified = view.verified
    call = view.cases["ai_call"].to_numpy()
    streams = []
    for metric, truth, event_call in (("sensitivity", 1, 0), ("specificity", 0, 1)):
        index = np.flatnonzero(verified & (view.truth == truth))
        order = np.argsort(view.verified_ns[index], kind="stable")
        index = index[order]
        streams.append(_Stream(metric, index, view.verified_ns[index], (call[index] == event_call)))
    return streams


@dataclass(frozen=True)
class _Plan:
    """One chart: a metric's stream cut to a slice, with its observation rate."""

    stream: _Stream
    scope: Scope
    inside: np.ndarray
    key: str
    per_year: float


def _plans(view: CaseView, scopes: Sequence[Scope]) -> list[_Plan]:
    """Every active chart of the device (an observation in the last year)."""
    year_ago = view.as_of_ns - 365 * NS_PER_DAY
    plans = []
    for stream in _streams(view):
        for scope in scopes:
            inside = scope.mask[stream.case_index]
            arrival = stream.arrival_ns[inside]
            if arrival.size == 0:
                continue
            key = chart_key(scope.version, scope.subgroup, stream.metric)
            recent = int(np.count_nonzero(arrival > year_ago))
            if recent == 0:
                continue
            span_days = min(365.0, max(MIN_SPAN_DAYS, (view.as_of_ns - arrival[0]) / NS_PER_DAY))
            per_year = recent * 365.0 / span_days
            plans.append(_Plan(stream, scope, inside, key, per_year))
    return plans


@dataclass(frozen=True)
class _Run:
    """A chart run over its observations since its restart."""

    keep: np.ndarray
    x: np.ndarray
    p0: float
    p1: float
    limit: float
    arl0: float
    signal: CusumSignal


def _run(
    plan: _Plan,
    charts: int,
    in_control: InControl,
    settings: ChartSettings,
    restarts: Mapping[str, int],
) -> _Run | None:
    stream = plan.stream
    start = restarts.get(plan.key)
    keep = plan.inside.copy()
    if start is not None:
        keep[plan.inside] = stream.arrival_ns[plan.inside] > start
    x = stream.event[keep].astype(np.int8)
    if x.size == 0:
        return None
    p0 = in_control.rate(stream.metric)
    arl0 = _round_up(arl0_for_budget(plan.per_year, charts, settings.false_alarms_per_year))
    if settings.chart == "ewma":
        limit = bernoulli_ewma_limit(p0, settings.ewma_lambda, arl0)
        signal = bernoulli_ewma_signal(x, p0, settings.ewma_lambda, limit)
        p1 = p0 * settings.ratio
    else:
        p1 = min(p0 * settings.ratio, 0.99)
        limit = bernoulli_cusum_limit(p0, p1, arl0)
        signal = bernoulli_cusum_signal(x, p0, p1, limit)
    return _Run(keep, x, p0, p1, float(limit), arl0, signal)


@dataclass(frozen=True)
class ChartPath:
    """A chart's statistic after each of its observations (arrival order, UTC ns),
    its decision limit and first signal (observation index, None without one)."""

    key: str
    chart: str
    metric: str
    version: str | None
    subgroup: tuple[str, str] | None
    slice_label: str
    arrival_ns: np.ndarray
    statistic: np.ndarray
    limit: float
    signal_index: int | None
    in_control_rate: float
    out_of_control_rate: float


def chart_paths(
    view: CaseView,
    keys: Sequence[str],
    in_control: InControl,
    settings: ChartSettings,
    restarts: Mapping[str, int] | None = None,
    scopes: Sequence[Scope] | None = None,
    dimensions: Sequence[str] = (),
) -> list[ChartPath]:
    """The charts named by ``keys`` (:func:`chart_key`) as :func:`chart_findings` runs
    them as of ``view.as_of_ns``: same observations, restarts and decision limits.
    Keys of charts that are not active (no observation in the last year, or none
    since their restart) are left out; the order of ``keys`` is kept."""
    restarts = restarts or {}
    scopes = scopes if scopes is not None else scopes_of(view.cases, dimensions)
    plans = _plans(view, scopes)
    by_key = {plan.key: plan for plan in plans}
    paths = []
    for key in dict.fromkeys(keys):
        plan = by_key.get(key)
        if plan is None:
            continue
        run = _run(plan, len(plans), in_control, settings, restarts)
        if run is None:
            continue
        if settings.chart == "ewma":
            statistic = bernoulli_ewma_path(run.x, run.p0, settings.ewma_lambda)
        else:
            statistic = bernoulli_cusum_path(run.x, run.p0, run.p1)
        paths.append(
            ChartPath(
                key=key,
                chart=settings.chart,
                metric=plan.stream.metric,
                version=plan.scope.version,
                subgroup=plan.scope.subgroup,
                slice_label=plan.scope.label,
                arrival_ns=plan.stream.arrival_ns[run.keep],
                statistic=statistic,
                limit=run.limit,
                signal_index=run.signal.index,
                in_control_rate=run.p0,
                out_of_control_rate=run.p1,
            )
        )
    return paths


def chart_findings(
    view: CaseView,
    device_id: str,
    dimensions: Sequence[str],
    in_control: InControl,
    settings: ChartSettings,
    restarts: Mapping[str, int] | None = None,
    scopes: Sequence[Scope] | None = None,
) -> list[FindingDraft]:
    """Run every chart of the device as of ``view.as_of_ns``; one draft per signalling chart.

    ``restarts`` maps a :func:`chart_key` to the time (UTC ns) after which that chart
    starts again (its last acknowledged finding). A draft's ``window_start_ns`` is the
    exam time at the estimated change point, ``value`` the observed rate of the
    metric since then and ``threshold`` the decision limit.
    """
    restarts = restarts or {}
    scopes = scopes if scopes is not None else scopes_of(view.cases, dimensions)
    plans = _plans(view, scopes)
    charts = len(plans)
    drafts = []
    for plan in plans:
        run = _run(plan, charts, in_control, settings, restarts)
        if run is None or run.signal.index is None:
            continue
        stream, scope, keep, x = plan.stream, plan.scope, run.keep, run.x
        p0, p1, limit, arl0, signal = run.p0, run.p1, run.limit, run.arl0, run.signal
        signal_index = run.signal.index
        per_year = plan.per_year
        cases = view.cases
        chosen = stream.case_index[keep]
        change = signal.change_index if signal.change_index is not None else 0
        since = chosen[change:]
        events = int(x[change:].sum())
        n_since = int(since.size)
        rate = events / n_since
        low, high = proportion_ci(events, n_since)
        critical = low > p1
        metric_value = 1.0 - rate
        versions = sorted(set(cases["device_version"].to_numpy()[since]))
        exam_ns = cases["exam_ns"].to_numpy()
        event_cases = since[x[change:].astype(bool)]
        drafts.append(
            FindingDraft(
                device_id=device_id,
                rule=settings.chart,
                severity="critical" if critical else "warning",
                metric=stream.metric,
                device_version=scope.version,
                subgroup=scope.subgroup_dict,
                window_start_ns=int(exam_ns[chosen[change]]),
                window_end_ns=view.as_of_ns,
                value=metric_value,
                threshold=float(limit),
                evidence={
                    "chart": settings.chart,
                    "slice": scope.label,
                    "in_control_source": in_control.source,
                    "in_control_rate": p0,
                    "out_of_control_rate": p1,
                    "event": "miss" if stream.metric == "sensitivity" else "false positive",
                    "decision_limit": float(limit),
                    "arl0_observations": arl0,
                    "observations_per_year": per_year,
                    "charts_of_device": charts,
                    "statistic": float(signal.statistic),
                    "max_statistic": float(signal.max_statistic),
                    "observations": int(x.size),
                    "signal_observation": signal_index + 1,
                    "change_observation": change + 1,
                    "change_point_exam_ns": int(exam_ns[chosen[change]]),
                    "change_point_arrival_ns": int(stream.arrival_ns[keep][change]),
                    "signal_arrival_ns": int(stream.arrival_ns[keep][signal_index]),
                    "cases_since_change": n_since,
                    "events_since_change": events,
                    "event_rate_since_change": rate,
                    "event_rate_interval": [low, high],
                    "metric_since_change": metric_value,
                    "metric_interval": [1.0 - high, 1.0 - low],
                    "versions_since_change": versions,
                    "affected_cases": case_refs(cases["prediction_id"].to_numpy()[event_cases]),
                    "affected_cases_total": int(event_cases.size),
                },
            )
        )
    return drafts
