"""Synthetic clinical messages for the connector contract tests, one set per format.

Every sample is written for the tests (no real patient): what an AI node, a RIS or
a LIS of a French hospital would send. The ``EXPECTED_*`` tables say what each
good sample must become; the ``BAD_*`` samples must be quarantined with a reason.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import highdicom as hd
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

# --- registry: the devices these messages come from ---------------------------------------

REGISTRY: dict[str, Any] = {
    "devices": [
        {
            "id": "fracture-xr",
            "name": "BoneFinder",
            "manufacturer": "Acme AI",
            "model": "BF-2",
            "versions": ["2.1"],
            "target": "fracture",
            "ai_based": True,
            "operating_threshold": 0.5,
            "indeterminate_policy": "positive",
            "claimed_performance": {"sensitivity": 0.9, "specificity": 0.85, "source": "IFU"},
        },
        {
            "id": "nodule-ct",
            "name": "NoduleSeer",
            "manufacturer": "Lung Corp",
            "versions": ["1.8.0"],
            "target": "lung_nodule",
            "ai_based": True,
            "operating_threshold": 0.4,
            "indeterminate_policy": "exclude",
            "claimed_performance": {"sensitivity": 0.88, "specificity": 0.8, "source": "IFU"},
        },
    ]
}

# --- DICOM SR: an AI fracture result -----------------------------------------------------

_FRACTURE = Code("125605004", "SCT", "Fracture of bone")
_PRESENCE = Code("121052", "DCM", "Presence of property")
_PRESENT = Code("52101004", "SCT", "Present")
_ABSENT = Code("2667000", "SCT", "Absent")
_PROBABILITY = Code("122157", "DCM", "Probability")


def _image(accession: str) -> Dataset:
    image = Dataset()
    image.SOPClassUID = CTImageStorage
    image.SOPInstanceUID = generate_uid()
    image.StudyInstanceUID = "1.2.826.0.1.3680043.10.543.10"
    image.SeriesInstanceUID = generate_uid()
    image.PatientID = "IPP-SR-0001"
    image.PatientName = "Synthetique^Patient"
    image.PatientBirthDate = "19800101"
    image.PatientSex = "F"
    image.PatientAge = "045Y"
    image.AccessionNumber = accession
    image.StudyID = "1"
    image.StudyDate = "20250115"
    image.StudyTime = "103000"
    image.ReferringPhysicianName = ""
    image.Modality = "CT"
    image.Manufacturer = "Scanner Co"
    return image


def _group(presence: Code, probability: float, index: int) -> Any:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=f"F{index}"),
        finding_type=_FRACTURE,
        algorithm_id=hd.sr.AlgorithmIdentification(name="BoneFinder", version="2.1"),
        measurements=[
            hd.sr.Measurement(name=_PROBABILITY, value=probability, unit=codes.UCUM.NoUnits)
        ],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(_PRESENCE, presence)],
    )


def dicom_sr(accession: str = "SR-ACC-1") -> bytes:
    """A TID 1500 SR of the fracture AI: one fracture present (0.83), one absent (0.12)."""
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_device_context=hd.sr.ObserverContext(
                observer_type=codes.DCM.Device,
                observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                    uid="1.2.826.0.1.3680043.10.543.99",
                    name="BoneFinder node 1",
                    manufacturer_name="Acme AI",
                    model_name="BF-2",
                ),
            ),
        ),
        procedure_reported=Code("36643-5", "LN", "XR Wrist"),
        imaging_measurements=[_group(_PRESENT, 0.83, 1), _group(_ABSENT, 0.12, 2)],
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[_image(accession)],
        content=report,
        series_instance_uid=generate_uid(),
        series_number=99,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="Acme AI",
        is_complete=True,
    )
    sr.ManufacturerModelName = "BoneFinder"
    sr.SoftwareVersions = ["2.1.0"]  # type: ignore[assignment]
    sr.BodyPartExamined = "WRIST"
    buffer = io.BytesIO()
    dcmwrite(buffer, sr, enforce_file_format=True)
    return buffer.getvalue()


def companion_image() -> bytes:
    """A radiograph header of the SR's study (no pixels): what the scanner says."""
    image = _image("SR-ACC-1")
    image.Modality = "DX"
    image.Manufacturer = "Fujifilm"
    image.ManufacturerModelName = "FDR D-EVO II"
    image.file_meta = FileMetaDataset()
    image.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    dcmwrite(buffer, image, enforce_file_format=True)
    return buffer.getvalue()


# --- HL7 v2 ----------------------------------------------------------------------------------


def _segment(name: str, fields: dict[int, str]) -> str:
    return "|".join([name, *(fields.get(n, "") for n in range(1, max(fields) + 1))])


def _oru(control: str, *segments: str, app: str = "RIS") -> str:
    msh = (
        f"MSH|^~\\&|{app}|CHU|DMN|MON|20250116080000||ORU^R01|{control}|P|2.5|||||FRA|UNICODE UTF-8"
    )
    pid = _segment("PID", {1: "1", 3: "IPP-HL7-0042^^^CHU^PI", 5: "MARTIN^PAUL"})
    return "\r".join([msh, pid, *segments]) + "\r"


