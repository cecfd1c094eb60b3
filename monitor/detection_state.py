"""What detection keeps between checks, besides the history (:mod:`monitor.kept_history`):
the as-of time of each device's latest check, the chart families' calibrations and
the CUSUM ARL curves.

A check in a new process then neither judges again the months and versions an
earlier check judged, nor simulates again a family an earlier check calibrated, nor
solves again an ARL curve's Markov chains. All are caches: emptied, the next check
recomputes them (and stores the same findings: calibrations are seeded by their
signature, curves are a pure function of their key).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.chart_family import CalibrationCache, FamilyCalibration
from metrics.sequential import CurveKey, add_arl_curves, computed_arl_curves
from monitor.models import ArlCurve, ChartCalibration, DetectionState

__all__ = [
    "KEPT_CALIBRATIONS",
    "checked_ns",
    "read_arl_curves",
    "read_calibrations",
    "record_check",
    "save_arl_curves",
    "save_calibrations",
]

KEPT_CALIBRATIONS = 512
"""Calibrations read back into a process (the most recent)."""


def checked_ns(session: Session, device_id: str) -> int | None:
    """The as-of time (UTC ns) of the device's latest stored check, None if none."""
    return session.scalar(
        select(DetectionState.checked_ns).where(DetectionState.device_id == device_id)
    )


def record_check(session: Session, device_id: str, as_of_ns: int) -> None:
    """Remember a check as of ``as_of_ns`` (the latest one is kept)."""
    state = session.get(DetectionState, device_id)
    now = datetime.now(UTC)
    if state is None:
        session.add(DetectionState(device_id=device_id, checked_ns=as_of_ns, updated_at=now))
    elif as_of_ns > state.checked_ns:
        state.checked_ns, state.updated_at = as_of_ns, now


def read_calibrations(session: Session, cache: CalibrationCache) -> None:
    """Put the most recent stored calibrations the cache lacks into it."""
    rows = session.scalars(
        select(ChartCalibration)
        .order_by(ChartCalibration.computed_at.desc())
        .limit(KEPT_CALIBRATIONS)
    )
    for row in reversed(list(rows)):
        if row.signature not in cache:
            values = dict(row.calibration)
            values["realised_interval"] = tuple(values["realised_interval"])
            cache.put(FamilyCalibration(**values))


def save_calibrations(session: Session, cache: CalibrationCache) -> None:
    """Store the calibrations used since last saved that storage lacks."""
    used, cache.used = cache.used, {}
    for calibration in used.values():
        finite = all(math.isfinite(v) for v in (calibration.theta, *calibration.realised_interval))
        if finite and session.get(ChartCalibration, calibration.signature) is None:
            session.add(
                ChartCalibration(
                    signature=calibration.signature,
                    calibration=asdict(calibration),
                    computed_at=datetime.now(UTC),
                )
            )


def _curve_key(key: CurveKey) -> str:
    return "|".join(repr(part) for part in key)


def read_arl_curves(session: Session) -> None:
    """Give the stored CUSUM ARL curves to :mod:`metrics.sequential` (not computed again)."""
    curves = {}
    for row in session.scalars(select(ArlCurve)):
        p0, p1, h_max, points = row.key.split("|")
        key = (float(p0), float(p1), float(h_max), int(points))
        curves[key] = (row.curve["h"], row.curve["arl"])
    add_arl_curves(curves)


def save_arl_curves(session: Session) -> None:
    """Store the ARL curves this process computed that storage lacks (finite ones)."""
    for key, (h, arl) in computed_arl_curves().items():
        name = _curve_key(key)
        finite = bool(np.isfinite(h).all() and np.isfinite(arl).all())
        if finite and session.get(ArlCurve, name) is None:
            curve = {"h": [float(v) for v in h], "arl": [float(v) for v in arl]}
            session.add(ArlCurve(key=name, curve=curve, computed_at=datetime.now(UTC)))
