"""Scrape time of ``/metrics`` against prometheus_client's own floor.

For each size (default 500, 5,000 and 20,000 series) a fresh, migrated database
(a temporary SQLite file; PostgreSQL too when ``--postgres URL`` answers, default
the local server as user postgres) gets synthetic snapshot rows: performance
slices (16 series each: four rates with their bounds, verified and pending cases,
two below-claim flags) and one chart gauge family, plus the live series every
scrape reads (claims, findings, ingestion and job counters). Then, per size, one
table row:

- ``scrape ms``: :func:`monitor.exporter.metrics_text` (one session, the queries,
  the families and ``generate_latest``), median of ``--repeat`` runs;
- ``peak KiB``: peak Python allocation of one scrape (tracemalloc, measured apart
  from the timed runs);
- ``reference ms``: ``generate_latest`` of a plain registry holding one labelled
  Gauge with as many pre-set samples (the least a scrape of that size costs with
  prometheus_client), median of the same number of runs, in the same process;
- ``ratio``: scrape over reference.

    python benchmarks/scrape.py [--sizes 500,5000,20000] [--repeat 20] [--postgres URL]

Target of the issue: <= 100 ms for 5,000 series.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, delete, insert, text
from sqlalchemy.engine import make_url

from monitor.exporter import metrics_text
from monitor.models import GaugeSnapshot, MetricSnapshot
from monitor.storage import Database, open_database
from monitor.tables import render_table

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SERIES_PER_SLICE = 16
SLICE_LABELS = ("device", "version", "dimension", "value", "window")
CHART_SHARE = 0.2
"""Share of the series coming from chart gauges (3 per chart), the rest from slices."""


def _slices(count: int, at: datetime) -> list[dict[str, Any]]:
    rows = []
    for index in range(count):
        device, rest = divmod(index, 2000)
        version, rest = divmod(rest, 500)
        dimension, value = divmod(rest, 50)
        rows.append(
            {
                "device_id": f"device-{device}",
                "device_version": f"{version}.0",
                "dimension": f"dimension_{dimension}",
                "value": f"value-{value // 2}",
                "window": "30d" if value % 2 == 0 else "90d",
                "as_of": at,
                "computed_at": at,
                "n": 400,
                "tp": 90,
                "fp": 30,
                "tn": 270,
                "fn": 10,
                "pending": 20,
                "statistics": {
                    **{
                        f"{m}{s}": 0.8 + 0.01 * k
                        for m in ("sensitivity", "specificity", "ppv", "npv")
                        for k, s in enumerate(("_low", "", "_high"))
                    },
                    "sensitivity_claimed": 0.9,
                    "specificity_claimed": 0.85,
                    "sensitivity_below_claim": index % 7 == 0,
                    "specificity_below_claim": False,
                },
            }
        )
    return rows


def _charts(count: int, at: datetime) -> list[dict[str, Any]]:
    rows = []
    for index in range(count):
        labels = {
            "version": "all",
            "dimension": "site",
            "value": f"site-{index // 2}",
            "metric": ("sensitivity", "specificity")[index % 2],
        }
        for family, value in (
            ("dmn_monitor_cusum_statistic", 1.5),
            ("dmn_monitor_cusum_decision_limit", 4.2),
            ("dmn_monitor_cusum_signal", 0.0),
        ):
            rows.append(
                {
                    "family": family,
                    "device_id": "device-0",
                    "labels": labels,
                    "value": value,
                    "computed_at": at,
                }
            )
    return rows


def _fill(db: Database, series: int) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    charts = int(series * CHART_SHARE) // 3
    slices = max(1, (series - 3 * charts) // SERIES_PER_SLICE)
    with db.session.begin() as session:
        session.execute(delete(MetricSnapshot))
        session.execute(delete(GaugeSnapshot))
        session.execute(insert(MetricSnapshot), _slices(slices, at))
        if charts:
            session.execute(insert(GaugeSnapshot), _charts(charts, at))


def _count_series(body: bytes) -> int:
    return sum(len(f.samples) for f in text_string_to_metric_families(body.decode("utf-8")))


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000.0


def _peak_kib(run: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1024.0
    finally:
        tracemalloc.stop()


def _reference(series: int) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    gauge = Gauge("reference_ratio", "Reference gauge", SLICE_LABELS, registry=registry)
    for index in range(series):
        gauge.labels(f"device-{index // 2000}", "1.0", "site", f"value-{index}", "30d").set(0.8)
    return registry


def _measure(engine: str, db: Database, sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        _fill(db, size)
        body = metrics_text(db)  # warm: connection pool, statement cache
        series = _count_series(body)
        scrape = _median_ms(lambda: metrics_text(db), repeat)
        peak = _peak_kib(lambda: metrics_text(db))
        registry = _reference(series)
        reference = _median_ms(partial(generate_latest, registry), repeat)
        rows.append(
            {
                "engine": engine,
                "series": f"{series:,}",
                "scrape ms": f"{scrape:.1f}",
                "peak KiB": f"{peak:,.0f}",
                "reference ms": f"{reference:.1f}",
                "ratio": f"{scrape / reference:.1f}",
            }
        )
        print(f"  {engine} {series:,} series: {scrape:.1f} ms", file=sys.stderr)
    return rows


@contextmanager
def _postgres(url: str) -> Iterator[str | None]:
    """A temporary database on the server of ``url`` (None when it does not answer)."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the server is optional
        print(f"PostgreSQL not reachable ({type(exc).__name__}): skipped", file=sys.stderr)
        admin.dispose()
        yield None
        return
    name = f"dmn_scrape_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="500,5000,20000", help="Series, comma-separated.")
    parser.add_argument("--repeat", type=int, default=20, help="Timed scrapes per size.")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL.")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{Path(folder) / 'scrape.db'}")
        try:
            rows += _measure("sqlite", db, sizes, args.repeat)
        finally:
            db.dispose()
    if not args.no_postgres:
        with _postgres(args.postgres) as url:
            if url is not None:
                db = open_database(url)
                try:
                    rows += _measure("postgresql", db, sizes, args.repeat)
                finally:
                    db.dispose()
    print(render_table(rows, list(rows[0])), flush=True)


if __name__ == "__main__":
    main()
