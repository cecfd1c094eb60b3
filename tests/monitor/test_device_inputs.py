"""Inputs as users give them: each prediction checked against its device's registry entry.

Scores on the device's scale (0..1, 0..100, logit) are stored on 0..1; a result the
source leaves out is derived at the threshold (score >= threshold is positive); a
given result that contradicts score and threshold is kept and flagged; a target that
is not the device's is quarantined; outcomes that match no prediction are counted.
"""

from __future__ import annotations

import copy
import csv
import math
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS, PredictionRecord
from monitor.device_inputs import DeviceInputs, check_prediction
from monitor.ingest import ingest_file
from monitor.input_checks import ResultChecks, UnmatchedOutcomes, unmatched_outcomes
from monitor.models import CaseCount, Prediction, QuarantinedRow
from monitor.registry import import_registry, parse_registry
from monitor.status import device_status
from monitor.storage import Database
from monitor.timeutil import end_of_day
from tests.conftest import registry_document

PARIS = ZoneInfo("Europe/Paris")
AS_OF = end_of_day(date(2025, 6, 30), PARIS)


def _registry(**changes: dict[str, object]) -> dict:  # type: ignore[type-arg]
    """The test registry, each device id's entry updated with ``changes[id]``."""
    document = copy.deepcopy(registry_document())
    for entry in document["devices"]:
        entry.update(changes.get(entry["id"], {}))
    return document


@pytest.fixture
def devices(database: Database) -> Database:
    """``frac``: unit scale, threshold 0.5; ``nod``: percent scale, threshold 40;
    ``log``: logit scale, threshold 0 (probability 0.5); ``bare``: no threshold."""
    document = _registry(nod={"score_scale": "percent", "operating_threshold": 40})
    nod = document["devices"][1]
    document["devices"] += [
        {
            **nod,
            "id": "log",
            "target": "pneumothorax",
            "score_scale": "logit",
            "operating_threshold": 0,
        },
        {
            **nod,
            "id": "bare",
            "target": "effusion",
            "score_scale": "unit",
            "operating_threshold": None,
        },
    ]
    with database.session.begin() as session:
        import_registry(session, parse_registry(document), actor="test")
    return database


def _prediction(accession: str, device: str = "frac", **values: str) -> dict[str, str]:
    return {
        "device_id": device,
        "device_version": "1.0",
        "exam_datetime": "2025-06-02T10:00:00+02:00",
        "accession_number": accession,
        **values,
    }


def _ingest(db: Database, tmp_path: Path, rows: list[dict[str, str]], kind: str = "predictions"):  # type: ignore[no-untyped-def]
    columns = PREDICTION_COLUMNS if kind == "predictions" else OUTCOME_COLUMNS
    path = tmp_path / f"{kind}-{len(list(tmp_path.iterdir()))}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return ingest_file(db, path, kind)  # type: ignore[arg-type]


def _stored(db: Database) -> dict[str, tuple[str, float | None, str | None]]:
    """accession -> (ai_result, ai_score, ai_result_check) of the stored predictions."""
    with db.session() as session:
        rows = session.execute(
            select(
                Prediction.accession_number,
                Prediction.ai_result,
                Prediction.ai_score,
                Prediction.ai_result_check,
            )
        ).all()
    return {acc: (result, score, check) for acc, result, score, check in rows}


def _reasons(db: Database) -> dict[int, str]:
    with db.session() as session:
        rows = session.execute(select(QuarantinedRow.line_number, QuarantinedRow.reason)).all()
    return dict(rows)  # type: ignore[arg-type]


# --- score scale ----------------------------------------------------------------------------


def test_scores_are_read_on_the_device_scale_and_stored_on_0_1(
    devices: Database, tmp_path: Path
) -> None:
    rows = [
        _prediction("U1", "frac", ai_result="positive", ai_score="0.73"),
        _prediction("P1", "nod", ai_result="positive", ai_score="87"),
        _prediction("L1", "log", ai_result="positive", ai_score="1.5"),
        _prediction("L2", "log", ai_result="negative", ai_score="-3"),
    ]
    assert _ingest(devices, tmp_path, rows).quarantined == 0
    stored = _stored(devices)
    assert stored["U1"][1] == pytest.approx(0.73)
    assert stored["P1"][1] == pytest.approx(0.87)
    assert stored["L1"][1] == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert stored["L2"][1] == pytest.approx(1 / (1 + math.exp(3)))


