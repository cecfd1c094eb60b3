"""Linking: each prediction with its best outcome as of a date -> a case.

A case is one device x exam x target. Its outcome is the best *determinate*
outcome known as of the evaluation date, by source precedence
``adjudication > pathology > follow_up > report`` and, within a source, the
latest. An ``indeterminate`` outcome never overrides a determinate one; a case
whose only outcomes are indeterminate is still pending (its truth is not known).

A ``not_mentioned`` outcome (a final report silent about the target) counts as the
device's ``unmentioned`` policy says: ``negative`` - a negative truth, but below
every decided (positive / negative) outcome of any source, so silence never
outranks a statement; ``pending`` - no truth: the case waits for another outcome.

An outcome links to a prediction by accession number or study instance UID; an
outcome without a target applies to every target of the exam; when both records
name a site, the sites must agree (accession numbers are only unique per site).

The device's indeterminate policy then turns the AI result into a call:
``positive`` / ``negative`` count an indeterminate output as that, ``exclude``
leaves the case out of the confusion counts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, case, func, literal, null, or_, select, union
from sqlalchemy.orm import Session

from connectors import PREDICTION_COLUMNS
from monitor.models import Device, Outcome, Prediction

__all__ = [
    "CASE_STATUSES",
    "NOT_MENTIONED",
    "SOURCE_PRECEDENCE",
    "IdWindow",
    "device_outcomes",
    "linked_cases",
    "of_device_by_id",
    "outcome_events",
]

NOT_MENTIONED = "not_mentioned"
"""The outcome of a final report that never speaks of the target."""

SOURCE_PRECEDENCE = ("adjudication", "pathology", "follow_up", "report")
"""Outcome sources, strongest first."""

CASE_STATUSES = ("tp", "fp", "tn", "fn", "pending", "excluded")
"""``excluded``: indeterminate AI output under an ``exclude`` policy."""


@dataclass(frozen=True)
class IdWindow:
    """Rows stored between two points of the tables' insertion order (row ids: a row
    after ``*_after``, up to ``*_upto``, both by id)."""

    predictions_after: int
    predictions_upto: int
    outcomes_after: int
    outcomes_upto: int


# What a case carries of its prediction: no patient pseudonym, no AI timestamp.
PREDICTION_FIELDS = tuple(c for c in PREDICTION_COLUMNS if c not in ("patient_id", "ai_datetime"))


def _source_rank() -> ColumnElement[int]:
    return case(
        {name: rank for rank, name in enumerate(SOURCE_PRECEDENCE)},
        value=Outcome.source,
        else_=len(SOURCE_PRECEDENCE),
    )


def _statement_rank() -> ColumnElement[int]:
    """0 a decided outcome, 1 not mentioned, 2 indeterminate (or anything else)."""
    return case(
        (Outcome.outcome.in_(["positive", "negative"]), 0),
        (Outcome.outcome == NOT_MENTIONED, 1),
        else_=2,
    )


# Select's type parameters differ between SQLAlchemy 2.0 and 2.1: the private query
# builders below are typed loosely on purpose.
def _restrict(
    query: Any,
    as_of: datetime | None,
    device_id: str | None,
    prediction_ids: Collection[int] | None,
    id_range: tuple[int, int] | None = None,
) -> Any:
    if as_of is not None:
        query = query.where(Prediction.exam_datetime <= as_of)
    if device_id is not None:
        query = query.where(Prediction.device_id == device_id)
    if prediction_ids is not None:
        query = query.where(Prediction.id.in_(sorted(prediction_ids)))
    if id_range is not None:
        query = query.where(Prediction.id.between(*id_range))
    return query


def of_device_by_id(device_id: str) -> ColumnElement[bool]:
    """``Prediction.device_id == device_id`` for a query that a window of row ids
    drives: the device is compared as an expression, so that the database reads the
    few rows by primary key, where the device's index would have it walk all of the
    device's predictions (SQLite does, for 3k new rows among 870k)."""
    return (Prediction.device_id + "") == device_id


