"""FHIR R4 reader: DiagnosticReport, Observation and ImagingStudy JSON -> typed items.

:func:`read_fhir` reads the bytes of one JSON resource, of a Bundle of any type
(collection, searchset, transaction, ...) or of NDJSON (FHIR bulk export, one
resource per line) and returns one item per resource, in file order: a
:class:`FhirReport`, :class:`FhirObservation` or :class:`FhirImagingStudy`, or a
:class:`FhirError` naming where the problem is and what to fix. It never raises
on any bytes input: a file that is not UTF-8 or not JSON is one error item.

Validation is done by the models of ``fhir.resources`` 8.3, package ``R4B``: R4B
reads R4 (4.0.1) JSON for the three resources read here. The ``fhir.resources``
6.x line holds strict R4 models but needs pydantic 1, which conflicts with the
project's pydantic 2, hence R4B. Each resource (each Bundle entry, each NDJSON
line) is validated on its own, so one bad entry does not hide the others.

Resolution of references. ``DiagnosticReport.imagingStudy`` and the
``Observation.partOf`` / ``derivedFrom`` references to an ImagingStudy resolve to
a study contained in the resource (``#id``) or read from the same input (same
Bundle or NDJSON file), by ``ImagingStudy/<id>``, by the entry's ``fullUrl``
(``urn:uuid:...`` or absolute URL), or by an absolute URL ending in
``ImagingStudy/<id>``. A logical reference (``Reference.identifier``) with system
``urn:dicom:uid`` gives the study UID, one typed ACSN gives the accession.

Accession number of a report, first found of: the report's own ``identifier``
typed ACSN (``type.coding`` code ``ACSN``, system
``http://terminology.hl7.org/CodeSystem/v2-0203`` or no system); the referenced ImagingStudy
(resolved or logical); a ``basedOn`` ServiceRequest (contained, or the logical
``identifier`` of the reference) whose identifier is typed ACSN, else PLAC
(placer order number, commonly the accession in French RIS).

Date-times: a FHIR dateTime with a time always carries an offset (the models
reject one without: FHIR requires it) and becomes an aware datetime; a date
(``2024-03-01``), year-month or year is the start of that period in the ``tz``
given to :func:`read_fhir`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final, TypeAlias
from zoneinfo import ZoneInfo

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.imagingstudy import ImagingStudy
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from connectors.canonical import OUTCOME_SOURCES, OUTCOMES, OutcomeRecord, PredictionRecord

__all__ = [
    "DICOM_UID_SYSTEM",
    "FINAL_REPORT_STATUSES",
    "V2_0203_SYSTEM",
    "FhirAiMapping",
    "FhirCoding",
    "FhirComponent",
    "FhirError",
    "FhirImagingStudy",
    "FhirItem",
    "FhirObservation",
    "FhirReport",
    "FhirValue",
    "looks_like_fhir",
    "read_fhir",
    "to_outcome_record",
    "to_prediction_record",
]

DICOM_UID_SYSTEM: Final = "urn:dicom:uid"
V2_0203_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
FINAL_REPORT_STATUSES: Final = ("final", "amended", "corrected", "appended")
"""Report statuses whose text is a ground truth (registered/partial/preliminary are not)."""

_AI_STATUSES: Final = ("final", "amended", "corrected", "preliminary")
_EXPECTED: Final = "expected DiagnosticReport, Observation, ImagingStudy or a Bundle of them"
_MAX_ERRORS_SHOWN: Final = 3
_MAX_REASON: Final = 300


@dataclass(frozen=True, slots=True)
class FhirCoding:
    """One Coding: system URI, code and display, each None when absent."""

    system: str | None
    code: str | None
    display: str | None = None


@dataclass(frozen=True, slots=True)
class FhirValue:
    """The value[x] of an Observation or of a component (fields not given are None/empty).

    ``quantity`` is the number of a valueQuantity (``unit`` / ``unit_code`` its
    human unit and UCUM code); ``codings`` and ``text`` come from a
    valueCodeableConcept.
    """

    codings: tuple[FhirCoding, ...] = ()
    text: str | None = None
    quantity: float | None = None
    unit: str | None = None
    unit_code: str | None = None
    boolean: bool | None = None
    string: str | None = None


@dataclass(frozen=True, slots=True)
class FhirComponent:
    """One Observation.component: its code codings and its value."""

    code: tuple[FhirCoding, ...]
    value: FhirValue


@dataclass(frozen=True, slots=True)
class FhirReport:
    """A DiagnosticReport as read.

    ``exam_datetime`` is effectiveDateTime (or effectivePeriod.start),
    ``report_datetime`` is issued. ``report_text`` is the conclusion, then each
    text/plain presentedForm in order, separated by a blank line (None when there
    is neither); ``conclusion`` is also kept alone. ``notes`` say what was skipped
    (e.g. a PDF presentedForm). ``location`` says where in the input it was.
    """

    location: str
    id: str | None
    status: str
    exam_datetime: datetime | None
    report_datetime: datetime | None
    accession_number: str | None
    study_instance_uid: str | None
    category: tuple[FhirCoding, ...]
    code: tuple[FhirCoding, ...]
    conclusion: str | None
    conclusion_codes: tuple[FhirCoding, ...]
    presented_text: tuple[str, ...]
    report_text: str | None
    subject: str | None
    notes: tuple[str, ...] = ()

    @property
    def is_final(self) -> bool:
        """True when the status is final, amended, corrected or appended."""
        return self.status in FINAL_REPORT_STATUSES


@dataclass(frozen=True, slots=True)
class FhirImagingStudy:
    """An ImagingStudy as read.

    ``study_instance_uid`` is the identifier with system ``urn:dicom:uid`` without
    its ``urn:oid:`` prefix; ``modalities`` are the distinct study then series
    modality codes; ``body_sites`` the distinct series body sites.
    """

    location: str
    id: str | None
    status: str
    study_instance_uid: str | None
    accession_number: str | None
    started: datetime | None
    modalities: tuple[str, ...]
    number_of_series: int | None
    number_of_instances: int | None
    body_sites: tuple[FhirCoding, ...]
    subject: str | None


@dataclass(frozen=True, slots=True)
class FhirObservation:
    """An Observation (typically one AI finding) as read.

    ``device`` is the device reference (``Device/<id>``) and ``device_display``
    its display; ``study_reference`` the first partOf/derivedFrom reference to an
    ImagingStudy, ``study_instance_uid`` / ``accession_number`` / ``exam_datetime``
    and ``modalities`` come from that study when it resolves. ``effective`` is effectiveDateTime,
    effectiveInstant or effectivePeriod.start; ``issued`` is issued.
    """

    location: str
    id: str | None
    status: str
    code: tuple[FhirCoding, ...]
    value: FhirValue
    effective: datetime | None
    issued: datetime | None
    device: str | None
    device_display: str | None
    study_reference: str | None
    study_instance_uid: str | None
    accession_number: str | None
    exam_datetime: datetime | None
    modalities: tuple[str, ...]
    derived_from: tuple[str, ...]
    interpretation: tuple[FhirCoding, ...]
    components: tuple[FhirComponent, ...]
    subject: str | None


@dataclass(frozen=True, slots=True)
class FhirError:
    """A resource (or the whole input) that could not be read.

    ``location`` is ``"input"``, ``"line N"`` (NDJSON, 1-based) or ``"entry N"``
    (Bundle, 1-based); ``resource_type`` / ``resource_id`` are given when known.
    """

    location: str
    reason: str
    resource_type: str | None = None
    resource_id: str | None = None


FhirItem: TypeAlias = FhirReport | FhirObservation | FhirImagingStudy | FhirError


def _default_values() -> dict[str, str]:
    return {
        "52101004": "positive",  # SNOMED CT Present
        "2667000": "negative",  # SNOMED CT Absent
        "positive": "positive",
        "negative": "negative",
        "indeterminate": "indeterminate",
    }


@dataclass(frozen=True, slots=True)
class FhirAiMapping:
    """How an AI Observation maps to a :class:`PredictionRecord`.

    ``result_code`` (and ``result_system`` when set) is the Observation.code of the
    AI result. ``values`` maps a value code, valueString or CodeableConcept text
    (case-insensitive) to an ai_result; valueBoolean true/false mean
    positive/negative. ``score_code`` is the component code whose valueQuantity
    is the score: on the device's score scale, or a percentage when its unit is ``%``.
    ``device_id`` / ``device_version`` fixed values win; otherwise they come from
    the device reference display ``"<name> <version>"`` (version: last word,
    starting with a digit or ``v`` + digit), the id defaulting to the reference's
    ``Device/<id>`` id. ``target`` is the target condition, None for the device's.
    """

    result_code: str
    result_system: str | None = None
    values: Mapping[str, str] = field(default_factory=_default_values)
    score_code: str | None = None
    device_id: str | None = None
    device_version: str | None = None
    target: str | None = None


# --- entry points --------------------------------------------------------------


def looks_like_fhir(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) looks like FHIR JSON or NDJSON.

    That is: after an optional BOM and white space it starts with ``{`` and
    ``"resourceType"`` occurs in the first 4 KiB (true of the first line of NDJSON).
    """
    text = head[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()
    return text.startswith(b"{") and b'"resourceType"' in text


def read_fhir(data: bytes, *, tz: ZoneInfo) -> list[FhirItem]:
    """Every resource of a FHIR JSON / Bundle / NDJSON input, parsed or as an error.

    ``tz`` is the timezone of dates without a time (see the module docstring).
    Bundle entries and NDJSON lines keep their order; resources of other types
    and Bundles inside a Bundle or an NDJSON line are error items. Never raises on any
    bytes.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return [FhirError("input", f"not UTF-8 (FHIR JSON must be UTF-8): byte {error.start + 1}")]
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return [FhirError("input", "empty input: expected FHIR JSON or NDJSON")]
    try:
        document = _loads(text)
    except json.JSONDecodeError as error:
        lines = _ndjson_lines(text, error)
        if lines is None:
            return [FhirError("input", _json_reason(error))]
        return _read_resources(lines, tz)
    except RecursionError:
        return [FhirError("input", "invalid JSON: nested too deeply")]
    except _ConstantError as error:
        return [FhirError("input", str(error))]
    if not isinstance(document, dict):
        return [FhirError("input", f"not a FHIR resource: a JSON {_json_kind(document)}")]
    if document.get("resourceType") == "Bundle":
        return _read_bundle(document, tz)
    return _read_resources([("input", None, document)], tz)


# --- JSON layer ----------------------------------------------------------------


class _ConstantError(ValueError):
    """NaN / Infinity: accepted by Python's json, not by JSON (nor FHIR)."""


def _reject_constant(name: str) -> Any:
    raise _ConstantError(f"invalid JSON: {name} is not a JSON number")


MAX_INTEGER_DIGITS = 19
"""Digits of the longest JSON integer kept as a number (FHIR's integer64 has 19)."""


class _HugeInteger(str):
    """A JSON integer too long to be a FHIR number: kept as text of its size, so the
    one resource holding it is refused (not a number) and its bundle read."""

    __slots__ = ()


def _bounded_int(text: str) -> int | str:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        return _HugeInteger(f"<an integer of {digits} digits>")
    return int(text)


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant, parse_int=_bounded_int)


