"""The console's case review: the queue page, one case at a time, adjudicate and skip."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from monitor import review
from monitor.linking import linked_cases
from monitor.models import Finding, Outcome, Prediction, ReviewItem
from monitor.web.pages_review import method_words
from tests.monitor.web.conftest import Browser, Console

CLAIRE = "Claire Martin (cmartin)"
EVIDENCE = "CONCLUSION : fracture non déplacée du radius distal droit."
REPORT_RULES = "report_text_rules/v2 fr conclusion"


def _queue_a_finding(console: Console) -> tuple[int, list[str]]:
    """Queue the discordant cases of an open fracture-xr finding (at least four);
    returns its id and the queued case refs in queue order."""
    with console.db.session.begin() as session:
        findings = session.scalars(
            select(Finding)
            .where(Finding.device_id == "fracture-xr", Finding.status == "open")
            .where(Finding.metric == "sensitivity")
            .order_by(Finding.id)
        ).all()
        # The critical ones first (the CUSUM alarm on 2.4.0 x Fujifilm).
        for finding in sorted(findings, key=lambda f: f.severity != "critical"):
            if review.sample_discordant(session, 1.0, finding=finding) >= 4:
                ids = session.scalars(
                    select(ReviewItem.prediction_id)
                    .where(ReviewItem.finding_id == finding.id)
                    .order_by(ReviewItem.queued_at, ReviewItem.id)
                ).all()
                return finding.id, [review.case_ref(i) for i in ids]
    raise AssertionError("the demo has no open fracture-xr finding with four discordant cases")


def _set_outcome_words(
    console: Console, ref: str, method: str | None, evidence: str | None
) -> None:
    """Give a case a newer outcome of the same source and truth, read by ``method`` with
    ``evidence`` (None: given as such), linked by the case's accession number."""
    with console.db.session.begin() as session:
        prediction = session.get_one(Prediction, prediction_id := review.parse_case_ref(ref))
        current = linked_cases(session, None, prediction_ids=[prediction_id]).iloc[0]
        assert current["outcome"] in ("positive", "negative"), "the case needs an outcome"
        session.add(
            Outcome(
                natural_key=f"test-words-{ref}",
                accession_number=prediction.accession_number,
                study_instance_uid=None,
                target=prediction.target,
                site=prediction.site,
                outcome=current["outcome"],
                source=current["outcome_source"],
                outcome_datetime=datetime(2026, 1, 5, 10, tzinfo=UTC),
                method=method,
                evidence=evidence,
            )
        )


def _identifiers(console: Console, refs: list[str]) -> list[str]:
    """The accession numbers, study UIDs and patient pseudonyms of these cases."""
    ids = [review.parse_case_ref(r) for r in refs]
    with console.db.session() as session:
        rows = session.execute(
            select(
                Prediction.accession_number,
                Prediction.study_instance_uid,
                Prediction.patient_pseudonym,
            ).where(Prediction.id.in_(ids))
        ).all()
    found = [str(v) for row in rows for v in row if v]
    assert len(found) >= 2 * len(refs)
    return found


def _count(html: str, status: str) -> int:
    found = re.search(rf'data-count="{status}">([^<]+)<', html)
    assert found is not None, status
    return int(found.group(1).replace("\u202f", "").replace("\u00a0", ""))


def _follow(browser: Browser, response: object) -> str:
    """GET where a 303 leads; returns the page's HTML."""
    assert getattr(response, "status_code", None) == 303, getattr(response, "text", "")
    page = browser.get(response.headers["location"])  # type: ignore[attr-defined]
    assert page.status_code == 200
    return str(page.text)


