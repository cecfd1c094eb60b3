"""The figures ``/metrics`` serves, computed by the ``evaluate`` job and stored.

:func:`compute_snapshots` evaluates every registered device as ``dmn-monitor
evaluate --window rolling --days 30|90`` does (same cells, same numbers), per
version (and all versions) x subgroup value (and the whole device), and stores
one :class:`~monitor.models.MetricSnapshot` per slice and window. The other
gauges (control charts as ``check`` runs them, drift scores, the CBPE estimate of
the last month, label delay quantiles) are stored as
:class:`~monitor.models.GaugeSnapshot` rows named by their Prometheus family.
A device's previous rows are replaced in the caller's transaction, so a scrape
sees either the old figures or the new ones, never a mix.

Labels are versions, subgroup dimensions and values, metric, drift column and
method names: never a patient or exam identifier.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alerts.cases import scope_parts
from alerts.charts import CHART_METRICS, chart_key
from monitor import registry
from monitor.cells import CellSettings, ensure_summaries
from monitor.config import Config
from monitor.control_charts import device_chart_paths
from monitor.errors import MonitorError
from monitor.evaluate_stored import evaluation_options, stored_evaluation
from monitor.history import DeviceHistory, to_ns
from monitor.kept_history import kept_history
from monitor.label_free import drift_frames, drift_rows, estimated_vs_realised
from monitor.models import GaugeSnapshot, MetricSnapshot, Prediction
from monitor.registry import DeviceSpec
from monitor.timeutil import end_of_day, utc_now

__all__ = [
    "ALL",
    "CLAIM_METRICS",
    "GAUGE_FAMILIES",
    "RATE_METRICS",
    "UNKNOWN",
    "WINDOWS",
    "SnapshotSummary",
    "compute_snapshots",
    "data_end",
    "label_delays",
    "slice_breakdowns",
]

log = logging.getLogger(__name__)

ALL = "all"
"""Label value for every version, and for the whole device (dimension and value)."""
UNKNOWN = "unknown"
"""Label value of a subgroup whose value is missing."""
WINDOWS: dict[str, int] = {"30d": 30, "90d": 90}
"""Trailing windows (label -> days up to the snapshot time)."""
RATE_METRICS = ("sensitivity", "specificity", "ppv", "npv")
"""The rates stored per slice, each with ``_low`` and ``_high``."""
CLAIM_METRICS = ("sensitivity", "specificity")
"""The rates compared with the device's claim."""
LABEL_DELAY_DAYS = 90
LABEL_DELAY_QUANTILES = (0.5, 0.9)

GAUGE_FAMILIES: dict[str, tuple[str, ...]] = {
    "dmn_monitor_cusum_statistic": ("version", "dimension", "value", "metric"),
    "dmn_monitor_cusum_decision_limit": ("version", "dimension", "value", "metric"),
    "dmn_monitor_cusum_signal": ("version", "dimension", "value", "metric"),
    "dmn_monitor_drift_score": ("column", "method"),
    "dmn_monitor_drift_threshold": ("column", "method"),
    "dmn_monitor_estimated_sensitivity_ratio": (),
    "dmn_monitor_estimated_specificity_ratio": (),
    "dmn_monitor_label_delay_seconds": ("quantile",),
}
"""The gauge families stored as GaugeSnapshot rows and their labels (besides ``device``)."""


@dataclass(frozen=True)
class SnapshotSummary:
    """What one computation stored. ``skipped`` explains each gauge group left out
    (e.g. drift before the reference period is over); ``seconds`` is wall time."""

    devices: int
    metric_rows: int
    gauge_rows: int
    skipped: tuple[str, ...]
    seconds: float


def slice_breakdowns(dimensions: Sequence[str]) -> list[tuple[str, ...]]:
    """The breakdowns of the snapshot slices: the device, versions, each subgroup
    dimension and each version x dimension (``device_version`` is the version axis)."""
    subgroups = [d for d in dict.fromkeys(dimensions) if d != "device_version"]
    plan: list[tuple[str, ...]] = [(), ("device_version",)]
    plan += [(d,) for d in subgroups]
    plan += [("device_version", d) for d in subgroups]
    return plan


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return UNKNOWN
    return str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _statistics(row: dict[str, Any]) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for metric in RATE_METRICS:
        for suffix in ("", "_low", "_high"):
            stats[f"{metric}{suffix}"] = _number(row.get(f"{metric}{suffix}"))
    for metric in CLAIM_METRICS:
        stats[f"{metric}_claimed"] = _number(row.get(f"{metric}_claimed"))
        stats[f"{metric}_claim_p"] = _number(row.get(f"{metric}_claim_p"))
        stats[f"{metric}_below_claim"] = bool(row.get(f"{metric}_below_claim"))
    stats["too_small"] = bool(row.get("too_small"))
    stats["window_start"] = row.get("window_start")
    stats["window_end"] = row.get("window_end")
    return stats


