"""Per-cell sufficient statistics, maintained on ingestion and read by the evaluation.

A *cell* is one device x device_version x target x site x modality x body_part x
scanner_manufacturer x scanner_model x age_band x patient_sex x local exam day.
``case_counts`` holds its confusion counts (tp, fp, tn, fn, excluded, and the
cases awaiting truth by AI call: pending_positive, pending_negative)
and ``score_bins`` its AI-score histogram by truth (20 equal-width bins on 0..1,
with the sum and sum of squares of the scores), both with every outcome stored so
far. Ingestion keeps them exact in the same transaction as the rows it adds: a
new prediction adds its case, a new outcome moves the cases it links to from
their old status to the new one (``predictions.case_status`` remembers the old).

Reading *as of* a past date starts from the cells and corrects only the cases
whose status could differ at that date: predictions of the as-of day examined
after it, and predictions sharing an accession number or study UID with an
outcome dated after it. The cost therefore grows with the number of cells and
of late outcomes, not with the number of exams. Cells are cut with a timezone
and age bands recorded in ``summary_state``; :func:`ensure_summaries` rebuilds
them when the configuration changes them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import String, Table, delete, func, select, type_coerce, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.config import SubgroupConfig, TimeConfig
from monitor.linking import linked_cases
from monitor.models import (
    CELL_KEY_COLUMNS,
    CaseCount,
    CaseCountMonthly,
    Device,
    Outcome,
    Prediction,
    ScoreBin,
    SummaryState,
)
from monitor.storage import one_at_a_time
from monitor.subgroups import add_age_band
from monitor.timeutil import utc_now

__all__ = [
    "COUNT_COLUMNS",
    "SCORE_BINS",
    "CellData",
    "CellSettings",
    "Grain",
    "cell_frame",
    "cells_from_cases",
    "ensure_summaries",
    "read_cells",
    "rebuild_summaries",
    "refresh_cases",
    "touched_by_outcomes",
]

COUNT_COLUMNS = ("tp", "fp", "tn", "fn", "pending_positive", "pending_negative", "excluded")
SCORE_BINS = 20
"""Equal-width score bins on 0..1 (a score of 1.0 falls in the last bin)."""

_KEYS = [*CELL_KEY_COLUMNS, "exam_day"]
_MONTH_KEYS = [*CELL_KEY_COLUMNS, "exam_month"]
_BIN_KEYS = [*_KEYS, "truth", "bin"]
_BIN_VALUES = ["n", "score_sum", "score_sq_sum"]
_BATCH = 5000
_REBUILD_BATCH = 200_000


@dataclass(frozen=True)
class CellSettings:
    """How cells are cut: the establishment's timezone and the age-band limits (years)."""

    timezone: str = TimeConfig().timezone
    age_bands: tuple[float, ...] = SubgroupConfig().age_bands

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _state(session: Session) -> SummaryState | None:
    return session.get(SummaryState, 1)


def _settings_of(state: SummaryState) -> CellSettings:
    return CellSettings(state.timezone, tuple(float(b) for b in state.age_bands))


def _cell_status(cases: pd.DataFrame) -> np.ndarray:
    """Linking's status with ``pending`` split by AI call (pending_positive / _negative)."""
    status: np.ndarray = cases["status"].to_numpy(dtype=object)
    pending = status == "pending"
    if "ai_call" not in cases:
        if pending.any():
            raise ValueError("pending cases need their ai_call (as linked_cases gives it)")
        return status
    refined: np.ndarray = np.where(
        pending, "pending_" + cases["ai_call"].fillna("").astype(str), status
    )
    return refined


def cell_frame(cases: pd.DataFrame, settings: CellSettings) -> pd.DataFrame:
    """The cell key columns, ``exam_day`` (local date), ``status``, ``truth``, ``ai_score``.

    ``cases`` has the prediction columns, ``status`` and ``outcome`` (the linked
    truth or None), as :func:`monitor.linking.linked_cases` returns them; absent
    columns count as missing. A missing subgroup value becomes ''; ``truth`` is
    positive, negative or unknown.
    """
    frame = pd.DataFrame(index=cases.index)
    frame["patient_age"] = cases.get("patient_age", math.nan)
    frame = add_age_band(frame, settings.age_bands)
    for column in CELL_KEY_COLUMNS:
        if column != "age_band":
            frame[column] = cases.get(column, None)
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "")
    local = pd.to_datetime(cases["exam_datetime"], utc=True).dt.tz_convert(settings.tz)
    frame["exam_day"] = local.dt.tz_localize(None).dt.normalize().dt.date
    frame["status"] = _cell_status(cases)
    truth = cases["outcome"] if "outcome" in cases else pd.Series(None, index=cases.index)
    frame["truth"] = truth.where(truth.isin(["positive", "negative"]), "unknown")
    score = cases.get("ai_score", math.nan)
    frame["ai_score"] = pd.to_numeric(score, errors="coerce")
    return frame.drop(columns=["patient_age"])


