"""``dmn-monitor notifications``: send the notifications of findings, list deliveries.

Registered on the main command group at the end of :mod:`monitor.cli`. Like the
rest of the command line, this module reads the environment (the secrets named in
the configuration) and passes it down.
"""

from __future__ import annotations

import os

import click

from monitor.cli import _app, _echo_json, _Group, common_options
from monitor.notify import DELIVERY_STATUSES, list_deliveries, notify
from monitor.tables import render_table

__all__ = ["notifications"]


@click.group(cls=_Group)
def notifications() -> None:
    """Notifications of findings: webhook, Alertmanager, e-mail."""


@notifications.command("send")
@common_options
def notifications_send() -> None:
    """Queue the notifications of findings not yet notified and deliver every due one now."""
    app = _app()
    if not app.config.notifications.channels:
        click.echo("no notification channel configured ([[notifications.channels]])")
        return
    report = notify(app.db, app.config, environ=os.environ)
    click.echo(
        f"queued {report.queued}, sent {report.sent}, failed {report.failed}, "
        f"pending {report.pending}, alerts re-posted {report.refreshed}, "
        f"cancelled {report.cancelled}"
    )


@notifications.command("deliveries")
@common_options
@click.option(
    "--status",
    "status_",
    type=click.Choice([*DELIVERY_STATUSES, "all"]),
    default="all",
    show_default=True,
)
@click.option("--finding", "finding_id", type=int, default=None, help="Only this finding.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def notifications_deliveries(status_: str, finding_id: int | None, limit: int, fmt: str) -> None:
    """Deliveries, newest first, with their status, attempts and last error."""
    app = _app()
    with app.db.session() as session:
        rows = list_deliveries(
            session,
            app.tz,
            status=None if status_ == "all" else status_,
            finding_id=finding_id,
            limit=limit,
        )
    if fmt == "json":
        _echo_json(rows)
        return
    if not rows:
        click.echo("no deliveries")
        return
    columns = ["id", "finding", "event", "channel", "kind", "status", "attempts", "when", "error"]
    table = [
        {
            "id": r["id"],
            "finding": r["finding_id"],
            "event": r["event"],
            "channel": r["channel"],
            "kind": r["kind"],
            "status": r["status"],
            "attempts": r["attempts"],
            "when": (r["delivered_at"] or r["next_attempt_at"] or "")[:16].replace("T", " "),
            "error": _short(r["last_error"]),
        }
        for r in rows
    ]
    click.echo(render_table(table, columns))


def _short(text: str | None, width: int = 80) -> str | None:
    if text is None:
        return None
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 3] + "..."
