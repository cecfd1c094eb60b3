"""Case review: the cases behind a finding, the discordant-case queue, adjudication.

A case is shown by its pseudonymised reference ``case-<prediction id>`` with its AI
result, its outcome and the outcome's source and dates, and, for an outcome read
from a report, the deciding words, sentence, section and qualifiers (to the
quality role only) - never an accession number, study UID or patient pseudonym. A
reviewer's adjudication is stored as an outcome of source ``adjudication``, which
linking ranks above every other source, and the case's cells are updated in the same
transaction; it is audited (``case.adjudicate``). Discordant cases (AI and truth
disagree) are sampled into the review queue at a configured rate by a hash of the
case, so the choice is reproducible and re-running the sampling adds nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor import audit
from monitor.cells import refresh_cases, touched_by_outcomes
from monitor.config import SubgroupConfig
from monitor.errors import MonitorError
from monitor.ingest import natural_key
from monitor.kept_texts import report_text
from monitor.linking import linked_cases
from monitor.models import Finding, Outcome, Prediction, ReviewItem, SummaryState
from monitor.subgroups import add_age_band
from monitor.timeutil import local_iso, utc_now

__all__ = [
    "ADJUDICATION_OUTCOMES",
    "REVIEW_STATUSES",
    "adjudicate",
    "case_record",
    "case_ref",
    "case_report_text",
    "case_summary",
    "finding_cases",
    "parse_case_ref",
    "queue_counts",
    "review_items",
    "sample_discordant",
    "sampled",
    "skip",
]

ADJUDICATION_OUTCOMES = ("positive", "negative")
"""What a reviewer decides; a case they cannot decide is skipped, not adjudicated."""

REVIEW_STATUSES = ("pending", "adjudicated", "skipped")

_SAMPLING_SALT = "dmn-monitor discordant review"
_BATCH = 5000

# The population of each metric: the truth of the cases it is computed on.
_METRIC_TRUTH = {"sensitivity": "positive", "specificity": "negative"}
_METRIC_CALL = {"ppv": "positive", "npv": "negative"}


def case_ref(prediction_id: int) -> str:
    """The pseudonymised reference of a case, ``case-<prediction id>``."""
    return f"case-{int(prediction_id)}"


def parse_case_ref(text: str) -> int:
    """The prediction id of ``case-123`` (or ``123``); MonitorError when it is not one."""
    value = text.strip().removeprefix("case-")
    if not value.isdigit():
        raise MonitorError(f"{text!r} is not a case reference: expected case-<number>")
    return int(value)


def _age_bands(session: Session) -> tuple[float, ...]:
    state = session.get(SummaryState, 1)
    if state is None:
        return SubgroupConfig().age_bands
    return tuple(float(b) for b in state.age_bands)


def _batches(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]


def _local(value: Any, tz: ZoneInfo) -> str | None:
    """:func:`local_iso` of a pandas or Python moment (NaT is None)."""
    return None if value is None or pd.isna(value) else local_iso(pd.Timestamp(value), tz)


def _text(value: Any) -> str | None:
    """A text cell of a case frame (None, NaN and "" are None)."""
    return None if value is None or pd.isna(value) or value == "" else str(value)


def _case_records(cases: pd.DataFrame, tz: ZoneInfo, metric: str | None) -> list[dict[str, Any]]:
    records = []
    for row in cases.itertuples(index=False):
        status = str(row.status)
        if metric in _METRIC_TRUTH:
            in_metric = row.outcome == _METRIC_TRUTH[metric]
        elif metric in _METRIC_CALL:
            in_metric = row.ai_call == _METRIC_CALL[metric]
        else:
            in_metric = status in ("tp", "fp", "tn", "fn")
        records.append(
            {
                "case_ref": case_ref(int(row.prediction_id)),
                "device_id": row.device_id,
                "device_version": row.device_version,
                "exam_datetime": _local(row.exam_datetime, tz),
                "site": row.site,
                "scanner_manufacturer": row.scanner_manufacturer,
                "ai_result": row.ai_result,
                "ai_score": None if pd.isna(row.ai_score) else float(row.ai_score),
                "status": status,
                "outcome": row.outcome,
                "outcome_source": row.outcome_source,
                "outcome_datetime": _local(row.outcome_datetime, tz),
                "outcome_method": _text(row.outcome_method),
                "outcome_evidence": _text(row.outcome_evidence),
                "outcome_read": _text(row.outcome_read),
                "outcome_section": _text(row.outcome_section),
                "outcome_sentence": _text(row.outcome_sentence),
                "outcome_qualifiers": _text(row.outcome_qualifiers),
                "discordant": status in ("fp", "fn"),
                "in_metric": bool(in_metric),
            }
        )
    return records


def case_record(session: Session, prediction_id: int, tz: ZoneInfo) -> dict[str, Any] | None:
    """What is known now of one case, as in the queue and finding lists (None when
    there is no such prediction)."""
    if session.get(Prediction, prediction_id) is None:
        return None
    records = _case_records(
        linked_cases(session, None, prediction_ids=[prediction_id], reading=True), tz, None
    )
    return records[0] if records else None


def case_report_text(session: Session, prediction_id: int) -> str | None:
    """The kept whole text of the report that decided the case (``[ingest]
    keep_report_text``), None when it is not kept or the case has no outcome."""
    cases = linked_cases(session, None, prediction_ids=[prediction_id])
    if cases.empty or pd.isna(cases["outcome_id"].iloc[0]):
        return None
    return report_text(session, int(cases["outcome_id"].iloc[0]))


def finding_cases(session: Session, finding: Finding, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The cases a finding is about, with what is known of them now, oldest exam first.

    The cases of the finding's device (and version, and subgroup) examined within its
    window (exam time; the whole history when it has none). ``in_metric`` marks the
    cases its metric is computed on (verified positives for sensitivity, verified
    negatives for specificity, positive calls for PPV, negative calls for NPV);
    ``discordant`` the false negatives and false positives.
    """
    query = select(Prediction.id).where(Prediction.device_id == finding.device_id)
    if finding.device_version:
        query = query.where(Prediction.device_version == finding.device_version)
    if finding.window_start is not None:
        query = query.where(Prediction.exam_datetime >= finding.window_start)
    if finding.window_end is not None:
        query = query.where(Prediction.exam_datetime <= finding.window_end)
    subgroup = dict(finding.subgroup or {})
    for column, value in subgroup.items():
        if column != "age_band" and hasattr(Prediction, column):
            query = query.where(getattr(Prediction, column) == value)
    ids = sorted(session.scalars(query))
    frames = [
        linked_cases(session, None, prediction_ids=batch, reading=True) for batch in _batches(ids)
    ]
    if not frames:
        return []
    cases = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if "age_band" in subgroup:
        cases = add_age_band(cases, _age_bands(session))
        cases = cases[cases["age_band"] == subgroup["age_band"]]
    cases = cases.sort_values(["exam_datetime", "prediction_id"], kind="stable")
    return _case_records(cases, tz, finding.metric)


