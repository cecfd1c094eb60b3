"""Materiovigilance drafts in the database and on disk: gather, render, record.

``write_draft`` builds the draft of a confirmed finding (:mod:`alerts.vigilance`)
from the finding, its device's registry entry, its cases and its corrective
actions; renders it as JSON, HTML (self-contained, no external request) or PDF
(fpdf2 with the DejaVu fonts bundled with matplotlib, so accents print); writes
the file; records a :class:`~monitor.models.VigilanceDraft` row (SHA-256 of the
file, language, format, user) and the audit entry ``vigilance.draft``. Every
rendering says *DRAFT - NOT SENT* (on every page of a PDF): nothing is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.vigilance import (
    LANGS,
    TO_COMPLETE,
    DraftContent,
    DraftField,
    build_draft,
    draft_refusal,
    number_rows,
)
from monitor import audit
from monitor.errors import MonitorError
from monitor.files import write_atomic
from monitor.findings import finding_record, get_finding
from monitor.models import Device, VigilanceDraft
from monitor.review import case_summary, finding_cases
from monitor.timeutil import local_iso, utc_now
from monitor.workflow import action_record, covered_findings, list_actions

__all__ = [
    "FORMATS",
    "DraftResult",
    "draft_content",
    "draft_record",
    "list_drafts",
    "render",
    "render_html",
    "render_json",
    "render_pdf",
    "write_draft",
]

FORMATS = ("json", "html", "pdf")


@dataclass(frozen=True)
class DraftResult:
    """A draft written to ``path`` and recorded as vigilance draft ``draft_id``."""

    draft_id: int
    path: Path
    sha256: str
    lang: str
    format: str
    content: DraftContent


def draft_content(
    session: Session, finding_id: int, *, lang: str, tz: ZoneInfo, now: datetime | None = None
) -> DraftContent:
    """The draft of finding ``finding_id`` in ``lang``; MonitorError if it is not confirmed."""
    if lang not in LANGS:
        raise MonitorError(f"language {lang!r} is not one of {', '.join(LANGS)} (--lang)")
    finding = get_finding(session, finding_id)
    record = finding_record(finding, tz)
    refusal = draft_refusal(finding.status, record["confirmed_at"])
    if refusal is not None:
        raise MonitorError(f"finding {finding_id}: {refusal}")
    device = session.get(Device, finding.device_id)
    if device is None:  # the foreign key makes this a broken database, not a user error
        raise MonitorError(f"finding {finding_id} names device {finding.device_id!r}, unknown")
    spec = dict(device.spec or {})
    spec.setdefault("name", device.name)
    spec.setdefault("manufacturer", device.manufacturer)
    cases = case_summary(finding_cases(session, finding, tz))
    actions = [action_record(a) for a in list_actions(session, finding_id)]
    related = [finding_record(f, tz) for f in covered_findings(session, finding_id)]
    moment = (now or utc_now()).astimezone(tz).isoformat(timespec="seconds")
    return build_draft(
        record,
        spec,
        lang=lang,
        generated_at=moment,
        cases=cases,
        actions=actions,
        related=related,
    )


# --- JSON -------------------------------------------------------------------------------


def render_json(content: DraftContent) -> bytes:
    """The draft as indented UTF-8 JSON."""
    text = json.dumps(content.to_json(), indent=2, ensure_ascii=False, default=str)
    return (text + "\n").encode("utf-8")


# --- HTML -------------------------------------------------------------------------------

_HTML = """<!DOCTYPE html>
<html lang="{{ c.lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ c.banner }} - {{ c.title }}</title>
<style>
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 60rem;
       padding: 0 1.5rem 3rem; color: #111; line-height: 1.4; }
