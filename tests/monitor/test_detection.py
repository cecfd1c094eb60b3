"""Detection on the demo's synthetic years: the injected degradation is found within days,
years without a change stay quiet, a replay stores each finding once."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from alerts.findings import PERFORMANCE_RULES
from alerts.incidents import group_incidents
from monitor.cli import cli
from monitor.config import Config, DetectionConfig, load_config
from monitor.demo_data import DemoParameters
from monitor.detection import DeviceChecker, check_dates, in_control_rates, run_checks
from monitor.errors import MonitorError
from monitor.findings import list_findings
from monitor.history import DeviceHistory, to_ns
from monitor.models import AuditEntry, Finding
from monitor.storage import Database, open_database
from monitor.workflow import acknowledge
from tests.monitor.replay import Replayed, replayed_year
from tests.monitor.test_label_free import START, simulate

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def degraded(replayed_demo: Replayed) -> Replayed:
    """The demo's default year (fracture-xr 2.4.0 misses fractures on Fujifilm images)."""
    return replayed_demo


def _alarms(findings: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [f for f in findings if f["rule"] in PERFORMANCE_RULES and f["severity"] != "info"]


def _alarm_day(finding: dict) -> date:  # type: ignore[type-arg]
    """When the finding became a warning or critical: raised so, or escalated later."""
    return date.fromisoformat((finding["escalated_at"] or finding["detected_at"])[:10])


def test_the_injected_degradation_is_found_within_days_in_the_right_subgroup(
    degraded: Replayed,
) -> None:
    change = degraded.params.update_date
    alarms = _alarms(degraded.findings)
    assert alarms, "no warning or critical finding for the injected degradation"
    assert min(_alarm_day(f) for f in alarms) <= change + timedelta(days=7)
    exact = [
        f
        for f in alarms
        if f["rule"] == "cusum"
        and f["device_id"] == "fracture-xr"
        and f["device_version"] == "2.4.0"
        and f["metric"] == "sensitivity"
        and f["subgroup"] == {"scanner_manufacturer": "Fujifilm"}
    ]
    assert len(exact) == 1
    finding = exact[0]
    assert _alarm_day(finding) <= change + timedelta(days=10)
    assert finding["severity"] == "critical"
    estimated = date.fromisoformat(finding["evidence"]["change_point_exam"][:10])
    assert abs((estimated - change).days) <= 3
    assert finding["value"] < 0.75  # observed since the change point; truth 0.62 vs claim 0.91
    assert finding["evidence"]["affected_cases"][0].startswith("case-")


def test_before_the_update_no_performance_alarm_is_raised(degraded: Replayed) -> None:
    change = degraded.params.update_date
    early = [f for f in _alarms(degraded.findings) if _alarm_day(f) < change]
    assert early == []
    nodule = [f for f in _alarms(degraded.findings) if f["device_id"] == "nodule-ct"]
    assert nodule == []


def test_the_version_change_is_reported_and_compared(degraded: Replayed) -> None:
    changes = [f for f in degraded.findings if f["rule"] == "version_change"]
    assert {(f["device_id"], f["device_version"]) for f in changes} >= {
        ("fracture-xr", "2.4.0"),
        ("nodule-ct", "1.8.0"),
    }
    compared = [
        f
        for f in degraded.findings
        if f["rule"] == "version_comparison" and f["device_version"] == "2.4.0"
    ]
    assert {f["metric"] for f in compared} == {"sensitivity", "specificity"}
    sensitivity = next(f for f in compared if f["metric"] == "sensitivity")
    assert sensitivity["value"] < sensitivity["threshold"]


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_year_without_change_raises_no_performance_alarm(seed: int, tmp_path: Path) -> None:
    params = DemoParameters(seed=seed, degraded_sensitivity=DemoParameters().fracture_sensitivity)
    replayed = replayed_year(tmp_path, params)
    assert _alarms(replayed.findings) == []
    assert not [f for f in replayed.findings if f["rule"] in ("outage", "verification_backlog")]


def test_check_json_has_the_documented_keys_and_a_rerun_stores_nothing_twice(
    degraded: Replayed, tmp_path: Path
) -> None:
    runner = CliRunner()
    url = degraded.copy_url(tmp_path)
    args = ["--config", str(degraded.config_path), "check", "--db", url, "--format", "json"]
    replay = ["--from", "2025-07-15", "--to", "2025-08-05", "--device", "fracture-xr"]
    result = runner.invoke(cli, [*args, *replay], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import json

    rows = json.loads(result.stdout)["findings"]
    assert rows
    keys = {
        "id",
        "device_id",
        "device_version",
        "rule",
        "metric",
        "subgroup",
        "window_start",
        "window_end",
        "detected_at",
        "severity",
        "value",
        "threshold",
        "evidence",
    }
    assert all(keys <= set(row) for row in rows)
    db = open_database(url)
    try:
        with db.session() as session:
            before = session.scalar(select(func.count()).select_from(Finding))
        again = runner.invoke(cli, [*args, *replay], catch_exceptions=False)
        assert again.exit_code == 0
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Finding)) == before
    finally:
        db.dispose()


