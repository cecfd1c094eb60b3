"""The synthetic year: seeded, realistic in shape, with the degradation where it is said to be."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from monitor.demo_data import DemoData, DemoParameters, generate_demo, write_demo_files
from monitor.registry import parse_registry


@pytest.fixture(scope="module")
def year() -> DemoData:
    return generate_demo()


def test_same_seed_same_data_other_seed_other_data() -> None:
    short = DemoParameters(days=30)
    a, b = generate_demo(short), generate_demo(short)
    pd.testing.assert_frame_equal(a.fracture_predictions, b.fracture_predictions)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    c = generate_demo(replace(short, seed=1))
    assert not a.fracture_predictions.equals(c.fracture_predictions)


def test_volumes_follow_the_week(year: DemoData) -> None:
    exams = pd.to_datetime(year.fracture_predictions["ExamDate"], format="%d/%m/%Y %H:%M")
    per_day = exams.dt.normalize().value_counts()
    weekend = per_day[per_day.index.dayofweek >= 5].mean()
    weekday = per_day[per_day.index.dayofweek < 5].mean()
    assert weekday == pytest.approx(2 * 55, rel=0.05)
    assert weekend / weekday == pytest.approx(0.4, abs=0.05)
    ct = pd.to_datetime(year.nodule_predictions["exam_datetime"], utc=True)
    assert (ct.dt.tz_convert("Europe/Paris").dt.dayofweek >= 5).mean() < 0.05


def test_prevalence_and_performance_before_the_update(year: DemoData) -> None:
    truth = year.truth.set_index("accession_number")
    frac = year.fracture_predictions.set_index("Accession")
    label = truth.loc[frac.index, "true_label"]
    assert label.mean() == pytest.approx(0.29, abs=0.03)
    before = frac["AlgoVersion"] == "2.3.1"
    called = frac["Result"].isin(["POSITIVE", "DOUBT"])  # the registry's policy: doubt = positive
    sensitivity = called[before & label].mean()
    specificity = (~called)[before & ~label].mean()
    assert sensitivity == pytest.approx(0.945, abs=0.02)
    assert specificity == pytest.approx(0.91, abs=0.02)
    assert frac["Result"].eq("DOUBT").mean() == pytest.approx(0.04, abs=0.015)


def test_the_degradation_is_only_where_it_is_said_to_be(year: DemoData) -> None:
    d = year.degradation
    frac = year.fracture_predictions.merge(
        year.truth, left_on="Accession", right_on="accession_number"
    )
    positives = frac[frac["true_label"]]
    called = positives["Result"].isin(["POSITIVE", "DOUBT"])
    cell = (positives["AlgoVersion"] == d.version) & (positives["Manufacturer"] == d.manufacturer)
    assert (positives["degraded"] == cell).all()
    assert called[cell].mean() == pytest.approx(0.65, abs=0.04)
    assert called[~cell].mean() > 0.92
    first_update = pd.to_datetime(
        frac.loc[frac["AlgoVersion"] == d.version, "ExamDate"], format="%d/%m/%Y %H:%M"
    ).min()
    assert first_update.date() == d.start


def test_outcomes_come_after_their_exam_and_some_never(year: DemoData) -> None:
    exams = pd.concat(
        [
            pd.DataFrame(
                {
                    "accession_number": year.fracture_predictions["Accession"],
                    "exam": pd.to_datetime(
                        year.fracture_predictions["ExamDate"], format="%d/%m/%Y %H:%M"
                    ).dt.tz_localize("Europe/Paris", ambiguous=False),
                }
            ),
            pd.DataFrame(
                {
                    "accession_number": year.nodule_predictions["accession_number"],
                    "exam": pd.to_datetime(year.nodule_predictions["exam_datetime"], utc=True),
                }
            ),
        ]
    )
    joined = year.outcomes.merge(exams, on="accession_number", how="left")
    assert joined["exam"].notna().all()
    outcome_time = pd.to_datetime(joined["outcome_datetime"], utc=True)
    assert (outcome_time > joined["exam"]).all()
    never = 1 - exams["accession_number"].isin(year.outcomes["accession_number"]).mean()
    assert never == pytest.approx(0.04, abs=0.01)
    assert set(year.outcomes["source"]) == {"report", "pathology", "follow_up"}
    assert (year.outcomes["outcome"] == "indeterminate").any()


def test_written_files_parse(tmp_path: Path) -> None:
    data = generate_demo(DemoParameters(days=20))
    files = write_demo_files(data, tmp_path / "demo")
    vendor = pd.read_csv(files.fracture_predictions, sep=";")
    assert list(vendor.columns)[:4] == ["Accession", "StudyUID", "ExamDate", "Result"]
    assert list(pd.read_csv(files.nodule_predictions).columns) == list(PREDICTION_COLUMNS)
    assert list(pd.read_csv(files.outcomes).columns) == list(OUTCOME_COLUMNS)
    config = tomllib.loads(files.config.read_text(encoding="utf-8"))
    for source in config["sources"]:
        assert (files.directory / source["path"]).is_file()
    specs = parse_registry(yaml.safe_load(files.registry.read_text(encoding="utf-8")))
    assert [s.id for s in specs] == ["fracture-xr", "nodule-ct"]
    assert specs[1].risk_analysis.missing() == ["continuity_plan"]