def _contributions(cells: pd.DataFrame, sign: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts per cell (wide, one column per status) and score bins, times ``sign``."""
    status = cells["status"].to_numpy()
    unknown = set(np.unique(status)) - set(COUNT_COLUMNS)
    if unknown:
        raise ValueError(f"unexpected case status {sorted(unknown)}")
    indicators = cells[_KEYS].assign(
        **{name: (status == name).astype(np.int64) for name in COUNT_COLUMNS}
    )
    counts = indicators.groupby(_KEYS, as_index=False, sort=False)[list(COUNT_COLUMNS)].sum()
    scored = cells[cells["ai_score"].notna()]
    scores = scored["ai_score"].to_numpy(dtype=float)
    bins_frame = scored[[*_KEYS, "truth"]].copy()
    bins_frame["bin"] = np.clip(np.floor(scores * SCORE_BINS), 0, SCORE_BINS - 1).astype(int)
    bins_frame["n"] = 1
    bins_frame["score_sum"] = scores
    bins_frame["score_sq_sum"] = scores * scores
    bins = bins_frame.groupby(_BIN_KEYS, as_index=False, sort=False)[_BIN_VALUES].sum()
    if sign != 1:
        counts[list(COUNT_COLUMNS)] *= sign
        bins[_BIN_VALUES] *= sign
    return counts, bins


def _combine(parts: Sequence[pd.DataFrame], keys: list[str], values: list[str]) -> pd.DataFrame:
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=keys + values)
    summed = pd.concat(frames, ignore_index=True).groupby(keys, as_index=False, sort=False)
    return summed[values].sum()


def _upsert(session: Session, table: Table, frame: pd.DataFrame, keys: list[str]) -> None:
    """Add ``frame``'s values to the stored rows with the same key (insert when new)."""
    if frame.empty:
        return
    values = [c for c in frame.columns if c not in keys]
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(table)
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c: table.c[c] + statement.excluded[c] for c in values},
    )
    records = frame.to_dict("records")
    for start in range(0, len(records), _BATCH):
        session.execute(statement, records[start : start + _BATCH])


def _month_starts(days: pd.Series) -> pd.Series:
    """First day of the month of each date (Python dates in, Python dates out)."""
    stamps = pd.Series(np.asarray(days.tolist(), dtype="datetime64[D]"), index=days.index)
    return stamps.dt.to_period("M").dt.start_time.dt.date


def _monthly(counts: pd.DataFrame) -> pd.DataFrame:
    if counts.empty:
        return pd.DataFrame(columns=[*_MONTH_KEYS, *COUNT_COLUMNS])
    months = counts.drop(columns=["exam_day"]).assign(exam_month=_month_starts(counts["exam_day"]))
    summed = months.groupby(_MONTH_KEYS, as_index=False, sort=False)[list(COUNT_COLUMNS)].sum()
    return summed.loc[(summed[list(COUNT_COLUMNS)] != 0).any(axis=1)]


def _apply(session: Session, counts: pd.DataFrame, bins: pd.DataFrame) -> None:
    counts = counts.loc[(counts[list(COUNT_COLUMNS)] != 0).any(axis=1)]
    bins = bins.loc[(bins[_BIN_VALUES] != 0).any(axis=1)]
    _upsert(session, CaseCount.__table__, counts, _KEYS)  # type: ignore[arg-type]
    _upsert(session, CaseCountMonthly.__table__, _monthly(counts), _MONTH_KEYS)  # type: ignore[arg-type]
    _upsert(session, ScoreBin.__table__, bins, _BIN_KEYS)  # type: ignore[arg-type]


def _batches(ids: Collection[int], size: int = _BATCH) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _as_range(ids: Sequence[int]) -> tuple[int, int] | None:
    """(first, last) of sorted ids when nearly contiguous (a chunk's new rows): a range
    plans and runs much faster than thousands of parameters. None otherwise."""
    low, high = ids[0], ids[-1]
    return (low, high) if high - low + 1 <= 2 * len(ids) else None


