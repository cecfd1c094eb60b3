"""Ground truth from the free text of a radiology report, French or English, by rules.

:func:`extract_outcome` reads one report and says, for one target condition
(:data:`TARGETS`), whether the report states it (``positive``), rules it out
(``negative``), hedges (``indeterminate``) or never speaks of it (outcome None,
state ``unmentioned``: a report silent about the target is not bad data, and
whether it counts as negative is the device's policy, not the reader's).

How it reads (rules ``report_text_rules/v2``), after the published ConText /
NegEx design (Chapman et al. 2001, Harkema et al. 2009): trigger terms with a
direction and a scope, termination terms that end a scope, pseudo-triggers that
look like a trigger but are not one.

- **Normalisation**: lower case, accents removed, typographic apostrophes and
  dashes unified; offsets in the result always refer to the original text.
- **Language**: French and English stop words are counted; the language with
  more wins, a tie applies both vocabularies (method ``fr+en``).
- **Sections** (:mod:`connectors.report_sections`): indication, history,
  technique and comparison never decide; findings and conclusion (or the whole
  text without headings) are read.
- **Sentences and scope**: sentences end at ``. ; ! ?`` and new lines. Inside a
  sentence, a *termination* term (``mais``, ``cependant``, ``but``, ``however``,
  ``except``, a colon...) ends every scope. A *pre* trigger (``pas de``, ``no``,
  ``possible``, ``if``) covers what follows it in its comma-separated segment and
  the next segments while they continue a list (they start with ``de``, ``or``...,
  the clause goes on to an ``ou``/``ni``/``or``/``nor``, or the trigger's own
  segment holds only modifiers: ``no acute, displaced rib fractures``). A *post*
  trigger (``non visible``, ``cannot be excluded``, ``?``) covers its own segment,
  or the one before when it opens its segment. *Pseudo-triggers* (``pas de
  changement``, ``no change``, ``sans déplacement``) mask what they overlap.
- **Qualifiers** of a mention: negated, uncertain, hypothetical (conditional,
  recommendation, modal disclaimer: ``if``, ``consider``, ``to identify``,
  ``could obscure``, ``may not be demonstrated``), historical (old, healed,
  resected, a past year), benign explanation (granuloma, nipple shadow), other
  organ (anatomy: :mod:`connectors.vocabularies` ``anatomy.yaml``; a lung nodule
  counts only in the lung) and device (``fractured wire``, ``fracture de sonde``:
  never a bone fracture). When a mention is both negated and hedged, the
  outermost cue decides: the last post trigger, else the first pre trigger.
- **Decision**: the conclusion decides when it speaks of the target; else the
  rest of the read text. Among the mentions that count: positive if any is
  affirmed; else indeterminate if any is uncertain; else negative if any is
  negated. A specific mention always outranks a generic normal statement
  (``Examen normal``, ``No acute cardiopulmonary process``), which decides
  negative only when no mention counts. Hypothetical, other-organ and device
  mentions never count; historical and benign-explained ones count as positive
  only when the :class:`ReadingPolicy` says so (default: they do not, so a report
  that speaks only of an old fracture is ``unmentioned`` for a current fracture).

Vocabularies are YAML data files (``connectors/vocabularies/<target>.yaml``)
that :func:`load_vocabulary` can extend with the user's own files.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

import yaml

from connectors.errors import ConnectorError
from connectors.report_sections import READ_SECTIONS, SECTIONS, Section, sections, sentences
from connectors.text_folding import fold_text

__all__ = [
    "CATEGORIES",
    "LANGUAGES",
    "METHOD",
    "SECTIONS",
    "STATES",
    "TARGETS",
    "Evidence",
    "LanguageVocabulary",
    "ReadingPolicy",
    "TextOutcome",
    "Vocabulary",
    "extract_outcome",
    "load_vocabulary",
]

METHOD: Final = "report_text_rules/v2"
TARGETS: Final = ("fracture", "lung_nodule")
LANGUAGES: Final = ("fr", "en")
STATES: Final = ("decided", "uncertain", "unmentioned", "empty")
"""``decided``: positive or negative; ``uncertain``: indeterminate; ``unmentioned``: a
text that never states the target (outcome None); ``empty``: a blank text."""
CATEGORIES: Final = (
    "terms",
    "excluded",
    "negation",
    "negation_post",
    "uncertainty",
    "uncertainty_post",
    "hypothetical",
    "hypothetical_post",
    "pseudo_negation",
    "termination",
    "old",
    "historical",
    "benign",
    "mimic",
    "pattern",
    "other_site",
    "device",
    "normal",
)
"""Lists of a language's vocabulary: an entry is a phrase, or ``re:`` + a regex."""

_TARGET_ORGAN: Final = {"fracture": None, "lung_nodule": "lung"}
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
    hypothetical: tuple[str, ...] = ()
    hypothetical_post: tuple[str, ...] = ()
    pseudo_negation: tuple[str, ...] = ()
    termination: tuple[str, ...] = ()
    old: tuple[str, ...] = ()
    historical: tuple[str, ...] = ()
    benign: tuple[str, ...] = ()
    mimic: tuple[str, ...] = ()
    pattern: tuple[str, ...] = ()
    other_site: tuple[str, ...] = ()
    device: tuple[str, ...] = ()
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
class ReadingPolicy:
    """How the findings a device's claim may or may not cover count, for that device.

    ``historical``: an old, healed or resected finding (``ancienne fracture
    consolidée``, ``remote rib fractures``); default ``ignore``: the mention does not
    count (a current fracture is the target), ``positive``: it counts as affirmed.
    ``benign``: a benign finding named without the target's word (``calcified
    granuloma in the right upper lobe``); default ``ignore``, ``positive`` counts it as
    a nodule. A nodule *described* as benign (``calcified nodule, likely granuloma``)
    is a nodule and always counts. ``nodular_pattern``: a diffuse or scarring nodular
    pattern (``fibronodular``, ``réticulo-nodulaire``); default ``positive``, as the
    curated labels of the real English corpus count it (benchmarks/README.md),
    ``ignore`` for a device whose claim covers discrete nodules only. Mimics (nipple
    shadow, artefact, vessel seen end-on) never count.
    """

    historical: Literal["ignore", "positive"] = "ignore"
    benign: Literal["ignore", "positive"] = "ignore"
    nodular_pattern: Literal["ignore", "positive"] = "positive"


