"""Browser sessions of the console, stored in the database.

The cookie carries a random secret (32 bytes, URL-safe); the database keeps only its
SHA-256, the user, the session's CSRF token and its times. A session ends at logout,
after ``console.session_hours``, after ``console.idle_minutes`` without a request, or
when its user is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import User, WebSession
from monitor.timeutil import utc_now

__all__ = ["COOKIE_NAME", "Login", "end_session", "resolve_session", "start_session"]

COOKIE_NAME: Final = "dmn_console"
_SEEN_RESOLUTION: Final = timedelta(seconds=30)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Login:
    """Who a request comes from: the account's fields the pages need, and the CSRF token."""

    user_id: int
    username: str
    full_name: str
    role: str
    lang: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the audit log names this user: ``"Full Name (username)"``."""
        return f"{self.full_name} ({self.username})"


def start_session(
    session: Session, user: User, *, hours: float, now: datetime | None = None
) -> str:
    """A new session for ``user`` lasting at most ``hours``; returns the cookie's secret."""
    moment = now or utc_now()
    secret = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_digest(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=moment,
            last_seen_at=moment,
            expires_at=moment + timedelta(hours=hours),
            ended_at=None,
        )
    )
    session.flush()
    return secret


def resolve_session(
    session: Session, secret: str, *, idle_minutes: float, now: datetime | None = None
) -> Login | None:
    """The login of a live session with this cookie secret, else None (unknown, ended,
    expired, idle too long, its user disabled, or its password changed since the
    session began: a reset ends every session). Refreshes ``last_seen_at``."""
    if not secret or len(secret) > 200:
        return None
    moment = now or utc_now()
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _digest(secret))
    ).first()
    if row is None:
        return None
    web, user = row[0], row[1]
    idle = timedelta(minutes=idle_minutes)
    if (
        web.ended_at is not None
        or web.expires_at <= moment
        or moment - web.last_seen_at > idle
        or user.disabled_at is not None
        or _aware(web.created_at) < _aware(user.password_changed_at)
    ):
        if web.ended_at is None:
            web.ended_at = moment
        return None
    if moment - web.last_seen_at >= _SEEN_RESOLUTION:
        web.last_seen_at = moment
    return Login(user.id, user.username, user.full_name, user.role, user.lang, web.csrf_token)


def _aware(moment: datetime) -> datetime:
    """``moment`` with UTC attached when the database gave it without (SQLite)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def end_session(session: Session, secret: str, *, now: datetime | None = None) -> bool:
    """End the session of this cookie secret (logout); False when there was none."""
    web = session.scalars(
        select(WebSession).where(WebSession.token_hash == _digest(secret))
    ).first()
    if web is None or web.ended_at is not None:
        return False
    web.ended_at = now or utc_now()
    return True