def test_an_acknowledged_chart_restarts_after_its_finding(
    tmp_path: Path, degraded: Replayed
) -> None:
    import shutil

    copy = tmp_path / "copy.db"
    shutil.copyfile(degraded.url.removeprefix("sqlite:///"), copy)
    config = load_config(degraded.config_path).with_database_url(f"sqlite:///{copy}")
    db = open_database(config.database.url)
    try:
        with db.session.begin() as session:
            target = next(
                f
                for f in list_findings(session, device_id="fracture-xr")
                if f.rule == "cusum"
                and f.subgroup == {"scanner_manufacturer": "Fujifilm"}
                and f.device_version == "2.4.0"
            )
            acknowledge(session, target.id, user="dr.quality", comment="seen, under review")
            audited = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "finding.acknowledge")
            ).all()
            assert [a.actor for a in audited] == ["dr.quality"]
        detected = target.detected_at.astimezone(PARIS).date()
        with db.session.begin() as session:
            # The day after the acknowledged detection the restarted chart has too little
            # new evidence to signal again; weeks later the persisting failure signals anew.
            next_day = run_checks(session, config, check_dates(detected, detected, 1, PARIS))
            same = [
                f
                for f in next_day
                if f.rule == "cusum"
                and f.subgroup == {"scanner_manufacturer": "Fujifilm"}
                and f.device_version == "2.4.0"
            ]
            assert same == []
            later = detected + timedelta(days=40)
            again = run_checks(session, config, check_dates(later, later, 1, PARIS))
            renewed = [
                f
                for f in again
                if f.rule == "cusum"
                and f.subgroup == {"scanner_manufacturer": "Fujifilm"}
                and f.device_version == "2.4.0"
            ]
            # It counts on the finding under review instead of opening a second one.
            assert len(renewed) == 1 and renewed[0].id == target.id
            assert renewed[0].status == "acknowledged" and renewed[0].occurrences >= 2
    finally:
        db.dispose()


