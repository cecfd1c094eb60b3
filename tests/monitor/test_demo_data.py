"""The synthetic year: seeded, shaped like a hospital's year, degraded where it says.

Checks are plain pandas on the generated frames (and the hidden truth); nothing
here goes through ingestion or evaluation. Synthetic data only.
"""

from __future__ import annotations

import itertools
import re
import time
import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from connectors.canonical import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from monitor.demo_data import (
    DEGRADATION,
    FRACTURE_DEVICE,
    MANUFACTURERS,
    NODULE_DEVICE,
    TRUTH_COLUMNS,
    VENDOR_COLUMNS,
    DemoData,
    DemoParameters,
    french_public_holidays,
    generate_demo,
    generate_demo_slices,
    hospital_group_parameters,
    write_demo_files,
)

PARIS = "Europe/Paris"
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
UID = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$")


@pytest.fixture(scope="module")
def year() -> DemoData:
    started = time.perf_counter()
    data = generate_demo()
    print(f"\nfull demo year generated in {time.perf_counter() - started:.2f} s")
    return data


def _fracture_exams(data: DemoData) -> pd.DataFrame:
    """The vendor frame with canonical-ish names, the hidden truth and aware exam times."""
    frame = data.fracture_predictions.merge(
        data.truth, left_on="Accession", right_on="accession_number", validate="one_to_one"
    )
    naive = pd.to_datetime(frame["ExamDate"], format="%d/%m/%Y %H:%M")
    frame["exam"] = naive.dt.tz_localize(PARIS, ambiguous=True, nonexistent="shift_forward")
    frame["called"] = frame["Result"].isin(["POSITIVE", "DOUBT"])  # policy: doubt = positive
    return frame


def _nodule_exams(data: DemoData) -> pd.DataFrame:
    frame = data.nodule_predictions.merge(
        data.truth, on=["accession_number", "device_id", "target"], validate="one_to_one"
    )
    frame["exam"] = pd.to_datetime(frame["exam_datetime"], utc=True).dt.tz_convert(PARIS)
    frame["called"] = frame["ai_result"] == "positive"
    return frame


def _per_day(exam: pd.Series, site: pd.Series, params: DemoParameters) -> pd.DataFrame:
    """Exams per site and calendar day (days without exams count as 0)."""
    days = pd.date_range(params.start, periods=params.days, freq="D")
    counts = (
        pd.crosstab(exam.dt.tz_localize(None).dt.normalize(), site)
        .reindex(days, fill_value=0)
        .reindex(columns=list(params.sites), fill_value=0)
    )
    holidays = {h for y in {params.start.year, params.end.year} for h in french_public_holidays(y)}
    counts["off"] = (days.dayofweek >= 5) | days.isin(pd.DatetimeIndex(sorted(holidays)))
    counts["august"] = days.month == 8
    return counts


def _sensitivity(frame: pd.DataFrame) -> float:
    return float(frame.loc[frame["true_label"], "called"].mean())


def _specificity(frame: pd.DataFrame) -> float:
    return float((~frame.loc[~frame["true_label"], "called"]).mean())


