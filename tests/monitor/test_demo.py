"""`dmn-monitor demo`: the whole pipeline on the synthetic year finds the injected degradation."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from alerts.findings import PERFORMANCE_RULES
from connectors import PREDICTION_COLUMNS
from monitor.cli import cli
from monitor.demo import find_below_claim
from monitor.demo_data import generate_demo


def test_the_demo_runs_end_to_end_and_finds_the_degradation(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(tmp_path / "demo")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "quarantined 0" in out
    degradation = generate_demo().degradation
    table = out.split("lies wholly below the claim", 1)[1]
    first_row = table.splitlines()[3]
    assert "fracture-xr" in first_row
    assert f"device_version={degradation.version}" in first_row
    assert f"scanner_manufacturer={degradation.manufacturer}" in first_row
    assert "device_version=2.3.1" not in table  # before the update, nothing is below the claim
    detection = out.split("Detection, replayed day by day", 1)[1].split("\nDone in", 1)[0]
    chart = next(
        line
        for line in detection.splitlines()
        if "cusum" in line
        and f"scanner_manufacturer={degradation.manufacturer}" in line
        and line.split()[2] == degradation.version
    )
    assert "fracture-xr" in chart and degradation.version in chart and "sensitivity" in chart
    raised = date.fromisoformat(chart.split()[0])
    assert degradation.start <= raised <= degradation.start + timedelta(days=10)
    assert (tmp_path / "demo" / "dmn-monitor.db").is_file()
    # One incident for the degradation, named by the slice that explains it.
    incidents = [line for line in detection.splitlines() if line.startswith("  incident ")]
    fracture = [line for line in incidents if " - fracture-xr - " in line]
    assert len(fracture) == 1, incidents
    assert (
        f"Version {degradation.version} on {degradation.manufacturer} images: sensitivity"
        in fracture[0]
    ), fracture[0]
    assert "missed fractures" in fracture[0]
    _same_incident_after_new_rows(tmp_path / "demo", degradation.version, degradation.manufacturer)
    # The demo is repeatable in the same folder: a fresh database each time.
    again = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "demo")])
    assert again.exit_code == 0 and again.output.count("duplicate 0") == 3


def _alarm_incidents(config: Path) -> dict[int, list[dict[str, Any]]]:
    listed = CliRunner().invoke(
        cli, ["findings", "list", "--config", str(config), "--device", "fracture-xr",
              "--format", "json", "--limit", "10000"]
    )  # fmt: skip
    assert listed.exit_code == 0, listed.output
    found = json.loads(listed.stdout)
    incidents: dict[int, list[dict[str, Any]]] = {}
    for finding in found:
        incidents.setdefault(finding["incident"], []).append(finding)
    return {
        root: members
        for root, members in incidents.items()
        if any(m["rule"] in PERFORMANCE_RULES and m["severity"] != "info" for m in members)
    }


def _same_incident_after_new_rows(folder: Path, version: str, manufacturer: str) -> None:
    """One more `check` on two new rows keeps the one incident and its root."""
    config = folder / "dmn-monitor.toml"
    before = _alarm_incidents(config)
    assert len(before) == 1, sorted(before)
    ((root, members),) = before.items()
    head = next(m for m in members if m["id"] == root)
    assert (head["device_version"], head["subgroup"]) == (
        version,
        {"scanner_manufacturer": manufacturer},
    )
    assert all(m["incident"] == root for m in members)
    rows = folder / "two-new-rows.csv"
    with rows.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(PREDICTION_COLUMNS))
        writer.writeheader()
        for i in range(2):
            writer.writerow(
                {
                    **{c: "" for c in PREDICTION_COLUMNS},
                    "device_id": "fracture-xr",
                    "device_version": version,
                    "exam_datetime": f"2026-01-01T0{8 + i}:00:00",
                    "ai_result": "negative",
                    "accession_number": f"NEW-ROW-{i}",
                    "scanner_manufacturer": manufacturer,
                }
            )
    runner = CliRunner()
    ingest = runner.invoke(cli, ["ingest", "predictions", str(rows), "--config", str(config)])
    assert ingest.exit_code == 0, ingest.output
    check = runner.invoke(cli, ["check", "--config", str(config), "--as-of", "2026-01-01"])
    assert check.exit_code == 0, check.output
    after = _alarm_incidents(config)
    assert list(after) == [root], sorted(after)
    assert {m["id"] for m in after[root]} >= {m["id"] for m in members}


def test_find_below_claim_uses_the_upper_bound() -> None:
    cells = [
        {
            "device_id": "d",
            "site": "A",
            "sensitivity": 0.80,
            "sensitivity_low": 0.75,
            "sensitivity_high": 0.84,
            "tp": 80,
            "fn": 20,
        },
        {
            "device_id": "d",
            "site": "B",
            "sensitivity": 0.80,
            "sensitivity_low": 0.60,
            "sensitivity_high": 0.92,
            "tp": 8,
            "fn": 2,
        },
        {
            "device_id": "d",
            "site": "C",
            "sensitivity": None,
            "sensitivity_low": None,
            "sensitivity_high": None,
            "tp": 0,
            "fn": 0,
        },
    ]
    found = find_below_claim(cells, {"d": {"sensitivity": 0.9}}, ["site"])
    assert [(f.dimensions, f.n) for f in found] == [({"site": "A"}, 100)]


def test_the_demo_runs_on_a_given_database_and_refuses_a_used_one(
    db_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--out", str(tmp_path / "d"), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert f"--db {db_url}" in result.output
    assert not (tmp_path / "d" / "dmn-monitor.db").exists()
    evaluate = runner.invoke(
        cli, ["evaluate", "--db", db_url, "--device", "nodule-ct", "--as-of", "2025-12-31"]
    )
    assert evaluate.exit_code == 0 and "nodule-ct" in evaluate.output
    again = runner.invoke(cli, ["demo", "--out", str(tmp_path / "d"), "--db", db_url])
    assert again.exit_code == 1 and "needs an empty database" in again.output
