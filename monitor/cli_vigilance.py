"""``dmn-monitor vigilance``: materiovigilance drafts of confirmed findings.

Loaded lazily by the main command group of :mod:`monitor.cli`. A draft is
written to a file and recorded; it is never sent.
"""

from __future__ import annotations

from datetime import datetime

import click

from alerts.vigilance import LANGS
from monitor.cli import _app, _echo_json, _Group, _parse_day, common_options
from monitor.tables import render_table
from monitor.trend import PERIODS, trend_summary, trend_text
from monitor.vigilance import FORMATS, list_drafts, write_draft

__all__ = ["vigilance"]


@click.group(cls=_Group)
def vigilance() -> None:
    """Materiovigilance drafts (ANSM declaration, MIR export) of confirmed findings."""


@vigilance.command("draft")
@common_options
@click.argument("finding_id", type=int)
@click.option("--lang", type=click.Choice(list(LANGS)), default="fr", show_default=True)
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="pdf", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--user", required=True, help="Who prepares the draft (recorded in the audit log).")
def vigilance_draft(finding_id: int, lang: str, fmt: str, out: str, user: str) -> None:
    """Write the materiovigilance draft of a confirmed finding (never sent)."""
    app = _app()
    with app.db.session.begin() as session:
        result = write_draft(session, finding_id, lang=lang, fmt=fmt, out=out, user=user, tz=app.tz)
    todo = len(result.content.to_complete())
    click.echo(
        f"draft {result.draft_id} of finding {finding_id} written to {result.path} "
        f"({fmt}, {lang}, sha256 {result.sha256[:12]}); {todo} field(s) to complete. "
        "DRAFT - NOT SENT: review it and send it yourself."
    )


@vigilance.command("list")
@common_options
@click.option("--finding", "finding_id", type=int, default=None, help="Only this finding.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def vigilance_list(finding_id: int | None, fmt: str) -> None:
    """Drafts produced, newest first."""
    app = _app()
    with app.db.session() as session:
        rows = list_drafts(session, app.tz, finding_id=finding_id)
    if fmt == "json":
        _echo_json(rows)
        return
    if not rows:
        click.echo("no vigilance drafts")
        return
    table = [
        {
            "id": r["id"],
            "finding": r["finding_id"],
            "lang": r["lang"],
            "format": r["format"],
            "by": r["created_by"],
            "at": r["created_at"],
            "sha256": r["sha256"][:12],
            "file": r["file_name"],
        }
        for r in rows
    ]
    click.echo(render_table(table, list(table[0])))


@vigilance.command("trend")
@common_options
@click.option("--device", "device_id", required=True, help="The device.")
@click.option("--to", "last", default=None, help="A date in the last period (default today).")
@click.option("--period", type=click.Choice(list(PERIODS)), default="quarter", show_default=True)
@click.option(
    "--previous",
    type=click.IntRange(min=1, max=40),
    default=4,
    show_default=True,
    help="Previous periods the last one is compared with.",
)
@click.option("--lang", type=click.Choice(list(LANGS)), default="fr", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def vigilance_trend(
    device_id: str, last: str | None, period: str, previous: int, lang: str, fmt: str
) -> None:
    """Trend summary (EU MDR art. 88 style): per period, exams, misses, false positives and
    confirmed findings; the last period against the previous ones."""
    app = _app()
    day = _parse_day(last, "--to") if last else datetime.now(app.tz).date()
    with app.summarised_db().session() as session:
        summary = trend_summary(
            session,
            device_id,
            last=day,
            period=period,  # type: ignore[arg-type]
            previous=previous,
            tz=app.tz,
        )
    if fmt == "json":
        _echo_json(summary)
    else:
        click.echo(trend_text(summary, lang))
