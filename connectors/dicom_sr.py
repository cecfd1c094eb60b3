"""DICOM Structured Reports of AI results -> :class:`SrAiResult` -> canonical predictions.

An AI device that follows IHE AI Results (AIR) writes its output as a DICOM SR with
the TID 1500 *Imaging Measurement Report* template (in an Enhanced, Comprehensive,
Comprehensive 3D or Extensible SR). :func:`read_dicom_sr` reads one such SR, given as
the bytes of a Part 10 file (with or without the 128-byte preamble) or of DICOM JSON
(one dataset object, or a one-element list), into a frozen :class:`SrAiResult`:
identifiers, exam date-time, the SR's equipment, the algorithm and device observer
that produced it, and one :class:`SrFinding` per TID 1501 measurement group that has
a Finding (DCM 121071). :func:`to_prediction_records` turns it into one
:class:`~connectors.canonical.PredictionRecord` per target condition.

What is read, and where:

- Algorithm: Algorithm Name (DCM 111001), Algorithm Version (DCM 111003) and Algorithm
  Family (DCM 111000), anywhere in the content tree (TID 4019 may sit under the
  measurements themselves, as in the HL7 example). An SR naming two different
  algorithms is rejected rather than attributed to one of them.
- Device observer (TID 1004): Device Observer UID / Name / Manufacturer / Model Name
  (DCM 121012 / 121013 / 121014 / 121015), the first of each in the tree.
- Per finding group: Finding (DCM 121071) coded value; presence from Presence of
  property (DCM 121052) valued Present (SCT 52101004, DCM 121053, Yes SCT 373066001),
  Absent (SCT 2667000, SCT 272519000, DCM 121054, No SCT 373067005) or Presence
  Undetermined (DCM 121059); probability from a NUM Probability (DCM 122157) or
  Probability of cancer (DCM 111047), unit ``%`` divided by 100, unit ``1`` /
  ``{ratio}`` / none kept, anything else or a result outside 0..1 rejected; Finding
  Site (SCT 363698007, legacy SRT G-C0E3); Tracking Identifier (DCM 112039) and
  Tracking Unique Identifier (DCM 112040).
- Exam date-time: StudyDate + StudyTime; when either is missing, ContentDate +
  ContentTime (the SR's creation, later than the exam: ``exam_datetime_source``
  says which). Naive values are in the ``tz`` given, unless the SR has a Timezone
  Offset From UTC (0008,0201), which wins. ContentDate/Time is also ``ai_datetime``.
- Patient: PatientID (raw; pseudonymised later by ``monitor.ingest``), PatientAge
  (``nnnD/W/M/Y`` -> years), PatientSex; BodyPartExamined of the SR; modality of the
  source images from the Image Library (DCM 121139), never the SR's own ``SR``.

What is rejected (an :class:`SrError` with the reason, never a misreading): bytes that
are neither a DICOM file nor DICOM JSON, a truncated file, a non-SR SOP class, an SR
class that cannot carry TID 1500, an SR whose root is not an Imaging Measurement
Report (DCM 126000, TID 1500), one without any finding group, and one with neither an
algorithm name nor a device observer: such an SR was written by a person (the dcmqi
example is a radiologist's measurement) and is not an AI result.

Not read: TID 1500 "Qualitative Evaluations" outside measurement groups, Mammography /
Chest CAD SR (TID 4000 / 4100), and the source images' manufacturer and model (an SR
references images by UID only; the SR's own Manufacturer is the AI vendor's).
"""

from __future__ import annotations

import io
import json
import re
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

import pydicom
from pydicom.dataset import Dataset
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.sr.coding import Code
from pydicom.uid import UID

from connectors.canonical import PATIENT_SEXES, PredictionRecord
from connectors.limits import ReadLimits

__all__ = [
    "DEFAULT_TARGETS",
    "CodedValue",
    "DeviceResolver",
    "SrAiResult",
    "SrError",
    "SrFinding",
    "looks_like_dicom",
    "read_dicom_sr",
    "to_prediction_records",
]


@dataclass(frozen=True, slots=True)
class CodedValue:
    """A coded concept as written in the SR (legacy ``SRT`` codes are kept as written)."""

    scheme: str
    value: str
    meaning: str

    def __str__(self) -> str:
        return f"{self.scheme} {self.value} {self.meaning}".rstrip()


