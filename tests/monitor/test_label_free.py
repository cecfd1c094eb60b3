"""Label-free views of a device (:mod:`monitor.label_free`): drift and estimated performance.

Specification, on a synthetic device-history built in memory (no database):

- :func:`drift_frames` compares the reference period (by default the first
  ``reference_days`` = 90 local days, midnight to midnight, from the day of the device's
  first exam, or of its entry into service if later; or a pinned period of whole local
  days) with the last ``drift_window_days`` = 30 days (of 24 h) before the as-of;
  before that window has passed beyond the reference it refuses, naming the reference's
  end and suggesting a later ``--as-of``;
- :func:`drift_rows` flags a column whose mix changed and not one that did not, with
  Evidently's statistic (Jensen-Shannon distance, natural log, for categorical columns
  of a reference above 1000 rows; normed Wasserstein distance for numeric ones),
  checked here against scipy on counts of the raw rows;
- :func:`estimated_vs_realised` gives one row per calendar month (Europe/Paris) after
  the reference, with the scored counted cases, the realised sensitivity and
  specificity of the cases verified by the as-of (checked by counting, Wilson intervals
  against statsmodels) and the CBPE estimate (checked against scikit-learn's isotonic
  regression, and close to the realised value on a stable device);
- :func:`write_device_drift_report` saves Evidently's report as one HTML file.

The synthetic device (built as ``benchmarks/detection.py`` does): in service from
2025-01-01, first exam that day at 08:00 Paris time, then 60 exams a weekday (36 at
weekends) between 08:00 and 20:00, plus exams exactly on the bounds compared;
prevalence 0.3, scores Beta(5, 2) for positives and Beta(2, 5) for negatives, call
positive at score >= 0.5; 3 % of the cases have no score, 2 % an indeterminate result
(excluded). From day 200 the site mix moves from 50/50 to 80/20 and a new scanner
manufacturer takes 30 % of the exams; sex, body part, age and scores do not change.
Reports arrive 1 to 60 days after the exam, 5 % never.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance
from sklearn.isotonic import IsotonicRegression
from statsmodels.stats.proportion import proportion_confint

from alerts.drift import DRIFT_COLUMNS
from monitor.config import Config, DetectionConfig
from monitor.errors import MonitorError
from monitor.history import DeviceHistory, to_ns
from monitor.label_free import (
    DriftFrames,
    drift_frames,
    drift_rows,
    estimated_vs_realised,
    write_device_drift_report,
)
from monitor.registry import DeviceSpec, parse_registry

PARIS = ZoneInfo("Europe/Paris")
START = date(2025, 1, 1)
DAYS = 300
CHANGE_DAY = 200
NS_PER_HOUR = 3600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR
FIRST_EXAM_NS = to_ns(datetime(2025, 1, 1, 8, tzinfo=PARIS))
REFERENCE_START_NS = to_ns(datetime(2025, 1, 1, tzinfo=PARIS))
REFERENCE_END_NS = to_ns(datetime(2025, 4, 1, tzinfo=PARIS))  # 90 local days: 2159 h (DST)
AS_OF_NS = to_ns(datetime.combine(date(2025, 10, 15), time.max, tzinfo=PARIS))
WINDOW_START_NS = AS_OF_NS - 30 * NS_PER_DAY
BOUNDARY_EXAMS_NS = np.array(
    [FIRST_EXAM_NS, REFERENCE_END_NS - 1, REFERENCE_END_NS, WINDOW_START_NS, AS_OF_NS]
)
"""Exams exactly on the bounds, besides the random ones."""
CONFIG = Config()


def device(date_in_service: date = START) -> DeviceSpec:
    return parse_registry(
        {
            "devices": [
                {
                    "id": "sim-xr",
                    "name": "Simulated fracture detector",
                    "manufacturer": "Test",
                    "versions": ["1.0"],
                    "target": "fracture",
                    "ai_based": True,
                    "date_in_service": date_in_service.isoformat(),
                    "operating_threshold": 0.5,
                    "indeterminate_policy": "exclude",
                    "claimed_performance": {
                        "sensitivity": 0.85,
                        "specificity": 0.85,
                        "source": "test",
                    },
                }
            ]
        }
    )[0]


@dataclasses.dataclass(frozen=True)
class Simulated:
    """A history and the synthetic truth behind it (every case, known or not)."""

    history: DeviceHistory
    truth: npt.NDArray[np.int8]
    reported: npt.NDArray[np.bool_]
    report_ns: npt.NDArray[np.int64]


def simulate(seed: int = 2025, exams_per_day: float = 60.0) -> Simulated:
    rng = np.random.default_rng(seed)
    day_starts = pd.date_range(START, periods=DAYS, freq="D", tz=PARIS)
    counts = rng.poisson(np.where(day_starts.dayofweek < 5, exams_per_day, 0.6 * exams_per_day))
    day = np.repeat(np.arange(DAYS), counts)
    exam_ns = day_starts.asi8[day] + (rng.uniform(8, 20, day.size) * NS_PER_HOUR).astype(np.int64)
    exam_ns = np.concatenate((BOUNDARY_EXAMS_NS, exam_ns))
    day = np.concatenate((np.searchsorted(day_starts.asi8, BOUNDARY_EXAMS_NS, "right") - 1, day))
    order = np.argsort(exam_ns, kind="stable")
    day, exam_ns = day[order], exam_ns[order]
    n = day.size
    changed = day >= CHANGE_DAY

    truth = rng.random(n) < 0.3
    score = np.where(truth, rng.beta(5.0, 2.0, n), rng.beta(2.0, 5.0, n))
    call = (score >= 0.5).astype(np.int8)
    result = np.where(call == 1, "positive", "negative").astype(object)
    indeterminate = rng.random(n) < 0.02
    call[indeterminate] = -1
    result[indeterminate] = "indeterminate"
    score[rng.random(n) < 0.03] = np.nan

    north = rng.random(n) < np.where(changed, 0.8, 0.5)
    manufacturer = rng.choice(["GE", "Siemens", "Philips"], n, p=[0.5, 0.3, 0.2]).astype(object)
    manufacturer[changed & (rng.random(n) < 0.3)] = "Fujifilm"
    age = rng.uniform(18, 95, n)
    age[rng.random(n) < 0.02] = np.nan
    cases = pd.DataFrame(
        {
            "prediction_id": np.arange(1, n + 1),
            "device_version": "1.0",
            "target": "fracture",
            "ai_result": result,
            "ai_score": score,
            "site": np.where(north, "CHU-Nord", "CHU-Sud"),
            "modality": "DX",
            "body_part": rng.choice(["WRIST", "ANKLE", "HIP", "HAND"], n),
            "scanner_manufacturer": manufacturer,
            "scanner_model": None,
            "patient_age": age,
            "patient_sex": rng.choice(["F", "M"], n),
            "exam_ns": exam_ns,
            "age_band": np.where(age < 65, "18-64", ">=65"),
            "ai_call": call,
        }
    )
    reported = rng.random(n) >= 0.05
    report_ns = exam_ns + (rng.uniform(1, 60, n) * NS_PER_DAY).astype(np.int64)
    event_case = np.flatnonzero(reported)
    history = DeviceHistory(
        device=device(),
        cases=cases,
        event_case=event_case,
        event_truth=truth[event_case].astype(np.int8),
        event_ns=report_ns[event_case],
    )
    return Simulated(history, truth.astype(np.int8), reported, report_ns)


@pytest.fixture(scope="module")
def simulated() -> Simulated:
    return simulate()


@pytest.fixture(scope="module")
def frames(simulated: Simulated) -> DriftFrames:
    return drift_frames(simulated.history, CONFIG, AS_OF_NS)


@pytest.fixture(scope="module")
def monthly(simulated: Simulated) -> list[dict[str, Any]]:
    return estimated_vs_realised(simulated.history, CONFIG, AS_OF_NS)


# --- drift frames ---------------------------------------------------------------------------


def test_the_defaults_are_those_this_specification_assumes() -> None:
    assert CONFIG.detection.reference_days == 90
    assert CONFIG.detection.drift_window_days == 30
    assert CONFIG.time.timezone == "Europe/Paris"
    assert CONFIG.evaluation.confidence == 0.95
    assert CONFIG.evaluation.interval_method == "wilson"


def test_drift_needs_a_full_window_after_the_reference(simulated: Simulated) -> None:
    earliest = REFERENCE_END_NS + 30 * NS_PER_DAY

    with pytest.raises(MonitorError) as raised:
        drift_frames(simulated.history, CONFIG, earliest - 1)

    message = str(raised.value)
    assert "'sim-xr'" in message
    assert "2025-04-01T00:00:00+02:00" in message
    assert "--as-of" in message
    assert drift_frames(simulated.history, CONFIG, earliest).window == (
        REFERENCE_END_NS,
        earliest,
    )


def test_the_reference_is_the_first_90_days_and_current_the_last_30(
    simulated: Simulated, frames: DriftFrames
) -> None:
    cases = simulated.history.cases
    exam = cases["exam_ns"].to_numpy()
    in_reference = (exam >= REFERENCE_START_NS) & (exam < REFERENCE_END_NS)
    in_window = (exam > WINDOW_START_NS) & (exam <= AS_OF_NS)

    assert REFERENCE_END_NS - REFERENCE_START_NS == 90 * NS_PER_DAY - 3600 * 10**9
    assert frames.reference_window == (REFERENCE_START_NS, REFERENCE_END_NS)
    assert frames.window == (WINDOW_START_NS, AS_OF_NS)
    reference_exams = set(cases.loc[frames.reference.index, "exam_ns"])
    current_exams = set(cases.loc[frames.current.index, "exam_ns"])
    assert {FIRST_EXAM_NS, REFERENCE_END_NS - 1} <= reference_exams  # start in
    assert REFERENCE_END_NS not in reference_exams  # end out
    assert AS_OF_NS in current_exams  # the as-of in
    assert WINDOW_START_NS not in current_exams  # exactly 30 days before: out
    assert len(frames.reference) == int(in_reference.sum()) > 4000
    assert len(frames.current) == int(in_window.sum()) > 1000
    assert list(frames.reference.index) == list(np.flatnonzero(in_reference))
    assert list(frames.current.index) == list(np.flatnonzero(in_window))
    assert list(frames.reference.columns) == list(DRIFT_COLUMNS)
    assert list(frames.current.columns) == list(DRIFT_COLUMNS)


def test_a_later_entry_into_service_starts_the_reference_at_its_midnight(
    simulated: Simulated,
) -> None:
    history = dataclasses.replace(simulated.history, device=device(date(2025, 1, 15)))
    start = to_ns(datetime(2025, 1, 15, tzinfo=PARIS))
    end = to_ns(datetime(2025, 4, 15, tzinfo=PARIS))

    frames = drift_frames(history, CONFIG, AS_OF_NS)

    exam = history.cases["exam_ns"].to_numpy()
    assert frames.reference_window == (start, end)
    assert len(frames.reference) == int(((exam >= start) & (exam < end)).sum())


def test_a_pinned_reference_is_whole_local_days(simulated: Simulated) -> None:
    config = Config(
        detection=DetectionConfig(references={"sim-xr": (date(2025, 2, 1), date(2025, 4, 30))})
    )
    start = to_ns(datetime(2025, 2, 1, tzinfo=PARIS))
    end = to_ns(datetime(2025, 5, 1, tzinfo=PARIS))

    frames = drift_frames(simulated.history, config, AS_OF_NS)

    exam = simulated.history.cases["exam_ns"].to_numpy()
    assert frames.reference_window == (start, end)
    assert len(frames.reference) == int(((exam >= start) & (exam < end)).sum())


# --- drift rows -----------------------------------------------------------------------------


def category_counts(
    reference: pd.Series, current: pd.Series
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Counts of each label seen in either sample, aligned (missing values dropped)."""
    table = pd.concat(
        [reference.value_counts(), current.value_counts()], axis=1, keys=["ref", "cur"]
    ).fillna(0)
    return table["ref"].to_numpy(np.float64), table["cur"].to_numpy(np.float64)


