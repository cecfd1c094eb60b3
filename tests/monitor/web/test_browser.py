"""The console in a real browser: Debian's Chromium, headless, driven by Playwright,
against `dmn-monitor serve` running as a process over the demo year.

The quality manager logs in with the keyboard, sees the degraded device flagged on
the fleet page, opens its finding, queues and reviews three of its cases, confirms
the malfunction, records a corrective action, downloads the vigilance draft, writes
the month's report (following its progress) and signs the month; the administrator
countersigns, which locks it. A viewer sees no case reference and no form, and is
refused the review. Every page is screenshotted (``DMN_SCREENSHOTS`` or
``test-artifacts/screenshots``); every request stays on the console's origin; every
action is in the audit log under the name of the user who took it.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it):
Playwright is used as a driver only, it downloads no browser.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from monitor.models import AuditEntry, Finding
from monitor.storage import open_database
from monitor.timeutil import utc_now
from tests.deploy import require_binary
from tests.monitor.replay import Replayed
from tests.monitor.serving import Served, start_serve
from tests.monitor.web.conftest import PASSWORD, REVIEWERS

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""No network of its own: Chromium's background connections would be refused here."""

ACCOUNTS = {
    "cmartin": ("quality", "Claire Martin", "fr"),
    "adurand": ("admin", "Alice Durand", "en"),
    "vlambert": ("viewer", "Victor Lambert", "fr"),
}
MONTH = "2025-08"


def _screenshot_dir() -> Path:
    folder = Path(
        os.environ.get("DMN_SCREENSHOTS")
        or Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Stack:
    """The served console, its database URL, and what the browser did."""

    served: Served
    url: str
    shots: Path
    started: datetime
    requests: list[str] = field(default_factory=list)

    def shot(self, page: Any, name: str) -> Path:
        """Save a full-page screenshot ``<name>.png`` and return its path."""
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000, path
        return path


def _create_users(config: Path, url: str, folder: Path) -> None:
    """The accounts, created as an administrator would: with the CLI."""
    for username, (role, full_name, lang) in ACCOUNTS.items():
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "users",
                "create",
                username,
                "--role",
                role,
                "--full-name",
                full_name,
                "--lang",
                lang,
                "--password-stdin",
                "--user",
                "it-admin",
                "--config",
                str(config),
                "--db",
                url,
            ],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            cwd=folder,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def stack(replayed_demo: Replayed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_binary("chromium")
    folder = tmp_path_factory.mktemp("console-browser")
    url = replayed_demo.copy_url(folder)
    config = folder / "dmn-monitor.toml"
    reviewers = ", ".join(f'"{r}"' for r in REVIEWERS)
    config.write_text(
        replayed_demo.config_path.read_text(encoding="utf-8")
        + f'\n[report]\nestablishment = "CH de démonstration"\nreviewers = [{reviewers}]\n',
        encoding="utf-8",
    )
    _create_users(config, url, folder)
    served = start_serve(config, url, folder, extra=("--no-scheduler",))
    try:
        served.wait_ready()
        yield Stack(served, url, _screenshot_dir(), utc_now())
    finally:
        code = served.stop()
        assert code == 0, served.log()


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Any]:
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=require_binary("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _page(stack: Stack, browser: Any, locale: str = "fr-FR") -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale=locale
    )
    page = context.new_page()
    page.on("request", lambda request: stack.requests.append(request.url))
    page.set_default_timeout(60_000)
    return page


def _log_in(stack: Stack, page: Any, username: str, target: str) -> None:
    """Log in from ``target`` (which sends to the login page) with the keyboard only."""
    page.goto(stack.served.url + target)
    assert "/login" in page.url
    # The user-name field has the focus when the page opens (autofocus).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'username'")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    path = target.split("?")[0]
    page.wait_for_url(lambda url: urlsplit(url).path == path)
    page.wait_for_load_state()


def _degraded_finding(stack: Stack) -> int:
    """The demo's critical CUSUM finding on fracture-xr 2.4.0 x Fujifilm (open until
    the first test confirms it)."""
    db = open_database(stack.url)
    try:
        with db.session() as session:
            found = session.scalars(
                select(Finding).where(
                    Finding.device_id == "fracture-xr",
                    Finding.rule == "cusum",
                    Finding.severity == "critical",
                    Finding.device_version == "2.4.0",
                )
            ).all()
            ids = [
                f.id for f in found if (f.subgroup or {}).get("scanner_manufacturer") == "Fujifilm"
            ]
    finally:
        db.dispose()
    assert ids, "the demo's degradation has no critical CUSUM finding"
    return min(ids)


