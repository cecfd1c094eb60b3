"""DICOM SR AI results: what is read from a TID 1500 report, and what is rejected.

Specified here: an AI result SR (built with highdicom, or the public examples in
tests/data/dicom_sr) is read into an ``SrAiResult`` (identifiers, exam date-time,
algorithm, device observer, patient attributes, findings with presence and
probability), which gives one prediction per target condition; SRs that are not AI
results (a person's measurement, a CT image, another template, no findings) are
rejected with the reason; any bytes at all give a result or an ``SrError``, never an
exception.
"""

from __future__ import annotations

import io
import warnings
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import highdicom as hd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from connectors.canonical import PredictionRecord
from connectors.dicom_sr import (
    CodedValue,
    SrAiResult,
    SrError,
    looks_like_dicom,
    read_dicom_sr,
    to_prediction_records,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "dicom_sr"
PARIS = ZoneInfo("Europe/Paris")

FRACTURE = Code("125605004", "SCT", "Fracture of bone")
NODULE = Code("27925004", "SCT", "Nodule")
PRESENT = Code("52101004", "SCT", "Present")
ABSENT = Code("2667000", "SCT", "Absent")
PRESENCE = Code("121052", "DCM", "Presence of property")
PROBABILITY = Code("122157", "DCM", "Probability")
WRIST = Code("74670003", "SCT", "Wrist")


def _resolve(
    manufacturer: str | None,
    model: str | None,
    algorithm: str | None,
    version: str | None,
    software: tuple[str, ...],
) -> tuple[str, str] | None:
    """A registry of two devices, keyed the way a hospital would key them."""
    if (manufacturer, algorithm) == ("Acme AI", "BoneFinder"):
        return "acme-bonefinder", version or "?"
    if algorithm == "pylidc":
        return "pylidc", version or "?"
    return None


def _ct_image(**extra: str) -> Dataset:
    """A minimal synthetic CT image header (no pixels): the SR's evidence."""
    image = Dataset()
    image.SOPClassUID = CTImageStorage
    image.SOPInstanceUID = generate_uid()
    image.StudyInstanceUID = "1.2.826.0.1.3680043.10.543.1"
    image.SeriesInstanceUID = generate_uid()
    image.PatientID = "PAT-0001"
    image.PatientName = "Synthetic^Patient"
    image.PatientBirthDate = "19800101"
    image.PatientSex = "F"
    image.PatientAge = "045Y"
    image.AccessionNumber = "ACC123"
    image.StudyID = "1"
    image.StudyDate = "20250115"
    image.StudyTime = "103000"
    image.ReferringPhysicianName = ""
    image.Modality = "CT"
    image.Manufacturer = "Scanner Co"
    image.Rows = 8
    image.Columns = 8
    for keyword, value in extra.items():
        setattr(image, keyword, value)
    return image


def _group(
    finding: Code,
    *,
    presence: Code | None,
    probability: tuple[float, Code] | None = None,
    algorithm: bool = True,
    index: int = 1,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    evaluations = [hd.sr.QualitativeEvaluation(PRESENCE, presence)] if presence else None
    measurements = (
        [hd.sr.Measurement(name=PROBABILITY, value=probability[0], unit=probability[1])]
        if probability
        else None
    )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=generate_uid(), identifier=f"Finding {index}"
        ),
        finding_type=finding,
        finding_sites=[hd.sr.FindingSite(WRIST)] if finding == FRACTURE else None,
        algorithm_id=(
            hd.sr.AlgorithmIdentification(name="BoneFinder", version="2.1") if algorithm else None
        ),
        measurements=measurements,
        qualitative_evaluations=evaluations,
    )


def _sr(
    groups: list[hd.sr.MeasurementsAndQualitativeEvaluations],
    *,
    device: bool = True,
    image: Dataset | None = None,
) -> Dataset:
    """A TID 1500 Comprehensive 3D SR as an AI would write it."""
    device_context = (
        hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid="1.2.826.0.1.3680043.10.543.99",
                name="BoneFinder node 1",
                manufacturer_name="Acme AI",
                model_name="BF-2",
            ),
        )
        if device
        else None
    )
    person_context = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Doe^Jane"),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_person_context=None if device else person_context,
            observer_device_context=device_context,
        ),
        procedure_reported=Code("36643-5", "LN", "XR Wrist"),
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[image or _ct_image()],
        content=report,
        series_instance_uid=generate_uid(),
        series_number=99,
        sop_instance_uid="1.2.826.0.1.3680043.10.543.7",
        instance_number=1,
        manufacturer="Acme AI",
        is_complete=True,
    )
    sr.ManufacturerModelName = "BoneFinder"
    sr.SoftwareVersions = ["2.1.0", "lib 7"]  # type: ignore[assignment]
    sr.BodyPartExamined = "WRIST"
    return sr


