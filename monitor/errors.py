"""The one error tree of dmn-monitor.

::

    MonitorError                 anything the user can fix; the CLI prints it without a traceback
    ├── ConfigError              a configuration file or key is wrong (.path, .key)
    ├── RegistryError            a device registry entry is invalid (.path, .device_id, .field)
    ├── IngestError              a source file cannot be ingested at all (.path, .line)
    ├── StorageError             the database is unreachable or its schema is not current (.url)
    └── NotFoundError            a named device, run or record does not exist

Row-level problems are not errors: they are quarantined with their line and reason.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "IngestError",
    "MissingKeyError",
    "MonitorError",
    "NotFoundError",
    "RegistryError",
    "StorageError",
]


class MonitorError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(MonitorError):
    """A configuration file is missing, unparseable, or has an unknown or mistyped key."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.key = key


class RegistryError(MonitorError):
    """A device registry file or entry is invalid."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        device_id: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.device_id = device_id
        self.field = field


class IngestError(MonitorError):
    """A source file cannot be ingested at all (as opposed to a bad row, which is quarantined)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class MissingKeyError(IngestError):
    """A file carries patient identifiers and no pseudonymisation key is set: the
    configuration is at fault, not the file."""


class StorageError(MonitorError):
    """The database cannot be reached or migrated."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class NotFoundError(MonitorError):
    """A named device, ingestion run or record does not exist."""
