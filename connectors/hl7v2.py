"""HL7 v2 ORU^R01 reader: report/result messages -> reports, outcomes and AI predictions.

:func:`read_hl7` takes the bytes of a file holding one or more messages and returns
one item per OBR (order/report) of each ORU^R01 message: an :class:`Hl7Report`, or
an :class:`Hl7Error` saying why that message or report cannot be read. It never
raises on any bytes (only ``TypeError`` when given something else).

Accepted framing: MLLP (``\\x0b`` ... ``\\x1c\\r``), or plain text with segments
separated by ``\\r``, ``\\n`` or ``\\r\\n``; several messages in a row; batch and file
wrappers (BHS/BTS/FHS/FTS) are skipped. A UTF-8 byte-order mark is ignored.

Character set: MSH-18 of each message (``UNICODE UTF-8``, ``8859/1`` ... ``8859/15``,
``ASCII``, ``ISO IR100`` ...); UTF-8 when empty. A message whose bytes do not decode
in that charset is an error naming the charset; an unknown MSH-18 value too.

Escapes (``\\.br\\``, ``\\F\\``, ``\\S\\``, ``\\T\\``, ``\\R\\``, ``\\E\\``, ``\\Xhh\\``) are
decoded with ``hl7.Message.unescape``; line breaks become ``\\n``, highlighting
(``\\H\\``, ``\\N\\``) is dropped, and ``\\Xhh\\`` bytes are read as Latin-1 code points
(the ``hl7`` package's behaviour). An unpaired escape character or an unsupported
sequence (``\\Zxx\\``, charset switches) is an error rather than silently lost text.

Datetimes (``YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]``) become aware datetimes: the
offset when given, else the ``tz`` passed in (a local time in a DST gap or fold is
taken as ``zoneinfo`` does, fold 0). An invalid datetime in a field the
report uses makes that report an error naming the field and the value.

:func:`to_outcome_record` turns a final or corrected report into an
:class:`OutcomeRecord` (the classification of its text is injected);
:func:`to_prediction_record` turns a vendor's AI-result ORU into a
:class:`PredictionRecord` as configured by an :class:`Hl7AiMapping`.

Not handled (documented limits): NTE segments (notes are not part of the report
text), OBX segments before the first OBR of a message (ignored), ORC fields,
in-message character-set switches (``\\C..\\``, ``\\M..\\``: an error), UTF-16/32 and
multi-byte Asian charsets (an unsupported MSH-18 error). :func:`to_prediction_record`
does not look at OBR-25 (AI results are usually sent once, as final).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

import hl7

from connectors.canonical import (
    AI_RESULTS,
    OUTCOME_SOURCES,
    OUTCOMES,
    OutcomeRecord,
    PredictionRecord,
)

__all__ = [
    "DEFAULT_ACCESSION_FIELDS",
    "FINAL_STATUSES",
    "STUDY_UID_IDENTIFIERS",
    "TEXT_TYPES",
    "Hl7AiMapping",
    "Hl7Error",
    "Hl7Item",
    "Hl7Observation",
    "Hl7Report",
    "looks_like_hl7",
    "read_hl7",
    "to_outcome_record",
    "to_prediction_record",
]

MAX_SEPARATORS: Final = 100_000
"""Separators (field, component, repetition, subcomponent, escape) one message may
hold: a result message has hundreds; 4 MB of ``~`` took the parser a minute, holding
the interpreter (the API's p95 went to 1.8 s meanwhile)."""

DEFAULT_ACCESSION_FIELDS: Final = ("OBR-18", "OBR-3", "OBR-2")
"""Where the accession number is looked for, first non-empty wins: OBR-18 (placer
field 1, where RIS usually put it), then the filler then the placer order number."""

FINAL_STATUSES: Final = {"F": "final", "C": "corrected"}
"""OBR-25 statuses that count as ground truth. A corrected report supersedes an
earlier one only because it is later: the ingestion keeps the latest per source."""

_NOT_FINAL: Final = {
    "P": "preliminary",
    "A": "some results available",
    "I": "in progress",
    "R": "results stored, not verified",
    "S": "scheduled",
    "O": "order received",
    "X": "cancelled",
    "Y": "no order on record",
    "Z": "no record of this patient",
}

STUDY_UID_IDENTIFIERS: Final = ("113014", "110180", "study instance uid")
"""An OBX whose OBX-3 code (113014 "DICOM Study" or 110180 "Study Instance UID", DCM)
or text ("Study Instance UID", any case) is one of these, with value type RP, ST or
UI, carries the study instance UID (RP: first component). It is not report text."""

TEXT_TYPES: Final = ("TX", "FT", "ST", "CE", "CWE")
"""OBX value types whose values make the report text (CE/CWE: their text component)."""

_CODED_TYPES: Final = ("CE", "CWE", "CNE")
_UID_TYPES: Final = ("RP", "ST", "UI")
_MAX_RAW: Final = 300
_BOM: Final = b"\xef\xbb\xbf"
_SEGMENT_ID = re.compile(rb"[A-Z][A-Z0-9]{2}")
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+")
_HEAD = re.compile(rb"(MSH|FHS|BHS)([^A-Za-z0-9\s])([^A-Za-z0-9\s]{4,5})\2")
_DATETIME = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?"
    r"(?:([+-])(\d{2})(\d{2}))?"
)
_CHARSETS: Final = {
    "": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "ISO IR100": "latin-1",
    "ISO IR101": "iso8859-2",
    "ISO IR192": "utf-8",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
    **{f"8859/{n}": f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 15)},
    "8859/1": "latin-1",
}
_UNESCAPE_MAP: Final = {"H": "", "N": ""}
_ESCAPE = re.compile(
    r"[FSTREHN]|X(?:[0-9A-Fa-f]{2})+|\.(?:br|fi|nf|ce|sp[0-9]*|in[+-]?[0-9]*|ti[+-]?[0-9]*|sk[+-]?[0-9]*)"
)
_DATETIME_FORM: Final = "YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]"