def test_the_quality_team_reviews_the_degraded_device_and_signs_the_month(
    stack: Stack, browser: Any
) -> None:
    finding_id = _degraded_finding(stack)
    page = _page(stack, browser)
    page.goto(stack.served.url + "/login")
    stack.shot(page, "01-login")
    _log_in(stack, page, "cmartin", f"/fleet?month={MONTH}")

    # The fleet: the degraded device is flagged red, in words and not only in colour.
    row = page.locator("#device-fracture-xr")
    assert row.get_attribute("data-light") == "red"
    assert "rouge" in row.inner_text().lower()
    assert page.locator("#device-nodule-ct").get_attribute("data-light") != "red"
    stack.shot(page, "02-fleet")

    # Its findings, then the critical one.
    row.get_by_role("link", name=re.compile("en cours aujourd")).click()
    page.wait_for_url(re.compile(r"/findings\?device=fracture-xr"))
    stack.shot(page, "03-findings")
    page.locator(f'a[href="/findings/{finding_id}"]').first.click()
    page.wait_for_url(re.compile(rf"/findings/{finding_id}$"))
    assert page.locator("figure.chart img").count() >= 1
    stack.shot(page, "04-finding")

    # Acknowledge, then queue its discordant cases and review three of them.
    page.fill("#comment-acknowledge", "Vu en réunion qualité, revue des cas lancée.")
    page.get_by_role("button", name="Prendre en compte").click()
    page.wait_for_url(re.compile(rf"/findings/{finding_id}\?done="))
    page.get_by_role("button", name=re.compile("Mettre en revue les cas discordants")).click()
    page.wait_for_url(re.compile(rf"/findings/{finding_id}\?done="))
    page.locator(f'a[href="/review?finding={finding_id}"]').first.click()
    page.wait_for_url(re.compile(r"/review\?finding="))
    stack.shot(page, "05-review-queue")
    page.get_by_role("link", name="Commencer la revue").click()
    page.wait_for_url(re.compile(r"/review/case-\d+"))
    stack.shot(page, "06-review-case")
    reviewed = []
    for number, decision in enumerate(("positive", "positive", "skip"), start=1):
        reviewed.append(page.url.split("/review/")[1].split("?")[0])
        assert page.locator(".evidence").count() == 1, "the case shows its report's words"
        if decision == "skip":
            page.fill("#skip-comment", "Image de qualité insuffisante pour trancher.")
            page.get_by_role("button", name="Passer ce cas").click()
        else:
            page.get_by_label(re.compile("^Positif")).check()
            page.fill("#adjudicate-comment", f"Fracture visible en relecture ({number}).")
            page.get_by_role("button", name="Enregistrer la décision").click()
        page.wait_for_load_state()
    assert len(set(reviewed)) == 3
    page.goto(stack.served.url + f"/review?finding={finding_id}")
    assert page.locator("progress").count() >= 1
    stack.shot(page, "07-review-progress")

    # Confirm the malfunction, record an action, download the vigilance draft.
    page.goto(stack.served.url + f"/findings/{finding_id}")
    page.fill("#comment-confirm", "Perte de sensibilité confirmée sur les images Fujifilm.")
    page.get_by_role("button", name="Confirmer le dysfonctionnement").click()
    page.wait_for_url(re.compile(rf"/findings/{finding_id}\?done="))
    page.select_option("#action-kind", index=0)
    page.fill("#action-description", "Désactiver la version 2.4.0 sur les postes Fujifilm.")
    page.fill("#action-owner", "Service biomédical")
    page.fill("#action-comment", "Décidé avec le radiologue référent.")
    page.get_by_role("button", name="Enregistrer une action corrective").click()
    page.wait_for_url(re.compile(rf"/findings/{finding_id}\?done="))
    page.get_by_role("button", name="Préparer la déclaration de matériovigilance").click()
    page.wait_for_url(re.compile(rf"/findings/{finding_id}\?done="))
    with page.expect_download() as download_info:
        page.locator(f'a[href^="/findings/{finding_id}/vigilance/"]').first.click()
    draft = Path(download_info.value.path())
    assert draft.read_bytes().startswith(b"%PDF")
    stack.shot(page, "08-finding-confirmed")

    # The month: write its report, following the progress, then sign it.
    page.goto(stack.served.url + f"/months/{MONTH}")
    page.get_by_role("button", name="Écrire le rapport").click()
    page.wait_for_url(re.compile(r"\?task="))
    assert page.locator("progress").count() == 1
    stack.shot(page, "09-month-report-progress")
    page.wait_for_url(re.compile(r"done=report"), timeout=300_000)
    page.get_by_label("J'ai lu le rapport").check()
    page.fill("#sign-comment", "Relu en revue qualité mensuelle.")
    page.get_by_role("button", name="Signer la revue du mois").click()
    page.wait_for_url(re.compile(r"done=signed"))
    stack.shot(page, "10-month-signed")
    page.context.close()

    # The administrator countersigns (in English): the month is locked.
    admin = _page(stack, browser, locale="en-GB")
    _log_in(stack, admin, "adurand", f"/months/{MONTH}")
    admin.get_by_label("I have read the report").check()
    admin.get_by_role("button", name="Sign the month's review").click()
    admin.wait_for_url(re.compile(r"done=signed"))
    assert "Locked" in admin.locator("main").inner_text()
    assert admin.get_by_role("button", name="Write the report").count() == 0
    stack.shot(admin, "11-month-locked")
    admin.goto(stack.served.url + f"/devices/fracture-xr?month={MONTH}")
    assert admin.locator("figure.chart img").count() >= 2
    stack.shot(admin, "12-device")
    admin.goto(stack.served.url + "/ingestion")
    stack.shot(admin, "13-ingestion")
    admin.context.close()

    _check_audit(stack, finding_id)
    _check_requests(stack)