def test_a_changed_mix_drifts_and_an_unchanged_one_does_not(frames: DriftFrames) -> None:
    rows = {row["column"]: row for row in drift_rows(frames, CONFIG.detection.drift_min_exams)}

    assert rows["site"]["drift"] is True
    assert rows["scanner_manufacturer"]["drift"] is True
    for column in ("patient_sex", "body_part", "modality", "ai_result", "patient_age", "ai_score"):
        assert rows[column]["drift"] is False, column
    assert "scanner_model" not in rows  # no values: not compared


@pytest.mark.parametrize(
    "column", ["site", "scanner_manufacturer", "patient_sex", "body_part", "ai_result"]
)
def test_categorical_scores_are_jensen_shannon_distances(frames: DriftFrames, column: str) -> None:
    rows = {row["column"]: row for row in drift_rows(frames, CONFIG.detection.drift_min_exams)}
    ref_counts, cur_counts = category_counts(frames.reference[column], frames.current[column])

    row = rows[column]
    assert row["kind"] == "categorical"
    assert row["method"] == "jensenshannon"  # reference above 1000 rows
    assert row["threshold"] == 0.1
    assert row["n_reference"] == int(ref_counts.sum()) == frames.reference[column].notna().sum()
    assert row["n_current"] == int(cur_counts.sum())
    assert row["score"] == pytest.approx(float(jensenshannon(ref_counts, cur_counts)), abs=1e-12)
    assert row["drift"] is (row["score"] >= 0.1)


