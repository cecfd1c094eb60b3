"""A seeded synthetic year of AI results and ground truth, for the demo, tests and benchmarks.

Two fictional devices in two sites of a fictional hospital group:

- ``fracture-xr``: a fracture detector on emergency radiographs, exported by its
  vendor as ``POSITIVE`` / ``DOUBT`` / ``NEGATIVE`` in a semicolon CSV with French
  dates (read through a column and value mapping);
- ``nodule-ct``: a lung-nodule detector on chest CT with a score, exported as the
  canonical CSV.

Volumes follow the week (emergency radiographs every day, scheduled CT mostly on
weekdays); reports arrive within days, pathology and follow-up weeks to months
later; a few exams are never verified. One degradation is injected: after the
fracture detector's update to 2.4.0, its sensitivity falls on one manufacturer's
images. Nothing here is real patient data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS

__all__ = [
    "FRACTURE_DEVICE",
    "NODULE_DEVICE",
    "Degradation",
    "DemoData",
    "DemoFiles",
    "DemoParameters",
    "generate_demo",
    "write_demo_files",
]

FRACTURE_DEVICE = "fracture-xr"
NODULE_DEVICE = "nodule-ct"
TIMEZONE = "Europe/Paris"
MANUFACTURERS = ("GE HealthCare", "Siemens Healthineers", "Philips", "Canon", "Fujifilm")
_MODELS = {
    "GE HealthCare": ("Definium 656", "Revolution EVO"),
    "Siemens Healthineers": ("Ysio Max", "SOMATOM go.Top"),
    "Philips": ("DigitalDiagnost C90", "Incisive CT"),
    "Canon": ("Radrex-i", "Aquilion Prime SP"),
    "Fujifilm": ("FDR Smart X", "FCT Supria"),
}
# Share of each manufacturer's equipment per site (rows follow MANUFACTURERS).
_SITE_MIX = (
    (0.30, 0.25, 0.20, 0.15, 0.10),
    (0.10, 0.15, 0.20, 0.20, 0.35),
)
_BODY_PARTS = ("WRIST", "HAND", "ANKLE", "FOOT", "KNEE", "HIP", "SHOULDER", "ELBOW")
_BODY_WEIGHTS = (0.22, 0.15, 0.18, 0.10, 0.12, 0.08, 0.09, 0.06)
# Device sensitivity varies a little by body part (before any degradation).
_BODY_SENSITIVITY = (0.95, 0.94, 0.94, 0.93, 0.94, 0.96, 0.94, 0.94)
_UID_ROOT = "1.2.826.0.1.3680043.10.1234"


@dataclass(frozen=True, kw_only=True)
class DemoParameters:
    """What the synthetic year looks like. Volumes are mean exams per weekday per site."""

    seed: int = 20250101
    start: date = date(2025, 1, 1)
    days: int = 365
    sites: tuple[str, ...] = ("CHU-Nord", "CHU-Sud")
    fracture_exams_per_weekday: float = 55.0
    fracture_weekend_factor: float = 0.4
    nodule_exams_per_weekday: float = 9.0
    nodule_weekend_factor: float = 0.1
    fracture_prevalence: float = 0.27
    nodule_prevalence: float = 0.20
    fracture_specificity: float = 0.94
    doubt_rate_positive: float = 0.08
    doubt_rate_negative: float = 0.03
    update_after_days: int = 200
    degraded_manufacturer: str = "Fujifilm"
    degraded_sensitivity: float = 0.62
    never_verified_rate: float = 0.04
    report_error_rate: float = 0.005


@dataclass(frozen=True)
class Degradation:
    """The injected degradation: where, from when, how strong (sensitivity before/after)."""

    device_id: str
    version: str
    manufacturer: str
    start: date
    sensitivity_after: float


@dataclass(frozen=True)
class DemoData:
    """The generated frames. ``truth`` is hidden from the monitor: one row per exam with
    ``device_id, accession_number, target, true_label, degraded``."""

    fracture_predictions: pd.DataFrame
    nodule_predictions: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    registry: dict[str, Any]
    degradation: Degradation
    parameters: DemoParameters


@dataclass(frozen=True)
class DemoFiles:
    """Where :func:`write_demo_files` put everything."""

    directory: Path
    registry: Path
    config: Path
    fracture_predictions: Path
    nodule_predictions: Path
    outcomes: Path


def _exam_times(
    rng: np.random.Generator,
    params: DemoParameters,
    per_weekday: float,
    weekend: float,
    hour_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Local naive exam times and site index, day by day with a weekly pattern."""
    days = pd.date_range(params.start, periods=params.days, freq="D")
    weekend_day = days.dayofweek >= 5
    times, sites = [], []
    for site in range(len(params.sites)):
        rate = np.where(weekend_day, per_weekday * weekend, per_weekday)
        counts = rng.poisson(rate)
        day_of_exam = np.repeat(days.values, counts)
        hours = rng.choice(24, size=len(day_of_exam), p=hour_weights)
        minutes = rng.integers(0, 60, size=len(day_of_exam))
        offsets = hours.astype("timedelta64[h]") + minutes.astype("timedelta64[m]")
        times.append(day_of_exam + offsets)
        sites.append(np.full(len(day_of_exam), site))
    all_times = np.concatenate(times)
    all_sites = np.concatenate(sites)
    order = np.argsort(all_times, kind="stable")
    return all_times[order], all_sites[order]


