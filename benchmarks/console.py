"""Time to serve each page of the web console over the demo year.

Runs ``dmn-monitor demo`` into a temporary folder (or uses ``--demo DIR`` from an
earlier run, adding a user ``bench<time>`` to its database), logs in through the
console's own login form (FastAPI's test client, in process: no network), then, per
page, one table row:

- ``page``: the path asked for (the demo's degraded month, 2025-08, where a month
  applies; the finding is the demo's critical CUSUM finding);
- ``KiB``: size of the HTML sent;
- ``ms``: median time of ``--repeat`` requests (after one unmeasured warm-up);
- ``peak KiB``: peak Python allocation of one request (tracemalloc, apart from the
  timed runs);
- ``reference ms``: :func:`monitor.report_data.gather_monthly_report` for the same
  month and all devices (what the printed report computes), median of the same
  number of runs, in the same process;
- ``ratio``: page over reference.

    python benchmarks/console.py [--repeat 3] [--demo DIR]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.api import create_app
from monitor.config import load_config
from monitor.models import Finding
from monitor.report_data import gather_monthly_report
from monitor.storage import open_database
from monitor.tables import render_table
from monitor.users import create_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "benchmark passphrase 2025"
MONTH = "2025-08"


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _peak_kib(call: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def _demo(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--out", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=folder.parent,
    )
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--demo", type=Path, default=None, help="an earlier demo's folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.demo or _demo(Path(tmp) / "demo")
        config = load_config(folder / "dmn-monitor.toml")
        db = open_database(config.database.url)
        username = f"bench{time.time_ns()}"
        with db.session.begin() as session:
            if session.scalar(select(Finding.id).limit(1)) is None:
                sys.exit("the demo's database has no findings: run the demo first")
            create_user(
                session,
                username,
                full_name="Benchmark",
                role="quality",
                password=PASSWORD,
                actor="benchmark",
            )
            finding = session.scalars(
                select(Finding.id)
                .where(Finding.rule == "cusum", Finding.severity == "critical")
                .order_by(Finding.id)
            ).first()
        app = create_app(config, db, pseudonym_key=None)
        with TestClient(app, base_url="https://bench", follow_redirects=False) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
            assert token is not None
            client.post(
                "/login",
                data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
            )
            pages = [
                f"/fleet?month={MONTH}",
                f"/devices/fracture-xr?month={MONTH}",
                "/findings?status=all",
                f"/findings/{finding}",
                "/review",
                "/months",
                f"/months/{MONTH}",
                "/ingestion",
            ]

            def reference() -> None:
                with db.session() as session:
                    gather_monthly_report(session, config, date.fromisoformat(MONTH + "-01"))

            reference_ms = _median_ms(reference, args.repeat)
            rows = []
            for path in pages:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                ms = _median_ms(lambda p=path: client.get(p), args.repeat)
                rows.append(
                    {
                        "page": path,
                        "KiB": f"{len(response.content) / 1024:.0f}",
                        "ms": f"{ms:.0f}",
                        "peak KiB": f"{_peak_kib(lambda p=path: client.get(p)):.0f}",
                        "reference ms": f"{reference_ms:.0f}",
                        "ratio": f"{ms / reference_ms:.2f}",
                    }
                )
        db.dispose()
    print(render_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
