"""What detection keeps between checks: a check in a new process judges only what
came due since the last one, and finds the chart families' calibrations again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import alerts.chart_family as chart_family
import monitor.detection as detection
from alerts.chart_family import CALIBRATIONS
from monitor.config import Config
from monitor.detection import check_dates, run_checks
from monitor.detection_state import checked_ns
from monitor.history import to_ns
from monitor.ingest import ingest_file
from monitor.models import ChartCalibration, DetectionState, Finding
from monitor.storage import Database
from tests.monitor.synthetic import synthetic_cases

PARIS = ZoneInfo("Europe/Paris")
FIRST, SPLIT, LAST = date(2025, 1, 5), date(2025, 3, 15), date(2025, 4, 30)


@pytest.fixture
def ingested(registered: Database, tmp_path: Path) -> Database:
    _, _, p_path, o_path = synthetic_cases(tmp_path)
    ingest_file(registered, p_path, "predictions")
    ingest_file(registered, o_path, "outcomes")
    return registered


def _findings(db: Database) -> list[tuple[Any, ...]]:
    with db.session() as session:
        rows = session.scalars(select(Finding).order_by(Finding.dedup_key, Finding.detected_at))
        return [(f.dedup_key, f.detected_at, f.severity, round(f.value, 12)) for f in rows]


def _judged(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Month windows the below-claim rule is asked to judge from now on."""
    windows: list[tuple[int, int]] = []
    real: Callable[..., Any] = detection.below_claim_findings

    def counting(*args: Any, **kwargs: Any) -> Any:
        windows.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(detection, "below_claim_findings", counting)
    return windows


def test_a_check_in_a_new_process_judges_only_what_came_due_since(
    ingested: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config()
    with ingested.session.begin() as session:
        run_checks(session, config, check_dates(FIRST, SPLIT, 1, PARIS))
        assert checked_ns(session, "frac") == to_ns(check_dates(SPLIT, SPLIT, 1, PARIS)[0])
    split_ns = to_ns(check_dates(SPLIT, SPLIT, 1, PARIS)[0])
    lag_ns = config.detection.below_claim_lag_days * 86_400 * 10**9
    CALIBRATIONS.clear()  # as a new process
    judged = _judged(monkeypatch)
    with ingested.session.begin() as session:
        run_checks(session, config, check_dates(SPLIT, LAST, 1, PARIS)[1:])
    # A month whose look time (its end and the lag) came by the split was judged then.
    assert judged and all(end + lag_ns > split_ns for _, end in judged)
    # Going back before the last check judges the past again.
    judged.clear()
    with ingested.session.begin() as session:
        run_checks(session, config, check_dates(FIRST, LAST, 7, PARIS))
    assert any(end + lag_ns <= split_ns for _, end in judged)


def test_checks_split_across_processes_store_what_one_replay_stores(
    ingested: Database, registered: Database, tmp_path: Path
) -> None:
    config = Config()
    with ingested.session.begin() as session:
        run_checks(session, config, check_dates(FIRST, SPLIT, 1, PARIS))
    CALIBRATIONS.clear()
    with ingested.session.begin() as session:
        run_checks(session, config, check_dates(SPLIT, LAST, 1, PARIS)[1:])
    split = _findings(ingested)
    with ingested.session.begin() as session:
        session.execute(Finding.__table__.delete())
        session.execute(DetectionState.__table__.delete())
    CALIBRATIONS.clear()
    with ingested.session.begin() as session:
        run_checks(session, config, check_dates(FIRST, LAST, 1, PARIS))
    assert split and _findings(ingested) == split


def test_calibrations_are_found_again_not_simulated(
    ingested: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config()
    dates = check_dates(LAST, LAST, 1, PARIS)
    with ingested.session.begin() as session:
        run_checks(session, config, dates)
        assert session.scalar(select(func.count()).select_from(ChartCalibration)) > 0
    before = _findings(ingested)
    CALIBRATIONS.clear()

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a stored calibration was simulated again")

    monkeypatch.setattr(chart_family, "calibrate_family", never)
    with ingested.session.begin() as session:
        session.execute(DetectionState.__table__.delete())
        run_checks(session, config, dates)
    assert _findings(ingested) == before
