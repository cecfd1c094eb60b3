"""Scopes: every version x every subgroup value, the same from a prefix of a history."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alerts.cases import TextCodes, scope_parts, scopes_of, sorted_codes


def _cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_version": ["1.0", "1.0", "1.0", "2.0", "2.0", "2.0"],
            "site": ["A", "A", "B", "B", "C", None],
            "patient_sex": ["F", "M", "F", "F", "M", "M"],
        }
    )


def test_scopes_cross_versions_with_subgroup_values_and_skip_missing_values() -> None:
    scopes = scopes_of(_cases(), ["site", "patient_sex", "device_version", "absent"])
    labels = [s.label for s in scopes]
    assert len(scopes) == 3 * (1 + 3 + 2)
    assert labels[0] == "whole device"
    assert "device_version=2.0, site=C" in labels
    site_b_v2 = next(s for s in scopes if s.label == "device_version=2.0, site=B")
    assert site_b_v2.mask.tolist() == [False, False, False, True, False, False]
    assert site_b_v2.subgroup_dict == {"site": "B"}


def test_scopes_of_a_prefix_equal_scopes_built_on_the_prefix() -> None:
    cases = _cases()
    parts = scope_parts(cases, ["site", "patient_sex"])
    for n in range(len(cases) + 1):
        fast = parts.scopes(n)
        slow = scopes_of(cases.iloc[:n], ["site", "patient_sex"])
        assert [(s.version, s.subgroup) for s in fast] == [(s.version, s.subgroup) for s in slow]
        for a, b in zip(fast, slow, strict=True):
            assert np.array_equal(a.mask, b.mask)


def test_slices_equal_to_a_broader_one_are_left_out() -> None:
    cases = _cases().assign(device_version="1.0", modality="DX")
    scopes = scopes_of(cases, ["site", "modality"])
    # One version: its slices stand for all versions; one modality: it is the whole device.
    assert {s.version for s in scopes} == {"1.0"}
    assert [s.label for s in scopes] == [
        "device_version=1.0",
        "device_version=1.0, site=A",
        "device_version=1.0, site=B",
        "device_version=1.0, site=C",
    ]
    # A value present in some cases only is a subgroup, even with missing values elsewhere.
    with_missing = cases.assign(modality=["DX", "DX", "DX", "DX", "DX", None])
    assert "device_version=1.0, modality=DX" in [
        s.label for s in scopes_of(with_missing, ["modality"])
    ]


def test_text_codes_factorize_as_pandas_does_with_unused_and_missing_values() -> None:
    # Values in no order, one held by no case, a None entry and code -1 both missing.
    values = ["Siemens", "GE", "unused", None, "Fujifilm"]
    codes = np.array([0, 1, -1, 4, 3, 0, 4, 1], dtype=np.int32)
    column = pd.Series(np.array([*values, None], dtype=object)[codes])
    found, names = TextCodes(codes, values).factorized()
    expected, expected_names = pd.factorize(column, sort=True)
    assert names == list(expected_names) == ["Fujifilm", "GE", "Siemens"]
    assert found.tolist() == expected.tolist()
    cases = pd.DataFrame({"scanner_manufacturer": column})
    assert sorted_codes(cases, "scanner_manufacturer")[1] == names
