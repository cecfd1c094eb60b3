"""Label-free views of a device: input/output drift and estimated against realised performance.

Both compare recent data with the device's reference period
(:func:`monitor.detection.reference_window`). The drift table is the native path
(:mod:`metrics.drift`, equal to Evidently's statistics); :func:`write_device_drift_report`
also saves Evidently's full HTML report for the quality review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from alerts.cases import NS_PER_DAY
from alerts.drift import DRIFT_COLUMNS, drift_table
from alerts.estimation import reference_calibrator
from metrics.estimation import estimate_from_scores
from metrics.proportions import proportion_ci
from monitor.config import Config
from monitor.detection import reference_window
from monitor.errors import MonitorError
from monitor.history import DeviceHistory, to_ns

__all__ = [
    "DriftFrames",
    "drift_frames",
    "drift_rows",
    "estimated_vs_realised",
    "write_device_drift_report",
]


def _local(ns: int, tz: ZoneInfo) -> str:
    return str(pd.Timestamp(ns, tz="UTC").tz_convert(tz).isoformat(timespec="seconds"))


@dataclass(frozen=True)
class DriftFrames:
    """The reference period's cases and the recent window's, with their bounds (UTC ns)."""

    reference: pd.DataFrame
    current: pd.DataFrame
    reference_window: tuple[int, int]
    window: tuple[int, int]


def drift_frames(history: DeviceHistory, config: Config, as_of_ns: int) -> DriftFrames:
    """The cases to compare as of ``as_of_ns``; MonitorError when the reference is not over."""
    tz = ZoneInfo(config.time.timezone)
    ref_start, ref_end = reference_window(history, config, tz)
    window = (as_of_ns - config.detection.drift_window_days * NS_PER_DAY, as_of_ns)
    if window[0] < ref_end:
        raise MonitorError(
            f"device {history.device.id!r}: the reference period ends {_local(ref_end, tz)}; "
            f"drift needs a window of {config.detection.drift_window_days} days after it "
            "(choose a later --as-of, or pin detection.references)"
        )
    cases = history.as_of(as_of_ns).cases
    exam = cases["exam_ns"].to_numpy()
    columns = [c for c in DRIFT_COLUMNS if c in cases.columns]
    return DriftFrames(
        reference=cases.loc[(exam >= ref_start) & (exam < ref_end), columns],
        current=cases.loc[exam > window[0], columns],
        reference_window=(ref_start, ref_end),
        window=window,
    )


def drift_rows(frames: DriftFrames, min_rows: int) -> list[dict[str, Any]]:
    """One row per compared column: method, score, threshold, drift flag, sizes."""
    return [
        {
            "column": d.column,
            "kind": d.kind,
            "method": d.result.method,
            "score": d.result.score,
            "threshold": d.result.threshold,
            "drift": bool(d.result.drift_detected),
            "n_reference": d.n_reference,
            "n_current": d.n_current,
        }
        for d in drift_table(frames.reference, frames.current, min_rows)
    ]


def write_device_drift_report(frames: DriftFrames, path: Path, title: str) -> Path:
    """Evidently's data drift report of ``frames`` as a self-contained HTML file."""
    from monitor.drift_report import write_drift_report

    def present(frame: pd.DataFrame, column: str) -> bool:
        return bool(frame[column].notna().any())

    usable = [
        c
        for c in frames.reference.columns
        if present(frames.reference, c) and present(frames.current, c)
    ]
    numeric = [c for c in usable if DRIFT_COLUMNS[c] == "numeric"]
    categorical = [c for c in usable if DRIFT_COLUMNS[c] == "categorical"]
    return write_drift_report(
        frames.reference[usable],
        frames.current[usable],
        path,
        numeric=numeric,
        categorical=categorical,
        title=title,
    )


def _month_starts(first_ns: int, last_ns: int, tz: ZoneInfo) -> list[int]:
    first = pd.Timestamp(first_ns, tz="UTC").tz_convert(tz)
    month = date(first.year, first.month, 1)
    starts: list[int] = []
    while True:
        start = to_ns(datetime.combine(month, datetime.min.time(), tzinfo=tz))
        if start > last_ns:
            return starts
        starts.append(start)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)


def estimated_vs_realised(
    history: DeviceHistory, config: Config, as_of_ns: int
) -> list[dict[str, Any]]:
    """Per calendar month after the reference: CBPE estimate and realised value as of now.

    The calibrator is fitted on the reference period's verified scored cases as known
    at ``as_of_ns``; each month's sensitivity and specificity are estimated from all
    its scored cases and compared with the realised values from its verified cases.
    MonitorError when the device has no scores or too few verified reference cases.
    """
    tz = ZoneInfo(config.time.timezone)
    confidence = config.evaluation.confidence
    ref_start, ref_end = reference_window(history, config, tz)
    view = history.as_of(as_of_ns)
    exam = view.cases["exam_ns"].to_numpy()
    scores = view.cases["ai_score"].to_numpy(dtype=np.float64)
    calls = view.cases["ai_call"].to_numpy()
    in_reference = (exam >= ref_start) & (exam < ref_end) & view.verified
    calibrator = reference_calibrator(scores[in_reference], view.truth[in_reference])
    if calibrator is None:
        raise MonitorError(
            f"device {history.device.id!r} has too few verified cases with an AI score in its "
            "reference period to calibrate scores (at least 100, both outcomes)"
        )
    rows = []
    starts = _month_starts(ref_end, as_of_ns, tz)
    for start, end in zip(starts, [*starts[1:], as_of_ns + 1], strict=True):
        inside = (exam >= max(start, ref_end)) & (exam < end) & (calls >= 0) & ~np.isnan(scores)
        if not inside.any():
            continue
        estimates = estimate_from_scores(calibrator, scores[inside], calls[inside], confidence)
        row: dict[str, Any] = {
            "window_start": _local(max(start, ref_end), tz),
            "window_end": _local(min(end, as_of_ns), tz),
            "cases": int(inside.sum()),
            "verified_share": float(view.verified[inside].mean()),
        }
        for metric, truth, correct_call in (("sensitivity", 1, 1), ("specificity", 0, 0)):
            estimate = estimates[metric]
            denominator = inside & view.verified & (view.truth == truth)
            n = int(denominator.sum())
            k = int((denominator & (calls == correct_call)).sum())
            low, high = proportion_ci(k, n, confidence, config.evaluation.interval_method)
            row[f"estimated_{metric}"] = estimate.estimate
            row[f"estimated_{metric}_low"] = estimate.low
            row[f"estimated_{metric}_high"] = estimate.high
            row[f"realised_{metric}"] = k / n if n else None
            row[f"realised_{metric}_low"] = low if n else None
            row[f"realised_{metric}_high"] = high if n else None
        rows.append(row)
    return rows
