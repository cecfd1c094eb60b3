"""Detection: false alarms per device-year and detection delay, against a monthly review.

Simulated device-years of a fracture detector (claimed sensitivity 0.90,
specificity 0.85, performing exactly as claimed: the hardest case for false
alarms), ``--exams-per-day`` exams a weekday (weekends 60 %), prevalence 0.25,
5 scanner manufacturers (the watched one, "Fujifilm", a fifth of the volume), 2
sites, 3 age bands, 2 sexes, 4 body parts; reports arrive 2 h to 3 days after the
exam, 5 % never. Three scenarios, ``--years`` device-years each, one seed each:

- ``no change``: every performance rule over the whole year, checked daily;
- ``overall drop``: sensitivity 0.90 -> 0.78 on every exam from day 180;
- ``subgroup drop``: sensitivity 0.90 -> 0.70 on Fujifilm images from day 180.

The monitor is the product's own code (``monitor.detection.DeviceChecker``, default
configuration, a history built in memory instead of read from a database), replayed
day by day with only the data known each day; an alarm is a warning or critical
finding of a performance rule (CUSUM charts, below-claim, version comparison),
counted once per subject (as storage deduplicates them). The reference run in the
same process is the plain monthly review: on the 7th of each month, the previous
month's sensitivity and specificity per slice (whole device, each subgroup value)
with their Wilson 95 % interval, flagged when the interval lies wholly below the
claim. Delays are from the change (day 180, 00:00) to the first alarm in days;
false alarms per device-year count the distinct alarms raised while nothing had
changed (the no-change years, and the days before the change of the other
scenarios), per in-control year; for the review, the months with at least one
flagged slice, and the flagged slices. A drop never detected within the year
counts as an infinite delay.

    python benchmarks/detection.py [--years 20] [--exams-per-day 150]

Targets (default settings): median delay <= 7 days overall, <= 14 days for the
subgroup, <= 0.1 false alarm per device-year.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from alerts.findings import PERFORMANCE_RULES
from metrics import proportion_ci_array
from monitor.config import Config
from monitor.detection import DeviceChecker
from monitor.history import DeviceHistory, to_ns
from monitor.registry import parse_registry

PARIS = ZoneInfo("Europe/Paris")
START = date(2025, 1, 1)
DAYS = 365
CHANGE_DAY = 180
CLAIMED_SENSITIVITY, CLAIMED_SPECIFICITY = 0.90, 0.85
MANUFACTURERS = ("Fujifilm", "GE", "Siemens", "Philips", "Carestream")
NS_PER_DAY = 86_400 * 10**9
DIMENSIONS = ("site", "scanner_manufacturer", "age_band", "patient_sex", "body_part")

DEVICE = parse_registry(
    {
        "devices": [
            {
                "id": "sim-xr",
                "name": "Simulated fracture detector",
                "manufacturer": "Benchmark",
                "versions": ["1.0"],
                "target": "fracture",
                "ai_based": True,
                "date_in_service": START.isoformat(),
                "operating_threshold": 0.5,
                "indeterminate_policy": "positive",
                "claimed_performance": {
                    "sensitivity": CLAIMED_SENSITIVITY,
                    "specificity": CLAIMED_SPECIFICITY,
                    "source": "benchmark",
                },
            }
        ]
    }
)[0]


@dataclass(frozen=True)
class Scenario:
    name: str
    drop_to: float | None
    subgroup_only: bool


SCENARIOS = (
    Scenario("no change", None, False),
    Scenario("overall drop", 0.78, False),
    Scenario("subgroup drop", 0.70, True),
)


def simulate(seed: int, scenario: Scenario, exams_per_day: float) -> DeviceHistory:
    """One device-year as a history: cases in exam order and their report events."""
    rng = np.random.default_rng(seed)
    day_starts = pd.date_range(START, periods=DAYS, freq="D", tz=PARIS)
    weekday = day_starts.dayofweek < 5
    counts = rng.poisson(np.where(weekday, exams_per_day, 0.6 * exams_per_day))
    day = np.repeat(np.arange(DAYS), counts)
    n = day.size
    start_ns = day_starts.asi8[day] + (rng.uniform(7, 23, n) * 3600 * 10**9).astype(np.int64)
    order = np.argsort(start_ns, kind="stable")
    day, exam_ns = day[order], start_ns[order]
    manufacturer = rng.choice(MANUFACTURERS, n)
    truth = rng.random(n) < 0.25
    sensitivity = np.full(n, 0.90)
    if scenario.drop_to is not None:
        affected = day >= CHANGE_DAY
        if scenario.subgroup_only:
            affected &= manufacturer == "Fujifilm"
        sensitivity[affected] = scenario.drop_to
    call = np.where(truth, rng.random(n) < sensitivity, rng.random(n) < 1 - 0.85)
    age = rng.uniform(2, 95, n)
    cases = pd.DataFrame(
        {
            "prediction_id": np.arange(1, n + 1),
            "device_version": "1.0",
            "target": "fracture",
            "ai_result": np.where(call, "positive", "negative"),
            "ai_score": np.nan,
            "site": rng.choice(["CHU-Nord", "CHU-Sud"], n),
            "modality": "DX",
            "body_part": rng.choice(["WRIST", "ANKLE", "HIP", "HAND"], n),
            "scanner_manufacturer": manufacturer,
            "scanner_model": None,
            "patient_age": age,
            "patient_sex": rng.choice(["F", "M"], n),
            "exam_ns": exam_ns,
            "age_band": np.where(age < 18, "<18", np.where(age < 65, "18-64", ">=65")),
            "ai_call": call.astype(np.int8),
        }
    )
    reported = rng.random(n) >= 0.05
    delay_ns = (rng.uniform(2, 72, n) * 3600 * 10**9).astype(np.int64)
    event_case = np.flatnonzero(reported)
    return DeviceHistory(
        device=DEVICE,
        cases=cases,
        event_case=event_case,
        event_truth=truth[event_case].astype(np.int8),
        event_ns=(exam_ns + delay_ns)[event_case],
    )


def _end_of_day_ns(day: int) -> int:
    moment = datetime.combine(START + timedelta(days=day), datetime.max.time(), tzinfo=PARIS)
    return to_ns(moment)


def monitor_alarms(history: DeviceHistory, first_day: int, config: Config) -> list[int]:
    """Days (from START) on which a new performance alarm subject appeared, replaying daily."""
    checker = DeviceChecker(history, config, PARIS, restarts={}, holidays=set())
    seen: set[tuple[object, ...]] = set()
    days = []
    for day in range(first_day, DAYS):
        for draft in checker.drafts(_end_of_day_ns(day)):
            if draft.rule not in PERFORMANCE_RULES or draft.severity == "info":
                continue
            subject = (
                draft.rule,
                draft.metric,
                draft.device_version,
                tuple(sorted((draft.subgroup or {}).items())),
            )
            if subject not in seen:
                seen.add(subject)
                days.append(day)
    return days


def review_alarms(history: DeviceHistory) -> list[tuple[int, int]]:
    """(review day, flagged slices) of each monthly review flagging at least one slice."""
    cases = history.cases
    months = pd.date_range(START, periods=13, freq="MS", tz=PARIS)
    flagged = []
    for first, following in pairwise(months):
        review = following + pd.Timedelta(days=6)
        review_day = (review.date() - START).days
        if review_day >= DAYS:
            break
        view = history.as_of(_end_of_day_ns(review_day))
        exam = view.cases["exam_ns"].to_numpy()
        month = view.verified & (exam >= first.value) & (exam < following.value)
        call = view.cases["ai_call"].to_numpy()
        slices = [np.ones(len(view), dtype=bool)] + [
            cases[dim].to_numpy()[: len(view)] == value
            for dim in DIMENSIONS
            for value in np.unique(cases[dim].to_numpy()[: len(view)])
        ]
        count = 0
        for truth, claim, right in ((1, CLAIMED_SENSITIVITY, 1), (0, CLAIMED_SPECIFICITY, 0)):
            n = np.array([(month & s & (view.truth == truth)).sum() for s in slices])
            k = np.array(
                [(month & s & (view.truth == truth) & (call == right)).sum() for s in slices]
            )
            _, high = proportion_ci_array(k, n)
            count += int(np.nansum(high < claim))
        if count:
            flagged.append((review_day, count))
    return flagged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", type=int, default=20, help="Device-years per scenario.")
    parser.add_argument("--exams-per-day", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    config = Config()
    rows = []
    for scenario in SCENARIOS:
        monitor_delays: list[float] = []
        review_delays: list[float] = []
        monitor_false = review_months = review_slices = 0
        exposure_years = 0.0
        monitor_seconds = review_seconds = 0.0
        tracemalloc.start()
        exams = 0
        for year in range(args.years):
            history = simulate(args.seed + year, scenario, args.exams_per_day)
            exams += len(history.cases)
            started = time.perf_counter()
            alarms = monitor_alarms(history, 0, config)
            monitor_seconds += time.perf_counter() - started
            started = time.perf_counter()
            reviews = review_alarms(history)
            review_seconds += time.perf_counter() - started
            # In-control time: the whole year, or the days before the change.
            quiet_days = DAYS if scenario.drop_to is None else CHANGE_DAY
            exposure_years += quiet_days / 365.0
            monitor_false += sum(1 for day in alarms if day < quiet_days)
            review_months += sum(1 for day, _ in reviews if day < quiet_days)
            review_slices += sum(count for day, count in reviews if day < quiet_days)
            if scenario.drop_to is None:
                continue
            after = [day for day in alarms if day >= CHANGE_DAY]
            review_after = [day for day, _ in reviews if day >= CHANGE_DAY]
            monitor_delays.append(after[0] + 1 - CHANGE_DAY if after else float("inf"))
            review_delays.append(review_after[0] + 1 - CHANGE_DAY if review_after else float("inf"))
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

        def median(delays: list[float]) -> float | None:
            return statistics.median(delays) if delays else None

        def p90(delays: list[float]) -> float | None:
            return float(np.quantile(delays, 0.9, method="higher")) if delays else None

        rows.append(
            {
                "scenario": scenario.name,
                "device-years": args.years,
                "exams": exams,
                "in-control years": exposure_years,
                "monitor false alarms/yr": monitor_false / exposure_years,
                "monitor median delay d": median(monitor_delays),
                "monitor p90 delay d": p90(monitor_delays),
                "review months flagged/yr": review_months / exposure_years,
                "review slices flagged/yr": review_slices / exposure_years,
                "review median delay d": median(review_delays),
                "monitor s/device-year": monitor_seconds / args.years,
                "review s/device-year": review_seconds / args.years,
                "x review time": monitor_seconds / review_seconds if review_seconds else None,
                "peak MiB (traced)": peak,
            }
        )
        print(_table(rows[-1:], header=len(rows) == 1), flush=True)


def _table(rows: list[dict[str, object]], header: bool) -> str:
    columns = list(rows[0])

    def fmt(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(value)

    lines = []
    if header:
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
