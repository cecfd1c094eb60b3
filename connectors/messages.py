"""Clinical messages (DICOM SR, HL7 v2, FHIR) -> canonical records, as row results.

The format readers (:mod:`connectors.dicom_sr`, :mod:`connectors.hl7v2`,
:mod:`connectors.fhir`) parse; this module turns what they find into the same
:class:`~connectors.rows.RowResult` chunks the tabular readers yield, so that
ingestion, quarantine and idempotence work alike for every format.

What a :class:`~connectors.mapping.SourceMapping` means here (the same keys as a
tabular source, so one ``[[sources]]`` entry describes any feed):

- ``columns.accession_number`` (HL7): the OBR fields tried in order, comma-separated
  (default ``OBR-18,OBR-3,OBR-2``).
- ``columns.ai_result`` / ``columns.ai_score``: the observation code of the AI result
  and of its score (HL7 OBX-3, default ``AI_RESULT`` / ``AI_SCORE``; FHIR
  Observation.code and component code: required for FHIR predictions).
- ``values.ai_result``: vendor result value -> positive / negative / indeterminate.
- ``defaults``: ``source`` of outcomes (``report`` by default; ``pathology`` maps
  coded diagnoses and the conclusion with :mod:`connectors.pathology`), ``target``
  (the target condition reports are read for; default every target the report-text
  rules know, one outcome per target the report speaks of; with a target set, a
  final report that never speaks of it gives the outcome ``not_mentioned``),
  ``device_id``,
  ``device_version``, ``site`` when the message does not say.
- ``timezone``: of date-times without an offset.

``RowResult.line`` is the message (HL7), resource or Bundle entry (FHIR) number,
1-based; a DICOM file is line 1. What a DICOM SR does not say of the acquisition
(modality, body part, scanner make and model, patient age and sex) is taken from a
companion file: an image of the same study in the same folder (headers only). One
message may give several results with the same line (one per target); a chunk
never splits them. ``raw`` holds only what
locates the message (never the message text, which carries patient names).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache, partial
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from connectors.canonical import OUTCOME_SOURCES, OutcomeRecord, PredictionRecord
from connectors.decisions import NOT_MENTIONED, Decision, decide_outcome
from connectors.dicom_sr import DeviceResolver, SrError, looks_like_dicom, read_dicom_sr
from connectors.dicom_sr import to_prediction_records as sr_predictions
from connectors.errors import ConnectorError
from connectors.fhir import (
    FhirAiMapping,
    FhirImagingStudy,
    FhirObservation,
    FhirReport,
    looks_like_fhir,
    read_fhir,
)
from connectors.fhir import to_outcome_record as fhir_outcome
from connectors.fhir import to_prediction_record as fhir_prediction
from connectors.hl7v2 import (
    DEFAULT_ACCESSION_FIELDS,
    Hl7AiMapping,
    Hl7Error,
    Hl7Report,
    looks_like_hl7,
    read_hl7,
)
from connectors.hl7v2 import to_outcome_record as hl7_outcome
from connectors.hl7v2 import to_prediction_record as hl7_prediction
from connectors.mapping import RecordKind, SourceMapping
from connectors.report_text import TARGETS
from connectors.rows import RowResult

__all__ = ["MESSAGE_FORMATS", "Decision", "decide_outcome", "detect_format", "read_messages"]

MESSAGE_FORMATS: Final = ("dicom-sr", "hl7", "fhir")
"""Formats read by :func:`read_messages`."""

_SUFFIXES: Final = {
    ".dcm": "dicom-sr",
    ".hl7": "hl7",
    ".oru": "hl7",
    ".json": "fhir",
    ".ndjson": "fhir",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_HEAD_BYTES: Final = 4096
_RESOURCE_TYPES: Final[dict[type, str]] = {
    FhirReport: "DiagnosticReport",
    FhirObservation: "Observation",
    FhirImagingStudy: "ImagingStudy",
}


def detect_format(path: Path) -> str:
    """The format of a file from its first bytes (then its suffix): one of
    ``dicom-sr``, ``hl7``, ``fhir``, ``parquet``, ``csv``. A DICOM file without
    suffix, an HL7 batch named ``.txt`` or a FHIR export named ``.dat`` are found by
    their content; text that is none of the message formats is CSV."""
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if looks_like_dicom(head):
        return "dicom-sr"
    if looks_like_hl7(head):
        return "hl7"
    if looks_like_fhir(head):
        return "fhir"
    if head.startswith(b"PAR1"):
        return "parquet"
    return _SUFFIXES.get(path.suffix.lower(), "csv")


def read_messages(
    path: Path,
    kind: RecordKind,
    mapping: SourceMapping,
    chunk_size: int,
    fmt: str,
    resolve_device: DeviceResolver | None = None,
) -> Iterator[list[RowResult]]:
    """Chunks of at most about ``chunk_size`` results (a message is never split).

    ``resolve_device`` maps what a DICOM SR says of its device to (device_id,
    device_version) through the registry; DICOM SR predictions need it. Raises
    :class:`ConnectorError` for a missing file, a format that cannot hold ``kind``
    (a DICOM SR holds AI results, not outcomes) or a mapping that cannot be used.
    """
    if fmt not in MESSAGE_FORMATS:
        raise ConnectorError(f"not a message format: {fmt!r}", path=str(path))
    if not path.is_file():
        raise ConnectorError("no such file", path=str(path))
    if fmt == "dicom-sr" and kind == "outcomes":
        raise ConnectorError(
            "a DICOM SR holds AI results: ingest it as predictions", path=str(path)
        )
    if fmt == "dicom-sr" and resolve_device is None:
        raise ConnectorError("DICOM SR predictions need the registry to name the device")
    interpret = _interpreter(path, kind, mapping, fmt, resolve_device)
    size, bound = path.stat().st_size, mapping.limits.max_message_file_bytes
    if size > bound:
        raise ConnectorError(
            f"{size / 2**20:,.0f} MiB: a message file is read whole, at most "
            f"{bound // 2**20} MiB (ingest.max_message_file_bytes): split it",
            path=str(path),
        )
    data = path.read_bytes()
    return _chunks(interpret(data), chunk_size)


def _chunks(groups: Iterator[list[RowResult]], chunk_size: int) -> Iterator[list[RowResult]]:
    chunk: list[RowResult] = []
    for group in groups:
        chunk.extend(group)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_Interpreter = Callable[[bytes], Iterator[list[RowResult]]]


def _interpreter(
    path: Path,
    kind: RecordKind,
    mapping: SourceMapping,
    fmt: str,
    resolve_device: DeviceResolver | None,
) -> _Interpreter:
    tz = ZoneInfo(mapping.timezone)
    defaults = mapping.defaults
    source = defaults.get("source", "report")
    if source not in OUTCOME_SOURCES:
        raise ConnectorError(
            f"defaults.source {source!r}: use one of {', '.join(OUTCOME_SOURCES)}", path=str(path)
        )
    target = defaults.get("target")
    targets = (target,) if target else TARGETS
    if fmt == "dicom-sr":
        assert resolve_device is not None
        return lambda data: _sr_rows(data, path, tz, mapping, resolve_device)
    if fmt == "hl7":
        fields = tuple(
            f.strip()
            for f in mapping.columns.get(
                "accession_number", ",".join(DEFAULT_ACCESSION_FIELDS)
            ).split(",")
            if f.strip()
        )
        try:
            read_hl7(b"", tz=tz, accession_fields=fields)  # checks the field names
            ai = Hl7AiMapping(
                result_identifier=mapping.columns.get("ai_result", "AI_RESULT"),
                result_values=_result_values(mapping, Hl7AiMapping().result_values),
                score_identifier=mapping.columns.get("ai_score", "AI_SCORE"),
                target=target,
            )
        except ValueError as exc:
            raise ConnectorError(str(exc), path=str(path)) from exc
        return lambda data: _hl7_rows(data, tz, fields, kind, source, targets, ai, mapping)
    fhir_ai: FhirAiMapping | None = None
    if kind == "predictions":
        code = mapping.columns.get("ai_result")
        if not code:
            raise ConnectorError(
                "FHIR AI results: set columns.ai_result to the Observation.code of the AI "
                "result (and columns.ai_score to the component code of its probability)",
                path=str(path),
            )
        fhir_ai = FhirAiMapping(
            result_code=code,
            values=dict(_result_values(mapping, tuple(FhirAiMapping(code).values.items()))),
            score_code=mapping.columns.get("ai_score"),
            device_id=defaults.get("device_id"),
            device_version=defaults.get("device_version"),
            target=target,
        )
    return lambda data: _fhir_rows(data, tz, kind, source, targets, fhir_ai, mapping)


def _result_values(
    mapping: SourceMapping, base: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    extra = mapping.values.get("ai_result", {})
    return (*base, *((k, v) for k, v in extra.items() if v))


def _with_defaults(record: PredictionRecord, mapping: SourceMapping) -> PredictionRecord:
    site = record.site or mapping.defaults.get("site")
    return dataclasses.replace(record, site=site) if site != record.site else record


def _sr_rows(
    data: bytes,
    path: Path,
    tz: ZoneInfo,
    mapping: SourceMapping,
    resolve_device: DeviceResolver,
) -> Iterator[list[RowResult]]:
    raw: dict[str, str | None] = {"file": path.name}
    result = read_dicom_sr(
        data, tz=tz, name=path.name, max_inflated=mapping.limits.max_inflated_bytes
    )
    if isinstance(result, SrError):
        yield [RowResult(1, raw, None, result.reason)]
        return
    raw |= {
        "accession_number": result.accession_number,
        "study_instance_uid": result.study_instance_uid,
    }
    records = sr_predictions(
        result, resolve_device=resolve_device, site=mapping.defaults.get("site")
    )
    if isinstance(records, str):
        yield [RowResult(1, raw, None, records)]
        return
    study = result.study_instance_uid
    image = _companion_images(path.parent, path.parent.stat().st_mtime_ns).get(study or "")
    if image is not None:
        records = [_with_image(record, image) for record in records]
    yield [RowResult(1, raw, record, None) for record in records]


_IMAGE_TAGS: Final = (
    "SOPClassUID",
    "StudyInstanceUID",
    "Modality",
    "BodyPartExamined",
    "Manufacturer",
    "ManufacturerModelName",
    "PatientAge",
    "PatientSex",
)


@dataclasses.dataclass(frozen=True, slots=True)
class _Image:
    """What an image of the study says of its acquisition (a companion of the SR)."""

    modality: str | None
    body_part: str | None
    manufacturer: str | None
    model: str | None
    patient_age: float | None
    patient_sex: str | None


@lru_cache(maxsize=16)
def _companion_images(folder: Path, _mtime_ns: int) -> dict[str, _Image]:
    """The first image (not an SR) of each study among the DICOM files of ``folder``.

    Read once per folder state (``_mtime_ns``): headers only, unreadable files skipped.
    """
    from pydicom import dcmread
    from pydicom.errors import InvalidDicomError

    images: dict[str, _Image] = {}
    for file in sorted(folder.iterdir()):
        try:
            with file.open("rb") as handle:
                if handle.read(132)[128:] != b"DICM":
                    continue
            header = dcmread(file, stop_before_pixels=True, specific_tags=list(_IMAGE_TAGS))
        except (OSError, InvalidDicomError, ValueError, TypeError, AttributeError):
            continue
        study = str(header.get("StudyInstanceUID", "") or "")
        sop_class = str(header.get("SOPClassUID", "") or "")
        if not study or study in images or sop_class.startswith("1.2.840.10008.5.1.4.1.1.88."):
            continue
        images[study] = _Image(
            modality=_text(header.get("Modality")),
            body_part=_text(header.get("BodyPartExamined")),
            manufacturer=_text(header.get("Manufacturer")),
            model=_text(header.get("ManufacturerModelName")),
            patient_age=_age_years(_text(header.get("PatientAge"))),
            patient_sex=_text(header.get("PatientSex")),
        )
    return images


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _age_years(age: str | None) -> float | None:
    """A DICOM age string (``045Y``, ``018M``, ``003W``, ``010D``) in years."""
    if not age or len(age) != 4 or not age[:3].isdigit():
        return None
    per_unit = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}.get(age[3].upper())
    return None if per_unit is None else int(age[:3]) * per_unit


def _with_image(record: PredictionRecord, image: _Image) -> PredictionRecord:
    """Fill what the SR did not say from its study's image (the SR's own values win)."""
    sex = record.patient_sex or image.patient_sex
    return dataclasses.replace(
        record,
        modality=record.modality or image.modality,
        body_part=record.body_part or image.body_part,
        scanner_manufacturer=record.scanner_manufacturer or image.manufacturer,
        scanner_model=record.scanner_model or image.model,
        patient_age=record.patient_age if record.patient_age is not None else image.patient_age,
        patient_sex=sex if sex in ("F", "M", "O", "U") else record.patient_sex,
    )


def _hl7_rows(
    data: bytes,
    tz: ZoneInfo,
    fields: tuple[str, ...],
    kind: RecordKind,
    source: str,
    targets: Sequence[str],
    ai: Hl7AiMapping,
    mapping: SourceMapping,
) -> Iterator[list[RowResult]]:
    for item in read_hl7(data, tz=tz, accession_fields=fields):
        line = max(item.message_index, 1)
        raw: dict[str, str | None] = {
            "message": str(item.message_index),
            "control_id": item.control_id,
        }
        if isinstance(item, Hl7Error):
            yield [RowResult(line, raw, None, str(item))]
            continue
        assert isinstance(item, Hl7Report)
        raw |= {"obr": str(item.obr_index), "accession_number": item.accession_number}
        where = f"message {item.message_index}, OBR {item.obr_index}"
        if kind == "predictions":
            prediction = hl7_prediction(item, ai)
            if isinstance(prediction, str):
                yield [RowResult(line, raw, None, f"{where}: {prediction}")]
            else:
                yield [RowResult(line, raw, _with_defaults(prediction, mapping), None)]
            continue
        codes = [
            (rep[2] if len(rep) > 2 else "local", rep[0])
            for obs in item.observations
            if obs.value_type in ("CE", "CWE", "CNE")
            for rep in obs.values
            if rep and rep[0]
        ]
        yield _outcome_rows(
            line,
            raw,
            where,
            item.report_text,
            codes,
            source,
            targets,
            partial(hl7_outcome, item, source=source),
            mapping,
        )


def _fhir_rows(
    data: bytes,
    tz: ZoneInfo,
    kind: RecordKind,
    source: str,
    targets: Sequence[str],
    ai: FhirAiMapping | None,
    mapping: SourceMapping,
) -> Iterator[list[RowResult]]:
    for number, item in enumerate(read_fhir(data, tz=tz), start=1):
        kind_name = getattr(item, "resource_type", None) or _RESOURCE_TYPES.get(type(item))
        identifier = getattr(item, "resource_id", None) or getattr(item, "id", None)
        raw: dict[str, str | None] = {
            "location": item.location,
            "resource": f"{kind_name or 'resource'}/{identifier or ''}",
        }
        reason = getattr(item, "reason", None)
        if reason is not None:
            yield [RowResult(number, raw, None, f"{item.location}: {reason}")]
            continue
        where = f"{item.location} ({raw['resource']})"
        if kind == "predictions" and isinstance(item, FhirObservation):
            assert ai is not None
            prediction = fhir_prediction(item, ai)
            if isinstance(prediction, str):
                yield [RowResult(number, raw, None, f"{where}: {prediction}")]
            else:
                yield [RowResult(number, raw, _with_defaults(prediction, mapping), None)]
        elif kind == "outcomes" and isinstance(item, FhirReport):
            report = item
            codes = [(c.system or "local", c.code) for c in report.conclusion_codes if c.code]
            # The conclusion element is the report's conclusion: label it so, after the text.
            text = "\n\n".join(report.presented_text)
            if report.conclusion:
                text += f"\n\nConclusion : {report.conclusion}"
            yield _outcome_rows(
                number,
                raw,
                where,
                text,
                codes,
                source,
                targets,
                partial(fhir_outcome, report, source=source),
                mapping,
            )
        # Other resources (an ImagingStudy, the observations of a report) give context
        # to the records above; they are not rows of their own.


def _outcome_rows(
    line: int,
    raw: dict[str, str | None],
    where: str,
    text: str,
    codes: Sequence[tuple[str, str]],
    source: str,
    targets: Sequence[str],
    build: Callable[..., OutcomeRecord | str],
    mapping: SourceMapping,
) -> list[RowResult]:
    """The outcomes of one final report, one per target it decides; else why there is
    none.

    For the target the source is configured for (``defaults.target``), a report
    whose text never speaks of it gives a ``not_mentioned`` outcome (a pathology
    result: none); a source reading every target records only those the report
    speaks of. A report that is not final (preliminary...) gives none, with its
    status as the reason. ``build(classify, target=...)`` makes the record from the
    report (the format's ``to_outcome_record``).
    """

    def says(outcome: str) -> Callable[[str], str | None]:
        return lambda _text: outcome

    usable = build(says("negative"), target=targets[0] if len(targets) == 1 else None)
    if isinstance(usable, str):  # not final, no link key: nothing to read in the text
        return [RowResult(line, raw, None, f"{where}: {usable}")]
    decisions = decide_outcome(text, codes, source=source, targets=targets, mapping=mapping)
    if not mapping.defaults.get("target"):
        decisions = [d for d in decisions if d.outcome != NOT_MENTIONED]
    if not decisions:
        about = " or ".join(targets)
        return [RowResult(line, raw, None, f"{where}: the {source} states nothing about {about}")]
    rows = []
    for decision in decisions:
        record = build(says(decision.outcome), target=decision.target)
        if isinstance(record, str):
            rows.append(RowResult(line, raw, None, f"{where}: {record}"))
            continue
        record = dataclasses.replace(
            record,
            target=decision.target,
            method=decision.method,
            evidence=decision.evidence or None,
            section=decision.section,
            sentence=decision.sentence,
            qualifiers=decision.qualifiers,
            reading=decision.reading,
        )
        rows.append(RowResult(line, raw, record, None))
    return rows
