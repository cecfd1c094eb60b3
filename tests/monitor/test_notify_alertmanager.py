"""Findings posted to a real Prometheus Alertmanager (Debian's prometheus-alertmanager):
the alert it holds carries our labels, its silences apply, and a closed finding resolves.

The binary is looked up on PATH; locally the tests skip without it, with CI=true its
absence is a failure (`.ci/run` installs the package when missing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.notify import notify
from monitor.storage import Database
from monitor.workflow import acknowledge, dismiss
from tests.monitor.test_notify import _alertmanager, _config, _free_port, _raise

BINARIES = ("prometheus-alertmanager", "alertmanager")


class _Alertmanager:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.loads(response.read())

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return list(self.get("/api/v2/alerts" + (f"?{query}" if query else "")))


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[_Alertmanager]:
    binary = next((b for b in map(shutil.which, BINARIES) if b), None)
    if binary is None:
        message = (
            "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: nobody\n  group_wait: 1s\nreceivers:\n  - name: nobody\n",
        encoding="utf-8",
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("Alertmanager did not become ready")
            time.sleep(0.2)
        yield _Alertmanager(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _ours(manager: _Alertmanager, **filters: str) -> list[dict[str, Any]]:
    return [a for a in manager.alerts(**filters) if a["labels"].get("device") == "frac"]


def test_a_finding_is_an_alert_in_alertmanager_with_our_labels(
    registered: Database, alertmanager: _Alertmanager
) -> None:
    finding_id = _raise(registered, "critical")
    config = _config(_alertmanager(alertmanager.url))
    report = notify(registered, config, environ={})
    assert report.sent == 1 and report.failed == 0
    (alert,) = _ours(alertmanager)
    assert alert["labels"] == {
        "alertname": "DmnMonitorCusum",
        "device": "frac",
        "version": "1.0",
        "rule": "cusum",
        "metric": "sensitivity",
        "severity": "critical",
        "subgroup": "site=A",
    }
    assert alert["annotations"]["finding_id"] == str(finding_id)
    assert alert["status"]["state"] == "active"
    # Alertmanager keeps it until our endsAt: well beyond the next dispatch.
    ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
    assert ends > datetime.now(UTC) + timedelta(hours=1)


def test_a_silence_set_in_alertmanager_applies_to_our_alerts(
    registered: Database, alertmanager: _Alertmanager
) -> None:
    _raise(registered, "warning")
    config = _config(_alertmanager(alertmanager.url))
    now = datetime.now(UTC)
    alertmanager.post(
        "/api/v2/silences",
        {
            "matchers": [{"name": "device", "value": "frac", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=2)).isoformat(),
            "createdBy": "on-call",
            "comment": "maintenance of the fracture detector",
        },
    )
    notify(registered, config, environ={})
    deadline = time.monotonic() + 10
    while True:
        (alert,) = _ours(alertmanager)
        if alert["status"]["state"] == "suppressed" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert alert["status"]["state"] == "suppressed"
    assert alert["status"]["silencedBy"]


def test_a_dismissed_finding_is_resolved_in_alertmanager(
    registered: Database, alertmanager: _Alertmanager
) -> None:
    finding_id = _raise(registered, "critical")
    config = _config(_alertmanager(alertmanager.url))
    notify(registered, config, environ={})
    assert len(_ours(alertmanager, active="true")) == 1
    with registered.session.begin() as session:
        acknowledge(session, finding_id, user="dr.q", comment="seen")
        dismiss(session, finding_id, reason="data_error", user="dr.q", comment="duplicate feed")
    notify(registered, config, environ={})
    deadline = time.monotonic() + 10
    while _ours(alertmanager, active="true") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ours(alertmanager, active="true") == []