# --- determinism ------------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data() -> None:
    short = DemoParameters(days=60)
    a, b = generate_demo(short), generate_demo(short)
    for name in ("fracture_predictions", "nodule_predictions", "outcomes", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.registry == b.registry
    c = generate_demo(replace(short, seed=short.seed + 1))
    assert not a.fracture_predictions.equals(c.fracture_predictions)
    assert not a.nodule_predictions.equals(c.nodule_predictions)
    assert not a.outcomes.equals(c.outcomes)


def test_parameters_are_checked_and_other_sites_work() -> None:
    with pytest.raises(ValueError, match="days"):
        DemoParameters(days=0)
    with pytest.raises(ValueError, match="sites"):
        DemoParameters(sites=("CHU-Nord", "CHU-Nord"))
    with pytest.raises(ValueError, match="never_verified_rate"):
        DemoParameters(never_verified_rate=1.5)
    data = generate_demo(DemoParameters(days=10, sites=("Hôpital-Nord", "CHU-Nantes", "Clinique")))
    accessions = pd.concat(
        [data.fracture_predictions["Accession"], data.nodule_predictions["accession_number"]]
    )
    assert accessions.is_unique
    assert set(data.fracture_predictions["Site"]) == {"Hôpital-Nord", "CHU-Nantes", "Clinique"}
    empty = generate_demo(DemoParameters(days=1, nodule_exams_per_weekday=0.0))
    assert empty.nodule_predictions.empty
    assert list(empty.nodule_predictions.columns) == list(PREDICTION_COLUMNS)


# --- shape of the year --------------------------------------------------------------------


def test_volumes_follow_the_week_and_the_calendar(year: DemoData) -> None:
    params = year.parameters
    fracture = _fracture_exams(year)
    counts = _per_day(fracture["exam"], fracture["Site"], params)
    for site in params.sites:
        weekday = counts.loc[~counts["off"], site].mean()
        weekend = counts.loc[counts["off"], site].mean()
        assert weekday == pytest.approx(params.fracture_exams_per_weekday, rel=0.06)
        assert weekend / weekday == pytest.approx(params.fracture_weekend_factor, abs=0.06)
    # Emergency radiographs around the clock, busiest in the day.
    hours = fracture["exam"].dt.hour.value_counts(normalize=True)
    assert set(hours.index) == set(range(24))
    assert hours[hours.index.isin(range(9, 20))].sum() > 0.6

    nodule = _nodule_exams(year)
    counts = _per_day(nodule["exam"], nodule["site"], params)
    ordinary = ~counts["off"] & ~counts["august"]
    for site in params.sites:
        weekday = counts.loc[ordinary, site].mean()
        assert weekday == pytest.approx(params.nodule_exams_per_weekday, rel=0.08)
        assert counts.loc[counts["off"], site].mean() < 0.2 * weekday
        assert counts.loc[counts["august"] & ~counts["off"], site].mean() < 0.9 * weekday
    # Scheduled CT in office hours, none on Bastille Day (a public holiday)... or almost.
    assert nodule["exam"].dt.hour.between(8, 19).all()
    assert counts.loc[pd.Timestamp("2025-07-14"), list(params.sites)].sum() <= 5


def test_default_volumes(year: DemoData) -> None:
    assert 30_000 < len(year.fracture_predictions) < 35_000
    assert 4_300 < len(year.nodule_predictions) < 5_200
    assert len(year.truth) == len(year.fracture_predictions) + len(year.nodule_predictions)
    assert 37_000 < len(year.outcomes) < 45_000


def test_columns_identifiers_and_patients(year: DemoData) -> None:
    fracture, nodule = year.fracture_predictions, year.nodule_predictions
    assert list(fracture.columns) == list(VENDOR_COLUMNS)
    assert list(nodule.columns) == list(PREDICTION_COLUMNS)
    assert list(year.outcomes.columns) == list(OUTCOME_COLUMNS)
    assert list(year.truth.columns) == list(TRUTH_COLUMNS)

    accessions = pd.concat([fracture["Accession"], nodule["accession_number"]])
    uids = pd.concat([fracture["StudyUID"], nodule["study_instance_uid"]])
    assert accessions.is_unique and uids.is_unique
    assert accessions.str.fullmatch(r"[NS]\d{8}").all()
    assert uids.str.startswith("1.2.826.0.1.3680043.10.1234.").all()
    assert uids.str.fullmatch(UID.pattern).all() and (uids.str.len() <= 64).all()

    assert set(fracture["Result"]) == {"POSITIVE", "DOUBT", "NEGATIVE"}
    assert set(fracture["AlgoVersion"]) == {"2.3.1", "2.4.0"}
    assert set(fracture["Modality"]) == {"DX", "CR"}
    assert set(fracture["BodyPart"]) == {
        "WRIST", "HAND", "ANKLE", "FOOT", "KNEE", "HIP", "SHOULDER", "ELBOW"
    }  # fmt: skip
    assert set(nodule["modality"]) == {"CT"} and set(nodule["body_part"]) == {"CHEST"}
    assert set(nodule["device_id"]) == {NODULE_DEVICE}
    assert set(nodule["target"]) == {"lung_nodule"}
    assert set(nodule["device_version"]) == {"1.7.0", "1.8.0"}
    assert (
        nodule["ai_result"] == np.where(nodule["ai_score"] >= 0.5, "positive", "negative")
    ).all()
    assert nodule["ai_score"].between(0, 1).all()
    assert nodule["exam_datetime"].str.fullmatch(ISO_WITH_OFFSET.pattern).all()
    assert nodule["ai_datetime"].str.fullmatch(ISO_WITH_OFFSET.pattern).all()
    delay = pd.to_datetime(nodule["ai_datetime"], utc=True) - pd.to_datetime(
        nodule["exam_datetime"], utc=True
    )
    assert delay.between(pd.Timedelta(minutes=1), pd.Timedelta(minutes=20)).all()
    parsed = pd.to_datetime(fracture["ExamDate"], format="%d/%m/%Y %H:%M")
    assert parsed.dt.year.eq(2025).all()
    # Winter and summer time both appear in the offsets.
    assert {"+01:00", "+02:00"} <= set(nodule["exam_datetime"].str[-6:])

    # Five manufacturers, shared unequally between the sites.
    assert set(fracture["Manufacturer"]) == set(MANUFACTURERS)
    assert set(nodule["scanner_manufacturer"]) <= set(MANUFACTURERS)
    shares = pd.crosstab(fracture["Site"], fracture["Manufacturer"], normalize="index")
    assert (shares.loc["CHU-Nord"] - shares.loc["CHU-Sud"]).abs().max() > 0.15
    assert fracture.groupby("Model")["Manufacturer"].nunique().eq(1).all()

    # Patients: synthetic ids, some come back, always the same sex, ages that fit.
    patients = pd.concat(
        [
            fracture[["PatientID", "Sex"]].set_axis(["patient_id", "sex"], axis=1),
            nodule[["patient_id", "patient_sex"]].set_axis(["patient_id", "sex"], axis=1),
        ]
    )
    assert patients["patient_id"].str.fullmatch(r"P\d{7}").all()
    assert patients["patient_id"].duplicated().mean() > 0.1
    assert patients.groupby("patient_id")["sex"].nunique().eq(1).all()
    assert set(patients["sex"]) == {"F", "M", "U"}
    assert patients["sex"].eq("U").mean() < 0.03
    ages = fracture["Age"]
    assert ages.between(2, 101).all()
    assert 0.1 < (ages < 16).mean() < 0.3 and 0.25 < (ages >= 65).mean() < 0.45
    assert nodule["patient_age"].between(45, 90).all()
    elderly = fracture["Age"] >= 65
    hips = fracture["BodyPart"] == "HIP"
    assert hips[elderly].mean() > 3 * hips[~elderly].mean()


# --- the devices' performance -------------------------------------------------------------


def test_prevalence_and_doubt(year: DemoData) -> None:
    fracture, nodule = _fracture_exams(year), _nodule_exams(year)
    assert fracture["true_label"].mean() == pytest.approx(0.27, abs=0.02)
    assert nodule["true_label"].mean() == pytest.approx(0.20, abs=0.02)
    doubt = fracture["Result"] == "DOUBT"
    assert 0.05 <= doubt.mean() <= 0.08
    assert doubt[fracture["true_label"]].mean() > 2 * doubt[~fracture["true_label"]].mean()


def test_performance_before_the_update_is_close_to_the_claim(year: DemoData) -> None:
    claims = {d["id"]: d["claimed_performance"] for d in year.registry["devices"]}
    fracture = _fracture_exams(year)
    before = fracture[fracture["AlgoVersion"] == DEGRADATION.previous_version]
    claim = claims[FRACTURE_DEVICE]
    assert _sensitivity(before) == pytest.approx(claim["sensitivity"], abs=0.035)
    assert _specificity(before) == pytest.approx(claim["specificity"], abs=0.035)
    # Not below the claim (the degradation must be the finding) and varying by body part.
    assert _sensitivity(before) >= claim["sensitivity"]
    assert _specificity(before) >= claim["specificity"]
    by_part = before.groupby("BodyPart").apply(_sensitivity, include_groups=False)
    assert by_part.min() > 0.88 and by_part.max() - by_part.min() > 0.01

    nodule = _nodule_exams(year)
    claim = claims[NODULE_DEVICE]
    # A few points above the claim: against reports (with their errors) the monitor
    # sees about the claim.
    assert _sensitivity(nodule) == pytest.approx(claim["sensitivity"], abs=0.08)
    assert _specificity(nodule) == pytest.approx(claim["specificity"], abs=0.08)
    assert _sensitivity(nodule) >= claim["sensitivity"]
    assert _specificity(nodule) >= claim["specificity"]
    # The 1.8.0 update changes nothing.
    versions = nodule.groupby("device_version").apply(_sensitivity, include_groups=False)
    assert versions.max() - versions.min() < 0.05
    # The score separates the classes (AUC ~0.95, Mann-Whitney on ranks).
    ranks = nodule["ai_score"].rank()
    positives = nodule["true_label"]
    n_pos, n_neg = positives.sum(), (~positives).sum()
    auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    assert 0.9 < auc < 0.99


def test_the_degradation_is_only_where_it_is_said_to_be(year: DemoData) -> None:
    assert year.degradation == DEGRADATION
    assert DEGRADATION.device_id == FRACTURE_DEVICE
    assert (DEGRADATION.previous_version, DEGRADATION.version) == ("2.3.1", "2.4.0")
    assert DEGRADATION.start == date(2025, 1, 1) + timedelta(days=200)
    fracture = _fracture_exams(year)
    cell = (fracture["AlgoVersion"] == DEGRADATION.version) & (
        fracture["Manufacturer"] == DEGRADATION.manufacturer
    )
    assert (fracture["degraded"] == cell).all()
    assert not year.truth.loc[year.truth["device_id"] == NODULE_DEVICE, "degraded"].any()
    first = fracture.loc[fracture["AlgoVersion"] == DEGRADATION.version, "exam"].min()
    last = fracture.loc[fracture["AlgoVersion"] == DEGRADATION.previous_version, "exam"].max()
    assert first.date() == DEGRADATION.start and last.date() < DEGRADATION.start

    sensitivity = fracture.groupby(["AlgoVersion", "Manufacturer"]).apply(
        _sensitivity, include_groups=False
    )
    degraded = sensitivity.loc[(DEGRADATION.version, DEGRADATION.manufacturer)]
    others = sensitivity.drop(index=(DEGRADATION.version, DEGRADATION.manufacturer))
    assert degraded == pytest.approx(0.62, abs=0.05)
    assert others.min() > 0.88 and others.min() - degraded > 0.2
    # Same manufacturer before the update: as good as the rest.
    assert sensitivity.loc[(DEGRADATION.previous_version, DEGRADATION.manufacturer)] > 0.88
    # Specificity is untouched everywhere.
    specificity = fracture.groupby(["AlgoVersion", "Manufacturer"]).apply(
        _specificity, include_groups=False
    )
    assert specificity.between(0.86, 0.94).all()


# --- ground truth ---------------------------------------------------------------------------


def test_outcomes_come_after_their_exam_and_some_never(year: DemoData) -> None:
    fracture, nodule = _fracture_exams(year), _nodule_exams(year)
    names = ["accession_number", "uid", "exam_site", "exam_target", "truth", "exam"]
    fracture_columns = ["accession_number", "StudyUID", "Site", "target", "true_label", "exam"]
    nodule_columns = ["accession_number", "study_instance_uid", "site", "target", "true_label"]
    exams = pd.concat(
        [
            fracture[fracture_columns].set_axis(names, axis=1),
            nodule[[*nodule_columns, "exam"]].set_axis(names, axis=1),
        ],
        ignore_index=True,
    )
    outcomes = year.outcomes.merge(exams, on="accession_number", how="left", validate="many_to_one")
    assert outcomes["exam"].notna().all()
    assert outcomes["outcome_datetime"].str.fullmatch(ISO_WITH_OFFSET.pattern).all()
    moment = pd.to_datetime(outcomes["outcome_datetime"], utc=True)
    assert (moment > outcomes["exam"]).all()
    assert (moment.dt.tz_convert(PARIS).dt.year > 2025).any()  # verified after the year
    assert (outcomes["site"] == outcomes["exam_site"]).all()
    assert (outcomes["target"] == outcomes["exam_target"]).all()
    assert outcomes["report_text"].isna().all()
    with_uid = outcomes["study_instance_uid"].notna()
    assert 0.25 < with_uid.mean() < 0.35
    assert (outcomes.loc[with_uid, "study_instance_uid"] == outcomes.loc[with_uid, "uid"]).all()

    verified = exams["accession_number"].isin(year.outcomes["accession_number"])
    assert 1 - verified.mean() == pytest.approx(0.04, abs=0.01)

    delay_days = (moment - outcomes["exam"]).dt.total_seconds() / 86400
    report = outcomes["source"] == "report"
    assert outcomes[report]["accession_number"].is_unique
    assert delay_days[report].max() <= 5.001 and delay_days[report].median() < 2

    by_target = outcomes.groupby("target")["source"].apply(set)
    assert by_target["fracture"] == {"report", "follow_up"}
    assert by_target["lung_nodule"] == {"report", "pathology", "follow_up"}
    later = outcomes[~report]
    assert (later["outcome"] == np.where(later["truth"], "positive", "negative")).all()
    assert delay_days[outcomes["source"] == "follow_up"].min() >= 7

    # Fracture reports: a few reading errors and doubts; follow-up for about a tenth.
    fracture_reports = outcomes[report & (outcomes["target"] == "fracture")]
    agree = fracture_reports["outcome"] == np.where(
        fracture_reports["truth"], "positive", "negative"
    )
    assert agree.mean() == pytest.approx(0.965, abs=0.015)
    assert (fracture_reports["outcome"] == "indeterminate").mean() == pytest.approx(0.02, abs=0.01)
    fracture_follow = later[later["target"] == "fracture"]
    assert len(fracture_follow) / len(fracture) == pytest.approx(0.10, abs=0.03)
    # Nodule reports may be indeterminate; pathology or a follow-up CT settles each one.
    nodule_reports = outcomes[report & (outcomes["target"] == "lung_nodule")]
    doubtful = nodule_reports.loc[nodule_reports["outcome"] == "indeterminate", "accession_number"]
    assert len(doubtful) > 100
    settled = later.loc[later["target"] == "lung_nodule", "accession_number"]
    assert doubtful.isin(settled).all()
    pathology = later[later["source"] == "pathology"]
    assert delay_days[pathology.index].between(14, 90).all()
    nodule_follow = later[(later["source"] == "follow_up") & (later["target"] == "lung_nodule")]
    assert delay_days[nodule_follow.index].between(90, 365).all()


# --- files ------------------------------------------------------------------------------------


def test_written_files_parse_and_round_trip(tmp_path: Path) -> None:
    params = DemoParameters(days=30)
    data = generate_demo(params)
    files = write_demo_files(data, tmp_path / "demo")
    assert files.directory == (tmp_path / "demo").resolve()

    vendor = pd.read_csv(files.fracture_predictions, sep=";", dtype=str, keep_default_na=False)
    assert list(vendor.columns) == list(VENDOR_COLUMNS)
    pd.testing.assert_frame_equal(vendor, data.fracture_predictions.astype(str))
    assert pd.to_datetime(vendor["ExamDate"], format="%d/%m/%Y %H:%M").notna().all()
    assert files.fracture_predictions.read_text(encoding="utf-8").count(";") > len(vendor)

    nodule = pd.read_csv(files.nodule_predictions)
    assert list(nodule.columns) == list(PREDICTION_COLUMNS)
    pd.testing.assert_series_equal(nodule["ai_score"], data.nodule_predictions["ai_score"])
    assert nodule["exam_datetime"].str.fullmatch(ISO_WITH_OFFSET.pattern).all()

    outcomes = pd.read_csv(files.outcomes, dtype=str)
    assert list(outcomes.columns) == list(OUTCOME_COLUMNS)
    assert len(outcomes) == len(data.outcomes)
    report = outcomes["source"] == "report"  # a text to read the outcome from
    assert outcomes.loc[report, "report_text"].notna().all()
    assert outcomes.loc[report, "outcome"].isna().all()
    assert outcomes.loc[~report, "report_text"].isna().all()
    assert outcomes["accession_number"].notna().all()

    config = tomllib.loads(files.config.read_text(encoding="utf-8"))
    assert config["database"]["url"] == f"sqlite:///{files.directory.as_posix()}/dmn-monitor.db"
    assert config["time"]["timezone"] == PARIS
    sources = {source["name"]: source for source in config["sources"]}
    assert list(sources) == ["fracture-xr-export", "nodule-ct-export", "ris-outcomes"]
    assert [s["kind"] for s in sources.values()] == ["predictions", "predictions", "outcomes"]
    for source in sources.values():
        assert source["format"] == "csv"
        assert (files.config.parent / source["path"]).is_file()
    vendor_source = sources["fracture-xr-export"]
    assert vendor_source["delimiter"] == ";"
    assert vendor_source["datetime_format"] == "%d/%m/%Y %H:%M"
    assert sorted(vendor_source["columns"].values()) == sorted(VENDOR_COLUMNS)
    assert set(vendor_source["columns"]) <= set(PREDICTION_COLUMNS)
    assert vendor_source["values"]["ai_result"] == {
        "POSITIVE": "positive",
        "DOUBT": "indeterminate",
        "NEGATIVE": "negative",
    }
    assert vendor_source["defaults"] == {"device_id": FRACTURE_DEVICE}

    text = files.registry.read_text(encoding="utf-8")
    assert "&id" not in text  # plain YAML a quality engineer can edit, no anchors
    registry = yaml.safe_load(text)
    assert registry == data.registry
    devices = registry["devices"]
    assert [d["id"] for d in devices] == [FRACTURE_DEVICE, NODULE_DEVICE]
    keys = [
        "id", "name", "manufacturer", "model", "versions", "ce_class", "notified_body",
        "intended_purpose", "target", "ai_based", "departments", "sites", "date_in_service",
        "operating_threshold", "indeterminate_policy", "claimed_performance", "risk_analysis",
    ]  # fmt: skip
    risks = [
        "data_transmission", "data_reuse_by_manufacturer", "patient_information",
        "cybersecurity", "continuity_plan", "training",
    ]  # fmt: skip
    for device in devices:
        assert list(device) == keys
        assert list(device["risk_analysis"]) == risks
        assert isinstance(device["date_in_service"], date)
        assert device["date_in_service"] < params.start
        assert device["sites"] == list(params.sites) and device["ai_based"] is True
    fracture_entry, nodule_entry = devices
    assert fracture_entry["versions"] == ["2.3.1", "2.4.0"]
    assert fracture_entry["target"] == "fracture"
    assert fracture_entry["indeterminate_policy"] == "positive"
    assert fracture_entry["claimed_performance"]["sensitivity"] == 0.91
    assert fracture_entry["claimed_performance"]["specificity_ci"] == [0.85, 0.90]
    assert fracture_entry["departments"] == ["Urgences", "Radiologie"]
    assert all(fracture_entry["risk_analysis"].values())
    assert nodule_entry["target"] == "lung_nodule"
    assert nodule_entry["indeterminate_policy"] == "exclude"
    assert nodule_entry["operating_threshold"] == 0.5
    assert [k for k, v in nodule_entry["risk_analysis"].items() if not v] == ["continuity_plan"]

    # Writing again replaces the files.
    again = write_demo_files(data, tmp_path / "demo")
    assert again == files


# --- hospital-group scale -----------------------------------------------------------------


def _age_band(age: pd.Series) -> pd.Series:
    return pd.cut(age, [0, 18, 65, 200], right=False, labels=["<18", "18-64", ">=65"])


def test_scale_multiplies_the_volumes_and_nothing_else() -> None:
    short = DemoParameters(days=60)
    base, scaled = generate_demo(short), generate_demo(replace(short, scale=4.0))
    for name in ("fracture_predictions", "nodule_predictions"):
        ratio = len(getattr(scaled, name)) / len(getattr(base, name))
        assert ratio == pytest.approx(4.0, rel=0.06)
    assert len(scaled.outcomes) / len(base.outcomes) == pytest.approx(4.0, rel=0.06)
    assert pd.concat(
        [scaled.fracture_predictions["Accession"], scaled.nodule_predictions["accession_number"]]
    ).is_unique
    with pytest.raises(ValueError, match="scale"):
        DemoParameters(scale=-1.0)


def test_a_third_version_and_where_the_degradation_is() -> None:
    params = DemoParameters(
        days=90,
        fracture_versions=("2.3.1", "2.4.0", "2.5.0"),
        update_after_days=(30, 60),
        nodule_versions=("1.7.0", "1.8.0", "1.9.0"),
        nodule_update_after_days=(20, 70),
    )
    data = generate_demo(params)
    frame = _fracture_exams(data)
    local_day = frame["exam"].dt.tz_localize(None).dt.normalize()
    first = {v: local_day[frame["AlgoVersion"] == v].min() for v in params.fracture_versions}
    assert first == {
        "2.3.1": pd.Timestamp(params.start),
        "2.4.0": pd.Timestamp(params.start + timedelta(days=30)),
        "2.5.0": pd.Timestamp(params.start + timedelta(days=60)),
    }
    assert frame["AlgoVersion"].is_monotonic_increasing  # in time order, versions only move on
    nodule = _nodule_exams(data)
    assert sorted(set(nodule["device_version"])) == ["1.7.0", "1.8.0", "1.9.0"]
    # The degradation: 2.4.0 only, on the degraded manufacturer only.
    degraded = frame[frame["degraded"]]
    assert set(degraded["AlgoVersion"]) == {"2.4.0"}
    assert set(degraded["Manufacturer"]) == {params.degraded_manufacturer}
    assert data.degradation.version == "2.4.0" and data.degradation.previous_version == "2.3.1"
    assert data.degradation.start == params.start + timedelta(days=30)
    registry = {d["id"]: d["versions"] for d in data.registry["devices"]}
    assert registry == {
        FRACTURE_DEVICE: ["2.3.1", "2.4.0", "2.5.0"],
        NODULE_DEVICE: ["1.7.0", "1.8.0", "1.9.0"],
    }
    with pytest.raises(ValueError, match="one day per version"):
        DemoParameters(fracture_versions=("a", "b", "c"), update_after_days=200)
    with pytest.raises(ValueError, match="increasing"):
        DemoParameters(fracture_versions=("a", "2.4.0", "c"), update_after_days=(50, 40))
    with pytest.raises(ValueError, match="degraded_version"):
        DemoParameters(degraded_version="9.9")


def test_hospital_group_parameters_cover_the_grid() -> None:
    params = hospital_group_parameters(60_000, seed=7)
    data = generate_demo(params)
    fracture, nodule = data.fracture_predictions, data.nodule_predictions
    assert len(fracture) + len(nodule) == pytest.approx(60_000, rel=0.03)
    assert params.days == 365 and len(params.sites) == 2
    for versions, sites, makes, ages, sexes, months in (
        (
            fracture["AlgoVersion"],
            fracture["Site"],
            fracture["Manufacturer"],
            fracture["Age"],
            fracture["Sex"],
            fracture["ExamDate"].str[3:5],
        ),
        (
            nodule["device_version"],
            nodule["site"],
            nodule["scanner_manufacturer"],
            nodule["patient_age"],
            nodule["patient_sex"],
            nodule["exam_datetime"].str[5:7],
        ),
    ):
        assert versions.nunique() == 3
        assert set(sites) == set(params.sites)
        # Every manufacturer in every site.
        assert pd.crosstab(sites, makes).gt(0).all().all()
        assert list(pd.crosstab(sites, makes).columns) == sorted(MANUFACTURERS)
        assert set(_age_band(ages).astype(str)) == {"<18", "18-64", ">=65"}
        assert set(sexes) == {"F", "M"}
        assert months.nunique() == 12
    assert generate_demo(params).fracture_predictions.equals(fracture)  # seeded


def test_slices_continue_each_other() -> None:
    params = replace(hospital_group_parameters(20_000), days=140)
    slices = list(generate_demo_slices(params, slice_days=31))
    assert [s.parameters.days for s in slices] == [31, 31, 31, 31, 16]
    assert [s.parameters.start for s in slices] == [
        params.start + timedelta(days=d) for d in (0, 31, 62, 93, 124)
    ]
    fracture = pd.concat([s.fracture_predictions for s in slices], ignore_index=True)
    nodule = pd.concat([s.nodule_predictions for s in slices], ignore_index=True)
    outcomes = pd.concat([s.outcomes for s in slices], ignore_index=True)
    truth = pd.concat([s.truth for s in slices], ignore_index=True)
    whole = generate_demo(params)
    # About the same volume as the whole period at once, identifiers unique throughout.
    n, whole_n = len(fracture) + len(nodule), len(whole.fracture_predictions)
    assert n == pytest.approx(whole_n + len(whole.nodule_predictions), rel=0.05)
    accessions = pd.concat([fracture["Accession"], nodule["accession_number"]])
    assert accessions.is_unique and truth["accession_number"].is_unique
    assert pd.concat([fracture["StudyUID"], nodule["study_instance_uid"]]).is_unique
    assert set(outcomes["accession_number"]) <= set(accessions)
    # Accession numbers keep running per site across slices.
    for site in params.sites:
        numbers = fracture.loc[fracture["Site"] == site, "Accession"].str[1:].astype(int)
        per_slice = [
            s.fracture_predictions.loc[s.fracture_predictions["Site"] == site, "Accession"]
            .str[1:]
            .astype(int)
            for s in slices
        ]
        assert all(a.max() < b.min() for a, b in itertools.pairwise(per_slice))
        assert numbers.is_unique
    # Versions change on the period's dates, not the slice's.
    day = pd.to_datetime(fracture["ExamDate"], format="%d/%m/%Y %H:%M").dt.normalize()
    first = day.groupby(fracture["AlgoVersion"]).min()
    assert first["2.4.0"] == pd.Timestamp(params.start + timedelta(days=120))
    assert day[fracture["AlgoVersion"] == "2.3.1"].max() < first["2.4.0"]
    again = list(generate_demo_slices(params, slice_days=31))
    assert all(a.outcomes.equals(b.outcomes) for a, b in zip(slices, again, strict=True))
    with pytest.raises(ValueError, match="slice_days"):
        next(generate_demo_slices(params, slice_days=0))