@dataclass(frozen=True, slots=True)
class Evidence:
    """The mention that decided: ``text[start:end]`` of the original report.

    The span covers the term and its deciding cue. ``term`` is None for an
    explicit normal statement (its phrase is then ``cue``). ``status`` is
    ``affirmed``, ``uncertain``, ``negated``, ``normal`` or, for a discounted
    mention (evidence of an ``unmentioned`` outcome), ``historical``, ``benign``,
    ``hypothetical``, ``other_organ`` or ``device``. ``sentence`` is the whole
    sentence of the original text; ``qualifiers`` the words that qualified the
    mention, each as ``kind: words`` (e.g. ``negated: pas de``, ``other_organ:
    thyroïdien``); ``organ`` the organ the mention was located in (None: not
    located, the target's own organ assumed) and ``side`` ``left``, ``right`` or
    ``bilateral`` when the sentence says so.
    """

    start: int
    end: int
    text: str
    term: str | None
    cue: str | None
    status: str
    sentence: str = ""
    qualifiers: tuple[str, ...] = ()
    organ: str | None = None
    side: str | None = None


@dataclass(frozen=True, slots=True)
class TextOutcome:
    """The outcome a report states for one target.

    ``outcome`` is ``positive``, ``negative``, ``indeterminate`` or None (the report
    never states the target). ``state`` is one of :data:`STATES`. ``method`` is e.g.
    ``report_text_rules/v2 fr``; ``section`` is one of :data:`SECTIONS` (None for an
    empty text or when nothing was found).
    """

    target: str
    outcome: str | None
    method: str
    section: str | None
    evidence: Evidence | None
    state: str = "unmentioned"


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
        # A regex entry is a whole word or phrase too ("re:l[sim][dg]" is not inside "clsid").
        return rf"(?<!\w)(?:{entry[3:]})(?!\w)"
    normalized = fold_text(entry)[0].strip()
    words = [word for word in re.split(r"[\s\-]+", normalized) if word]
    parts = []
    for index, word in enumerate(words):
        bits = word.split("'")
        last = index == len(words) - 1
        if plural and word[-1:].isalpha() and len(word) > 2 and (last or len(words) > 1):
            if word.endswith("al") and len(word) > 4 and len(bits) == 1:
                # French adjectives in -al: -aux, and -ale(s) (sous-pleural, sous-pleuraux).
                piece = re.escape(word[:-2]) + "(?:al|aux|ale|ales|als)"
            elif word.endswith("y") and len(word) > 3 and word[-2] not in "aeiou":
                bits[-1] = bits[-1][:-1] + "(?:y|ies)"
                piece = r"(?:'\s*|\s+)".join(
                    re.escape(bit) if i < len(bits) - 1 else bit for i, bit in enumerate(bits)
                )
            else:
                piece = r"(?:'\s*|\s+)".join(re.escape(bit) for bit in bits) + "(?:s|x|es)?"
        else:
            piece = r"(?:'\s*|\s+)".join(re.escape(bit) for bit in bits)
        parts.append(piece)
    body = r"[\s\-]+".join(parts)
    head = r"(?<!\w)" if normalized[:1].isalnum() else ""
    tail = r"(?!\w)" if normalized[-1:].isalnum() else ""
    return head + body + tail


_WORD_START: Final = r"(?<!\w)"


def _union(entries: Iterable[str], plural: bool = False) -> re.Pattern[str] | None:
    """One pattern for all ``entries``, the longest first. The word-start check that
    most entries begin with is made once for all of them: an alternation whose every
    branch starts with its own lookbehind is tried branch by branch at every character
    (twenty times slower on a list of organs)."""
    ordered = sorted(set(entries), key=lambda entry: (-len(entry), entry))
    if not ordered:
        return None
    pieces = [_phrase_regex(entry, plural) for entry in ordered]
    at_word_start = [p.removeprefix(_WORD_START) for p in pieces if p.startswith(_WORD_START)]
    others = [p for p in pieces if not p.startswith(_WORD_START)]
    # A branch at a word start begins with a word character, one of the others with a
    # sign: they never match at the same place, so their order between them is moot.
    branches = ([f"{_WORD_START}(?:{'|'.join(at_word_start)})"] if at_word_start else []) + others
    return re.compile("|".join(branches))


_CUE_PRIORITY: Final = (
    "pseudo_negation",
    "hypothetical_post",
    "hypothetical",
    "uncertainty_post",
    "uncertainty",
    "negation_post",
    "negation",
    "mimic",
    "old",
    "historical",
    "benign",
)
"""Scoped cue categories, in the order that wins a tie between overlapping cues."""

_TERMINATION: Final = (
    "mais",
    "cependant",
    "toutefois",
    "par ailleurs",
    "en revanche",
    "neanmoins",
    "hormis",
    "sauf",
    "en dehors de",
    "en dehors d'",
    "en dehors du",
    "en dehors des",
    "a l'exception de",
    "a l'exception d'",
    "a l'exception du",
    "a l'exception des",
    "but",
    "however",
    "although",
    "though",
    "whereas",
    "except",
    "apart from",
    "other than",
    "otherwise",
    "aside from",
)


@dataclass(frozen=True, slots=True)
class _Compiled:
    terms: re.Pattern[str] | None
    term_stems: re.Pattern[str] | None
    cues: tuple[tuple[str, re.Pattern[str] | None], ...]
    excluded: re.Pattern[str] | None
    normal: re.Pattern[str] | None
    termination: re.Pattern[str]
    device: re.Pattern[str] | None
    lung: re.Pattern[str] | None
    lung_weak: re.Pattern[str] | None
    other: re.Pattern[str] | None
    neutral: re.Pattern[str] | None
    organ: str | None
    benign_findings: re.Pattern[str] | None
    pattern: re.Pattern[str] | None
    bone: re.Pattern[str] | None
    soft_tissue: re.Pattern[str] | None
    exam_chest: re.Pattern[str] | None
    exam_other: re.Pattern[str] | None


def _stems(entries: Iterable[str]) -> re.Pattern[str] | None:
    """A cheap first pass: every match of an entry starts with the first four folded
    characters of its first word (a ``re:`` entry is kept whole)."""
    parts = set()
    for entry in entries:
        if entry.startswith("re:"):
            parts.add(f"(?:{entry[3:]})")
            continue
        folded = fold_text(entry)[0].strip()
        first = re.split(r"[\s\-']+", folded)[0] if folded else ""
        if not first:
            return None
        parts.add(re.escape(first[:4]))
    return re.compile("|".join(sorted(parts))) if parts else None


