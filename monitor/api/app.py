"""The FastAPI application of dmn-monitor: ``create_app``.

Routes under ``/api/v1`` need a bearer token (see :mod:`monitor.api.auth`);
``/healthz`` and ``/readyz`` do not (``/metrics`` is mounted by ``serve``).
Request bodies are limited to ``max_request_bytes``, counted while they are read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.api import (
    routes_admin,
    routes_findings,
    routes_ingest,
    routes_read,
)
from monitor.api.context import API_PREFIX, ApiState
from monitor.api.errors import (
    ApiError,
    ErrorBody,
    SafeJSONResponse,
    error_response,
    install_error_handlers,
)
from monitor.config import Config
from monitor.storage import Database, current_revision, head_revision

__all__ = ["API_PREFIX", "create_app"]

log = logging.getLogger("monitor.api")


def _package_version() -> str:
    try:
        return version("dmn-monitor")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class _BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than {limit} bytes: send smaller batches",
            details={"max_bytes": limit},
        )


HSTS = b"max-age=31536000"
"""``Strict-Transport-Security`` of every response served over HTTPS (directly, or
behind a trusted proxy that says so): browsers use HTTPS only for a year."""


def _with_hsts(send: Send) -> Send:
    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"strict-transport-security" for name, _ in headers):
                headers.append((b"strict-transport-security", HSTS))
            message["headers"] = headers
        await send(message)

    return secured


class _Guard:
    """ASGI middleware: the body limit (announced length and bytes actually read) and a
    JSON 500 for any unexpected failure (logged; the response says nothing of it).
    ``upload_paths``: exact paths with a limit of their own (the console's upload)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_paths: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = dict(upload_paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_paths.get(scope.get("path", ""), self.max_bytes)
        send = _with_hsts(send) if scope.get("scheme") == "https" else send
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = 0
                if announced > limit:
                    too_large = _BodyTooLarge(limit)
                    response = error_response(
                        413, str(too_large.detail), details={"max_bytes": limit}
                    )
                    await response(scope, receive, send)
                    return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _BodyTooLarge as exc:
            if started:
                raise
            response = error_response(413, str(exc.detail), details=exc.details)
            await response(scope, receive, send)
        except Exception:
            log.exception("unexpected failure on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = error_response(
                500,
                "an unexpected error occurred; the server log has the details",
            )
            await response(scope, receive, send)


class Health(BaseModel):
    """Liveness."""

    status: str


class Readiness(BaseModel):
    """Readiness: each check and whether it passes."""

    status: str
    checks: dict[str, bool]


def _database_checks(db: Database) -> dict[str, bool]:
    checks = {"database": False, "migrations": False}
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = True
        checks["migrations"] = current_revision(db.engine) == head_revision()
    except Exception:
        log.warning("readiness: the database check failed", exc_info=True)
    return checks


def create_app(
    config: Config,
    db: Database,
    *,
    pseudonym_key: bytes | None,
    ready: Callable[[], dict[str, bool]] | None = None,
    max_request_bytes: int = 10_000_000,
) -> FastAPI:
    """The API over ``db`` with ``config``.

    ``pseudonym_key``: the key pushed patient ids are pseudonymised with (None: a
    pushed record with a patient id is refused). ``ready``: extra readiness checks
    (e.g. the scheduler's), each must be True for ``/readyz`` to answer 200.
    ``max_request_bytes``: larger bodies get 413.
    """
    app = FastAPI(
        title="dmn-monitor",
        version=_package_version(),
        description=(
            "Real-world performance monitoring of AI medical devices. Every /api/v1 route "
            "needs 'Authorization: Bearer <token>' (roles viewer < quality < admin). "
            'Errors: {"error": {status, code, message, details}}.'
        ),
        openapi_url="/openapi.json",
        default_response_class=SafeJSONResponse,
        # No Swagger UI: its page loads scripts from a CDN, which a hospital network
        # should not have to allow; /openapi.json feeds any local viewer.
        docs_url=None,
        redoc_url=None,
        responses={
            401: {"model": ErrorBody, "description": "No valid token"},
            403: {"model": ErrorBody, "description": "The token's role is too low"},
            422: {"model": ErrorBody, "description": "Invalid request"},
        },
    )
    app.state.api = ApiState(config=config, db=db, pseudonym_key=pseudonym_key)
    app.state.db = db
    install_error_handlers(app)
    if config.console.enabled:
        from monitor.web.app import UPLOAD_PATH, install_console

        install_console(app, app.state.api)
        uploads = {UPLOAD_PATH: config.console.max_upload_bytes}
    else:
        uploads = {}
    app.add_middleware(_Guard, max_bytes=max_request_bytes, upload_paths=uploads)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (always 200). Answered on the event loop
        itself, never queued behind the worker threads' requests."""
        return {"status": "alive"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        tags=["health"],
        responses={503: {"model": Readiness, "description": "Not ready"}},
    )
    def readyz() -> Any:
        """Readiness: the database answers, its schema is current and the service's own
        checks pass; 503 naming the failing checks otherwise."""
        checks = _database_checks(db)
        if ready is not None:
            try:
                checks.update({str(k): bool(v) for k, v in ready().items()})
            except Exception:
                log.warning("readiness: the service's checks failed", exc_info=True)
                checks["service"] = False
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        failing = sorted(k for k, v in checks.items() if not v)
        return JSONResponse(
            {"status": "not_ready", "checks": checks, "failing": failing}, status_code=503
        )

    # The routes themselves, not an included router: ``app.routes`` lists every route
    # with its dependencies (the authentication test walks it).
    for module in (routes_read, routes_findings, routes_ingest, routes_admin):
        app.router.routes.extend(module.router.routes)
    return app
