"""The jobs `dmn-monitor serve` runs on a schedule, and how a run happens once.

Jobs: ``ingest`` (poll the configured sources, setting files aside), ``evaluate``
(the performance snapshots ``/metrics`` serves), ``check`` (every detection rule
as of now, then the discordant cases sampled for review), ``notify`` (due
notifications), ``report`` (on the 1st of each month, the previous month's
quality-control report; a month whose review is signed and locked is done already)
and ``purge`` (daily: the kept report texts past ``ingest.report_text_retention_days``).

APScheduler keeps the jobs in the database (``apscheduler_jobs``), coalesces runs
missed while the service was down into one and drops those later than
``service.misfire_grace_seconds``. Interval jobs fire on epoch-aligned times, so
every ``serve`` process on the same database sees the same schedule; each run
first inserts its ``(job, scheduled time)`` into ``job_runs``, whose unique
constraint lets exactly one process run it - a database lock, not a hope. A run
records its status, duration and error (class and message) there; logs name the
job and the error class only.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError

from monitor.config import Config
from monitor.models import JobRun
from monitor.storage import Database
from monitor.timeutil import utc_now

__all__ = [
    "EPOCH",
    "JOBS",
    "Runtime",
    "build_scheduler",
    "claim_run",
    "install_runtime",
    "job_slot",
    "run_job",
]

log = logging.getLogger(__name__)

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
"""Interval jobs fire at whole multiples of their period from this instant."""
_DAY_SECONDS = 86_400
"""The purge's period: daily, at midnight UTC."""


@dataclass
class Runtime:
    """What the jobs of this process work with; ``stop`` is set on shutdown."""

    config: Config
    db: Database
    pseudonym_key: bytes | None
    stop: threading.Event = field(default_factory=threading.Event)
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.time.timezone)


_RUNTIME: Runtime | None = None


def install_runtime(runtime: Runtime | None) -> None:
    """Make ``runtime`` the one this process's jobs use (None: none)."""
    global _RUNTIME
    _RUNTIME = runtime


# --- the jobs -----------------------------------------------------------------------------


def _ingest(rt: Runtime, now: datetime) -> dict[str, Any]:
    from monitor.watch import poll_sources

    report = poll_sources(
        rt.db, rt.config, rt.pseudonym_key, stop=rt.stop, move=rt.config.service.move_processed
    )
    return {
        "ingested": report.ingested,
        "already": report.already,
        "failed": report.failed,
        "stopped": report.stopped,
        "errors": report.errors[:20],
    }


def _evaluate(rt: Runtime, now: datetime) -> dict[str, Any]:
    from monitor.snapshots import compute_snapshots

    with rt.db.session.begin() as session:
        summary = compute_snapshots(session, rt.config, now)
    return {"summary": str(summary)}


def _check(rt: Runtime, now: datetime) -> dict[str, Any]:
    from monitor.cells import CellSettings, ensure_summaries
    from monitor.detection import run_checks
    from monitor.review import sample_discordant

    settings = CellSettings(rt.config.time.timezone, rt.config.subgroups.age_bands)
    with rt.db.session.begin() as session:
        ensure_summaries(session, settings)
    with rt.db.session.begin() as session:
        found = run_checks(session, rt.config, [now])
    with rt.db.session.begin() as session:
        queued = sample_discordant(session, rt.config.review.discordant_sample_rate)
    return {"findings": len(found), "queued_for_review": queued}


def _notify(rt: Runtime, now: datetime) -> dict[str, Any]:
    from monitor.notify import notify

    if not rt.config.notifications.channels:
        return {"channels": 0}
    report = notify(rt.db, rt.config, environ=os.environ, now=now)
    return {"sent": report.sent, "failed": report.failed, "pending": report.pending}


def _report(rt: Runtime, now: datetime) -> dict[str, Any]:
    from monitor.report_job import MonthLockedError, due_month, report_dir, write_monthly_report

    month = due_month(now, rt.tz)
    try:
        written = write_monthly_report(
            rt.db,
            rt.config,
            month,
            out_dir=report_dir(rt.config),
            langs=rt.config.report.languages,
            formats=rt.config.report.formats,
            user="dmn-monitor-scheduler",
            now=now,
        )
    except MonthLockedError:
        log.info(
            "job report: the review of %s is signed and locked, its report is kept",
            f"{month:%Y-%m}",
        )
        return {"month": f"{month:%Y-%m}", "locked": True, "files": []}
    return {"month": f"{written.month:%Y-%m}", "files": [p.name for p in written.files]}


