"""The report's charts are self-contained, deterministic SVG that fpdf2 can embed:
text drawn as paths, no external reference, labels in French or English, no error on
empty or undefined data, and a CUSUM peak never lost to downsampling."""

from __future__ import annotations

import io
import math
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import matplotlib
import pytest

from monitor.report_plots import (
    CUSUM_MAX_POINTS,
    TrendPoint,
    cusum_chart,
    downsample_envelope,
    estimate_chart,
    traffic_light_svg,
    trend_chart,
)

PARIS = ZoneInfo("Europe/Paris")
SVG_NS = "http://www.w3.org/2000/svg"
ALLOWED_URIS = {SVG_NS, "http://www.w3.org/1999/xlink"}
MONTHS = [date(2024 + (8 + i) // 12, (8 + i) % 12 + 1, 1) for i in range(13)]  # 2024-09..2025-09


# --- synthetic data: a fracture detector losing sensitivity in August 2025 ----------------


def sensitivity_points() -> list[TrendPoint]:
    points = []
    for month in MONTHS:
        if month == date(2025, 8, 1):
            points.append(TrendPoint(month, 0.85, 0.82, 0.87, 410))
        elif month == date(2025, 9, 1):
            points.append(TrendPoint(month, 0.86, 0.78, 0.92, 24))  # month in progress
        else:
            value = 0.92 + 0.005 * math.sin(month.month)
            points.append(TrendPoint(month, value, value - 0.03, value + 0.025, 400))
    return points


def specificity_points() -> list[TrendPoint]:
    return [TrendPoint(m, 0.90, 0.88, 0.92, 2500) for m in MONTHS]


SERIES = {"sensitivity": sensitivity_points(), "specificity": specificity_points()}
CLAIMS: dict[str, float | None] = {"sensitivity": 0.91, "specificity": 0.88}


def cusum_data(n: int = 30_000) -> tuple[list[datetime], list[float]]:
    """A statistic near 0, then drifting up to 14 (limit 10.8 crossed in July 2025)."""
    start = datetime(2024, 8, 1, tzinfo=PARIS)
    times = [start + timedelta(minutes=17 * i) for i in range(n)]
    drift_from = datetime(2025, 6, 5, tzinfo=PARIS)
    total = (times[-1] - drift_from).total_seconds()
    values = [
        0.2 * abs(math.sin(i / 50))
        if t < drift_from
        else 14 * (t - drift_from).total_seconds() / total
        for i, t in enumerate(times)
    ]
    return times, values


CUSUM_TIMES, CUSUM_VALUES = cusum_data()
SIGNAL = next(t for t, v in zip(CUSUM_TIMES, CUSUM_VALUES, strict=True) if v > 10.8)
JULY = (datetime(2025, 7, 1, tzinfo=PARIS), datetime(2025, 8, 1, tzinfo=PARIS))
ESTIMATED = [0.91, 0.92, 0.90, 0.91, 0.92, 0.91, 0.90, 0.90, 0.89, 0.88, 0.86, 0.85, 0.85]
REALISED: list[float | None] = [
    0.92,
    0.91,
    0.91,
    0.92,
    0.91,
    0.92,
    0.90,
    0.89,
    0.88,
    0.87,
    0.85,
    None,
    None,
]
LOW = [None if r is None else r - 0.03 for r in REALISED]
HIGH = [None if r is None else r + 0.03 for r in REALISED]


def trend(lang: str) -> bytes:
    return trend_chart(SERIES, CLAIMS, highlight=date(2025, 8, 1), lang=lang, title="Trend")


def cusum(lang: str) -> bytes:
    return cusum_chart(CUSUM_TIMES, CUSUM_VALUES, 10.8, signal_at=SIGNAL, month=JULY, lang=lang)


def estimate(lang: str) -> bytes:
    return estimate_chart(MONTHS, ESTIMATED, REALISED, LOW, HIGH, metric="sensitivity", lang=lang)


CHARTS: dict[str, Callable[[str], bytes]] = {"trend": trend, "cusum": cusum, "estimate": estimate}


def comments(svg: bytes) -> str:
    """matplotlib writes each text, drawn as paths, in an XML comment next to it."""
    return " ".join(re.findall(r"<!-- (.*?) -->", svg.decode("utf-8"), re.DOTALL))


def assert_self_contained_svg(svg: bytes) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{{{SVG_NS}}}svg"
    uris = set(re.findall(rb"https?://[^\s\"'<>)]*", svg))
    assert {u.decode() for u in uris} <= ALLOWED_URIS
    assert b"<!DOCTYPE" not in svg
    return root


# --- every chart ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_a_chart_is_self_contained_svg_with_text_as_paths(chart: str, lang: str) -> None:
    svg = CHARTS[chart](lang)
    root = assert_self_contained_svg(svg)
    assert list(root.iter(f"{{{SVG_NS}}}text")) == []
    assert b"<text" not in svg
    # 6.7 inches wide: the text width of an A4 portrait page.
    assert root.get("width") == "482.4pt"


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_a_chart_is_deterministic(chart: str) -> None:
    assert CHARTS[chart]("fr") == CHARTS[chart]("fr")


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_french_and_english_charts_differ(chart: str) -> None:
    assert CHARTS[chart]("fr") != CHARTS[chart]("en")


def test_french_labels_use_french_words_months_and_decimal_comma() -> None:
    fr, en = comments(trend("fr")), comments(trend("en"))
    for word in ("Sensibilité", "Spécificité", "performance annoncée", "août", "janv.", "févr."):
        assert word in fr
    assert "annoncée\u00a0: 91\u00a0%" in fr
    assert "mois du rapport" in fr
    for word in ("Sensitivity", "Specificity", "claim", "Aug", "Jan", "report month"):
        assert word in en
    assert "Sensibilité" not in en
    fr_cusum, en_cusum = comments(cusum("fr")), comments(cusum("en"))
    assert "limite de décision (10,8)" in fr_cusum
    assert "decision limit (10.8)" in en_cusum
    assert f"signal ({SIGNAL.day} juil. 2025)" in fr_cusum
    wide = [TrendPoint(m, 0.90, 0.895, 0.905, 2500) for m in MONTHS]
    assert "90\u00a0%" in comments(trend_chart({"ppv": wide}, {}, highlight=None, lang="fr"))
    assert "90%" in comments(trend_chart({"ppv": wide}, {}, highlight=None, lang="en"))
    small = [0.3, 0.8, 1.2]  # y axis 0..1.8: ticks every 0.5
    fr_axis, en_axis = (
        comments(cusum_chart(CUSUM_TIMES[:3], small, 1.6, signal_at=None, month=None, lang=lang))
        for lang in ("fr", "en")
    )
    assert "1,5" in fr_axis and "1.5" not in fr_axis
    assert "1.5" in en_axis and "1,5" not in en_axis


def test_the_metric_names_are_translated() -> None:
    points = specificity_points()
    series = {name: points for name in ("sensitivity", "specificity", "ppv", "npv")}
    fr = comments(trend_chart(series, {}, highlight=None, lang="fr"))
    en = comments(trend_chart(series, {}, highlight=None, lang="en"))
    assert all(name in fr for name in ("Sensibilité", "Spécificité", "VPP", "VPN"))
    assert all(name in en for name in ("Sensitivity", "Specificity", "PPV", "NPV"))


def test_points_on_few_cases_are_announced_as_hollow_only_when_there_are_some() -> None:
    assert "moins de 30 cas" in comments(trend("fr"))
    large = {"specificity": specificity_points()}
    assert "moins de 30 cas" not in comments(trend_chart(large, {}, highlight=None, lang="fr"))


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="lang"):
        trend_chart(SERIES, CLAIMS, highlight=None, lang="de")


# --- empty, undefined, single ---------------------------------------------------------------


@pytest.mark.parametrize(("lang", "message"), [("fr", "pas de données"), ("en", "no data")])
def test_empty_inputs_give_a_no_data_chart(lang: str, message: str) -> None:
    charts = [
        trend_chart({}, {}, highlight=None, lang=lang),
        trend_chart({"sensitivity": []}, {"sensitivity": 0.9}, highlight=None, lang=lang),
        cusum_chart([], [], 10.8, signal_at=None, month=None, lang=lang),
        estimate_chart([], [], [], [], [], metric="sensitivity", lang=lang),
    ]
    for svg in charts:
        assert_self_contained_svg(svg)
        assert message in comments(svg)


def test_undefined_values_are_gaps_not_errors() -> None:
    nan = math.nan
    points = [
        TrendPoint(MONTHS[0], 0.9, 0.85, 0.95, 100),
        TrendPoint(MONTHS[1], None, None, None, 0),
        TrendPoint(MONTHS[2], nan, nan, nan, 0),
        TrendPoint(MONTHS[3], 0.9, None, 0.95, 100),
    ]
    undefined = [TrendPoint(m, None, None, None, 0) for m in MONTHS[:3]]
    svgs = [
        trend_chart(
            {"sensitivity": points, "ppv": undefined},
            {"sensitivity": nan, "ppv": None},
            highlight=MONTHS[1],
            lang="fr",
        ),
        cusum_chart(CUSUM_TIMES[:100], [nan] * 100, nan, signal_at=None, month=None, lang="en"),
        cusum_chart(
            CUSUM_TIMES[:5],
            [0.0, nan, 2.0, nan, 1.0],
            3.0,
            signal_at=CUSUM_TIMES[1],
            month=None,
            lang="fr",
        ),
        estimate_chart(
            MONTHS[:3],
            [nan, None, 0.9],
            [None] * 3,
            [None] * 3,
            [None] * 3,
            metric="ppv",
            lang="fr",
        ),
    ]
    for svg in svgs:
        assert_self_contained_svg(svg)
    # A metric with no defined value says so in its panel.
    assert "pas de données" in comments(svgs[0])


def test_a_single_point_is_drawn() -> None:
    one = [TrendPoint(date(2025, 8, 1), 0.85, 0.82, 0.87, 12)]
    svgs = [
        trend_chart(
            {"sensitivity": one}, {"sensitivity": 0.91}, highlight=date(2025, 8, 15), lang="en"
        ),
        cusum_chart([CUSUM_TIMES[0]], [3.0], 10.8, signal_at=None, month=None, lang="en"),
        estimate_chart([date(2025, 8, 1)], [0.8], [0.85], [0.82], [0.87], metric="npv", lang="en"),
    ]
    for svg in svgs:
        assert_self_contained_svg(svg)
        assert "no data" not in comments(svg)


def test_mismatched_lengths_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="length"):
        cusum_chart(CUSUM_TIMES[:3], [1.0], 10.8, signal_at=None, month=None, lang="fr")
    with pytest.raises(ValueError, match="length"):
        estimate_chart(MONTHS[:2], [0.9], [0.9], [0.8], [0.95], metric="ppv", lang="fr")


