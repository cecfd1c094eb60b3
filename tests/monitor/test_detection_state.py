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
from monitor.config import Config, DetectionConfig
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


def _forbid(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, what: str) -> None:
    """``module.name`` fails the test if called: ``what`` happened again."""

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{what} again")

    monkeypatch.setattr(module, name, never)


def _checked_again(db: Database, config: Config, dates: list[Any]) -> list[tuple[Any, ...]]:
    """The stored findings after the same check again, as if it were the first."""
    with db.session.begin() as session:
        session.execute(DetectionState.__table__.delete())
        run_checks(session, config, dates)
    return _findings(db)


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
    _forbid(monkeypatch, chart_family, "calibrate_family", "a stored calibration was simulated")
    assert _checked_again(ingested, config, dates) == before


def test_a_replay_continuing_its_charts_finds_what_charts_computed_whole_find(
    registered: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import numpy as np
    import pandas as pd

    import alerts.charts as charts
    from alerts.charts import ChartMemo
    from connectors import PREDICTION_COLUMNS
    from monitor.detection import _checkers

    # From February, the AI misses half of the fractures it found: the charts signal.
    cases, _, p_path, o_path = synthetic_cases(tmp_path, n=3000)
    rng = np.random.default_rng(3)
    later = cases["exam_datetime"] >= pd.Timestamp("2025-02-01", tz=PARIS)
    missed = later & cases["truth"] & (rng.random(len(cases)) < 0.5)
    predictions = pd.read_csv(p_path, dtype=str)
    predictions.loc[missed.to_numpy(), "ai_result"] = "negative"
    predictions.reindex(columns=list(PREDICTION_COLUMNS)).to_csv(p_path, index=False)
    ingest_file(registered, p_path, "predictions")
    ingest_file(registered, o_path, "outcomes")
    ingested = registered

    # Blocks of 16 observations: the charts are continued across many blocks.
    monkeypatch.setattr(charts, "PATH_BLOCK", 16)
    january = (date(2025, 1, 1), date(2025, 1, 31))
    config = Config(detection=DetectionConfig(baselines={"frac": january, "nod": january}))
    dates = check_dates(date(2025, 2, 15), LAST, 1, PARIS)  # January reported by then
    with ingested.session() as session:
        kept = _checkers(session, config, dates[-1], None)
        fresh = _checkers(session, config, dates[-1], None)
    continued, whole = [], []
    for as_of in dates:
        as_of_ns = to_ns(as_of)
        for checker in kept:
            continued += checker.drafts(as_of_ns)
        for checker in fresh:
            checker.chart_memo = ChartMemo()  # nothing carried over: every path whole
            whole += checker.drafts(as_of_ns)
    assert [dataclasses.asdict(d) for d in continued] == [dataclasses.asdict(d) for d in whole]
    assert any(d.rule == "cusum" for d in whole)
    continued = [
        done
        for checker in kept
        if checker.chart_memo is not None
        for paths in checker.chart_memo._paths.values()
        for (_, _, _, done, _, _) in paths.values()
    ]
    assert any(done > 0 for done in continued)


def test_arl_curves_are_found_again_not_computed(
    ingested: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metrics.sequential as sequential
    from monitor.models import ArlCurve

    config = Config()
    dates = check_dates(LAST, LAST, 1, PARIS)
    sequential.forget_arl_curves()
    with ingested.session.begin() as session:
        run_checks(session, config, dates)
        assert session.scalar(select(func.count()).select_from(ArlCurve)) > 0
    before = _findings(ingested)
    sequential.forget_arl_curves()  # as a new process
    _forbid(monkeypatch, sequential, "_lattice_arl", "a stored ARL curve was computed")
    assert _checked_again(ingested, config, dates) == before
