"""How a value looks, never what it says: what an error about a cell may show.

A reason a row was refused is shown to every viewer of the quarantine and by
``quarantine list``. The cell it speaks of may hold anything: in a row whose
columns slid by one, ``patient_sex`` holds the patient's identifier. So a reason
names the field (and the file's line) and shows the value's *shape* - its length and
the kind of each character - enough to find the fault in the source file, not to
read an identifier from it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["SHAPE_LENGTH", "safe_reason", "value_shape"]

SHAPE_LENGTH = 24
"""Characters of a value a shape shows; a longer one is cut, with its length."""

_KEPT = frozenset(" -_.,:;/+()[]'\"#%&*=<>@!?|\\")
"""Punctuation a shape keeps as it is (a date's dashes, a decimal comma)."""


def _mark(char: str) -> str:
    if char.isdigit():
        return "9"
    if char.isalpha():
        return "A" if char.isupper() else "a"
    if char in _KEPT:
        return char
    return "~"  # anything else: a control, an invisible or a rare character


def value_shape(value: object) -> str:
    """``value``'s shape: ``9`` for a digit, ``A``/``a`` for an upper/lower-case
    letter (any script), common punctuation and spaces as they are, ``~`` for any other
    character; cut after :data:`SHAPE_LENGTH` characters with the length. ``P1247707``
    -> ``A9999999``, ``2025-13-01`` -> ``9999-99-99``, ``sort of`` -> ``aaaa aa``."""
    text = value if isinstance(value, str) else str(value)
    shape = "".join(_mark(c) for c in text[:SHAPE_LENGTH])
    if len(text) > SHAPE_LENGTH:
        shape += f"... ({len(text)} characters)"
    return shape


def safe_reason(reason: str, values: Iterable[str]) -> str:
    """``reason`` with every occurrence of one of ``values`` (of 3 characters or more:
    a row's identifiers) replaced by its shape - the last guard before a reason is
    stored, whatever reader wrote it. Longer values are replaced first."""
    for value in sorted({v for v in values if len(v) >= 3}, key=len, reverse=True):
        if value in reason:
            reason = reason.replace(value, value_shape(value))
    return reason
