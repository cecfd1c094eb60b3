"""'Not mentioned' is a state, not bad data: a final report silent about a target.

A text read for a target it never speaks of decides ``not_mentioned`` (method, no
evidence); rows store it, final HL7 and FHIR reports of a source configured for the
target give it, preliminary reports give nothing. Decided outcomes keep where they
were decided: section, whole sentence (bounded), qualifiers (bounded).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors import OUTCOMES, OutcomeRecord, RowResult, SourceMapping, read_outcomes
from connectors.decisions import MAX_QUALIFIERS, MAX_SENTENCE, NOT_MENTIONED, decide_outcome
from tests.connectors import message_samples as samples


def _results(chunks: Iterator[list[RowResult]]) -> list[RowResult]:
    return [result for chunk in chunks for result in chunk]


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_not_mentioned_is_a_canonical_outcome() -> None:
    assert "not_mentioned" in OUTCOMES and NOT_MENTIONED == "not_mentioned"


def test_a_text_silent_about_a_target_decides_not_mentioned_without_evidence() -> None:
    text = "Radiographie du genou droit, face et profil. Épanchement intra-articulaire."
    (decision,) = decide_outcome(text, (), source="report", targets=("fracture",))
    assert (decision.target, decision.outcome, decision.evidence) == (
        "fracture",
        "not_mentioned",
        "",
    )
    assert decision.method.startswith("report_text_rules/")
    assert (decision.section, decision.sentence, decision.qualifiers) == (None, None, None)


def test_a_blank_text_decides_nothing() -> None:
    assert decide_outcome("   \n ", (), source="report", targets=("fracture",)) == []


def test_a_negated_mention_keeps_its_sentence_section_and_negation() -> None:
    text = (
        "Radiographie du poignet droit.\n"
        "Résultat : trame osseuse normale.\n"
        "Conclusion : pas de fracture visible du radius distal."
    )
    (decision,) = decide_outcome(text, (), source="report", targets=("fracture",))
    assert decision.outcome == "negative"
    assert decision.section == "conclusion"
    assert decision.sentence is not None and "pas de fracture" in decision.sentence
    assert "Radiographie" not in decision.sentence  # the sentence, not the report
    assert decision.qualifiers is not None and decision.qualifiers.startswith("negated")
    assert "pas de" in decision.qualifiers


def test_the_sentence_and_qualifiers_are_bounded() -> None:
    filler = ", ".join(f"sans anomalie du segment {i}" for i in range(60))
    text = f"Conclusion : {filler}, fracture du radius distal, {filler}."
    (decision,) = decide_outcome(text, (), source="report", targets=("fracture",))
    assert decision.outcome == "positive"
    assert decision.sentence is not None and len(decision.sentence) <= MAX_SENTENCE
    assert "fracture" in decision.sentence  # cut around the deciding words
    assert decision.qualifiers is None or len(decision.qualifiers) <= MAX_QUALIFIERS


def test_a_pathology_result_naming_no_diagnosis_decides_nothing() -> None:
    text = "Fragment de muqueuse bronchique."
    assert decide_outcome(text, (), source="pathology", targets=("lung_nodule",)) == []


def test_a_given_not_mentioned_outcome_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "accession_number,outcome,source,outcome_datetime,target\n"
        "A1,not_mentioned,report,2025-01-20T08:00:00Z,fracture\n",
        encoding="utf-8",
    )
    (row,) = _results(read_outcomes(path))
    assert isinstance(row.record, OutcomeRecord) and row.record.outcome == "not_mentioned"
    assert row.record.method is None  # given as such


SILENT = "Genou droit : épanchement articulaire."
HL7_SILENT = samples._report("R7", "HL7-ACC-7", "F", SILENT).encode()
HL7_SILENT_PRELIMINARY = samples._report("R8", "HL7-ACC-8", "P", SILENT).encode()


def test_a_final_hl7_report_silent_about_the_configured_target_is_not_mentioned(
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, "r.hl7", HL7_SILENT)
    configured = SourceMapping(defaults={"target": "fracture"})
    (result,) = _results(read_outcomes(path, configured, fmt="hl7"))
    assert isinstance(result.record, OutcomeRecord), result.error
    assert (result.record.outcome, result.record.target, result.record.evidence) == (
        "not_mentioned",
        "fracture",
        None,
    )
    # A source reading every target records only what a report speaks of.
    (unconfigured,) = _results(read_outcomes(path, fmt="hl7"))
    assert unconfigured.record is None and "states nothing" in (unconfigured.error or "")


def test_a_preliminary_hl7_report_gives_no_outcome(tmp_path: Path) -> None:
    path = _file(tmp_path, "p.hl7", HL7_SILENT_PRELIMINARY)
    configured = SourceMapping(defaults={"target": "fracture"})
    (result,) = _results(read_outcomes(path, configured, fmt="hl7"))
    assert result.record is None and "preliminary" in (result.error or "")


@pytest.mark.parametrize("status", ["final", "preliminary"])
def test_a_fhir_report_silent_about_the_configured_target(status: str, tmp_path: Path) -> None:
    report = samples._diagnostic_report("dr-9", status, "Emphysème centrolobulaire.")
    report["presentedForm"] = []
    path = _file(tmp_path, "r.json", samples._bundle(samples._study(), report))
    configured = SourceMapping(defaults={"target": "fracture"})
    results = [r for r in _results(read_outcomes(path, configured, fmt="fhir"))]
    (result,) = [r for r in results if r.record is not None or "dr-9" in (r.error or "")]
    if status == "final":
        assert isinstance(result.record, OutcomeRecord), result.error
        assert (result.record.outcome, result.record.target) == ("not_mentioned", "fracture")
    else:
        assert result.record is None and "preliminary" in (result.error or "")


def test_a_discounted_mention_is_not_mentioned_with_its_sentence_and_qualifiers() -> None:
    """A thyroid nodule is no lung nodule: not mentioned, but the reviewer sees why."""
    text = "Scanner cervico-thoracique.\nConclusion : nodule thyroïdien de 12 mm."
    (decision,) = decide_outcome(text, (), source="report", targets=("lung_nodule",))
    assert (decision.outcome, decision.evidence) == ("not_mentioned", "")
    assert decision.section == "conclusion"
    assert decision.sentence is not None and "thyroïdien" in decision.sentence
    assert decision.qualifiers is not None and decision.qualifiers.startswith("other_organ")
