"""/metrics: the exporter's names, labels and values, read from storage at scrape time."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from alerts.workflow import ACTIVE_STATUSES
from monitor.config import load_config
from monitor.exporter import MonitorCollector, metrics_text
from monitor.ingest import ingest_file
from monitor.models import Finding, IngestionRun, JobRun, Prediction
from monitor.snapshots import compute_snapshots
from monitor.storage import Database, open_database
from tests.monitor.replay import Replayed

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2025, 12, 31, 23, 59, 59, tzinfo=PARIS)
SLICE = ("device", "version", "dimension", "value", "window")

Samples = dict[str, list[tuple[dict[str, str], float]]]
"""Sample name -> (labels, value) of one scrape."""


def _samples(text: bytes) -> Samples:
    out: Samples = defaultdict(list)
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), sample.value))
    return out


def _value(samples: Samples, name: str, **labels: str) -> float:
    found = [v for found, v in samples[name] if found == labels]
    assert len(found) == 1, (name, labels, found)
    return found[0]


@pytest.fixture(scope="module")
def demo_db(
    replayed_demo: Replayed, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A copy of the replayed demo with its snapshots computed as of NOW."""
    db = open_database(replayed_demo.copy_url(tmp_path_factory.mktemp("exporter")))
    with db.session.begin() as session:
        compute_snapshots(session, load_config(replayed_demo.config_path), NOW)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def scraped(demo_db: Database) -> bytes:
    return metrics_text(demo_db)


def test_the_contract_names_and_labels(scraped: bytes) -> None:
    samples = _samples(scraped)
    expected = {
        "dmn_monitor_sensitivity_ratio": set(SLICE),
        "dmn_monitor_specificity_lower_ratio": set(SLICE),
        "dmn_monitor_npv_upper_ratio": set(SLICE),
        "dmn_monitor_ppv_ratio": set(SLICE),
        "dmn_monitor_verified_cases": set(SLICE),
        "dmn_monitor_pending_cases": set(SLICE),
        "dmn_monitor_below_claim": {*SLICE, "metric"},
        "dmn_monitor_claimed_sensitivity_ratio": {"device"},
        "dmn_monitor_claimed_specificity_ratio": {"device"},
        "dmn_monitor_cusum_statistic": {"device", "version", "dimension", "value", "metric"},
        "dmn_monitor_cusum_decision_limit": {"device", "version", "dimension", "value", "metric"},
        "dmn_monitor_cusum_signal": {"device", "version", "dimension", "value", "metric"},
        "dmn_monitor_drift_score": {"device", "column", "method"},
        "dmn_monitor_drift_threshold": {"device", "column", "method"},
        "dmn_monitor_estimated_sensitivity_ratio": {"device"},
        "dmn_monitor_estimated_specificity_ratio": {"device"},
        "dmn_monitor_open_findings": {"device", "severity"},
        "dmn_monitor_label_delay_seconds": {"device", "quantile"},
        "dmn_monitor_last_prediction_timestamp_seconds": {"device"},
        "dmn_monitor_last_ingest_timestamp_seconds": {"kind"},
        "dmn_monitor_ingest_rows_total": {"kind", "outcome"},
        "dmn_monitor_job_runs_total": {"job", "status"},
        "dmn_monitor_job_running": {"job"},
        "dmn_monitor_snapshot_timestamp_seconds": set(),
        "dmn_monitor_build_info": {"version"},
        "dmn_monitor_scrape_error": set(),
    }
    for name, labels in expected.items():
        assert samples[name], name
        assert {frozenset(found) for found, _ in samples[name]} == {frozenset(labels)}, name
    assert _value(samples, "dmn_monitor_scrape_error") == 0.0
    assert _value(samples, "dmn_monitor_claimed_sensitivity_ratio", device="fracture-xr") == 0.91
    windows = {labels["window"] for labels, _ in samples["dmn_monitor_sensitivity_ratio"]}
    assert windows == {"30d", "90d"}
    below = _value(
        samples,
        "dmn_monitor_below_claim",
        device="fracture-xr",
        version="2.4.0",
        dimension="scanner_manufacturer",
        value="Fujifilm",
        window="30d",
        metric="sensitivity",
    )
    assert below == 1.0
    for name in ("dmn_monitor_ingest_rows_total", "dmn_monitor_job_runs_total"):
        assert f"# TYPE {name} counter" in scraped.decode()


