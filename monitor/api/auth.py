"""Bearer-token authentication and role checks.

Every ``/api/v1`` route depends on :class:`Require` with the role it needs; a
request without a valid token gets 401 (with ``WWW-Authenticate: Bearer``), one whose
token's role is too low gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitor.api.errors import ApiError
from monitor.storage import Database
from monitor.tokens import ROLES, allows, verify_token

__all__ = ["Principal", "Require", "actor_name"]

_bearer = HTTPBearer(auto_error=False, description="A token from `dmn-monitor tokens create`.")


@dataclass(frozen=True)
class Principal:
    """Who calls: the token's name and role."""

    name: str
    role: str


class Require:
    """A dependency admitting tokens of ``role`` or above (:data:`monitor.tokens.ROLES`)."""

    def __init__(self, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role

    def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(
                401,
                "a bearer token is needed: send 'Authorization: Bearer <secret>' "
                "(create one with `dmn-monitor tokens create`)",
                headers=challenge,
            )
        db: Database = request.app.state.db
        with db.session.begin() as session:
            token = verify_token(session, credentials.credentials.strip())
            principal = Principal(token.name, token.role) if token is not None else None
        if principal is None:
            raise ApiError(
                401,
                "the bearer token is unknown or revoked: ask an administrator for a valid one",
                code="invalid_token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if not allows(principal.role, self.role):
            raise ApiError(
                403,
                f"this needs the role {self.role} or above; the token {principal.name!r} "
                f"has {principal.role}",
                code="insufficient_role",
                details={"needed": self.role, "granted": principal.role},
            )
        return principal


def actor_name(principal: Principal, on_behalf_of: str | None) -> str:
    """Who the audit log names: the token, and the person it acts for when given
    (``"dr-martin via ris-bridge"``)."""
    person = (on_behalf_of or "").strip()
    return f"{person} via {principal.name}" if person else principal.name


Viewer = Annotated[Principal, Depends(Require("viewer"))]
Quality = Annotated[Principal, Depends(Require("quality"))]
Admin = Annotated[Principal, Depends(Require("admin"))]
