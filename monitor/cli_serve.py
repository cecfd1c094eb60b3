"""``dmn-monitor serve`` and ``dmn-monitor jobs``: the service and its scheduled jobs.

Registered lazily on the main command group of :mod:`monitor.cli`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import click
from sqlalchemy import select

from monitor.cli import _app, _echo_json, _Group, common_options
from monitor.errors import MonitorError
from monitor.models import JobRun
from monitor.tables import render_table
from monitor.timeutil import local_iso

__all__ = ["jobs", "serve"]


@click.command("serve")
@common_options
@click.option("--host", default=None, help="Address to listen on (default: service.host).")
@click.option("--port", type=int, default=None, help="Port (default: service.port, 8765).")
@click.option("--no-scheduler", is_flag=True, help="Serve the API and /metrics only.")
def serve(host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Run the HTTP API, /metrics, the scheduled jobs and (if enabled) the MLLP listener.

    Stops gracefully on SIGTERM or Ctrl-C: requests and the running jobs finish
    (an ingestion after its current chunk).
    """
    from monitor.serve import serve as run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = _app()
    config = app.config
    run(
        config,
        app.summarised_db(),
        app.pseudonym_key(),
        host=host or config.service.host,
        port=port or config.service.port,
        scheduler=not no_scheduler,
    )


@click.group(cls=_Group)
def jobs() -> None:
    """The scheduled jobs of `serve`: their runs, or one run now."""


def _run_record(run: JobRun, tz: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "job": run.job,
        "scheduled_for": local_iso(run.scheduled_for, tz),
        "owner": run.owner,
        "status": run.status,
        "started_at": local_iso(run.started_at, tz),
        "duration_seconds": run.duration_seconds,
        "error": run.error,
    }


@jobs.command("list")
@common_options
@click.option("--job", "job", default=None, help="Only this job.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def jobs_list(job: str | None, limit: int, fmt: str) -> None:
    """Recent runs, newest first: job, scheduled time, process, status, duration, error."""
    app = _app()
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    with app.db.session() as session:
        rows = [_run_record(r, app.tz) for r in session.scalars(query)]
    if fmt == "json":
        _echo_json(rows)
        return
    click.echo(render_table(rows, list(rows[0])) if rows else "no job run yet")


@jobs.command("run")
@common_options
@click.argument(
    "name", type=click.Choice(["ingest", "evaluate", "check", "notify", "report", "purge"])
)
def jobs_run(name: str) -> None:
    """Run one job now, recorded like a scheduled run (for a first fill or a check)."""
    from monitor.scheduler import Runtime, install_runtime, run_job

    app = _app()
    install_runtime(Runtime(app.config, app.summarised_db(), app.pseudonym_key()))
    try:
        status = run_job(name, manual=datetime.now().astimezone())
    finally:
        install_runtime(None)
    click.echo(f"{name}: {status}")
    if status == "failure":
        with app.db.session() as session:
            last = session.scalars(
                select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(1)
            ).first()
        raise MonitorError(f"job {name} failed: {last.error if last else 'see the logs'}")
