"""What a report or a pathology result says of each target: outcome, method, evidence.

One decision for every reader of report text: the clinical messages
(:mod:`connectors.messages`: HL7 ORU, FHIR DiagnosticReport) and the canonical
rows whose ``outcome`` is empty but whose ``report_text`` is given
(:mod:`connectors.rows`). Report text is read with
:func:`connectors.report_text.extract_outcome`, pathology with
:func:`connectors.pathology.map_pathology`; a source's mapping may extend their
rules with its own files (loaded once, again when a file changes).

A report text that never speaks of a target gives a decision too: outcome
``not_mentioned`` (the reader's ``unmentioned`` state), with the method and no
evidence - a state the device's policy counts, not bad data; when the target was
mentioned but discounted (another organ, an old lesion...), the sentence, section
and qualifiers of that mention are kept for the reviewer. A blank text decides
nothing. A pathology result whose codes and text name no diagnosis of the target
decides nothing either (its rules, not the report, are then usually what lacks).

Besides the deciding words (``evidence``), a decision read from a report text
keeps where it was decided: the ``section``, the whole ``sentence`` (at most
:data:`MAX_SENTENCE` characters, cut around the deciding words) and the
``qualifiers`` (the words that qualified the mention - negated, uncertain,
historical, other organ - joined by ``; ``, at most :data:`MAX_QUALIFIERS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from connectors.errors import ConnectorError
from connectors.mapping import SourceMapping
from connectors.pathology import PathologyRules, load_pathology_rules, map_pathology
from connectors.report_text import (
    Evidence,
    TextOutcome,
    Vocabulary,
    extract_outcome,
    load_vocabulary,
)

__all__ = [
    "MAX_EVIDENCE",
    "MAX_QUALIFIERS",
    "MAX_SENTENCE",
    "NOT_MENTIONED",
    "Decision",
    "decide_outcome",
]

MAX_EVIDENCE: Final = 300
"""The longest evidence kept, in characters (the deciding words, cut beyond)."""
MAX_SENTENCE: Final = 500
"""The longest deciding sentence kept, in characters (cut around the deciding words)."""
MAX_QUALIFIERS: Final = 300
"""The longest qualifiers kept, in characters (whole qualifiers, the last ones dropped)."""
NOT_MENTIONED: Final = "not_mentioned"
"""The outcome of a target a final report never speaks of."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What a report says about one target: the outcome, how it was read, the evidence,
    and where: section, whole sentence and qualifiers (None when not read from a
    report text). ``not_mentioned``: the report never speaks of the target (evidence
    ``""``)."""

    target: str
    outcome: str
    method: str
    evidence: str
    section: str | None = None
    sentence: str | None = None
    qualifiers: str | None = None
    reading: str | None = None
    """The status of the mention that decided, as the reader gave it (``affirmed``,
    ``negated``, ``uncertain``, ``normal``, ``old``, ``historical``, ``benign``,
    ``pattern``, ``mimic``, ``other_organ``, ``device``, ``hypothetical``): a device's
    reading policy recounts ``old``, ``historical``, ``benign`` and ``pattern`` ones."""


def decide_outcome(
    text: str,
    codes: Sequence[tuple[str, str]],
    *,
    source: str,
    targets: Sequence[str],
    mapping: SourceMapping | None = None,
) -> list[Decision]:
    """One :class:`Decision` per target of ``targets`` the report decides.

    ``source`` ``pathology`` maps the coded diagnoses ``codes`` ((system, code)
    pairs) and the text with :func:`connectors.pathology.map_pathology` (a target
    it names no diagnosis of gets no decision); any other source reads the text
    with :func:`connectors.report_text.extract_outcome`: a target the (non-blank)
    text never speaks of gets a ``not_mentioned`` decision, a blank text none. The
    mapping's ``vocabularies``, ``pathology_rules`` and ``local_codes`` extend the
    built-in rules.
    """
    mapping = mapping or SourceMapping()
    decisions = []
    for target in targets:
        if source == "pathology":
            rules = _pathology_rules(
                target,
                _file_states(mapping.pathology_rules.get(target, ())),
                tuple(sorted(mapping.local_codes.items())),
            )
            mapped = map_pathology(codes=codes, text=text or None, rules=rules)
            if mapped.outcome is not None:
                evidence = (mapped.evidence or "")[:MAX_EVIDENCE]
                method = mapped.method or "pathology"
                decisions.append(Decision(target, mapped.outcome, method, evidence))
            continue
        vocabulary = _vocabulary(target, _file_states(mapping.vocabularies.get(target, ())))
        decision = _text_decision(extract_outcome(text, target, vocabulary))
        if decision is not None:
            decisions.append(decision)
    return decisions


def _text_decision(found: TextOutcome) -> Decision | None:
    """The decision of one target read from a report text (None for a blank text).

    A target the text never speaks of, or only in discounted mentions (another organ,
    an old lesion, a hypothesis...), is ``not_mentioned``: no evidence, but the
    sentence, section and qualifiers of a discounted mention when there is one."""
    if found.state == "empty":
        return None
    evidence = found.evidence
    where = {
        "section": found.section if evidence is not None else None,
        "sentence": _sentence(evidence) if evidence is not None else None,
        "qualifiers": _qualifiers(evidence) if evidence is not None else None,
        "reading": evidence.status if evidence is not None else None,
    }
    if found.state == "unmentioned" or found.outcome is None or evidence is None:
        return Decision(found.target, NOT_MENTIONED, found.method, "", **where)
    method = f"{found.method} {found.section}" if found.section else found.method
    return Decision(found.target, found.outcome, method, evidence.text[:MAX_EVIDENCE], **where)


def _sentence(evidence: Evidence) -> str | None:
    """The whole sentence holding the deciding words, at most :data:`MAX_SENTENCE`
    characters (cut around them), blanks folded; None when the reader gives none."""
    sentence = " ".join(evidence.sentence.split())
    if not sentence:
        return None
    return _clip(sentence, " ".join(evidence.text.split()), MAX_SENTENCE)


def _clip(sentence: str, focus: str, limit: int) -> str:
    """``sentence`` cut to ``limit`` characters around ``focus`` (marked with ``…``)."""
    if len(sentence) <= limit:
        return sentence
    at = max(sentence.find(focus), 0)
    begin = max(0, min(at - (limit - len(focus)) // 2, len(sentence) - limit + 2))
    cut = sentence[begin : begin + limit - 2]
    return ("…" if begin else "") + cut + ("…" if begin + len(cut) < len(sentence) else "")


def _qualifiers(evidence: Evidence) -> str | None:
    """The words that qualified the mention, ``kind: words`` joined by ``; `` (whole
    ones only, at most :data:`MAX_QUALIFIERS` characters); None when none did."""
    items = [text for item in evidence.qualifiers if (text := " ".join(item.split()))]
    kept: list[str] = []
    for item in items:
        if len("; ".join([*kept, item])) > MAX_QUALIFIERS:
            break
        kept.append(item)
    if not kept and items:
        kept = [items[0][: MAX_QUALIFIERS - 1] + "…"]
    return "; ".join(kept) or None


_FileStates = tuple[tuple[str, int], ...]


def _file_states(files: Sequence[str]) -> _FileStates:
    """The files with their modification times: rules are loaded again when one changes."""
    states = []
    for name in files:
        try:
            states.append((name, Path(name).stat().st_mtime_ns))
        except OSError:
            states.append((name, -1))  # the loader says the file cannot be read
    return tuple(states)


@lru_cache(maxsize=64)
def _pathology_rules(
    target: str, files: _FileStates, local_codes: tuple[tuple[str, str], ...]
) -> PathologyRules:
    try:
        return load_pathology_rules(
            target, [Path(f) for f, _ in files], dict(local_codes) if local_codes else None
        )
    except ValueError as exc:
        raise ConnectorError(f"pathology rules for {target!r}: {exc}") from exc


@lru_cache(maxsize=64)
def _vocabulary(target: str, files: _FileStates) -> Vocabulary | None:
    return load_vocabulary(target, [Path(f) for f, _ in files]) if files else None
