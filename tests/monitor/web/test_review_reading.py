"""What a reviewer sees of how a report decided: the sentence, its section, the words
that qualified the mention, and the kept whole text - escaped (hostile text), and
never to a viewer. A 'not mentioned' outcome counted as negative says so."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from monitor import registry, review
from monitor.cells import refresh_cases
from monitor.models import Device, Outcome, Prediction, ReportText
from monitor.web.pages_fleet import form_values
from tests.monitor.web.conftest import Console

HOSTILE = "<script>alert('x')</script> fracture du radius distal"


def _case(console: Console, offset: int, *, pending: bool = False) -> Prediction:
    query = select(Prediction).where(Prediction.device_id == "fracture-xr")
    if pending:  # no decided outcome yet
        query = query.where(Prediction.case_status.like("pending%"))
    with console.db.session() as session:
        prediction = session.scalars(query.order_by(Prediction.id).offset(offset).limit(1)).one()
        session.expunge(prediction)
    return prediction


def _outcome(console: Console, prediction: Prediction, outcome: str, **fields: object) -> int:
    """A newer adjudication-free outcome that outranks the case's: source pathology."""
    with console.db.session.begin() as session:
        row = Outcome(
            natural_key=f"test-reading-{prediction.id}",
            accession_number=prediction.accession_number,
            target=prediction.target,
            site=prediction.site,
            outcome=outcome,
            source="pathology",
            outcome_datetime=datetime(2025, 12, 1, tzinfo=UTC),
            **fields,
        )
        session.add(row)
        session.flush()
        refresh_cases(session, [prediction.id])
        return row.id


def test_the_case_page_shows_the_deciding_sentence_section_and_qualifiers_escaped(
    console: Console,
) -> None:
    prediction = _case(console, 3)
    outcome_id = _outcome(
        console,
        prediction,
        "positive",
        method="report_text_rules/v2 fr conclusion",
        evidence="fracture du radius distal",
        section="conclusion",
        sentence=HOSTILE,
        qualifiers="historical: <b>en 2019</b>; other_organ: thyroïde",
    )
    with console.db.session.begin() as session:
        session.add(
            ReportText(
                outcome_id=outcome_id,
                text="Compte rendu <img src=x onerror=alert(1)> entier.",
                stored_at=datetime(2025, 12, 1, tzinfo=UTC),
            )
        )
    ref = review.case_ref(prediction.id)
    quality = console.browser("quality")
    page = quality.get(f"/review/{ref}?lang=fr")
    assert page.status_code == 200
    body = page.text
    assert "<script>alert" not in body and "&lt;script&gt;alert" in body
    assert "Phrase qui a décidé (section\u00a0: conclusion)" in body
    assert "antériorité\u00a0: «\u00a0&lt;b&gt;en 2019&lt;/b&gt;\u00a0»" in body
    assert "autre organe" in body and "thyroïde" in body
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    english = quality.get(f"/review/{ref}?lang=en").text
    assert "Sentence that decided (section: conclusion)" in english
    assert "historical: “&lt;b&gt;en 2019&lt;/b&gt;”" in english
    # A viewer sees none of it: the case review is for the quality role.
    viewer = console.browser("viewer")
    assert viewer.get(f"/review/{ref}").status_code == 403


def test_a_not_mentioned_outcome_counted_negative_says_so(console: Console) -> None:
    prediction = _case(console, 0, pending=True)
    with console.db.session.begin() as session:
        session.execute(
            update(Device).where(Device.id == "fracture-xr").values(unmentioned="negative")
        )
    _outcome(console, prediction, "not_mentioned", method="report_text_rules/v2 fr")
    with console.db.session() as session:
        record = review.case_record(session, prediction.id, ZoneInfo(console.config.time.timezone))
    assert record is not None
    assert (record["outcome"], record["outcome_read"]) == ("negative", "not_mentioned")
    page = console.browser("quality").get(f"/review/{review.case_ref(prediction.id)}?lang=en")
    assert "The final report does not mention the target" in page.text


def test_the_device_page_shows_the_months_outcomes_and_admins_set_the_policy(
    console: Console,
) -> None:
    viewer = console.browser("viewer")
    page = viewer.get("/devices/fracture-xr?month=2025-08&lang=en").text
    outcomes = page[page.index('id="outcomes"') :]
    assert "Ground truth received in the month" in page
    assert "Target not mentioned by the report" in outcomes
    assert "pending another outcome" in outcomes
    assert "Target not mentioned by a final report" in page  # the registry entry
    # The admin's form carries the policy; saving it recounts and is audited.
    admin = console.browser("admin")
    with console.db.session() as session:
        form = form_values(registry.get_device(session, "fracture-xr"))
    assert form["unmentioned"] == "pending"
    form["unmentioned"] = "negative"
    saved = admin.post("/devices/fracture-xr/edit", form)
    assert saved.status_code == 303, saved.text
    with console.db.session() as session:
        assert registry.get_device(session, "fracture-xr").unmentioned == "negative"
    [entry] = console.audit("device.updated")
    assert entry.details["changed"]["unmentioned"] == {"from": None, "to": "negative"}
    shown = admin.get("/devices/fracture-xr?month=2025-08&lang=fr").text
    assert "comptée négative" in shown
