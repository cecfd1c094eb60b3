"""A control chart shown for a date is the chart `check` ran at that date: same decision
limit, same signal; `dmn-monitor chart` prints it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config
from monitor.control_charts import chart_summary, device_chart_paths, slice_key
from monitor.history import load_history
from monitor.registry import get_device
from monitor.storage import open_database
from tests.monitor.replay import PARIS, Replayed


def _chart_findings(replayed: Replayed) -> list[dict]:  # type: ignore[type-arg]
    return [f for f in replayed.findings if f["rule"] == "cusum"]


def test_the_chart_at_a_findings_detection_has_its_limit_and_signal(
    replayed_demo: Replayed,
) -> None:
    config = load_config(replayed_demo.config_path)
    db = open_database(replayed_demo.url)
    checked = 0
    try:
        for finding in _chart_findings(replayed_demo)[:6]:
            # The evidence is that of the check that raised it, or last escalated it.
            as_of = datetime.fromisoformat(finding["escalated_at"] or finding["detected_at"])
            key = slice_key(finding["device_version"], finding["subgroup"], finding["metric"])
            with db.session() as session:
                spec = get_device(session, finding["device_id"])
                history = load_history(session, spec, as_of, config.subgroups.age_bands)
                [path] = device_chart_paths(session, config, history, as_of, [key])
            evidence = finding["evidence"]
            # Recomputed here, the chart family is calibrated again (a new simulation, on
            # the data of this date rather than of the day its family last changed): the
            # limit agrees within the calibration's simulation error, not to the digit.
            assert path.limit == pytest.approx(evidence["decision_limit"], rel=0.05)
            assert path.signal_index is not None
            assert (
                abs(path.signal_index + 1 - evidence["signal_observation"])
                <= 0.05 * (evidence["signal_observation"])
            )
            arrival = pd.Timestamp(int(path.arrival_ns[path.signal_index]), tz="UTC")
            assert arrival <= pd.Timestamp(as_of)
            assert path.statistic[path.signal_index] >= path.limit
            assert (path.statistic[: path.signal_index] < path.limit).all()
            checked += 1
    finally:
        db.dispose()
    assert checked == 6


def test_the_chart_command_prints_the_statistic_limit_and_signal(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    base = ["--config", str(replayed_demo.config_path), "--db", replayed_demo.url]
    args = ["chart", *base, "--device", "fracture-xr", "--version", "2.4.0"]
    args += ["--subgroup", "scanner_manufacturer=Fujifilm", "--as-of", "2025-08-31"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["slice"] == "device_version=2.4.0, scanner_manufacturer=Fujifilm"
    assert shown["max_statistic"] >= shown["decision_limit"] > 0
    signal = datetime.fromisoformat(shown["signal_at"])
    assert datetime(2025, 7, 20, tzinfo=PARIS) < signal < datetime(2025, 8, 5, tzinfo=PARIS)

    config = load_config(replayed_demo.config_path)
    db = open_database(replayed_demo.url)
    try:
        as_of = datetime.fromisoformat(shown["last_observation"]).replace(hour=23, minute=59)
        with db.session() as session:
            spec = get_device(session, "fracture-xr")
            history = load_history(session, spec, as_of, config.subgroups.age_bands)
            [path] = device_chart_paths(session, config, history, as_of, [shown["key"]])
    finally:
        db.dispose()
    assert chart_summary(path, PARIS)["observations"] == shown["observations"]

    refused = CliRunner().invoke(cli, [*args[:-4], "--subgroup", "Fujifilm"])
    assert refused.exit_code == 1
    assert "give dimension=value" in refused.output


def test_a_chart_never_signalling_has_no_signal_time(replayed_demo: Replayed) -> None:
    base = ["--config", str(replayed_demo.config_path), "--db", replayed_demo.url]
    args = ["chart", *base, "--device", "nodule-ct", "--metric", "specificity"]
    result = CliRunner().invoke(cli, [*args, "--as-of", "2025-06-30", "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["signal_at"] is None
    assert shown["max_statistic"] < shown["decision_limit"]
    first = pd.Timestamp(shown["first_observation"])
    assert first.year == 2025 and first.month == 1
