"""Canonical outcome rows without an outcome: the outcome is read from their report text.

The reading is that of the clinical message readers (HL7, FHIR): same outcome, same
``method``, same ``evidence``, with the deciding sentence, its section and qualifiers.
A text that never speaks of the row's target gives ``not_mentioned``; a text that
speaks of no target when the row names none, or of several, is quarantined with what
it lacked.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import (
    OUTCOME_COLUMNS,
    ConnectorError,
    OutcomeRecord,
    RowResult,
    SourceMapping,
    read_outcomes,
)
from connectors.decisions import decide_outcome
from tests.connectors.message_samples import HL7_REPORTS

ROW = {
    "accession_number": "ACC1",
    "source": "report",
    "outcome_datetime": "2025-01-20T08:00:00Z",
}


def _write(path: Path, rows: Iterable[dict[str, str]], columns: Iterable[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rows(chunks: Iterator[list[RowResult]]) -> list[RowResult]:
    return [row for chunk in chunks for row in chunk]


def _read(tmp_path: Path, *rows: dict[str, str], **kwargs: object) -> list[RowResult]:
    path = _write(tmp_path / "o.csv", rows, OUTCOME_COLUMNS)
    return _rows(read_outcomes(path, **kwargs))  # type: ignore[arg-type]


def _outcomes(results: list[RowResult]) -> list[str | None]:
    return [r.record.outcome if isinstance(r.record, OutcomeRecord) else None for r in results]


def _one(tmp_path: Path, text: str, target: str = "", **changes: str) -> RowResult:
    (row,) = _read(tmp_path, {**ROW, "target": target, "report_text": text, **changes})
    return row


@pytest.mark.parametrize(
    ("text", "target", "outcome", "method", "evidence"),
    [
        (
            "Radiographie du poignet droit.\nConclusion : fracture du radius distal.",
            "fracture",
            "positive",
            "report_text_rules/v2 fr conclusion",
            "fracture",
        ),
        (
            "Pas de fracture.",
            "fracture",
            "negative",
            "report_text_rules/v2 fr full_text",
            "Pas de fracture",
        ),
        (
            "No fracture.",
            "fracture",
            "negative",
            "report_text_rules/v2 en full_text",
            "No fracture",
        ),
        (
            "Radiographie du poignet gauche, face et profil.\n"
            "Conclusion : doute sur une fracture du scaphoïde, contrôle à 10 jours.",
            "fracture",
            "indeterminate",
            "report_text_rules/v2 fr conclusion",
            "doute sur une fracture",
        ),
        (
            "Possible fracture of the base of the fifth metatarsal.",
            "fracture",
            "indeterminate",
            "report_text_rules/v2 en full_text",
            "Possible fracture",
        ),
        (
            # The conclusion decides, whatever the findings said before it.
            "Résultat : suspicion de fracture de la styloïde radiale.\n"
            "Conclusion : pas de lésion osseuse traumatique visible.",
            "fracture",
            "negative",
            "report_text_rules/v2 fr conclusion",
            "pas de lésion osseuse traumatique",
        ),
        (
            # The conclusion says nothing of a fracture: the findings decide.
            "Fracture de la clavicule gauche.\nConclusion : avis orthopédique.",
            "fracture",
            "positive",
            "report_text_rules/v2 fr findings",
            "Fracture",
        ),
        (
            "Indication : suspicion de fracture.\nExamen normal.",
            "fracture",
            "negative",
            "report_text_rules/v2 fr findings",
            "Examen normal",
        ),
        (
            "Scanner thoracique.\nConclusion : nodule pulmonaire de 9 mm du lobe moyen.",
            "lung_nodule",
            "positive",
            "report_text_rules/v2 fr conclusion",
            "nodule pulmonaire",
        ),
        (
            "CT chest.\nImpression: no pulmonary nodule.",
            "lung_nodule",
            "negative",
            "report_text_rules/v2 en conclusion",
            "no pulmonary nodule",
        ),
        (
            # A stated nodule with a follow-up advice is a nodule.
            "Conclusion : micronodule du lobe inférieur droit, à contrôler à 3 mois.",
            "lung_nodule",
            "positive",
            "report_text_rules/v2 fr conclusion",
            "micronodule",
        ),
        (
            "Conclusion : micronodule douteux du lobe inférieur droit, à contrôler à 3 mois.",
            "lung_nodule",
            "indeterminate",
            "report_text_rules/v2 fr conclusion",
            "micronodule douteux",
        ),
    ],
)
def test_an_empty_outcome_is_read_from_the_report_text_for_the_rows_target(
    tmp_path: Path, text: str, target: str, outcome: str, method: str, evidence: str
) -> None:
    row = _one(tmp_path, text, target)
    assert row.error is None
    assert isinstance(row.record, OutcomeRecord)
    # Where it was decided: the section (named at the end of the method), the sentence.
    assert row.record.section and (row.record.method or "").endswith(f" {row.record.section}")
    assert evidence in (row.record.sentence or "")
    assert row.record.reading in ("affirmed", "negated", "uncertain", "normal")
    stripped = replace(row.record, section=None, sentence=None, qualifiers=None, reading=None)
    assert stripped == OutcomeRecord(
        outcome=outcome,
        source="report",
        outcome_datetime=datetime(2025, 1, 20, 8, tzinfo=UTC),
        accession_number="ACC1",
        target=target,
        report_text=text,
        method=method,
        evidence=evidence,
    )
    # Exactly what the message readers decide for the same text.
    (decision,) = decide_outcome(text, (), source="report", targets=(target,))
    assert (decision.outcome, decision.method, decision.evidence) == (outcome, method, evidence)


def test_a_row_reads_its_text_as_the_hl7_reader_reads_the_same_report(tmp_path: Path) -> None:
    hl7_path = tmp_path / "reports.hl7"
    hl7_path.write_bytes(HL7_REPORTS)
    from_hl7 = [
        r.record for r in _rows(read_outcomes(hl7_path)) if isinstance(r.record, OutcomeRecord)
    ]
    assert len(from_hl7) == 2
    rows = [
        {**ROW, "accession_number": r.accession_number or "", "report_text": r.report_text or ""}
        for r in from_hl7
    ]
    from_csv = [r.record for r in _read(tmp_path, *rows)]
    for hl7, row in zip(from_hl7, from_csv, strict=True):
        assert isinstance(row, OutcomeRecord)
        assert (row.outcome, row.target, row.method, row.evidence) == (
            hl7.outcome,
            hl7.target,
            hl7.method,
            hl7.evidence,
        )
        assert row.method and row.evidence  # they decided something


def test_a_given_outcome_is_kept_as_given_beside_its_text(tmp_path: Path) -> None:
    row = _one(tmp_path, "Pas de fracture.", "fracture", outcome="positive")
    assert isinstance(row.record, OutcomeRecord)
    assert (row.record.outcome, row.record.method, row.record.evidence) == ("positive", None, None)
    assert row.record.report_text == "Pas de fracture."


def test_without_a_target_the_text_names_the_one_it_speaks_of(tmp_path: Path) -> None:
    fracture = _one(tmp_path, "Conclusion : pas de fracture du col fémoral.")
    nodule = _one(tmp_path, "Conclusion : nodule pulmonaire spiculé du lobe supérieur gauche.")
    assert isinstance(fracture.record, OutcomeRecord)
    assert (fracture.record.target, fracture.record.outcome) == ("fracture", "negative")
    assert isinstance(nodule.record, OutcomeRecord)
    assert (nodule.record.target, nodule.record.outcome) == ("lung_nodule", "positive")


def test_a_default_target_chooses_among_what_the_text_speaks_of(tmp_path: Path) -> None:
    text = "Examen normal."  # normal for every target: which one is meant?
    (ambiguous,) = _read(tmp_path, {**ROW, "report_text": text})
    assert ambiguous.record is None
    assert ambiguous.error == (
        "outcome is missing and report_text speaks of fracture and lung_nodule: give the "
        "row's target (or a default target) to say which one this outcome is for"
    )
    mapping = SourceMapping(defaults={"target": "lung_nodule"})
    (chosen,) = _read(tmp_path, {**ROW, "report_text": text}, mapping=mapping)
    assert isinstance(chosen.record, OutcomeRecord)
    assert (chosen.record.target, chosen.record.outcome) == ("lung_nodule", "negative")
    assert chosen.record.evidence == "Examen normal"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Radiographie du genou droit, face et profil.", "fracture"),
        ("Pas de fracture du radius.", "lung_nodule"),
    ],
)
def test_a_text_silent_about_the_rows_target_is_not_mentioned(
    tmp_path: Path, text: str, target: str
) -> None:
    """Not mentioned is a state, not bad data: stored, with no evidence."""
    row = _one(tmp_path, text, target)
    assert row.error is None and isinstance(row.record, OutcomeRecord)
    assert (row.record.outcome, row.record.target, row.record.evidence) == (
        "not_mentioned",
        target,
        None,
    )
    assert row.record.method and row.record.method.startswith("report_text_rules/")
    assert (row.record.section, row.record.sentence, row.record.qualifiers) == (None, None, None)


@pytest.mark.parametrize(
    ("text", "target", "reason"),
    [
        (
            "Contrôle à revoir en consultation.",
            "",
            "outcome is missing and report_text speaks of none of fracture, lung_nodule: "
            "give the row's target (or a default target) to record it as not mentioned for "
            "that target, or give the outcome",
        ),
        (
            "Pas de pneumothorax.",
            "pneumothorax",
            "outcome is missing and report_text cannot be read for the target "
            "shaped 'aaaaaaaaaaaa': the report-text rules know fracture, lung_nodule; "
            "give the outcome",
        ),
    ],
)
def test_a_text_that_decides_nothing_is_quarantined_with_what_it_lacked(
    tmp_path: Path, text: str, target: str, reason: str
) -> None:
    row = _one(tmp_path, text, target)
    assert (row.record, row.error) == (None, reason)
    assert row.raw["report_text"] == text


def test_a_pathology_row_is_read_with_the_pathology_rules(tmp_path: Path) -> None:
    text = "Biopsie pulmonaire : adénocarcinome invasif."
    row = _one(tmp_path, text, "lung_nodule", source="pathology")
    (decision,) = decide_outcome(text, (), source="pathology", targets=("lung_nodule",))
    assert isinstance(row.record, OutcomeRecord)
    assert (row.record.outcome, row.record.method, row.record.evidence) == (
        decision.outcome,
        decision.method,
        decision.evidence,
    )
    assert row.record.outcome == "positive"


def test_other_problems_of_the_row_are_listed_with_the_text_read(tmp_path: Path) -> None:
    (no_date,) = _read(tmp_path, {**ROW, "outcome_datetime": "", "report_text": "Pas de fracture."})
    assert no_date.error == "missing required field outcome_datetime"
    (no_source,) = _read(tmp_path, {**ROW, "source": "", "report_text": "Pas de fracture."})
    assert no_source.error == "missing required field source"
    (bad_outcome,) = _read(tmp_path, {**ROW, "outcome": "maybe", "report_text": "Pas de fracture."})
    assert bad_outcome.error is not None and bad_outcome.error.startswith(
        "outcome: a value shaped 'aaaaa'"
    )
    (blank,) = _read(tmp_path, {**ROW, "report_text": "   "})
    assert blank.error == "outcome is missing"


def test_the_outcome_column_is_still_required_even_when_texts_are_given(
    tmp_path: Path,
) -> None:
    """A misspelt or unmapped outcome column is a mistake to report, not a cue to read
    every outcome from the text: the column must exist, its cells may be empty."""
    row = {**ROW, "target": "fracture", "report_text": "Conclusion : fracture de la patella."}
    columns = [c for c in OUTCOME_COLUMNS if c != "outcome"]
    path = _write(tmp_path / "o.csv", [row], columns)
    with pytest.raises(ConnectorError, match="outcome \\(expected column 'outcome'\\)"):
        list(read_outcomes(path))
    with_column = _write(tmp_path / "with.csv", [row], OUTCOME_COLUMNS)
    assert _outcomes(_rows(read_outcomes(with_column))) == ["positive"]


def test_repeated_texts_give_the_same_reading_in_parquet_too(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = ["Conclusion : pas de fracture.", "Conclusion : fracture du calcanéus."] * 3
    table = pa.table(
        {
            "accession_number": [f"A{i}" for i in range(len(texts))],
            "outcome": [None] * len(texts),
            "source": ["report"] * len(texts),
            "outcome_datetime": ["2025-02-01T08:00:00Z"] * len(texts),
            "target": ["fracture"] * len(texts),
            "report_text": texts,
        }
    )
    pq.write_table(table, tmp_path / "o.parquet")
    results = _rows(read_outcomes(tmp_path / "o.parquet"))
    assert _outcomes(results) == ["negative", "positive"] * 3
    evidence = {r.record.evidence for r in results if isinstance(r.record, OutcomeRecord)}
    assert evidence == {"pas de fracture", "fracture"}


def test_a_vocabulary_of_the_source_extends_the_reading(tmp_path: Path) -> None:
    extra = tmp_path / "fracture-extra.yaml"
    extra.write_text("fr:\n  terms:\n    - trait de refend\n", encoding="utf-8")
    text = "Conclusion : trait de refend articulaire."
    plain = _one(tmp_path, text, "fracture")
    assert isinstance(plain.record, OutcomeRecord) and plain.record.outcome == "not_mentioned"
    mapping = SourceMapping(vocabularies={"fracture": (str(extra),)})
    (extended,) = _read(
        tmp_path, {**ROW, "target": "fracture", "report_text": text}, mapping=mapping
    )
    assert isinstance(extended.record, OutcomeRecord)
    assert (extended.record.outcome, extended.record.evidence) == ("positive", "trait de refend")


def test_an_unreadable_vocabulary_of_the_source_stops_the_file(tmp_path: Path) -> None:
    mapping = SourceMapping(vocabularies={"fracture": (str(tmp_path / "absent.yaml"),)})
    path = _write(
        tmp_path / "o.csv",
        [{**ROW, "target": "fracture", "report_text": "Fracture."}],
        OUTCOME_COLUMNS,
    )
    with pytest.raises(ConnectorError, match=r"o\.csv: .*absent\.yaml: cannot read the vocab"):
        list(read_outcomes(path, mapping))