@dataclass(frozen=True, slots=True)
class SrFinding:
    """One finding group (TID 1501) of the SR.

    ``presence`` is ``present``, ``absent``, ``undetermined``, or ``unspecified`` when
    the group has no Presence item (see :func:`to_prediction_records` for how it
    counts). ``probability`` is in 0..1, None when the group gives none.
    """

    finding: CodedValue
    presence: str
    probability: float | None = None
    finding_site: CodedValue | None = None
    tracking_id: str | None = None
    tracking_uid: str | None = None


@dataclass(frozen=True, slots=True)
class SrAiResult:
    """What one AI result SR says, as read; ``name`` is where it came from (for messages).

    ``patient_age`` is in years; ``exam_datetime`` and ``ai_datetime`` are aware;
    ``exam_datetime_source`` is ``study`` or ``content`` (see the module docstring).
    """

    name: str
    sop_instance_uid: str
    sop_class: str
    study_instance_uid: str | None
    accession_number: str | None
    patient_id: str | None
    exam_datetime: datetime
    exam_datetime_source: str
    ai_datetime: datetime | None
    manufacturer: str | None
    model_name: str | None
    software_versions: tuple[str, ...]
    algorithm_name: str | None
    algorithm_version: str | None
    algorithm_family: CodedValue | None
    device_observer_uid: str | None
    device_observer_name: str | None
    device_observer_manufacturer: str | None
    device_observer_model_name: str | None
    body_part: str | None
    modality: str | None
    patient_age: float | None
    patient_sex: str | None
    findings: tuple[SrFinding, ...]


