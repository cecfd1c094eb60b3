"""The demo's radiology reports come as synthetic French texts, read at ingestion.

``outcomes.csv`` leaves a report's outcome empty and gives its text; the connector
reads the outcome from the text, and it must be the outcome the generator meant,
row for row, so that every figure of the demo stays what it was. Synthetic texts
only: no name, no identifier.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from connectors import OUTCOME_COLUMNS, OutcomeRecord, read_outcomes
from connectors.decisions import decide_outcome
from monitor import demo_data
from monitor.demo_data import DemoData, DemoParameters, generate_demo, write_demo_files
from monitor.models import Outcome
from monitor.storage import open_database
from tests.monitor.replay import Replayed

METHOD = "report_text_rules/v2 fr conclusion"


@pytest.fixture(scope="module")
def year() -> DemoData:
    return generate_demo(DemoParameters())


@pytest.fixture(scope="module")
def written(year: DemoData, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    files = write_demo_files(year, tmp_path_factory.mktemp("demo"))
    return pd.read_csv(files.outcomes, dtype=str, keep_default_na=False)


def test_reports_give_a_text_and_no_outcome_the_other_sources_an_outcome(
    year: DemoData, written: pd.DataFrame
) -> None:
    assert list(written.columns) == list(OUTCOME_COLUMNS)
    report = written["source"] == "report"
    assert report.sum() > 30_000
    assert (written.loc[report, "outcome"] == "").all()
    assert (written.loc[report, "report_text"].str.len() > 40).all()
    assert (written.loc[~report, "report_text"] == "").all()
    assert (written.loc[~report, "outcome"] == year.outcomes.loc[~report, "outcome"]).all()
    texts = written.loc[report, "report_text"]
    fracture = written.loc[report, "target"] == "fracture"
    assert texts[fracture].str.startswith("Radiographie ").all()
    assert texts[~fracture].str.startswith("Scanner thoracique").all()
    assert texts.str.contains("\nConclusion : ", regex=False).all()
    # The rest of every row is the generated row, unchanged.
    others = [c for c in OUTCOME_COLUMNS if c not in ("outcome", "report_text")]
    expected = year.outcomes[others].fillna("").astype(str)
    pd.testing.assert_frame_equal(written[others], expected)


def test_every_report_reads_back_as_the_outcome_the_generator_meant(
    year: DemoData, tmp_path: Path
) -> None:
    files = write_demo_files(year, tmp_path / "demo")
    results = [row for chunk in read_outcomes(files.outcomes) for row in chunk]
    assert [r.error for r in results if r.error] == []
    records = [r.record for r in results]
    assert all(isinstance(r, OutcomeRecord) for r in records)
    read = pd.DataFrame(
        {
            "outcome": [r.outcome for r in records],  # type: ignore[union-attr]
            "target": [r.target for r in records],  # type: ignore[union-attr]
            "method": [r.method for r in records],  # type: ignore[union-attr]
            "evidence": [r.evidence for r in records],  # type: ignore[union-attr]
            "text": [r.report_text for r in records],  # type: ignore[union-attr]
        }
    )
    meant = year.outcomes
    assert len(read) == len(meant)
    assert (read["outcome"] == meant["outcome"]).all()
    assert (read["target"] == meant["target"]).all()
    report = (meant["source"] == "report").to_numpy()
    assert (read.loc[report, "method"] == METHOD).all()
    assert read.loc[~report, ["method", "evidence"]].isna().all().all()
    for evidence, text in read.loc[report, ["evidence", "text"]].itertuples(index=False):
        assert 0 < len(evidence) <= 300 and evidence in text
    # Every kind of report is there, for both devices.
    kinds = meant.loc[report].groupby(["target", "outcome"]).size()
    assert len(kinds) == 6 and kinds.min() > 100


def test_choosing_the_texts_draws_nothing_from_the_data_generator(
    year: DemoData, tmp_path: Path
) -> None:
    before = year.outcomes.copy()
    write_demo_files(year, tmp_path / "demo")
    pd.testing.assert_frame_equal(year.outcomes, before)  # the frame is not touched
    assert year.outcomes["report_text"].isna().all()
    again = generate_demo(DemoParameters())
    pd.testing.assert_frame_equal(again.outcomes, year.outcomes)
    pd.testing.assert_frame_equal(again.fracture_predictions, year.fracture_predictions)
    pd.testing.assert_frame_equal(again.nodule_predictions, year.nodule_predictions)
    # The texts are seeded too: the same parameters write the same file.
    first = (tmp_path / "demo" / "outcomes.csv").read_bytes()
    second = write_demo_files(again, tmp_path / "again").outcomes.read_bytes()
    assert first == second


def test_every_text_the_generator_can_write_states_its_outcome() -> None:
    """All templates, body parts, bones, sides, lobes and sizes, not only the drawn ones."""
    texts: list[tuple[str, str, str]] = []
    for outcome, reports in demo_data._XR_REPORTS.items():
        for findings, conclusion in reports:
            for exam, gender, bones in demo_data._RADIOGRAPHS.values():
                for bone in bones:
                    side = demo_data._SIDES[gender][0]
                    texts.append(
                        (
                            "fracture",
                            outcome,
                            f"Radiographie {exam} {side}, face et profil.\n"
                            f"Indication : {demo_data._XR_INDICATIONS[0]}.\n"
                            f"Résultat : {findings.format(bone=bone)}.\n"
                            f"Conclusion : {conclusion.format(bone=bone)}.",
                        )
                    )
    for outcome, reports in demo_data._CT_REPORTS.items():
        for findings, conclusion in reports:
            for lobe in demo_data._LOBES:
                for size in range(4, 26):
                    where = {"size": size, "lobe": lobe}
                    texts.append(
                        (
                            "lung_nodule",
                            outcome,
                            "Scanner thoracique sans injection.\n"
                            f"Indication : {demo_data._CT_INDICATIONS[0]}.\n"
                            f"Résultat : {findings.format(**where)}.\n"
                            f"Conclusion : {conclusion.format(**where)}.",
                        )
                    )
    assert len(texts) > 1000
    for target, outcome, text in texts:
        decided = decide_outcome(text, (), source="report", targets=(target,))
        assert [(d.outcome, d.method) for d in decided] == [(outcome, METHOD)], text


def test_the_texts_name_no_one_and_carry_no_identifier(
    year: DemoData, written: pd.DataFrame
) -> None:
    texts = written.loc[written["source"] == "report", "report_text"]
    # A few thousand templates filled in, not one text per patient.
    assert texts.nunique() < 3000 < len(texts)
    identifiers = {
        *year.outcomes["accession_number"].dropna(),
        *year.outcomes["study_instance_uid"].dropna(),
        *year.fracture_predictions["PatientID"].astype(str),
        *year.nodule_predictions["patient_id"].dropna().astype(str),
    }
    words = {word.strip(".,:;") for text in texts.unique() for word in text.split()}
    assert not words & identifiers
    assert not any(word[:1].isdigit() and len(word) > 2 for word in words)  # sizes in mm only


def test_the_ingested_demo_keeps_the_outcome_source_and_evidence_of_each_report(
    replayed_demo: Replayed,
) -> None:
    db = open_database(replayed_demo.url)
    try:
        with db.session() as session:
            stored = session.execute(
                select(
                    Outcome.accession_number,
                    Outcome.source,
                    Outcome.outcome,
                    Outcome.method,
                    Outcome.evidence,
                    Outcome.report_text_sha256,
                )
            ).all()
    finally:
        db.dispose()
    frame = pd.DataFrame(
        stored, columns=["accession_number", "source", "stored", "method", "evidence", "sha"]
    )
    meant = generate_demo(replayed_demo.params).outcomes
    joined = meant.merge(frame, on=["accession_number", "source"], validate="one_to_one")
    assert len(joined) == len(meant) == len(frame)
    assert (joined["stored"] == joined["outcome"]).all()
    report = joined["source"] == "report"
    assert (joined.loc[report, "method"] == METHOD).all()
    assert joined.loc[report, "evidence"].str.len().between(1, 300).all()
    assert joined.loc[report, "sha"].str.fullmatch("[0-9a-f]{64}").all()
    assert joined.loc[~report, ["method", "evidence", "sha"]].isna().all().all()
