"""The sections and sentences of a radiology report, French or English (folded text).

A report is cut into sections by its headers: a known heading at the start of a line
(after bullets or markup) followed by a colon, a dash or the end of the line, or after
the end of a sentence followed by a colon, or anywhere in a line when it starts with a
capital and is followed by a colon (``..., FINDINGS: ...``, ``TDM TAP Indication : ...``
in a report whose line breaks were lost on the way); the conclusion's headings (``Conclusion``,
``Au total``, ``En conclusion``, ``Impression``, ``Synthèse``) may also be followed by
a comma. Each heading belongs to one of :data:`SECTIONS`:

- ``indication`` (indication, renseignements cliniques, motif, contexte, clinical
  information / history / indication, reason for exam), ``history`` (antécédents,
  history), ``technique`` (technique, protocole, procedure), ``comparison``
  (comparaison, comparison, prior): what the referrer asked, what is known and how
  the exam was made; they never decide an outcome. A heading of these kinds followed
  by text on its own line covers that line only; a heading alone on its line covers
  the lines below it up to a blank line or the next heading.
- ``findings`` (résultats, description, findings, report) and ``conclusion``: read;
  ``addendum`` (relecture, addendum, additif, rectificatif, final read): a later
  reading of the same exam, which decides over the first when it speaks of the target.
  Text before the first heading, when there are headings, is ``findings`` (an exam
  title, a free paragraph); a report without any heading is one ``full_text``.

Sentences end at ``.`` (not a decimal point), ``!``, ``;``, a new line, and at a
``?`` followed by the end of the line or by a capital letter. Both functions work on
the folded text (:func:`connectors.text_folding.fold_text`) and return offsets in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["READ_SECTIONS", "SECTIONS", "Section", "sections", "sentences"]

SECTIONS: Final = (
    "indication",
    "history",
    "technique",
    "comparison",
    "findings",
    "conclusion",
    "addendum",
    "full_text",
)
READ_SECTIONS: Final = frozenset({"findings", "conclusion", "addendum", "full_text"})
"""The sections whose sentences may decide an outcome."""

_HEADINGS: Final = {
    "indication": (
        r"indications?|renseignements? cliniques?|motif(?: de l'examen| de la demande)?|"
        r"contexte(?: clinique)?|demande|question posee|clinical (?:information|history|"
        r"indications?|details|data|notes?)|reason for (?:exam|examination|study|referral)|"
        r"indication for (?:exam|examination|study)|clinique|clinical|anamnese"
    ),
    "history": r"antecedents?|atcd|history|past (?:medical )?history",
    "technique": r"techniques?|protocoles?|procedures?|acquisition",
    "comparison": r"comparaisons?|comparisons?|examens? (?:anterieurs?|de reference)|priors?",
    "findings": r"resultats?|descriptions?|findings?|constatations?|analyse|report|observations?",
    "conclusion": r"en conclusion|au total|conclusions?|impressions?|synthese|summary|opinion",
    "addendum": (
        r"relecture(?: [^:\n]{0,40})?|addendum|additif|rectificatif|complement|"
        r"correction|amendment|amended report|final read|final report|re-read"
    ),
}
_ALTERNATIVES: Final = "|".join(f"(?P<{name}>{pattern})" for name, pattern in _HEADINGS.items())
_LINE_HEADING: Final = re.compile(
    rf"^[ \t\-*#>\u2022]*(?:{_ALTERNATIVES})[ \t*_]*(?P<mark>:|-(?=[ \t])|$)", re.MULTILINE
)
_SENTENCE_HEADING: Final = re.compile(rf"(?<=[.!?])[ \t]+(?:{_ALTERNATIVES})[ \t]*(?P<mark>:)")
_INLINE_HEADING: Final = re.compile(rf"(?<=[\s,;])(?:{_ALTERNATIVES})[ \t]*(?P<mark>:)")
"""A heading inside a line: counts only when the original writes it with a capital."""
_CONCLUSION_COMMA: Final = re.compile(
    r"(?:^|(?<=[.!?])[ \t]+)[ \t\-*#>]*(?P<head>en conclusion|au total|conclusion|"
    r"impression|synthese)[ \t]*,",
    re.MULTILINE,
)
_BLANK_LINE: Final = re.compile(r"\n[ \t]*\n")
_SKIPPED: Final = frozenset({"indication", "history", "technique", "comparison"})


@dataclass(frozen=True, slots=True)
class Section:
    """``text[start:end]`` of the folded report belongs to section ``name``."""

    name: str
    start: int
    end: int


def _section_of(match: re.Match[str]) -> str:
    """The section a heading match names (its one matched named group)."""
    return next(name for name in _HEADINGS if match.group(name) is not None)


def sections(
    text: str, original: str | None = None, origin: Sequence[int] | None = None
) -> list[Section]:
    """The sections of folded ``text`` in order, covering it without overlap (see module).

    ``original`` and ``origin`` (from :func:`fold_text`) tell whether a heading inside a
    line starts with a capital; without them only headings at a line's or a sentence's start
    count."""
    heads: list[tuple[int, int, str, bool]] = []  # start, end of heading, name, alone
    for match in _LINE_HEADING.finditer(text):
        alone = (
            match.group("mark") == ""
            or not text[match.end() : _line_end(text, match.end())].strip()
        )
        heads.append((match.start(), match.end(), _section_of(match), alone))
    for match in _SENTENCE_HEADING.finditer(text):
        heads.append((match.start(), match.end(), _section_of(match), False))
    for match in _CONCLUSION_COMMA.finditer(text):
        heads.append((match.start("head"), match.end(), "conclusion", False))
    if original is not None and origin is not None:
        for match in _INLINE_HEADING.finditer(text):
            name = _section_of(match)
            before = text[text.rfind("\n", 0, match.start()) + 1 : match.start()]
            written = original[origin[match.start(name)] : origin[match.end(name)]]
            if before.strip(" \t-*#>\u2022") and written[:1].isupper():
                heads.append((match.start(), match.end(), name, False))
    heads.sort()
    kept: list[tuple[int, int, str, bool]] = []
    for head in heads:
        if kept and head[0] < kept[-1][1]:
            continue
        kept.append(head)
    if not kept:
        return [Section("full_text", 0, len(text))]
    result: list[Section] = []
    if text[: kept[0][0]].strip():
        result.append(Section("findings", 0, kept[0][0]))
    for index, (_, end, name, alone) in enumerate(kept):
        stop = kept[index + 1][0] if index + 1 < len(kept) else len(text)
        if name in _SKIPPED:
            own_end = _block_end(text, end, stop) if alone else _line_end(text, end, stop)
            result.append(Section(name, end, own_end))
            if text[own_end:stop].strip():
                result.append(Section("findings", own_end, stop))
        else:
            result.append(Section(name, end, stop))
    return result


def _line_end(text: str, start: int, stop: int | None = None) -> int:
    stop = len(text) if stop is None else stop
    found = text.find("\n", start, stop)
    return stop if found < 0 else found


def _block_end(text: str, start: int, stop: int) -> int:
    found = _BLANK_LINE.search(text, start, stop)
    return stop if found is None else found.start()


_BREAK: Final = re.compile(r"[!;\n]|\.(?!\d)|\?(?=[ \t]*(?:\n|$))")
_QUESTION: Final = re.compile(r"\?[ \t]+(?=\S)")


def sentences(
    text: str, start: int, end: int, original: str, origin: list[int]
) -> list[tuple[int, int]]:
    """The sentences of folded ``text[start:end]`` as (start, end) offsets, blank ones dropped.

    ``original`` and ``origin`` (from :func:`fold_text`) tell whether a ``?`` is
    followed by a capital letter in the original text.
    """
    spans: list[tuple[int, int]] = []
    begin = start
    for found in _BREAK.finditer(text, start, end):
        stop = found.end() if found.group() == "?" else found.start()
        spans.append((begin, stop))
        begin = found.end()
    spans.append((begin, end))
    result: list[tuple[int, int]] = []
    for first, last in spans:
        cut = first
        for mark in _QUESTION.finditer(text, first, last):
            after = mark.end()
            if original[origin[after]].isupper():
                result.append((cut, mark.start() + 1))
                cut = after
        result.append((cut, last))
    return [(first, last) for first, last in result if text[first:last].strip()]
