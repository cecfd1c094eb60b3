"""Full-evaluation speed at hospital-group scale, against a numpy floor and Evidently.

For each size (default 1M and 10M linked cases) the demo generator builds a year
of the benchmark grid (2 devices x 3 versions, 2 sites, 5 scanner manufacturers,
3 age bands, 2 sexes, 12 months: ``hospital_group_parameters``), the rows are
stored with the raw driver (SQLite ``executemany``; PostgreSQL ``COPY`` with
``--postgres URL``), and the per-cell summaries are built once
(``rebuild_summaries``, which links every case). Then, per size, one table row:

- ``full eval``: read the cells as of the period's end and evaluate every
  breakdown (the device, each of the 8 dimensions, each pair of them) in monthly
  windows with all ten binary metrics and their intervals; median of ``--repeat``
  runs in a fresh process, with that process's peak RSS;
- ``floor``: one ``numpy.bincount`` pass over the same linked cases held in memory
  as integer codes (the least any exact evaluation must do), median of the runs;
- ``evidently/slice``: Evidently's ClassificationPreset on ``--slices`` sampled
  cells (device x month x manufacturer), seconds per slice, against ours per cell
  (full-evaluation time / number of cells); sensitivity and specificity of each
  slice are checked equal to ours to 1e-9.

    python benchmarks/evaluate.py [--sizes 1000000,10000000] [--postgres URL]

Targets on a 2-core machine: 10M cases fully evaluated in <= 2 s median and <= 5x
the floor, peak RSS <= 1.5 GB, >= 100x faster per slice than Evidently.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from metrics import BINARY_METRIC_NAMES
from monitor.cells import CellSettings, read_cells, rebuild_summaries
from monitor.demo_data import (
    FRACTURE_DEVICE,
    VENDOR_DATETIME_FORMAT,
    generate_demo_slices,
    hospital_group_parameters,
)
from monitor.evaluation import EvaluationOptions, all_breakdowns, evaluate_breakdowns
from monitor.registry import import_registry, parse_registry
from monitor.storage import open_database
from monitor.subgroups import BY_COLUMNS
from monitor.tables import render_table

PREDICTION_FIELDS = (
    "natural_key",
    "device_id",
    "device_version",
    "target",
    "accession_number",
    "study_instance_uid",
    "exam_datetime",
    "ai_result",
    "ai_score",
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
    "patient_age",
    "patient_sex",
)
OUTCOME_FIELDS = (
    "natural_key",
    "accession_number",
    "study_instance_uid",
    "target",
    "site",
    "outcome",
    "source",
    "outcome_datetime",
)
_VENDOR = {
    "Accession": "accession_number",
    "StudyUID": "study_instance_uid",
    "ExamDate": "exam_datetime",
    "Result": "ai_result",
    "AlgoVersion": "device_version",
    "Site": "site",
    "Manufacturer": "scanner_manufacturer",
    "Model": "scanner_model",
    "BodyPart": "body_part",
    "Modality": "modality",
    "Age": "patient_age",
    "Sex": "patient_sex",
}


# --- building the cases ---------------------------------------------------------------


def _utc(values: pd.Series, fmt: str | None = None) -> pd.Series:
    if fmt is None:
        return pd.to_datetime(values, utc=True, format="ISO8601")
    naive = pd.to_datetime(values, format=fmt)
    local = naive.dt.tz_localize("Europe/Paris", ambiguous=False, nonexistent="shift_forward")
    return local.dt.tz_convert(UTC)


def _canonical_slices(
    size: int,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]]:
    """Canonical predictions, outcomes and the registry, one generator slice at a time."""
    registry_targets = {"fracture-xr": "fracture", "nodule-ct": "lung_nodule"}
    for number, data in enumerate(generate_demo_slices(hospital_group_parameters(size))):
        fracture = data.fracture_predictions.rename(columns=_VENDOR)
        fracture["exam_datetime"] = _utc(fracture["exam_datetime"], VENDOR_DATETIME_FORMAT)
        fracture["ai_result"] = (
            fracture["ai_result"]
            .str.upper()
            .map({"POSITIVE": "positive", "DOUBT": "indeterminate", "NEGATIVE": "negative"})
        )
        fracture["device_id"] = FRACTURE_DEVICE
        fracture["ai_score"] = np.nan
        nodule = data.nodule_predictions.copy()
        nodule["exam_datetime"] = _utc(nodule["exam_datetime"])
        predictions = pd.concat([fracture, nodule], ignore_index=True)
        default_target = predictions["device_id"].map(registry_targets)
        if "target" in predictions:
            given = predictions["target"].replace("", np.nan)
            predictions["target"] = given.fillna(default_target)
        else:
            predictions["target"] = default_target
        predictions["natural_key"] = (
            predictions["device_id"] + "|" + predictions["accession_number"].astype(str)
        )
        outcomes = data.outcomes.copy()
        outcomes["outcome_datetime"] = _utc(outcomes["outcome_datetime"])
        outcomes["natural_key"] = (
            f"{number}|"
            + outcomes.index.astype(str)
            + "|"
            + outcomes["accession_number"].astype(str)
        )
        yield predictions, outcomes, data.registry


def _sqlite_rows(frame: pd.DataFrame, fields: tuple[str, ...]) -> list[tuple[Any, ...]]:
    out = frame.reindex(columns=list(fields)).copy()
    for column in ("exam_datetime", "outcome_datetime"):
        if column in out:
            out[column] = out[column].dt.tz_convert(UTC).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    out = out.astype(object).where(out.notna(), None)
    return list(out.itertuples(index=False, name=None))


def _copy_text(frame: pd.DataFrame, fields: tuple[str, ...]) -> io.StringIO:
    out = frame.reindex(columns=list(fields)).copy()
    for column in ("exam_datetime", "outcome_datetime"):
        if column in out:
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep="\\N", sep="\t")
    buffer.seek(0)
    return buffer


def build(url: str, size: int) -> tuple[int, float, float]:
    """Store ``size`` predictions and their outcomes; returns (cases, load s, summary s)."""
    db = open_database(url)
    registered = False

    def register(document: dict[str, Any]) -> None:
        nonlocal registered
        if not registered:
            with db.session.begin() as session:
                import_registry(session, parse_registry(document), actor="benchmark")
            registered = True

    started = time.perf_counter()
    cases = 0
    if db.dialect == "sqlite":
        path = make_url(url).database
        connection = sqlite3.connect(str(path))
        for predictions, outcomes, document in _canonical_slices(size):
            register(document)
            with connection:
                connection.executemany(
                    f"INSERT INTO predictions ({', '.join(PREDICTION_FIELDS)}) VALUES "
                    f"({', '.join('?' for _ in PREDICTION_FIELDS)})",
                    _sqlite_rows(predictions, PREDICTION_FIELDS),
                )
                connection.executemany(
                    f"INSERT INTO outcomes ({', '.join(OUTCOME_FIELDS)}) VALUES "
                    f"({', '.join('?' for _ in OUTCOME_FIELDS)})",
                    _sqlite_rows(outcomes, OUTCOME_FIELDS),
                )
            cases += len(predictions)
            print(f"  stored {cases:,} predictions", file=sys.stderr)
        connection.close()
    else:
        raw = db.engine.raw_connection()
        cursor = raw.cursor()
        for predictions, outcomes, document in _canonical_slices(size):
            register(document)
            for table, fields, frame in (
                ("predictions", PREDICTION_FIELDS, predictions),
                ("outcomes", OUTCOME_FIELDS, outcomes),
            ):
                with cursor.copy(  # type: ignore[attr-defined]
                    f"COPY {table} ({', '.join(fields)}) FROM STDIN"
                ) as copy:
                    copy.write(_copy_text(frame, fields).getvalue())
            raw.commit()
            cases += len(predictions)
            print(f"  stored {cases:,} predictions", file=sys.stderr)
        cursor.execute("ANALYZE")
        raw.commit()
        raw.close()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    with db.session.begin() as session:
        rebuild_summaries(session, CellSettings())
    summarised = time.perf_counter() - started
    db.dispose()
    return cases, loaded, summarised


# --- the measured runs ----------------------------------------------------------------

# After every generated outcome: the usual "as of now" evaluation (no late corrections),
# and the cases' stored status is the one Evidently is given.
AS_OF = datetime(2027, 1, 1, tzinfo=UTC)
AS_OF_MONTH_END = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)  # 2026-01-01 00:00 in Paris
OPTIONS = EvaluationOptions(window="month", metrics=BINARY_METRIC_NAMES)


def full_evaluation(url: str, as_of: datetime = AS_OF) -> tuple[pd.DataFrame, float, int]:
    """Every breakdown, monthly, as of a date: (all cells, seconds, cases corrected for
    outcomes after the date)."""
    db = open_database(url)
    started = time.perf_counter()
    with db.session() as session:
        data = read_cells(session, as_of, grain="month")
    cells = evaluate_breakdowns(
        data.counts,
        all_breakdowns(BY_COLUMNS),
        as_of=as_of,
        tz=data.settings.tz,
        options=OPTIONS,
        first_day=data.first_day,
    )
    elapsed = time.perf_counter() - started
    db.dispose()
    return cells, elapsed, data.corrected_cases


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited
    from the parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _child(url: str, repeat: int, out: Path) -> None:
    """Runs in a fresh process: the timings and this process's peak RSS."""
    times = []
    cells = pd.DataFrame()
    for _ in range(repeat):
        cells, elapsed, _ = full_evaluation(url)
        times.append(elapsed)
    peak = _peak_rss_mib()
    # The monthly review's case: as of the end of the last month, outcomes still arriving.
    _, past, corrected = full_evaluation(url, AS_OF_MONTH_END)
    device_cells = cells[cells["breakdown"] == "scanner_manufacturer"]
    device_cells[
        ["device_id", "window_start", "scanner_manufacturer", "sensitivity", "specificity"]
    ].assign(window_start=lambda f: f["window_start"].astype(str)).to_json(
        out.with_suffix(".cells.json"), orient="records"
    )
    summary = {"times": times, "cells": len(cells), "peak_rss_mib": peak}
    out.write_text(json.dumps(summary | {"month_end_s": past, "corrected": corrected}))


