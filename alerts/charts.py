"""Sequential detection: Bernoulli CUSUM (or EWMA) charts per version x subgroup.

Two charts per slice (:func:`alerts.cases.scopes_of`): misses among verified
positives (sensitivity) and false positives among verified negatives
(specificity). Observations are taken in outcome-arrival order, with the earliest
truth: a case enters its chart when its first determinate outcome (often the
routine report) arrives, with that outcome's truth. A later outcome that changes
the case's truth (pathology, follow-up, adjudication) corrects the chart when it
arrives: the case's first observation is taken back (its weight retracted) and it
enters the other metric's charts. Nothing of the past is rewritten, so a chart's
state only ever grows by what arrived since.

The in-control rates are the device's own level once established locally, else
the claim (:class:`InControl`); the CUSUM is tuned to a clinically meaningful
drop: ``design_drop`` points of sensitivity or specificity below that level
(``p1 = p0 + drop``). Decision limits are calibrated jointly over the device's
family of charts so that its false alarms spend its budget exactly
(:mod:`alerts.chart_family`); the EWMA chart keeps a per-chart share of the budget
(``observations per year x charts / budget``, :func:`metrics.sequential.arl0_for_budget`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from alerts.cases import NS_PER_DAY, CaseView, Scope, scopes_of
from alerts.chart_family import (
    CALIBRATIONS,
    SIMULATED_MAX,
    CalibrationCache,
    FamilyCalibration,
    FamilyChart,
    FamilyStream,
    chart_weight,
    cusum_limit,
    signature,
)
from alerts.findings import FindingDraft, case_refs
from metrics.proportions import proportion_ci
from metrics.sequential import (
    CusumSignal,
    arl0_for_budget,
    bernoulli_ewma_limit,
    bernoulli_ewma_path,
    bernoulli_ewma_signal,
)

__all__ = [
    "CHART_METRICS",
    "ChartMemo",
    "ChartPath",
    "ChartSettings",
    "InControl",
    "chart_findings",
    "chart_key",
    "chart_paths",
]

CHART_METRICS = ("sensitivity", "specificity")
MIN_SPAN_DAYS = 7.0
"""A chart's observation rate is counted over at least this many days (young charts).

Short: a rate counted over a longer span than the chart has lived underestimates its
volume, and a chart credited with too few observations a year gets too low a limit
(at 9 days old, a 90-day floor made it false-alarm at ten times its share)."""


@dataclass(frozen=True)
class InControl:
    """In-control event rates: misses among positives, false positives among negatives."""

    miss_rate: float
    false_positive_rate: float
    source: str
    """``claim``, ``baseline YYYY-MM-DD..YYYY-MM-DD`` (pinned) or ``local ...``."""
    sources: Mapping[str, str] | None = None
    """Per metric, when the two rates come from different places (else ``source``)."""
    baselines: Mapping[str, np.ndarray] | None = None
    """Per metric with a local level, the cases (indices into the view) it was measured
    on: a slice significantly worse on them is charted from its own level."""

    def rate(self, metric: str) -> float:
        return self.miss_rate if metric == "sensitivity" else self.false_positive_rate

    def source_of(self, metric: str) -> str:
        return (self.sources or {}).get(metric, self.source)


SLICE_Z = 2.0
"""A slice whose error rate on the baseline cases exceeds the device's by this many
standard errors is charted from its own level (a harder body part, a site whose
reports are worse): a standing difference is not a change."""
SLICE_MIN_CASES = 30


def upper_rate(events: int, n: int, z: float = 1.2816) -> float:
    """The one-sided upper bound of an event rate (Wilson; default 90 %): a level is
    never credited with better performance than its sample supports (a chart whose
    in-control rate is set a little too low false-alarms far more than its budget)."""
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return min(centre + half, 0.99)


def grid_up(rate: float) -> float:
    """Up to the next of 100 log-spaced values a decade (2.3 % steps), within
    [0.005, 0.95]: limits are computed once per step."""
    rate = max(rate, 0.005)
    step = math.ceil(math.log10(rate) * 100 - 1e-9)
    return min(float(10.0 ** (step / 100)), 0.95)


def _slice_rate(
    scope: Scope, metric: str, in_control: InControl, counts: tuple[int, int, int, int] | None
) -> float:
    """The in-control rate of one slice's chart (see :data:`SLICE_Z`); ``counts``: the
    slice's and the device's (cases, events) on the baseline cases
    (:meth:`ChartMemo.base_counts`)."""
    p0 = in_control.rate(metric)
    if counts is None or (scope.subgroup is None and scope.version is None):
        return p0
    n, mine, total, events = counts
    if n < SLICE_MIN_CASES or n == total:
        return p0
    device = events / total
    z = (mine / n - device) / math.sqrt(max(device * (1 - device), 1e-9) / n)
    return max(p0, grid_up(upper_rate(mine, n))) if z > SLICE_Z else p0


def _extends(old: np.ndarray, new: np.ndarray) -> bool:
    """``new`` starts with ``old``."""
    return old.size <= new.size and bool(np.array_equal(new[: old.size], old))


ScopeId = tuple[str | None, tuple[str, str] | None]


def _held_by(scopes: Sequence[Scope], cases: np.ndarray) -> Callable[[Scope], np.ndarray]:
    """``scope.holds(cases)`` for each of ``scopes``, each version's and each subgroup
    value's mask gathered once (the scopes cross a few of each: ~6x fewer gathers)."""
    gathered: dict[int, np.ndarray] = {}

    def part(mask: np.ndarray) -> np.ndarray:
        known = gathered.get(id(mask))
        if known is None:
            known = gathered[id(mask)] = mask[cases]
        return known

    def held(scope: Scope) -> np.ndarray:
        inside: np.ndarray = part(scope.version_mask) & part(scope.subgroup_mask)
        return inside

    return held


