"""Detection: false alarms per device-year and delay, product vs plain CUSUM vs monthly review.

Simulated device-years, the same for every detector, each replayed by three
detectors in the same process:

- ``product``: the product's own monitor, ``monitor.detection.DeviceChecker``
  (default ``Config()``, a history built in memory instead of read from a
  database), replayed at the end of each local day with only what was known then;
  an alarm is a draft of a performance rule (``alerts.findings.PERFORMANCE_RULES``)
  whose severity is not "info", counted once per subject (rule, metric, version,
  subgroup), as storage deduplicates them;
- ``plain CUSUM h=5``: what a practitioner would set up by hand: 12 Bernoulli
  CUSUM charts per device, {misses among verified positives, false positives among
  verified negatives} x {whole device, each of the 5 scanner manufacturers}; each
  case is one observation, taken when its first outcome arrives (in arrival order,
  with that outcome's label: a plain chart does not revisit a case); p0 = the
  claimed miss (1 - sensitivity) or false-positive (1 - specificity) rate, p1 = 2 p0,
  a hand-set limit h = 5 (in-control ARL 2,750 to 6,000 observations for these
  rates; not tuned to the scenarios), restarted at 0 after each signal; checked
  daily (an alarm dates from the end of the day of its signalling observation);
  every signal is an alarm;
- ``monthly review`` (the reference of the time ratio): on the 7th of each month,
  the previous month's sensitivity and specificity per slice (whole device, each
  value of site, manufacturer, age band, sex, body part) with their Wilson 95 %
  interval, as known that day; each slice whose interval lies wholly below the
  claim is an alarm.

Scenarios (5 scanner manufacturers, Fujifilm a fifth of the volume; 2 sites, 3 age
bands, 2 sexes; weekends 60 % of a weekday's volume; 5 % of exams never reported;
seeds ``--seed + 10000 x scenario index + year``):

- ``no change``: a fracture detector (DX; wrist, ankle, hip, hand) performing
  exactly as claimed (sensitivity 0.91, specificity 0.85), prevalence 0.25, 150
  exams a weekday, reports 2 h to 3 days after the exam;
- ``no change, reports 3 % wrong``: the same device, exactly as claimed against the
  eventual truth, but 3 % of reports say the wrong label; a follow-up (source rank
  2) with the true label arrives for every exam 30 to 120 days after it and
  corrects the reports (against reports alone the sensitivity looks like 0.84);
- ``overall drop``: sensitivity 0.91 -> 0.78 on every exam from day 180;
- ``one-manufacturer drop``: sensitivity 0.91 -> 0.70 on Fujifilm images only from
  day 180. Its delay counts the first alarm attributed to Fujifilm (the product: a
  draft whose subgroup is {"scanner_manufacturer": "Fujifilm"}; the CUSUM: a
  Fujifilm chart; the review: a flagged Fujifilm slice); "any" columns count the
  first alarm of any kind;
- ``specificity drop (nodule CT)``: a lung-nodule detector (CT, chest; claimed
  sensitivity 0.90, specificity 0.82), prevalence 0.30, 80 exams a weekday, reports
  7 to 13 days after the exam; specificity 0.82 -> 0.65 from day 180.

False alarms per in-control device-year: alarms raised before the change (day 180,
00:00, local time), or all year without a change, over that time; every drop
scenario's 180 days before the change count as in-control time. Delays: days from
the change to the end of the day of the first alarm after it (attributed where
said); a drop not detected within the year is an infinite delay.

Information bound (the delay no procedure can beat at the target false-alarm
rate): Lorden (1971, Ann Math Stat 42:1897) and Lai (1998, IEEE Trans Inf Theory
44:2917) show that
any procedure whose in-control average run length is at least ARL0 observations
has, asymptotically as ARL0 grows, a worst-case expected delay of at least
``log(ARL0) / KL`` observations, KL the Kullback-Leibler divergence per
observation of the shifted from the in-control distribution. Here, for the
affected stream alone (misses among verified positives, or false positives among
verified negatives, of the whole device or of Fujifilm):

    KL = KL(Bern(q1) || Bern(q0)) = q1 log(q1 / q0) + (1 - q1) log((1 - q1) / (1 - q0))
    ARL0 = (verified observations of the stream per year) / 0.1
    bound (days) = log(ARL0) / KL / (verified observations of the stream per day)
                   + median label delay (days)

with q0, q1 the miss (false-positive) rates before and after, expected volumes
(weekday x 5/7 + weekend x 2/7, times prevalence or 1 - prevalence, the
manufacturer's share and the 95 % reported). A detector that watches more streams,
or does not know which one will move, can only be slower; the bound is asymptotic
and about the mean, so a median slightly under it is no contradiction. The
``bound own FA`` column is the same with the detector's own measured false-alarm
rate in place of 0.1 (a detector allowed more false alarms may be faster). The
median label delay is the middle of the report delay's uniform range (1.5 days for
the fracture detector, 10 for the nodule detector). A detector with many false
alarms also "detects" early by chance: its first alarm after the change may be one
of them (the plain CUSUM's "any" columns).

Time: seconds per device-year of each detector (not traced) and the ratio to the
review in the same process; peak memory: tracemalloc peak of each detector on the
first device-year of each scenario (a separate, traced run; the history is built
before). Years run in parallel (``--processes``, default 2); each year's times go
to stderr, and the product's in-control alarms are listed (seed, day, subject).

    python benchmarks/detection.py [--quick] [--years N] [--only SUBSTRING] [--h 5]

Targets: median delay <= 7 days for the overall drop, <= 14 days for the
one-manufacturer drop (attributed), <= 21 days for the specificity drop (~10-day
label delay), at <= 0.1 false alarm per device-year, the 3 %-wrong-reports years
included.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

import monitor.detection
from alerts.findings import PERFORMANCE_RULES
from metrics import proportion_ci_array
from metrics.sequential import bernoulli_cusum_arl, bernoulli_cusum_path
from monitor.config import Config
from monitor.detection import DeviceChecker
from monitor.history import DeviceHistory, to_ns
from monitor.linking import SOURCE_PRECEDENCE
from monitor.registry import DeviceSpec, parse_registry

PARIS = ZoneInfo("Europe/Paris")
START = date(2025, 1, 1)
DAYS = 365
CHANGE_DAY = 180
NS_PER_HOUR = 3600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR
WEEKEND_SHARE = 0.6
NEVER_REPORTED = 0.05
MANUFACTURERS = ("Fujifilm", "GE", "Siemens", "Philips", "Carestream")
DIMENSIONS = ("site", "scanner_manufacturer", "age_band", "patient_sex", "body_part")
TARGET_FALSE_ALARMS = 0.1
"""False alarms per device-year the targets allow (and the bound assumes)."""
REPORT_RANK = SOURCE_PRECEDENCE.index("report")
FOLLOW_UP_RANK = SOURCE_PRECEDENCE.index("follow_up")
DETECTORS = ("product", "plain CUSUM", "monthly review")
REPO = Path(__file__).resolve().parent.parent
PRODUCT_DIRS = ("monitor", "alerts", "metrics")
"""Where the product's detection code lives (for the uncommitted-changes note)."""


