"""A seeded synthetic year of AI results and ground truth, for the demo, tests and benchmarks.

Two fictional AI devices in two sites of a fictional teaching hospital (CHU):

- ``fracture-xr``: a fracture detector on emergency radiographs. Its vendor exports
  ``POSITIVE`` / ``DOUBT`` / ``NEGATIVE`` in a semicolon CSV with its own column
  names and French naive dates (read through the configuration's column and value
  mapping). A doubt counts as a positive (registry policy ``positive``).
- ``nodule-ct``: a lung-nodule detector on chest CT giving a score in 0..1 and a
  call at the 0.5 operating threshold, exported as the canonical CSV.

What makes it look like a hospital's year: emergency radiographs around the clock
every day (fewer at weekends and on French public holidays, a summer peak),
scheduled CT on weekday office hours (very few at weekends, a dip in August);
five scanner manufacturers shared unequally between the sites; a bimodal age
distribution for fractures (children, elderly) with the body parts and the
prevalence that go with it; patients who come back; accession numbers that run
per site with the gaps left by the exams no AI looks at.

The ground truth arrives like it does in a RIS: the radiology report within
hours to days (with a few reading errors and some ``indeterminate`` reports), a
follow-up radiograph weeks later for a share of fractures (more often for true
and missed fractures), pathology weeks to months later for some nodules and a
follow-up CT 3 to 12 months later for the others. About 4 % of the exams are
never verified, and the last exams of the year are not verified yet (outcome
dates after the year are kept: an as-of evaluation leaves them out). The written
reports are short synthetic French texts (no names) whose outcome ingestion reads
from their conclusion, as it reads a RIS's reports.

One degradation is injected, and only one: after the fracture detector's update
from 2.3.1 to 2.4.0, its sensitivity falls on one manufacturer's images.
Everything else (the nodule detector's 1.8.0 update included) is unchanged.
The generated performance is close to, and not below, the claim elsewhere, so
that the degradation is the finding.

Everything is vectorised with numpy (a full year in well under a second) and
drawn from one ``numpy.random.Generator`` seeded by :attr:`DemoParameters.seed`:
the same parameters always give the same frames. Nothing here is real patient
data; the device names and their manufacturers are invented.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from monitor.holidays import french_public_holidays

__all__ = [
    "DEGRADATION",
    "FRACTURE_DEVICE",
    "FRACTURE_VERSIONS",
    "MANUFACTURERS",
    "NODULE_DEVICE",
    "NODULE_VERSIONS",
    "TIMEZONE",
    "TRUTH_COLUMNS",
    "UID_ROOT",
    "VENDOR_COLUMNS",
    "Degradation",
    "DemoData",
    "DemoFiles",
    "DemoParameters",
    "french_public_holidays",
    "generate_demo",
    "generate_demo_slices",
    "hospital_group_parameters",
    "write_demo_files",
]

FRACTURE_DEVICE: Final = "fracture-xr"
NODULE_DEVICE: Final = "nodule-ct"
FRACTURE_VERSIONS: Final = ("2.3.1", "2.4.0")
NODULE_VERSIONS: Final = ("1.7.0", "1.8.0")
TIMEZONE: Final = "Europe/Paris"
UID_ROOT: Final = "1.2.826.0.1.3680043.10.1234"
"""Root of the synthetic study instance UIDs (UID, site, exam date, running number)."""

VENDOR_COLUMNS: Final = (
    "Accession",
    "StudyUID",
    "ExamDate",
    "Result",
    "AlgoVersion",
    "Site",
    "Manufacturer",
    "Model",
    "BodyPart",
    "Modality",
    "Age",
    "Sex",
    "PatientID",
)
"""The fracture detector's vendor export, in file order (no device id column)."""
VENDOR_DATETIME_FORMAT: Final = "%d/%m/%Y %H:%M"

TRUTH_COLUMNS: Final = ("device_id", "accession_number", "target", "true_label", "degraded")

MANUFACTURERS: Final = ("GE HealthCare", "Siemens Healthineers", "Philips", "Canon", "Fujifilm")
# Radiography rooms per manufacturer: (model, modality, share of that manufacturer's exams).
_XR_MODELS: Final = (
    (("Definium 656 HD", "DX", 0.8), ("AMX Navigate", "DX", 0.2)),
    (("Ysio Max", "DX", 0.75), ("Mobilett Elara Max", "DX", 0.25)),
    (("DigitalDiagnost C90", "DX", 1.0),),
    (("Radrex-i", "DX", 1.0),),
    (("FDR Visionary Suite", "DX", 0.7), ("FCR Capsula XLII", "CR", 0.3)),
)
_CT_MODELS: Final = (
    "Revolution EVO",
    "SOMATOM go.Top",
    "Incisive CT",
    "Aquilion Prime SP",
    "FCT Supria",
)
# Share of each manufacturer (MANUFACTURERS order) per site; sites beyond two reuse
# these rotated. Radiography rooms and CT scanners are not bought alike.
_XR_SITE_MIX: Final = (
    (0.30, 0.25, 0.20, 0.15, 0.10),
    (0.10, 0.15, 0.10, 0.25, 0.40),
)
_CT_SITE_MIX: Final = (
    (0.35, 0.45, 0.20, 0.00, 0.00),
    (0.25, 0.00, 0.00, 0.45, 0.30),
)

_BODY_PARTS: Final = ("WRIST", "HAND", "ANKLE", "FOOT", "KNEE", "HIP", "SHOULDER", "ELBOW")
# Body part weights by age group (children < 16, adults, elderly >= 65).
_BODY_WEIGHTS: Final = (
    (0.28, 0.14, 0.14, 0.08, 0.08, 0.02, 0.06, 0.20),
    (0.18, 0.18, 0.22, 0.13, 0.13, 0.04, 0.09, 0.03),
    (0.20, 0.08, 0.10, 0.06, 0.10, 0.28, 0.15, 0.03),
)
# Relative fracture risk by body part, and by age group (the hip of an elderly patient
# who fell is a fracture more often than not); scaled to the requested prevalence.
_BODY_RISK: Final = (1.25, 0.95, 0.75, 0.85, 0.55, 1.3, 1.0, 1.15)
_AGE_RISK: Final = (1.0, 0.85, 1.3)
# The detector's sensitivity and specificity by body part, around the mean parameters.
_BODY_SENSITIVITY: Final = (0.01, -0.005, 0.0, -0.01, 0.0, 0.015, -0.005, -0.01)
_BODY_SPECIFICITY: Final = (0.0, 0.01, 0.01, 0.005, 0.015, -0.015, -0.01, -0.01)

# Share of exams per hour of the day (local time).
_EMERGENCY_HOURS: Final = (
    2,
    1.5,
    1.2,
    1,
    1,
    1.2,
    2,
    3.5,
    6,
    8,
    9,
    9,
    8.5,
    8,
    8.5,
    9,
    9,
    9,
    8.5,
    8,
    7,
    5.5,
    4,
    3,
)
_SCHEDULED_HOURS: Final = (0, 0, 0, 0, 0, 0, 0, 0, 6, 9, 9, 9, 5, 6, 9, 9, 9, 8, 5, 2, 0, 0, 0, 0)

