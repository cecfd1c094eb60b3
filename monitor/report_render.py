"""Render a :class:`~monitor.report_model.MonthlyReport` as HTML or PDF, in French or
English, and write the files atomically.

Both formats show the same content in the same order, built once as a small layout
(parts, subsections and blocks of plain strings) by :func:`_layout`:

1. a one-page summary (one row per device: light, volume, sensitivity and
   specificity against the claim, findings active at month end, main reason) and the
   legend of the lights;
2. one part per device (volume, metrics, 12-month trend, subgroups, control charts,
   drift, estimated vs realised performance, findings and actions, vigilance drafts,
   case review), each starting on a new page;
3. the establishment's inventory of AI devices with its risk-analysis gaps;
4. a sign-off block and a "Decisions" box;
5. "About these figures" (data time, intervals, alpha and Holm, the manifest file).

The HTML is one self-contained file (inline CSS, charts as base64 SVG ``data:`` URIs,
no script, no external reference; the only link is the relative file name of the
saved drift report). The PDF is A4 portrait (fpdf2, DejaVu Sans from matplotlib),
charts as vectors, with a header and a "page X/Y" footer on every page; its metadata
are deterministic (creation date = ``report.generated``).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import jinja2

from monitor import report_plots
from monitor import report_texts as tx
from monitor.files import write_atomic
from monitor.report_model import (
    CusumPanel,
    DeviceMonth,
    FindingLine,
    IncidentLine,
    InventoryLine,
    MonthlyReport,
    TrendPoint,
)
from monitor.vigilance import _font_paths

__all__ = [
    "FORMATS",
    "cusum_figure",
    "estimate_figures",
    "manifest_name",
    "render",
    "render_html",
    "render_pdf",
    "report_name",
    "write_report",
]

FORMATS = ("html", "pdf")
MAX_REASONS = 6
"""Reasons of a light listed on a device's page; the rest are in its findings table."""
"""Formats :func:`write_report` writes."""

_ENDED = ("dismissed", "closed")
"""Statuses of a finding no longer worked on."""

# --- layout --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    """A table cell: lines of text, optionally a light (symbol + word) or a link."""

    lines: tuple[str, ...]
    light: str | None = None
    link: str | None = None
    bold: bool = False


@dataclass(frozen=True)
class _Row:
    """A table row; ``group`` makes it a row naming the group of the rows below it."""

    cells: tuple[_Cell, ...] = ()
    group: str | None = None
    muted: bool = False
    flagged: bool = False


@dataclass(frozen=True)
class _Table:
    headings: tuple[str, ...]
    rows: tuple[_Row, ...]
    widths: tuple[float, ...]
    row_headers: bool = True
    kind: str = "table"


@dataclass(frozen=True)
class _Pairs:
    """A two-column table: label (row header) and value."""

    rows: tuple[tuple[str, str], ...]
    kind: str = "pairs"


