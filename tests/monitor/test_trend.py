"""The trend summary of the demo: the degraded quarter stands out, the quiet device does not;
its counts are those of the linked cases and of the confirmed findings."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from monitor.errors import MonitorError
from monitor.findings import list_findings
from monitor.linking import linked_cases
from monitor.storage import open_database
from monitor.trend import periods_ending, trend_summary, trend_text
from monitor.workflow import acknowledge, confirm
from tests.monitor.replay import PARIS, Replayed


def test_periods_are_calendar_months_quarters_or_years_ending_with_the_given_date() -> None:
    assert periods_ending(date(2025, 8, 14), "quarter", 3) == [
        ("2025-Q1", date(2025, 1, 1), date(2025, 4, 1)),
        ("2025-Q2", date(2025, 4, 1), date(2025, 7, 1)),
        ("2025-Q3", date(2025, 7, 1), date(2025, 10, 1)),
    ]
    assert [p[0] for p in periods_ending(date(2025, 1, 31), "month", 2)] == ["2024-12", "2025-01"]
    assert periods_ending(date(2025, 6, 1), "year", 1) == [
        ("2025", date(2025, 1, 1), date(2026, 1, 1))
    ]
    with pytest.raises(MonitorError, match="at least one period"):
        periods_ending(date(2025, 6, 1), "year", 0)


def test_the_degraded_quarter_shows_a_significant_rise_in_misses(replayed_demo: Replayed) -> None:
    db = open_database(replayed_demo.url)
    try:
        with db.session() as session:
            fracture = trend_summary(
                session,
                "fracture-xr",
                last=date(2025, 9, 30),
                period="quarter",
                previous=2,
                tz=PARIS,
            )
            nodule = trend_summary(
                session, "nodule-ct", last=date(2025, 9, 30), period="quarter", previous=2, tz=PARIS
            )
            cases = linked_cases(session, None, device_id="fracture-xr")
    finally:
        db.dispose()
    assert [p["period"] for p in fracture["periods"]] == ["2025-Q1", "2025-Q2", "2025-Q3"]
    # Counts equal the linked cases of each quarter (exam time, local calendar).
    local = cases["exam_datetime"].dt.tz_convert(PARIS)
    for row in fracture["periods"]:
        start = datetime.fromisoformat(row["start"]).replace(tzinfo=PARIS)
        end = datetime.fromisoformat(row["end"]).replace(tzinfo=PARIS)
        inside = cases[(local >= start) & (local < end)]
        assert row["exams"] == len(inside)
        assert row["fn"] == int((inside["status"] == "fn").sum())
        assert row["verified_positives"] == int(inside["status"].isin(["tp", "fn"]).sum())
    q2, q3 = fracture["periods"][1], fracture["periods"][2]
    assert q3["miss_rate"]["rate"] > q2["miss_rate"]["rate"]
    assert fracture["comparison"]["miss_rate"]["significant_increase"] is True
    assert fracture["comparison"]["miss_rate"]["p_value"] < 0.01
    assert nodule["comparison"]["miss_rate"]["significant_increase"] is False
    assert nodule["comparison"]["false_positive_rate"]["significant_increase"] is False
    english = trend_text(fracture, "en")
    assert "Miss rate in 2025-Q3 against the 2 previous period(s): significant increase" in english
    french = trend_text(fracture, "fr")
    assert "Taux de faux négatifs en 2025-Q3" in french and "hausse significative" in french
    assert f"{q3['exams']} examens" in french


def test_confirmed_findings_are_counted_in_the_quarter_of_their_detection(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    db = open_database(replayed_demo.copy_url(tmp_path))
    try:
        with db.session.begin() as session:
            found = [
                f for f in list_findings(session, device_id="fracture-xr") if f.severity != "info"
            ]
            chosen = found[0]
            acknowledge(session, chosen.id, user="dr.q", comment="seen")
            confirm(session, chosen.id, user="dr.q", comment="real")
            quarter = f"2025-Q{(chosen.detected_at.astimezone(PARIS).month - 1) // 3 + 1}"
        with db.session() as session:
            summary = trend_summary(
                session,
                "fracture-xr",
                last=date(2025, 12, 31),
                period="quarter",
                previous=3,
                tz=PARIS,
            )
    finally:
        db.dispose()
    rows = {r["period"]: r for r in summary["periods"]}
    assert sum(r["findings_confirmed"] for r in rows.values()) == 1
    assert rows[quarter]["findings_confirmed"] == 1
    assert sum(r["findings_raised"] for r in rows.values()) == len(found)
    per_1000 = rows[quarter]["confirmed_per_1000_exams"]
    assert per_1000 == pytest.approx(1000 / rows[quarter]["exams"])


def test_an_unknown_device_is_named(replayed_demo: Replayed) -> None:
    db = open_database(replayed_demo.url)
    try:
        with db.session() as session, pytest.raises(MonitorError, match="unknown device 'x'"):
            trend_summary(session, "x", last=date(2025, 1, 1), tz=PARIS)
    finally:
        db.dispose()


def test_the_trend_is_printed_by_the_cli_in_french_or_as_json(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    import json

    from click.testing import CliRunner

    from monitor.cli import cli

    base = ["--config", str(replayed_demo.config_path), "--db", replayed_demo.copy_url(tmp_path)]
    args = ["vigilance", "trend", *base, "--device", "fracture-xr", "--to", "2025-09-30"]
    text = CliRunner().invoke(cli, [*args, "--previous", "2"])
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("Synthèse de tendance - ")
    assert "Taux de faux négatifs en 2025-Q3 par rapport aux 2 période(s)" in text.stdout
    as_json = CliRunner().invoke(cli, [*args, "--period", "month", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    summary = json.loads(as_json.stdout)
    assert [p["period"] for p in summary["periods"]][-1] == "2025-09"
    assert len(summary["periods"]) == 5