@dataclass(frozen=True, slots=True)
class Hl7Observation:
    """One OBX segment, escapes decoded.

    ``values`` holds one tuple of components per OBX-5 repetition (TX/FT/ST values
    are not split into components). ``observed_at`` is OBX-14, aware.
    """

    identifier: str
    identifier_text: str | None
    value_type: str
    values: tuple[tuple[str, ...], ...]
    units: str | None
    status: str | None
    observed_at: datetime | None

    def lines(self) -> tuple[str, ...]:
        """One text per repetition: CE/CWE/CNE their text (else code), others their components."""
        if self.value_type in _CODED_TYPES:
            return tuple(
                (rep[1] if len(rep) > 1 and rep[1] else rep[0]) if rep else ""
                for rep in self.values
            )
        return tuple("^".join(part for part in rep if part) for rep in self.values)

    def matches(self, identifier: str) -> bool:
        """Whether OBX-3's code or text equals ``identifier`` (text: case-insensitive)."""
        wanted = identifier.strip()
        text = (self.identifier_text or "").strip().lower()
        return self.identifier == wanted or (bool(text) and text == wanted.lower())


@dataclass(frozen=True, slots=True)
class Hl7Report:
    """One OBR of an ORU^R01 message, with the OBX segments that follow it.

    ``message_index`` is 1-based in the file, ``obr_index`` 1-based in the message.
    ``accession_field`` names where the accession number was found. Datetimes are
    aware. ``report_datetime`` is OBR-22, else the first OBX-14, else MSH-7.
    ``result_status`` is OBR-25 upper-cased (F final, C corrected, P preliminary...).
    ``patient_id`` is PID-3's first identifier, raw (pseudonymised at ingestion).
    ``software_version`` / ``software_product`` are SFT-2 / SFT-3 when present.
    """

    message_index: int
    obr_index: int
    control_id: str | None
    sending_application: str | None
    sending_facility: str | None
    software_product: str | None
    software_version: str | None
    charset: str
    accession_number: str | None
    accession_field: str | None
    study_instance_uid: str | None
    exam_datetime: datetime | None
    report_datetime: datetime | None
    result_status: str | None
    patient_id: str | None
    service_id: str | None
    service_text: str | None
    report_text: str
    observations: tuple[Hl7Observation, ...]