@dataclass(frozen=True, slots=True)
class SrError:
    """Why some bytes are not read as an AI result SR; ``str()`` gives ``name: reason``."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}" if self.name else self.reason


DeviceResolver = Callable[
    [str | None, str | None, str | None, str | None, tuple[str, ...]],
    tuple[str, str] | None,
]
"""(manufacturer, model, algorithm name, algorithm version, software versions) ->
(device_id, device_version), or None when the registry has no such device."""

DEFAULT_TARGETS: Final[Mapping[tuple[str, str], str]] = {
    ("SCT", "125605004"): "fracture",  # Fracture of bone
    ("SCT", "72704001"): "fracture",  # Fracture
    ("SCT", "27925004"): "lung_nodule",  # Nodule
    ("SCT", "427359005"): "lung_nodule",  # Solitary nodule of lung
    ("SCT", "786838002"): "lung_nodule",  # Pulmonary nodule
}
"""Finding code (scheme, value) -> target condition, used when no map is given."""

_SR_PREFIX: Final = "1.2.840.10008.5.1.4.1.1.88."
_TID1500_CLASSES: Final = frozenset(
    _SR_PREFIX + suffix for suffix in ("22", "33", "34", "35")
)  # Enhanced, Comprehensive, Comprehensive 3D, Extensible SR

_MEASUREMENT_REPORT = Code("126000", "DCM", "Imaging Measurement Report")
_MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
_FINDING = Code("121071", "DCM", "Finding")
_PRESENCE = Code("121052", "DCM", "Presence of property")
_PROBABILITIES = (
    Code("122157", "DCM", "Probability"),
    Code("111047", "DCM", "Probability of cancer"),
)
_FINDING_SITE = Code("363698007", "SCT", "Finding Site")
_TRACKING_ID = Code("112039", "DCM", "Tracking Identifier")
_TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
_ALGORITHM_NAME = Code("111001", "DCM", "Algorithm Name")
_ALGORITHM_VERSION = Code("111003", "DCM", "Algorithm Version")
_ALGORITHM_FAMILY = Code("111000", "DCM", "Algorithm Family")
_OBSERVER_UID = Code("121012", "DCM", "Device Observer UID")
_OBSERVER_NAME = Code("121013", "DCM", "Device Observer Name")
_OBSERVER_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
_OBSERVER_MODEL = Code("121015", "DCM", "Device Observer Model Name")
_MODALITY = Code("121139", "DCM", "Modality")

# Presence values (CID 240 Present/Absent, its DCM synonyms, CID 230 Yes/No); legacy
# SRT spellings match through pydicom's SNOMED mapping.
_PRESENCE_VALUES: Final = (
    ("present", Code("52101004", "SCT", "Present")),
    ("present", Code("121053", "DCM", "Present")),
    ("present", Code("373066001", "SCT", "Yes")),
    ("absent", Code("2667000", "SCT", "Absent")),
    ("absent", Code("272519000", "SCT", "Absence findings")),
    ("absent", Code("121054", "DCM", "Absent")),
    ("absent", Code("373067005", "SCT", "No")),
    ("undetermined", Code("121059", "DCM", "Presence Undetermined")),
)

_AGE = re.compile(r"(\d{3})([DWMY])")
_AGE_YEARS: Final = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TIME = re.compile(r"(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?")
_OFFSET = re.compile(r"([+-])(\d{2})(\d{2})")


class _Reject(Exception):
    """Internal: the SR is not read; the message is the reason."""


def looks_like_dicom(head: bytes) -> bool:
    """Whether the first bytes of a file look like DICOM: ``DICM`` at offset 128, or
    DICOM JSON (starts with ``{`` or ``[`` and has the SOP Class UID key ``"00080016"``).
    A preamble-less Part 10 file is not recognised here (read it with :func:`read_dicom_sr`).
    """
    if head[128:132] == b"DICM":
        return True
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped[:1] in (b"{", b"[") and b'"00080016"' in head


MAX_INFLATED_BYTES = ReadLimits().max_inflated_bytes
"""Largest dataset a deflated SR (transfer syntax 1.2.840.10008.1.2.1.99) may inflate
to by default (``ingest.max_inflated_bytes``). An AI result SR is kilobytes; pydicom
inflates the whole dataset at once, so a 1 MB deflated file of zeros took the server
from 1.5 to 3.5 GB."""


def read_dicom_sr(
    data: bytes, *, tz: ZoneInfo, name: str = "", max_inflated: int = MAX_INFLATED_BYTES
) -> SrAiResult | SrError:
    """Read one AI result SR from Part 10 or DICOM JSON bytes; never raises.

    ``tz`` is the timezone of naive date-times (see the module docstring); ``name``
    (e.g. the file name) is carried into the result and errors; ``max_inflated``: the
    largest dataset a deflated file may inflate to (``ingest.max_inflated_bytes``).
    """
    try:
        with warnings.catch_warnings():
            # pydicom warns about values it accepts anyway (e.g. a 66-character UID).
            warnings.simplefilter("ignore")
            dataset = _decode(data, max_inflated)
            return _read(dataset, tz=tz, name=name)
    except _Reject as reject:
        return SrError(name, str(reject))
    except RecursionError:
        return SrError(name, "SR content nested too deeply to read")
    except Exception as exc:  # any bytes: a malformed dataset may fail anywhere in pydicom
        return SrError(name, f"malformed DICOM dataset: {type(exc).__name__}: {exc}")


def to_prediction_records(
    result: SrAiResult,
    *,
    resolve_device: DeviceResolver,
    targets: Mapping[tuple[str, str], str] = DEFAULT_TARGETS,
    site: str | None = None,
) -> list[PredictionRecord] | str:
    """One prediction per target condition found in ``result``, or the reason there is none.

    ``targets`` maps a Finding code (scheme, value) to a target name (legacy SRT codes
    match their SCT equivalents). Per target: ``positive`` when any of its findings is
    present, or has no Presence item at all (an AI that lists a finding without saying
    it is absent reports it); ``negative`` when all are absent; otherwise (undetermined
    among absent ones) ``indeterminate``. ``ai_score`` is the highest probability among
    the target's findings (0..1), None when none gives one. The device is resolved with
    the device observer's manufacturer and model when the SR has them, else the SR's
    Manufacturer and ManufacturerModelName; an unknown device, or an SR without any
    finding of a known target, gives a reason string naming what was found.
    """
    manufacturer = result.device_observer_manufacturer or result.manufacturer
    model = result.device_observer_model_name or result.model_name
    device = resolve_device(
        manufacturer,
        model,
        result.algorithm_name,
        result.algorithm_version,
        result.software_versions,
    )
    if device is None:
        return (
            f"no device in the registry for manufacturer {manufacturer!r}, model {model!r}, "
            f"algorithm {result.algorithm_name!r} version {result.algorithm_version!r}, "
            f"software versions {list(result.software_versions)!r}: add it to the registry"
        )
    device_id, device_version = device
    by_target: dict[str, list[SrFinding]] = {}
    for finding in result.findings:
        target = _target_of(finding.finding, targets)
        if target is not None:
            by_target.setdefault(target, []).append(finding)
    if not by_target:
        found = "; ".join(sorted({str(finding.finding) for finding in result.findings}))
        known = ", ".join(sorted(set(targets.values()))) or "none"
        return f"no finding of a known target condition (found: {found}; known targets: {known})"
    records = []
    for target, findings in by_target.items():
        presences = {finding.presence for finding in findings}
        if presences & {"present", "unspecified"}:
            ai_result = "positive"
        elif presences == {"absent"}:
            ai_result = "negative"
        else:
            ai_result = "indeterminate"
        scores = [f.probability for f in findings if f.probability is not None]
        records.append(
            PredictionRecord(
                device_id=device_id,
                device_version=device_version,
                exam_datetime=result.exam_datetime,
                ai_result=ai_result,
                accession_number=result.accession_number,
                study_instance_uid=result.study_instance_uid,
                patient_id=result.patient_id,
                site=site,
                modality=result.modality,
                body_part=result.body_part,
                patient_age=result.patient_age,
                patient_sex=result.patient_sex,
                target=target,
                ai_score=max(scores) if scores else None,
                ai_datetime=result.ai_datetime,
                ai_score_scale="unit" if scores else None,  # the SR's units made it 0..1
            )
        )
    return records


# -- decoding ---------------------------------------------------------------------------


class _ReadWatch(io.BytesIO):
    """Counts short reads: pydicom reads a cut element value without complaint."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.partial_reads = 0
        self.empty_reads = 0

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        if size is not None and size > len(chunk):
            if chunk:
                self.partial_reads += 1
            else:
                self.empty_reads += 1
        return chunk


_DEFLATED = b"1.2.840.10008.1.2.1.99"


def _check_inflation(data: bytes, limit: int) -> None:
    """Raise :class:`_Reject` if ``data`` (a Part 10 file with its preamble) is deflated
    and inflates to more than ``limit`` bytes: inflated piece by piece, kept nowhere."""
    if data[128:132] != b"DICM" or _DEFLATED not in data[132 : 132 + 4096]:
        return
    source = io.BytesIO(data)
    try:
        read_preamble(source, False)
        _read_file_meta_info(source)
    except Exception:  # a broken header: dcmread says what is wrong with it
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending = data[source.tell() :]
    total = 0
    while True:
        try:
            out = inflater.decompress(pending, 1 << 20)
        except zlib.error:
            return  # not deflate data: dcmread says so
        total += len(out)
        if total > limit:
            raise _Reject(
                f"the deflated dataset inflates to more than {limit // (1 << 20)} MiB "
                "(ingest.max_inflated_bytes; an AI result SR is a few kilobytes): refused "
                "as a decompression bomb"
            )
        pending = inflater.unconsumed_tail
        if inflater.eof or not (out or pending):
            return


def _decode(data: bytes, max_inflated: int = MAX_INFLATED_BYTES) -> Dataset:
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return _from_json(data)
    if data[:4] == b"DICM":  # a Part 10 file whose 128-byte preamble was stripped
        data = bytes(128) + data
    _check_inflation(data, max_inflated)
    source = _ReadWatch(data)
    try:
        dataset = pydicom.dcmread(source, force=True)
    except Exception as exc:
        raise _Reject(f"truncated or not a DICOM file: {type(exc).__name__}: {exc}") from exc
    # A complete file ends with exactly one empty read (looking for a next element);
    # a cut value, or an end of data inside a sequence, shows as more.
    if source.partial_reads or source.empty_reads > 1:
        raise _Reject(
            f"truncated or not a DICOM file: the data ends inside an element "
            f"({len(data)} bytes read)"
        )
    if "SOPClassUID" not in dataset:
        raise _Reject("truncated or not a DICOM file: no SOP Class UID (0008,0016) could be read")
    return dataset


def _from_json(data: bytes) -> Dataset:
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Reject(f"not valid DICOM JSON: {exc}") from exc
    if isinstance(parsed, list):
        if len(parsed) != 1:
            raise _Reject(f"DICOM JSON holds {len(parsed)} datasets; give one SR per file")
        parsed = parsed[0]
    if not isinstance(parsed, dict):
        raise _Reject("not valid DICOM JSON: the top level is not a dataset object")
    try:
        return Dataset.from_json(_normalise_json(parsed))
    except Exception as exc:
        raise _Reject(f"not valid DICOM JSON: {type(exc).__name__}: {exc}") from exc


def _normalise_json(node: Any) -> Any:
    """Wrap a bare scalar ``"Value"`` in a list (some exporters write ``"Value": "ACC1"``)."""
    if isinstance(node, list):
        return [_normalise_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    fixed = {key: _normalise_json(value) for key, value in node.items()}
    if "vr" in fixed and "Value" in fixed and not isinstance(fixed["Value"], list):
        fixed["Value"] = [fixed["Value"]]
    return fixed


# -- reading ----------------------------------------------------------------------------


def _read(dataset: Dataset, *, tz: ZoneInfo, name: str) -> SrAiResult:
    sop_class = _text(dataset, "SOPClassUID")
    if sop_class is None:
        raise _Reject("no SOP Class UID (0008,0016): not a DICOM object")
    class_name = UID(sop_class).name
    if not sop_class.startswith(_SR_PREFIX):
        raise _Reject(f"SOP class {class_name} is not a Structured Report")
    if sop_class not in _TID1500_CLASSES:
        raise _Reject(
            f"SOP class {class_name} cannot hold a TID 1500 measurement report "
            "(Enhanced, Comprehensive, Comprehensive 3D or Extensible SR expected)"
        )
    root = _concept(dataset, "ConceptNameCodeSequence")
    templates = [
        _text(item, "TemplateIdentifier") for item in _sequence(dataset, "ContentTemplateSequence")
    ]
    if not (_is(root, _MEASUREMENT_REPORT) or "1500" in templates):
        raise _Reject(
            f"the SR is not a TID 1500 Imaging Measurement Report (root concept "
            f"{root or 'missing'}, template {', '.join(t or '?' for t in templates) or 'none'})"
        )
    if "ContentSequence" not in dataset:
        raise _Reject("the SR has no content (Content Sequence missing)")
    findings = tuple(_findings(dataset))
    if not findings:
        raise _Reject(
            "no measurement or qualitative findings (no measurement group with a "
            "Finding, DCM 121071)"
        )
    algorithm_name, algorithm_version = _algorithm(dataset)
    family_item = _first(dataset, _ALGORITHM_FAMILY, "CODE")
    observer = {
        key: _first_value(dataset, code, value_type)
        for key, code, value_type in (
            ("uid", _OBSERVER_UID, "UIDREF"),
            ("name", _OBSERVER_NAME, "TEXT"),
            ("manufacturer", _OBSERVER_MANUFACTURER, "TEXT"),
            ("model", _OBSERVER_MODEL, "TEXT"),
        )
    }
    if algorithm_name is None and not any(observer.values()):
        raise _Reject(
            "no algorithm identification (Algorithm Name 111001) nor device observer: "
            "not an AI result"
        )
    exam, source = _exam_datetime(dataset, tz)
    modality_item = _first(dataset, _MODALITY, "CODE")
    modality = _concept(modality_item, "ConceptCodeSequence") if modality_item else None
    return SrAiResult(
        name=name,
        sop_instance_uid=_required(dataset, "SOPInstanceUID"),
        sop_class=class_name,
        study_instance_uid=_text(dataset, "StudyInstanceUID"),
        accession_number=_text(dataset, "AccessionNumber"),
        patient_id=_text(dataset, "PatientID"),
        exam_datetime=exam,
        exam_datetime_source=source,
        ai_datetime=_datetime(dataset, "ContentDate", "ContentTime", tz),
        manufacturer=_text(dataset, "Manufacturer"),
        model_name=_text(dataset, "ManufacturerModelName"),
        software_versions=_texts(dataset, "SoftwareVersions"),
        algorithm_name=algorithm_name,
        algorithm_version=algorithm_version,
        algorithm_family=_concept(family_item, "ConceptCodeSequence") if family_item else None,
        device_observer_uid=observer["uid"],
        device_observer_name=observer["name"],
        device_observer_manufacturer=observer["manufacturer"],
        device_observer_model_name=observer["model"],
        body_part=_text(dataset, "BodyPartExamined"),
        modality=modality.value if modality else None,
        patient_age=_age(_text(dataset, "PatientAge")),
        patient_sex=_sex(_text(dataset, "PatientSex")),
        findings=findings,
    )


def _findings(dataset: Dataset) -> Iterable[SrFinding]:
    groups = _find(dataset, name=_MEASUREMENT_GROUP, value_type="CONTAINER", recursive=True)
    for index, group in enumerate(groups, start=1):
        if "ContentSequence" not in group:
            continue
        finding_item = _first(group, _FINDING, "CODE", recursive=False)
        if finding_item is None:
            continue  # a group of measurements without a finding (e.g. image statistics)
        finding = _concept(finding_item, "ConceptCodeSequence")
        if finding is None:
            raise _Reject(f"measurement group {index}: Finding (DCM 121071) has no coded value")
        site_item = _first(group, _FINDING_SITE, "CODE")
        yield SrFinding(
            finding=finding,
            presence=_presence(group, index),
            probability=_probability(group, index),
            finding_site=_concept(site_item, "ConceptCodeSequence") if site_item else None,
            tracking_id=_first_value(group, _TRACKING_ID, "TEXT", recursive=False),
            tracking_uid=_first_value(group, _TRACKING_UID, "UIDREF", recursive=False),
        )


def _presence(group: Dataset, index: int) -> str:
    item = _first(group, _PRESENCE, "CODE")
    if item is None:
        return "unspecified"
    value = _concept(item, "ConceptCodeSequence")
    for presence, code in _PRESENCE_VALUES:
        if _is(value, code):
            return presence
    raise _Reject(
        f"measurement group {index}: Presence (DCM 121052) value {value or 'missing'} is "
        "none of Present (SCT 52101004), Absent (SCT 2667000) or Undetermined (DCM 121059)"
    )


def _probability(group: Dataset, index: int) -> float | None:
    values = []
    for code in _PROBABILITIES:
        for item in _find(group, name=code, value_type="NUM", recursive=True):
            measured = _sequence(item, "MeasuredValueSequence")
            if not measured:
                continue
            number = float(measured[0].NumericValue)
            units = _concept(measured[0], "MeasurementUnitsCodeSequence")
            unit = units.value if units else "1"
            if unit == "%":
                number /= 100
            elif unit not in ("1", "{ratio}"):
                raise _Reject(
                    f"measurement group {index}: {code.meaning} in unit {unit!r}; "
                    "expected '%', '1' or '{ratio}'"
                )
            if not 0.0 <= number <= 1.0:
                raise _Reject(f"measurement group {index}: {code.meaning} {number} is not in 0..1")
            values.append(number)
    return max(values) if values else None


def _algorithm(dataset: Dataset) -> tuple[str | None, str | None]:
    """The one (name, version) of the SR's algorithm; versions are paired by parent item."""
    pairs: set[tuple[str, str | None]] = set()
    for parent in [dataset, *_all_items(dataset)]:
        if "ContentSequence" not in parent:
            continue
        name = _first_value(parent, _ALGORITHM_NAME, "TEXT", recursive=False)
        if name is not None:
            pairs.add((name, _first_value(parent, _ALGORITHM_VERSION, "TEXT", recursive=False)))
    if len(pairs) > 1:
        listed = ", ".join(f"{n} {v or '(no version)'}" for n, v in sorted(pairs, key=str))
        raise _Reject(f"several algorithms in one SR ({listed}): split it per algorithm")
    if pairs:
        return next(iter(pairs))
    return None, None


def _all_items(dataset: Dataset) -> list[Dataset]:
    return _find(dataset, recursive=True)


# -- content item helpers ---------------------------------------------------------------


def _find(
    node: Dataset,
    name: Code | None = None,
    value_type: str | None = None,
    recursive: bool = False,
) -> list[Dataset]:
    """Content items under ``node`` with that concept name and value type.

    Like ``highdicom.sr.utils.find_content_items``, which however fails on items
    without a concept name (TID 1601 image library entries legally have none).
    """
    found = []
    for item in _sequence(node, "ContentSequence"):
        if (value_type is None or item.get("ValueType") == value_type) and (
            name is None or _is(_concept(item, "ConceptNameCodeSequence"), name)
        ):
            found.append(item)
        if recursive:
            found.extend(_find(item, name, value_type, recursive=True))
    return found


def _first(
    dataset: Dataset, code: Code, value_type: str, *, recursive: bool = True
) -> Dataset | None:
    items = _find(dataset, name=code, value_type=value_type, recursive=recursive)
    return items[0] if items else None


def _first_value(
    dataset: Dataset, code: Code, value_type: str, *, recursive: bool = True
) -> str | None:
    item = _first(dataset, code, value_type, recursive=recursive)
    if item is None:
        return None
    keyword = {"TEXT": "TextValue", "UIDREF": "UID"}[value_type]
    return _text(item, keyword)


def _is(concept: CodedValue | None, code: Code) -> bool:
    if concept is None:
        return False
    return bool(Code(concept.value, concept.scheme, concept.meaning) == code)


def _target_of(finding: CodedValue, targets: Mapping[tuple[str, str], str]) -> str | None:
    exact = targets.get((finding.scheme, finding.value))
    if exact is not None:
        return exact
    for (scheme, value), target in targets.items():
        if _is(finding, Code(value, scheme, "")):
            return target
    return None


def _concept(dataset: Dataset, keyword: str) -> CodedValue | None:
    items = _sequence(dataset, keyword)
    if not items:
        return None
    item = items[0]
    value = _text(item, "CodeValue") or _text(item, "LongCodeValue") or _text(item, "URNCodeValue")
    scheme = _text(item, "CodingSchemeDesignator") or ""
    if value is None:
        return None
    return CodedValue(scheme, value, _text(item, "CodeMeaning") or "")


def _sequence(dataset: Dataset, keyword: str) -> list[Dataset]:
    value = dataset.get(keyword)
    return list(value) if value else []


def _texts(dataset: Dataset, keyword: str) -> tuple[str, ...]:
    value = dataset.get(keyword)
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else list(value)
    return tuple(text for text in (str(v).strip() for v in values) if text)


def _text(dataset: Dataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _required(dataset: Dataset, keyword: str) -> str:
    value = _text(dataset, keyword)
    if value is None:
        raise _Reject(f"{keyword} is missing or empty")
    return value


# -- value parsing ----------------------------------------------------------------------


def _exam_datetime(dataset: Dataset, tz: ZoneInfo) -> tuple[datetime, str]:
    study = _datetime(dataset, "StudyDate", "StudyTime", tz)
    if study is not None:
        return study, "study"
    content = _datetime(dataset, "ContentDate", "ContentTime", tz)
    if content is not None:
        return content, "content"
    raise _Reject("no exam date-time: StudyDate/StudyTime and ContentDate/ContentTime are missing")


def _datetime(
    dataset: Dataset, date_keyword: str, time_keyword: str, tz: ZoneInfo
) -> datetime | None:
    day = _text(dataset, date_keyword)
    moment = _text(dataset, time_keyword)
    if day is None or moment is None:
        return None
    date_match = _DATE.fullmatch(day.replace(".", "").replace("-", ""))
    if date_match is None:
        raise _Reject(f"{date_keyword} {day!r} is not a DICOM date (YYYYMMDD)")
    time_match = _TIME.fullmatch(moment.replace(":", ""))
    if time_match is None:
        raise _Reject(f"{time_keyword} {moment!r} is not a DICOM time (HHMMSS.FFFFFF)")
    hour, minute, second, fraction = time_match.groups()
    try:
        naive = datetime(
            int(date_match[1]),
            int(date_match[2]),
            int(date_match[3]),
            int(hour),
            int(minute or 0),
            min(int(second or 0), 59),  # DICOM allows a leap second (60)
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError as exc:
        raise _Reject(f"{date_keyword}/{time_keyword} {day} {moment}: {exc}") from exc
    return naive.replace(tzinfo=_offset(dataset) or tz)


def _offset(dataset: Dataset) -> timezone | None:
    text = _text(dataset, "TimezoneOffsetFromUTC")
    if text is None:
        return None
    match = _OFFSET.fullmatch(text)
    if match is None or int(match[3]) >= 60 or int(match[2]) > 14:
        raise _Reject(f"TimezoneOffsetFromUTC {text!r} is not &HHMM (e.g. +0100)")
    delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return timezone(-delta if match[1] == "-" else delta)


def _age(text: str | None) -> float | None:
    if text is None:
        return None
    match = _AGE.fullmatch(text)
    if match is None:
        raise _Reject(f"PatientAge {text!r} is not nnnD, nnnW, nnnM or nnnY (e.g. 045Y)")
    return round(int(match[1]) * _AGE_YEARS[match[2]], 4)


def _sex(text: str | None) -> str | None:
    if text is None:
        return None
    sex = text.upper()
    if sex not in PATIENT_SEXES:
        raise _Reject(f"PatientSex {text!r} is none of {', '.join(PATIENT_SEXES)}")
    return sex