def _device(device_id: str, target: str, sensitivity: float, specificity: float) -> DeviceSpec:
    entry = {
        "id": device_id,
        "name": f"Simulated {target} detector",
        "manufacturer": "Benchmark",
        "versions": ["1.0"],
        "target": target,
        "ai_based": True,
        "date_in_service": START.isoformat(),
        "operating_threshold": 0.5,
        "indeterminate_policy": "positive",
        "claimed_performance": {
            "sensitivity": sensitivity,
            "specificity": specificity,
            "source": "benchmark",
        },
    }
    return parse_registry({"devices": [entry]})[0]


FRACTURE = _device("sim-xr", "fracture", 0.91, 0.85)
NODULE = _device("sim-ct", "lung_nodule", 0.90, 0.82)


@dataclass(frozen=True)
class Scenario:
    """One kind of device-year: the device, its traffic, its truth, and what changes."""

    name: str
    device: DeviceSpec
    modality: str
    body_parts: tuple[str, ...]
    prevalence: float
    exams_per_day: float
    report_hours: tuple[float, float]
    years: int
    quick_years: int
    wrong_reports: float = 0.0
    follow_up_days: tuple[float, float] | None = None
    metric: str | None = None
    """The metric that drops from ``CHANGE_DAY`` (None: nothing changes)."""
    drop_to: float = 0.0
    manufacturer: str | None = None
    """Only this manufacturer's images change (None: every exam)."""

    @property
    def claim(self) -> dict[str, float]:
        return self.device.claims()

    @property
    def quiet_days(self) -> int:
        """Days of the year during which nothing has changed."""
        return DAYS if self.metric is None else CHANGE_DAY