def _id_filter(ids: Sequence[int]) -> Any:
    """``id IN (...)``, or the range covering them (callers keep only ``ids``)."""
    span = _as_range(ids)
    return Prediction.id.between(*span) if span else Prediction.id.in_(ids)


def _linked(session: Session, ids: Sequence[int], as_of: datetime | None) -> pd.DataFrame:
    """:func:`linked_cases` of these (sorted) prediction ids."""
    span = _as_range(ids)
    if span is None:
        return linked_cases(session, as_of, prediction_ids=ids)
    cases = linked_cases(session, as_of, id_range=span)
    return cases.loc[cases["prediction_id"].isin(ids)].reset_index(drop=True)


def _stored_cases(session: Session, ids: Sequence[int]) -> pd.DataFrame:
    """The stored status and truth of (sorted) predictions, as a case frame (no linking)."""
    columns = [
        "prediction_id",
        "exam_datetime",
        "patient_age",
        "ai_score",
        *(c for c in CELL_KEY_COLUMNS if c != "age_band"),
        "status",
        "outcome",
    ]
    query = select(
        Prediction.id,
        Prediction.exam_datetime,
        Prediction.patient_age,
        Prediction.ai_score,
        *(getattr(Prediction, c) for c in CELL_KEY_COLUMNS if c != "age_band"),
        Prediction.case_status,
        Prediction.case_truth,
    ).where(_id_filter(ids), Prediction.case_status.is_not(None))
    frame = pd.DataFrame.from_records(session.execute(query).all(), columns=columns)
    frame = frame.loc[frame["prediction_id"].isin(ids)].reset_index(drop=True)
    frame["patient_age"] = pd.to_numeric(frame["patient_age"], errors="coerce")
    return frame


def _store_status(session: Session, cases: pd.DataFrame) -> None:
    if cases.empty:
        return
    updates = [
        {"id": int(pid), "case_status": status, "case_truth": truth}
        for pid, status, truth in zip(
            cases["prediction_id"],
            cases["status"],
            cases["outcome"].astype(object).where(cases["outcome"].notna(), None),
            strict=True,
        )
    ]
    for start in range(0, len(updates), _BATCH):
        session.execute(update(Prediction), updates[start : start + _BATCH])


def refresh_cases(session: Session, prediction_ids: Collection[int]) -> int:
    """Re-link these predictions with every stored outcome and update their cells.

    Call it in the transaction that added the predictions, or the outcomes they
    link to (:func:`touched_by_outcomes`). Returns how many cases changed status or
    truth. Builds every cell first if the summaries were never built.
    """
    state = _state(session)
    if state is None:
        rebuild_summaries(session, CellSettings())
        return len(prediction_ids)
    settings = _settings_of(state)
    changed = 0
    for ids in _batches(prediction_ids):
        new = _linked(session, ids, None)
        new["status"] = _cell_status(new)
        old = _stored_cases(session, ids)
        merged = new.merge(
            old[["prediction_id", "status", "outcome"]],
            on="prediction_id",
            how="left",
            suffixes=("", "_old"),
        )
        same = (merged["status"] == merged["status_old"]) & (
            merged["outcome"].fillna("") == merged["outcome_old"].fillna("")
        )
        moved = new.loc[~same.to_numpy()]
        before = old[old["prediction_id"].isin(moved["prediction_id"])]
        if moved.empty:
            continue
        add_counts, add_bins = _contributions(cell_frame(moved, settings), 1)
        parts_counts, parts_bins = [add_counts], [add_bins]
        if not before.empty:
            sub_counts, sub_bins = _contributions(cell_frame(before, settings), -1)
            parts_counts.append(sub_counts)
            parts_bins.append(sub_bins)
        _apply(
            session,
            _combine(parts_counts, _KEYS, list(COUNT_COLUMNS)),
            _combine(parts_bins, _BIN_KEYS, _BIN_VALUES),
        )
        _store_status(session, moved)
        changed += len(moved)
    return changed


def touched_by_outcomes(session: Session, outcome_ids: Collection[int]) -> list[int]:
    """Ids of the predictions sharing an accession number or study UID with these outcomes."""
    found: set[int] = set()
    for ids in _batches(outcome_ids):
        by_accession = select(Prediction.id).join(
            Outcome, Outcome.accession_number == Prediction.accession_number
        )
        by_uid = select(Prediction.id).join(
            Outcome, Outcome.study_instance_uid == Prediction.study_instance_uid
        )
        query = union(by_accession.where(Outcome.id.in_(ids)), by_uid.where(Outcome.id.in_(ids)))
        found.update(session.scalars(query))
    return sorted(found)


