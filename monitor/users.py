"""User accounts of the web console: create, list, change password, disable, log in.

Passwords are hashed with scrypt (RFC 7914, :func:`hashlib.scrypt`: n=2**14, r=8,
p=1, a 16-byte random salt, a 32-byte key), stored as
``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``; they are compared in constant time.
A password has at least :data:`MIN_PASSWORD_LENGTH` characters. After
:data:`MAX_FAILED_LOGINS` wrong passwords in a row the account is locked for
:data:`LOCKOUT`. Roles are those of the API (:data:`monitor.tokens.ROLES`). Creating,
changing and disabling accounts, and every login (succeeded, failed or refused), are
written to the audit log - never a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import audit
from monitor.errors import MonitorError, NotFoundError
from monitor.models import User
from monitor.timeutil import utc_now
from monitor.tokens import ROLES

__all__ = [
    "LANGS",
    "LOCKOUT",
    "MAX_FAILED_LOGINS",
    "MIN_PASSWORD_LENGTH",
    "LoginResult",
    "actor_name",
    "authenticate",
    "create_user",
    "disable_user",
    "get_user",
    "hash_password",
    "list_users",
    "set_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH: Final = 12
MAX_FAILED_LOGINS: Final = 5
LOCKOUT: Final = timedelta(minutes=15)
LANGS: Final = ("fr", "en")

_N, _R, _P, _SALT, _KEY = 2**14, 8, 1, 16, 32
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """The stored form of ``password``: ``scrypt$n$r$p$salt$key`` with a new random salt."""
    salt = secrets.token_bytes(_SALT)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_KEY)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (False for a malformed stored hash)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        computed = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, expected)


_DUMMY_HASH: Final = hash_password(secrets.token_urlsafe(16))
"""Checked against when the user is unknown, so both cases take the same time."""


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise MonitorError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters; "
            "use a passphrase of several words"
        )
    if len(password) > 1024:
        raise MonitorError("a password has at most 1024 characters")
    return password


def _check_actor(actor: str) -> str:
    if not actor or not actor.strip():
        raise MonitorError("this needs the name of the person doing it (--user)")
    return actor.strip()


def actor_name(user: User) -> str:
    """How the audit log names what ``user`` did in the console: ``"Full Name (username)"``."""
    return f"{user.full_name} ({user.username})"


def get_user(session: Session, username: str) -> User:
    """The account ``username``; NotFoundError naming how to list them otherwise."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}: `dmn-monitor users list` shows them")
    return user


def create_user(
    session: Session,
    username: str,
    *,
    full_name: str,
    role: str,
    password: str,
    actor: str,
    lang: str = "fr",
) -> User:
    """A new account; audited as ``user.create`` by ``actor``.

    ``username``: 1-64 of a-z, 0-9, ``.``, ``_``, ``-`` (lowercased); ``full_name`` is
    what the audit log and sign-offs show. MonitorError for an unknown role or
    language, a short password, or a username in use.
    """
    username = username.strip().lower()
    if _USERNAME.fullmatch(username) is None:
        raise MonitorError(
            f"user name {username!r}: use 1 to 64 of a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    if role not in ROLES:
        raise MonitorError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if lang not in LANGS:
        raise MonitorError(f"unknown language {lang!r}: use one of {', '.join(LANGS)}")
    full_name = full_name.strip()
    if not full_name or len(full_name) > 80:
        raise MonitorError("a user needs a full name of 1 to 80 characters (--full-name)")
    actor = _check_actor(actor)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise MonitorError(f"a user named {username!r} exists already")
    now = utc_now()
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=hash_password(_check_password(password)),
        lang=lang,
        created_by=actor,
        created_at=now,
        password_changed_at=now,
        last_login_at=None,
        failed_logins=0,
        locked_until=None,
        disabled_at=None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=username,
        details={"role": role, "full_name": full_name},
    )
    return user


def list_users(session: Session) -> list[User]:
    """Every account, disabled ones too, in creation order."""
    return list(session.scalars(select(User).order_by(User.id)))


def set_password(session: Session, username: str, password: str, *, actor: str) -> User:
    """Replace the password (unlocks the account); audited as ``user.password``."""
    actor = _check_actor(actor)
    user = get_user(session, username)
    user.password_hash = hash_password(_check_password(password))
    user.password_changed_at = utc_now()
    user.failed_logins = 0
    user.locked_until = None
    audit.record(
        session, actor=actor, action="user.password", entity="user", entity_id=user.username
    )
    return user


def disable_user(session: Session, username: str, *, actor: str) -> User:
    """Disable the account: it can no longer log in and its sessions end at their next
    request; audited as ``user.disable``. MonitorError when already disabled."""
    actor = _check_actor(actor)
    user = get_user(session, username)
    if user.disabled_at is not None:
        raise MonitorError(f"user {user.username!r} is already disabled")
    user.disabled_at = utc_now()
    audit.record(
        session, actor=actor, action="user.disable", entity="user", entity_id=user.username
    )
    return user


@dataclass(frozen=True)
class LoginResult:
    """The account when the login succeeded; else why not (``unknown``, ``password``,
    ``locked``, ``disabled``) - the page tells the user only that it failed."""

    user: User | None
    reason: str | None = None


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> LoginResult:
    """Check a login in the caller's transaction, count failures, lock after
    :data:`MAX_FAILED_LOGINS` in a row, and audit it (``user.login`` or
    ``user.login_failed``, with the reason)."""
    moment = now or utc_now()
    name = username.strip().lower()[:64]
    user = session.scalars(select(User).where(User.username == name)).first()
    if user is None:
        verify_password(password, _DUMMY_HASH)
        result = LoginResult(None, "unknown")
    elif user.disabled_at is not None:
        verify_password(password, _DUMMY_HASH)
        result = LoginResult(None, "disabled")
    elif user.locked_until is not None and user.locked_until > moment:
        verify_password(password, _DUMMY_HASH)
        result = LoginResult(None, "locked")
    elif not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = moment + LOCKOUT
            user.failed_logins = 0
        result = LoginResult(None, "password")
    else:
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = moment
        result = LoginResult(user)
    if result.user is not None:
        audit.record(
            session,
            actor=actor_name(result.user),
            action="user.login",
            entity="user",
            entity_id=name,
        )
    else:
        # An unknown name is not recorded: it may be a password typed in the wrong field.
        known = name if user is not None else "?"
        audit.record(
            session,
            actor=known,
            action="user.login_failed",
            entity="user",
            entity_id=known,
            details={"reason": result.reason},
        )
    return result
