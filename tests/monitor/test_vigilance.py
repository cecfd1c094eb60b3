"""Materiovigilance drafts on real databases: JSON, HTML and PDF in French and English
carry the finding's numbers, are marked DRAFT on every page, and are recorded and
audited; an unconfirmed finding gets none."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import select

from alerts.findings import FindingDraft
from monitor.audit import list_entries
from monitor.cli import cli
from monitor.errors import MonitorError
from monitor.findings import store_findings
from monitor.models import VigilanceDraft
from monitor.storage import Database
from monitor.vigilance import list_drafts, write_draft
from monitor.workflow import ActionInput, acknowledge, add_action, confirm

PARIS = ZoneInfo("Europe/Paris")
AS_OF = datetime(2025, 7, 27, 21, 59, 59, tzinfo=UTC)
NS = 1_000_000_000
EVIDENCE = {
    "chart": "cusum",
    "slice": "device_version=1.1, scanner_manufacturer=Fujifilm",
    "in_control_rate": 0.1,
    "cases_since_change": 54,
    "events_since_change": 20,
    "event_rate_since_change": 20 / 54,
    "event_rate_interval": [0.2543, 0.5037],
    "metric_since_change": 34 / 54,
    "metric_interval": [0.4963, 0.7457],
    "change_point_exam_ns": int(datetime(2025, 7, 21, 6, tzinfo=UTC).timestamp()) * NS,
    "versions_since_change": ["1.1"],
    "affected_cases": [f"case-{i}" for i in range(500, 520)],
    "affected_cases_total": 20,
}


def _finding(db: Database, *, confirmed: bool = True) -> int:
    draft = FindingDraft(
        device_id="frac",
        rule="cusum",
        severity="critical",
        metric="sensitivity",
        device_version="1.1",
        subgroup={"scanner_manufacturer": "Fujifilm"},
        window_start_ns=EVIDENCE["change_point_exam_ns"],
        window_end_ns=int(AS_OF.timestamp()) * NS,
        value=34 / 54,
        threshold=3.2,
        evidence=EVIDENCE,
    )
    with db.session.begin() as session:
        (finding,) = store_findings(session, [draft], AS_OF, PARIS)
        acknowledge(session, finding.id, user="Dr Lefèvre", comment="seen")
        if confirmed:
            confirm(session, finding.id, user="Dr Lefèvre", comment="malfunction confirmed")
            add_action(
                session,
                finding.id,
                ActionInput("contact_manufacturer", "Courriel <b>urgent</b> au fabricant", "CLMV"),
                user="Dr Lefèvre",
                comment="manufacturer told",
            )
        return finding.id


def _expected(lang: str) -> list[str]:
    """The figures of EVIDENCE as a draft in ``lang`` must print them."""
    decimal = "," if lang == "fr" else "."
    values = [EVIDENCE["metric_since_change"], *EVIDENCE["metric_interval"]]
    texts = [f"{v * 100:.1f}".replace(".", decimal) for v in values]
    return [*texts, str(EVIDENCE["cases_since_change"]), str(EVIDENCE["events_since_change"])]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and re.match(r"(https?:)?//", value):
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_json_html_and_pdf_drafts_carry_the_findings_numbers(
    registered: Database, tmp_path: Path
) -> None:
    finding_id = _finding(registered)
    for lang, banner in (("fr", "PROJET - NON ENVOYÉ"), ("en", "DRAFT - NOT SENT")):
        with registered.session.begin() as session:
            results = {
                fmt: write_draft(
                    session,
                    finding_id,
                    lang=lang,
                    fmt=fmt,
                    out=tmp_path / f"draft_{lang}.{fmt}",
                    user="Dr Lefèvre",
                    tz=PARIS,
                )
                for fmt in ("json", "html", "pdf")
            }
        exported = json.loads((tmp_path / f"draft_{lang}.json").read_text(encoding="utf-8"))
        numbers = exported["key_numbers"]
        assert numbers["observed"] == pytest.approx(EVIDENCE["metric_since_change"], abs=0)
        assert numbers["observed_interval"] == EVIDENCE["metric_interval"]
        assert numbers["exams"] == EVIDENCE["cases_since_change"]
        assert numbers["errors"] == EVIDENCE["events_since_change"]
        assert numbers["affected_cases_total"] == EVIDENCE["affected_cases_total"]
        assert exported["status"] == banner and exported["sent"] is False

        html = _Text()
        html.feed((tmp_path / f"draft_{lang}.html").read_text(encoding="utf-8"))
        html_text = _flat(" ".join(html.parts))
        assert html.external == []
        assert banner in html_text
        for figure in _expected(lang):
            assert figure in html_text, figure
        raw_html = (tmp_path / f"draft_{lang}.html").read_text(encoding="utf-8")
        assert "<b>urgent</b>" not in raw_html and "&lt;b&gt;urgent&lt;/b&gt;" in raw_html

        reader = PdfReader(tmp_path / f"draft_{lang}.pdf")
        pages = [page.extract_text() or "" for page in reader.pages]
        assert len(pages) >= 2
        assert all(banner in _flat(page) for page in pages)
        pdf_text = _flat(" ".join(pages))
        for figure in _expected(lang):
            assert figure in pdf_text, figure
        assert ("Déclarant" if lang == "fr" else "Reporter") in pdf_text
        assert "Lefèvre" in pdf_text and "case-500" in pdf_text

        for fmt, result in results.items():
            data = (tmp_path / f"draft_{lang}.{fmt}").read_bytes()
            assert result.sha256 == hashlib.sha256(data).hexdigest()

    with registered.session() as session:
        rows = session.scalars(select(VigilanceDraft).order_by(VigilanceDraft.id)).all()
        assert [(r.lang, r.format) for r in rows] == [
            (lang, fmt) for lang in ("fr", "en") for fmt in ("json", "html", "pdf")
        ]
        assert {r.created_by for r in rows} == {"Dr Lefèvre"}
        entries = list_entries(
            session, entity="finding", entity_id=str(finding_id), action_prefix="vigilance."
        )
        assert len(entries) == 6 and {e.action for e in entries} == {"vigilance.draft"}
        assert entries[0].details["sent"] is False
        assert len(list_drafts(session, PARIS, finding_id=finding_id)) == 6


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None and os.environ.get("CI") != "true",
    reason="pdftoppm (poppler-utils) not installed; with CI=true this fails instead",
)
def test_the_pdf_renders_to_an_image(registered: Database, tmp_path: Path) -> None:
    finding_id = _finding(registered)
    with registered.session.begin() as session:
        write_draft(
            session, finding_id, lang="fr", fmt="pdf", out=tmp_path / "d.pdf", user="qa", tz=PARIS
        )
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            str(tmp_path / "d.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    (image,) = tmp_path.glob("page*.png")
    assert image.stat().st_size > 5_000
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unconfirmed_finding_gets_no_draft(registered: Database, tmp_path: Path) -> None:
    finding_id = _finding(registered, confirmed=False)
    with (
        registered.session.begin() as session,
        pytest.raises(MonitorError, match="confirm it first"),
    ):
        write_draft(
            session, finding_id, lang="en", fmt="json", out=tmp_path / "d.json", user="qa", tz=PARIS
        )
    assert not (tmp_path / "d.json").exists()
    with registered.session() as session:
        assert list_drafts(session, PARIS) == []
    with registered.session.begin() as session, pytest.raises(MonitorError, match="--user"):
        write_draft(
            session, finding_id, lang="en", fmt="json", out=tmp_path / "d.json", user=" ", tz=PARIS
        )


def test_the_command_line_writes_and_lists_drafts(registered: Database, tmp_path: Path) -> None:
    finding_id = _finding(registered)
    url = registered.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    out = tmp_path / "draft.html"
    result = runner.invoke(
        cli,
        [
            "vigilance",
            "draft",
            str(finding_id),
            "--db",
            url,
            "--lang",
            "en",
            "--format",
            "html",
            "--out",
            str(out),
            "--user",
            "qa",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "NOT SENT" in result.output and out.is_file()
    listed = runner.invoke(cli, ["vigilance", "list", "--db", url, "--format", "json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert (row["finding_id"], row["lang"], row["format"]) == (finding_id, "en", "html")
    refused = runner.invoke(
        cli,
        [
            "vigilance",
            "draft",
            "999",
            "--db",
            url,
            "--out",
            str(tmp_path / "x.pdf"),
            "--user",
            "qa",
        ],
    )
    assert refused.exit_code == 1 and "no finding 999" in refused.output
