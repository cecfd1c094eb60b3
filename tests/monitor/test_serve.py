"""`dmn-monitor serve` as a real process: alive and ready, /metrics and the API on
loopback, a graceful stop on SIGTERM; two processes on one PostgreSQL database run
each scheduled job once per schedule."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from monitor.models import JobRun
from monitor.storage import open_database
from tests.conftest import _fresh_pg
from tests.monitor.replay import Replayed
from tests.monitor.serving import start_serve


def _config(folder: Path, url: str, service: str) -> Path:
    path = folder / "dmn-monitor.toml"
    path.write_text(f'[database]\nurl = "{url}"\n[service]\n{service}\n', encoding="utf-8")
    return path


def test_serve_answers_health_metrics_and_api_then_stops_gracefully(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    url = replayed_demo.copy_url(tmp_path)
    text = replayed_demo.config_path.read_text(encoding="utf-8")
    config = tmp_path / "dmn-monitor.toml"
    config.write_text(text + "\n[service]\nnotify_seconds = 5\n", encoding="utf-8")
    served = start_serve(config, url, tmp_path)
    try:
        served.wait_ready()
        assert httpx.get(f"{served.url}/healthz").json() == {"status": "alive"}
        ready = httpx.get(f"{served.url}/readyz")
        assert ready.status_code == 200, ready.text
        metrics = httpx.get(f"{served.url}/metrics")
        assert metrics.status_code == 200
        assert "dmn_monitor_open_findings" in metrics.text
        assert metrics.headers["content-type"].startswith("text/plain")
        schema = httpx.get(f"{served.url}/openapi.json").json()
        assert schema["info"]["title"] == "dmn-monitor"
        refused = httpx.get(f"{served.url}/api/v1/devices")
        assert refused.status_code == 401
        assert "server" not in refused.headers  # was "uvicorn"
        assert refused.json()["error"]["status"] == 401
        time.sleep(6)  # one notify run at least
    finally:
        code = served.stop()
    assert code == 0, served.log()
    log = served.log()
    assert "stopping: finishing the running jobs" in log and "stopped" in log
    db = open_database(url)
    try:
        with db.session() as session:
            runs = list(session.scalars(select(JobRun).where(JobRun.job == "notify")))
    finally:
        db.dispose()
    assert runs and all(r.status == "success" for r in runs)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    yield from _fresh_pg(pg_template)


@pytest.mark.postgres
def test_two_serve_processes_run_each_job_once_per_schedule(pg_url: str, tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        pg_url,
        "notify_seconds = 5\ningest_seconds = 10\nevaluate_seconds = 86400\ncheck_seconds = 86400",
    )
    first = start_serve(config, pg_url, tmp_path, name="first")
    second = start_serve(config, pg_url, tmp_path, name="second")
    try:
        first.wait_ready()
        second.wait_ready()
        time.sleep(23)
    finally:
        codes = (first.stop(), second.stop())
    assert codes == (0, 0), first.log() + second.log()
    db = open_database(pg_url)
    try:
        with db.session() as session:
            runs = list(session.scalars(select(JobRun).order_by(JobRun.scheduled_for)))
    finally:
        db.dispose()
    for job, period in (("notify", 5), ("ingest", 10)):
        mine = [r for r in runs if r.job == job]
        slots = [r.scheduled_for for r in mine]
        assert len(slots) >= 20 // period, (job, slots)
        # Once per schedule: no slot twice, and none missing between the first and last.
        assert Counter(slots).most_common(1)[0][1] == 1
        expected = int((slots[-1] - slots[0]) / timedelta(seconds=period)) + 1
        assert len(slots) == expected, (job, slots)
        assert all(r.status == "success" for r in mine)
    pids = {str(first.process.pid), str(second.process.pid)}
    assert {r.owner.rsplit(":", 1)[1] for r in runs} <= pids


def test_a_login_flood_on_loopback_is_bounded_and_the_server_keeps_answering(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    """20 clients post bogus logins at once against `serve` on loopback (a bounded
    count: 5 each). Failed before: every one ran scrypt in the event loop and was
    audited (100 x 401). Now the address gets its 10 password checks a minute, the
    rest 429, and /healthz answers throughout."""
    url = replayed_demo.copy_url(tmp_path)
    text = replayed_demo.config_path.read_text(encoding="utf-8")
    config = tmp_path / "dmn-monitor.toml"
    config.write_text(text + "\n[console]\nsecure_cookies = false\n", encoding="utf-8")
    served = start_serve(config, url, tmp_path, extra=("--no-scheduler",))
    statuses: Counter[int] = Counter()
    health: list[int] = []
    try:
        served.wait_ready()

        def flood() -> None:
            with httpx.Client(base_url=served.url, timeout=30) as client:
                page = client.get("/login").text
                token = page.split('name="csrf_token" value="')[1].split('"')[0]
                for i in range(5):
                    data = {"csrf_token": token, "username": "nobody", "password": f"x{i}"}
                    answer = client.post("/login", data=data)
                    statuses[answer.status_code] += 1
                    if 'name="csrf_token" value="' in answer.text:
                        token = answer.text.split('name="csrf_token" value="')[1].split('"')[0]

        threads = [threading.Thread(target=flood) for _ in range(20)]
        for thread in threads:
            thread.start()
        with httpx.Client(base_url=served.url, timeout=10) as watcher:
            while any(thread.is_alive() for thread in threads):
                health.append(watcher.get("/healthz").status_code)
        for thread in threads:
            thread.join(timeout=60)
    finally:
        assert served.stop() == 0, served.log()
    assert sum(statuses.values()) == 100
    # At most the address's 10 checks a minute (fewer if some waited over 2 s for a turn).
    assert 1 <= statuses[401] <= 10 and statuses[401] + statuses[429] == 100, statuses
    assert health and set(health) == {200}
