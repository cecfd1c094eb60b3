"""Evaluation: counts equal scikit-learn's confusion matrix, rates and intervals scipy's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from monitor.cli import cli
from monitor.evaluation import age_band_labels, evaluate_cases
from monitor.storage import Database

PARIS = ZoneInfo("Europe/Paris")
EXPECTED_KEYS = [
    "device_id",
    "window_start",
    "window_end",
    "site",
    "n",
    "tp",
    "fp",
    "tn",
    "fn",
    "pending",
    "sensitivity",
    "sensitivity_low",
    "sensitivity_high",
    "specificity",
    "specificity_low",
    "specificity_high",
    "ppv",
    "ppv_low",
    "ppv_high",
    "npv",
    "npv_low",
    "npv_high",
]


def _synthetic(tmp_path: Path, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, Path, Path]:
    """Random exams over 60 days, two devices and sites, reports after 0-20 days and a
    pathology after 30-90 days for some (it may contradict the report)."""
    rng = np.random.default_rng(seed)
    n = 1500
    exam = pd.Timestamp("2025-01-01", tz=PARIS) + pd.to_timedelta(rng.uniform(0, 60, n), unit="D")
    truth = rng.random(n) < 0.3
    ai_pos = np.where(truth, rng.random(n) < 0.85, rng.random(n) < 0.2)
    predictions = pd.DataFrame(
        {
            "device_id": np.where(rng.random(n) < 0.6, "frac", "nod"),
            "device_version": "1.0",
            "exam_datetime": exam,
            "ai_result": np.where(ai_pos, "positive", "negative"),
            "accession_number": [f"E{i:05d}" for i in range(n)],
            "site": np.where(rng.random(n) < 0.5, "A", "B"),
            "truth": truth,
        }
    )
    report_label = np.where(rng.random(n) < 0.9, truth, ~truth)
    reported = rng.random(n) < 0.9
    reports = pd.DataFrame(
        {
            "accession_number": predictions["accession_number"],
            "outcome": np.where(report_label, "positive", "negative"),
            "source": "report",
            "outcome_datetime": exam + pd.to_timedelta(rng.uniform(0, 20, n), unit="D"),
        }
    )[reported]
    has_path = rng.random(n) < 0.25
    pathology = pd.DataFrame(
        {
            "accession_number": predictions["accession_number"],
            "outcome": np.where(truth, "positive", "negative"),
            "source": "pathology",
            "outcome_datetime": exam + pd.to_timedelta(rng.uniform(30, 90, n), unit="D"),
        }
    )[has_path]
    outcomes = pd.concat([reports, pathology], ignore_index=True)
    p_path = tmp_path / "predictions.csv"
    o_path = tmp_path / "outcomes.csv"
    out = predictions.drop(columns="truth").copy()
    out["exam_datetime"] = out["exam_datetime"].map(lambda t: t.isoformat())
    out.reindex(columns=list(PREDICTION_COLUMNS)).to_csv(p_path, index=False)
    o_out = outcomes.copy()
    o_out["outcome_datetime"] = o_out["outcome_datetime"].map(lambda t: t.isoformat())
    o_out.reindex(columns=list(OUTCOME_COLUMNS)).to_csv(o_path, index=False)
    return predictions, outcomes, p_path, o_path


def _expected_labels(
    predictions: pd.DataFrame, outcomes: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Independent truth as of a date: pathology if known by then, else the report."""
    known = outcomes[outcomes["outcome_datetime"] <= as_of]
    best = (
        known.assign(rank=known["source"].map({"pathology": 0, "report": 1}))
        .sort_values(["accession_number", "rank"])
        .drop_duplicates("accession_number")
        .set_index("accession_number")["outcome"]
    )
    seen = predictions[predictions["exam_datetime"] <= as_of].copy()
    seen["outcome"] = seen["accession_number"].map(best)
    return seen


