"""Ground truth from the free text of a radiology report, French or English, by rules.

:func:`extract_outcome` reads one report and says, for one target condition
(:data:`TARGETS`), whether the report states it (``positive``), rules it out
(``negative``), hedges (``indeterminate``) or does not speak of it (``None``:
the extractor cannot decide, which is not the same as negative).

How it decides (rules ``report_text_rules/v1``):

- **Normalisation**: lower case, accents removed, typographic apostrophes and
  dashes unified; offsets in the result always refer to the original text.
- **Language**: French and English stop words are counted; the language with
  more wins, a tie applies both vocabularies (method ``fr+en``).
- **Section**: if a conclusion header is found at the start of a line or a
  sentence (``Conclusion``, ``En conclusion``, ``Au total``, ``Impression``,
  ``Synthèse``), the text after the last one is used (section ``conclusion``).
  When the conclusion says nothing about the target, the text before it is used
  (section ``body``). Without a header, the whole text (``full_text``). Lines
  starting with an indication header (``Indication :``, ``Renseignements
  cliniques :``, ``Clinical history:`` ...) are never read: a question asked by
  the referrer is not a finding.
- **Scope**: clauses end at ``. ; : !``, a new line, a ``?`` followed by a
  capital letter, and at ``mais``, ``cependant``, ``toutefois``, ``par
  ailleurs``, ``en revanche``, ``hormis``, ``sauf``, ``en dehors de``, ``but``,
  ``however``, ``although``, ``whereas``, ``except``, ``apart from``. Inside a
  clause, commas cut segments. A cue placed before a term (``pas de``, ``no``,
  ``possible``) covers the rest of its segment and the following segments while
  they continue a list (they start with ``de``/``du``/``ou``/``or``... or the
  clause goes on to an ``ou``/``ni``/``or``/``nor``), so ``pas de luxation,
  fracture du radius`` is positive and ``no dislocation, fracture or effusion``
  negative. A cue placed after a term (``non visible``, ``cannot be
  excluded``, ``?``) covers its own segment, or the next one when that segment
  starts with the cue. Historical and other-site cues (``ancienne``,
  ``consolidée``, ``old healed``, ``en 2019``, ``thyroïdien``) work like
  after-cues in both directions and make a mention not count as current.
- **Cue conflicts**: overlapping cues keep the longest; pseudo-negations
  (``pas de changement``, ``no change``, ``not only``, ``sans déplacement``)
  only mask what they overlap. When a mention is both negated and hedged, the
  outermost cue is the predicate and decides: the last cue after the term, else
  the first before it (``the suspected fracture is not identified`` is negative,
  ``pas de fracture ?`` and ``fracture non exclue`` indeterminate).
- **Decision**: positive if any affirmed current mention; else indeterminate if
  any uncertain mention (``probable`` and ``likely`` hedge too: only certain
  statements are positive ground truth); else negative if any negated mention
  or an explicit normal statement filling a whole clause (``Examen normal``,
  ``No acute abnormality``); else ``None``.

Vocabularies are YAML data files (``connectors/vocabularies/<target>.yaml``)
that :func:`load_vocabulary` can extend with the user's own files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Final

import yaml

from connectors.errors import ConnectorError
from connectors.text_folding import fold_text

__all__ = [
    "CATEGORIES",
    "LANGUAGES",
    "METHOD",
    "SECTIONS",
    "TARGETS",
    "Evidence",
    "LanguageVocabulary",
    "TextOutcome",
    "Vocabulary",
    "extract_outcome",
    "load_vocabulary",
]

METHOD: Final = "report_text_rules/v1"
TARGETS: Final = ("fracture", "lung_nodule")
LANGUAGES: Final = ("fr", "en")
SECTIONS: Final = ("conclusion", "body", "full_text")
CATEGORIES: Final = (
    "terms",
    "excluded",
    "negation",
    "negation_post",
    "uncertainty",
    "uncertainty_post",
    "pseudo_negation",
    "historical",
    "other_site",
    "normal",
)
"""Lists of a language's vocabulary: an entry is a phrase, or ``re:`` + a regex."""

