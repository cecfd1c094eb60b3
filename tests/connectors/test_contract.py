"""The connector contract, over every message format (DICOM SR, HL7 v2, FHIR).

Whatever the format, a file read through ``read_predictions`` / ``read_outcomes``
(format detected from the content) gives row results that are either a canonical
record with its required fields (aware date-times, a link key, values from the
canonical vocabularies, outcomes with the method and evidence that decided them)
or the reason, naming what is wrong, why there is none; and no input, however
broken, makes a reader raise anything but a :class:`ConnectorError` for the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import AI_RESULTS, OUTCOME_SOURCES, OUTCOMES, ConnectorError
from connectors.canonical import OutcomeRecord, PredictionRecord
from connectors.mapping import SourceMapping
from connectors.messages import MESSAGE_FORMATS, detect_format
from connectors.rows import RowResult
from connectors.tabular import read_outcomes, read_predictions
from monitor.registry import device_resolver, parse_registry
from tests.connectors import message_samples as samples

RESOLVE = device_resolver(parse_registry(samples.REGISTRY))
PREDICTION_SAMPLES = {
    "dicom-sr": ("ai.dcm", samples.dicom_sr(), SourceMapping()),
    "hl7": ("ai.hl7", samples.HL7_AI, SourceMapping()),
    "fhir": ("ai.json", samples.FHIR_AI, SourceMapping(columns=samples.FHIR_AI_COLUMNS)),
}
OUTCOME_SAMPLES = {
    "hl7": (
        "reports.hl7",
        samples.HL7_REPORTS,
        samples.EXPECTED_HL7_OUTCOMES,
        samples.BAD_HL7_REASONS,
    ),
    "fhir": (
        "reports.json",
        samples.FHIR_REPORTS,
        samples.EXPECTED_FHIR_OUTCOMES,
        samples.BAD_FHIR_REASONS,
    ),
}


def _results(chunks: Iterator[list[RowResult]]) -> list[RowResult]:
    return [result for chunk in chunks for result in chunk]


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", MESSAGE_FORMATS)
def test_each_format_is_recognised_by_its_content_whatever_its_name(
    fmt: str, tmp_path: Path
) -> None:
    _, data, _ = PREDICTION_SAMPLES[fmt]
    assert detect_format(_file(tmp_path, "export.dat", data)) == fmt


@pytest.mark.parametrize("fmt", MESSAGE_FORMATS)
def test_an_ai_result_becomes_a_canonical_prediction(fmt: str, tmp_path: Path) -> None:
    name, data, mapping = PREDICTION_SAMPLES[fmt]
    results = _results(
        read_predictions(_file(tmp_path, name, data), mapping, fmt="auto", resolve_device=RESOLVE)
    )
    assert [r.error for r in results] == [None]
    record = results[0].record
    assert isinstance(record, PredictionRecord)
    assert record.device_id in {"fracture-xr", "nodule-ct"} and record.device_version
    assert record.exam_datetime.tzinfo is not None
    assert record.ai_result == "positive" and record.ai_result in AI_RESULTS
    assert record.accession_number or record.study_instance_uid
    assert record.ai_score is not None and 0.0 <= record.ai_score <= 1.0
    assert results[0].line >= 1


@pytest.mark.parametrize("fmt", sorted(OUTCOME_SAMPLES))
def test_reports_become_outcomes_with_method_and_evidence_and_the_rest_a_reason(
    fmt: str, tmp_path: Path
) -> None:
    name, data, expected, bad = OUTCOME_SAMPLES[fmt]
    results = _results(read_outcomes(_file(tmp_path, name, data), fmt="auto"))
    records = [r.record for r in results if r.record is not None]
    assert all(isinstance(r, OutcomeRecord) for r in records)
    outcomes = {r.accession_number: r.outcome for r in records}  # type: ignore[union-attr]
    assert outcomes == expected
    for record in records:
        assert isinstance(record, OutcomeRecord)
        assert record.outcome in OUTCOMES and record.source in OUTCOME_SOURCES
        assert record.outcome_datetime.tzinfo is not None
        assert record.target in {"fracture", "lung_nodule"}
        assert record.method and record.method.startswith("report_text_rules/v2")
        assert record.evidence and record.evidence.lower() in (record.report_text or "").lower()
    errors = [r.error for r in results if r.record is None]
    assert len(errors) == len(bad)
    for reason, error in zip(bad, errors, strict=True):
        assert error is not None and reason in error


def test_a_dicom_sr_cannot_be_ground_truth(tmp_path: Path) -> None:
    path = _file(tmp_path, "ai.dcm", samples.dicom_sr())
    with pytest.raises(ConnectorError, match="ingest it as predictions"):
        _results(read_outcomes(path, fmt="auto"))


def test_fhir_ai_results_need_the_code_of_the_result(tmp_path: Path) -> None:
    path = _file(tmp_path, "ai.json", samples.FHIR_AI)
    with pytest.raises(ConnectorError, match=r"columns\.ai_result"):
        _results(read_predictions(path, fmt="fhir"))


def test_an_unknown_device_is_a_reason_naming_what_the_sr_says(tmp_path: Path) -> None:
    path = _file(tmp_path, "ai.dcm", samples.dicom_sr())
    nobody = device_resolver([])
    (result,) = _results(read_predictions(path, fmt="dicom-sr", resolve_device=nobody))
    assert result.record is None and result.error is not None
    assert "BoneFinder" in result.error


@pytest.mark.parametrize(
    ("fmt", "data", "reason"),
    [
        ("dicom-sr", samples.dicom_sr()[:700], "truncated"),
        (
            "hl7",
            samples.HL7_REPORTS.replace(b"UNICODE UTF-8", b"").replace(b"du", b"d\xfb"),
            "undecodable",
        ),
        (
            "fhir",
            '{"resourceType": "DiagnosticReport", "conclusion": "é"}'.encode("latin-1"),
            "UTF-8",
        ),
        ("fhir", b'{"resourceType": "Patient", "id": "x"}', "Patient resource is not read"),
        ("hl7", b"MSH|^~\\&|RIS|CHU|DMN|MON|20250116||ADT^A01|X1|P|2.5\rPID|1\r", "ADT"),
    ],
)
def test_malformed_input_is_a_reason_not_a_crash(
    fmt: str, data: bytes, reason: str, tmp_path: Path
) -> None:
    path = _file(tmp_path, "bad.bin", data)
    read = read_outcomes if fmt != "dicom-sr" else read_predictions
    kwargs = {"resolve_device": RESOLVE} if fmt == "dicom-sr" else {}
    results = _results(read(path, fmt=fmt, **kwargs))  # type: ignore[operator]
    errors = [r.error for r in results if r.error]
    assert errors, results
    assert any(reason in e for e in errors), errors


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """The sample with a few bytes replaced, deleted or the file cut short."""
    return st.one_of(
        st.integers(0, len(data)).map(lambda n: data[:n]),
        st.tuples(st.integers(0, len(data) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda t: data[: t[0]] + t[1] + data[t[0] + len(t[1]) :]
        ),
        st.binary(max_size=400),
    )


@pytest.mark.parametrize("fmt", MESSAGE_FORMATS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_input_makes_a_reader_crash(fmt: str, data: st.DataObject, tmp_path: Path) -> None:
    name, sample, mapping = PREDICTION_SAMPLES[fmt]
    payload = data.draw(_mutations(sample))
    path = _file(tmp_path, name, payload)
    for read in (read_predictions, read_outcomes):
        kwargs = {"resolve_device": RESOLVE} if read is read_predictions else {}
        try:
            results = _results(read(path, mapping, fmt=fmt, **kwargs))  # type: ignore[operator]
        except ConnectorError:
            continue  # the file as a whole cannot be read: said, with the path
        for result in results:
            assert (result.record is None) != (result.error is None)


def test_a_pathology_feed_maps_coded_diagnoses_then_text(tmp_path: Path) -> None:
    lis = (
        "MSH|^~\\&|LIS|CHU|DMN|MON|20250301090000||ORU^R01|P1|P|2.5|||||FRA|UNICODE UTF-8\r"
        "PID|1||IPP-LIS-7^^^CHU^PI\r"
        "OBR|1|||BIOP^Biopsie pulmonaire|||20250210100000|||||||||||PATH-ACC-1||||"
        "20250301083000|||F\r"
        "OBX|1|CWE|DIAG^Diagnostic||8140/3^Adénocarcinome^ICDO3||||||F\r"
        "OBX|2|TX|CONC^Conclusion||Adénocarcinome pulmonaire infiltrant.||||||F\r"
        "MSH|^~\\&|LIS|CHU|DMN|MON|20250302090000||ORU^R01|P2|P|2.5|||||FRA|UNICODE UTF-8\r"
        "PID|1||IPP-LIS-8^^^CHU^PI\r"
        "OBR|1|||BIOP^Biopsie pulmonaire|||20250211100000|||||||||||PATH-ACC-2||||"
        "20250302083000|||F\r"
        "OBX|1|TX|CONC^Conclusion||Hamartome chondroïde. Absence de malignité.||||||F\r"
    ).encode()
    mapping = SourceMapping(defaults={"source": "pathology", "target": "lung_nodule"})
    results = _results(read_outcomes(_file(tmp_path, "lis.hl7", lis), mapping, fmt="auto"))
    records = [r.record for r in results]
    assert all(isinstance(r, OutcomeRecord) for r in records), [r.error for r in results]
    coded, text = records
    assert isinstance(coded, OutcomeRecord) and isinstance(text, OutcomeRecord)
    assert (coded.outcome, coded.source, coded.target) == ("positive", "pathology", "lung_nodule")
    assert coded.method == "pathology_code:icd-o-3" and "8140/3" in (coded.evidence or "")
    assert (text.outcome, text.method) == ("negative", "pathology_text/v1")


def test_a_source_extends_the_rules_with_its_own_codes_and_vocabulary(tmp_path: Path) -> None:
    lis = (
        b"MSH|^~\\&|LIS|CHU|DMN|MON|20250301090000||ORU^R01|P1|P|2.5|||||FRA|UNICODE UTF-8\r"
        b"OBR|1|||BIOP|||20250210100000|||||||||||PATH-ACC-9||||20250301083000|||F\r"
        b"OBX|1|CWE|DIAG||ANAPATH-K^Code K^L||||||F\r"
    )
    path = _file(tmp_path, "lis.hl7", lis)
    pathology = {"source": "pathology", "target": "lung_nodule"}
    plain = _results(read_outcomes(path, SourceMapping(defaults=pathology), fmt="hl7"))
    assert plain[0].record is None and "states nothing" in (plain[0].error or "")
    local = SourceMapping(defaults=pathology, local_codes={"ANAPATH-K": "positive"})
    (result,) = _results(read_outcomes(path, local, fmt="hl7"))
    assert isinstance(result.record, OutcomeRecord) and result.record.outcome == "positive"
    assert result.record.method == "pathology_code:local"

    report = (
        "MSH|^~\\&|RIS|CHU|DMN|MON|20250301090000||ORU^R01|R9|P|2.5|||||FRA|UNICODE UTF-8\r"
        "OBR|1|||RXPOI|||20250210100000|||||||||||RX-ACC-9||||20250301083000|||F\r"
        "OBX|1|TX|REP||Conclusion : fêlure du radius.||||||F\r"
    ).encode()
    path = _file(tmp_path, "ris.hl7", report)
    assert _results(read_outcomes(path, fmt="hl7"))[0].record is None
    extra = tmp_path / "fracture-chu.yaml"
    extra.write_text("target: fracture\nfr:\n  terms:\n    - fêlure\n", encoding="utf-8")
    chu = SourceMapping(vocabularies={"fracture": (str(extra),)})
    (result,) = _results(read_outcomes(path, chu, fmt="hl7"))
    assert isinstance(result.record, OutcomeRecord)
    assert (result.record.outcome, result.record.evidence) == ("positive", "fêlure")


def test_a_companion_image_of_the_study_fills_what_the_sr_does_not_say(tmp_path: Path) -> None:
    sr = _file(tmp_path, "ai.dcm", samples.dicom_sr())
    (alone,) = _results(read_predictions(sr, fmt="dicom-sr", resolve_device=RESOLVE))
    assert isinstance(alone.record, PredictionRecord)
    assert alone.record.scanner_manufacturer is None
    _file(tmp_path, "image-0001.dcm", samples.companion_image())
    (read,) = _results(read_predictions(sr, fmt="dicom-sr", resolve_device=RESOLVE))
    record = read.record
    assert isinstance(record, PredictionRecord)
    assert (record.scanner_manufacturer, record.scanner_model, record.modality) == (
        "Fujifilm",
        "FDR D-EVO II",
        "DX",
    )
    assert record.body_part == "WRIST" and record.patient_age == 45.0  # the SR's own values


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        (SourceMapping(columns={"accession_number": "PID-3"}), "OBR"),
        (SourceMapping(defaults={"source": "labo"}), "defaults.source 'labo'"),
    ],
)
def test_an_unusable_message_mapping_is_refused_before_reading(
    mapping: SourceMapping, problem: str, tmp_path: Path
) -> None:
    path = _file(tmp_path, "reports.hl7", samples.HL7_REPORTS)
    with pytest.raises(ConnectorError, match=problem):
        read_outcomes(path, mapping, fmt="hl7")


def test_a_reason_never_quotes_patient_data(tmp_path: Path) -> None:
    message = (
        b"MSH|^~\\&|RIS|CHU|DMN|MON|20250116080000||ORU^R01|Z1|P|2.5|||||FRA|UNICODE UTF-8\r"
        b"PID|1||IPP\\Z77\\0042^^^CHU^PI||MARTIN^PAUL\r"
        b"OBR|1|||RXPOI|||20250115101500|||||||||||ACC-Z||||20250115113000|||F\r"
        b"OBX|1|TX|REP||Pas de fracture.||||||F\r"
    )
    results = _results(read_outcomes(_file(tmp_path, "z.hl7", message), fmt="hl7"))
    errors = [r.error or "" for r in results]
    assert any("PID-3" in e and "not shown" in e for e in errors), errors
    assert not any("IPP" in e or "MARTIN" in e for e in errors)


def test_a_fhir_pathology_report_with_only_a_coded_conclusion_is_ground_truth(
    tmp_path: Path,
) -> None:
    report = {
        "resourceType": "DiagnosticReport",
        "id": "path-1",
        "status": "final",
        "code": {"text": "Anatomopathologie"},
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}
                    ]
                },
                "value": "PATH-FHIR-1",
            }
        ],
        "issued": "2025-03-01T08:30:00+01:00",
        "conclusionCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "254637007"}]}],
    }
    path = _file(tmp_path, "path.json", json.dumps(report).encode())
    mapping = SourceMapping(defaults={"source": "pathology", "target": "lung_nodule"})
    (result,) = _results(read_outcomes(path, mapping, fmt="auto"))
    assert isinstance(result.record, OutcomeRecord), result.error
    assert (result.record.outcome, result.record.method) == ("positive", "pathology_code:snomed-ct")


def test_an_edited_vocabulary_file_is_read_again(tmp_path: Path) -> None:
    report = (
        "MSH|^~\\&|RIS|CHU|DMN|MON|20250301090000||ORU^R01|R9|P|2.5|||||FRA|UNICODE UTF-8\r"
        "OBR|1|||RXPOI|||20250210100000|||||||||||RX-ACC-9||||20250301083000|||F\r"
        "OBX|1|TX|REP||Conclusion : fêlure du radius.||||||F\r"
    ).encode()
    path = _file(tmp_path, "ris.hl7", report)
    extra = tmp_path / "fracture-chu.yaml"
    extra.write_text("target: fracture\nfr:\n  terms:\n    - fêlure\n", encoding="utf-8")
    chu = SourceMapping(vocabularies={"fracture": (str(extra),)})
    assert _results(read_outcomes(path, chu, fmt="hl7"))[0].record is not None
    extra.write_text("target: fracture\nfr:\n  terms:\n    - félure osseuse\n", encoding="utf-8")
    stat = extra.stat()
    os.utime(extra, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    (result,) = _results(read_outcomes(path, chu, fmt="hl7"))
    assert result.record is None and "states nothing" in (result.error or "")
