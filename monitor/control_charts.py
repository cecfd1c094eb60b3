"""A device's control charts as detection runs them at a date, for display and audit.

:func:`device_chart_paths` replays the charts of :mod:`alerts.charts` as of a
date with the same observations, in-control rates, budget and decision limits as
``check``; chart restarts count only when the finding that caused them was
acknowledged by that date, so a past month is shown as it stood then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.cases import scope_parts
from alerts.chart_family import CALIBRATIONS
from alerts.charts import ChartPath, ChartSettings, chart_key, chart_paths
from monitor.config import Config
from monitor.detection import BUDGET_SHARES, in_control_rates
from monitor.detection_state import read_arl_curves, read_calibrations
from monitor.history import DeviceHistory, to_ns
from monitor.models import Finding
from monitor.timeutil import local_iso

__all__ = ["chart_restarts_as_of", "chart_summary", "device_chart_paths", "slice_key"]


def slice_key(version: str | None, subgroup: dict[str, Any] | None, metric: str) -> str:
    """The chart key of a version (None: all) x subgroup (one ``{dimension: value}`` or
    None) x metric, as findings name them."""
    items = list((subgroup or {}).items())
    pair = (str(items[0][0]), str(items[0][1])) if items else None
    return chart_key(version, pair, metric)


def chart_restarts_as_of(session: Session, device_id: str, as_of: datetime) -> dict[str, int]:
    """Per chart key, the detection time (UTC ns) of its latest finding acknowledged by
    ``as_of`` (and detected by then): where that chart started again."""
    query = select(Finding).where(
        Finding.device_id == device_id,
        Finding.rule.in_(["cusum", "ewma"]),
        Finding.status != "open",
        Finding.acknowledged_at.is_not(None),
    )
    limit = to_ns(as_of)
    restarts: dict[str, int] = {}
    for finding in session.scalars(query):
        detected = int(pd.Timestamp(finding.detected_at).value)
        acknowledged = finding.acknowledged_at
        if acknowledged is None or detected > limit:
            continue
        if int(pd.Timestamp(acknowledged).value) > limit:
            continue
        key = slice_key(finding.device_version, finding.subgroup, finding.metric or "")
        restarts[key] = max(restarts.get(key, detected), detected)
    return restarts


def device_chart_paths(
    session: Session,
    config: Config,
    history: DeviceHistory,
    as_of: datetime,
    keys: Sequence[str],
) -> list[ChartPath]:
    """The charts named by ``keys`` (:func:`slice_key`) of ``history``'s device as of
    ``as_of``, in the order of ``keys``; charts without observations are left out."""
    tz = ZoneInfo(config.time.timezone)
    as_of_ns = to_ns(as_of)
    view = history.as_of(as_of_ns)
    if len(view) == 0:
        return []
    detection = config.detection
    settings = ChartSettings(
        chart=detection.chart,
        false_alarms_per_year=detection.false_alarms_per_device_year * BUDGET_SHARES["charts"],
        ratio=detection.out_of_control_ratio,
        ewma_lambda=detection.ewma_lambda,
        design_drop=detection.design_drop,
    )
    in_control = in_control_rates(history, config, as_of_ns, tz, view)
    if in_control is None:  # no claim and no pinned baseline: nothing is charted
        return []
    read_calibrations(session, CALIBRATIONS)  # the limits the checks used
    read_arl_curves(session)
    scopes = scope_parts(history.cases, config.subgroups.dimensions, history.text_codes).scopes(
        len(view)
    )
    restarts = chart_restarts_as_of(session, history.device.id, as_of)
    return chart_paths(view, keys, in_control, settings, restarts, scopes)


def _moment(ns: int, tz: ZoneInfo) -> datetime:
    moment: datetime = pd.Timestamp(int(ns), tz="UTC").tz_convert(tz).to_pydatetime()
    return moment


def chart_summary(path: ChartPath, tz: ZoneInfo) -> dict[str, Any]:
    """The JSON shape of a chart (``dmn-monitor chart``): its slice, observations, the
    statistic at the last observation and its maximum, the decision limit and the
    time of the first signal (arrival of the observation that crossed it)."""
    statistic = path.statistic
    signal_at = (
        _moment(int(path.arrival_ns[path.signal_index]), tz)
        if path.signal_index is not None
        else None
    )
    return {
        "key": path.key,
        "chart": path.chart,
        "metric": path.metric,
        "slice": path.slice_label,
        "device_version": path.version,
        "subgroup": None if path.subgroup is None else {path.subgroup[0]: path.subgroup[1]},
        "observations": int(statistic.size),
        "first_observation": local_iso(_moment(int(path.arrival_ns[0]), tz), tz)
        if statistic.size
        else None,
        "last_observation": local_iso(_moment(int(path.arrival_ns[-1]), tz), tz)
        if statistic.size
        else None,
        "statistic": float(statistic[-1]) if statistic.size else None,
        "max_statistic": float(statistic.max()) if statistic.size else None,
        "decision_limit": path.limit,
        "signal_at": local_iso(signal_at, tz),
        "in_control_rate": path.in_control_rate,
        "out_of_control_rate": path.out_of_control_rate,
    }
