"""Administration (role admin): registry import and API tokens."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from monitor import registry
from monitor.api.auth import Principal, Require
from monitor.api.context import API_PREFIX, ApiState, api_state
from monitor.api.errors import ApiError
from monitor.errors import NotFoundError
from monitor.models import ApiToken
from monitor.timeutil import local_iso
from monitor.tokens import create_token, list_tokens, revoke_token

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["admin"])
State = Annotated[ApiState, Depends(api_state)]
Admin = Annotated[Principal, Depends(Require("admin"))]


@router.put(
    "/registry",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"devices": {"type": "array", "items": {"type": "object"}}},
                        "required": ["devices"],
                    }
                },
            },
        }
    },
)
async def put_registry(request: Request, state: State, principal: Admin) -> dict[str, str]:
    """Create or update devices from a registry document (YAML or JSON, as the file of
    ``dmn-monitor devices import``); returns what happened to each device."""
    body = await request.body()
    try:
        document = yaml.safe_load(body.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ApiError(422, f"the body is not a YAML or JSON registry document: {exc}") from exc
    specs = registry.parse_registry(document, path="request body")
    with state.db.session.begin() as session:
        return registry.import_registry(session, specs, actor=principal.name)


class TokenOut(BaseModel):
    """A token (never its secret)."""

    name: str
    role: str
    prefix: str
    created_by: str
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class TokenIn(BaseModel):
    """A token to create."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
    role: Literal["viewer", "quality", "admin"]


class TokenCreated(TokenOut):
    """The new token with its secret: shown this once, store it now."""

    secret: str


def _token(token: ApiToken, state: ApiState) -> dict[str, Any]:
    return {
        "name": token.name,
        "role": token.role,
        "prefix": token.prefix,
        "created_by": token.created_by,
        "created_at": local_iso(token.created_at, state.tz),
        "last_used_at": local_iso(token.last_used_at, state.tz),
        "revoked_at": local_iso(token.revoked_at, state.tz),
    }


@router.get("/tokens", response_model=list[TokenOut])
def get_tokens(state: State, _principal: Admin) -> Any:
    """Every token, revoked ones included."""
    with state.db.session() as session:
        return [_token(t, state) for t in list_tokens(session)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def post_token(body: TokenIn, state: State, principal: Admin) -> Any:
    """Create a token; its secret is in this answer only."""
    with state.db.session.begin() as session:
        if session.query(ApiToken.id).filter(ApiToken.name == body.name).first() is not None:
            raise ApiError(409, f"a token named {body.name!r} exists already")
        token, secret = create_token(session, body.name, body.role, user=principal.name)
        return {**_token(token, state), "secret": secret}


@router.delete("/tokens/{name}", response_model=TokenOut)
def delete_token(name: str, state: State, principal: Admin) -> Any:
    """Revoke a token (it is refused from then on)."""
    try:
        with state.db.session.begin() as session:
            return _token(revoke_token(session, name, user=principal.name), state)
    except NotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
