"""Linking: best outcome by precedence, as of a date, with the device's indeterminate policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from monitor.linking import linked_cases
from monitor.models import Outcome, Prediction
from monitor.storage import Database

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
_counter = {"n": 0}


def _prediction(session: Session, accession: str, **fields: object) -> None:
    values: dict[str, object] = {
        "device_id": "frac",
        "device_version": "1.0",
        "target": "fracture",
        "accession_number": accession,
        "exam_datetime": T0,
        "ai_result": "positive",
    }
    values.update(fields)
    _counter["n"] += 1
    session.add(Prediction(natural_key=f"p{_counter['n']}", **values))


def _outcome(
    session: Session,
    accession: str | None,
    outcome: str,
    source: str,
    days: float,
    **fields: object,
) -> None:
    _counter["n"] += 1
    session.add(
        Outcome(
            natural_key=f"o{_counter['n']}",
            accession_number=accession,
            outcome=outcome,
            source=source,
            outcome_datetime=T0 + timedelta(days=days),
            **fields,
        )
    )


def _case(db: Database, accession: str, as_of: datetime) -> dict:  # type: ignore[type-arg]
    with db.session() as session:
        cases = linked_cases(session, as_of)
    row = cases[cases["accession_number"] == accession]
    assert len(row) == 1, f"expected one case for {accession}"
    return row.iloc[0].to_dict()


@pytest.fixture
def scenario(registered: Database) -> Database:
    with registered.session.begin() as s:
        # Report says negative after 2 days; pathology says positive after 30 days.
        _prediction(s, "PREC")
        _outcome(s, "PREC", "negative", "report", 2)
        _outcome(s, "PREC", "positive", "pathology", 30)
        # Two reports: the latest within a source wins (a corrected report).
        _prediction(s, "LATEST", ai_result="negative")
        _outcome(s, "LATEST", "positive", "report", 1)
        _outcome(s, "LATEST", "negative", "report", 3)
        # Only an indeterminate report: still pending; a later follow-up resolves it.
        _prediction(s, "INDET")
        _outcome(s, "INDET", "indeterminate", "report", 1)
        _outcome(s, "INDET", "positive", "follow_up", 60)
        # Indeterminate pathology does not override a determinate report.
        _prediction(s, "PATHIND", ai_result="negative")
        _outcome(s, "PATHIND", "negative", "report", 1)
        _outcome(s, "PATHIND", "indeterminate", "pathology", 20)
        # Linked by study UID only.
        _prediction(s, "UIDONLY", study_instance_uid="1.2.3.4")
        _outcome(s, None, "positive", "report", 1, study_instance_uid="1.2.3.4")
        # Sites disagree: not the same exam.
        _prediction(s, "SITE", site="A")
        _outcome(s, "SITE", "negative", "report", 1, site="B")
        # Outcome for another target does not apply.
        _prediction(s, "TARGET")
        _outcome(s, "TARGET", "positive", "report", 1, target="effusion")
        # Indeterminate AI output: frac counts it positive, nod excludes it.
        _prediction(s, "AIIND", ai_result="indeterminate")
        _outcome(s, "AIIND", "negative", "report", 1)
        _prediction(s, "AIIND-N", device_id="nod", target="lung_nodule", ai_result="indeterminate")
        _outcome(s, "AIIND-N", "negative", "report", 1)
        # An exam after the as-of date does not exist yet.
        _prediction(s, "FUTURE", exam_datetime=T0 + timedelta(days=100))
    return registered


def test_source_precedence_as_of(scenario: Database) -> None:
    early = _case(scenario, "PREC", T0 + timedelta(days=10))
    late = _case(scenario, "PREC", T0 + timedelta(days=40))
    assert (early["outcome"], early["outcome_source"], early["status"]) == (
        "negative",
        "report",
        "fp",
    )
    assert (late["outcome"], late["outcome_source"], late["status"]) == (
        "positive",
        "pathology",
        "tp",
    )
    assert late["label_delay_days"] == pytest.approx(30)


def test_latest_within_a_source(scenario: Database) -> None:
    assert _case(scenario, "LATEST", T0 + timedelta(days=2))["status"] == "fn"
    assert _case(scenario, "LATEST", T0 + timedelta(days=5))["status"] == "tn"


def test_indeterminate_truth_stays_pending_until_resolved(scenario: Database) -> None:
    assert _case(scenario, "INDET", T0 + timedelta(days=5))["status"] == "pending"
    assert _case(scenario, "INDET", T0 + timedelta(days=70))["status"] == "tp"
    assert _case(scenario, "PATHIND", T0 + timedelta(days=70))["status"] == "tn"


def test_link_keys_sites_and_targets(scenario: Database) -> None:
    as_of = T0 + timedelta(days=5)
    assert _case(scenario, "UIDONLY", as_of)["status"] == "tp"
    assert _case(scenario, "SITE", as_of)["status"] == "pending"
    assert _case(scenario, "TARGET", as_of)["status"] == "pending"


def test_indeterminate_policy(scenario: Database) -> None:
    as_of = T0 + timedelta(days=5)
    assert _case(scenario, "AIIND", as_of)["status"] == "fp"
    excluded = _case(scenario, "AIIND-N", as_of)
    assert excluded["status"] == "excluded" and excluded["ai_call"] is None


def test_exams_after_the_as_of_date_are_not_seen(scenario: Database) -> None:
    with scenario.session() as session:
        cases = linked_cases(session, T0 + timedelta(days=5))
        later = linked_cases(session, T0 + timedelta(days=101))
    assert "FUTURE" not in set(cases["accession_number"])
    assert "FUTURE" in set(later["accession_number"])
    assert len(cases) == 9
    assert set(later.loc[later["status"] == "pending", "accession_number"]) == {
        "SITE",
        "TARGET",
        "FUTURE",
    }


def test_no_predictions_gives_an_empty_frame(registered: Database) -> None:
    with registered.session() as session:
        cases = linked_cases(session, T0)
    assert cases.empty
