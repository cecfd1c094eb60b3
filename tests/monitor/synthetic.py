"""Synthetic linked cases written as canonical CSV files, shared by evaluation tests."""

from __future__ import annotations

import csv
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS

PARIS = ZoneInfo("Europe/Paris")


def write_rows(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> Path:
    """``rows`` written to ``path`` as a CSV file with the header ``columns`` (keys of a
    row outside ``columns`` are left out, missing ones empty)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def synthetic_cases(
    tmp_path: Path, seed: int = 7, n: int = 1500
) -> tuple[pd.DataFrame, pd.DataFrame, Path, Path]:
    """Random exams over 60 days, two devices and sites, reports after 0-20 days and a
    pathology after 30-90 days for some (it may contradict the report)."""
    rng = np.random.default_rng(seed)
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
            "scanner_manufacturer": rng.choice(["GE", "Siemens", "Fujifilm", ""], n),
            "patient_age": np.where(rng.random(n) < 0.05, np.nan, rng.integers(1, 95, n)),
            "patient_sex": rng.choice(["F", "M"], n),
            "ai_score": np.round(np.where(truth, rng.beta(4, 2, n), rng.beta(2, 4, n)), 3),
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