def case_summary(cases: list[dict[str, Any]]) -> dict[str, int]:
    """Counts of :func:`finding_cases` rows: cases, verified, tp, fp, tn, fn, pending,
    excluded, and those in the finding's metric (``in_metric``, ``in_metric_discordant``)."""
    summary = dict.fromkeys(("cases", "verified", "tp", "fp", "tn", "fn", "pending", "excluded"), 0)
    summary["in_metric"] = 0
    summary["in_metric_discordant"] = 0
    for case in cases:
        summary["cases"] += 1
        summary[case["status"]] += 1
        if case["status"] in ("tp", "fp", "tn", "fn"):
            summary["verified"] += 1
        if case["in_metric"]:
            summary["in_metric"] += 1
            summary["in_metric_discordant"] += int(case["discordant"])
    return summary


def adjudicate(
    session: Session,
    ref: str,
    outcome: str,
    *,
    user: str,
    comment: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record a reviewer's outcome for a case; it takes precedence over every other source.

    ``outcome`` is positive or negative; ``at`` the adjudication time (default now,
    UTC). The case's cells are refreshed, its queue item (if any) marked adjudicated,
    and ``case.adjudicate`` audited. Returns the case's status before and after.
    """
    if outcome not in ADJUDICATION_OUTCOMES:
        raise MonitorError(
            f"an adjudicated outcome is positive or negative, not {outcome!r}; "
            "skip a case that cannot be decided"
        )
    if not user.strip() or not comment.strip():
        raise MonitorError("adjudicating a case needs a user name and a comment")
    prediction_id = parse_case_ref(ref)
    prediction = session.get(Prediction, prediction_id)
    if prediction is None:
        raise MonitorError(f"no case {case_ref(prediction_id)}")
    before = prediction.case_status
    moment = at or utc_now()
    link = prediction.accession_number or prediction.study_instance_uid or ""
    row = Outcome(
        natural_key=natural_key(
            link, prediction.target, "adjudication", moment.isoformat(), str(prediction_id)
        ),
        accession_number=prediction.accession_number,
        study_instance_uid=prediction.study_instance_uid,
        target=prediction.target,
        site=prediction.site,
        outcome=outcome,
        source="adjudication",
        outcome_datetime=moment,
        method="adjudication",
        evidence=None,
    )
    session.add(row)
    session.flush()
    refresh_cases(session, touched_by_outcomes(session, [row.id]))
    session.refresh(prediction)
    item = session.scalars(
        select(ReviewItem).where(ReviewItem.prediction_id == prediction_id)
    ).one_or_none()
    if item is not None:
        item.status = "adjudicated"
        item.decided_at = moment
        item.decided_by = user.strip()
        item.decision = outcome
        item.comment = comment.strip()
    audit.record(
        session,
        actor=user.strip(),
        action="case.adjudicate",
        entity="case",
        entity_id=case_ref(prediction_id),
        details={
            "outcome": outcome,
            "comment": comment.strip(),
            "status_before": before,
            "status_after": prediction.case_status,
            "device_id": prediction.device_id,
        },
        at=moment,
    )
    return {
        "case_ref": case_ref(prediction_id),
        "status_before": before,
        "status_after": prediction.case_status,
    }


def sampled(prediction_id: int, rate: float) -> bool:
    """Whether a discordant case falls in a sample at ``rate`` (0..1): a fixed hash of
    the case, so the same cases are chosen on every run (1 = all, 0 = none)."""
    digest = hashlib.sha256(f"{_SAMPLING_SALT}:{int(prediction_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < rate


def sample_discordant(
    session: Session,
    rate: float,
    *,
    device_id: str | None = None,
    finding: Finding | None = None,
) -> int:
    """Queue the not-yet-queued discordant cases (false positives and negatives, as
    known now) that fall in the sample at ``rate``; returns how many were added.

    With ``finding``, its discordant cases in its metric are queued (all of them at
    rate 1) with the finding named as the reason; those already queued by the
    sampling are marked as the finding's too.
    """
    if not 0.0 <= rate <= 1.0:
        raise MonitorError(f"sampling rate {rate} must lie in 0..1")
    if finding is not None:
        candidates = [
            (parse_case_ref(c["case_ref"]), c["device_id"], c["status"])
            for c in finding_cases(session, finding, ZoneInfo("UTC"))
            if c["discordant"] and c["in_metric"]
        ]
    else:
        query = (
            select(Prediction.id, Prediction.device_id, Prediction.case_status)
            .outerjoin(ReviewItem, ReviewItem.prediction_id == Prediction.id)
            .where(Prediction.case_status.in_(["fp", "fn"]), ReviewItem.id.is_(None))
        )
        if device_id is not None:
            query = query.where(Prediction.device_id == device_id)
        candidates = [(int(i), str(d), str(s)) for i, d, s in session.execute(query)]
    queued = _queued(session, [c[0] for c in candidates])
    if finding is not None and queued:
        # Cases already queued by the sampling now also name the finding.
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.prediction_id.in_(sorted(queued)), ReviewItem.finding_id.is_(None))
            .values(finding_id=finding.id)
        )
    now = utc_now()
    added = 0
    for prediction_id, device, status in candidates:
        if prediction_id in queued or not sampled(prediction_id, rate):
            continue
        session.add(
            ReviewItem(
                prediction_id=prediction_id,
                device_id=device,
                reason="finding" if finding is not None else "discordant_sample",
                finding_id=finding.id if finding is not None else None,
                case_status=status,
                status="pending",
                queued_at=now,
            )
        )
        queued.add(prediction_id)
        added += 1
    session.flush()
    return added


def _queued(session: Session, ids: Collection[int]) -> set[int]:
    found: set[int] = set()
    for batch in _batches(sorted(ids)):
        found.update(
            session.scalars(
                select(ReviewItem.prediction_id).where(ReviewItem.prediction_id.in_(batch))
            )
        )
    return found


def skip(session: Session, ref: str, *, user: str, comment: str) -> ReviewItem:
    """Skip a queued case (cannot be decided now); audited as ``case.skip``."""
    if not user.strip() or not comment.strip():
        raise MonitorError("skipping a case needs a user name and a comment")
    prediction_id = parse_case_ref(ref)
    item = session.scalars(
        select(ReviewItem).where(ReviewItem.prediction_id == prediction_id)
    ).one_or_none()
    if item is None or item.status != "pending":
        raise MonitorError(f"{case_ref(prediction_id)} is not waiting in the review queue")
    item.status = "skipped"
    item.decided_at = utc_now()
    item.decided_by = user.strip()
    item.comment = comment.strip()
    audit.record(
        session,
        actor=user.strip(),
        action="case.skip",
        entity="case",
        entity_id=case_ref(prediction_id),
        details={"comment": comment.strip(), "device_id": item.device_id},
    )
    return item


def review_items(
    session: Session,
    tz: ZoneInfo,
    *,
    device_id: str | None = None,
    finding_id: int | None = None,
    status: str | None = "pending",
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Queued cases (``status`` of the queue: pending by default, None for all), oldest
    first, each with what is known of the case now."""
    query = select(ReviewItem).order_by(ReviewItem.queued_at, ReviewItem.id)
    if device_id is not None:
        query = query.where(ReviewItem.device_id == device_id)
    if finding_id is not None:
        query = query.where(ReviewItem.finding_id == finding_id)
    if status is not None:
        query = query.where(ReviewItem.status == status)
    if limit is not None:
        query = query.limit(limit)
    items = list(session.scalars(query))
    if not items:
        return []
    ids = [i.prediction_id for i in items]
    cases = pd.concat(
        [
            linked_cases(session, None, prediction_ids=batch, reading=True)
            for batch in _batches(ids)
        ],
        ignore_index=True,
    )
    known = {rec["case_ref"]: rec for rec in _case_records(cases, tz, None)}
    rows = []
    for item in items:
        case = known[case_ref(item.prediction_id)]
        rows.append(
            {
                **case,
                "queue_status": item.status,
                "reason": item.reason,
                "finding_id": item.finding_id,
                "status_when_queued": item.case_status,
                "queued_at": _local(item.queued_at, tz),
                "decided_by": item.decided_by,
                "decision": item.decision,
            }
        )
    return rows


def queue_counts(session: Session, device_id: str | None = None) -> dict[str, int]:
    """How many queued cases are pending, adjudicated and skipped."""
    query = select(ReviewItem.status, func.count()).group_by(ReviewItem.status)
    if device_id is not None:
        query = query.where(ReviewItem.device_id == device_id)
    counts = dict.fromkeys(REVIEW_STATUSES, 0)
    counts.update({str(s): int(n) for s, n in session.execute(query)})
    return counts