@dataclass(frozen=True, slots=True)
class Hl7Error:
    """A message (``obr_index`` None) or one of its reports that cannot be read.

    ``message_index`` is 1-based; 0 means text before the first MSH. ``raw`` is the
    message text (segments joined by ``\\r``, undecodable bytes replaced), cut at 300
    characters. ``reason`` says what is wrong and what to fix; ``str()`` prefixes it
    with the location, e.g. ``message 2 (control id X): ORU^R01 without OBR segment``.
    """

    message_index: int
    control_id: str | None
    reason: str
    raw: str
    obr_index: int | None = None

    def __str__(self) -> str:
        where = f"message {self.message_index}"
        if self.control_id:
            where += f" (control id {self.control_id})"
        if self.obr_index is not None:
            where += f", OBR {self.obr_index}"
        return f"{where}: {self.reason}"


Hl7Item = Hl7Report | Hl7Error
"""What :func:`read_hl7` yields per report (or per unreadable message)."""


@dataclass(frozen=True, slots=True)
class Hl7AiMapping:
    """Where a vendor's AI-result ORU puts the result, the score and the device.

    * ``result_identifier``: OBX-3 code or text of the AI result (CE/CWE: code or
      text; ST: the value), default ``AI_RESULT``.
    * ``result_values``: vendor value -> canonical result (case-insensitive), default
      POSITIVE/NEGATIVE/INDETERMINATE -> positive/negative/indeterminate.
    * ``score_identifier``: OBX-3 of the score (NM on the device's score scale, or
      0..100 with units ``%``); None when the vendor sends none. Default ``AI_SCORE``.
    * ``device_id_from`` / ``device_version_from``: ``MSH-3`` or ``MSH-4`` (sending
      application / facility, first component), ``SFT-2`` (software version),
      ``SFT-3`` (product name), or ``OBX:<identifier>``. Defaults ``MSH-3`` / ``SFT-2``.
    * ``target``: the target condition the result is about (None: the device's).
    """

    result_identifier: str = "AI_RESULT"
    result_values: tuple[tuple[str, str], ...] = (
        ("POSITIVE", "positive"),
        ("NEGATIVE", "negative"),
        ("INDETERMINATE", "indeterminate"),
    )
    score_identifier: str | None = "AI_SCORE"
    device_id_from: str = "MSH-3"
    device_version_from: str = "SFT-2"
    target: str | None = None

    def __post_init__(self) -> None:
        for name in ("device_id_from", "device_version_from"):
            source = getattr(self, name)
            if source not in ("MSH-3", "MSH-4", "SFT-2", "SFT-3") and not (
                source.startswith("OBX:") and source[4:].strip()
            ):
                raise ValueError(
                    f"{name} {source!r}: use MSH-3, MSH-4, SFT-2, SFT-3 or OBX:<identifier>"
                )
        for _, canonical in self.result_values:
            if canonical not in AI_RESULTS:
                raise ValueError(f"result_values maps to {canonical!r}: use one of {AI_RESULTS}")


class _MessageError(Exception):
    """Internal: this message (or report) cannot be read; the text is the reason."""


# --------------------------------------------------------------------------- reading


def _shown(field: str, text: str) -> str:
    """A field's value as an error message quotes it: never a patient segment's (PID,
    PD1, NK1 hold identifiers and names, and errors are stored and printed)."""
    if field.split("-", 1)[0] in ("PID", "PD1", "NK1"):
        return "(value not shown: patient data)"
    return repr(text[:40])


