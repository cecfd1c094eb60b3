"""Linking: each prediction with its best outcome as of a date -> a case.

A case is one device x exam x target. Its outcome is the best *determinate*
outcome known as of the evaluation date, by source precedence
``adjudication > pathology > follow_up > report`` and, within a source, the
latest. An ``indeterminate`` outcome never overrides a determinate one; a case
whose only outcomes are indeterminate is still pending (its truth is not known).

An outcome links to a prediction by accession number or study instance UID; an
outcome without a target applies to every target of the exam; when both records
name a site, the sites must agree (accession numbers are only unique per site).

The device's indeterminate policy then turns the AI result into a call:
``positive`` / ``negative`` count an indeterminate output as that, ``exclude``
leaves the case out of the confusion counts.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import case, func, literal, or_, select, union
from sqlalchemy.orm import Session

from connectors import PREDICTION_COLUMNS
from monitor.models import Device, Outcome, Prediction

__all__ = ["CASE_STATUSES", "SOURCE_PRECEDENCE", "linked_cases", "outcome_events"]

SOURCE_PRECEDENCE = ("adjudication", "pathology", "follow_up", "report")
"""Outcome sources, strongest first."""

CASE_STATUSES = ("tp", "fp", "tn", "fn", "pending", "excluded")
"""``excluded``: indeterminate AI output under an ``exclude`` policy."""

# What a case carries of its prediction: no patient pseudonym, no AI timestamp.
PREDICTION_FIELDS = tuple(c for c in PREDICTION_COLUMNS if c not in ("patient_id", "ai_datetime"))


def _source_rank() -> object:
    return case(
        {name: rank for rank, name in enumerate(SOURCE_PRECEDENCE)},
        value=Outcome.source,
        else_=len(SOURCE_PRECEDENCE),
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


def _candidate_pairs(
    as_of: datetime | None,
    device_id: str | None,
    prediction_ids: Collection[int] | None,
    id_range: tuple[int, int] | None,
) -> Any:
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
        return _restrict(query, as_of, device_id, prediction_ids, id_range)

    by_accession = joined(Prediction.accession_number == Outcome.accession_number)
    by_uid = joined(Prediction.study_instance_uid == Outcome.study_instance_uid)
    return union(by_accession, by_uid)


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
            func.row_number()
            .over(
                partition_by=pairs.c.prediction_id,
                order_by=(
                    case((Outcome.outcome == "indeterminate", 1), else_=0),
                    _source_rank(),  # type: ignore[arg-type]
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
) -> pd.DataFrame:
    """Every prediction with ``exam_datetime <= as_of`` as a case, seen as of ``as_of``.

    ``as_of=None`` links with every stored outcome (current knowledge).
    ``prediction_ids`` restricts to those predictions (keep it to a few thousand),
    ``id_range`` to prediction ids ``lo..hi`` inclusive.
    Columns: the prediction fields, ``prediction_id``, ``indeterminate_policy``,
    ``outcome`` / ``outcome_source`` / ``outcome_datetime`` (None when pending),
    ``outcome_method`` / ``outcome_evidence`` (how the outcome was read from a report
    or pathology text and the deciding words, <= 300 characters; None when the
    outcome was given as such, and when pending),
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
            best.c.outcome,
            best.c.outcome_source,
            best.c.outcome_datetime,
            best.c.outcome_method,
            best.c.outcome_evidence,
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
        "outcome",
        "outcome_source",
        "outcome_datetime",
        "outcome_method",
        "outcome_evidence",
    ]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    return _classify(frame)


def _classify(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("exam_datetime", "outcome_datetime"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["patient_age"] = pd.to_numeric(frame["patient_age"], errors="coerce")
    frame["ai_score"] = pd.to_numeric(frame["ai_score"], errors="coerce")
    # An indeterminate outcome is not a truth: the case stays pending.
    determinate = frame["outcome"].isin(["positive", "negative"])
    frame.loc[~determinate, ["outcome", "outcome_source", "outcome_method", "outcome_evidence"]] = (
        None
    )
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
    session: Session, as_of: datetime | None, *, device_id: str | None = None
) -> pd.DataFrame:
    """Every determinate outcome that links to a prediction, as an arrival event.

    One row per (prediction, outcome) pair that linking would consider, with the
    outcome known by ``as_of`` (None: all): ``prediction_id``, ``outcome``
    (positive / negative), ``source_rank`` (index in :data:`SOURCE_PRECEDENCE`,
    0 strongest) and ``outcome_datetime`` (aware UTC). Indeterminate outcomes are
    left out: they never decide a case. Replaying linking over many dates reads this
    once instead of linking once per date.
    """
    pairs = _candidate_pairs(as_of, device_id, None, None).subquery("pairs")
    query = (
        select(
            pairs.c.prediction_id,
            Outcome.outcome,
            _source_rank().label("source_rank"),  # type: ignore[attr-defined]
            Outcome.outcome_datetime,
        )
        .join(Outcome, Outcome.id == pairs.c.outcome_id)
        .where(Outcome.outcome.in_(["positive", "negative"]))
    )
    frame = pd.DataFrame.from_records(
        session.execute(query).all(),
        columns=["prediction_id", "outcome", "source_rank", "outcome_datetime"],
    )
    frame["outcome_datetime"] = pd.to_datetime(frame["outcome_datetime"], utc=True)
    return frame
