"""The one exception of the connectors: a source that cannot be read at all.

Row-level problems are never raised: they come back as a row's ``error``.
"""

from __future__ import annotations

__all__ = ["ConnectorError"]


class ConnectorError(Exception):
    """A source cannot be read: missing, undecodable, unknown format, or without a required column.

    ``path`` and ``line`` say where, when known: ``line`` is the 1-based physical line
    of a CSV file, or the 1-based row of a Parquet file (``unit`` says which). The
    message starts with that location and ends with what to fix; ``reason`` is the
    message without the location.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        unit: str = "line",
    ) -> None:
        where = [part for part in (path, f"{unit} {line}" if line is not None else None) if part]
        super().__init__(": ".join([*where, reason]))
        self.reason = reason
        self.path = path
        self.line = line