def test_a_score_outside_the_device_scale_is_quarantined_naming_the_scale(
    devices: Database, tmp_path: Path
) -> None:
    rows = [
        _prediction("ACC-139", "frac", ai_result="positive", ai_score="1.39"),
        _prediction("ACC-PCT", "nod", ai_result="positive", ai_score="139"),
        _prediction("ACC-OK", "nod", ai_result="positive", ai_score="1.39"),  # 1.39 %
    ]
    report = _ingest(devices, tmp_path, rows)
    assert (report.accepted, report.quarantined) == (1, 2)
    assert _reasons(devices) == {
        2: "ai_score shaped '9.99' is outside 0..1, the scale of device 'frac' "
        "(score_scale: unit): "
        "fix the score, or the device's score_scale in the registry (unit, percent or logit)",
        3: "ai_score shaped '999' is outside 0..100, the scale of device 'nod' "
        "(score_scale: percent): "
        "fix the score, or the device's score_scale in the registry (unit, percent or logit)",
    }
    assert not any("ACC" in reason for reason in _reasons(devices).values())


def test_a_source_that_states_its_unit_is_not_converted_again() -> None:
    percent_device = DeviceInputs("nod", "lung_nodule", "percent", 0.4)
    exam = datetime(2025, 6, 2, 10, tzinfo=PARIS)
    stated = PredictionRecord("nod", "1.0", exam, "positive", ai_score=0.87, ai_score_scale="unit")
    raw = PredictionRecord("nod", "1.0", exam, "positive", ai_score=87.0)
    assert check_prediction(stated, percent_device).ai_score == pytest.approx(0.87)  # type: ignore[union-attr]
    assert check_prediction(raw, percent_device).ai_score == pytest.approx(0.87)  # type: ignore[union-attr]


# --- derived and contradicted results -------------------------------------------------------


def test_a_missing_result_is_derived_at_the_threshold_at_or_above_is_positive(
    devices: Database, tmp_path: Path
) -> None:
    rows = [
        _prediction("AT", "frac", ai_score="0.5"),
        _prediction("BELOW", "frac", ai_score="0.49"),
        _prediction("PCT-AT", "nod", ai_score="40"),
        _prediction("PCT-BELOW", "nod", ai_score="39.9"),
        _prediction("LOGIT", "log", ai_score="0.01"),
    ]
    assert _ingest(devices, tmp_path, rows).accepted == 5
    stored = _stored(devices)
    assert {acc: (r, c) for acc, (r, _, c) in stored.items()} == {
        "AT": ("positive", "derived"),
        "BELOW": ("negative", "derived"),
        "PCT-AT": ("positive", "derived"),
        "PCT-BELOW": ("negative", "derived"),
        "LOGIT": ("positive", "derived"),
    }


def test_a_missing_result_without_threshold_or_score_is_quarantined(
    devices: Database, tmp_path: Path
) -> None:
    rows = [
        _prediction("NO-THRESHOLD", "bare", ai_score="0.8"),
        _prediction("NOTHING", "frac", ai_result="", ai_score=""),
    ]
    assert _ingest(devices, tmp_path, rows).quarantined == 2
    assert _reasons(devices) == {
        2: "ai_result is missing and device 'bare' has no operating threshold to derive it "
        "from ai_score: give ai_result, or the device's operating_threshold in the registry",
        3: "ai_result is missing and there is no ai_score to derive it from",
    }


def test_a_given_result_contradicting_score_and_threshold_is_kept_and_flagged(
    devices: Database, tmp_path: Path
) -> None:
    rows = [
        _prediction("POS-BELOW", "frac", ai_result="positive", ai_score="0.2"),
        _prediction("NEG-AT", "frac", ai_result="negative", ai_score="0.5"),
        _prediction("POS-ABOVE", "frac", ai_result="positive", ai_score="0.7"),
        _prediction("NEG-BELOW", "frac", ai_result="negative", ai_score="0.1"),
        _prediction("DOUBT", "frac", ai_result="indeterminate", ai_score="0.9"),
        _prediction("NO-SCORE", "frac", ai_result="positive"),
        _prediction("NO-THRESHOLD", "bare", ai_result="positive", ai_score="0.1"),
    ]
    assert _ingest(devices, tmp_path, rows).accepted == 7
    stored = _stored(devices)
    assert {acc: (r, c) for acc, (r, _, c) in stored.items()} == {
        "POS-BELOW": ("positive", "contradicts"),
        "NEG-AT": ("negative", "contradicts"),
        "POS-ABOVE": ("positive", "agrees"),
        "NEG-BELOW": ("negative", "agrees"),
        "DOUBT": ("indeterminate", None),
        "NO-SCORE": ("positive", None),
        "NO-THRESHOLD": ("positive", None),
    }
    with devices.session() as session:
        states = {s.device_id: s.results for s in device_status(session, AS_OF)}
    assert states["frac"] == ResultChecks(derived=0, agrees=2, contradicts=2)
    assert states["frac"].contradiction_share == 0.5
    assert states["bare"] == ResultChecks()


