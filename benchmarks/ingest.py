"""Ingestion throughput against the raw database driver, and peak memory.

Generates the demo's vendor-format fracture export (13 columns, ``;``, French
dates, ``DOUBT``, patient ids) at the requested sizes with the demo generator,
then for each size and engine, each into a fresh database with the schema and the
registry:

- ``ingest_file``: dmn-monitor's ingestion of the CSV file through the source's
  mapping (parsing, validation, pseudonymisation, natural keys, chunk
  transactions with the run's progress, the per-cell summaries);
- ``ingest_file, summaries off``: the same with ``monitor.ingest.refresh_cases``
  patched out, to tell the ingestion's own cost from the summaries' (shown only
  while ingestion maintains summaries);
- ``raw driver``: the floor. The same rows, already parsed and converted to
  driver values before the clock starts (exactly what ``ingest_file`` stores),
  inserted into the same table by the bare driver: ``sqlite3`` ``executemany`` in
  one transaction (same pragmas: WAL, synchronous=NORMAL), ``psycopg`` ``COPY``.

Printed per run: rows, seconds, rows per second, peak resident memory of the
process during the run (Linux: VmHWM after resetting it; includes the ~150 MiB
of the interpreter and libraries) and the ratio of the run's rows per second to
the raw driver's on the same engine, in the same process. The target of the
issue: ingestion at >= 50 % of the raw driver.

    python benchmarks/ingest.py [--sizes 1000000] [--postgres URL] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext, suppress
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import monitor.ingest
from connectors import SourceMapping, read_predictions
from monitor.config import load_config
from monitor.demo_data import DemoFiles, DemoParameters, generate_demo, write_demo_files
from monitor.device_inputs import DeviceInputs
from monitor.ingest import ingest_file
from monitor.models import Prediction
from monitor.registry import import_registry, list_devices, load_registry_file
from monitor.sources import mapping_for
from monitor.storage import Database, open_database
from monitor.tables import render_table

KEY = b"benchmark-key-not-secret-0123456789"


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0)."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _measure(func: Callable[[], int]) -> tuple[int, float, float]:
    """The call's result, its seconds and the peak resident MiB during it."""
    _reset_peak()
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started, _peak_mib()


class _Target:
    """A fresh database of one engine with the schema and the registry."""

    def __init__(self, engine: str, folder: Path, postgres: str | None, files: DemoFiles) -> None:
        self.drop: Callable[[], None] = lambda: None
        if engine == "sqlite":
            path = folder / f"bench-{uuid.uuid4().hex[:8]}.db"
            self.url = f"sqlite:///{path}"
            self.path: Path | None = path
        else:
            assert postgres is not None
            admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
            name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))

            def drop() -> None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

            self.drop = drop
            self.url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
            self.path = None
        self.db: Database = open_database(self.url)
        with self.db.session.begin() as session:
            import_registry(session, load_registry_file(files.registry), actor="bench")

    def close(self) -> None:
        self.db.dispose()
        self.drop()


def _parsed_rows(
    path: Path, mapping: SourceMapping, db: Database
) -> tuple[tuple[str, ...], list[list[Any]]]:
    """What ``ingest_file`` would store: its columns, and the rows as driver values."""
    with db.session() as session:
        devices = {spec.id: DeviceInputs.of(spec) for spec in list_devices(session)}
        dialect = session.get_bind().dialect
    table = Prediction.__table__
    rows: list[list[Any]] = []
    columns: tuple[str, ...] = ()
    for results in read_predictions(path, mapping, chunk_size=5000):
        chunk = monitor.ingest._sort_chunk(results, devices, KEY, 1, path)
        values = list(chunk.rows.values())
        if values:
            columns = tuple(values[0])
            converters = monitor.ingest._converters(table, dialect, columns)
            rows.extend(monitor.ingest._driver_values(values, columns, converters))
    return columns, rows


