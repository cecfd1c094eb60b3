"""One source row -> a canonical record, or the reasons it cannot be one.

A :class:`RowBuilder` is made once per file from its header: it resolves every
canonical column to a source column (raising :class:`ConnectorError` when a
required one is absent), and prepares one parsing step per column, so that
building a row is a tight loop without lookups by name.
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
    OutcomeRecord,
    PredictionRecord,
)
from connectors.errors import ConnectorError
from connectors.mapping import RecordKind, SourceMapping, columns_of, value_key
from connectors.parsing import CellError, Parser, parser_for

__all__ = ["LINK_KEYS", "RowBuilder", "RowResult"]

LINK_KEYS = ("accession_number", "study_instance_uid")
"""At least one of these links a prediction to its outcomes; every row needs one."""

Record = PredictionRecord | OutcomeRecord


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
        self.raw_keys = _unique(header)
        self._record: type[Record] = PredictionRecord if kind == "predictions" else OutcomeRecord
        self._required = PREDICTION_REQUIRED if kind == "predictions" else OUTCOME_REQUIRED
        self._complete = frozenset(self._required)
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
        return None, "; ".join(self._reasons(fields, problems or []))

    def _finish(
        self, fields: dict[str, Any], problems: list[tuple[str, str]] | None
    ) -> tuple[Record | None, str | None]:
        if (
            problems is None
            and fields.keys() >= self._complete
            and ("accession_number" in fields or "study_instance_uid" in fields)
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
                reasons.append(
                    "outcome is missing (deriving it from report_text is not supported yet)"
                    if "report_text" in fields
                    else "outcome is missing"
                )
            else:
                reasons.append(f"missing required field {name}")
        if not any(key in fields or key in failed for key in LINK_KEYS):
            reasons.append("neither accession_number nor study_instance_uid is given")
        return reasons


def _reason(name: str, value: Any, exc: Exception) -> str:
    if isinstance(exc, CellError):
        return str(exc)
    return f"{name} {value!r} cannot be read: {exc}"  # a parser's unforeseen failure


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
    if not any(available(key) for key in LINK_KEYS):
        missing.append(
            " or ".join(_expected(key, mapping, header) for key in LINK_KEYS) + " (at least one)"
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
