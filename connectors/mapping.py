"""How a vendor export maps onto the canonical columns."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.canonical import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from connectors.errors import ConnectorError
from connectors.limits import ReadLimits

__all__ = ["RecordKind", "SourceMapping", "columns_of", "value_key"]

RecordKind = Literal["predictions", "outcomes"]


def columns_of(kind: RecordKind) -> tuple[str, ...]:
    """The canonical columns of ``kind``."""
    return PREDICTION_COLUMNS if kind == "predictions" else OUTCOME_COLUMNS


def value_key(value: object) -> str:
    """How a vendor value is looked up in ``SourceMapping.values``: stripped, casefolded text."""
    return str(value).strip().casefold()


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType({str(k).strip(): str(v).strip() for k, v in mapping.items()})


@dataclass(frozen=True, kw_only=True)
class SourceMapping:
    """Column names, value translations, defaults and text conventions of one source.

    ``columns``: canonical column -> the source's column; a canonical column not
    listed is read from a column of its own name, if the file has one.
    ``values``: canonical column -> {source value -> canonical value}, source values
    matched after ``strip()`` and ``casefold()`` (``"DOUBT"`` and ``" doubt "`` are
    the same); translating to ``""`` makes the value missing. Applied before
    validation, never to defaults.
    ``defaults``: canonical column -> canonical value used when the column is absent
    or the cell empty.
    ``datetime_format``: ``strptime`` format of the source's date-times; None means
    ISO 8601 (``datetime.fromisoformat``: ``Z`` suffix and date-only accepted).
    ``timezone``: IANA name; naive date-times are local time there (a local time
    that the clock change skips or repeats takes the UTC offset in force before
    the change).
    ``delimiter`` and ``encoding`` apply to CSV; a UTF-8 byte order mark is
    tolerated.

    For outcomes read from report text or pathology (:mod:`connectors.messages`, and
    canonical rows whose outcome is empty but whose ``report_text`` is given):
    ``vocabularies`` (target -> extra report-text vocabulary files),
    ``pathology_rules`` (target -> extra pathology rule files) and ``local_codes``
    (a LIS's own diagnosis code -> outcome) extend the built-in rules.

    The mappings are copied into read-only views, so a mapping is immutable and
    hashable.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    datetime_format: str | None = None
    timezone: str = "Europe/Paris"
    delimiter: str = ","
    encoding: str = "utf-8"
    vocabularies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pathology_rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    local_codes: Mapping[str, str] = field(default_factory=dict)
    limits: ReadLimits = field(default_factory=ReadLimits)
    """How much a reader takes from one file (:class:`connectors.limits.ReadLimits`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", _frozen(self.columns))
        object.__setattr__(self, "local_codes", _frozen(self.local_codes))
        for name in ("vocabularies", "pathology_rules"):
            files = {str(k).strip(): tuple(v) for k, v in getattr(self, name).items()}
            object.__setattr__(self, name, MappingProxyType(files))
        object.__setattr__(self, "defaults", _frozen(self.defaults))
        values = {
            str(column).strip(): MappingProxyType(
                {value_key(k): str(v).strip() for k, v in table.items()}
            )
            for column, table in self.values.items()
        }
        object.__setattr__(self, "values", MappingProxyType(values))

    def __hash__(self) -> int:
        return hash(
            (
                tuple(sorted(self.columns.items())),
                tuple(sorted((c, tuple(sorted(t.items()))) for c, t in self.values.items())),
                tuple(sorted(self.defaults.items())),
                self.datetime_format,
                self.timezone,
                self.delimiter,
                self.encoding,
                tuple(sorted(self.vocabularies.items())),
                tuple(sorted(self.pathology_rules.items())),
                tuple(sorted(self.local_codes.items())),
                self.limits,
            )
        )

    def source_column(self, canonical: str) -> str:
        """The source's column name for a canonical column."""
        return self.columns.get(canonical, canonical)

    def validate_for(self, kind: RecordKind) -> None:
        """Raise :class:`ConnectorError` if this mapping cannot read ``kind`` records.

        Checks that every canonical column it names exists for ``kind``, and that the
        timezone, delimiter, encoding and date-time format are usable.
        """
        known = columns_of(kind)
        for section in ("columns", "values", "defaults"):
            for name in getattr(self, section):
                if name not in known:
                    raise ConnectorError(
                        f"the mapping's {section} names {name!r}, which is not a canonical "
                        f"{kind} column (use one of {', '.join(known)})"
                    )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConnectorError(
                f"unknown timezone {self.timezone!r} (use an IANA name such as 'Europe/Paris')"
            ) from exc
        if len(self.delimiter) != 1 or self.delimiter in '\r\n"':
            raise ConnectorError(
                f"the delimiter must be one character other than a quote or a line break, "
                f"got {self.delimiter!r}"
            )
        try:
            codecs.lookup(self.encoding)
        except LookupError as exc:
            raise ConnectorError(
                f"unknown encoding {self.encoding!r} (use e.g. 'utf-8' or 'cp1252')"
            ) from exc
        if self.datetime_format is not None:
            _check_datetime_format(self.datetime_format)


def _check_datetime_format(fmt: str) -> None:
    problem = None if "%" in fmt else "it has no % directive"
    try:
        datetime.strptime("", fmt)
    except re.error as exc:  # e.g. a directive given twice
        problem = str(exc)
    except ValueError as exc:
        if not str(exc).startswith("time data"):  # "time data '' does not match": a fine format
            problem = str(exc)
    if problem:
        raise ConnectorError(
            f"the datetime_format {fmt!r} is not usable ({problem}): use strptime directives, "
            "e.g. '%d/%m/%Y %H:%M', or none for ISO 8601"
        )