def rebuild_summaries(
    session: Session, settings: CellSettings, *, batch_size: int = _REBUILD_BATCH
) -> int:
    """Recompute every case's status and every cell from the stored rows.

    Used when the cells were never built (a database from before them, rows loaded
    around the ingester) or when the timezone or age bands change. Works through
    the predictions in id ranges of ``batch_size``. Returns the number of cases.
    """
    session.execute(delete(CaseCount))
    session.execute(delete(CaseCountMonthly))
    session.execute(delete(ScoreBin))
    low, high = session.execute(select(func.min(Prediction.id), func.max(Prediction.id))).one()
    counts: list[pd.DataFrame] = []
    bins: list[pd.DataFrame] = []
    total = 0
    if low is not None:
        for start in range(int(low), int(high) + 1, batch_size):
            cases = linked_cases(session, None, id_range=(start, start + batch_size - 1))
            if cases.empty:
                continue
            cases["status"] = _cell_status(cases)
            part_counts, part_bins = _contributions(cell_frame(cases, settings), 1)
            counts.append(part_counts)
            bins.append(part_bins)
            _store_status(session, cases)
            total += len(cases)
    _apply(
        session,
        _combine(counts, _KEYS, list(COUNT_COLUMNS)),
        _combine(bins, _BIN_KEYS, _BIN_VALUES),
    )
    state = _state(session) or SummaryState(id=1)
    state.timezone = settings.timezone
    state.age_bands = list(settings.age_bands)
    state.built_at = utc_now()
    session.add(state)
    session.flush()
    return total


def ensure_summaries(session: Session, settings: CellSettings) -> bool:
    """Build the cells if missing or cut with other settings; True when it rebuilt.
    Processes starting together on one database build them once."""
    one_at_a_time(session, "case summaries")
    state = _state(session)
    if state is not None and _settings_of(state) == settings:
        return False
    rebuild_summaries(session, settings)
    return True


Grain = Literal["day", "month"]


@dataclass(frozen=True)
class CellData:
    """Cells as of a date: ``counts`` (keys, ``exam_day``: the local day, or the first
    day of the local month for the ``month`` grain, statuses) and ``bins`` (day grain,
    or None). ``first_day``: the first local exam day up to the date (None: no exam)."""

    counts: pd.DataFrame
    bins: pd.DataFrame | None
    settings: CellSettings
    grain: Grain
    first_day: date | None
    corrected_cases: int


