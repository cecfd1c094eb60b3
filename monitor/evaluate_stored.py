"""Evaluation of what is stored, as ``dmn-monitor evaluate`` and the reports run it.

One function so that a figure in a report is, to the last digit, what the command
line gives for the same query: cells read as of a date (outcomes known then),
optionally from a first exam day, evaluated per breakdown, as plain records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from monitor import registry
from monitor.cells import CellData, read_cells
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.evaluation import EvaluationOptions, evaluate_breakdowns, records
from monitor.linking import linked_cases
from monitor.scores import to_unit

__all__ = ["evaluation_options", "stored_evaluation"]


def evaluation_options(
    config: Config,
    *,
    window: str = "all",
    rolling_days: int = 30,
    metrics: Sequence[str] = (),
) -> EvaluationOptions:
    """The evaluation options of ``config`` (confidence, interval method, minimum cases,
    target precision) for a window and metrics (default metrics when empty)."""
    evaluation = config.evaluation
    return EvaluationOptions(
        window=window,  # type: ignore[arg-type]
        rolling_days=rolling_days,
        metrics=tuple(metrics) or EvaluationOptions().metrics,
        confidence=evaluation.confidence,
        method=evaluation.interval_method,
        min_n=evaluation.min_cases,
        half_width=evaluation.target_half_width,
    )


def _cells_from(cells: CellData, first: date) -> CellData:
    """The cells of exams from ``first`` on; the whole-period window starts there."""
    day = pd.Timestamp(first)
    counts = cells.counts[cells.counts["exam_day"] >= day].reset_index(drop=True)
    bins = cells.bins
    if bins is not None:
        bins = bins[bins["exam_day"] >= day].reset_index(drop=True)
    first_day = first if cells.first_day is None else max(first, cells.first_day)
    return replace(cells, counts=counts, bins=bins, first_day=first_day)


def _cells_until(cells: CellData, last: date) -> CellData:
    """The cells of exams up to the local day ``last``."""
    day = pd.Timestamp(last)
    counts = cells.counts[cells.counts["exam_day"] <= day].reset_index(drop=True)
    bins = cells.bins
    if bins is not None:
        bins = bins[bins["exam_day"] <= day].reset_index(drop=True)
    return replace(cells, counts=counts, bins=bins)


def _drop_unused(
    results: list[dict[str, Any]], breakdowns: list[tuple[str, ...]]
) -> list[dict[str, Any]]:
    """Each row keeps the dimensions of its own breakdown only."""
    if len(breakdowns) == 1:
        return results
    every = {c for b in breakdowns for c in b}
    for row in results:
        own = set(row["breakdown"].split(" x ")) if row["breakdown"] != "device" else set()
        for column in every - own:
            row.pop(column, None)
    return results


def stored_evaluation(
    session: Session,
    *,
    as_of: datetime,
    tz: ZoneInfo,
    options: EvaluationOptions,
    breakdowns: Sequence[Sequence[str]] = ((),),
    device_id: str | None = None,
    first: date | None = None,
    known_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The records ``dmn-monitor evaluate --format json`` prints for this query.

    ``first``: only exams from that local day on (the whole-period window starts
    there). ``known_at`` (default ``as_of``): the outcomes are those known then,
    later than ``as_of`` for windows that end before today with what is known
    today (the exams stay those up to ``as_of``). The case summaries must be built
    (:func:`monitor.cells.ensure_summaries`).
    With several breakdowns each row names its ``breakdown`` and keeps only its own
    dimensions. MonitorError for an unknown device or ``first`` after ``as_of``.
    """
    if first is not None and first > as_of.astimezone(tz).date():
        raise MonitorError(f"--from {first} is after --as-of {as_of.date().isoformat()}")
    plan = [tuple(b) for b in breakdowns] or [()]
    if device_id is not None:
        registry.get_device(session, device_id)
    specs = registry.list_devices(session)
    claims = {d.id: (d.claims().get("sensitivity"), d.claims().get("specificity")) for d in specs}
    points = {
        d.id: [
            (p.name, p.threshold, to_unit(p.threshold, d.score_scale)) for p in d.operating_points
        ]
        for d in specs
        if device_id is None or d.id == device_id
    }
    monthly = options.window in ("month", "quarter", "all")
    known = as_of if known_at is None or known_at < as_of else known_at
    cells = read_cells(
        session,
        known,
        device_id=device_id,
        with_bins=any(m in ("brier", "ece") for m in options.metrics),
        grain="month"
        if monthly and (first is None or first.day == 1) and known == as_of
        else "day",
    )
    cases = None
    if any(m in ("auc", "calibration") for m in options.metrics):
        cases = linked_cases(session, known, device_id=device_id)
    elif "operating_points" in options.metrics:
        # Only the cases of the devices that declare operating points.
        pointed = [d for d, p in points.items() if p]
        cases = pd.concat(
            [linked_cases(session, known, device_id=d) for d in pointed]
            or [linked_cases(session, known, prediction_ids=())],
            ignore_index=True,
        )
    if known > as_of:
        cells = _cells_until(cells, as_of.astimezone(tz).date())
        if cases is not None:
            cases = cases[cases["exam_datetime"] <= as_of].reset_index(drop=True)
    if first is not None:
        cells = _cells_from(cells, first)
        if cases is not None:
            since = datetime.combine(first, datetime.min.time(), tzinfo=tz)
            cases = cases[cases["exam_datetime"] >= since].reset_index(drop=True)
    frame = evaluate_breakdowns(
        cells.counts,
        plan,
        as_of=as_of,
        tz=tz,
        options=options,
        claims=claims,
        bins=cells.bins,
        cases=cases,
        settings=cells.settings,
        first_day=cells.first_day,
        operating_points=points,
    )
    if len(plan) == 1 and not frame.empty:
        frame = frame.drop(columns=["breakdown"])
    return _drop_unused(records(frame), plan)
