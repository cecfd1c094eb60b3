"""Text from files in HTML the product does not write itself.

The product's own pages and reports are Jinja templates with autoescape on: every
value is escaped where it is written. A third-party page the product saves
(Evidently's drift report) embeds the values it is given raw, as JSON inside a
``<script>`` block, where HTML escaping does not apply and ``</script>`` ends the
block: a ``site`` of ``</script><script>...`` would run when the page is opened. So a
value from a file is made inert *before* it is handed to such a generator: the three
characters that make markup - ``<``, ``>``, ``&`` - become their full-width forms
(``＜ ＞ ＆``), which read the same to a person and are not markup anywhere. After the
page is written, :func:`assert_inert` checks none of the original values is in it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MARKUP", "assert_inert", "inert_text"]

MARKUP = {"<": "\uff1c", ">": "\uff1e", "&": "\uff06"}
"""Characters of markup and the full-width forms that replace them."""

_TABLE = str.maketrans(MARKUP)


def inert_text(value: object) -> object:
    """``value`` with ``<``, ``>`` and ``&`` in their full-width forms if it is text;
    anything else (numbers, None, NaN) unchanged."""
    return value.translate(_TABLE) if isinstance(value, str) else value


def assert_inert(page: str, values: Iterable[object]) -> None:
    """Raise ValueError if one of ``values`` that holds markup is in ``page`` as it came
    (a generator that kept a value :func:`inert_text` should have changed)."""
    for value in values:
        if isinstance(value, str) and any(c in value for c in MARKUP) and value in page:
            raise ValueError(
                "a value with markup characters reached a saved HTML page unchanged; "
                "it was not made inert (monitor.html_text.inert_text)"
            )
