"""One source row -> a canonical record, or the reasons it cannot be one.

A :class:`RowBuilder` is made once per file from its header: it resolves every
canonical column to a source column (raising :class:`ConnectorError` when a
required one is absent), and prepares one parsing step per column, so that
building a row is a tight loop without lookups by name.

An outcome row whose ``outcome`` is empty but whose ``report_text`` is given gets
its outcome read from the text (:func:`connectors.decisions.decide_outcome`, the
rules of the clinical message readers), with ``method``, ``evidence``, ``section``,
``sentence`` and ``qualifiers`` set. A text that never speaks of the row's target
gives the outcome ``not_mentioned`` (a state, not bad data). A row without a
target whose text speaks of none of the targets the rules know is quarantined
(which target was not mentioned cannot be said), as is a row whose text is blank
and outcome empty, and a pathology text naming no diagnosis. A given outcome is
kept as given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from connectors.canonical import (
    OUTCOME_REQUIRED,
    PREDICTION_REQUIRED,
    PREDICTION_RESULT,
    OutcomeRecord,
    PredictionRecord,
)
from connectors.decisions import NOT_MENTIONED, Decision, decide_outcome
from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping, columns_of, value_key
from connectors.parsing import CellError, Parser, parser_for
from connectors.report_text import TARGETS
from connectors.shapes import value_shape

__all__ = ["LINK_KEYS", "RowBuilder", "RowResult"]

LINK_KEYS = ("accession_number", "study_instance_uid")
"""At least one of these links a prediction to its outcomes; every row needs one."""

Record = PredictionRecord | OutcomeRecord

_DECISIONS_KEPT = 4096
"""Decisions remembered per file, by (text, source, target): exports repeat their texts."""


@dataclass(frozen=True, slots=True)
class RowResult:
    """One source row and what became of it.

    ``line``: where the row starts, 1-based: the physical line of a CSV file (the
    header is line 1), the row number of a Parquet file. ``raw``: the cells as read,
    under the source's column names, as text (None for a null or a missing cell;
    Parquet date-times in ISO 8601). Exactly one of ``record`` (the canonical
    record) and ``error`` (why there is none, naming the column and the value) is set.
    """

    line: int
    raw: dict[str, str | None]
    record: PredictionRecord | OutcomeRecord | None
    error: str | None


# name, position in the source row (-1: absent), default, value translations, parser
_Step = tuple[str, int, str | None, dict[str, str] | None, Parser | None]


class RowBuilder:
    """Builds the records of one file whose header (column names, in order) is known."""

    def __init__(
        self,
        kind: RecordKind,
        header: Sequence[str],
        mapping: SourceMapping,
        path: str,
        header_line: int | None = None,
    ) -> None:
        """``header_line``: the header's line in a CSV file, for error messages."""
        positions = _resolve(kind, header, mapping, path, header_line)
        self.kind = kind
        self._mapping = mapping
        self._path = path
        self._reads_text = kind == "outcomes" and (
            "report_text" in positions or bool(mapping.defaults.get("report_text"))
        )
        self._decisions: dict[tuple[str, str, str | None], Decision | str] = {}
        self.raw_keys = _unique(header)
        self._record: type[Record] = PredictionRecord if kind == "predictions" else OutcomeRecord
        self._required = PREDICTION_REQUIRED if kind == "predictions" else OUTCOME_REQUIRED
        self._required_set = frozenset(self._required)
        # A prediction needs ai_result or ai_score (checked by _finish); the fast path
        # of build_text takes only rows with ai_result.
        self._needs_result = kind == "predictions"
        self._complete = self._required_set | ({"ai_result"} if self._needs_result else set())
        steps: list[_Step] = []
        plain: list[tuple[str, int]] = []
        for name in columns_of(kind):
            position = positions.get(name, -1)
            default = mapping.defaults.get(name) or None
            if position < 0 and default is None:
                continue  # stays None in every record
            table = mapping.values.get(name)
            parse = parser_for(name, mapping.datetime_format, mapping.timezone)
            steps.append((name, position, default, dict(table) if table else None, parse))
            if parse is None and not table and default is None:
                plain.append((name, position))
        self._steps = tuple(steps)
        # For all-text rows (CSV), free-text columns without translation or default
        # take a shortcut: a stripped copy.
        self._plain = tuple(plain)
        self._special = tuple(step for step in steps if (step[0], step[1]) not in plain)

    def build(self, cells: Sequence[Any]) -> tuple[Record | None, str | None]:
        """``cells`` (one per header column; text or native values) -> (record, None) or
        (None, reason). Never raises for a bad value: every problem is in the reason."""
        fields: dict[str, Any] = {}
        problems: list[tuple[str, str]] | None = None
        for name, position, default, table, parse in self._steps:
            value = cells[position] if position >= 0 else None
            if value.__class__ is str:
                value = value.strip() or None
            if value is not None and table is not None:
                translated = table.get(
                    value.casefold() if value.__class__ is str else value_key(value)
                )
                if translated is not None:
                    value = translated or None
            if value is None:
                if default is None:
                    continue
                value = default
            if parse is None:
                fields[name] = value if value.__class__ is str else str(value)
                continue
            try:
                fields[name] = parse(value)
            except (ValueError, TypeError, OverflowError) as exc:
                problems = [*(problems or []), (name, _reason(name, value, exc))]
        return self._finish(fields, problems)

    def build_text(self, cells: Sequence[str]) -> tuple[Record | None, str | None]:
        """As :meth:`build`, faster, for rows whose cells are all text (CSV)."""
        fields: dict[str, Any] = {
            name: value for name, position in self._plain if (value := cells[position].strip())
        }
        problems: list[tuple[str, str]] | None = None
        for name, position, default, table, parse in self._special:
            value = cells[position].strip() if position >= 0 else ""
            if value and table is not None:
                value = table.get(value.casefold(), value)
            if not value:
                if default is None:
                    continue
                value = default
            if parse is None:
                fields[name] = value
                continue
            try:
                fields[name] = parse(value)
            except (ValueError, TypeError, OverflowError) as exc:
                problems = [*(problems or []), (name, _reason(name, value, exc))]
        if (  # _finish, inlined: this is the hot path of CSV reading
            problems is None
            and fields.keys() >= self._complete
            and ("accession_number" in fields or "study_instance_uid" in fields)
        ):
            return self._record(**fields), None
        return self._finish(fields, problems)

    def _finish(
        self, fields: dict[str, Any], problems: list[tuple[str, str]] | None
    ) -> tuple[Record | None, str | None]:
        if (
            self._reads_text
            and "outcome" not in fields
            and "report_text" in fields
            and not any(name == "outcome" for name, _ in problems or ())
        ):
            reason = self._read_outcome(fields)
            if reason is not None:
                problems = [*(problems or []), ("outcome", reason)]
        if (
            problems is None
            and fields.keys() >= self._required_set
            and ("accession_number" in fields or "study_instance_uid" in fields)
            and (not self._needs_result or "ai_result" in fields or "ai_score" in fields)
        ):
            return self._record(**fields), None
        return None, "; ".join(self._reasons(fields, problems or []))

    def _reasons(self, fields: dict[str, Any], problems: list[tuple[str, str]]) -> list[str]:
        failed = {name for name, _ in problems}
        reasons = [reason for _, reason in problems]
        for name in self._required:
            if name in fields or name in failed:
                continue
            if name == "outcome":
                if "report_text" not in fields:
                    reasons.append("outcome is missing")
                # else it is read from the text once the source is given (its reason is listed)
            else:
                reasons.append(f"missing required field {name}")
        if not any(key in fields or key in failed for key in LINK_KEYS):
            reasons.append("neither accession_number nor study_instance_uid is given")
        if self._needs_result and not any(
            key in fields or key in failed for key in PREDICTION_RESULT
        ):
            reasons.append("ai_result is missing and there is no ai_score to derive it from")
        return reasons

    def _read_outcome(self, fields: dict[str, Any]) -> str | None:
        """Set ``outcome``, ``method``, ``evidence``, ``section``, ``sentence``,
        ``qualifiers`` (and ``target`` when the row has none and the text speaks of
        one) from ``report_text``; else the reason it cannot be.

        Nothing is read without a source (the row is refused for it anyway). Raises
        :class:`ConnectorError` when the mapping's own rule files cannot be used.
        """
        source: str | None = fields.get("source")
        if source is None:
            return None
        text: str = fields["report_text"]
        target: str | None = fields.get("target")
        key = (text, source, target)
        decided = self._decisions.get(key)
        if decided is None:
            decided = self._decide(text, source, target)
            if len(self._decisions) >= _DECISIONS_KEPT:
                self._decisions.clear()
            self._decisions[key] = decided
        if isinstance(decided, str):
            return decided
        fields["outcome"] = decided.outcome
        fields["method"] = decided.method
        fields["evidence"] = decided.evidence or None
        fields["section"] = decided.section
        fields["sentence"] = decided.sentence
        fields["qualifiers"] = decided.qualifiers
        fields["reading"] = decided.reading
        fields["target"] = decided.target
        return None

    def _decide(self, text: str, source: str, target: str | None) -> Decision | str:
        """The one decision of ``text`` for the row, or why there is none."""
        pathology = source == "pathology"
        known = (*TARGETS, *self._mapping.pathology_rules) if pathology else TARGETS
        rules = "pathology" if pathology else "report-text"
        if target is not None and target not in known:
            return (
                f"outcome is missing and report_text cannot be read for the target "
                f"shaped {value_shape(target)!r}: "
                f"the {rules} rules know {', '.join(dict.fromkeys(known))}; give the outcome"
            )
        targets = (target,) if target else TARGETS
        try:
            decisions = decide_outcome(
                text, (), source=source, targets=targets, mapping=self._mapping
            )
        except ConnectorError as exc:
            raise ConnectorError(str(exc), path=self._path) from exc
        about = " or ".join(targets)
        if target is not None and decisions:
            return decisions[0]  # decided, uncertain or not mentioned
        decisions = [d for d in decisions if d.outcome != NOT_MENTIONED]
        if not decisions and not pathology and target is None and text.strip():
            return (
                f"outcome is missing and report_text speaks of none of {', '.join(targets)}: "
                "give the row's target (or a default target) to record it as not mentioned "
                "for that target, or give the outcome"
            )
        if not decisions:
            lacks = (
                "no diagnosis term or code for it"
                if pathology
                else "no mention of it (affirmed, negated or in doubt) and no statement of a "
                "normal examination"
            )
            return (
                f"outcome is missing and report_text decides nothing about {about}: "
                f"the text has {lacks}; give the outcome"
            )
        if len(decisions) > 1:
            spoken = " and ".join(d.target for d in decisions)
            return (
                f"outcome is missing and report_text speaks of {spoken}: give the row's target "
                "(or a default target) to say which one this outcome is for"
            )
        return decisions[0]