@lru_cache(maxsize=64)
def _compile(vocabulary: Vocabulary, languages: tuple[str, ...]) -> _Compiled:
    chosen = [vocabulary.language(code) for code in languages]
    anatomy = _anatomy()

    def gather(category: str) -> list[str]:
        return [entry for lang in chosen for entry in getattr(lang, category)]

    termination = _union([*_TERMINATION, *gather("termination")])
    assert termination is not None
    organ = _TARGET_ORGAN.get(vocabulary.target)
    return _Compiled(
        terms=_union([*gather("terms"), *gather("pattern")], plural=True),
        term_stems=_stems([*gather("terms"), *gather("pattern")]),
        cues=tuple((category, _union(gather(category))) for category in _CUE_PRIORITY),
        excluded=_union(gather("excluded"), plural=True),
        normal=_union(gather("normal")),
        termination=re.compile(rf"{termination.pattern}|:"),
        device=_union(gather("device"), plural=True),
        lung=_union(
            [
                entry
                for code in languages
                for kind in ("lung", "lung_weak")
                for entry in anatomy.get((kind, code), ())
            ],
            True,
        )
        if organ == "lung"
        else None,
        lung_weak=_union(
            [e for code in languages for e in anatomy.get(("lung_weak", code), ())], True
        )
        if organ == "lung"
        else None,
        other=_union(
            [e for code in languages for e in anatomy.get(("other", code), ())]
            + gather("other_site"),
            plural=True,
        )
        if organ == "lung"
        else None,
        neutral=_union([e for code in languages for e in anatomy.get(("neutral", code), ())], True)
        if organ == "lung"
        else None,
        organ=organ,
        benign_findings=_union(gather("benign"), plural=True),
        pattern=_union(gather("pattern"), plural=True),
        bone=_union([e for code in languages for e in anatomy.get(("bone", code), ())], plural=True)
        if organ is None
        else None,
        soft_tissue=_union(
            [e for code in languages for e in anatomy.get(("soft_tissue", code), ())], plural=True
        )
        if organ is None
        else None,
        exam_chest=_union([e for code in languages for e in anatomy.get(("exam_chest", code), ())])
        if organ == "lung"
        else None,
        exam_other=_union([e for code in languages for e in anatomy.get(("exam_other", code), ())])
        if organ == "lung"
        else None,
    )


@lru_cache(maxsize=1)
def _anatomy() -> dict[tuple[str, str], tuple[str, ...]]:
    raw = _read_yaml(_VOCABULARY_DIR / "anatomy.yaml")
    result: dict[tuple[str, str], tuple[str, ...]] = {}
    for organ, languages in raw.items():
        if not isinstance(languages, dict):
            continue
        for code, entries in languages.items():
            result[(str(organ), str(code))] = tuple(str(entry) for entry in entries or ())
    return result


# ------------------------------------------------------------ clauses and scope

_COMMA: Final = re.compile(r",(?!\d)")
_CONTINUES: Final = re.compile(r"\s*(?:de|d'|du|des|ni|ou|et de|et d'|or|nor|any)(?!\w)")
_LIST_CONJUNCTION: Final = re.compile(r"(?<!\w)(?:ou|ni|or|nor)(?!\w)")
_MODIFIERS_ONLY: Final = re.compile(
    r"\s*(?:(?:acute|displaced|nondisplaced|non-displaced|definite|definitive|obvious|"
    r"visible|significant|focal|new|recent|discrete|suspicious|evident|gross|"
    r"radiographic|radiographically|apparent|dominant|large|small|acute osseous|"
    r"aigue?s?|recentes?|deplacees?|visibles?|evidentes?|nette?s?|franche?s?|"
    r"significatifs?|significatives?|suspecte?s?|nouvelles?|nouveaux?|"
    r"focale?s?|autres?|other)\s*)+"
)
_SIDE: Final = re.compile(
    r"(?<!\w)(?P<both>bilateral|bilaterale?s?|bilaterally|des deux cotes|both)(?!\w)|"
    r"(?<!\w)(?P<left>left|gauches?|lsg|lig)(?!\w)|"
    r"(?<!\w)(?P<right>right|droite?s?|lsd|lid|lm)(?!\w)"
)
_EDGE: Final = " \t-*>\u2022.,;:!"
_DESCRIPTIVE: Final = re.compile(r"nodular|opacite|image|formation|densit|condensation")
"""Terms that describe an appearance rather than name the finding (a benign
explanation then says what the appearance is)."""


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
    qualifiers: tuple[_Match, ...]
    sentence: tuple[int, int]
    section: str
    organ: str | None
    weak: bool = False  # placed in the lung only by "lobe", "apex", "base"


