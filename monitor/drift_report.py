"""Evidently's data drift report for the monthly quality review, and its numbers.

:func:`write_drift_report` saves Evidently's ``DataDriftPreset`` report on a reference
and a current frame as one HTML file; :func:`evidently_drift_table` returns the same
per-column results (method, score, threshold, drift flag) as a DataFrame, which equal
:mod:`metrics.drift` computed natively (the fast path used by the monitor itself).

The HTML is self-contained: Evidently inlines its JavaScript (React, Plotly), styles and
fonts (data: URLs); there is no ``<script src>`` or stylesheet link to a CDN. The only
absolute URLs are inert strings inside the bundled libraries (e.g. Plotly's default
topojson URL for geographic maps, unused here, and the Plotly logo link). Files are
about 4 MB. Columns are summarised (histograms, aggregated scatter), not listed row by
row.

Evidently 0.7 emits deprecation warnings while importing (``numpy.core`` from its
legacy test helpers, litestar's ``Dependency``); they are silenced here, narrowly by
message, only around the import, so that ``pytest -W error`` and the CLI stay clean.
Numpy's divide-by-zero warning is also silenced while the report runs: Evidently's
chi-square divides by zero for a category absent from the reference (giving p = 0,
drift detected, as :mod:`metrics.drift` does without the warning).
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.html_text import MARKUP, assert_inert, inert_text

__all__ = ["DRIFT_TABLE_COLUMNS", "evidently_drift_table", "write_drift_report"]

DRIFT_TABLE_COLUMNS = (
    "column",
    "kind",
    "method",
    "method_name",
    "score",
    "threshold",
    "drift_detected",
)
"""Columns of :func:`evidently_drift_table`: ``method`` is the stattest name used by
:mod:`metrics.drift` (``"wasserstein"``), ``method_name`` Evidently's display name
("Wasserstein distance (normed)"), ``score`` the distance or p-value compared with
``threshold``, ``kind`` ``"numeric"`` or ``"categorical"``."""

_IMPORT_WARNINGS = (
    r"numpy\.core is deprecated",
    r"(Call to deprecated function|Use of deprecated class) 'Dependency",
)


@contextmanager
def _quiet_evidently_import() -> Iterator[None]:
    """Silence the deprecation warnings evidently 0.7 raises while it is imported."""
    with warnings.catch_warnings():
        for message in _IMPORT_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        yield


def write_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    path: Path,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    title: str | None = None,
) -> Path:
    """Save Evidently's data drift report (DataDriftPreset) as one HTML file at ``path``.

    Only the ``numeric`` and ``categorical`` columns are compared, with Evidently's
    default method and threshold per column. ``title`` becomes the page title and a
    heading. Text of the ``categorical`` columns is made inert
    (:func:`monitor.html_text.inert_text`: Evidently embeds it raw in a ``<script>``).
    Parent directories are created; an existing file is replaced. ValueError
    for missing, duplicated or wrongly typed columns, or a column with no non-missing
    values in either frame. Returns ``path``.
    """
    # Values from files go into Evidently's <script> data as they are: made inert first.
    given = {
        value
        for frame in (reference, current)
        for c in categorical
        for value in _distinct(frame[c])
    }
    safe_reference, safe_current = (_inert_columns(f, categorical) for f in (reference, current))
    snapshot = _run_report(safe_reference, safe_current, numeric, categorical)
    page = snapshot.get_html_str(as_iframe=False)
    if title:
        page = _with_title(page, title)
    assert_inert(page, given)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _has_markup(value: object) -> bool:
    return isinstance(value, str) and any(c in value for c in MARKUP)


def _distinct(values: pd.Series) -> list[object]:
    """The distinct values of a column (a categorical's categories)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return list(values.cat.categories)
    return list(pd.unique(values))


def _inert_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with its ``columns``' text made inert (a copy if any changes)."""
    changed = {
        c: frame[c].astype(object).map(inert_text, na_action="ignore")
        for c in columns
        if c in frame.columns and any(_has_markup(v) for v in _distinct(frame[c]))
    }
    return frame.assign(**changed) if changed else frame


def evidently_drift_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> pd.DataFrame:
    """Evidently's per-column drift results, one row per column (numeric first).

    Read from the report's result dict: the ValueDrift metric (method, threshold, score)
    and its test (status FAIL means drift detected). Columns: :data:`DRIFT_TABLE_COLUMNS`.
    Same ValueErrors as :func:`write_drift_report`.
    """
    snapshot = _run_report(reference, current, numeric, categorical)
    result = snapshot.dict()
    failed = {
        test["metric_config"]["metric_id"]
        for test in result["tests"]
        if test.get("status") == "FAIL"
    }
    kinds = {**dict.fromkeys(numeric, "numeric"), **dict.fromkeys(categorical, "categorical")}
    methods = _stattest_names()
    rows: dict[str, dict[str, object]] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if not str(config.get("type", "")).endswith(":ValueDrift"):
            continue
        column = str(config["column"])
        method_name = str(config["method"])
        rows[column] = {
            "column": column,
            "kind": kinds[column],
            "method": methods.get(method_name, method_name),
            "method_name": method_name,
            "score": float(metric["value"]),
            "threshold": float(config["threshold"]),
            "drift_detected": metric["id"] in failed,
        }
    return pd.DataFrame([rows[column] for column in kinds], columns=list(DRIFT_TABLE_COLUMNS))


def _run_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> Any:
    """Run Report([DataDriftPreset]) with tests on the listed columns; the Snapshot."""
    columns = _check_columns(reference, current, numeric, categorical)
    with _quiet_evidently_import():
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=list(numeric), categorical_columns=list(categorical)
    )
    reference_data = Dataset.from_pandas(reference[columns], data_definition=definition)
    current_data = Dataset.from_pandas(current[columns], data_definition=definition)
    report = Report([DataDriftPreset(columns=columns)], include_tests=True)
    # Evidently's chi-square divides by a zero expected count when a category (a new
    # site, say) is absent from the reference: numpy warns, the result is p = 0.
    with np.errstate(divide="ignore"):
        return report.run(current_data, reference_data)