@dataclass(frozen=True)
class _Chart:
    svg: bytes
    alt: str
    caption: str | None = None
    kind: str = "chart"

    @property
    def uri(self) -> str:
        """The chart as a ``data:`` URI."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg).decode("ascii")


@dataclass(frozen=True)
class _Para:
    text: str
    style: Literal["", "note", "strong"] = ""
    link: str | None = None
    kind: str = "para"


@dataclass(frozen=True)
class _Bullets:
    """A list; an item may carry a light (symbol + word before its text)."""

    items: tuple[tuple[str | None, str], ...]
    kind: str = "bullets"


@dataclass(frozen=True)
class _Signoff:
    headings: tuple[str, ...]
    rows: tuple[tuple[str, str], ...]
    decisions: str
    kind: str = "signoff"


_Block = _Table | _Pairs | _Chart | _Para | _Bullets | _Signoff


@dataclass
class _Sub:
    title: str
    blocks: list[_Block] = field(default_factory=list)


@dataclass
class _Part:
    title: str
    anchor: str
    new_page: bool
    blocks: list[_Block] = field(default_factory=list)
    subs: list[_Sub] = field(default_factory=list)


@dataclass
class _Layout:
    lang: str
    title: str
    subtitle: str
    header: str
    meta: tuple[tuple[str, str], ...]
    parts: list[_Part]


def _c(*lines: str, light: str | None = None, link: str | None = None, bold: bool = False) -> _Cell:
    return _Cell(tuple(lines), light=light, link=link, bold=bold)


def _light_word(color: str, lang: str) -> str:
    return tx.term(tx.LIGHT_WORDS, color, lang)


def _vs_claim(dm: DeviceMonth, metric: str, lang: str) -> _Cell:
    """A metric of the month with its interval, and the claim on a second line."""
    line = next((m for m in dm.metrics if m.metric == metric), None)
    if line is None:
        return _c(tx.DASH)
    lines = [tx.interval(line.value, line.low, line.high, lang)]
    if line.claimed is not None:
        lines.append(f"{tx.label('claim_short', lang)} {tx.pct(line.claimed, lang)}")
    if line.below_claim:
        lines.append(tx.label("below_mark", lang))
    return _Cell(tuple(lines), bold=line.below_claim)


def _active(dm: DeviceMonth) -> int:
    return sum(1 for f in dm.findings if f.status not in _ENDED)


def _summary(report: MonthlyReport, lang: str) -> _Part:
    def t(key: str) -> str:
        return tx.label(key, lang)

    part = _Part(t("summary"), "summary", new_page=False)
    rows = []
    for dm in report.devices:
        reason = tx.reason_text(dm.light.reasons[0], lang) if dm.light.reasons else tx.DASH
        vol = dm.volume
        rows.append(
            _Row(
                (
                    _c(_light_word(dm.light.color, lang), light=dm.light.color),
                    _c(dm.name, dm.manufacturer),
                    _c(
                        f"{tx.number(vol.predictions, lang)} {t('exams')}",
                        f"{tx.number(vol.verified, lang)} {t('verified_short')}",
                    ),
                    _vs_claim(dm, "sensitivity", lang),
                    _vs_claim(dm, "specificity", lang),
                    _c(tx.number(_active(dm), lang)),
                    _c(reason),
                ),
                flagged=dm.light.color == "red",
            )
        )
    if rows:
        part.blocks.append(
            _Table(
                tuple(
                    t(k)
                    for k in (
                        "light",
                        "device",
                        "volume",
                        "sens_vs_claim",
                        "spec_vs_claim",
                        "open_findings",
                        "main_reason",
                    )
                ),
                tuple(rows),
                (17, 36, 22, 27, 27, 17, 44),
                row_headers=False,
            )
        )
    else:
        part.blocks.append(_Para(t("no_device"), "note"))
    if report.quarantined_without_device:
        n = tx.number(report.quarantined_without_device, lang)
        part.blocks.append(_Para(t("quarantined_without_device").format(n=n), "note"))
    legend = _Sub(t("legend"))
    legend.blocks.append(
        _Bullets(
            tuple((c, tx.term(tx.LIGHT_RULES, c, lang)) for c in ("red", "amber", "grey", "green"))
        )
    )
    legend.blocks.append(_Para(t("legend_note"), "note"))
    part.subs.append(legend)
    return part


def _trend_alt(dm: DeviceMonth, report: MonthlyReport, lang: str) -> str:
    bits = [tx.label("trend_alt", lang)]
    for metric in ("sensitivity", "specificity"):
        point = next((p for p in dm.trend.get(metric, ()) if p.month == report.month), None)
        if point is None:
            continue
        text = (
            f"{tx.capital(tx.term(tx.METRICS, metric, lang))} "
            f"{tx.month_name(report.month, lang)} : "
            if lang == "fr"
            else f"{tx.capital(tx.term(tx.METRICS, metric, lang))} "
            f"{tx.month_name(report.month, lang)}: "
        )
        text += tx.interval(point.value, point.low, point.high, lang)
        claim = dm.claims.get(metric)
        if claim is not None:
            text += f" ({tx.label('claim_short', lang)} {tx.pct(claim, lang)})"
        bits.append(text + ".")
    return " ".join(bits)


def _gap(gap: tuple[float | None, float | None, float | None], p: float | None, lang: str) -> _Cell:
    if gap[0] is None:
        return _c(tx.DASH)
    return _c(tx.points(gap[0], lang), f"(p = {tx.p_value(p, lang)})")


def _subgroups(dm: DeviceMonth, report: MonthlyReport, lang: str) -> _Sub:
    def t(key: str) -> str:
        return tx.label(key, lang)

    sub = _Sub(t("subgroups_title"))
    if not dm.subgroups:
        sub.blocks.append(_Para(t("no_subgroups"), "note"))
        return sub
    order: list[str] = []
    for line in dm.subgroups:
        if line.dimension not in order:
            order.append(line.dimension)
    rows: list[_Row] = []
    for dim in order:
        rows.append(_Row(group=tx.capital(tx.term(tx.DIMENSIONS, dim, lang))))
        for s in (line for line in dm.subgroups if line.dimension == dim):
            notes = []
            if s.flagged:
                metrics = ", ".join(tx.term(tx.METRICS, m, lang) for m in s.flagged)
                notes.append(f"{t('flag_symbol')} {t('significant_gap')} ({metrics})")
            if s.too_small:
                notes.append(t("too_small"))
            elif s.below_claim:
                metrics = ", ".join(tx.term(tx.METRICS, m, lang) for m in s.below_claim)
                notes.append(
                    f"{t('below_claim').lower()} : {metrics}"
                    if lang == "fr"
                    else f"{t('below_claim').lower()}: {metrics}"
                )
            rows.append(
                _Row(
                    (
                        _c(s.value),
                        _c(tx.number(s.n, lang)),
                        _c(tx.interval(*s.sensitivity, lang)),
                        _c(tx.interval(*s.specificity, lang)),
                        _gap(s.sensitivity_gap, s.sensitivity_p_adjusted, lang),
                        _gap(s.specificity_gap, s.specificity_p_adjusted, lang),
                        _c(*(notes or [""]), bold=bool(s.flagged)),
                    ),
                    muted=s.too_small,
                    flagged=bool(s.flagged),
                )
            )
    sub.blocks.append(
        _Table(
            (
                t("subgroup"),
                t("n"),
                tx.capital(tx.term(tx.METRICS, "sensitivity", lang)),
                tx.capital(tx.term(tx.METRICS, "specificity", lang)),
                t("gap_sens"),
                t("gap_spec"),
                t("note"),
            ),
            tuple(rows),
            (34, 13, 27, 27, 25, 25, 32),
        )
    )
    sub.blocks.append(_Para(t("subgroups_note").format(min_cases=report.min_cases), "note"))
    return sub


def cusum_figure(
    panel: CusumPanel,
    start: datetime,
    end: datetime,
    lang: str,
    *,
    name_finding: bool = True,
) -> tuple[bytes, str, str]:
    """A control chart of the report (the month ``start``..``end`` shaded): its SVG,
    alt text and caption in ``lang``; ``name_finding``: the caption names the finding
    its signal raised (the console links it instead)."""
    chart = tx.term(tx.RULES, panel.chart, lang) if panel.chart in tx.RULES else panel.chart
    signal = (
        tx.label("signal_at", lang).format(when=tx.moment(panel.signal_at, lang))
        if panel.signal_at is not None
        else tx.label("no_signal", lang)
    )
    if name_finding and panel.signal_at is not None and panel.finding_id is not None:
        signal += (
            f" (constat n°{tx.NBSP}{panel.finding_id})"
            if lang == "fr"
            else f" (finding #{panel.finding_id})"
        )
    fields = {
        "chart": chart,
        "metric": tx.term(tx.METRICS, panel.metric, lang),
        "slice": tx.slice_text(panel.slice_label, lang),
        "limit": tx.decimal(panel.limit, lang),
        "observations": tx.number(panel.observations, lang),
        "signal": signal,
    }
    svg = report_plots.cusum_chart(
        panel.times,
        panel.statistic,
        panel.limit,
        signal_at=panel.signal_at,
        month=(start, end),
        lang=lang,
    )
    alt = tx.capital(tx.label("cusum_alt", lang).format(**fields))
    caption = tx.capital(tx.label("cusum_caption", lang).format(**fields))
    return svg, alt, caption


def _cusum(dm: DeviceMonth, report: MonthlyReport, lang: str) -> _Sub:
    sub = _Sub(tx.label("cusum_title", lang))
    if not dm.cusum:
        sub.blocks.append(_Para(tx.label("no_cusum", lang), "note"))
        return sub
    for panel in dm.cusum:
        svg, alt, caption = cusum_figure(panel, report.start, report.end, lang)
        sub.blocks.append(_Chart(svg, alt=alt, caption=caption))
    return sub


def _drift(dm: DeviceMonth, lang: str) -> _Sub:
    def t(key: str) -> str:
        return tx.label(key, lang)

    sub = _Sub(t("drift_title"))
    if dm.drift:
        rows = tuple(
            _Row(
                (
                    _c(d.column),
                    _c(d.method),
                    _c(tx.decimal(d.score, lang, 3)),
                    _c(tx.decimal(d.threshold, lang, 3)),
                    _c(f"{t('flag_symbol')} {t('yes')}" if d.drift else t("no"), bold=d.drift),
                    _c(f"{tx.number(d.n_reference, lang)} / {tx.number(d.n_current, lang)}"),
                ),
                flagged=d.drift,
            )
            for d in dm.drift
        )
        sub.blocks.append(
            _Table(
                (t("column"), t("method"), t("score"), t("threshold"), t("drift"), t("n_ref_cur")),
                rows,
                (40, 30, 20, 20, 18, 32),
            )
        )
    if dm.drift_report is not None:
        sub.blocks.append(_Para(t("drift_report"), link=dm.drift_report))
    if dm.drift_note is not None:
        sub.blocks.append(_Para(dm.drift_note, "note"))
    if not dm.drift and dm.drift_note is None:
        sub.blocks.append(_Para(t("no_drift"), "note"))
    return sub


def estimate_figures(dm: DeviceMonth, lang: str) -> list[tuple[bytes, str]]:
    """The estimated-against-realised charts of a device (sensitivity, specificity):
    SVG and alt text in ``lang``; none when nothing was estimated."""
    figures = []
    if dm.estimates:
        months = [e.month for e in dm.estimates]
        for metric in ("sensitivity", "specificity"):
            svg = report_plots.estimate_chart(
                months,
                [getattr(e, f"estimated_{metric}") for e in dm.estimates],
                [getattr(e, f"realised_{metric}") for e in dm.estimates],
                [getattr(e, f"realised_{metric}_low") for e in dm.estimates],
                [getattr(e, f"realised_{metric}_high") for e in dm.estimates],
                metric=metric,
                lang=lang,
            )
            name = tx.term(tx.METRICS, metric, lang)
            figures.append((svg, tx.capital(tx.label("estimate_alt", lang).format(metric=name))))
    return figures


def _estimates(dm: DeviceMonth, lang: str) -> _Sub:
    sub = _Sub(tx.label("estimate_title", lang))
    for svg, alt in estimate_figures(dm, lang):
        sub.blocks.append(_Chart(svg, alt=alt))
    if dm.estimate_note is not None:
        sub.blocks.append(_Para(dm.estimate_note, "note"))
    if not dm.estimates and dm.estimate_note is None:
        sub.blocks.append(_Para(tx.label("no_estimate", lang), "note"))
    return sub


def _finding_row(f: FindingLine, lang: str) -> _Row:
    return _Row(
        (
            _c(str(f.finding_id)),
            _c(tx.day(f.detected, lang)),
            _c(tx.term(tx.RULES, f.rule, lang)),
            _c(tx.term(tx.METRICS, f.metric, lang) if f.metric else tx.DASH),
            _c(tx.slice_text(f.slice_label, lang)),
            _c(tx.term(tx.SEVERITIES, f.severity, lang), bold=f.severity == "critical"),
            _c(tx.term(tx.STATUSES, f.status, lang)),
            _c(*(f"{tx.day(d, lang)} {tx.term(tx.EVENTS, e, lang)}" for e, d in f.events))
            if f.events
            else _c(tx.DASH),
            _c(
                tx.term(tx.DISMISSAL_REASONS, f.dismissal_reason, lang)
                if f.dismissal_reason
                else tx.DASH
            ),
        ),
        flagged=f.severity == "critical",
    )


def _incident_head(incident: IncidentLine, lang: str) -> str:
    severity = tx.term(tx.SEVERITIES, incident.severity, lang)
    return tx.label("incident_head", lang).format(
        nbsp=tx.NBSP, id=incident.incident_id, severity=severity
    )


def _findings(dm: DeviceMonth, lang: str) -> _Sub:
    """The month's incidents in plain words, then its findings grouped under them."""

    def t(key: str) -> str:
        return tx.label(key, lang)

    sub = _Sub(t("findings_title"))
    if not dm.findings:
        sub.blocks.append(_Para(t("no_findings"), "note"))
    else:
        if dm.incidents:
            sub.blocks.append(_Para(t("incidents_note"), "note"))
        colon = " : " if lang == "fr" else ": "
        for incident in dm.incidents:
            head = _incident_head(incident, lang)
            sub.blocks.append(_Para(f"{head}{colon}{incident.summary[lang]}", "strong"))
            evidence = incident.evidence.get(lang)
            if evidence:
                sub.blocks.append(_Para(evidence))
        by_id = {f.finding_id: f for f in dm.findings}
        grouped: list[_Row] = []
        placed: set[int] = set()
        for incident in dm.incidents:
            grouped.append(_Row(group=_incident_head(incident, lang)))
            for fid in incident.finding_ids:
                if fid in by_id and fid not in placed:
                    grouped.append(_finding_row(by_id[fid], lang))
                    placed.add(fid)
        rest = [f for f in dm.findings if f.finding_id not in placed]
        if rest and dm.incidents:
            grouped.append(_Row(group=t("other_findings")))
        grouped += [_finding_row(f, lang) for f in rest]
        rows = tuple(grouped)
        sub.blocks.append(
            _Table(
                tuple(
                    t(k)
                    for k in (
                        "finding_no",
                        "detected",
                        "rule",
                        "metric",
                        "slice",
                        "severity",
                        "status_end",
                        "events",
                        "dismissal",
                    )
                ),
                rows,
                (8, 19, 18, 18, 22, 20, 19, 33, 23),
            )
        )
    sub.blocks.append(_Para(t("actions_title"), "strong"))
    if not dm.actions:
        sub.blocks.append(_Para(t("no_actions"), "note"))
    else:
        sub.blocks.append(
            _Table(
                (t("finding"), t("kind"), t("description"), t("owner"), t("due"), t("done")),
                tuple(
                    _Row(
                        (
                            _c(str(a.finding_id)),
                            _c(tx.term(tx.ACTION_KINDS, a.kind, lang)),
                            _c(a.description),
                            _c(a.owner),
                            _c(tx.day(a.due, lang)),
                            _c(tx.day(a.done, lang)),
                        )
                    )
                    for a in dm.actions
                ),
                (14, 26, 70, 28, 19, 19),
            )
        )
    return sub