NO_CHANGE = Scenario(
    "no change",
    device=FRACTURE,
    modality="DX",
    body_parts=("WRIST", "ANKLE", "HIP", "HAND"),
    prevalence=0.25,
    exams_per_day=150.0,
    report_hours=(2.0, 72.0),
    years=40,
    quick_years=4,
)
SCENARIOS = (
    NO_CHANGE,
    replace(
        NO_CHANGE,
        name="no change, reports 3 % wrong",
        wrong_reports=0.03,
        follow_up_days=(30.0, 120.0),
    ),
    replace(
        NO_CHANGE,
        name="overall drop",
        years=20,
        quick_years=3,
        metric="sensitivity",
        drop_to=0.78,
    ),
    replace(
        NO_CHANGE,
        name="one-manufacturer drop",
        years=20,
        quick_years=3,
        metric="sensitivity",
        drop_to=0.70,
        manufacturer="Fujifilm",
    ),
    Scenario(
        "specificity drop (nodule CT)",
        device=NODULE,
        modality="CT",
        body_parts=("CHEST",),
        prevalence=0.30,
        exams_per_day=80.0,
        report_hours=(7 * 24.0, 13 * 24.0),
        years=20,
        quick_years=3,
        metric="specificity",
        drop_to=0.65,
    ),
)


class Alarm(NamedTuple):
    """One alarm: its day (from START), what it names, and the manufacturer it names."""

    day: int
    subject: str
    manufacturer: str | None


# --------------------------------------------------------------------------- simulation


def simulate(seed: int, scenario: Scenario) -> DeviceHistory:
    """One device-year as a history: cases in exam order, their outcome events sorted
    by case, source rank, then time (latest first within a source), as load_history."""
    rng = np.random.default_rng(seed)
    day_starts = pd.date_range(START, periods=DAYS, freq="D", tz=PARIS)
    weekday = day_starts.dayofweek < 5
    volume = scenario.exams_per_day
    counts = rng.poisson(np.where(weekday, volume, WEEKEND_SHARE * volume))
    day = np.repeat(np.arange(DAYS), counts)
    n = day.size
    start_ns = day_starts.asi8[day] + (rng.uniform(7, 23, n) * NS_PER_HOUR).astype(np.int64)
    order = np.argsort(start_ns, kind="stable")
    day, exam_ns = day[order], start_ns[order]
    manufacturer = rng.choice(MANUFACTURERS, n)
    truth = rng.random(n) < scenario.prevalence
    claim = scenario.claim
    sensitivity = np.full(n, claim["sensitivity"])
    specificity = np.full(n, claim["specificity"])
    if scenario.metric is not None:
        affected = day >= CHANGE_DAY
        if scenario.manufacturer is not None:
            affected &= manufacturer == scenario.manufacturer
        (sensitivity if scenario.metric == "sensitivity" else specificity)[affected] = (
            scenario.drop_to
        )
    call = np.where(truth, rng.random(n) < sensitivity, rng.random(n) >= specificity)
    age = rng.uniform(2, 95, n)
    cases = pd.DataFrame(
        {
            "prediction_id": np.arange(1, n + 1),
            "device_version": "1.0",
            "target": scenario.device.target,
            "ai_result": np.where(call, "positive", "negative"),
            "ai_score": np.nan,
            "site": rng.choice(["CHU-Nord", "CHU-Sud"], n),
            "modality": scenario.modality,
            "body_part": rng.choice(scenario.body_parts, n),
            "scanner_manufacturer": manufacturer,
            "scanner_model": None,
            "patient_age": age,
            "patient_sex": rng.choice(["F", "M"], n),
            "exam_ns": exam_ns,
            "age_band": np.where(age < 18, "<18", np.where(age < 65, "18-64", ">=65")),
            "ai_call": call.astype(np.int8),
        }
    )
    # Routine reports: 95 % of exams, some with the wrong label.
    reported = np.flatnonzero(rng.random(n) >= NEVER_REPORTED)
    low, high = scenario.report_hours
    report_ns = exam_ns[reported] + (rng.uniform(low, high, reported.size) * NS_PER_HOUR).astype(
        np.int64
    )
    wrong = rng.random(reported.size) < scenario.wrong_reports
    parts = [(reported, truth[reported] ^ wrong, report_ns, np.full(reported.size, REPORT_RANK))]
    if scenario.follow_up_days is not None:
        low, high = scenario.follow_up_days
        every = np.arange(n)
        follow_ns = exam_ns + (rng.uniform(low, high, n) * NS_PER_DAY).astype(np.int64)
        parts.append((every, truth, follow_ns, np.full(n, FOLLOW_UP_RANK)))
    event_case, event_truth, event_ns, event_rank = (
        np.concatenate(p) for p in zip(*parts, strict=True)
    )
    order = np.lexsort((-event_ns, event_rank, event_case))
    return DeviceHistory(
        device=scenario.device,
        cases=cases,
        event_case=event_case[order].astype(np.int64),
        event_truth=event_truth[order].astype(np.int8),
        event_ns=event_ns[order].astype(np.int64),
        event_rank=event_rank[order].astype(np.int64),
    )