def _in_memory_codes(url: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The linked cases in memory as integer codes (loaded once, not timed): the cell
    (device and every dimension, densely numbered), the local month and the status."""
    engine = create_engine(url)
    columns = [c for c in BY_COLUMNS if c != "age_band"]
    query = f"SELECT device_id, {', '.join(columns)}, patient_age, exam_datetime, case_status"
    with engine.connect() as connection:
        frame = pd.read_sql(text(f"{query} FROM predictions"), connection)
    engine.dispose()
    local = pd.to_datetime(frame.pop("exam_datetime"), utc=True).dt.tz_convert("Europe/Paris")
    month = local.dt.month.to_numpy(np.int64) - 1
    age = frame.pop("patient_age").to_numpy(float)
    frame["age_band"] = np.select([np.isnan(age), age < 18, age < 65], [3, 0, 1], 2)
    status = pd.factorize(frame.pop("case_status"))[0].astype(np.int64)
    cell = frame.fillna("").groupby(list(frame.columns), sort=False).ngroup().to_numpy(np.int64)
    return cell, month, status


def floor_pass(codes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """One bincount of the cases per cell x month x status: seconds."""
    cell, month, status = codes
    started = time.perf_counter()
    np.bincount((cell * 12 + month) * 6 + status)
    return time.perf_counter() - started


def evidently_slices(url: str, ours: list[dict[str, Any]], n_slices: int) -> tuple[float, float]:
    """Seconds per slice for Evidently's ClassificationPreset, and the largest difference
    of its sensitivity / specificity from ours on the same slices."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    rng = np.random.default_rng(0)
    defined = [c for c in ours if c["sensitivity"] is not None and c["specificity"] is not None]
    chosen = [defined[i] for i in rng.choice(len(defined), size=n_slices, replace=False)]
    engine = create_engine(url)
    definition = DataDefinition(
        classification=[
            BinaryClassification(target="target", prediction_labels="prediction", pos_label=1)
        ]
    )
    elapsed = 0.0
    worst = 0.0
    for cell in chosen:
        start = pd.Timestamp(cell["window_start"])
        end = start.tz_localize(None) + pd.DateOffset(months=1)
        end = pd.Timestamp(end).tz_localize(start.tz)
        query = text(
            "SELECT case_status FROM predictions WHERE device_id = :d "
            "AND scanner_manufacturer = :m AND exam_datetime >= :s AND exam_datetime < :e "
            "AND case_status IN ('tp', 'fp', 'tn', 'fn')"
        )
        params = {"d": cell["device_id"], "m": cell["scanner_manufacturer"]}
        if make_url(url).get_backend_name() == "sqlite":
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            params |= {
                "s": start.tz_convert(UTC).strftime(fmt),
                "e": end.tz_convert(UTC).strftime(fmt),
            }
        else:
            params |= {"s": start.to_pydatetime(), "e": end.to_pydatetime()}
        with engine.connect() as connection:
            status = pd.read_sql(query, connection, params=params)["case_status"]
        frame = pd.DataFrame(
            {
                "target": status.isin(["tp", "fn"]).astype(int),
                "prediction": status.isin(["tp", "fp"]).astype(int),
            }
        )
        started = time.perf_counter()
        snapshot = Report([ClassificationPreset()]).run(
            Dataset.from_pandas(frame, data_definition=definition), None
        )
        elapsed += time.perf_counter() - started
        values: dict[str, Any] = {}
        for metric in snapshot.dict()["metrics"]:
            values.setdefault(metric["config"]["type"].split(":")[-1], metric["value"])
        worst = max(
            worst,
            abs(float(values["TPR"]) - cell["sensitivity"]),
            abs(float(values["TNR"]) - cell["specificity"]),
        )
    engine.dispose()
    return elapsed / len(chosen), worst


def measure(url: str, label: str, size: int, repeat: int, n_slices: int) -> dict[str, Any]:
    cases, loaded, summarised = build(url, size)
    print(
        f"  built {cases:,} cases: load {loaded:.0f} s, summaries {summarised:.0f} s",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "child.json"
        subprocess.run(
            [sys.executable, __file__, "--child", url, "--repeat", str(repeat), "--out", str(out)],
            check=True,
        )
        child = json.loads(out.read_text())
        ours = json.loads(out.with_suffix(".cells.json").read_text())
    codes = _in_memory_codes(url)
    floor = statistics.median(floor_pass(codes) for _ in range(repeat))
    del codes
    per_slice_evidently, worst = evidently_slices(url, ours, n_slices)
    full = statistics.median(child["times"])
    per_cell = full / child["cells"]
    return {
        "database": label,
        "cases": f"{cases:,}",
        "cells": f"{child['cells']:,}",
        "full eval s (median)": f"{full:.2f}",
        "floor s": f"{floor:.3f}",
        "x floor": f"{full / floor:.1f}",
        "peak RSS MiB": f"{child['peak_rss_mib']:.0f}",
        "evidently s/slice": f"{per_slice_evidently:.3f}",
        "ours s/cell": f"{per_cell:.2e}",
        "x faster/slice": f"{per_slice_evidently / per_cell:,.0f}",
        "max |diff| vs evidently": f"{worst:.1e}",
        "summaries build s": f"{summarised:.0f}",
        "as of 31 Dec s": f"{child['month_end_s']:.1f}",
        "late cases corrected": f"{child['corrected']:,}",
    }


def _fresh_postgres(admin_url: str) -> tuple[str, Any]:
    name = f"bench_eval_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--postgres", default=None, help="Admin URL of a PostgreSQL server.")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--slices", type=int, default=20)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.repeat, Path(args.out))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            print(f"SQLite, {size:,} predictions", file=sys.stderr)
            url = f"sqlite:///{folder}/bench.db"
            rows.append(measure(url, "sqlite", size, args.repeat, args.slices))
        if args.postgres:
            print(f"PostgreSQL, {size:,} predictions", file=sys.stderr)
            url, drop = _fresh_postgres(args.postgres)
            try:
                rows.append(measure(url, "postgresql", size, args.repeat, args.slices))
            finally:
                drop()
        print(render_table(rows, list(rows[0])), flush=True)


if __name__ == "__main__":
    main()
