"""Ingesting clinical messages (DICOM SR, HL7 v2, FHIR) keeps the ingestion's guarantees.

On SQLite and PostgreSQL: the records land with patient identifiers pseudonymised
and outcomes carrying how they were read; what cannot be a record is quarantined
with its file, message and reason; ingesting the same files again adds nothing;
the command line walks folders and recognises each file's format by its content.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connectors.mapping import SourceMapping
from monitor.cli import cli
from monitor.ingest import ingest_file
from monitor.models import Outcome, Prediction, QuarantinedRow
from monitor.registry import import_registry, parse_registry
from monitor.storage import Database
from tests.connectors import message_samples as samples

KEY = b"messages-test-key-0123456789"


@pytest.fixture
def devices(database: Database) -> Database:
    with database.session.begin() as session:
        import_registry(session, parse_registry(samples.REGISTRY), actor="test")
    return database


def _inbox(folder: Path) -> dict[str, Path]:
    files = {
        "sr": folder / "ai" / "xr" / "study1.dcm",
        "hl7_ai": folder / "ai" / "node.hl7",
        "fhir_ai": folder / "fhir-ai" / "bundle.json",
        "hl7_reports": folder / "reports" / "ris-batch.txt",
        "fhir_reports": folder / "reports" / "fhir" / "export.ndjson.json",
    }
    data = {
        "sr": samples.dicom_sr(),
        "hl7_ai": samples.HL7_AI,
        "fhir_ai": samples.FHIR_AI,
        "hl7_reports": samples.HL7_REPORTS,
        "fhir_reports": samples.FHIR_REPORTS,
    }
    for name, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[name])
    return files


def _count(database: Database, model: type[Prediction] | type[Outcome]) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_messages_land_pseudonymised_and_quarantined_with_reasons_once(
    devices: Database, tmp_path: Path
) -> None:
    files = _inbox(tmp_path / "inbox")
    fhir_ai = SourceMapping(columns=samples.FHIR_AI_COLUMNS)
    runs = [
        ("predictions", files["sr"], None),
        ("predictions", files["hl7_ai"], None),
        ("predictions", files["fhir_ai"], fhir_ai),
        ("outcomes", files["hl7_reports"], None),
        ("outcomes", files["fhir_reports"], None),
    ]
    reports = [
        ingest_file(devices, path, kind, mapping=mapping, pseudonym_key=KEY, fmt="auto")  # type: ignore[arg-type]
        for kind, path, mapping in runs
    ]
    assert [(r.accepted, r.quarantined) for r in reports] == [
        (1, 0),
        (1, 0),
        (1, 0),
        (2, 2),
        (1, 2),
    ]
    with devices.session() as session:
        predictions = session.scalars(select(Prediction).order_by(Prediction.id)).all()
        assert {(p.device_id, p.accession_number, p.ai_result) for p in predictions} == {
            ("fracture-xr", "SR-ACC-1", "positive"),
            ("fracture-xr", "HL7-ACC-1", "positive"),
            ("nodule-ct", "FHIR-ACC-1", "positive"),
        }
        sr = next(p for p in predictions if p.accession_number == "SR-ACC-1")
        assert sr.ai_score == pytest.approx(0.83) and sr.body_part == "WRIST"
        assert sr.patient_pseudonym and "IPP-SR-0001" not in sr.patient_pseudonym
        outcomes = session.scalars(select(Outcome).order_by(Outcome.accession_number)).all()
        assert [(o.accession_number, o.target, o.outcome) for o in outcomes] == [
            ("FHIR-ACC-1", "lung_nodule", "positive"),
            ("HL7-ACC-1", "fracture", "positive"),
            ("HL7-ACC-2", "fracture", "negative"),
        ]
        for outcome in outcomes:
            assert outcome.method and outcome.method.startswith("report_text_rules/v2 fr")
            assert outcome.evidence
        assert next(o for o in outcomes if o.accession_number == "HL7-ACC-1").method.endswith(
            "conclusion"
        )
        quarantined = session.scalars(select(QuarantinedRow)).all()
        reasons = sorted(q.reason for q in quarantined)
        assert len(reasons) == 4
        assert any("preliminary" in r and "message 3" in r for r in reasons)
        assert any("without OBR" in r for r in reasons)
        assert any("Patient resource is not read" in r for r in reasons)
        for row in quarantined:
            assert row.source_path.endswith((".txt", ".json"))
            assert "MARTIN" not in str(row.raw_row) and "IPP-HL7-0042" not in str(row.raw_row)
    # The same files again: nothing new, nothing quarantined twice.
    before = (_count(devices, Prediction), _count(devices, Outcome))
    for kind, path, mapping in runs:
        again = ingest_file(devices, path, kind, mapping=mapping, pseudonym_key=KEY, fmt="auto")  # type: ignore[arg-type]
        assert again.accepted == 0
    assert (_count(devices, Prediction), _count(devices, Outcome)) == before
    with devices.session() as session:
        assert session.scalar(select(func.count()).select_from(QuarantinedRow)) == 4


def test_the_command_walks_folders_and_detects_formats(
    devices: Database, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _inbox(tmp_path / "inbox")
    files["fhir_ai"].unlink()  # FHIR AI results need a configured source (their code)
    monkeypatch.setenv("DMN_MONITOR_PSEUDONYM_KEY", KEY.decode())
    runner = CliRunner()
    base = ["--db", db_url]
    ai = runner.invoke(cli, ["ingest", "predictions", str(tmp_path / "inbox" / "ai"), *base])
    assert ai.exit_code == 0, ai.output
    assert ai.output.count("accepted 1") == 2
    reports = runner.invoke(cli, ["ingest", "outcomes", str(tmp_path / "inbox" / "reports"), *base])
    assert reports.exit_code == 0, reports.output
    assert "ris-batch.txt" in reports.output and "export.ndjson.json" in reports.output
    assert _count(devices, Outcome) == 3
    assert "quarantine list" in reports.output


def test_a_configured_feed_reads_with_its_own_vocabulary(
    devices: Database, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "fracture-chu.yaml").write_text(
        "target: fracture\nfr:\n  terms:\n    - fêlure\n", encoding="utf-8"
    )
    (tmp_path / "ris").mkdir()
    (tmp_path / "ris" / "batch-001.txt").write_bytes(
        b"MSH|^~\\&|RIS|CHU|DMN|MON|20250301090000||ORU^R01|R9|P|2.5|||||FRA|UNICODE UTF-8\r"
        b"OBR|1|||RXPOI|||20250210100000|||||||||||RX-ACC-9||||20250301083000|||F\r"
        + "OBX|1|TX|REP||Conclusion : fêlure du radius.||||||F\r".encode()
    )
    config = tmp_path / "dmn-monitor.toml"
    config.write_text(
        f"""
[database]
url = "{db_url}"
[[sources]]
name = "ris"
kind = "outcomes"
path = "ris/*.txt"
format = "hl7"
[sources.defaults]
target = "fracture"
[sources.vocabularies]
fracture = ["vocab/fracture-chu.yaml"]
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["ingest", "sources", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "accepted 1" in result.output
    with devices.session() as session:
        outcome = session.scalars(select(Outcome)).one()
    assert (outcome.accession_number, outcome.outcome, outcome.evidence) == (
        "RX-ACC-9",
        "positive",
        "fêlure",
    )