def _end_of_day_ns(day: int) -> int:
    moment = datetime.combine(START + timedelta(days=day), datetime.max.time(), tzinfo=PARIS)
    return to_ns(moment)


DAY_EDGES_NS = pd.date_range(START, periods=DAYS + 1, freq="D", tz=PARIS).asi8
"""Local midnights (UTC ns) from START: day d is [edge d, edge d + 1)."""


# --------------------------------------------------------------------------- detectors


def product_alarms(history: DeviceHistory, config: Config) -> list[Alarm]:
    """The product's new performance alarm subjects, replaying at the end of each day."""
    checker = DeviceChecker(history, config, PARIS, restarts={}, holidays=set())
    seen: set[str] = set()
    alarms = []
    for day in range(DAYS):
        for draft in checker.drafts(_end_of_day_ns(day)):
            if draft.rule not in PERFORMANCE_RULES or draft.severity == "info":
                continue
            subgroup = draft.subgroup or {}
            subject = (
                f"{draft.rule} {draft.metric} {draft.device_version} {sorted(subgroup.items())}"
            )
            if subject in seen:
                continue
            seen.add(subject)
            named = subgroup.get("scanner_manufacturer") if len(subgroup) == 1 else None
            alarms.append(Alarm(day, subject, named))
    return alarms


def cusum_signals(x: np.ndarray, p0: float, p1: float, h: float) -> list[int]:
    """Indices of the signals of a Bernoulli CUSUM restarted at 0 after each signal."""
    signals: list[int] = []
    start = 0
    while start < x.size:
        hits = np.flatnonzero(bernoulli_cusum_path(x[start:], p0, p1) >= h)
        if hits.size == 0:
            break
        signals.append(start + int(hits[0]))
        start += int(hits[0]) + 1
    return signals


def plain_cusum_alarms(history: DeviceHistory, h: float) -> list[Alarm]:
    """Signals of the 12 hand-set charts, each case counted once when its first
    outcome arrives, with that outcome's label."""
    by_arrival = np.lexsort((history.event_ns, history.event_case))
    first = by_arrival[np.unique(history.event_case[by_arrival], return_index=True)[1]]
    first = first[np.argsort(history.event_ns[first], kind="stable")]
    case = history.event_case[first]
    arrival_ns = history.event_ns[first]
    truth = history.event_truth[first]
    call = history.cases["ai_call"].to_numpy()[case]
    manufacturer = history.cases["scanner_manufacturer"].to_numpy()[case]
    day = np.searchsorted(DAY_EDGES_NS, arrival_ns, side="right") - 1
    alarms = []
    for metric, label in (("sensitivity", 1), ("specificity", 0)):
        p0 = 1.0 - history.device.claims()[metric]
        chosen = (truth == label) & (call >= 0)
        error = (call != label).astype(np.float64)
        for name in (None, *MANUFACTURERS):
            mask = chosen if name is None else chosen & (manufacturer == name)
            for i in cusum_signals(error[mask], p0, 2 * p0, h):
                signal_day = int(day[mask][i])
                if signal_day < DAYS:
                    alarms.append(Alarm(signal_day, f"cusum {metric} {name or 'device'}", name))
    alarms.sort(key=lambda alarm: alarm.day)
    return alarms