def test_the_site_shift_has_the_expected_size(frames: DriftFrames) -> None:
    """50/50 to 80/20: JS distance sqrt((KL(p||m) + KL(q||m)) / 2) = 0.225, well above 0.1."""
    rows = {row["column"]: row for row in drift_rows(frames, CONFIG.detection.drift_min_exams)}
    p, q = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    m = (p + q) / 2
    expected = np.sqrt((np.sum(p * np.log(p / m)) + np.sum(q * np.log(q / m))) / 2)
    assert rows["site"]["score"] == pytest.approx(expected, abs=0.03)


@pytest.mark.parametrize("column", ["patient_age", "ai_score"])
def test_numeric_scores_are_normed_wasserstein_distances(frames: DriftFrames, column: str) -> None:
    rows = {row["column"]: row for row in drift_rows(frames, CONFIG.detection.drift_min_exams)}
    ref = frames.reference[column].dropna().to_numpy(np.float64)
    cur = frames.current[column].dropna().to_numpy(np.float64)

    row = rows[column]
    assert row["kind"] == "numeric"
    assert row["method"] == "wasserstein"
    assert (row["n_reference"], row["n_current"]) == (ref.size, cur.size)
    expected = wasserstein_distance(ref, cur) / np.std(ref)
    assert row["score"] == pytest.approx(expected, rel=1e-9)


