"""Push ingestion over the HTTP API against file ingestion, in the same process.

Synthetic canonical prediction records (one device, 4 sites, 5 scanner makers,
scores, ages, sexes, patient ids) at each size, each run into a fresh SQLite
database with the schema and the registry:

- ``API push``: ``POST /api/v1/ingest/predictions/records`` through FastAPI's
  ``TestClient`` (the whole ASGI stack: authentication by bearer token, body
  limit, JSON decoding, the canonical CSV written to the spool, ``ingest_file``,
  the per-record errors read back), in batches of ``--batch`` records;
- ``ingest_file``: the reference, the same records as one canonical CSV file
  (written before the clock starts) ingested by ``monitor.ingest.ingest_file``;
- ``ingest_file, batch files``: the same records as one CSV file per batch, to tell
  the cost of small runs (a run and its summaries per batch) from the HTTP layer's.

Printed per run: records, seconds, records per second, peak resident memory of the
process during the run (Linux VmHWM after resetting it; includes the interpreter
and libraries) and the ratio of the API's records per second to the reference's.

    python benchmarks/api_ingest.py [--sizes 10000 50000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from monitor.api import create_app
from monitor.config import Config, load_config
from monitor.ingest import ingest_file
from monitor.push import records_csv
from monitor.registry import import_registry, parse_registry
from monitor.storage import Database, open_database
from monitor.tokens import create_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for httpx2 rather than httpx
    from fastapi.testclient import TestClient

KEY = b"benchmark-pseudonym-key-0123456789"
REGISTRY: dict[str, Any] = {
    "devices": [
        {
            "id": "bench-xr",
            "name": "BenchFinder",
            "manufacturer": "Bench AI (fictional)",
            "versions": ["1.0"],
            "target": "fracture",
            "ai_based": True,
            "operating_threshold": 0.5,
            "indeterminate_policy": "positive",
            "claimed_performance": {"sensitivity": 0.9, "specificity": 0.85, "source": "IFU"},
        }
    ]
}
SITES = ("CHU-Nord", "CHU-Sud", "Clinique-Est", "Hopital-Ouest")
MAKERS = ("Fujifilm", "GE", "Siemens", "Philips", "Canon")


def records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` canonical prediction records (synthetic)."""
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    minutes = np.sort(rng.integers(0, 365 * 24 * 60, n))
    ages = rng.integers(18, 95, n)
    out = []
    for i in range(n):
        day, minute = divmod(int(minutes[i]), 24 * 60)
        month, mday = divmod(day, 28)
        out.append(
            {
                "device_id": "bench-xr",
                "device_version": "1.0",
                "exam_datetime": f"2025-{month % 12 + 1:02d}-{mday + 1:02d}T"
                f"{minute // 60:02d}:{minute % 60:02d}:00",
                "ai_result": "positive" if scores[i] >= 0.5 else "negative",
                "ai_score": round(float(scores[i]), 4),
                "accession_number": f"BENCH{i:09d}",
                "patient_id": f"PAT{i // 3:08d}",
                "site": SITES[i % len(SITES)],
                "modality": "DX",
                "scanner_manufacturer": MAKERS[i % len(MAKERS)],
                "patient_age": int(ages[i]),
                "patient_sex": "F" if i % 2 else "M",
            }
        )
    return out


def _reset_peak() -> None:
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mib() -> float:
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _measure(func: Callable[[], int]) -> tuple[int, float, float]:
    _reset_peak()
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started, _peak_mib()


def _fresh(folder: Path) -> tuple[Config, Database]:
    folder.mkdir(parents=True)
    (folder / "dmn-monitor.toml").write_text("", encoding="utf-8")
    url = f"sqlite:///{folder / 'bench.db'}"
    config = load_config(folder / "dmn-monitor.toml").with_database_url(url)
    db = open_database(url)
    with db.session.begin() as session:
        import_registry(session, parse_registry(REGISTRY), actor="benchmark")
    return config, db


def run_api(rows: list[dict[str, Any]], folder: Path, batch: int) -> tuple[int, float, float]:
    """Push ``rows`` in batches; returns (accepted, seconds, peak MiB)."""
    config, db = _fresh(folder)
    with db.session.begin() as session:
        _token, secret = create_token(session, "bench", "quality", user="benchmark")
    app = create_app(config, db, pseudonym_key=KEY)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    bodies = [json.dumps(rows[i : i + batch]).encode() for i in range(0, len(rows), batch)]
    try:
        with TestClient(app) as client:

            def push() -> int:
                accepted = 0
                for body in bodies:
                    response = client.post(
                        "/api/v1/ingest/predictions/records", content=body, headers=headers
                    )
                    response.raise_for_status()
                    accepted += int(response.json()["accepted"])
                return accepted

            return _measure(push)
    finally:
        db.dispose()


def run_file(rows: list[dict[str, Any]], folder: Path) -> tuple[int, float, float]:
    """The reference: the same rows as one canonical CSV through ``ingest_file``."""
    config, db = _fresh(folder)
    text, _lines, _errors = records_csv(rows, "predictions")
    path = folder / "predictions.csv"
    path.write_text(text, encoding="utf-8")
    try:
        return _measure(
            lambda: (
                ingest_file(
                    db,
                    path,
                    "predictions",
                    chunk_size=config.ingest.chunk_size,
                    pseudonym_key=KEY,
                ).accepted
            )
        )
    finally:
        db.dispose()


def run_files(rows: list[dict[str, Any]], folder: Path, batch: int) -> tuple[int, float, float]:
    """The records as one canonical CSV file per batch, each through ``ingest_file``."""
    config, db = _fresh(folder)
    paths = []
    for start in range(0, len(rows), batch):
        text, _lines, _errors = records_csv(rows[start : start + batch], "predictions")
        path = folder / f"batch-{start:09d}.csv"
        path.write_text(text, encoding="utf-8")
        paths.append(path)

    def ingest() -> int:
        return sum(
            ingest_file(
                db, path, "predictions", chunk_size=config.ingest.chunk_size, pseudonym_key=KEY
            ).accepted
            for path in paths
        )

    try:
        return _measure(ingest)
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    header = f"{'records':>8}  {'run':<26}{'seconds':>8}  {'records/s':>10}  {'peak MiB':>9}  ratio"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            rows = records(size)
            base = Path(tmp) / str(size)
            accepted_ref, ref_s, ref_mib = run_file(rows, base / "file")
            accepted_files, files_s, files_mib = run_files(rows, base / "files", args.batch)
            accepted_api, api_s, api_mib = run_api(rows, base / "api", args.batch)
            assert accepted_ref == accepted_files == accepted_api == size
            ref_rate, api_rate = size / ref_s, size / api_s
            reference = "ingest_file (reference)"
            print(
                f"{size:>8}  {reference:<26}{ref_s:>8.2f}  {ref_rate:>10,.0f}  "
                f"{ref_mib:>9.0f}  1.00"
            )
            files_rate = size / files_s
            label = f"ingest_file, files of {args.batch}"
            print(
                f"{size:>8}  {label:<26}{files_s:>8.2f}  {files_rate:>10,.0f}  "
                f"{files_mib:>9.0f}  {files_rate / ref_rate:.2f}"
            )
            label = f"API push, batches {args.batch}"
            print(
                f"{size:>8}  {label:<26}{api_s:>8.2f}  {api_rate:>10,.0f}  {api_mib:>9.0f}  "
                f"{api_rate / ref_rate:.2f}"
            )


if __name__ == "__main__":
    main()
