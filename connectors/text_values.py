"""One spelling per value: what makes two values that look alike the same value.

Subgroups are cut by the exact text of a value: ``Fujifilm`` with a zero-width space,
a non-breaking space or hyphen, or composed differently (NFD ``é`` as ``e`` and a
combining accent), would be a subgroup of its own, with its own chart. A value from a
file is therefore normalised before it is stored: Unicode NFC, invisible characters
(zero-width spaces and joiners, the word joiner, the byte-order mark, soft hyphens)
removed, every kind of space (non-breaking, narrow, figure, ideographic...) a plain
space, runs of spaces one, the non-breaking and other Unicode hyphens a plain ``-``,
and the ends stripped. ASCII text without double spaces is returned as it is (the
common case costs one check).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise_text"]

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
_HYPHENS = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d"), ord("-"))
_TABLE = {**_INVISIBLE, **_HYPHENS}
_SPACES = re.compile(r"\s+")  # every Unicode space (str patterns match them all)


def normalise_text(value: str) -> str:
    """``value`` in its one stored spelling (see the module docstring); may be ""."""
    if value.isascii() and "  " not in value and value == value.strip():
        return value
    text = unicodedata.normalize("NFC", value).translate(_TABLE)
    return _SPACES.sub(" ", text).strip()
