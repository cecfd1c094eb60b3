"""The Prometheus exporter of ``/metrics``: stored snapshots and live counts, read per scrape.

:class:`MonitorCollector` reads the database when Prometheus scrapes, in one
session and a handful of aggregate queries: the performance and gauge snapshots
the ``evaluate`` job stored (:mod:`monitor.snapshots`), the devices' claims, open
findings by severity, the last prediction per device, ingestion totals and the
scheduled jobs' runs. Every series is a bounded aggregate labelled by device,
version, subgroup, metric, job or ingestion kind: never a patient or exam
identifier. A database error never fails the scrape: the collector then exports
``dmn_monitor_scrape_error 1`` alone (and logs the error's class, no data).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from alerts.findings import SEVERITIES
from alerts.workflow import ACTIVE_STATUSES
from monitor.models import (
    Device,
    Finding,
    GaugeSnapshot,
    IngestionRun,
    JobRun,
    MetricSnapshot,
    Prediction,
)
from monitor.snapshots import CLAIM_METRICS, GAUGE_FAMILIES, RATE_METRICS
from monitor.storage import Database

__all__ = ["INGEST_KINDS", "JOBS", "MonitorCollector", "build_version", "metrics_text"]

log = logging.getLogger(__name__)

JOBS = ("ingest", "check", "evaluate", "notify", "report")
"""The scheduled jobs, exported even before their first run."""
JOB_STATUSES = ("success", "failure")
RUNNING = "running"
INGEST_KINDS = ("predictions", "outcomes")
INGEST_OUTCOMES = {
    "accepted": IngestionRun.rows_accepted,
    "duplicate": IngestionRun.rows_duplicate,
    "quarantined": IngestionRun.rows_quarantined,
}
LABEL_DELAY = "dmn_monitor_label_delay_seconds"
"""Served as a summary of its quantiles (a gauge may not carry a ``quantile`` label)."""
SLICE_LABELS = ("device", "version", "dimension", "value", "window")

_RATE_NAMES = {
    "sensitivity": "sensitivity (verified positives the device called positive)",
    "specificity": "specificity (verified negatives the device called negative)",
    "ppv": "positive predictive value (verified positive calls that were right)",
    "npv": "negative predictive value (verified negative calls that were right)",
}

_GAUGE_HELP = {
    "dmn_monitor_cusum_statistic": (
        "Control chart statistic (CUSUM, or EWMA when configured) at its last observation, "
        "as check runs it (unitless)"
    ),
    "dmn_monitor_cusum_decision_limit": (
        "Control chart decision limit, from the device's false-alarm budget (unitless)"
    ),
    "dmn_monitor_cusum_signal": (
        "1 when the control chart statistic is at or above its decision limit, else 0"
    ),
    "dmn_monitor_drift_score": (
        "Drift score of a column over the drift window against the reference period "
        "(Wasserstein distance in reference standard deviations, or Jensen-Shannon distance)"
    ),
    "dmn_monitor_drift_threshold": "Drift score above which the column is said to drift",
    "dmn_monitor_estimated_sensitivity_ratio": (
        "Sensitivity of the current month estimated from scores (CBPE), ratio 0..1"
    ),
    "dmn_monitor_estimated_specificity_ratio": (
        "Specificity of the current month estimated from scores (CBPE), ratio 0..1"
    ),
    "dmn_monitor_label_delay_seconds": (
        "Quantile of the delay from exam to ground truth, outcomes of the last 90 days, in seconds"
    ),
}


def build_version() -> str:
    """The installed dmn-monitor version (``unknown`` when not installed)."""
    try:
        return metadata.version("dmn-monitor")
    except metadata.PackageNotFoundError:
        return "unknown"


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


@dataclass
class _Families:
    """Metric families by name, created on first use, yielded in creation order."""

    items: dict[str, Metric] = field(default_factory=dict)

    def gauge(self, name: str, documentation: str, labels: Sequence[str]) -> GaugeMetricFamily:
        family = self.items.get(name)
        if family is None:
            family = GaugeMetricFamily(name, documentation, labels=labels)
            self.items[name] = family
        assert isinstance(family, GaugeMetricFamily)
        return family

    def summary(self, name: str, documentation: str) -> Metric:
        """A summary of quantile samples only (no ``_count``/``_sum``)."""
        family = self.items.get(name)
        if family is None:
            family = Metric(name, documentation, "summary")
            self.items[name] = family
        return family

    def counter(self, name: str, documentation: str, labels: Sequence[str]) -> CounterMetricFamily:
        family = self.items.get(name)
        if family is None:
            family = CounterMetricFamily(name, documentation, labels=labels)
            self.items[name] = family
        assert isinstance(family, CounterMetricFamily)
        return family


def _statistics(raw: Any) -> dict[str, Any]:
    """The statistics JSON as a dict (some drivers hand back text for JSON columns)."""
    if isinstance(raw, str):
        value = json.loads(raw)
        return value if isinstance(value, dict) else {}
    return raw if isinstance(raw, dict) else {}


def _slices(session: Session, out: _Families) -> datetime | None:
    rate = {
        (metric, suffix): out.gauge(
            f"dmn_monitor_{metric}{suffix}_ratio",
            f"{_RATE_NAMES[metric]}{what}, ratio 0..1, over the trailing window",
            SLICE_LABELS,
        )
        for metric in RATE_METRICS
        for suffix, what in (
            ("", ""),
            ("_lower", ": lower bound of its confidence interval"),
            ("_upper", ": upper bound of its confidence interval"),
        )
    }
    verified = out.gauge(
        "dmn_monitor_verified_cases",
        "Cases with a known ground truth in the window (count)",
        SLICE_LABELS,
    )
    pending = out.gauge(
        "dmn_monitor_pending_cases",
        "Cases still awaiting ground truth in the window (count)",
        SLICE_LABELS,
    )
    below = out.gauge(
        "dmn_monitor_below_claim",
        "1 when the confidence interval lies wholly below the claimed value, else 0",
        (*SLICE_LABELS, "metric"),
    )
    query = select(
        MetricSnapshot.device_id,
        MetricSnapshot.device_version,
        MetricSnapshot.dimension,
        MetricSnapshot.value,
        MetricSnapshot.window,
        MetricSnapshot.n,
        MetricSnapshot.pending,
        MetricSnapshot.statistics,
        MetricSnapshot.computed_at,
    )
    latest: datetime | None = None
    for device, version, dimension, value, window, n, waiting, raw, computed in session.execute(
        query
    ):
        labels = [device, version, dimension, value, window]
        stats = _statistics(raw)
        for metric in RATE_METRICS:
            for suffix, key in (("", ""), ("_lower", "_low"), ("_upper", "_high")):
                number = stats.get(f"{metric}{key}")
                if number is not None:
                    rate[metric, suffix].add_metric(labels, float(number))
        verified.add_metric(labels, float(n))
        pending.add_metric(labels, float(waiting))
        for metric in CLAIM_METRICS:
            if stats.get(f"{metric}_claimed") is not None:
                flag = 1.0 if stats.get(f"{metric}_below_claim") else 0.0
                below.add_metric([*labels, metric], flag)
        latest = computed if latest is None else max(latest, computed)
    return latest


def _gauges(session: Session, out: _Families) -> datetime | None:
    query = select(
        GaugeSnapshot.family,
        GaugeSnapshot.device_id,
        GaugeSnapshot.labels,
        GaugeSnapshot.value,
        GaugeSnapshot.computed_at,
    ).order_by(GaugeSnapshot.family)
    latest: datetime | None = None
    for name, device, raw, value, computed in session.execute(query):
        names = GAUGE_FAMILIES.get(name)
        if names is None:
            continue  # only known families, with known labels, are served
        labels = _statistics(raw)
        if any(n not in labels for n in names):
            continue
        values = [device, *(str(labels[n]) for n in names)]
        if name == LABEL_DELAY:
            out.summary(name, _GAUGE_HELP[name]).add_sample(
                name, dict(zip(("device", *names), values, strict=True)), float(value)
            )
        else:
            out.gauge(name, _GAUGE_HELP[name], ("device", *names)).add_metric(values, float(value))
        latest = computed if latest is None else max(latest, computed)
    return latest


def _devices(session: Session, out: _Families) -> list[str]:
    claimed = {
        metric: out.gauge(
            f"dmn_monitor_claimed_{metric}_ratio",
            f"Claimed {metric} of the device (manufacturer's instructions), ratio 0..1",
            ("device",),
        )
        for metric in CLAIM_METRICS
    }
    ids = []
    query = select(Device.id, Device.claimed_sensitivity, Device.claimed_specificity)
    for device, sensitivity, specificity in session.execute(query.order_by(Device.id)):
        ids.append(device)
        for metric, value in zip(CLAIM_METRICS, (sensitivity, specificity), strict=True):
            if value is not None:
                claimed[metric].add_metric([device], float(value))
    return ids


def _findings(session: Session, out: _Families, devices: Iterable[str]) -> None:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    query = (
        select(Finding.device_id, Finding.severity, func.count())
        .where(Finding.status.in_(list(ACTIVE_STATUSES)))
        .group_by(Finding.device_id, Finding.severity)
    )
    for device, severity, count in session.execute(query):
        counts[device, severity] += int(count)
    family = out.gauge(
        "dmn_monitor_open_findings",
        "Active findings (open, acknowledged, confirmed, action taken) by severity (count)",
        ("device", "severity"),
    )
    everyone = list(dict.fromkeys([*devices, *(d for d, _ in counts)]))
    severities = list(dict.fromkeys([*SEVERITIES, *(s for _, s in counts)]))
    for device in everyone:
        for severity in severities:
            family.add_metric([device, severity], float(counts.get((device, severity), 0)))


def _last_predictions(session: Session, out: _Families) -> None:
    family = out.gauge(
        "dmn_monitor_last_prediction_timestamp_seconds",
        "Exam time of the device's latest stored prediction, Unix time in seconds",
        ("device",),
    )
    query = select(Prediction.device_id, func.max(Prediction.exam_datetime)).group_by(
        Prediction.device_id
    )
    for device, last in session.execute(query):
        stamp = _timestamp(last)
        if stamp is not None:
            family.add_metric([device], stamp)


def _ingestion(session: Session, out: _Families) -> None:
    rows = out.counter(
        "dmn_monitor_ingest_rows",
        "Rows ingested over every ingestion run, by outcome (count)",
        ("kind", "outcome"),
    )
    last = out.gauge(
        "dmn_monitor_last_ingest_timestamp_seconds",
        "End of the latest completed ingestion run, Unix time in seconds",
        ("kind",),
    )
    totals: dict[tuple[str, str], int] = defaultdict(int)
    finished: dict[str, datetime] = {}
    query = select(
        IngestionRun.kind,
        IngestionRun.status,
        *(func.coalesce(func.sum(c), 0) for c in INGEST_OUTCOMES.values()),
        func.max(IngestionRun.finished_at),
    ).group_by(IngestionRun.kind, IngestionRun.status)
    for kind, status, *sums, end in session.execute(query):
        for outcome, total in zip(INGEST_OUTCOMES, sums, strict=True):
            totals[kind, outcome] += int(total)
        if status == "completed" and end is not None:
            finished[kind] = max(finished.get(kind, end), end)
    kinds = list(dict.fromkeys([*INGEST_KINDS, *(k for k, _ in totals)]))
    for kind in kinds:
        for outcome in INGEST_OUTCOMES:
            rows.add_metric([kind, outcome], float(totals.get((kind, outcome), 0)))
        if kind in finished:
            last.add_metric([kind], finished[kind].timestamp())


def _jobs(session: Session, out: _Families) -> None:
    runs = out.counter(
        "dmn_monitor_job_runs",
        "Finished runs of the scheduled job by status (count)",
        ("job", "status"),
    )
    running = out.gauge("dmn_monitor_job_running", "Runs of the job in progress (count)", ("job",))
    success = out.gauge(
        "dmn_monitor_job_last_success_timestamp_seconds",
        "End of the job's latest successful run, Unix time in seconds",
        ("job",),
    )
    duration = out.gauge(
        "dmn_monitor_job_last_duration_seconds",
        "Duration of the job's latest finished run, in seconds",
        ("job",),
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    succeeded: dict[str, datetime] = {}
    query = select(JobRun.job, JobRun.status, func.count(), func.max(JobRun.finished_at)).group_by(
        JobRun.job, JobRun.status
    )
    for job, status, count, end in session.execute(query):
        counts[job, status] += int(count)
        if status == "success" and end is not None:
            succeeded[job] = end
    latest = (
        select(JobRun.job, func.max(JobRun.finished_at).label("end"))
        .where(JobRun.finished_at.is_not(None), JobRun.duration_seconds.is_not(None))
        .group_by(JobRun.job)
        .subquery()
    )
    last_query = select(JobRun.job, func.max(JobRun.duration_seconds)).join(
        latest, and_(JobRun.job == latest.c.job, JobRun.finished_at == latest.c.end)
    )
    durations = {job: seconds for job, seconds in session.execute(last_query.group_by(JobRun.job))}
    jobs = list(dict.fromkeys([*JOBS, *(j for j, _ in counts)]))
    for job in jobs:
        for status in JOB_STATUSES:
            runs.add_metric([job, status], float(counts.get((job, status), 0)))
        running.add_metric([job], float(counts.get((job, RUNNING), 0)))
        if job in succeeded:
            success.add_metric([job], succeeded[job].timestamp())
        last = durations.get(job)
        if last is not None:
            duration.add_metric([job], float(last))


def _scrape_error(value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "dmn_monitor_scrape_error",
        "1 when the database could not be read for this scrape (the other series are then "
        "absent), else 0",
        value=value,
    )


class MonitorCollector(Collector):
    """Reads the database at each scrape (one session); ``describe()`` is empty so that
    registering the collector never queries the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> Iterable[Metric]:
        """Nothing: the families depend on the data (registration must not read it)."""
        return []

    def _read(self) -> list[Metric]:
        out = _Families()
        with self.db.session() as session:
            latest = [_slices(session, out), _gauges(session, out)]
            devices = _devices(session, out)
            _findings(session, out, devices)
            _last_predictions(session, out)
            _ingestion(session, out)
            _jobs(session, out)
        computed = [moment for moment in latest if moment is not None]
        if computed:
            out.gauge(
                "dmn_monitor_snapshot_timestamp_seconds",
                "When the snapshots were last computed (evaluate job), Unix time in seconds",
                (),
            ).add_metric([], max(computed).timestamp())
        return list(out.items.values())

    def collect(self) -> Iterator[Metric]:
        """Every family, or ``dmn_monitor_scrape_error 1`` alone when the database fails."""
        try:
            families = self._read()
        except Exception as exc:  # a scrape must never fail: report it as a gauge
            log.warning("metrics scrape failed: %s", type(exc).__name__)
            yield _scrape_error(1.0)
            return
        yield from families
        yield _scrape_error(0.0)


class _BuildInfo(Collector):
    """``dmn_monitor_build_info{version} 1``."""

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "dmn_monitor_build_info", "dmn-monitor build (always 1)", labels=("version",)
        )
        info.add_metric([build_version()], 1.0)
        return [info]

    def describe(self) -> Iterable[Metric]:
        return []


def metrics_text(db: Database) -> bytes:
    """The ``/metrics`` body (Prometheus text format 0.0.4) of ``db``, with
    ``dmn_monitor_build_info``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(db))
    registry.register(_BuildInfo())
    return generate_latest(registry)