_VOCABULARY_DIR: Final = Path(__file__).resolve().parent / "vocabularies"


@dataclass(frozen=True, slots=True)
class LanguageVocabulary:
    """The cues of one language; each field is one of :data:`CATEGORIES`."""

    language: str
    terms: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    negation: tuple[str, ...] = ()
    negation_post: tuple[str, ...] = ()
    uncertainty: tuple[str, ...] = ()
    uncertainty_post: tuple[str, ...] = ()
    pseudo_negation: tuple[str, ...] = ()
    historical: tuple[str, ...] = ()
    other_site: tuple[str, ...] = ()
    normal: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The vocabulary of one target: one :class:`LanguageVocabulary` per language."""

    target: str
    languages: tuple[LanguageVocabulary, ...]

    def language(self, code: str) -> LanguageVocabulary:
        """The vocabulary of ``code`` (empty when the files do not define it)."""
        for entry in self.languages:
            if entry.language == code:
                return entry
        return LanguageVocabulary(code)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The mention that decided: ``text[start:end]`` of the original report.

    The span covers the term and its deciding cue. ``term`` is None for an
    explicit normal statement (its phrase is then ``cue``). ``status`` is
    ``affirmed``, ``uncertain``, ``negated`` or ``normal``.
    """

    start: int
    end: int
    text: str
    term: str | None
    cue: str | None
    status: str


@dataclass(frozen=True, slots=True)
class TextOutcome:
    """The outcome a report states for one target.

    ``outcome`` is ``positive``, ``negative``, ``indeterminate`` or None (no
    mention: cannot decide). ``method`` is e.g. ``report_text_rules/v1 fr``;
    ``section`` is one of :data:`SECTIONS` (None for an empty text).
    """

    target: str
    outcome: str | None
    method: str
    section: str | None
    evidence: Evidence | None


# --------------------------------------------------------------------- loading


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")


