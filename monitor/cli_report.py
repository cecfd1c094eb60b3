"""``dmn-monitor report monthly``: the month's quality-control report (3.4-05 evidence).

Registered lazily on the main command group of :mod:`monitor.cli`.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from monitor.cli import _app, _Group, common_options
from monitor.report_data import parse_month
from monitor.report_job import due_month, report_dir, write_monthly_report
from monitor.timeutil import utc_now

__all__ = ["report"]


@click.group(cls=_Group)
def report() -> None:
    """Reports: the monthly quality-control review."""


def _both(choice: str, every: list[str]) -> list[str]:
    return every if choice == "both" else [choice]


@report.command("monthly")
@common_options
@click.option(
    "--month",
    default=None,
    help="The month, YYYY-MM (default: the previous month, as the scheduler runs it).",
)
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option(
    "--lang",
    type=click.Choice(["fr", "en", "both"]),
    default=None,
    help="Language (default: report.languages of the configuration, French and English).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "pdf", "both"]),
    default=None,
    help="Format (default: report.formats of the configuration, HTML and PDF).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder to write into (default: report.out_dir of the configuration).",
)
@click.option("--user", default=None, help="Who produces the report (audit log); default: login.")
def report_monthly(
    month: str | None,
    device_id: str | None,
    lang: str | None,
    fmt: str | None,
    out: str | None,
    user: str | None,
) -> None:
    """Write the month's report (HTML and/or PDF, French and/or English) and its manifest.

    Figures are as of the end of the month; the manifest beside the report lists each
    one with the command (evaluate, status, chart, drift, estimate, findings) that
    gives it back. The files and their SHA-256 are recorded in the audit log.
    """
    app = _app()
    cfg = app.config
    first = parse_month(month) if month is not None else due_month(utc_now(), app.tz)
    langs = (
        list(cfg.report.languages) if lang is None else (["fr", "en"] if lang == "both" else [lang])
    )
    formats = (
        list(cfg.report.formats) if fmt is None else (["html", "pdf"] if fmt == "both" else [fmt])
    )
    folder = Path(out) if out is not None else report_dir(cfg)
    written = write_monthly_report(
        app.summarised_db(),
        cfg,
        first,
        out_dir=folder,
        langs=langs,
        formats=formats,
        device_id=device_id,
        user=user or getpass.getuser(),
    )
    lights = ", ".join(f"{device} {color}" for device, color in written.lights.items())
    click.echo(f"{first:%Y-%m}: {lights}")
    for path in written.files:
        click.echo(f"written {path}")
    click.echo(f"written {written.manifest} ({written.figures} figures with their commands)")
