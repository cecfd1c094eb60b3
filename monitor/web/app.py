"""The console's routes on the service's app: login, logout, language, tasks, static
files, security headers, and the pages of the ``pages_*`` modules."""

from __future__ import annotations

import asyncio
import hmac
import html
import importlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor import audit
from monitor.api.context import ApiState
from monitor.users import authenticate
from monitor.web.auth import (
    CsrfRefused,
    Forbidden,
    LoginRequired,
    ViewerLogin,
    ViewerPost,
    optional_login,
)
from monitor.web.i18n import LANGS, translate
from monitor.web.login_limits import LoginLimiter, Refusal
from monitor.web.render import (
    LANG_COOKIE,
    PageNotFound,
    environment,
    language,
    page,
    safe_next,
)
from monitor.web.sessions import COOKIE_NAME, end_session, start_session
from monitor.web.tasks import TaskRegistry

__all__ = ["PAGE_MODULES", "UPLOAD_PATH", "ConsoleState", "install_console"]

UPLOAD_PATH: Final = "/ingestion/upload"
"""The one console path whose body may exceed ``service.max_request_bytes``."""

PAGE_MODULES: Final = (
    "monitor.web.pages_fleet",
    "monitor.web.pages_findings",
    "monitor.web.pages_review",
    "monitor.web.pages_months",
    "monitor.web.pages_ingestion",
)
"""The modules whose ``router`` holds the console's pages."""

_LOGIN_CSRF: Final = "dmn_login_csrf"

CSP: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
"""Everything from this origin only; images may be ``data:`` URIs (the charts)."""


@dataclass
class ConsoleState:
    """What the console's routes share (``app.state.console``)."""

    api: ApiState
    templates: Environment
    tasks: TaskRegistry = field(default_factory=TaskRegistry)
    logins: LoginLimiter = field(default_factory=LoginLimiter)


LOGIN_WAIT_SECONDS: Final = 2.0
"""How long a login waits for a free password check before it is answered 429."""


async def _admitted(limiter: LoginLimiter, client: str) -> Refusal | None:
    """``limiter.admit(client)``, waiting up to :data:`LOGIN_WAIT_SECONDS` (without
    holding the event loop) while only the concurrency bound refuses it."""
    waited = 0.0
    while True:
        refusal = limiter.admit(client)
        if refusal is None or refusal.scope != "busy" or waited >= LOGIN_WAIT_SECONDS:
            return refusal
        await asyncio.sleep(0.05)
        waited += 0.05


