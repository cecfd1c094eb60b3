"""Running every detection rule as of one date or each date of a period (replay).

For each device the history is read once (:mod:`monitor.history`); each as-of
date then sees only what was known at that time: predictions with an exam by
then, outcomes arrived by then. Rules that judge a window once (a calendar month
against the claim, a new version against its predecessor) are judged at their
look time, with the data known then, by the first run whose as-of date reaches it;
storage keeps one open finding per device, version, subgroup, rule and metric.

The false-alarm budget of a device (``detection.false_alarms_per_device_year``)
is shared among the performance rules: charts 80%, below-claim 10%, version
comparison 10% (assuming at most :data:`VERSIONS_PER_YEAR` new versions a year).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from alerts.cases import NS_PER_DAY, CaseView, ScopeParts, scope_parts
from alerts.chart_family import CALIBRATIONS
from alerts.charts import (
    ChartMemo,
    ChartSettings,
    InControl,
    chart_findings,
    grid_up,
    upper_rate,
)
from alerts.claims import below_claim_findings
from alerts.drift import EncodedCases, drift_findings, encode_cases, encoded_drift_table
from alerts.estimation import estimation_findings, reference_calibrator
from alerts.findings import FindingDraft
from alerts.operational import (
    LEARN_WEEKS,
    backlog_finding,
    cadence_slots,
    outage_finding,
    threshold_mismatch_finding,
)
from alerts.versions import first_seen, version_change_findings, version_comparison
from alerts.versions import version_look_time as _version_look_time
from monitor.config import Config
from monitor.detection_state import (
    checked_ns,
    read_arl_curves,
    read_calibrations,
    record_check,
    save_arl_curves,
    save_calibrations,
)
from monitor.errors import MonitorError
from monitor.findings import chart_restarts, store_findings
from monitor.history import DeviceHistory, to_ns
from monitor.holidays import holidays_between
from monitor.kept_history import kept_history, release_freed_memory
from monitor.models import Finding
from monitor.registry import DeviceSpec, list_devices
from monitor.timeutil import end_of_day

__all__ = [
    "BUDGET_SHARES",
    "VERSIONS_PER_YEAR",
    "DeviceChecker",
    "check_dates",
    "in_control_rates",
    "reference_window",
    "run_checks",
]

BUDGET_SHARES = {"charts": 0.8, "below_claim": 0.1, "version_comparison": 0.1}
VERSIONS_PER_YEAR = 4


def check_dates(start: date, end: date, step_days: int, tz: ZoneInfo) -> list[datetime]:
    """End of each ``step_days``-th day from ``start`` to ``end`` (both included if on step)."""
    if step_days < 1:
        raise MonitorError("--step must be at least 1d")
    if end < start:
        raise MonitorError(f"--to {end} is before --from {start}")
    days = (end - start).days
    return [end_of_day(start + timedelta(days=d), tz) for d in range(0, days + 1, step_days)]


def _local_days(first: date, last: date, tz: ZoneInfo) -> tuple[int, int]:
    """From midnight of ``first`` to midnight after ``last``, local time, in UTC ns."""
    return (
        to_ns(datetime.combine(first, datetime.min.time(), tzinfo=tz)),
        to_ns(datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)),
    )


def in_control_rates(
    history: DeviceHistory,
    config: Config,
    as_of_ns: int,
    tz: ZoneInfo,
    view: CaseView | None = None,
) -> InControl | None:
    """The level the charts watch for change from.

    A pinned baseline period if the device has one; else, per metric, the device's
    own level (:func:`_local_rates`: the cases verified ``baseline_lag_days`` ago, at
    least its first ``detection.local_baseline_cases``), by the earliest truth of
    each case (what the charts observe), as the 90 % upper bound of its error rate;
    before that, the claim, or the level seen so far when it is worse (routine
    reports disagreeing with the manufacturer's reference must not read as a change).
    None for a device without a claim or a pinned baseline (under evaluation:
    nothing to chart against). ``view``: ``history.as_of(as_of_ns)`` if the caller
    has it (not computed again).
    """
    device = history.device
    pinned = config.detection.baselines.get(device.id)
    if pinned is None:
        claim = device.claimed_performance
        if claim is None:
            return None
        local = _local_rates(history, config, as_of_ns, tz, view)
        claimed = {"sensitivity": 1.0 - claim.sensitivity, "specificity": 1.0 - claim.specificity}
        rates: dict[str, float] = {}
        sources: dict[str, str] = {}
        baselines: dict[str, np.ndarray] = {}
        for metric in ("sensitivity", "specificity"):
            rate, label, established, cases = local.get(metric, (None, "", False, None))
            if rate is not None and established and cases is not None:
                rates[metric], sources[metric] = rate, label
                baselines[metric] = cases
            elif rate is not None and rate > claimed[metric]:
                rates[metric], sources[metric] = rate, f"{label} (so far)"
            else:
                rates[metric], sources[metric] = claimed[metric], "claim"
        # A claim of 100 % cannot be charted: floor the rate at 0.5 %. Rates are rounded
        # up on a grid (100 steps a decade) so that limits are computed once per step.
        rates = {m: grid_up(max(r, 0.005)) for m, r in rates.items()}
        kinds = {label.split(" ")[0] for label in sources.values()}
        source = kinds.pop() if len(kinds) == 1 else "claim/local"
        return InControl(rates["sensitivity"], rates["specificity"], source, sources, baselines)
    first, last = pinned
    start, end = _local_days(first, last, tz)
    view = view if view is not None else history.as_of(as_of_ns)
    exam = view.cases["exam_ns"].to_numpy()
    inside = view.verified & (exam >= start) & (exam < end)
    call = view.cases["ai_call"].to_numpy()
    positives, negatives = inside & (view.truth == 1), inside & (view.truth == 0)
    if positives.sum() < 30 or negatives.sum() < 30:
        raise MonitorError(
            f"the baseline {first}..{last} of device {device.id!r} has "
            f"{int(positives.sum())} verified positives and {int(negatives.sum())} negatives "
            "as of this check; it needs at least 30 of each (widen detection.baselines)"
        )
    miss = float((positives & (call == 0)).sum() / positives.sum())
    false_positive = float((negatives & (call == 1)).sum() / negatives.sum())
    # A rate of 0 cannot be charted: floor it at half a case.
    miss = max(miss, 0.5 / float(positives.sum()))
    false_positive = max(false_positive, 0.5 / float(negatives.sum()))
    return InControl(miss, false_positive, f"baseline {first}..{last}")


LOCAL_MIN_CASES = 30
"""Cases a metric needs before the level seen so far can replace a better claim."""


def _local_rates(
    history: DeviceHistory,
    config: Config,
    as_of_ns: int,
    tz: ZoneInfo,
    view: CaseView | None = None,
) -> dict[str, tuple[float, str, bool, np.ndarray]]:
    """Per metric with at least :data:`LOCAL_MIN_CASES` verified cases: the upper bound
    of the error rate, by earliest truth, of the cases whose first outcome arrived
    ``baseline_lag_days`` before ``as_of_ns`` (at least the first
    ``local_baseline_cases``; all so far while there are fewer), a label naming
    them, whether the level is established, and the cases it was measured on."""
    wanted = config.detection.local_baseline_cases
    cut = as_of_ns - config.detection.baseline_lag_days * NS_PER_DAY
    view = view if view is not None else history.as_of(as_of_ns)
    changes = view.truth_changes()
    call = view.cases["ai_call"].to_numpy()
    opening = (changes.previous < 0) & (call[changes.case] >= 0)
    exam = view.cases["exam_ns"].to_numpy()
    found = {}
    for metric, truth, event_call in (("sensitivity", 1, 0), ("specificity", 0, 1)):
        mine = opening & (changes.truth == truth)
        before = int(np.count_nonzero(mine & (changes.ns <= cut)))
        first = changes.case[mine][: max(wanted, before)]
        if first.size < LOCAL_MIN_CASES:
            continue
        events = int(np.count_nonzero(call[first] == event_call))
        days = [
            pd.Timestamp(int(t), tz="UTC").tz_convert(tz).date()
            for t in (exam[first].min(), exam[first].max())
        ]
        found[metric] = (
            upper_rate(events, int(first.size)),
            f"local {days[0]}..{days[1]}",
            first.size >= wanted,
            first,
        )
    return found


def reference_window(history: DeviceHistory, config: Config, tz: ZoneInfo) -> tuple[int, int]:
    """The device's reference period (UTC ns, start in, end out) for drift and estimation.

    A pinned ``detection.references`` window, else the first ``reference_days`` local
    days from the day the device entered service, or from the day of its first
    prediction if that is later (midnight to midnight).
    """
    pinned = config.detection.references.get(history.device.id)
    if pinned is not None:
        return _local_days(*pinned, tz)
    first_days = []
    if history.device.date_in_service is not None:
        first_days.append(history.device.date_in_service)
    if len(history.cases):
        first_exam = pd.Timestamp(int(history.cases["exam_ns"].iloc[0]), tz="UTC")
        first_days.append(first_exam.tz_convert(tz).date())
    if not first_days:
        return 0, config.detection.reference_days * NS_PER_DAY
    first = max(first_days)
    return _local_days(first, first + timedelta(days=config.detection.reference_days - 1), tz)


@dataclass
class DeviceChecker:
    """Every rule for one device, over a history read once."""

    history: DeviceHistory
    config: Config
    tz: ZoneInfo
    restarts: dict[str, int]
    holidays: set[date]
    last_ns: int | None = None
    chart_memo: ChartMemo | None = field(default_factory=ChartMemo)
    """The charts' members, baseline counts and paths, extended from one date to the
    next (None for a single date: nothing kept past the charts)."""

    @property
    def device(self) -> DeviceSpec:
        return self.history.device

    _slots: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=np.int64), init=False, repr=False
    )
    """Cadence slots of the history's last exams (as many as asked for so far)."""

    def _exam_slots(self, start: int) -> np.ndarray:
        """Cadence slots of the history's exams from index ``start`` on (computed once
        per exam, backwards as far as asked: a daily check converts weeks, not years)."""
        exams = self.history.cases["exam_ns"].to_numpy()
        computed_from = exams.size - self._slots.size
        if start < computed_from:
            earlier = cadence_slots(exams[start:computed_from], self.tz, self.holidays)
            self._slots = np.concatenate([earlier, self._slots])
            computed_from = start
        return self._slots[start - computed_from :]

    def _outage(self, view: CaseView, as_of_ns: int) -> FindingDraft | None:
        """The outage rule on the exams its cadence is learned from (the last
        :data:`LEARN_WEEKS` weeks and a day before the last exam, and one exam before
        them, which tells it the history is longer)."""
        exams = view.cases["exam_ns"].to_numpy()
        n = exams.size
        if n == 0:
            return None
        reach = (LEARN_WEEKS * 7 + 1) * NS_PER_DAY
        start = max(0, int(np.searchsorted(exams, int(exams[-1]) - reach, side="left")) - 1)
        return outage_finding(
            exams[start:],
            self._exam_slots(start)[: n - start],
            as_of_ns,
            self.device.id,
            self.tz,
            self.holidays,
            self.config.detection.outage_expected_exams,
        )

    @property
    def _dimensions(self) -> tuple[str, ...]:
        return self.config.subgroups.dimensions

    def _month_windows(self, view: CaseView) -> list[tuple[int, int, int]]:
        """(start, end, look) in UTC ns of each calendar month with exams."""
        if len(view) == 0:
            return []
        lag = self.config.detection.below_claim_lag_days
        first = pd.Timestamp(int(view.cases["exam_ns"].iloc[0]), tz="UTC").tz_convert(self.tz)
        month = date(first.year, first.month, 1)
        windows = []
        while True:
            following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            start = to_ns(datetime.combine(month, datetime.min.time(), tzinfo=self.tz))
            end = to_ns(datetime.combine(following, datetime.min.time(), tzinfo=self.tz))
            look = end + lag * NS_PER_DAY
            if look > view.as_of_ns:
                break
            windows.append((start, end, look))
            month = following
        return windows

    def _due(self, look_ns: int, as_of_ns: int) -> bool:
        """A judgement at ``look_ns`` belongs to this run (not to an earlier one of it)."""
        return look_ns <= as_of_ns and (self.last_ns is None or look_ns > self.last_ns)

    def _claims(self) -> dict[str, float]:
        """The claimed rates; none for a device without a claim (no comparison)."""
        return self.device.claims()

    def _budget(self, share: str) -> float:
        return self.config.detection.false_alarms_per_device_year * BUDGET_SHARES[share]

    def drafts(self, as_of_ns: int) -> list[FindingDraft]:
        """What every rule finds as of ``as_of_ns``."""
        detection = self.config.detection
        device_id = self.device.id
        view = self.history.as_of(as_of_ns)
        if len(view) == 0:
            self.last_ns = as_of_ns
            return []
        scopes = self._scope_parts.scopes(len(view))
        in_control = in_control_rates(self.history, self.config, as_of_ns, self.tz, view)
        settings = ChartSettings(
            chart=detection.chart,
            false_alarms_per_year=self._budget("charts"),
            ratio=detection.out_of_control_ratio,
            ewma_lambda=detection.ewma_lambda,
            design_drop=detection.design_drop,
        )
        found = (
            chart_findings(
                view,
                device_id,
                self._dimensions,
                in_control,
                settings,
                self.restarts,
                scopes,
                self.chart_memo,
            )
            if in_control is not None
            else []
        )
        for start, end, look in self._month_windows(view):
            if not self._due(look, as_of_ns):
                continue
            then = self.history.as_of(look)
            found += below_claim_findings(
                then,
                device_id,
                self._scope_parts.scopes(len(then)),
                self._claims(),
                (start, end),
                false_alarms_per_year=self._budget("below_claim"),
                min_cases=self.config.evaluation.min_cases,
                confidence=self.config.evaluation.confidence,
                method=self.config.evaluation.interval_method,
            )
        found += version_change_findings(view, device_id, self.device.versions)
        seen = first_seen(view)
        for (previous, _), (version, start) in pairwise(seen):
            looked = _version_look_time(view, version, detection.version_min_cases)
            if looked is None or not self._due(looked, as_of_ns):
                continue
            found += version_comparison(
                self.history.as_of(looked),
                device_id,
                version,
                previous,
                start,
                alpha=self._budget("version_comparison") / (2 * VERSIONS_PER_YEAR),
                confidence=self.config.evaluation.confidence,
            )
        outage = self._outage(view, as_of_ns)
        backlog = backlog_finding(view, device_id, detection.backlog_days, detection.backlog_share)
        mismatch = threshold_mismatch_finding(view, device_id, detection.threshold_mismatch_share)
        found += [f for f in (outage, backlog, mismatch) if f is not None]
        if self.chart_memo is None:  # one date: the charts' temporaries, before drift
            release_freed_memory()
        found += self._label_free(view)
        self.last_ns = as_of_ns
        return found

    @cached_property
    def _scope_parts(self) -> ScopeParts:
        return scope_parts(self.history.cases, self._dimensions, self.history.text_codes)

    @cached_property
    def _encoded(self) -> EncodedCases:
        return encode_cases(self.history.cases, self.history.text_codes)

    @cached_property
    def _reference(self) -> tuple[int, int]:
        return reference_window(self.history, self.config, self.tz)

    def _label_free(self, view: CaseView) -> list[FindingDraft]:
        """Drift of inputs and outputs, and the CBPE estimate, against the reference."""
        detection = self.config.detection
        ref_start, ref_end = self._reference
        window = (view.as_of_ns - detection.drift_window_days * NS_PER_DAY, view.as_of_ns)
        if window[0] < ref_end:
            return []
        exam = view.cases["exam_ns"].to_numpy()
        in_reference = (exam >= ref_start) & (exam < ref_end)
        recent = exam > window[0]
        if in_reference.sum() < detection.drift_min_exams:
            return []
        found: list[FindingDraft] = []
        if recent.sum() >= detection.drift_min_exams:
            table = encoded_drift_table(
                self._encoded, in_reference, recent, detection.drift_min_exams
            )
            found += drift_findings(table, self.device.id, window, self._reference)
        reference_known = in_reference & view.verified
        calibrator = reference_calibrator(
            view.cases["ai_score"].to_numpy()[reference_known], view.truth[reference_known]
        )
        estimated = (exam > view.as_of_ns - detection.estimation_days * NS_PER_DAY) & (
            view.cases["ai_call"].to_numpy() >= 0
        )
        if calibrator is not None and estimated.any():
            found += estimation_findings(
                calibrator,
                view.cases["ai_score"].to_numpy()[estimated],
                view.cases["ai_call"].to_numpy()[estimated],
                self._claims(),
                self.device.id,
                (view.as_of_ns - detection.estimation_days * NS_PER_DAY, view.as_of_ns),
                verified_share=float(view.verified[estimated].mean()),
                confidence=self.config.evaluation.confidence,
                min_cases=self.config.evaluation.min_cases,
            )
        return found


def _checkers(
    session: Session, config: Config, until: datetime, device_id: str | None
) -> list[DeviceChecker]:
    return list(_each_checker(session, config, until, device_id, until))


def _each_checker(
    session: Session,
    config: Config,
    until: datetime,
    device_id: str | None,
    run_start: datetime,
) -> Iterator[DeviceChecker]:
    """A checker per device, its history read when it is reached; ``run_start``: the
    run's first as-of date (what an earlier check judged is not judged again after it)."""
    tz = ZoneInfo(config.time.timezone)
    devices = list_devices(session)
    if device_id is not None:
        devices = [d for d in devices if d.id == device_id]
        if not devices:
            raise MonitorError(f"unknown device {device_id!r}: `dmn-monitor devices list`")
    for device in devices:
        history, _ = kept_history(session, device, until, config.subgroups.age_bands)
        if len(history.cases):
            first = pd.Timestamp(int(history.cases["exam_ns"].iloc[0]), tz="UTC")
            holidays = holidays_between(
                first.date() - timedelta(days=62), until.date(), config.detection.public_holidays
            )
        else:
            holidays = set()
        checker = DeviceChecker(history, config, tz, chart_restarts(session, device.id), holidays)
        # Months and versions judged by an earlier check are not judged again, unless
        # this run goes back before it (a replay of the past judges them as it goes).
        last = checked_ns(session, device.id)
        checker.last_ns = last if last is not None and last < to_ns(run_start) else None
        yield checker


def _forgetful(checker: DeviceChecker) -> DeviceChecker:
    """A checker for one date: its charts keep nothing for a next one."""
    checker.chart_memo = None
    return checker


def run_checks(
    session: Session,
    config: Config,
    dates: Sequence[datetime],
    *,
    device_id: str | None = None,
    progress: Callable[[datetime, int], None] | None = None,
) -> list[Finding]:
    """Run every rule as of each date (ascending), storing findings once; returns them.

    The returned findings are those raised or seen again by this run, each once,
    in the order they were first raised. ``progress(as_of, n)`` is called after
    each date with the number of findings of that date.
    """
    if not dates:
        return []
    ordered = sorted(dates)
    tz = ZoneInfo(config.time.timezone)
    read_calibrations(session, CALIBRATIONS)
    read_arl_curves(session)
    each = _each_checker(session, config, ordered[-1], device_id, ordered[0])
    # One date (the daily check): a device's history is let go before the next is read.
    checkers: Iterable[DeviceChecker] = (
        (_forgetful(checker) for checker in each) if len(ordered) == 1 else list(each)
    )
    checked: list[str] = []
    raised: dict[int, Finding] = {}
    for as_of in ordered:
        as_of_ns = to_ns(as_of)
        drafts = []
        for checker in checkers:
            drafts += checker.drafts(as_of_ns)
            checked.append(checker.device.id)
        stored = store_findings(session, drafts, as_of, tz)
        for finding in stored:
            raised.setdefault(finding.id, finding)
        if progress is not None:
            progress(as_of, len(stored))
    for device in dict.fromkeys(checked):
        record_check(session, device, to_ns(ordered[-1]))
    save_calibrations(session, CALIBRATIONS)
    save_arl_curves(session)
    return list(raised.values())