def _bytes(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def _json(dataset: Dataset) -> bytes:
    """DICOM JSON of the dataset as stored (highdicom's in-memory DA values do not serialise)."""
    return dcmread(io.BytesIO(_bytes(dataset))).to_json().encode()


def _fracture_sr() -> Dataset:
    return _sr(
        [
            _group(FRACTURE, presence=PRESENT, probability=(0.83, codes.UCUM.NoUnits)),
            _group(FRACTURE, presence=ABSENT, probability=(0.12, codes.UCUM.NoUnits), index=2),
        ]
    )


def _read(data: bytes) -> SrAiResult:
    result = read_dicom_sr(data, tz=PARIS, name="test.dcm")
    assert isinstance(result, SrAiResult), result
    return result


def _predictions(result: SrAiResult) -> list[PredictionRecord]:
    records = to_prediction_records(result, resolve_device=_resolve)
    assert isinstance(records, list), records
    return records


def _real(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- an AI fracture result, built with highdicom ---------------------------------------


def test_fracture_ai_sr_is_read_with_identifiers_algorithm_device_and_patient() -> None:
    result = _read(_bytes(_fracture_sr()))

    assert result.name == "test.dcm"
    assert result.sop_instance_uid == "1.2.826.0.1.3680043.10.543.7"
    assert result.sop_class == "Comprehensive 3D SR Storage"
    assert result.study_instance_uid == "1.2.826.0.1.3680043.10.543.1"
    assert result.accession_number == "ACC123"
    assert result.patient_id == "PAT-0001"
    assert result.exam_datetime == datetime(2025, 1, 15, 10, 30, tzinfo=PARIS)
    assert result.exam_datetime_source == "study"
    assert result.ai_datetime is not None and result.ai_datetime.tzinfo is PARIS
    assert (result.manufacturer, result.model_name) == ("Acme AI", "BoneFinder")
    assert result.software_versions == ("2.1.0", "lib 7")
    assert (result.algorithm_name, result.algorithm_version) == ("BoneFinder", "2.1")
    assert result.device_observer_uid == "1.2.826.0.1.3680043.10.543.99"
    assert result.device_observer_name == "BoneFinder node 1"
    assert result.device_observer_manufacturer == "Acme AI"
    assert result.device_observer_model_name == "BF-2"
    assert (result.body_part, result.patient_age, result.patient_sex) == ("WRIST", 45.0, "F")


def test_fracture_findings_carry_presence_probability_site_and_tracking() -> None:
    result = _read(_bytes(_fracture_sr()))

    first, second = result.findings
    assert first.finding == CodedValue("SCT", "125605004", "Fracture of bone")
    assert first.presence == "present"
    assert first.probability == pytest.approx(0.83)
    assert first.finding_site == CodedValue("SCT", "74670003", "Wrist")
    assert first.tracking_id == "Finding 1" and first.tracking_uid
    assert second.presence == "absent"
    assert second.probability == pytest.approx(0.12)


def test_fracture_with_one_present_finding_is_one_positive_prediction_scored_083() -> None:
    (record,) = _predictions(_read(_bytes(_fracture_sr())))

    assert record.target == "fracture"
    assert record.ai_result == "positive"
    assert record.ai_score == pytest.approx(0.83)
    assert (record.device_id, record.device_version) == ("acme-bonefinder", "2.1")
    assert record.exam_datetime == datetime(2025, 1, 15, 10, 30, tzinfo=PARIS)
    assert (record.accession_number, record.patient_id) == ("ACC123", "PAT-0001")
    assert (record.body_part, record.patient_age, record.patient_sex) == ("WRIST", 45.0, "F")


def test_nodule_ai_with_all_findings_absent_is_negative() -> None:
    sr = _sr(
        [
            _group(NODULE, presence=ABSENT, probability=(4.0, Code("%", "UCUM", "percent"))),
            _group(NODULE, presence=ABSENT, index=2),
        ]
    )
    (record,) = _predictions(_read(_bytes(sr)))

    assert (record.target, record.ai_result) == ("lung_nodule", "negative")
    assert record.ai_score == pytest.approx(0.04)  # percent converted to 0..1


def test_two_targets_in_one_sr_give_two_predictions() -> None:
    sr = _sr(
        [
            _group(FRACTURE, presence=PRESENT, probability=(0.9, codes.UCUM.NoUnits)),
            _group(NODULE, presence=ABSENT, probability=(0.2, codes.UCUM.NoUnits), index=2),
        ]
    )
    records = {record.target: record for record in _predictions(_read(_bytes(sr)))}

    assert set(records) == {"fracture", "lung_nodule"}
    assert records["fracture"].ai_result == "positive"
    assert records["fracture"].ai_score == pytest.approx(0.9)
    assert records["lung_nodule"].ai_result == "negative"


def test_a_finding_without_presence_counts_as_present() -> None:
    (record,) = _predictions(_read(_bytes(_sr([_group(FRACTURE, presence=None)]))))

    assert (record.ai_result, record.ai_score) == ("positive", None)


def test_undetermined_presence_without_any_present_finding_is_indeterminate() -> None:
    undetermined = Code("121059", "DCM", "Presence Undetermined")
    sr = _sr([_group(FRACTURE, presence=undetermined), _group(FRACTURE, presence=ABSENT)])
    (record,) = _predictions(_read(_bytes(sr)))

    assert record.ai_result == "indeterminate"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Code("G-A203", "SRT", "Present"), "positive"),  # legacy SNOMED RT spelling
        (Code("373066001", "SCT", "Yes"), "positive"),
        (Code("121054", "DCM", "Absent"), "negative"),
        (Code("373067005", "SCT", "No"), "negative"),
    ],
)
def test_presence_synonyms_are_understood(value: Code, expected: str) -> None:
    (record,) = _predictions(_read(_bytes(_sr([_group(FRACTURE, presence=value)]))))

    assert record.ai_result == expected


