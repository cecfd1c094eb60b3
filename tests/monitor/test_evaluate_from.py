"""`evaluate --from` and `status --from` count the exams from that day on only, as the
linked cases say (one month, or any day: monthly and daily cells agree)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.linking import linked_cases
from monitor.storage import open_database
from monitor.timeutil import end_of_day
from tests.monitor.replay import PARIS, Replayed


def _json(replayed: Replayed, *args: str) -> Any:
    base = ["--config", str(replayed.config_path), "--db", replayed.url]
    result = CliRunner().invoke(cli, [args[0], *base, *args[1:], "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _cases(replayed: Replayed, first: str, last: str) -> Any:
    db = open_database(replayed.url)
    try:
        with db.session() as session:
            as_of = end_of_day(datetime.fromisoformat(last).date(), PARIS)
            cases = linked_cases(session, as_of, device_id="fracture-xr")
    finally:
        db.dispose()
    return cases[cases["exam_datetime"] >= datetime.fromisoformat(first).replace(tzinfo=PARIS)]


@pytest.mark.parametrize("first", ["2025-08-01", "2025-08-10"])
def test_evaluate_from_counts_the_exams_from_that_day(replayed_demo: Replayed, first: str) -> None:
    rows = _json(
        replayed_demo,
        "evaluate",
        "--device",
        "fracture-xr",
        "--by",
        "scanner_manufacturer",
        "--from",
        first,
        "--as-of",
        "2025-08-31",
    )
    cases = _cases(replayed_demo, first, "2025-08-31")
    assert {r["window_start"][:10] for r in rows} == {first}
    for row in rows:
        mine = cases[cases["scanner_manufacturer"] == row["scanner_manufacturer"]]
        counts = mine["status"].value_counts()
        for status in ("tp", "fp", "tn", "fn", "pending"):
            assert row[status] == counts.get(status, 0), (row["scanner_manufacturer"], status)


def test_status_from_counts_the_months_exams(replayed_demo: Replayed) -> None:
    rows = _json(replayed_demo, "status", "--from", "2025-08-01", "--as-of", "2025-08-31")
    fracture = next(r for r in rows if r["device"] == "fracture-xr")
    cases = _cases(replayed_demo, "2025-08-01", "2025-08-31")
    assert fracture["predictions"] == len(cases)
    assert fracture["awaiting_truth"] == int((cases["status"] == "pending").sum())
    delays = cases["label_delay_days"].dropna()
    assert fracture["median_label_delay_days"] == pytest.approx(float(delays.median()))


def test_from_after_as_of_is_refused(replayed_demo: Replayed) -> None:
    base = ["--config", str(replayed_demo.config_path), "--db", replayed_demo.url]
    args = ["evaluate", *base, "--from", "2025-09-01", "--as-of", "2025-08-31"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "--from 2025-09-01 is after --as-of 2025-08-31" in result.output