# --- CUSUM downsampling --------------------------------------------------------------------


def test_downsampling_keeps_a_single_spike_among_30000_points() -> None:
    x = [float(i) for i in range(30_000)]
    y = [1.0] * 30_000
    y[17_321] = 14.0
    xs, ys = downsample_envelope(x, y, max_points=1500)
    assert len(xs) == len(ys) <= 1500
    assert max(ys) == 14.0
    assert xs[ys.index(14.0)] == 17_321.0
    assert xs == sorted(xs)
    assert (xs[0], xs[-1]) == (0.0, 29_999.0)


def test_downsampling_keeps_each_bucket_envelope_and_nan_gaps() -> None:
    x = [float(i) for i in range(10_000)]
    y = [math.sin(i / 300) * 5 + 5 for i in range(10_000)]
    y[4000:4600] = [math.nan] * 600
    _, ys = downsample_envelope(x, y, max_points=200)
    finite = [v for v in ys if not math.isnan(v)]
    assert max(finite) == pytest.approx(max(v for v in y if not math.isnan(v)))
    assert min(finite) == pytest.approx(min(v for v in y if not math.isnan(v)))
    assert any(math.isnan(v) for v in ys)  # the gap survives


def test_downsampling_leaves_short_series_alone() -> None:
    assert downsample_envelope([1.0, 2.0, 3.0], [0.0, 5.0, 1.0]) == (
        [1.0, 2.0, 3.0],
        [0.0, 5.0, 1.0],
    )
    with pytest.raises(ValueError):
        downsample_envelope([1.0, 2.0], [1.0])