def test_a_reviewer_works_through_a_findings_queue_in_french(console: Console) -> None:
    finding_id, refs = _queue_a_finding(console)
    _set_outcome_words(console, refs[0], REPORT_RULES, EVIDENCE)
    _set_outcome_words(console, refs[1], None, None)
    secret = _identifiers(console, refs)
    total = len(refs)
    browser = console.browser("quality")
    pages: list[str] = []

    queue = browser.get(f"/review?finding={finding_id}")
    assert queue.status_code == 200
    pages.append(queue.text)
    assert _count(queue.text, "pending") == total
    assert f'<progress id="review-progress" max="{total}" value="0">' in queue.text
    assert f"0 cas traités sur {total}" in queue.text
    start = f'href="/review/{refs[0]}?finding={finding_id}"'
    assert start in queue.text and "Commencer la revue" in queue.text

    # Case 1: the evidence block, the method in words, why it is queued, the forms.
    first = browser.get(f"/review/{refs[0]}?finding={finding_id}")
    assert first.status_code == 200
    pages.append(first.text)
    assert f"Cas 1 sur {total}" in first.text
    assert f'<blockquote class="evidence">{EVIDENCE}</blockquote>' in first.text
    assert "règles sur le texte du compte rendu, conclusion" in first.text
    assert "faux négatif" in first.text
    assert f'href="/findings/{finding_id}"' in first.text
    assert 'id="outcome-positive" name="outcome" value="positive" required autofocus' in first.text
    assert '<label for="outcome-positive"' in first.text
    assert '<label for="outcome-negative"' in first.text
    assert f'<input type="hidden" name="finding" value="{finding_id}">' in first.text

    done = browser.post(
        f"/review/{refs[0]}/adjudicate",
        {"outcome": "positive", "comment": "Fracture visible.", "finding": str(finding_id)},
    )
    assert done.headers["location"].startswith(f"/review/{refs[1]}?finding={finding_id}&")
    second = _follow(browser, done)
    pages.append(second)
    assert f"Cas 2 sur {total}" in second
    assert f"{refs[0]}\u00a0: décision enregistrée (positif)" in second
    assert 'class="evidence"' not in second
    assert "Résultat fourni tel quel par" in second

    # An empty comment is refused and nothing is recorded.
    refused = browser.post(
        f"/review/{refs[1]}/adjudicate",
        {"outcome": "negative", "comment": "   ", "finding": str(finding_id)},
    )
    assert refused.status_code == 400
    assert "Le commentaire est obligatoire" in refused.text
    refused = browser.post(f"/review/{refs[1]}/skip", {"comment": "", "finding": str(finding_id)})
    assert refused.status_code == 400
    assert len(console.audit("case.")) == 1

    third = _follow(
        browser,
        browser.post(
            f"/review/{refs[1]}/adjudicate",
            {"outcome": "negative", "comment": "Pas de fracture.", "finding": str(finding_id)},
        ),
    )
    pages.append(third)
    assert f"Cas 3 sur {total}" in third
    fourth = _follow(
        browser,
        browser.post(
            f"/review/{refs[2]}/skip",
            {"comment": "Image illisible.", "finding": str(finding_id)},
        ),
    )
    pages.append(fourth)
    assert f"Cas 4 sur {total}" in fourth
    assert f"{refs[2]}\u00a0: cas passé." in fourth

    queue = browser.get(f"/review?finding={finding_id}")
    pages.append(queue.text)
    assert (_count(queue.text, "pending"), _count(queue.text, "adjudicated")) == (total - 3, 2)
    assert _count(queue.text, "skipped") == 1
    assert f'max="{total}" value="3"' in queue.text
    assert f"3 cas traités sur {total}" in queue.text
    assert f'href="/review/{refs[3]}?finding={finding_id}"' in queue.text
    recent = queue.text.split("Derniers cas traités", 1)[1]
    for ref in refs[:3]:
        assert ref in recent
    assert recent.count(CLAIRE) == 3
    assert "vérité positive" in recent and "vérité négative" in recent and "passé" in recent

    adjudications = console.audit("case.adjudicate")
    assert [e.entity_id for e in adjudications] == [refs[1], refs[0]]
    assert {e.actor for e in adjudications} == {CLAIRE}
    skips = console.audit("case.skip")
    assert [(e.entity_id, e.actor) for e in skips] == [(refs[2], CLAIRE)]

    # The last pending case decided: back to the queue, finished.
    with console.db.session.begin() as session:
        for ref in refs[3:-1]:
            review.skip(session, ref, user="test", comment="not this one")
    last = browser.post(
        f"/review/{refs[-1]}/adjudicate",
        {"outcome": "positive", "comment": "Fracture.", "finding": str(finding_id)},
    )
    assert last.headers["location"] == f"/review?finding={finding_id}&done=finished"
    finished = _follow(browser, last)
    pages.append(finished)
    assert "File terminée\u00a0: plus aucun cas en attente" in finished
    assert f'max="{total}" value="{total}"' in finished
    assert "Commencer la revue" not in finished

    for html in pages:
        for identifier in secret:
            assert identifier not in html