def _json_reason(error: json.JSONDecodeError) -> str:
    return f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


_Raw: TypeAlias = tuple[str, str | None, Any]
"""(location, fullUrl, decoded JSON value or a JSONDecodeError reason string)."""


def _ndjson_lines(text: str, error: json.JSONDecodeError) -> list[_Raw] | None:
    """The lines of NDJSON, or None when the text is one bad JSON document."""
    if error.msg != "Extra data":
        return None
    lines: list[_Raw] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            lines.append((f"line {number}", None, _loads(line)))
        except json.JSONDecodeError as bad:
            lines.append((f"line {number}", None, f"invalid JSON: {bad.msg} at column {bad.colno}"))
        except RecursionError:
            lines.append((f"line {number}", None, "invalid JSON: nested too deeply"))
        except _ConstantError as constant:
            lines.append((f"line {number}", None, str(constant)))
    return lines


def _read_bundle(document: dict[str, Any], tz: ZoneInfo) -> list[FhirItem]:
    entries = document.get("entry", [])
    bundle_id = document.get("id") if isinstance(document.get("id"), str) else None
    if not isinstance(entries, list):
        return [FhirError("input", "Bundle.entry is not a JSON array", "Bundle", bundle_id)]
    envelope = {key: value for key, value in document.items() if key != "entry"}
    envelope["entry"] = [
        {key: value for key, value in entry.items() if key != "resource"}
        if isinstance(entry, dict)
        else entry
        for entry in entries
    ]
    reason = _validate(Bundle, envelope)
    if isinstance(reason, str):
        return [FhirError("input", f"Bundle {reason}", "Bundle", bundle_id)]
    raws: list[_Raw] = []
    for number, entry in enumerate(entries, start=1):
        full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or "resource" not in entry:
            raws.append((f"entry {number}", full_url, "Bundle entry without a resource"))
        else:
            raws.append((f"entry {number}", full_url, entry["resource"]))
    return _read_resources(raws, tz)