def _local_day_end(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def _month_end(day: date, tz: ZoneInfo) -> datetime:
    first_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(first_next, time(0), tzinfo=tz)


def _late_cases(
    session: Session, as_of: datetime, period_end: datetime, device_id: str | None
) -> list[int]:
    """Predictions before ``period_end`` whose status could differ at ``as_of``: those
    examined after ``as_of``, and those sharing a link key with a later outcome.

    Each query is written for its index: exams by (device_id, exam_datetime), the
    devices named; late outcomes by outcome_datetime, then the predictions by link
    key (a device condition there would tempt the planner into scanning every
    prediction, so the device is checked on the few rows found)."""
    devices = [device_id] if device_id is not None else list(session.scalars(select(Device.id)))
    found = set(
        session.scalars(
            select(Prediction.id).where(
                Prediction.device_id.in_(devices),
                Prediction.exam_datetime > as_of,
                Prediction.exam_datetime < period_end,
            )
        )
    )
    late = Outcome.outcome_datetime > as_of
    for link in (
        Outcome.accession_number == Prediction.accession_number,
        Outcome.study_instance_uid == Prediction.study_instance_uid,
    ):
        query = (
            select(Prediction.id, Prediction.device_id)
            .join(Outcome, link)
            .where(late, Prediction.exam_datetime < period_end)
        )
        found.update(pid for pid, device in session.execute(query) if device in devices)
    return sorted(found)


def _read_table(
    session: Session,
    model: Any,
    columns: list[str],
    period: str,
    last: date,
    device_id: str | None,
) -> pd.DataFrame:
    """Core query (no ORM row loading); the period comes back as the driver gives it
    (text on SQLite, a date on PostgreSQL) and is converted column-wise later."""
    table = model.__table__
    selected = [type_coerce(table.c[c], String) if c == period else table.c[c] for c in columns]
    query = select(*selected).where(table.c[period] <= last)
    if device_id is not None:
        query = query.where(table.c.device_id == device_id)
    rows = session.connection().execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame[period] = _as_dates(frame[period])
    return frame.rename(columns={period: "exam_day"})


def _first_day(
    session: Session, as_of: datetime, devices: Collection[str], tz: ZoneInfo
) -> date | None:
    """First local exam day up to ``as_of`` (one indexed MIN per device)."""
    firsts = [
        session.scalar(
            select(func.min(Prediction.exam_datetime)).where(
                Prediction.device_id == device, Prediction.exam_datetime <= as_of
            )
        )
        for device in devices
    ]
    known = [f for f in firsts if f is not None]
    return min(known).astimezone(tz).date() if known else None


def _as_dates(values: pd.Series) -> pd.Series:
    """Dates (Python dates or ISO text) as datetime64[ns], column-wise."""
    if pd.api.types.is_datetime64_dtype(values):
        return values
    return pd.Series(
        np.asarray(values.tolist(), dtype="datetime64[D]").astype("datetime64[ns]"),
        index=values.index,
    )


def read_cells(
    session: Session,
    as_of: datetime,
    *,
    device_id: str | None = None,
    with_bins: bool = False,
    grain: Grain = "day",
) -> CellData:
    """The cells of the exams up to ``as_of``, with the outcomes known at ``as_of``.

    Counts equal those of :func:`monitor.linking.linked_cases` at ``as_of`` summed per
    cell (the tests hold both paths equal on SQLite and PostgreSQL). ``grain="month"``
    reads the monthly table (for month, quarter and whole-period windows): cells of
    the as-of month then hold its exams up to ``as_of`` only. The cells must have
    been built (:func:`ensure_summaries`).
    """
    state = _state(session)
    if state is None:
        raise RuntimeError("case summaries are not built: call ensure_summaries first")
    settings = _settings_of(state)
    tz = settings.tz
    as_of_day = as_of.astimezone(tz).date()
    if grain == "month":
        counts = _read_table(
            session,
            CaseCountMonthly,
            [*_MONTH_KEYS, *COUNT_COLUMNS],
            "exam_month",
            as_of_day.replace(day=1),
            device_id,
        )
        period_end = _month_end(as_of_day, tz)
    else:
        counts = _read_table(
            session, CaseCount, [*_KEYS, *COUNT_COLUMNS], "exam_day", as_of_day, device_id
        )
        period_end = _local_day_end(as_of_day, tz)
    bins = (
        _read_table(session, ScoreBin, [*_BIN_KEYS, *_BIN_VALUES], "exam_day", as_of_day, device_id)
        if with_bins
        else None
    )
    late = _late_cases(session, as_of, period_end, device_id)
    count_parts, bin_parts = [counts], [bins] if bins is not None else []
    for ids in _batches(late):
        now = _stored_cases(session, ids)
        then = _linked(session, ids, as_of)
        for cases, sign in ((now, -1), (then, 1)):
            if cases.empty:
                continue
            part_counts, part_bins = _contributions(cell_frame(cases, settings), sign)
            if grain == "month":
                part_counts = _monthly(part_counts).rename(columns={"exam_month": "exam_day"})
            part_bins = part_bins[part_bins["exam_day"] <= as_of_day].copy()
            for part in (part_counts, part_bins):
                part["exam_day"] = _as_dates(part["exam_day"])
            count_parts.append(part_counts)
            bin_parts.append(part_bins)
    if len(count_parts) > 1:
        counts = _combine(count_parts, _KEYS, list(COUNT_COLUMNS))
        counts = counts.loc[(counts[list(COUNT_COLUMNS)] != 0).any(axis=1)]
    if bins is not None and len(bin_parts) > 1:
        bins = _combine(bin_parts, _BIN_KEYS, _BIN_VALUES)
        bins = bins.loc[(bins[_BIN_VALUES] != 0).any(axis=1)]
    for frame in (counts, bins):
        if frame is not None:
            frame["exam_day"] = _as_dates(frame["exam_day"])
            frame.reset_index(drop=True, inplace=True)
    devices = [device_id] if device_id is not None else sorted(set(counts["device_id"]))
    return CellData(
        counts=counts,
        bins=bins,
        settings=settings,
        grain=grain,
        first_day=_first_day(session, as_of, devices, tz),
        corrected_cases=len(late),
    )


def cells_from_cases(cases: pd.DataFrame, settings: CellSettings) -> pd.DataFrame:
    """Counts per cell computed in memory from a case frame (the reference path)."""
    if cases.empty:
        return pd.DataFrame(columns=[*_KEYS, *COUNT_COLUMNS])
    counts, _ = _contributions(cell_frame(cases, settings), 1)
    counts["exam_day"] = _as_dates(counts["exam_day"])
    return counts
