"""Evidently's drift report: a self-contained HTML file, and numbers equal to metrics.drift."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics.drift import DEFAULT_THRESHOLDS, categorical_drift, numeric_drift
from monitor.drift_report import DRIFT_TABLE_COLUMNS, evidently_drift_table, write_drift_report
from monitor.html_text import assert_inert, inert_text

NUMERIC = ["patient_age", "ai_score"]
CATEGORICAL = ["sex", "body_part", "manufacturer", "site", "ai_result"]


def exams(n: int, seed: int, shifted: bool = False) -> pd.DataFrame:
    """Synthetic exam rows: a newer scanner site and older patients when ``shifted``."""
    rng = np.random.default_rng(seed)
    age = np.floor(rng.normal(66 if shifted else 62, 15, n)).clip(18, 99)
    age[rng.random(n) < 0.02] = np.nan  # missing ages are dropped, by Evidently too
    sites = ["north", "south", "east"] + (["west"] if shifted else [])
    return pd.DataFrame(
        {
            "patient_age": age,
            "ai_score": rng.beta(2.5 if shifted else 2.0, 5.0, n),
            "sex": rng.choice(["F", "M"], n),
            "body_part": rng.choice(["CHEST", "HEAD", "WRIST"], n, p=[0.6, 0.3, 0.1]),
            "manufacturer": rng.choice(["GE", "Philips", "Siemens"], n),
            "site": rng.choice(sites, n),
            "ai_result": rng.choice(["negative", "positive"], n, p=[0.85, 0.15]),
            "accession": [f"A{i:06d}" for i in range(n)],  # not compared
        }
    )


@pytest.fixture(scope="module")
def large() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference above 1000 rows: Evidently picks Wasserstein and Jensen-Shannon."""
    return exams(3000, seed=1), exams(1200, seed=2, shifted=True)


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference up to 1000 rows: Evidently picks KS, chi-square and the Z-test."""
    return exams(600, seed=3), exams(250, seed=4, shifted=True)


@pytest.fixture(scope="module")
def large_table(large: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return evidently_drift_table(*large, NUMERIC, CATEGORICAL)


@pytest.fixture(scope="module")
def small_table(small: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return evidently_drift_table(*small, NUMERIC, CATEGORICAL)


@pytest.mark.parametrize("frames", ["large", "small"])
def test_evidently_table_equals_native_drift(frames: str, request: pytest.FixtureRequest) -> None:
    reference, current = request.getfixturevalue(frames)
    table = request.getfixturevalue(f"{frames}_table")
    assert tuple(table.columns) == DRIFT_TABLE_COLUMNS
    assert list(table["column"]) == NUMERIC + CATEGORICAL
    for row in table.itertuples(index=False):
        drift = numeric_drift if row.kind == "numeric" else categorical_drift
        native = drift(reference[row.column], current[row.column], row.method)
        assert native.score == pytest.approx(row.score, rel=1e-9, abs=1e-12), row
        assert native.threshold == row.threshold == DEFAULT_THRESHOLDS[row.method]
        assert native.drift_detected is row.drift_detected, row
        # With no method given, metrics.drift chooses as Evidently did.
        assert drift(reference[row.column], current[row.column]).method == row.method


def test_default_methods_follow_size_and_kind(
    large_table: pd.DataFrame, small_table: pd.DataFrame
) -> None:
    methods = {
        name: dict(zip(table["column"], table["method"], strict=True))
        for name, table in (("large", large_table), ("small", small_table))
    }
    assert methods["large"] == {
        **dict.fromkeys(NUMERIC, "wasserstein"),
        **dict.fromkeys(CATEGORICAL, "jensenshannon"),
    }
    assert methods["small"] == {
        "patient_age": "ks",
        "ai_score": "ks",
        "sex": "z",
        "body_part": "chisquare",
        "manufacturer": "chisquare",
        "site": "chisquare",
        "ai_result": "z",
    }


def test_shifted_site_is_detected(large_table: pd.DataFrame, small_table: pd.DataFrame) -> None:
    # "west" appears only in the current frame: chi-square gives p = 0.
    assert small_table.set_index("column").loc["site", "score"] == 0.0
    table = large_table.set_index("column")
    assert table.loc["site", "drift_detected"]
    assert not table.loc["manufacturer", "drift_detected"]
    assert table.loc["ai_score", "method_name"] == "Wasserstein distance (normed)"


def test_report_is_a_self_contained_html_file(
    tmp_path: Path, large: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    path = tmp_path / "reports" / "drift-2025-05.html"
    title = "Drift <CT chest> May 2025"
    written = write_drift_report(
        *large, path, numeric=NUMERIC, categorical=CATEGORICAL, title=title
    )
    assert written == path and path.is_file()
    page = path.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert page.rstrip().endswith("</html>")
    assert "<title>Drift &lt;CT chest&gt; May 2025</title>" in page
    assert ">Drift &lt;CT chest&gt; May 2025</h1>" in page
    for column in NUMERIC + CATEGORICAL:
        assert column in page
    assert "accession" not in page  # only the listed columns are compared
    # Everything is inlined: no script or stylesheet is fetched from elsewhere.
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)


def test_report_without_title_has_no_heading(
    tmp_path: Path, small: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    page = write_drift_report(
        *small, tmp_path / "drift.html", numeric=["ai_score"], categorical=[]
    ).read_text(encoding="utf-8")
    assert "<h1" not in page and "ai_score" in page and "patient_age" not in page


@pytest.mark.parametrize(
    ("numeric", "categorical", "message"),
    [
        (["height"], [], "no column"),
        (["sex"], [], "not numeric"),
        (["ai_score"], ["ai_score"], "more than once"),
        ([], [], "no columns"),
    ],
)
def test_invalid_columns_raise(
    small: tuple[pd.DataFrame, pd.DataFrame],
    numeric: list[str],
    categorical: list[str],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        evidently_drift_table(*small, numeric, categorical)


def test_column_without_values_raises(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = small
    empty = current.assign(ai_score=np.nan)
    with pytest.raises(ValueError, match="'ai_score' of the current frame has no values"):
        evidently_drift_table(reference, empty, ["ai_score"], [])


def test_a_hostile_subgroup_value_cannot_break_out_of_the_reports_script(
    tmp_path: Path, small: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Failed before: Evidently embedded the value raw in its ``<script>`` data block,
    so ``</script><script>...`` ran when the report was opened from the console."""
    attack = "</script><script>location='https://attacker.example/'</script>"
    reference, current = (frame.copy() for frame in small)
    current.loc[current.index[:40], "site"] = attack
    page = write_drift_report(
        reference, current, tmp_path / "drift.html", numeric=["ai_score"], categorical=["site"]
    ).read_text(encoding="utf-8")
    assert attack not in page and "attacker.example" in page  # the value is there, inert
    assert "<script>location=" not in page
    clean = write_drift_report(
        *small, tmp_path / "clean.html", numeric=["ai_score"], categorical=["site"]
    ).read_text(encoding="utf-8")
    for tag in ("<script", "</script>"):  # no block was added or cut short
        assert page.count(tag) == clean.count(tag)


def test_inert_text_replaces_only_markup_characters() -> None:
    assert inert_text("</script>&x") == "\uff1c/script\uff1e\uff06x"
    assert inert_text("Fujifilm") == "Fujifilm"
    assert inert_text(3.5) == 3.5 and inert_text(None) is None
    with pytest.raises(ValueError, match="not made inert"):
        assert_inert("<p><b>x</b></p>", ["<b>x</b>"])


def test_categorical_columns_are_made_inert_too(
    tmp_path: Path, small: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """A kept history's text columns are categoricals (failed before: 'Categorical
    does not support reduction any')."""
    reference, current = (frame.copy() for frame in small)
    current.loc[current.index[:40], "site"] = "<b>x</b>"
    reference["site"], current["site"] = (
        frame["site"].astype("category") for frame in (reference, current)
    )
    page = write_drift_report(
        reference, current, tmp_path / "drift.html", numeric=["ai_score"], categorical=["site"]
    ).read_text(encoding="utf-8")
    assert "<b>x</b>" not in page
    inert = "\uff1cb\uff1ex\uff1c/b\uff1e"
    assert inert in page or inert.encode("ascii", "backslashreplace").decode() in page