@pytest.mark.parametrize("as_of", ["2025-01-31", "2025-02-20", "2025-06-30"])
def test_json_counts_equal_sklearn_confusion_matrix(
    registered: Database, db_url: str, tmp_path: Path, as_of: str
) -> None:
    predictions, outcomes, p_path, o_path = _synthetic(tmp_path)
    runner = CliRunner()
    for kind, path in (("predictions", p_path), ("outcomes", o_path)):
        result = runner.invoke(
            cli, ["ingest", kind, str(path), "--db", db_url], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        ["evaluate", "--db", db_url, "--by", "site", "--as-of", as_of, "--format", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    cells = json.loads(result.output)

    expected = _expected_labels(
        predictions, outcomes, pd.Timestamp(as_of, tz=PARIS) + pd.Timedelta(days=1, microseconds=-1)
    )
    assert {(c["device_id"], c["site"]) for c in cells} == set(
        expected.groupby(["device_id", "site"]).groups
    )
    for cell in cells:
        assert list(cell) == EXPECTED_KEYS
        group = expected[
            (expected["device_id"] == cell["device_id"]) & (expected["site"] == cell["site"])
        ]
        verified = group[group["outcome"].notna()]
        tn, fp, fn, tp = confusion_matrix(
            verified["outcome"] == "positive",
            verified["ai_result"] == "positive",
            labels=[False, True],
        ).ravel()
        assert (cell["tp"], cell["fp"], cell["tn"], cell["fn"]) == (tp, fp, tn, fn)
        assert cell["n"] == len(verified)
        assert cell["pending"] == group["outcome"].isna().sum()
        for name, k, total in (
            ("sensitivity", tp, tp + fn),
            ("specificity", tn, tn + fp),
            ("ppv", tp, tp + fp),
            ("npv", tn, tn + fn),
        ):
            if total == 0:
                assert cell[name] is None and cell[f"{name}_low"] is None
                continue
            ci = binomtest(int(k), int(total)).proportion_ci(method="wilson")
            assert cell[name] == pytest.approx(k / total)
            assert cell[f"{name}_low"] == pytest.approx(ci.low, abs=1e-12)
            assert cell[f"{name}_high"] == pytest.approx(ci.high, abs=1e-12)


def _cases(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["device_id", "exam_datetime", "status"])
    frame["exam_datetime"] = pd.to_datetime(frame["exam_datetime"], utc=True)
    frame["patient_age"] = [10.0, 50.0, 70.0, None][: len(frame)] + [None] * max(0, len(frame) - 4)
    return frame


def test_monthly_windows_are_cut_in_local_time() -> None:
    # 31 Jan 23:30 UTC is 1 Feb 00:30 in Paris: it belongs to February.
    cases = _cases([("d", "2025-01-31T22:30:00Z", "tp"), ("d", "2025-01-31T23:30:00Z", "fn")])
    as_of = datetime(2025, 3, 1, tzinfo=UTC)
    cells = evaluate_cases(cases, as_of=as_of, tz=PARIS, window="month")
    assert [(c["window_start"], c["window_end"], c["tp"], c["fn"]) for c in cells] == [
        ("2025-01-01T00:00:00+01:00", "2025-02-01T00:00:00+01:00", 1, 0),
        ("2025-02-01T00:00:00+01:00", "2025-03-01T00:00:00+01:00", 0, 1),
    ]


def test_weeks_start_on_monday_and_the_last_window_ends_at_as_of() -> None:
    cases = _cases([("d", "2025-03-05T10:00:00Z", "tp"), ("d", "2025-03-12T10:00:00Z", "tn")])
    as_of = datetime(2025, 3, 12, 18, 0, tzinfo=UTC)
    cells = evaluate_cases(cases, as_of=as_of, tz=PARIS, window="week")
    assert [(c["window_start"], c["window_end"]) for c in cells] == [
        ("2025-03-03T00:00:00+01:00", "2025-03-10T00:00:00+01:00"),
        ("2025-03-10T00:00:00+01:00", "2025-03-12T19:00:00+01:00"),
    ]


def test_age_bands_and_missing_values() -> None:
    assert age_band_labels([18, 65]) == ["<18", "18-64", ">=65"]
    cases = _cases([("d", "2025-03-05T10:00:00Z", "tp")] * 4)
    cells = evaluate_cases(
        cases, as_of=datetime(2025, 4, 1, tzinfo=UTC), tz=PARIS, by=["age_band"], age_bands=[18, 65]
    )
    assert [(c["age_band"], c["tp"]) for c in cells] == [
        ("18-64", 1),
        ("<18", 1),
        (">=65", 1),
        (None, 1),
    ]


def test_empty_cells_give_null_rates_not_errors() -> None:
    cells = evaluate_cases(
        _cases([("d", "2025-03-05T10:00:00Z", "pending")]),
        as_of=datetime(2025, 4, 1, tzinfo=UTC),
        tz=PARIS,
    )
    (cell,) = cells
    assert (cell["n"], cell["pending"], cell["sensitivity"], cell["npv_high"]) == (0, 1, None, None)


def test_unknown_breakdown_is_a_clear_error() -> None:
    from monitor.errors import MonitorError

    with pytest.raises(MonitorError, match="cannot break down by shoe_size"):
        evaluate_cases(
            _cases([("d", "2025-03-05T10:00:00Z", "tp")]),
            as_of=datetime(2025, 4, 1, tzinfo=UTC),
            tz=PARIS,
            by=["shoe_size"],
        )
