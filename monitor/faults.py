"""Faults of the machine - a full disk, a read-only or locked database, a refused
permission - said in one line that names what to fix, never the SQL or its values.

A SQLAlchemy error's text holds the statement and its parameters (values from the
files: identifiers); only the driver's own message is kept, and the well-known ones
get the remedy.
"""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

__all__ = ["fault_message", "is_fault"]

_REMEDIES = (
    ("database or disk is full", "free disk space where the database is, then run it again"),
    ("no space left", "free disk space, then run it again"),
    ("readonly database", "the database file or its folder is read-only: check permissions"),
    ("read-only", "the database is read-only: check permissions or the server's mode"),
    ("unable to open database", "the database file cannot be opened: check its path"),
    ("database is locked", "another process holds the database: run it again shortly"),
    ("could not connect", "the database server is not reachable: check that it runs"),
    ("connection refused", "the database server is not reachable: check that it runs"),
)
_OS_REMEDIES = {
    errno.ENOSPC: "free disk space, then run it again",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied: check the owner and mode of the file or folder",
    errno.EPERM: "permission denied: check the owner and mode of the file or folder",
}


def _driver_error(exc: BaseException) -> bool:
    """An error of a database driver used directly (bulk inserts go through it)."""
    if isinstance(exc, sqlite3.Error):
        return True
    import psycopg  # (a dependency; imported when a fault is met, not at start-up)

    return isinstance(exc, psycopg.Error)


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is a fault of the database or the file system (not a bug)."""
    if isinstance(exc, SQLAlchemyError) or _driver_error(exc):
        return True
    return isinstance(exc, OSError) and exc.errno in _OS_REMEDIES


def fault_message(exc: BaseException) -> str:
    """One line for ``exc``: the driver's or system's message and its remedy."""
    if isinstance(exc, OSError) and exc.errno in _OS_REMEDIES:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or 'system error'}{where}: {_OS_REMEDIES[exc.errno]}"
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    said = str(original).strip().splitlines()[0] if str(original).strip() else ""
    driver = isinstance(exc, DBAPIError) or _driver_error(exc)
    said = said[:200] if driver else type(exc).__name__
    lowered = said.lower()
    remedy = next((r for key, r in _REMEDIES if key in lowered), None)
    text = f"database error: {said}" if said else "database error"
    return f"{text}: {remedy}" if remedy else text