def _read_yaml(path: Path) -> dict[str, object]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConnectorError(
            f"cannot read the vocabulary file ({exc.strerror}): check the path",
            path=str(path),
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConnectorError(
            f"not a valid UTF-8 YAML vocabulary ({exc}): fix its syntax", path=str(path)
        ) from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConnectorError(
            "a vocabulary file must be a mapping of languages (fr, en) to lists",
            path=str(path),
        )
    return raw


def _entries(path: Path, language: str, category: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConnectorError(
            f"{language}.{category} must be a list of strings (quote entries like 'no')",
            path=str(path),
        )
    for item in value:
        if item.startswith("re:"):
            try:
                re.compile(item[3:])
            except re.error as exc:
                raise ConnectorError(
                    f"{language}.{category}: bad regular expression {item!r} ({exc})",
                    path=str(path),
                ) from exc
        elif not fold_text(item)[0].strip():
            raise ConnectorError(f"{language}.{category}: empty entry", path=str(path))
    return tuple(value)


def _merge(vocabulary: Vocabulary, path: Path, target: str) -> Vocabulary:
    raw = _read_yaml(path)
    declared = raw.pop("target", target)
    if declared != target:
        raise ConnectorError(
            f"the file is for target {declared!r}, not {target!r}: load it for its own target",
            path=str(path),
        )
    languages = {entry.language: entry for entry in vocabulary.languages}
    for language, lists in raw.items():
        if language not in LANGUAGES:
            raise ConnectorError(
                f"unknown key {language!r}: use target or a language ({', '.join(LANGUAGES)})",
                path=str(path),
            )
        if not isinstance(lists, dict):
            raise ConnectorError(f"{language} must be a mapping of lists", path=str(path))
        unknown = set(lists) - set(CATEGORIES)
        if unknown:
            raise ConnectorError(
                f"{language}: unknown list(s) {', '.join(sorted(map(str, unknown)))}: "
                f"use {', '.join(CATEGORIES)}",
                path=str(path),
            )
        current = languages.get(language, LanguageVocabulary(language))
        updates: dict[str, tuple[str, ...]] = {}
        for category, value in lists.items():
            added = _entries(path, language, category, value)
            known: tuple[str, ...] = getattr(current, category)
            updates[category] = known + tuple(item for item in added if item not in known)
        values = {f.name: getattr(current, f.name) for f in fields(LanguageVocabulary)}
        values.update(updates)
        languages[language] = LanguageVocabulary(**values)
    return Vocabulary(target, tuple(languages[code] for code in sorted(languages)))


def load_vocabulary(target: str, extra: Sequence[Path] = ()) -> Vocabulary:
    """The built-in vocabulary of ``target``, extended by the ``extra`` YAML files in order.

    An extra file has the built-in shape (optional ``target``, then ``fr`` / ``en``
    mappings of :data:`CATEGORIES` lists); its entries are appended. Raises
    ValueError for an unknown target and :class:`ConnectorError` for a file
    that cannot be read or has an unknown key, a non-list or a bad regex.
    """
    _check_target(target)
    vocabulary = Vocabulary(target, ())
    for path in (_VOCABULARY_DIR / f"{target}.yaml", *map(Path, extra)):
        vocabulary = _merge(vocabulary, path, target)
    return vocabulary


@lru_cache(maxsize=len(TARGETS))
def _builtin(target: str) -> Vocabulary:
    return load_vocabulary(target)


# ---------------------------------------------------------------- normalising


def _phrase_regex(entry: str, plural: bool) -> str:
    if entry.startswith("re:"):
        return f"(?:{entry[3:]})"
    normalized = fold_text(entry)[0].strip()
    words = [word for word in re.split(r"[\s\-]+", normalized) if word]
    parts = []
    for word in words:
        piece = r"(?:'\s*|\s+)".join(re.escape(bit) for bit in word.split("'"))
        if plural and word[-1:].isalpha() and len(word) > 2:
            piece += "(?:s|x|es)?"
        parts.append(piece)
    body = r"[\s\-]+".join(parts)
    head = r"(?<!\w)" if normalized[:1].isalnum() else ""
    tail = r"(?!\w)" if normalized[-1:].isalnum() else ""
    return head + body + tail


def _union(entries: Iterable[str], plural: bool = False) -> re.Pattern[str] | None:
    ordered = sorted(set(entries), key=lambda entry: (-len(entry), entry))
    if not ordered:
        return None
    return re.compile("|".join(_phrase_regex(entry, plural) for entry in ordered))


@dataclass(frozen=True, slots=True)
class _Compiled:
    terms: re.Pattern[str] | None
    cues: tuple[tuple[str, re.Pattern[str] | None], ...]
    excluded: re.Pattern[str] | None
    normal: re.Pattern[str] | None


_CUE_PRIORITY: Final = (
    "pseudo_negation",
    "uncertainty_post",
    "uncertainty",
    "negation_post",
    "negation",
    "historical",
    "other_site",
)


@lru_cache(maxsize=64)
def _compile(vocabulary: Vocabulary, languages: tuple[str, ...]) -> _Compiled:
    chosen = [vocabulary.language(code) for code in languages]

    def gather(category: str) -> list[str]:
        return [entry for lang in chosen for entry in getattr(lang, category)]

    return _Compiled(
        terms=_union(gather("terms"), plural=True),
        cues=tuple((category, _union(gather(category))) for category in _CUE_PRIORITY),
        excluded=_union(gather("excluded"), plural=True),
        normal=_union(gather("normal")),
    )


# -------------------------------------------------------- language and sections

_FR_WORDS: Final = frozenset(
    [
        "le",
        "la",
        "les",
        "de",
        "des",
        "du",
        "un",
        "une",
        "et",
        "est",
        "sans",
        "avec",
        "pas",
        "au",
        "aux",
        "en",
        "sur",
        "dans",
        "pour",
        "ou",
        "ni",
        "absence",
        "aucun",
        "aucune",
        "droit",
        "droite",
        "gauche",
        "examen",
        "ce",
        "cette",
        "il",
        "on",
        "l",
        "d",
        "n",
        "qu",
        "ne",
        "pulmonaire",
        "resultat",
        "confirmer",
        "controler",
    ]
)
_EN_WORDS: Final = frozenset(
    [
        "the",
        "of",
        "and",
        "is",
        "are",
        "with",
        "without",
        "no",
        "an",
        "pulmonary",
        "findings",
        "in",
        "on",
        "for",
        "or",
        "nor",
        "there",
        "right",
        "left",
        "examination",
        "this",
        "that",
        "was",
        "seen",
    ]
)
_WORD: Final = re.compile(r"[a-z]+")


def _languages(normalized: str) -> tuple[str, ...]:
    words = _WORD.findall(normalized)
    french = sum(word in _FR_WORDS for word in words)
    english = sum(word in _EN_WORDS for word in words)
    if french > english:
        return ("fr",)
    if english > french:
        return ("en",)
    return ("fr", "en")


_CONCLUSION: Final = re.compile(
    r"(?:^|(?<=[.!?]\s)|(?<=[.!?]))[ \t\-*#>]*"
    r"(?:en conclusion|au total|conclusions?|impressions?|synthese)[ \t]*(?::|,|-|\n|$)",
    re.MULTILINE,
)
_INDICATION: Final = re.compile(
    r"^[ \t\-*#>]*(?:indications?|renseignements? cliniques?|motif(?: de l'examen)?|"
    r"contexte|clinical (?:information|history|indication)|history|reason for "
    r"(?:exam|examination|study)|technique)[ \t]*:[^\n]*",
    re.MULTILINE,
)


# ------------------------------------------------------------ clauses and scope

_CLAUSE_BREAK: Final = re.compile(
    r"[;:!\n]|\.(?!\d)|\?(?=\s*(?:\n|$))|"
    r"(?<!\w)(?:mais|cependant|toutefois|par ailleurs|en revanche|neanmoins|hormis|sauf|"
    r"but|however|although|though|whereas|except|apart from|other than|otherwise)(?!\w)|"
    r"(?<!\w)(?:en dehors|a l'exception) d(?:e|u|es|')"
)
_COMMA: Final = re.compile(r",(?!\d)")
_CONTINUES: Final = re.compile(r"\s*(?:de|d'|du|des|ni|ou|et de|et d'|or|nor|any)(?!\w)")
_LIST_CONJUNCTION: Final = re.compile(r"(?<!\w)(?:ou|ni|or|nor)(?!\w)")
_EDGE: Final = " \t-*>\u2022.,;:!"


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    category: str


@dataclass(frozen=True, slots=True)
class _Mention:
    term: _Match
    status: str
    cue: _Match | None


def _clauses(text: str, original: str, origin: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for found in _CLAUSE_BREAK.finditer(text):
        end = found.end() if found.group() == "?" else found.start()
        spans.append((start, end))
        start = found.end()
    spans.append((start, len(text)))
    # A "?" followed by a capital letter on the same line also ends a clause.
    result: list[tuple[int, int]] = []
    for begin, end in spans:
        cut = begin
        for mark in re.finditer(r"\?[ \t]+(?=\S)", text[begin:end]):
            after = begin + mark.end()
            if original[origin[after]].isupper():
                result.append((cut, begin + mark.start() + 1))
                cut = after
        result.append((cut, end))
    return [(begin, end) for begin, end in result if text[begin:end].strip()]


def _segments(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    cuts = [begin] + [begin + m.end() for m in _COMMA.finditer(text[begin:end])] + [end + 1]
    return [(cuts[i], cuts[i + 1] - 1) for i in range(len(cuts) - 1)]


def _find(
    pattern: re.Pattern[str] | None, text: str, begin: int, end: int, category: str
) -> list[_Match]:
    if pattern is None:
        return []
    return [
        _Match(begin + m.start(), begin + m.end(), category)
        for m in pattern.finditer(text[begin:end])
        if m.end() > m.start()
    ]


def _resolve(cues: list[_Match]) -> list[_Match]:
    """Non-overlapping cues: the longest first, ties by :data:`_CUE_PRIORITY` order."""
    rank = {category: index for index, category in enumerate(_CUE_PRIORITY)}
    kept: list[_Match] = []
    for cue in sorted(cues, key=lambda c: (c.start - c.end, rank[c.category], c.start)):
        if all(
            cue.end <= other.start
            or cue.start >= other.end
            or (cue.start, cue.end) == (other.start, other.end)
            for other in kept
        ):
            kept.append(cue)
    return [cue for cue in kept if cue.category != "pseudo_negation"]


def _analyse_clause(
    text: str, begin: int, end: int, compiled: _Compiled
) -> tuple[list[_Mention], _Match | None]:
    segments = _segments(text, begin, end)

    def segment_of(position: int) -> int:
        for index, (s_begin, s_end) in enumerate(segments):
            if s_begin <= position <= s_end:
                return index
        return len(segments) - 1

    continues = [False] * len(segments)
    for index in range(1, len(segments)):
        s_begin, _ = segments[index]
        rest = text[s_begin:end]
        continues[index] = bool(
            _CONTINUES.match(text, s_begin, end) or _LIST_CONJUNCTION.search(rest)
        )

    def reach(index: int) -> int:
        last = index
        while last + 1 < len(segments) and continues[last + 1]:
            last += 1
        return last

    def starts_with(cue: _Match) -> bool:
        s_begin, _ = segments[segment_of(cue.start)]
        return not text[s_begin : cue.start].strip()

    excluded = _find(compiled.excluded, text, begin, end, "excluded")
    terms = [
        term
        for term in _find(compiled.terms, text, begin, end, "term")
        if all(term.end <= ex.start or term.start >= ex.end for ex in excluded)
    ]
    normal = None
    stripped_begin, stripped_end = begin, end
    while stripped_begin < stripped_end and text[stripped_begin] in _EDGE:
        stripped_begin += 1
    while stripped_end > stripped_begin and text[stripped_end - 1] in _EDGE:
        stripped_end -= 1
    if compiled.normal is not None and compiled.normal.fullmatch(
        text, stripped_begin, stripped_end
    ):
        normal = _Match(stripped_begin, stripped_end, "normal")
    if not terms:
        return [], normal
    cues = _resolve(
        [
            match
            for category, pattern in compiled.cues
            for match in _find(pattern, text, begin, end, category)
        ]
    )
    cues = [cue for cue in cues if all(cue.end <= t.start or cue.start >= t.end for t in terms)]

    def after_cue_applies(cue: _Match, term: _Match) -> bool:
        term_segment, cue_segment = segment_of(term.start), segment_of(cue.start)
        return cue_segment == term_segment or (cue_segment == term_segment + 1 and starts_with(cue))

    def applies(cue: _Match, term: _Match) -> bool:
        if cue.category in ("negation", "uncertainty"):
            if cue.end > term.start:
                return False
            first = segment_of(cue.start)
            return first <= segment_of(term.start) <= reach(first)
        if cue.category in ("negation_post", "uncertainty_post"):
            return cue.start >= term.end and after_cue_applies(cue, term)
        # historical and other-site cues: before or after, in the segment.
        if cue.start >= term.end:
            return after_cue_applies(cue, term)
        return segment_of(cue.start) == segment_of(term.start)

    mentions = []
    for term in terms:
        found = [cue for cue in cues if applies(cue, term)]
        past = [cue for cue in found if cue.category in ("historical", "other_site")]
        after = [cue for cue in found if cue.category in ("negation_post", "uncertainty_post")]
        before = [cue for cue in found if cue.category in ("negation", "uncertainty")]
        cue: _Match | None
        if past:
            status, cue = "historical", past[0]
        elif after or before:
            # The outermost cue is the predicate: the last after-cue, else the first before-cue.
            cue = max(after, key=lambda c: c.start) if after else min(before, key=lambda c: c.start)
            status = "uncertain" if cue.category.startswith("uncertainty") else "negated"
        else:
            status, cue = "affirmed", None
        mentions.append(_Mention(term, status, cue))
    return mentions, normal


# -------------------------------------------------------------------- deciding

_DECISION: Final = (
    ("affirmed", "positive"),
    ("uncertain", "indeterminate"),
    ("negated", "negative"),
)


def _decide(
    text: str, ranges: list[tuple[int, int]], original: str, origin: list[int], compiled: _Compiled
) -> tuple[str | None, Evidence | None]:
    mentions: list[_Mention] = []
    normals: list[_Match] = []
    for range_begin, range_end in ranges:
        for begin, end in _clauses(text[:range_end], original, origin):
            if end <= range_begin:
                continue
            found, normal = _analyse_clause(text, max(begin, range_begin), end, compiled)
            mentions.extend(found)
            if normal is not None:
                normals.append(normal)

    def evidence(start: int, stop: int, term: str | None, cue: str | None, status: str) -> Evidence:
        first, last = origin[start], origin[stop]
        return Evidence(first, last, original[first:last], term, cue, status)

    for status, outcome in _DECISION:
        chosen = [mention for mention in mentions if mention.status == status]
        if chosen:
            mention = chosen[0]
            spans = [mention.term] + ([mention.cue] if mention.cue else [])
            start = min(span.start for span in spans)
            stop = max(span.end for span in spans)
            cue_text = (
                original[origin[mention.cue.start] : origin[mention.cue.end]]
                if mention.cue
                else None
            )
            term_text = original[origin[mention.term.start] : origin[mention.term.end]]
            return outcome, evidence(start, stop, term_text, cue_text, status)
    if normals:
        normal = normals[0]
        cue_text = original[origin[normal.start] : origin[normal.end]]
        return "negative", evidence(normal.start, normal.end, None, cue_text, "normal")
    return None, None


def extract_outcome(text: str, target: str, vocabulary: Vocabulary | None = None) -> TextOutcome:
    """The outcome ``text`` (one report) states for ``target``; never raises on any text.

    ``vocabulary`` defaults to the built-in one of ``target``
    (:func:`load_vocabulary`). An empty or blank text gives outcome None with
    section None. Raises ValueError only for a target not in :data:`TARGETS`.
    """
    _check_target(target)
    if vocabulary is None:
        vocabulary = _builtin(target)
    normalized, origin = fold_text(text)
    if not normalized.strip():
        return TextOutcome(target, None, METHOD, None, None)
    languages = _languages(normalized)
    method = f"{METHOD} {'+'.join(languages)}"
    compiled = _compile(vocabulary, languages)
    readable = list(normalized)
    for indication in _INDICATION.finditer(normalized):
        readable[indication.start() : indication.end()] = " " * (
            indication.end() - indication.start()
        )
    body = "".join(readable)
    headers = list(_CONCLUSION.finditer(body))
    if headers:
        header = headers[-1]
        outcome, evidence = _decide(body, [(header.end(), len(body))], text, origin, compiled)
        if outcome is not None:
            return TextOutcome(target, outcome, method, "conclusion", evidence)
        outcome, evidence = _decide(body, [(0, header.start())], text, origin, compiled)
        return TextOutcome(target, outcome, method, "body", evidence)
    outcome, evidence = _decide(body, [(0, len(body))], text, origin, compiled)
    return TextOutcome(target, outcome, method, "full_text", evidence)
