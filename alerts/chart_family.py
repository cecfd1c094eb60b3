"""A device's CUSUM charts calibrated together, so their false alarms spend the budget.

Every version x subgroup x metric chart of a device watches overlapping cases: the
whole-device chart holds every case a manufacturer's chart holds. Splitting the
false-alarm budget among the charts as if they were independent (Bonferroni) leaves
most of it unspent, and every limit higher, and every alarm later, than it needs to
be. Here the family is calibrated jointly, by simulation from the in-control model
with the device's real structure (parametric bootstrap):

- a year of observations is laid out as the device's last year of arrivals (or its
  whole history repeated to a year while it is young): the order in which verified
  positives and negatives arrived and the slices each case belongs to are the real
  ones; only the outcome of each observation is drawn, an event with the in-control
  probability p0;
- each chart j gets a *weight* from a hierarchical design (:func:`chart_weight`):
  the whole device 1, each dimension 1 shared among its values, a version's charts
  shared among the active versions; its limit gives it an in-control ARL of
  ``observations per year / (theta x weight)`` observations (about ``theta x weight``
  false alarms a year on its own);
- the one free parameter theta is set so that the probability of at least one
  false alarm of the family in a year equals ``1 - exp(-budget)`` (a Poisson rate of
  ``budget`` alarms a year): in replicate r the family first alarms at the smallest
  theta any chart's maximum statistic reaches, so theta is a quantile of those.

A chart's in-control ARL at a limit comes from the Markov chain of
:func:`metrics.sequential.bernoulli_cusum_arl_curve`; the simulation only sets the
scale. Calibrations are memoised by the family's *signature* (charts, weights,
rates and volumes rounded): a new slice, a new version or a volume doubling
recalibrates; nothing else does.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metrics.sequential import bernoulli_cusum_arl_curve

__all__ = [
    "FamilyCalibration",
    "FamilyChart",
    "FamilyStream",
    "calibrate_family",
    "chart_weight",
    "cusum_limit",
]

H_MAX = 30.0
"""Largest decision limit the ARL curves cover (ARL far beyond any budget)."""
SIMULATED_MAX = 60_000
"""Observations of a stream's simulated year at most: a busier year is sampled (every
k-th arrival, order and slices kept). Theta is a rate per year per unit of weight,
and a chart's maximum over n observations grows like log n as its ARL grows like n,
so it barely depends on the volume; the cost and memory of a calibration then stop
growing with the device's."""
MAX_CELLS = 1.5e8
"""Replicates x charted observations simulated at most per calibration."""
MIN_REPLICATES, MAX_REPLICATES = 200, 500


def _curve(p0: float, p1: float) -> tuple[np.ndarray, np.ndarray]:
    h, arl = bernoulli_cusum_arl_curve(p0, p1, H_MAX, points=121)
    return h, np.log(arl)


def cusum_limit(p0: float, p1: float, arl0: float) -> float:
    """Decision limit whose in-control ARL is ``arl0`` observations (interpolated on
    the chain's ARL curve; at least the curve's first point, at most H_MAX)."""
    h, log_arl = _curve(p0, p1)
    return float(np.interp(math.log(max(arl0, 1.0)), log_arl, h))


def _arl_at(p0: float, p1: float, statistic: np.ndarray) -> np.ndarray:
    """In-control ARL of a chart whose limit is ``statistic`` (the ARL curve read back)."""
    h, log_arl = _curve(p0, p1)
    arl: np.ndarray = np.exp(np.interp(statistic, h, log_arl, left=0.0))
    return arl


def chart_weight(
    version: str | None,
    subgroup: tuple[str, str] | None,
    versions: int,
    values: dict[str, int],
) -> float:
    """A chart's share in the hierarchical design: the version level (all versions 1,
    one of ``versions`` active versions 1/versions) times the subgroup level (whole
    1, one of a dimension's ``values[dimension]`` values 1/values)."""
    weight = 1.0 if version is None else 1.0 / max(versions, 1)
    if subgroup is not None:
        weight /= max(values.get(subgroup[0], 1), 1)
    return weight


