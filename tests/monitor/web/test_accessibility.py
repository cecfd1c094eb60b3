"""Accessibility of the console, checked on every main page as rendered: the page's
language, one h1, a skip link, every form field with its label, every image with
its text alternative, every table named and with header cells, every button named;
and the colours of text against their backgrounds meet WCAG 2.1 AA (4.5:1)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import monitor.web
from tests.monitor.web.conftest import Console

CSS = Path(monitor.web.__file__).parent / "static" / "console.css"
PAGES = (
    "/fleet?month=2025-08",
    "/devices/fracture-xr?month=2025-08",
    "/devices/fracture-xr/edit",
    "/findings",
    "/findings/11",
    "/review",
    "/months",
    "/months/2025-08",
    "/ingestion",
)


class _Page(HTMLParser):
    """What the checks need of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.h1 = 0
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.fields: list[dict[str, str | None]] = []
        self.images: list[dict[str, str | None]] = []
        self.tables: list[dict[str, object]] = []
        self.links: list[str] = []
        self.buttons: list[str] = []
        self._label_depth = 0
        self._button: list[str] | None = None
        self._table: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id"):
            self.ids.add(str(attr["id"]))
        if tag == "html":
            self.html_lang = attr.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self._label_depth += 1
            if attr.get("for"):
                self.label_for.add(str(attr["for"]))
        elif tag in ("input", "select", "textarea"):
            if attr.get("type") not in ("hidden", "submit"):
                self.fields.append({**attr, "_in_label": "1" if self._label_depth else None})
        elif tag == "img":
            self.images.append(attr)
        elif tag == "a" and attr.get("href"):
            self.links.append(str(attr["href"]))
        elif tag == "button":
            self._button = []
        elif tag == "table":
            self._table = {"named": bool(attr.get("aria-label")), "th": False}
            self.tables.append(self._table)
        elif tag == "caption" and self._table is not None:
            self._table["named"] = True
        elif tag == "th" and self._table is not None:
            self._table["th"] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip())
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)


def _check(html: str, path: str) -> None:
    page = _Page()
    page.feed(html)
    assert page.html_lang in ("fr", "en"), path
    assert page.h1 == 1, (path, page.h1)
    assert "#content" in page.links and "content" in page.ids, path
    for field in page.fields:
        labelled = (
            field["_in_label"] or field.get("aria-label") or field.get("id") in (page.label_for)
        )
        assert labelled, (path, field)
    for image in page.images:
        assert image.get("alt"), (path, image.get("src", "")[:40])
    for table in page.tables:
        assert table["named"] and table["th"], (path, table)
    assert all(page.buttons), (path, page.buttons)


def test_every_main_page_is_labelled_and_structured(console: Console) -> None:
    _check(console.anonymous().get("/login").text, "/login")
    admin = console.browser("admin")
    for path in PAGES:
        response = admin.get(path)
        assert response.status_code == 200, (path, response.status_code)
        _check(response.text, path)
    case = re.search(r'href="/review/(case-\d+)', admin.get("/findings/11").text)
    assert case is not None
    _check(admin.get(f"/review/{case.group(1)}").text, "/review/case")
    english = console.browser("viewer")
    english.get("/lang/en?next=/fleet")
    _check(english.get("/findings/11").text, "/findings/11 (en, viewer)")


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """The WCAG 2.1 contrast ratio of two ``#rrggbb`` colours."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_follows_the_wcag_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("name", ["ink", "muted", "accent", "red", "amber", "green", "grey"])
def test_text_colours_meet_aa_contrast_on_white_and_on_panels(name: str) -> None:
    palette = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text(encoding="utf-8")))
    for background in ("bg", "panel"):
        ratio = contrast(palette[name], palette[background])
        assert ratio >= 4.5, (name, background, round(ratio, 2))


def test_white_button_text_meets_aa_contrast() -> None:
    palette = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text(encoding="utf-8")))
    for name in ("accent", "red"):
        assert contrast("#ffffff", palette[name]) >= 4.5, name
