"""Cells of the CSV files the product writes, safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read as a formula by Excel and LibreOffice (``=HYPERLINK(...)``, ``+cmd|...``,
``@SUM(...)``): a value that came from a file or a request could run when a quality
manager opens the export. As OWASP recommends (CSV Injection), such a cell is
prefixed with a single quote, which the spreadsheet shows as text; the CSV writer
quotes the cell and doubles its quotes. Numbers are left as they are (``-0.05`` is a
number, not a formula). The full-width forms of the four signs count too: some
spreadsheet locales read them as formulas.
"""

from __future__ import annotations

__all__ = ["FORMULA_STARTS", "neutral_cell"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""First characters that make a spreadsheet read a cell as a formula."""


def neutral_cell(value: object) -> object:
    """``value`` as a CSV cell a spreadsheet shows as text: a string starting (after
    any leading spaces) with one of :data:`FORMULA_STARTS` gets a leading ``'``;
    anything else (numbers, None, other text) is returned unchanged."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value
