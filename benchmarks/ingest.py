"""Ingestion speed and memory by file size.

Generates the demo's vendor-format fracture export at several sizes (the demo
generator, scaled), ingests each file into a fresh SQLite database (and
PostgreSQL with ``--postgres URL``), and prints one row per size: rows, time,
rows per second, peak traced memory, and the ratio of the ingestion time to a
reference run in the same process (the standard library's csv reader merely
reading the same file, the floor any CSV ingestion pays).

The claim under test: peak memory does not grow with the file size (chunks of
``--chunk-size`` rows), and time grows linearly.

    python benchmarks/ingest.py [--sizes 20000,100000,400000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors import SourceMapping
from monitor.config import load_config
from monitor.demo_data import DemoParameters, generate_demo, write_demo_files
from monitor.ingest import IngestReport, ingest_file
from monitor.registry import import_registry, load_registry_file
from monitor.sources import mapping_for
from monitor.storage import Database, open_database
from monitor.tables import render_table


def _seconds(func: Callable[[], Any]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def _peak_mib(func: Callable[[], Any]) -> float:
    """Peak memory traced by tracemalloc during one call (tracing slows it: not timed)."""
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _ingest_into(
    reports: list[IngestReport],
    db: Database,
    path: Path,
    mapping: SourceMapping,
    chunk_size: int,
    key: bytes,
) -> None:
    reports.append(
        ingest_file(
            db, path, "predictions", mapping=mapping, chunk_size=chunk_size, pseudonym_key=key
        )
    )


def _read_only(path: Path) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        for _ in csv.reader(handle, delimiter=";"):
            pass


def _nothing() -> None:
    """No clean-up needed (the SQLite file goes with the temporary folder)."""


def _fresh_postgres(base: str) -> tuple[str, Callable[[], None]]:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"dmn_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(base).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="20000,100000,400000", help="approximate rows per file, comma-separated"
    )
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--postgres", default=None, help="also measure on this server URL")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    key = b"benchmark-key-not-secret-0123456789"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            # The default year has about 33,000 fracture exams; scale the daily volume.
            base = DemoParameters()
            scale = size / 33_000
            params = DemoParameters(
                fracture_exams_per_weekday=base.fracture_exams_per_weekday * scale,
                nodule_exams_per_weekday=1.0,
            )
            folder = Path(tmp) / f"n{size}"
            files = write_demo_files(generate_demo(params), folder)
            config = load_config(files.config)
            source = next(s for s in config.sources if s.name.startswith("fracture"))
            mapping = mapping_for(source, config.time.timezone)
            reference = _seconds(functools.partial(_read_only, files.fracture_predictions))
            engines = ["sqlite", "postgresql"] if args.postgres else ["sqlite"]
            for engine_name in engines:
                measured: dict[str, float] = {}
                reports: list[IngestReport] = []
                # Two fresh databases: one run timed, one traced for its peak memory.
                for what in ("seconds", "peak"):
                    if engine_name == "sqlite":
                        url, cleanup = f"sqlite:///{folder}/bench-{what}.db", _nothing
                    else:
                        url, cleanup = _fresh_postgres(args.postgres)
                    db = open_database(url)
                    with db.session.begin() as session:
                        import_registry(session, load_registry_file(files.registry), actor="bench")
                    run = functools.partial(
                        _ingest_into,
                        reports,
                        db,
                        files.fracture_predictions,
                        mapping,
                        args.chunk_size,
                        key,
                    )
                    measured[what] = _seconds(run) if what == "seconds" else _peak_mib(run)
                    db.dispose()
                    cleanup()
                report = reports[0]
                row = {
                    "engine": engine_name,
                    "rows": report.rows_read,
                    "accepted": report.accepted,
                    "seconds": round(measured["seconds"], 2),
                    "rows_per_s": int(report.rows_read / measured["seconds"]),
                    "peak_MiB": round(measured["peak"], 1),
                    "csv_read_s": round(reference, 3),
                    "ratio_to_csv_read": round(measured["seconds"] / reference, 1),
                }
                rows.append(row)
                # Progress as it comes: a large size takes minutes.
                print(", ".join(f"{k}={v}" for k, v in row.items()), file=sys.stderr, flush=True)
    print(render_table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