def _report(control: str, accession: str, status: str, text: str) -> str:
    return _oru(
        control,
        _segment(
            "OBR",
            {
                1: "1",
                4: "RXPOI^Radio poignet",
                7: "20250115101500",
                18: accession,
                22: "20250115113000",
                25: status,
            },
        ),
        _segment("OBX", {1: "1", 2: "TX", 3: "REP^Compte rendu", 5: text, 11: status}),
    )


HL7_REPORTS = "".join(
    [
        _report(
            "R1",
            "HL7-ACC-1",
            "F",
            "Radiographie du poignet droit.\\.br\\CONCLUSION : fracture du radius distal.",
        ),
        _report("R2", "HL7-ACC-2", "F", "Pas de fracture. Pas de luxation."),
        _report("R3", "HL7-ACC-3", "P", "Fracture probable du scaphoïde."),
        _oru("R4", _segment("OBX", {1: "1", 2: "TX", 3: "REP", 5: "Pas de fracture."})),
    ]
).encode()
"""Four ORU^R01: a fracture (F), no fracture (F), a preliminary report, one without OBR."""

EXPECTED_HL7_OUTCOMES = {"HL7-ACC-1": "positive", "HL7-ACC-2": "negative"}
BAD_HL7_REASONS = ("preliminary", "without OBR")

HL7_AI = _oru(
    "A1",
    _segment("SFT", {1: "Acme AI", 2: "2.1", 3: "BoneFinder"}),
    _segment(
        "OBR",
        {
            1: "1",
            4: "AI^Analyse IA",
            7: "20250115101500",
            18: "HL7-ACC-1",
            22: "20250115101700",
            25: "F",
        },
    ),
    _segment("OBX", {1: "1", 2: "CE", 3: "AI_RESULT", 5: "POSITIVE^Fracture", 11: "F"}),
    _segment("OBX", {1: "2", 2: "NM", 3: "AI_SCORE", 5: "0.91", 11: "F"}),
    app="fracture-xr",
).encode()
"""An AI node's ORU^R01 carrying its fracture result for HL7-ACC-1."""

# --- FHIR R4 ---------------------------------------------------------------------------------

_ACSN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}
_STUDY_UID = "1.2.826.0.1.3680043.10.543.20"


def _study() -> dict[str, Any]:
    return {
        "resourceType": "ImagingStudy",
        "id": "study-1",
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "started": "2025-01-15T09:30:00+01:00",
        "identifier": [
            {"system": "urn:dicom:uid", "value": f"urn:oid:{_STUDY_UID}"},
            {"type": _ACSN, "value": "FHIR-ACC-1"},
        ],
    }


def _diagnostic_report(report_id: str, status: str, conclusion: str) -> dict[str, Any]:
    text = "Scanner thoracique.\nNodule de 8 mm du lobe supérieur droit."
    return {
        "resourceType": "DiagnosticReport",
        "id": report_id,
        "status": status,
        "code": {"text": "Scanner thoracique"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2025-01-15T09:30:00+01:00",
        "issued": "2025-01-15T11:00:00+01:00",
        "imagingStudy": [{"reference": "ImagingStudy/study-1"}],
        "conclusion": conclusion,
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "data": base64.b64encode(text.encode()).decode(),
            }
        ],
    }


def _bundle(*resources: dict[str, Any]) -> bytes:
    entries = [
        {"fullUrl": f"http://chu.example/fhir/{r['resourceType']}/{r['id']}", "resource": r}
        for r in resources
    ]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


FHIR_REPORTS = _bundle(
    _study(),
    _diagnostic_report("dr-1", "final", "Nodule pulmonaire spiculé du lobe supérieur droit."),
    _diagnostic_report("dr-2", "preliminary", "Pas de nodule."),
    {"resourceType": "Patient", "id": "p1"},
)
"""A study, its final report (a nodule), a preliminary report, and a Patient (not read)."""

EXPECTED_FHIR_OUTCOMES = {"FHIR-ACC-1": "positive"}
BAD_FHIR_REASONS = ("preliminary", "Patient resource is not read")

AI_CODE = "nodule-ai-result"
FHIR_AI = _bundle(
    _study(),
    {
        "resourceType": "Observation",
        "id": "ai-1",
        "status": "final",
        "code": {"coding": [{"system": "http://lungcorp.example/codes", "code": AI_CODE}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2025-01-15T09:35:00+01:00",
        "device": {"display": "nodule-ct 1.8.0"},
        "partOf": [{"reference": "ImagingStudy/study-1"}],
        "valueCodeableConcept": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "52101004", "display": "Present"}
            ]
        },
        "component": [
            {"code": {"coding": [{"code": "score"}]}, "valueQuantity": {"value": 0.77, "unit": "1"}}
        ],
    },
)
"""The nodule AI's Observation for FHIR-ACC-1, part of its ImagingStudy."""
FHIR_AI_COLUMNS = {"ai_result": AI_CODE, "ai_score": "score"}
