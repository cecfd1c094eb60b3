"""The HTTP API of dmn-monitor (FastAPI): :func:`create_app`."""

from monitor.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