def _raw_insert(target: _Target, rows: list[list[Any]], columns: tuple[str, ...]) -> int:
    names = ", ".join(columns)
    if target.path is not None:
        lite = sqlite3.connect(target.path)
        lite.execute("PRAGMA foreign_keys=ON")
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("PRAGMA synchronous=NORMAL")
        with lite:
            lite.executemany(
                f"INSERT INTO predictions ({names}) VALUES ({', '.join('?' * len(columns))})",
                rows,
            )
        lite.close()
        return len(rows)
    url = make_url(target.url).set(drivername="postgresql")
    with (
        psycopg.connect(url.render_as_string(hide_password=False)) as pg,
        pg.cursor() as cursor,
        cursor.copy(f"COPY predictions ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return len(rows)


def _run_id_row(target: _Target) -> None:
    """The raw rows carry run_id 1: make it exist (foreign key)."""
    with target.db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ingestion_runs (id, kind, source_path, checksum, rows_read, "
                "rows_accepted, rows_duplicate, rows_quarantined, last_line, status, started_at) "
                "VALUES (1, 'predictions', 'raw', 'raw', 0, 0, 0, 0, 0, 'completed', "
                "CURRENT_TIMESTAMP)"
            )
        )


def _summaries_off() -> AbstractContextManager[Any]:
    if hasattr(monitor.ingest, "refresh_cases"):
        return mock.patch.object(monitor.ingest, "refresh_cases", lambda *args, **kw: None)
    return nullcontext()


def _files(size: int, folder: Path) -> DemoFiles:
    # The default year has about 33,000 fracture exams; scale the daily volume.
    base = DemoParameters()
    params = DemoParameters(
        fracture_exams_per_weekday=base.fracture_exams_per_weekday * size / 33_000,
        nodule_exams_per_weekday=1.0,
    )
    return write_demo_files(generate_demo(params), folder)


def _ingest(
    target: _Target,
    files: DemoFiles,
    mapping: SourceMapping,
    chunk_size: int,
    summaries: bool,
    profile: str | None,
) -> int:
    """One ``ingest_file`` run; the accepted rows."""
    profiler = cProfile.Profile() if profile else None
    with nullcontext() if summaries else _summaries_off():
        if profiler is not None:
            profiler.enable()
        report = ingest_file(
            target.db,
            files.fracture_predictions,
            "predictions",
            mapping=mapping,
            chunk_size=chunk_size,
            pseudonym_key=KEY,
        )
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile}-{target.db.dialect}.prof")
    return report.accepted


def _runs(
    engine: str, files: DemoFiles, mapping: SourceMapping, args: argparse.Namespace, folder: Path
) -> Iterator[dict[str, Any]]:
    measured: dict[str, tuple[int, float, float]] = {}
    methods = ["ingest_file"]
    if hasattr(monitor.ingest, "refresh_cases"):
        methods.append("ingest_file, summaries off")
    methods.append("raw driver")
    for method in methods:
        target = _Target(engine, folder, args.postgres, files)
        try:
            if method == "raw driver":
                columns, rows = _parsed_rows(files.fracture_predictions, mapping, target.db)
                _run_id_row(target)
                target.db.dispose()
                count, seconds, peak = _measure(
                    functools.partial(_raw_insert, target, rows, columns)
                )
                del rows
            else:
                summaries = method == "ingest_file"
                run = functools.partial(
                    _ingest,
                    target,
                    files,
                    mapping,
                    args.chunk_size,
                    summaries,
                    args.profile if summaries else None,
                )
                count, seconds, peak = _measure(run)
            measured[method] = (count, seconds, peak)
        finally:
            target.close()
    raw_rate = measured["raw driver"][0] / measured["raw driver"][1]
    for method in methods:
        count, seconds, peak = measured[method]
        yield {
            "engine": engine,
            "method": method,
            "rows": count,
            "seconds": round(seconds, 1),
            "rows_per_s": int(count / seconds),
            "peak_rss_MiB": round(peak),
            "ratio_to_raw": round(count / seconds / raw_rate, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="approximate rows, comma-separated")
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--postgres", default=None, help="also measure on this server URL")
    parser.add_argument(
        "--profile", default=None, help="write a cProfile of ingest_file to FILE-<engine>.prof"
    )
    parser.add_argument("--engines", default=None, help="sqlite,postgresql (default: all given)")
    args = parser.parse_args()
    engines = ["sqlite", "postgresql"] if args.postgres else ["sqlite"]
    if args.engines:
        engines = [e for e in args.engines.split(",") if e in engines]
    table: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            folder = Path(tmp) / f"n{size}"
            files = _files(size, folder)
            config = load_config(files.config)
            source = next(s for s in config.sources if s.name.startswith("fracture"))
            mapping = mapping_for(source, config.time.timezone)
            for engine in engines:
                for row in _runs(engine, files, mapping, args, folder):
                    table.append(row)
                    # Progress as it comes: a large size takes minutes.
                    print(
                        ", ".join(f"{k}={v}" for k, v in row.items()), file=sys.stderr, flush=True
                    )
    print(render_table(table, list(table[0])))


if __name__ == "__main__":
    main()
