"""What the routes answer: the figures of the command line, the findings workflow, the
review, reports, tokens, one error shape, and never a patient identifier."""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from monitor.audit import list_entries
from monitor.evaluate_stored import evaluation_options, stored_evaluation
from monitor.models import Finding, Prediction
from monitor.report_job import report_dir
from monitor.tokens import verify_token
from tests.monitor.api.conftest import Service

PARIS = ZoneInfo("Europe/Paris")


def _get(service: Service, path: str, role: str = "viewer", **params: Any) -> Any:
    response = service.client.get(path, params=params, headers=service.auth(role))
    assert response.status_code == 200, (path, response.text)
    return response.json()


def test_evaluations_are_the_records_of_the_command_line(service: Service) -> None:
    served = _get(
        service,
        "/api/v1/evaluations",
        device="fracture-xr",
        by=["scanner_manufacturer"],
        window="month",
        as_of="2025-09-30",
    )
    options = evaluation_options(service.config, window="month")
    with service.db.session() as session:
        expected = stored_evaluation(
            session,
            as_of=__import__("monitor.timeutil", fromlist=["x"]).parse_as_of("2025-09-30", PARIS),
            tz=PARIS,
            options=options,
            breakdowns=[("scanner_manufacturer",)],
            device_id="fracture-xr",
        )
    assert len(served) == len(expected) > 0
    # JSON has no NaN: undefined values are null, the others equal.
    canonical = json.loads(json.dumps(expected).replace("NaN", "null"))
    assert served == canonical
    fujifilm = [r for r in served if r.get("scanner_manufacturer") == "Fujifilm"]
    assert fujifilm and all(r["n"] >= 0 for r in fujifilm)


def test_evaluation_parameters_are_checked(service: Service) -> None:
    for params in (
        {"window": "decade"},
        {"by": "shoe_size"},
        {"metrics": "bogus"},
        {"as_of": "soon"},
        {"as_of": "9999-12-31"},
        {"from": "0001-01-01"},
        {"from": "2025-12-01", "as_of": "2025-01-01"},
    ):
        response = service.client.get(
            "/api/v1/evaluations", params=params, headers=service.auth("viewer")
        )
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["message"]
    unknown = service.client.get(
        "/api/v1/evaluations", params={"device": "nope"}, headers=service.auth("viewer")
    )
    assert unknown.status_code == 404


def test_status_and_devices(service: Service) -> None:
    status = _get(service, "/api/v1/status", as_of="2025-12-31")
    assert [s["device"] for s in status] == ["fracture-xr", "nodule-ct"]
    assert all(s["predictions"] > 0 for s in status)
    devices = _get(service, "/api/v1/devices")
    assert {d["id"] for d in devices} == {"fracture-xr", "nodule-ct"}
    assert _get(service, "/api/v1/devices/nodule-ct")["id"] == "nodule-ct"
    missing = service.client.get("/api/v1/devices/nope", headers=service.auth("viewer"))
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def _with_cases(service: Service) -> int:
    with service.db.session() as session:
        for finding in session.scalars(select(Finding).order_by(Finding.id)):
            if (finding.evidence or {}).get("affected_cases"):
                return finding.id
    raise AssertionError("the demo has a finding with affected cases")


def test_case_references_are_for_quality_only(service: Service) -> None:
    finding_id = _with_cases(service)
    viewer = _get(service, f"/api/v1/findings/{finding_id}")
    quality = _get(service, f"/api/v1/findings/{finding_id}", role="quality")
    assert "affected_cases" not in viewer["evidence"]
    assert quality["evidence"]["affected_cases"][0].startswith("case-")
    listed = _get(service, "/api/v1/findings", status="all")
    assert listed and all("affected_cases" not in f["evidence"] for f in listed)
    assert "case-" not in json.dumps(listed)
    cases = _get(service, f"/api/v1/findings/{finding_id}/cases", role="quality", all="true")
    assert cases["summary"]["cases"] >= len(cases["cases"]) > 0
    assert all(re.fullmatch(r"case-\d+", c["case_ref"]) for c in cases["cases"])


