"""A real Prometheus (Debian's package) scrapes `dmn-monitor serve` over the demo year:
every dashboard and alert-rule expression returns data, the alert rules evaluate
without error, and the values are the monitor's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.cli import cli
from monitor.models import Finding
from monitor.storage import open_database
from tests.deploy.test_dashboards import expressions
from tests.monitor.replay import Replayed
from tests.monitor.serving import free_port, start_serve

ROOT = Path(__file__).parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "dmn-monitor.rules.yml"
DEPLOYED = ROOT / "deploy" / "prometheus" / "prometheus.yml"
NO_SCORES = "fracture-xr"
"""The demo's fracture detector exports no scores: no estimate from scores."""


def _prometheus() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        message = "Debian's prometheus is not installed (apt-get install -y prometheus)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return binary


class _Prometheus:
    def __init__(self, binary: str, folder: Path, target: str) -> None:
        self.port = free_port()
        # The deploy stack's configuration, pointed at this service and sped up.
        config = yaml.safe_load(DEPLOYED.read_text(encoding="utf-8"))
        config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["global"]["scrape_timeout"] = "1s"
        config["rule_files"] = [str(RULES)]
        config.pop("alerting", None)
        [scrape] = [c for c in config["scrape_configs"] if c["job_name"] == "dmn-monitor"]
        scrape |= {"scrape_interval": "1s", "static_configs": [{"targets": [target]}]}
        config["scrape_configs"] = [scrape]
        path = folder / "prometheus.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log = folder / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={path}",
                    f"--storage.tsdb.path={folder / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def api(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"http://127.0.0.1:{self.port}/api/v1/{path}", params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expression: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expression)
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, expression: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = self.query(expression)
                if found:
                    return found
            except (httpx.HTTPError, AssertionError):
                pass
            time.sleep(0.5)
        raise AssertionError(
            f"no data for {expression!r} after {timeout} s:\n"
            + self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _scored(prometheus: _Prometheus, expression: str) -> bool:
    """The same expression has data for the demo's device with scores."""
    return bool(prometheus.query(expression.replace(NO_SCORES, "nodule-ct")))


def test_prometheus_scrapes_serve_and_every_expression_returns_data(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    binary = _prometheus()
    url = replayed_demo.copy_url(tmp_path)
    config = tmp_path / "dmn-monitor.toml"
    config.write_text(replayed_demo.config_path.read_text(encoding="utf-8"), encoding="utf-8")
    base = ["--config", str(config), "--db", url]
    # Runs of the jobs before (serve runs them on their schedule later): the snapshots
    # /metrics serves, and an ingestion poll.
    for job in ("evaluate", "ingest"):
        result = CliRunner().invoke(cli, ["jobs", "run", *base, job])
        assert result.exit_code == 0, result.output
    served = start_serve(config, url, tmp_path)
    prometheus = None
    try:
        served.wait_ready()
        prometheus = _Prometheus(binary, tmp_path, f"127.0.0.1:{served.port}")
        prometheus.wait_for('up{job="dmn-monitor"} == 1')
        prometheus.wait_for("dmn_monitor_snapshot_timestamp_seconds")
        time.sleep(3)  # a few scrapes and rule evaluations
        empty = [
            e.expr
            for e in expressions()
            if not prometheus.query(e.expr)
            and not ("estimated" in e.expr and NO_SCORES in e.expr and _scored(prometheus, e.expr))
        ]
        assert not empty, f"expressions without data: {empty}"

        groups = prometheus.api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert len(rules) >= 8
        assert all(rule["health"] == "ok" for rule in rules), rules

        # The values are the monitor's: open findings as stored.
        db = open_database(url)
        try:
            with db.session() as session:
                critical = session.scalar(
                    select(func.count())
                    .select_from(Finding)
                    .where(
                        Finding.device_id == "fracture-xr",
                        Finding.severity == "critical",
                        Finding.status.in_(["open", "acknowledged", "confirmed", "action_taken"]),
                    )
                )
        finally:
            db.dispose()
        [sample] = prometheus.query(
            'dmn_monitor_open_findings{device="fracture-xr",severity="critical"}'
        )
        assert float(sample["value"][1]) == critical > 0
        # And the on-call would be told: the critical finding's alert is on its way.
        alerts = prometheus.api("alerts")["alerts"]
        assert any(a["labels"]["alertname"] == "DmnCriticalFindingOpen" for a in alerts), alerts
    finally:
        if prometheus is not None:
            prometheus.stop()
        assert served.stop() == 0, served.log()