# --- validation ----------------------------------------------------------------


def _validate(model: type[Resource], raw: dict[str, Any]) -> Resource | str:
    """The validated model, or the reason it fails (pydantic's message, shortened)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        return "fails validation: " + _short_errors(error)
    except (ValueError, TypeError, RecursionError, AttributeError, KeyError) as error:
        return f"fails validation: {_shorten(str(error))}"


def _short_errors(error: ValidationError) -> str:
    try:
        details = error.errors(include_url=False, include_input=False)
    except Exception:  # some custom fhir errors are not serialisable: fall back to str
        return _shorten(str(error))
    parts = []
    for detail in details[:_MAX_ERRORS_SHOWN]:
        where = ".".join(str(part) for part in detail.get("loc", ())) or "resource"
        message = " ".join(str(detail.get("msg", "")).split())
        parts.append(f"{where}: {message}")
    more = len(details) - _MAX_ERRORS_SHOWN
    if more > 0:
        parts.append(f"and {more} more error{'s' if more > 1 else ''}")
    return _shorten("; ".join(parts))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


_MODELS: Final[dict[str, type[Resource]]] = {
    "DiagnosticReport": DiagnosticReport,
    "Observation": Observation,
    "ImagingStudy": ImagingStudy,
}


def _read_resources(raws: Sequence[_Raw], tz: ZoneInfo) -> list[FhirItem]:
    validated: list[tuple[str, str | None, Resource] | FhirError] = []
    for location, full_url, raw in raws:
        validated.append(_validate_raw(location, full_url, raw))
    studies = _StudyIndex(tz)
    for item in validated:
        if not isinstance(item, FhirError) and isinstance(item[2], ImagingStudy):
            studies.add(item[2], item[1], item[0])
    items: list[FhirItem] = []
    for item in validated:
        if isinstance(item, FhirError):
            items.append(item)
            continue
        location, _, resource = item
        try:
            items.append(_convert(resource, location, studies, tz))
        except Exception as error:  # a model shape not foreseen: an error item, not a crash
            items.append(
                FhirError(
                    location,
                    f"cannot be read: {_shorten(str(error)) or type(error).__name__}",
                    type(resource).__name__,
                    resource.id,
                )
            )
    return items


def _validate_raw(
    location: str, full_url: str | None, raw: Any
) -> tuple[str, str | None, Resource] | FhirError:
    if isinstance(raw, str):  # a reason found while decoding
        return FhirError(location, raw)
    if not isinstance(raw, dict):
        return FhirError(location, f"not a FHIR resource: a JSON {_json_kind(raw)}")
    kind = raw.get("resourceType")
    ident = raw.get("id") if isinstance(raw.get("id"), str) else None
    if not isinstance(kind, str):
        return FhirError(location, f"no resourceType: {_EXPECTED}", None, ident)
    model = _MODELS.get(kind)
    if model is None:
        return FhirError(location, f"{kind} resource is not read: {_EXPECTED}", kind, ident)
    resource = _validate(model, raw)
    if isinstance(resource, str):
        return FhirError(location, f"{kind} {resource}", kind, ident)
    return (location, full_url if isinstance(full_url, str) else None, resource)


# --- conversion ----------------------------------------------------------------


def _convert(
    resource: Resource, location: str, studies: _StudyIndex, tz: ZoneInfo
) -> FhirReport | FhirObservation | FhirImagingStudy:
    if isinstance(resource, DiagnosticReport):
        return _report(resource, location, studies, tz)
    if isinstance(resource, Observation):
        return _observation(resource, location, studies, tz)
    assert isinstance(resource, ImagingStudy)
    return _study(resource, location, tz)


def _datetime(value: datetime | date | str | None, tz: ZoneInfo) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (partial dates: period start)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?", str(value))
    if match is None:
        return None
    month = int(match.group(2) or 1)
    if not 1 <= month <= 12 or int(match.group(1)) < 1:
        return None
    return datetime(int(match.group(1)), month, 1, tzinfo=tz)


def _codings(codings: Iterable[Coding] | None) -> tuple[FhirCoding, ...]:
    return tuple(FhirCoding(c.system, c.code, c.display) for c in codings or ())


def _concepts(concepts: Iterable[CodeableConcept] | None) -> tuple[FhirCoding, ...]:
    return tuple(coding for concept in concepts or () for coding in _codings(concept.coding))


def _is_typed(identifier: Identifier, code: str) -> bool:
    concept = identifier.type
    return concept is not None and any(
        coding.code == code and coding.system in (None, V2_0203_SYSTEM)
        for coding in concept.coding or ()
    )


def _typed_value(identifiers: Iterable[Identifier] | None, *codes: str) -> str | None:
    """The value of the first identifier typed with the first of ``codes`` found."""
    identifiers = [i for i in identifiers or () if i.value]
    for code in codes:
        for identifier in identifiers:
            if _is_typed(identifier, code):
                return identifier.value
    return None


def _study_uid(identifiers: Iterable[Identifier] | None) -> str | None:
    for identifier in identifiers or ():
        if identifier.system == DICOM_UID_SYSTEM and identifier.value:
            return identifier.value.removeprefix("urn:oid:")
    return None


def _study(resource: ImagingStudy, location: str, tz: ZoneInfo) -> FhirImagingStudy:
    modalities = [c.code for c in resource.modality or () if c.code]
    modalities += [s.modality.code for s in resource.series or () if s.modality and s.modality.code]
    sites = [_codings([s.bodySite])[0] for s in resource.series or () if s.bodySite is not None]
    return FhirImagingStudy(
        location=location,
        id=resource.id,
        status=resource.status or "unknown",
        study_instance_uid=_study_uid(resource.identifier),
        accession_number=_typed_value(resource.identifier, "ACSN"),
        started=_datetime(resource.started, tz),
        modalities=tuple(dict.fromkeys(modalities)),
        number_of_series=resource.numberOfSeries,
        number_of_instances=resource.numberOfInstances,
        body_sites=tuple(dict.fromkeys(sites)),
        subject=resource.subject.reference if resource.subject else None,
    )


_STUDY_URL = re.compile(r"(?:^|/)(ImagingStudy/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")


class _StudyIndex:
    """ImagingStudies of one input, found by ``ImagingStudy/<id>`` or by fullUrl."""

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._by_key: dict[str, FhirImagingStudy] = {}

    def add(self, resource: ImagingStudy, full_url: str | None, location: str) -> None:
        study = _study(resource, location, self._tz)
        if full_url:
            self._by_key.setdefault(full_url, study)
        if resource.id:
            self._by_key.setdefault(f"ImagingStudy/{resource.id}", study)

    def resolve(
        self, reference: Reference, contained: Sequence[Resource] | None
    ) -> FhirImagingStudy | None:
        """The study ``reference`` points to, contained or in this input, else None."""
        target = reference.reference
        if not target:
            return None
        if target.startswith("#"):
            for resource in contained or ():
                if isinstance(resource, ImagingStudy) and resource.id == target[1:]:
                    return _study(resource, "contained", self._tz)
            return None
        if target in self._by_key:
            return self._by_key[target]
        match = re.search(
            r"(?:^|/)(ImagingStudy/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$", target
        )
        return self._by_key.get(match.group(1)) if match else None


def _is_study_reference(reference: Reference, study: FhirImagingStudy | None) -> bool:
    if study is not None:
        return True
    target = reference.reference or ""
    return (
        reference.type == "ImagingStudy"
        or "ImagingStudy/" in target
        or _study_uid([reference.identifier] if reference.identifier else None) is not None
    )


@dataclass(frozen=True, slots=True)
class _StudyLink:
    reference: str | None = None
    study_uid: str | None = None
    accession: str | None = None
    started: datetime | None = None
    modalities: tuple[str, ...] = ()


def _link(
    references: Iterable[Reference], contained: Sequence[Resource] | None, studies: _StudyIndex
) -> _StudyLink:
    """Study UID and accession of the first study reference (resolved or logical)."""
    for reference in references:
        study = studies.resolve(reference, contained)
        if not _is_study_reference(reference, study):
            continue
        logical = [reference.identifier] if reference.identifier else None
        return _StudyLink(
            reference=reference.reference or reference.display,
            study_uid=(study.study_instance_uid if study else None) or _study_uid(logical),
            accession=(study.accession_number if study else None) or _typed_value(logical, "ACSN"),
            started=study.started if study else None,
            modalities=study.modalities if study else (),
        )
    return _StudyLink()


def _order_accession(report: DiagnosticReport) -> str | None:
    """Accession from a basedOn ServiceRequest: contained, or the reference's identifier."""
    for reference in report.basedOn or ():
        target = reference.reference or ""
        identifiers: list[Identifier] = [reference.identifier] if reference.identifier else []
        if target.startswith("#"):
            identifiers += [
                identifier
                for resource in report.contained or ()
                if isinstance(resource, ServiceRequest) and resource.id == target[1:]
                for identifier in resource.identifier or ()
            ]
        found = _typed_value(identifiers, "ACSN", "PLAC")
        if found:
            return found
    return None


