"""Push ingestion over HTTP keeps the guarantees of file ingestion.

Bad records come back indexed with their reason while the good ones land; the same
batch twice adds nothing; DICOM SR, HL7 v2 and FHIR payloads are read as the files
are; a body over the limit is refused with 413, even when it announces no length.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.models import IngestionRun, Outcome, Prediction, QuarantinedRow
from tests.connectors import message_samples as samples
from tests.monitor.api.conftest import Service, make_service
from tests.monitor.replay import Replayed

DATA = Path(__file__).parents[2] / "data"
RECORDS_URL = "/api/v1/ingest/predictions/records"


def _record(accession: str, **changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "device_id": "fracture-xr",
        "device_version": "2.4.0",
        "exam_datetime": "2026-01-05T09:30:00",
        "ai_result": "positive",
        "ai_score": 0.87,
        "accession_number": accession,
        "site": "CHU-Nord",
        "modality": "DX",
        "patient_age": 54,
        "patient_sex": "F",
    }
    record.update(changes)
    return record


BATCH = [
    _record("PUSH-0001"),
    _record("PUSH-0002", device_id="no-such-device"),
    _record("PUSH-0003", ai_result="negative", ai_score=0.12),
    _record("PUSH-0004", ai_score=1.7),
    _record("PUSH-0005", patient_id="PUSH-PATIENT-77"),
]


def _count(service: Service, model: type[Prediction] | type[Outcome] | type[QuarantinedRow]) -> int:
    with service.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_batch_with_bad_records_keeps_the_good_ones_and_indexes_the_bad(
    service: Service,
) -> None:
    before = _count(service, Prediction)
    response = service.client.post(RECORDS_URL, json=BATCH, headers=service.auth("quality"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["read"], result["accepted"], result["quarantined"]) == (5, 3, 2)
    assert [(e["index"], e["line"]) for e in result["errors"]] == [(1, 3), (3, 5)]
    assert "unknown device_id shaped 'aa-aaaa-aaaaaa'" in result["errors"][0]["reason"]
    assert "ai_score" in result["errors"][1]["reason"]
    assert "PUSH-PATIENT-77" not in response.text
    with service.db.session() as session:
        stored = session.execute(
            select(Prediction.accession_number, Prediction.patient_pseudonym).where(
                Prediction.accession_number.like("PUSH-%")
            )
        ).all()
        run = session.get_one(IngestionRun, result["run_id"])
        assert run.source_name == "api:test-quality"
    assert sorted(str(a) for a, _ in stored) == ["PUSH-0001", "PUSH-0003", "PUSH-0005"]
    pseudonym = dict(stored)["PUSH-0005"]
    assert pseudonym and "PUSH-PATIENT-77" not in pseudonym
    assert _count(service, Prediction) == before + 3
    # The spool file is gone.
    assert list((service.config.base_dir / "spool").iterdir()) == []


def test_the_same_batch_twice_adds_nothing(service: Service) -> None:
    first = service.client.post(RECORDS_URL, json=BATCH, headers=service.auth("quality")).json()
    counts = (_count(service, Prediction), _count(service, QuarantinedRow))
    again = service.client.post(RECORDS_URL, json=BATCH, headers=service.auth("quality"))
    assert again.status_code == 200
    result = again.json()
    assert result["run_id"] != first["run_id"]
    assert (result["accepted"], result["duplicate"], result["quarantined"]) == (0, 3, 2)
    assert [e["index"] for e in result["errors"]] == [1, 3]
    assert (_count(service, Prediction), _count(service, QuarantinedRow)) == counts


def test_records_that_are_not_objects_are_reported_by_index(service: Service) -> None:
    batch = [_record("PUSH-0101"), "not a record", {}, _record("PUSH-0102", report="x\ny")]
    response = service.client.post(RECORDS_URL, json=batch, headers=service.auth("quality"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 2
    assert [(e["index"], e["line"]) for e in result["errors"]] == [(1, None), (2, None)]


def test_outcomes_with_multi_line_report_texts_keep_their_indexes(service: Service) -> None:
    outcomes = [
        {
            "accession_number": "PUSH-0201",
            "outcome": "positive",
            "source": "report",
            "outcome_datetime": "2026-01-06T10:00:00",
            "report_text": "Fracture du radius.\nConclusion : fracture.",
        },
        {"accession_number": "PUSH-0202", "outcome": "maybe", "source": "report"},
        {
            "accession_number": "PUSH-0203",
            "outcome": "negative",
            "source": "pathology",
            "outcome_datetime": "2026-01-06T11:00:00",
        },
    ]
    response = service.client.post(
        "/api/v1/ingest/outcomes/records", json=outcomes, headers=service.auth("quality")
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 2
    assert [e["index"] for e in result["errors"]] == [1]
    assert result["errors"][0]["line"] == 4  # the first record spans lines 2 and 3


@pytest.mark.parametrize(
    ("kind", "fmt", "file", "content_type"),
    [
        ("predictions", "dicom-sr", "dicom_sr/highdicom__sr_document.dcm", "application/dicom"),
        (
            "outcomes",
            "hl7",
            "hl7v2/python-hl7__tests_samples_sample_hl7_GHH_LAB_ORU_R01.hl7",
            "text/plain",
        ),
        ("outcomes", "fhir", "fhir_r4/Bundle-report.json", "application/fhir+json"),
    ],
)
def test_third_party_messages_are_read_and_their_problems_indexed(
    service: Service, kind: str, fmt: str, file: str, content_type: str
) -> None:
    """These public samples are not AI results or radiology reports of this registry:
    they are read (200) and each says why it is not stored."""
    response = service.client.post(
        f"/api/v1/ingest/{kind}/{fmt}",
        content=(DATA / file).read_bytes(),
        headers={**service.auth("quality"), "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["read"] == 1 and result["status"] == "completed"
    assert [e["index"] for e in result["errors"]] == [0]
    assert result["errors"][0]["reason"]
    assert "1CT1" not in response.text  # the SR's patient id


def test_messages_land_once_registered(service: Service) -> None:
    registry = service.client.put(
        "/api/v1/registry", json=samples.REGISTRY, headers=service.auth("admin")
    )
    assert registry.status_code == 200, registry.text
    assert registry.json() == {"fracture-xr": "updated", "nodule-ct": "updated"}
    sr = service.client.post(
        "/api/v1/ingest/predictions/dicom-sr",
        files={"file": ("study.dcm", samples.dicom_sr(), "application/dicom")},
        headers=service.auth("quality"),
    )
    assert sr.status_code == 200, sr.text
    assert (sr.json()["accepted"], sr.json()["errors"]) == (1, [])
    hl7 = service.client.post(
        "/api/v1/ingest/outcomes/hl7", content=samples.HL7_REPORTS, headers=service.auth("quality")
    )
    assert hl7.status_code == 200, hl7.text
    assert (hl7.json()["accepted"], hl7.json()["quarantined"]) == (2, 2)
    assert all(e["index"] == e["line"] - 1 for e in hl7.json()["errors"])
    assert "MARTIN" not in hl7.text and "IPP-HL7" not in hl7.text
    fhir = service.client.post(
        "/api/v1/ingest/outcomes/fhir",
        content=samples.FHIR_REPORTS,
        headers={**service.auth("quality"), "Content-Type": "application/fhir+json"},
    )
    assert fhir.status_code == 200, fhir.text
    assert (fhir.json()["accepted"], fhir.json()["quarantined"]) == (1, 2)
    with service.db.session() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Prediction)
                .where(Prediction.accession_number == "SR-ACC-1")
            )
            == 1
        )


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (RECORDS_URL, b"{not json"),
        (RECORDS_URL, b'{"device_id": "fracture-xr"}'),
        (RECORDS_URL, b"[]"),
        ("/api/v1/ingest/outcomes/fhir", b""),
    ],
)
def test_a_payload_with_nothing_readable_is_422(service: Service, url: str, body: bytes) -> None:
    response = service.client.post(url, content=body, headers=service.auth("quality"))
    assert response.status_code == 422, response.text
    assert set(response.json()["error"]) == {"status", "code", "message", "details"}


@pytest.mark.parametrize(
    ("url", "body", "says"),
    [
        ("/api/v1/ingest/outcomes/hl7", b"this is no HL7 message", "MSH"),
        ("/api/v1/ingest/predictions/dicom-sr", b"DICM? no", "DICOM"),
        ("/api/v1/ingest/outcomes/fhir", b'{"resourceType": "Nothing"}', "Nothing"),
    ],
)
def test_an_unreadable_message_is_one_indexed_error(
    service: Service, url: str, body: bytes, says: str
) -> None:
    response = service.client.post(url, content=body, headers=service.auth("quality"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], len(result["errors"])) == (0, 1)
    assert result["errors"][0]["index"] == 0
    assert says in result["errors"][0]["reason"]


def test_an_unknown_kind_is_422(service: Service) -> None:
    response = service.client.post(
        "/api/v1/ingest/findings/records", json=BATCH, headers=service.auth("quality")
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@pytest.fixture
def small(replayed_demo: Replayed, tmp_path: Path) -> Iterator[Service]:
    """The service with a 2,000-byte body limit."""
    yield from make_service(replayed_demo, tmp_path, max_request_bytes=2000)


def test_a_body_over_the_limit_is_413_and_stores_nothing(small: Service) -> None:
    batch = [_record(f"BIG-{i:04d}") for i in range(20)]
    body = json.dumps(batch).encode()
    assert len(body) > 2000
    before = _count(small, Prediction)
    response = small.client.post(
        RECORDS_URL,
        content=body,
        headers={**small.auth("quality"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"max_bytes": 2000}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    streamed = small.client.post(RECORDS_URL, content=chunks(), headers=small.auth("quality"))
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"]["code"] == "payload_too_large"
    assert _count(small, Prediction) == before
    small_batch = small.client.post(RECORDS_URL, json=batch[:3], headers=small.auth("quality"))
    assert small_batch.status_code == 200


@pytest.fixture
def keyless(replayed_demo: Replayed, tmp_path: Path) -> Iterator[Service]:
    """The service started without a pseudonymisation key."""
    yield from make_service(replayed_demo, tmp_path, pseudonym_key=None)


def test_patient_ids_without_a_key_are_a_service_problem_not_a_bad_payload(
    keyless: Service,
) -> None:
    response = keyless.client.post(RECORDS_URL, json=BATCH, headers=keyless.auth("quality"))
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "pseudonymisation_key_missing"
    assert "PUSH-PATIENT-77" not in response.text and "spool" not in response.text
    assert list((keyless.config.base_dir / "spool").iterdir()) == []
    without_ids = [r for r in BATCH if "patient_id" not in r]
    accepted = keyless.client.post(RECORDS_URL, json=without_ids, headers=keyless.auth("quality"))
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 2
