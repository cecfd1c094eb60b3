"""Sequential charts per slice: a real drop signals with its change point; in control, none."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.cases import NS_PER_DAY, scopes_of
from alerts.charts import ChartSettings, InControl, chart_findings, chart_key
from tests.alerts.views import START_NS, view_of

CLAIM = InControl(miss_rate=0.10, false_positive_rate=0.12, source="claim")


def _year(rng: np.random.Generator, n: int, sensitivity: np.ndarray | float) -> tuple:
    truth = (rng.random(n) < 0.3).astype(np.int8)
    sens = np.broadcast_to(sensitivity, n)
    call = np.where(truth == 1, rng.random(n) < sens, rng.random(n) < CLAIM.false_positive_rate)
    return truth, call.astype(np.int8)


def test_a_drop_in_one_manufacturer_signals_in_that_slice_with_its_change_point() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    days = np.sort(rng.uniform(0, 300, n))
    manufacturer = np.where(rng.random(n) < 0.2, "Fujifilm", "GE")
    degraded = (days >= 200) & (manufacturer == "Fujifilm")
    truth, call = _year(rng, n, np.where(degraded, 0.6, 0.9))
    view = view_of(truth, call, exam_day=days, manufacturer=manufacturer, as_of_day=300)
    found = chart_findings(view, "d", ["scanner_manufacturer"], CLAIM, ChartSettings())
    fuji = [
        f
        for f in found
        if f.subgroup == {"scanner_manufacturer": "Fujifilm"} and f.device_version == "1.0"
    ]
    assert len(fuji) == 1 and fuji[0].metric == "sensitivity"
    change_day = (fuji[0].evidence["change_point_exam_ns"] - START_NS) / NS_PER_DAY
    assert 195 <= change_day <= 205
    assert fuji[0].evidence["signal_arrival_ns"] < START_NS + 215 * NS_PER_DAY
    assert 0.5 < fuji[0].value < 0.7
    assert not [f for f in found if f.subgroup == {"scanner_manufacturer": "GE"}]


def test_a_device_performing_as_claimed_raises_nothing() -> None:
    rng = np.random.default_rng(4)
    truth, call = _year(rng, 20_000, 0.9)
    view = view_of(truth, call, as_of_day=300)
    assert chart_findings(view, "d", [], CLAIM, ChartSettings()) == []
    assert chart_findings(view, "d", [], CLAIM, ChartSettings(chart="ewma")) == []


def test_the_ewma_chart_also_finds_a_clear_drop() -> None:
    rng = np.random.default_rng(5)
    n = 10_000
    days = np.sort(rng.uniform(0, 300, n))
    truth, call = _year(rng, n, np.where(days >= 150, 0.7, 0.9))
    view = view_of(truth, call, exam_day=days, as_of_day=300)
    found = chart_findings(view, "d", [], CLAIM, ChartSettings(chart="ewma"))
    assert {(f.rule, f.metric) for f in found} == {("ewma", "sensitivity")}


def test_a_restarted_chart_only_sees_observations_after_its_restart() -> None:
    rng = np.random.default_rng(6)
    n = 10_000
    days = np.sort(rng.uniform(0, 300, n))
    truth, call = _year(rng, n, np.where(days < 100, 0.5, 0.9))  # bad early, fixed since
    view = view_of(truth, call, exam_day=days, as_of_day=300)
    assert chart_findings(view, "d", [], CLAIM, ChartSettings())
    restart = {
        chart_key(None, None, "sensitivity"): START_NS + 110 * NS_PER_DAY,
        chart_key("1.0", None, "sensitivity"): START_NS + 110 * NS_PER_DAY,
    }
    assert chart_findings(view, "d", [], CLAIM, ChartSettings(), restarts=restart) == []


def test_more_charts_or_a_smaller_budget_raise_the_decision_limit() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    days = np.sort(rng.uniform(0, 300, n))
    truth, call = _year(rng, n, np.where(days >= 150, 0.5, 0.9))
    view = view_of(truth, call, exam_day=days, as_of_day=300)

    def limit(dimensions: list[str], budget: float) -> float:
        found = chart_findings(
            view, "d", dimensions, CLAIM, ChartSettings(false_alarms_per_year=budget)
        )
        return next(f.threshold for f in found if f.subgroup is None and f.device_version == "1.0")

    base = limit([], 0.08)
    assert limit(["scanner_manufacturer"], 0.08) >= base
    assert limit([], 0.008) > base


@pytest.mark.parametrize("dimensions", [[], ["scanner_manufacturer"]])
def test_scopes_cover_versions_and_subgroup_values(dimensions: list[str]) -> None:
    truth = np.zeros(4, dtype=np.int8)
    view = view_of(
        truth,
        truth,
        version=np.array(["1", "1", "2", "2"], dtype=object),
        manufacturer=np.array(["A", "B", "A", "B"], dtype=object),
    )
    scopes = scopes_of(view.cases, dimensions)
    labels = {s.label for s in scopes}
    assert {"whole device", "device_version=1", "device_version=2"} <= labels
    if dimensions:
        assert "device_version=2, scanner_manufacturer=B" in labels
        cell = next(s for s in scopes if s.label == "device_version=2, scanner_manufacturer=B")
        assert cell.mask.tolist() == [False, False, False, True]
    assert len(scopes) == 3 * (1 + 2 * len(dimensions))


def test_a_slice_standing_below_the_device_is_watched_from_its_own_level() -> None:
    # Fujifilm images always do worse (sensitivity 0.80 against 0.92): no change, no
    # alarm; the same slice dropping to 0.55 later is found in that slice.
    rng = np.random.default_rng(8)
    n = 30_000
    days = np.sort(rng.uniform(0, 300, n))
    manufacturer = np.where(rng.random(n) < 0.2, "Fujifilm", "GE")
    fuji = manufacturer == "Fujifilm"
    truth = (rng.random(n) < 0.3).astype(np.int8)

    def findings(sensitivity: np.ndarray) -> list:  # type: ignore[type-arg]
        call = np.where(truth == 1, rng.random(n) < sensitivity, rng.random(n) < 0.12)
        view = view_of(truth, call.astype(np.int8), exam_day=days, manufacturer=manufacturer)
        base = np.flatnonzero(view.verified & (days < 60))
        local = InControl(
            0.11,
            0.13,
            "local",
            baselines={
                "sensitivity": base[view.truth[base] == 1],
                "specificity": base[view.truth[base] == 0],
            },
        )
        return chart_findings(view, "d", ["scanner_manufacturer"], local, ChartSettings())

    standing = np.where(fuji, 0.80, 0.92)
    assert findings(standing) == []
    dropped = np.where(fuji & (days >= 200), 0.55, standing)
    found = findings(dropped)
    assert {tuple((f.subgroup or {}).items()) for f in found} >= {
        (("scanner_manufacturer", "Fujifilm"),)
    }
    assert not [f for f in found if f.subgroup == {"scanner_manufacturer": "GE"}]
