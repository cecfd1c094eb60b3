"""Rendering a console page: the Jinja2 templates, the request's language, the helpers
every template has (``t``, number and date formats, ``svg_src``, ``can``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor import report_texts as tx
from monitor.tokens import allows
from monitor.web.i18n import LANGS, translate
from monitor.web.sessions import Login

__all__ = [
    "LANG_COOKIE",
    "PageNotFound",
    "environment",
    "language",
    "page",
    "safe_next",
    "svg_src",
]

LANG_COOKIE = "dmn_lang"

NAV: tuple[tuple[str, str, str], ...] = (
    ("/fleet", "nav.fleet", "viewer"),
    ("/findings", "nav.findings", "viewer"),
    ("/review", "nav.review", "quality"),
    ("/months", "nav.months", "viewer"),
    ("/ingestion", "nav.ingestion", "viewer"),
)
"""The main navigation: path, text key, role needed to see it."""


class PageNotFound(Exception):
    """Raised by a page for an unknown device, finding, case or month: a 404 page
    showing the message (which must name no patient or exam)."""

    def __init__(self, login: Login | None, message: str) -> None:
        super().__init__(message)
        self.login = login


def environment() -> Environment:
    """The templates of :mod:`monitor.web` (autoescaped, undefined names are errors)."""
    return Environment(
        loader=PackageLoader("monitor.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def language(request: Request, login: Login | None) -> str:
    """``?lang=`` if given, else the language cookie, else the account's, else French."""
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        login.lang if login is not None else None,
    ):
        if candidate in LANGS:
            return str(candidate)
    return "fr"


def svg_src(svg: bytes) -> str:
    """An SVG document as a ``data:`` URI for ``<img src>`` (no request, allowed by the
    console's Content-Security-Policy)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def safe_next(target: str | None, default: str = "/fleet") -> str:
    """``target`` when it is a path of this site (``/...``, not ``//host``), else ``default``."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if value is None else value.astimezone(tz)


def helpers(lang: str, tz: ZoneInfo) -> dict[str, Callable[..., Any]]:
    """The formatting helpers of templates, bound to ``lang`` and the local timezone."""

    def moment(value: datetime | str | None) -> str:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return tx.moment(_local(value, tz), lang)

    def day(value: date | str | None) -> str:
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return tx.day(value, lang)

    return {
        "t": partial(translate_in, lang),
        "pct": lambda v, digits=1: tx.pct(v, lang, digits),
        "interval": lambda v, lo, hi, digits=1: tx.interval(v, lo, hi, lang, digits),
        "points": lambda v, digits=1: tx.points(v, lang, digits),
        "num": lambda n: tx.number(n, lang),
        "dec": lambda v, digits=1: tx.decimal(v, lang, digits),
        "pval": lambda p: tx.p_value(p, lang),
        "day": day,
        "moment": moment,
        "month_name": lambda d: tx.month_name(d, lang),
        "svg_src": svg_src,
        "quote": quote,
    }


def translate_in(lang: str, key: str, /, **fields: object) -> str:
    """:func:`monitor.web.i18n.translate` with the language first (for ``partial``)."""
    return translate(key, lang, **fields)


def page(
    request: Request,
    login: Login | None,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    title: str,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` (extending ``base.html``) for ``login``; ``title`` is a text
    key of :mod:`monitor.web.i18n` (the page's ``<title>`` and ``<h1>``)."""
    console = request.app.state.console
    lang = language(request, login)
    tz: ZoneInfo = console.api.tz
    values: dict[str, Any] = {
        **helpers(lang, tz),
        "lang": lang,
        "other_lang": "en" if lang == "fr" else "fr",
        "login": login,
        "csrf_token": login.csrf_token if login is not None else "",
        "path": request.url.path,
        "full_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "nav": [
            (path, key) for path, key, role in NAV if login is not None and allows(login.role, role)
        ],
        "can": (lambda role: login is not None and allows(login.role, role)),
        "title_key": title,
        **(context or {}),
    }
    html = console.templates.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
