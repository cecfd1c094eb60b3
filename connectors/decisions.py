"""What a report or a pathology result says of each target: outcome, method, evidence.

One decision for every reader of report text: the clinical messages
(:mod:`connectors.messages`: HL7 ORU, FHIR DiagnosticReport) and the canonical
rows whose ``outcome`` is empty but whose ``report_text`` is given
(:mod:`connectors.rows`). Report text is read with
:func:`connectors.report_text.extract_outcome`, pathology with
:func:`connectors.pathology.map_pathology`; a source's mapping may extend their
rules with its own files (loaded once, again when a file changes).
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
from connectors.report_text import Vocabulary, extract_outcome, load_vocabulary

__all__ = ["MAX_EVIDENCE", "Decision", "decide_outcome"]

MAX_EVIDENCE: Final = 300
"""The longest evidence kept, in characters (the deciding words, cut beyond)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What a report says about one target: the outcome, how it was read, the evidence."""

    target: str
    outcome: str
    method: str
    evidence: str


def decide_outcome(
    text: str,
    codes: Sequence[tuple[str, str]],
    *,
    source: str,
    targets: Sequence[str],
    mapping: SourceMapping | None = None,
) -> list[Decision]:
    """One :class:`Decision` per target the report speaks of (none: it says nothing).

    ``source`` ``pathology`` maps the coded diagnoses ``codes`` ((system, code)
    pairs) and the text with :func:`connectors.pathology.map_pathology`; any other
    source reads the text with :func:`connectors.report_text.extract_outcome`. The
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
        found = extract_outcome(text, target, vocabulary)
        if found.outcome is not None and found.evidence is not None:
            method = f"{found.method} {found.section}" if found.section else found.method
            decisions.append(
                Decision(target, found.outcome, method, found.evidence.text[:MAX_EVIDENCE])
            )
    return decisions


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