def _vigilance(dm: DeviceMonth, lang: str) -> _Sub:
    def t(key: str) -> str:
        return tx.label(key, lang)

    sub = _Sub(t("vigilance_title"))
    if dm.vigilance:
        sub.blocks.append(
            _Table(
                (
                    t("draft"),
                    t("finding"),
                    t("date"),
                    t("language"),
                    t("format"),
                    t("sha"),
                    t("user"),
                ),
                tuple(
                    _Row(
                        (
                            _c(str(v.draft_id)),
                            _c(str(v.finding_id)),
                            _c(tx.moment(v.created, lang)),
                            _c(v.lang),
                            _c(v.fmt.upper()),
                            _c(v.sha256[:12]),
                            _c(v.user),
                        )
                    )
                    for v in dm.vigilance
                ),
                (16, 18, 32, 16, 16, 34, 28),
            )
        )
    else:
        sub.blocks.append(_Para(t("no_vigilance"), "note"))
    sub.blocks.append(_Para(t("never_sent"), "strong"))
    return sub


def _outcomes(dm: DeviceMonth, lang: str) -> _Sub | None:
    """The month's ground truth of the device: decided, not mentioned, uncertain,
    quarantined."""
    counts = dm.outcomes
    if counts is None:
        return None

    def t(key: str) -> str:
        return tx.label(key, lang)

    sub = _Sub(t("outcomes_title"))
    decided = (
        f"{tx.number(counts.decided, lang)} ({tx.number(counts.positive, lang)} / "
        f"{tx.number(counts.negative, lang)})"
    )
    sub.blocks.append(
        _Pairs(
            (
                (t("outcomes_decided"), decided),
                (t("outcomes_unmentioned"), tx.number(counts.unmentioned, lang)),
                (t("outcomes_policy"), tx.term(tx.UNMENTIONED_POLICIES, counts.policy, lang)),
                (t("outcomes_uncertain"), tx.number(counts.uncertain, lang)),
                (t("outcomes_quarantined"), tx.number(counts.quarantined, lang)),
            )
        )
    )
    sub.blocks.append(_Para(t("outcomes_note"), "note"))
    return sub


