"""How a vendor export maps onto the canonical columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from connectors.canonical import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from connectors.errors import ConnectorError

__all__ = ["RecordKind", "SourceMapping"]

RecordKind = Literal["predictions", "outcomes"]


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class SourceMapping:
    """Column names, value translations and defaults of one source.

    ``columns``: canonical column -> the source's column (unmapped canonical columns
    are read from a column of the canonical name). ``values``: canonical column ->
    {source value -> canonical value}, matched ignoring case and surrounding spaces.
    ``defaults``: canonical column -> value used when the column is absent or the
    cell empty. ``datetime_format``: strptime format, else ISO 8601. Naive
    date-times are local time in ``timezone``.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    datetime_format: str | None = None
    timezone: str = "Europe/Paris"
    delimiter: str = ","
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", _frozen(self.columns))
        object.__setattr__(self, "defaults", _frozen(self.defaults))
        object.__setattr__(
            self,
            "values",
            MappingProxyType(
                {
                    column: MappingProxyType(
                        {str(k).strip().casefold(): v for k, v in table.items()}
                    )
                    for column, table in self.values.items()
                }
            ),
        )

    def validate_for(self, kind: RecordKind) -> None:
        """Raise :class:`ConnectorError` if the mapping names a column ``kind`` does not have."""
        known = PREDICTION_COLUMNS if kind == "predictions" else OUTCOME_COLUMNS
        for section in ("columns", "values", "defaults"):
            for name in getattr(self, section):
                if name not in known:
                    raise ConnectorError(
                        f"the mapping's {section} names {name!r}, which is not a canonical "
                        f"{kind} column (use one of {', '.join(known)})"
                    )

    def source_column(self, canonical: str) -> str:
        """The source's column name for a canonical column."""
        return self.columns.get(canonical, canonical)