def _metric_rows(
    session: Session,
    config: Config,
    device_id: str,
    now: datetime,
    computed_at: datetime,
    known_at: datetime | None = None,
) -> list[MetricSnapshot]:
    tz = ZoneInfo(config.time.timezone)
    plan = slice_breakdowns(config.subgroups.dimensions)
    rows: list[MetricSnapshot] = []
    for window, days in WINDOWS.items():
        options = evaluation_options(
            config,
            window="rolling",
            rolling_days=days,
            metrics=(*RATE_METRICS, "claim"),
        )
        results = stored_evaluation(
            session,
            as_of=now,
            tz=tz,
            options=options,
            breakdowns=plan,
            device_id=device_id,
            known_at=known_at,
        )
        for result in results:
            label = result.get("breakdown", "device")
            parts = [] if label == "device" else label.split(" x ")
            subgroup = [p for p in parts if p != "device_version"]
            version = _label(result["device_version"]) if "device_version" in parts else ALL
            dimension = subgroup[0] if subgroup else ALL
            value = _label(result[dimension]) if subgroup else ALL
            rows.append(
                MetricSnapshot(
                    device_id=device_id,
                    device_version=version,
                    dimension=dimension,
                    value=value,
                    window=window,
                    as_of=now,
                    computed_at=computed_at,
                    n=int(result["n"]),
                    tp=int(result["tp"]),
                    fp=int(result["fp"]),
                    tn=int(result["tn"]),
                    fn=int(result["fn"]),
                    pending=int(result["pending"]),
                    statistics=_statistics(result),
                )
            )
    return rows


def _gauge(
    family: str, device_id: str, labels: dict[str, str], value: float, at: datetime
) -> GaugeSnapshot:
    return GaugeSnapshot(
        family=family, device_id=device_id, labels=labels, value=value, computed_at=at
    )


def _chart_gauges(
    session: Session,
    config: Config,
    history: DeviceHistory,
    now: datetime,
    computed_at: datetime,
) -> list[GaugeSnapshot]:
    """Every active chart's last statistic, decision limit and signal (statistic >= limit)."""
    view = history.as_of(to_ns(now))
    scopes = scope_parts(history.cases, config.subgroups.dimensions, history.text_codes).scopes(
        len(view)
    )
    keys = [chart_key(s.version, s.subgroup, m) for m in CHART_METRICS for s in scopes]
    device_id = history.device.id
    gauges: list[GaugeSnapshot] = []
    for path in device_chart_paths(session, config, history, now, keys):
        if path.statistic.size == 0:
            continue
        statistic = float(path.statistic[-1])
        labels = {
            "version": path.version if path.version is not None else ALL,
            "dimension": path.subgroup[0] if path.subgroup is not None else ALL,
            "value": _label(path.subgroup[1]) if path.subgroup is not None else ALL,
            "metric": path.metric,
        }
        signal = 1.0 if statistic >= path.limit else 0.0
        for family, value in (
            ("dmn_monitor_cusum_statistic", statistic),
            ("dmn_monitor_cusum_decision_limit", float(path.limit)),
            ("dmn_monitor_cusum_signal", signal),
        ):
            gauges.append(_gauge(family, device_id, dict(labels), value, computed_at))
    return gauges


def _drift_gauges(
    config: Config, history: DeviceHistory, now: datetime, computed_at: datetime
) -> list[GaugeSnapshot]:
    """Drift score and threshold per compared column; MonitorError before the
    reference period and a drift window after it are over."""
    frames = drift_frames(history, config, to_ns(now))
    gauges: list[GaugeSnapshot] = []
    for row in drift_rows(frames, config.detection.drift_min_exams):
        labels = {"column": str(row["column"]), "method": str(row["method"])}
        for family, key in (
            ("dmn_monitor_drift_score", "score"),
            ("dmn_monitor_drift_threshold", "threshold"),
        ):
            value = _number(row.get(key))
            if value is not None:
                gauges.append(_gauge(family, history.device.id, dict(labels), value, computed_at))
    return gauges


def _estimate_gauges(
    config: Config, history: DeviceHistory, now: datetime, computed_at: datetime
) -> list[GaugeSnapshot]:
    """The CBPE estimate of the last (current) calendar month; MonitorError without
    a calibrated reference."""
    rows = estimated_vs_realised(history, config, to_ns(now))
    if not rows:
        return []
    last = rows[-1]
    gauges = []
    for metric in CLAIM_METRICS:
        value = _number(last.get(f"estimated_{metric}"))
        if value is not None:
            family = f"dmn_monitor_estimated_{metric}_ratio"
            gauges.append(_gauge(family, history.device.id, {}, value, computed_at))
    return gauges


def label_delays(history: DeviceHistory, now: datetime) -> np.ndarray:
    """Label delays (seconds) of the cases whose outcome is dated in the last 90 days
    (local calendar days: the same wall-clock time 90 days before ``now``).

    A case's outcome is its best determinate outcome known at ``now`` (the first of
    its events in :class:`~monitor.history.DeviceHistory` order), so the delays are
    the ``label_delay_days`` of :func:`monitor.linking.linked_cases` without its
    per-device query.
    """
    now_ns = to_ns(now)
    view = history.as_of(now_ns)
    known = (history.event_ns <= now_ns) & (history.event_case < len(view))
    case_index = history.event_case[known]
    event_ns = history.event_ns[known]
    first = np.unique(case_index, return_index=True)[1]
    best_case, best_ns = case_index[first], event_ns[first]
    recent = best_ns > to_ns(now - timedelta(days=LABEL_DELAY_DAYS))
    exam_ns = view.cases["exam_ns"].to_numpy()[best_case[recent]]
    return np.asarray((best_ns[recent] - exam_ns) / 1e9, dtype=np.float64)