def test_columns_with_fewer_than_min_rows_are_not_compared(frames: DriftFrames) -> None:
    assert drift_rows(frames, len(frames.current) + 1) == []
    scored = int(frames.current["ai_score"].notna().sum())
    columns = {row["column"] for row in drift_rows(frames, scored + 1)}
    assert "ai_score" not in columns  # 3 % of scores missing
    assert "site" in columns


# --- estimated against realised -------------------------------------------------------------


def month_bounds() -> list[tuple[int, int]]:
    """[start, end) of each Paris calendar month from the reference's end to the as-of."""
    starts = [to_ns(datetime(2025, m, 1, tzinfo=PARIS)) for m in range(4, 11)]
    ends = [*starts[1:], AS_OF_NS + 1]
    return [(max(s, REFERENCE_END_NS), e) for s, e in zip(starts, ends, strict=True)]


def month_masks(simulated: Simulated) -> list[npt.NDArray[np.bool_]]:
    """Per month: scored cases with a counted call and an exam in it (by the as-of)."""
    cases = simulated.history.cases
    exam = cases["exam_ns"].to_numpy()
    counted = (cases["ai_call"].to_numpy() >= 0) & cases["ai_score"].notna().to_numpy()
    return [counted & (exam >= s) & (exam < e) for s, e in month_bounds()]