@dataclass(frozen=True)
class FamilyChart:
    """One chart of the family: which observations of its stream it holds."""

    key: str
    weight: float
    per_year: float
    positions: np.ndarray
    """Indices into the stream's simulated year of the observations this chart holds."""
    p0: float | None = None
    """The chart's own in-control rate when it differs from the stream's."""
    p1: float | None = None

    def rates(self, stream: FamilyStream) -> tuple[float, float]:
        return (self.p0 or stream.p0, self.p1 or stream.p1)


@dataclass(frozen=True)
class FamilyStream:
    """One metric's simulated year: its length, in-control and design rates, charts."""

    metric: str
    p0: float
    p1: float
    observations: int
    charts: tuple[FamilyChart, ...]
    rates: np.ndarray | None = None
    """Each simulated observation's in-control rate (None: ``p0`` for all): a case in
    a slice charted from its own, worse level is drawn at that level."""


@dataclass(frozen=True)
class FamilyCalibration:
    """The calibrated scale of a family and what it spends.

    ``theta`` sets each chart's in-control ARL (:meth:`arl0`). ``realised`` is the
    simulated rate of the family's false alarms a year at theta (the budget up to
    the simulation's error, ``realised_interval`` its 95 % interval); ``bonferroni``
    what the same limits would be credited with if the charts were independent (the
    sum of their own rates), i.e. how much overlap the joint design recovers.
    """

    theta: float
    budget: float
    realised: float
    realised_interval: tuple[float, float]
    bonferroni: float
    replicates: int
    charts: int
    signature: str

    def arl0(self, per_year: float, weight: float) -> float:
        """In-control ARL (observations) of a chart with that volume and weight."""
        return max(1.0, per_year / (self.theta * weight))


def _band(rate: float) -> int:
    """A rate's band of 20 log-spaced steps a decade (12 %): theta barely moves within."""
    return round(math.log10(max(rate, 1e-9)) * 20)