def test_roles_english_and_a_case_outside_the_queue(console: Console) -> None:
    with console.db.session() as session:
        outside = session.scalars(
            select(Prediction.id)
            .where(Prediction.device_id == "fracture-xr", Prediction.case_status == "tp")
            .order_by(Prediction.id)
            .limit(1)
        ).one()
    ref = review.case_ref(outside)
    _set_outcome_words(console, ref, "report_text_rules/v2 fr+en conclusion", EVIDENCE)
    secret = _identifiers(console, [ref])

    viewer = console.browser("viewer")
    assert viewer.get("/review").status_code == 403
    assert viewer.get(f"/review/{ref}").status_code == 403
    data = {"outcome": "negative", "comment": "no"}
    assert viewer.post(f"/review/{ref}/adjudicate", data).status_code == 403
    assert viewer.post(f"/review/{ref}/skip", {"comment": "no"}).status_code == 403
    assert console.audit("case.") == []

    browser = console.browser("quality")
    browser.get("/lang/en?next=/review")
    queue = browser.get("/review")
    assert "No case in the queue for this filter." in queue.text
    assert "Start reviewing" not in queue.text

    case = browser.get(f"/review/{ref}")
    assert case.status_code == 200
    assert "not in the review queue (shown from a finding)" in case.text
    assert "true positive" in case.text
    assert "rules on the report text, conclusion" in case.text
    assert 'class="evidence"' in case.text and "fracture non déplacée" in case.text
    assert "no score (operating threshold: 0.50)" in case.text
    assert f'action="/review/{ref}/adjudicate"' in case.text
    assert f'action="/review/{ref}/skip"' not in case.text
    assert "Only a case pending in the queue can be skipped." in case.text

    refused = browser.post(f"/review/{ref}/skip", {"comment": "cannot"})
    assert refused.status_code == 409
    assert console.audit("case.skip") == []

    done = browser.post(f"/review/{ref}/adjudicate", {"outcome": "negative", "comment": "No."})
    assert done.headers["location"] == "/review?done=finished"
    assert "Queue finished: no pending case is left" in _follow(browser, done)
    entry = console.audit("case.adjudicate")[0]
    assert (entry.entity_id, entry.actor) == (ref, CLAIRE)

    after = browser.get(f"/review/{ref}")
    assert "false positive" in after.text
    assert "Outcome given as such by a reviewer&#39;s adjudication." in after.text
    for html in (case.text, after.text, refused.text):
        for identifier in secret:
            assert identifier not in html

    assert browser.get("/review/case-999999999").status_code == 404
    assert browser.get("/review/not-a-case").status_code == 404
    assert browser.get("/review?finding=abc").status_code == 404
    assert browser.get("/review?device=nope").status_code == 404


def test_the_method_of_an_outcome_is_put_in_words() -> None:
    assert method_words(REPORT_RULES, "fr") == "règles sur le texte du compte rendu, conclusion"
    assert method_words("report_text_rules/v2 en body", "en") == (
        "rules on the report text, body of the text"
    )
    assert method_words("pathology_code:icd-o-3", "fr") == "code d'anatomopathologie (icd-o-3)"
    assert method_words("pathology_text/v1", "en") == "rules on the pathology text"
    assert method_words("adjudication", "fr") == "décision d'un relecteur"
    assert method_words("something/v9", "en") == "something/v9"
    assert method_words(None, "fr") is None
