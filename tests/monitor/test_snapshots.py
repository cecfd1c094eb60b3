"""The snapshots behind /metrics: the same numbers as the command line, per slice and gauge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.cli import cli
from monitor.config import Config, load_config
from monitor.evaluate_stored import evaluation_options, stored_evaluation
from monitor.ingest import ingest_file
from monitor.linking import linked_cases
from monitor.models import GaugeSnapshot, MetricSnapshot
from monitor.registry import get_device
from monitor.snapshots import ALL, SnapshotSummary, compute_snapshots, data_end, slice_breakdowns
from monitor.storage import Database, open_database
from tests.monitor.replay import Replayed

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 12, 31, 23, 59, 59, tzinfo=PARIS)
RATES = ("sensitivity", "specificity", "ppv", "npv")


@dataclass(frozen=True)
class Snapshotted:
    url: str
    config_path: Path
    config: Config
    summary: SnapshotSummary


@pytest.fixture(scope="module")
def snapshotted(
    replayed_demo: Replayed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Snapshotted]:
    """A copy of the replayed demo year with its snapshots computed as of NOW."""
    url = replayed_demo.copy_url(tmp_path_factory.mktemp("snapshots"))
    config = load_config(replayed_demo.config_path)
    db = open_database(url)
    try:
        with db.session.begin() as session:
            summary = compute_snapshots(session, config, NOW)
    finally:
        db.dispose()
    yield Snapshotted(url, replayed_demo.config_path, config, summary)


def _cli_json(state: Snapshotted, *args: str) -> Any:
    result = CliRunner().invoke(
        cli, [*args, "--config", str(state.config_path), "--db", state.url, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _evaluate(state: Snapshotted, days: int, *by: str) -> list[dict[str, Any]]:
    args = ["evaluate", "--window", "rolling", "--days", str(days), "--as-of", "2025-12-31"]
    for breakdown in by:
        args += ["--by", breakdown]
    args += ["--metrics", "sensitivity,specificity,ppv,npv,claim"]
    rows: list[dict[str, Any]] = _cli_json(state, *args)
    return rows


def _snapshot(
    state: Snapshotted, device: str, version: str, dimension: str, value: str, window: str
) -> MetricSnapshot:
    db = open_database(state.url)
    try:
        with db.session() as session:
            row = session.scalars(
                select(MetricSnapshot).where(
                    MetricSnapshot.device_id == device,
                    MetricSnapshot.device_version == version,
                    MetricSnapshot.dimension == dimension,
                    MetricSnapshot.value == value,
                    MetricSnapshot.window == window,
                )
            ).one()
    finally:
        db.dispose()
    return row


def _gauges(state: Snapshotted, family: str, device: str) -> list[GaugeSnapshot]:
    db = open_database(state.url)
    try:
        with db.session() as session:
            return list(
                session.scalars(
                    select(GaugeSnapshot).where(
                        GaugeSnapshot.family == family, GaugeSnapshot.device_id == device
                    )
                )
            )
    finally:
        db.dispose()


def _assert_same_numbers(row: MetricSnapshot, expected: dict[str, Any]) -> None:
    assert (row.n, row.tp, row.fp, row.tn, row.fn, row.pending) == (
        expected["n"],
        expected["tp"],
        expected["fp"],
        expected["tn"],
        expected["fn"],
        expected["pending"],
    )
    for metric in RATES:
        for suffix in ("", "_low", "_high"):
            assert row.statistics[f"{metric}{suffix}"] == expected[f"{metric}{suffix}"]
    for metric in ("sensitivity", "specificity"):
        assert row.statistics[f"{metric}_below_claim"] is expected[f"{metric}_below_claim"]


def test_the_slices_are_versions_by_subgroup_values_without_the_version_dimension() -> None:
    plan = slice_breakdowns(("device_version", "site", "age_band"))
    assert plan == [
        (),
        ("device_version",),
        ("site",),
        ("age_band",),
        ("device_version", "site"),
        ("device_version", "age_band"),
    ]


def test_whole_device_30_days_equals_the_command_line(snapshotted: Snapshotted) -> None:
    expected = {r["device_id"]: r for r in _evaluate(snapshotted, 30)}
    assert set(expected) == {"fracture-xr", "nodule-ct"}
    for device, row in expected.items():
        _assert_same_numbers(_snapshot(snapshotted, device, "all", "all", "all", "30d"), row)


def test_version_by_manufacturer_30_days_equals_the_command_line(
    snapshotted: Snapshotted,
) -> None:
    rows = _evaluate(snapshotted, 30, "device_version,scanner_manufacturer")
    fujifilm = next(
        r
        for r in rows
        if r["device_id"] == "fracture-xr"
        and r["device_version"] == "2.4.0"
        and r["scanner_manufacturer"] == "Fujifilm"
    )
    snapshot = _snapshot(
        snapshotted, "fracture-xr", "2.4.0", "scanner_manufacturer", "Fujifilm", "30d"
    )
    _assert_same_numbers(snapshot, fujifilm)
    # The demo's degradation: Fujifilm images lose sensitivity, wholly below the claim.
    assert snapshot.statistics["sensitivity_below_claim"] is True


def test_sites_over_90_days_equal_the_command_line(snapshotted: Snapshotted) -> None:
    rows = _evaluate(snapshotted, 90, "site")
    assert rows
    for row in rows:
        snapshot = _snapshot(snapshotted, row["device_id"], "all", "site", row["site"], "90d")
        _assert_same_numbers(snapshot, row)


def test_every_slice_of_the_command_line_has_its_snapshot(snapshotted: Snapshotted) -> None:
    plan = [",".join(b) for b in slice_breakdowns(snapshotted.config.subgroups.dimensions) if b]
    expected = len(_evaluate(snapshotted, 30)) + len(_evaluate(snapshotted, 30, *plan))
    expected += len(_evaluate(snapshotted, 90)) + len(_evaluate(snapshotted, 90, *plan))
    assert snapshotted.summary.metric_rows == expected
    db = open_database(snapshotted.url)
    try:
        with db.session() as session:
            stored = session.scalar(select(func.count()).select_from(MetricSnapshot))
    finally:
        db.dispose()
    assert stored == expected


def test_chart_gauges_equal_the_chart_command(snapshotted: Snapshotted) -> None:
    chart = _cli_json(
        snapshotted,
        "chart",
        "--device",
        "fracture-xr",
        "--metric",
        "sensitivity",
        "--subgroup",
        "scanner_manufacturer=Fujifilm",
        "--as-of",
        "2025-12-31",
    )
    labels = {
        "version": "all",
        "dimension": "scanner_manufacturer",
        "value": "Fujifilm",
        "metric": "sensitivity",
    }

    def value(family: str) -> float:
        found = [g.value for g in _gauges(snapshotted, family, "fracture-xr") if g.labels == labels]
        assert len(found) == 1, family
        return found[0]

    assert value("dmn_monitor_cusum_statistic") == chart["statistic"]
    assert value("dmn_monitor_cusum_decision_limit") == chart["decision_limit"]
    assert chart["statistic"] >= chart["decision_limit"]
    assert value("dmn_monitor_cusum_signal") == 1.0


def test_every_active_chart_has_its_gauges_and_a_quiet_one_no_signal(
    snapshotted: Snapshotted,
) -> None:
    statistics = _gauges(snapshotted, "dmn_monitor_cusum_statistic", "nodule-ct")
    keys = {(g.labels["version"], g.labels["dimension"], g.labels["value"]) for g in statistics}
    assert ("all", "all", "all") in keys
    assert ("all", "site", "CHU-Nord") in keys
    whole = {
        g.labels["metric"]: g.value
        for g in _gauges(snapshotted, "dmn_monitor_cusum_signal", "nodule-ct")
        if g.labels["dimension"] == "all" and g.labels["version"] == "all"
    }
    assert whole == {"sensitivity": 0.0, "specificity": 0.0}
    for family in ("dmn_monitor_cusum_decision_limit", "dmn_monitor_cusum_signal"):
        assert len(_gauges(snapshotted, family, "nodule-ct")) == len(statistics)


def test_drift_gauges_equal_the_drift_command(snapshotted: Snapshotted) -> None:
    rows = _cli_json(snapshotted, "drift", "--device", "nodule-ct", "--as-of", "2025-12-31")
    scores = {
        (g.labels["column"], g.labels["method"]): g.value
        for g in _gauges(snapshotted, "dmn_monitor_drift_score", "nodule-ct")
    }
    assert scores == {
        (r["column"], r["method"]): r["score"] for r in rows if r["score"] is not None
    }
    thresholds = _gauges(snapshotted, "dmn_monitor_drift_threshold", "nodule-ct")
    assert len(thresholds) == len(scores)


def test_estimates_are_the_last_month_or_skipped_with_the_reason(
    snapshotted: Snapshotted,
) -> None:
    rows = _cli_json(snapshotted, "estimate", "--device", "nodule-ct", "--as-of", "2025-12-31")
    assert rows[-1]["window_start"].startswith("2025-12-01")
    for metric in ("sensitivity", "specificity"):
        gauges = _gauges(snapshotted, f"dmn_monitor_estimated_{metric}_ratio", "nodule-ct")
        assert [g.value for g in gauges] == [rows[-1][f"estimated_{metric}"]]
    # The fracture detector has no scores to calibrate: no estimate, and the reason kept.
    assert _gauges(snapshotted, "dmn_monitor_estimated_sensitivity_ratio", "fracture-xr") == []
    assert any(s.startswith("fracture-xr: estimate:") for s in snapshotted.summary.skipped)


def test_label_delay_quantiles_are_those_of_the_linked_cases(snapshotted: Snapshotted) -> None:
    db = open_database(snapshotted.url)
    try:
        with db.session() as session:
            cases = linked_cases(session, NOW)
    finally:
        db.dispose()
    for device in ("fracture-xr", "nodule-ct"):
        mine = cases[cases["device_id"] == device]
        recent = mine["outcome_datetime"].notna() & (
            mine["outcome_datetime"] > NOW - timedelta(days=90)
        )
        delays = mine.loc[recent, "label_delay_days"].to_numpy() * 86400.0
        gauges = {
            g.labels["quantile"]: g.value
            for g in _gauges(snapshotted, "dmn_monitor_label_delay_seconds", device)
        }
        assert gauges.keys() == {"0.5", "0.9"}
        assert gauges["0.5"] == pytest.approx(np.quantile(delays, 0.5), rel=1e-9)
        assert gauges["0.9"] == pytest.approx(np.quantile(delays, 0.9), rel=1e-9)


def test_no_label_names_a_patient_or_an_exam(snapshotted: Snapshotted) -> None:
    db = open_database(snapshotted.url)
    try:
        with db.session() as session:
            labels = [g.labels for g in session.scalars(select(GaugeSnapshot))]
    finally:
        db.dispose()
    names = {name for mapping in labels for name in mapping}
    assert names <= {"version", "dimension", "value", "metric", "column", "method", "quantile"}


def test_recomputing_replaces_the_rows_of_each_device(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    db = open_database(replayed_demo.copy_url(tmp_path))
    config = load_config(replayed_demo.config_path)
    earlier = datetime(2025, 11, 30, 23, 59, 59, tzinfo=PARIS)
    try:
        with db.session.begin() as session:
            first = compute_snapshots(session, config, NOW)
        with db.session.begin() as session:
            second = compute_snapshots(session, config, earlier)
        with db.session() as session:
            as_of = set(session.scalars(select(MetricSnapshot.as_of)))
            gauges = session.scalar(select(func.count()).select_from(GaugeSnapshot))
            metrics = session.scalar(select(func.count()).select_from(MetricSnapshot))
    finally:
        db.dispose()
    assert first.metric_rows > 0
    assert as_of == {earlier}
    assert (metrics, gauges) == (second.metric_rows, second.gauge_rows)


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_counts_of_a_small_device_on_each_engine(registered: Database, tmp_path: Path) -> None:
    """Four verified cases (one of each kind) and one pending, within the last 30 days."""
    header = "device_id,device_version,exam_datetime,ai_result,accession_number,site"
    calls = [("A1", "positive"), ("A2", "positive"), ("A3", "negative"), ("A4", "negative")]
    rows = [f"frac,1.0,2025-12-{10 + i}T10:00:00+01:00,{c},{a},A" for i, (a, c) in enumerate(calls)]
    rows.append("frac,1.1,2025-12-20T10:00:00+01:00,positive,A5,B")
    predictions = _write(tmp_path / "predictions.csv", header, rows)
    truths = [("A1", "positive"), ("A2", "negative"), ("A3", "negative"), ("A4", "positive")]
    outcomes = _write(
        tmp_path / "outcomes.csv",
        "accession_number,outcome,source,outcome_datetime",
        [f"{a},{o},report,2025-12-22T09:00:00+01:00" for a, o in truths],
    )
    ingest_file(registered, predictions, "predictions")
    ingest_file(registered, outcomes, "outcomes")
    with registered.session.begin() as session:
        summary = compute_snapshots(session, Config(), NOW)
    assert summary.devices == 2
    with registered.session() as session:
        whole = session.scalars(
            select(MetricSnapshot).where(
                MetricSnapshot.device_id == "frac",
                MetricSnapshot.device_version == "all",
                MetricSnapshot.dimension == "all",
                MetricSnapshot.window == "30d",
            )
        ).one()
        site_b = session.scalars(
            select(MetricSnapshot).where(
                MetricSnapshot.device_version == "1.1",
                MetricSnapshot.dimension == "site",
                MetricSnapshot.value == "B",
                MetricSnapshot.window == "90d",
            )
        ).one()
        delays = {
            g.labels["quantile"]: g.value
            for g in session.scalars(
                select(GaugeSnapshot).where(
                    GaugeSnapshot.family == "dmn_monitor_label_delay_seconds"
                )
            )
        }
    assert (whole.tp, whole.fp, whole.tn, whole.fn, whole.pending, whole.n) == (1, 1, 1, 1, 1, 4)
    assert whole.statistics["sensitivity"] == 0.5
    assert whole.statistics["ppv"] == 0.5
    assert (site_b.n, site_b.pending, site_b.statistics["sensitivity"]) == (0, 1, None)
    # Exams on the 10th to the 13th at 10:00, truths on the 22nd at 09:00.
    days = np.array([12, 11, 10, 9]) - 1 / 24
    assert delays["0.5"] == pytest.approx(np.quantile(days, 0.5) * 86400.0)
    assert delays["0.9"] == pytest.approx(np.quantile(days, 0.9) * 86400.0)


def test_windows_end_at_the_last_data_of_a_device_out_of_use(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    """Months after its last exam, a device keeps the figures of its last 30 days
    (its silence is the last-prediction gauge), as computed at its last day."""
    db = open_database(replayed_demo.copy_url(tmp_path))
    config = load_config(replayed_demo.config_path)
    later = datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)
    try:
        with db.session() as session:
            devices = {d: get_device(session, d) for d in ("fracture-xr", "nodule-ct")}
            ends = {d: data_end(session, spec, later, PARIS) for d, spec in devices.items()}
            assert data_end(session, devices["fracture-xr"], NOW, PARIS) == NOW
        with db.session.begin() as session:
            compute_snapshots(session, config, later)
        with db.session() as session:
            rows = {
                (r.device_id, r.window): (r.as_of, r.n, r.tp)
                for r in session.scalars(
                    select(MetricSnapshot).where(
                        MetricSnapshot.device_version == ALL, MetricSnapshot.dimension == ALL
                    )
                )
            }
    finally:
        db.dispose()
    assert ends["fracture-xr"].date() == date(2025, 12, 31)
    assert ends["nodule-ct"].date() == date(2025, 12, 31)
    fracture = rows[("fracture-xr", "30d")]
    assert fracture[0] == ends["fracture-xr"]
    # December's exams, with every outcome known by June 2026: more verified than
    # were known on 31 December, and none the evaluation as of June would not give.
    then = _evaluate_at(replayed_demo, "2025-12-31")
    assert fracture[1] > then["n"] and fracture[2] >= then["tp"]
    db = open_database(replayed_demo.url)
    try:
        with db.session() as session:
            [known] = stored_evaluation(
                session,
                as_of=ends["fracture-xr"],
                tz=PARIS,
                options=evaluation_options(config, window="rolling", rolling_days=30),
                device_id="fracture-xr",
                known_at=later,
            )
    finally:
        db.dispose()
    assert (fracture[1], fracture[2]) == (known["n"], known["tp"])


def _evaluate_at(replayed: Replayed, day: str) -> dict[str, Any]:
    base = ["--config", str(replayed.config_path), "--db", replayed.url]
    args = ["evaluate", *base, "--device", "fracture-xr", "--window", "rolling", "--days", "30"]
    result = CliRunner().invoke(cli, [*args, "--as-of", day, "--format", "json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    return dict(row)
