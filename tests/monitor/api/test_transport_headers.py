"""HSTS over HTTPS only; no response names the server software."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.monitor.api.conftest import Service


def test_responses_over_https_carry_hsts_and_over_http_do_not(service: Service) -> None:
    """Failed before: no Strict-Transport-Security header when TLS was on."""
    with TestClient(service.app, base_url="https://testserver") as secure:
        for path in ("/healthz", "/api/v1/devices", "/no-such-page"):
            response = secure.get(path, headers=service.auth("viewer"))
            assert response.headers["strict-transport-security"] == "max-age=31536000", path
    plain = service.client.get("/healthz")
    assert "strict-transport-security" not in plain.headers
