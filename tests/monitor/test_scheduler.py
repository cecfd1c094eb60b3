"""Scheduled jobs: aligned schedules, one run per job and scheduled time whatever the
number of processes, each run recorded with its status, duration and error; the
jobs kept in the database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from monitor import scheduler
from monitor.config import Config, load_config
from monitor.models import JobRun
from monitor.scheduler import (
    EPOCH,
    Runtime,
    build_scheduler,
    claim_run,
    install_runtime,
    job_slot,
    run_job,
    triggers,
)
from monitor.storage import Database


def _config(tmp_path: Path, url: str, extra: str = "") -> Config:
    path = tmp_path / "dmn-monitor.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[service]\nnotify_seconds = 5\ningest_seconds = 60\n{extra}',
        encoding="utf-8",
    )
    return load_config(path)


def test_interval_jobs_fire_on_aligned_times(tmp_path: Path) -> None:
    config = _config(tmp_path, "sqlite:///x.db")
    now = datetime(2026, 12, 3, 10, 17, 42, tzinfo=UTC)
    assert job_slot("ingest", now, config) == datetime(2026, 12, 3, 10, 17, tzinfo=UTC)
    assert job_slot("notify", now, config) == datetime(2026, 12, 3, 10, 17, 40, tzinfo=UTC)
    assert job_slot("check", now, config) == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    # The monthly report: the 1st at 06:00 Paris time (05:00 UTC in winter).
    assert job_slot("report", now, config) == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    fire = triggers(config)["ingest"].get_next_fire_time(None, now)
    assert fire == datetime(2026, 12, 3, 10, 18, tzinfo=UTC)
    assert (fire - EPOCH).total_seconds() % 60 == 0
    report = triggers(config)["report"].get_next_fire_time(None, now)
    assert report.astimezone(UTC) == datetime(2027, 1, 1, 5, 0, tzinfo=UTC)


def test_a_slot_is_claimed_once(database: Database) -> None:
    slot = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    first = claim_run(database, "check", slot, "host-a:1")
    assert first is not None
    assert claim_run(database, "check", slot, "host-b:2") is None
    assert claim_run(database, "check", slot + timedelta(hours=1), "host-b:2") is not None
    assert claim_run(database, "ingest", slot, "host-b:2") is not None


def test_concurrent_claims_let_exactly_one_through(database: Database) -> None:
    slot = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    results: list[int | None] = []
    barrier = threading.Barrier(6)

    def claim(i: int) -> None:
        barrier.wait()
        results.append(claim_run(database, "evaluate", slot, f"p{i}"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 1


@pytest.fixture
def runtime(tmp_path: Path, db_url: str) -> Any:
    from monitor.storage import open_database

    db = open_database(db_url)
    rt = Runtime(_config(tmp_path, db_url), db, None)
    install_runtime(rt)
    yield rt
    install_runtime(None)
    db.dispose()


def test_a_run_records_success_failure_and_skips_a_taken_slot(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[datetime] = []

    def works(rt: Runtime, now: datetime) -> dict[str, Any]:
        calls.append(now)
        return {"done": 1}

    def fails(rt: Runtime, now: datetime) -> dict[str, Any]:
        raise ValueError("the source folder is missing")

    monkeypatch.setitem(scheduler.JOBS, "notify", works)
    monkeypatch.setitem(scheduler.JOBS, "ingest", fails)
    now = datetime(2026, 12, 3, 10, 0, 2, tzinfo=UTC)
    assert run_job("notify", now=now) == "success"
    assert run_job("notify", now=now + timedelta(seconds=1)) == "skipped"  # same 5 s slot
    assert run_job("notify", now=now + timedelta(seconds=5)) == "success"
    assert run_job("ingest", now=now) == "failure"
    assert len(calls) == 2
    with runtime.db.session() as session:
        runs = {(r.job, r.status): r for r in session.scalars(select(JobRun))}
    assert runs[("notify", "success")].details == {"done": 1}
    assert runs[("notify", "success")].duration_seconds is not None
    failed = runs[("ingest", "failure")]
    assert failed.error == "ValueError: the source folder is missing"
    assert failed.finished_at is not None


def test_a_manual_run_takes_no_scheduled_slot(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(scheduler.JOBS, "check", lambda rt, now: {})
    now = datetime(2026, 12, 3, 10, 30, tzinfo=UTC)
    assert run_job("check", now=now, manual=now) == "success"
    assert run_job("check", now=now) == "success"


def test_the_jobs_are_kept_in_the_database(runtime: Runtime) -> None:
    jobs = build_scheduler(runtime)
    jobs.start(paused=True)
    try:
        with runtime.db.session() as session:
            stored = session.execute(text("SELECT id, next_run_time FROM apscheduler_jobs"))
            rows = dict(stored.all())
    finally:
        jobs.shutdown(wait=False)
    assert set(rows) == {"ingest", "evaluate", "check", "notify", "report", "purge"}
    assert all(value is not None for value in rows.values())
    # A second process registering the same jobs replaces them: still six.
    again = build_scheduler(runtime)
    again.start(paused=True)
    again.shutdown(wait=False)
    with runtime.db.session() as session:
        count = session.scalar(text("SELECT count(*) FROM apscheduler_jobs"))
    assert count == 6


@pytest.mark.parametrize(("late", "runs"), [(timedelta(minutes=5), 1), (timedelta(hours=2), 0)])
def test_runs_missed_while_down_are_coalesced_or_dropped_when_too_late(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, late: timedelta, runs: int
) -> None:
    """The monthly report was due five minutes ago while the service was down: it runs
    once when the service is back; due two hours ago, beyond
    service.misfire_grace_seconds (1 h): it waits for next month."""
    done = threading.Event()
    calls: list[datetime] = []

    def report(rt: Runtime, now: datetime) -> dict[str, Any]:
        calls.append(now)
        done.set()
        return {}

    monkeypatch.setitem(scheduler.JOBS, "report", report)
    jobs = build_scheduler(runtime)
    jobs.start(paused=True)
    try:
        jobs.modify_job("report", next_run_time=datetime.now(UTC) - late)
        jobs.resume()
        done.wait(timeout=5 if runs else 2)
    finally:
        jobs.shutdown(wait=True)
    assert len(calls) == runs
    with runtime.db.session() as session:
        recorded = session.scalar(
            select(func.count()).select_from(JobRun).where(JobRun.job == "report")
        )
    assert recorded == runs