def _device(dm: DeviceMonth, report: MonthlyReport, lang: str) -> _Part:
    def t(key: str) -> str:
        return tx.label(key, lang)

    part = _Part(f"{dm.name} ({dm.manufacturer})", f"device-{dm.device_id}", new_page=True)
    shown = dm.light.reasons[:MAX_REASONS]
    bullets = [
        (dm.light.color if i == 0 else None, tx.reason_text(r, lang)) for i, r in enumerate(shown)
    ]
    hidden = len(dm.light.reasons) - len(shown)
    if hidden > 0:
        bullets.append((None, t("more_reasons").format(n=hidden)))
    part.blocks.append(_Bullets(tuple(bullets) or ((dm.light.color, tx.DASH),)))
    vol = dm.volume
    delay = (
        tx.DASH
        if vol.median_label_delay_days is None
        else f"{tx.decimal(vol.median_label_delay_days, lang)} {t('days')}"
    )
    volume = _Sub(t("volume_title"))
    volume.blocks.append(
        _Pairs(
            (
                (t("versions"), ", ".join(dm.versions) or tx.DASH),
                (t("predictions"), tx.number(vol.predictions, lang)),
                (t("verified"), tx.number(vol.verified, lang)),
                (t("pending"), tx.number(vol.pending, lang)),
                (t("excluded"), tx.number(vol.excluded, lang)),
                (t("verification_rate"), tx.pct(vol.verification_rate, lang)),
                (t("median_delay"), delay),
                (t("last_prediction"), tx.moment(vol.last_prediction, lang)),
                *(
                    (
                        (
                            t("contradicting"),
                            t("contradicting_of").format(
                                n=tx.number(vol.results_contradicting, lang),
                                checked=tx.number(vol.results_checked, lang),
                                share=tx.pct(vol.results_contradicting / vol.results_checked, lang),
                            ),
                        ),
                    )
                    if vol.results_checked
                    else ()
                ),
            )
        )
    )
    outcomes = _outcomes(dm, lang)
    metrics = _Sub(t("metrics_title"))
    metrics.blocks.append(
        _Table(
            (t("metric"), t("value_ci"), t("n"), t("claimed"), t("p_below"), t("below_claim")),
            tuple(
                _Row(
                    (
                        _c(tx.capital(tx.term(tx.METRICS_LONG, m.metric, lang))),
                        _c(tx.interval(m.value, m.low, m.high, lang), bold=m.below_claim),
                        _c(tx.number(m.n, lang)),
                        _c(tx.pct(m.claimed, lang)),
                        _c(tx.p_value(m.p_value, lang)),
                        _c(
                            t("below_mark")
                            if m.below_claim
                            else (t("no") if m.claimed is not None else t("no_claim")),
                            bold=m.below_claim,
                        ),
                    ),
                    flagged=m.below_claim,
                )
                for m in dm.metrics
            ),
            (50, 36, 16, 20, 22, 36),
        )
    )
    metrics.blocks.append(_Para(t("metrics_note"), "note"))
    trend = _Sub(t("trend_title"))
    series: dict[str, Sequence[TrendPoint]] = {
        m: dm.trend[m] for m in ("sensitivity", "specificity") if m in dm.trend
    }
    if series:
        svg = report_plots.trend_chart(series, dm.claims, highlight=report.month, lang=lang)
        trend.blocks.append(_Chart(svg, alt=_trend_alt(dm, report, lang)))
    else:
        trend.blocks.append(_Para(t("no_trend"), "note"))
    review = _Sub(t("review_title"))
    r = dm.review
    review.blocks.append(
        _Pairs(
            tuple(
                (t(k), tx.number(v, lang))
                for k, v in (
                    ("queued", r.queued),
                    ("adjudicated", r.adjudicated),
                    ("skipped", r.skipped),
                    ("waiting", r.waiting),
                    ("changed", r.changed),
                )
            )
        )
    )
    part.subs = [
        volume,
        *([outcomes] if outcomes is not None else []),
        metrics,
        trend,
        _subgroups(dm, report, lang),
        _cusum(dm, report, lang),
        _drift(dm, lang),
        _estimates(dm, lang),
        _findings(dm, lang),
        _vigilance(dm, lang),
        review,
    ]
    return part