def _check_columns(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
) -> list[str]:
    if isinstance(numeric, str) or isinstance(categorical, str):
        raise TypeError("numeric and categorical must be sequences of column names, not str")
    columns = [*numeric, *categorical]
    if not columns:
        raise ValueError("no columns to compare: give numeric and/or categorical columns")
    duplicated = sorted({column for column in columns if columns.count(column) > 1})
    if duplicated:
        raise ValueError(f"columns listed more than once: {', '.join(duplicated)}")
    for name, frame in (("reference", reference), ("current", current)):
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise ValueError(f"the {name} frame has no column(s) {', '.join(missing)}")
        for column in numeric:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                raise ValueError(f"numeric column {column!r} of the {name} frame is not numeric")
        for column in columns:
            if frame[column].dropna().empty:
                raise ValueError(f"column {column!r} of the {name} frame has no values")
    return columns


def _stattest_names() -> dict[str, str]:
    """Evidently's display name -> stattest name ("PSI" -> "psi")."""
    with _quiet_evidently_import():
        from evidently.legacy.calculations import stattests
        from evidently.legacy.calculations.stattests.registry import StatTest

    return {
        test.display_name: test.name
        for test in vars(stattests).values()
        if isinstance(test, StatTest)
    }


def _with_title(page: str, title: str) -> str:
    """Add ``<title>`` to the head and an ``<h1>`` at the top of the body."""
    text = html.escape(title)
    heading = f'<h1 style="font-family: Roboto, Helvetica, Arial, sans-serif">{text}</h1>'
    page = page.replace("<head>", f"<head>\n<title>{text}</title>", 1)
    body = f"</head>\n<body>\n{heading}"
    return re.sub(r"</head>\s*<body>", lambda _: body, page, count=1)