def test_unknown_presence_value_is_an_error_not_a_guess() -> None:
    maybe = Code("255545003", "SCT", "Definite")
    result = read_dicom_sr(_bytes(_sr([_group(FRACTURE, presence=maybe)])), tz=PARIS)

    assert isinstance(result, SrError) and "Presence (DCM 121052)" in result.reason


def test_custom_target_map_replaces_the_default_one() -> None:
    result = _read(_bytes(_fracture_sr()))
    records = to_prediction_records(
        result, resolve_device=_resolve, targets={("SCT", "125605004"): "wrist_fracture"}
    )

    assert isinstance(records, list) and [r.target for r in records] == ["wrist_fracture"]


def test_unknown_device_is_a_reason_naming_what_the_sr_says() -> None:
    result = _read(_bytes(_fracture_sr()))
    reason = to_prediction_records(result, resolve_device=lambda *_: None)

    assert isinstance(reason, str)
    for seen in ("Acme AI", "BF-2", "BoneFinder", "2.1", "2.1.0", "registry"):
        assert seen in reason


def test_resolver_gets_the_device_observer_manufacturer_and_model_first() -> None:
    seen: list[tuple[object, ...]] = []

    def spy(*args: object) -> None:
        seen.append(args)
        return None

    to_prediction_records(_read(_bytes(_fracture_sr())), resolve_device=spy)

    assert seen == [("Acme AI", "BF-2", "BoneFinder", "2.1", ("2.1.0", "lib 7"))]


def test_sr_without_a_known_target_is_a_reason_listing_the_findings() -> None:
    aorta = Code("15825003", "SCT", "Aorta")
    reason = to_prediction_records(
        _read(_bytes(_sr([_group(aorta, presence=PRESENT)]))), resolve_device=_resolve
    )

    assert isinstance(reason, str) and "SCT 15825003 Aorta" in reason


def test_study_time_missing_falls_back_to_content_date_time() -> None:
    sr = _fracture_sr()
    del sr.StudyTime
    result = _read(_bytes(sr))

    assert result.exam_datetime_source == "content"
    assert result.exam_datetime == result.ai_datetime


def test_timezone_offset_of_the_sr_wins_over_the_tz_parameter() -> None:
    sr = _fracture_sr()
    sr.TimezoneOffsetFromUTC = "+0000"
    result = _read(_bytes(sr))

    assert result.exam_datetime.utcoffset() is not None
    assert result.exam_datetime.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_no_exam_date_at_all_is_an_error() -> None:
    sr = _fracture_sr()
    del sr.StudyDate, sr.ContentDate
    result = read_dicom_sr(_bytes(sr), tz=PARIS)

    assert isinstance(result, SrError) and "no exam date-time" in result.reason


@pytest.mark.parametrize(
    ("age", "years"), [("045Y", 45.0), ("006M", 0.5), ("052W", 0.9966), ("010D", 0.0274)]
)
def test_patient_age_units_are_converted_to_years(age: str, years: float) -> None:
    sr = _fracture_sr()
    sr.PatientAge = age

    assert _read(_bytes(sr)).patient_age == pytest.approx(years, abs=1e-3)


