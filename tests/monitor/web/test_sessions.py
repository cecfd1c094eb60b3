"""Console sessions: only a hash of the cookie's secret is stored; a session ends at
logout, after its lifetime, when idle too long, or when its user is disabled."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from monitor.models import User, WebSession
from monitor.storage import Database
from monitor.timeutil import utc_now
from monitor.users import create_user, disable_user, set_password
from monitor.web.sessions import end_session, resolve_session, start_session
from tests.monitor.web.conftest import Console

PASSWORD = "correct horse battery staple"


def _user(database: Database) -> None:
    with database.session.begin() as session:
        create_user(
            session,
            "cmartin",
            full_name="Claire Martin",
            role="quality",
            password=PASSWORD,
            actor="test",
        )


def _start(database: Database, hours: float = 10.0) -> str:
    with database.session.begin() as session:
        user = session.scalars(select(User)).one()
        return start_session(session, user, hours=hours)


def test_only_the_hash_of_the_cookie_secret_is_stored(database: Database) -> None:
    _user(database)
    secret = _start(database)
    with database.session() as session:
        row = session.scalars(select(WebSession)).one()
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in (row.token_hash, row.csrf_token)
        assert len(row.csrf_token) >= 40


def test_a_live_session_gives_the_login_with_its_csrf_token(database: Database) -> None:
    _user(database)
    secret = _start(database)
    with database.session.begin() as session:
        login = resolve_session(session, secret, idle_minutes=30)
        row = session.scalars(select(WebSession)).one()
        assert login is not None
        assert (login.username, login.role, login.actor) == (
            "cmartin",
            "quality",
            "Claire Martin (cmartin)",
        )
        assert login.csrf_token == row.csrf_token
        assert resolve_session(session, "not-a-secret", idle_minutes=30) is None
        assert resolve_session(session, "", idle_minutes=30) is None


def test_a_session_ends_after_its_lifetime_and_when_idle(database: Database) -> None:
    _user(database)
    secret = _start(database, hours=1)
    now = utc_now()
    with database.session.begin() as session:
        assert resolve_session(session, secret, idle_minutes=30, now=now + timedelta(minutes=20))
        # 20 minutes later it was seen: 40 minutes after the start is within 30 idle minutes.
        assert resolve_session(session, secret, idle_minutes=30, now=now + timedelta(minutes=40))
        assert (
            resolve_session(session, secret, idle_minutes=30, now=now + timedelta(minutes=61))
            is None
        )
    idle = _start(database, hours=10)
    with database.session.begin() as session:
        assert (
            resolve_session(session, idle, idle_minutes=30, now=now + timedelta(minutes=31)) is None
        )
        # Ended for good: coming back within the idle time does not revive it.
        assert resolve_session(session, idle, idle_minutes=30, now=now) is None


def test_logout_and_disabling_the_user_end_the_session(database: Database) -> None:
    _user(database)
    first, second = _start(database), _start(database)
    with database.session.begin() as session:
        assert end_session(session, first)
        assert not end_session(session, first)
        assert resolve_session(session, first, idle_minutes=30) is None
        assert resolve_session(session, second, idle_minutes=30) is not None
        disable_user(session, "cmartin", actor="admin")
        assert resolve_session(session, second, idle_minutes=30) is None


def test_a_password_reset_ends_the_accounts_open_sessions(console: Console) -> None:
    """Failed before: a session opened before the reset stayed valid after it."""
    browser = console.browser("quality")
    assert browser.get("/fleet").status_code == 200
    with console.db.session.begin() as session:
        set_password(session, "cmartin", "a-brand-new-password-1", actor="admin")
    response = browser.get("/fleet")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