def test_changing_the_threshold_checks_and_derives_the_stored_results_again(
    devices: Database, tmp_path: Path
) -> None:
    rows = [
        _prediction("GIVEN", "frac", ai_result="positive", ai_score="0.6"),
        _prediction("DERIVED", "frac", ai_score="0.6"),
    ]
    _ingest(devices, tmp_path, rows)
    _ingest(
        devices,
        tmp_path,
        [
            {
                "accession_number": "DERIVED",
                "outcome": "positive",
                "source": "report",
                "outcome_datetime": "2025-06-03T10:00:00+02:00",
            },
        ],
        kind="outcomes",
    )
    document = _registry(nod={"score_scale": "percent", "operating_threshold": 40})
    document["devices"][0]["operating_threshold"] = 0.7
    with devices.session.begin() as session:
        import_registry(session, parse_registry(document)[:1], actor="test")
    stored = _stored(devices)
    assert (stored["GIVEN"][0], stored["GIVEN"][2]) == ("positive", "contradicts")
    assert (stored["DERIVED"][0], stored["DERIVED"][2]) == ("negative", "derived")
    with devices.session() as session:
        counts = session.execute(select(CaseCount.tp, CaseCount.fn)).all()
    assert [tuple(c) for c in counts] == [(0, 1)]  # the derived call was recounted


# --- targets --------------------------------------------------------------------------------


def test_a_target_that_is_not_the_devices_is_quarantined_naming_device_and_target(
    devices: Database, tmp_path: Path
) -> None:
    rows = [
        _prediction("OWN", "frac", ai_result="positive", target="fracture"),
        _prediction("DEFAULT", "frac", ai_result="positive"),
        _prediction("OTHER", "frac", ai_result="positive", target="lung_nodule"),
    ]
    report = _ingest(devices, tmp_path, rows)
    assert (report.accepted, report.quarantined) == (2, 1)
    assert _reasons(devices) == {
        4: "target shaped 'aaaa_aaaaaa' is not the target condition of device 'frac' (fracture): "
        "fix the row's target, or register the device that reports it"
    }


# --- outcomes without a prediction ----------------------------------------------------------


def _outcome(accession: str, when: str, **values: str) -> dict[str, str]:
    return {
        "accession_number": accession,
        "outcome": "negative",
        "source": "report",
        "outcome_datetime": when,
        **values,
    }


def test_outcomes_matching_no_prediction_are_counted_per_target_and_local_month(
    devices: Database, tmp_path: Path
) -> None:
    _ingest(
        devices,
        tmp_path,
        [
            _prediction("MATCHED", "frac", ai_result="positive", site="A"),
            _prediction("BY-UID", "frac", ai_result="positive", study_instance_uid="1.2.3"),
        ],
    )
    _ingest(
        devices,
        tmp_path,
        [
            _outcome("MATCHED", "2025-06-03T10:00:00+02:00", target="fracture"),
            _outcome("MATCHED", "2025-06-03T11:00:00+02:00"),  # every target of the exam
            _outcome("OTHER-ACC", "2025-06-03T10:00:00+02:00", study_instance_uid="1.2.3"),
            _outcome("MATCHED", "2025-06-04T10:00:00+02:00", target="lung_nodule"),
            _outcome("MATCHED", "2025-06-04T10:00:00+02:00", site="B"),  # another site's exam
            _outcome("NOBODY", "2025-05-31T23:30:00+02:00"),  # May in Paris, May in UTC
            _outcome("NOBODY", "2025-06-01T00:30:00+02:00", target="fracture"),  # June in Paris
            _outcome("LATER", "2025-07-02T10:00:00+02:00"),  # after the as-of date
        ],
        kind="outcomes",
    )
    with devices.session() as session:
        found = unmatched_outcomes(session, AS_OF, PARIS)
        june = unmatched_outcomes(session, AS_OF, PARIS, since=datetime(2025, 6, 1, tzinfo=PARIS))
    assert found == [
        UnmatchedOutcomes(None, date(2025, 5, 1), 1),
        UnmatchedOutcomes("fracture", date(2025, 6, 1), 1),
        UnmatchedOutcomes("lung_nodule", date(2025, 6, 1), 1),
        UnmatchedOutcomes(None, date(2025, 6, 1), 1),
    ]
    assert june == found[1:]
    assert found[0].record() == {"target": None, "month": "2025-05", "outcomes": 1}


def test_the_migration_checks_the_results_already_stored(devices: Database, tmp_path: Path) -> None:
    """Revision 0009 flags the predictions stored before it against their device's
    threshold (on 0..1: every registry before it was)."""
    from alembic import command

    from monitor.storage import _alembic_config, upgrade

    rows = [
        _prediction("POS-BELOW", "frac", ai_result="positive", ai_score="0.2"),
        _prediction("POS-ABOVE", "frac", ai_result="positive", ai_score="0.7"),
        _prediction("NO-SCORE", "frac", ai_result="negative"),
    ]
    _ingest(devices, tmp_path, rows)
    cfg = _alembic_config()
    with devices.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    upgrade(devices.engine)
    assert {acc: check for acc, (_, _, check) in _stored(devices).items()} == {
        "POS-BELOW": "contradicts",
        "POS-ABOVE": "agrees",
        "NO-SCORE": None,
    }