def known_by_as_of(simulated: Simulated) -> npt.NDArray[np.bool_]:
    counted: npt.NDArray[np.bool_] = simulated.history.cases["ai_call"].to_numpy() >= 0
    return simulated.reported & (simulated.report_ns <= AS_OF_NS) & counted


def test_one_row_per_calendar_month_after_the_reference(monthly: list[dict[str, Any]]) -> None:
    assert [row["window_start"] for row in monthly] == [
        "2025-04-01T00:00:00+02:00",  # the reference ends at this midnight
        "2025-05-01T00:00:00+02:00",
        "2025-06-01T00:00:00+02:00",
        "2025-07-01T00:00:00+02:00",
        "2025-08-01T00:00:00+02:00",
        "2025-09-01T00:00:00+02:00",
        "2025-10-01T00:00:00+02:00",
    ]
    assert [row["window_end"] for row in monthly] == [
        "2025-05-01T00:00:00+02:00",
        "2025-06-01T00:00:00+02:00",
        "2025-07-01T00:00:00+02:00",
        "2025-08-01T00:00:00+02:00",
        "2025-09-01T00:00:00+02:00",
        "2025-10-01T00:00:00+02:00",
        "2025-10-15T23:59:59+02:00",  # the as-of
    ]


def test_a_month_cut_by_the_reference_counts_only_the_cases_after_it(
    simulated: Simulated,
) -> None:
    config = Config(
        detection=DetectionConfig(references={"sim-xr": (date(2025, 1, 1), date(2025, 4, 14))})
    )
    cases = simulated.history.cases
    exam = cases["exam_ns"].to_numpy()
    counted = (cases["ai_call"].to_numpy() >= 0) & cases["ai_score"].notna().to_numpy()
    after = to_ns(datetime(2025, 4, 15, tzinfo=PARIS))
    until = to_ns(datetime(2025, 5, 1, tzinfo=PARIS))

    rows = estimated_vs_realised(simulated.history, config, AS_OF_NS)

    assert len(rows) == 7
    assert rows[0]["cases"] == int((counted & (exam >= after) & (exam < until)).sum())
    assert rows[0]["window_end"] == "2025-05-01T00:00:00+02:00"


def test_a_month_cut_by_the_reference_starts_where_the_reference_ends(
    simulated: Simulated,
) -> None:
    config = Config(
        detection=DetectionConfig(references={"sim-xr": (date(2025, 1, 1), date(2025, 4, 14))})
    )
    rows = estimated_vs_realised(simulated.history, config, AS_OF_NS)
    assert rows[0]["window_start"] == "2025-04-15T00:00:00+02:00"


def test_cases_are_the_scored_counted_cases_of_the_month(
    simulated: Simulated, monthly: list[dict[str, Any]]
) -> None:
    known = known_by_as_of(simulated)
    masks = month_masks(simulated)
    assert len(monthly) == len(masks)
    for row, inside in zip(monthly, masks, strict=True):
        assert row["cases"] == int(inside.sum()) > 500
        assert row["verified_share"] == pytest.approx(float(known[inside].mean()), abs=1e-12)
    assert monthly[-1]["verified_share"] < 0.5 < monthly[0]["verified_share"]


def test_realised_values_count_the_cases_verified_by_the_as_of(
    simulated: Simulated, monthly: list[dict[str, Any]]
) -> None:
    known = known_by_as_of(simulated)
    calls = simulated.history.cases["ai_call"].to_numpy()
    for row, inside in zip(monthly, month_masks(simulated), strict=True):
        for metric, outcome in (("sensitivity", 1), ("specificity", 0)):
            denominator = inside & known & (simulated.truth == outcome)
            n = int(denominator.sum())
            k = int((denominator & (calls == outcome)).sum())
            low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
            assert row[f"realised_{metric}"] == pytest.approx(k / n, abs=1e-12)
            assert row[f"realised_{metric}_low"] == pytest.approx(low, abs=1e-9)
            assert row[f"realised_{metric}_high"] == pytest.approx(high, abs=1e-9)


