"""Every console route needs a login of its role, proved route by route.

The table is built from ``app.routes``: a page added without its login dependency, or
a form post without the CSRF-checking one, fails here. Without a session a page
sends to the login page; a viewer gets 403 on every route that needs more, and on
every form post that changes something.
"""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from monitor.tokens import ROLES
from monitor.web.auth import RequireLogin, RequirePost
from tests.monitor.web.conftest import Console

OPEN = {"/", "/login", "/lang/{lang}"}
VALUES = {
    "finding_id": "1",
    "action_id": "1",
    "draft_id": "1",
    "device_id": "fracture-xr",
    "ref": "case-1",
    "run_id": "1",
    "month_text": "2025-08",
    "name": "qc-report-2025-08-fr.html",
    "verb": "confirm",
    "task_id": "unknown",
    "lang": "en",
}


def _requirements(dependant: Dependant) -> list[RequireLogin]:
    found = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, RequireLogin):
            found.append(sub.call)
        found += _requirements(sub)
    return found


def console_routes(console: Console) -> list[tuple[str, str, str]]:
    """(method, path template, role needed) of every console route behind a login."""
    table = []
    for route in console.app.routes:
        if not isinstance(route, APIRoute) or route.path.startswith("/api/v1/"):
            continue
        if route.path in OPEN or route.path in ("/healthz", "/readyz", "/openapi.json"):
            continue
        needs = _requirements(route.dependant)
        assert needs, f"{route.path} has no login dependency"
        role = max((n.role for n in needs), key=ROLES.index)
        for method in sorted(route.methods or ()):
            if method == "POST":
                assert any(isinstance(n, RequirePost) for n in needs), (
                    f"POST {route.path} does not check the CSRF token"
                )
            table.append((method, route.path, role))
    return table


def test_the_console_routes_need_a_login_and_viewers_cannot_act(console: Console) -> None:
    table = console_routes(console)
    paths = {path for _, path, _ in table}
    for expected in ("/fleet", "/findings/{finding_id}", "/review/{ref}", "/months/{month_text}"):
        assert expected in paths
    roles = {(method, path): role for method, path, role in table}
    assert roles[("GET", "/review/{ref}")] == "quality"
    assert roles[("POST", "/devices/{device_id}/edit")] == "admin"
    assert all(role != "viewer" for (m, p), role in roles.items() if m == "POST" and p != "/logout")

    anonymous = console.anonymous()
    viewer = console.browser("viewer")
    for method, path, role in table:
        url = path.format(**VALUES)
        response = anonymous.request(method, url, data={"csrf_token": "x"})
        assert response.status_code == 303, (method, path, response.status_code)
        assert response.headers["location"].startswith("/login?next=")
        if role == "viewer":
            continue
        post = method == "POST"
        response = viewer.post(url, {"comment": "trying"}) if post else viewer.get(url)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "formulaire a expiré" not in response.text, (method, path)