def _purge(rt: Runtime, now: datetime) -> dict[str, Any]:
    from monitor.kept_texts import purge_report_texts

    with rt.db.session.begin() as session:
        purged = purge_report_texts(session, rt.config.ingest.report_text_retention_days, now=now)
    return {"report_texts_purged": purged}


JOBS: dict[str, Callable[[Runtime, datetime], dict[str, Any]]] = {
    "ingest": _ingest,
    "evaluate": _evaluate,
    "check": _check,
    "notify": _notify,
    "report": _report,
    "purge": _purge,
}
"""Every scheduled job by name."""


def _period(name: str, config: Config) -> int | None:
    service = config.service
    return {
        "ingest": service.ingest_seconds,
        "evaluate": service.evaluate_seconds,
        "check": service.check_seconds,
        "notify": service.notify_seconds,
        "purge": _DAY_SECONDS,
    }.get(name)


def triggers(config: Config) -> dict[str, BaseTrigger]:
    """Each job's trigger: intervals aligned on :data:`EPOCH`, the report monthly."""
    tz = ZoneInfo(config.time.timezone)
    result: dict[str, BaseTrigger] = {}
    for name in JOBS:
        seconds = _period(name, config)
        if seconds is not None:
            result[name] = IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC)
    result["report"] = CronTrigger(day=1, hour=config.service.report_hour, timezone=tz)
    return result


def job_slot(name: str, now: datetime, config: Config) -> datetime:
    """The scheduled time a run at ``now`` stands for: the last aligned interval tick,
    or 1st of the month at ``service.report_hour`` for the report (UTC)."""
    seconds = _period(name, config)
    if seconds is not None:
        elapsed = (now - EPOCH).total_seconds()
        return EPOCH + timedelta(seconds=int(elapsed // seconds) * seconds)
    tz = ZoneInfo(config.time.timezone)
    local = now.astimezone(tz)
    first = local.replace(day=1, hour=config.service.report_hour, minute=0, second=0)
    return first.replace(microsecond=0).astimezone(UTC)


def claim_run(db: Database, job: str, slot: datetime, owner: str) -> int | None:
    """Insert the run of ``job`` for ``slot``; its id, or None when another process
    (or an earlier run of this one) has it already."""
    try:
        with db.session.begin() as session:
            run = JobRun(
                job=job, scheduled_for=slot, owner=owner, status="running", started_at=utc_now()
            )
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        return None


def _finish(
    db: Database,
    run_id: int,
    status: str,
    duration: float,
    details: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with db.session.begin() as session:
        run = session.get_one(JobRun, run_id)
        run.status = status
        run.finished_at = utc_now()
        run.duration_seconds = duration
        run.details = details
        run.error = error


def run_job(name: str, *, now: datetime | None = None, manual: datetime | None = None) -> str:
    """Run ``name`` once for its current slot with this process's runtime; returns
    ``success``, ``failure`` or ``skipped`` (another process has the slot). A
    ``manual`` run (``jobs run``) is recorded at that time and takes no slot."""
    rt = _RUNTIME
    if rt is None:
        raise RuntimeError("no runtime installed: the jobs run inside `dmn-monitor serve`")
    now = now or utc_now()
    slot = manual.astimezone(UTC) if manual is not None else job_slot(name, now, rt.config)
    run_id = claim_run(rt.db, name, slot, rt.owner)
    if run_id is None:
        log.info("job %s: this slot is run by another process", name)
        return "skipped"
    started = time.monotonic()
    try:
        details = JOBS[name](rt, now)
    except Exception as exc:
        log.error("job %s failed: %s", name, type(exc).__name__)
        _finish(
            rt.db,
            run_id,
            "failure",
            time.monotonic() - started,
            error=f"{type(exc).__name__}: {exc}",
        )
        return "failure"
    _finish(rt.db, run_id, "success", time.monotonic() - started, details)
    log.info("job %s done in %.1f s", name, time.monotonic() - started)
    return "success"


def build_scheduler(rt: Runtime) -> BackgroundScheduler:
    """A scheduler with every job in the database job store (not started)."""
    config = rt.config
    scheduler = BackgroundScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(engine=rt.db.engine, tablename="apscheduler_jobs")
        },
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": config.service.misfire_grace_seconds,
        },
        timezone=rt.tz,
    )
    for name, trigger in triggers(config).items():
        scheduler.add_job(
            "monitor.scheduler:run_job",
            trigger=trigger,
            args=[name],
            id=name,
            name=name,
            replace_existing=True,
        )
    return scheduler
