"""Fixtures of the API tests: the replayed demo behind the API, with one token per role."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 instead of httpx (the declared dependency); the test
    # client works with either. Filtered here only, at its import.
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

from monitor.api import create_app
from monitor.config import Config, load_config
from monitor.storage import Database, open_database
from monitor.tokens import ROLES, create_token
from tests.monitor.replay import KEY, Replayed


@dataclass
class Service:
    """The app over a private copy of the replayed demo; ``secrets[role]`` is a token."""

    app: FastAPI
    client: TestClient
    db: Database
    config: Config
    secrets: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header of the token of ``role``."""
        return {"Authorization": f"Bearer {self.secrets[role]}"}


def make_service(
    replayed: Replayed,
    folder: Path,
    *,
    max_request_bytes: int = 10_000_000,
    pseudonym_key: bytes | None = KEY,
) -> Iterator[Service]:
    """A service over a copy of ``replayed``; its configuration folder (spool, reports)
    is ``folder``."""
    url = replayed.copy_url(folder)
    config_path = folder / "dmn-monitor.toml"
    shutil.copyfile(replayed.config_path, config_path)
    config = load_config(config_path).with_database_url(url)
    db = open_database(url)
    secrets: dict[str, str] = {}
    with db.session.begin() as session:
        for role in ROLES:
            _token, secrets[role] = create_token(session, f"test-{role}", role, user="test")
    app = create_app(config, db, pseudonym_key=pseudonym_key, max_request_bytes=max_request_bytes)
    try:
        with TestClient(app) as client:
            yield Service(app, client, db, config, secrets)
    finally:
        db.dispose()


@pytest.fixture
def service(replayed_demo: Replayed, tmp_path: Path) -> Iterator[Service]:
    """The API over a private copy of the replayed demo year."""
    yield from make_service(replayed_demo, tmp_path)
