"""Fixtures of the console tests: the replayed demo behind the app, one user per role,
and a browser-like client per user (cookies kept, CSRF token read from the pages)."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

from monitor.api import create_app
from monitor.audit import list_entries
from monitor.config import Config, load_config
from monitor.storage import Database, open_database
from monitor.users import create_user
from tests.monitor.replay import KEY, Replayed

PASSWORD = "correct horse battery staple"
"""Every test user's password."""

USERS = {
    "viewer": ("vlambert", "Victor Lambert"),
    "quality": ("cmartin", "Claire Martin"),
    "admin": ("adurand", "Alice Durand"),
}
"""Per role: user name and full name."""

REVIEWERS = (
    "Dr Claire Martin - radiologue référente / referent radiologist",
    "Alice Durand - responsable qualité / quality manager",
)
"""The named reviewers of the test configuration (users quality and admin)."""

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """A test client logged in as one user, like a browser: it keeps the cookies and
    posts forms with the CSRF token of the last page it read."""

    client: TestClient
    role: str
    csrf: str = ""
    last: Any = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        username, full_name = USERS[self.role]
        return f"{full_name} ({username})"

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET a page; remembers its CSRF token."""
        response = self.client.get(path, **kwargs)
        found = (
            _CSRF.search(response.text)
            if "text/html" in response.headers.get("content-type", "")
            else None
        )
        if found:
            self.csrf = found.group(1)
        self.last = response
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with the CSRF token (and this site as Origin, as browsers do)."""
        if not self.csrf:
            self.get("/fleet")
        form = {"csrf_token": self.csrf, **(data or {})}
        headers = {"Origin": "https://testserver", **kwargs.pop("headers", {})}
        response = self.client.post(path, data=form, headers=headers, **kwargs)
        self.last = response
        return response


@dataclass
class Console:
    """The app over a private copy of the replayed demo, with a user per role."""

    app: FastAPI
    db: Database
    config: Config
    folder: Path
    clients: list[TestClient] = field(default_factory=list)

    def browser(self, role: str) -> Browser:
        """A new client logged in as the user of ``role``."""
        client = TestClient(self.app, base_url="https://testserver", follow_redirects=False)
        client.__enter__()
        self.clients.append(client)
        page = client.get("/login")
        token = _CSRF.search(page.text)
        assert token is not None
        username, _ = USERS[role]
        response = client.post(
            "/login",
            data={
                "csrf_token": token.group(1),
                "username": username,
                "password": PASSWORD,
                "next": "/fleet",
            },
        )
        assert response.status_code == 303, response.text
        browser = Browser(client, role)
        browser.get("/fleet")
        return browser

    def anonymous(self) -> TestClient:
        """A client with no session."""
        client = TestClient(self.app, base_url="https://testserver", follow_redirects=False)
        client.__enter__()
        self.clients.append(client)
        return client

    def audit(self, action_prefix: str) -> list[Any]:
        """The audit entries whose action starts with ``action_prefix``, newest first."""
        with self.db.session() as session:
            entries = list_entries(session, action_prefix=action_prefix, limit=None)
            session.expunge_all()
        return entries


def make_console(replayed: Replayed, folder: Path) -> Iterator[Console]:
    """The console over a copy of ``replayed``; its configuration folder is ``folder``
    (reports, uploads), with :data:`REVIEWERS` as the named reviewers."""
    url = replayed.copy_url(folder)
    config_path = folder / "dmn-monitor.toml"
    shutil.copyfile(replayed.config_path, config_path)
    text = config_path.read_text(encoding="utf-8")
    reviewers = ", ".join(f'"{r}"' for r in REVIEWERS)
    if "[report]" in text:
        text = text.replace("[report]", f"[report]\nreviewers = [{reviewers}]", 1)
    else:
        text += f'\n[report]\nestablishment = "CH de démonstration"\nreviewers = [{reviewers}]\n'
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path).with_database_url(url)
    db = open_database(url)
    with db.session.begin() as session:
        for role, (username, full_name) in USERS.items():
            create_user(
                session, username, full_name=full_name, role=role, password=PASSWORD, actor="test"
            )
    app = create_app(config, db, pseudonym_key=KEY)
    console = Console(app, db, config, folder)
    try:
        yield console
    finally:
        for client in console.clients:
            client.__exit__(None, None, None)
        db.dispose()


@pytest.fixture
def console(replayed_demo: Replayed, tmp_path: Path) -> Iterator[Console]:
    """The console over a private copy of the replayed demo year."""
    yield from make_console(replayed_demo, tmp_path)
