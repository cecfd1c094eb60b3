"""Evaluation: performance per device x window x subgroup cell, as of a date.

The engine works on *cell counts* (confusion counts per device x version x
subgroup values x local exam day, :mod:`monitor.cells`): a breakdown sums them
per window and requested dimensions, and the statistics come vectorised from
``metrics``. Its cost grows with the number of cells, not of exams. Windows are
calendar days, weeks (Monday first), months or quarters in the establishment's
timezone, the trailing ``rolling`` N days, or ``all``. Per-case statistics (AUC
by DeLong, calibration slope) read only the cases of the requested device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import date, datetime
from itertools import combinations
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from metrics import (
    BINARY_METRIC_NAMES,
    auc_ci,
    begg_greenes,
    benjamini_hochberg,
    binary_metrics_array,
    brier_from_sums,
    calibration_intercept_slope,
    compare_subgroups,
    compare_to_claim,
    ece_from_bins,
    holm,
    proportion_ci_array,
    sample_size_array,
)
from monitor.cells import COUNT_COLUMNS, SCORE_BINS, CellSettings, cell_frame, cells_from_cases
from monitor.errors import MonitorError
from monitor.subgroups import BY_COLUMNS, add_age_band, age_band_labels

__all__ = [
    "BY_COLUMNS",
    "DEFAULT_METRICS",
    "METRICS",
    "RATE_NAMES",
    "WINDOWS",
    "Claims",
    "EvaluationOptions",
    "OperatingPoints",
    "Window",
    "add_age_band",
    "age_band_labels",
    "all_breakdowns",
    "evaluate_breakdowns",
    "evaluate_cases",
    "evaluate_cells",
    "records",
]

Window = Literal["day", "week", "month", "quarter", "rolling", "all"]
WINDOWS: tuple[Window, ...] = ("day", "week", "month", "quarter", "rolling", "all")
RATE_NAMES = ("sensitivity", "specificity", "ppv", "npv")
DEFAULT_METRICS = RATE_NAMES
"""Metrics reported when none are chosen (the original ``evaluate`` keys)."""
PER_CASE_METRICS = ("auc", "calibration", "operating_points")
BIN_METRICS = ("brier", "ece")
METRICS: tuple[str, ...] = (
    *BINARY_METRIC_NAMES,
    *PER_CASE_METRICS,
    *BIN_METRICS,
    "verification",
    "claim",
    "vs_rest",
)
"""Every metric ``--metrics`` accepts. ``calibration`` gives intercept and slope;
``verification`` the Begg-Greenes corrected sensitivity and specificity; ``claim``
sensitivity and specificity against the device's claim; ``vs_rest`` each subgroup
against the rest of its device in the same window; ``operating_points`` the sensitivity
and specificity at each operating point the registry declares, from the scores."""

_COMPARED = {"sensitivity": ("tp", "fn"), "specificity": ("tn", "fp")}
Claims = Mapping[str, tuple[float | None, float | None]]
"""device id -> (claimed sensitivity, claimed specificity)."""
OperatingPoints = Mapping[str, Sequence[tuple[str, float, float]]]
"""device id -> its declared operating points: (name, threshold on the device's scale,
the same threshold on 0..1)."""

_MISSING = "\uffff"  # stands for a missing subgroup value while grouping; sorts last
_ECE_BINS = 10


@dataclass(frozen=True)
class EvaluationOptions:
    """What to compute. ``min_n``: verified cases below which a cell is flagged too small;
    ``half_width``: the sensitivity precision the sample-size guidance aims at."""

    window: Window = "all"
    rolling_days: int = 30
    metrics: tuple[str, ...] = DEFAULT_METRICS
    confidence: float = 0.95
    method: str = "wilson"
    min_n: int = 30
    half_width: float = 0.05

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise MonitorError(f"unknown window {self.window!r}: use one of {', '.join(WINDOWS)}")
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise MonitorError(
                f"unknown metric {', '.join(unknown)}: use any of {', '.join(METRICS)}"
            )
        if self.rolling_days < 1:
            raise MonitorError(f"rolling window must be >= 1 day, got {self.rolling_days}")


def _check_by(by: Sequence[str]) -> None:
    unknown = [c for c in by if c not in BY_COLUMNS]
    if unknown:
        raise MonitorError(
            f"cannot break down by {', '.join(unknown)}: use any of {', '.join(BY_COLUMNS)}"
        )
    if len(set(by)) != len(by):
        raise MonitorError(f"a breakdown names a dimension twice: {', '.join(by)}")


def all_breakdowns(dimensions: Sequence[str]) -> list[tuple[str, ...]]:
    """The whole device, each dimension, and each intersection of two dimensions."""
    _check_by(dimensions)
    return [(), *((d,) for d in dimensions), *combinations(dimensions, 2)]


def _window_starts(days: pd.Series, window: Window, first: pd.Timestamp) -> pd.Series:
    """Start (naive local date) of the window holding each exam day."""
    if window == "day":
        return days
    if window == "week":
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    if window == "month":
        return days.dt.to_period("M").dt.start_time
    if window == "quarter":
        return days.dt.to_period("Q").dt.start_time
    return pd.Series(first, index=days.index)


def _next_start(starts: pd.Series, window: Window) -> pd.Series:
    offsets = {
        "day": pd.DateOffset(days=1),
        "week": pd.DateOffset(weeks=1),
        "month": pd.DateOffset(months=1),
        "quarter": pd.DateOffset(months=3),
    }
    return starts + offsets[window]


def _localise(naive: pd.Series, tz: ZoneInfo) -> pd.Series:
    return naive.dt.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")


def _with_windows(
    counts: pd.DataFrame,
    as_of: datetime,
    tz: ZoneInfo,
    options: EvaluationOptions,
    first_day: date | None = None,
) -> pd.DataFrame:
    """Counts with ``window_start``/``window_end`` (aware local) columns, filtered.

    ``first_day`` starts the ``all`` window (default: the first day in ``counts``)."""
    as_of_local = pd.Timestamp(as_of).tz_convert(tz)
    as_of_day = as_of_local.tz_localize(None).normalize()
    days = counts["exam_day"]
    if not pd.api.types.is_datetime64_dtype(days):
        days = pd.to_datetime(days)
    frame = counts.loc[days <= as_of_day].copy()
    days = days.loc[frame.index]
    if options.window == "rolling":
        first = as_of_day - pd.Timedelta(days=options.rolling_days - 1)
        keep = days >= first
        frame, days = frame.loc[keep].copy(), days.loc[keep]
    elif first_day is not None:
        first = pd.Timestamp(first_day)
    else:
        first = days.min() if len(days) else as_of_day
    starts = _window_starts(days, options.window, first)
    unique = pd.Series(starts.unique())
    if options.window in ("all", "rolling"):
        ends = pd.Series([as_of_local] * len(unique), dtype=f"datetime64[ns, {tz.key}]")
    else:
        ends = _localise(_next_start(unique, options.window), tz).where(
            lambda e: e < as_of_local, as_of_local
        )
    start_map = dict(zip(unique, _localise(unique, tz), strict=True))
    end_map = dict(zip(unique, ends, strict=True))
    frame["window_start"] = starts.map(start_map)
    frame["window_end"] = starts.map(end_map)
    return frame


@dataclass(frozen=True)
class _Coded:
    """The windowed cell counts as integer codes, factorised once for all breakdowns."""

    codes: dict[str, np.ndarray]
    labels: dict[str, Any]
    window_end: pd.DatetimeIndex
    counts: np.ndarray  # rows x COUNT_COLUMNS, int64


def _coded(frame: pd.DataFrame, dims: Sequence[str]) -> _Coded:
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, Any] = {}
    for column in ["device_id", "window_start", *dims]:
        code, unique = pd.factorize(frame[column], sort=True)
        codes[column] = code.astype(np.int64)
        if column in dims:
            values = np.asarray(unique, dtype=object)
            values[values == _MISSING] = None
            unique = values
        labels[column] = unique
    ends = np.empty(len(labels["window_start"]), dtype=object)
    ends[codes["window_start"]] = frame["window_end"].to_numpy(dtype=object)
    return _Coded(
        codes=codes,
        labels=labels,
        window_end=pd.DatetimeIndex(list(ends)),
        counts=frame[list(COUNT_COLUMNS)].to_numpy(np.int64),
    )


def _grouped(coded: _Coded, by: Sequence[str], dims: Sequence[str]) -> dict[str, Any]:
    """Counts summed per device x window x ``by`` cell, sorted (missing values last),
    as columns; dimensions of ``dims`` outside ``by`` are None."""
    names = ["device_id", "window_start", *by]
    shape = tuple(len(coded.labels[n]) for n in names)
    key = np.ravel_multi_index([coded.codes[n] for n in names], shape)
    size = int(np.prod(shape))
    if size <= max(1 << 20, 4 * len(key)):
        # Small key space (the usual case): one bincount per column, no sort.
        cells = np.flatnonzero(np.bincount(key, minlength=size))
        inverse = np.searchsorted(cells, key)
    else:
        cells, inverse = np.unique(key, return_inverse=True)
    parts = np.unravel_index(cells, shape)
    columns: dict[str, Any] = {n: coded.labels[n][p] for n, p in zip(names, parts, strict=True)}
    columns["window_end"] = coded.window_end[parts[1]]
    for dim in dims:
        if dim not in by:
            columns[dim] = np.full(len(cells), None, dtype=object)
    sums = {
        name: np.bincount(inverse, weights=coded.counts[:, j], minlength=len(cells)).astype(
            np.int64
        )
        for j, name in enumerate(COUNT_COLUMNS)
    }
    ordered = {
        "device_id": columns["device_id"],
        "window_start": columns["window_start"],
        "window_end": columns["window_end"],
    }
    ordered.update((dim, columns[dim]) for dim in dims)
    ordered["n"] = sums["tp"] + sums["fp"] + sums["tn"] + sums["fn"]
    ordered.update((name, sums[name]) for name in ("tp", "fp", "tn", "fn"))
    ordered["pending"] = sums["pending_positive"] + sums["pending_negative"]
    ordered["pending_positive"] = sums["pending_positive"]
    ordered["pending_negative"] = sums["pending_negative"]
    return ordered


def _add_binary(columns: dict[str, Any], options: EvaluationOptions) -> None:
    wanted = [m for m in options.metrics if m in BINARY_METRIC_NAMES]
    if not wanted:
        return
    estimates = binary_metrics_array(
        columns["tp"],
        columns["fp"],
        columns["tn"],
        columns["fn"],
        confidence=options.confidence,
        method=options.method,
    )
    for name in wanted:
        value, low, high = estimates[name]
        columns[name] = value
        columns[f"{name}_low"] = low
        columns[f"{name}_high"] = high


def _add_verification(cells: pd.DataFrame, options: EvaluationOptions) -> None:
    """Begg-Greenes: cases awaiting truth are the unverified exams of their AI call."""
    names = (
        "sensitivity_corrected",
        "sensitivity_corrected_low",
        "sensitivity_corrected_high",
        "specificity_corrected",
        "specificity_corrected_low",
        "specificity_corrected_high",
        "verified_rate_positive",
        "verified_rate_negative",
    )
    columns = ["tp", "fp", "tn", "fn", "pending_positive", "pending_negative"]
    rows = [
        astuple(begg_greenes(tp, fp, tn, fn, up, un, options.confidence))
        for tp, fp, tn, fn, up, un in cells[columns].astype(int).itertuples(index=False, name=None)
    ]
    values = np.array(rows, dtype=float).reshape(len(cells), len(names))
    for index, name in enumerate(names):
        cells[name] = values[:, index]


def _add_claim(cells: pd.DataFrame, options: EvaluationOptions, claims: Claims) -> None:
    """One-sided exact binomial test of each rate against the claim; below when the
    whole interval lies under it."""
    for index, (name, (hit, miss)) in enumerate(_COMPARED.items()):
        claimed_col, p_col, below_col = [], [], []
        for device, k, other in cells[["device_id", hit, miss]].itertuples(index=False):
            claimed = (claims.get(device) or (None, None))[index]
            if claimed is None:
                claimed_col.append(math.nan)
                p_col.append(math.nan)
                below_col.append(False)
                continue
            result = compare_to_claim(
                int(k), int(k + other), claimed, "less", options.confidence, options.method
            )
            claimed_col.append(claimed)
            p_col.append(result.p_value)
            below_col.append(result.below_claim)
        cells[f"{name}_claimed"] = claimed_col
        cells[f"{name}_claim_p"] = p_col
        cells[f"{name}_below_claim"] = below_col


def _add_vs_rest(cells: pd.DataFrame, by: Sequence[str], options: EvaluationOptions) -> None:
    """Each subgroup against the rest of its device and window (Newcombe, Fisher);
    the p-values are adjusted later, across every subgroup of the evaluation."""
    group_keys = ["device_id", "window_start"]
    for name, (hit, miss) in _COMPARED.items():
        columns = {key: np.full(len(cells), np.nan) for key in ("", "_low", "_high", "_p")}
        if by:
            for _, group in cells.groupby(group_keys, sort=False):
                subgroups = [
                    (str(i), int(k), int(k + other))
                    for i, k, other in zip(group.index, group[hit], group[miss], strict=True)
                ]
                for comparison in compare_subgroups(subgroups, options.confidence):
                    row = cells.index.get_loc(int(comparison.label))
                    columns[""][row] = comparison.difference
                    columns["_low"][row] = comparison.low
                    columns["_high"][row] = comparison.high
                    columns["_p"][row] = comparison.p_value
        for suffix, values in columns.items():
            cells[f"{name}_vs_rest{suffix}"] = values


def _adjust_vs_rest(cells: pd.DataFrame) -> None:
    """Holm and Benjamini-Hochberg per device and metric, across all subgroups tested."""
    for name in _COMPARED:
        raw = cells[f"{name}_vs_rest_p"].to_numpy(float)
        holm_p = np.full(len(cells), np.nan)
        bh_p = np.full(len(cells), np.nan)
        for device in cells["device_id"].unique():
            mine = (cells["device_id"] == device).to_numpy()
            holm_p[mine] = holm(raw[mine])
            bh_p[mine] = benjamini_hochberg(raw[mine])
        cells[f"{name}_vs_rest_p_holm"] = holm_p
        cells[f"{name}_vs_rest_p_bh"] = bh_p


def _sample_size(
    columns: dict[str, Any], options: EvaluationOptions, claims: Claims
) -> dict[str, Any]:
    """``too_small`` (n < min_n) and, for small cells, Buderer's positives and exams
    for the sensitivity (claimed, else observed) to ``half_width``."""
    n = columns["n"].astype(float)
    small = n < options.min_n
    positives = (columns["tp"] + columns["fn"]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = columns["tp"] / positives
        prevalence = np.where(n > 0, positives / n, np.nan)
    device_claims = {d: (claims.get(d) or (None, None))[0] for d in set(columns["device_id"])}
    claimed = np.array([device_claims[d] for d in columns["device_id"]], dtype=float)  # None -> nan
    expected = np.where(np.isnan(claimed), observed, claimed)
    usable = small & (expected > 0) & (expected < 1)
    needed = np.full(len(n), np.nan)
    exams = np.full(len(n), np.nan)
    if usable.any():
        cases, total = sample_size_array(
            expected[usable], options.half_width, prevalence[usable], options.confidence
        )
        needed[usable] = cases
        exams[usable] = np.where(total >= 0, total, np.nan)
    return {"too_small": small, "positives_needed": needed, "exams_needed": exams}


def _concat(arrays: list[Any]) -> Any:
    if isinstance(arrays[0], pd.DatetimeIndex):
        return arrays[0].append(arrays[1:]) if len(arrays) > 1 else arrays[0]
    return np.concatenate(arrays)


def _cell_keys(by: Sequence[str]) -> list[str]:
    return ["device_id", "window_start", "window_end", *by]


def _add_bin_metrics(
    cells: pd.DataFrame,
    bins: pd.DataFrame,
    by: Sequence[str],
    as_of: datetime,
    tz: ZoneInfo,
    options: EvaluationOptions,
) -> None:
    labelled = bins[bins["truth"] != "unknown"].copy()
    labelled["positive"] = np.where(labelled["truth"] == "positive", labelled["n"], 0)
    labelled["positive_score_sum"] = np.where(
        labelled["truth"] == "positive", labelled["score_sum"], 0.0
    )
    labelled["ece_bin"] = labelled["bin"] * _ECE_BINS // SCORE_BINS
    windowed = _with_windows(labelled, as_of, tz, options)
    keys = _cell_keys(by)
    for column in by:
        windowed[column] = windowed[column].replace("", _MISSING)
    values = ["n", "score_sum", "score_sq_sum", "positive", "positive_score_sum"]
    per_bin = windowed.groupby([*keys, "ece_bin"], sort=False)[values].sum().reset_index()
    results: dict[tuple[Any, ...], tuple[float, float]] = {}
    for key, group in per_bin.groupby(keys, sort=False):
        brier = brier_from_sums(
            int(group["n"].sum()),
            float(group["score_sum"].sum()),
            float(group["score_sq_sum"].sum()),
            float(group["positive_score_sum"].sum()),
            int(group["positive"].sum()),
        )
        ece = ece_from_bins(
            group["n"].to_numpy(float),
            group["score_sum"].to_numpy(float),
            group["positive"].to_numpy(float),
        )
        results[tuple(None if v == _MISSING else v for v in key)] = (brier, ece)
    lookup = [results.get(tuple(row), (math.nan, math.nan)) for row in _key_rows(cells, keys)]
    if "brier" in options.metrics:
        cells["brier"] = [b for b, _ in lookup]
    if "ece" in options.metrics:
        cells["ece"] = [e for _, e in lookup]


def _key_rows(cells: pd.DataFrame, keys: list[str]) -> list[tuple[Any, ...]]:
    return list(cells[keys].itertuples(index=False, name=None))


def _add_per_case(
    cells: pd.DataFrame,
    cases: pd.DataFrame,
    by: Sequence[str],
    settings: CellSettings,
    as_of: datetime,
    options: EvaluationOptions,
) -> None:
    frame = cell_frame(cases, settings)
    frame = frame[frame["truth"].isin(["positive", "negative"]) & frame["ai_score"].notna()]
    frame = frame.assign(**dict.fromkeys(COUNT_COLUMNS, 0))
    frame["exam_day"] = pd.to_datetime(frame["exam_day"])
    windowed = _with_windows(frame, as_of, settings.tz, options)
    keys = _cell_keys(by)
    for column in by:
        windowed[column] = windowed[column].replace("", _MISSING)
    results: dict[tuple[Any, ...], tuple[float, ...]] = {}
    for key, group in windowed.groupby(keys, sort=False):
        y = (group["truth"] == "positive").to_numpy(int)
        scores = group["ai_score"].to_numpy(float)
        auc = auc_ci(y, scores, options.confidence) if "auc" in options.metrics else None
        fit = calibration_intercept_slope(y, scores) if "calibration" in options.metrics else None
        results[tuple(None if v == _MISSING else v for v in key)] = (
            *(auc or (math.nan,) * 3),
            *((fit.intercept, fit.slope) if fit else (math.nan, math.nan)),
        )
    empty = (math.nan,) * 5
    lookup = [results.get(row, empty) for row in _key_rows(cells, keys)]
    if "auc" in options.metrics:
        for index, name in enumerate(("auc", "auc_low", "auc_high")):
            cells[name] = [values[index] for values in lookup]
    if "calibration" in options.metrics:
        cells["calibration_intercept"] = [values[3] for values in lookup]
        cells["calibration_slope"] = [values[4] for values in lookup]


def _point_rates(
    positive: np.ndarray,
    scores: np.ndarray,
    thresholds: Sequence[float],
    options: EvaluationOptions,
) -> list[dict[str, Any]]:
    """Sensitivity and specificity (with intervals) of the calls ``score >= t`` for
    each threshold ``t``."""
    called = np.array([scores >= t for t in thresholds]).reshape(len(thresholds), -1)
    hits = {
        "sensitivity": (called & positive).sum(axis=1),
        "specificity": (~called & ~positive).sum(axis=1),
    }
    totals = {"sensitivity": int(positive.sum()), "specificity": int((~positive).sum())}
    rates: list[dict[str, Any]] = [{} for _ in thresholds]
    for name, k in hits.items():
        n = np.full(len(thresholds), totals[name])
        low, high = proportion_ci_array(k, n, options.confidence, options.method)
        for i in range(len(thresholds)):
            rates[i][name] = _plain(float(k[i] / n[i])) if n[i] else None
            rates[i][f"{name}_low"] = _plain(float(low[i]))
            rates[i][f"{name}_high"] = _plain(float(high[i]))
    return rates


def _add_operating_points(
    cells: pd.DataFrame,
    cases: pd.DataFrame,
    by: Sequence[str],
    settings: CellSettings,
    as_of: datetime,
    options: EvaluationOptions,
    points: OperatingPoints,
) -> None:
    """``operating_points``: per cell, for each point its device declares, the
    sensitivity and specificity of the calls ``score >= threshold`` among the cases
    with a score and a determinate truth (None for a device without points)."""
    keys = _cell_keys(by)
    results: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    frame = cell_frame(
        cases[cases["device_id"].isin([d for d, p in points.items() if p])], settings
    )
    frame = frame[frame["truth"].isin(["positive", "negative"]) & frame["ai_score"].notna()]
    if len(frame):
        frame = frame.assign(**dict.fromkeys(COUNT_COLUMNS, 0))
        frame["exam_day"] = pd.to_datetime(frame["exam_day"])
        windowed = _with_windows(frame, as_of, settings.tz, options)
        for column in by:
            windowed[column] = windowed[column].replace("", _MISSING)
        for key, group in windowed.groupby(keys, sort=False):
            declared = points[str(key[0])]
            rates = _point_rates(
                (group["truth"] == "positive").to_numpy(),
                group["ai_score"].to_numpy(float),
                [unit for _, _, unit in declared],
                options,
            )
            results[tuple(None if v == _MISSING else v for v in key)] = [
                {"name": name, "threshold": threshold, "n": len(group), **rate}
                for (name, threshold, _), rate in zip(declared, rates, strict=True)
            ]
    cells["operating_points"] = [
        results.get(row, [] if points.get(str(row[0])) else None) for row in _key_rows(cells, keys)
    ]


def _with_extras(
    cells: pd.DataFrame,
    breakdowns: Sequence[Sequence[str]],
    options: EvaluationOptions,
    as_of: datetime,
    tz: ZoneInfo,
    claims: Claims | None,
    bins: pd.DataFrame | None,
    cases: pd.DataFrame | None,
    settings: CellSettings | None,
    points: OperatingPoints | None = None,
) -> pd.DataFrame:
    """The metrics computed per breakdown: score bins, per-case, Begg-Greenes, claims,
    subgroups against the rest (p-values adjusted across every breakdown)."""
    parts = []
    for by in breakdowns:
        part = cells.loc[cells["breakdown"] == (" x ".join(by) or "device")].copy()
        if any(m in BIN_METRICS for m in options.metrics):
            if bins is None:
                raise MonitorError("brier / ece need the score histograms (read with with_bins)")
            _add_bin_metrics(part, bins, by, as_of, tz, options)
        if any(m in PER_CASE_METRICS for m in options.metrics):
            if cases is None or settings is None:
                raise MonitorError(
                    "auc / calibration / operating_points need the linked cases and the "
                    "cell settings"
                )
            if any(m in ("auc", "calibration") for m in options.metrics):
                _add_per_case(part, cases, by, settings, as_of, options)
            if "operating_points" in options.metrics:
                _add_operating_points(part, cases, by, settings, as_of, options, points or {})
        if "verification" in options.metrics:
            _add_verification(part, options)
        if "claim" in options.metrics:
            _add_claim(part, options, claims or {})
        if "vs_rest" in options.metrics:
            _add_vs_rest(part, by, options)
        parts.append(part)
    result = pd.concat(parts) if len(parts) > 1 else parts[0]
    if "vs_rest" in options.metrics:
        _adjust_vs_rest(result)
    return result


def evaluate_breakdowns(
    counts: pd.DataFrame,
    breakdowns: Sequence[Sequence[str]],
    *,
    as_of: datetime,
    tz: ZoneInfo,
    options: EvaluationOptions = EvaluationOptions(),
    claims: Claims | None = None,
    bins: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    settings: CellSettings | None = None,
    first_day: date | None = None,
    operating_points: OperatingPoints | None = None,
) -> pd.DataFrame:
    """:func:`evaluate_cells` for several breakdowns at once, windows cut once.

    The rows of each breakdown in turn, with a ``breakdown`` column naming it
    (``"device"``, ``"site"``, ``"site x age_band"``); columns of dimensions a
    breakdown does not use are None.
    """
    breakdowns = list(dict.fromkeys(tuple(by) for by in breakdowns))
    for by in breakdowns:
        _check_by(by)
    if counts.empty:
        return pd.DataFrame()
    frame = _with_windows(counts, as_of, tz, options, first_day)
    if frame.empty:
        return pd.DataFrame()
    used = list(dict.fromkeys(c for by in breakdowns for c in by))
    for column in used:
        frame[column] = frame[column].replace("", _MISSING).fillna(_MISSING)
    coded = _coded(frame, used)
    grouped = []
    for by in breakdowns:
        columns = _grouped(coded, by, used)
        label = np.full(len(columns["n"]), " x ".join(by) or "device", dtype=object)
        grouped.append({"breakdown": label, **columns})
    # One pass of the statistics over every cell of every breakdown.
    joined = {name: _concat([g[name] for g in grouped]) for name in grouped[0]}
    if "verification" not in options.metrics:
        del joined["pending_positive"], joined["pending_negative"]
    _add_binary(joined, options)
    guidance = _sample_size(joined, options, claims or {})
    cells = pd.DataFrame(joined)
    if any(m not in BINARY_METRIC_NAMES for m in options.metrics):
        cells = _with_extras(
            cells, breakdowns, options, as_of, tz, claims, bins, cases, settings, operating_points
        )
    return cells.assign(**guidance).reset_index(drop=True)


def evaluate_cells(
    counts: pd.DataFrame,
    *,
    as_of: datetime,
    tz: ZoneInfo,
    by: Sequence[str] = (),
    options: EvaluationOptions = EvaluationOptions(),
    claims: Claims | None = None,
    bins: pd.DataFrame | None = None,
    cases: pd.DataFrame | None = None,
    settings: CellSettings | None = None,
    first_day: date | None = None,
    operating_points: OperatingPoints | None = None,
) -> pd.DataFrame:
    """One row per device x window x ``by`` cell, sorted, as a DataFrame.

    ``counts``: cell counts (:func:`monitor.cells.read_cells`, day or month grain;
    month grain only for month, quarter and ``all`` windows). Columns: device_id,
    window_start, window_end (aware local timestamps; start inclusive, end
    exclusive, the last window ends at ``as_of``; ``all`` starts at ``first_day``
    or the first day in ``counts``), the ``by`` columns (None where the value is
    missing), n (tp + fp + tn + fn), tp, fp, tn, fn, pending, each chosen metric
    with ``_low``/``_high`` (nan when undefined), ``too_small`` (n < ``min_n``)
    and, for small cells, ``positives_needed`` / ``exams_needed`` to estimate
    sensitivity to ``half_width`` (Buderer), from the claimed sensitivity in
    ``claims`` (else the observed). ``brier``/``ece`` need ``bins`` (day grain);
    ``auc``, ``calibration`` and ``operating_points`` need ``cases`` (linked cases
    of the same devices) and ``settings``; ``operating_points`` the devices' points
    (:data:`OperatingPoints`), and gives per cell a list of {name, threshold, n,
    sensitivity, specificity and their bounds} (None for a device without points).
    """
    cells = evaluate_breakdowns(
        counts,
        [by],
        as_of=as_of,
        tz=tz,
        options=options,
        claims=claims,
        bins=bins,
        cases=cases,
        settings=settings,
        first_day=first_day,
        operating_points=operating_points,
    )
    return cells.drop(columns=["breakdown"]) if not cells.empty else cells


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(cells: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as plain dicts: ISO 8601 windows, None for nan, Python numbers."""
    columns = list(cells.columns)
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in cells.itertuples(index=False, name=None)
    ]


def evaluate_cases(
    cases: pd.DataFrame,
    *,
    as_of: datetime,
    tz: ZoneInfo,
    by: Sequence[str] = (),
    window: Window = "all",
    age_bands: Sequence[float] = (),
    confidence: float = 0.95,
) -> list[dict[str, Any]]:
    """The in-memory path: evaluate a case frame (:func:`monitor.linking.linked_cases`).

    Same cells, keys and numbers as the database path; the rates are sensitivity,
    specificity, PPV and NPV with Wilson intervals.
    """
    settings = CellSettings(tz.key, tuple(age_bands))
    counts = cells_from_cases(cases, settings)
    options = EvaluationOptions(window=window, confidence=confidence)
    cells = evaluate_cells(counts, as_of=as_of, tz=tz, by=by, options=options)
    return records(cells.drop(columns=["too_small", "positives_needed", "exams_needed"]))
