"""Text folded for rule matching: lower case, no accents, one kind of apostrophe and dash.

Report-text and pathology rules match vocabularies against folded text and report
evidence as spans of the original: :func:`fold_text` gives both.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["fold_text"]

_CHAR_MAP: Final = {
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "`": "'",
    "\u00b4": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u00a0": " ",
    "\u202f": " ",
    "\r": "\n",
    "\u0153": "oe",
    "\u00e6": "ae",
}


def _fold_char(char: str) -> str:
    mapped = _CHAR_MAP.get(char)
    if mapped is None:
        decomposed = unicodedata.normalize("NFKD", char)
        mapped = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
        mapped = "".join(_CHAR_MAP.get(c, c) for c in mapped)
    return mapped


_FOLDED: dict[str, str] = {}
"""Each character met so far, folded (a few hundred distinct characters in practice)."""
_FOLDED_LIMIT: Final = 100_000


def fold_text(text: str) -> tuple[str, list[int]]:
    """``text`` casefolded, accents removed (NFKD), typographic apostrophes, dashes and
    non-breaking spaces made plain, "œ"/"æ" spelt out; with, for each folded
    character, its offset in ``text``, plus ``len(text)`` at the end (so that a folded
    span ``[i, j)`` is ``text[origin[i]:origin[j]]``)."""
    if text.isascii():
        # One folded character per character: lower case, CR and backquote mapped.
        folded = text.lower().replace("\r", "\n").replace("`", "'")
        return folded, list(range(len(text) + 1))
    out: list[str] = []
    origin: list[int] = []
    cache = _FOLDED
    for index, char in enumerate(text):
        mapped = cache.get(char)
        if mapped is None:
            mapped = _fold_char(char)
            if len(cache) < _FOLDED_LIMIT:
                cache[char] = mapped
        if len(mapped) == 1:
            out.append(mapped)
            origin.append(index)
        else:
            for piece in mapped:
                out.append(piece)
                origin.append(index)
    origin.append(len(text))
    return "".join(out), origin
