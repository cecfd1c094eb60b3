"""Charts of the monthly quality-control report, as self-contained SVG bytes.

The report embeds them in HTML (``<img src="data:image/svg+xml;base64,...">``) and in
the PDF (fpdf2 renders SVG as vectors). Hence every chart is:

* drawn with matplotlib's object API only (``matplotlib.figure.Figure``, never pyplot),
  with a complete explicit style applied in a local ``rc_context`` (the caller's
  ``rcParams`` do not change the output), serialised by a module lock (``rc_context``
  touches matplotlib's global parameters for the duration of a rendering);
* SVG with the text converted to paths (DejaVu Sans, bundled with matplotlib), so the
  PDF shows exactly what the HTML shows and no font is needed to read it;
* deterministic (no date, no creator metadata, fixed ids) and without any external
  reference (no DOCTYPE; only the SVG and XLink namespace URIs);
* readable in black and white: series differ by marker and line style, intervals are
  light grey bands with thin edges, claims are dashed black lines, decision limits
  dash-dot black lines; colours only add to that;
* sized for the width of an A4 portrait page (6.7 in, about 17 cm), fonts >= 8 pt;
* labelled in French or English (``lang``: ``"fr"`` or ``"en"``); French numbers use
  a decimal comma and month abbreviations are written here, not taken from the
  system locale.

Empty inputs give a small chart saying "no data" / « pas de données »; undefined
values (``None`` or NaN) are gaps, never zeros.
"""

from __future__ import annotations

import io
import math
import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from monitor.report_model import TrendPoint

__all__ = [
    "CUSUM_MAX_POINTS",
    "SMALL_N",
    "Lang",
    "TrendPoint",
    "cusum_chart",
    "downsample_envelope",
    "estimate_chart",
    "traffic_light_svg",
    "trend_chart",
]

Lang = Literal["fr", "en"]

SMALL_N = 30
"""Points resting on fewer cases than this are drawn hollow (too few to read alone)."""

CUSUM_MAX_POINTS = 1500
"""At most this many points of a CUSUM statistic are drawn (see ``downsample_envelope``)."""

WIDTH_IN = 6.7
"""Chart width in inches: the text width of an A4 portrait page (about 17 cm)."""

_FONT_PT = 8.5
_SMALL_PT = 8.0
_TITLE_PT = 9.5

# Greys and colours (moderate, readable when printed in black and white).
_BAND = "#d9d9d9"
_BAND_EDGE = "#7f7f7f"
_HIGHLIGHT = "#fbe7b5"
_SIGNAL = "#b00020"
_METRIC_STYLE: dict[str, tuple[str, str]] = {
    # metric: (colour, marker)
    "sensitivity": ("#1f4e79", "o"),
    "specificity": ("#7a3b00", "s"),
    "ppv": ("#2e6b30", "^"),
    "npv": ("#5b2a86", "D"),
}
_OTHER_STYLES: tuple[tuple[str, str], ...] = (("#333333", "v"), ("#333333", "P"))

_MONTHS: dict[str, tuple[str, ...]] = {
    "fr": (
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}

_NBSP = "\u00a0"

_TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "no_data": "pas de données",
        "claim": "performance annoncée",
        "claim_short": "annoncée",
        "value": "valeur mensuelle",
        "small_n": f"moins de {SMALL_N} cas (point creux)",
        "interval": "intervalle de confiance",
        "report_month": "mois du rapport",
        "cusum": "statistique CUSUM",
        "limit": "limite de décision",
        "signal": "signal",
        "estimated": "estimée d’après les scores (CBPE)",
        "realised": "réalisée (vérité terrain)",
    },
    "en": {
        "no_data": "no data",
        "claim": "claim",
        "claim_short": "claim",
        "value": "monthly value",
        "small_n": f"fewer than {SMALL_N} cases (hollow)",
        "interval": "confidence interval",
        "report_month": "report month",
        "cusum": "CUSUM statistic",
        "limit": "decision limit",
        "signal": "signal",
        "estimated": "estimated from scores (CBPE)",
        "realised": "realised (ground truth)",
    },
}

_METRIC_NAMES: dict[str, dict[str, str]] = {
    "fr": {
        "sensitivity": "Sensibilité",
        "specificity": "Spécificité",
        "ppv": "VPP",
        "npv": "VPN",
    },
    "en": {
        "sensitivity": "Sensitivity",
        "specificity": "Specificity",
        "ppv": "PPV",
        "npv": "NPV",
    },
}

