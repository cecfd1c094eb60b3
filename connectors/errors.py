"""The one exception of the connectors: a file that cannot be read at all.

Row-level problems are never raised: they come back as a row's ``error``.
"""

from __future__ import annotations

__all__ = ["ConnectorError"]


class ConnectorError(Exception):
    """A source file cannot be read: missing, undecodable, or without a required column.

    ``path`` and ``line`` (1-based, when known) say where; the message says what to fix.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
