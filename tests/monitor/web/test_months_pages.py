"""The monthly review pages: months, a month's report, its writing and its sign-off."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from html import unescape
from typing import Any

from monitor.report_job import report_dir, write_monthly_report
from monitor.users import create_user
from tests.monitor.web.conftest import PASSWORD, REVIEWERS, Browser, Console

MONTH = "2025-06"


def _task_id(location: str) -> str:
    found = re.fullmatch(rf"/months/{MONTH}\?task=([A-Za-z0-9_-]+)", location)
    assert found is not None, location
    return found.group(1)


def _write(browser: Browser, console: Console) -> dict[str, Any]:
    """Write the month's report through the console's form; returns the finished task."""
    page = browser.get(f"/months/{MONTH}")
    assert f'action="/months/{MONTH}/generate"' in page.text
    response = browser.post(f"/months/{MONTH}/generate")
    assert response.status_code == 303
    task_id = _task_id(response.headers["location"])
    started = time.monotonic()
    running = browser.get(response.headers["location"])
    assert f'data-task="{task_id}"' in running.text
    tasks = console.app.state.console.tasks
    messages: list[str] = []
    while not tasks.wait(task_id, timeout=0.05):
        running_state = tasks.snapshot(task_id, "cmartin")
        assert running_state is not None and time.monotonic() - started < 300
        messages.append(running_state["message"])
    assert any(message.startswith("Gathering the") for message in messages), messages
    assert "Writing the French report…" in messages
    snapshot = tasks.snapshot(task_id, "cmartin")
    assert snapshot is not None
    assert snapshot["status"] == "done", snapshot["error"]
    assert snapshot["done"] == snapshot["total"] > 0
    assert snapshot["result"]["redirect"] == f"/months/{MONTH}?done=report"
    finished = browser.get(response.headers["location"])
    assert snapshot["result"]["message"] in finished.text
    return snapshot


def _sign(browser: Browser, comment: str = "") -> Any:
    browser.get(f"/months/{MONTH}")
    return browser.post(f"/months/{MONTH}/sign", {"comment": comment, "read": "yes"})


def test_writing_signing_and_locking_a_month(console: Console) -> None:
    quality = console.browser("quality")
    admin = console.browser("admin")
    for browser in (quality, admin):
        assert browser.client.get("/lang/en?next=/months").status_code == 303

    # Nothing written yet: no files, no sign form (there is nothing to sign).
    page = quality.get(f"/months/{MONTH}")
    assert page.status_code == 200
    assert "This month's report has not been written yet." in unescape(page.text)
    assert f'action="/months/{MONTH}/sign"' not in page.text
    assert "The report must be written before it is signed." in page.text

    snapshot = _write(quality, console)
    assert snapshot["result"]["message"] == "Report for June 2025 written: 5 file(s)."
    written = console.audit("report.monthly")
    assert written[0].actor == "Claire Martin (cmartin)"
    assert written[0].entity_id == MONTH

    # The files, with a view link for HTML and a download link for PDF.
    page = quality.get(f"/months/{MONTH}?done=report")
    assert "The report is written." in page.text
    names = set(re.findall(rf'href="/months/{MONTH}/files/([^"]+)"', page.text))
    assert {f"qc-report-{MONTH}-{x}" for x in ("fr.html", "en.html", "fr.pdf", "en.pdf")} <= names
    assert f"qc-report-{MONTH}-manifest.json" in names
    assert f"View qc-report-{MONTH}-en.html" in page.text
    assert f"Download qc-report-{MONTH}-fr.pdf" in page.text

    pdf = quality.get(f"/months/{MONTH}/files/qc-report-{MONTH}-fr.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment")
    html = quality.get(f"/months/{MONTH}/files/qc-report-{MONTH}-en.html")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"].startswith("inline")
    assert html.headers["content-security-policy"].startswith("sandbox;")
    assert "script-src" not in html.headers["content-security-policy"]
    assert "<!DOCTYPE html>" in html.text
    drift = sorted(name for name in names if name.endswith("-drift.html"))
    assert drift
    evidently = quality.get(f"/months/{MONTH}/files/{drift[0]}")
    assert evidently.status_code == 200
    assert evidently.headers["content-security-policy"].startswith("sandbox allow-scripts;")

    # The lights of the manifest, in words.
    manifest = json.loads(
        (report_dir(console.config) / f"qc-report-{MONTH}-manifest.json").read_text()
    )
    assert manifest["lights"]
    lights = page.text.split("Lights per device", 1)[1].split("Sign-off", 1)[0]
    for device, color in manifest["lights"].items():
        assert device in lights
        assert f"light-{color}" in lights

    # Claire Martin signs; her line shows it and her form is gone.
    page = quality.get(f"/months/{MONTH}")
    assert f"Sign as {REVIEWERS[0]}" in page.text
    missing_tick = quality.post(f"/months/{MONTH}/sign", {"comment": "ok"})
    assert missing_tick.status_code == 400
    assert "I have read the report" in missing_tick.text
    assert console.audit("report.signoff") == []
    response = _sign(quality, "Lu, rien à signaler")
    assert response.status_code == 303
    assert response.headers["location"] == f"/months/{MONTH}?done=signed"
    signoff = console.audit("report.signoff")
    assert [e.actor for e in signoff] == ["Claire Martin (cmartin)"]
    assert signoff[0].details["reviewer"] == REVIEWERS[0]
    page = quality.get(f"/months/{MONTH}")
    assert "Lu, rien à signaler" in page.text
    assert "Claire Martin (cmartin)" in page.text
    assert f'action="/months/{MONTH}/sign"' not in page.text
    assert "You have signed this month." in page.text
    assert console.audit("report.lock") == []
    again = quality.post(f"/months/{MONTH}/sign", {"comment": "", "read": "yes"})
    assert again.status_code == 409
    assert "signed the review of 2025-06 already" in again.text

    # Alice Durand signs last: the month locks.
    page = admin.get(f"/months/{MONTH}")
    assert f"Sign as {REVIEWERS[1]}" in page.text
    assert "1 reviewer(s) signed this report already" in page.text
    assert _sign(admin).status_code == 303
    lock = console.audit("report.lock")
    assert [e.actor for e in lock] == ["Alice Durand (adurand)"]
    page = admin.get(f"/months/{MONTH}")
    assert "Locked on " in page.text
    assert "by Claire Martin, Alice Durand" in page.text
    assert f'action="/months/{MONTH}/sign"' not in page.text
    assert f'action="/months/{MONTH}/generate"' not in page.text

    # Locked: writing the report again and signing again are refused.
    refused = admin.post(f"/months/{MONTH}/generate")
    assert refused.status_code == 409
    assert "The month is locked" in refused.text
    assert len(console.audit("report.monthly")) == 1
    refused = admin.post(f"/months/{MONTH}/sign", {"read": "yes"})
    assert refused.status_code == 409
    assert "locked" in refused.text

    # The list of months shows it, in French.
    months = quality.get("/months?lang=fr")
    assert months.status_code == 200
    row = months.text.split(f'href="/months/{MONTH}"', 1)[1].split("</tr>", 1)[0]
    assert "écrit" in row
    assert "2 sur 2" in row
    assert "verrouillé le " in row
    assert "par Claire Martin, Alice Durand" in row


def test_roles_refusals_and_unknown_paths(console: Console) -> None:
    write_monthly_report(
        console.db,
        console.config,
        date(2025, 6, 1),
        out_dir=report_dir(console.config),
        langs=("fr",),
        formats=("html",),
        user="test",
    )
    with console.db.session.begin() as session:
        create_user(
            session,
            "bpetit",
            full_name="Bruno Petit",
            role="quality",
            password=PASSWORD,
            actor="test",
        )

    # A viewer reads the months and the report, in French, but sees no form.
    viewer = console.browser("viewer")
    months = viewer.get("/months")
    assert months.status_code == 200
    listed = re.findall(r'href="/months/(\d{4}-\d{2})"', months.text)
    assert listed[0] == "2025-12" and listed[-1] == "2025-01"
    assert listed == sorted(listed, reverse=True)
    assert "Revue mensuelle" in months.text
    page = viewer.get(f"/months/{MONTH}")
    assert page.status_code == 200
    assert "<h1>Revue mensuelle\u00a0: juin 2025</h1>" in page.text
    assert "Voyants par dispositif" in page.text
    assert f"qc-report-{MONTH}-fr.html" in page.text
    assert f'action="/months/{MONTH}/' not in page.text
    assert not re.search(r"case-\d", page.text)
    assert viewer.post(f"/months/{MONTH}/sign", {"read": "yes"}).status_code == 403
    assert viewer.post(f"/months/{MONTH}/generate").status_code == 403
    assert console.audit("report.signoff") == []

    # A quality user who is not a named reviewer may write the report but not sign.
    other = _login(console, "bpetit")
    page = other.get(f"/months/{MONTH}")
    assert f'action="/months/{MONTH}/generate"' in page.text
    assert f'action="/months/{MONTH}/sign"' not in page.text
    assert "n'est pas un des relecteurs nommés" in unescape(page.text)
    refused = other.post(f"/months/{MONTH}/sign", {"read": "yes"})
    assert refused.status_code == 409
    assert "Bruno Petit (bpetit)" in refused.text
    assert "seuls eux signent" in refused.text
    assert console.audit("report.signoff") == []

    # Unknown months and files are 404, whoever asks.
    for path in (
        "/months/2024-01",
        "/months/2025-13",
        "/months/june",
        f"/months/{MONTH}/files/dmn-monitor.toml",
        f"/months/{MONTH}/files/qc-report-{MONTH}-en.html",
        f"/months/{MONTH}/files/qc-report-2025-07-fr.html",
        f"/months/{MONTH}/files/..%2Fdmn-monitor.toml",
        f"/months/{MONTH}/files/.hidden",
    ):
        assert viewer.get(path).status_code == 404, path
    assert viewer.get(f"/months/{MONTH}/files/qc-report-{MONTH}-fr.html").status_code == 200
    assert viewer.post("/months/2024-01/generate").status_code == 403
    assert other.post("/months/2024-01/generate").status_code == 404


def _login(console: Console, username: str) -> Browser:
    """A browser logged in as ``username`` (a user the test created)."""
    client = console.anonymous()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    response = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
    )
    assert response.status_code == 303
    browser = Browser(client, "quality")
    browser.get("/fleet")
    return browser