# rcParams that are not style (backend, interactivity, paths): never set them.
_NOT_STYLE = frozenset(
    {
        "backend",
        "backend_fallback",
        "interactive",
        "toolbar",
        "timezone",
        "date.epoch",
        "figure.max_open_warning",
        "figure.raise_window",
        "savefig.directory",
        "tk.window_focus",
        "docstring.hardcopy",
        "webagg.port",
        "webagg.address",
        "webagg.port_retries",
        "webagg.open_in_browser",
    }
)

_RC: dict[str, Any] = {
    **{k: v for k, v in matplotlib.rcParamsDefault.items() if k not in _NOT_STYLE},
    "svg.fonttype": "path",
    "svg.hashsalt": "dmn-monitor-report",
    "svg.image_inline": True,
    "path.simplify": True,
    "font.family": ["sans-serif"],
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": _FONT_PT,
    "axes.titlesize": _TITLE_PT,
    "axes.labelsize": _FONT_PT,
    "xtick.labelsize": _SMALL_PT,
    "ytick.labelsize": _SMALL_PT,
    "legend.fontsize": _SMALL_PT,
    "figure.titlesize": _TITLE_PT + 0.5,
    "axes.unicode_minus": True,
    "axes.linewidth": 0.6,
    "axes.edgecolor": "#333333",
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.5,
    "grid.linestyle": "-",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.transparent": False,
    "savefig.bbox": None,
    "savefig.dpi": 100,
    "figure.dpi": 100,
}

_SVG_METADATA: dict[str, Any] = {"Date": None, "Creator": None, "Format": None, "Type": None}

_LOCK = threading.Lock()

_EPOCH = datetime(1970, 1, 1)


# --- shared helpers ------------------------------------------------------------------------


def _texts(lang: str) -> dict[str, str]:
    if lang not in _TEXTS:
        raise ValueError(f"lang must be 'fr' or 'en', not {lang!r}")
    return _TEXTS[lang]


def _metric_name(metric: str, lang: str) -> str:
    return _METRIC_NAMES[lang].get(metric.lower(), metric)


def _number(value: float, lang: str, decimals: int = 1) -> str:
    """``value`` with at most ``decimals`` decimals (trailing zeros dropped), comma in fr."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in {"-0", ""}:
        text = "0"
    return text.replace(".", ",") if lang == "fr" else text


def _percent(value: float, lang: str, decimals: int = 1) -> str:
    """A percentage (``value`` already in percent): "91,5 %" in fr, "91.5%" in en."""
    number = _number(value, lang, decimals)
    return f"{number}{_NBSP}%" if lang == "fr" else f"{number}%"


def _finite(value: float | None) -> float:
    """``value`` as a float, NaN when undefined (None, NaN or infinite)."""
    if value is None:
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _render(build: Callable[[], Figure]) -> bytes:
    """Build a figure under the module's explicit style and return it as clean SVG bytes."""
    with _LOCK, matplotlib.rc_context(cast(Any, _RC)):
        figure = build()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata=_SVG_METADATA)
    return _clean_svg(buffer.getvalue())


_DOCTYPE = re.compile(rb"<!DOCTYPE[^>]*>\s*", re.DOTALL)


def _clean_svg(svg: bytes) -> bytes:
    """Drop the DOCTYPE (an external DTD reference, of no use to browsers or fpdf2)."""
    return _DOCTYPE.sub(b"", svg, count=1)


def _no_data_figure(lang: str, title: str | None) -> Figure:
    figure = Figure(figsize=(WIDTH_IN, 1.2))
    ax = figure.add_axes((0.0, 0.0, 1.0, 0.8 if title else 1.0))
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        _texts(lang)["no_data"],
        ha="center",
        va="center",
        fontsize=_TITLE_PT,
        color="#4d4d4d",
        style="italic",
        transform=ax.transAxes,
    )
    if title:
        figure.suptitle(title, fontsize=_TITLE_PT + 0.5, y=0.95)
    return figure


def _top_legend(figure: Figure, handles: Sequence[Any], ncols: int) -> None:
    if handles:
        figure.legend(
            handles=list(handles),
            loc="outside lower center",
            ncols=max(1, min(ncols, len(handles))),
            frameon=False,
            handlelength=2.6,
            columnspacing=1.4,
        )