def _label_delay_gauges(
    history: DeviceHistory, now: datetime, computed_at: datetime
) -> list[GaugeSnapshot]:
    """Quantiles (seconds) of the label delay of the outcomes of the last 90 days."""
    delays = label_delays(history, now)
    if delays.size == 0:
        return []
    return [
        _gauge(
            "dmn_monitor_label_delay_seconds",
            history.device.id,
            {"quantile": str(q)},
            float(np.quantile(delays, q)),
            computed_at,
        )
        for q in LABEL_DELAY_QUANTILES
    ]


def _gauge_rows(
    session: Session,
    config: Config,
    device: DeviceSpec,
    now: datetime,
    computed_at: datetime,
    skipped: list[str],
    known_at: datetime | None = None,
) -> list[GaugeSnapshot]:
    """The gauges of ``device``: charts, drift and estimate as of ``now`` (its windows'
    end); label delays of the outcomes known at ``known_at`` (default ``now``) over the
    90 days up to the device's latest one (the day of it)."""
    known = known_at or now
    history, _ = kept_history(session, device, known, config.subgroups.age_bands, keep=False)
    if len(history.cases) == 0:
        return []
    arrived = history.event_ns[history.event_ns <= to_ns(known)]
    anchor = known
    if arrived.size:
        tz = ZoneInfo(config.time.timezone)
        latest = pd.Timestamp(int(arrived.max()), tz="UTC").tz_convert(tz).date()
        anchor = min(known, end_of_day(latest, tz))
    gauges = _label_delay_gauges(history, anchor, computed_at)
    gauges += _chart_gauges(session, config, history, now, computed_at)
    for name, compute in (("drift", _drift_gauges), ("estimate", _estimate_gauges)):
        try:
            gauges += compute(config, history, now, computed_at)
        except MonitorError as exc:
            skipped.append(f"{device.id}: {name}: {exc}")
    return gauges


def data_end(session: Session, device: DeviceSpec, now: datetime, tz: ZoneInfo) -> datetime:
    """Where a device's trailing windows end: ``now``, or the end of the local day of
    its latest exam when that is earlier (a device out of use, or a replayed history,
    keeps the figures of its last days - with the outcomes known now - instead of
    empty windows; its silence is what ``dmn_monitor_last_prediction_timestamp_seconds``
    shows)."""
    exam = session.scalar(
        select(func.max(Prediction.exam_datetime)).where(
            Prediction.device_id == device.id, Prediction.exam_datetime <= now
        )
    )
    if exam is None:
        return now
    return min(now, end_of_day(exam.astimezone(tz).date(), tz))


def compute_snapshots(
    session: Session,
    config: Config,
    now: datetime,
    *,
    computed_at: datetime | None = None,
) -> SnapshotSummary:
    """Compute and store the snapshots of every registered device as of ``now`` (aware),
    each device's performance windows ending at :func:`data_end` with the outcomes
    known at ``now``.

    Builds the case summaries if needed, then replaces each device's MetricSnapshot
    and GaugeSnapshot rows (and drops those of devices no longer registered) in the
    session's transaction; the caller commits. ``computed_at`` (default: the current
    time) is when ``/metrics`` says the snapshots were computed. Drift and estimate
    gauges a device cannot have yet (reference period not over, too few verified
    scored cases) are skipped and named in ``skipped``.
    """
    started = time.perf_counter()
    at = computed_at or utc_now()
    ensure_summaries(session, CellSettings(config.time.timezone, config.subgroups.age_bands))
    devices = registry.list_devices(session)
    ids = [d.id for d in devices]
    for model in (MetricSnapshot, GaugeSnapshot):
        session.execute(delete(model).where(model.device_id.not_in(ids)))
    skipped: list[str] = []
    metric_count = gauge_count = 0
    tz = ZoneInfo(config.time.timezone)
    for device in devices:
        end = data_end(session, device, now, tz)
        metrics = _metric_rows(session, config, device.id, end, at, known_at=now)
        gauges = _gauge_rows(session, config, device, end, at, skipped, known_at=now)
        for model in (MetricSnapshot, GaugeSnapshot):
            session.execute(delete(model).where(model.device_id == device.id))
        session.add_all(metrics)
        session.add_all(gauges)
        session.flush()
        metric_count += len(metrics)
        gauge_count += len(gauges)
    seconds = time.perf_counter() - started
    log.info(
        "snapshots computed: %d devices, %d metric rows, %d gauges in %.2f s",
        len(devices),
        metric_count,
        gauge_count,
        seconds,
    )
    return SnapshotSummary(len(devices), metric_count, gauge_count, tuple(skipped), seconds)
