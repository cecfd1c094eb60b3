"""What one daily ``check`` costs as the history grows: time and peak memory.

For each size (default 50,000 and 1,000,000 exams) a fresh SQLite database (the
embedded default) gets a year of the benchmark grid from ``benchmarks/evaluate.py``'s
``build``: the demo generator's ``hospital_group_parameters`` (2 devices, fracture-xr
and nodule-ct, each with a claimed performance in the registry, 3 versions each, 2
sites, 5 scanner manufacturers, 12 months from 2025-01-01; about 87 % of the exams
are fracture-xr's), predictions and outcomes stored with the raw driver, the per-cell
summaries built once. At 1M that is about 2,700 exams a day across the group. The
configuration is the product's default ``Config`` pointing at that database. Then,
per size, each step in its own fresh process:

- ``replay``: ``run_checks`` as of the end of every day from 2025-01-01 to 2025-12-30
  (``dmn-monitor check --from .. --to ..``), so the findings table and the charts'
  restarts are those of a year of daily checks (``--replay-step N``: every N-th day
  and the day before the last; ``--no-replay`` skips it, the check then runs on an
  empty findings table);
- ``check``: one daily check as of the end of 2025-12-31, ``run_checks(session,
  config, [end_of_last_day])`` in one transaction, as the scheduler's daily job does,
  in a process that has done nothing else: wall seconds and the process's peak RSS
  (``ru_maxrss``; VmHWM, the same but never inherited, is checked against it). Inside
  it, the time spent in ``load_history`` (of which in ``outcome_events``, the SQL
  linking of every outcome) and in ``store_findings`` is recorded by wrapping those
  functions (nothing else changed);
- ``reference``: in the same process after the check, ``pandas.read_sql`` of the
  same rows the check's history reads (the predictions' columns up to the as-of date,
  the outcomes' linking columns): what re-reading the whole history costs at the
  floor. ``x ref`` is the check's time over it.

Last, the 1M check over the 50k one, for time and peak memory (the product's target
is a ratio <= 2: a daily check should read only what arrived since the last one).

    python benchmarks/daily_check.py [--sizes 50000,1000000] [--replay-step 1 | --no-replay] \
        [--profile PREFIX]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2025, 12, 31)


def _evaluate_module() -> Any:
    """``benchmarks/evaluate.py`` (not a package: loaded from its file)."""
    path = Path(__file__).resolve().with_name("evaluate.py")
    spec = importlib.util.spec_from_file_location("_bench_evaluate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rss() -> dict[str, float]:
    """Peak RSS of this process, MiB: ru_maxrss and VmHWM; and the current VmRSS."""
    out = {"ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def _config(url: str) -> Any:
    from monitor.config import Config, DatabaseConfig

    return Config(database=DatabaseConfig(url=url))


def _timed(record: dict[str, float], key: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func``, adding the seconds of each call to ``record[key]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            record[key] = record.get(key, 0.0) + time.perf_counter() - started

    return wrapper


# --- the steps, each run in a fresh process -------------------------------------------


def _build(url: str, size: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    cases, loaded, summarised = _evaluate_module().build(url, size)
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT device_id, count(*) FROM predictions GROUP BY device_id")
        ).all()
        devices: dict[str, int] = {device: count for device, count in rows}
        outcomes = connection.execute(text("SELECT count(*) FROM outcomes")).scalar_one()
    engine.dispose()
    return {
        "cases": cases,
        "outcomes": outcomes,
        "devices": devices,
        "load_s": loaded,
        "summaries_s": summarised,
    }


_HELD = (("predictions", "exam_datetime"), ("outcomes", "outcome_datetime"))


def _hold(url: str) -> dict[str, Any]:
    """Take the last day's predictions (by exam time) and outcomes (by outcome time) out
    of their tables, into side tables: what has not arrived before the daily check."""
    from sqlalchemy import create_engine, text

    start, end = _last_day_utc()
    engine = create_engine(url)
    held = {}
    with engine.begin() as connection:
        for table, column in _HELD:
            where = f"{column} >= :start AND {column} < :end"
            params = {"start": start, "end": end}
            connection.execute(
                text(f"CREATE TABLE held_{table} AS SELECT * FROM {table} WHERE {where}"), params
            )
            if table == "outcomes":
                connection.execute(
                    text(
                        "DELETE FROM report_texts "
                        f"WHERE outcome_id IN (SELECT id FROM held_{table})"
                    )
                )
            held[table] = connection.execute(
                text(f"DELETE FROM {table} WHERE {where}"), params
            ).rowcount
    engine.dispose()
    return held


def _arrive(url: str) -> dict[str, Any]:
    """The held rows stored again, with new row ids, as the day's ingestion stores them."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    arrived = {}
    with engine.begin() as connection:
        for table, _ in _HELD:
            names = [c["name"] for c in inspect(connection).get_columns(table) if c["name"] != "id"]
            columns = ", ".join(names)
            arrived[table] = connection.execute(
                text(
                    f"INSERT INTO {table} ({columns}) "
                    f"SELECT {columns} FROM held_{table} ORDER BY id"
                )
            ).rowcount
            connection.execute(text(f"DROP TABLE held_{table}"))
    engine.dispose()
    return arrived


