"""Property-based requests from the OpenAPI schema (schemathesis) never get a 5xx, and
every error they get has the one error shape."""

from __future__ import annotations

import time
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.monitor.api.conftest import Service

EXAMPLES_PER_OPERATION = 20
BUDGET_SECONDS = 60.0


def _check_operation(operation: Any, headers: dict[str, str], seen: list[int]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        seen.append(response.status_code)
        if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
            error = response.json()["error"]
            assert set(error) == {"status", "code", "message", "details"}
            assert error["status"] == response.status_code

    check()


def test_generated_requests_never_get_a_server_error(service: Service) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", service.app)
    headers = service.auth("admin")
    started = time.monotonic()
    seen: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        _check_operation(operation, headers, seen)
        operations += 1
    elapsed = time.monotonic() - started
    assert operations >= 25
    assert any(code < 300 for code in seen) and any(400 <= code < 500 for code in seen)
    assert elapsed < BUDGET_SECONDS, f"schemathesis took {elapsed:.0f} s"


def test_the_schema_names_the_service_and_its_security(service: Service) -> None:
    document = service.client.get("/openapi.json").json()
    assert document["info"]["title"] == "dmn-monitor"
    assert document["info"]["version"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    paths = document["paths"]
    assert all(p.startswith("/api/v1/") or p in ("/healthz", "/readyz") for p in paths)
    assert "security" in paths["/api/v1/devices"]["get"]
    assert "security" not in paths["/healthz"]["get"]