@dataclass
class ChartMemo:
    """What a device's charts keep from one as-of date to the next in a replay.

    Each date's streams and baseline extend the previous date's (observations are
    added in arrival order, nothing of the past changes): a chart's members and a
    slice's baseline counts are those already known plus the new items' - O(new),
    not O(history x charts). Anything else (a stream that does not extend the one
    kept) is computed again whole. A fresh memo gives the same results as one kept.
    """

    _members: dict[str, tuple[np.ndarray, dict[ScopeId, np.ndarray]]] = field(default_factory=dict)
    _base: dict[str, tuple[np.ndarray, int, dict[ScopeId, tuple[int, int]]]] = field(
        default_factory=dict
    )
    _paths: dict[str, dict[str, tuple[float, float, int | None, int, float, float]]] = field(
        default_factory=dict
    )
    """Per metric, per chart: (p0, p1, restart) and its last complete block (observations
    done, statistic there, highest statistic before)."""

    def members(self, stream: _Stream, scopes: Sequence[Scope]) -> dict[ScopeId, np.ndarray]:
        """Per scope, the indices (ascending) of the stream items whose case is in it."""
        index = stream.case_index
        known_index, known = self._members.get(stream.metric, (index[:0], {}))
        start = known_index.size if _extends(known_index, index) else 0
        if start == 0:
            known = {}
            self._paths.pop(stream.metric, None)  # paths continued so far no longer hold
        tail = index[start:]
        held = _held_by(scopes, tail)
        found = {}
        for scope in scopes:
            sid = (scope.version, scope.subgroup)
            before = known.get(sid)
            if before is None:  # a scope new since: its earlier items too
                before = np.flatnonzero(scope.holds(index[:start])).astype(np.int32)
            added = np.flatnonzero(held(scope)).astype(np.int32) + np.int32(start)
            found[sid] = np.concatenate([before, added]) if added.size else before
        self._members[stream.metric] = (index, found)
        return found

    def quiet_path(
        self,
        plan: _Plan,
        restart: int | None,
        x: np.ndarray,
        sign: np.ndarray,
        p1: float,
        limit: float,
    ) -> tuple[float, float] | None:
        """The chart's last statistic and its maximum when it never reached ``limit``;
        None when it did (the whole path is needed). Only the observations after the
        last complete block known (:data:`PATH_BLOCK`) are computed."""
        identity = (plan.p0, p1, restart)
        done, value, peak = 0, 0.0, -math.inf
        paths = self._paths.setdefault(plan.stream.metric, {})
        known = paths.get(plan.key)
        if known is not None and known[:3] == identity and known[3] <= x.size:
            done, value, peak = known[3], known[4], known[5]
        tail = _cusum_path(x[done:], sign[done:], plan.p0, p1, value)
        top = max(peak, float(tail.max())) if tail.size else peak
        complete = (x.size // PATH_BLOCK) * PATH_BLOCK
        if complete > done:
            upto = complete - done
            kept_peak = max(peak, float(tail[:upto].max()))
            paths[plan.key] = (*identity, complete, float(tail[upto - 1]), kept_peak)
        if top >= limit or x.size == 0:
            return None
        return (float(tail[-1]) if tail.size else value), top

    def base_counts(
        self, metric: str, base: np.ndarray, events: np.ndarray, scopes: Sequence[Scope]
    ) -> dict[ScopeId, tuple[int, int, int, int]]:
        """Per scope, (cases, events) among ``base`` (the baseline cases; ``events`` the
        device's events on them), with the device's (cases, events)."""
        known_base, known_events, known = self._base.get(metric, (base[:0], 0, {}))
        start = known_base.size if _extends(known_base, base) else 0
        if start == 0:
            known, known_events = {}, 0
        tail, tail_events = base[start:], events[start:]
        total_events = known_events + int(np.count_nonzero(tail_events))
        found: dict[ScopeId, tuple[int, int]] = {}
        held = _held_by(scopes, tail)
        for scope in scopes:
            sid = (scope.version, scope.subgroup)
            before = known.get(sid)
            if before is None:
                inside = scope.holds(base[:start])
                before = (
                    int(np.count_nonzero(inside)),
                    int(np.count_nonzero(inside & events[:start])),
                )
            inside = held(scope)
            found[sid] = (
                before[0] + int(np.count_nonzero(inside)),
                before[1] + int(np.count_nonzero(inside & tail_events)),
            )
        self._base[metric] = (base, total_events, found)
        return {sid: (n, k, base.size, total_events) for sid, (n, k) in found.items()}


@dataclass(frozen=True)
class ChartSettings:
    chart: str = "cusum"
    false_alarms_per_year: float = 0.08
    """The charts' share of the device's budget."""
    ratio: float = 2.0
    """EWMA only: the out-of-control rate it reports, as a multiple of p0."""
    ewma_lambda: float = 0.05
    design_drop: float = 0.10
    """CUSUM: the drop of sensitivity or specificity (0..1) each chart is tuned to."""
    calibrations: CalibrationCache = field(default=CALIBRATIONS, compare=False)

    def out_of_control(self, p0: float) -> float:
        """The event rate a chart is tuned to detect."""
        if self.chart == "ewma":
            return p0 * self.ratio
        return min(p0 + self.design_drop, 0.99)


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
    """One metric's observations of the whole device, in arrival order.

    Each item is a case entering the stream (``sign`` +1, at its first outcome or a
    correction into this metric) or taken back (-1, a correction out of it).
    """

    metric: str
    case_index: np.ndarray
    arrival_ns: np.ndarray
    event: np.ndarray
    sign: np.ndarray


def _streams(view: CaseView) -> list[_Stream]:
    changes = view.truth_changes()
    call = np.asarray(view.cases["ai_call"].to_numpy())
    counted = call[changes.case] >= 0
    streams = []
    for metric, truth, event_call in (("sensitivity", 1, 0), ("specificity", 0, 1)):
        enter = counted & (changes.truth == truth)
        leave = counted & (changes.previous == truth)
        items = np.flatnonzero(enter | leave)
        case = changes.case[items]
        streams.append(
            _Stream(
                metric,
                case,
                changes.ns[items],
                call[case] == event_call,
                np.where(enter[items], 1, -1).astype(np.int8),
            )
        )
    return streams


PATH_BLOCK = 1 << 16
"""The CUSUM path is computed in blocks of this many observations, each from the last
value of the one before: the same values whether a chart is computed whole or, in a
replay, continued from its last complete block (:class:`ChartMemo`)."""


def _cusum_path(
    x: np.ndarray, sign: np.ndarray, p0: float, p1: float, start: float = 0.0
) -> np.ndarray:
    """``S_t = max(0, S_{t-1} + sign_t w(x_t))`` with the log-likelihood-ratio weights,
    from ``S = start`` (the value before the first observation, at a block boundary)."""
    up, down = math.log(p1 / p0), math.log1p(-p1) - math.log1p(-p0)
    w = np.where(x == 1, up, down) * sign
    path = np.empty(w.size, dtype=np.float64)
    value = start
    for low in range(0, w.size, PATH_BLOCK):
        c = np.cumsum(w[low : low + PATH_BLOCK])
        if value != 0.0:
            c += value
        block = c - np.minimum(np.minimum.accumulate(c), 0.0)
        path[low : low + PATH_BLOCK] = block
        value = float(block[-1])
    return path


def _cusum_signal(path: np.ndarray, limit: float) -> CusumSignal:
    if path.size == 0:
        return CusumSignal(None, None, 0.0, 0.0)
    hits = np.flatnonzero(path >= limit)
    if hits.size == 0:
        return CusumSignal(None, None, float(path[-1]), float(path.max()))
    index = int(hits[0])
    floors = np.flatnonzero(path[:index] == 0.0)
    change = int(floors[-1]) + 1 if floors.size else 0
    return CusumSignal(index, change, float(path[index]), float(path.max()))


@dataclass(frozen=True)
class _Plan:
    """One chart: a metric's stream cut to a slice, with its observation rate."""

    stream: _Stream
    scope: Scope
    members: np.ndarray
    """Indices (ascending) of the stream's items whose case is in the slice."""
    key: str
    per_year: float
    weight: float = 1.0
    p0: float = 0.0


def _plans(
    view: CaseView,
    scopes: Sequence[Scope],
    in_control: InControl,
    memo: ChartMemo | None = None,
) -> list[_Plan]:
    """Every active chart of the device (an observation in the last year)."""
    memo = memo if memo is not None else ChartMemo()
    call = np.asarray(view.cases["ai_call"].to_numpy())
    year_ago = view.as_of_ns - 365 * NS_PER_DAY
    versions = {s.version for s in scopes if s.version is not None}
    values: dict[str, set[str]] = {}
    for scope in scopes:
        if scope.subgroup is not None:
            values.setdefault(scope.subgroup[0], set()).add(scope.subgroup[1])
    counts = {dimension: len(v) for dimension, v in values.items()}
    plans = []
    for stream in _streams(view):
        members = memo.members(stream, scopes)
        base_counts = _base_counts(stream.metric, in_control, call, scopes, memo)
        for scope in scopes:
            inside = members[(scope.version, scope.subgroup)]
            arrival = stream.arrival_ns[inside[stream.sign[inside] > 0]]
            if arrival.size == 0:
                continue
            key = chart_key(scope.version, scope.subgroup, stream.metric)
            recent = arrival.size - int(np.searchsorted(arrival, year_ago, side="right"))
            if recent == 0:
                continue
            span_days = min(365.0, max(MIN_SPAN_DAYS, (view.as_of_ns - arrival[0]) / NS_PER_DAY))
            per_year = recent * 365.0 / span_days
            weight = chart_weight(scope.version, scope.subgroup, len(versions), counts)
            found = base_counts.get((scope.version, scope.subgroup)) if base_counts else None
            p0 = _slice_rate(scope, stream.metric, in_control, found)
            plans.append(_Plan(stream, scope, inside, key, per_year, weight, p0))
    return plans


def _base_counts(
    metric: str,
    in_control: InControl,
    call: np.ndarray,
    scopes: Sequence[Scope],
    memo: ChartMemo,
) -> dict[ScopeId, tuple[int, int, int, int]] | None:
    """Every slice's counts on the metric's baseline cases (None without a local level)."""
    base = (in_control.baselines or {}).get(metric)
    if base is None:
        return None
    event_call = 0 if metric == "sensitivity" else 1
    return memo.base_counts(metric, base, call[base] == event_call, scopes)


def _family(
    view: CaseView, plans: Sequence[_Plan], in_control: InControl, settings: ChartSettings
) -> FamilyCalibration:
    """The plans' joint calibration: their last year of arrivals as the simulated year
    (a young device's history repeated to a year's volume). The simulated streams are
    only built when the family's signature is not calibrated yet."""
    outline = _family_streams(view, plans, in_control, settings, simulated=False)
    budget = settings.false_alarms_per_year
    found = settings.calibrations.lookup(signature(outline, budget))
    if found is not None:
        return found
    streams = _family_streams(view, plans, in_control, settings, simulated=True)
    return settings.calibrations.get(streams, budget)


_NO_POSITIONS = np.zeros(0, dtype=np.int64)


def _family_streams(
    view: CaseView,
    plans: Sequence[_Plan],
    in_control: InControl,
    settings: ChartSettings,
    *,
    simulated: bool,
) -> list[FamilyStream]:
    """The family's streams; without ``simulated``, their outline only (no positions:
    enough for the signature)."""
    year_ago = view.as_of_ns - 365 * NS_PER_DAY
    streams = []
    for metric in dict.fromkeys(p.stream.metric for p in plans):
        mine = [p for p in plans if p.stream.metric == metric]
        stream = mine[0].stream
        base = np.flatnonzero((stream.sign > 0) & (stream.arrival_ns > year_ago))
        whole = max(p.per_year for p in mine)
        length = min(max(round(whole), base.size), SIMULATED_MAX)
        p0 = in_control.rate(stream.metric)
        if not simulated:
            charts = [FamilyChart(p.key, p.weight, p.per_year, _NO_POSITIONS) for p in mine]
            p1 = settings.out_of_control(p0)
            streams.append(FamilyStream(stream.metric, p0, p1, length, tuple(charts)))
            continue
        if base.size >= length:  # a sample of the year, in order
            tiled = base[np.linspace(0, base.size - 1, length).astype(np.int64)]
        else:  # a young device's history repeated to a year
            tiled = base[np.arange(length) % base.size] if base.size else base
        rates = np.full(length, p0)
        charts = []
        inside = np.zeros(stream.case_index.size, dtype=bool)
        for p in mine:
            inside[:] = False
            inside[p.members] = True
            positions = np.flatnonzero(inside[tiled])
            own = p.p0 if p.p0 != p0 else None
            if own is not None:  # its cases are drawn at its own, worse level
                rates[positions] = np.maximum(rates[positions], own)
            own_p1 = settings.out_of_control(own) if own is not None else None
            charts.append(FamilyChart(p.key, p.weight, p.per_year, positions, own, own_p1))
        streams.append(
            FamilyStream(
                stream.metric,
                p0,
                settings.out_of_control(p0),
                length,
                tuple(charts),
                rates if (rates != p0).any() else None,
            )
        )
    return streams


@dataclass(frozen=True)
class _Run:
    """A chart run over its observations since its restart."""

    keep: np.ndarray
    """Indices of the stream's items the chart observes (its slice, since its restart)."""
    x: np.ndarray
    sign: np.ndarray
    p0: float
    p1: float
    limit: float
    arl0: float
    path: np.ndarray | None
    """The statistic after each observation (None: not computed, no signal)."""
    signal: CusumSignal


def _run(
    plan: _Plan,
    charts: int,
    in_control: InControl,
    settings: ChartSettings,
    restarts: Mapping[str, int],
    family: FamilyCalibration | None,
    memo: ChartMemo | None = None,
) -> _Run | None:
    """The chart over its observations since its restart; with ``memo``, a chart that
    never reached its limit is continued from its last complete block and carries no
    path (``path`` None; its signal has the last and the highest statistic)."""
    stream = plan.stream
    start = restarts.get(plan.key)
    keep = plan.members
    if start is not None:
        keep = keep[stream.arrival_ns[keep] > start]
    x = stream.event[keep].astype(np.int8)
    sign = stream.sign[keep]
    if x.size == 0:
        return None
    p0 = plan.p0
    p1 = settings.out_of_control(p0)
    if settings.chart == "ewma":
        arl0 = _round_up(arl0_for_budget(plan.per_year, charts, settings.false_alarms_per_year))
        limit = bernoulli_ewma_limit(p0, settings.ewma_lambda, arl0)
        entering = x[sign > 0]
        path = bernoulli_ewma_path(entering, p0, settings.ewma_lambda)
        signal = bernoulli_ewma_signal(entering, p0, settings.ewma_lambda, limit)
        keep = keep[sign > 0]
        x, sign = entering, np.ones(entering.size, np.int8)
    else:
        assert family is not None
        arl0 = family.arl0(plan.per_year, plan.weight)
        limit = cusum_limit(p0, p1, arl0)
        quiet = memo.quiet_path(plan, start, x, sign, p1, limit) if memo is not None else None
        if quiet is not None:
            signal = CusumSignal(None, None, quiet[0], quiet[1])
            return _Run(keep, x, sign, p0, p1, float(limit), arl0, None, signal)
        path = _cusum_path(x, sign, p0, p1)
        signal = _cusum_signal(path, limit)
    return _Run(keep, x, sign, p0, p1, float(limit), arl0, path, signal)


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
    memo: ChartMemo | None = None,
) -> list[ChartPath]:
    """The charts named by ``keys`` (:func:`chart_key`) as :func:`chart_findings` runs
    them as of ``view.as_of_ns``: same observations, restarts and decision limits.
    Keys of charts that are not active (no observation in the last year, or none
    since their restart) are left out; the order of ``keys`` is kept."""
    restarts = restarts or {}
    scopes = scopes if scopes is not None else scopes_of(view.cases, dimensions)
    plans = _plans(view, scopes, in_control, memo)
    by_key = {plan.key: plan for plan in plans}
    family = (
        _family(view, plans, in_control, settings) if plans and settings.chart != "ewma" else None
    )
    paths = []
    for key in dict.fromkeys(keys):
        plan = by_key.get(key)
        if plan is None:
            continue
        run = _run(plan, len(plans), in_control, settings, restarts, family)
        if run is None:
            continue
        statistic = run.path
        assert statistic is not None  # computed whole without a memo
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