def _inventory_pairs(line: InventoryLine, lang: str) -> _Pairs:
    def t(key: str) -> str:
        return tx.label(key, lang)

    def join(values: Sequence[str]) -> str:
        return ", ".join(values) or tx.DASH

    claimed = (
        f"{tx.term(tx.METRICS, 'sensitivity', lang)} {tx.pct(line.claimed_sensitivity, lang)}, "
        f"{tx.term(tx.METRICS, 'specificity', lang)} {tx.pct(line.claimed_specificity, lang)}"
        if line.claimed_sensitivity is not None or line.claimed_specificity is not None
        else tx.capital(t("no_claim"))
    )
    risk = (
        t("risk_complete")
        if not line.risk_missing
        else "\n".join(f"• {tx.term(tx.RISK_MISSING, k, lang)}" for k in line.risk_missing)
    )
    return _Pairs(
        (
            (t("manufacturer"), line.manufacturer),
            (t("model"), line.model or tx.DASH),
            (t("ce_class"), line.ce_class or tx.DASH),
            (t("udi_di"), line.udi_di or tx.DASH),
            (t("versions"), join(line.versions)),
            (t("departments"), join(line.departments)),
            (t("sites"), join(line.sites)),
            (t("in_service"), tx.day(line.date_in_service, lang)),
            (t("intended_purpose"), line.intended_purpose or tx.DASH),
            (t("ai_based"), t("yes") if line.ai_based else t("no")),
            (tx.label("claimed_perf", lang), claimed),
            (t("risk_analysis"), risk),
        )
    )


def _about(report: MonthlyReport, lang: str) -> str:
    method = report.interval_method
    text = tx.label("about", lang).format(
        as_of=tx.moment(report.as_of, lang),
        timezone=report.timezone,
        confidence=tx.pct(report.confidence, lang, 0),
        alpha=tx.decimal(report.alpha, lang, 2),
        min_cases=tx.number(report.min_cases, lang),
        manifest=manifest_name(report),
    )
    if method != "wilson":
        text = text.replace("Wilson", method)
    return text


def _layout(report: MonthlyReport, lang: str) -> _Layout:
    """The report as parts and blocks of plain strings in ``lang``."""

    def t(key: str) -> str:
        return tx.label(key, lang)

    month = tx.month_name(report.month, lang)
    parts = [_summary(report, lang)]
    parts += [_device(dm, report, lang) for dm in report.devices]
    establishment = _Part(
        t("inventory_part"),
        "inventory",
        new_page=True,
    )
    if not report.inventory:
        establishment.blocks.append(_Para(t("no_inventory"), "note"))
    for line in report.inventory:
        establishment.subs.append(_Sub(line.name, [_inventory_pairs(line, lang)]))
    parts.append(establishment)
    if report.reviewers:
        people = tuple((name, "") for name in report.reviewers)
    else:
        people = tuple(("", tx.capital(tx.term(tx.ROLES, k, lang))) for k in tx.ROLES)
    parts.append(
        _Part(
            t("signoff_title"),
            "signoff",
            new_page=True,
            blocks=[
                _Signoff((t("name"), t("role"), t("date"), t("signature")), people, t("decisions"))
            ],
        )
    )
    parts.append(_Part(t("about_title"), "about", False, blocks=[_Para(_about(report, lang))]))
    return _Layout(
        lang=lang,
        title=f"{t('title')} - {month}",
        subtitle=t("subtitle"),
        header=" - ".join(x for x in (report.establishment, month, t("title")) if x),
        meta=(
            (t("establishment"), report.establishment or t("establishment_not_set")),
            (t("month"), month),
            (t("as_of"), tx.moment(report.as_of, lang)),
            (t("generated"), tx.moment(report.generated, lang)),
        ),
        parts=parts,
    )


# --- HTML ----------------------------------------------------------------------------

_COLORS = {"green": "#1b7a35", "amber": "#b35900", "red": "#b00020", "grey": "#666666"}
_RGB = {"green": (27, 122, 53), "amber": (179, 89, 0), "red": (176, 0, 32), "grey": (102, 102, 102)}

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ L.lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ L.title }} - {{ L.meta[0][1] }}</title>
<style>
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; font-size: 10.5pt;
  color: #111; max-width: 60em; margin: 1.5em auto; padding: 0 1em; line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 .2em; }