def _invoke(replayed: Replayed, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["--config", str(replayed.config_path), *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_findings_are_listed_shown_and_acknowledged_from_the_command_line(
    degraded: Replayed, tmp_path: Path
) -> None:
    import json
    import shutil

    listed = json.loads(_invoke(degraded, "findings", "list", "--format", "json"))
    assert {f["id"] for f in listed} == {f["id"] for f in degraded.findings}
    table = _invoke(degraded, "findings", "list", "--device", "nodule-ct")
    assert "fracture-xr" not in table and "nodule-ct" in table
    target = next(f for f in _alarms(degraded.findings) if f["rule"] == "cusum")
    shown = json.loads(_invoke(degraded, "findings", "show", str(target["id"]), "--format", "json"))
    assert shown["evidence"] == target["evidence"]
    copy = tmp_path / "copy.db"
    shutil.copyfile(degraded.url.removeprefix("sqlite:///"), copy)
    db_args = ["--db", f"sqlite:///{copy}"]
    acked = _invoke(
        degraded,
        "findings",
        "ack",
        str(target["id"]),
        *db_args,
        "--user",
        "dr.quality",
        "--comment",
        "vendor contacted",
    )
    assert f"finding {target['id']} is now acknowledged (dr.quality)" in acked
    still_open = json.loads(
        _invoke(degraded, "findings", "list", *db_args, "--status", "open", "--format", "json")
    )
    assert target["id"] not in {f["id"] for f in still_open}
    missing = CliRunner().invoke(
        cli, ["--config", str(degraded.config_path), "findings", "show", "999999"]
    )
    assert missing.exit_code == 1 and "no finding 999999" in missing.output


def test_drift_prints_the_native_statistics_and_saves_evidently_report(
    degraded: Replayed, tmp_path: Path
) -> None:
    import json

    report = tmp_path / "drift.html"
    rows = json.loads(
        _invoke(
            degraded,
            "drift",
            "--device",
            "fracture-xr",
            "--as-of",
            "2025-12-31",
            "--format",
            "json",
            "--report",
            str(report),
        )
    )
    columns = {r["column"]: r for r in rows}
    assert {"patient_age", "scanner_manufacturer", "site", "ai_result"} <= set(columns)
    # The reference is the first 90 days of service, the window the last 30 days.
    assert all(r["n_current"] < r["n_reference"] for r in rows)
    assert report.stat().st_size > 10_000 and b"<html" in report.read_bytes()[:2000].lower()
    early = CliRunner().invoke(
        cli,
        [
            "--config",
            str(degraded.config_path),
            "drift",
            "--device",
            "fracture-xr",
            "--as-of",
            "2025-02-01",
        ],
    )
    assert early.exit_code == 1 and "reference period ends" in early.output


def test_estimate_shows_estimated_against_realised_per_month(degraded: Replayed) -> None:
    import json

    as_of = ["--device", "nodule-ct", "--as-of", "2025-12-31", "--format", "json"]
    rows = json.loads(_invoke(degraded, "estimate", *as_of))
    evaluated = json.loads(_invoke(degraded, "evaluate", *as_of, "--window", "month"))
    by_month = {e["window_start"][:7]: e for e in evaluated}
    # Months after the 90-day reference period (from the device's first day in service).
    assert [r["window_start"][:7] for r in rows] == [f"2025-{m:02d}" for m in range(4, 13)]
    assert all(r["window_start"][8:10] == "01" for r in rows[1:])
    for row in rows[1:]:  # whole months, as the evaluation windows them
        month = by_month[row["window_start"][:7]]
        for metric in ("sensitivity", "specificity"):
            # Realised values are the evaluation's, computed another way (stored cells).
            assert row[f"realised_{metric}"] == pytest.approx(month[metric], abs=1e-12)
            assert row[f"estimated_{metric}_low"] <= row[f"estimated_{metric}"]
            assert row[f"estimated_{metric}"] <= row[f"estimated_{metric}_high"]
        # Specificity rests on many negatives: estimated from scores, it matches realised.
        assert abs(row["estimated_specificity"] - row["realised_specificity"]) < 0.05
    no_scores = CliRunner().invoke(
        cli,
        ["--config", str(degraded.config_path), "estimate", "--device", "fracture-xr"],
    )
    assert no_scores.exit_code == 1 and "AI score" in no_scores.output


def _claiming(history: DeviceHistory, sensitivity: float) -> DeviceHistory:
    claim = history.device.claimed_performance.model_copy(update={"sensitivity": sensitivity})
    spec = history.device.model_copy(update={"claimed_performance": claim})
    return dataclasses.replace(history, device=spec)


def test_a_pinned_baseline_gives_the_rates_observed_then() -> None:
    history = simulate().history
    pinned = Config(detection=DetectionConfig(baselines={"sim-xr": (START, date(2025, 3, 31))}))
    as_of = to_ns(datetime(2025, 10, 1, tzinfo=PARIS))
    rates = in_control_rates(history, pinned, as_of, PARIS)
    view = history.as_of(as_of)
    exam = view.cases["exam_ns"].to_numpy()
    inside = (exam >= to_ns(datetime(2025, 1, 1, tzinfo=PARIS))) & (
        exam < to_ns(datetime(2025, 4, 1, tzinfo=PARIS))
    )
    call = view.cases["ai_call"].to_numpy()
    positives = inside & (view.truth == 1) & (call >= 0)
    negatives = inside & (view.truth == 0) & (call >= 0)
    assert rates.miss_rate == pytest.approx((positives & (call == 0)).sum() / positives.sum())
    assert rates.false_positive_rate == pytest.approx(
        (negatives & (call == 1)).sum() / negatives.sum()
    )
    assert rates.source == "baseline 2025-01-01..2025-03-31"
    # Unpinned, the device's own level once established, bounded above (never credited
    # with better than its sample supports); before that, the claim.
    local = in_control_rates(history, Config(), as_of, PARIS)
    assert local.source == "local"
    assert local.source_of("sensitivity").startswith("local 2025-01-01..")
    assert local.baselines is not None and set(local.baselines) == {"sensitivity", "specificity"}
    base = local.baselines["sensitivity"]
    observed = float((call[base] == 0).mean())
    assert observed < local.miss_rate < observed + 0.03
    assert (view.earliest_truth[base] == 1).all()
    early = in_control_rates(history, Config(), to_ns(datetime(2025, 1, 2, tzinfo=PARIS)), PARIS)
    # (rates are rounded up on a grid of 2.3 % steps, so limits are computed once a step)
    assert 0.15 <= early.miss_rate < 0.15 * 1.024 and early.source == "claim"
    one_day = Config(detection=DetectionConfig(baselines={"sim-xr": (START, START)}))
    with pytest.raises(MonitorError, match=r"widen detection\.baselines"):
        in_control_rates(history, one_day, as_of, PARIS)


def test_a_device_steadily_below_its_claim_is_a_monthly_question_not_a_change() -> None:
    # True sensitivity about 0.89 all year, claimed 0.97: the charts watch for change
    # from the device's own level and see none; the monthly judgement against the claim
    # flags it (on reports only, as it says).
    history = _claiming(simulate().history, 0.97)
    as_of = to_ns(datetime(2025, 10, 1, tzinfo=PARIS))
    checker = DeviceChecker(history, Config(), PARIS, restarts={}, holidays=set())
    drafts = checker.drafts(as_of)
    assert not [d for d in drafts if d.rule == "cusum"]
    below = [d for d in drafts if d.rule == "below_claim" and d.severity == "warning"]
    assert below and {d.metric for d in below} == {"sensitivity"}
    assert all(d.evidence["reference"] == "reports" for d in below)


def _incident_roots(findings: list[dict]) -> list[tuple]:  # type: ignore[type-arg]
    return sorted(
        (
            i.device_id,
            i.metric,
            i.root["device_version"] or "",
            tuple(sorted((i.root["subgroup"] or {}).items())),
        )
        for i in group_incidents(findings)
        if i.alarm and i.performance
    )


def test_a_weekly_replay_finds_the_same_incidents_as_the_daily_one(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    # Incidents are grouped by what the findings say, not by when checks ran: checking
    # once a week instead of every day raises later, not differently.
    weekly = replayed_year(tmp_path, replayed_demo.params, step_days=7)
    daily_roots = _incident_roots(replayed_demo.findings)
    assert daily_roots and _incident_roots(weekly.findings) == daily_roots


def test_the_outage_rule_reads_only_the_weeks_its_cadence_is_learned_from(
    registered: Database, tmp_path: Path
) -> None:
    from alerts.operational import cadence_slots, outage_finding
    from monitor.ingest import ingest_file
    from monitor.kept_history import kept_history
    from monitor.registry import get_device
    from tests.monitor.synthetic import synthetic_cases

    _, _, p_path, _ = synthetic_cases(tmp_path, n=4000)
    ingest_file(registered, p_path, "predictions")
    config = Config()
    with registered.session() as session:
        spec = get_device(session, "frac")
        until = datetime(2025, 3, 10, tzinfo=PARIS)
        history, _ = kept_history(session, spec, until, (18, 65), keep=False)
    checker = DeviceChecker(history, config, PARIS, {}, set())
    exams = history.cases["exam_ns"].to_numpy()
    raised = 0
    for day in (date(2025, 2, 20), date(2025, 3, 1), date(2025, 3, 3), date(2025, 3, 8)):
        as_of_ns = to_ns(datetime.combine(day, datetime.max.time(), tzinfo=PARIS))
        view = history.as_of(as_of_ns)
        n = len(view)
        whole = outage_finding(
            exams[:n],
            cadence_slots(exams[:n], PARIS, set()),
            as_of_ns,
            "frac",
            PARIS,
            set(),
            config.detection.outage_expected_exams,
        )
        assert checker._outage(view, as_of_ns) == whole
        raised += whole is not None
    assert raised >= 2  # days after the last exam (2025-03-01): a silence