def _hour_weights(profile: str) -> np.ndarray:
    if profile == "emergency":
        weights = np.array(
            [2, 1.5, 0, 1, 1, 1.5, 3, 5, 7, 8, 9, 9, 8, 8, 9, 9, 9, 9, 8, 7, 6, 5, 4, 3],
            dtype=float,
        )
    else:  # scheduled CT, weekday office hours
        weights = np.array([0] * 8 + [6, 9, 9, 8, 5, 7, 9, 9, 8, 6, 3] + [0] * 5, dtype=float)
    # Hour 2 is left empty: the daylight-saving change makes it ambiguous or nonexistent.
    weights[2] = 0
    shares: np.ndarray = weights / weights.sum()
    return shares


def _manufacturers(rng: np.random.Generator, sites: np.ndarray) -> np.ndarray:
    mix = np.array(_SITE_MIX)[sites % len(_SITE_MIX)]
    draws = rng.random(len(sites))[:, None] > np.cumsum(mix, axis=1)
    chosen: np.ndarray = np.array(MANUFACTURERS)[draws.sum(axis=1).clip(max=len(MANUFACTURERS) - 1)]
    return chosen


def _ages(rng: np.random.Generator, n: int, profile: str) -> np.ndarray:
    if profile == "emergency":
        group = rng.choice(3, size=n, p=(0.2, 0.5, 0.3))
        ages = np.select(
            [group == 0, group == 1],
            [rng.uniform(2, 18, n), rng.uniform(18, 65, n)],
            rng.uniform(65, 98, n),
        )
    else:
        ages = rng.normal(66, 10, n).clip(40, 92)
    whole: np.ndarray = np.floor(ages)
    return whole


def _sexes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(np.array(["F", "M", "U"]), size=n, p=(0.51, 0.48, 0.01))


def _patients(rng: np.random.Generator, n: int, prefix: int) -> np.ndarray:
    pool = rng.integers(0, max(1, int(n * 0.7)), size=n)
    return np.char.add(f"P{prefix}", np.char.zfill(pool.astype(str), 6))


