"""`dmn-monitor serve`: the HTTP API, ``/metrics``, the scheduler and the MLLP listener
in one process, run until SIGTERM or SIGINT.

On a stop signal the HTTP server stops accepting and finishes its requests, the
MLLP listener stops, the running jobs are told to stop (an ingestion ends after
its current chunk; its run resumes at the next start) and are waited for, then the
database connections are closed.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

from monitor.config import Config
from monitor.mllp import MllpListener
from monitor.scheduler import Runtime, build_scheduler, install_runtime
from monitor.storage import Database

__all__ = ["build_app", "serve"]

log = logging.getLogger(__name__)


def _metrics_route(db: Database) -> Callable[[], Response]:
    from prometheus_client import CONTENT_TYPE_LATEST

    from monitor.exporter import metrics_text

    def metrics() -> Response:
        return Response(metrics_text(db), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _noted(number: int, _frame: object) -> None:
    log.info("signal %s: stopping", signal.Signals(number).name)


def build_app(
    config: Config,
    db: Database,
    pseudonym_key: bytes | None,
    ready: Callable[[], dict[str, bool]] | None = None,
) -> FastAPI:
    """The API of :mod:`monitor.api` with ``/metrics`` (no token: bounded aggregates,
    as Prometheus scrapes them)."""
    from monitor.api.app import create_app

    app = create_app(
        config,
        db,
        pseudonym_key=pseudonym_key,
        ready=ready,
        max_request_bytes=config.service.max_request_bytes,
    )
    app.add_api_route("/metrics", _metrics_route(db), methods=["GET"], include_in_schema=False)
    return app


def serve(
    config: Config,
    db: Database,
    pseudonym_key: bytes | None,
    *,
    host: str,
    port: int,
    scheduler: bool = True,
) -> None:
    """Run until a stop signal (see the module's description)."""
    runtime = Runtime(config, db, pseudonym_key)
    install_runtime(runtime)
    jobs = build_scheduler(runtime) if scheduler else None
    service = config.service
    listener = (
        MllpListener(
            db,
            config,
            pseudonym_key,
            host=service.mllp_host,
            port=service.mllp_port,
            kind=service.mllp_kind,
        )
        if service.mllp_enabled
        else None
    )

    def ready() -> dict[str, bool]:
        checks = {"scheduler": jobs is None or bool(jobs.running)}
        if listener is not None:
            checks["mllp"] = listener.running
        return checks

    app = build_app(config, db, pseudonym_key, ready)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            ssl_certfile=service.tls_certfile,
            ssl_keyfile=service.tls_keyfile,
            proxy_headers=True,
            forwarded_allow_ips=service.forwarded_allow_ips,
            timeout_graceful_shutdown=30,
            server_header=False,  # responses do not name the server
            log_level="info",
        )
    )
    if threading.current_thread() is threading.main_thread():
        # uvicorn handles SIGTERM/SIGINT while it serves, then raises the signal again
        # for the handler it found: let that be a quiet one, so the shutdown below runs
        # and the process exits 0 rather than dying of the signal.
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, _noted)
    try:
        if jobs is not None:
            jobs.start()
        if listener is not None:
            listener.start()
            log.info("MLLP listener on %s:%d", *listener.address)
        server.run()
    finally:
        log.info("stopping: finishing the running jobs")
        runtime.stop.set()
        if listener is not None:
            listener.stop()
        if jobs is not None and jobs.running:
            jobs.shutdown(wait=True)
        install_runtime(None)
        db.dispose()
        log.info("stopped")