def review_alarms(history: DeviceHistory) -> list[Alarm]:
    """Each slice a monthly review (7th, previous month) finds wholly below the claim."""
    months = pd.date_range(START, periods=13, freq="MS", tz=PARIS)
    claim = history.device.claims()
    alarms = []
    for first, following in pairwise(months):
        review_day = (following.date() + timedelta(days=6) - START).days
        if review_day >= DAYS:
            break
        view = history.as_of(_end_of_day_ns(review_day))
        cases = view.cases
        exam = cases["exam_ns"].to_numpy()
        month = view.verified & (exam >= first.value) & (exam < following.value)
        call = cases["ai_call"].to_numpy()
        slices = [("device", None, np.ones(len(view), dtype=bool))]
        for dim in DIMENSIONS:
            values = cases[dim].to_numpy()
            for value in np.unique(values):
                named = value if dim == "scanner_manufacturer" else None
                slices.append((f"{dim}={value}", named, values == value))
        for metric, label in (("sensitivity", 1), ("specificity", 0)):
            chosen = month & (view.truth == label)
            n = np.array([(chosen & s).sum() for _, _, s in slices])
            k = np.array([(chosen & s & (call == label)).sum() for _, _, s in slices])
            _, high = proportion_ci_array(k, n)
            for (name, manufacturer, _), below in zip(slices, high < claim[metric], strict=True):
                if below:
                    alarms.append(
                        Alarm(review_day, f"review {metric} {name} {first:%Y-%m}", manufacturer)
                    )
    return alarms


# --------------------------------------------------------------------------- one year


@dataclass(frozen=True)
class YearResult:
    """Alarms, seconds and (traced years) peak MiB of each detector on one device-year."""

    scenario: int
    year: int
    exams: int
    alarms: dict[str, list[Alarm]]
    seconds: dict[str, float]
    peak_mib: dict[str, float] | None


def run_year(task: tuple[int, int, int, float, bool]) -> YearResult:
    """Simulate one device-year and run the three detectors on it (and trace them)."""
    index, year, seed, h, trace = task
    history = simulate(seed, SCENARIOS[index])
    config = Config()
    runs: dict[str, Callable[[], list[Alarm]]] = {
        "product": lambda: product_alarms(history, config),
        "plain CUSUM": lambda: plain_cusum_alarms(history, h),
        "monthly review": lambda: review_alarms(history),
    }
    alarms, seconds = {}, {}
    for name, run in runs.items():
        started = time.perf_counter()
        alarms[name] = run()
        seconds[name] = time.perf_counter() - started
    peak = None
    if trace:
        peak = {}
        for name, run in runs.items():
            tracemalloc.start()
            run()
            peak[name] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    return YearResult(index, year, len(history.cases), alarms, seconds, peak)


# --------------------------------------------------------------------------- summary


def kl_bernoulli(q1: float, q0: float) -> float:
    """KL(Bern(q1) || Bern(q0)) in nats."""
    return q1 * math.log(q1 / q0) + (1 - q1) * math.log((1 - q1) / (1 - q0))


def stream_per_day(scenario: Scenario) -> float:
    """Expected verified observations a day of the stream the scenario changes."""
    exams = scenario.exams_per_day * (5 + 2 * WEEKEND_SHARE) / 7
    share = scenario.prevalence if scenario.metric == "sensitivity" else 1 - scenario.prevalence
    if scenario.manufacturer is not None:
        share /= len(MANUFACTURERS)
    return exams * share * (1 - NEVER_REPORTED)