_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([A-Za-z0-9_\-.:]+)\"?", re.IGNORECASE)


def _presented_text(report: DiagnosticReport) -> tuple[tuple[str, ...], tuple[str, ...]]:
    texts: list[str] = []
    notes: list[str] = []
    for number, attachment in enumerate(report.presentedForm or (), start=1):
        content_type = attachment.contentType or ""
        if content_type.split(";")[0].strip().lower() != "text/plain":
            notes.append(
                f"presentedForm {number} ({content_type or 'no contentType'}) ignored:"
                " only text/plain is read"
            )
            continue
        if attachment.data is None:
            notes.append(f"presentedForm {number} has no inline data (url not fetched)")
            continue
        match = _CHARSET.search(content_type)
        charset = match.group(1) if match else "utf-8"
        raw = attachment.data
        if isinstance(raw, str):  # defensive: the model gives decoded bytes
            try:
                raw = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                notes.append(f"presentedForm {number} data is not base64")
                continue
        try:
            text = raw.decode(charset)
        except (LookupError, UnicodeDecodeError) as error:
            notes.append(f"presentedForm {number} is not {charset} text: {error}")
            continue
        if text.strip():
            texts.append(text.strip())
    return tuple(texts), tuple(notes)


def _report(
    report: DiagnosticReport, location: str, studies: _StudyIndex, tz: ZoneInfo
) -> FhirReport:
    link = _link(report.imagingStudy or (), report.contained, studies)
    presented, notes = _presented_text(report)
    conclusion = report.conclusion.strip() if report.conclusion else None
    parts = [part for part in (conclusion, *presented) if part]
    effective = report.effectiveDateTime
    if effective is None and report.effectivePeriod is not None:
        effective = report.effectivePeriod.start
    return FhirReport(
        location=location,
        id=report.id,
        status=report.status or "unknown",
        exam_datetime=_datetime(effective, tz),
        report_datetime=_datetime(report.issued, tz),
        accession_number=_typed_value(report.identifier, "ACSN")
        or link.accession
        or _order_accession(report),
        study_instance_uid=link.study_uid,
        category=_concepts(report.category),
        code=_concepts([report.code]),
        conclusion=conclusion or None,
        conclusion_codes=_concepts(report.conclusionCode),
        presented_text=presented,
        report_text="\n\n".join(parts) if parts else None,
        subject=report.subject.reference if report.subject else None,
        notes=notes,
    )


