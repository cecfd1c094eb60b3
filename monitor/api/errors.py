"""One JSON shape for every error of the API.

``{"error": {"status": 404, "code": "not_found", "message": "what to fix", "details": ...}}``
for HTTP errors, validation errors, MonitorError and unexpected failures alike
(an unexpected failure says only that it happened: no exception text, which could
quote data).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.errors import IngestError, MissingKeyError, MonitorError, NotFoundError

__all__ = [
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "SafeJSONResponse",
    "error_response",
    "install_error_handlers",
    "plain",
]

log = logging.getLogger("monitor.api")

_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "unavailable",
}


class SafeJSONResponse(JSONResponse):
    """JSON whose text is always valid UTF-8: lone surrogates (which a request may carry
    into a message) become ``?`` instead of failing the response."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        )
        return text.encode("utf-8", "replace")


class ErrorDetail(BaseModel):
    """The error itself."""

    status: int
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class ApiError(StarletteHTTPException):
    """An HTTP error with a machine-readable ``code`` and optional ``details``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=dict(headers or {}) or None)
        self.code = code or _CODES.get(status, "error")
        self.details = details


def plain(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has neither), recursively."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON error response."""
    body = {
        "error": {
            "status": status,
            "code": code or _CODES.get(status, "error"),
            "message": message,
            "details": plain(jsonable_encoder(details)),
        }
    }
    return SafeJSONResponse(body, status_code=status, headers=dict(headers or {}) or None)


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors without the rejected input (it may quote data) nor the URL."""
    return [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "message": e.get("msg")}
        for e in errors
    ]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    if status == 404 and message == "Not Found":
        message = f"no such resource {request.url.path}: see /openapi.json for the routes"
    elif status == 405 and message == "Method Not Allowed":
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(
        status,
        message,
        code=getattr(exc, "code", None),
        details=getattr(exc, "details", None),
        headers=exc.headers,
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc.errors())
    first = details[0] if details else {}
    where = ".".join(str(p) for p in first.get("loc", []))
    return error_response(
        422,
        f"invalid request: {where}: {first.get('message', 'invalid')}"
        if first
        else "invalid request",
        details=details,
    )


async def _monitor_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, MissingKeyError):
        # The service's configuration is at fault, not the payload: send it again later.
        return error_response(
            503,
            "the records carry patient identifiers and the monitor has no pseudonymisation "
            "key set; an administrator must set it (pseudonymisation.key_env), then send "
            "the same payload again",
            code="pseudonymisation_key_missing",
        )
    status = 404 if isinstance(exc, NotFoundError) else 422 if isinstance(exc, IngestError) else 400
    code = {404: "not_found", 422: "unreadable_payload", 400: "invalid_request"}[status]
    return error_response(status, str(exc), code=code)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through :func:`error_response`."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(MonitorError, _monitor_error)
