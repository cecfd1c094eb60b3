"""The ingestion pages: runs and quarantine, uploading a file, re-ingesting a fixed one."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from connectors import SourceMapping
from monitor.models import IngestionRun, JobRun, Prediction
from monitor.web.pages_ingestion import clean_reason, count_lines, shown_fields
from monitor.web.tasks import Progress, TaskRegistry
from tests.monitor.web.conftest import Browser, Console

HEADER = (
    "device_id,device_version,exam_datetime,ai_result,accession_number,"
    "study_instance_uid,patient_id,site,modality,body_part,target,ai_score\n"
)
BAD_DATE = "2025-13-45T10:00:00+01:00"
IDENTIFIERS = ("TSTACC", "9.9.999", "PTSTPAT")
"""Prefixes of the accession numbers, study UIDs and patient ids of the test files."""


def _row(n: int, exam: str = "2025-11-03T09:15:00+01:00") -> str:
    return (
        f"nodule-ct,1.7.0,{exam},positive,TSTACC{n:07d},9.9.999.{n},PTSTPAT{n:07d},"
        "CHU-Nord,CT,CHEST,lung_nodule,0.8\n"
    )


def _predictions(console: Console) -> int:
    with console.db.session() as session:
        return session.scalar(select(func.count()).select_from(Prediction)) or 0


def _run(console: Console, run_id: int) -> IngestionRun:
    with console.db.session() as session:
        run = session.get_one(IngestionRun, run_id)
        session.expunge(run)
    return run


def _upload(browser: Browser, content: str, *, name: str = "export.csv", source: str = "") -> Any:
    browser.get("/ingestion")
    return browser.post(
        "/ingestion/upload",
        {"kind": "predictions", "source": source},
        files={"file": (name, content.encode("utf-8"), "text/csv")},
    )


def _finish(console: Console, response: Any, owner: str = "cmartin") -> dict[str, Any]:
    """Wait for the task the response redirected to; its final snapshot."""
    assert response.status_code == 303, response.text
    task_id = response.headers["location"].split("task=")[1]
    tasks: TaskRegistry = console.app.state.console.tasks
    assert tasks.wait(task_id, 120)
    snapshot = tasks.snapshot(task_id, owner)
    assert snapshot is not None
    return snapshot


def _no_identifiers(*pages: str) -> None:
    for text in pages:
        for prefix in IDENTIFIERS:
            assert prefix not in text


def test_upload_quarantines_the_bad_row_and_reingesting_the_fixed_file_adds_it_once(
    console: Console,
) -> None:
    quality = console.browser("quality")
    before = _predictions(console)
    content = HEADER + _row(1) + _row(2, BAD_DATE) + _row(3)

    response = _upload(quality, content, name="../../etc/export nov.csv")
    assert response.headers["location"].startswith("/ingestion?task=")
    snapshot = _finish(console, response)
    assert snapshot["status"] == "done", snapshot
    run_id = snapshot["result"]["run_id"]
    assert snapshot["result"]["redirect"] == f"/ingestion/runs/{run_id}"
    assert (snapshot["result"]["accepted"], snapshot["result"]["quarantined"]) == (2, 1)
    assert _predictions(console) == before + 2

    run = _run(console, run_id)
    stored = Path(run.source_path)
    upload_folder = console.folder / "uploads"
    assert stored.parent == upload_folder.resolve()
    assert stored.suffix == ".csv" and "export" not in stored.name
    assert run.source_name == "console:cmartin"

    task_page = quality.get(response.headers["location"] + "&lang=en").text
    assert f"Run {run_id}: 3 read, 2 accepted" in task_page
    assert f'href="/ingestion/runs/{run_id}"' in task_page

    overview_fr = quality.get("/ingestion").text
    assert "Passes récentes" in overview_fr and stored.name in overview_fr
    reasons = html.unescape(overview_fr)
    assert (
        "exam_datetime: a value shaped '…' is not an ISO 8601 date-time" in reasons
    )  # values hidden
    assert BAD_DATE not in reasons
    assert 'action="/ingestion/upload"' in overview_fr
    assert "nodule-ct-export" in overview_fr  # a configured source

    run_page = quality.get(f"/ingestion/runs/{run_id}?lang=en").text
    assert "Quarantined rows of this file" in run_page
    assert re.search(r'<th scope="row" class="num">3</th>\s*<td>exam_datetime', run_page)
    assert BAD_DATE in run_page  # the value to fix, shown to quality
    assert "<code>device_id</code>" in run_page
    assert f'action="/ingestion/runs/{run_id}/reingest"' in run_page
    run_page_fr = quality.get(f"/ingestion/runs/{run_id}?lang=fr").text
    assert "Lignes en quarantaine de ce fichier" in run_page_fr

    stored.write_text(content.replace(BAD_DATE, "2025-11-04T10:00:00+01:00"), encoding="utf-8")
    response = quality.post(f"/ingestion/runs/{run_id}/reingest")
    assert response.headers["location"].startswith(f"/ingestion/runs/{run_id}?task=")
    snapshot = _finish(console, response)
    assert snapshot["status"] == "done", snapshot
    new_id = snapshot["result"]["run_id"]
    assert new_id != run_id
    assert snapshot["result"]["accepted"] == 1
    assert snapshot["result"]["duplicate"] == 2
    assert snapshot["result"]["quarantined"] == 0
    assert _predictions(console) == before + 3
    new_page = quality.get(f"/ingestion/runs/{new_id}?lang=en").text
    assert "No quarantined row." in new_page

    upload_entry = console.audit("console.upload")[0]
    assert upload_entry.actor == "Claire Martin (cmartin)"
    assert upload_entry.details["run_id"] == run_id
    assert upload_entry.details["file"] == "export nov.csv"
    assert upload_entry.details["source"] == "canonical"
    assert (upload_entry.details["accepted"], upload_entry.details["quarantined"]) == (2, 1)
    reingest_entry = console.audit("console.reingest")[0]
    assert reingest_entry.actor == "Claire Martin (cmartin)"
    assert reingest_entry.details["from_run"] == run_id
    assert reingest_entry.details["run_id"] == new_id
    assert reingest_entry.details["accepted"] == 1
    assert reingest_entry.entity_id == str(new_id)

    viewer = console.browser("viewer")
    viewer_overview = viewer.get("/ingestion").text
    assert f'href="/ingestion/runs/{run_id}"' in viewer_overview
    assert "<form" not in viewer_overview.split("</header>")[1]
    viewer_run = viewer.get(f"/ingestion/runs/{run_id}?lang=en").text
    assert "exam_datetime" in viewer_run and "<code>" not in viewer_run
    assert "<form" not in viewer_run.split("</header>")[1]
    assert viewer.post(f"/ingestion/runs/{run_id}/reingest").status_code == 403
    denied = viewer.post(
        "/ingestion/upload",
        {"kind": "predictions", "source": ""},
        files={"file": ("x.csv", content.encode(), "text/csv")},
    )
    assert denied.status_code == 403
    assert _predictions(console) == before + 3

    _no_identifiers(
        task_page, overview_fr, run_page, run_page_fr, new_page, viewer_overview, viewer_run
    )


def test_a_large_upload_reports_increasing_progress(console: Console) -> None:
    quality = console.browser("quality")
    rows = 30_000
    content = HEADER + "".join(_row(n) for n in range(10, 10 + rows))
    tasks: TaskRegistry = console.app.state.console.tasks
    calls: list[tuple[int, int]] = []
    start = tasks.start

    def recording_start(kind: str, owner: str, work: Callable[[Progress], Any]) -> str:
        def recorded(progress: Progress) -> Any:
            def record(done: int, total: int, message: str = "") -> None:
                calls.append((done, total))
                progress(done, total, message)

            return work(record)

        return start(kind, owner, recorded)

    tasks.start = recording_start  # type: ignore[method-assign]
    before = _predictions(console)
    began = time.monotonic()
    response = _upload(quality, content, name="big.csv")
    following = quality.get(response.headers["location"])
    assert following.status_code == 200
    assert 'data-task="' in following.text or "Voir la passe" in following.text
    snapshot = _finish(console, response)
    assert snapshot["status"] == "done", snapshot
    assert time.monotonic() - began < 90
    assert _predictions(console) == before + rows

    total = rows + 1  # the header line
    counted = [done for done, t in calls if t == total]
    assert counted[0] == 0 and counted[-1] == total
    assert counted == sorted(counted)
    assert len({d for d in counted if 0 < d < total}) >= 4  # chunks of 5,000 rows
    assert (snapshot["done"], snapshot["total"]) == (total, total)


def test_reingest_reads_a_moved_file_and_errors_are_clear(console: Console) -> None:
    quality = console.browser("quality")
    snapshot = _finish(console, _upload(quality, HEADER + _row(1) + _row(2, BAD_DATE)))
    run_id = snapshot["result"]["run_id"]
    stored = Path(_run(console, run_id).source_path)

    processed = stored.parent / "processed"
    processed.mkdir()
    stored.rename(processed / stored.name)
    page = quality.get(f"/ingestion/runs/{run_id}?lang=en").text
    assert "The service moved the file into processed/" in page
    snapshot = _finish(console, quality.post(f"/ingestion/runs/{run_id}/reingest"))
    assert snapshot["status"] == "done", snapshot
    assert (snapshot["result"]["accepted"], snapshot["result"]["duplicate"]) == (0, 1)

    (processed / stored.name).unlink()
    page = quality.get(f"/ingestion/runs/{run_id}?lang=en").text
    assert f"The file {stored.name} no longer exists" in page
    response = quality.post(f"/ingestion/runs/{run_id}/reingest?lang=en")
    assert response.status_code == 409
    assert f"The file {stored.name} no longer exists" in response.text

    wrong_kind = _upload(quality, HEADER + _row(5), source="ris-outcomes")
    assert wrong_kind.status_code == 400
    assert "contient des vérités terrain, pas des prédictions" in wrong_kind.text
    no_file = quality.post("/ingestion/upload", {"kind": "predictions", "source": ""})
    assert no_file.status_code == 400
    assert "Choisissez un fichier" in no_file.text

    with console.db.session.begin() as session:
        polled = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
        details = {"ingested": 2, "already": 0, "failed": 1, "stopped": False, "errors": []}
        session.add(
            JobRun(
                job="ingest",
                scheduled_for=polled,
                owner="test",
                status="success",
                started_at=polled,
                finished_at=polled,
                details=details,
            )
        )
    overview = quality.get("/ingestion?lang=en").text
    assert "Watched folders last polled: 2026-01-05 09:30 (succeeded)." in overview
    assert "2 file(s) ingested, 1 failed." in overview

    console.app.state.console.api.pseudonym_key = None
    refused = _upload(quality, HEADER + _row(6))
    assert refused.status_code == 409
    assert "clé de pseudonymisation" in refused.text
    assert not any(console.folder.glob("uploads/*-*"))  # nothing saved when refused

    _no_identifiers(page, response.text, refused.text)


def test_quarantined_rows_show_no_identifier_under_any_column_name(tmp_path: Path) -> None:
    mapping = SourceMapping(
        columns={"accession_number": "Accession", "study_instance_uid": "UID", "site": "Site"}
    )
    raw = {
        "Accession": "TSTACC0000042",
        "UID": "9.9.999.42",
        "patient_id": "hmac:0123",
        "Site": "CHU-Nord",
        "ExamDate": "2025-13-45",
        "unknown column": "free text",
    }
    assert shown_fields(raw, mapping) == [("Site", "CHU-Nord")]
    reason = "message 3 (TSTACC0000042, 9.9.999.42): exam_datetime '2025-13-45' is not valid"
    assert clean_reason(reason, raw, mapping) == (
        "message 3 (…, …): exam_datetime '2025-13-45' is not valid"
    )
    file = tmp_path / "rows.csv"
    file.write_bytes(b"a\n1\n2")
    assert count_lines(file) == 3
    file.write_bytes(b"")
    assert count_lines(file) == 0


def test_the_page_counts_the_outcomes_that_match_no_prediction(
    console: Console, tmp_path: Path
) -> None:
    from monitor.ingest import ingest_file

    viewer = console.browser("viewer")
    assert "Every outcome of the last 12 months matches a prediction." in (
        viewer.get("/ingestion?lang=en").text
    )
    now = datetime.now(UTC).isoformat(timespec="seconds")
    outcomes = tmp_path / "orphans.csv"
    outcomes.write_text(
        "accession_number,outcome,source,outcome_datetime,target\n"
        f"TSTACC0000001,negative,report,{now},lung_nodule\n"
        f"TSTACC0000002,positive,report,{now},lung_nodule\n"
        f"TSTACC0000003,negative,report,{now},\n",
        encoding="utf-8",
    )
    assert ingest_file(console.db, outcomes, "outcomes").accepted == 3
    page = viewer.get("/ingestion?lang=en").text
    section = page[page.index('id="unmatched"') : page.index('id="sources"')]
    month = datetime.now(UTC).astimezone(ZoneInfo(console.config.time.timezone)).strftime("%Y-%m")
    cells = r'<tr>\s*<th scope="row">(.*?)</th>\s*<td>(.*?)</td>\s*<td class="num">(.*?)</td>'
    rows = re.findall(cells, section)
    assert (month, "lung_nodule", "2") in rows and (month, "every target", "1") in rows
    _no_identifiers(section)