def _reason(name: str, value: Any, exc: Exception) -> str:
    if isinstance(exc, CellError):
        return str(exc)
    # A parser's unforeseen failure: its type, not its message (which may quote the value).
    return f"{name}: a value shaped {value_shape(value)!r} cannot be read ({type(exc).__name__})"


def _resolve(
    kind: RecordKind,
    header: Sequence[str],
    mapping: SourceMapping,
    path: str,
    header_line: int | None,
) -> dict[str, int]:
    """Canonical column -> its position in ``header``; ConnectorError if a required one
    has neither a column nor a default, or if its column is ambiguous."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name, position)
    counts = Counter(header)
    positions: dict[str, int] = {}
    for canonical in columns_of(kind):
        source = mapping.source_column(canonical)
        if source not in index:
            continue
        if counts[source] > 1:
            raise ConnectorError(
                f"the column {source!r} (for {canonical}) appears {counts[source]} times in "
                "the header: rename the copies so that one column is meant",
                path=path,
                line=header_line,
            )
        positions[canonical] = index[source]

    def available(canonical: str) -> bool:
        return canonical in positions or bool(mapping.defaults.get(canonical))

    required = PREDICTION_REQUIRED if kind == "predictions" else OUTCOME_REQUIRED
    missing = [_expected(c, mapping, header) for c in required if not available(c)]
    for keys in (LINK_KEYS, PREDICTION_RESULT) if kind == "predictions" else (LINK_KEYS,):
        if not any(available(key) for key in keys):
            missing.append(
                " or ".join(_expected(key, mapping, header) for key in keys) + " (at least one)"
            )
    if missing:
        has = ", ".join(repr(name) for name in header) or "no columns"
        fix = (
            "Is the delimiter right? The header was read as one column."
            if len(header) == 1 and any(mark in header[0] for mark in ",;\t|")
            else "Rename the file's columns, or map them in the source's column mapping, "
            "or give a default."
        )
        raise ConnectorError(
            f"required {kind} column(s) missing from the header: {'; '.join(missing)}. "
            f"The file has: {has}. {fix}",
            path=path,
            line=header_line,
        )
    return positions


def _expected(canonical: str, mapping: SourceMapping, header: Sequence[str]) -> str:
    source = mapping.source_column(canonical)
    text = f"{canonical} (expected column {source!r}"
    close = get_close_matches(source, list(header), n=1, cutoff=0.75)
    if not close:
        folded = {name.casefold(): name for name in header}
        close = [folded[source.casefold()]] if source.casefold() in folded else []
    return text + (f"; did you mean {close[0]!r}?)" if close else ")")


def _unique(header: Sequence[str]) -> tuple[str, ...]:
    """Header names as ``raw`` keys: a repeated name gets " (2)", " (3)"..."""
    seen: Counter[str] = Counter()
    keys = []
    for name in header:
        seen[name] += 1
        keys.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(keys)