def looks_like_hl7(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts like HL7 v2.

    True when, after an optional UTF-8 BOM, MLLP start byte and whitespace, it starts
    with an MSH, FHS or BHS segment and its delimiters (e.g. ``MSH|^~\\&|``).
    """
    if not isinstance(head, (bytes, bytearray)):
        return False
    text = bytes(head)
    if text.startswith(_BOM):
        text = text[len(_BOM) :]
    text = text.lstrip(b"\x0b \t\r\n")
    return _HEAD.match(text) is not None


def read_hl7(
    data: bytes,
    *,
    tz: ZoneInfo,
    accession_fields: tuple[str, ...] = DEFAULT_ACCESSION_FIELDS,
) -> list[Hl7Item]:
    """Every report of every ORU^R01 message in ``data``, or why it cannot be read.

    ``tz`` is the timezone of datetimes without an offset. ``accession_fields`` are
    ``OBR-<n>`` names tried in order (first non-empty first component wins); a
    malformed name raises ``ValueError``. Non-bytes ``data`` raises ``TypeError``;
    nothing else is raised: a message that is not ORU^R01, truncated, undecodable or
    without OBR is one :class:`Hl7Error`; a report with a bad datetime is one too.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"read_hl7 reads bytes, not {type(data).__name__}")
    positions = _accession_positions(accession_fields)
    items: list[Hl7Item] = []
    for index, lines in _split_messages(bytes(data)):
        try:
            items.extend(_read_message(index, lines, tz, positions))
        except _MessageError as exc:
            items.append(Hl7Error(index, _control_id(lines), str(exc), _raw(lines)))
        except Exception as exc:  # the contract: a bad message never raises
            items.append(
                Hl7Error(index, _control_id(lines), f"unreadable message ({exc!r})", _raw(lines))
            )
    return items


