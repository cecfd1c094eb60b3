"""HL7 v2 ORU^R01 reader: what ``connectors.hl7v2`` is specified to read, and to refuse.

* Every ORU^R01 message of a file (MLLP framed or plain, segments separated by CR,
  LF or CRLF, batch wrappers skipped) gives one report per OBR; anything else gives
  an error naming the message, its control id and what is wrong. It never raises.
* Bytes are decoded in MSH-18's charset (UTF-8 by default); undecodable is an error.
* Accession number: OBR-18, then OBR-3, then OBR-2 (configurable). Report datetime:
  OBR-22, then the first OBX-14, then MSH-7. Datetimes without offset are in ``tz``.
* Report text: TX/FT/ST/CE/CWE OBX values in order, one line per repetition,
  escapes decoded.
* Only final (F) and corrected (C) reports become outcomes; AI results carried in
  an ORU become predictions as an ``Hl7AiMapping`` says.

The real sample is the HL7 v2.4 normative lab example shipped with python-hl7; all
other messages are synthetic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.canonical import OutcomeRecord, PredictionRecord
from connectors.hl7v2 import (
    Hl7AiMapping,
    Hl7Error,
    Hl7Item,
    Hl7Report,
    looks_like_hl7,
    read_hl7,
    to_outcome_record,
    to_prediction_record,
)

PARIS = ZoneInfo("Europe/Paris")
SAMPLE = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "hl7v2"
    / "python-hl7__tests_samples_sample_hl7_GHH_LAB_ORU_R01.hl7"
)


# ------------------------------------------------------------------ builders


def seg(name: str, fields: dict[int, str]) -> str:
    """A segment with the given (1-based) fields, the others empty."""
    last = max(fields) if fields else 0
    return "|".join([name, *(fields.get(n, "") for n in range(1, last + 1))])


def msh(
    control: str = "C1",
    kind: str = "ORU^R01",
    charset: str = "",
    sent: str = "20250115120000",
    app: str = "RIS",
) -> str:
    return (
        f"MSH|^~\\&|{app}|HOPITAL|DMN|MON|{sent}||{kind}|{control}|P|2.5|||||FRA|{charset}".rstrip(
            "|"
        )
    )


def obr(
    *,
    placer: str = "",
    filler: str = "",
    accession: str = "",
    exam: str = "20250115101500",
    reported: str = "",
    status: str = "F",
    service: str = "CTTHO^Scanner thoracique",
) -> str:
    return seg(
        "OBR",
        {
            1: "1",
            2: placer,
            3: filler,
            4: service,
            7: exam,
            18: accession,
            22: reported,
            25: status,
        },
    )


def obx(
    n: int,
    value_type: str,
    identifier: str,
    value: str,
    *,
    units: str = "",
    status: str = "F",
    observed: str = "",
) -> str:
    return seg(
        "OBX",
        {1: str(n), 2: value_type, 3: identifier, 5: value, 6: units, 11: status, 14: observed},
    )


PID = seg("PID", {1: "1", 3: "IPP123456^^^HOPITAL^PI~NIR99^^^INS", 5: "DUPONT^MARIE"})


def message(*segments: str, sep: str = "\r", **header: str) -> str:
    return sep.join([msh(**header), *segments]) + sep


def radiology(charset: str = "UNICODE UTF-8", status: str = "F", control: str = "RAD1") -> str:
    """A French chest CT report: two TX findings OBX, a conclusion, escapes."""
    return message(
        PID,
        obr(accession="ACC2025001", reported="20250115113000", status=status),
        obx(1, "TX", "FINDINGS^Résultats", "Épanchement pleural droit.\\.br\\Pas de nodule."),
        obx(2, "TX", "FINDINGS^Résultats", "Médiastin normal~Coeur de taille normale"),
        obx(3, "TX", "IMP^Conclusion", "CONCLUSION : épanchement pleural droit, à contrôler."),
        charset=charset,
        control=control,
    )


RADIOLOGY_TEXT = (
    "Épanchement pleural droit.\nPas de nodule.\n"
    "Médiastin normal\nCoeur de taille normale\n"
    "CONCLUSION : épanchement pleural droit, à contrôler."
)


def read(data: bytes | str) -> list[Hl7Item]:
    return read_hl7(data.encode() if isinstance(data, str) else data, tz=PARIS)


def only_report(data: bytes | str) -> Hl7Report:
    items = read(data)
    assert len(items) == 1, items
    assert isinstance(items[0], Hl7Report), str(items[0])
    return items[0]


def only_error(data: bytes | str) -> Hl7Error:
    items = read(data)
    assert len(items) == 1, items
    assert isinstance(items[0], Hl7Error), items[0]
    return items[0]


def positive(text: str) -> str | None:
    return "positive" if "épanchement" in text.lower() else None


# --------------------------------------------------------------- real sample


def test_the_ghh_lab_sample_gives_its_report_despite_its_quirks() -> None:
    # Quirks: PID-7 '196203520' is not a date (not needed, so not read), OBX-2 'FN'.
    report = only_report(SAMPLE.read_bytes())
    assert report.message_index == 1 and report.obr_index == 1
    assert report.control_id == "CNTRL-3456"
    assert report.sending_application == "GHH LAB"
    assert report.patient_id == "555-44-4444"
    assert (report.accession_number, report.accession_field) == ("1045813", "OBR-3")
    assert report.service_id == "1554-5" and report.service_text == "GLUCOSE"
    assert report.exam_datetime == datetime(2002, 2, 15, 7, 30, tzinfo=PARIS)
    # no OBR-22, no OBX-14: the report datetime is MSH-7
    assert report.report_datetime == datetime(2002, 2, 15, 9, 30, tzinfo=PARIS)
    assert [
        (o.identifier, o.value_type, o.values, o.units, o.status) for o in report.observations
    ] == [
        ("1554-5", "SN", (("", "182"),), "mg/dl", "F"),
        ("1553-5", "FN", (("", "182"),), "mg/dl", "F"),
    ]
    assert report.report_text == ""  # numeric lab results are not report text


def test_the_ghh_sample_has_no_obr_25_so_it_is_not_ground_truth() -> None:
    # Its 'F' sits in OBR-24 (the normative example is shifted by one field).
    report = only_report(SAMPLE.read_bytes())
    assert report.result_status is None
    reason = to_outcome_record(report, positive, source="report")
    assert isinstance(reason, str) and "OBR-25" in reason


@pytest.mark.parametrize("sep", [b"\n", b"\r\n"])
def test_the_ghh_sample_reads_the_same_with_line_separators_or_mllp(sep: bytes) -> None:
    original = SAMPLE.read_bytes()
    as_lines = original.replace(b"\r", sep)
    framed = b"\x0b" + original + b"\x1c\r"
    assert only_report(as_lines) == only_report(original) == only_report(framed)


# ---------------------------------------------------------- charsets, escapes


@pytest.mark.parametrize(
    ("charset", "encoding"), [("8859/1", "latin-1"), ("UNICODE UTF-8", "utf-8"), ("", "utf-8")]
)
def test_a_french_radiology_report_decodes_in_its_declared_charset(
    charset: str, encoding: str
) -> None:
    data = radiology(charset=charset).encode(encoding)
    report = only_report(data)
    assert report.report_text == RADIOLOGY_TEXT
    assert report.charset == encoding
    assert report.patient_id == "IPP123456"
    assert report.service_text == "Scanner thoracique"


def test_latin1_bytes_without_msh_18_are_an_error_and_the_next_message_still_reads() -> None:
    bad = radiology(charset="", control="LAT").encode("latin-1")
    good = radiology(control="UTF").encode()
    first, second = read(bad + good)
    assert isinstance(first, Hl7Error) and isinstance(second, Hl7Report)
    assert first.control_id == "LAT" and first.message_index == 1
    assert "undecodable bytes in charset utf-8" in first.reason and "MSH-18" in first.reason
    assert str(first).startswith("message 1 (control id LAT): undecodable bytes")
    assert second.message_index == 2 and second.control_id == "UTF"


def test_an_unknown_msh_18_charset_is_an_error_naming_it() -> None:
    error = only_error(radiology(charset="KLINGON"))
    assert "MSH-18 character set 'KLINGON' is not supported" in error.reason


def test_hl7_escapes_are_decoded_in_the_report_text() -> None:
    value = r"a\F\b\S\c\T\d\R\e\E\f \X41\ \H\bold\N\ end\.br\next"
    report = only_report(message(obr(accession="A1"), obx(1, "FT", "TXT", value)))
    assert report.report_text == "a|b^c&d~e\\f A bold end\nnext"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("C:\\temp\\x", "OBX-5 'C:\\\\temp\\\\x' has an unsupported escape sequence \\temp\\"),
        ("a\\b", "has an unpaired escape character"),
        ("\\X4\\", "unsupported escape sequence \\X4\\"),
        ("\\C2842\\", "unsupported escape sequence"),
    ],
)
def test_a_malformed_escape_is_an_error_not_lost_text(value: str, expected: str) -> None:
    error = only_error(message(obr(accession="A1"), obx(1, "TX", "TXT", value)))
    assert expected in error.reason and error.obr_index == 1


def test_coded_values_give_their_text_and_numbers_are_not_report_text() -> None:
    report = only_report(
        message(
            obr(accession="A1"),
            obx(1, "CWE", "IMP", "RID3875^Epanchement pleural^RADLEX"),
            obx(2, "CE", "IMP", "N0"),
            obx(3, "NM", "SIZE", "12", units="mm"),
            obx(4, "ST", "NOTE", "Examen de bonne qualité"),
        )
    )
    assert report.report_text == "Epanchement pleural\nN0\nExamen de bonne qualité"
    assert report.observations[2].values == (("12",),)
    assert report.observations[2].units == "mm"


def test_obx_marked_wrong_or_deleted_is_left_out_of_the_text() -> None:
    report = only_report(
        message(
            obr(accession="A1"),
            obx(1, "TX", "TXT", "ancienne phrase", status="W"),
            obx(2, "TX", "TXT", "nouvelle phrase", status="C"),
        )
    )
    assert report.report_text == "nouvelle phrase"


# ------------------------------------------------------------ files, framing


def test_an_mllp_batch_gives_each_message_in_order_and_skips_batch_wrappers() -> None:
    messages = [radiology(control=f"M{n}") for n in (1, 2, 3)]
    framed = b"".join(b"\x0b" + m.encode() + b"\x1c\r" for m in messages)
    data = b"\x0bBHS|^~\\&|RIS\r\x1c\r" + framed + b"\x0bBTS|3\r\x1c\r"
    items = read(data)
    assert [(i.message_index, i.control_id) for i in items] == [(1, "M1"), (2, "M2"), (3, "M3")]
    assert all(isinstance(i, Hl7Report) and i.report_text == RADIOLOGY_TEXT for i in items)


@pytest.mark.parametrize("sep", ["\n", "\r\n"])
def test_a_segment_per_line_file_with_consecutive_msh_gives_each_message(sep: str) -> None:
    body = "".join(radiology(control=f"L{n}").replace("\r", sep) for n in (1, 2))
    data = f"\ufeffFHS|^~\\&|RIS{sep}BHS|^~\\&|RIS{sep}{body}BTS|2{sep}FTS|1{sep}".encode()
    items = read(data)
    assert [(type(i), i.control_id) for i in items] == [(Hl7Report, "L1"), (Hl7Report, "L2")]


def test_lines_before_the_first_msh_are_reported_not_dropped() -> None:
    items = read("hello\r" + radiology())
    assert isinstance(items[0], Hl7Error) and items[0].message_index == 0
    assert "before the first MSH" in items[0].reason
    assert isinstance(items[1], Hl7Report) and items[1].message_index == 1


def test_an_empty_file_has_no_items() -> None:
    assert read(b"") == [] and read(b"\x0b\x1c\r\n  \n") == []


# --------------------------------------------------------- refused messages


def test_an_oru_without_obr_is_an_error_with_its_control_id() -> None:
    error = only_error(message(PID, control="X"))
    assert str(error) == "message 1 (control id X): ORU^R01 without OBR segment"
    assert error.raw.startswith("MSH|^~\\&|RIS")


def test_an_adt_message_is_not_an_oru() -> None:
    error = only_error(message(PID, kind="ADT^A01^ADT_A01", control="ADM1"))
    assert error.reason == "not an ORU^R01 message (ADT^A01)"


def test_a_truncated_segment_makes_the_message_an_error() -> None:
    error = only_error(message(obr(accession="A1"), "OB"))
    assert error.reason.startswith("truncated segment: line 3 'OB'")


@pytest.mark.parametrize("head", ["MSH", "MSH|", "MSH|^~", "MSH|^~\\&"])
def test_a_truncated_msh_is_an_error(head: str) -> None:
    error = only_error(head + "\rOBR|1\r")
    assert error.control_id is None and "truncated MSH segment" in error.reason


def test_a_long_message_is_cut_in_the_error() -> None:
    error = only_error(message(obx(1, "TX", "T", "x" * 2000), kind="ADT^A08"))
    assert len(error.raw) == 300 and error.raw.endswith("…")


def test_non_bytes_input_raises_type_error() -> None:
    with pytest.raises(TypeError):
        read_hl7("MSH|^~\\&|", tz=PARIS)  # type: ignore[arg-type]


# ------------------------------------------------------ accession, datetimes


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"accession": "ACC18", "filler": "F3^RIS", "placer": "P2"}, ("ACC18", "OBR-18")),
        ({"filler": "F3^RIS", "placer": "P2^HIS"}, ("F3", "OBR-3")),
        ({"placer": "P2^HIS"}, ("P2", "OBR-2")),
        ({}, (None, None)),
    ],
)
def test_the_accession_number_falls_back_from_obr_18_to_obr_3_to_obr_2(
    fields: dict[str, str], expected: tuple[str | None, str | None]
) -> None:
    report = only_report(message(obr(**fields)))
    assert (report.accession_number, report.accession_field) == expected


def test_the_accession_fields_and_their_order_are_a_parameter() -> None:
    data = message(obr(accession="ACC18", placer="P2")).encode()
    (report,) = read_hl7(data, tz=PARIS, accession_fields=("OBR-2", "OBR-18"))
    assert isinstance(report, Hl7Report) and report.accession_number == "P2"
    with pytest.raises(ValueError, match="OBR-<n>"):
        read_hl7(data, tz=PARIS, accession_fields=("PID-3",))


def test_the_report_datetime_is_obr_22_then_the_first_obx_14_then_msh_7() -> None:
    text = obx(1, "TX", "T", "ok", observed="20250116090000")
    later = obx(2, "TX", "T", "ok", observed="20250117090000")
    cases = [
        (obr(reported="20250115113000"), datetime(2025, 1, 15, 11, 30, tzinfo=PARIS)),
        (obr(), datetime(2025, 1, 16, 9, 0, tzinfo=PARIS)),
    ]
    for header, expected in cases:
        assert only_report(message(header, text, later)).report_datetime == expected
    bare = only_report(message(obr(), obx(1, "TX", "T", "ok"), sent="202501151200"))
    assert bare.report_datetime == datetime(2025, 1, 15, 12, 0, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20250115101500+0100", datetime(2025, 1, 15, 10, 15, tzinfo=timezone(timedelta(hours=1)))),
        (
            "20250115101500-0330",
            datetime(2025, 1, 15, 10, 15, tzinfo=timezone(-timedelta(hours=3.5))),
        ),
        ("20250715101500", datetime(2025, 7, 15, 8, 15, tzinfo=UTC)),  # Paris summer
        ("20250115101500", datetime(2025, 1, 15, 9, 15, tzinfo=UTC)),  # Paris winter
        ("202501151015", datetime(2025, 1, 15, 10, 15, tzinfo=PARIS)),
        ("2025011510", datetime(2025, 1, 15, 10, tzinfo=PARIS)),
        ("20250115", datetime(2025, 1, 15, tzinfo=PARIS)),
        ("2025", datetime(2025, 1, 1, tzinfo=PARIS)),
        ("20250115101530.25", datetime(2025, 1, 15, 10, 15, 30, 250000, tzinfo=PARIS)),
        ("20250115101500^S", datetime(2025, 1, 15, 10, 15, tzinfo=PARIS)),  # v2.4 TS precision
    ],
)
def test_hl7_datetimes_are_aware_with_their_offset_or_the_given_timezone(
    text: str, expected: datetime
) -> None:
    report = only_report(message(obr(exam=text)))
    assert report.exam_datetime == expected
    assert report.exam_datetime is not None and report.exam_datetime.tzinfo is not None


@pytest.mark.parametrize(
    "text", ["20251301", "2025-01-15", "20250230", "2025011525", "20250115+2500", "0000"]
)
def test_an_invalid_datetime_makes_the_report_an_error_naming_field_and_value(text: str) -> None:
    error = only_error(message(obr(exam=text), control="D1"))
    assert error.obr_index == 1
    assert error.reason.startswith(f"OBR-7 {text!r} is not an HL7 datetime")
    assert str(error).startswith("message 1 (control id D1), OBR 1: OBR-7")


def test_an_invalid_obx_14_names_its_obx() -> None:
    error = only_error(message(obr(), obx(1, "TX", "T", "a"), obx(2, "TX", "T", "b", observed="x")))
    assert error.reason.startswith("OBX-14 of OBX 2 'x' is not an HL7 datetime")


def test_each_obr_is_a_report_with_its_own_obx_and_a_bad_one_does_not_spoil_the_other() -> None:
    items = read(
        message(
            PID,
            obr(accession="A1"),
            obx(1, "TX", "T", "premier"),
            obr(accession="A2", reported="2025011599"),
            obx(1, "TX", "T", "second"),
            obr(accession="A3"),
            obx(1, "TX", "T", "troisième"),
        )
    )
    assert [type(i) for i in items] == [Hl7Report, Hl7Error, Hl7Report]
    first, error, third = items
    assert isinstance(first, Hl7Report) and isinstance(third, Hl7Report)
    assert (first.obr_index, first.report_text) == (1, "premier")
    assert (third.obr_index, third.accession_number, third.report_text) == (3, "A3", "troisième")
    assert isinstance(error, Hl7Error) and error.obr_index == 2 and "OBR-22" in error.reason


# -------------------------------------------------------------- study UID


@pytest.mark.parametrize(
    "uid_obx",
    [
        obx(9, "RP", "113014^DICOM Study^DCM", "1.2.250.1.59.1.2^PACS^Application^DICOM"),
        obx(9, "ST", "SUID^Study Instance UID^L", "1.2.250.1.59.1.2"),
    ],
)
def test_a_study_instance_uid_obx_gives_the_uid_and_is_not_report_text(uid_obx: str) -> None:
    report = only_report(message(obr(), uid_obx, obx(1, "TX", "T", "Normal.")))
    assert report.study_instance_uid == "1.2.250.1.59.1.2"
    assert report.report_text == "Normal."


def test_a_malformed_study_uid_is_an_error() -> None:
    error = only_error(message(obr(), obx(1, "ST", "113014", "1.2.abc")))
    assert "study instance UID '1.2.abc' is not a DICOM UID" in error.reason


# ------------------------------------------------------------- outcomes


def test_a_final_report_is_an_outcome_at_its_report_datetime() -> None:
    record = to_outcome_record(
        only_report(radiology()), positive, source="report", target="pleural_effusion"
    )
    assert record == OutcomeRecord(
        outcome="positive",
        source="report",
        outcome_datetime=datetime(2025, 1, 15, 11, 30, tzinfo=PARIS),
        accession_number="ACC2025001",
        target="pleural_effusion",
        report_text=RADIOLOGY_TEXT,
    )


def test_a_corrected_report_is_an_outcome_later_than_the_final_one() -> None:
    final = only_report(radiology(status="F"))
    corrected = only_report(radiology(status="C").replace("20250115113000", "20250116080000"))
    negative = to_outcome_record(corrected, lambda _: "negative", source="report")
    first = to_outcome_record(final, positive, source="report")
    assert isinstance(negative, OutcomeRecord) and isinstance(first, OutcomeRecord)
    assert negative.outcome == "negative" and negative.outcome_datetime > first.outcome_datetime


@pytest.mark.parametrize(
    ("status", "meaning"),
    [("P", "preliminary"), ("I", "in progress"), ("R", "not verified"), ("X", "cancelled")],
)
def test_a_not_final_report_is_not_ground_truth(status: str, meaning: str) -> None:
    reason = to_outcome_record(only_report(radiology(status=status)), positive, source="report")
    assert isinstance(reason, str)
    assert f"report status {status!r}" in reason and meaning in reason and "not final" in reason


def test_a_report_without_accession_nor_study_uid_is_no_outcome() -> None:
    report = only_report(message(obr(), obx(1, "TX", "T", "épanchement")))
    reason = to_outcome_record(report, positive, source="report")
    assert isinstance(reason, str) and "neither an accession number" in reason


def test_a_study_uid_alone_links_the_outcome() -> None:
    report = only_report(
        message(obr(), obx(1, "ST", "113014", "1.2.3"), obx(2, "TX", "T", "épanchement"))
    )
    record = to_outcome_record(report, positive, source="report")
    assert isinstance(record, OutcomeRecord)
    assert (record.study_instance_uid, record.accession_number) == ("1.2.3", None)


def test_a_report_silent_about_the_target_is_no_outcome() -> None:
    report = only_report(radiology())
    reason = to_outcome_record(report, lambda _: None, source="report", target="fracture")
    assert reason == "the report text states nothing about fracture"


def test_a_report_without_text_is_no_outcome() -> None:
    report = only_report(message(obr(accession="A1"), obx(1, "NM", "SIZE", "3")))
    reason = to_outcome_record(report, positive, source="report")
    assert isinstance(reason, str) and "no text" in reason


def test_a_bad_source_or_classifier_is_a_programming_error() -> None:
    report = only_report(radiology())
    with pytest.raises(ValueError, match="source"):
        to_outcome_record(report, positive, source="radiology")
    with pytest.raises(ValueError, match="classify returned 'yes'"):
        to_outcome_record(report, lambda _: "yes", source="report")


# ------------------------------------------------------------ AI results


def ai_message(*results: str, software: str = "SFT|Vendor|2.3.1|ChestAI|b42") -> str:
    return message(
        software,
        PID,
        obr(accession="ACC9", exam="20250115101500", reported="20250115101700"),
        *results,
        app="CHESTAI^1.2.250.99^ISO",
    )


def test_an_ai_result_oru_is_a_prediction() -> None:
    report = only_report(
        ai_message(
            obx(1, "CWE", "AI_RESULT^Résultat IA", "POSITIVE^Positif^L"),
            obx(2, "NM", "AI_SCORE^Score", "87", units="%"),
        )
    )
    record = to_prediction_record(report, Hl7AiMapping(target="pneumothorax"))
    assert record == PredictionRecord(
        device_id="CHESTAI",
        device_version="2.3.1",
        exam_datetime=datetime(2025, 1, 15, 10, 15, tzinfo=PARIS),
        ai_result="positive",
        accession_number="ACC9",
        patient_id="IPP123456",
        target="pneumothorax",
        ai_score=0.87,
        ai_datetime=datetime(2025, 1, 15, 10, 17, tzinfo=PARIS),
        ai_score_scale="unit",  # units % made it 0..1
    )


def test_vendor_values_identifiers_and_device_fields_are_configurable() -> None:
    report = only_report(
        ai_message(
            obx(1, "ST", "RES", "suspect", observed="20250115101600"),
            obx(2, "NM", "PROB", "0.42"),
            obx(3, "ST", "DEVVER", "v7"),
            software="",
        )
    )
    mapping = Hl7AiMapping(
        result_identifier="RES",
        result_values=(("SUSPECT", "positive"), ("RAS", "negative")),
        score_identifier="PROB",
        device_id_from="MSH-4",
        device_version_from="OBX:DEVVER",
    )
    record = to_prediction_record(report, mapping)
    assert isinstance(record, PredictionRecord)
    assert (record.device_id, record.device_version, record.ai_result) == (
        "HOPITAL",
        "v7",
        "positive",
    )
    assert (record.ai_score, record.ai_score_scale) == (0.42, None)  # the device's scale
    assert record.ai_datetime == datetime(2025, 1, 15, 10, 16, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("results", "software", "expected"),
    [
        ((obx(1, "TX", "OTHER", "x"),), "SFT|V|1", "no OBX 'AI_RESULT'"),
        ((obx(1, "CE", "AI_RESULT", "MAYBE"),), "SFT|V|1", "AI result 'MAYBE'"),
        ((obx(1, "CE", "AI_RESULT", "NEGATIVE"),), "", "no device version in SFT-2"),
        (
            (obx(1, "CE", "AI_RESULT", "NEGATIVE"), obx(2, "NM", "AI_SCORE", "inf")),
            "SFT|V|1",
            "not a finite number",
        ),
        (
            (obx(1, "CE", "AI_RESULT", "NEGATIVE"), obx(2, "NM", "AI_SCORE", "120", units="%")),
            "SFT|V|1",
            "outside 0..100",
        ),
        (
            (obx(1, "CE", "AI_RESULT", "NEGATIVE"), obx(2, "NM", "AI_SCORE", "high")),
            "SFT|V|1",
            "not a number",
        ),
        ((obx(1, "CE", "AI_RESULT", "POSITIVE", status="W"),), "SFT|V|1", "no OBX 'AI_RESULT'"),
    ],
)
def test_an_incomplete_ai_result_gives_the_reason(
    results: tuple[str, ...], software: str, expected: str
) -> None:
    reason = to_prediction_record(only_report(ai_message(*results, software=software)))
    assert isinstance(reason, str) and expected in reason


def test_an_ai_result_without_exam_time_or_link_key_is_no_prediction() -> None:
    result = obx(1, "CE", "AI_RESULT", "NEGATIVE")
    no_exam = only_report(message("SFT|V|1", obr(accession="A", exam=""), result))
    no_key = only_report(message("SFT|V|1", obr(), result))
    assert to_prediction_record(no_exam) == "no exam datetime (OBR-7)"
    reason = to_prediction_record(no_key)
    assert isinstance(reason, str) and "neither an accession number" in reason


def test_an_ai_mapping_with_an_unknown_source_or_result_is_refused() -> None:
    with pytest.raises(ValueError, match="device_id_from"):
        Hl7AiMapping(device_id_from="PID-3")
    with pytest.raises(ValueError, match="result_values"):
        Hl7AiMapping(result_values=(("YES", "true"),))


# -------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"MSH|^~\\&|RIS|", True),
        (b"\xef\xbb\xbf\x0b  \r\nMSH|^~\\&|RIS", True),
        (b"BHS|^~\\&|RIS", True),
        (b"FHS|^~\\&#|RIS", True),
        (b"MSH|^~", False),
        (b"accession_number,outcome\n", False),
        (b'{"resourceType": "Bundle"}', False),
        (b"\x00\x00\x00\x00DICM", False),
        (b"", False),
    ],
)
def test_looks_like_hl7_recognises_the_start_of_a_message_or_batch(
    head: bytes, expected: bool
) -> None:
    assert looks_like_hl7(head) is expected


# -------------------------------------------------------------------- fuzz


SEEDS = [
    SAMPLE.read_bytes(),
    radiology().encode(),
    radiology("8859/1").encode("latin-1"),
    ai_message(
        obx(1, "CE", "AI_RESULT", "POSITIVE"), obx(2, "NM", "AI_SCORE", "5", units="%")
    ).encode(),
]
HL7ISH = st.text(alphabet="MSHOBRXPID|^~\\&\r\n\x0b\x1c0123456789.+-FTCE ", max_size=300)


def check_items(items: list[Hl7Item]) -> None:
    for item in items:
        assert isinstance(item, (Hl7Report, Hl7Error))
        if isinstance(item, Hl7Error):
            assert str(item) and item.reason
        else:
            to_outcome_record(item, positive, source="report")
            to_prediction_record(item)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    check_items(read(data))
    looks_like_hl7(data)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")) | st.just(b""), HL7ISH
)
def test_hl7_like_text_never_raises(noise: bytes, text: str) -> None:
    check_items(read(b"MSH|^~\\&|" + noise + text.encode()))


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 6), st.binary(max_size=6)), max_size=5
    ),
)
def test_mutated_real_and_synthetic_messages_never_raise(
    seed: bytes, edits: list[tuple[int, int, bytes]]
) -> None:
    data = seed
    for position, cut, insert in edits:
        at = position % (len(data) + 1)
        data = data[:at] + insert + data[at + cut :]
    check_items(read(data))