def test_the_workflow_through_the_api_is_audited_with_the_token(service: Service) -> None:
    finding_id = _with_cases(service)
    quality = service.auth("quality")
    url = f"/api/v1/findings/{finding_id}"
    ack = service.client.post(f"{url}/acknowledge", json={"comment": "seen"}, headers=quality)
    assert ack.status_code == 200, ack.text
    assert ack.json() == {
        "id": finding_id,
        "status": "acknowledged",
        "actor": "test-quality",
        "covered": [],
    }
    confirm = service.client.post(
        f"{url}/confirm",
        json={"comment": "real drop", "on_behalf_of": "dr-durand"},
        headers=quality,
    )
    assert confirm.json()["actor"] == "dr-durand via test-quality"
    action = service.client.post(
        f"{url}/actions",
        json={
            "kind": "retrain_users",
            "description": "tell the radiologists",
            "owner": "PACS team",
            "comment": "letter",
        },
        headers=quality,
    )
    assert action.status_code == 200, action.text
    done = service.client.post(
        f"/api/v1/actions/{action.json()['id']}/done",
        json={"comment": "sent", "date": "2026-01-10"},
        headers=quality,
    )
    assert done.json()["done_date"] == "2026-01-10"
    closed = service.client.post(f"{url}/close", json={"comment": "done"}, headers=quality)
    assert closed.json()["status"] == "closed"
    again = service.client.post(f"{url}/close", json={"comment": "twice"}, headers=quality)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "workflow_conflict"
    missing = service.client.post(
        "/api/v1/findings/999999/acknowledge", json={"comment": "x"}, headers=quality
    )
    assert missing.status_code == 404
    no_comment = service.client.post(f"{url}/reopen", json={}, headers=quality)
    assert no_comment.status_code == 422
    history = _get(service, url)["history"]
    assert [(h["action"], h["actor"]) for h in history][-6:] == [
        ("finding.acknowledge", "test-quality"),
        ("finding.confirm", "dr-durand via test-quality"),
        ("finding.act", "test-quality"),
        ("finding.action_add", "test-quality"),
        ("finding.action_done", "test-quality"),
        ("finding.close", "test-quality"),
    ]