AgeComponent = tuple[float, float, float, float, float]
"""One component of a patient age mixture: ``(weight, low, high, concentration,
female_share)``; ages follow a symmetric beta distribution between low and high
(concentration 1: uniform), and ``female_share`` of its patients are women."""


@dataclass(frozen=True, kw_only=True)
class DemoParameters:
    """What the synthetic year looks like.

    Volumes are mean exams per site on an ordinary weekday; weekends and French
    public holidays get ``*_weekend_factor`` of it. Sensitivities and
    specificities are those of the device against the hidden truth; the fracture
    detector's are "a doubt counts as positive" values, varying a little by body
    part around the mean given here.
    """

    seed: int = 20250101
    start: date = date(2025, 1, 1)
    days: int = 365
    sites: tuple[str, ...] = ("CHU-Nord", "CHU-Sud")
    scale: float = 1.0
    """Multiplies both devices' volumes (benchmarks: ``scale=270`` is about 10 million
    exams a year in two sites). Everything else keeps its shape."""

    fracture_exams_per_weekday: float = 55.0
    fracture_weekend_factor: float = 0.4
    fracture_seasonality: float = 0.08
    """Relative amplitude of the summer peak of emergency radiographs."""
    nodule_exams_per_weekday: float = 9.0
    nodule_weekend_factor: float = 0.1
    nodule_august_factor: float = 0.75
    """Scheduled CT volume in August (summer holidays), relative to the rest of the year."""

    fracture_prevalence: float = 0.27
    fracture_sensitivity: float = 0.93
    fracture_specificity: float = 0.90
    doubt_rate_positive: float = 0.12
    doubt_rate_negative: float = 0.04
    fracture_versions: tuple[str, ...] = FRACTURE_VERSIONS
    """The fracture detector's versions in deployment order."""
    update_after_days: int | tuple[int, ...] = 200
    """Day (from ``start``, at 00:00 local) of each update to the next fracture version:
    one number per version after the first (a plain number when there are two). By
    default 2.4.0 runs from ``start + 200``. A day before 0 means the version was
    already running at ``start``."""
    degraded_version: str = "2.4.0"
    """The fracture version whose sensitivity falls on ``degraded_manufacturer``'s images
    (a later version, if any, has the performance of the earlier ones again)."""
    degraded_manufacturer: str = "Fujifilm"
    degraded_sensitivity: float = 0.62

    nodule_prevalence: float = 0.20
    nodule_positive_beta: tuple[float, float] = (4.5, 1.2)
    nodule_negative_beta: tuple[float, float] = (1.5, 3.6)
    nodule_threshold: float = 0.5
    nodule_versions: tuple[str, ...] = NODULE_VERSIONS
    nodule_update_after_days: int | tuple[int, ...] = 150
    """The nodule detector runs 1.8.0 (same performance) from ``start + this``; as
    ``update_after_days``, one day per version after the first."""

    fracture_ages: tuple[AgeComponent, ...] = (
        (0.2, 2, 16, 1.2, 0.42),
        (0.45, 16, 65, 1.0, 0.46),
        (0.35, 65, 100, 1.6, 0.68),
    )
    """Emergency radiographs: children (2-15), adults, elderly (65-100) (see AgeComponent)."""
    nodule_ages: tuple[AgeComponent, ...] = ((1.0, 45, 88, 2.6, 0.42),)
    """Chest CT: adults 45-88 (see AgeComponent)."""
    unknown_sex_rate: float = 0.01
    """Share of patients whose sex is ``U`` (unknown); the others are ``F`` or ``M``."""
    fracture_manufacturer_mix: tuple[tuple[float, ...], ...] | None = None
    """Share of each of :data:`MANUFACTURERS` in the radiography rooms, one row per site
    (rows reused rotated for further sites); None: the built-in mix."""
    nodule_manufacturer_mix: tuple[tuple[float, ...], ...] | None = None
    """As ``fracture_manufacturer_mix``, for the CT scanners (built-in: 3 makes per site)."""

    never_verified_rate: float = 0.04
    fracture_report_miss_rate: float = 0.03
    """Share of true fractures the report calls negative."""
    fracture_report_overcall_rate: float = 0.01
    """Share of exams without fracture the report calls positive."""
    fracture_report_doubt_rate: float = 0.02
    """Share of fracture reports that are indeterminate ("control radiograph at day 10")."""
    fracture_follow_up_rate: float = 0.10
    """Base rate of a follow-up radiograph (more for fractures, discordant or doubtful
    reports, less for negatives; about this share of all fracture exams overall)."""
    nodule_pathology_rate: float = 0.40
    """Share of nodules (true positives reported positive) that get pathology."""
    uid_in_outcome_rate: float = 0.3
    """Share of outcome rows that carry the study instance UID besides the accession number."""

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if not self.sites or len(set(self.sites)) != len(self.sites):
            raise ValueError("sites must be a non-empty tuple of distinct names")
        for name in (
            "scale",
            "fracture_exams_per_weekday",
            "nodule_exams_per_weekday",
            "fracture_weekend_factor",
            "nodule_weekend_factor",
            "nodule_august_factor",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in (
            "fracture_seasonality",
            "fracture_prevalence",
            "fracture_sensitivity",
            "fracture_specificity",
            "doubt_rate_positive",
            "doubt_rate_negative",
            "degraded_sensitivity",
            "nodule_prevalence",
            "nodule_threshold",
            "never_verified_rate",
            "fracture_report_miss_rate",
            "fracture_report_overcall_rate",
            "fracture_report_doubt_rate",
            "fracture_follow_up_rate",
            "nodule_pathology_rate",
            "uid_in_outcome_rate",
            "unknown_sex_rate",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in 0..1")
        _update_days("update_after_days", self.update_after_days, self.fracture_versions)
        _update_days(
            "nodule_update_after_days", self.nodule_update_after_days, self.nodule_versions
        )
        if self.degraded_version not in self.fracture_versions[1:]:
            raise ValueError("degraded_version must be one of fracture_versions after the first")
        for name in ("fracture_ages", "nodule_ages"):
            ages = getattr(self, name)
            if not ages or any(
                len(a) != 5 or a[0] < 0 or a[1] >= a[2] or a[3] <= 0 or not 0 <= a[4] <= 1
                for a in ages
            ):
                raise ValueError(
                    f"{name} must be (weight, low, high, concentration, female_share) tuples "
                    "with weight >= 0, low < high, concentration > 0, female_share in 0..1"
                )
            if sum(a[0] for a in ages) <= 0:
                raise ValueError(f"{name} weights must not all be 0")
        for name in ("fracture_manufacturer_mix", "nodule_manufacturer_mix"):
            mix = getattr(self, name)
            if mix is not None and (
                not mix
                or any(
                    len(row) != len(MANUFACTURERS) or min(row) < 0 or sum(row) <= 0 for row in mix
                )
            ):
                raise ValueError(
                    f"{name} rows must give {len(MANUFACTURERS)} shares >= 0, not all 0"
                )
        if self.doubt_rate_positive > min(self.fracture_sensitivity, self.degraded_sensitivity):
            raise ValueError("doubt_rate_positive cannot exceed the sensitivity")
        if self.doubt_rate_negative > 1.0 - self.fracture_specificity:
            raise ValueError("doubt_rate_negative cannot exceed 1 - specificity")
        if min(*self.nodule_positive_beta, *self.nodule_negative_beta) <= 0:
            raise ValueError("beta parameters must be > 0")

    @property
    def update_date(self) -> date:
        """First day of the fracture detector's ``degraded_version`` (2.4.0)."""
        index = self.fracture_versions.index(self.degraded_version)
        return self.start + timedelta(days=_update_days_of(self.update_after_days)[index - 1])

    @property
    def fracture_update_dates(self) -> tuple[date, ...]:
        """First day of each fracture version after the first."""
        return tuple(
            self.start + timedelta(days=d) for d in _update_days_of(self.update_after_days)
        )

    @property
    def nodule_update_dates(self) -> tuple[date, ...]:
        """First day of each nodule version after the first."""
        return tuple(
            self.start + timedelta(days=d) for d in _update_days_of(self.nodule_update_after_days)
        )

    @property
    def end(self) -> date:
        """Last day of the generated period."""
        return self.start + timedelta(days=self.days - 1)


def _update_days_of(days: int | tuple[int, ...]) -> tuple[int, ...]:
    return (days,) if isinstance(days, int) else tuple(days)


def _update_days(name: str, days: int | tuple[int, ...], versions: tuple[str, ...]) -> None:
    given = _update_days_of(days)
    if len(versions) < 2 or len(set(versions)) != len(versions):
        raise ValueError("versions must be at least two distinct names")
    if len(given) != len(versions) - 1:
        raise ValueError(f"{name} must give one day per version after the first")
    if any(b <= a for a, b in itertools.pairwise(given)):
        raise ValueError(f"{name} must be increasing")


@dataclass(frozen=True)
class Degradation:
    """The injected degradation: which device, version and manufacturer, from when."""

    device_id: str
    version: str
    previous_version: str
    manufacturer: str
    start: date
    sensitivity_before: float
    sensitivity_after: float
    target: str = "fracture"

    @classmethod
    def of(cls, params: DemoParameters) -> Degradation:
        """The degradation ``params`` inject."""
        index = params.fracture_versions.index(params.degraded_version)
        return cls(
            device_id=FRACTURE_DEVICE,
            version=params.degraded_version,
            previous_version=params.fracture_versions[index - 1],
            manufacturer=params.degraded_manufacturer,
            start=params.update_date,
            sensitivity_before=params.fracture_sensitivity,
            sensitivity_after=params.degraded_sensitivity,
        )


DEGRADATION: Final = Degradation.of(DemoParameters())
"""The degradation of the default parameters (what ``dmn-monitor demo`` should find)."""


@dataclass(frozen=True)
class DemoData:
    """The generated frames (all columns as text, numbers or booleans; no index meaning).

    ``fracture_predictions`` is in the vendor format (:data:`VENDOR_COLUMNS`),
    ``nodule_predictions`` and ``outcomes`` in the canonical columns; ``truth`` is
    hidden from the monitor: one row per exam with :data:`TRUTH_COLUMNS`.
    """

    fracture_predictions: pd.DataFrame
    nodule_predictions: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    registry: dict[str, Any]
    parameters: DemoParameters = field(default_factory=DemoParameters)

    @property
    def degradation(self) -> Degradation:
        return Degradation.of(self.parameters)


@dataclass(frozen=True)
class DemoFiles:
    """Where :func:`write_demo_files` put everything (absolute paths)."""

    directory: Path
    registry: Path
    config: Path
    fracture_predictions: Path
    nodule_predictions: Path
    outcomes: Path


# --- calendar -------------------------------------------------------------------------


def _calendar(params: DemoParameters) -> pd.DataFrame:
    days = pd.date_range(params.start, periods=params.days, freq="D")
    holidays = pd.DatetimeIndex(
        [h for y in range(days[0].year, days[-1].year + 1) for h in french_public_holidays(y)]
    )
    off = (days.dayofweek >= 5) | days.isin(holidays)
    return pd.DataFrame(
        {
            "day": days.to_numpy(),
            "off": off,
            "summer": np.cos(2 * np.pi * (days.dayofyear.to_numpy() - 196) / 365.25),
            "august": days.month == 8,
        }
    )


# --- exams ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Exams:
    """Exam times and sites of one device, sorted by time."""

    naive: np.ndarray  # datetime64[s], local wall-clock time
    site: np.ndarray  # int index into params.sites


def _exam_times(
    rng: np.random.Generator, params: DemoParameters, daily: np.ndarray, hours: tuple[float, ...]
) -> _Exams:
    """Poisson counts per site and day, times of day from the hourly profile."""
    weights = np.asarray(hours, dtype=float)
    weights /= weights.sum()
    n_sites = len(params.sites)
    counts = rng.poisson(np.tile(daily, n_sites))
    day = np.repeat(np.tile(np.arange(params.days), n_sites), counts)
    site = np.repeat(np.repeat(np.arange(n_sites), params.days), counts)
    seconds = rng.choice(24, size=len(day), p=weights) * 3600 + rng.integers(0, 3600, len(day))
    start = np.datetime64(params.start, "s")
    naive = start + (day * 86400 + seconds).astype("timedelta64[s]")
    order = np.argsort(naive, kind="stable")
    return _Exams(naive=naive[order], site=site[order])


def _localise(naive: np.ndarray) -> pd.DatetimeIndex:
    """Local wall-clock times -> aware. Ambiguous times (the October change) are read as
    summer time, like a naive export is read (fold 0); times in the March gap move on."""
    return pd.DatetimeIndex(naive).tz_localize(
        TIMEZONE, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )


def _wall_clock(moments: pd.DatetimeIndex) -> pd.Series:
    """Local wall-clock time as text, 2025-03-04T10:15:00 (numpy: much faster than strftime)."""
    local = moments.tz_convert(TIMEZONE).tz_localize(None).to_numpy().astype("datetime64[s]")
    return pd.Series(np.datetime_as_string(local, unit="s"), dtype=object)


def _iso(moments: pd.DatetimeIndex) -> np.ndarray:
    """ISO 8601 with the UTC offset, e.g. 2025-03-04T10:15:00+01:00."""
    local = moments.tz_convert(TIMEZONE)
    offset = (local.tz_localize(None) - moments.tz_convert("UTC").tz_localize(None)).to_numpy()
    minutes = (offset // np.timedelta64(1, "m")).astype(np.int64)
    sign = np.where(minutes < 0, "-", "+").astype(object)
    hhmm = pd.Series(np.abs(minutes) // 60, dtype="int64").astype(str).str.zfill(2) + (
        ":" + pd.Series(np.abs(minutes) % 60, dtype="int64").astype(str).str.zfill(2)
    )
    iso: np.ndarray = (_wall_clock(moments) + sign + hhmm).to_numpy(dtype=object)
    return iso


def _vendor_text(moments: pd.DatetimeIndex) -> np.ndarray:
    """The vendor's naive local "%d/%m/%Y %H:%M"."""
    t = _wall_clock(moments).str
    text: np.ndarray = (t[8:10] + "/" + t[5:7] + "/" + t[0:4] + " " + t[11:16]).to_numpy(
        dtype=object
    )
    return text


def _site_mix(mixes: tuple[tuple[float, ...], ...], n_sites: int) -> np.ndarray:
    rows = [np.roll(np.asarray(mixes[i % len(mixes)]), i // len(mixes)) for i in range(n_sites)]
    return np.asarray(rows)


def _pick(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category per row of a (rows x categories) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    chosen: np.ndarray = np.minimum(
        (u[:, None] >= cumulative).sum(axis=1), probabilities.shape[1] - 1
    )
    return chosen


def _identifiers(
    rng: np.random.Generator,
    params: DemoParameters,
    exams: list[_Exams],
    first_numbers: np.ndarray | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Accession numbers and study UIDs, running per site across devices in time order,
    and the number each site's next exam may take.

    Numbers jump by the exams of the RIS no AI looks at (other modalities, other body
    parts). Prefix: the initial of the site's last word (N, S), or a number when two
    sites share it. ``first_numbers``: each site's first number (default: drawn).
    """
    initials = [name.replace("_", "-").split("-")[-1][:1].upper() or "X" for name in params.sites]
    if len(set(initials)) != len(initials):
        initials = [f"{i + 1:02d}" for i in range(len(params.sites))]
    naive = np.concatenate([e.naive for e in exams])
    site = np.concatenate([e.site for e in exams])
    order = np.lexsort((naive, site))
    gaps = rng.integers(1, 12, len(order))
    running = np.concatenate([[0], np.cumsum(gaps)])
    first = rng.integers(2_000_000, 3_000_000, len(params.sites))
    if first_numbers is not None:
        first = first_numbers
    # Restart per site: subtract the running total reached before the site's first exam.
    sorted_site = site[order]
    starts = np.searchsorted(sorted_site, np.arange(len(params.sites)))
    numbers = np.empty(len(order), dtype=np.int64)
    numbers[order] = running[1:] - running[starts][sorted_site] + first[sorted_site]
    following = first.astype(np.int64).copy()
    np.maximum.at(following, site, numbers + 1)
    text = pd.Series(numbers, dtype="int64").astype(str)
    accession = (pd.Series(initials, dtype=object)[site].reset_index(drop=True)) + text.str.zfill(8)
    days = pd.Series(np.datetime_as_string(naive, unit="D"), dtype=object).str.replace("-", "")
    uid = f"{UID_ROOT}." + pd.Series(site + 1, dtype="int64").astype(str) + "." + days + "." + text
    out, at = [], 0
    for e in exams:
        n = len(e.naive)
        out.append(
            (
                accession.iloc[at : at + n].to_numpy(dtype=object),
                uid.iloc[at : at + n].to_numpy(dtype=object),
            )
        )
        at += n
    return out, following


@dataclass(frozen=True)
class _Patients:
    ids: np.ndarray
    age: np.ndarray  # whole years at the exam
    sex: np.ndarray


def _patients(
    rng: np.random.Generator,
    params: DemoParameters,
    exams: _Exams,
    pool_ratio: float,
    ages: tuple[AgeComponent, ...],
    first_id: int,
) -> tuple[_Patients, int]:
    """Patients per site, drawn from a pool (``pool_ratio`` x exams): some come back.

    ``ages``: mixture components (see :data:`AgeComponent`). Each patient has one sex
    and a birth date, so a returning patient is older, never different.
    """
    weights = np.array([a[0] for a in ages], dtype=float)
    n = len(exams.naive)
    n_sites = len(params.sites)
    pool_sizes = np.array(
        [max(1, round(np.count_nonzero(exams.site == s) * pool_ratio)) for s in range(n_sites)]
    )
    pool_total = int(pool_sizes.sum())
    component = rng.choice(len(ages), size=pool_total, p=weights / weights.sum())
    low = np.array([a[1] for a in ages])[component]
    high = np.array([a[2] for a in ages])[component]
    age0 = low + (high - low) * rng.beta(
        np.array([a[3] for a in ages])[component], np.array([a[3] for a in ages])[component]
    )
    female_share = np.array([a[4] for a in ages])
    sex = np.where(
        rng.random(pool_total) < params.unknown_sex_rate,
        "U",
        np.where(rng.random(pool_total) < female_share[component], "F", "M"),
    )
    ids = first_id + np.cumsum(rng.integers(1, 40, pool_total))
    ids = rng.permutation(ids)
    offsets = np.concatenate([[0], np.cumsum(pool_sizes)[:-1]])
    # Returning patients: a few frequent flyers, most seen once.
    draw = np.floor(pool_sizes[exams.site] * rng.random(n) ** 1.3).astype(np.int64)
    patient = offsets[exams.site] + draw
    elapsed = (exams.naive - np.datetime64(params.start, "s")) / np.timedelta64(1, "D")
    age = np.floor(age0[patient] + elapsed / 365.25).astype(np.int64)
    padded = pd.Series(ids[patient], dtype="int64").astype(str).str.zfill(7)
    patient_ids = ("P" + padded).to_numpy(dtype=object)
    last_id = int(ids.max()) if pool_total else first_id
    return _Patients(ids=patient_ids, age=age, sex=sex[patient].astype(object)), last_id


def _versions(exams: _Exams, versions: tuple[str, ...], updates: tuple[date, ...]) -> np.ndarray:
    """The version that ran each exam: the last one whose first day is not after it."""
    firsts = np.array([np.datetime64(day, "s") for day in updates], dtype="datetime64[s]")
    index = np.searchsorted(firsts, exams.naive, side="right")
    running: np.ndarray = np.asarray(versions, dtype=object)[index]
    return running


@dataclass(frozen=True)
class _Generated:
    frame: pd.DataFrame
    truth: pd.DataFrame
    exam: pd.DatetimeIndex  # aware
    site: np.ndarray  # names


def _truth(
    device_id: str, target: str, accessions: np.ndarray, truth: np.ndarray, degraded: np.ndarray
) -> pd.DataFrame:
    """The hidden truth of one device's exams (never written where the monitor reads)."""
    return pd.DataFrame(
        {
            "device_id": device_id,
            "accession_number": accessions,
            "target": target,
            "true_label": truth,
            "degraded": degraded,
        },
        columns=list(TRUTH_COLUMNS),
    )


def _fracture(
    rng: np.random.Generator,
    params: DemoParameters,
    exams: _Exams,
    ids: tuple[np.ndarray, np.ndarray],
    patients: _Patients,
) -> _Generated:
    n = len(exams.naive)
    site_names = np.asarray(params.sites, dtype=object)[exams.site]
    mix = params.fracture_manufacturer_mix or _XR_SITE_MIX
    manufacturer = _pick(rng, _site_mix(mix, len(params.sites))[exams.site])
    width = max(len(m) for m in _XR_MODELS)
    model_shares = np.array([[m[2] for m in ms] + [0.0] * (width - len(ms)) for ms in _XR_MODELS])
    model_names = np.array(
        [[m[0] for m in ms] + [ms[0][0]] * (width - len(ms)) for ms in _XR_MODELS], dtype=object
    )
    model_modalities = np.array(
        [[m[1] for m in ms] + [ms[0][1]] * (width - len(ms)) for ms in _XR_MODELS], dtype=object
    )
    room = _pick(rng, model_shares[manufacturer])
    group = np.select([patients.age < 16, patients.age < 65], [0, 1], 2)
    body = _pick(rng, np.asarray(_BODY_WEIGHTS)[group])

    risk = np.asarray(_BODY_RISK)[body] * np.asarray(_AGE_RISK)[group]
    prevalence = (risk * params.fracture_prevalence / risk.mean()) if n else risk
    truth = rng.random(n) < np.clip(prevalence, 0.0, 0.95)

    version = _versions(exams, params.fracture_versions, params.fracture_update_dates)
    manufacturer_names = np.asarray(MANUFACTURERS, dtype=object)[manufacturer]
    degraded = (version == params.degraded_version) & (
        manufacturer_names == params.degraded_manufacturer
    )
    sensitivity = np.clip(params.fracture_sensitivity + np.asarray(_BODY_SENSITIVITY)[body], 0, 1)
    sensitivity = np.where(degraded, params.degraded_sensitivity, sensitivity)
    specificity = np.clip(params.fracture_specificity + np.asarray(_BODY_SPECIFICITY)[body], 0, 1)
    u = rng.random(n)
    doubt = np.where(truth, params.doubt_rate_positive, params.doubt_rate_negative)
    called = np.where(truth, sensitivity, np.maximum(1.0 - specificity, doubt))
    result = np.select([u < doubt, u < called], ["DOUBT", "POSITIVE"], "NEGATIVE").astype(object)

    exam = _localise(exams.naive)
    frame = pd.DataFrame(
        {
            "Accession": ids[0],
            "StudyUID": ids[1],
            "ExamDate": _vendor_text(exam),
            "Result": result,
            "AlgoVersion": version,
            "Site": site_names,
            "Manufacturer": manufacturer_names,
            "Model": model_names[manufacturer, room],
            "BodyPart": np.asarray(_BODY_PARTS, dtype=object)[body],
            "Modality": model_modalities[manufacturer, room],
            "Age": patients.age,
            "Sex": patients.sex,
            "PatientID": patients.ids,
        },
        columns=list(VENDOR_COLUMNS),
    )
    hidden = _truth(FRACTURE_DEVICE, "fracture", ids[0], truth, degraded)
    return _Generated(frame=frame, truth=hidden, exam=exam, site=site_names)


def _nodule(
    rng: np.random.Generator,
    params: DemoParameters,
    exams: _Exams,
    ids: tuple[np.ndarray, np.ndarray],
    patients: _Patients,
) -> _Generated:
    n = len(exams.naive)
    site_names = np.asarray(params.sites, dtype=object)[exams.site]
    mix = params.nodule_manufacturer_mix or _CT_SITE_MIX
    manufacturer = _pick(rng, _site_mix(mix, len(params.sites))[exams.site])
    # Nodules are a little more frequent with age; scaled to the requested prevalence.
    risk = 0.6 + 0.8 * np.clip((patients.age - 40) / 50, 0, 1)
    prevalence = (risk * params.nodule_prevalence / risk.mean()) if n else risk
    truth = rng.random(n) < np.clip(prevalence, 0.0, 0.95)
    score = np.where(
        truth,
        rng.beta(*params.nodule_positive_beta, n),
        rng.beta(*params.nodule_negative_beta, n),
    ).round(3)
    exam = _localise(exams.naive)
    ai_time = exam + pd.to_timedelta(rng.integers(150, 900, n), unit="s")
    version = _versions(exams, params.nodule_versions, params.nodule_update_dates)
    frame = pd.DataFrame(
        {
            "device_id": NODULE_DEVICE,
            "device_version": version,
            "exam_datetime": _iso(exam),
            "ai_result": np.where(score >= params.nodule_threshold, "positive", "negative").astype(
                object
            ),
            "accession_number": ids[0],
            "study_instance_uid": ids[1],
            "patient_id": patients.ids,
            "site": site_names,
            "modality": "CT",
            "body_part": "CHEST",
            "scanner_manufacturer": np.asarray(MANUFACTURERS, dtype=object)[manufacturer],
            "scanner_model": np.asarray(_CT_MODELS, dtype=object)[manufacturer],
            "patient_age": patients.age,
            "patient_sex": patients.sex,
            "target": "lung_nodule",
            "ai_score": score,
            "ai_datetime": _iso(ai_time),
        },
        columns=list(PREDICTION_COLUMNS),
    )
    hidden = _truth(NODULE_DEVICE, "lung_nodule", ids[0], truth, np.zeros(n, dtype=bool))
    return _Generated(frame=frame, truth=hidden, exam=exam, site=site_names)


# --- outcomes -------------------------------------------------------------------------


def _label(values: np.ndarray) -> np.ndarray:
    labels: np.ndarray = np.where(values, "positive", "negative").astype(object)
    return labels


def _hours(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    hours: np.ndarray = rng.uniform(low, high, n)
    return hours


def _report_delay(rng: np.random.Generator, n: int, shares: tuple[float, float]) -> np.ndarray:
    """Hours to the report: read at once (on call), within two days, or up to five days."""
    kind = _pick(rng, np.tile([shares[0], shares[1], 1 - sum(shares)], (n, 1)))
    delay: np.ndarray = np.select(
        [kind == 0, kind == 1],
        [_hours(rng, 0.3, 6, n), _hours(rng, 6, 48, n)],
        _hours(rng, 48, 120, n),
    )
    return delay


def _outcome_rows(
    rng: np.random.Generator,
    generated: _Generated,
    uids: np.ndarray,
    params: DemoParameters,
    keep: np.ndarray,
    outcome: np.ndarray,
    source: str,
    delay_hours: np.ndarray,
) -> pd.DataFrame:
    truth = generated.truth
    moment = generated.exam[keep] + pd.to_timedelta(delay_hours[keep] * 3600, unit="s").round("s")
    with_uid = rng.random(len(keep)) < params.uid_in_outcome_rate
    return pd.DataFrame(
        {
            "accession_number": truth["accession_number"].to_numpy()[keep],
            "study_instance_uid": np.where(with_uid, uids, np.full(len(uids), None))[keep],
            "outcome": outcome[keep],
            "source": source,
            "outcome_datetime": _iso(moment),
            "target": truth["target"].to_numpy()[keep],
            "site": generated.site[keep],
            "report_text": None,
            "_moment": moment.tz_convert("UTC").tz_localize(None).to_numpy(),
        }
    )


def _fracture_outcomes(
    rng: np.random.Generator, params: DemoParameters, g: _Generated, uids: np.ndarray
) -> list[pd.DataFrame]:
    n = len(g.truth)
    truth = g.truth["true_label"].to_numpy(dtype=bool)
    verified = rng.random(n) >= params.never_verified_rate
    u = rng.random(n)
    error = np.where(truth, params.fracture_report_miss_rate, params.fracture_report_overcall_rate)
    report = np.where(
        u < params.fracture_report_doubt_rate,
        "indeterminate",
        np.where(u < params.fracture_report_doubt_rate + error, _label(~truth), _label(truth)),
    ).astype(object)
    discordant = (report != "indeterminate") & (report != _label(truth))
    # Follow-up radiographs: the fracture clinic's control, the patient who comes back
    # still in pain, the scaphoid the report doubted.
    follow_rate = np.select(
        [report == "indeterminate", discordant, truth],
        [0.9, min(1.0, 6 * params.fracture_follow_up_rate), 2.4 * params.fracture_follow_up_rate],
        0.3 * params.fracture_follow_up_rate,
    )
    follow = verified & (rng.random(n) < follow_rate)
    return [
        _outcome_rows(
            rng, g, uids, params, verified, report, "report", _report_delay(rng, n, (0.4, 0.45))
        ),
        _outcome_rows(
            rng,
            g,
            uids,
            params,
            follow,
            _label(truth),
            "follow_up",
            _hours(rng, 7 * 24, 42 * 24, n),
        ),
    ]


def _nodule_outcomes(
    rng: np.random.Generator, params: DemoParameters, g: _Generated, uids: np.ndarray
) -> list[pd.DataFrame]:
    n = len(g.truth)
    truth = g.truth["true_label"].to_numpy(dtype=bool)
    verified = rng.random(n) >= params.never_verified_rate
    u = rng.random(n)
    report = np.where(
        truth,
        np.select([u < 0.85, u < 0.96], ["positive", "indeterminate"], "negative"),
        np.select([u < 0.93, u < 0.99], ["negative", "indeterminate"], "positive"),
    ).astype(object)
    # Pathology (biopsy, surgery) for a share of the reported nodules, mostly true ones;
    # a follow-up CT (3-12 months) for the other positive or doubtful reports and a
    # few negative ones (surveillance of another condition).
    suspicious = report != "negative"
    pathology_rate = np.where(
        truth, params.nodule_pathology_rate, 0.1 * params.nodule_pathology_rate
    )
    pathology = verified & suspicious & (rng.random(n) < pathology_rate)
    follow = verified & ~pathology & (suspicious | (rng.random(n) < 0.08))
    return [
        _outcome_rows(
            rng, g, uids, params, verified, report, "report", _report_delay(rng, n, (0.2, 0.6))
        ),
        _outcome_rows(
            rng,
            g,
            uids,
            params,
            pathology,
            _label(truth),
            "pathology",
            _hours(rng, 14 * 24, 90 * 24, n),
        ),
        _outcome_rows(
            rng,
            g,
            uids,
            params,
            follow,
            _label(truth),
            "follow_up",
            _hours(rng, 90 * 24, 365 * 24, n),
        ),
    ]


# --- report texts ---------------------------------------------------------------------------

_TEXT_STREAM: Final = 7347
"""The report texts' own random stream, ``default_rng([seed, _TEXT_STREAM])``: choosing
the texts draws nothing from the generator of the data, which stays as it was."""

# Radiographs: body part -> (the examination, its side's gender, bones a fracture is
# reported in). A synthetic text names no one and no date.
_RADIOGRAPHS: Final = {
    "WRIST": ("du poignet", "m", ("du radius distal", "du scaphoïde", "de la styloïde ulnaire")),
    "HAND": (
        "de la main",
        "f",
        ("du cinquième métacarpien", "de la première phalange du pouce"),
    ),
    "ANKLE": ("de la cheville", "f", ("de la malléole latérale", "de la malléole médiale")),
    "FOOT": ("du pied", "m", ("de la base du cinquième métatarsien", "du calcanéus")),
    "KNEE": ("du genou", "m", ("du plateau tibial latéral", "de la patella")),
    "HIP": ("de la hanche", "f", ("du col fémoral", "de la branche ilio-pubienne")),
    "SHOULDER": ("de l'épaule", "f", ("du col chirurgical de l'humérus", "de la clavicule")),
    "ELBOW": ("du coude", "m", ("de la tête radiale", "de l'olécrâne")),
}
_SIDES: Final = {"m": ("droit", "gauche"), "f": ("droite", "gauche")}
_XR_INDICATIONS: Final = (
    "chute de sa hauteur, douleur",
    "traumatisme sportif",
    "douleur après une chute, impotence fonctionnelle",
)
# Per outcome: (findings, conclusion) with {bone}; the conclusion decides.
_XR_REPORTS: Final = {
    "positive": (
        ("trait de fracture {bone}, sans déplacement", "fracture non déplacée {bone}"),
        ("fracture {bone} avec bascule", "fracture {bone}"),
        ("solution de continuité corticale {bone}", "fracture déplacée {bone}, avis orthopédique"),
    ),
    "negative": (
        ("pas de trait de fracture, interlignes conservés", "pas de fracture"),
        ("structures osseuses d'aspect normal", "pas de lésion osseuse traumatique visible"),
        ("pas d'anomalie osseuse décelable", "radiographies normales"),
    ),
    "indeterminate": (
        ("image linéaire corticale {bone}", "doute sur une fracture {bone}, contrôle à 10 jours"),
        ("irrégularité corticale {bone}", "suspicion de fissure {bone}, à contrôler"),
        ("clarté linéaire {bone}", "une fracture {bone} ne peut être exclue, immobilisation"),
    ),
}
_LOBES: Final = (
    "du lobe supérieur droit",
    "du lobe moyen",
    "du lobe inférieur droit",
    "du lobe supérieur gauche",
    "de la lingula",
    "du lobe inférieur gauche",
)
_CT_INDICATIONS: Final = (
    "dépistage chez un fumeur",
    "bilan d'une toux persistante",
    "dyspnée d'effort",
)
# Per outcome: (findings, conclusion) with {size} (mm) and {lobe}; the conclusion decides.
_CT_REPORTS: Final = {
    "positive": (
        ("nodule solide spiculé de {size} mm {lobe}", "nodule pulmonaire spiculé {lobe}"),
        ("nodule en verre dépoli de {size} mm {lobe}", "nodule en verre dépoli de {size} mm"),
        ("nodule solide de {size} mm {lobe}", "nodule pulmonaire de {size} mm {lobe}"),
    ),
    "negative": (
        ("parenchyme pulmonaire sans anomalie", "pas de nodule pulmonaire"),
        ("quelques lésions d'emphysème centrolobulaire", "absence de nodule pulmonaire"),
        ("pas d'épanchement pleural", "pas d'anomalie pleuro-pulmonaire"),
    ),
    "indeterminate": (
        ("micronodule de {size} mm {lobe}", "micronodule douteux {lobe}, à contrôler à 3 mois"),
        ("image de {size} mm {lobe}", "possible nodule {lobe}, versus ganglion intrapulmonaire"),
        ("opacité de {size} mm {lobe}", "doute sur une image nodulaire {lobe}, scanner à 6 mois"),
    ),
}


def _report_texts(data: DemoData) -> np.ndarray:
    """A synthetic French report for each ``report`` row of ``data.outcomes`` (None else).

    The conclusion states the row's outcome (read back by the connector's rules: the
    tests check every row): a fracture on the exam's radiographs (its body part), a
    nodule on chest CT. The template, side, lobe and size come from the texts' own
    stream (:data:`_TEXT_STREAM`), so the data's figures do not depend on them.
    """
    outcomes = data.outcomes
    rng = np.random.default_rng([data.parameters.seed, _TEXT_STREAM])
    n = len(outcomes)
    template, side, indication, place = (rng.integers(0, 6, n) for _ in range(4))
    size = rng.integers(0, 60, n)
    body_parts = data.fracture_predictions.set_index("Accession")["BodyPart"]
    body = outcomes["accession_number"].map(body_parts).to_numpy()
    outcome_of, target_of = outcomes["outcome"].to_numpy(), outcomes["target"].to_numpy()
    texts = np.full(n, None, dtype=object)
    for i in np.flatnonzero(outcomes["source"].to_numpy() == "report"):
        outcome = outcome_of[i]
        if target_of[i] == "fracture":
            exam, gender, bones = _RADIOGRAPHS[body[i]]
            findings, conclusion = _XR_REPORTS[outcome][template[i] % 3]
            bone = bones[place[i] % len(bones)]
            texts[i] = (
                f"Radiographie {exam} {_SIDES[gender][side[i] % 2]}, face et profil.\n"
                f"Indication : {_XR_INDICATIONS[indication[i] % 3]}.\n"
                f"Résultat : {findings.format(bone=bone)}.\n"
                f"Conclusion : {conclusion.format(bone=bone)}."
            )
        else:
            findings, conclusion = _CT_REPORTS[outcome][template[i] % 3]
            # Reported nodules measure 6 to 25 mm, doubtful images 4 to 6 mm.
            mm = 6 + size[i] % 20 if outcome == "positive" else 4 + size[i] % 3
            where = {"size": mm, "lobe": _LOBES[place[i]]}
            texts[i] = (
                "Scanner thoracique sans injection.\n"
                f"Indication : {_CT_INDICATIONS[indication[i] % 3]}.\n"
                f"Résultat : {findings.format(**where)}.\n"
                f"Conclusion : {conclusion.format(**where)}."
            )
    return texts


def _outcomes_file(data: DemoData) -> pd.DataFrame:
    """The outcomes as the RIS exports them: a report's outcome is left to its text."""
    outcomes = data.outcomes.copy()
    texts = _report_texts(data)
    outcomes["report_text"] = texts
    outcomes.loc[pd.notna(texts), "outcome"] = None
    return outcomes


# --- registry and configuration ----------------------------------------------------------


def _registry(params: DemoParameters) -> dict[str, Any]:
    return {
        "devices": [
            {
                "id": FRACTURE_DEVICE,
                "name": "FractaLens XR",
                "manufacturer": "Exemplar Imaging SAS (fictional)",
                "model": "FL-XR",
                "versions": list(params.fracture_versions),
                "ce_class": "IIa",
                "notified_body": "Fictional Notified Body (NB 0000)",
                "intended_purpose": (
                    "Computer-aided detection of fractures on conventional radiographs of "
                    "the limbs, shoulder and hip, in adults and children from 2 years, in the "
                    "emergency department; the output is a suggestion reviewed by the "
                    "emergency physician and the radiologist"
                ),
                "target": "fracture",
                "ai_based": True,
                "departments": ["Urgences", "Radiologie"],
                "sites": list(params.sites),  # one list each: no YAML anchors
                "date_in_service": params.start - timedelta(days=214),
                "operating_threshold": 0.5,
                "indeterminate_policy": "positive",
                "claimed_performance": {
                    "sensitivity": 0.91,
                    "specificity": 0.88,
                    "sensitivity_ci": [0.88, 0.93],
                    "specificity_ci": [0.85, 0.90],
                    "source": "Instructions for use v2.3, section 9 (multicentre clinical "
                    "validation, 2 450 radiographs)",
                },
                "risk_analysis": {
                    "data_transmission": "On-premise inference on a server in the imaging "
                    "network; no data leave the hospital network",
                    "data_reuse_by_manufacturer": "None: contract clause 7 forbids reuse; "
                    "remote maintenance without access to images",
                    "patient_information": "Notice in the emergency waiting rooms and in the "
                    "welcome booklet; DPO register entry 2024-017",
                    "cybersecurity": "Reviewed by the CISO (RSSI) in May 2024; server in the "
                    "imaging DMZ, patched monthly",
                    "continuity_plan": "Reading without AI (degraded-mode procedure PR-RAD-12); "
                    "PACS alert if no result within 30 minutes",
                    "training": "Emergency physicians, residents and radiologists trained at "
                    "deployment (June 2024); yearly refresher",
                },
            },
            {
                "id": NODULE_DEVICE,
                "name": "PulmoTrace CT",
                "manufacturer": "Exemplar Thoracic AI GmbH (fictional)",
                "model": "PT-CT",
                "versions": list(params.nodule_versions),
                "ce_class": "IIb",
                "notified_body": "Fictional Notified Body (NB 0000)",
                "intended_purpose": (
                    "Computer-aided detection of solid and part-solid pulmonary nodules of "
                    "4 to 30 mm on adult chest CT, as a second reader for the radiologist"
                ),
                "target": "lung_nodule",
                "ai_based": True,
                "departments": ["Radiologie", "Pneumologie"],
                "sites": list(params.sites),  # one list each: no YAML anchors
                "date_in_service": params.start - timedelta(days=108),
                "operating_threshold": params.nodule_threshold,
                "indeterminate_policy": "exclude",
                "claimed_performance": {
                    "sensitivity": 0.88,
                    "specificity": 0.80,
                    "sensitivity_ci": [0.84, 0.91],
                    "specificity_ci": [0.76, 0.84],
                    "source": "Instructions for use v1.7, retrospective study (1 120 CT)",
                },
                "risk_analysis": {
                    "data_transmission": "Pseudonymised images sent to the manufacturer's "
                    "certified health-data host (HDS), results returned to the PACS",
                    "data_reuse_by_manufacturer": "Product improvement on pseudonymised data, "
                    "patients may object",
                    "patient_information": "Written notice given with the CT appointment",
                    "cybersecurity": "HDS certificate checked; VPN tunnel reviewed by the CISO",
                    "continuity_plan": "",
                    "training": "Radiologists trained; radiographers not trained yet",
                },
            },
        ]
    }


def _toml(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


_CONFIG: Final = """\
# dmn-monitor configuration written by the demo generator (synthetic data only).
# Paths are relative to this file's folder.
[database]
url = {database}

[time]
timezone = {timezone}

# The fracture detector's vendor export: its own column names, French naive dates,
# POSITIVE / DOUBT / NEGATIVE, and no device id column.
[[sources]]
name = "fracture-xr-export"
kind = "predictions"
path = "fracture_predictions.csv"
format = "csv"
delimiter = ";"
datetime_format = {datetime_format}

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
device_id = {fracture}

# The nodule detector exports the canonical CSV.
[[sources]]
name = "nodule-ct-export"
kind = "predictions"
path = "nodule_predictions.csv"
format = "csv"

# Reports, pathology and follow-up from the RIS (canonical CSV).
[[sources]]
name = "ris-outcomes"
kind = "outcomes"
path = "outcomes.csv"
format = "csv"
"""


# --- public API -------------------------------------------------------------------------


def generate_demo(params: DemoParameters = DemoParameters()) -> DemoData:
    """The synthetic period for ``params`` (the same parameters give the same data).

    Everything is held in memory: about 1.4 GB at a million predictions. For ten
    million, use :func:`generate_demo_slices`.
    """
    data, _, _ = _generate(params, np.random.default_rng(params.seed), None, 1_000_000)
    return data


def generate_demo_slices(params: DemoParameters, slice_days: int = 31) -> Iterator[DemoData]:
    """The period of ``params`` as consecutive slices of ``slice_days`` days, one at a time.

    For volumes that do not fit in memory at once (benchmarks: ten million exams
    is about 12 GB with :func:`generate_demo`, about 1.2 GB a slice of 31 days this
    way). Each slice is a :class:`DemoData` whose ``parameters`` are those of
    ``params`` narrowed to the slice (``start``, ``days`` and the update days shifted,
    so versions change on the same dates). The slices continue each other: accession
    numbers keep running per site and patient ids keep growing, so identifiers are
    unique over the whole period, and the calendar (weekends, holidays, seasons) is
    the period's.

    What differs from :func:`generate_demo` on the same parameters: slice ``k`` is
    drawn from ``numpy.random.default_rng([params.seed, k])`` (seeded, but not the
    same draws), patients come back within a slice only, and outcomes are sorted
    by time within each slice (an outcome may fall after its slice, like one after
    the period does).
    """
    if slice_days < 1:
        raise ValueError("slice_days must be >= 1")
    first_numbers: np.ndarray | None = None
    first_id = 1_000_000
    for k, offset in enumerate(range(0, params.days, slice_days)):
        part = replace(
            params,
            start=params.start + timedelta(days=offset),
            days=min(slice_days, params.days - offset),
            update_after_days=_shifted(params.update_after_days, offset),
            nodule_update_after_days=_shifted(params.nodule_update_after_days, offset),
        )
        rng = np.random.default_rng([params.seed, k])
        data, first_numbers, first_id = _generate(part, rng, first_numbers, first_id)
        yield data


def _shifted(days: int | tuple[int, ...], offset: int) -> int | tuple[int, ...]:
    return days - offset if isinstance(days, int) else tuple(d - offset for d in days)


def hospital_group_parameters(
    predictions: int = 1_000_000, *, seed: int = 20250101
) -> DemoParameters:
    """Parameters for about ``predictions`` exams in a year, over the full subgroup grid.

    The grid of the evaluation benchmarks: 2 devices x 3 versions each (fracture
    2.3.1 -> 2.4.0 on day 120 -> 2.5.0 on day 240, the degradation on Fujifilm in
    2.4.0 only; nodule 1.7.0 -> 1.8.0 -> 1.9.0 on days 100 and 250), 2 sites, the 5
    scanner manufacturers in both sites for both devices, patients in the three age
    bands <18, 18-64, >=65 for both devices (the nodule detector sees teenagers here,
    unlike the demo), sex ``F`` or ``M`` only, 12 months from 2025-01-01. The volume
    comes from ``scale``; the count is Poisson, within about 0.5 % of the request
    above 100,000. Use with :func:`generate_demo` up to a few million predictions,
    with :func:`generate_demo_slices` beyond.
    """
    if predictions < 1:
        raise ValueError("predictions must be >= 1")
    even = tuple(tuple(0.2 for _ in MANUFACTURERS) for _ in range(2))
    params = DemoParameters(
        seed=seed,
        fracture_versions=(*FRACTURE_VERSIONS, "2.5.0"),
        update_after_days=(120, 240),
        nodule_versions=(*NODULE_VERSIONS, "1.9.0"),
        nodule_update_after_days=(100, 250),
        nodule_ages=(
            (0.05, 12, 18, 1.0, 0.45),
            (0.5, 18, 65, 1.4, 0.42),
            (0.45, 65, 90, 2.0, 0.45),
        ),
        unknown_sex_rate=0.0,
        fracture_manufacturer_mix=even,
        nodule_manufacturer_mix=even,
    )
    fracture_daily, nodule_daily = _daily_volumes(params, _calendar(params))
    expected = len(params.sites) * float(fracture_daily.sum() + nodule_daily.sum())
    return replace(params, scale=predictions / expected)


def _daily_volumes(params: DemoParameters, calendar: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Mean exams per site and day of each device."""
    off = calendar["off"].to_numpy()
    fracture_daily: np.ndarray = (
        params.fracture_exams_per_weekday
        * params.scale
        * np.where(off, params.fracture_weekend_factor, 1.0)
        * (1.0 + params.fracture_seasonality * calendar["summer"].to_numpy())
    )
    nodule_daily: np.ndarray = (
        params.nodule_exams_per_weekday
        * params.scale
        * np.where(off, params.nodule_weekend_factor, 1.0)
        * np.where(calendar["august"].to_numpy(), params.nodule_august_factor, 1.0)
    )
    return fracture_daily, nodule_daily


def _generate(
    params: DemoParameters,
    rng: np.random.Generator,
    first_numbers: np.ndarray | None,
    first_id: int,
) -> tuple[DemoData, np.ndarray, int]:
    """The data, each site's next accession number and the next patient id."""
    fracture_daily, nodule_daily = _daily_volumes(params, _calendar(params))
    fracture_exams = _exam_times(rng, params, fracture_daily, _EMERGENCY_HOURS)
    nodule_exams = _exam_times(rng, params, nodule_daily, _SCHEDULED_HOURS)
    (fracture_ids, nodule_ids), next_numbers = _identifiers(
        rng, params, [fracture_exams, nodule_exams], first_numbers
    )
    fracture_patients, last_id = _patients(
        rng, params, fracture_exams, pool_ratio=2.0, ages=params.fracture_ages, first_id=first_id
    )
    nodule_patients, last_id = _patients(
        rng, params, nodule_exams, pool_ratio=1.2, ages=params.nodule_ages, first_id=last_id + 1
    )
    fracture = _fracture(rng, params, fracture_exams, fracture_ids, fracture_patients)
    nodule = _nodule(rng, params, nodule_exams, nodule_ids, nodule_patients)

    parts = _fracture_outcomes(rng, params, fracture, fracture_ids[1])
    parts += _nodule_outcomes(rng, params, nodule, nodule_ids[1])
    outcomes = pd.concat(parts, ignore_index=True).sort_values("_moment", kind="stable")
    outcomes = outcomes.drop(columns="_moment").reset_index(drop=True)[list(OUTCOME_COLUMNS)]
    truth = pd.concat([fracture.truth, nodule.truth], ignore_index=True)
    data = DemoData(
        fracture_predictions=fracture.frame,
        nodule_predictions=nodule.frame,
        outcomes=outcomes,
        truth=truth,
        registry=_registry(params),
        parameters=params,
    )
    return data, next_numbers, last_id + 1


def write_demo_files(data: DemoData, out_dir: Path) -> DemoFiles:
    """Write the exports, the registry and a configuration that reads them into ``out_dir``.

    Files: ``fracture_predictions.csv`` (vendor, ``;``), ``nodule_predictions.csv`` and
    ``outcomes.csv`` (canonical), ``devices.yaml`` and ``dmn-monitor.toml`` (its
    SQLite database ``dmn-monitor.db`` in the same folder). Existing files are replaced.
    In ``outcomes.csv`` a radiology report (source ``report``) comes as a synthetic
    French text with an empty outcome, read from the text at ingestion; the outcome
    read is that of ``data.outcomes``. Pathology and follow-up rows give their outcome.
    """
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
    csv: dict[str, Any] = {"index": False, "encoding": "utf-8", "lineterminator": "\n"}
    data.fracture_predictions.to_csv(files.fracture_predictions, sep=";", **csv)
    data.nodule_predictions.to_csv(files.nodule_predictions, **csv)
    _outcomes_file(data).to_csv(files.outcomes, **csv)
    files.registry.write_text(
        yaml.safe_dump(data.registry, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    files.config.write_text(
        _CONFIG.format(
            database=_toml(f"sqlite:///{(directory / 'dmn-monitor.db').as_posix()}"),
            timezone=_toml(TIMEZONE),
            datetime_format=_toml(VENDOR_DATETIME_FORMAT),
            fracture=_toml(FRACTURE_DEVICE),
        ),
        encoding="utf-8",
    )
    return files
