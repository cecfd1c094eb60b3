"""HTML and PDF renderings of the monthly report, and the files they are written to."""

from __future__ import annotations

import base64
import io
import itertools
import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pypdf import PdfReader

from monitor import report_render as rr
from monitor import report_texts as tx
from monitor.report_model import IncidentLine, MonthlyReport
from tests.monitor.report_sample import FRACTURE, sample_report

N = tx.NNBSP
SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


class _Page(HTMLParser):
    """What the tests look at in an HTML page: tags in order, attributes, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: list[tuple[dict[str, str | None], str]] = []
        self._row: list[str] | None = None
        self._row_attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._row, self._row_attrs = [], dict(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.rows.append((self._row_attrs, " ".join(self._row)))
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._row is not None:
            self._row.append(data.strip())


def _parse(html: bytes) -> _Page:
    page = _Page()
    page.feed(html.decode("utf-8"))
    return page


@pytest.fixture(scope="module")
def report() -> MonthlyReport:
    return sample_report()


@pytest.fixture(scope="module")
def html(report: MonthlyReport) -> dict[str, bytes]:
    return {lang: rr.render_html(report, lang) for lang in tx.LANGS}


@pytest.fixture(scope="module")
def pdf(report: MonthlyReport) -> dict[str, bytes]:
    return {lang: rr.render_pdf(report, lang) for lang in tx.LANGS}


# --- HTML --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", tx.LANGS)
def test_html_references_nothing_outside_the_file(html: dict[str, bytes], lang: str) -> None:
    page = _parse(html[lang])
    links = [
        value
        for _, attrs in page.tags
        for name, value in attrs.items()
        if name in ("src", "href") and value is not None
    ]
    assert links, "charts and lights are images"
    for link in links:
        if link.startswith("data:"):
            continue
        parsed = urlparse(link)
        assert not parsed.scheme and not parsed.netloc and not link.startswith("/"), link
    assert not {tag for tag, _ in page.tags} & {"script", "link", "iframe", "object"}
    text = html[lang].decode("utf-8")
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text


@pytest.mark.parametrize("lang", tx.LANGS)
def test_embedded_svgs_hold_no_url_but_their_namespaces(html: dict[str, bytes], lang: str) -> None:
    page = _parse(html[lang])
    svgs = [
        base64.b64decode((attrs["src"] or "").split(",", 1)[1])
        for tag, attrs in page.tags
        if tag == "img" and (attrs.get("src") or "").startswith("data:image/svg+xml;base64,")
    ]
    assert len(svgs) >= 5  # trend, cusum, two estimates, lights...
    for svg in svgs:
        urls = set(re.findall(rb"https?://[^\s\"'<>)]+", svg))
        assert {u.decode() for u in urls} <= SVG_NAMESPACES


def test_html_declares_its_language(html: dict[str, bytes]) -> None:
    for lang in tx.LANGS:
        page = _parse(html[lang])
        assert page.tags[0] == ("html", {"lang": lang})


def test_html_is_accessible(html: dict[str, bytes]) -> None:
    page = _parse(html["fr"])
    levels = [int(tag[1]) for tag, _ in page.tags if re.fullmatch(r"h[1-6]", tag)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
    assert all("scope" in attrs for tag, attrs in page.tags if tag == "th")
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert all("alt" in attrs for attrs in images)
    charts = [a for a in images if a.get("alt")]
    assert len(charts) >= 4 and all(len(a["alt"] or "") > 40 for a in charts)


def test_html_is_print_friendly_with_a_page_per_device(
    html: dict[str, bytes], report: MonthlyReport
) -> None:
    text = html["en"].decode("utf-8")
    assert "@media print" in text and "break-before: page" in text
    page = _parse(html["en"])
    sections = [attrs for tag, attrs in page.tags if tag == "section"]
    for device in report.devices:
        section = next(a for a in sections if a.get("id") == f"device-{device.device_id}")
        assert section.get("class") == "new-page"


def test_summary_comes_first_with_the_red_light_and_its_reason(
    html: dict[str, bytes], report: MonthlyReport
) -> None:
    summary = html["fr"].index(b'id="summary"')
    first_device = html["fr"].index(b'id="device-')
    assert summary < first_device
    part = _parse(b"<div " + html["fr"][summary:first_device])
    shown = " ".join(part.text)
    reason = tx.reason_text(report.devices[0].light.reasons[0], "fr")
    assert "rouge" in shown and reason in shown
    red_row = next(t for a, t in part.rows if "BoneView" in t)
    assert "rouge" in red_row and f"84,5{N}% [81,7–87,0]" in red_row


def test_flagged_subgroup_says_significant_gap_and_small_cells_are_marked(
    html: dict[str, bytes],
) -> None:
    for lang, gap, small in (
        ("fr", "écart significatif", "effectif insuffisant"),
        ("en", "significant gap", "too few cases"),
    ):
        rows = _parse(html[lang]).rows
        fuji = next((a, t) for a, t in rows if t.startswith("Fujifilm") and "points" in t)
        assert "flagged" in (fuji[0].get("class") or "")
        assert "⚠" in fuji[1] and gap in fuji[1]
        unknown = next((a, t) for a, t in rows if t.startswith("U "))
        assert "muted" in (unknown[0].get("class") or "") and small in unknown[1]
        healthy = next(t for a, t in rows if t.startswith("GE HealthCare"))
        assert gap not in healthy and small not in healthy


def test_french_and_english_differ_and_use_their_decimal_mark(html: dict[str, bytes]) -> None:
    fr, en = (" ".join(_parse(html[lang]).text) for lang in ("fr", "en"))
    assert fr != en
    assert f"84,5{N}%" in fr and "84.5%" not in fr
    assert "84.5%" in en and "84,5" not in en
    assert "Revue mensuelle de contrôle qualité" in fr and "août 2025" in fr
    assert "Monthly quality-control review" in en and "August 2025" in en


def test_html_shows_every_part_in_order(html: dict[str, bytes], report: MonthlyReport) -> None:
    text = " ".join(_parse(html["en"]).text)
    order = [
        "Summary",
        "Performance of the month",
        "12-month trend",
        "Subgroups",
        "Control charts",
        "Data drift",
        "Estimated and realised performance",
        "Findings of the month",
        "Materiovigilance drafts",
        "Case review",
        "Establishment: inventory of AI-based devices",
        "Sign-off",
        "About these figures",
    ]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    assert "no continuity plan recorded" in text and "no user training recorded" in text
    assert "Drafts are never sent automatically" in text
    assert "9f2c4e1ab7d0" in text and "9f2c4e1ab7d03" not in text
    assert rr.manifest_name(report) == "qc-report-2025-08-manifest.json"
    assert "qc-report-2025-08-manifest.json" in text
    for role in ("quality manager", "referent radiologist", "local materiovigilance"):
        assert role in text.lower()


def test_drift_report_is_a_relative_link(html: dict[str, bytes], report: MonthlyReport) -> None:
    hrefs = [a["href"] for tag, a in _parse(html["fr"]).tags if tag == "a" and a.get("href")]
    assert hrefs == [report.devices[0].drift_report]
    assert "Pas de période de référence" in html["fr"].decode("utf-8")


def test_html_escapes_what_it_is_given(report: MonthlyReport) -> None:
    hostile = replace(report.devices[0], name='<script>alert("x")</script> & co')
    page = rr.render_html(replace(report, devices=(hostile,)), "en")
    assert b"<script>" not in page and b"&lt;script&gt;" in page


def test_a_device_without_claim_says_so_and_contradicted_results_are_counted(
    report: MonthlyReport,
) -> None:
    line = replace(report.inventory[0], claimed_sensitivity=None, claimed_specificity=None)
    volume = replace(report.devices[0].volume, results_checked=400, results_contradicting=12)
    device = replace(report.devices[0], claims={}, volume=volume)
    page = rr.render_html(replace(report, devices=(device,), inventory=(line,)), "en")
    text = " ".join(_parse(page).text)
    assert "No claim" in text
    assert "AI results contradicting their score at the registry's threshold" in text
    assert "12 of 400 (3.0%)" in text


def test_named_reviewers_replace_the_blank_roles(report: MonthlyReport) -> None:
    named = rr.render_html(replace(report, reviewers=("Dr A. Martin", "M. B. Durand")), "fr")
    text = " ".join(_parse(named).text)
    assert "Dr A. Martin" in text and "M. B. Durand" in text
    assert "Responsable qualité" not in text


# --- PDF ---------------------------------------------------------------------------


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


@pytest.mark.parametrize(("lang", "figure"), [("fr", "84,5"), ("en", "84.5")])
def test_pdf_opens_with_a_summary_page_holding_the_key_figures(
    pdf: dict[str, bytes], report: MonthlyReport, lang: str, figure: str
) -> None:
    pages = _pages(pdf[lang])
    assert 4 <= len(pages) <= 12
    first = pages[0]
    assert figure in first and report.establishment in first
    assert tx.term(tx.LIGHT_WORDS, "red", lang) in first
    assert tx.term(tx.LIGHT_WORDS, "green", lang) in first
    assert "Veye Lung Nodules" in first
    assert "Sous-groupes" not in first and "Subgroups" not in first


@pytest.mark.parametrize("lang", tx.LANGS)
def test_every_pdf_page_has_header_and_numbered_footer(
    pdf: dict[str, bytes], report: MonthlyReport, lang: str
) -> None:
    pages = _pages(pdf[lang])
    word = tx.label("page", lang)
    for number, text in enumerate(pages, start=1):
        assert f"{word} {number}/{len(pages)}" in text
        assert report.establishment in text
        assert tx.label("title", lang) in text


def test_pdf_shows_each_device_subgroups_and_signoff(pdf: dict[str, bytes]) -> None:
    text = "\n".join(_pages(pdf["fr"]))
    for expected in (
        "Sous-groupes",
        "écart significatif",
        "effectif insuffisant",
        "aucun plan de continuité enregistré",
        "Décisions",
        "Correspondant local de",
        "qc-report-2025-08-manifest.json",
        "fabricant contacté",
    ):
        assert expected in text, expected
    assert text.index("BoneView Trauma") < text.index("Veye Lung Nodules (Aidence)")


def test_pdf_charts_are_vectors_and_metadata_deterministic(
    pdf: dict[str, bytes], report: MonthlyReport
) -> None:
    assert b"/Subtype /Image" not in pdf["fr"]
    reader = PdfReader(io.BytesIO(pdf["fr"]))
    assert reader.metadata is not None and reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.date() == report.generated.date()
    assert rr.render_pdf(report, "fr") == pdf["fr"]


def test_pdf_wraps_long_names_and_texts(report: MonthlyReport) -> None:
    long_name = "Détecteur " + "très-long-nom-sans-espace-" * 6 + " version expérimentale"
    device = replace(report.devices[0], name=long_name)
    line = replace(report.inventory[0], intended_purpose="Texte libre " * 120)
    data = rr.render_pdf(replace(report, devices=(device,), inventory=(line,)), "en")
    pages = _pages(data)
    assert 3 <= len(pages) <= 12
    assert "Texte libre" in "\n".join(pages)


# --- files -------------------------------------------------------------------------


def test_report_names_carry_month_device_and_language(report: MonthlyReport) -> None:
    assert rr.report_name(report, "fr", "pdf") == "qc-report-2025-08-fr.pdf"
    single = sample_report(devices=1)
    assert rr.report_name(single, "en", "html") == f"qc-report-2025-08-{FRACTURE}-en.html"
    assert rr.manifest_name(single) == f"qc-report-2025-08-{FRACTURE}-manifest.json"
    with pytest.raises(ValueError):
        rr.report_name(report, "fr", "docx")
    with pytest.raises(KeyError):
        rr.report_name(report, "it", "pdf")


def test_write_report_writes_the_named_files_and_nothing_else(tmp_path: Path) -> None:
    single = sample_report(devices=1, degraded=False)
    paths = rr.write_report(single, "en", ("html", "pdf"), tmp_path / "out")
    assert [p.name for p in paths] == [
        f"qc-report-2025-08-{FRACTURE}-en.html",
        f"qc-report-2025-08-{FRACTURE}-en.pdf",
    ]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(p.name for p in paths)
    assert paths[1].read_bytes().startswith(b"%PDF-")
    assert b'<html lang="en">' in paths[0].read_bytes()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report: MonthlyReport
) -> None:
    old = tmp_path / rr.report_name(report, "fr", "html")
    old.write_bytes(b"previous")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        rr.write_report(report, "fr", ("html",), tmp_path)
    assert old.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == [old.name]


def test_a_healthy_month_is_green_in_the_summary() -> None:
    healthy = sample_report(devices=1, degraded=False)
    first = " ".join(_pages(rr.render_pdf(healthy, "en"))[0].split())
    assert "Performance within the claimed values" in first
    assert "▼" not in first and "Finding #" not in first


def test_a_light_with_many_reasons_lists_the_first_and_counts_the_rest() -> None:
    report = sample_report()
    device = report.devices[0]
    many = replace(device.light, reasons=device.light.reasons * 5)
    report = replace(report, devices=(replace(device, light=many), *report.devices[1:]))
    hidden = len(many.reasons) - rr.MAX_REASONS
    assert hidden > 0
    text = " ".join(_parse(rr.render_html(report, "en")).text)
    assert f"and {hidden} more reasons" in text
    text_fr = " ".join(_parse(rr.render_html(report, "fr")).text)
    assert f"et {hidden} autres motifs" in text_fr


def test_the_findings_section_speaks_in_incidents_first(report: MonthlyReport) -> None:
    incident = IncidentLine(
        incident_id=12,
        severity="critical",
        summary={
            "fr": "Version 3.3.1 sur les images Fujifilm : sensibilité 63 % pour 91 % "
            "revendiqués, depuis le 2 août 2025, 24 fractures manquées",
            "en": "Version 3.3.1 on Fujifilm images: sensitivity 63% against 91% claimed, "
            "since 2 August 2025, 24 missed fractures <b>",
        },
        evidence={"fr": None, "en": "Also seen in 1 other slice(s) (1 finding(s)): all exams."},
        finding_ids=(12,),
    )
    device = replace(report.devices[0], incidents=(incident,))
    sample = replace(report, devices=(device, *report.devices[1:]))
    page = rr.render_html(sample, "en").decode("utf-8")
    section = page[page.index("Findings of the month") :]
    head = "Incident 12 (critical): Version 3.3.1 on Fujifilm images: sensitivity 63%"
    assert section.index(head) < section.index("Also seen in 1 other slice(s)")
    assert section.index("Also seen in") < section.index('class="group"')
    assert "<b>" not in section and "&lt;b&gt;" in section  # texts are escaped
    rows = re.findall(r'<th scope="rowgroup" class="group"[^>]*>([^<]*)</th>', section)
    assert rows[:2] == ["Incident 12 (critical)", "Other findings"]  # then the drift finding
    french = rr.render_html(sample, "fr").decode("utf-8")
    assert "Incident n°\u00a012 (critique) : Version 3.3.1 sur les images Fujifilm" in french
    assert rr.render_pdf(sample, "fr").startswith(b"%PDF")