def information_bound(scenario: Scenario, false_alarms_per_year: float) -> float | None:
    """Lorden's lower bound on the delay in days (see the module docstring)."""
    if scenario.metric is None or false_alarms_per_year <= 0:
        return None
    per_day = stream_per_day(scenario)
    arl0 = max(per_day * DAYS / false_alarms_per_year, math.e)
    q0 = 1 - scenario.claim[scenario.metric]
    q1 = 1 - scenario.drop_to
    label_delay_days = sum(scenario.report_hours) / 2 / 24
    return math.log(arl0) / kl_bernoulli(q1, q0) / per_day + label_delay_days


@dataclass
class Summary:
    """One detector over one scenario's device-years."""

    in_control_years: float = 0.0
    false_alarms: int = 0
    delays: list[float] | None = None
    delays_any: list[float] | None = None
    seconds: float = 0.0
    peak_mib: float | None = None
    years: int = 0

    @property
    def false_rate(self) -> float:
        return self.false_alarms / self.in_control_years if self.in_control_years else math.nan


def _delay(alarms: list[Alarm], manufacturer: str | None) -> float:
    after = [
        a.day
        for a in alarms
        if a.day >= CHANGE_DAY and (manufacturer is None or a.manufacturer == manufacturer)
    ]
    return min(after) + 1 - CHANGE_DAY if after else math.inf


def summarise(scenario: Scenario, results: list[YearResult]) -> dict[str, Summary]:
    """Per detector: in-control false alarms, delays, time and peak memory."""
    summaries = {name: Summary(delays=[], delays_any=[]) for name in DETECTORS}
    for result in results:
        for name, summary in summaries.items():
            alarms = result.alarms[name]
            summary.years += 1
            summary.in_control_years += scenario.quiet_days / DAYS
            summary.false_alarms += sum(1 for a in alarms if a.day < scenario.quiet_days)
            summary.seconds += result.seconds[name]
            if result.peak_mib is not None:
                summary.peak_mib = max(summary.peak_mib or 0.0, result.peak_mib[name])
            if scenario.metric is not None:
                assert summary.delays is not None and summary.delays_any is not None
                summary.delays.append(_delay(alarms, scenario.manufacturer))
                summary.delays_any.append(_delay(alarms, None))
    return summaries