def signature(streams: Sequence[FamilyStream], budget: float) -> str:
    """What a calibration depends on, rounded: charts, weights, the streams' rates (12 %
    bands), volume (doublings).

    Theta is the chart's false alarms a year per unit of weight: what a small change
    of rate or volume moves is the limit, which follows it exactly (:meth:`arl0`), not
    the overlap between charts theta corrects for. The slices' shares of the volume
    are left out for the same reason: they move a little every day; so is whether,
    and at which level, a slice is charted from a level of its own: measured on a
    baseline that grows daily, near the threshold it came and went on most days of a
    busy year (12 recalibrations of 20 checks at a million exams, 6 s each), while
    its chart's limit follows its level exactly."""
    parts: list[object] = [round(budget, 6)]
    for stream in streams:
        total = max(stream.observations, 1)
        parts.append((stream.metric, _band(stream.p0), _band(stream.p1 - stream.p0)))
        parts.append(round(math.log2(total)))
        parts += [(c.key, round(c.weight, 6)) for c in stream.charts]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _maxima(stream: FamilyStream, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Replicates x charts: the largest CUSUM statistic of each chart over the year."""
    out = np.zeros((replicates, len(stream.charts)))
    rates = np.full(stream.observations, stream.p0) if stream.rates is None else stream.rates
    if stream.observations == 0 or not stream.charts:
        return out
    members = sum(c.positions.size for c in stream.charts)
    chunk = max(1, min(replicates, int(4.0e7 // max(members, 1))))
    for start in range(0, replicates, chunk):
        rows = min(chunk, replicates - start)
        events = rng.random((rows, stream.observations), dtype=np.float32) < rates
        for j, chart in enumerate(stream.charts):
            if chart.positions.size == 0:
                continue
            p0, p1 = chart.rates(stream)
            up = np.float32(math.log(p1 / p0))
            down = np.float32(math.log1p(-p1) - math.log1p(-p0))
            c = np.cumsum(np.where(events[:, chart.positions], up, down), axis=1)
            floor = np.minimum(np.minimum.accumulate(c, axis=1), 0.0)
            out[start : start + rows, j] = (c - floor).max(axis=1)
    return out


def _to_rate(share: float) -> float:
    """A yearly probability of at least one alarm as a Poisson rate of alarms a year."""
    return -math.log1p(-min(max(share, 0.0), 0.999999))


def calibrate_family(
    streams: Sequence[FamilyStream], budget: float, *, seed: int = 0
) -> FamilyCalibration:
    """The theta at which the family raises ``budget`` false alarms a year (see module).

    The number of replicates shrinks as the family grows (500 at most, 200 at least,
    for a million observations a year). Deterministic for a given seed.
    ValueError for a budget <= 0 or a family without charts.
    """
    if not budget > 0.0:
        raise ValueError(f"budget must be > 0 false alarms a year, got {budget}")
    charts = [(s, c) for s in streams for c in s.charts if c.positions.size]
    if not charts:
        raise ValueError("a family needs at least one chart with observations")
    members = sum(c.positions.size for _, c in charts)
    replicates = int(min(MAX_REPLICATES, max(MIN_REPLICATES, MAX_CELLS // members)))
    rng = np.random.default_rng(seed)
    first_theta = np.full(replicates, np.inf)
    for stream in streams:
        maxima = _maxima(stream, replicates, rng)
        for j, chart in enumerate(stream.charts):
            if chart.positions.size == 0:
                continue
            arl = _arl_at(*chart.rates(stream), maxima[:, j])
            with np.errstate(divide="ignore"):
                # Observations in the simulated year: the real year, or a sample of it.
                theta_j = chart.positions.size / (chart.weight * np.maximum(arl, 1.0))
            first_theta = np.minimum(first_theta, theta_j)
    target = 1.0 - math.exp(-budget)
    theta = float(np.quantile(first_theta, target, method="inverted_cdf"))
    alarmed = int(np.count_nonzero(first_theta <= theta))
    share = alarmed / replicates
    half = 1.96 * math.sqrt(max(share * (1.0 - share), 1e-12) / replicates)
    total_weight = sum(c.weight for _, c in charts)
    return FamilyCalibration(
        theta=theta,
        budget=budget,
        realised=_to_rate(share),
        realised_interval=(_to_rate(share - half), _to_rate(share + half)),
        bonferroni=theta * total_weight,
        replicates=replicates,
        charts=len(charts),
        signature=signature(streams, budget),
    )


class CalibrationCache:
    """Calibrations by signature, most recent kept (a process-wide memo).

    ``used`` holds, by signature, the ones asked for since it was last emptied (for
    storage to keep); :meth:`put` adds one computed elsewhere (read back)."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[str, FamilyCalibration] = OrderedDict()
        self._size = size
        self.used: dict[str, FamilyCalibration] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def clear(self) -> None:
        """Forget every calibration (as a new process starts)."""
        self._items.clear()
        self.used = {}

    def put(self, calibration: FamilyCalibration) -> None:
        """Remember ``calibration`` under its signature."""
        self._items[calibration.signature] = calibration
        self._items.move_to_end(calibration.signature)
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def lookup(self, key: str) -> FamilyCalibration | None:
        """The calibration of signature ``key`` if known (then counted as used)."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            self.used[key] = found
        return found

    def get(self, streams: Sequence[FamilyStream], budget: float) -> FamilyCalibration:
        """The family's calibration, simulated once per signature (seeded by it)."""
        key = signature(streams, budget)
        found = self._items.get(key)
        if found is None:
            found = calibrate_family(streams, budget, seed=int(key[:8], 16))
            self.put(found)
        else:
            self._items.move_to_end(key)
        self.used[key] = found
        return found


CALIBRATIONS = CalibrationCache()
"""The process's calibrations (a replay recalibrates only when the family changes)."""