def _percent_axis(ax: Axes, lang: str, bounds: Sequence[float]) -> None:
    """y axis in percent (data in percent), limits around ``bounds`` within 0..100."""
    finite = [b for b in bounds if math.isfinite(b)]
    if finite:
        low, high = min(finite), max(finite)
        pad = max(2.0, 0.12 * (high - low))
        ax.set_ylim(max(0.0, low - pad), min(100.0, high + pad))
    else:
        ax.set_ylim(0.0, 100.0)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _percent(v, lang)))
    ax.grid(True, axis="y")


# --- months on the x axis ------------------------------------------------------------------


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_label(index: int, lang: str, *, with_year: bool) -> str:
    year, month = divmod(index, 12)
    name = _MONTHS[lang][month]
    return f"{name}\n{year}" if with_year else name


def _month_axis(ax: Axes, first: int, last: int, lang: str, highlight: int | None) -> None:
    """Ticks on months ``first..last`` (month indices), year shown under January and the
    first tick, the highlighted month's label in bold."""
    span = last - first + 1
    step = 1 if span <= 13 else math.ceil(span / 12)
    ticks = list(range(first, last + 1, step))
    labels = [
        _month_label(t, lang, with_year=(i == 0 or t // 12 != ticks[i - 1] // 12))
        for i, t in enumerate(ticks)
    ]
    ax.set_xticks([float(t) for t in ticks], labels)
    pad = max(0.6, (3 - span) / 2)
    ax.set_xlim(first - pad, last + pad)
    if highlight is not None:
        for tick, label in zip(ticks, ax.get_xticklabels(), strict=True):
            if tick == highlight:
                label.set_fontweight("bold")


def _draw_band(ax: Axes, x: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """Interval band: light grey fill with thin edges; NaN bounds are gaps. An isolated
    month (no neighbour with an interval) is drawn as a narrow box."""
    valid = np.isfinite(low) & np.isfinite(high)
    if not valid.any():
        return
    ax.fill_between(
        x, low, high, where=valid, facecolor=_BAND, edgecolor="none", linewidth=0, zorder=1
    )
    for edge in (low, high):
        ax.plot(x, edge, color=_BAND_EDGE, linewidth=0.6, zorder=1.5)
    for i in np.flatnonzero(valid):
        before = i > 0 and valid[i - 1]
        after = i < len(x) - 1 and valid[i + 1]
        if not before and not after:
            ax.fill_between(
                [x[i] - 0.18, x[i] + 0.18],
                [low[i], low[i]],
                [high[i], high[i]],
                facecolor=_BAND,
                edgecolor=_BAND_EDGE,
                linewidth=0.6,
                zorder=1,
            )


def _band_handle(lang: str) -> Patch:
    return Patch(
        facecolor=_BAND, edgecolor=_BAND_EDGE, linewidth=0.6, label=_texts(lang)["interval"]
    )


def _highlight_handle(lang: str) -> Patch:
    return Patch(facecolor=_HIGHLIGHT, edgecolor="none", label=_texts(lang)["report_month"])


# --- trend chart ---------------------------------------------------------------------------


def trend_chart(
    series: Mapping[str, Sequence[TrendPoint]],
    claims: Mapping[str, float | None],
    *,
    highlight: date | None,
    lang: str,
    title: str | None = None,
) -> bytes:
    """Monthly performance per metric, one panel per metric stacked on a shared month axis.

    ``series`` maps a metric ('sensitivity', 'specificity', 'ppv', 'npv'; other names are
    shown as given) to its monthly points, proportions 0..1 drawn in percent with their
    interval as a grey band; ``claims`` maps a metric to the manufacturer's claimed value
    (0..1, dashed black line; missing, None or NaN: no line). ``highlight`` is the report
    month (any day of it), shaded and its label in bold. Points on fewer than ``SMALL_N``
    cases are hollow. Months without a point, ``None`` or NaN values are gaps. Empty
    ``series`` (or only empty sequences) give a "no data" chart; a metric with no defined
    value gives a panel saying so. Width 6.7 in, about 1.6 in per panel.
    Returns SVG bytes; raises ValueError for a ``lang`` other than "fr" or "en".
    """
    texts = _texts(lang)
    metrics = [(name, list(points)) for name, points in series.items() if len(points) > 0]
    if not metrics:
        return _render(lambda: _no_data_figure(lang, title))

    def build() -> Figure:
        indices = [_month_index(p.month) for _, points in metrics for p in points]
        highlight_index = None if highlight is None else _month_index(highlight)
        first, last = min(indices), max(indices)
        if highlight_index is not None:
            first, last = min(first, highlight_index), max(last, highlight_index)
        grid = np.arange(first, last + 1, dtype=float)

        figure = Figure(figsize=(WIDTH_IN, 0.9 + 1.6 * len(metrics)), layout="constrained")
        axes = figure.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
        any_small = False
        any_claim = False
        others = iter(_OTHER_STYLES * len(metrics))
        for ax, (name, points) in zip(axes, metrics, strict=True):
            colour, marker = _METRIC_STYLE.get(name.lower()) or next(others)
            value = np.full(grid.shape, np.nan)
            low = np.full(grid.shape, np.nan)
            high = np.full(grid.shape, np.nan)
            n = np.zeros(grid.shape, dtype=int)
            for p in points:
                i = _month_index(p.month) - first
                value[i] = 100 * _finite(p.value)
                low[i] = 100 * _finite(p.low)
                high[i] = 100 * _finite(p.high)
                n[i] = p.n
            if highlight_index is not None:
                x = float(highlight_index)
                ax.axvspan(x - 0.5, x + 0.5, facecolor=_HIGHLIGHT, edgecolor="none", zorder=0)
            _draw_band(ax, grid, low, high)
            claim = _finite(claims.get(name))
            heading = _metric_name(name, lang)
            if math.isfinite(claim):
                any_claim = True
                ax.axhline(100 * claim, color="black", linestyle=(0, (5, 3)), lw=1.0, zorder=2)
                sep = f"{_NBSP}: " if lang == "fr" else ": "
                heading += f" ({texts['claim_short']}{sep}{_percent(100 * claim, lang)})"
            ax.plot(grid, value, color=colour, linewidth=1.4, zorder=3)
            shown = np.isfinite(value)
            small = shown & (n < SMALL_N)
            large = shown & ~small
            any_small = any_small or bool(small.any())
            style = {"linestyle": "none", "marker": marker, "markersize": 5.0, "zorder": 4}
            ax.plot(grid[large], value[large], color=colour, markerfacecolor=colour, **style)
            ax.plot(
                grid[small],
                value[small],
                color=colour,
                markerfacecolor="white",
                markeredgewidth=1.2,
                **style,
            )
            ax.set_title(heading, loc="left", fontsize=_TITLE_PT, fontweight="bold", pad=3)
            bounds = [*value, *low, *high, 100 * claim]
            _percent_axis(ax, lang, bounds)
            if not shown.any():
                ax.text(
                    0.5,
                    0.5,
                    texts["no_data"],
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    style="italic",
                    color="#4d4d4d",
                )
        _month_axis(axes[-1], first, last, lang, highlight_index)
        for ax in axes[:-1]:
            ax.tick_params(labelbottom=False)

        handles: list[Any] = [
            Line2D([], [], color="#333333", marker="o", markersize=5, lw=1.4, label=texts["value"])
        ]
        if any_small:
            handles.append(
                Line2D(
                    [],
                    [],
                    color="#333333",
                    marker="o",
                    markersize=5,
                    markerfacecolor="white",
                    linestyle="none",
                    label=texts["small_n"],
                )
            )
        handles.append(_band_handle(lang))
        if any_claim:
            handles.append(
                Line2D([], [], color="black", linestyle=(0, (5, 3)), lw=1.0, label=texts["claim"])
            )
        if highlight_index is not None:
            handles.append(_highlight_handle(lang))
        _top_legend(figure, handles, ncols=3)
        if title:
            figure.suptitle(title, fontweight="bold")
        return figure

    return _render(build)


# --- CUSUM chart ---------------------------------------------------------------------------


def downsample_envelope(
    x: Sequence[float], y: Sequence[float], max_points: int = CUSUM_MAX_POINTS
) -> tuple[list[float], list[float]]:
    """At most ``max_points`` points of the series ``(x, y)`` (x increasing), keeping in
    each of equal-count buckets its minimum and its maximum (so a peak or a crossing of a
    limit is never hidden), in their original order, plus the first and last points.

    NaN values are ignored within a bucket; a bucket of NaN values only keeps one NaN
    (a gap stays a gap). Series already short enough are returned unchanged (as lists).
    Raises ValueError when the lengths differ or ``max_points`` < 4.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} != {len(y)})")
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, not {max_points}")
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if len(xs) <= max_points:
        return xs.tolist(), ys.tolist()
    buckets = (max_points - 2) // 2
    keep: list[int] = [0]
    for chunk in np.array_split(np.arange(len(ys)), buckets):
        values = ys[chunk]
        valid = np.isfinite(values)
        if not valid.any():
            keep.append(int(chunk[0]))
            continue
        finite = np.where(valid, values, np.nan)
        lo = int(chunk[int(np.nanargmin(finite))])
        hi = int(chunk[int(np.nanargmax(finite))])
        keep.extend(sorted({lo, hi}))
    keep.append(len(ys) - 1)
    ordered = sorted(set(keep))
    return xs[ordered].tolist(), ys[ordered].tolist()


def _wall_clock(moment: datetime, tz: Any) -> datetime:
    """``moment`` as a naive wall-clock time in ``tz`` (naive inputs are taken as such)."""
    if moment.tzinfo is not None and tz is not None:
        return moment.astimezone(tz).replace(tzinfo=None)
    return moment.replace(tzinfo=None)


def _days(moment: datetime) -> float:
    return (moment - _EPOCH).total_seconds() / 86400.0


def _time_axis(ax: Axes, start: float, end: float, lang: str) -> None:
    """Month ticks over long spans, day ticks over short ones (x in days since 1970)."""
    names = _MONTHS[lang]
    first = _EPOCH + timedelta(days=start)
    last = _EPOCH + timedelta(days=end)
    ticks: list[float] = []
    labels: list[str] = []
    if end - start > 62:
        months = _month_index(last.date()) - _month_index(first.date()) + 1
        step = max(1, math.ceil(months / 12))
        index = _month_index(first.date()) + (0 if first.day == 1 and first.hour == 0 else 1)
        shown_year = None
        while True:
            year, month = divmod(index, 12)
            tick = _days(datetime(year, month + 1, 1))
            if tick > end:
                break
            ticks.append(tick)
            labels.append(_month_label(index, lang, with_year=year != shown_year))
            shown_year = year
            index += step
    else:
        span = max(end - start, 1.0)
        step = next((s for s in (1, 2, 7, 14) if span / s <= 9), 28)
        day = datetime(first.year, first.month, first.day)
        if _days(day) < start:
            day += timedelta(days=1)
        shown_year = None
        while _days(day) <= end:
            text = f"{day.day} {names[day.month - 1]}"
            if day.year != shown_year:
                text += f"\n{day.year}"
                shown_year = day.year
            ticks.append(_days(day))
            labels.append(text)
            day += timedelta(days=step)
    ax.set_xticks(ticks, labels)


def cusum_chart(
    times: Sequence[datetime],
    statistic: Sequence[float],
    limit: float,
    *,
    signal_at: datetime | None,
    month: tuple[datetime, datetime] | None,
    lang: str,
    title: str | None = None,
) -> bytes:
    """Step chart of a CUSUM statistic (dimensionless, >= 0) against observation time.

    ``times`` are aware datetimes in increasing order, drawn as wall-clock times in the
    timezone of the first one (naive ones are taken as wall-clock times); ``limit`` is the
    decision limit (dash-dot black line; NaN or infinite: no line); ``signal_at`` marks the
    signal (a vertical dotted line and a marker on the statistic); ``month`` is the report
    month ``[start, end)``, shaded. More than ``CUSUM_MAX_POINTS`` points are downsampled by
    ``downsample_envelope`` (each bucket's maximum kept). NaN values are gaps. Empty
    ``times`` give a "no data" chart. Width 6.7 in, height 2.6 in. Returns SVG bytes;
    raises ValueError when ``times`` and ``statistic`` differ in length or for a ``lang``
    other than "fr" or "en".
    """
    texts = _texts(lang)
    if len(times) != len(statistic):
        raise ValueError(f"times and statistic differ in length ({len(times)} != {len(statistic)})")
    if len(times) == 0:
        return _render(lambda: _no_data_figure(lang, title))

    def build() -> Figure:
        tz = next((t.tzinfo for t in times if t.tzinfo is not None), None)
        x_all = [_days(_wall_clock(t, tz)) for t in times]
        y_all = [_finite(v) for v in statistic]
        x, y = downsample_envelope(x_all, y_all)
        limit_value = _finite(limit)

        figure = Figure(figsize=(WIDTH_IN, 2.6), layout="constrained")
        ax = figure.add_subplot()
        start, end = x_all[0], x_all[-1]
        handles: list[Any] = []
        if month is not None:
            m0, m1 = (_days(_wall_clock(t, tz)) for t in month)
            ax.axvspan(m0, m1, facecolor=_HIGHLIGHT, edgecolor="none", zorder=0)
            start, end = min(start, m0), max(end, m1)
        (line,) = ax.plot(
            x,
            y,
            drawstyle="steps-post",
            color="#1f4e79",
            linewidth=1.1,
            zorder=3,
            label=texts["cusum"],
        )
        if len(x) == 1:  # a single observation draws no step: show it as a point
            line.set_marker("o")
            line.set_markersize(4)
        handles.append(line)
        if math.isfinite(limit_value):
            limit_line = ax.axhline(
                limit_value,
                color="black",
                linestyle=(0, (6, 2, 1, 2)),
                linewidth=1.0,
                zorder=2,
                label=f"{texts['limit']} ({_number(limit_value, lang, 2)})",
            )
            handles.append(limit_line)
        if signal_at is not None:
            xs = _days(_wall_clock(signal_at, tz))
            position = min(bisect_left(x_all, xs), len(x_all) - 1)
            ys = y_all[position]
            if not math.isfinite(ys):
                ys = limit_value if math.isfinite(limit_value) else 0.0
            moment = _EPOCH + timedelta(days=xs)
            when = f"{moment.day} {_MONTHS[lang][moment.month - 1]} {moment.year}"
            ax.axvline(xs, color=_SIGNAL, linestyle=":", linewidth=1.0, zorder=2)
            (mark,) = ax.plot(
                [xs],
                [ys],
                linestyle="none",
                marker="X",
                markersize=8,
                color=_SIGNAL,
                markeredgecolor="black",
                markeredgewidth=0.6,
                zorder=5,
                label=f"{texts['signal']} ({when})",
            )
            handles.append(mark)
            start, end = min(start, xs), max(end, xs)
        if month is not None:
            handles.append(_highlight_handle(lang))

        finite = [v for v in y if math.isfinite(v)]
        top = max([*finite, limit_value if math.isfinite(limit_value) else 0.0, 1.0])
        ax.set_ylim(0.0, top * 1.12)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _number(v, lang, 1)))
        ax.set_ylabel(texts["cusum"])
        ax.grid(True, axis="y")
        pad = max((end - start) * 0.01, 0.5 if end == start else 0.0)
        ax.set_xlim(start - pad, end + pad)
        _time_axis(ax, start - pad, end + pad, lang)
        _top_legend(figure, handles, ncols=4)
        if title:
            figure.suptitle(title, fontweight="bold")
        return figure

    return _render(build)


# --- estimated vs realised -----------------------------------------------------------------


def estimate_chart(
    months: Sequence[date],
    estimated: Sequence[float | None],
    realised: Sequence[float | None],
    realised_low: Sequence[float | None],
    realised_high: Sequence[float | None],
    *,
    metric: str,
    lang: str,
    title: str | None = None,
) -> bytes:
    """Performance estimated from the scores while ground truth is pending (CBPE, dashed
    line with squares) against the realised performance (solid line with circles and its
    interval as a grey band), per month.

    All values are proportions 0..1 drawn in percent; ``None`` or NaN are gaps (e.g. a
    month not yet verified), months missing from ``months`` are gaps too. ``metric``
    names the y axis (translated when known). Empty ``months`` give a "no data" chart.
    Width 6.7 in, height 2.6 in. Returns SVG bytes; raises ValueError when the sequences
    differ in length or for a ``lang`` other than "fr" or "en".
    """
    texts = _texts(lang)
    lengths = {len(months), len(estimated), len(realised), len(realised_low), len(realised_high)}
    if len(lengths) != 1:
        raise ValueError("months, estimated, realised and its bounds must have the same length")
    if len(months) == 0:
        return _render(lambda: _no_data_figure(lang, title))

    def build() -> Figure:
        indices = [_month_index(m) for m in months]
        first, last = min(indices), max(indices)
        grid = np.arange(first, last + 1, dtype=float)
        columns = {key: np.full(grid.shape, np.nan) for key in ("est", "real", "low", "high")}
        for i, index in enumerate(indices):
            at = index - first
            columns["est"][at] = 100 * _finite(estimated[i])
            columns["real"][at] = 100 * _finite(realised[i])
            columns["low"][at] = 100 * _finite(realised_low[i])
            columns["high"][at] = 100 * _finite(realised_high[i])

        figure = Figure(figsize=(WIDTH_IN, 2.6), layout="constrained")
        ax = figure.add_subplot()
        _draw_band(ax, grid, columns["low"], columns["high"])
        (real,) = ax.plot(
            grid,
            columns["real"],
            color="#1f4e79",
            marker="o",
            markersize=5,
            linewidth=1.4,
            zorder=3,
            label=texts["realised"],
        )
        (est,) = ax.plot(
            grid,
            columns["est"],
            color="#b35900",
            marker="s",
            markersize=4.5,
            markerfacecolor="white",
            markeredgewidth=1.1,
            linestyle=(0, (4, 2)),
            linewidth=1.3,
            zorder=4,
            label=texts["estimated"],
        )
        _percent_axis(ax, lang, [v for column in columns.values() for v in column])
        ax.set_ylabel(_metric_name(metric, lang))
        _month_axis(ax, first, last, lang, None)
        if not any(np.isfinite(column).any() for column in columns.values()):
            ax.text(
                0.5,
                0.5,
                texts["no_data"],
                transform=ax.transAxes,
                ha="center",
                va="center",
                style="italic",
                color="#4d4d4d",
            )
        _top_legend(figure, [real, _band_handle(lang), est], ncols=3)
        if title:
            figure.suptitle(title, fontweight="bold")
        return figure

    return _render(build)


# --- traffic light -------------------------------------------------------------------------

_LIGHTS: dict[str, tuple[str, str, str]] = {
    # colour: (disc fill, symbol colour, symbol drawing in a 20 x 20 box)
    "green": (
        "#2e7d32",
        "#ffffff",
        '<path d="M 5.6 10.4 L 8.7 13.5 L 14.6 6.6" fill="none"/>',
    ),
    "amber": (
        "#f2b01e",
        "#000000",
        '<path d="M 10 4.8 L 10 11.2" fill="none"/>'
        '<path d="M 10 13.6 A 1.3 1.3 0 1 1 10 16.2 A 1.3 1.3 0 1 1 10 13.6 Z" stroke="none"/>',
    ),
    "red": (
        "#c62828",
        "#ffffff",
        '<path d="M 6.4 6.4 L 13.6 13.6 M 13.6 6.4 L 6.4 13.6" fill="none"/>',
    ),
    "grey": (
        "#757575",
        "#ffffff",
        '<path d="M 5.8 10 L 14.2 10" fill="none"/>',
    ),
}


def traffic_light_svg(color: str, *, size_px: int = 18) -> bytes:
    """A traffic-light disc of ``size_px`` pixels (width and height) as SVG bytes.

    ``color`` is 'green' | 'amber' | 'red' | 'grey'; each has its own inner symbol
    (check mark, exclamation mark, cross, dash) so the state reads in black and white.
    Raises ValueError for another colour or a size below 1 pixel.
    """
    if color not in _LIGHTS:
        raise ValueError(f"color must be one of {sorted(_LIGHTS)}, not {color!r}")
    if size_px < 1:
        raise ValueError(f"size_px must be at least 1, not {size_px}")
    fill, ink, symbol = _LIGHTS[color]
    svg = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_px}" height="{size_px}" '
        'viewBox="0 0 20 20" version="1.1">'
        f'<path d="M 10 0.6 A 9.4 9.4 0 1 1 10 19.4 A 9.4 9.4 0 1 1 10 0.6 Z" '
        f'fill="{fill}" stroke="#333333" stroke-width="0.8"/>'
        f'<g stroke="{ink}" fill="{ink}" stroke-width="2.4" stroke-linecap="round" '
        f'stroke-linejoin="round">{symbol}</g>'
        "</svg>\n"
    )
    return svg.encode("utf-8")