h2 { font-size: 14pt; border-bottom: 2px solid #333; padding-bottom: .15em; margin-top: 1.6em; }
h3 { font-size: 11.5pt; margin: 1.2em 0 .4em; }
p.subtitle { color: #444; margin-top: 0; }
p.note { color: #444; font-size: 9pt; }
p.strong { font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; font-size: 9pt; }
th, td { border: 1px solid #999; padding: .25em .4em; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
thead th { background: #e8e8e8; }
th[scope=row] { font-weight: normal; }
table.pairs th[scope=row] { background: #f3f3f3; width: 35%; }
tbody th.group { background: #f0f0f0; font-weight: bold; }
tr.flagged td, tr.flagged th { background: #fdecee; }
tr.muted td, tr.muted th { color: #888; }
.bold { font-weight: bold; }
.light { white-space: nowrap; font-weight: bold; }
.light img { vertical-align: -3px; margin-right: .25em; }
.c-green { color: #1b7a35; } .c-amber { color: #b35900; } .c-red { color: #b00020; }
.c-grey { color: #666; }
figure { margin: .5em 0 1em; }
figure img { width: 100%; height: auto; }
figcaption { font-size: 9pt; color: #333; }
ul.reasons { padding-left: 1.2em; }
.signoff td { height: 3.2em; }
.decisions { border: 1px solid #555; min-height: 10em; padding: .4em;
  background: repeating-linear-gradient(to bottom, transparent 0, transparent 1.9em,
  #bbb 1.9em, #bbb 2em); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1em 1em; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
@media print {
  body { max-width: none; margin: 0; font-size: 9.5pt; }
  section.new-page { break-before: page; page-break-before: always; }
  figure, tr, .signoff, .decisions { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  a { color: inherit; }
}
@page { size: A4 portrait; margin: 14mm 12mm; }
</style>
</head>
<body>
{%- macro light(color) -%}
<span class="light c-{{ color }}">
{#- line break for length -#}
<img alt="" src="{{ lights[color] }}" width="14" height="14">{{ words[color] }}</span>
{%- endmacro -%}
{%- macro cell(c) -%}
{%- if c.light %}{{ light(c.light) }}{% else -%}
{%- if c.bold %}<span class="bold">{% endif -%}
{%- for line in c.lines %}{{ line }}{% if not loop.last %}<br>{% endif %}{% endfor -%}
{%- if c.bold %}</span>{% endif -%}
{%- endif -%}
{%- endmacro -%}
{%- macro block(b) -%}
{%- if b.kind == "table" %}
<table>
<thead><tr>{% for h in b.headings %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for r in b.rows %}
{%- if r.group %}
<tr><th scope="rowgroup" class="group" colspan="{{ b.headings|length }}">{{ r.group }}</th></tr>
{%- else %}
<tr{% if r.flagged or r.muted %} class="
{%- if r.flagged %}flagged{% endif %}{% if r.muted %} muted{% endif %}"{% endif %}>
{%- for c in r.cells -%}
{%- if loop.first and b.row_headers %}<th scope="row">{{ cell(c) }}</th>
{%- else %}<td>{{ cell(c) }}</td>{% endif -%}
{%- endfor -%}
</tr>
{%- endif %}
{%- endfor %}
</tbody>
</table>
{%- elif b.kind == "pairs" %}
<table class="pairs"><tbody>
{%- for k, v in b.rows %}
<tr><th scope="row">{{ k }}</th><td>
{%- for line in v.split("\n") %}{{ line }}{% if not loop.last %}<br>{% endif %}{% endfor -%}
</td></tr>
{%- endfor %}
</tbody></table>
{%- elif b.kind == "chart" %}
<figure><img alt="{{ b.alt }}" src="{{ b.uri }}">
{%- if b.caption %}<figcaption>{{ b.caption }}</figcaption>{% endif %}</figure>
{%- elif b.kind == "para" %}
{%- if b.link %}
<p>{{ b.text }}<a href="{{ b.link }}">{{ b.link }}</a></p>
{%- else %}
<p{% if b.style %} class="{{ b.style }}"{% endif %}>{{ b.text }}</p>
{%- endif %}
{%- elif b.kind == "bullets" %}
<ul class="reasons">
{%- for color, text in b.items %}
<li>{% if color %}{{ light(color) }} {% endif %}{{ text }}</li>
{%- endfor %}
</ul>
{%- elif b.kind == "signoff" %}
<table class="signoff">
<thead><tr>{% for h in b.headings %}<th scope="col">{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for name, role in b.rows %}
<tr><td>{{ name }}</td><td>{{ role }}</td><td></td><td></td></tr>
{%- endfor %}
</tbody></table>
<h3>{{ b.decisions }}</h3>
<div class="decisions" role="region" aria-label="{{ b.decisions }}"></div>
{%- endif %}
{%- endmacro %}
<header>
<h1>{{ L.title }}</h1>
<p class="subtitle">{{ L.subtitle }}</p>
<dl class="meta">
{%- for k, v in L.meta %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}
</dl>
</header>
<main>
{%- for part in L.parts %}
<section id="{{ part.anchor }}"{% if part.new_page %} class="new-page"{% endif %}>
<h2>{{ part.title }}</h2>
{%- for b in part.blocks %}{{ block(b) }}{% endfor %}
{%- for sub in part.subs %}
<h3>{{ sub.title }}</h3>
{%- for b in sub.blocks %}{{ block(b) }}{% endfor %}
{%- endfor %}
</section>
{%- endfor %}
</main>
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def render_html(report: MonthlyReport, lang: str) -> bytes:
    """The report as one self-contained HTML file (UTF-8), in ``lang`` ("fr" or "en");
    KeyError for another language."""
    layout = _layout(report, lang)
    lights = {
        c: "data:image/svg+xml;base64,"
        + base64.b64encode(report_plots.traffic_light_svg(c, size_px=14)).decode("ascii")
        for c in tx.LIGHT_WORDS
    }
    words = {c: _light_word(c, lang) for c in tx.LIGHT_WORDS}
    text = _ENV.from_string(_TEMPLATE).render(L=layout, lights=lights, words=words)
    return text.encode("utf-8")


# --- PDF -----------------------------------------------------------------------------

_HEAD_FILL = (232, 232, 232)
_GROUP_FILL = (242, 242, 242)
_FLAG_FILL = (253, 236, 238)
_MUTED = (140, 140, 140)
_WHITE = (255, 255, 255)
_DARK = (60, 60, 60)


def _svg_size(svg: bytes) -> tuple[float, float]:
    """Width and height of an SVG in its own units (from the viewBox, else width/height)."""
    head = svg[:2000].decode("utf-8", "replace")
    box = re.search(r'viewBox="\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)[\s,]+([\d.]+)"', head)
    if box:
        return float(box.group(1)), float(box.group(2))
    w = re.search(r'\swidth="([\d.]+)', head)
    h = re.search(r'\sheight="([\d.]+)', head)
    if w and h:
        return float(w.group(1)), float(h.group(1))
    return 4.0, 3.0


def render_pdf(report: MonthlyReport, lang: str) -> bytes:
    """The report as an A4 portrait PDF in ``lang`` ("fr" or "en"): header and "page X/Y"
    footer on every page, charts as vectors, tables wrapped to the page width and
    repeating their headings across pages; byte-identical for the same report."""
    from fpdf import FPDF
    from fpdf.enums import TableCellFillMode, XPos, YPos
    from fpdf.fonts import FontFace

    layout = _layout(report, lang)
    regular, bold = _font_paths()
    header_text = layout.header
    footer_text = f"{tx.label('title', lang)} - {tx.month_name(report.month, lang)}"
    page_word = tx.label("page", lang)

    class ReportPDF(FPDF):
        def header(self) -> None:
            self.set_xy(self.l_margin, 7)
            self.set_font("DejaVu", "", 7.5)
            self.set_text_color(*_DARK)
            self.cell(0, 4, header_text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_draw_color(160, 160, 160)
            self.line(self.l_margin, 11.5, self.w - self.r_margin, 11.5)
            self.set_text_color(0, 0, 0)
            self.set_y(15)

        def footer(self) -> None:
            self.set_y(-11)
            self.set_font("DejaVu", "", 7.5)
            self.set_text_color(*_DARK)
            self.cell(0, 4, f"{footer_text} - {page_word} {self.page_no()}/{{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = ReportPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creation_date(report.generated)
    pdf.set_title(layout.title)
    pdf.set_author("dmn-monitor")
    pdf.set_creator("dmn-monitor")
    pdf.set_subject(report.establishment)
    pdf.set_lang(lang)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    bottom = pdf.h - pdf.b_margin
    head_face = FontFace(emphasis="BOLD", fill_color=_HEAD_FILL)

    def room(mm: float) -> None:
        """Start a new page unless ``mm`` millimetres are left on this one."""
        if pdf.get_y() + mm > bottom:
            pdf.add_page()

    def para(
        text: str,
        size: float = 9,
        style: str = "",
        color: tuple[int, int, int] = (0, 0, 0),
        link: str | None = None,
    ) -> None:
        pdf.set_font("DejaVu", style, size)
        pdf.set_text_color(*color)
        pdf.multi_cell(
            width,
            size * 0.48,
            text,
            align="L",
            link=link or "",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_text_color(0, 0, 0)

    def dot(color: str, x: float, y: float, r: float = 1.4) -> None:
        pdf.set_fill_color(*_RGB[color])
        pdf.set_draw_color(40, 40, 40)
        pdf.set_line_width(0.15)
        pdf.circle(x=x + r, y=y + r, radius=r, style="FD")
        pdf.set_fill_color(255, 255, 255)

    def fit(t: _Table) -> tuple[float, ...]:
        """Column widths (mm) in the table's proportions, widened where a word would
        otherwise break (not for words longer than 30 % of the width); others give slack."""
        total = sum(t.widths)
        widths = [w * width / total for w in t.widths]
        need = [0.0] * len(widths)
        texts: list[tuple[int, str, bool]] = [(i, h, True) for i, h in enumerate(t.headings)]
        for r in t.rows:
            texts += [
                (i, "\n".join(c.lines), c.bold or bool(c.light)) for i, c in enumerate(r.cells)
            ]
        for i, text, strong in texts:
            pdf.set_font("DejaVu", "B" if strong else "", 7.5)
            for word in re.split(r"[ \n]+", text):
                need[i] = max(need[i], pdf.get_string_width(word) + 2.6)
        # a word too long for any sensible column breaks anyway: do not widen for it
        need = [n if n <= 0.3 * width else min(n, w) for n, w in zip(need, widths, strict=True)]
        if sum(need) > width:
            return tuple(widths)
        for _ in range(len(widths)):
            short = [i for i, w in enumerate(widths) if w < need[i] - 0.01]
            if not short:
                break
            deficit = sum(need[i] - widths[i] for i in short)
            for i in short:
                widths[i] = need[i]
            slack = {i: widths[i] - need[i] for i in range(len(widths)) if widths[i] > need[i]}
            total_slack = sum(slack.values())
            for i, room_ in slack.items():
                widths[i] -= deficit * room_ / total_slack
        pdf.set_font("DejaVu", "", 7.5)
        return tuple(widths)

    def table(t: _Table) -> None:
        pdf.set_font("DejaVu", "", 7.5)
        room(18)
        widths = fit(t)
        with pdf.table(
            col_widths=widths,
            width=width,
            align="LEFT",
            text_align="LEFT",
            line_height=3.5,
            padding=1.0,
            headings_style=head_face,
            cell_fill_mode=TableCellFillMode.NONE,
            first_row_as_headings=True,
        ) as tbl:
            tbl.row(list(t.headings))
            for r in t.rows:
                row = tbl.row()
                if r.group is not None:
                    row.cell(
                        r.group,
                        colspan=len(t.headings),
                        style=FontFace(emphasis="BOLD", fill_color=_GROUP_FILL),
                    )
                    continue
                for c in r.cells:
                    text = "\n".join(c.lines)
                    if c.light is not None:
                        text = f"●{tx.NBSP}{text}"
                    style = FontFace(
                        emphasis="BOLD" if (c.bold or c.light) else None,
                        color=_RGB[c.light] if c.light else (_MUTED if r.muted else None),
                        fill_color=_FLAG_FILL if r.flagged else _WHITE,
                    )
                    row.cell(text, style=style)
        pdf.ln(2)

    def pairs(p: _Pairs) -> None:
        pdf.set_font("DejaVu", "", 8)
        room(12)
        with pdf.table(
            col_widths=(55, width - 55),
            width=width,
            align="LEFT",
            text_align="LEFT",
            line_height=3.8,
            padding=1.0,
            first_row_as_headings=False,
        ) as tbl:
            for k, v in p.rows:
                row = tbl.row()
                row.cell(k, style=FontFace(emphasis="BOLD", fill_color=(243, 243, 243)))
                row.cell(v, style=FontFace(fill_color=_WHITE))
        pdf.ln(2)

    def chart(c: _Chart) -> None:
        w_svg, h_svg = _svg_size(c.svg)
        h = width * h_svg / w_svg
        room(h + (8 if c.caption else 2))
        # glyphs and strokes without an explicit colour take the current ones: black
        pdf.set_fill_color(0, 0, 0)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_text_color(0, 0, 0)
        pdf.image(io.BytesIO(c.svg), x=pdf.l_margin, y=pdf.get_y(), w=width, h=h)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_y(pdf.get_y() + h + 1)
        if c.caption:
            para(c.caption, 8, color=_DARK)
        pdf.ln(2)

    def bullets(b: _Bullets) -> None:
        for color, text in b.items:
            pdf.set_font("DejaVu", "", 9)
            room(6)
            y = pdf.get_y()
            x = pdf.l_margin
            if color is not None:
                dot(color, x, y + 0.6)
                pdf.set_xy(x + 4.5, y)
                pdf.set_font("DejaVu", "B", 9)
                pdf.set_text_color(*_RGB[color])
                word = _light_word(color, lang)
                pdf.cell(pdf.get_string_width(word) + 1.5, 4.3, word)
                pdf.set_text_color(0, 0, 0)
                pdf.set_font("DejaVu", "", 9)
                indent = 4.5 + 22
            else:
                pdf.set_xy(x + 22, y)
                pdf.cell(4, 4.3, "•")
                indent = 4.5 + 22
            pdf.set_xy(x + indent, y)
            pdf.multi_cell(
                width - indent, 4.3, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
            pdf.ln(0.8)
        pdf.ln(1.5)

    def signoff(s: _Signoff) -> None:
        pdf.set_font("DejaVu", "", 8.5)
        room(60)
        with pdf.table(
            col_widths=(45, 55, 25, 55),
            width=width,
            align="LEFT",
            text_align="LEFT",
            line_height=4.2,
            padding=1.2,
            headings_style=head_face,
        ) as tbl:
            tbl.row(list(s.headings))
            for name, role in s.rows:
                row = tbl.row()
                for text in (name, role, "", ""):
                    row.cell(text + "\n\n\n")
        pdf.ln(4)
        room(70)
        para(s.decisions, 11, "B")
        pdf.ln(1)
        top = pdf.get_y()
        height = 60.0
        pdf.set_draw_color(80, 80, 80)
        pdf.set_line_width(0.3)
        pdf.rect(pdf.l_margin, top, width, height)
        pdf.set_draw_color(190, 190, 190)
        pdf.set_line_width(0.15)
        y = top + 8
        while y < top + height - 2:
            pdf.line(pdf.l_margin + 3, y, pdf.l_margin + width - 3, y)
            y += 8
        pdf.set_y(top + height + 3)

    def need(b: _Block) -> float:
        """Height (mm) to keep with a heading: a whole chart, else a few lines."""
        if isinstance(b, _Chart):
            w_svg, h_svg = _svg_size(b.svg)
            return width * h_svg / w_svg + 4
        return 15.0

    def block(b: _Block) -> None:
        if isinstance(b, _Table):
            table(b)
        elif isinstance(b, _Pairs):
            pairs(b)
        elif isinstance(b, _Chart):
            chart(b)
        elif isinstance(b, _Bullets):
            bullets(b)
        elif isinstance(b, _Signoff):
            signoff(b)
        elif b.link is not None:
            para(b.text + b.link, 8.5, link=b.link)
            pdf.ln(1)
        else:
            style = "B" if b.style == "strong" else ""
            if b.style == "strong":
                room(22)
            color = _DARK if b.style == "note" else (0, 0, 0)
            para(b.text, 7.5 if b.style == "note" else 9, style, color)
            pdf.ln(1.5)

    # title block
    para(layout.title, 16, "B")
    para(layout.subtitle, 9, color=_DARK)
    pdf.ln(2)
    for k, v in layout.meta:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(42, 4.6, k)
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(width - 42, 4.6, v, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    for part in layout.parts:
        if part.new_page:
            pdf.add_page()
        else:
            room(30)
        pdf.start_section(part.title, level=0)
        para(part.title, 13, "B")
        pdf.set_draw_color(60, 60, 60)
        pdf.set_line_width(0.4)
        pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.l_margin + width, pdf.get_y() + 0.5)
        pdf.ln(3)
        for b in part.blocks:
            block(b)
        for sub in part.subs:
            room(10 + (need(sub.blocks[0]) if sub.blocks else 0))
            pdf.start_section(sub.title, level=1)
            para(sub.title, 10.5, "B")
            pdf.ln(1)
            for b in sub.blocks:
                block(b)
    return bytes(pdf.output())


# --- files ---------------------------------------------------------------------------


def _stem(report: MonthlyReport) -> str:
    """``qc-report-YYYY-MM`` with ``-DEVICE`` when the report holds exactly one device."""
    stem = f"qc-report-{report.month:%Y-%m}"
    if len(report.devices) == 1:
        stem += f"-{report.devices[0].device_id}"
    return stem


def report_name(report: MonthlyReport, lang: str, fmt: str) -> str:
    """File name of a rendering: ``qc-report-2025-08[-DEVICE]-fr.pdf``; KeyError for an
    unknown language, ValueError for an unknown format."""
    if lang not in tx.LANGS:
        raise KeyError(f"unknown report language {lang!r}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {FORMATS})")
    return f"{_stem(report)}-{lang}.{fmt}"


def manifest_name(report: MonthlyReport) -> str:
    """File name of the report's manifest: ``qc-report-2025-08[-DEVICE]-manifest.json``
    (one per report, whatever the language)."""
    return f"{_stem(report)}-manifest.json"


def render(report: MonthlyReport, lang: str, fmt: str) -> bytes:
    """The report rendered as ``fmt`` ("html" or "pdf") in ``lang``."""
    if fmt == "html":
        return render_html(report, lang)
    if fmt == "pdf":
        return render_pdf(report, lang)
    raise ValueError(f"unknown report format {fmt!r} (expected one of {FORMATS})")


def write_report(
    report: MonthlyReport, lang: str, formats: Sequence[str], out_dir: Path | str
) -> list[Path]:
    """Render ``report`` in ``lang`` for each of ``formats`` and write the files into
    ``out_dir`` (created if missing) atomically; returns their paths in ``formats``
    order. Everything is rendered before anything is written."""
    folder = Path(out_dir)
    names = [report_name(report, lang, fmt) for fmt in formats]
    data = [render(report, lang, fmt) for fmt in formats]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in zip(names, data, strict=True):
        path = folder / name
        write_atomic(path, content)
        paths.append(path)
    return paths