@pytest.mark.parametrize(
    ("keyword", "value", "named"),
    [
        ("PatientAge", "45", "PatientAge"),
        ("PatientSex", "X", "PatientSex"),
        ("StudyDate", "2025011", "StudyDate"),
        ("StudyTime", "25h", "StudyTime"),
    ],
)
def test_bad_header_value_is_an_error_naming_the_attribute(
    keyword: str, value: str, named: str
) -> None:
    sr = _fracture_sr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid value we want
        setattr(sr, keyword, value)
        data = _bytes(sr)
    result = read_dicom_sr(data, tz=PARIS)

    assert isinstance(result, SrError) and named in result.reason


def test_probability_in_an_unknown_unit_or_out_of_range_is_an_error() -> None:
    millimetre = _sr(
        [_group(FRACTURE, presence=PRESENT, probability=(3.0, Code("mm", "UCUM", "millimeter")))]
    )
    above_one = _sr([_group(FRACTURE, presence=PRESENT, probability=(1.5, codes.UCUM.NoUnits))])

    first = read_dicom_sr(_bytes(millimetre), tz=PARIS)
    second = read_dicom_sr(_bytes(above_one), tz=PARIS)
    assert isinstance(first, SrError) and "unit 'mm'" in first.reason
    assert isinstance(second, SrError) and "not in 0..1" in second.reason


def test_two_different_algorithms_in_one_sr_are_rejected() -> None:
    other = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="x"),
        finding_type=NODULE,
        algorithm_id=hd.sr.AlgorithmIdentification(name="LungSeer", version="1"),
    )
    result = read_dicom_sr(_bytes(_sr([_group(FRACTURE, presence=PRESENT), other])), tz=PARIS)

    assert isinstance(result, SrError) and "several algorithms" in result.reason


# -- input forms ------------------------------------------------------------------------


def test_dicom_json_and_one_element_list_read_like_the_file() -> None:
    sr = _fracture_sr()
    as_object = _json(sr)
    as_list = b"[" + as_object + b"]"

    assert _read(as_object).findings == _read(_bytes(sr)).findings
    assert _read(as_list).sop_instance_uid == "1.2.826.0.1.3680043.10.543.7"


def test_file_without_preamble_and_bare_dataset_are_read() -> None:
    data = _bytes(_fracture_sr())
    bare = DicomBytesIO()  # a bare implicit-VR dataset: no preamble, no file meta
    bare.is_little_endian, bare.is_implicit_VR = True, True
    write_dataset(bare, _fracture_sr())
    assert b"DICM" not in bare.getvalue()[:200]

    assert _read(data[128:]).algorithm_name == "BoneFinder"
    assert _read(bare.getvalue()).algorithm_name == "BoneFinder"


def test_looks_like_dicom_recognises_part10_and_json_heads_only() -> None:
    sr = _fracture_sr()

    assert looks_like_dicom(_bytes(sr)[:256])
    assert looks_like_dicom(_json(sr)[:4096])
    assert looks_like_dicom(_real("hl7-dicom-sr__Example-MeasurementReport.json")[:1024])
    assert not looks_like_dicom(b"accession_number,ai_result\nA1,positive\n")
    assert not looks_like_dicom(b'{"resourceType": "Observation"}')
    assert not looks_like_dicom(b"")


# -- rejections -------------------------------------------------------------------------


def test_ct_image_is_rejected_as_not_a_structured_report() -> None:
    image = _ct_image()
    image.file_meta = FileMetaDataset()
    image.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    result = read_dicom_sr(_bytes(image), tz=PARIS, name="ct.dcm")

    assert isinstance(result, SrError)
    assert result.reason == "SOP class CT Image Storage is not a Structured Report"
    assert str(result).startswith("ct.dcm: ")


def test_sr_written_by_a_person_without_algorithm_is_not_an_ai_result() -> None:
    sr = _sr([_group(FRACTURE, presence=PRESENT, algorithm=False)], device=False)
    result = read_dicom_sr(_bytes(sr), tz=PARIS)

    assert isinstance(result, SrError)
    assert result.reason == (
        "no algorithm identification (Algorithm Name 111001) nor device observer: not an AI result"
    )


def test_sr_without_any_finding_is_rejected() -> None:
    no_finding = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="x"),
        measurements=[hd.sr.Measurement(name=PROBABILITY, value=0.5, unit=codes.UCUM.NoUnits)],
    )
    result = read_dicom_sr(_bytes(_sr([no_finding])), tz=PARIS)

    assert isinstance(result, SrError) and "no measurement or qualitative findings" in result.reason


