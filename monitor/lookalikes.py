"""Subgroup values that look alike but are spelled differently.

Ingestion stores one spelling of a value (:mod:`connectors.text_values`): Unicode
composition, invisible characters, spaces and hyphens no longer split a subgroup.
Letters of another script that look the same (a Cyrillic ``а`` in ``Fujifilm``), a
different case (``FUJIFILM``) or a missing space still do: such values are kept as
they came - they may be different things - and said, so the source can be fixed.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import CaseCountMonthly

__all__ = ["DIMENSIONS", "look_alike_warnings", "skeleton"]

DIMENSIONS = (
    "device_version",
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
)
"""Columns whose values are compared."""

_CONFUSABLES = str.maketrans(
    {
        # Cyrillic letters drawn like Latin ones (lower and upper case).
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
        "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
        "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p",
        "С": "c", "Т": "t", "Х": "x", "І": "i", "Ј": "j", "Ѕ": "s",
        # Greek letters drawn like Latin ones.
        "α": "a", "ο": "o", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "ι": "i", "κ": "k",
        "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m",
        "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    }
)  # fmt: skip


def skeleton(value: str) -> str:
    """What ``value`` looks like, whatever its spelling: compatibility forms folded
    (NFKC), case folded, look-alike letters of other scripts as Latin, spaces, hyphens
    and underscores left out (letters, digits, dots and other signs kept: ``2.4.0``
    and ``24.0`` are different versions)."""
    folded = unicodedata.normalize("NFKC", value).translate(_CONFUSABLES).casefold()
    return "".join(c for c in folded.translate(_CONFUSABLES) if not (c.isspace() or c in "-_"))


def _differences(a: str, b: str) -> str:
    """The characters of ``a`` and ``b`` that are not plain ASCII, named."""
    odd = sorted({c for c in a + b if not c.isascii()})
    if not odd:
        return "case or spacing"
    return ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?').lower()}" for c in odd[:3])


def look_alike_groups(values: Iterable[str]) -> list[list[str]]:
    """The groups of two or more distinct ``values`` with one skeleton (sorted)."""
    groups: dict[str, set[str]] = defaultdict(set)
    for value in values:
        if value:
            groups[skeleton(value)].add(value)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def look_alike_warnings(
    session: Session, seen: Mapping[str, Iterable[str]], limit: int = 20
) -> list[str]:
    """One line per group of stored subgroup values that look alike and hold a value
    of ``seen`` (column -> values just stored; at most ``limit`` lines): the column,
    the spellings (as Python literals, invisible characters shown) and what differs."""
    warnings = []
    for column in DIMENSIONS:
        mine = set(seen.get(column, ()))
        if not mine:
            continue
        field = getattr(CaseCountMonthly, column)
        stored = session.scalars(select(field).distinct()).all()
        for group in look_alike_groups([*stored, *mine]):
            if not mine.intersection(group):
                continue
            spellings = " and ".join(ascii(v) if not v.isprintable() else repr(v) for v in group)
            warnings.append(
                f"{column}: {spellings} look alike but are spelled differently "
                f"({_differences(group[0], group[-1])}): they are separate subgroups; "
                "correct the source if they are one"
            )
    return warnings[:limit]
