"""A device's report-reading policy through ingestion, linking, history, evaluate and the
registry, on SQLite and PostgreSQL.

The reader stores, with each outcome read from a report, the status of the mention that
decided it (``reading``). By default an old fracture seen on the image, or a granuloma
named alone, is a negative reading (the report looked and states no current target), a
past history alone leaves the target unmentioned, and a nodular pattern counts as a
nodule. A device whose claim covers old findings or benign granulomas, or excludes
nodular patterns, says so in ``report_reading``; its cases are recounted when it changes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from monitor.cli import cli
from monitor.history import load_history, to_ns
from monitor.ingest import ingest_file
from monitor.linking import linked_cases
from monitor.models import Outcome
from monitor.registry import DeviceSpec, export_registry, get_device, import_registry
from monitor.storage import Database
from tests.monitor.synthetic import write_rows

TZ = ZoneInfo("Europe/Paris")
AS_OF = datetime(2025, 3, 31, 23, 59, 59, tzinfo=TZ)

# accession, device, AI result, report text
EXAMS = [
    (
        "F1",
        "frac",
        "positive",
        "Radiographie du gril costal.\nConclusion : fracture de la 6e côte.",
    ),
    ("F2", "frac", "positive", "Chest radiograph. Old healed left rib fractures."),
    ("F3", "frac", "negative", "Antécédent de fracture du fémur en 2019. Genou normal."),
    ("F4", "frac", "negative", "Radiographie du poignet.\nConclusion : pas de fracture."),
    ("N1", "nod", "positive", "CT chest. 6 mm nodule in the right upper lobe."),
    ("N2", "nod", "positive", "CT chest. Calcified granuloma in the right upper lobe."),
    ("N3", "nod", "positive", "CT chest. Biapical fibronodular scarring."),
    ("N4", "nod", "negative", "Scanner thoracique.\nConclusion : pas de nodule pulmonaire."),
]


@pytest.fixture
def ingested(registered: Database, tmp_path: Path) -> Database:
    predictions = [
        {
            "device_id": device,
            "device_version": "1.0",
            "exam_datetime": "2025-03-02T10:00:00",
            "ai_result": result,
            "accession_number": accession,
        }
        for accession, device, result, _ in EXAMS
    ]
    ingest_file(
        registered, write_rows(tmp_path / "p.csv", PREDICTION_COLUMNS, predictions), "predictions"
    )
    outcomes = [
        {
            "accession_number": accession,
            "source": "report",
            "outcome_datetime": "2025-03-03T18:00:00",
            "target": "fracture" if device == "frac" else "lung_nodule",
            "report_text": text,
        }
        for accession, device, _, text in EXAMS
    ]
    report = ingest_file(
        registered, write_rows(tmp_path / "o.csv", OUTCOME_COLUMNS, outcomes), "outcomes"
    )
    assert (report.accepted, report.quarantined) == (len(EXAMS), 0)
    return registered


def _statuses(db: Database) -> dict[str, str]:
    with db.session() as session:
        cases = linked_cases(session, AS_OF)
    return dict(zip(cases["accession_number"], cases["status"], strict=True))


def _set_reading(db: Database, device: str, **reading: str) -> dict[str, str]:
    with db.session.begin() as session:
        spec = get_device(session, device)
        document = {**spec.to_document(), "report_reading": reading}
        return import_registry(session, [DeviceSpec.model_validate(document)], actor="test")


def _evaluate(db: Database, device: str) -> tuple[int, ...]:
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        cli, ["evaluate", "--as-of", "2025-03-31", "--format", "json", "--db", url]
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    row = next(r for r in json.loads(result.stdout) if r["device_id"] == device)
    return tuple(row[k] for k in ("tp", "fp", "tn", "fn", "pending"))


def test_each_outcome_keeps_the_status_of_the_mention_that_decided(ingested: Database) -> None:
    with ingested.session() as session:
        stored = {o.accession_number: o for o in session.scalars(select(Outcome))}
    readings = {k: (o.outcome, o.reading) for k, o in stored.items()}
    assert readings == {
        "F1": ("positive", "affirmed"),
        "F2": ("negative", "old"),
        "F3": ("not_mentioned", "historical"),
        "F4": ("negative", "negated"),
        "N1": ("positive", "affirmed"),
        "N2": ("negative", "benign"),
        "N3": ("positive", "pattern"),
        "N4": ("negative", "negated"),
    }


def test_the_default_policy_reads_old_and_benign_findings_as_no_current_target(
    ingested: Database,
) -> None:
    assert _statuses(ingested) == {
        "F1": "tp",
        "F2": "fp",  # only an old fracture: no current one
        "F3": "pending",  # a past history: the exam is not spoken of
        "F4": "tn",
        "N1": "tp",
        "N2": "fp",  # a granuloma named alone
        "N3": "tp",  # a nodular pattern counts by default
        "N4": "tn",
    }


def test_a_device_policy_recounts_its_cases_everywhere(ingested: Database) -> None:
    before = _statuses(ingested)
    assert _set_reading(ingested, "frac", historical="positive") == {"frac": "updated"}
    assert _set_reading(ingested, "nod", benign="positive", nodular_pattern="ignore") == {
        "nod": "updated"
    }
    after = _statuses(ingested)
    assert after == {**before, "F2": "tp", "F3": "fn", "N2": "tp", "N3": "fp"}
    with ingested.session() as session:
        cases = linked_cases(session, AS_OF)
        for device in ("frac", "nod"):
            # Replays (history) see what linking sees.
            history = load_history(session, get_device(session, device), AS_OF, (18.0, 65.0))
            view = history.as_of(to_ns(AS_OF))
            truth = dict(zip(view.cases["prediction_id"], view.truth, strict=True))
            for row in cases[cases["device_id"] == device].itertuples():
                known = {"positive": 1, "negative": 0}.get(str(row.outcome), -1)
                assert truth[row.prediction_id] == known, row.accession_number
    # The stored cells (what evaluate reads) were recounted.
    assert _evaluate(ingested, "frac") == (2, 0, 1, 1, 0)
    assert _evaluate(ingested, "nod") == (2, 1, 1, 0, 0)
    assert _set_reading(ingested, "frac") == {"frac": "updated"}
    assert _evaluate(ingested, "frac") == (1, 1, 1, 0, 1)


def test_the_policy_round_trips_through_the_registry_yaml(registered: Database) -> None:
    _set_reading(registered, "frac", historical="positive")
    with registered.session() as session:
        spec = get_device(session, "frac")
        other = get_device(session, "nod")
    assert spec.report_reading.historical == "positive"
    assert other.report_reading.nodular_pattern == "positive"
    text = export_registry([spec, other])
    assert text.count("report_reading") == 1 and "historical: positive" in text
    document: dict[str, Any] = {**spec.to_document(), "report_reading": {"benign": "maybe"}}
    with pytest.raises(ValueError, match=r"report_reading\.benign"):
        DeviceSpec.model_validate(document)


def test_evaluate_shows_how_the_ground_truth_came_in_per_device_and_month(
    ingested: Database,
) -> None:
    url = ingested.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["evaluate", "--as-of", "2025-03-31", "--db", url])
    assert result.exit_code == 0, result.output + str(result.exception)
    section = result.stdout.split("ground truth per device and month", 1)[1]
    lines = {line.split()[0]: line.split() for line in section.splitlines() if "2025-03" in line}
    # device, month, decided, positive, negative, unmentioned, uncertain, quarantined
    assert lines["frac"][1:] == ["2025-03", "3", "1", "2", "1", "0", "0"]
    assert lines["nod"][1:] == ["2025-03", "4", "2", "2", "0", "0", "0"]