def test_sr_of_another_template_is_rejected() -> None:
    sr = _fracture_sr()
    sr.ConceptNameCodeSequence[0].CodeValue = "18748-4"
    sr.ConceptNameCodeSequence[0].CodingSchemeDesignator = "LN"
    del sr.ContentTemplateSequence
    result = read_dicom_sr(_bytes(sr), tz=PARIS)

    assert isinstance(result, SrError) and "not a TID 1500" in result.reason


def test_sr_class_that_cannot_hold_tid1500_is_rejected() -> None:
    sr = _fracture_sr()
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.59"  # Key Object Selection
    result = read_dicom_sr(_bytes(sr), tz=PARIS)

    assert isinstance(result, SrError) and "cannot hold a TID 1500" in result.reason


def test_truncated_file_is_an_error_not_a_partial_report() -> None:
    data = _bytes(_fracture_sr())
    for cut in range(0, len(data), 7):
        result = read_dicom_sr(data[:cut], tz=PARIS)
        assert isinstance(result, SrError), cut
    result = read_dicom_sr(data[: len(data) - 10], tz=PARIS)
    assert isinstance(result, SrError) and result.reason.startswith("truncated or not a DICOM file")


@pytest.mark.parametrize(
    "data", [b"", b"hello", b"{", b"[]", b"[{}, {}]", b'"text"', b"\x00" * 300]
)
def test_garbage_is_an_error(data: bytes) -> None:
    assert isinstance(read_dicom_sr(data, tz=PARIS), SrError)


# -- the public examples ----------------------------------------------------------------


def test_hl7_json_example_is_a_pylidc_lung_nodule_result() -> None:
    result = _read(_real("hl7-dicom-sr__Example-MeasurementReport.json"))

    assert result.sop_class == "Enhanced SR Storage"
    assert (result.patient_id, result.accession_number) == ("PID-11235", "ACSN-235813")
    assert (result.algorithm_name, result.algorithm_version) == ("pylidc", "0.2.0")
    assert result.exam_datetime == datetime(2000, 1, 1, 8, 24, 28, tzinfo=PARIS)
    (finding,) = result.findings
    assert finding.finding == CodedValue("SCT", "427359005", "Solitary nodule of lung")
    assert finding.finding_site == CodedValue("SCT", "39607008", "Lung")
    (record,) = _predictions(result)
    assert (record.device_id, record.device_version) == ("pylidc", "0.2.0")
    assert (record.target, record.ai_result, record.ai_score) == ("lung_nodule", "positive", None)


def test_dcmqi_example_is_a_human_measurement_and_rejected() -> None:
    result = read_dicom_sr(_real("dcmqi__data_sr-example_sr.dcm"), tz=PARIS)

    assert isinstance(result, SrError) and "not an AI result" in result.reason


def test_highdicom_multiple_groups_example_has_a_lung_nodule_from_a_device_observer() -> None:
    result = _read(_real("highdicom__sr_document_with_multiple_groups.dcm"))

    assert result.patient_id == "1CT1" and result.accession_number is None
    assert result.device_observer_uid == (
        "1.2.826.0.1.3680043.10.511.3.29899283304937342586225207155834162"
    )
    assert result.algorithm_name is None
    assert [f.finding.value for f in result.findings] == ["27925004", "15825003", "51282000"]
    records = to_prediction_records(result, resolve_device=lambda *_: ("hd-test", "1"))
    assert isinstance(records, list)
    assert [(r.target, r.ai_result) for r in records] == [("lung_nodule", "positive")]


def test_highdicom_single_group_example_has_no_known_target() -> None:
    result = _read(_real("highdicom__sr_document.dcm"))

    (finding,) = result.findings
    assert finding.finding == CodedValue("SRT", "T-A7010", "Spinal cord")
    assert finding.presence == "unspecified"
    reason = to_prediction_records(result, resolve_device=lambda *_: ("hd-test", "1"))
    assert isinstance(reason, str) and "Spinal cord" in reason


# -- robustness -------------------------------------------------------------------------

REAL_FILES = sorted(path.name for path in DATA.iterdir())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    result = read_dicom_sr(data, tz=PARIS)

    assert isinstance(result, SrAiResult | SrError)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(REAL_FILES),
    st.data(),
)
def test_mutated_real_files_never_raise(name: str, data: st.DataObject) -> None:
    original = _real(name)
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    result = read_dicom_sr(bytes(mutated[:cut]), tz=PARIS)

    assert isinstance(result, SrAiResult | SrError)
    if isinstance(result, SrAiResult):
        records = to_prediction_records(result, resolve_device=lambda *_: ("d", "1"))
        assert isinstance(records, list | str)