def _value(source: Observation | ObservationComponent) -> FhirValue:
    concept = source.valueCodeableConcept
    quantity = source.valueQuantity
    number = quantity.value if quantity is not None else None
    return FhirValue(
        codings=_codings(concept.coding) if concept else (),
        text=concept.text if concept else None,
        quantity=float(number) if isinstance(number, (int, float, Decimal)) else None,
        unit=quantity.unit if quantity else None,
        unit_code=quantity.code if quantity else None,
        boolean=source.valueBoolean,
        string=source.valueString,
    )


def _observation(
    obs: Observation, location: str, studies: _StudyIndex, tz: ZoneInfo
) -> FhirObservation:
    link = _link([*(obs.partOf or ()), *(obs.derivedFrom or ())], obs.contained, studies)
    effective: Any = obs.effectiveDateTime or obs.effectiveInstant
    if effective is None and obs.effectivePeriod is not None:
        effective = obs.effectivePeriod.start
    return FhirObservation(
        location=location,
        id=obs.id,
        status=obs.status or "unknown",
        code=_concepts([obs.code]),
        value=_value(obs),
        effective=_datetime(effective, tz),
        issued=_datetime(obs.issued, tz),
        device=obs.device.reference if obs.device else None,
        device_display=obs.device.display if obs.device else None,
        study_reference=link.reference,
        study_instance_uid=link.study_uid,
        accession_number=link.accession,
        exam_datetime=link.started,
        modalities=link.modalities,
        derived_from=tuple(r.reference for r in obs.derivedFrom or () if r.reference),
        interpretation=_concepts(obs.interpretation),
        components=tuple(
            FhirComponent(_concepts([c.code]), _value(c)) for c in obs.component or ()
        ),
        subject=obs.subject.reference if obs.subject else None,
    )


