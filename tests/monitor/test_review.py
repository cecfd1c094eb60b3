"""Case review: the cases behind a finding, adjudication outranking every source and
updating the counts, and discordant cases sampled into the queue once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from alerts.findings import FindingDraft
from monitor.cells import read_cells
from monitor.errors import MonitorError
from monitor.findings import get_finding, store_findings
from monitor.ingest import ingest_file
from monitor.linking import linked_cases
from monitor.models import AuditEntry, Prediction
from monitor.review import (
    adjudicate,
    case_summary,
    finding_cases,
    queue_counts,
    review_items,
    sample_discordant,
    sampled,
    skip,
)
from monitor.storage import Database
from tests.monitor.synthetic import PARIS, synthetic_cases

WINDOW = (datetime(2025, 1, 5, tzinfo=UTC), datetime(2025, 2, 5, tzinfo=UTC))
FAR = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def reviewed(registered: Database, tmp_path: Path) -> Database:
    _, _, p_path, o_path = synthetic_cases(tmp_path, n=600)
    ingest_file(registered, p_path, "predictions")
    ingest_file(registered, o_path, "outcomes")
    return registered


def _finding(db: Database, metric: str = "sensitivity") -> int:
    draft = FindingDraft(
        device_id="frac",
        rule="cusum",
        severity="warning",
        metric=metric,
        device_version="1.0",
        subgroup={"site": "A"},
        window_start_ns=int(pd.Timestamp(WINDOW[0]).value),
        window_end_ns=int(pd.Timestamp(WINDOW[1]).value),
        value=0.7,
        threshold=5.0,
    )
    with db.session.begin() as session:
        (finding,) = store_findings(session, [draft], WINDOW[1], PARIS)
        return finding.id


def _status(db: Database, prediction_id: int) -> str:
    with db.session() as session:
        return str(session.get(Prediction, prediction_id).case_status)  # type: ignore[union-attr]


@pytest.mark.parametrize("metric", ["sensitivity", "specificity"])
def test_the_cases_of_a_finding_are_those_of_its_device_slice_and_window(
    reviewed: Database, metric: str
) -> None:
    finding_id = _finding(reviewed, metric)
    with reviewed.session() as session:
        cases = finding_cases(session, get_finding(session, finding_id), PARIS)
        every = linked_cases(session, None, device_id="frac")
    expected = every[
        (every["site"] == "A")
        & (every["exam_datetime"] >= WINDOW[0])
        & (every["exam_datetime"] <= WINDOW[1])
    ]
    assert [c["case_ref"] for c in cases] == [
        f"case-{i}" for i in expected.sort_values("exam_datetime")["prediction_id"]
    ]
    truth = "positive" if metric == "sensitivity" else "negative"
    in_metric = expected[expected["outcome"] == truth]
    summary = case_summary(cases)
    assert summary["in_metric"] == len(in_metric) > 0
    miss = "fn" if metric == "sensitivity" else "fp"
    assert summary["in_metric_discordant"] == int((in_metric["status"] == miss).sum())
    assert summary["cases"] == len(expected)
    assert summary["tp"] + summary["fp"] + summary["tn"] + summary["fn"] == summary["verified"]
    # Pseudonymised references only: no accession number or patient pseudonym.
    text = json.dumps(cases)
    assert "accession" not in text and "E0" not in text and "patient" not in text


def test_an_adjudication_outranks_the_report_and_later_pathology_and_updates_counts(
    reviewed: Database, tmp_path: Path
) -> None:
    with reviewed.session() as session:
        target = session.scalars(
            select(Prediction).where(Prediction.case_status == "fn").order_by(Prediction.id)
        ).first()
        assert target is not None
        prediction_id, accession = target.id, target.accession_number
        before = read_cells(session, FAR).counts
    with reviewed.session.begin() as session:
        result = adjudicate(
            session,
            f"case-{prediction_id}",
            "negative",
            user="dr.referent",
            comment="no fracture on second reading",
            at=datetime(2025, 6, 1, tzinfo=UTC),
        )
    assert result == {
        "case_ref": f"case-{prediction_id}",
        "status_before": "fn",
        "status_after": "tn",
    }
    with reviewed.session() as session:
        after = read_cells(session, FAR).counts
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "case.adjudicate")
        ).one()
    assert after["fn"].sum() == before["fn"].sum() - 1
    assert after["tn"].sum() == before["tn"].sum() + 1
    assert entry.actor == "dr.referent" and entry.entity_id == f"case-{prediction_id}"
    assert str(accession) not in json.dumps(entry.details)
    # A pathology result arriving later, saying positive, does not override the reviewer.
    later = tmp_path / "late_pathology.csv"
    pd.DataFrame(
        [
            {
                "accession_number": accession,
                "outcome": "positive",
                "source": "pathology",
                "outcome_datetime": "2025-09-01T10:00:00+02:00",
            }
        ]
    ).to_csv(later, index=False)
    ingest_file(reviewed, later, "outcomes")
    assert _status(reviewed, prediction_id) == "tn"
    # Before the adjudication, the data known then still says fn.
    with reviewed.session() as session:
        then = linked_cases(
            session, datetime(2025, 5, 1, tzinfo=UTC), prediction_ids=[prediction_id]
        )
    assert then["status"].tolist() == ["fn"]


def test_adjudication_refuses_what_it_cannot_record(reviewed: Database) -> None:
    with reviewed.session.begin() as session:
        with pytest.raises(MonitorError, match="positive or negative, not 'indeterminate'"):
            adjudicate(session, "case-1", "indeterminate", user="a", comment="b")
        with pytest.raises(MonitorError, match="not a case reference"):
            adjudicate(session, "E00001", "negative", user="a", comment="b")
        with pytest.raises(MonitorError, match="no case case-999999"):
            adjudicate(session, "case-999999", "negative", user="a", comment="b")
        with pytest.raises(MonitorError, match="user name and a comment"):
            adjudicate(session, "case-1", "negative", user="a", comment=" ")


def test_discordant_cases_are_sampled_at_the_rate_once_and_reproducibly(
    reviewed: Database,
) -> None:
    with reviewed.session() as session:
        discordant = sorted(
            session.scalars(select(Prediction.id).where(Prediction.case_status.in_(["fp", "fn"])))
        )
    assert len(discordant) > 50
    rate = 0.3
    expected = [i for i in discordant if sampled(i, rate)]
    with reviewed.session.begin() as session:
        assert sample_discordant(session, 0.0) == 0
        assert sample_discordant(session, rate) == len(expected)
        assert sample_discordant(session, rate) == 0  # nothing twice
        items = review_items(session, PARIS, status="pending")
    assert sorted(int(i["case_ref"].removeprefix("case-")) for i in items) == expected
    assert {i["status"] for i in items} <= {"fp", "fn"}
    # The hash sample is a fair one: within four standard deviations of the rate.
    n = 20_000
    share = sum(sampled(i, rate) for i in range(n)) / n
    assert abs(share - rate) < 4 * (rate * (1 - rate) / n) ** 0.5
    assert all(sampled(i, 1.0) for i in range(100)) and not any(sampled(i, 0.0) for i in range(100))


def test_a_queued_case_is_adjudicated_or_skipped_and_the_queue_shows_progress(
    reviewed: Database,
) -> None:
    finding_id = _finding(reviewed)
    with reviewed.session.begin() as session:
        added = sample_discordant(session, 1.0, finding=get_finding(session, finding_id))
        assert added > 1
        first, second = review_items(session, PARIS, limit=2)
        assert first["reason"] == "finding" and first["finding_id"] == finding_id
        adjudicate(session, first["case_ref"], "positive", user="dr.r", comment="confirmed miss")
        skip(session, second["case_ref"], user="dr.r", comment="image not available")
        with pytest.raises(MonitorError, match="not waiting in the review queue"):
            skip(session, second["case_ref"], user="dr.r", comment="again")
        counts = queue_counts(session, "frac")
    assert counts == {"pending": added - 2, "adjudicated": 1, "skipped": 1}


def test_sampling_rate_outside_0_1_is_refused(reviewed: Database) -> None:
    with reviewed.session() as session, pytest.raises(MonitorError, match=r"must lie in 0\.\.1"):
        sample_discordant(session, 1.5)


def test_the_adjudication_time_defaults_to_now(reviewed: Database) -> None:
    with reviewed.session.begin() as session:
        prediction_id = session.scalars(select(Prediction.id).order_by(Prediction.id)).first()
        adjudicate(session, f"case-{prediction_id}", "negative", user="a", comment="b")
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "case.adjudicate")
        ).one()
    assert abs(entry.at - datetime.now(UTC)) < timedelta(minutes=5)


def test_cases_already_sampled_are_attached_to_the_finding_that_queues_them(
    reviewed: Database,
) -> None:
    finding_id = _finding(reviewed)
    with reviewed.session.begin() as session:
        sampled_first = sample_discordant(session, 1.0, device_id="frac")
        assert sampled_first > 0
        finding = get_finding(session, finding_id)
        assert sample_discordant(session, 1.0, finding=finding) == 0
        mine = review_items(session, PARIS, finding_id=finding_id)
        cases = finding_cases(session, finding, PARIS)
    expected = {c["case_ref"] for c in cases if c["discordant"] and c["in_metric"]}
    assert {i["case_ref"] for i in mine} == expected and expected
    assert {i["reason"] for i in mine} == {"discordant_sample"}