def _still_counted(cases: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """The cases entered (+1) and not taken back (-1) afterwards, in entry order."""
    unique, first, inverse = np.unique(cases, return_index=True, return_inverse=True)
    total = np.bincount(inverse, weights=sign, minlength=unique.size)
    kept = np.flatnonzero(total > 0)
    return np.asarray(unique[kept[np.argsort(first[kept], kind="stable")]], dtype=np.int64)


def _family_evidence(family: FamilyCalibration) -> dict[str, object]:
    return {
        "family_charts": family.charts,
        "family_budget_per_year": family.budget,
        "family_false_alarms_per_year": family.realised,
        "family_false_alarms_interval": list(family.realised_interval),
        "family_if_independent_per_year": family.bonferroni,
        "family_replicates": family.replicates,
    }


def chart_findings(
    view: CaseView,
    device_id: str,
    dimensions: Sequence[str],
    in_control: InControl,
    settings: ChartSettings,
    restarts: Mapping[str, int] | None = None,
    scopes: Sequence[Scope] | None = None,
    memo: ChartMemo | None = None,
) -> list[FindingDraft]:
    """Run every chart of the device as of ``view.as_of_ns``; one draft per signalling chart.

    ``restarts`` maps a :func:`chart_key` to the time (UTC ns) after which that chart
    starts again (its last acknowledged finding). A draft's ``window_start_ns`` is the
    exam time at the estimated change point, ``value`` the observed rate of the
    metric since then and ``threshold`` the decision limit.
    """
    restarts = restarts or {}
    scopes = scopes if scopes is not None else scopes_of(view.cases, dimensions)
    plans = _plans(view, scopes, in_control, memo)
    charts = len(plans)
    family = (
        _family(view, plans, in_control, settings) if plans and settings.chart != "ewma" else None
    )
    drafts = []
    for plan in plans:
        run = _run(plan, charts, in_control, settings, restarts, family, memo)
        if run is None or run.signal.index is None:
            continue
        stream, scope, keep, x = plan.stream, plan.scope, run.keep, run.x
        p0, p1, limit, arl0, signal = run.p0, run.p1, run.limit, run.arl0, run.signal
        signal_index = run.signal.index
        per_year = plan.per_year
        cases = view.cases
        chosen = stream.case_index[keep]
        change = signal.change_index if signal.change_index is not None else 0
        # The cases counted since the change: entered since, not taken back by now.
        since = _still_counted(chosen[change:], run.sign[change:])
        call = np.asarray(view.cases["ai_call"].to_numpy())
        event_cases = since[call[since] == (0 if stream.metric == "sensitivity" else 1)]
        events = int(event_cases.size)
        n_since = max(int(since.size), 1)
        rate = events / n_since
        low, high = proportion_ci(events, n_since)
        critical = low > p1
        metric_value = 1.0 - rate
        versions = sorted(set(cases["device_version"].to_numpy()[since]))
        exam_ns = cases["exam_ns"].to_numpy()
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
                    "in_control_source": in_control.source_of(stream.metric),
                    "in_control_rate": p0,
                    "out_of_control_rate": p1,
                    "event": "miss" if stream.metric == "sensitivity" else "false positive",
                    "decision_limit": float(limit),
                    "arl0_observations": arl0,
                    "observations_per_year": per_year,
                    "charts_of_device": charts,
                    "chart_weight": plan.weight,
                    **(_family_evidence(family) if family is not None else {}),
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