def _quantile(values: list[float] | None, q: float) -> float | None:
    if not values:
        return None
    return float(np.quantile(np.array(values), q, method="higher" if q > 0.5 else "linear"))


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _markdown(rows: list[dict[str, object]]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def scenario_table(scenario: Scenario, summaries: dict[str, Summary], h: float) -> str:
    """The scenario's comparison table, one row per detector."""
    review_seconds = summaries["monthly review"].seconds
    bound = information_bound(scenario, TARGET_FALSE_ALARMS)
    rows: list[dict[str, object]] = []
    for name, s in summaries.items():
        detected = sum(1 for d in s.delays or [] if math.isfinite(d))
        label = f"plain CUSUM h={h:g}" if name == "plain CUSUM" else name
        rows.append(
            {
                "detector": label,
                "in-control yrs": s.in_control_years,
                "false alarms/yr": s.false_rate,
                "median delay d": _quantile(s.delays, 0.5),
                "p90 delay d": _quantile(s.delays, 0.9),
                "detected": f"{detected}/{s.years}" if scenario.metric else "-",
                "median any d": _quantile(s.delays_any, 0.5),
                "bound d (0.1/yr)": bound,
                "bound d (own FA)": information_bound(scenario, s.false_rate),
                "s/device-yr": s.seconds / s.years,
                "peak MiB": s.peak_mib,
                "x review time": s.seconds / review_seconds if review_seconds else None,
            }
        )
    return _markdown(rows)


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def product_version() -> str:
    """Where the product code comes from: the repository's commit and its uncommitted
    product files, or the other directory it was imported from."""
    source = Path(monitor.detection.__file__).resolve().parent.parent
    if source != REPO:
        return f"product code imported from {source} (not this repository's working tree)"
    status = _git("status", "--porcelain", "--", *PRODUCT_DIRS)
    dirty = "; ".join(line.strip() for line in status.splitlines())
    commit = _git("log", "-1", "--format=%h")
    return f"product code at commit {commit}" + (f", uncommitted: {dirty}" if dirty else "")


def _tasks(
    scenarios: list[tuple[int, Scenario]], years: dict[int, int], seed: int, h: float
) -> Iterator[tuple[int, int, int, float, bool]]:
    for index, _ in scenarios:
        for year in range(years[index]):
            yield index, year, seed + 10_000 * index + year, h, year == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", type=int, help="Device-years of every scenario.")
    parser.add_argument("--quick", action="store_true", help="4 / 3 device-years (smoke run).")
    parser.add_argument("--only", help="Run the scenarios whose name contains this.")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--h", type=float, default=5.0, help="Limit of the plain CUSUM.")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    chosen = [(i, s) for i, s in enumerate(SCENARIOS) if not args.only or args.only in s.name]
    years = {i: args.years or (s.quick_years if args.quick else s.years) for i, s in chosen}
    print(product_version())
    for p0 in sorted({1 - v for _, s in chosen for v in s.claim.values()}):
        arl = bernoulli_cusum_arl(p0, 2 * p0, args.h)
        print(f"plain CUSUM p0={p0:.2f} p1={2 * p0:.2f} h={args.h:g}: ARL0 {arl:,.0f} obs")
    print(flush=True)

    results: dict[int, list[YearResult]] = {i: [] for i, _ in chosen}
    summaries: dict[int, dict[str, Summary]] = {}
    started = time.perf_counter()
    with multiprocessing.Pool(args.processes) as pool:
        for result in pool.imap(run_year, _tasks(chosen, years, args.seed, args.h)):
            index = result.scenario
            results[index].append(result)
            spent = ", ".join(f"{name} {s:.1f} s" for name, s in result.seconds.items())
            print(f"  {SCENARIOS[index].name}, year {result.year}: {spent}", file=sys.stderr)
            if len(results[index]) < years[index]:
                continue
            scenario = SCENARIOS[index]
            summaries[index] = summarise(scenario, results[index])
            first = args.seed + 10_000 * index
            exams = sum(r.exams for r in results[index])
            print(
                f"### {scenario.name}: {years[index]} device-years (seeds {first}-"
                f"{first + years[index] - 1}), {exams:,} exams"
            )
            print(scenario_table(scenario, summaries[index], args.h))
            review_months = len(
                {
                    (r.year, a.day)
                    for r in results[index]
                    for a in r.alarms["monthly review"]
                    if a.day < scenario.quiet_days
                }
            )
            in_control = summaries[index]["monthly review"].in_control_years
            print(f"review: {review_months / in_control:.3g} months flagged per in-control year")
            for r in results[index]:
                for a in r.alarms["product"]:
                    if a.day < scenario.quiet_days:
                        print(
                            f"product false alarm: seed {first + r.year}, day {a.day}: {a.subject}"
                        )
            print(f"({time.perf_counter() - started:.0f} s elapsed)\n", flush=True)

    print("### In-control time, all scenarios")
    rows: list[dict[str, object]] = []
    rates: dict[str, float] = {}
    for name in DETECTORS:
        total = sum(s[name].in_control_years for s in summaries.values())
        false = sum(s[name].false_alarms for s in summaries.values())
        rate = false / total if total else math.nan
        rates[name] = rate
        rows.append(
            {
                "detector": name,
                "in-control yrs": total,
                "false alarms": false,
                "false alarms/yr": rate,
            }
        )
    print(_markdown(rows))
    print()
    targets = (
        ("overall drop", 7.0, "median delay <= 7 days"),
        ("one-manufacturer drop", 14.0, "median delay <= 14 days, attributed to Fujifilm"),
        ("specificity drop (nodule CT)", 21.0, "median delay <= 21 days"),
    )
    print(
        f"Targets (at <= {TARGET_FALSE_ALARMS} false alarm per device-year, all in-control time):"
    )
    for name in DETECTORS:
        verdicts = []
        for scenario_name, limit, text in targets:
            found = next((i for i, s in chosen if s.name == scenario_name), None)
            if found is None:
                continue
            median = _quantile(summaries[found][name].delays, 0.5)
            ok = median is not None and median <= limit
            verdicts.append(f"{scenario_name} {text}: {_fmt(median)} {'met' if ok else 'MISSED'}")
        ok = rates[name] <= TARGET_FALSE_ALARMS
        verdicts.append(f"false alarms/yr {rates[name]:.3g} {'met' if ok else 'MISSED'}")
        print(f"- {name}: " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