# --- canonical records ---------------------------------------------------------


def to_outcome_record(
    report: FhirReport,
    classify: Callable[[str], str | None],
    *,
    source: str = "report",
    target: str | None = None,
) -> OutcomeRecord | str:
    """The report as an :class:`OutcomeRecord`, or the reason it cannot be one.

    ``classify`` turns the report text into an outcome (positive / negative /
    indeterminate) or None when the text does not say; a report with coded
    conclusions but no text gets ``""`` (its caller classifies the codes). A report
    with neither text nor codes has nothing to classify. The outcome date-time is
    issued, else the exam date-time. Raises ValueError for a ``source`` not in
    OUTCOME_SOURCES or a ``classify`` result not in OUTCOMES (caller bugs, not
    data problems).
    """
    if source not in OUTCOME_SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(OUTCOME_SOURCES)}")
    name = f"DiagnosticReport {report.id or '(no id)'}"
    if not report.is_final:
        return f"{name} status is {report.status!r}: only final, amended, corrected or appended"
    if not report.accession_number and not report.study_instance_uid:
        return (
            f"{name} has no accession number nor study UID"
            " (add an ACSN identifier or an imagingStudy reference)"
        )
    when = report.report_datetime or report.exam_datetime
    if when is None:
        return f"{name} has neither issued nor effectiveDateTime"
    if report.report_text is None and not report.conclusion_codes:
        return f"{name} has no text to classify (no conclusion nor text/plain presentedForm)"
    # A coded conclusion alone (pathology) is classified by the caller from its codes.
    outcome = classify(report.report_text or "")
    if outcome is None:
        return f"{name} text does not state an outcome"
    if outcome not in OUTCOMES:
        raise ValueError(f"classify returned {outcome!r}, not one of {', '.join(OUTCOMES)}")
    return OutcomeRecord(
        outcome=outcome,
        source=source,
        outcome_datetime=when,
        accession_number=report.accession_number,
        study_instance_uid=report.study_instance_uid,
        target=target,
        report_text=report.report_text,
    )


