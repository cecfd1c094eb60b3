"""Opening the database: engine, schema migrations, sessions.

``open_database(url)`` connects, applies any pending Alembic migration (so the
first command on a new file or an empty PostgreSQL database just works) and
returns a :class:`Database` holding the engine and a session factory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import StorageError

__all__ = [
    "Database",
    "create_db_engine",
    "current_revision",
    "head_revision",
    "one_at_a_time",
    "open_database",
    "upgrade",
]

_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Database:
    """An open database: its engine and a session factory (``with db.session() as s``)."""

    engine: Engine
    session: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url`` (sqlite:/// or postgresql+psycopg://).

    Raises :class:`StorageError` for a malformed URL or an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(
            f"invalid database URL {url!r}: use sqlite:///path.db or "
            "postgresql+psycopg://user@host:5432/dbname",
            url=url,
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            if not folder.is_dir():
                raise StorageError(
                    f"the folder {folder} of the SQLite database does not exist", url=url
                )
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise StorageError(
        f"unsupported database {backend!r} in {url!r}: use SQLite or PostgreSQL", url=url
    )


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of dmn-monitor."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (a no-op on a current database)."""
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Connect to ``url``; with ``migrate`` bring the schema to the current version.

    Raises :class:`StorageError` when the server cannot be reached or, with
    ``migrate=False``, when the schema is not current.
    """
    engine = create_db_engine(url)
    try:
        revision = current_revision(engine)
        if revision != head_revision():
            if not migrate:
                raise StorageError(
                    f"the database is at schema {revision or 'empty'}, this version needs "
                    f"{head_revision()}: run `dmn-monitor db upgrade`",
                    url=url,
                )
            upgrade(engine)
    except OperationalError as exc:
        engine.dispose()
        safe = make_url(url).render_as_string(hide_password=True)
        raise StorageError(f"cannot open the database {safe}: {exc.orig}", url=url) from exc
    return Database(engine=engine, session=sessionmaker(engine, expire_on_commit=False))


def one_at_a_time(session: Session, name: str) -> None:
    """Serialise the transactions that call this with the same ``name`` (a PostgreSQL
    transaction-scoped advisory lock, held until commit or rollback): of several
    processes doing the same once-only work, the next sees what the first committed.
    SQLite already lets one writer at a time; nothing is done there."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") - 2**63
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
