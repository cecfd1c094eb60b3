"""One ingestion of a file at a time, across processes.

Two ``ingest`` processes given the same file found the same unfinished run and both
"resumed" it: both reported every row, as accepted and as duplicate. A run of a file
is therefore held under a lock named by the file's checksum for as long as it runs:

- on PostgreSQL, a session-level advisory lock on a connection of its own;
- on SQLite, an exclusive lock on one byte (chosen by the checksum) of a lock file
  beside the database (``<database>.ingest-lock``).

Both are released by the operating system or the server when the process ends,
however it ends: a run left ``running`` by a process killed mid-file is resumed by
the next ingestion of the file, at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import func, select

from monitor.errors import IngestError
from monitor.storage import Database

__all__ = ["file_ingestion_lock"]

_SLOTS = 1 << 20
"""Bytes of the SQLite lock file a checksum may pick (two files share one rarely)."""


def _key(checksum: str) -> int:
    """A signed 63-bit number from the checksum (PostgreSQL's advisory lock key)."""
    return int(checksum[:15], 16)


@contextlib.contextmanager
def file_ingestion_lock(db: Database, checksum: str, path: str) -> Iterator[None]:
    """Hold the lock of the file with ``checksum`` while the block runs; IngestError
    (naming ``path``) at once when another process holds it."""
    busy = IngestError(
        f"{path}: this file is being ingested by another process right now; "
        "wait for it to finish (`dmn-monitor ingest runs` shows its run)",
        path=path,
    )
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            key = _key(checksum)
            if not connection.scalar(select(func.pg_try_advisory_lock(key))):
                raise busy
            try:
                yield
            finally:
                connection.scalar(select(func.pg_advisory_unlock(key)))
                connection.commit()
        return
    database = db.engine.url.database
    if not database or database == ":memory:":  # one process: nothing to share
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".ingest-lock")
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    offset = _key(checksum) % _SLOTS
    try:
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, offset)
    finally:
        os.close(descriptor)