_VERSION = re.compile(r"(?:v|V)?\d[\w.\-+]*")


def _matches(codings: Iterable[FhirCoding], code: str, system: str | None) -> bool:
    return any(c.code == code and (system is None or c.system == system) for c in codings)


def _ai_result(value: FhirValue, values: Mapping[str, str]) -> str | None:
    table = {key.lower(): result for key, result in values.items()}
    keys = [c.code for c in value.codings] + [value.text, value.string]
    for key in keys:
        if key is not None and key.strip().lower() in table:
            return table[key.strip().lower()]
    if value.boolean is not None:
        return "positive" if value.boolean else "negative"
    return None


def _score(obs: FhirObservation, code: str) -> tuple[float, str | None] | str | None:
    """(score, its scale: ``unit`` when the unit ``%`` made it 0..1, None when the
    device's scale applies), the reason it cannot be read, or None without a score."""
    for component in obs.components:
        if not _matches(component.code, code, None):
            continue
        value = component.value
        if value.quantity is None:
            return f"component {code} has no valueQuantity"
        if not math.isfinite(value.quantity):
            return f"component {code} score {value.quantity!r} is not a finite number"
        if "%" not in (value.unit, value.unit_code):
            return value.quantity, None
        if not 0.0 <= value.quantity <= 100.0:
            return f"component {code} score {value.quantity:g} % is outside 0..100"
        return value.quantity / 100, "unit"
    return None


