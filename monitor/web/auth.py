"""Who uses the console: the session cookie, the role each page needs, CSRF checks.

Pages depend on :data:`ViewerLogin`, :data:`QualityLogin` or :data:`AdminLogin`. A
request without a live session is sent to ``/login`` (303); one whose role is too
low gets a 403 page. Every form that changes something depends on :data:`QualityPost`
(or another ``*Post``), which refuses (403) a form without this session's CSRF token,
or sent from another origin (``Origin`` header not this site's).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData

from monitor.tokens import ROLES, allows
from monitor.web.sessions import COOKIE_NAME, Login, resolve_session

__all__ = [
    "AdminLogin",
    "AdminPost",
    "CsrfRefused",
    "Forbidden",
    "LoginRequired",
    "Posted",
    "QualityLogin",
    "QualityPost",
    "RequireLogin",
    "RequirePost",
    "ViewerLogin",
    "ViewerPost",
    "optional_login",
]


class LoginRequired(Exception):
    """No live session: the handler redirects to the login page."""

    def __init__(self, next_path: str, ended: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.ended = ended


class Forbidden(Exception):
    """The user's role is too low for this page or action."""

    def __init__(self, login: Login, needed: str) -> None:
        super().__init__(needed)
        self.login = login
        self.needed = needed


class CsrfRefused(Exception):
    """A form without this session's CSRF token, or from another origin."""

    def __init__(self, login: Login) -> None:
        super().__init__("csrf")
        self.login = login


def optional_login(request: Request) -> Login | None:
    """The login of the request's session cookie, or None."""
    secret = request.cookies.get(COOKIE_NAME)
    if not secret:
        return None
    console = request.app.state.console
    with console.api.db.session.begin() as session:
        return resolve_session(
            session, secret, idle_minutes=console.api.config.console.idle_minutes
        )


class RequireLogin:
    """A dependency admitting sessions of ``role`` or above."""

    def __init__(self, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role

    def __call__(self, request: Request) -> Login:
        login = optional_login(request)
        if login is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target, ended=COOKIE_NAME in request.cookies)
        if not allows(login.role, self.role):
            raise Forbidden(login, self.role)
        return login


ViewerLogin = Annotated[Login, Depends(RequireLogin("viewer"))]
QualityLogin = Annotated[Login, Depends(RequireLogin("quality"))]
AdminLogin = Annotated[Login, Depends(RequireLogin("admin"))]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        # Browsers send Origin on every POST; a client that sends neither is not one.
        return origin is None
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.netloc == host


@dataclass(frozen=True)
class Posted:
    """A checked form post: who sent it and the form."""

    login: Login
    form: FormData

    def text(self, name: str, *, max_length: int = 4000) -> str:
        """A text field, stripped ("" when missing or not text), cut to ``max_length``."""
        value: Any = self.form.get(name)
        return value.strip()[:max_length] if isinstance(value, str) else ""


class RequirePost(RequireLogin):
    """A dependency for form posts: a session of ``role`` or above, this session's CSRF
    token in the form's ``csrf_token`` field, and the post from this site's origin."""

    async def __call__(self, request: Request) -> Posted:  # type: ignore[override]
        login = RequireLogin.__call__(self, request)
        form = await request.form()
        token = form.get("csrf_token")
        if (
            not isinstance(token, str)
            or not hmac.compare_digest(token.encode(), login.csrf_token.encode())
            or not _same_origin(request)
        ):
            raise CsrfRefused(login)
        return Posted(login, form)


ViewerPost = Annotated[Posted, Depends(RequirePost("viewer"))]
QualityPost = Annotated[Posted, Depends(RequirePost("quality"))]
AdminPost = Annotated[Posted, Depends(RequirePost("admin"))]