def _accession_positions(fields: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    positions = []
    for name in fields:
        match = re.fullmatch(r"OBR-([1-9][0-9]?)", name)
        if match is None:
            raise ValueError(f"accession field {name!r}: use OBR-<n>, e.g. OBR-18")
        positions.append((name, int(match.group(1))))
    if not positions:
        raise ValueError("accession_fields is empty: give at least one OBR-<n>")
    return tuple(positions)


def _split_messages(data: bytes) -> list[tuple[int, list[bytes]]]:
    """Segment lines grouped per message; index 0 holds lines before the first MSH."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    text = data.replace(b"\x0b", b"\r").replace(b"\x1c", b"\r")
    messages: list[tuple[int, list[bytes]]] = []
    current: list[bytes] | None = None
    leading: list[bytes] = []
    for line in re.split(rb"\r\n|\r|\n", text):
        segment = line.strip(b" \t")
        if not segment:
            continue
        if segment[:3] in (b"BHS", b"BTS", b"FHS", b"FTS"):
            current = None
            continue
        if segment[:3] == b"MSH":
            current = [segment]
            messages.append((len(messages) + 1, current))
        elif current is None:
            leading.append(segment)
        else:
            current.append(segment)
    if leading:
        messages.insert(0, (0, leading))
    return messages


def _raw(lines: list[bytes]) -> str:
    text = b"\r".join(lines).decode("utf-8", errors="replace")
    return text if len(text) <= _MAX_RAW else text[: _MAX_RAW - 1] + "…"


def _header_fields(msh: bytes) -> list[str] | None:
    """MSH fields as Latin-1 text, index = field number (0: 'MSH'); None when truncated."""
    match = _HEAD.match(msh)
    if match is None or match.group(1) != b"MSH":
        return None
    sep = msh[3:4]
    fields = msh.split(sep)
    return ["MSH", sep.decode("latin-1")] + [f.decode("latin-1") for f in fields[1:]]


def _control_id(lines: list[bytes]) -> str | None:
    fields = _header_fields(lines[0]) if lines else None
    if fields is None or len(fields) <= 10:
        return None
    return _first(fields[10], fields[2]) or None


def _first(raw: str, encoding: str) -> str:
    """First component of the first repetition of a raw MSH field (no unescaping)."""
    component, repetition = (encoding[0], encoding[1]) if len(encoding) > 1 else ("^", "~")
    return raw.split(repetition)[0].split(component)[0].strip()


def _read_message(
    index: int, lines: list[bytes], tz: ZoneInfo, positions: tuple[tuple[str, int], ...]
) -> list[Hl7Item]:
    raw = _raw(lines)
    if index == 0:
        reason = (
            f"{len(lines)} segment line(s) before the first MSH segment belong to no message "
            "(a message must start with MSH|^~\\&|)"
        )
        return [Hl7Error(0, None, reason, raw)]
    fields = _header_fields(lines[0])
    if fields is None:
        reason = (
            "truncated MSH segment: it must start with MSH, the field separator "
            "and the encoding characters (MSH|^~\\&|)"
        )
        return [Hl7Error(index, None, reason, raw)]
    control_id = _control_id(lines)

    def error(reason: str) -> list[Hl7Item]:
        return [Hl7Error(index, control_id, reason, raw)]

    encoding = fields[2]
    if len(set(encoding)) != len(encoding) or fields[1] in encoding:
        return error(f"MSH-2 encoding characters {encoding!r} repeat a delimiter")
    sep = lines[0][3:4]
    for number, line in enumerate(lines[1:], start=2):
        if _SEGMENT_ID.fullmatch(line[:3]) is None or not (len(line) == 3 or line[3:4] == sep):
            shown = line[:20].decode("latin-1")
            return error(
                f"truncated segment: line {number} {shown!r} is not a segment "
                f"(a three-character segment id followed by {sep.decode('latin-1')!r})"
            )
    kind = fields[9] if len(fields) > 9 else ""
    parts = kind.split(encoding[0])
    event = "^".join(p for p in parts[:2] if p) or "no MSH-9 message type"
    if [p.strip().upper() for p in parts[:2]] != ["ORU", "R01"]:
        return error(f"not an ORU^R01 message ({event})")
    declared = _first(fields[18], encoding) if len(fields) > 18 else ""
    charset = _CHARSETS.get(declared.upper())
    if charset is None:
        return error(
            f"MSH-18 character set {declared!r} is not supported: "
            f"use one of {', '.join(repr(k) for k in _CHARSETS if k)}"
        )
    body = b"\r".join(lines)
    try:
        text = body.decode(charset)
    except UnicodeDecodeError as exc:
        said = f"MSH-18 {declared!r}" if declared else "the default, MSH-18 being empty"
        return error(
            f"undecodable bytes in charset {charset} ({said}) at byte {exc.start}: "
            "set MSH-18 to the charset the sender really uses"
        )
    separators = sum(text.count(c) for c in {*encoding, fields[1]} if c)
    if separators > MAX_SEPARATORS:
        return error(
            f"{separators:,} field, component and repetition separators, over the "
            f"{MAX_SEPARATORS:,} a message may hold (a result message has hundreds)"
        )
    message = hl7.parse(text)
    return _reports(index, control_id, charset, message, raw, tz, positions)


# ----------------------------------------------------------------------- reports


class _Fields:
    """Raw-field access and unescaping for one parsed message."""

    def __init__(self, message: Any) -> None:
        self.message = message
        separators: str = message.separators
        self.repetition = separators[2]
        self.component = separators[3]

    def raw(self, segment: Any, number: int) -> str:
        """Field ``number`` as raw text (MSH numbering for MSH); '' when absent."""
        return str(segment[number]) if number < len(segment) else ""

    def unescape(self, text: str, field: str) -> str:
        """Decode escapes; an unpaired escape character or unknown sequence is an error."""
        esc: str = self.message.esc
        if esc not in text:
            return text
        parts = text.split(esc)
        if len(parts) % 2 == 0:
            raise _MessageError(
                f"{field} {_shown(field, text)} has an unpaired escape character {esc!r} "
                f"(a literal {esc!r} is written {esc}E{esc})"
            )
        for body in parts[1::2]:
            if _ESCAPE.fullmatch(body) is None:
                raise _MessageError(
                    f"{field} {_shown(field, text)} has an unsupported escape sequence "
                    f"{esc}{body[:20]}{esc} (supported: F S T R E H N Xhh .br .sp .in .ti .sk .ce)"
                )
        try:
            value = str(self.message.unescape(text, _UNESCAPE_MAP))
        except Exception as exc:  # hl7 raises on some malformed escapes
            raise _MessageError(f"{field} {_shown(field, text)}: malformed escape ({exc})") from exc
        return value.replace("\r\n", "\n").replace("\r", "\n")

    def repetitions(self, segment: Any, number: int, split: bool = True) -> list[list[str]]:
        raw = self.raw(segment, number)
        if not raw:
            return []
        field = f"{segment[0]}-{number}"
        out = []
        for repetition in raw.split(self.repetition):
            parts = repetition.split(self.component) if split else [repetition]
            out.append([self.unescape(part, field) for part in parts])
        return out

    def first(self, segment: Any, number: int, component: int = 1) -> str | None:
        reps = self.repetitions(segment, number)
        if not reps or len(reps[0]) < component:
            return None
        return reps[0][component - 1].strip() or None


def _reports(
    index: int,
    control_id: str | None,
    charset: str,
    message: Any,
    raw: str,
    tz: ZoneInfo,
    positions: tuple[tuple[str, int], ...],
) -> list[Hl7Item]:
    f = _Fields(message)
    msh = message[0]
    header = {
        "control_id": control_id,
        "sending_application": f.first(msh, 3),
        "sending_facility": f.first(msh, 4),
        "charset": charset,
    }
    software: tuple[str | None, str | None] = (None, None)
    patient: str | None = None
    groups: list[tuple[str | None, Any, list[Any]]] = []
    for segment in message:
        name = str(segment[0])
        if name == "SFT" and software == (None, None):
            software = (f.first(segment, 3), f.first(segment, 2))
        elif name == "PID":
            patient = f.first(segment, 3)
        elif name == "OBR":
            groups.append((patient, segment, []))
        elif name == "OBX" and groups:
            groups[-1][2].append(segment)
    if not groups:
        return [Hl7Error(index, control_id, "ORU^R01 without OBR segment", raw)]
    items: list[Hl7Item] = []
    for number, (patient_id, obr, obxs) in enumerate(groups, start=1):
        try:
            items.append(
                _report(
                    f, msh, obr, obxs, tz, positions, index, number, patient_id, software, header
                )
            )
        except _MessageError as exc:
            items.append(Hl7Error(index, control_id, str(exc), raw, number))
    return items


def _report(
    f: _Fields,
    msh: Any,
    obr: Any,
    obxs: list[Any],
    tz: ZoneInfo,
    positions: tuple[tuple[str, int], ...],
    index: int,
    number: int,
    patient_id: str | None,
    software: tuple[str | None, str | None],
    header: dict[str, Any],
) -> Hl7Report:
    observations = tuple(_observation(f, obx, position, tz) for position, obx in enumerate(obxs, 1))
    accession, accession_field = None, None
    for name, position in positions:
        value = f.first(obr, position)
        if value:
            accession, accession_field = value, name
            break
    study_uid = None
    lines: list[str] = []
    for position, obs in enumerate(observations, start=1):
        if obs.value_type in _UID_TYPES and any(obs.matches(i) for i in STUDY_UID_IDENTIFIERS):
            uid = obs.values[0][0].strip() if obs.values and obs.values[0] else ""
            if uid and (_UID.fullmatch(uid) is None or len(uid) > 64):
                raise _MessageError(
                    f"OBX {position} study instance UID {uid[:80]!r} is not a DICOM UID "
                    "(digits and dots, at most 64 characters)"
                )
            study_uid = study_uid or uid or None
        elif obs.value_type in TEXT_TYPES and obs.status not in ("D", "W"):
            lines.extend(obs.lines())
    report_dt = _datetime(f.first(obr, 22), "OBR-22", tz)
    if report_dt is None:
        report_dt = next((o.observed_at for o in observations if o.observed_at), None)
    if report_dt is None:
        report_dt = _datetime(f.first(msh, 7), "MSH-7", tz)
    status = f.first(obr, 25)
    return Hl7Report(
        message_index=index,
        obr_index=number,
        software_product=software[0],
        software_version=software[1],
        accession_number=accession,
        accession_field=accession_field,
        study_instance_uid=study_uid,
        exam_datetime=_datetime(f.first(obr, 7), "OBR-7", tz),
        report_datetime=report_dt,
        result_status=status.upper() if status else None,
        patient_id=patient_id,
        service_id=f.first(obr, 4),
        service_text=f.first(obr, 4, 2) or f.first(obr, 4),
        report_text="\n".join(lines).strip("\n"),
        observations=observations,
        **header,
    )


def _observation(f: _Fields, obx: Any, position: int, tz: ZoneInfo) -> Hl7Observation:
    value_type = (f.first(obx, 2) or "").upper()
    composite = value_type not in ("TX", "FT", "ST", "NM", "DT", "TM", "TS", "DTM", "ID", "IS")
    values = f.repetitions(obx, 5, split=composite)
    return Hl7Observation(
        identifier=f.first(obx, 3) or "",
        identifier_text=f.first(obx, 3, 2),
        value_type=value_type,
        values=tuple(tuple(rep) for rep in values),
        units=f.first(obx, 6),
        status=(f.first(obx, 11) or "").upper() or None,
        observed_at=_datetime(f.first(obx, 14), f"OBX-14 of OBX {position}", tz),
    )


def _datetime(text: str | None, field: str, tz: ZoneInfo) -> datetime | None:
    """An HL7 datetime -> aware datetime (``tz`` when no offset); None when empty."""
    if not text:
        return None
    match = _DATETIME.fullmatch(text.strip())
    bad = f"{field} {_shown(field, text)} is not an HL7 datetime ({_DATETIME_FORM})"
    if match is None:
        raise _MessageError(bad)
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    try:
        zone: Any = tz
        if sign:
            if int(off_h) > 14 or int(off_m) > 59:
                raise ValueError("offset out of range")
            delta = timedelta(hours=int(off_h), minutes=int(off_m))
            zone = timezone(-delta if sign == "-" else delta)
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise _MessageError(f"{bad}: {exc}") from exc


# ------------------------------------------------------------------- records


def to_outcome_record(
    report: Hl7Report,
    classify: Callable[[str], str | None],
    *,
    source: str,
    target: str | None = None,
) -> OutcomeRecord | str:
    """An outcome from a final (F) or corrected (C) report, else the reason it is none.

    ``classify`` maps the report text to positive/negative/indeterminate, or None when
    the text says nothing about ``target``. The outcome datetime is the report
    datetime, so a corrected report (later) supersedes the earlier one when the
    ingestion keeps the latest per source. Preliminary and other not-final statuses,
    reports without accession nor study UID, without datetime or without text give a
    reason. ``source`` outside OUTCOME_SOURCES, or ``classify`` returning anything
    else than an outcome or None, raises ``ValueError`` (a programming error).
    """
    if source not in OUTCOME_SOURCES:
        raise ValueError(f"source {source!r}: use one of {', '.join(OUTCOME_SOURCES)}")
    status = report.result_status
    if status is None:
        return "the report has no result status (OBR-25): only F (final) or C (corrected) count"
    if status not in FINAL_STATUSES:
        meaning = _NOT_FINAL.get(status, "unknown status")
        return (
            f"report status {status!r} ({meaning}) is not final: "
            "only F (final) or C (corrected) reports are ground truth"
        )
    if report.accession_number is None and report.study_instance_uid is None:
        return "the report has neither an accession number (OBR-18/3/2) nor a study instance UID"
    if report.report_datetime is None:
        return "the report has no datetime (OBR-22, OBX-14 or MSH-7)"
    if not report.report_text.strip():
        return "the report has no text (no TX, FT, ST, CE or CWE OBX)"
    outcome = classify(report.report_text)
    if outcome is None:
        return f"the report text states nothing about {target or 'the target condition'}"
    if outcome not in OUTCOMES:
        raise ValueError(f"classify returned {outcome!r}: expected one of {OUTCOMES} or None")
    return OutcomeRecord(
        outcome=outcome,
        source=source,
        outcome_datetime=report.report_datetime,
        accession_number=report.accession_number,
        study_instance_uid=report.study_instance_uid,
        target=target,
        report_text=report.report_text,
    )


def to_prediction_record(
    report: Hl7Report, mapping: Hl7AiMapping = Hl7AiMapping()
) -> PredictionRecord | str:
    """The AI result an ORU carries, as ``mapping`` says, or the reason there is none.

    Needs the result OBX (OBX-11 D/W ones are skipped), a device id and version,
    OBR-7 and an accession number or study UID. The score is optional: with units
    ``%`` it is converted to 0..1 (outside 0..100 gives a reason), without units it
    is kept as given, on its device's score scale (checked at ingestion); not a
    number gives a reason.
    ``ai_datetime`` is the result's OBX-14, else the report datetime.
    """
    usable = [o for o in report.observations if o.status not in ("D", "W")]
    result_obs = next((o for o in usable if o.matches(mapping.result_identifier)), None)
    if result_obs is None:
        return f"no OBX {mapping.result_identifier!r} (the AI result) in this report"
    values = {vendor.strip().upper(): canonical for vendor, canonical in mapping.result_values}
    first = result_obs.values[0] if result_obs.values else ()
    candidates = [part.strip().upper() for part in first[:2] if part.strip()]
    ai_result = next((values[c] for c in candidates if c in values), None)
    if ai_result is None:
        shown = "^".join(first) or "empty"
        return (
            f"AI result {shown!r} of OBX {mapping.result_identifier!r} is not mapped: "
            f"known values are {', '.join(values)}"
        )
    score: float | None = None
    scale: str | None = None
    if mapping.score_identifier is not None:
        score_obs = next((o for o in usable if o.matches(mapping.score_identifier)), None)
        if score_obs is not None and score_obs.values and score_obs.values[0]:
            score_or_reason = _score(score_obs)
            if isinstance(score_or_reason, str):
                return score_or_reason
            score, scale = score_or_reason
    device_id = _device_field(report, usable, mapping.device_id_from)
    device_version = _device_field(report, usable, mapping.device_version_from)
    if device_id is None:
        return f"no device id in {mapping.device_id_from}"
    if device_version is None:
        return f"no device version in {mapping.device_version_from}"
    if report.exam_datetime is None:
        return "no exam datetime (OBR-7)"
    if report.accession_number is None and report.study_instance_uid is None:
        return "the report has neither an accession number (OBR-18/3/2) nor a study instance UID"
    return PredictionRecord(
        device_id=device_id,
        device_version=device_version,
        exam_datetime=report.exam_datetime,
        ai_result=ai_result,
        accession_number=report.accession_number,
        study_instance_uid=report.study_instance_uid,
        patient_id=report.patient_id,
        target=mapping.target,
        ai_score=score,
        ai_datetime=result_obs.observed_at or report.report_datetime,
        ai_score_scale=scale,
    )


def _score(obs: Hl7Observation) -> tuple[float, str | None] | str:
    """(score, its scale: ``unit`` when units ``%`` made it 0..1, None when the
    device's scale applies) or the reason it cannot be read."""
    text = obs.values[0][0].strip()
    try:
        value = float(text)
    except ValueError:
        return f"AI score {text[:40]!r} (OBX {obs.identifier!r}) is not a number"
    if not math.isfinite(value):
        return f"AI score {text!r} (OBX {obs.identifier!r}) is not a finite number"
    if (obs.units or "").strip() != "%":
        return value, None
    if not 0.0 <= value <= 100.0:
        return f"AI score {text!r} (OBX {obs.identifier!r}) is outside 0..100 with units %"
    return value / 100.0, "unit"


def _device_field(report: Hl7Report, observations: list[Hl7Observation], source: str) -> str | None:
    if source == "MSH-3":
        return report.sending_application
    if source == "MSH-4":
        return report.sending_facility
    if source == "SFT-2":
        return report.software_version
    if source == "SFT-3":
        return report.software_product
    obs = next((o for o in observations if o.matches(source[4:])), None)
    if obs is None or not obs.values:
        return None
    return obs.lines()[0].strip() or None