def test_estimates_are_cbpe_on_the_reference_calibration(
    simulated: Simulated, monthly: list[dict[str, Any]]
) -> None:
    cases = simulated.history.cases
    exam = cases["exam_ns"].to_numpy()
    scores = cases["ai_score"].to_numpy(np.float64)
    calls = cases["ai_call"].to_numpy().astype(np.float64)
    reference = (
        (exam >= REFERENCE_START_NS)
        & (exam < REFERENCE_END_NS)
        & known_by_as_of(simulated)
        & ~np.isnan(scores)
    )
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(scores[reference], simulated.truth[reference])
    for row, inside in zip(monthly, month_masks(simulated), strict=True):
        p, c = model.predict(scores[inside]), calls[inside]
        sensitivity = np.sum(p * c) / np.sum(p)
        specificity = np.sum((1 - p) * (1 - c)) / np.sum(1 - p)
        assert row["estimated_sensitivity"] == pytest.approx(sensitivity, abs=1e-9)
        assert row["estimated_specificity"] == pytest.approx(specificity, abs=1e-9)
        for metric in ("sensitivity", "specificity"):
            low, high = row[f"estimated_{metric}_low"], row[f"estimated_{metric}_high"]
            assert low < row[f"estimated_{metric}"] < high


def test_on_a_stable_device_estimates_are_close_to_realised_values(
    monthly: list[dict[str, Any]],
) -> None:
    for row in monthly:
        for metric in ("sensitivity", "specificity"):
            assert row[f"estimated_{metric}"] == pytest.approx(
                row[f"realised_{metric}"], abs=0.05
            ), (row["window_start"], metric)
            assert 0.85 < row[f"estimated_{metric}"] < 0.93  # the true value is 57/64 = 0.89


def test_a_month_with_no_verified_positive_has_no_realised_sensitivity(
    simulated: Simulated,
) -> None:
    history = simulated.history
    late = history.event_truth == 1
    history = dataclasses.replace(
        history,
        event_ns=np.where(
            late & (history.event_ns > to_ns(datetime(2025, 10, 1, tzinfo=PARIS))),
            AS_OF_NS + 1,
            history.event_ns,
        ),
    )
    october = estimated_vs_realised(history, CONFIG, AS_OF_NS)[-1]
    assert october["window_start"] == "2025-10-01T00:00:00+02:00"
    assert october["realised_sensitivity"] is None
    assert october["realised_sensitivity_low"] is None
    assert october["realised_specificity"] is not None
    assert 0.0 < october["estimated_sensitivity"] < 1.0


def test_a_device_without_scores_cannot_be_estimated(simulated: Simulated) -> None:
    cases = simulated.history.cases.assign(ai_score=np.nan)
    history = dataclasses.replace(simulated.history, cases=cases)
    with pytest.raises(MonitorError, match="AI score"):
        estimated_vs_realised(history, CONFIG, AS_OF_NS)


def test_a_reference_without_verified_cases_cannot_be_estimated(simulated: Simulated) -> None:
    empty = np.array([], dtype=np.int64)
    history = dataclasses.replace(
        simulated.history,
        event_case=empty,
        event_truth=np.array([], dtype=np.int8),
        event_ns=empty,
    )
    with pytest.raises(MonitorError, match="'sim-xr'"):
        estimated_vs_realised(history, CONFIG, AS_OF_NS)


# --- Evidently's report ---------------------------------------------------------------------


def test_the_drift_report_is_one_self_contained_html_file(
    frames: DriftFrames, tmp_path: Path
) -> None:
    path = tmp_path / "reports" / "sim-xr.html"

    written = write_device_drift_report(frames, path, "Drift of sim-xr")

    assert written == path
    assert path.is_file()
    assert path.stat().st_size > 10_000
    text = path.read_text(encoding="utf-8")
    assert "<html" in text.lower()
    assert "Drift of sim-xr" in text
    assert "<script src=" not in text.lower()