def _last_day_utc() -> tuple[str, str]:
    """The last day, local midnight to midnight, as the naive UTC text SQLite stores."""
    from datetime import datetime, timedelta

    from monitor.config import Config

    tz = ZoneInfo(Config().time.timezone)
    start = datetime.combine(LAST_DAY, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(LAST_DAY + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return tuple(  # type: ignore[return-value]
        t.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S.%f") for t in (start, end)
    )


def _replay(url: str, step_days: int) -> dict[str, Any]:
    from monitor.detection import check_dates, run_checks
    from monitor.storage import open_database
    from monitor.timeutil import end_of_day

    config = _config(url)
    tz = ZoneInfo(config.time.timezone)
    last = date.fromordinal(LAST_DAY.toordinal() - 1)
    dates = check_dates(FIRST_DAY, last, step_days, tz) if step_days else []
    if not dates or dates[-1] != end_of_day(last, tz):
        dates.append(end_of_day(last, tz))
    db = open_database(url)
    started = time.perf_counter()
    with db.session.begin() as session:
        found = run_checks(session, config, dates)
    elapsed = time.perf_counter() - started
    db.dispose()
    return {"dates": len(dates), "seconds": elapsed, "findings": len(found), **_rss()}


def _check(url: str, profile: str = "") -> dict[str, Any]:
    import cProfile

    import pandas as pd
    from sqlalchemy import create_engine, func, select, text

    import monitor.detection
    import monitor.history
    from monitor.models import Finding
    from monitor.storage import open_database
    from monitor.timeutil import end_of_day

    config = _config(url)
    tz = ZoneInfo(config.time.timezone)
    as_of = end_of_day(LAST_DAY, tz)
    phases: dict[str, float] = {}
    for module, name, key in (
        (monitor.detection, "kept_history", "history_s"),
        (monitor.history, "outcome_events", "events_s"),
        (monitor.detection, "store_findings", "store_s"),
    ):
        # Stays patched for the rest of this short-lived process.
        mock.patch.object(module, name, _timed(phases, key, getattr(module, name))).start()
    db = open_database(url)
    with db.session() as session:
        findings_before = session.scalar(select(func.count()).select_from(Finding))
    before = _rss()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    with db.session.begin() as session:
        found = monitor.detection.run_checks(session, config, [as_of])
        found_count = len(found)
    if profiler is not None:
        profiler.disable()
    check_s = time.perf_counter() - started
    if profiler is not None:
        profiler.dump_stats(profile)
    peak = _rss()
    db.dispose()

    # The floor: the same rows read back with pandas, nothing else.
    until = as_of.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S.%f")
    columns = ", ".join(monitor.history._PREDICTION_COLUMNS)
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.connect() as connection:
        predictions = pd.read_sql(
            text(
                f"SELECT device_id, {columns} FROM predictions "
                "WHERE exam_datetime <= :until ORDER BY exam_datetime, id"
            ),
            connection,
            params={"until": until},
        )
        outcomes = pd.read_sql(
            text(
                "SELECT id, accession_number, study_instance_uid, target, site, outcome, "
                "source, outcome_datetime FROM outcomes WHERE outcome_datetime <= :until"
            ),
            connection,
            params={"until": until},
        )
    reference_s = time.perf_counter() - started
    engine.dispose()
    return {
        "check_s": check_s,
        "reference_s": reference_s,
        "reference_rows": [len(predictions), len(outcomes)],
        "findings_before": findings_before,
        "findings": found_count,
        "rss_before_check": before,
        "peak": peak,
        **phases,
    }


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "build": _build,
    "hold": _hold,
    "arrive": _arrive,
    "replay": _replay,
    "check": _check,
}


def _in_child(step: str, *args: str) -> dict[str, Any]:
    """Run one step in a fresh Python process; its JSON result."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.json"
        subprocess.run(
            [sys.executable, __file__, "--child", step, "--out", str(out), *args], check=True
        )
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def measure(size: int, replay_step: int, profile: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        print(f"{size:,} exams: building", file=sys.stderr, flush=True)
        built = _in_child("build", url, str(size))
        print(f"  built: {json.dumps(built)}", file=sys.stderr, flush=True)
        held = _in_child("hold", url)
        print(f"  held back the last day: {json.dumps(held)}", file=sys.stderr, flush=True)
        what = "replaying the year" if replay_step else "one check"
        print(f"  {what} up to the day before", file=sys.stderr, flush=True)
        replayed = _in_child("replay", url, str(replay_step))
        print(f"  replayed: {json.dumps(replayed)}", file=sys.stderr, flush=True)
        arrived = _in_child("arrive", url)
        print(f"  the last day arrived: {json.dumps(arrived)}", file=sys.stderr, flush=True)
        print("  one daily check", file=sys.stderr, flush=True)
        checked = _in_child("check", url, *([f"{profile}-{size}.prof"] if profile else []))
        print(f"  checked: {json.dumps(checked)}", file=sys.stderr, flush=True)
    return {
        "size": size,
        "built": built,
        "replay": replayed if replay_step else None,
        "arrived": arrived,
        "check": checked,
    }


def _row(result: dict[str, Any]) -> dict[str, Any]:
    built, check, replayed = result["built"], result["check"], result["replay"]
    return {
        "exams": f"{built['cases']:,}",
        "outcomes": f"{built['outcomes']:,}",
        "replay dates": "-" if replayed is None else replayed["dates"],
        "replay s": "-" if replayed is None else f"{replayed['seconds']:.0f}",
        "new exams": f"{result['arrived']['predictions']:,}",
        "new outcomes": f"{result['arrived']['outcomes']:,}",
        "check s": f"{check['check_s']:.2f}",
        "kept_history s": f"{check.get('history_s', 0.0):.2f}",
        "of which outcome_events s": f"{check.get('events_s', 0.0):.2f}",
        "store_findings s": f"{check.get('store_s', 0.0):.2f}",
        "findings": check["findings"],
        "RSS before MiB": f"{check['rss_before_check']['VmRSS']:.0f}",
        "peak MiB": f"{check['peak']['ru_maxrss']:.0f}",
        "reference s": f"{check['reference_s']:.2f}",
        "x ref": f"{check['check_s'] / check['reference_s']:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="50000,1000000")
    parser.add_argument(
        "--no-replay", action="store_true", help="Check once without replaying the year first."
    )
    parser.add_argument(
        "--replay-step", type=int, default=1, help="Replay every N-th day (and the day before)."
    )
    parser.add_argument(
        "--profile", default=None, help="Write a cProfile of each check to PROFILE-<size>.prof."
    )
    parser.add_argument("--child", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step = STEPS[args.child]
        values: list[Any] = [int(a) if a.isdigit() else a for a in args.args]
        Path(args.out).write_text(json.dumps(step(*values)))
        return

    from monitor.tables import render_table

    replay_step = 0 if args.no_replay else args.replay_step
    results = [measure(int(s), replay_step, args.profile) for s in args.sizes.split(",")]
    rows = [_row(r) for r in results]
    print(render_table(rows, list(rows[0])), flush=True)
    for r in results:
        peak = r["check"]["peak"]
        if abs(peak["ru_maxrss"] - peak["VmHWM"]) > 1:
            print(
                f"note: {r['size']:,}: ru_maxrss {peak['ru_maxrss']:.0f} MiB, "
                f"VmHWM {peak['VmHWM']:.0f} MiB"
            )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        time_ratio = large["check"]["check_s"] / small["check"]["check_s"]
        memory_ratio = large["check"]["peak"]["ru_maxrss"] / small["check"]["peak"]["ru_maxrss"]
        print(
            f"\n{large['built']['cases']:,} / {small['built']['cases']:,} exams: check time "
            f"x{time_ratio:.1f}, peak memory x{memory_ratio:.1f} (target <= 2)"
        )


if __name__ == "__main__":
    main()