class _SecurityHeaders:
    """ASGI middleware adding the console's security headers to every response, and
    ``Cache-Control: no-store`` to HTML pages (nothing of a page stays in a cache)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"content-security-policy": CSP.encode(),
                }
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    extra[b"cache-control"] = b"no-store"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _cookie_args(state: ApiState) -> dict[str, Any]:
    return {
        "httponly": True,
        "secure": state.config.console.secure_cookies,
        "samesite": "strict",
        "path": "/",
    }


def install_console(app: FastAPI, state: ApiState) -> None:
    """Add the console to ``app`` (its routes, static files, error pages, headers)."""
    settings = state.config.console
    limiter = LoginLimiter(
        per_client=settings.login_attempts_per_client,
        per_minute=settings.login_attempts_per_minute,
        concurrent=settings.login_concurrency,
    )
    console = ConsoleState(api=state, templates=environment(), logins=limiter)
    app.state.console = console
    app.mount("/static", StaticFiles(packages=[("monitor.web", "static")]), name="console-static")
    app.add_middleware(_SecurityHeaders)

    @app.exception_handler(LoginRequired)
    def _login_required(request: Request, exc: LoginRequired) -> Response:
        target = f"/login?next={_quoted(exc.next_path)}" + ("&ended=1" if exc.ended else "")
        return RedirectResponse(target, status_code=303)

    def error_page(
        request: Request, exc: Forbidden | CsrfRefused | PageNotFound, status_code: int
    ) -> Response:
        if isinstance(exc, Forbidden):
            context = {"message_key": "error.forbidden", "fields": _role_fields(exc)}
        elif isinstance(exc, CsrfRefused):
            context = {"message_key": "error.csrf", "fields": {}}
        else:
            context = {"message_key": "error.not_found", "fields": {}, "detail": str(exc)}
        return page(
            request, exc.login, "error.html", context, title="error.title", status_code=status_code
        )

    @app.exception_handler(Forbidden)
    def _forbidden(request: Request, exc: Forbidden) -> Response:
        return error_page(request, exc, 403)

    @app.exception_handler(CsrfRefused)
    def _csrf(request: Request, exc: CsrfRefused) -> Response:
        return error_page(request, exc, 403)

    @app.exception_handler(PageNotFound)
    def _not_found(request: Request, exc: PageNotFound) -> Response:
        return error_page(request, exc, 404)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/fleet", status_code=303)

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        if optional_login(request) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
        return _login_page(request, failed=False)

    @app.post("/login", include_in_schema=False, response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        client = request.client.host if request.client is not None else "?"
        held = console.logins.held_back(client)
        if held is not None:  # a client over its bound: answered before any work
            return _throttled(held, language(request, None))
        form = await request.form()
        token, expected = form.get("csrf_token"), request.cookies.get(_LOGIN_CSRF, "")
        username, password = form.get("username"), form.get("password")
        if (
            not isinstance(token, str)
            or not expected
            or not hmac.compare_digest(token.encode(), expected.encode())
            or not isinstance(username, str)
            or not isinstance(password, str)
        ):
            return _login_page(request, failed=True, status_code=400)
        refusal = await _admitted(console.logins, client)
        if refusal is not None:
            if refusal.audit:
                await run_in_threadpool(_audit_throttled, refusal.scope)
            return _login_page(
                request,
                failed=False,
                throttled=True,
                status_code=429,
                headers={"Retry-After": str(refusal.retry_after)},
            )
        try:  # scrypt and the database in a worker thread: the event loop stays free
            secret, lang = await run_in_threadpool(_check_login, username, password[:1024])
        finally:
            console.logins.done()
        if secret is None:
            return _login_page(request, failed=True, status_code=401)
        response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            secret,
            max_age=int(state.config.console.session_hours * 3600),
            **_cookie_args(state),
        )
        if request.cookies.get(LANG_COOKIE) not in LANGS and lang in LANGS:
            response.set_cookie(LANG_COOKIE, str(lang), max_age=365 * 86400, **_cookie_args(state))
        response.delete_cookie(_LOGIN_CSRF, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, posted: ViewerPost) -> Response:
        with state.db.session.begin() as session:
            end_session(session, request.cookies.get(COOKIE_NAME, ""))
            audit.record(
                session,
                actor=posted.login.actor,
                action="user.logout",
                entity="user",
                entity_id=posted.login.username,
            )
        response = RedirectResponse("/login?logged_out=1", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    @app.get("/lang/{lang}", include_in_schema=False)
    def set_language(lang: str, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        response = RedirectResponse(target, status_code=303)
        if lang in LANGS:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, **_cookie_args(state))
        return response

    @app.get("/tasks/{task_id}", include_in_schema=False)
    def task_state(task_id: str, login: ViewerLogin) -> Response:
        snapshot = console.tasks.snapshot(task_id, login.username)
        if snapshot is None:
            return JSONResponse({"error": "no such task"}, status_code=404)
        return JSONResponse(snapshot, headers={"Cache-Control": "no-store"})

    for name in PAGE_MODULES:
        module = importlib.import_module(name)
        for route in module.router.routes:
            # Pages are not part of the API: /openapi.json describes /api/v1 only.
            if isinstance(route, APIRoute):
                route.include_in_schema = False
            app.router.routes.append(route)

    def _check_login(username: str, password: str) -> tuple[str | None, str | None]:
        """A new session's secret (None for a failed login) and the user's language."""
        with state.db.session.begin() as session:
            result = authenticate(session, username, password)
            if result.user is None:
                return None, None
            hours = state.config.console.session_hours
            return start_session(session, result.user, hours=hours), result.user.lang

    def _audit_throttled(scope: str) -> None:
        with state.db.session.begin() as session:
            audit.record(
                session,
                actor="?",
                action="user.login_throttled",
                entity="user",
                entity_id="?",
                details={"scope": scope},
            )

    def _login_page(
        request: Request,
        *,
        failed: bool,
        status_code: int = 200,
        throttled: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Response:
        token = secrets.token_urlsafe(32)
        response = page(
            request,
            None,
            "login.html",
            {
                "login_csrf": token,
                "failed": failed,
                "next": safe_next(request.query_params.get("next")),
                "ended": request.query_params.get("ended") == "1",
                "logged_out": request.query_params.get("logged_out") == "1",
                "throttled": throttled,
            },
            title="login.title",
            status_code=status_code,
        )
        response.headers.update(headers or {})
        response.set_cookie(_LOGIN_CSRF, token, max_age=3600, **_cookie_args(state))
        return response


def _throttled(retry_after: int, lang: str) -> Response:
    """The short 429 of a client already refused this minute (no template, no form)."""
    said = html.escape(translate("login.throttled", lang))
    return HTMLResponse(
        f'<!doctype html><html lang="{lang}"><title>429</title><p>{said}</p></html>',
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )


def _quoted(path: str) -> str:
    return quote(path, safe="/")


def _role_fields(exc: Forbidden) -> dict[str, str]:
    return {"role": exc.login.role, "needed": exc.needed}
