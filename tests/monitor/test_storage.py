"""Storage: migrations, aware timestamps and the append-only audit log, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from monitor import audit
from monitor.errors import StorageError
from monitor.models import AuditEntry, IngestionRun
from monitor.storage import Database, current_revision, head_revision, open_database

TABLES = {"devices", "predictions", "outcomes", "ingestion_runs", "quarantine", "audit_log"}


def test_a_new_database_is_migrated_on_first_use(database: Database) -> None:
    assert current_revision(database.engine) == head_revision()
    assert set(inspect(database.engine).get_table_names()) >= TABLES


def test_opening_twice_is_a_no_op(db_url: str) -> None:
    open_database(db_url).dispose()
    db = open_database(db_url)
    assert current_revision(db.engine) == head_revision()
    db.dispose()


def test_timestamps_come_back_aware_and_in_utc(database: Database) -> None:
    paris_summer = datetime(2025, 7, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    with database.session.begin() as session:
        run = IngestionRun(
            kind="predictions",
            source_path="x.csv",
            checksum="0" * 64,
            status="running",
            started_at=paris_summer,
        )
        session.add(run)
    with database.session() as session:
        stored = session.scalars(select(IngestionRun)).one()
    assert stored.started_at == paris_summer
    assert stored.started_at.tzinfo is not None
    assert stored.started_at.utcoffset() == timedelta(0)
    assert stored.started_at.hour == 12


def test_naive_timestamps_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.session.begin() as session:
        session.add(
            IngestionRun(
                kind="predictions",
                source_path="x",
                checksum="0" * 64,
                status="running",
                started_at=datetime(2025, 1, 1, 12, 0),
            )
        )


def test_audit_log_is_append_only(database: Database) -> None:
    with database.session.begin() as session:
        audit.record(
            session,
            actor="alice",
            action="device.created",
            entity="device",
            entity_id="frac",
            details={"why": "test"},
        )
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(update(AuditEntry).values(actor="mallory"))
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(delete(AuditEntry))
    with database.session() as session:
        entries = audit.list_entries(session)
    assert [(e.actor, e.action, e.details) for e in entries] == [
        ("alice", "device.created", {"why": "test"})
    ]
    assert entries[0].at <= datetime.now(UTC)


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="cannot open the database"):
        open_database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_unsupported_or_malformed_urls_are_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StorageError, match="unsupported database"):
        open_database("mysql://root@localhost/x")
    with pytest.raises(StorageError, match="invalid database URL"):
        open_database("not a url")
    with pytest.raises(StorageError, match="does not exist"):
        open_database(f"sqlite:///{tmp_path}/missing/folder/x.db")


def test_an_old_schema_is_reported_when_migration_is_not_allowed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/empty.db"
    from monitor.storage import create_db_engine

    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
    with pytest.raises(StorageError, match="dmn-monitor db upgrade"):
        open_database(url, migrate=False)


def test_the_migrations_build_exactly_the_models_schema(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from monitor.models import Base

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_the_workflow_migration_downgrades_and_upgrades_again(database: Database) -> None:
    """0005 can be undone (a failed upgrade rolled back by hand) and applied again."""
    from alembic import command
    from sqlalchemy import inspect

    from monitor.storage import _alembic_config, current_revision, head_revision, upgrade

    cfg = _alembic_config()
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert current_revision(database.engine) == "0004"
    tables = set(inspect(database.engine).get_table_names())
    assert not {"finding_actions", "review_items", "vigilance_drafts"} & tables
    upgrade(database.engine)
    assert current_revision(database.engine) == head_revision()
    tables = set(inspect(database.engine).get_table_names())
    assert {"finding_actions", "review_items", "notification_attempts"} <= tables


def test_one_at_a_time_makes_the_second_wait_for_the_first_commit(database: Database) -> None:
    """Two processes building the case summaries together: the second sees the
    first's work (on SQLite, writers are serialised anyway)."""
    import threading

    from sqlalchemy import text

    from monitor.storage import one_at_a_time

    events: list[str] = []
    first_holds = threading.Event()

    def first() -> None:
        with database.session.begin() as session:
            one_at_a_time(session, "case summaries")
            events.append("first holds")
            first_holds.set()
            session.execute(text("SELECT 1"))
            threading.Event().wait(0.5)
            events.append("first commits")

    def second() -> None:
        first_holds.wait(10)
        with database.session.begin() as session:
            one_at_a_time(session, "case summaries")
            events.append("second holds")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if database.engine.dialect.name == "postgresql":
        assert events == ["first holds", "first commits", "second holds"]
    else:
        assert sorted(events) == ["first commits", "first holds", "second holds"]