def test_every_help_text_states_a_unit_or_a_meaning(scraped: bytes) -> None:
    helps = [line for line in scraped.decode().splitlines() if line.startswith("# HELP")]
    units = ("ratio 0..1", "count", "seconds", "1 when", "unitless", "distance", "always 1")
    for line in helps:
        if "_drift_threshold" in line:
            continue  # the threshold is in the score's unit, stated on the score
        assert any(unit in line for unit in units), line


def test_open_findings_by_severity_equal_the_findings_table(
    demo_db: Database, scraped: bytes
) -> None:
    with demo_db.session() as session:
        rows = session.execute(
            select(Finding.device_id, Finding.severity, func.count())
            .where(Finding.status.in_(list(ACTIVE_STATUSES)))
            .group_by(Finding.device_id, Finding.severity)
        ).all()
    counts = {(device, severity): count for device, severity, count in rows}
    assert sum(counts.values()) > 0
    samples = _samples(scraped)
    for device in ("fracture-xr", "nodule-ct"):
        for severity in ("info", "warning", "critical"):
            found = _value(samples, "dmn_monitor_open_findings", device=device, severity=severity)
            assert found == counts.get((device, severity), 0)


def test_promtool_accepts_the_exposition(scraped: bytes) -> None:
    if shutil.which("promtool") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed (CI=true)")
        pytest.skip("promtool is not installed")
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=scraped, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_no_label_is_a_patient_or_an_exam_identifier(demo_db: Database, scraped: bytes) -> None:
    with demo_db.session() as session:
        identifiers = {
            value
            for row in session.execute(
                select(Prediction.accession_number, Prediction.patient_pseudonym)
            )
            for value in row
            if value
        }
    assert len(identifiers) > 1000
    samples = _samples(scraped)
    names = {n for found in samples.values() for labels, _ in found for n in labels}
    values = {v for found in samples.values() for labels, _ in found for v in labels.values()}
    assert not names & {"patient_id", "exam_id", "accession", "case"}
    assert not values & identifiers


def test_a_database_error_is_a_gauge_not_an_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "broken.db"
    db = open_database(f"sqlite:///{path}")
    db.dispose()
    path.write_bytes(b"this is not a database" * 100)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(MonitorCollector(db))  # describe() must not read the database
    with caplog.at_level(logging.WARNING):
        samples = _samples(metrics_text(db))
    db.dispose()
    assert _value(samples, "dmn_monitor_scrape_error") == 1.0
    assert "dmn_monitor_sensitivity_ratio" not in samples
    assert [value for _, value in samples["dmn_monitor_build_info"]] == [1.0]
    assert "DatabaseError" in caplog.text
    assert str(tmp_path) not in caplog.text


def test_counters_only_grow_across_an_ingestion(replayed_demo: Replayed, tmp_path: Path) -> None:
    db = open_database(replayed_demo.copy_url(tmp_path))
    header = "device_id,device_version,exam_datetime,ai_result,accession_number,site"
    rows = [
        f"nodule-ct,1.8.0,2026-01-0{day}T10:00:00+01:00,negative,TEST-{day},CHU-Nord"
        for day in (1, 2, 3)
    ]
    csv = tmp_path / "new-predictions.csv"
    csv.write_text(
        "\n".join([header, *rows, "nodule-ct,1.8.0,not a date,negative,TEST-9,X"]) + "\n"
    )
    try:
        before = _samples(metrics_text(db))
        ingest_file(db, csv, "predictions")
        after = _samples(metrics_text(db))
    finally:
        db.dispose()
    name = "dmn_monitor_ingest_rows_total"
    old = {tuple(sorted(labels.items())): v for labels, v in before[name]}
    new = {tuple(sorted(labels.items())): v for labels, v in after[name]}
    assert old.keys() <= new.keys()
    assert all(new[key] >= old[key] for key in old)
    accepted = (("kind", "predictions"), ("outcome", "accepted"))
    quarantined = (("kind", "predictions"), ("outcome", "quarantined"))
    assert new[accepted] - old[accepted] == 3
    assert new[quarantined] - old[quarantined] == 1
    last = _value(after, "dmn_monitor_last_prediction_timestamp_seconds", device="nodule-ct")
    assert last == datetime(2026, 1, 3, 10, tzinfo=PARIS).timestamp()