def _device(obs: FhirObservation, mapping: FhirAiMapping) -> tuple[str | None, str | None]:
    words = (obs.device_display or "").split()
    version = words[-1] if len(words) > 1 and _VERSION.fullmatch(words[-1]) else None
    name = " ".join(words[:-1] if version else words) or None
    if name is None and obs.device:
        name = obs.device.rsplit("/", 1)[-1] or None
    return mapping.device_id or name, mapping.device_version or version


def to_prediction_record(obs: FhirObservation, mapping: FhirAiMapping) -> PredictionRecord | str:
    """The AI Observation as a :class:`PredictionRecord`, or the reason it cannot be one.

    Statuses final, amended, corrected and preliminary are read. The exam
    date-time is the linked ImagingStudy's ``started``, else the Observation's
    effective; ai_datetime is issued, else effective. The modality is set when
    the study has exactly one. A score in a separate Observation is not joined.
    """
    name = f"Observation {obs.id or '(no id)'}"
    if obs.status not in _AI_STATUSES:
        return f"{name} status is {obs.status!r}: only {', '.join(_AI_STATUSES)}"
    if not _matches(obs.code, mapping.result_code, mapping.result_system):
        codes = ", ".join(c.code or "?" for c in obs.code) or "none"
        return f"{name} code ({codes}) is not the AI result code {mapping.result_code}"
    result = _ai_result(obs.value, mapping.values)
    if result is None:
        return f"{name} value is not mapped to an ai_result (add it to the mapping's values)"
    if not obs.accession_number and not obs.study_instance_uid:
        return f"{name} has no accession number nor study UID (set partOf to an ImagingStudy)"
    exam = obs.exam_datetime or obs.effective
    if exam is None:
        return f"{name} has no exam date-time (no study started, no effective)"
    score = _score(obs, mapping.score_code) if mapping.score_code else None
    if isinstance(score, str):
        return f"{name} {score}"
    value, scale = score if score is not None else (None, None)
    device_id, device_version = _device(obs, mapping)
    if not device_id or not device_version:
        return (
            f"{name} device id or version unknown: set device.display to"
            " '<name> <version>' or fix them in the mapping"
        )
    return PredictionRecord(
        device_id=device_id,
        device_version=device_version,
        exam_datetime=exam,
        ai_result=result,
        accession_number=obs.accession_number,
        study_instance_uid=obs.study_instance_uid,
        modality=obs.modalities[0] if len(obs.modalities) == 1 else None,
        target=mapping.target,
        ai_score=value,
        ai_datetime=obs.issued or obs.effective,
        ai_score_scale=scale,
    )
