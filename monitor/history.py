"""A device's history, loaded once, seen as of any date in memory.

Detection replays every rule over many as-of dates. Linking in the database once
per date would cost a query per day; instead the predictions of a device and every
determinate outcome event that links to them are read once, and
:meth:`DeviceHistory.as_of` answers what linking would have said at any time:
which cases had a determinate truth then, since when, and which truth (source
precedence ``adjudication > pathology > follow_up > report``, latest within a
source), exactly as :func:`monitor.linking.linked_cases` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.cases import (
    NOT_VERIFIED,
    SUBGROUP_DIMENSIONS,
    CaseView,
    TextCodes,
    TruthChanges,
    coded_column,
)
from monitor.linking import SOURCE_PRECEDENCE, IdWindow, outcome_events
from monitor.models import Prediction
from monitor.registry import DeviceSpec
from monitor.subgroups import add_age_band

__all__ = [
    "REPORT_RANK",
    "DeviceHistory",
    "assemble",
    "lexsort_by_case",
    "load_history",
    "read_cases",
    "read_events",
    "to_ns",
]

REPORT_RANK = SOURCE_PRECEDENCE.index("report")
"""Source rank of a routine report: lower ranks are independent references."""

_PREDICTION_COLUMNS = (
    "id",
    "device_version",
    "exam_datetime",
    "ai_result",
    "ai_score",
    "ai_result_check",
    "patient_age",
    *(c for c in SUBGROUP_DIMENSIONS if c != "age_band"),  # age_band is derived here
)


def to_ns(moment: datetime) -> int:
    """An aware datetime as nanoseconds since the epoch (UTC)."""
    return int(pd.Timestamp(moment).tz_convert("UTC").value)


@dataclass(frozen=True)
class DeviceHistory:
    """Predictions of one device and the determinate outcome events linked to them.

    ``cases`` is sorted by exam time (then prediction id), one row per prediction,
    with ``prediction_id``, ``device_version``, ``exam_ns`` (UTC nanoseconds),
    ``ai_result``, ``ai_call`` (1 positive, 0 negative, -1 excluded by the
    indeterminate policy), ``ai_score`` (NaN when absent), ``ai_result_check``
    (:mod:`monitor.device_inputs`) and the subgroup columns
    (None when unknown). A kept history's text columns are pandas categoricals over
    its ``text_codes`` (missing, NaN, when unknown): compare them by value, group them
    with ``observed=True``. Events are sorted by case, then precedence (strongest
    first, latest first within a source), so the first event of a case among those
    known at a date is its truth then.
    """

    device: DeviceSpec
    cases: pd.DataFrame
    event_case: np.ndarray
    event_truth: np.ndarray
    event_ns: np.ndarray
    event_rank: np.ndarray | None = None
    """Each event's source rank (index in :data:`monitor.linking.SOURCE_PRECEDENCE`,
    0 adjudication .. 3 report; higher for unmentioned outcomes); None: all reports."""
    text_codes: Mapping[str, TextCodes] | None = None
    """Text columns of ``cases`` as codes (a kept history's), row for row; None: not
    encoded (rules hash the strings)."""

    @cached_property
    def truth_changes(self) -> TruthChanges:
        """Every change of a case's best truth as its outcome events arrive.

        An event becomes a case's best truth when it arrives if no stronger source has
        arrived before it (a newer event of the same source replaces an older one), as
        :meth:`as_of` decides at any instant; events of one instant count once.
        """
        n = self.event_case.size
        if n == 0:
            empty = np.zeros(0, np.int64)
            return TruthChanges(empty, empty, empty.astype(np.int8), empty.astype(np.int8))
        rank = self.event_rank if self.event_rank is not None else np.zeros(n, np.int64)
        # Arrival order; at one instant the strongest event last, so it is the one kept.
        order = lexsort_by_case(self.event_case, self.event_ns, -rank)
        case, ns = self.event_case[order], self.event_ns[order]
        rank, truth = rank[order], self.event_truth[order].astype(np.int8)
        # The strongest source arrived so far within each case: a running minimum that
        # starts again at each case (cases ascend; offset so each starts below the last).
        offset = case * (int(rank.max()) + 1)
        best = rank == np.minimum.accumulate(rank - offset) + offset
        case, ns, truth = case[best], ns[best], truth[best]
        last_of_instant = np.r_[(case[1:] != case[:-1]) | (ns[1:] != ns[:-1]), True]
        case, ns, truth = case[last_of_instant], ns[last_of_instant], truth[last_of_instant]
        previous = np.r_[np.int8(-1), truth[:-1]].astype(np.int8)
        previous[np.r_[True, case[1:] != case[:-1]]] = -1
        changed = truth != previous
        in_time = np.argsort(ns[changed], kind="stable")
        return TruthChanges(
            case=case[changed][in_time].astype(np.int64),
            ns=ns[changed][in_time].astype(np.int64),
            truth=truth[changed][in_time],
            previous=previous[changed][in_time],
        )

    def as_of(self, as_of_ns: int) -> CaseView:
        """The cases with an exam by ``as_of_ns``, and their truth as known then."""
        n = int(np.searchsorted(self.cases["exam_ns"].to_numpy(), as_of_ns, side="right"))
        known = (self.event_ns <= as_of_ns) & (self.event_case < n)
        every = bool(known.all())  # as of the history's end: no copy of the events
        case_index = self.event_case if every else self.event_case[known]
        known_ns = self.event_ns if every else self.event_ns[known]
        known_truth = self.event_truth if every else self.event_truth[known]
        verified_ns = np.full(n, NOT_VERIFIED, dtype=np.int64)
        truth = np.full(n, -1, dtype=np.int8)
        if case_index.size and bool(np.all(case_index[1:] >= case_index[:-1])):
            # Sorted by case (as built): each case's first event, without sorting again.
            first = np.flatnonzero(np.r_[True, case_index[1:] != case_index[:-1]])
            verified_ns[case_index[first]] = np.minimum.reduceat(known_ns, first)
        else:
            np.minimum.at(verified_ns, case_index, known_ns)
            first = np.unique(case_index, return_index=True)[1]
        truth[case_index[first]] = known_truth[first]
        independent = np.zeros(n, dtype=bool)
        if self.event_rank is not None:
            known_rank = self.event_rank if every else self.event_rank[known]
            independent[case_index[first]] = known_rank[first] < REPORT_RANK
        changes = self.truth_changes.cut(n, as_of_ns)
        first_truth = np.full(n, -1, dtype=np.int8)
        opening = changes.previous < 0
        first_truth[changes.case[opening]] = changes.truth[opening]
        return CaseView(
            cases=self.cases.iloc[:n],
            verified_ns=verified_ns,
            truth=truth,
            as_of_ns=as_of_ns,
            independent=independent,
            changes=changes,
            first_truth=first_truth,
        )


def read_cases(session: Session, *conditions: Any) -> pd.DataFrame:
    """Predictions matching ``conditions`` as :func:`assemble` takes them: one row
    each, in id order, with ``exam_ns`` (UTC nanoseconds) for the exam time."""
    query = (
        select(*(getattr(Prediction, c) for c in _PREDICTION_COLUMNS))
        .where(*conditions)
        .order_by(Prediction.id)
    )
    cases = pd.DataFrame.from_records(session.execute(query).all(), columns=_PREDICTION_COLUMNS)
    cases = cases.rename(columns={"id": "prediction_id"})
    exam = pd.to_datetime(cases["exam_datetime"], utc=True).astype("datetime64[ns, UTC]")
    cases["exam_ns"] = exam.astype("int64")
    cases["ai_score"] = pd.to_numeric(cases["ai_score"], errors="coerce").astype(np.float64)
    cases["patient_age"] = pd.to_numeric(cases["patient_age"], errors="coerce").astype(np.float64)
    for column in SUBGROUP_DIMENSIONS:
        if column in cases:  # age_band is derived by assemble
            values = cases[column]
            cases[column] = values.astype(object).where(values.notna() & (values != ""), None)
    return cases.drop(columns="exam_datetime")


def read_events(
    session: Session,
    device_id: str,
    until: datetime | None = None,
    arrived: IdWindow | None = None,
) -> pd.DataFrame:
    """The device's outcome events (:func:`monitor.linking.outcome_events`) as
    :func:`assemble` takes them: ``prediction_id``, ``truth`` (1 positive),
    ``rank`` (source rank) and ``ns`` (UTC nanoseconds)."""
    events = outcome_events(session, until, device_id=device_id, arrived=arrived)
    return pd.DataFrame(
        {
            "prediction_id": events["prediction_id"].to_numpy(np.int64),
            "truth": (events["outcome"] == "positive").to_numpy(np.int8),
            "rank": events["source_rank"].to_numpy(np.int64),
            "ns": events["outcome_datetime"]
            .astype("datetime64[ns, UTC]")
            .astype("int64")
            .to_numpy(np.int64),
        }
    )


def assemble(
    device: DeviceSpec,
    cases: pd.DataFrame,
    events: pd.DataFrame,
    until_ns: int,
    age_bands: Sequence[float],
    text_codes: Mapping[str, TextCodes] | None = None,
) -> DeviceHistory:
    """A :class:`DeviceHistory` from the rows :func:`read_cases` and :func:`read_events`
    give (any order), cut to exams and outcomes by ``until_ns``. A ``None`` AI result
    is indeterminate (the device's policy decides its call). ``text_codes``: text
    columns of ``cases`` as codes, row for row (kept in the history, in its order)."""
    exam, ids = cases["exam_ns"].to_numpy(), cases["prediction_id"].to_numpy()
    if _in_order(exam, ids) and (exam.size == 0 or exam[-1] <= until_ns):
        order = None  # already as wanted (a kept history's rows): no sort
    else:
        order = np.lexsort((ids, exam))
        order = order[exam[order] <= until_ns]
    if order is not None and (order.size != exam.size or np.any(order != np.arange(order.size))):
        cases = cases.take(order).reset_index(drop=True)
        if text_codes is not None:
            text_codes = {c: TextCodes(t.codes[order], t.values) for c, t in text_codes.items()}
    elif not cases.index.equals(pd.RangeIndex(len(cases))):
        cases = cases.reset_index(drop=True)  # (a copy: only when it is needed)
    add_age_band(cases, age_bands)
    policy = {"positive": 1, "negative": 0, "exclude": -1}[device.indeterminate_policy]
    coded = coded_column(text_codes, "ai_result", len(cases))
    if coded is not None:  # each distinct result's call, then the cases' (no string compared)
        calls = [1 if v == "positive" else 0 if v == "negative" else policy for v in coded.values]
        call = np.array([*calls, policy], dtype=np.int8)[coded.codes]  # code -1: no result
    else:
        result = cases["ai_result"].to_numpy(dtype=object)
        call = np.where(result == "positive", 1, np.where(result == "negative", 0, policy))
    cases["ai_call"] = call.astype(np.int8)

    # Each event's case: its prediction's position (ids looked up in sorted order).
    ids = cases["prediction_id"].to_numpy(np.int64)
    by_id = np.argsort(ids, kind="stable")
    wanted = events["prediction_id"].to_numpy(np.int64)
    found = np.minimum(np.searchsorted(ids, wanted, sorter=by_id), max(ids.size - 1, 0))
    ns = events["ns"].to_numpy(np.int64)
    kept = (ns <= until_ns) & (ids[by_id][found] == wanted) if ids.size else ns < ns
    case = by_id[found[kept]] if ids.size else found[kept]
    rank = events["rank"].to_numpy(np.int64)[kept]
    ns = ns[kept]
    # By case, then precedence (strongest first), latest first within a source.
    order = lexsort_by_case(case, rank, -ns)
    return DeviceHistory(
        device=device,
        cases=cases,
        event_case=case[order].astype(np.int64),
        event_truth=events["truth"].to_numpy(np.int8)[kept][order],
        event_ns=ns[order],
        event_rank=rank[order],
        text_codes=text_codes,
    )


def lexsort_by_case(case: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """``np.lexsort((*reversed(keys), case))``: the same permutation (stable), by case
    first, then by ``keys`` in order of precedence. Most cases have one event: only
    those with more are sorted on every key (5x faster at a million events)."""
    by_case = np.argsort(case, kind="stable")
    grouped = case[by_case]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    sizes = np.diff(np.r_[starts, case.size])
    several = np.flatnonzero(np.repeat(sizes > 1, sizes))
    if several.size == 0:
        return by_case
    rows = by_case[several]
    within = np.lexsort((*(k[rows] for k in reversed(keys)), grouped[several]))
    by_case[several] = rows[within]
    return by_case


def _in_order(exam: np.ndarray, ids: np.ndarray) -> bool:
    """Rows sorted by exam time, then prediction id. O(n), no sort."""
    if exam.size < 2:
        return True
    later, same = exam[1:] > exam[:-1], exam[1:] == exam[:-1]
    return bool(np.all(later | (same & (ids[1:] > ids[:-1]))))


def load_history(
    session: Session,
    device: DeviceSpec,
    until: datetime,
    age_bands: Sequence[float],
) -> DeviceHistory:
    """Read ``device``'s predictions with an exam by ``until`` and their outcome events
    (everything, from the tables; :func:`monitor.kept_history.kept_history` reads only
    what arrived since the last check)."""
    cases = read_cases(
        session, Prediction.device_id == device.id, Prediction.exam_datetime <= until
    )
    events = read_events(session, device.id, until)
    return assemble(device, cases, events, to_ns(until), age_bands)
