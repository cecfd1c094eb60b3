"""A month whose review every reviewer has signed is locked: its report is not
rewritten - neither the whole establishment's nor a device's - and the scheduler's
report job takes the locked month as done."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import audit
from monitor.config import Config, load_config
from monitor.models import JobRun, User
from monitor.report_job import MonthLockedError, report_dir, write_monthly_report
from monitor.scheduler import Runtime, install_runtime, run_job
from monitor.signoff import month_lock, sign_month
from monitor.storage import Database, open_database
from monitor.users import create_user
from tests.monitor.replay import Replayed

AUGUST = date(2025, 8, 1)
SIGNED = datetime(2025, 9, 3, 8, 0, tzinfo=UTC)
PEOPLE = {"cmartin": "Claire Martin", "hdurand": "Hélène Durand", "pbernard": "Paul Bernard"}
REVIEWERS = (
    "Dr Claire Martin - radiologue référente / referent radiologist",
    "Hélène Durand - responsable qualité / quality manager",
    "Paul Bernard - correspondant matériovigilance / materiovigilance correspondent",
)
LOCKED = (
    "the review of 2025-08 was signed and locked on 2025-09-03 by "
    "Claire Martin, Hélène Durand, Paul Bernard: its report is not rewritten"
)


def _config(folder: Path, url: str) -> Config:
    lines = ", ".join(json.dumps(r, ensure_ascii=False) for r in REVIEWERS)
    path = folder / "dmn-monitor.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[time]\ntimezone = "Europe/Paris"\n'
        f'[report]\nout_dir = "reports"\nreviewers = [{lines}]\n',
        encoding="utf-8",
    )
    return load_config(path)


def _fake_report(folder: Path) -> None:
    """Stand-ins for August's written report (renderings and manifest)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"qc-report-2025-08-{lang}.{fmt}" for lang in ("fr", "en") for fmt in ("html", "pdf")]
    for name in names:
        (folder / name).write_text(f"content of {name}", encoding="utf-8")
    manifest = json.dumps({"month": "2025-08", "files": names})
    (folder / "qc-report-2025-08-manifest.json").write_text(manifest, encoding="utf-8")


def _sign_all(db: Database, config: Config, month: date, now: datetime | None = None) -> None:
    """The three reviewers sign ``month`` in turn (which locks it)."""
    with db.session.begin() as session:
        for name, full in PEOPLE.items():
            create_user(
                session, name, full_name=full, role="viewer", password="x" * 12, actor="admin"
            )
    for name in PEOPLE:
        with db.session.begin() as session:
            user = session.scalars(select(User).where(User.username == name)).one()
            sign_month(session, config, month, user=user, comment=None, now=now)
    with db.session() as session:
        assert month_lock(session, month) is not None


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
    }


def _monthly_audits(db: Database) -> int:
    with db.session() as session:
        return len(audit.list_entries(session, action_prefix="report.monthly", limit=None))


@pytest.fixture
def locked(tmp_path: Path, database: Database) -> tuple[Config, Database]:
    """August 2025 (stand-in files) signed by its three reviewers, hence locked."""
    config = _config(tmp_path, "sqlite:///unused.db")
    _fake_report(report_dir(config))
    _sign_all(database, config, AUGUST, now=SIGNED)
    return config, database


@pytest.mark.parametrize("device_id", [None, "frac"])
def test_a_locked_month_is_not_rewritten_and_nothing_is_done(
    locked: tuple[Config, Database], tmp_path: Path, device_id: str | None
) -> None:
    config, db = locked
    before = _snapshot(report_dir(config))
    with pytest.raises(MonthLockedError) as caught:
        write_monthly_report(
            db, config, AUGUST, out_dir=report_dir(config), device_id=device_id, user="dr.quality"
        )
    assert str(caught.value) == LOCKED
    assert _snapshot(report_dir(config)) == before
    # Refused before any work: not even a new output folder.
    with pytest.raises(MonthLockedError):
        write_monthly_report(db, config, AUGUST, out_dir=tmp_path / "elsewhere", user="dr.quality")
    assert not (tmp_path / "elsewhere").exists()
    assert _monthly_audits(db) == 0


# --- the scheduler -------------------------------------------------------------------------


@pytest.fixture
def runtime(locked: tuple[Config, Database]) -> Iterator[Runtime]:
    config, db = locked
    rt = Runtime(config, db, None)
    install_runtime(rt)
    yield rt
    install_runtime(None)


def test_the_report_job_takes_a_locked_month_as_done(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.scheduler")
    before = _snapshot(report_dir(runtime.config))
    # 1 September 2025, 06:00 in Paris: August's report is due, and August is locked.
    assert run_job("report", now=datetime(2025, 9, 1, 4, 0, tzinfo=UTC)) == "success"
    with runtime.db.session() as session:
        run = session.scalars(select(JobRun).where(JobRun.job == "report")).one()
    assert (run.status, run.error) == ("success", None)
    assert run.details == {"month": "2025-08", "locked": True, "files": []}
    assert "the review of 2025-08 is signed and locked" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert _snapshot(report_dir(runtime.config)) == before
    # September is not locked: its report is attempted (and fails here: no device).
    assert run_job("report", now=datetime(2025, 10, 1, 4, 0, tzinfo=UTC)) == "failure"


# --- with a real report --------------------------------------------------------------------


def test_a_real_report_signed_by_its_reviewers_is_kept_as_signed(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    base = load_config(replayed_demo.config_path)
    out = tmp_path / "reports"
    report = base.report.model_copy(update={"reviewers": REVIEWERS, "out_dir": str(out)})
    config = base.model_copy(update={"report": report})
    db = open_database(replayed_demo.copy_url(tmp_path))
    try:
        june = date(2025, 6, 1)

        def write(device_id: str | None = None) -> list[str]:
            written = write_monthly_report(
                db,
                config,
                june,
                out_dir=out,
                langs=("fr",),
                formats=("html",),
                device_id=device_id,
                user="dr.quality",
            )
            return [p.name for p in written.files]

        assert write() == ["qc-report-2025-06-fr.html"]
        _sign_all(db, config, june)
        with db.session() as session:
            lock = month_lock(session, june)
        assert lock is not None
        assert {"qc-report-2025-06-fr.html", "qc-report-2025-06-manifest.json"} <= set(lock.files)
        before = _snapshot(out)
        for device_id in [None, "fracture-xr"]:
            with pytest.raises(MonthLockedError, match="the review of 2025-06 was signed"):
                write(device_id)
        assert _snapshot(out) == before
        assert _monthly_audits(db) == 1
    finally:
        db.dispose()
