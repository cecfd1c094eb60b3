"""Pathology: coded diagnoses and conclusion text -> outcome for a target condition.

A pathology result confirms or rules out the condition a device looks for
(``lung_nodule``: is the nodule a malignant neoplasm?). :func:`load_pathology_rules`
reads the built-in rules (``connectors/vocabularies/pathology.yaml``) merged with a
device's own YAML files and local (LIS) codes; :func:`map_pathology` applies them to
one result's codes and conclusion text.

Decisions, in order:

* Codes win over text. Among several recognised codes the most severe wins:
  any ``positive`` -> positive (a malignancy found in any specimen), else any
  ``indeterminate`` -> indeterminate, else negative. When the text says something
  else, the code still decides and ``evidence`` and ``notes`` say what the text said.
* Text (French or English, accent-, case- and hyphen-insensitive) follows the same
  order: an affirmed malignant term -> positive; else a non-diagnostic or uncertain
  term, or a hedged malignant term ("suspect de carcinome") -> indeterminate; else a
  benign term or a negated malignant term ("absence de carcinome") -> negative.
* Bad data never raises: a code of an unknown system, a malformed code ("8140-3")
  or a code the rules do not know is listed in ``notes`` and ignored; when nothing
  is recognised the outcome is None and ``notes`` says why. Bad configuration
  (unknown target, unreadable or ill-shaped rules file, outcome not in
  positive/negative/indeterminate) raises ``ValueError`` naming the value and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import yaml

from connectors.canonical import OUTCOMES
from connectors.text_folding import fold_text

__all__ = [
    "BUILTIN_RULES",
    "CODE_SYSTEMS",
    "ICD_10",
    "ICD_O_3",
    "LOCAL",
    "SNOMED_CT",
    "TEXT_METHOD",
    "CodeRule",
    "PathologyOutcome",
    "PathologyRules",
    "TextVocabulary",
    "canonical_system",
    "load_pathology_rules",
    "map_pathology",
]

SNOMED_CT: Final = "snomed-ct"
ICD_O_3: Final = "icd-o-3"
ICD_10: Final = "icd-10"
LOCAL: Final = "local"
CODE_SYSTEMS: Final = (SNOMED_CT, ICD_O_3, ICD_10, LOCAL)
"""Canonical code system keys, as used in rules files and in ``pathology_code:<system>``."""

TEXT_METHOD: Final = "pathology_text/v1"
BUILTIN_RULES: Final = Path(__file__).parent / "vocabularies" / "pathology.yaml"
"""The built-in rules file, always merged first by :func:`load_pathology_rules`."""

_SEVERITY: Final = {"positive": 0, "indeterminate": 1, "negative": 2}
_ICD_O_BEHAVIOURS: Final = frozenset("012369")
_TEXT_CATEGORIES: Final = ("positive", "negative", "indeterminate")
_CUE_KINDS: Final = (
    "negation_before",
    "negation_after",
    "uncertainty_before",
    "uncertainty_after",
)


def _alias_key(system: str) -> str:
    return re.sub(r"[^a-z0-9]", "", system.casefold())


_SYSTEM_ALIASES: Final = {
    _alias_key(alias): canonical
    for canonical, aliases in {
        SNOMED_CT: (
            "http://snomed.info/sct",
            "https://snomed.info/sct",
            "snomed-ct",
            "snomed",
            "sct",
            "snm",
            "2.16.840.1.113883.6.96",
        ),
        ICD_O_3: (
            "icd-o-3",
            "icd-o",
            "icdo3",
            "http://terminology.hl7.org/CodeSystem/icd-o-3",
            "cim-o-3",
        ),
        ICD_10: (
            "icd-10",
            "icd10",
            "i10",
            "cim-10",
            "http://hl7.org/fhir/sid/icd-10",
            "2.16.840.1.113883.6.3",
        ),
        LOCAL: ("local", "l", "lis"),
    }.items()
    for alias in aliases
}


def canonical_system(system: str) -> str | None:
    """The canonical key (one of ``CODE_SYSTEMS``) of a code system name or alias.

    Case, spaces and punctuation are ignored ("SCT", "SNOMED", "http://snomed.info/sct"
    are SNOMED CT; "ICDO3" is ICD-O-3; "I10", "CIM-10" are ICD-10). HL7 v2 local
    coding systems (names starting with "99", and "L") are ``local``. None when unknown.
    """
    key = _alias_key(system)
    if key.startswith("99"):
        return LOCAL
    return _SYSTEM_ALIASES.get(key)


@dataclass(frozen=True, slots=True)
class CodeRule:
    """What one code means for the target; ``display`` documents it (may be empty)."""

    outcome: str
    display: str = ""


@dataclass(frozen=True, slots=True)
class TextVocabulary:
    """The terms and cues of one target, already folded (no accents, casefolded).

    A word ending in ``*`` matches any ending. Cues are the words before or after a
    malignant term that negate it or make it uncertain.
    """

    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    indeterminate: tuple[str, ...] = ()
    negation_before: tuple[str, ...] = ()
    negation_after: tuple[str, ...] = ()
    uncertainty_before: tuple[str, ...] = ()
    uncertainty_after: tuple[str, ...] = ()


@dataclass(frozen=True)
class PathologyRules:
    """Everything needed to map one target's pathology results.

    ``codes``: code system -> code -> rule; systems and codes are normalised on
    construction (canonical system keys, ICD-10 without dots and matched by longest
    prefix, ICD-O-3 as ``8140/3``, local codes casefolded). Text terms are folded
    (accents, case, hyphens) when the matchers are compiled. ``icd_o_behaviour``: behaviour
    digit -> outcome, used when the morphology is not in ``codes["icd-o-3"]``.
    ``sources``: the rules files merged, in order (the built-in file first).
    """

    target: str
    codes: Mapping[str, Mapping[str, CodeRule]]
    icd_o_behaviour: Mapping[str, str]
    text: TextVocabulary
    sources: tuple[str, ...] = ()
    _matchers: _Matchers = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tables: dict[str, dict[str, CodeRule]] = {system: {} for system in CODE_SYSTEMS}
        for name, table in self.codes.items():
            system = canonical_system(name)
            if system is None:
                raise ValueError(
                    f"codes: unknown code system {name!r}: use {', '.join(CODE_SYSTEMS)}"
                )
            for code, rule in table.items():
                tables[system][_code_key(system, code, f"codes.{system}")] = rule
        codes = {system: MappingProxyType(table) for system, table in tables.items()}
        object.__setattr__(self, "codes", MappingProxyType(codes))
        object.__setattr__(self, "icd_o_behaviour", MappingProxyType(dict(self.icd_o_behaviour)))
        object.__setattr__(self, "_matchers", _Matchers.build(self.text))


@dataclass(frozen=True, slots=True)
class PathologyOutcome:
    """The outcome of one pathology result for one target.

    ``outcome``: positive / negative / indeterminate, or None when nothing was
    recognised. ``method``: ``pathology_code:<system>`` or ``pathology_text/v1``
    (None with the outcome). ``evidence``: the deciding code (``"icd-o-3 8140/3"``)
    or the matched span of the original text. ``notes``: ignored codes and why,
    disagreement between code and text, or why the outcome is None.
    """

    outcome: str | None
    method: str | None = None
    evidence: str | None = None
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- text


def _fold_term(term: str) -> str:
    """A term as matched: folded, hyphens as spaces, single spaces."""
    folded, _ = fold_text(term)
    return " ".join(folded.replace("-", " ").split())


def _term_regex(term: str) -> str:
    parts = []
    for word in term.split():
        if word.endswith("*"):
            parts.append(re.escape(word[:-1]) + r"\w*")
        else:
            parts.append(re.escape(word) + (r"(?!\w)" if re.match(r"\w", word[-1]) else ""))
    return r"(?<!\w)" + r"[\s\-]+".join(parts)


def _alternation(terms: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({_fold_term(term) for term in terms if term.strip()}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(f"(?:{_term_regex(term)})" for term in ordered))


_CLAUSE_BREAK: Final = re.compile(
    r"[.;:!?\n\r()\[\]]"
    r"|(?<!\w)(?:mais|but|however|cependant|toutefois|par contre|en revanche)(?!\w)"
)
_COMMA_CONTINUES: Final = re.compile(r"\s*(?:de|d'|du|des|ni|ou|or|nor|of|any|et|and)(?!\w)")
_WINDOW_BEFORE: Final = 6
_WINDOW_AFTER: Final = 3


@dataclass(frozen=True, slots=True)
class _Matchers:
    categories: tuple[tuple[str, re.Pattern[str] | None], ...]
    negation_before: re.Pattern[str] | None
    negation_after: re.Pattern[str] | None
    uncertainty_before: re.Pattern[str] | None
    uncertainty_after: re.Pattern[str] | None

    @classmethod
    def build(cls, text: TextVocabulary) -> _Matchers:
        return cls(
            categories=tuple(
                (name, _alternation(getattr(text, name))) for name in _TEXT_CATEGORIES
            ),
            negation_before=_alternation(text.negation_before),
            negation_after=_alternation(text.negation_after),
            uncertainty_before=_alternation(text.uncertainty_before),
            uncertainty_after=_alternation(text.uncertainty_after),
        )


@dataclass(frozen=True, slots=True)
class _Hit:
    category: str
    start: int
    end: int


def _gap_ok(gap: str, window: int) -> bool:
    """Whether a cue and a term separated by ``gap`` are in the same phrase."""
    if _CLAUSE_BREAK.search(gap) or len(gap.split()) > window:
        return False
    position = gap.find(",")
    while position >= 0:
        if not _COMMA_CONTINUES.match(gap, position + 1):
            return False
        position = gap.find(",", position + 1)
    return True


def _cue_before(pattern: re.Pattern[str] | None, folded: str, start: int) -> int | None:
    """Start of the nearest cue ending before ``start`` within the window, if any."""
    if pattern is None:
        return None
    lower = max(0, start - 120)
    found = None
    for match in pattern.finditer(folded, lower, start):
        if _gap_ok(folded[match.end() : start], _WINDOW_BEFORE):
            found = match.start()
    return found


def _cue_after(pattern: re.Pattern[str] | None, folded: str, end: int) -> int | None:
    """End of the nearest cue starting after ``end`` within the window, if any."""
    if pattern is None:
        return None
    for match in pattern.finditer(folded, end, min(len(folded), end + 80)):
        if _gap_ok(folded[end : match.start()], _WINDOW_AFTER):
            return match.end()
        break
    return None


def _text_hits(folded: str, matchers: _Matchers) -> list[_Hit]:
    """Term hits, overlaps resolved longest first, malignant terms re-classified by cues."""
    candidates = [
        _Hit(name, match.start(), match.end())
        for name, pattern in matchers.categories
        if pattern is not None
        for match in pattern.finditer(folded)
        if match.end() > match.start()
    ]
    candidates.sort(key=lambda hit: (hit.start - hit.end, hit.start))
    taken = bytearray(len(folded))
    kept: list[_Hit] = []
    for hit in candidates:
        if taken.find(1, hit.start, hit.end) == -1:
            taken[hit.start : hit.end] = b"\x01" * (hit.end - hit.start)
            kept.append(hit)
    kept.sort(key=lambda hit: hit.start)
    resolved: list[_Hit] = []
    for hit in kept:
        hedge_start = _cue_before(matchers.uncertainty_before, folded, hit.start)
        hedge_end = _cue_after(matchers.uncertainty_after, folded, hit.end)
        negation_start = _cue_before(matchers.negation_before, folded, hit.start)
        negation_end = _cue_after(matchers.negation_after, folded, hit.end)
        if hit.category == "positive" and (hedge_start is not None or hedge_end is not None):
            start = hit.start if hedge_start is None else hedge_start
            resolved.append(_Hit("indeterminate", start, hedge_end or hit.end))
        elif negation_start is not None or negation_end is not None:
            if hit.category == "positive":
                start = hit.start if negation_start is None else negation_start
                resolved.append(_Hit("negative", start, negation_end or hit.end))
            # A negated benign or uncertain term ("sans atypie") says nothing.
        else:
            resolved.append(hit)
    return resolved


def _map_text(text: str, rules: PathologyRules) -> tuple[str, str] | None:
    """(outcome, original span) decided by the text, or None when no term matches."""
    folded, index = fold_text(text)
    hits = _text_hits(folded, rules._matchers)
    for outcome in sorted(_SEVERITY, key=_SEVERITY.__getitem__):
        for hit in hits:
            if hit.category == outcome:
                end = index[hit.end] if hit.end < len(index) else len(text)
                return outcome, text[index[hit.start] : end].rstrip()
    return None


# -------------------------------------------------------------------------- codes

_SCTID: Final = re.compile(r"[1-9][0-9]{5,17}")
_ICD_O: Final = re.compile(r"(?:m-?)?([0-9]{4})/([0-9])")
_ICD_10: Final = re.compile(r"[A-Z][0-9]{2}[0-9A-Z]{0,4}")


def _code_outcome(system: str, code: str, rules: PathologyRules) -> tuple[str | None, str]:
    """(outcome or None, evidence or the reason the code is ignored)."""
    table = rules.codes[system]
    text = code.strip()
    if system == SNOMED_CT:
        if not _SCTID.fullmatch(text):
            return None, f"SNOMED CT code {code!r} is not a concept id (6 to 18 digits)"
        rule = table.get(text)
    elif system == ICD_O_3:
        match = _ICD_O.fullmatch(text.casefold())
        if match is None:
            return None, (
                f"ICD-O-3 code {code!r} is malformed: expected a morphology with its "
                "behaviour digit, like '8140/3'"
            )
        morphology = f"{match[1]}/{match[2]}"
        if match[2] not in _ICD_O_BEHAVIOURS:
            return None, (
                f"ICD-O-3 code {code!r} has behaviour digit {match[2]}, which is not one of "
                "0, 1, 2, 3, 6, 9"
            )
        rule = table.get(morphology)
        if rule is None and match[2] in rules.icd_o_behaviour:
            rule = CodeRule(rules.icd_o_behaviour[match[2]], f"behaviour /{match[2]}")
        text = morphology
    elif system == ICD_10:
        normalised = re.sub(r"[\s.]", "", text.upper())
        if not _ICD_10.fullmatch(normalised):
            return None, f"ICD-10 code {code!r} is malformed: expected a code like 'C34.1'"
        rule = next(
            (
                table[normalised[:length]]
                for length in range(len(normalised), 2, -1)
                if normalised[:length] in table
            ),
            None,
        )
    else:
        if not text:
            return None, "local code is empty"
        rule = table.get(text.casefold())
    if rule is None:
        return None, f"{system} code {code!r} is not in the {rules.target!r} rules"
    display = f" ({rule.display})" if rule.display else ""
    return rule.outcome, f"{system} {text}{display}"


def map_pathology(
    *,
    codes: Sequence[tuple[str, str]] = (),
    text: str | None = None,
    rules: PathologyRules,
) -> PathologyOutcome:
    """Map one pathology result (its coded diagnoses and conclusion text) for ``rules.target``.

    ``codes`` are (system, code) pairs; see :func:`canonical_system` for the system
    names accepted. Never raises on bad data: see the module docstring for the
    precedence and for what ends up in ``notes``.
    """
    notes: list[str] = []
    decided: list[tuple[str, str, str]] = []  # (outcome, system, evidence)
    for pair in codes:
        try:
            system_name, code = pair
        except (TypeError, ValueError):
            notes.append(f"code {pair!r} is not a (system, code) pair")
            continue
        if not isinstance(system_name, str) or not isinstance(code, str):
            notes.append(f"code {pair!r} is not a pair of strings")
            continue
        system = canonical_system(system_name)
        if system is None:
            notes.append(
                f"code system {system_name!r} is unknown: use one of {', '.join(CODE_SYSTEMS)} "
                "(or an alias such as SCT, ICDO3, I10)"
            )
            continue
        outcome, said = _code_outcome(system, code, rules)
        if outcome is None:
            notes.append(said)
        else:
            decided.append((outcome, system, said))
    if text is not None and not isinstance(text, str):
        notes.append(f"text is a {type(text).__name__}, not a string: ignored")
        text = None
    from_text = _map_text(text, rules) if text else None
    if decided:
        outcome, system, evidence = min(decided, key=lambda item: _SEVERITY[item[0]])
        if from_text is not None and from_text[0] != outcome:
            disagreement = f"text says {from_text[0]}: {from_text[1]!r}"
            notes.append(f"code wins over text; {disagreement}")
            evidence = f"{evidence}; {disagreement}"
        return PathologyOutcome(outcome, f"pathology_code:{system}", evidence, tuple(notes))
    if from_text is not None:
        return PathologyOutcome(from_text[0], TEXT_METHOD, from_text[1], tuple(notes))
    if text and text.strip():
        notes.append("the text has no term of the rules")
    if not notes:
        notes.append("neither a code nor a text was given")
    return PathologyOutcome(None, notes=tuple(notes))


# -------------------------------------------------------------------------- rules


def _outcome(value: object, where: str) -> str:
    outcome = str(value).strip().casefold() if isinstance(value, str) else None
    stated = tuple(o for o in OUTCOMES if o != "not_mentioned")  # a rule states something
    if outcome not in stated:
        raise ValueError(f"{where}: outcome {value!r} must be one of {', '.join(stated)}")
    return outcome


def _mapping(value: object, where: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _terms(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of terms, not {type(value).__name__}")
    for term in value:
        if not isinstance(term, str) or not term.strip():
            raise ValueError(
                f"{where}: term {term!r} is not a non-empty string (quote words YAML reads "
                'as booleans or numbers, like "no")'
            )
    return [_fold_term(term) for term in value]


def _code_key(system: str, code: object, where: str) -> str:
    text = str(code).strip()
    if system == ICD_10:
        return re.sub(r"[\s.]", "", text.upper())
    if system == LOCAL:
        return text.casefold()
    if system == ICD_O_3:
        match = _ICD_O.fullmatch(text.casefold())
        if match is None:
            raise ValueError(f"{where}: ICD-O-3 code {code!r} must look like '8140/3'")
        return f"{match[1]}/{match[2]}"
    return text


class _Merged:
    """Rules being merged, file after file."""

    def __init__(self) -> None:
        self.codes: dict[str, dict[str, CodeRule]] = {system: {} for system in CODE_SYSTEMS}
        self.behaviour: dict[str, str] = {}
        self.terms: dict[str, dict[str, None]] = {name: {} for name in _TEXT_CATEGORIES}
        self.cues: dict[str, dict[str, None]] = {kind: {} for kind in _CUE_KINDS}
        self.found = False

    def add_cues(self, block: Mapping[Any, Any], where: str) -> None:
        for kind, value in block.items():
            if kind not in _CUE_KINDS:
                raise ValueError(f"{where}: unknown cue list {kind!r}: use {', '.join(_CUE_KINDS)}")
            for term in _terms(value, f"{where}.{kind}"):
                self.cues[kind][term] = None

    def add_target(self, block: Mapping[Any, Any], where: str) -> None:
        self.found = True
        known = {"icd_o_behaviour", "codes", "text"}
        unknown = set(block) - known
        if unknown:
            raise ValueError(
                f"{where}: unknown keys {sorted(map(str, unknown))}: use {sorted(known)}"
            )
        behaviour = _mapping(block.get("icd_o_behaviour"), f"{where}.icd_o_behaviour")
        for digit, outcome in behaviour.items():
            key = str(digit).strip()
            if key not in _ICD_O_BEHAVIOURS:
                raise ValueError(
                    f"{where}.icd_o_behaviour: {digit!r} is not an ICD-O-3 behaviour digit "
                    "(0, 1, 2, 3, 6, 9)"
                )
            self.behaviour[key] = _outcome(outcome, f"{where}.icd_o_behaviour.{key}")
        for system_name, table in _mapping(block.get("codes"), f"{where}.codes").items():
            system = canonical_system(str(system_name))
            if system is None:
                raise ValueError(
                    f"{where}.codes: unknown code system {system_name!r}: "
                    f"use {', '.join(CODE_SYSTEMS)}"
                )
            self.add_codes(system, _mapping(table, f"{where}.codes.{system_name}"), where)
        text = _mapping(block.get("text"), f"{where}.text")
        for name, value in text.items():
            if name in _TEXT_CATEGORIES:
                for term in _terms(value, f"{where}.text.{name}"):
                    for other in self.terms.values():
                        other.pop(term, None)
                    self.terms[name][term] = None
            elif name in _CUE_KINDS:
                self.add_cues({name: value}, f"{where}.text")
            else:
                raise ValueError(
                    f"{where}.text: unknown list {name!r}: use "
                    f"{', '.join((*_TEXT_CATEGORIES, *_CUE_KINDS))}"
                )

    def add_codes(self, system: str, table: Mapping[Any, Any], where: str) -> None:
        for code, value in table.items():
            at = f"{where}.codes.{system}.{code}"
            if isinstance(value, Mapping):
                rule = CodeRule(_outcome(value.get("outcome"), at), str(value.get("display", "")))
            else:
                rule = CodeRule(_outcome(value, at))
            self.codes[system][_code_key(system, code, at)] = rule


def _read_yaml(path: Path) -> Mapping[Any, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot read the pathology rules file: {error}") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a valid UTF-8 YAML file: {error}") from error
    return _mapping(content, f"{path}")


def load_pathology_rules(
    target: str,
    extra: Sequence[Path] = (),
    local_codes: Mapping[str, str] | None = None,
) -> PathologyRules:
    """The rules for ``target``: built-in rules, then each ``extra`` file, then ``local_codes``.

    Later sources win: a code mapped again takes the later outcome; a text term
    listed again moves to the later category; cues add up. ``local_codes`` maps a
    hospital's LIS codes (matched stripped and casefolded) to an outcome. An
    ``extra`` file may define a new target. Raises ``ValueError`` for an unknown
    target, an unreadable or ill-shaped file, or an outcome not in OUTCOMES.
    """
    merged = _Merged()
    sources: list[str] = []
    known_targets: set[str] = set()
    for path in (BUILTIN_RULES, *map(Path, extra)):
        content = _read_yaml(path)
        sources.append(str(path))
        unknown = set(content) - {"cues", "targets"}
        if unknown:
            raise ValueError(
                f"{path}: unknown top-level keys {sorted(map(str, unknown))}: use cues, targets"
            )
        merged.add_cues(_mapping(content.get("cues"), f"{path}: cues"), f"{path}: cues")
        targets = _mapping(content.get("targets"), f"{path}: targets")
        known_targets.update(map(str, targets))
        if target in targets:
            block = _mapping(targets[target], f"{path}: targets.{target}")
            merged.add_target(block, f"{path}: targets.{target}")
    if not merged.found:
        raise ValueError(
            f"unknown pathology target {target!r}: known targets are "
            f"{', '.join(sorted(known_targets))}; add it under 'targets:' in a rules file "
            "passed as extra"
        )
    if local_codes:
        merged.add_codes(LOCAL, local_codes, "local_codes")
    return PathologyRules(
        target=target,
        codes=merged.codes,
        icd_o_behaviour=merged.behaviour,
        text=TextVocabulary(
            **{name: tuple(merged.terms[name]) for name in _TEXT_CATEGORIES},
            **{kind: tuple(merged.cues[kind]) for kind in _CUE_KINDS},
        ),
        sources=tuple(sources),
    )