.banner { position: sticky; top: 0; background: #b00020; color: #fff; font-size: 2rem;
          font-weight: bold; text-align: center; padding: .6rem; letter-spacing: .1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; border-bottom: 2px solid #b00020; }
.notice { background: #fff3cd; border: 1px solid #e0c36c; padding: .6rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f1f1; width: 16rem; }
.todo { color: #b00020; font-weight: bold; }
.small { font-size: .85rem; color: #444; }
</style>
</head>
<body>
<div class="banner">{{ c.banner }}</div>
<h1>{{ c.title }}</h1>
<p class="small">{{ labels.finding }} {{ c.finding_id }} -
{{ labels.generated }} {{ c.generated_at }}</p>
<p class="notice">{{ c.notice }}</p>
<p class="small">{{ labels.to_complete_legend }}</p>
{% for section in c.ansm %}
<h2>{{ section.title }}</h2>
<table>
{% for f in section.fields %}
<tr><th>{{ f.label }}</th>
<td{% if f.value is none %} class="todo"{% endif %}>{{ shown(f, c) }}</td></tr>
{% endfor %}
</table>
{% endfor %}
<h2>{{ labels.description }}</h2>
{% for p in c.description %}<p>{{ p }}</p>
{% endfor %}
<h2>{{ labels.numbers }}</h2>
<table>
{% for label, text in numbers %}<tr><th>{{ label }}</th><td>{{ text }}</td></tr>
{% endfor %}
</table>
<h2>{{ labels.imdrf }}</h2>
<p class="small">{{ c.imdrf_note }}</p>
<table>
<tr><th>{{ labels.annex }}</th><th>{{ labels.code }}</th><th>{{ labels.term }}</th>
<th>{{ labels.why }}</th></tr>
{% for s in c.imdrf %}
<tr><td>{{ s.annex }}</td><td>{{ s.code or todo }} ({{ labels.suggestion }})</td>
<td>{{ s.term }}</td><td>{{ s.why }}</td></tr>
{% endfor %}
</table>
<h2>{{ labels.ai_act }}</h2>
<p class="small">{{ c.ai_act_note }}</p>
<table>
{% for d in c.ai_act %}
<tr><th>{{ d.article }}</th><td>{{ d.duty }}<br><em>{{ d.support }}</em></td></tr>
{% endfor %}
</table>
<h2>{{ labels.mir }}</h2>
<p class="small">{{ labels.mir_note }}</p>
<table>
{% for name, what in c.mir_outline %}<tr><th>{{ name }}</th><td>{{ what }}</td></tr>
{% endfor %}
</table>
<div class="banner">{{ c.banner }}</div>
</body>
</html>
"""

_ENV = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)


def render_html(content: DraftContent) -> bytes:
    """The draft as one self-contained HTML page (inline style, no script, no link)."""
    page = _ENV.from_string(_HTML).render(
        c=content,
        labels=content.labels,
        numbers=number_rows(content.numbers, content.lang),
        todo=TO_COMPLETE[content.lang],
        shown=_shown,
    )
    return page.encode("utf-8")


# --- PDF --------------------------------------------------------------------------------


def _font_paths() -> tuple[Path, Path]:
    """DejaVuSans and DejaVuSans-Bold as bundled with matplotlib."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    for path in (regular, bold):
        if not path.is_file():
            raise MonitorError(f"font {path} is missing: reinstall matplotlib (pip install -U)")
    return regular, bold


_RED = (176, 0, 32)


def _shown(field: DraftField, content: DraftContent) -> str:
    """A field as a rendering shows it (the description is shown as paragraphs below)."""
    if field.key == "description" and field.value is not None:
        return content.labels["see_description"]
    return field.text(content.lang)


def render_pdf(content: DraftContent) -> bytes:
    """The draft as an A4 PDF; the DRAFT marking is in the header, footer and watermark
    of every page."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace

    regular, bold = _font_paths()
    banner = content.banner
    footer = f"{banner} - {content.labels['finding']} {content.finding_id}"
    page_word = content.labels["page"]

    class DraftPDF(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", "B", 54)
            self.set_text_color(246, 214, 218)
            cx, cy = self.w / 2, self.h / 2
            with self.rotation(50, x=cx, y=cy):
                self.text(cx - self.get_string_width(banner) / 2, cy, banner)
            self.set_xy(self.l_margin, 6)
            self.set_fill_color(*_RED)
            self.set_text_color(255, 255, 255)
            self.set_font("DejaVu", "B", 13)
            self.cell(0, 8, banner, align="C", fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(3)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", "B", 8)
            self.set_text_color(*_RED)
            self.cell(0, 5, f"{footer} - {page_word} {self.page_no()}/{{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = DraftPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(content.generated_at))
    pdf.set_title(f"{banner} - {content.title}")
    pdf.set_author("dmn-monitor")
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(15, 12, 15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    todo_face = FontFace(emphasis="BOLD", color=_RED)
    head_face = FontFace(emphasis="BOLD", fill_color=(238, 238, 238))

    def para(
        text: str, size: float = 9.5, style: str = "", color: tuple[int, int, int] = (0, 0, 0)
    ) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.set_text_color(*color)
        pdf.multi_cell(width, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)

    def heading(text: str) -> None:
        pdf.ln(2)
        para(text, 12, "B", _RED)
        pdf.set_draw_color(*_RED)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
        pdf.ln(1.5)

    def pairs(rows: list[tuple[str, str, bool]]) -> None:
        pdf.set_font("DejaVu", "", 8.5)
        with pdf.table(
            col_widths=(55, width - 55),
            first_row_as_headings=False,
            text_align="LEFT",
            line_height=4.4,
            padding=1.2,
        ) as table:
            for label, text, missing in rows:
                row = table.row()
                row.cell(label, style=head_face)
                row.cell(text, style=todo_face if missing else None)
        pdf.ln(1)

    para(content.title, 13, "B")
    pdf.ln(1)
    para(
        f"{content.labels['finding']} {content.finding_id} - {content.labels['generated']} "
        f"{content.generated_at}",
        8.5,
        color=(80, 80, 80),
    )
    pdf.ln(1)
    para(content.notice, 9, "B")
    para(content.labels["to_complete_legend"], 8.5, color=_RED)
    for section in content.ansm:
        heading(section.title)
        pairs([(f.label, _shown(f, content), f.value is None) for f in section.fields])
    heading(content.labels["description"])
    for text in content.description:
        para(text)
        pdf.ln(1)
    heading(content.labels["numbers"])
    pairs([(label, text, False) for label, text in number_rows(content.numbers, content.lang)])
    heading(content.labels["imdrf"])
    para(content.imdrf_note, 8.5, color=(80, 80, 80))
    pdf.ln(1)
    pdf.set_font("DejaVu", "", 8.5)
    with pdf.table(
        col_widths=(18, 22, 60, width - 100),
        line_height=4.4,
        padding=1.2,
        headings_style=head_face,
        text_align="LEFT",
    ) as table:
        labels = content.labels
        table.row([labels["annex"], labels["code"], labels["term"], labels["why"]])
        for s in content.imdrf:
            table.row([s.annex, f"{s.code or TO_COMPLETE[content.lang]}", s.term, s.why])
    pdf.ln(1)
    heading(content.labels["ai_act"])
    para(content.ai_act_note, 8.5, color=(80, 80, 80))
    pdf.ln(1)
    pairs([(f"Art. {d.article}", f"{d.duty}\n→ {d.support}", False) for d in content.ai_act])
    heading(content.labels["mir"])
    para(content.labels["mir_note"], 8.5, color=(80, 80, 80))
    pdf.ln(1)
    pairs([(name, what, False) for name, what in content.mir_outline])
    return bytes(pdf.output())


_RENDERERS: dict[str, Callable[[DraftContent], bytes]] = {
    "json": render_json,
    "html": render_html,
    "pdf": render_pdf,
}


def render(content: DraftContent, fmt: str) -> bytes:
    """The draft rendered as ``fmt`` (json, html or pdf)."""
    if fmt not in _RENDERERS:
        raise MonitorError(f"format {fmt!r} is not one of {', '.join(FORMATS)} (--format)")
    return _RENDERERS[fmt](content)


# --- recording --------------------------------------------------------------------------


def write_draft(
    session: Session,
    finding_id: int,
    *,
    lang: str,
    fmt: str,
    out: str | Path,
    user: str,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> DraftResult:
    """Render the draft of a confirmed finding to ``out`` and record it (row + audit).

    Raises MonitorError when the finding is unknown or not confirmed, the language
    or format is unknown, or no user is named. The file is written before the
    caller's transaction commits.
    """
    if not user or not user.strip():
        raise MonitorError("a vigilance draft needs the name of the user making it (--user)")
    if fmt not in FORMATS:
        raise MonitorError(f"format {fmt!r} is not one of {', '.join(FORMATS)} (--format)")
    content = draft_content(session, finding_id, lang=lang, tz=tz, now=now)
    data = render(content, fmt)
    path = Path(out).resolve()
    if path.is_dir():
        raise MonitorError(f"--out {out} is a folder; give a file name, e.g. draft.{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    digest = hashlib.sha256(data).hexdigest()
    row = VigilanceDraft(
        finding_id=finding_id,
        lang=lang,
        format=fmt,
        sha256=digest,
        file_name=str(path),
        created_by=user.strip(),
        created_at=now or utc_now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=user.strip(),
        action="vigilance.draft",
        entity="finding",
        entity_id=str(finding_id),
        details={
            "draft_id": row.id,
            "lang": lang,
            "format": fmt,
            "sha256": digest,
            "file_name": path.name,
            "sent": False,
        },
    )
    return DraftResult(row.id, path, digest, lang, fmt, content)


def draft_record(draft: VigilanceDraft, tz: ZoneInfo) -> dict[str, Any]:
    """The JSON shape of a recorded draft."""
    return {
        "id": draft.id,
        "finding_id": draft.finding_id,
        "lang": draft.lang,
        "format": draft.format,
        "sha256": draft.sha256,
        "file_name": draft.file_name,
        "created_by": draft.created_by,
        "created_at": local_iso(draft.created_at, tz),
    }


def list_drafts(
    session: Session, tz: ZoneInfo, *, finding_id: int | None = None
) -> list[dict[str, Any]]:
    """Drafts produced, newest first, optionally of one finding."""
    query = select(VigilanceDraft).order_by(VigilanceDraft.id.desc())
    if finding_id is not None:
        query = query.where(VigilanceDraft.finding_id == finding_id)
    return [draft_record(d, tz) for d in session.scalars(query)]