def _find(
    pattern: re.Pattern[str] | None, text: str, begin: int, end: int, category: str
) -> list[_Match]:
    if pattern is None:
        return []
    return [
        _Match(m.start(), m.end(), category)
        for m in pattern.finditer(text, begin, end)
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


def _clauses(text: str, begin: int, end: int, compiled: _Compiled) -> list[tuple[int, int]]:
    spans = []
    start = begin
    for found in compiled.termination.finditer(text, begin, end):
        spans.append((start, found.start()))
        start = found.end()
    spans.append((start, end))
    return [(first, last) for first, last in spans if text[first:last].strip()]


def _commas(text: str, begin: int, end: int) -> list[re.Match[str]]:
    """The commas of ``text[begin:end]`` that separate segments: not those inside
    parentheses ("tassements (D7, D9, D11) anciens" is one segment)."""
    found = list(_COMMA.finditer(text, begin, end))
    if not found or "(" not in text[begin:end]:
        return found
    depth, kept, position = 0, [], begin
    for comma in found:
        for char in text[position : comma.start()]:
            if char == "(":
                depth += 1
            elif char == ")" and depth:
                depth -= 1
        position = comma.start()
        if depth == 0:
            kept.append(comma)
    return kept


def _segments(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    cuts = [begin] + [m.end() for m in _commas(text, begin, end)] + [end + 1]
    return [(cuts[i], cuts[i + 1] - 1) for i in range(len(cuts) - 1)]


_ANOTHER_ITEM: Final = re.compile(r"(?<!\w)(?:ou|et|ni|or|and|nor|avec|with|sans|without)(?!\w)")
"""Between an organ word and a term, a list's conjunction: the organ is another item's
("épanchement pleural ou nodule", "thyroid goiter and a lung nodule")."""
_NEW_ITEM: Final = re.compile(
    r"(?:\s+(?:de|des|du|d'|les|la|le|l'|un|une|a|an|the|some|several|multiple|multiples|"
    r"quelques|plusieurs|nombreux|numerous|petits?|petites?|small|few|\d+(?:[.,]\d+)?|mm|cm))*\s*"
)
"""Between a list's conjunction and a term, only articles, quantities and sizes: the
term starts a new item of the list."""
_LIST_ITEM: Final = re.compile(r"(?<!\w)(?:ou|et|ni|or|and|nor|sans|without)(?!\w)")
_BESIDE: Final = re.compile(
    r"(?:en regard|au contact|a proximite|adjacent|abutting|overlying|projecting over)"
    r"\s*(?:de la |du |des |de l'|d'|to the |to |the |of the )?\s*$"
)
_LINKING: Final = re.compile(
    r"\s*(?:correspondant|correspond|corresponding|en rapport|related|attributable|"
    r"traduisant|representing|qui correspond|dont|la plus|le plus|les plus|the largest|"
    r"the biggest|one of which|of which)(?!\w)"
)
"""A segment that starts by saying what the clause's finding is ("correspondant à un
nodule")."""
_APPOSITION: Final = 40
"""The longest comma-separated apposition after a term that may place it in an organ."""


_PARENTHESIS: Final = re.compile(r"\([^()]*\)")
_NEXT_ITEM: Final = re.compile(r"(?<!\w)(?:et|and|avec|with)(?!\w)")
"""Between a term and a cue after it: the cue qualifies the next item of a list."""


def _segment_around(text: str, term: _Match, begin: int, end: int) -> tuple[int, int]:
    """The comma-separated segment of ``text[begin:end]`` that holds ``term``."""
    first, stop = begin, end
    for comma in _commas(text, begin, end):
        if comma.end() <= term.start:
            first = comma.end()
        elif comma.start() >= term.end:
            stop = comma.start()
            break
    return first, stop


def _attached(text: str, candidates: list[_Match], term: _Match) -> _Match | None:
    """The device or soft tissue a term is attached to, if any: among device, soft-tissue
    and bone words within 60 characters and not in another item of a list ("healed
    fracture with intact hardware"), the first after the term ("fracture of a screw of
    the tibial plate", "fractured lead", "fissure du ménisque"), else the nearest before
    it ("catheter fracture", "rib fracture"); a bone word there means a bone fracture."""
    candidates = [
        m
        for m in candidates
        if m.end <= term.start or not _ANOTHER_ITEM.search(text, term.end, m.start)
    ]
    after = [m for m in candidates if m.start >= term.end and m.start - term.end <= 60]
    before = [m for m in candidates if m.end <= term.start and term.start - m.end <= 60]
    if after:
        chosen = min(after, key=lambda m: m.start)
    elif before:
        chosen = max(before, key=lambda m: m.end)
    else:
        return None
    return chosen if chosen.category in ("device", "other_organ") else None


def _near(matches: list[_Match], term: _Match, limit: int) -> _Match | None:
    best: tuple[int, _Match] | None = None
    for match in matches:
        if match.end <= term.start:
            gap = term.start - match.end
        elif match.start >= term.end:
            gap = match.start - term.end
        else:
            gap = 0
        if gap <= limit and (best is None or gap < best[0]):
            best = (gap, match)
    return None if best is None else best[1]


def _analyse_clause(
    text: str, begin: int, end: int, compiled: _Compiled, terms: list[_Match]
) -> list[tuple[_Match, str, _Match | None, tuple[_Match, ...]]]:
    """(term, status, deciding cue, qualifying cues) for each term of the clause."""
    segments = _segments(text, begin, end)

    def segment_of(position: int) -> int:
        for index, (s_begin, s_end) in enumerate(segments):
            if s_begin <= position <= s_end:
                return index
        return len(segments) - 1

    continues = [False] * len(segments)
    for index in range(1, len(segments)):
        s_begin, _ = segments[index]
        continues[index] = bool(
            _CONTINUES.match(text, s_begin, end) or _LIST_CONJUNCTION.search(text, s_begin, end)
        )

    cues = _resolve(
        [
            match
            for category, pattern in compiled.cues
            for match in _find(pattern, text, begin, end, category)
        ]
    )
    cues = [cue for cue in cues if all(cue.end <= t.start or cue.start >= t.end for t in terms)]

    def reach(cue: _Match) -> int:
        last = segment_of(cue.start)
        # A trigger whose segment holds only modifiers after it goes on to the next one.
        _, s_end = segments[last]
        if last + 1 < len(segments) and _MODIFIERS_ONLY.fullmatch(text, cue.end, s_end):
            last += 1
        while last + 1 < len(segments) and continues[last + 1]:
            last += 1
        return last

    def starts_with(cue: _Match) -> bool:
        s_begin, _ = segments[segment_of(cue.start)]
        return not text[s_begin : cue.start].strip(_EDGE)

    def after_applies(cue: _Match, term: _Match) -> bool:
        between = _PARENTHESIS.sub(" ", text[term.end : cue.start])
        if text[cue.start : cue.end] != "?" and _NEXT_ITEM.search(between):
            # "masse pulmonaire et adénopathie suspecte": another item's; not an "et"
            # inside brackets ("nodules (cibles 1 et 2) ne sont plus visibles").
            return False
        term_segment, cue_segment = segment_of(term.start), segment_of(cue.start)
        return cue_segment == term_segment or (cue_segment == term_segment + 1 and starts_with(cue))

    def applies(cue: _Match, term: _Match) -> bool:
        if cue.category in ("negation", "uncertainty", "hypothetical"):
            if cue.end > term.start:
                return False
            return segment_of(cue.start) <= segment_of(term.start) <= reach(cue)
        if cue.category in ("negation_post", "uncertainty_post", "hypothetical_post"):
            return cue.start >= term.end and after_applies(cue, term)
        # historical, benign and mimic cues: before or after the term, in its segment, or in
        # an apposition after it that names no other finding ("nodule, likely granuloma");
        # never across another term ("tassement récent de L2 et tassements anciens de T7").
        if any(
            t is not term and min(cue.end, term.end) <= t.start < max(cue.start, term.start)
            for t in terms
        ):
            return False
        if cue.start >= term.end:
            cue_segment, term_segment = segment_of(cue.start), segment_of(term.start)
            return cue_segment == term_segment or (
                cue_segment == term_segment + 1
                and not any(segment_of(t.start) == cue_segment for t in terms)
            )
        return segment_of(cue.start) == segment_of(term.start)

    devices = [
        d
        for d in _find(compiled.device, text, begin, end, "device")
        if all(d.end <= t.start or d.start >= t.end for t in terms)
    ]
    bones = _find(compiled.bone, text, begin, end, "bone")
    tissues = _find(compiled.soft_tissue, text, begin, end, "other_organ")
    found_mentions = []
    for term in terms:
        found = [cue for cue in cues if applies(cue, term)]
        device = _attached(
            text,
            [m for m in devices + bones + tissues if segment_of(m.start) == segment_of(term.start)],
            term,
        )
        hypothetical = [c for c in found if c.category.startswith("hypothetical")]
        mimic = [c for c in found if c.category == "mimic"]
        benign = [c for c in found if c.category == "benign"]
        past = [c for c in found if c.category in ("old", "historical")]
        after = [c for c in found if c.category in ("negation_post", "uncertainty_post")]
        before = [c for c in found if c.category in ("negation", "uncertainty")]
        cue: _Match | None
        if device is not None:
            status, cue = device.category if device.category == "other_organ" else "device", device
        elif hypothetical:
            status, cue = "hypothetical", hypothetical[0]
        elif mimic and not any(c.category.startswith("uncertainty") for c in found):
            status, cue = "mimic", mimic[0]
        elif after or before:
            # The outermost cue is the predicate: the last after-cue, else the first before-cue.
            cue = max(after, key=lambda c: c.start) if after else min(before, key=lambda c: c.start)
            status = "uncertain" if cue.category.startswith("uncertainty") else "negated"
            if past and status != "negated":
                status, cue = past[0].category, past[0]
        elif past:
            status, cue = past[0].category, past[0]
        elif benign and _DESCRIPTIVE.match(text, term.start, term.end):
            # "nodular opacity ..., probably a calcified granuloma": the opacity is the
            # granuloma; a *nodule* due to granulomatous disease stays a nodule.
            status, cue = "benign", benign[0]
        elif compiled.pattern is not None and compiled.pattern.fullmatch(
            text, term.start, term.end
        ):
            status, cue = "pattern", None
        else:
            status, cue = "affirmed", None
        qualifiers = tuple(
            sorted(set(found) | ({device} if device else set()), key=lambda c: c.start)
        )
        found_mentions.append((term, status, cue, qualifiers))
    return found_mentions


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
        "l'",
        "d'",
        "n'",
        "qu'",
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
_WORD: Final = re.compile(r"[a-z]+'?")
"""A word, with its apostrophe when it has one: the French elided articles count only so
("l'", "d'"), never a spine level ("L1")."""


def _languages(normalized: str) -> tuple[str, ...]:
    words = _WORD.findall(normalized)
    french = sum(word in _FR_WORDS or word.rstrip("'") in _FR_WORDS for word in words)
    english = sum(word.rstrip("'") in _EN_WORDS for word in words)
    if french > english:
        return ("fr",)
    if english > french:
        return ("en",)
    return ("fr", "en")


def _organ_at(
    text: str,
    term: _Match,
    clause: tuple[int, int],
    compiled: _Compiled,
    region: str | None = None,
) -> tuple[str | None, _Match | None]:
    """The organ a term is located in by the words of its clause: (organ, word) or (None, None).

    ``region`` ``other``: the exam covers no lung, and "lobe", "apex" do not place a
    finding in it (a thyroid lobe)."""
    if compiled.organ is None:
        return None, None
    begin, end = clause
    neutral = _find(compiled.neutral, text, begin, end, "neutral")
    lungs = [
        m
        for m in _find(compiled.lung, text, begin, end, "lung")
        if not any(n.start <= m.start and m.end <= n.end for n in neutral)
    ]
    if region == "other" and compiled.lung_weak is not None:
        lungs = [m for m in lungs if not compiled.lung_weak.fullmatch(text, m.start, m.end)]
    others = [
        m
        for m in _find(compiled.other, text, begin, end, "other_organ")
        # "sous-pleuraux" is the lung's, not the pleura's: the longer word wins; a
        # "pleural-based" nodule is neither's.
        if not any(
            lung.start <= m.start
            and m.end <= lung.end
            and (lung.end - lung.start) > (m.end - m.start)
            for lung in lungs
        )
        and not any(n.start <= m.start and m.end <= n.end for n in neutral)
    ]
    if any(m.start < term.end and m.end > term.start for m in lungs):
        return "lung", None  # "pulmonary nodule": the term names its organ
    chain = _organ_chain(text, term, lungs + others)
    if len(chain) > 1 and any(m.category == "lung" for m in chain):
        # "pulmonary and osseous metastases", "métastases hépatiques et pulmonaires"
        return "lung", next(m for m in chain if m.category == "lung")
    inside = [m for m in others if m.start < term.end and m.end > term.start]
    if inside:
        return "other", inside[0]
    if others and compiled.lung_weak is not None:
        # "lobe", "apex", "base" belong to the lung only when no other organ is named.
        lungs = [m for m in lungs if not compiled.lung_weak.fullmatch(text, m.start, m.end)]
    segment = _segment_around(text, term, begin, end)

    def placing(first: int, last: int) -> list[_Match]:
        # An organ before the term holds what comes "with" it ("pleural thickening with
        # masses"); an organ after "with" is another item's ("nodule with pleural tag").
        return [
            m
            for m in lungs + others
            if first <= m.start
            and m.end <= last
            and not (_LIST_ITEM if m.end <= term.start else _ANOTHER_ITEM).search(
                text, min(m.end, term.end), max(m.start, term.start)
            )
            # "en regard du LIG", "adjacent to the liver": beside an organ, not in it
            and not _BESIDE.search(text, max(first, m.start - 24), m.start)
        ]

    nearest = _near(placing(*segment), term, 10_000)
    if nearest is None and segment[0] > begin and _LINKING.match(text, segment[0], term.start):
        # "Foyer du lobe thyroïdien droit, SUVmax 8,4, correspondant à un nodule": the
        # nodule is what the clause began with, where it is.
        nearest = _near(placing(begin, segment[0]), term, 10_000)
    if nearest is None and segment[1] < end:
        # An apposition right after the term may place it: "3.1 cm mass, likely nodal".
        following = _segment_around(text, _Match(segment[1] + 1, segment[1] + 1, ""), begin, end)
        if following[1] - following[0] <= _APPOSITION and (
            compiled.term_stems is None or not compiled.term_stems.search(text, *following)
        ):
            nearest = _near(placing(*following), term, 10_000)
    if nearest is None:
        return None, None
    return ("lung", nearest) if nearest.category == "lung" else ("other", nearest)


_CHAIN_LINK: Final = re.compile(r"\s*(?:,|(?<!\w)(?:and|et|or|ou)(?!\w))?\s*")


def _organ_chain(text: str, term: _Match, organs: list[_Match]) -> list[_Match]:
    """The organ words that qualify a term together, joined by "and", "et", "or", commas
    or nothing, right before it or right after it: "pulmonary and osseous metastases",
    "métastases pulmonaires, hépatiques et osseuses"."""
    ordered = sorted(organs, key=lambda m: m.start)
    chain: list[_Match] = []
    edge = term.start  # walk back from the term
    for m in reversed([m for m in ordered if m.end <= term.start]):
        if not _CHAIN_LINK.fullmatch(text, m.end, edge):
            break
        chain.append(m)
        edge = m.start
    edge = term.end  # and forward from it
    for m in [m for m in ordered if m.start >= term.end]:
        if not _CHAIN_LINK.fullmatch(text, edge, m.start):
            break
        chain.append(m)
        edge = m.end
    return chain


def _leading_organ(
    text: str, begin: int, end: int, compiled: _Compiled, region: str | None = None
) -> str | None:
    """The organ a sentence (or a heading line) starts with: ``Foie :``, ``The lungs are``
    (a "lobe" is not the lung's in an exam of another region)."""
    found = _leading_organ_word(text, begin, end, compiled, region)
    return found[0] if found is not None else None


def _leading_organ_for(
    text: str,
    begin: int,
    end: int,
    compiled: _Compiled,
    term: _Match,
    region: str | None = None,
) -> str | None:
    """The organ a sentence starts with, for one of its terms: not when a list's
    conjunction separates them ("Adénopathies hilaires et micronodules": the
    micronodules are another item), unless the organ heads the line ("Foie : kyste et
    nodule")."""
    found = _leading_organ_word(text, begin, end, compiled, region)
    if found is None:
        return None
    organ, word_end = found
    between = text[word_end : term.start]
    if ":" in between:
        return organ
    conjunctions = list(_LIST_ITEM.finditer(between))
    if conjunctions and _NEW_ITEM.fullmatch(between, conjunctions[-1].end()):
        return None  # "... et micronodules": a new item, not "... and contains nodules"
    return organ


def _leading_organ_word(
    text: str, begin: int, end: int, compiled: _Compiled, region: str | None = None
) -> tuple[str, int] | None:
    """(organ, end of its word) of the organ word a sentence starts with, or None."""
    head = text[begin : min(end, begin + 40)]
    offset = len(head) - len(head.lstrip(_EDGE + "0123456789)"))
    start = begin + offset
    locative = _LOCATIVE.match(text, start, end)
    if locative is not None:
        start = locative.end()
    for article in ("the ", "le ", "la ", "les ", "l'"):
        if text.startswith(article, start):
            start += len(article)
            break
    for organ, pattern in (("lung", compiled.lung), ("other", compiled.other)):
        found = pattern.match(text, start, end) if pattern is not None else None
        if found is None:
            continue
        weak = compiled.lung_weak is not None and compiled.lung_weak.fullmatch(
            text, found.start(), found.end()
        )
        if organ == "lung" and weak and region == "other":
            continue
        return organ, found.end()
    return None


_LOCATIVE: Final = re.compile(
    r"(?:au sein|au niveau|en regard|a hauteur|a l'etage) (?:de |du |des |d')|dans |"
    r"(?:in|within|at|along|involving) "
)
"""A sentence that starts by placing itself ("Au sein de la parotide droite, ...",
"Within the liver, ...") is in that organ."""

_ORGAN_HEADING: Final = re.compile(r"[^:.]{1,40}:")
_TITLE_LIMIT: Final = 200
_TITLE_SCAN: Final = 800
_EXAM_TYPE: Final = re.compile(
    r"(?<!\w)(?:scanner|scan|scanographie|tdm|tomodensitometrie|irm|echographie|echo|"
    r"radiographies?|radio|cliches?|angio\w*|mammographie|scintigraphie|tep|"
    r"ct|mri|ultrasound|us|x-?rays?|radiographs?|cxr|mammogram|exam(?:en|ination)?)(?!\w)"
)
_UNTYPED_TITLE: Final = 80
_NOT_TITLE: Final = re.compile(
    r"\s*[-*#>]*\s*(?:indications?|renseignements?|motif|clinique|contexte|antecedents?|"
    r"clinical|history|comparaisons?|comparisons?|technique|protocole|demande|question|"
    r"reason|procedures?)"
)


def _head_lines(text: str) -> list[tuple[int, int]]:
    """The non-blank lines among the first eight of folded ``text`` (within its first
    :data:`_TITLE_SCAN` characters), as (start, end) offsets: where a title may be."""
    position = len(text) - len(text.lstrip())
    limit = min(len(text), position + _TITLE_SCAN)
    spans = []
    for _ in range(8):
        if position >= limit:
            break
        stop = text.find("\n", position, limit)
        stop = limit if stop < 0 else stop
        if text[position:stop].strip():
            spans.append((position, stop))
        position = stop + 1
    return spans


def _title_line(text: str, lines: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """The first of ``lines`` naming an exam (it may follow a patient or dose line), not
    a line of the indication or history; None when none does."""
    return next(
        (
            line
            for line in lines
            if _EXAM_TYPE.search(text, *line) and not _NOT_TITLE.match(text, *line)
        ),
        None,
    )


def _exam_region(
    text: str, parts: Sequence[Section], compiled: _Compiled, lines: Sequence[tuple[int, int]]
) -> str | None:
    """``other`` when the report's title names only regions without the target's organ
    (``IRM RENALE``, ``Scanner abdomino-pelvien``), else None (the organ is assumed).
    The title is the first line naming an exam, else the first line when it is short and
    neither the indication nor a line that opens a section."""
    if compiled.exam_other is None or compiled.exam_chest is None or not lines:
        return None
    title = _title_line(text, lines)
    if title is None:
        first = lines[0]
        if (
            first[1] - first[0] > _UNTYPED_TITLE
            or _NOT_TITLE.match(text, *first)
            or any(first[0] < part.start <= first[1] for part in parts)
        ):
            return None
        title = first
    words = text[title[0] : min(title[1], title[0] + _TITLE_LIMIT)]
    if compiled.exam_other.search(words) and not compiled.exam_chest.search(words):
        return "other"
    return None


_EXAM_LABEL: Final = re.compile(r"\s*(?:exam(?:en|ination)?|study|type d'examen)\s*:")


def _title_span(
    normalized: str, original: str, origin: Sequence[int], lines: Sequence[tuple[int, int]]
) -> tuple[int, int] | None:
    """The exam's title line when it is one that decides nothing: written in capitals in
    a report that is not, or labelled ``EXAM:`` ("LOW-DOSE CT CHEST FOR LUNG CANCER
    SCREENING"): it names the exam and its purpose, never a finding. Else None."""
    title = _title_line(normalized, lines)
    if title is None:
        return None
    start, stop = title
    written = original[origin[start] : origin[stop]]
    rest = original[origin[stop] :]
    capitals = written.upper() == written and rest.upper() != rest
    if _EXAM_LABEL.match(normalized, start, stop) or (
        capitals and any(c.isalpha() for c in written)
    ):
        return title
    return None


def _side(text: str, sentence: tuple[int, int], term: _Match) -> str | None:
    sides = [
        _Match(m.start(), m.end(), m.lastgroup or "")
        for m in _SIDE.finditer(text, sentence[0], sentence[1])
    ]
    nearest = _near(sides, term, 60)
    if nearest is None:
        return None
    return {"both": "bilateral"}.get(nearest.category, nearest.category)


def _read_sentence(
    text: str,
    sentence: tuple[int, int],
    section: str,
    compiled: _Compiled,
    context: str | None,
    region: str | None = None,
) -> tuple[list[_Mention], _Match | None]:
    """The mentions of one sentence, and its explicit normal statement if it is one."""
    begin, end = sentence
    if compiled.term_stems is not None and not compiled.term_stems.search(text, begin, end):
        terms = []  # no word of the target starts here: the full term search is skipped
    else:
        terms = _find(compiled.terms, text, begin, end, "term")
    if terms and compiled.excluded is not None:
        excluded = _find(compiled.excluded, text, begin, end, "excluded")
        terms = [
            term
            for term in terms
            if all(term.end <= ex.start or term.start >= ex.end for ex in excluded)
        ]
    normal = None
    clauses: list[tuple[int, int]] = []
    if compiled.normal is not None and compiled.normal.search(text, begin, end):
        clauses = _clauses(text, begin, end, compiled)
        for first, last in clauses:
            while first < last and text[first] in _EDGE:
                first += 1
            while last > first and text[last - 1] in _EDGE:
                last -= 1
            if compiled.normal.fullmatch(text, first, last):
                normal = _Match(first, last, "normal")
                break
    if not terms:
        benign = _benign_findings(text, begin, end, compiled, section, sentence)
        return benign, normal
    mentions = []
    for clause in clauses or _clauses(text, begin, end, compiled):
        inside = [t for t in terms if clause[0] <= t.start and t.end <= clause[1]]
        if not inside:
            continue
        for term, status, cue, qualifiers in _analyse_clause(
            text, clause[0], clause[1], compiled, inside
        ):
            organ, word = _organ_at(text, term, clause, compiled, region)
            weak = (
                organ == "lung"
                and word is not None
                and compiled.lung_weak is not None
                and compiled.lung_weak.fullmatch(text, word.start, word.end) is not None
            )
            if organ is None and compiled.organ is not None:
                organ = _leading_organ_for(text, begin, end, compiled, term, region) or context
            elif (
                organ == "lung"
                and word is not None
                and compiled.lung_weak is not None
                and compiled.lung_weak.fullmatch(text, word.start, word.end)
                and (_leading_organ(text, begin, end, compiled, region) or context) == "other"
            ):
                # "Thyroid: ... a nodule in the right lobe": the lobe is the heading's organ.
                organ, word = "other", None
            if organ == "other" and status not in ("device", "hypothetical"):
                status = "other_organ"
                cue = word if word is not None else cue
                if word is not None:
                    qualifiers = (*qualifiers, word)
            mentions.append(
                _Mention(
                    term,
                    status,
                    cue,
                    qualifiers,
                    sentence,
                    section,
                    organ,
                    weak and organ == "lung",
                )
            )
    return mentions, normal


def _benign_findings(
    text: str,
    begin: int,
    end: int,
    compiled: _Compiled,
    section: str,
    sentence: tuple[int, int],
) -> list[_Mention]:
    """A benign finding named without the target's term ("calcified granuloma in the
    RUL") is a benign mention of the target, unless negated; only for lung targets."""
    if compiled.organ != "lung" or compiled.benign_findings is None:
        return []
    found = _find(compiled.benign_findings, text, begin, end, "benign")
    if not found:
        return []
    negations = [
        m
        for category, pattern in compiled.cues
        if category.startswith("negation")
        for m in _find(pattern, text, begin, end, category)
    ]
    mentions = []
    for match in found:
        if any(n.end <= match.start and match.start - n.end < 30 for n in negations):
            continue
        organ, word = _organ_at(text, match, (begin, end), compiled)
        status = "other_organ" if organ == "other" else "benign"
        mentions.append(_Mention(match, status, word, (), sentence, section, organ))
    return mentions


_RELEVANT: Final = frozenset(
    {"affirmed", "uncertain", "negated", "old", "benign", "pattern", "mimic"}
)
"""Mentions that speak of the target's finding; hypothetical, other-organ and device
mentions do not (the report stays unmentioned unless something else speaks)."""
_RANK: Final = {"positive": 0, "indeterminate": 1, "negative": 2}


def _outcome_of(status: str, policy: ReadingPolicy) -> str:
    """What a relevant mention says: affirmed -> positive, uncertain -> indeterminate,
    negated and mimic -> negative; old, benign and pattern mentions are positive when the
    policy counts them, else negative (an old healed fracture only, a granuloma only: the
    report looked and states no current one). A past-history mention ("antécédent de",
    "history of") is relevant only when the policy counts it (positive)."""
    if status == "affirmed":
        return "positive"
    if status == "uncertain":
        return "indeterminate"
    counted = {
        "historical": policy.historical,
        "old": policy.historical,
        "benign": policy.benign,
        "pattern": policy.nodular_pattern,
    }.get(status)
    return "positive" if counted == "positive" else "negative"


_QUALIFIER_NAMES: Final = {
    "negation": "negated",
    "negation_post": "negated",
    "uncertainty": "uncertain",
    "uncertainty_post": "uncertain",
    "hypothetical": "hypothetical",
    "hypothetical_post": "hypothetical",
    "historical": "historical",
    "old": "old",
    "benign": "benign",
    "mimic": "mimic",
    "device": "device",
    "other_organ": "other_organ",
}


def _evidence(mention: _Mention, original: str, origin: list[int], text: str) -> Evidence:
    spans = [mention.term] + ([mention.cue] if mention.cue else [])
    start = origin[min(span.start for span in spans)]
    stop = origin[max(span.end for span in spans)]

    def words(match: _Match) -> str:
        return original[origin[match.start] : origin[match.end]]

    qualifiers = tuple(
        f"{_QUALIFIER_NAMES.get(q.category, q.category)}: {words(q)}" for q in mention.qualifiers
    )
    s_begin, s_end = mention.sentence
    sentence = original[origin[s_begin] : origin[s_end]].strip()
    return Evidence(
        start,
        stop,
        original[start:stop],
        words(mention.term),
        words(mention.cue) if mention.cue else None,
        mention.status,
        sentence,
        qualifiers,
        mention.organ,
        _side(text, mention.sentence, mention.term),
    )


_NOT_STATED: Final = frozenset({"negated", "hypothetical"})
"""Mentions that state no finding: nothing refers back to them."""

_SENTENCE_REFERENCE: Final = re.compile(
    r"(?:la plus|le plus|les plus|celle-ci|celui-ci|ceux-ci|celles-ci|elle|il|elles|ils|"
    r"the largest|the biggest|the latter|it|they)(?!\w)"
)
"""A sentence that starts by pointing back ("la plus volumineuse, d'aspect nodulaire,
..."): its unplaced mention is the one stated before."""
_REFERENCE: Final = re.compile(
    r"(?:(?<!\w)(?:ce|cet|cette|ces|ledit|ladite|le|la|les|du|au|aux|this|these|that|said|the)"
    r"\s+|l')$"
)


def _referred(text: str, mention: _Mention, located: list[_Mention]) -> _Mention:
    """A mention that refers back ("ce nodule", "this nodule") to one placed in an organ
    earlier in the report is in that organ."""
    if mention.organ is not None or not located:
        return mention
    start = mention.sentence[0]
    while start < mention.term.start and text[start] in _EDGE:
        start += 1
    if not _REFERENCE.search(
        text, max(0, mention.term.start - 10), mention.term.start
    ) and not _SENTENCE_REFERENCE.match(text, start, mention.term.start):
        return mention
    # "Pas de masse" is no antecedent: "cette masse" is the last one stated.
    stated = [m for m in located if m.status not in _NOT_STATED]
    if not stated:
        return mention
    earlier = stated[-1]
    if earlier.organ != "other" or mention.status in ("device", "hypothetical"):
        return dataclasses.replace(mention, organ=earlier.organ)
    return dataclasses.replace(mention, organ="other", status="other_organ")


def _head(text: str, term: _Match) -> str:
    """What a term names, to compare two mentions: the first four letters of its first
    word (``masses``, ``mass``, ``masse tissulaire`` alike; ``micronodule`` is not
    ``nodule``)."""
    words = text[term.start : term.end].split()
    return words[0][:4] if words else ""


def _repeated(text: str, mention: _Mention, located: list[_Mention]) -> _Mention:
    """A conclusion's mention placed in no organ (or in the lung by a mere "lobe")
    repeats what came before: when the findings and the conclusion so far placed every
    stated mention of the same term in another organ, and none in the lung, it is that
    one ("Masse pleurale droite" in the findings, "Masse tissulaire droite" in the
    conclusion; "pleural thickening with masses. The largest mass ..."; "Thyroïde :
    nodule de 17 mm, lobe gauche", then "nodule de 17 mm du lobe gauche")."""
    if (mention.organ is not None and not mention.weak) or mention.section != "conclusion":
        return mention
    if mention.status in ("device", "hypothetical"):
        return mention
    head = _head(text, mention.term)
    same = [m for m in located if m.status not in _NOT_STATED and _head(text, m.term) == head]
    if same and all(m.organ == "other" for m in same):
        return dataclasses.replace(mention, organ="other", status="other_organ")
    return mention


def _line_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


def extract_outcome(
    text: str,
    target: str,
    vocabulary: Vocabulary | None = None,
    policy: ReadingPolicy | None = None,
) -> TextOutcome:
    """The outcome ``text`` (one report) states for ``target``; never raises on any text.

    ``vocabulary`` defaults to the built-in one of ``target`` (:func:`load_vocabulary`);
    ``policy`` to :class:`ReadingPolicy` ``()``. A blank text gives state ``empty``,
    a text that never states the target state ``unmentioned`` (outcome None; the
    evidence, if any, is the discounted mention: an old fracture, another organ's
    nodule). Raises ValueError only for a target not in :data:`TARGETS`.
    """
    _check_target(target)
    if vocabulary is None:
        vocabulary = _builtin(target)
    policy = policy or _DEFAULT_POLICY
    normalized, origin = _folded(text)
    if not normalized.strip():
        return TextOutcome(target, None, METHOD, None, None, "empty")
    languages = _languages(normalized)
    method = f"{METHOD} {'+'.join(languages)}"
    compiled = _compile(vocabulary, languages)
    mentions: list[_Mention] = []
    normals: list[tuple[_Match, str, tuple[int, int]]] = []
    parts, section_sentences = _layout(text)
    located: list[_Mention] = []
    lines = _head_lines(normalized)
    region = _exam_region(normalized, parts, compiled, lines)
    title = _title_span(normalized, text, origin, lines)
    if title is not None:
        # A title ends at the first heading after it (a report on one line).
        title = (title[0], min([title[1], *(p.start for p in parts if p.start > title[0])]))
    for section, its_sentences in zip(parts, section_sentences, strict=True):
        if section.name not in READ_SECTIONS:
            continue
        context: str | None = None
        context_line = -1
        context_heading = False
        for sentence in its_sentences:
            if title is not None and title[0] <= sentence[0] and sentence[1] <= title[1]:
                continue
            line = _line_start(normalized, sentence[0])
            if line != context_line:
                # A new line keeps the organ of a heading line just above it ("FOIE :").
                previous = normalized[max(0, line - 1) : line]
                heading_above = context if previous == "\n" and context_heading else None
                context, context_line, context_heading = heading_above or region, line, False
            found, normal = _read_sentence(
                normalized, sentence, section.name, compiled, context, region
            )
            found = [
                _repeated(normalized, _referred(normalized, m, located), located) for m in found
            ]
            located.extend(m for m in found if m.organ is not None and m.term.category == "term")
            mentions.extend(found)
            if normal is not None:
                normals.append((normal, section.name, sentence))
            leading = _leading_organ(normalized, sentence[0], sentence[1], compiled, region)
            stripped = normalized[sentence[0] : sentence[1]].strip()
            if leading is not None and _ORGAN_HEADING.match(stripped):
                # "FOIE :", "Poumons : ...": the organ of what follows on this line and,
                # for a heading alone on its line, on the lines below it.
                context = leading
                context_heading = stripped.endswith(":")
    relevant = [
        m
        for m in mentions
        if m.status in _RELEVANT or (m.status == "historical" and policy.historical == "positive")
    ]
    addendum = [m for m in relevant if m.section == "addendum"]
    conclusion = addendum or [m for m in relevant if m.section == "conclusion"]
    chosen = conclusion or relevant
    if not conclusion and any(
        m.section == "conclusion" and m.status == "other_organ" for m in mentions
    ):
        # The conclusion places the finding in another organ: a mention the findings do
        # not locate is that one, not a lung nodule.
        chosen = [m for m in relevant if m.organ is not None]
    ranked = sorted(
        enumerate(chosen), key=lambda pair: (_RANK[_outcome_of(pair[1].status, policy)], pair[0])
    )
    if ranked:
        mention = ranked[0][1]
        outcome = _outcome_of(mention.status, policy)
        state = "uncertain" if outcome == "indeterminate" else "decided"
        evidence = _evidence(mention, text, origin, normalized)
        return TextOutcome(target, outcome, method, mention.section, evidence, state)
    if normals:
        normal, section_name, sentence = (
            normals[-1] if any(n[1] == "conclusion" for n in normals) else normals[0]
        )
        first, last = origin[normal.start], origin[normal.end]
        evidence = Evidence(
            first,
            last,
            text[first:last],
            None,
            text[first:last],
            "normal",
            text[origin[sentence[0]] : origin[sentence[1]]].strip(),
        )
        return TextOutcome(target, "negative", method, section_name, evidence, "decided")
    if mentions:
        mention = mentions[0]
        return TextOutcome(
            target, None, method, mention.section, _evidence(mention, text, origin, normalized)
        )
    return TextOutcome(target, None, method, None, None, "unmentioned")


_DEFAULT_POLICY: Final = ReadingPolicy()


@lru_cache(maxsize=4)
def _folded(text: str) -> tuple[str, list[int]]:
    """:func:`fold_text`, kept for the last few texts: a report is read once per target."""
    return fold_text(text)


@lru_cache(maxsize=4)
def _layout(text: str) -> tuple[list[Section], list[list[tuple[int, int]]]]:
    """The sections of a report and the sentences of each (folded offsets), kept like
    :func:`_folded`."""
    normalized, origin = _folded(text)
    parts = sections(normalized, text, origin)
    return parts, [sentences(normalized, p.start, p.end, text, origin) for p in parts]