def _candidate_pairs(
    as_of: datetime | None,
    device_id: str | None,
    prediction_ids: Collection[int] | None,
    id_range: tuple[int, int] | None,
    since: datetime | None = None,
    arrived: IdWindow | None = None,
) -> Any:
    """(prediction, outcome) pairs that link; ``since``: outcomes dated from then on;
    ``arrived``: only the pairs new in that window of row ids (:class:`IdWindow`)."""

    def joined(condition: Any) -> Any:
        query = (
            select(Prediction.id.label("prediction_id"), Outcome.id.label("outcome_id"))
            .join(Outcome, condition)
            .where(
                or_(Outcome.target.is_(None), Outcome.target == Prediction.target),
                or_(
                    Outcome.site.is_(None),
                    Prediction.site.is_(None),
                    Outcome.site == Prediction.site,
                ),
            )
        )
        if as_of is not None:
            query = query.where(Outcome.outcome_datetime <= as_of)
        if since is not None:
            query = query.where(Outcome.outcome_datetime >= since)
        # New rows: the id windows select; the device is filtered by the caller (an
        # index on the device would lead the planner to read all of its predictions).
        device = device_id if arrived is None else None
        return _restrict(query, as_of, device, prediction_ids, id_range)

    conditions = (
        Prediction.accession_number == Outcome.accession_number,
        Prediction.study_instance_uid == Outcome.study_instance_uid,
    )
    if arrived is None:
        return union(*(joined(c) for c in conditions))
    # Each branch is driven by its small side: the new outcomes with every prediction
    # stored by then, and the new predictions with the outcomes stored before.
    new_outcomes = (
        Outcome.id > arrived.outcomes_after,
        Outcome.id <= arrived.outcomes_upto,
        Prediction.id <= arrived.predictions_upto,
    )
    new_predictions = (
        Prediction.id > arrived.predictions_after,
        Prediction.id <= arrived.predictions_upto,
        Outcome.id <= arrived.outcomes_after,
    )
    return union(
        *(joined(c).where(*new) for c in conditions for new in (new_outcomes, new_predictions))
    )


def _best_outcomes(
    as_of: datetime | None,
    device_id: str | None,
    prediction_ids: Collection[int] | None,
    id_range: tuple[int, int] | None,
) -> Any:
    pairs = _candidate_pairs(as_of, device_id, prediction_ids, id_range).subquery("pairs")
    ranked = (
        select(
            pairs.c.prediction_id,
            Outcome.outcome,
            Outcome.source.label("outcome_source"),
            Outcome.outcome_datetime,
            Outcome.method.label("outcome_method"),
            Outcome.evidence.label("outcome_evidence"),
            Outcome.section.label("outcome_section"),
            Outcome.sentence.label("outcome_sentence"),
            Outcome.qualifiers.label("outcome_qualifiers"),
            Outcome.reading.label("outcome_reading"),
            Outcome.id.label("outcome_id"),
            func.row_number()
            .over(
                partition_by=pairs.c.prediction_id,
                order_by=(
                    _statement_rank(),
                    _source_rank(),
                    Outcome.outcome_datetime.desc(),
                    Outcome.id.desc(),
                ),
            )
            .label("rank"),
        )
        .join(Outcome, Outcome.id == pairs.c.outcome_id)
        .subquery("ranked")
    )
    return select(ranked).where(ranked.c.rank == literal(1))


def linked_cases(
    session: Session,
    as_of: datetime | None,
    *,
    device_id: str | None = None,
    prediction_ids: Collection[int] | None = None,
    id_range: tuple[int, int] | None = None,
    reading: bool = False,
) -> pd.DataFrame:
    """Every prediction with ``exam_datetime <= as_of`` as a case, seen as of ``as_of``.

    ``as_of=None`` links with every stored outcome (current knowledge).
    ``prediction_ids`` restricts to those predictions (keep it to a few thousand),
    ``id_range`` to prediction ids ``lo..hi`` inclusive.
    Columns: the prediction fields, ``prediction_id``, ``indeterminate_policy``,
    ``unmentioned`` (the device's policy),
    ``outcome`` / ``outcome_source`` / ``outcome_datetime`` (None when pending;
    ``outcome`` is the truth: ``negative`` for a not-mentioned outcome counted so),
    ``outcome_read`` (the outcome as stored: positive, negative or not_mentioned;
    None when pending), ``outcome_id``,
    ``outcome_method`` / ``outcome_evidence`` (how the outcome was read from a report
    or pathology text and the deciding words, <= 300 characters; None when the
    outcome was given as such, and when pending), ``outcome_section`` /
    ``outcome_sentence`` / ``outcome_qualifiers`` (where a report decided it; read
    only with ``reading``, None otherwise: the counts never need them),
    ``label_delay_days`` (outcome minus exam, in days; NaN when pending),
    ``ai_call`` (positive / negative / None when excluded) and ``status`` (one of
    :data:`CASE_STATUSES`). Datetimes are aware UTC. One row per prediction.
    """
    best = _best_outcomes(as_of, device_id, prediction_ids, id_range).subquery("best")
    query = (
        select(
            Prediction.id.label("prediction_id"),
            *(getattr(Prediction, name) for name in PREDICTION_FIELDS),
            Device.indeterminate_policy,
            Device.unmentioned,
            *_POLICY_COLUMNS,
            best.c.outcome,
            best.c.outcome_reading,
            best.c.outcome_source,
            best.c.outcome_datetime,
            best.c.outcome_method,
            best.c.outcome_evidence,
            *(
                (best.c.outcome_section, best.c.outcome_sentence, best.c.outcome_qualifiers)
                if reading
                else tuple(null().label(name) for name in _READ_COLUMNS[:3])
            ),
            best.c.outcome_id,
        )
        .join(Device, Device.id == Prediction.device_id)
        .outerjoin(best, best.c.prediction_id == Prediction.id)
        .order_by(Prediction.id)
    )
    query = _restrict(query, as_of, device_id, prediction_ids, id_range)
    rows = session.execute(query).all()
    columns = [
        "prediction_id",
        *PREDICTION_FIELDS,
        "indeterminate_policy",
        "unmentioned",
        *_POLICY_NAMES,
        "outcome",
        "outcome_reading",
        "outcome_source",
        "outcome_datetime",
        "outcome_method",
        "outcome_evidence",
        *_READ_COLUMNS,
    ]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    return _classify(frame)


