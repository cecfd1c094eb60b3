"""Shared fixtures: real databases, SQLite and PostgreSQL, fresh for every test.

PostgreSQL tests use ``DMN_MONITOR_TEST_PG`` (default: the local server as user
postgres). Locally they are skipped when no server answers; with ``CI=true`` an
unreachable server is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.storage import Database, open_database

PG_URL = os.environ.get(
    "DMN_MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it (CREATE DATABASE ... TEMPLATE)."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string()}: {exc}"
        if IN_CI:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    name = f"dmn_tmpl_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    open_database(url).dispose()
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    open_database(f"sqlite:///{path}").dispose()
    return path


def _fresh_pg(template: str) -> Iterator[str]:
    engine = _admin_engine()
    name = f"dmn_test_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database URL on each engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "monitor.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        yield from _fresh_pg(request.getfixturevalue("pg_template"))


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = open_database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def pseudonym_key() -> bytes:
    return b"test-key-0123456789-abcdefghij"


def registry_document() -> dict:  # type: ignore[type-arg]
    """Two small devices, as a registry YAML document."""
    return {
        "devices": [
            {
                "id": "frac",
                "name": "Fracture detector",
                "manufacturer": "Synthetic AI",
                "model": "FD-1",
                "versions": ["1.0", "1.1"],
                "ce_class": "IIa",
                "intended_purpose": "Detect fractures on radiographs",
                "target": "fracture",
                "ai_based": True,
                "departments": ["Urgences"],
                "sites": ["A", "B"],
                "date_in_service": "2025-01-01",
                "operating_threshold": 0.5,
                "indeterminate_policy": "positive",
                "claimed_performance": {
                    "sensitivity": 0.9,
                    "specificity": 0.85,
                    "source": "IFU 1.0",
                },
                "risk_analysis": {"data_transmission": "on premise", "training": "done"},
            },
            {
                "id": "nod",
                "name": "Nodule detector",
                "manufacturer": "Synthetic AI",
                "target": "lung_nodule",
                "ai_based": True,
                "operating_threshold": 0.4,
                "indeterminate_policy": "exclude",
                "claimed_performance": {"sensitivity": 0.8, "specificity": 0.8, "source": "IFU"},
            },
        ]
    }


@pytest.fixture
def registered(database: Database) -> Database:
    """``database`` with the two devices of :func:`registry_document` imported."""
    from monitor.registry import import_registry, parse_registry

    with database.session.begin() as session:
        import_registry(session, parse_registry(registry_document()), actor="test")
    return database


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads a developer's ./dmn-monitor.toml, database or key."""
    monkeypatch.chdir(tmp_path)
    for name in ("DMN_MONITOR_DB", "DMN_MONITOR_PSEUDONYM_KEY"):
        monkeypatch.delenv(name, raising=False)
