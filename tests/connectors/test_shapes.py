"""What an error about a cell may show: the value's shape, never the value."""

from __future__ import annotations

import pytest

from connectors.shapes import SHAPE_LENGTH, safe_reason, value_shape


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("P1247707", "A9999999"),
        ("2025-13-01", "9999-99-99"),
        ("sort of", "aaaa aa"),
        ("0,73", "9,99"),
        ("Éloïse", "Aaaaaa"),
        ("a\u200bb", "a~a"),
        (1247707, "9999999"),
        ("", ""),
    ],
)
def test_a_shape_keeps_the_kind_of_each_character(value: object, shape: str) -> None:
    assert value_shape(value) == shape


def test_a_long_value_is_cut_with_its_length() -> None:
    shape = value_shape("x" * 5000)
    assert shape == "a" * SHAPE_LENGTH + "... (5000 characters)"


def test_no_digit_or_letter_of_the_value_survives() -> None:
    value = "P1247707 Dupont Jules 1"  # (no A, a or 9: the marks)
    assert len(value) <= SHAPE_LENGTH
    assert not set(value_shape(value)) & set(value.replace(" ", "").replace(".", ""))


def test_a_reason_loses_every_identifier_it_quotes() -> None:
    reason = "patient_sex 'P1247707' is not one of F, M, O, U; accession ACC-99812 unknown"
    safe = safe_reason(reason, ["P1247707", "ACC-99812", "F"])
    assert "P1247707" not in safe and "99812" not in safe
    assert safe == "patient_sex 'A9999999' is not one of F, M, O, U; accession AAA-99999 unknown"