_READ_COLUMNS = ("outcome_section", "outcome_sentence", "outcome_qualifiers", "outcome_id")
_POLICY_COLUMNS = (Device.reading_historical, Device.reading_benign, Device.reading_pattern)
_POLICY_NAMES = ("reading_historical", "reading_benign", "reading_pattern")
_PAST_READINGS = ("old", "historical")
_UNSTATED = ("negative", NOT_MENTIONED)


def _read_by_policy(frame: pd.DataFrame) -> pd.Series:
    """The outcome as the device's reading policy counts its deciding mention: an old or
    past finding, or a benign finding named alone, is positive when the device counts
    them (the report read negative or silent); a nodular pattern read positive is
    negative when the device ignores patterns. Other outcomes as stored."""
    outcome = frame["outcome"].copy()
    reading = frame["outcome_reading"]
    unstated = outcome.isin(_UNSTATED)
    counted = unstated & (
        (reading.isin(_PAST_READINGS) & (frame["reading_historical"] == "positive"))
        | ((reading == "benign") & (frame["reading_benign"] == "positive"))
    )
    ignored = (
        (outcome == "positive") & (reading == "pattern") & (frame["reading_pattern"] == "ignore")
    )
    outcome[counted] = "positive"
    outcome[ignored] = "negative"
    return outcome


def _policy_outcome() -> ColumnElement[str]:
    """:func:`_read_by_policy` in SQL, with a not-mentioned outcome as a negative."""
    unstated = Outcome.outcome.in_(_UNSTATED)
    return case(
        (
            unstated
            & Outcome.reading.in_(_PAST_READINGS)
            & (Device.reading_historical == "positive"),
            literal("positive"),
        ),
        (
            unstated & (Outcome.reading == "benign") & (Device.reading_benign == "positive"),
            literal("positive"),
        ),
        (
            (Outcome.outcome == "positive")
            & (Outcome.reading == "pattern")
            & (Device.reading_pattern == "ignore"),
            literal("negative"),
        ),
        (Outcome.outcome == NOT_MENTIONED, literal("negative")),
        else_=Outcome.outcome,
    )