def _job(job: str, status: str, start: datetime, seconds: float | None) -> JobRun:
    return JobRun(
        job=job,
        scheduled_for=start,
        owner="host:1",
        status=status,
        started_at=start,
        finished_at=None if seconds is None else start + timedelta(seconds=seconds),
        duration_seconds=seconds,
    )


def test_live_counts_of_jobs_ingestion_and_findings_on_each_engine(registered: Database) -> None:
    t0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    with registered.session.begin() as session:
        session.add_all(
            [
                _job("check", "success", t0, 12.5),
                _job("check", "failure", t0 + timedelta(hours=1), 3.0),
                _job("check", "running", t0 + timedelta(hours=2), None),
                _job("evaluate", "success", t0, 40.0),
                _job("evaluate", "success", t0 + timedelta(days=1), 41.0),
            ]
        )
        for kind, status, accepted, end in (
            ("predictions", "completed", 100, t0),
            ("predictions", "failed", 7, t0 + timedelta(hours=5)),
            ("outcomes", "completed", 30, t0 + timedelta(hours=1)),
        ):
            session.add(
                IngestionRun(
                    kind=kind,
                    source_path="/synthetic.csv",
                    checksum="0" * 64,
                    rows_read=accepted + 2,
                    rows_accepted=accepted,
                    rows_duplicate=2,
                    rows_quarantined=0,
                    status=status,
                    started_at=end - timedelta(minutes=1),
                    finished_at=end,
                )
            )
        for status, severity in (
            ("open", "critical"),
            ("acknowledged", "warning"),
            ("closed", "critical"),
        ):
            session.add(
                Finding(
                    dedup_key=f"k-{status}",
                    device_id="frac",
                    rule="cusum",
                    severity=severity,
                    status=status,
                    detected_at=t0,
                    last_seen_at=t0,
                    evidence={},
                    created_at=t0,
                )
            )
    samples = _samples(metrics_text(registered))
    assert _value(samples, "dmn_monitor_job_runs_total", job="check", status="success") == 1
    assert _value(samples, "dmn_monitor_job_runs_total", job="check", status="failure") == 1
    assert _value(samples, "dmn_monitor_job_runs_total", job="report", status="success") == 0
    assert _value(samples, "dmn_monitor_job_running", job="check") == 1
    assert _value(samples, "dmn_monitor_job_running", job="evaluate") == 0
    assert _value(samples, "dmn_monitor_job_last_duration_seconds", job="check") == 3.0
    assert _value(samples, "dmn_monitor_job_last_duration_seconds", job="evaluate") == 41.0
    last_success = (t0 + timedelta(seconds=12.5)).timestamp()
    assert _value(samples, "dmn_monitor_job_last_success_timestamp_seconds", job="check") == (
        last_success
    )
    rows = "dmn_monitor_ingest_rows_total"
    assert _value(samples, rows, kind="predictions", outcome="accepted") == 107
    assert _value(samples, rows, kind="predictions", outcome="duplicate") == 4
    assert _value(samples, rows, kind="outcomes", outcome="quarantined") == 0
    last_ingest = "dmn_monitor_last_ingest_timestamp_seconds"
    assert _value(samples, last_ingest, kind="predictions") == t0.timestamp()
    findings = "dmn_monitor_open_findings"
    assert _value(samples, findings, device="frac", severity="critical") == 1
    assert _value(samples, findings, device="frac", severity="warning") == 1
    assert _value(samples, findings, device="nod", severity="info") == 0
    # No snapshot computed yet: no performance series and no snapshot time.
    assert "dmn_monitor_sensitivity_ratio" not in samples
    assert "dmn_monitor_snapshot_timestamp_seconds" not in samples
    assert _value(samples, "dmn_monitor_claimed_specificity_ratio", device="nod") == 0.8
