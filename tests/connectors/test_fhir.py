"""Specification of the FHIR R4 reader (connectors.fhir).

The official HL7 R4 examples in tests/data/fhir_r4/ are read with the right
fields; synthetic radiology resources (a French report with a base64 text
presentedForm, a Bundle of report + ImagingStudy + AI Observation) check that
references resolve and that records map to canonical Outcome/Prediction records.
Any problem (bad bytes, bad JSON, invalid or unsupported resource) is an error
item naming what to fix, never an exception: a hypothesis test fuzzes that.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.canonical import OutcomeRecord, PredictionRecord
from connectors.fhir import (
    FhirAiMapping,
    FhirCoding,
    FhirError,
    FhirImagingStudy,
    FhirItem,
    FhirObservation,
    FhirReport,
    looks_like_fhir,
    read_fhir,
    to_outcome_record,
    to_prediction_record,
)

DATA = Path(__file__).parent.parent / "data" / "fhir_r4"
PARIS = ZoneInfo("Europe/Paris")
EXAMPLES = sorted(DATA.glob("*.json"))
ACSN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}
STUDY_UID = "1.2.250.1.999.1.42"
FRENCH_TEXT = (
    "Scanner thoracique sans injection.\n"
    "Conclusion : nodule pulmonaire spiculé du lobe supérieur droit, suspect."
)


def read(data: bytes | dict[str, Any]) -> list[FhirItem]:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return read_fhir(raw, tz=PARIS)


def read_example(name: str) -> list[FhirItem]:
    return read((DATA / name).read_bytes())


def only(items: list[FhirItem]) -> FhirItem:
    assert len(items) == 1, items
    return items[0]


def study(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ImagingStudy",
        "id": "ct1",
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "identifier": [
            {"system": "urn:dicom:uid", "value": f"urn:oid:{STUDY_UID}"},
            {"type": ACSN, "value": "ACC-2024-0042"},
        ],
        "started": "2024-03-04T09:15:00+01:00",
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
        **extra,
    }


def french_report(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "id": "cr-1",
        "status": "final",
        "identifier": [{"type": ACSN, "value": "ACC-2024-0042"}],
        "category": [{"coding": [{"system": "http://loinc.org", "code": "LP29684-5"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "24627-2"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-03-04T09:15:00+01:00",
        "issued": "2024-03-04T11:40:00+01:00",
        "conclusion": "Nodule suspect.",
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "data": base64.b64encode(FRENCH_TEXT.encode()).decode(),
            },
            {"contentType": "application/pdf", "data": base64.b64encode(b"%PDF-1.4").decode()},
        ],
        **extra,
    }


def ai_observation(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "code": {"coding": [{"system": "http://example.org/ai", "code": "lung-nodule"}]},
        "valueCodeableConcept": {
            "coding": [{"system": "http://snomed.info/sct", "code": "52101004"}]
        },
        "effectiveDateTime": "2024-03-04T09:20:00+01:00",
        "issued": "2024-03-04T09:21:00+01:00",
        "device": {"reference": "Device/lung-ai", "display": "LungAI 2.3.1"},
        "partOf": [{"reference": "ImagingStudy/ct1"}],
        "component": [
            {
                "code": {"coding": [{"system": "http://example.org/ai", "code": "score"}]},
                "valueQuantity": {"value": 87, "unit": "%"},
            }
        ],
        **extra,
    }


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"urn:uuid:0000000{n}-0000-4000-8000-000000000000", "resource": r}
            for n, r in enumerate(resources)
        ],
    }


MAPPING = FhirAiMapping(result_code="lung-nodule", score_code="score", target="lung_nodule")


def outcome_of(text: str) -> str | None:
    return "positive" if "suspect" in text else None


# --- the official examples ------------------------------------------------------


def test_f201_conclusion_and_conclusion_code_are_read() -> None:
    report = only(read_example("DiagnosticReport-f201.json"))
    assert isinstance(report, FhirReport)
    assert report.id == "f201" and report.status == "final" and report.is_final
    assert report.conclusion == "CT brains: large tumor sphenoid/clivus."
    assert report.report_text == report.conclusion
    assert report.conclusion_codes == (
        FhirCoding(
            "http://snomed.info/sct", "188340000", "Malignant tumor of craniopharyngeal duct"
        ),
    )
    assert FhirCoding("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD") in report.category
    assert report.code[0].code == "429858000"
    assert report.exam_datetime == datetime(2012, 12, 1, 11, 0, tzinfo=UTC)
    assert report.report_datetime == datetime(2012, 12, 1, 11, 0, tzinfo=UTC)
    assert report.subject == "Patient/f201"
    # imagingStudy is a display-only reference: no accession, no study UID to invent.
    assert report.accession_number is None and report.study_instance_uid is None


def test_f201_without_link_key_is_not_an_outcome() -> None:
    report = only(read_example("DiagnosticReport-f201.json"))
    assert isinstance(report, FhirReport)
    reason = to_outcome_record(report, outcome_of)
    assert reason == (
        "DiagnosticReport f201 has no accession number nor study UID"
        " (add an ACSN identifier or an imagingStudy reference)"
    )


def test_ultrasound_report_conclusion() -> None:
    report = only(read_example("DiagnosticReport-ultrasound.json"))
    assert isinstance(report, FhirReport)
    assert report.conclusion == "Unremarkable study"
    assert report.code[0].display == "Ultrasonography of abdomen"


def test_pap_report_has_no_text_and_cannot_be_classified() -> None:
    report = only(read_example("DiagnosticReport-pap.json"))
    assert isinstance(report, FhirReport)
    assert report.conclusion is None and report.presented_text == ()
    assert report.report_text is None  # the narrative (text.div) is not the report
    with_key = FhirReport(**{**_fields(report), "accession_number": "A1"})
    reason = to_outcome_record(with_key, outcome_of)
    assert reason == (
        "DiagnosticReport pap has no text to classify (no conclusion nor text/plain presentedForm)"
    )


def _fields(report: FhirReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in FhirReport.__slots__}


def test_xr_study_accession_uid_and_series() -> None:
    item = only(read_example("ImagingStudy-example-xr.json"))
    assert isinstance(item, FhirImagingStudy)
    assert item.accession_number == "W12342398"
    assert item.study_instance_uid == "2.16.124.113543.6003.1154777499.30246.19789.3503430046"
    assert item.modalities == ("DX",)
    assert (item.number_of_series, item.number_of_instances) == (1, 2)
    assert item.body_sites == (FhirCoding("http://snomed.info/sct", "T-15460", "Wrist Joint"),)
    assert item.started == datetime(2017, 1, 1, 8, 1, 20, tzinfo=UTC)
    assert item.subject == "Patient/dicom"


def test_ct_study_uid_loses_its_urn_oid_prefix() -> None:
    item = only(read_example("ImagingStudy-example.json"))
    assert isinstance(item, FhirImagingStudy)
    assert item.study_instance_uid == "2.16.124.113543.6003.1154777499.30246.19789.3503430045"
    assert item.accession_number is None
    assert item.modalities == ("CT",)


def test_report_bundle_gives_one_report_and_13_observations() -> None:
    items = read_example("Bundle-report.json")
    reports = [i for i in items if isinstance(i, FhirReport)]
    observations = [i for i in items if isinstance(i, FhirObservation)]
    assert len(items) == 14 and len(reports) == 1 and len(observations) == 13
    assert [i.location for i in items[:2]] == ["entry 1", "entry 2"]
    first = observations[0]
    assert first.id == "o1" and first.value.quantity == pytest.approx(31.9)
    assert first.value.unit == "K/ul"


def test_body_weight_observation_date_only_is_midnight_in_the_timezone() -> None:
    obs = only(read_example("Observation-example.json"))
    assert isinstance(obs, FhirObservation)
    assert obs.effective == datetime(2016, 3, 28, tzinfo=PARIS)
    assert obs.value.quantity == 185 and obs.value.unit_code == "[lb_av]"
    assert obs.code[0] == FhirCoding("http://loinc.org", "29463-7", "Body Weight")
    reason = to_prediction_record(obs, MAPPING)
    assert reason == (
        "Observation example code (29463-7, 3141-9, 27113001, body-weight)"
        " is not the AI result code lung-nodule"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_reads_without_error(path: Path) -> None:
    items = read(path.read_bytes())
    assert items and not [i for i in items if isinstance(i, FhirError)]


# --- synthetic radiology report -------------------------------------------------


def test_french_report_with_base64_text_presented_form() -> None:
    report = only(read(french_report()))
    assert isinstance(report, FhirReport)
    assert report.presented_text == (FRENCH_TEXT,)
    assert report.report_text == "Nodule suspect.\n\n" + FRENCH_TEXT
    assert report.conclusion == "Nodule suspect."
    assert report.accession_number == "ACC-2024-0042"
    assert report.notes == ("presentedForm 2 (application/pdf) ignored: only text/plain is read",)
    record = to_outcome_record(report, outcome_of, target="lung_nodule")
    assert record == OutcomeRecord(
        outcome="positive",
        source="report",
        outcome_datetime=datetime(2024, 3, 4, 10, 40, tzinfo=UTC),
        accession_number="ACC-2024-0042",
        target="lung_nodule",
        report_text=report.report_text,
    )


def test_presented_form_in_latin1_is_decoded_with_its_charset() -> None:
    form = {
        "contentType": "text/plain; charset=ISO-8859-1",
        "data": base64.b64encode("Pas d'anomalie décelée.".encode("latin-1")).decode(),
    }
    report = only(read(french_report(presentedForm=[form], conclusion=None)))
    assert isinstance(report, FhirReport)
    assert report.report_text == "Pas d'anomalie décelée."


def test_presented_form_not_in_its_charset_is_a_note() -> None:
    form = {"contentType": "text/plain", "data": base64.b64encode(b"d\xe9cel\xe9e").decode()}
    report = only(read(french_report(presentedForm=[form])))
    assert isinstance(report, FhirReport)
    assert report.report_text == "Nodule suspect."
    assert report.notes[0].startswith("presentedForm 1 is not utf-8 text")


def test_preliminary_report_is_refused_with_its_status() -> None:
    report = only(read(french_report(status="preliminary")))
    assert isinstance(report, FhirReport) and not report.is_final
    assert to_outcome_record(report, outcome_of) == (
        "DiagnosticReport cr-1 status is 'preliminary': only final, amended, corrected or appended"
    )


def test_unclassifiable_text_is_a_reason() -> None:
    report = only(read(french_report(conclusion="RAS", presentedForm=[])))
    assert isinstance(report, FhirReport)
    assert to_outcome_record(report, outcome_of) == (
        "DiagnosticReport cr-1 text does not state an outcome"
    )


def test_bad_classifier_output_and_bad_source_are_caller_bugs() -> None:
    report = only(read(french_report()))
    assert isinstance(report, FhirReport)
    with pytest.raises(ValueError, match="classify returned 'yes'"):
        to_outcome_record(report, lambda _: "yes")
    with pytest.raises(ValueError, match="source 'pacs'"):
        to_outcome_record(report, outcome_of, source="pacs")


def test_effective_period_start_and_issued_fallback() -> None:
    raw = french_report(issued=None, effectivePeriod={"start": "2024-03-04"})
    del raw["issued"], raw["effectiveDateTime"]
    report = only(read(raw))
    assert isinstance(report, FhirReport)
    assert report.exam_datetime == datetime(2024, 3, 4, tzinfo=PARIS)
    record = to_outcome_record(report, outcome_of)
    assert isinstance(record, OutcomeRecord)
    assert record.outcome_datetime == datetime(2024, 3, 4, tzinfo=PARIS)


def test_date_time_without_offset_is_refused_as_fhir_requires() -> None:
    error = only(read(french_report(effectiveDateTime="2024-03-04T09:15:00")))
    assert isinstance(error, FhirError)
    assert error.reason.startswith("DiagnosticReport fails validation: effectiveDateTime:")
    assert (error.resource_type, error.resource_id) == ("DiagnosticReport", "cr-1")


def test_accession_from_contained_service_request_placer_number() -> None:
    order = {
        "resourceType": "ServiceRequest",
        "id": "o1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "identifier": [
            {"type": {"coding": [{"code": "PLAC"}]}, "value": "PLAC-77"},
        ],
    }
    raw = french_report(identifier=[], contained=[order], basedOn=[{"reference": "#o1"}])
    report = only(read(raw))
    assert isinstance(report, FhirReport)
    assert report.accession_number == "PLAC-77"


def test_accession_and_uid_from_contained_imaging_study() -> None:
    raw = french_report(
        identifier=[], contained=[study(id="s1")], imagingStudy=[{"reference": "#s1"}]
    )
    report = only(read(raw))
    assert isinstance(report, FhirReport)
    assert (report.accession_number, report.study_instance_uid) == ("ACC-2024-0042", STUDY_UID)


def test_logical_imaging_study_reference_gives_the_uid() -> None:
    ref = {"identifier": {"system": "urn:dicom:uid", "value": f"urn:oid:{STUDY_UID}"}}
    report = only(read(french_report(identifier=[], imagingStudy=[ref])))
    assert isinstance(report, FhirReport)
    assert (report.accession_number, report.study_instance_uid) == (None, STUDY_UID)


# --- Bundle with references -----------------------------------------------------


def test_bundle_resolves_report_and_ai_observation_to_the_study() -> None:
    report = french_report(
        identifier=[], imagingStudy=[{"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}]
    )
    items = read(bundle(study(), report, ai_observation(), kind="transaction"))
    assert [type(i) for i in items] == [FhirImagingStudy, FhirReport, FhirObservation]
    _, rep, obs = items
    assert isinstance(rep, FhirReport) and isinstance(obs, FhirObservation)
    assert (rep.accession_number, rep.study_instance_uid) == ("ACC-2024-0042", STUDY_UID)
    assert (obs.accession_number, obs.study_instance_uid) == ("ACC-2024-0042", STUDY_UID)
    assert obs.study_reference == "ImagingStudy/ct1"
    assert obs.device == "Device/lung-ai" and obs.device_display == "LungAI 2.3.1"
    assert obs.components[0].value.quantity == 87
    record = to_prediction_record(obs, MAPPING)
    assert isinstance(record, PredictionRecord) and record.ai_score == pytest.approx(0.87)
    assert record == PredictionRecord(
        device_id="LungAI",
        device_version="2.3.1",
        exam_datetime=datetime(2024, 3, 4, 8, 15, tzinfo=UTC),
        ai_result="positive",
        accession_number="ACC-2024-0042",
        study_instance_uid=STUDY_UID,
        modality="CT",
        target="lung_nodule",
        ai_score=record.ai_score,
        ai_datetime=datetime(2024, 3, 4, 8, 21, tzinfo=UTC),
        ai_score_scale="unit",  # the unit % made it 0..1
    )


def test_absolute_url_reference_resolves_by_type_and_id() -> None:
    obs = ai_observation(partOf=[{"reference": "https://pacs.example.fr/fhir/ImagingStudy/ct1"}])
    items = read(bundle(obs, study(), kind="searchset"))
    first = items[0]
    assert isinstance(first, FhirObservation)
    assert first.study_instance_uid == STUDY_UID


def test_observation_without_study_is_not_a_prediction() -> None:
    obs = only(read(ai_observation(partOf=[])))
    assert isinstance(obs, FhirObservation)
    assert to_prediction_record(obs, MAPPING) == (
        "Observation obs-1 has no accession number nor study UID (set partOf to an ImagingStudy)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueCodeableConcept": {"coding": [{"code": "2667000"}]}}, "negative"),
        ({"valueCodeableConcept": {"text": "Indeterminate"}}, "indeterminate"),
        ({"valueString": "POSITIVE"}, "positive"),
        ({"valueBoolean": False}, "negative"),
    ],
)
def test_ai_values_map_to_ai_results(value: dict[str, Any], expected: str) -> None:
    raw = ai_observation(**value)
    del raw["valueCodeableConcept"]
    raw.update(value)
    obs = read(bundle(study(), raw))[1]
    assert isinstance(obs, FhirObservation)
    record = to_prediction_record(obs, MAPPING)
    assert isinstance(record, PredictionRecord) and record.ai_result == expected


def test_unmapped_value_out_of_range_score_and_unknown_version_are_reasons() -> None:
    unmapped = ai_observation(valueCodeableConcept={"coding": [{"code": "xyz"}]})
    big = ai_observation(
        component=[
            {
                "code": {"coding": [{"code": "score"}]},
                "valueQuantity": {"value": 130, "unit": "%"},
            }
        ]
    )
    no_version = ai_observation(device={"reference": "Device/lung-ai"})
    items = read(bundle(study(), unmapped, big, no_version))
    reasons = [
        to_prediction_record(i, MAPPING) for i in items[1:] if isinstance(i, FhirObservation)
    ]
    assert reasons == [
        "Observation obs-1 value is not mapped to an ai_result (add it to the mapping's values)",
        "Observation obs-1 component score score 130 % is outside 0..100",
        "Observation obs-1 device id or version unknown: set device.display to"
        " '<name> <version>' or fix them in the mapping",
    ]
    fixed = FhirAiMapping(result_code="lung-nodule", device_version="1.0")
    record = to_prediction_record(items[3], fixed)  # type: ignore[arg-type]
    assert isinstance(record, PredictionRecord)
    assert (record.device_id, record.device_version, record.ai_score) == ("lung-ai", "1.0", None)


def test_a_score_without_unit_is_kept_on_the_device_scale() -> None:
    unitless = ai_observation(
        component=[{"code": {"coding": [{"code": "score"}]}, "valueQuantity": {"value": 73}}]
    )
    obs = read(bundle(study(), unitless))[1]
    assert isinstance(obs, FhirObservation)
    record = to_prediction_record(obs, MAPPING)
    assert isinstance(record, PredictionRecord)
    assert (record.ai_score, record.ai_score_scale) == (73, None)  # checked at ingestion


def test_preliminary_ai_result_is_read_but_cancelled_is_not() -> None:
    items = read(
        bundle(study(), ai_observation(status="preliminary"), ai_observation(status="cancelled"))
    )
    prelim, cancelled = items[1], items[2]
    assert isinstance(prelim, FhirObservation) and isinstance(cancelled, FhirObservation)
    assert isinstance(to_prediction_record(prelim, MAPPING), PredictionRecord)
    assert to_prediction_record(cancelled, MAPPING) == (
        "Observation obs-1 status is 'cancelled': only final, amended, corrected, preliminary"
    )


def test_bundle_entries_fail_one_by_one() -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    bad = ai_observation(status=None)
    items = read(bundle(patient, bad, study()))
    first, second, third = items
    assert first == FhirError(
        "entry 1",
        "Patient resource is not read: expected DiagnosticReport, Observation,"
        " ImagingStudy or a Bundle of them",
        "Patient",
        "p1",
    )
    assert isinstance(second, FhirError) and second.location == "entry 2"
    assert second.reason.startswith("Observation fails validation: ")
    assert second.reason == (
        "Observation fails validation: status: Value for the field 'status' is required."
    )
    assert isinstance(third, FhirImagingStudy)


def test_validation_message_names_three_errors_then_counts_the_rest() -> None:
    error = only(read(study(a=1, b=2, c=3, d=4, e=5)))
    assert error == FhirError(
        "input",
        "ImagingStudy fails validation: a: Extra inputs are not permitted;"
        " b: Extra inputs are not permitted; c: Extra inputs are not permitted;"
        " and 2 more errors",
        "ImagingStudy",
        "ct1",
    )


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    error = only(read(b"[" * 100_000 + b"]" * 100_000))
    assert isinstance(error, FhirError) and error.reason.startswith("invalid JSON")


def test_bundle_without_type_is_one_error() -> None:
    raw = bundle(study())
    del raw["type"]
    error = only(read(raw))
    assert isinstance(error, FhirError) and error.resource_type == "Bundle"
    assert error.reason == (
        "Bundle fails validation: type: Value for the field 'type' is required."
    )


# --- input level errors ---------------------------------------------------------


def test_wrong_resource_type_alone() -> None:
    assert only(read({"resourceType": "Patient", "id": "x"})) == FhirError(
        "input",
        "Patient resource is not read: expected DiagnosticReport, Observation,"
        " ImagingStudy or a Bundle of them",
        "Patient",
        "x",
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b'{"resourceType": "Observation",\n  "id": }',
            "invalid JSON: Expecting value at line 2 column 9",
        ),
        (b"[1, 2]", "not a FHIR resource: a JSON array"),
        (b"  \n", "empty input: expected FHIR JSON or NDJSON"),
        (
            b'{"resourceType": "Observation", "x": NaN}',
            "invalid JSON: NaN is not a JSON number",
        ),
        (
            b"\xef\xbb\xbf{}",
            "no resourceType: expected DiagnosticReport, Observation, ImagingStudy"
            " or a Bundle of them",
        ),
    ],
)
def test_input_errors(data: bytes, reason: str) -> None:
    assert only(read(data)).reason == reason  # type: ignore[union-attr]


def test_non_utf8_bytes_are_refused() -> None:
    data = json.dumps(french_report()).encode().replace(b"Nodule", "Nodulé".encode("latin-1"))
    error = only(read(data))
    assert isinstance(error, FhirError)
    assert error.reason.startswith("not UTF-8 (FHIR JSON must be UTF-8): byte ")


def test_ndjson_lines_are_read_with_their_line_numbers() -> None:
    lines = [
        json.dumps(study()),
        "",
        json.dumps(ai_observation()),
        "{oops",
        json.dumps({"resourceType": "Patient"}),
    ]
    items = read("\n".join(lines).encode())
    assert [i.location for i in items] == ["line 1", "line 3", "line 4", "line 5"]
    assert isinstance(items[0], FhirImagingStudy)
    obs = items[1]
    assert isinstance(obs, FhirObservation) and obs.study_instance_uid == STUDY_UID
    assert isinstance(items[2], FhirError) and items[2].reason.startswith("invalid JSON:")
    assert isinstance(items[3], FhirError) and items[3].resource_type == "Patient"


def test_looks_like_fhir() -> None:
    assert looks_like_fhir((DATA / "Bundle-report.json").read_bytes()[:200])
    assert looks_like_fhir(b'\xef\xbb\xbf {"resourceType":"Observation"}\n{"resourceType"')
    assert not looks_like_fhir(b"accession_number,outcome\n")
    assert not looks_like_fhir(b'{"resource": 1}')
    assert not looks_like_fhir(b"MSH|^~\\&|")


def test_offsets_are_kept_as_aware_datetimes() -> None:
    report = only(read(french_report(effectiveDateTime="2024-03-04T09:15:00-05:00")))
    assert isinstance(report, FhirReport) and report.exam_datetime is not None
    assert report.exam_datetime.utcoffset() == timedelta(hours=-5)
    assert report.exam_datetime == datetime(2024, 3, 4, 9, 15, tzinfo=timezone(timedelta(hours=-5)))


# --- never raises -----------------------------------------------------------------

_REAL = [path.read_bytes() for path in EXAMPLES] + [
    json.dumps(bundle(study(), french_report(), ai_observation())).encode()
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    items = read_fhir(data, tz=PARIS)
    # Random bytes are never a valid resource: every item is an error with a reason.
    assert items and all(isinstance(i, FhirError) and i.reason for i in items)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_REAL),
    st.lists(st.tuples(st.integers(0, 20_000), st.binary(max_size=4)), max_size=4),
)
def test_mutated_examples_never_raise(original: bytes, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(original)
    for position, replacement in edits:
        at = position % (len(data) or 1)
        data[at : at + len(replacement)] = replacement
    items = read_fhir(bytes(data), tz=PARIS)
    assert items
    for item in items:
        if isinstance(item, FhirReport):
            to_outcome_record(item, outcome_of)
        elif isinstance(item, FhirObservation):
            to_prediction_record(item, MAPPING)


def test_an_integer_of_thousands_of_digits_refuses_its_resource_not_the_bundle() -> None:
    """Failed before: Python's 4,300-digit limit raised out of the JSON parser and the
    whole bundle was refused (read_fhir, which never raises, raised ValueError)."""
    text = json.dumps(bundle(ai_observation(), ai_observation(valueInteger=7)))
    text = text.replace('"valueInteger": 7', '"valueInteger": ' + "9" * 5000)
    items = read(text.encode())
    assert not isinstance(items[0], FhirError)
    assert isinstance(items[1], FhirError) and "valueInteger" in items[1].reason
    assert "9999" not in items[1].reason