def _classify(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("exam_datetime", "outcome_datetime"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["patient_age"] = pd.to_numeric(frame["patient_age"], errors="coerce")
    frame["ai_score"] = pd.to_numeric(frame["ai_score"], errors="coerce")
    frame["outcome_read"] = frame["outcome"]
    frame["outcome"] = _read_by_policy(frame)
    frame = frame.drop(columns=["outcome_reading", *_POLICY_NAMES])
    # A not-mentioned outcome is a negative truth under the device's "negative" policy.
    silent = (frame["outcome"] == NOT_MENTIONED) & (frame["unmentioned"] == "negative")
    frame.loc[silent, "outcome"] = "negative"
    # An indeterminate outcome is not a truth: the case stays pending (so is a
    # not-mentioned one under the "pending" policy).
    determinate = frame["outcome"].isin(["positive", "negative"])
    gone = ["outcome", "outcome_read", "outcome_source", "outcome_method", "outcome_evidence"]
    frame.loc[~determinate, [*gone, *_READ_COLUMNS]] = None
    frame.loc[~determinate, "outcome_datetime"] = pd.NaT
    delay = frame["outcome_datetime"] - frame["exam_datetime"]
    frame["label_delay_days"] = delay.dt.total_seconds() / 86400.0

    indeterminate = frame["ai_result"] == "indeterminate"
    policy = frame["indeterminate_policy"]
    ai_call = frame["ai_result"].where(~indeterminate, policy.where(policy != "exclude"))
    frame["ai_call"] = ai_call.where(ai_call.isin(["positive", "negative"]), None)

    call_pos = frame["ai_call"] == "positive"
    call_neg = frame["ai_call"] == "negative"
    truth_pos = frame["outcome"] == "positive"
    truth_neg = frame["outcome"] == "negative"
    frame["status"] = np.select(
        [
            frame["ai_call"].isna(),
            ~determinate,
            call_pos & truth_pos,
            call_pos & truth_neg,
            call_neg & truth_neg,
            call_neg & truth_pos,
        ],
        ["excluded", "pending", "tp", "fp", "tn", "fn"],
        default="pending",
    )
    return frame


def outcome_events(
    session: Session,
    as_of: datetime | None,
    *,
    device_id: str | None = None,
    arrived: IdWindow | None = None,
) -> pd.DataFrame:
    """Every determinate outcome that links to a prediction, as an arrival event.

    One row per (prediction, outcome) pair that linking would consider, with the
    outcome known by ``as_of`` (None: all): ``prediction_id``, ``outcome``
    (positive / negative), ``source_rank`` (index in :data:`SOURCE_PRECEDENCE`,
    0 strongest) and ``outcome_datetime`` (aware UTC). Indeterminate outcomes are
    left out: they never decide a case. A not-mentioned outcome is a ``negative``
    event for a device whose ``unmentioned`` policy is ``negative`` (left out
    otherwise), ranked after every decided outcome: its ``source_rank`` is
    ``len(SOURCE_PRECEDENCE) + 1 +`` its source's. Replaying linking over many dates reads
    this once instead of linking once per date. ``arrived``: only the pairs where the
    prediction or the outcome was stored in that window (a kept history's new rows).
    """
    pairs = _candidate_pairs(as_of, device_id, None, None, arrived=arrived).subquery("pairs")
    silent = Outcome.outcome == NOT_MENTIONED
    query = (
        select(
            pairs.c.prediction_id,
            _policy_outcome().label("outcome"),
            (_source_rank() + case((silent, len(SOURCE_PRECEDENCE) + 1), else_=0)).label(
                "source_rank"
            ),
            Outcome.outcome_datetime,
        )
        .join(Outcome, Outcome.id == pairs.c.outcome_id)
        .join(Prediction, Prediction.id == pairs.c.prediction_id)
        .join(Device, Device.id == Prediction.device_id)
        .where(
            or_(
                Outcome.outcome.in_(["positive", "negative"]),
                silent & (Device.unmentioned == "negative"),
                silent
                & Outcome.reading.in_(_PAST_READINGS)
                & (Device.reading_historical == "positive"),
                silent & (Outcome.reading == "benign") & (Device.reading_benign == "positive"),
            )
        )
    )
    if arrived is not None and device_id is not None:
        query = query.where(of_device_by_id(device_id))
    frame = pd.DataFrame.from_records(
        session.execute(query).all(),
        columns=["prediction_id", "outcome", "source_rank", "outcome_datetime"],
    )
    frame["outcome_datetime"] = pd.to_datetime(frame["outcome_datetime"], utc=True)
    return frame


def device_outcomes(
    session: Session,
    start: datetime | None,
    end: datetime,
    *,
    device_id: str | None = None,
) -> pd.DataFrame:
    """Every stored outcome dated in ``[start, end]`` that links to a device's
    prediction examined by ``end``, once per device: ``device_id``, ``outcome_id``,
    ``outcome`` (as stored: positive, negative, indeterminate, not_mentioned) and
    ``outcome_datetime`` (aware UTC). ``start`` None: from the first."""
    pairs = _candidate_pairs(end, device_id, None, None, since=start).subquery("pairs")
    query = (
        select(
            Prediction.device_id,
            Outcome.id.label("outcome_id"),
            Outcome.outcome,
            Outcome.outcome_datetime,
        )
        .select_from(pairs)
        .join(Outcome, Outcome.id == pairs.c.outcome_id)
        .join(Prediction, Prediction.id == pairs.c.prediction_id)
        .distinct()
    )
    frame = pd.DataFrame.from_records(
        session.execute(query).all(),
        columns=["device_id", "outcome_id", "outcome", "outcome_datetime"],
    )
    frame["outcome_datetime"] = pd.to_datetime(frame["outcome_datetime"], utc=True)
    return frame