def test_adjudication_and_review_queue(service: Service) -> None:
    with service.db.session() as session:
        prediction_id = session.scalars(select(Prediction.id).order_by(Prediction.id)).first()
    response = service.client.post(
        f"/api/v1/review/case-{prediction_id}/adjudicate",
        json={"outcome": "positive", "comment": "second read"},
        headers=service.auth("quality"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["case_ref"] == f"case-{prediction_id}"
    with service.db.session() as session:
        entry = list_entries(session, entity="case", entity_id=f"case-{prediction_id}")[0]
    assert entry.actor == "test-quality"
    bad = service.client.post(
        "/api/v1/review/case-99999999/adjudicate",
        json={"outcome": "negative", "comment": "x"},
        headers=service.auth("quality"),
    )
    assert bad.status_code == 404
    queue = _get(service, "/api/v1/review", role="quality", status="all")
    assert set(queue["counts"]) == {"pending", "adjudicated", "skipped"}


def test_reports_are_listed_and_downloaded_without_leaving_their_folder(service: Service) -> None:
    folder = report_dir(service.config)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "2025-12-report-fr.html").write_text("<p>rapport</p>", encoding="utf-8")
    (folder.parent / "secret.txt").write_text("outside", encoding="utf-8")
    listed = _get(service, "/api/v1/reports")
    assert [f["name"] for f in listed] == ["2025-12-report-fr.html"]
    got = service.client.get(
        "/api/v1/reports/2025-12-report-fr.html", headers=service.auth("viewer")
    )
    assert got.status_code == 200 and got.text == "<p>rapport</p>"
    assert got.headers["content-type"].startswith("text/html")
    for name in ("..%2Fsecret.txt", "%2E%2E", "..", ".hidden", "secret.txt", "a%5Cb"):
        response = service.client.get(f"/api/v1/reports/{name}", headers=service.auth("viewer"))
        assert response.status_code == 404, (name, response.status_code)
        assert "outside" not in response.text


def test_tokens_are_managed_by_admins_and_secrets_shown_once(service: Service) -> None:
    admin = service.auth("admin")
    created = service.client.post(
        "/api/v1/tokens", json={"name": "pacs-bridge", "role": "quality"}, headers=admin
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("dmn_") and created.json()["prefix"] == secret[:12]
    listed = service.client.get("/api/v1/tokens", headers=admin)
    assert "pacs-bridge" in listed.text and secret not in listed.text
    assert "secret" not in listed.json()[0]
    pushed = service.client.get("/api/v1/review", headers={"Authorization": f"Bearer {secret}"})
    assert pushed.status_code == 200
    duplicate = service.client.post(
        "/api/v1/tokens", json={"name": "pacs-bridge", "role": "viewer"}, headers=admin
    )
    assert duplicate.status_code == 409
    revoked = service.client.delete("/api/v1/tokens/pacs-bridge", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    with service.db.session() as session:
        assert verify_token(session, secret) is None
        audited = list_entries(session, entity="api_token", entity_id="pacs-bridge")
    assert [e.action for e in audited] == ["token.revoke", "token.create"]
    assert secret not in json.dumps([e.details for e in audited])


def test_every_error_has_one_shape(service: Service) -> None:
    cases = [
        service.client.get("/api/v1/nowhere", headers=service.auth("viewer")),
        service.client.get("/nowhere"),
        service.client.delete("/api/v1/devices", headers=service.auth("viewer")),
        service.client.get("/api/v1/evaluations?days=zero", headers=service.auth("viewer")),
        service.client.post(
            "/api/v1/tokens",
            content=b"{oops",
            headers={**service.auth("admin"), "Content-Type": "application/json"},
        ),
        service.client.get("/api/v1/devices"),
    ]
    assert [r.status_code for r in cases] == [404, 404, 405, 422, 422, 401]
    for response in cases:
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"status", "code", "message", "details"}
        assert body["error"]["status"] == response.status_code
        assert re.fullmatch(r"[a-z_]+", body["error"]["code"])
        assert body["error"]["message"]


def test_an_unexpected_failure_is_a_json_500_that_says_nothing_of_it(service: Service) -> None:
    def broken() -> dict[str, bool]:
        raise RuntimeError("SECRET-DETAIL")

    # a ready() that raises makes /readyz 503 (not a crash)
    from monitor.api import create_app

    app = create_app(service.config, service.db, pseudonym_key=None, ready=broken)
    client = type(service.client)(app)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["service"]
    assert "SECRET-DETAIL" not in response.text

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("SECRET-DETAIL")

    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "SECRET-DETAIL" not in response.text


def test_readiness_fails_on_a_failing_check(service: Service) -> None:
    from monitor.api import create_app

    app = create_app(
        service.config, service.db, pseudonym_key=None, ready=lambda: {"scheduler": False}
    )
    response = type(service.client)(app).get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["scheduler"]


def test_no_response_carries_a_patient_or_exam_identifier(service: Service) -> None:
    with service.db.session() as session:
        rows = session.execute(
            select(
                Prediction.accession_number,
                Prediction.study_instance_uid,
                Prediction.patient_pseudonym,
            )
        ).all()
    identifiers = {value for row in rows for value in row if value}
    assert len(identifiers) > 10_000
    finding_id = _with_cases(service)
    paths = [
        ("/api/v1/devices", {}),
        ("/api/v1/status", {}),
        ("/api/v1/evaluations", {"by": "site"}),
        ("/api/v1/findings", {"status": "all"}),
        (f"/api/v1/findings/{finding_id}", {}),
        (f"/api/v1/findings/{finding_id}/cases", {"all": "true"}),
        ("/api/v1/review", {"status": "all"}),
    ]
    token = re.compile(r"[A-Za-z0-9.]{6,}")
    for path, params in paths:
        response = service.client.get(path, params=params, headers=service.auth("admin"))
        assert response.status_code == 200, path
        found = set(token.findall(response.text)) & identifiers
        assert not found, (path, sorted(found)[:3])


def test_the_findings_list_names_each_findings_incident_in_plain_words(service: Service) -> None:
    listed = _get(service, "/api/v1/findings", status="all")
    roots = {f["id"]: f for f in listed if f["incident_root"]}
    assert roots and all(f["incident"] in roots for f in listed)
    for finding in listed:
        root = roots[finding["incident"]]
        assert finding["incident_summary"] == root["text"]
        assert set(finding["text"]) == {"fr", "en"}
    degradation = [f for f in listed if f["incident"] == f["id"] and f["severity"] == "critical"]
    assert any("missed fractures" in f["text"]["en"] for f in degradation)
    # The keys of a finding are kept; the incident's come in addition.
    assert {"id", "rule", "value", "threshold", "evidence", "incident"} <= set(listed[0])
