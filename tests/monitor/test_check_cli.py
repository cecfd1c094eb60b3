"""`check` tells what is new since the last run, incidents first, in plain words: a new
incident once, then only the findings a later run adds to it, and one line of what is
still active; chart statistics, limits and p-values stay in `findings show`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config
from monitor.demo_data import DemoParameters, generate_demo, write_demo_files
from monitor.registry import import_registry, load_registry_file
from monitor.sources import ingest_sources
from monitor.storage import open_database
from tests.monitor.replay import KEY


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's year ingested, no check run yet: its configuration file."""
    files = write_demo_files(generate_demo(DemoParameters()), tmp_path_factory.mktemp("check"))
    config = load_config(files.config)
    db = open_database(config.database.url)
    try:
        with db.session.begin() as session:
            import_registry(session, load_registry_file(files.registry), actor="test")
        for path, report in ingest_sources(db, config, KEY, skip_ingested=False):
            assert not isinstance(report, Exception), (path, report)
    finally:
        db.dispose()
    return files.config


def _check(config: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["check", "--config", str(config), *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _json(config: Path, *args: str) -> Any:
    return json.loads(_check(config, *args, "--format", "json"))


def test_check_prints_a_new_incident_once_then_only_what_a_run_adds(ingested: Path) -> None:
    first = _check(ingested, "--as-of", "2025-07-31")
    assert first.startswith("New since the last check:")
    heads = re.findall(r"^NEW incident (\d+) - fracture-xr - (critical|warning)$", first, re.M)
    assert len(heads) == 1, first  # one degradation, one incident
    incident = heads[0][0]
    summary = first.splitlines()[
        first.splitlines().index(f"NEW incident {incident} - fracture-xr - {heads[0][1]}") + 1
    ]
    assert re.search(
        r"sensitivity \d+% against 91% claimed, since \d+ July 2025, \d+ missed "
        r"fractures$",
        summary,
    ), summary
    # Plain words only: no decision limit, statistic or p-value.
    assert "threshold" not in first and "limit" not in first and "p =" not in first
    assert first.splitlines()[-1].startswith("Still active: 1 incident(s)")

    again = _check(ingested, "--as-of", "2025-07-31")
    assert again.splitlines()[0] == "Nothing new since the last check."
    assert "incident " not in again.replace("1 incident(s)", "")
    assert again.splitlines()[-1] == first.splitlines()[-1]

    later = _json(ingested, "--as-of", "2025-08-24")
    fresh = {f["id"] for f in later["findings"] if f["new"]}
    assert fresh, "three more weeks of a degradation raise new findings"
    seen_again = {f["id"] for f in later["findings"] if not f["new"]}
    assert int(incident) in seen_again
    (updated,) = [i for i in later["incidents"] if i["device_id"] == "fracture-xr"]
    assert not updated["new"] and set(updated["new_findings"]) <= fresh
    assert updated["summary"]["fr"].startswith(("Version", "Images", "Site", "Tous"))
    assert " pour 91\u202f% revendiqués, depuis le " in updated["summary"]["fr"]
    assert later["active"]["incidents"] >= 1

    quiet = _check(ingested, "--as-of", "2025-08-24", "--lang", "fr")
    assert quiet.splitlines()[0] == "Rien de nouveau depuis le dernier contrôle."
    assert quiet.splitlines()[-1].startswith("Toujours actifs : ")


def test_findings_list_shows_incidents_first(ingested: Path) -> None:
    _check(ingested, "--as-of", "2025-07-28")
    result = CliRunner().invoke(
        cli, ["findings", "list", "--config", str(ingested), "--device", "fracture-xr"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.match(
        r"Incident \d+ - fracture-xr - (critical|warning) - \d+ finding\(s\)$", lines[0]
    )
    assert "% against 91% claimed" in lines[1]
    header = next(line for line in lines if line.startswith("id "))
    assert header.split() == [
        "id", "incident", "detected", "device", "version", "subgroup", "rule", "metric",
        "severity", "since", "status",
    ]  # fmt: skip
    listed = json.loads(
        CliRunner()
        .invoke(cli, ["findings", "list", "--config", str(ingested), "--format", "json"])
        .stdout
    )
    roots = {f["incident"] for f in listed if f["incident_root"]}
    assert all(f["incident"] in roots for f in listed)
    assert all(set(f["text"]) == {"fr", "en"} for f in listed)