def test_a_viewer_sees_no_case_reference_and_cannot_act(stack: Stack, browser: Any) -> None:
    finding_id = _degraded_finding(stack)
    page = _page(stack, browser)
    _log_in(stack, page, "vlambert", f"/findings/{finding_id}")
    html = page.content()
    assert re.search(r"case-\d", html) is None
    assert page.locator("textarea").count() == 0
    buttons = [b.inner_text() for b in page.get_by_role("button").all()]
    assert buttons == ["Se déconnecter"]
    stack.shot(page, "14-viewer-finding")
    assert page.get_by_role("link", name="Revue des cas").count() == 0
    response = page.goto(stack.served.url + "/review")
    assert response is not None and response.status == 403
    stack.shot(page, "15-viewer-refused")
    page.context.close()
    _check_requests(stack)


def _check_audit(stack: Stack, finding_id: int) -> None:
    """Every step taken in the browser is in the audit log, under its user's name, and
    nothing was recorded under another name while the browser worked."""
    db = open_database(stack.url)
    try:
        with db.session() as session:
            entries = session.scalars(
                select(AuditEntry).where(AuditEntry.at >= stack.started).order_by(AuditEntry.id)
            ).all()
            seen = [(e.action, e.actor, e.entity_id) for e in entries]
    finally:
        db.dispose()
    claire, alice = "Claire Martin (cmartin)", "Alice Durand (adurand)"
    wanted = [
        ("user.login", claire),
        ("finding.acknowledge", claire),
        ("console.queue_cases", claire),
        ("case.adjudicate", claire),
        ("case.adjudicate", claire),
        ("case.skip", claire),
        ("finding.confirm", claire),
        ("finding.action_add", claire),
        ("vigilance.draft", claire),
        ("report.monthly", claire),
        ("report.signoff", claire),
        ("user.login", alice),
        ("report.signoff", alice),
        ("report.lock", alice),
    ]
    actions = [(action, actor) for action, actor, _ in seen]
    position = 0
    for step in wanted:
        assert step in actions[position:], (step, seen)
        position = actions.index(step, position) + 1
    names = {claire, alice, "Victor Lambert (vlambert)"}
    assert {actor for _, actor, _ in seen} <= names, seen
    finding_steps = [a for a, _, e in seen if a.startswith("finding.") and e == str(finding_id)]
    assert finding_steps[:2] == ["finding.acknowledge", "finding.confirm"]


def _check_requests(stack: Stack) -> None:
    """The browser asked nothing of any other origin."""
    outside = [
        url for url in stack.requests if not url.startswith((stack.served.url, "data:", "blob:"))
    ]
    assert not outside, outside
