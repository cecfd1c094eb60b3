"""Drift of a device's inputs and outputs: the encoded fast path equals the statistics
computed on the raw columns, and only drifted columns become (info) findings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from alerts.drift import (
    DRIFT_COLUMNS,
    drift_findings,
    drift_table,
    encode_cases,
    encoded_drift_table,
)
from metrics.drift import categorical_drift, numeric_drift


def _cases(rng: np.random.Generator, n: int, fuji_share: float, age_shift: float) -> pd.DataFrame:
    manufacturer = np.where(rng.random(n) < fuji_share, "Fujifilm", "GE")
    sex = rng.choice(np.array(["F", "M", None], dtype=object), n, p=[0.48, 0.48, 0.04])
    return pd.DataFrame(
        {
            "patient_age": rng.normal(55 + age_shift, 18, n),
            "patient_sex": sex,
            "body_part": rng.choice(["WRIST", "ANKLE", "HIP"], n),
            "scanner_manufacturer": manufacturer,
            "site": "CHU-Nord",
            "ai_score": rng.beta(2, 5, n),
            "ai_result": rng.choice(["positive", "negative", "indeterminate"], n),
        }
    )


@pytest.fixture
def samples() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    return _cases(rng, 3000, 0.2, 0.0), _cases(rng, 600, 0.5, 6.0)


def test_the_table_equals_the_statistics_on_the_raw_columns(
    samples: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = samples
    table = {d.column: d for d in drift_table(reference, current)}
    assert set(table) == {c for c in DRIFT_COLUMNS if c in reference.columns}
    for column, drift in table.items():
        ref, cur = reference[column].dropna(), current[column].dropna()
        if drift.kind == "numeric":
            expected = numeric_drift(ref.to_numpy(float), cur.to_numpy(float))
        else:
            expected = categorical_drift(ref.astype(str).to_numpy(), cur.astype(str).to_numpy())
        assert drift.result.method == expected.method
        assert drift.result.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert drift.result.drift_detected == expected.drift_detected
        assert (drift.n_reference, drift.n_current) == (len(ref), len(cur))
    # Missing sex values are left out of the shares, which sum to one.
    assert set(table["patient_sex"].reference_shares) == {"F", "M"}
    assert sum(table["patient_sex"].current_shares.values()) == pytest.approx(1.0)
    assert table["scanner_manufacturer"].current_shares["Fujifilm"] == pytest.approx(
        (current["scanner_manufacturer"] == "Fujifilm").mean()
    )


def test_small_samples_use_ks_as_evidently_does_and_match_scipy() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"patient_age": rng.normal(50, 10, 400)})
    current = pd.DataFrame({"patient_age": rng.normal(53, 10, 300)})
    (drift,) = drift_table(reference, current)
    expected = ks_2samp(reference["patient_age"], current["patient_age"])
    assert drift.result.method == "ks"
    assert drift.result.statistic == pytest.approx(expected.statistic)
    assert drift.result.p_value == pytest.approx(expected.pvalue)


def test_masks_over_a_prefix_of_an_encoded_table_select_the_same_rows(
    samples: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = samples
    everything = pd.concat([reference, current, reference.head(500)], ignore_index=True)
    encoded = encode_cases(everything)
    known = len(reference) + len(current)  # the last 500 rows are not known yet
    in_reference = np.arange(known) < len(reference)
    fast = encoded_drift_table(encoded, in_reference, ~in_reference)
    slow = drift_table(reference, current)
    assert [(d.column, d.result, d.n_current) for d in fast] == [
        (d.column, d.result, d.n_current) for d in slow
    ]


def test_columns_with_too_few_values_are_left_out(
    samples: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = samples
    columns = {d.column for d in drift_table(reference, current.head(40), min_rows=50)}
    assert columns == set()
    sparse = current.assign(ai_score=np.where(np.arange(len(current)) < 20, 0.5, np.nan))
    columns = {d.column for d in drift_table(reference, sparse, min_rows=30)}
    assert "ai_score" not in columns and "patient_age" in columns


def test_only_drifted_columns_become_info_findings_named_input_or_output(
    samples: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = samples
    table = drift_table(reference, current)
    drafts = drift_findings(table, "fracture-xr", (10, 20), (0, 5))
    drifted = {d.column for d in table if d.result.drift_detected}
    assert {"scanner_manufacturer", "patient_age"} <= drifted
    assert "site" not in drifted  # constant on both sides
    assert {d.metric for d in drafts} == drifted
    assert all(d.severity == "info" for d in drafts)
    rules = {d.metric: d.rule for d in drafts}
    assert rules["scanner_manufacturer"] == "input_drift"
    for draft in drafts:
        assert draft.evidence["reference_start_ns"] == 0
        assert draft.value == next(t.result.score for t in table if t.column == draft.metric)
    unchanged = drift_table(reference, reference.sample(frac=0.3, random_state=1))
    assert drift_findings(unchanged, "fracture-xr", (10, 20), (0, 5)) == []
