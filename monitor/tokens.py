"""Bearer tokens of the HTTP API: create, list, revoke, verify.

A token's secret (``dmn_`` + 43 URL-safe characters) is shown once, at creation;
only its SHA-256 is stored, with its first 12 characters (``prefix``) to name it in
lists and logs. Roles are ordered: ``viewer < quality < admin`` (each includes the
one before). Creating and revoking a token is written to the audit log (never the
secret).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import audit
from monitor.errors import MonitorError, NotFoundError
from monitor.models import ApiToken
from monitor.timeutil import utc_now

__all__ = [
    "ROLES",
    "SECRET_PREFIX",
    "allows",
    "create_token",
    "hash_secret",
    "list_tokens",
    "revoke_token",
    "verify_token",
]

ROLES: Final = ("viewer", "quality", "admin")
"""The roles, weakest first: each includes the rights of the ones before it."""

SECRET_PREFIX: Final = "dmn_"
PREFIX_LENGTH: Final = 12
"""Characters of the secret kept in clear (``prefix``): ``dmn_`` and 8 random ones."""

LAST_USED_RESOLUTION: Final = timedelta(minutes=1)
"""``last_used_at`` is written at most once a minute per token (no write per request)."""

_MAX_NAME = 100


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256, 64 hex digits."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` has the rights of ``needed`` (False for an unknown role)."""
    if role not in ROLES or needed not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def create_token(session: Session, name: str, role: str, *, user: str) -> tuple[ApiToken, str]:
    """A new token named ``name`` with ``role``; returns it and its secret (shown once).

    MonitorError for an unknown role, an empty or too long name, or a name in use
    (revoked tokens keep their name). Audited as ``token.create`` by ``user``.
    """
    name = name.strip()
    if role not in ROLES:
        raise MonitorError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if not name or len(name) > _MAX_NAME:
        raise MonitorError(f"a token needs a name of 1 to {_MAX_NAME} characters")
    if not user or not user.strip():
        raise MonitorError("creating a token needs the name of the user creating it")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise MonitorError(f"a token named {name!r} exists already: choose another name")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        role=role,
        token_hash=hash_secret(secret),
        prefix=secret[:PREFIX_LENGTH],
        created_by=user.strip(),
        created_at=utc_now(),
        last_used_at=None,
        revoked_at=None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=user.strip(),
        action="token.create",
        entity="api_token",
        entity_id=name,
        details={"role": role, "prefix": token.prefix},
    )
    return token, secret


def list_tokens(session: Session, *, include_revoked: bool = True) -> list[ApiToken]:
    """Every token (revoked ones too unless told), in creation order."""
    query = select(ApiToken).order_by(ApiToken.id)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_token(session: Session, name: str, *, user: str) -> ApiToken:
    """Revoke the token ``name`` (it is refused from then on); audited as ``token.revoke``.

    NotFoundError when there is none; MonitorError when it is already revoked.
    """
    token = session.scalars(select(ApiToken).where(ApiToken.name == name.strip())).first()
    if token is None:
        raise NotFoundError(f"no token named {name!r}: `dmn-monitor tokens list` shows them")
    if token.revoked_at is not None:
        raise MonitorError(f"the token {name!r} was already revoked on {token.revoked_at:%Y-%m-%d}")
    token.revoked_at = utc_now()
    audit.record(
        session,
        actor=user.strip() or "unknown",
        action="token.revoke",
        entity="api_token",
        entity_id=token.name,
        details={"role": token.role, "prefix": token.prefix},
    )
    return token


def verify_token(session: Session, secret: str, *, now: datetime | None = None) -> ApiToken | None:
    """The active token whose secret this is, else None (unknown, malformed or revoked).

    The lookup is by the secret's hash (a timing difference reveals nothing about the
    secret) and the stored hash is compared with :func:`hmac.compare_digest`.
    ``last_used_at`` is updated, at most once a minute, in the caller's transaction.
    """
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    digest = hash_secret(secret)
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None:
        return None
    moment = now or utc_now()
    if token.last_used_at is None or moment - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = moment
    return token
