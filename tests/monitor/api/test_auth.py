"""Every /api/v1 route needs a bearer token of its role, proved route by route.

The table is built from ``app.routes``: a route added without its role dependency
fails here. No token or a bad one -> 401 with ``WWW-Authenticate: Bearer``; a token
of too low a role -> 403; a revoked token -> 401.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from monitor.api.auth import Require
from monitor.tokens import ROLES, revoke_token
from monitor.web.auth import RequireLogin
from tests.monitor.api.conftest import Service

OPEN_PATHS = {"/healthz", "/readyz", "/openapi.json"}
CONSOLE_OPEN_PATHS = {"/", "/login", "/lang/{lang}"}
PATH_VALUES = {
    "finding_id": "1",
    "action_id": "1",
    "device_id": "fracture-xr",
    "name": "test-viewer",
    "case_ref": "case-1",
    "kind": "predictions",
}
# What the design says of the sensitive routes (the table below must agree).
EXPECTED = {
    ("GET", "/api/v1/devices"): "viewer",
    ("GET", "/api/v1/findings/{finding_id}"): "viewer",
    ("GET", "/api/v1/findings/{finding_id}/cases"): "quality",
    ("POST", "/api/v1/findings/{finding_id}/confirm"): "quality",
    ("GET", "/api/v1/review"): "quality",
    ("POST", "/api/v1/ingest/{kind}/records"): "quality",
    ("PUT", "/api/v1/registry"): "admin",
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/{name}"): "admin",
}


def _roles(dependant: Dependant) -> set[str]:
    found = set()
    for sub in dependant.dependencies:
        if isinstance(sub.call, Require):
            found.add(sub.call.role)
        found |= _roles(sub)
    return found


def console_route(route: APIRoute) -> bool:
    """Whether ``route`` is a console page: public (login, language) or behind a login."""
    if route.path in CONSOLE_OPEN_PATHS:
        return True
    return any(isinstance(d.call, RequireLogin) for d in route.dependant.dependencies)


def route_table(service: Service) -> list[tuple[str, str, str]]:
    """(method, path template, role needed) of every /api/v1 route."""
    table = []
    for route in service.app.routes:
        if not isinstance(route, APIRoute):
            continue
        if not route.path.startswith("/api/v1/"):
            # The console's pages have their own login (tests/monitor/web/test_routes.py).
            assert route.path in OPEN_PATHS or console_route(route), (
                f"{route.path} is outside /api/v1, not public and not a console page"
            )
            continue
        roles = _roles(route.dependant)
        assert roles, f"{route.path} has no role dependency"
        needed = max(roles, key=ROLES.index)
        for method in sorted(route.methods or ()):
            table.append((method, route.path, needed))
    return table


def _url(template: str) -> str:
    return template.format(**PATH_VALUES)


def _send(service: Service, method: str, path: str, headers: dict[str, str]) -> Any:
    return service.client.request(method, _url(path), headers=headers)


def test_the_table_covers_every_route_and_agrees_with_the_design(service: Service) -> None:
    table = {(m, p): role for m, p, role in route_table(service)}
    assert len(table) >= 25
    for key, role in EXPECTED.items():
        assert table[key] == role, key
    # Case references and writes are never viewer routes.
    for (method, path), role in table.items():
        if method != "GET" or path.endswith("/cases") or path.startswith("/api/v1/review"):
            assert role != "viewer", (method, path)


def test_every_route_refuses_a_request_without_a_token(service: Service) -> None:
    for method, path, _role in route_table(service):
        response = _send(service, method, path, {})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "unauthorized"


def test_every_route_refuses_an_unknown_or_malformed_token(service: Service) -> None:
    for method, path, _role in route_table(service):
        for header in ("Bearer dmn_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer "):
            response = _send(service, method, path, {"Authorization": header})
            assert response.status_code == 401, (method, path, header, response.text)


@pytest.mark.parametrize("caller", ["viewer", "quality"])
def test_a_token_below_the_route_role_gets_403(service: Service, caller: str) -> None:
    checked = 0
    for method, path, needed in route_table(service):
        if ROLES.index(caller) >= ROLES.index(needed):
            continue
        response = _send(service, method, path, service.auth(caller))
        assert response.status_code == 403, (caller, method, path, response.text)
        error = response.json()["error"]
        assert error["code"] == "insufficient_role"
        assert error["details"] == {"needed": needed, "granted": caller}
        checked += 1
    assert checked > 0


def test_a_token_of_the_route_role_gets_past_authentication(service: Service) -> None:
    for method, path, needed in route_table(service):
        response = _send(service, method, path, service.auth(needed))
        assert response.status_code not in (401, 403), (method, path, response.text)
        assert response.status_code < 500, (method, path, response.text)


def test_a_revoked_token_is_refused(service: Service) -> None:
    assert service.client.get("/api/v1/devices", headers=service.auth("viewer")).status_code == 200
    with service.db.session.begin() as session:
        revoke_token(session, "test-viewer", user="test")
    response = service.client.get("/api/v1/devices", headers=service.auth("viewer"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_health_and_readiness_need_no_token(service: Service) -> None:
    assert service.client.get("/healthz").json() == {"status": "alive"}
    ready = service.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "migrations": True}


def test_no_page_of_the_api_loads_anything_from_outside(service: Service) -> None:
    """No Swagger UI (its page pulls scripts from a CDN); the schema stays local."""
    assert service.client.get("/docs").status_code == 404
    assert service.client.get("/openapi.json").status_code == 200
