"""What the command line shows of the inputs as users give them: results contradicting
their score, outcomes without a prediction, operating points, devices without a claim."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from monitor.cli import cli
from tests.conftest import registry_document
from tests.monitor.synthetic import write_rows


@pytest.fixture
def run(db_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, [*args, "--db", db_url])
        assert result.exit_code == 0, result.output + str(result.exception)
        return result

    return invoke


@pytest.fixture
def scored(run, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``frac`` (threshold 0.5, points 0.3 and 0.7) with 20 scored exams: score
    (i + 0.5) / 20, truly positive from i = 10; the first exam's result is 'positive'
    against its score 0.025. ``nod`` is under evaluation, without a claim. Two
    outcomes match no prediction."""
    document = copy.deepcopy(registry_document())
    frac, nod = document["devices"]
    frac["operating_points"] = [
        {"name": "sensitive", "threshold": 0.3},
        {"name": "specific", "threshold": 0.7},
    ]
    nod["status"] = "under_evaluation"
    del nod["claimed_performance"]
    registry = tmp_path / "devices.yaml"
    registry.write_text(yaml.safe_dump(document), encoding="utf-8")
    run("devices", "import", str(registry))
    predictions = [
        {
            "device_id": "frac",
            "device_version": "1.0",
            "exam_datetime": f"2025-05-{2 + i:02d}T10:00:00",
            "accession_number": f"A{i}",
            "ai_score": f"{(i + 0.5) / 20:.3f}",
            "ai_result": "positive" if i == 0 else "",
        }
        for i in range(20)
    ] + [
        {
            "device_id": "nod",
            "device_version": "1.0",
            "exam_datetime": "2025-05-02T11:00:00",
            "accession_number": "N1",
            "ai_score": "0.8",
        },
    ]
    outcomes = [
        {
            "accession_number": f"A{i}",
            "outcome": "positive" if i >= 10 else "negative",
            "source": "report",
            "outcome_datetime": f"2025-05-{3 + i:02d}T10:00:00",
        }
        for i in range(20)
    ] + [
        {
            "accession_number": "NOBODY",
            "outcome": "negative",
            "source": "report",
            "outcome_datetime": "2025-05-10T10:00:00",
            "target": "fracture",
        },
        {
            "accession_number": "NOBODY2",
            "outcome": "negative",
            "source": "report",
            "outcome_datetime": "2025-06-01T01:00:00",
        },
    ]
    run(
        "ingest",
        "predictions",
        str(write_rows(tmp_path / "p.csv", PREDICTION_COLUMNS, predictions)),
    )
    run("ingest", "outcomes", str(write_rows(tmp_path / "o.csv", OUTCOME_COLUMNS, outcomes)))
    return run


def test_status_counts_derived_and_contradicting_results(scored) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(scored("status", "--as-of", "2025-06-30", "--format", "json").stdout)
    frac = next(r for r in rows if r["device"] == "frac")
    assert (frac["results_derived"], frac["results_checked"], frac["results_contradicting"]) == (
        19,
        1,
        1,
    )
    table = scored("status", "--as-of", "2025-06-30").stdout
    assert "results_contradicting" in table


def test_status_shows_the_outcomes_without_a_prediction_per_target_and_month(scored) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(
        scored("status", "--as-of", "2025-06-30", "--unmatched", "--format", "json").stdout
    )
    assert rows == [
        {"target": "fracture", "month": "2025-05", "outcomes": 1},
        {"target": None, "month": "2025-06", "outcomes": 1},  # 01:00 in Paris is June
    ]
    table = scored("status", "--as-of", "2025-06-30").stdout
    assert "outcomes matching no prediction, per target and month" in table


def test_evaluate_gives_sensitivity_and_specificity_at_each_operating_point(scored) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(
        scored("evaluate", "--device", "frac", "--as-of", "2025-06-30", "--format", "json").stdout
    )
    (row,) = rows
    assert (row["tp"], row["fp"], row["tn"], row["fn"]) == (10, 1, 9, 0)  # the given results
    points = {p["name"]: p for p in row["operating_points"]}
    assert (points["sensitive"]["threshold"], points["sensitive"]["n"]) == (0.3, 20)
    assert (points["sensitive"]["sensitivity"], points["sensitive"]["specificity"]) == (1.0, 0.6)
    assert (points["specific"]["sensitivity"], points["specific"]["specificity"]) == (0.6, 1.0)
    low, high = points["specific"]["sensitivity_low"], points["specific"]["sensitivity_high"]
    assert low < 0.6 < high
    # The interval is the configured one (Wilson 95 % by default): statsmodels' for 6 of 10.
    from statsmodels.stats.proportion import proportion_confint

    assert (low, high) == pytest.approx(proportion_confint(6, 10, 0.05, "wilson"), abs=1e-12)
    table = scored("evaluate", "--device", "frac", "--as-of", "2025-06-30").stdout
    assert "sensitive (0.3): sens 1.000 [" in table
    other = json.loads(
        scored("evaluate", "--device", "nod", "--as-of", "2025-06-30", "--format", "json").stdout
    )
    assert other == [] or "operating_points" not in other[0]  # nod declares none


def test_a_device_under_evaluation_has_no_claim_to_compare(scored) -> None:  # type: ignore[no-untyped-def]
    listed = scored("devices", "list").stdout
    assert "no claim" in listed
    rows = json.loads(
        scored(
            "evaluate",
            "--metrics",
            "sensitivity,claim",
            "--as-of",
            "2025-06-30",
            "--format",
            "json",
        ).stdout
    )
    frac = next(r for r in rows if r["device_id"] == "frac")
    assert frac["sensitivity_claimed"] == 0.9
    assert all(r["sensitivity_claimed"] is None for r in rows if r["device_id"] == "nod")
    scored("check", "--as-of", "2025-06-30")  # nothing to chart nod against: no error
