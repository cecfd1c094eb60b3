"""Evaluation: confusion counts and diagnostic rates per device x window x subgroup.

Counts are sufficient statistics: each cell's tp/fp/tn/fn/pending add up, and the
rates and Wilson intervals come from ``metrics``. Windows are calendar days,
weeks (Monday first) or months in the establishment's timezone, or ``all``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from metrics import ConfusionCounts, diagnostic_rates
from monitor.config import SUBGROUP_COLUMNS
from monitor.errors import MonitorError

__all__ = [
    "BY_COLUMNS",
    "RATE_NAMES",
    "WINDOWS",
    "Window",
    "add_age_band",
    "age_band_labels",
    "evaluate_cases",
]

Window = Literal["day", "week", "month", "all"]
WINDOWS: tuple[Window, ...] = ("day", "week", "month", "all")
RATE_NAMES = ("sensitivity", "specificity", "ppv", "npv")
BY_COLUMNS = SUBGROUP_COLUMNS
"""Columns ``--by`` accepts: canonical prediction columns that describe a subgroup."""


# Stands for a missing subgroup value while grouping (groupby drops NaN keys); sorts last.
_MISSING = "\uffffmissing"


def _fmt(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else f"{limit:g}"


def age_band_labels(limits: Sequence[float]) -> list[str]:
    """Labels of the bands cut at ``limits``: [18, 65] -> ['<18', '18-64', '>=65']."""
    if not limits:
        return ["all ages"]
    labels = [f"<{_fmt(limits[0])}"]
    for low, high in pairwise(limits):
        upper = (
            _fmt(high - 1)
            if float(high).is_integer() and float(low).is_integer()
            else f"<{_fmt(high)}"
        )
        labels.append(f"{_fmt(low)}-{upper}")
    labels.append(f">={_fmt(limits[-1])}")
    return labels


def add_age_band(cases: pd.DataFrame, limits: Sequence[float]) -> pd.DataFrame:
    """Add ``age_band`` (None where the age is unknown); bands are [low, high)."""
    edges = [-math.inf, *limits, math.inf]
    bands = pd.cut(cases["patient_age"], bins=edges, right=False, labels=age_band_labels(limits))
    cases["age_band"] = bands.astype(object).where(bands.notna(), None)
    return cases


def _window_start(local: pd.Series, window: Window) -> pd.Series:
    if window == "day":
        return local.dt.floor("D", ambiguous=False, nonexistent="shift_forward")
    naive = local.dt.tz_localize(None)
    if window == "week":
        starts = naive.dt.normalize() - pd.to_timedelta(naive.dt.weekday, unit="D")
    else:
        starts = naive.dt.to_period("M").dt.start_time
    return starts.dt.tz_localize(local.dt.tz, ambiguous=False, nonexistent="shift_forward")


def _window_end(start: pd.Timestamp, window: Window) -> pd.Timestamp:
    naive = start.tz_localize(None)
    if window == "day":
        end = naive + pd.DateOffset(days=1)
    elif window == "week":
        end = naive + pd.DateOffset(weeks=1)
    else:
        end = naive + pd.DateOffset(months=1)
    return pd.Timestamp(end).tz_localize(start.tz, ambiguous=False, nonexistent="shift_forward")


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


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
    """One result per device x window x ``by`` cell, in that order.

    Each result has the keys device_id, window_start, window_end, the ``by``
    columns, n, tp, fp, tn, fn, pending, and for each of sensitivity, specificity,
    ppv, npv the value with ``_low`` / ``_high`` Wilson bounds (None where the
    denominator is 0). ``n`` counts verified cases (tp + fp + tn + fn); cases
    excluded by an indeterminate policy are in neither n nor pending. Windows are
    ISO 8601 local date-times, start inclusive, end exclusive (the last window
    ends at ``as_of``). ``cases`` comes from :func:`monitor.linking.linked_cases`.
    """
    unknown = [c for c in by if c not in BY_COLUMNS]
    if unknown:
        raise MonitorError(
            f"cannot break down by {', '.join(unknown)}: use any of {', '.join(BY_COLUMNS)}"
        )
    if window not in WINDOWS:
        raise MonitorError(f"unknown window {window!r}: use one of {', '.join(WINDOWS)}")
    if cases.empty:
        return []
    frame = cases.copy()
    if "age_band" in by:
        frame = add_age_band(frame, age_bands)
    local = frame["exam_datetime"].dt.tz_convert(tz)
    as_of_local = pd.Timestamp(as_of).tz_convert(tz)
    if window == "all":
        frame["window_start"] = local.min().normalize()
    else:
        frame["window_start"] = _window_start(local, window)
    keys = ["device_id", "window_start", *by]
    for column in by:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    counts = (
        pd.crosstab(
            [frame[k].fillna(_MISSING) if k in by else frame[k] for k in keys],
            frame["status"],
        )
        .reindex(columns=["tp", "fp", "tn", "fn", "pending"], fill_value=0)
        .reset_index()
        .sort_values(keys)
    )
    results: list[dict[str, Any]] = []
    for row in counts.itertuples(index=False):
        values = row._asdict()
        start: pd.Timestamp = values["window_start"]
        end = as_of_local if window == "all" else min(_window_end(start, window), as_of_local)
        tally = ConfusionCounts(
            tp=int(values["tp"]), fp=int(values["fp"]), tn=int(values["tn"]), fn=int(values["fn"])
        )
        result: dict[str, Any] = {
            "device_id": values["device_id"],
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        }
        for column in by:
            value = values[column]
            result[column] = None if value == _MISSING else value
        result.update(
            n=tally.n,
            tp=tally.tp,
            fp=tally.fp,
            tn=tally.tn,
            fn=tally.fn,
            pending=int(values["pending"]),
        )
        for name, estimate in diagnostic_rates(tally, confidence).items():
            result[name] = _none_if_nan(estimate.value)
            result[f"{name}_low"] = _none_if_nan(estimate.low)
            result[f"{name}_high"] = _none_if_nan(estimate.high)
        results.append(result)
    return results