def _localise(naive: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(naive).tz_localize(
        TIMEZONE, ambiguous=False, nonexistent="shift_forward"
    )


def _iso(moments: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    series = pd.Series(moments)
    text = series.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    iso: np.ndarray = (text.str[:-2] + ":" + text.str[-2:]).to_numpy()
    return iso


def _accessions(sites: np.ndarray, code: str, params: DemoParameters) -> np.ndarray:
    letters = np.array([name.split("-")[-1][0].upper() for name in params.sites])
    running = np.char.zfill(np.arange(1, len(sites) + 1).astype(str), 7)
    return np.char.add(np.char.add(letters[sites], code), running)


def _fracture(
    rng: np.random.Generator, params: DemoParameters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    naive, sites = _exam_times(
        rng,
        params,
        params.fracture_exams_per_weekday,
        params.fracture_weekend_factor,
        _hour_weights("emergency"),
    )
    n = len(naive)
    manufacturer = _manufacturers(rng, sites)
    body = rng.choice(len(_BODY_PARTS), size=n, p=_BODY_WEIGHTS)
    age = _ages(rng, n, "emergency")
    elderly_hip = (np.array(_BODY_PARTS)[body] == "HIP") & (age >= 65)
    truth = rng.random(n) < np.where(elderly_hip, 0.45, params.fracture_prevalence)
    update = np.datetime64(params.start + timedelta(days=params.update_after_days))
    version = np.where(naive >= update, "2.4.0", "2.3.1")
    degraded = (version == "2.4.0") & (manufacturer == params.degraded_manufacturer)
    sensitivity = np.where(degraded, params.degraded_sensitivity, np.array(_BODY_SENSITIVITY)[body])
    called = np.where(
        truth, rng.random(n) < sensitivity, rng.random(n) > params.fracture_specificity
    )
    doubt = rng.random(n) < np.where(truth, params.doubt_rate_positive, params.doubt_rate_negative)
    result = np.where(doubt, "DOUBT", np.where(called, "POSITIVE", "NEGATIVE"))
    local = _localise(naive)
    modality = np.where(
        np.isin(manufacturer, ("Fujifilm", "Canon")) & (rng.random(n) < 0.5), "CR", "DX"
    )
    frame = pd.DataFrame(
        {
            "Accession": _accessions(sites, "XR", params),
            "StudyUID": np.char.add(f"{_UID_ROOT}.1.", np.arange(1, n + 1).astype(str)),
            "ExamDate": local.strftime("%d/%m/%Y %H:%M"),
            "Result": result,
            "AlgoVersion": version,
            "Site": np.array(params.sites)[sites],
            "Manufacturer": manufacturer,
            "Model": [_MODELS[m][0] for m in manufacturer],
            "BodyPart": np.array(_BODY_PARTS)[body],
            "Modality": modality,
            "Age": age.astype(int),
            "Sex": _sexes(rng, n),
            "PatientID": _patients(rng, n, 1),
        }
    )
    hidden = pd.DataFrame(
        {
            "device_id": FRACTURE_DEVICE,
            "accession_number": frame["Accession"],
            "target": "fracture",
            "true_label": truth,
            "degraded": degraded,
            "site": frame["Site"],
            "exam": local,
        }
    )
    return frame, hidden


def _nodule(rng: np.random.Generator, params: DemoParameters) -> tuple[pd.DataFrame, pd.DataFrame]:
    naive, sites = _exam_times(
        rng,
        params,
        params.nodule_exams_per_weekday,
        params.nodule_weekend_factor,
        _hour_weights("scheduled"),
    )
    n = len(naive)
    manufacturer = _manufacturers(rng, sites)
    truth = rng.random(n) < params.nodule_prevalence
    score = np.where(truth, rng.beta(6, 2, n), rng.beta(2, 6, n)).round(3)
    local = _localise(naive)
    ai_time = local + pd.to_timedelta(rng.integers(2, 12, n), unit="m")
    version = np.where(naive >= np.datetime64(params.start + timedelta(days=150)), "1.8.0", "1.7.0")
    frame = pd.DataFrame(
        {
            "device_id": NODULE_DEVICE,
            "device_version": version,
            "exam_datetime": _iso(local),
            "ai_result": np.where(score >= 0.5, "positive", "negative"),
            "accession_number": _accessions(sites, "CT", params),
            "study_instance_uid": np.char.add(f"{_UID_ROOT}.2.", np.arange(1, n + 1).astype(str)),
            "patient_id": _patients(rng, n, 2),
            "site": np.array(params.sites)[sites],
            "modality": "CT",
            "body_part": "CHEST",
            "scanner_manufacturer": manufacturer,
            "scanner_model": [_MODELS[m][1] for m in manufacturer],
            "patient_age": _ages(rng, n, "scheduled").astype(int),
            "patient_sex": _sexes(rng, n),
            "target": "lung_nodule",
            "ai_score": score,
            "ai_datetime": _iso(ai_time),
        }
    )[list(PREDICTION_COLUMNS)]
    hidden = pd.DataFrame(
        {
            "device_id": NODULE_DEVICE,
            "accession_number": frame["accession_number"],
            "target": "lung_nodule",
            "true_label": truth,
            "degraded": False,
            "site": frame["site"],
            "exam": local,
        }
    )
    return frame, hidden


def _days(rng: np.random.Generator, low: float, high: float, n: int) -> pd.TimedeltaIndex:
    return pd.to_timedelta(rng.uniform(low, high, n), unit="D")


def _outcome_rows(
    rng: np.random.Generator,
    hidden: pd.DataFrame,
    labels: np.ndarray,
    source: str,
    delay: pd.TimedeltaIndex,
    keep: np.ndarray,
    uid_prefix: str,
) -> pd.DataFrame:
    rows = hidden[keep]
    moments = rows["exam"] + delay[keep]
    with_uid = rng.random(len(rows)) < 0.3
    index = rows["accession_number"].str[3:].astype(int).astype(str).to_numpy()
    return pd.DataFrame(
        {
            "accession_number": rows["accession_number"].to_numpy(),
            "study_instance_uid": np.where(with_uid, np.char.add(uid_prefix, index), ""),
            "outcome": labels[keep],
            "source": source,
            "outcome_datetime": _iso(moments.reset_index(drop=True)),
            "target": rows["target"].to_numpy(),
            "site": rows["site"].to_numpy(),
            "report_text": "",
            "_moment": moments.to_numpy(),
        }
    )


def _label(values: np.ndarray) -> np.ndarray:
    return np.where(values, "positive", "negative")


def _outcomes(
    rng: np.random.Generator, params: DemoParameters, fracture: pd.DataFrame, nodule: pd.DataFrame
) -> pd.DataFrame:
    parts = []
    # Fractures: the report within days (a few reading errors), a follow-up for some.
    n = len(fracture)
    verified = rng.random(n) >= params.never_verified_rate
    truth = fracture["true_label"].to_numpy()
    report = np.where(rng.random(n) < params.report_error_rate, ~truth, truth)
    report_delay = pd.to_timedelta(np.minimum(rng.exponential(0.9, n) + 0.05, 5.0), unit="D")
    parts.append(
        _outcome_rows(
            rng, fracture, _label(report), "report", report_delay, verified, f"{_UID_ROOT}.1."
        )
    )
    follow = verified & (rng.random(n) < 0.10)
    parts.append(
        _outcome_rows(
            rng,
            fracture,
            _label(truth),
            "follow_up",
            _days(rng, 14, 42, n),
            follow,
            f"{_UID_ROOT}.1.",
        )
    )
    # Nodules: the report may be indeterminate; pathology or a follow-up CT settles it.
    n = len(nodule)
    verified = rng.random(n) >= params.never_verified_rate
    truth = nodule["true_label"].to_numpy()
    draw = rng.random(n)
    report = np.where(
        truth,
        np.select([draw < 0.80, draw < 0.95], ["positive", "indeterminate"], "negative"),
        np.select([draw < 0.92, draw < 0.995], ["negative", "indeterminate"], "positive"),
    )
    parts.append(
        _outcome_rows(
            rng, nodule, report, "report", _days(rng, 0.2, 5, n), verified, f"{_UID_ROOT}.2."
        )
    )
    pathology = verified & truth & (rng.random(n) < 0.45)
    parts.append(
        _outcome_rows(
            rng,
            nodule,
            _label(truth),
            "pathology",
            _days(rng, 14, 90, n),
            pathology,
            f"{_UID_ROOT}.2.",
        )
    )
    needs_follow = verified & ~pathology & ((report != "negative") | (rng.random(n) < 0.10))
    parts.append(
        _outcome_rows(
            rng,
            nodule,
            _label(truth),
            "follow_up",
            _days(rng, 90, 365, n),
            needs_follow,
            f"{_UID_ROOT}.2.",
        )
    )
    frame = pd.concat(parts, ignore_index=True).sort_values("_moment", kind="stable")
    return frame.drop(columns="_moment").reset_index(drop=True)[list(OUTCOME_COLUMNS)]


def _registry(params: DemoParameters) -> dict[str, Any]:
    sites = list(params.sites)
    return {
        "devices": [
            {
                "id": FRACTURE_DEVICE,
                "name": "OsteoFind XR",
                "manufacturer": "Example Imaging AI (fictional)",
                "model": "OF-XR",
                "versions": ["2.3.1", "2.4.0"],
                "ce_class": "IIa",
                "notified_body": "Notified body 0000 (fictional)",
                "intended_purpose": "Aide à la détection des fractures sur radiographies "
                "standard, en urgence, chez l'adulte et l'enfant de plus de 2 ans",
                "target": "fracture",
                "ai_based": True,
                "departments": ["Urgences", "Radiologie"],
                "sites": sites,
                "date_in_service": date(2024, 6, 1),
                "operating_threshold": 0.5,
                "indeterminate_policy": "positive",
                "claimed_performance": {
                    "sensitivity": 0.91,
                    "specificity": 0.88,
                    "sensitivity_ci": [0.88, 0.93],
                    "specificity_ci": [0.85, 0.90],
                    "source": "Notice d'utilisation v2.3, validation clinique multicentrique",
                },
                "risk_analysis": {
                    "data_transmission": "Inférence sur site ; aucune donnée ne quitte le réseau "
                    "hospitalier",
                    "data_reuse_by_manufacturer": "Aucune (clause 7 du contrat)",
                    "patient_information": "Affichage en salle d'attente et livret d'accueil",
                    "cybersecurity": "Revue RSSI 2024-05, serveur dans la DMZ imagerie",
                    "continuity_plan": "Lecture sans IA (procédure de mode dégradé PR-RAD-12)",
                    "training": "Urgentistes et radiologues formés au déploiement (2024-06)",
                },
            },
            {
                "id": NODULE_DEVICE,
                "name": "PulmoScan CT",
                "manufacturer": "Example Thoracic AI (fictional)",
                "model": "PS-CT",
                "versions": ["1.7.0", "1.8.0"],
                "ce_class": "IIb",
                "notified_body": "Notified body 0000 (fictional)",
                "intended_purpose": "Aide à la détection des nodules pulmonaires solides de 4 à "
                "30 mm sur scanner thoracique de l'adulte",
                "target": "lung_nodule",
                "ai_based": True,
                "departments": ["Radiologie", "Pneumologie"],
                "sites": sites,
                "date_in_service": date(2024, 9, 15),
                "operating_threshold": 0.5,
                "indeterminate_policy": "exclude",
                "claimed_performance": {
                    "sensitivity": 0.88,
                    "specificity": 0.80,
                    "source": "Notice d'utilisation v1.7, étude rétrospective",
                },
                "risk_analysis": {
                    "data_transmission": "Envoi pseudonymisé au cloud HDS du fabricant",
                    "data_reuse_by_manufacturer": "Amélioration du produit, après opposition "
                    "possible",
                    "patient_information": "Information écrite remise avec la convocation",
                    "cybersecurity": "Certification HDS du fabricant vérifiée",
                    "continuity_plan": "",
                    "training": "Radiologues formés ; manipulateurs non formés",
                },
            },
        ]
    }


_CONFIG = """\
# dmn-monitor configuration written by `dmn-monitor demo`.
[database]
url = "sqlite:///{database}"

[time]
timezone = "{timezone}"

# The fracture detector's vendor export: its own column names, French dates, DOUBT.
[[sources]]
name = "fracture-xr-export"
kind = "predictions"
path = "fracture_predictions.csv"
format = "csv"
delimiter = ";"
datetime_format = "%d/%m/%Y %H:%M"

[sources.columns]
accession_number = "Accession"
study_instance_uid = "StudyUID"
exam_datetime = "ExamDate"
ai_result = "Result"
device_version = "AlgoVersion"
site = "Site"
scanner_manufacturer = "Manufacturer"
scanner_model = "Model"
body_part = "BodyPart"
modality = "Modality"
patient_age = "Age"
patient_sex = "Sex"
patient_id = "PatientID"

[sources.values.ai_result]
POSITIVE = "positive"
DOUBT = "indeterminate"
NEGATIVE = "negative"

[sources.defaults]
device_id = "{fracture}"

# The nodule detector exports the canonical CSV.
[[sources]]
name = "nodule-ct-export"
kind = "predictions"
path = "nodule_predictions.csv"
format = "csv"

# Reports, pathology and follow-up from the RIS and LIS (canonical CSV).
[[sources]]
name = "ris-lis-outcomes"
kind = "outcomes"
path = "outcomes.csv"
format = "csv"
"""


def generate_demo(params: DemoParameters | None = None) -> DemoData:
    """The synthetic year for ``params`` (same parameters, same data)."""
    params = params or DemoParameters()
    rng = np.random.default_rng(params.seed)
    fracture, fracture_hidden = _fracture(rng, params)
    nodule, nodule_hidden = _nodule(rng, params)
    outcomes = _outcomes(rng, params, fracture_hidden, nodule_hidden)
    truth = pd.concat([fracture_hidden, nodule_hidden], ignore_index=True)
    return DemoData(
        fracture_predictions=fracture,
        nodule_predictions=nodule,
        outcomes=outcomes,
        truth=truth[["device_id", "accession_number", "target", "true_label", "degraded"]],
        registry=_registry(params),
        degradation=Degradation(
            device_id=FRACTURE_DEVICE,
            version="2.4.0",
            manufacturer=params.degraded_manufacturer,
            start=params.start + timedelta(days=params.update_after_days),
            sensitivity_after=params.degraded_sensitivity,
        ),
        parameters=params,
    )


def write_demo_files(data: DemoData, out_dir: Path) -> DemoFiles:
    """Write the exports, the registry and a configuration that reads them into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    directory = out_dir.resolve()
    files = DemoFiles(
        directory=directory,
        registry=directory / "devices.yaml",
        config=directory / "dmn-monitor.toml",
        fracture_predictions=directory / "fracture_predictions.csv",
        nodule_predictions=directory / "nodule_predictions.csv",
        outcomes=directory / "outcomes.csv",
    )
    data.fracture_predictions.to_csv(files.fracture_predictions, sep=";", index=False)
    data.nodule_predictions.to_csv(files.nodule_predictions, index=False)
    data.outcomes.to_csv(files.outcomes, index=False)
    files.registry.write_text(
        yaml.safe_dump(data.registry, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    files.config.write_text(
        _CONFIG.format(
            database=(directory / "dmn-monitor.db").as_posix(),
            timezone=TIMEZONE,
            fracture=FRACTURE_DEVICE,
        ),
        encoding="utf-8",
    )
    return files