def test_a_cusum_chart_of_30000_points_stays_small() -> None:
    assert len(CUSUM_TIMES) > CUSUM_MAX_POINTS
    assert len(cusum("en")) < 250_000


# --- style independence and threads --------------------------------------------------------


def test_the_caller_rcparams_neither_change_the_output_nor_are_changed() -> None:
    reference = trend("fr")
    before = dict(matplotlib.rcParams)
    with matplotlib.rc_context(
        {"font.size": 20.0, "lines.linewidth": 5.0, "svg.fonttype": "none", "axes.grid": True}
    ):
        assert trend("fr") == reference
    assert dict(matplotlib.rcParams) == before


def test_charts_rendered_in_parallel_threads_equal_sequential_ones() -> None:
    expected = {name: CHARTS[name]("en") for name in CHARTS}
    results: dict[str, bytes] = {}

    def work(name: str) -> None:
        results[name] = CHARTS[name]("en")

    threads = [threading.Thread(target=work, args=(name,)) for name in CHARTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == expected


# --- traffic lights ------------------------------------------------------------------------


def test_traffic_lights_are_distinct_svg_discs() -> None:
    lights = {c: traffic_light_svg(c) for c in ("green", "amber", "red", "grey")}
    for svg in lights.values():
        root = assert_self_contained_svg(svg)
        assert (root.get("width"), root.get("height")) == ("18", "18")
    assert len(set(lights.values())) == 4
    # The inner symbols differ, not only the colours (black-and-white print).
    symbols = {re.sub(rb"#[0-9a-f]{6}", b"", svg) for svg in lights.values()}
    assert len(symbols) == 4
    assert ET.fromstring(traffic_light_svg("red", size_px=32)).get("width") == "32"
    with pytest.raises(ValueError, match="color"):
        traffic_light_svg("blue")


# --- PDF -----------------------------------------------------------------------------------


def test_charts_embed_in_an_fpdf2_pdf_that_pypdf_reads() -> None:
    from fpdf import FPDF
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject

    pdf = FPDF()
    for chart in CHARTS.values():
        pdf.add_page()
        pdf.image(io.BytesIO(chart("fr")), w=170)
    pdf.image(io.BytesIO(traffic_light_svg("amber")), w=6)
    pdf.add_page()
    pdf.image(io.BytesIO(trend_chart({}, {}, highlight=None, lang="fr")), w=170)
    reader = PdfReader(io.BytesIO(bytes(pdf.output())))
    assert len(reader.pages) == len(CHARTS) + 1
    # Vector drawing: the page holds path operators (curves, lines), not a raster image.
    page = reader.pages[0]
    content = page.get_contents()
    assert content is not None
    operators = set(re.findall(rb"\s([a-zA-Z]{1,2})(?=\s)", content.get_data()))
    assert {b"c", b"l", b"m"} <= operators
    resources = page["/Resources"].get_object()
    assert isinstance(resources, DictionaryObject)
    xobjects = resources.get("/XObject", {})
    assert all(x.get_object()["/Subtype"] != "/Image" for x in xobjects.values())
