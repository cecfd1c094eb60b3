"""The ``dmn-monitor`` command line.

Every command takes ``--config PATH`` and ``--db URL``. This is the only module
that reads the environment (``DMN_MONITOR_DB`` and the pseudonymisation key);
everything below receives values.
"""

from __future__ import annotations

import csv
import getpass
import importlib
import io
import json
import os
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from alerts.workflow import ACTION_KINDS, DISMISSAL_REASONS
from connectors import FORMATS
from monitor import registry, sources
from monitor.cells import CellSettings, ensure_summaries
from monitor.config import Config, iter_keys, load_config
from monitor.csv_cells import neutral_cell
from monitor.errors import MonitorError
from monitor.evaluate_stored import evaluation_options, stored_evaluation
from monitor.evaluation import (
    BY_COLUMNS,
    METRICS,
    WINDOWS,
    EvaluationOptions,
    all_breakdowns,
)
from monitor.faults import fault_message, is_fault
from monitor.findings import FINDING_STATUSES
from monitor.ingest import IngestReport, ingest_file
from monitor.input_checks import unmatched_outcomes
from monitor.models import IngestionRun, QuarantinedRow
from monitor.outcome_counts import outcome_months, outcome_totals
from monitor.pseudonym import key_problem
from monitor.sources import find_source, mapping_for, read_limits
from monitor.status import device_status, status_record
from monitor.storage import Database, current_revision, head_revision, open_database, upgrade
from monitor.tables import render_table
from monitor.timeutil import local_iso, parse_as_of

if TYPE_CHECKING:
    from monitor.incident_view import NewSince

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns :class:`MonitorError` into a one-line message and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            raise click.ClickException(str(exc)) from exc
        except (SQLAlchemyError, OSError) as exc:
            if not is_fault(exc):
                raise
            raise click.ClickException(fault_message(exc)) from None


class AppContext:
    """What a command needs, loaded once on first use."""

    def __init__(self) -> None:
        self.config_path: str | None = None
        self.db_url: str | None = None
        self._config: Config | None = None
        self._db: Database | None = None
        self._summaries_checked = False

    @property
    def config(self) -> Config:
        if self._config is None:
            config = load_config(self.config_path)
            url = self.db_url or os.environ.get("DMN_MONITOR_DB")
            self._config = config.with_database_url(url) if url else config
        return self._config

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = open_database(self.config.database.url)
            # Close pooled connections when the command ends, whatever happens.
            click.get_current_context().call_on_close(self._db.dispose)
        return self._db

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.time.timezone)

    @property
    def cell_settings(self) -> CellSettings:
        return CellSettings(self.config.time.timezone, self.config.subgroups.age_bands)

    def summarised_db(self) -> Database:
        """The database, with its per-cell summaries cut as the configuration says."""
        db = self.db
        if not self._summaries_checked:
            with db.session.begin() as session:
                if ensure_summaries(session, self.cell_settings):
                    # stderr: stdout may be JSON or CSV.
                    click.echo(
                        "case summaries (re)built for the configured timezone and age bands",
                        err=True,
                    )
            self._summaries_checked = True
        return db

    def pseudonym_key(self) -> bytes | None:
        name = self.config.pseudonymisation.key_env
        value = os.environ.get(name)
        if value is None or value == "":
            return None
        problem = key_problem(value)
        if problem is not None:
            raise MonitorError(
                f"the pseudonymisation key in {name} {problem}; use a long random secret "
                '(e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`)'
            )
        return value.encode("utf-8")


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(AppContext).config_path = value


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(AppContext).db_url = value


def common_options(func: F) -> F:
    """``--config`` and ``--db`` on every command (also accepted before the command)."""
    func = click.option(
        "--db",
        "db_url",
        metavar="URL",
        expose_value=False,
        callback=_set_db,
        help="Database URL (default: $DMN_MONITOR_DB, else the config, else ./dmn-monitor.db).",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        metavar="PATH",
        expose_value=False,
        callback=_set_config,
        type=click.Path(dir_okay=False),
        help="Configuration file (default: ./dmn-monitor.toml if present).",
    )(func)
    return func


def _app() -> AppContext:
    return click.get_current_context().ensure_object(AppContext)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


class _Root(_Group):
    """The top-level group; command groups kept in their own modules (which import the
    helpers of this one) are loaded when first asked for."""

    lazy_groups: ClassVar[dict[str, str]] = {
        "notifications": "monitor.cli_notify:notifications",
        "vigilance": "monitor.cli_vigilance:vigilance",
        "report": "monitor.cli_report:report",
        "serve": "monitor.cli_serve:serve",
        "jobs": "monitor.cli_serve:jobs",
        "tokens": "monitor.cli_tokens:tokens",
        "users": "monitor.cli_users:users",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_groups])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_groups.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="dmn-monitor")
def cli() -> None:
    """Monitor the real-world performance of AI medical devices (DMN)."""


# --- db -----------------------------------------------------------------------------------


@cli.group(cls=_Group)
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@common_options
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from monitor.storage import create_db_engine

    engine = create_db_engine(_app().config.database.url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        click.echo(f"schema: {before or 'empty'} -> {head_revision()}")
    finally:
        engine.dispose()


@db.command("current")
@common_options
def db_current() -> None:
    """Show the schema version of the database and the one this version needs."""
    from monitor.storage import create_db_engine

    engine = create_db_engine(_app().config.database.url)
    try:
        click.echo(f"database: {current_revision(engine) or 'empty'}  needed: {head_revision()}")
    finally:
        engine.dispose()


@db.command("purge-report-texts")
@common_options
def db_purge_report_texts() -> None:
    """Delete the kept report texts older than ingest.report_text_retention_days (the
    scheduler's daily purge does it too)."""
    from monitor.kept_texts import purge_report_texts

    cfg = _app().config
    with _app().db.session.begin() as session:
        purged = purge_report_texts(session, cfg.ingest.report_text_retention_days)
    click.echo(f"report texts purged: {purged} (kept {cfg.ingest.report_text_retention_days} days)")


# --- config -------------------------------------------------------------------------------


@cli.group(cls=_Group)
def config() -> None:
    """Configuration."""


@config.command("show")
@common_options
def config_show() -> None:
    """Print the effective configuration (file values, defaults and overrides)."""
    app = _app()
    cfg = app.config
    click.echo(f"# from: {cfg.path or 'defaults (no configuration file)'}")
    _echo_json(cfg.model_dump(mode="json"))


@config.command("keys")
@common_options
def config_keys() -> None:
    """List every configuration key with its default and help text."""
    for key, default, help_text in iter_keys():
        click.echo(f"{key}  (default: {default or 'required'})\n    {help_text}")


# --- devices ------------------------------------------------------------------------------


@cli.group(cls=_Group)
def devices() -> None:
    """The device registry (3.4-05 inventory)."""


@devices.command("import")
@common_options
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--user", default=None, help="Who makes the change (audit log); default: login name.")
def devices_import(file: str, user: str | None) -> None:
    """Create or update devices from a registry YAML file."""
    specs = registry.load_registry_file(file)
    with _app().db.session.begin() as session:
        result = registry.import_registry(session, specs, actor=user or getpass.getuser())
    for device_id, what in result.items():
        click.echo(f"{device_id}: {what}")


@devices.command("list")
@common_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def devices_list(fmt: str) -> None:
    """List registered devices."""
    with _app().db.session() as session:
        specs = registry.list_devices(session)
    if fmt == "json":
        _echo_json([s.to_document() for s in specs])
        return
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "manufacturer": s.manufacturer,
            "target": s.target,
            "claimed_sens": s.claims().get("sensitivity", "no claim"),
            "claimed_spec": s.claims().get("specificity", "no claim"),
            "indeterminate": s.indeterminate_policy,
            "missing_risk_items": ", ".join(s.risk_analysis.missing()) or "-",
        }
        for s in specs
    ]
    click.echo(render_table(rows, list(rows[0]) if rows else ["id"]))


@devices.command("show")
@common_options
@click.argument("device_id")
def devices_show(device_id: str) -> None:
    """Show one device's registry entry (YAML)."""
    with _app().db.session() as session:
        spec = registry.get_device(session, device_id)
    click.echo(registry.export_registry([spec]), nl=False)


@devices.command("export")
@common_options
@click.option("--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def devices_export(out: str | None) -> None:
    """Export the registry as YAML (re-importable)."""
    with _app().db.session() as session:
        text = registry.export_registry(registry.list_devices(session))
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


# --- ingest -------------------------------------------------------------------------------


@cli.group(cls=_Group)
def ingest() -> None:
    """Load predictions and outcomes from files."""


def _print_report(report: IngestReport) -> None:
    resumed = f" (resumed after line {report.resumed_from})" if report.resumed_from else ""
    click.echo(f"{report.path}: {report.summary()}{resumed}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


def _walk(names: tuple[str, ...]) -> list[Path]:
    """The files named, and every file under the folders named (recursively, sorted;
    hidden files and folders skipped)."""
    found: list[Path] = []
    for name in names:
        path = Path(name)
        if not path.is_dir():
            found.append(path)
            continue
        found += sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    return found


def _ingest(kind: str, files: tuple[str, ...], source_name: str | None, fmt: str | None) -> None:
    app = _app()
    cfg = app.config
    key = app.pseudonym_key()
    failed = 0
    for path in _walk(files):
        source = find_source(cfg, path, kind, source_name)
        mapping = mapping_for(source, cfg.time.timezone, cfg.base_dir, read_limits(cfg))
        try:
            report = ingest_file(
                app.summarised_db(),
                path,
                kind,  # type: ignore[arg-type]
                mapping=mapping,
                source_name=source.name if source else None,
                chunk_size=cfg.ingest.chunk_size,
                keep_report_text=cfg.ingest.keep_report_text,
                pseudonym_key=key,
                fmt=fmt or (source.format if source else "auto"),
            )
        except MonitorError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        _print_report(report)
        if report.quarantined:
            click.echo(f"  see `dmn-monitor quarantine list --run {report.run_id}`")
    if failed:
        raise click.exceptions.Exit(1)


_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="File format (default: the source's, else auto: from the content).",
)
_source_option = click.option(
    "--source",
    "source_name",
    default=None,
    help="Read with this configured source's mapping (default: the source whose path matches).",
)


@ingest.command("predictions")
@common_options
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_source_option
@_format_option
def ingest_predictions(files: tuple[str, ...], source_name: str | None, fmt: str | None) -> None:
    """Ingest device outputs: CSV/Parquet exports, DICOM SR, HL7 v2 ORU, FHIR (files or
    folders, walked recursively)."""
    _ingest("predictions", files, source_name, fmt)


@ingest.command("outcomes")
@common_options
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_source_option
@_format_option
def ingest_outcomes(files: tuple[str, ...], source_name: str | None, fmt: str | None) -> None:
    """Ingest ground truth (reports, pathology, follow-up, adjudication): CSV/Parquet,
    HL7 v2 ORU, FHIR (files or folders, walked recursively)."""
    _ingest("outcomes", files, source_name, fmt)


@ingest.command("sources")
@common_options
def ingest_sources() -> None:
    """Ingest every file matching a configured source, skipping files already ingested.

    Meant for a timer (cron, systemd): a file whose exact content was already
    ingested completely is skipped; an interrupted one is resumed.
    """
    app = _app()
    cfg = app.config
    if not cfg.sources:
        raise MonitorError("no [[sources]] in the configuration: nothing to ingest")
    key = app.pseudonym_key()
    failed = 0
    for _path, outcome in sources.ingest_sources(app.summarised_db(), cfg, key):
        if isinstance(outcome, MonitorError):
            failed += 1
            click.echo(f"error: {outcome}", err=True)
        else:
            _print_report(outcome)
    if failed:
        raise click.exceptions.Exit(1)


@ingest.command("runs")
@common_options
@click.option("--limit", default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def ingest_runs(limit: int, fmt: str) -> None:
    """List recent ingestion runs."""
    with _app().db.session() as session:
        runs = session.scalars(select(IngestionRun).order_by(IngestionRun.id.desc()).limit(limit))
        rows = [
            {
                "run": r.id,
                "kind": r.kind,
                "status": r.status,
                "read": r.rows_read,
                "accepted": r.rows_accepted,
                "duplicate": r.rows_duplicate,
                "quarantined": r.rows_quarantined,
                "started": r.started_at.astimezone(_app().tz).isoformat(timespec="seconds"),
                "file": r.source_path,
            }
            for r in runs
        ]
    if fmt == "json":
        _echo_json(rows)
    else:
        click.echo(render_table(rows, list(rows[0]) if rows else ["run"]))


# --- quarantine ---------------------------------------------------------------------------


@cli.group(cls=_Group)
def quarantine() -> None:
    """Rows that could not be ingested, with their reason."""


@quarantine.command("list")
@common_options
@click.option("--run", "run_id", type=int, default=None, help="Only this ingestion run.")
@click.option("--limit", default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def quarantine_list(run_id: int | None, limit: int, fmt: str) -> None:
    """List quarantined rows: file, line and reason (patient ids are never shown in clear)."""
    query = select(QuarantinedRow).order_by(QuarantinedRow.id.desc()).limit(limit)
    if run_id is not None:
        query = query.where(QuarantinedRow.run_id == run_id)
    with _app().db.session() as session:
        rows = [
            {
                "run": q.run_id,
                "kind": q.kind,
                "file": q.source_path,
                "line": q.line_number,
                "reason": q.reason,
                **({"raw_row": q.raw_row} if fmt == "json" else {}),
            }
            for q in session.scalars(query)
        ]
    if fmt == "json":
        _echo_json(rows)
    elif rows:
        click.echo(render_table(rows, ["run", "kind", "file", "line", "reason"]))
    else:
        click.echo("no quarantined rows")


# --- status and evaluate ------------------------------------------------------------------


@cli.command("status")
@common_options
@click.option("--as-of", "as_of", default=None, help="Date (end of day) or date-time; default now.")
@click.option(
    "--from",
    "start",
    default=None,
    help="Only exams from this date on (YYYY-MM-DD, start of day), e.g. a month's.",
)
@click.option(
    "--outcomes",
    "per_month",
    is_flag=True,
    help="Only the outcomes per device and month (decided, unmentioned, uncertain, "
    "quarantined); rows without a device: quarantined rows of no device's target.",
)
@click.option(
    "--unmatched",
    is_flag=True,
    help="Only the outcomes that match no prediction, per target and month.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def status(
    as_of: str | None, start: str | None, per_month: bool, unmatched: bool, fmt: str
) -> None:
    """Per device: predictions, linked cases, awaiting truth, label delay, last prediction,
    and the outcomes dated in the period: decided (positive, negative), unmentioned,
    uncertain, quarantined - per month in the table (the last 12 months without --from);
    AI results derived from the score, checked against it, contradicting it; and the
    outcomes that match no prediction, per target and month."""
    app = _app()
    moment = parse_as_of(as_of, app.tz)
    since = None
    if start is not None:
        since = datetime.combine(_parse_day(start, "--from"), datetime.min.time(), tzinfo=app.tz)
    with app.db.session() as session:
        states = [] if per_month else device_status(session, moment, since=since)
        months = outcome_months(session, since, moment, app.tz)
        orphans = [u.record() for u in unmatched_outcomes(session, moment, app.tz, since=since)]
    if unmatched:
        if fmt == "json":
            _echo_json(orphans)
        elif orphans:
            click.echo(render_table(orphans, list(orphans[0])))
        else:
            click.echo("no outcome without a prediction in the period")
        return
    if since is None and fmt != "json":
        local = moment.astimezone(app.tz).date().replace(day=1)
        first = date(local.year - (1 if local.month < 12 else 0), local.month % 12 + 1, 1)
        months = [m for m in months if m.month >= first]
    month_rows = [m.record() for m in months]
    if per_month:
        if fmt == "json":
            _echo_json(month_rows)
        elif month_rows:
            click.echo(render_table(month_rows, list(month_rows[0])))
        else:
            click.echo("no outcome in the period")
        return
    rows = [
        {**status_record(s, app.tz), "outcomes": outcome_totals(months, s.device_id)}
        for s in states
    ]
    if fmt == "json":
        _echo_json(rows)
        return
    click.echo(f"as of {moment.astimezone(app.tz).isoformat(timespec='seconds')}")
    shown = [{k: v for k, v in row.items() if k != "outcomes"} for row in rows]
    click.echo(render_table(shown, list(shown[0]) if shown else ["device"]))
    if month_rows:
        click.echo("")
        click.echo("outcomes per device and month (outcome date; quarantined: rows of the target)")
        click.echo(render_table(month_rows, list(month_rows[0])))
    if orphans:
        click.echo("")
        click.echo("outcomes matching no prediction, per target and month (outcome date)")
        click.echo(render_table(orphans, list(orphans[0])))


def _split_by(value: str | None) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


def _split_metrics(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise MonitorError(f"unknown metric {', '.join(unknown)}: use any of {', '.join(METRICS)}")
    return names


@cli.command("evaluate")
@common_options
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option(
    "--by",
    "by",
    multiple=True,
    help=(
        "Comma-separated dimensions of one breakdown (two give their intersection); "
        f"repeat for several breakdowns. Any of: {', '.join(BY_COLUMNS)}."
    ),
)
@click.option(
    "--all-subgroups",
    is_flag=True,
    help="The device, each configured subgroup dimension and each pair of them.",
)
@click.option("--window", type=click.Choice(WINDOWS), default="all", show_default=True)
@click.option(
    "--days",
    "rolling_days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Length of the rolling window (with --window rolling).",
)
@click.option(
    "--metrics",
    "metric_names",
    default=None,
    help=(
        "Comma-separated metrics (default: sensitivity, specificity, ppv, npv). "
        f"Any of: {', '.join(METRICS)}."
    ),
)
@click.option("--as-of", "as_of", default=None, help="Date (end of day) or date-time; default now.")
@click.option(
    "--from",
    "start",
    default=None,
    help="Only exams from this date on (YYYY-MM-DD, start of day); the whole-period "
    "window then starts there, e.g. --window all --from 2025-08-01 --as-of 2025-08-31.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
def evaluate(
    device_id: str | None,
    by: tuple[str, ...],
    all_subgroups: bool,
    window: str,
    rolling_days: int,
    metric_names: str | None,
    as_of: str | None,
    start: str | None,
    fmt: str,
) -> None:
    """Performance with confidence intervals per device x window x subgroup, as of a date.

    Cells with fewer verified cases than evaluation.min_cases are flagged too small,
    with the positives and exams needed for a precise sensitivity. Devices that declare
    operating points in the registry get, by default, the sensitivity and specificity
    at each of them from the scores.
    """
    app = _app()
    cfg = app.config
    moment = parse_as_of(as_of, app.tz)
    first = _parse_day(start, "--from") if start is not None else None
    breakdowns = [tuple(_split_by(b)) for b in by] or [()]
    if all_subgroups:
        breakdowns = all_breakdowns(cfg.subgroups.dimensions)
    metrics = _split_metrics(metric_names)
    db = app.summarised_db()
    with db.session() as session:
        if not metrics and any(
            spec.operating_points
            for spec in registry.list_devices(session)
            if device_id is None or spec.id == device_id
        ):
            metrics = (*EvaluationOptions().metrics, "operating_points")
        options = evaluation_options(cfg, window=window, rolling_days=rolling_days, metrics=metrics)
        results = stored_evaluation(
            session,
            as_of=moment,
            tz=app.tz,
            options=options,
            breakdowns=breakdowns,
            device_id=device_id,
            first=first,
        )
        since = (
            datetime.combine(first, datetime.min.time(), tzinfo=app.tz)
            if first is not None
            else None
        )
        months = [] if fmt != "table" else outcome_months(session, since, moment, app.tz)
    _emit_evaluation(results, breakdowns, options, moment, fmt)
    if fmt == "table" and results:
        # What the figures rest on: how the ground truth came in, per device and month.
        rows = [
            m.record()
            for m in months
            if m.device_id is not None and (device_id is None or m.device_id == device_id)
        ]
        if since is None and rows:
            last = max(r["month"] for r in rows)
            rows = [r for r in rows if r["month"] > f"{int(last[:4]) - 1}{last[4:]}"]
        if rows:
            click.echo("")
            click.echo("ground truth per device and month (outcome date): decided, unmentioned,")
            click.echo("uncertain, quarantined (`status --outcomes` for every month)")
            click.echo(render_table(rows, list(rows[0])))


def _emit_evaluation(
    results: list[dict[str, Any]],
    breakdowns: list[tuple[str, ...]],
    options: EvaluationOptions,
    moment: datetime,
    fmt: str,
) -> None:
    app = _app()
    if fmt == "json":
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        keys = list(dict.fromkeys(k for r in results for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        # Values from files (versions, subgroup values) are neutralised, not run as formulas.
        writer.writerows(
            {k: neutral_cell(json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()}
            for r in results
        )
        click.echo(buffer.getvalue(), nl=False)
        return
    click.echo(f"as of {moment.astimezone(app.tz).isoformat(timespec='seconds')}")
    if not results:
        click.echo("no predictions")
        return
    shown: list[str] = []
    for metric in options.metrics:
        shown += _TABLE_COLUMNS.get(metric, [metric])
    for breakdown in breakdowns:
        label = " x ".join(breakdown) or "device"
        rows = [r for r in results if len(breakdowns) == 1 or r.get("breakdown") == label]
        if len(breakdowns) > 1:
            click.echo(f"\n{label}")
        columns = ["device_id", "window", *breakdown, "n", "tp", "fp", "tn", "fn", "pending"]
        click.echo(
            render_table(
                [_table_row(r, options.window, shown) for r in rows],
                [*columns, *shown, "note"],
            )
        )


def _interval(result: dict[str, Any], name: str) -> str:
    value = result.get(name)
    if value is None:
        return "-"
    low, high = result.get(f"{name}_low"), result.get(f"{name}_high")
    if low is None or high is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}-{high:.3f}]"


_TABLE_COLUMNS = {
    "operating_points": ["operating points"],
    "calibration": ["calibration_intercept", "calibration_slope"],
    "verification": ["sensitivity_corrected", "specificity_corrected"],
    "claim": ["vs claim"],
    "vs_rest": ["sensitivity_vs_rest", "specificity_vs_rest"],
}
"""Table columns standing for a metric that gives several values."""


def _versus(result: dict[str, Any], name: str) -> str:
    if name == "vs claim":
        parts = []
        for metric, short in (("sensitivity", "sens"), ("specificity", "spec")):
            p = result.get(f"{metric}_claim_p")
            if p is not None:
                below = " BELOW" if result.get(f"{metric}_below_claim") else ""
                parts.append(f"{short} p={p:.2g}{below}")
        return "; ".join(parts) or "-"
    value, low, high = (result.get(f"{name}{x}") for x in ("", "_low", "_high"))
    if value is None:
        return "-"
    text = f"{value:+.3f}" + ("" if low is None or high is None else f" [{low:+.3f}, {high:+.3f}]")
    adjusted = result.get(f"{name}_p_holm")
    return text if adjusted is None else f"{text} p_holm={adjusted:.2g}"


def _points_text(result: dict[str, Any]) -> str:
    """The operating points of a row: ``name (threshold): sens .. [..], spec .. [..]``."""
    points = result.get("operating_points")
    if points is None:
        return "-"
    return (
        "; ".join(
            f"{p['name']} ({p['threshold']:g}): sens {_interval(p, 'sensitivity')}, "
            f"spec {_interval(p, 'specificity')}"
            for p in points
        )
        or "no scored case"
    )


def _table_row(result: dict[str, Any], window: str, shown: list[str]) -> dict[str, Any]:
    row = dict(result)
    row["window"] = window if window in ("all", "rolling") else result["window_start"][:10]
    for name in shown:
        if name == "operating points":
            row[name] = _points_text(result)
            continue
        row[name] = (
            _versus(result, name)
            if name == "vs claim" or "vs_rest" in name
            else (_interval(result, name))
        )
    note = ""
    if result.get("too_small"):
        needed = result.get("positives_needed")
        note = "too small" + (f": needs {needed:.0f} positives" if needed is not None else "")
        exams = result.get("exams_needed")
        if exams is not None:
            note += f" (~{exams:.0f} exams)"
    row["note"] = note
    return row


# --- detection ----------------------------------------------------------------------------


def _parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise MonitorError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from exc


def _parse_step(text: str) -> int:
    value = text.strip().lower()
    if not value.endswith("d") or not value[:-1].isdigit() or int(value[:-1]) < 1:
        raise MonitorError(f"--step {text!r}: give a number of days, e.g. 1d or 7d")
    return int(value[:-1])


def _subgroup_text(subgroup: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (subgroup or {}).items()) or "-"


def _finding_rows(records_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "incident": r.get("incident", r["id"]),
            "detected": (r["detected_at"] or "")[:10],
            "device": r["device_id"],
            "version": r["device_version"] or "all",
            "subgroup": _subgroup_text(r["subgroup"]),
            "rule": r["rule"],
            "metric": r["metric"] or "-",
            "severity": r["severity"],
            "since": (r["window_start"] or "")[:10] or "-",
            "status": r["status"],
        }
        for r in records_
    ]


_CHECK_WORDS: dict[str, tuple[str, str]] = {
    "new_head": ("Nouveau depuis le dernier contrôle", "New since the last check"),
    "nothing_new": (
        "Rien de nouveau depuis le dernier contrôle.",
        "Nothing new since the last check.",
    ),
    "new": ("NOUVEL incident", "NEW incident"),
    "updated": ("Incident mis à jour", "UPDATED incident"),
    "new_findings": ("nouveau(x) constat(s)", "new finding(s)"),
    "information": ("Information", "Information"),
    "finding": ("constat", "finding"),
    "more": ("et {n} autre(s)", "and {n} more"),
    "active": (
        "Toujours actifs : {incidents} incident(s) ({severities}), {findings} constat(s) au "
        "total dont {info} d'information. Détails : dmn-monitor findings list, findings show N.",
        "Still active: {incidents} incident(s) ({severities}), {findings} finding(s) in all, "
        "{info} informational. Details: dmn-monitor findings list, findings show ID.",
    ),
}
_SEVERITY_WORDS: dict[str, tuple[str, str]] = {
    "critical": ("critique", "critical"),
    "warning": ("avertissement", "warning"),
    "info": ("information", "information"),
}
_MAX_NEW_SHOWN = 3


def _word(key: str, lang: str, **values: Any) -> str:
    text = _CHECK_WORDS[key][0 if lang == "fr" else 1]
    return text.format(**values) if values else text


def _check_text(view: NewSince, devices: dict[str, Any], lang: str) -> list[str]:
    """``check``'s report: the incidents new or updated by the run, then the new
    informational findings, then one line of what is still active."""
    from alerts.incident_texts import finding_text, supporting_text

    i = 0 if lang == "fr" else 1
    touched = view.touched()
    alarms = [inc for inc in touched if inc.alarm]
    notes = [inc for inc in touched if not inc.alarm]
    lines: list[str] = []
    if not touched:
        lines.append(_word("nothing_new", lang))
    else:
        lines.append(_word("new_head", lang) + (" :" if lang == "fr" else ":"))
    for incident in alarms:
        device = devices.get(incident.device_id)
        head = _word("new" if view.is_new(incident) else "updated", lang)
        severity = _SEVERITY_WORDS[incident.severity][i]
        lines.append(f"{head} {incident.id} - {incident.device_id} - {severity}")
        lines.append(f"  {incident.summary(lang, device)}")
        evidence = supporting_text(incident, lang)
        if evidence:
            lines.append(f"  {evidence}")
        if not view.is_new(incident):
            fresh = [r for r in incident.findings if int(r["id"]) in view.fresh]
            lines.append(f"  {len(fresh)} {_word('new_findings', lang)}:")
            for record in fresh[:_MAX_NEW_SHOWN]:
                lines.append(f"    #{record['id']} {finding_text(record, lang, device)}")
            if len(fresh) > _MAX_NEW_SHOWN:
                lines.append(f"    {_word('more', lang, n=len(fresh) - _MAX_NEW_SHOWN)}")
    for incident in notes:
        for record in incident.findings:
            if int(record["id"]) not in view.fresh:
                continue
            text = finding_text(record, lang, devices.get(incident.device_id))
            lines.append(
                f"{_word('information', lang)} - {_word('finding', lang)} {record['id']} - "
                f"{incident.device_id}: {text}"
            )
    active = [inc for inc in view.incidents if inc.alarm]
    counts = {s: sum(1 for inc in active if inc.severity == s) for s in ("critical", "warning")}
    colon = " : " if lang == "fr" else ": "
    severities = (
        ", ".join(f"{_SEVERITY_WORDS[s][i]}{colon}{n}" for s, n in counts.items() if n) or "-"
    )
    everything = [r for inc in view.incidents for r in inc.findings]
    lines.append(
        _word(
            "active",
            lang,
            incidents=len(active),
            severities=severities,
            findings=len(everything),
            info=sum(1 for r in everything if r.get("severity") == "info"),
        )
    )
    return lines


@cli.command("check")
@common_options
@click.option("--as-of", "as_of", default=None, help="Date (end of day) or date-time; default now.")
@click.option("--from", "start", default=None, help="First date of a replay (YYYY-MM-DD).")
@click.option("--to", "end", default=None, help="Last date of a replay (YYYY-MM-DD).")
@click.option("--step", default="1d", show_default=True, help="Replay step in days, e.g. 1d, 7d.")
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--lang",
    type=click.Choice(["en", "fr"]),
    default="en",
    show_default=True,
    help="Language of the incidents' texts.",
)
def check(
    as_of: str | None,
    start: str | None,
    end: str | None,
    step: str,
    device_id: str | None,
    fmt: str,
    lang: str,
) -> None:
    """Run every detection rule as of a date, or as of each date of a replay; store findings.

    Each as-of date sees only the data known then. Findings are stored once (one open
    finding per device, version, subgroup, rule and metric). Printed: the incidents
    this run created or updated, in plain words, the new informational findings, and
    one line of what is still active (``findings list`` shows everything). JSON: the
    ``incidents`` new or updated by the run, every ``findings`` it raised or saw again
    (``new`` when it created or escalated them) and the ``active`` counts.
    """
    from alerts.workflow import ACTIVE_STATUSES
    from monitor.detection import check_dates, run_checks
    from monitor.findings import finding_record, list_findings
    from monitor.incident_view import (
        active_records,
        annotate,
        device_entries,
        incident_json,
        new_since,
    )
    from monitor.notify import notify
    from monitor.review import sample_discordant

    app = _app()
    if (start is None) != (end is None):
        raise MonitorError("a replay needs both --from and --to")
    if start is not None and end is not None:
        if as_of is not None:
            raise MonitorError("give either --as-of or --from/--to, not both")
        dates = check_dates(
            _parse_day(start, "--from"), _parse_day(end, "--to"), _parse_step(step), app.tz
        )
    else:
        dates = [parse_as_of(as_of, app.tz)]
    db = app.summarised_db()
    with db.session.begin() as session:
        before = {
            f.id: f.severity
            for f in list_findings(session, device_id=device_id, statuses=list(ACTIVE_STATUSES))
        }
        found = run_checks(session, app.config, dates, device_id=device_id)
        result = [finding_record(f, app.tz) for f in found]
        active = active_records(session, app.tz, device_id)
        devices = device_entries(session)
    view = new_since(before, result, active)
    click.echo(f"checked {len(dates)} date(s): {len(result)} finding(s)", err=True)
    # The findings are committed; the review queue and the notifications come after
    # and can never undo or block them.
    with db.session.begin() as session:
        queued = sample_discordant(
            session, app.config.review.discordant_sample_rate, device_id=device_id
        )
    if queued:
        click.echo(f"{queued} discordant case(s) added to the review queue", err=True)
    if app.config.notifications.channels:
        report = notify(db, app.config, environ=os.environ)
        click.echo(
            f"notifications: {report.sent} sent, {report.failed} failed, {report.pending} pending",
            err=True,
        )
    if fmt == "json":
        annotate(result, view.incidents, devices)
        for record in result:
            record["new"] = record["id"] in view.fresh
        alarms = [i for i in view.incidents if i.alarm]
        _echo_json(
            {
                "dates": len(dates),
                "incidents": [
                    {
                        **incident_json(i, devices),
                        "new": view.is_new(i),
                        "new_findings": view.fresh_in(i),
                    }
                    for i in view.touched()
                ],
                "findings": result,
                "active": {
                    "incidents": len(alarms),
                    "critical": sum(1 for i in alarms if i.severity == "critical"),
                    "warning": sum(1 for i in alarms if i.severity == "warning"),
                    "findings": sum(len(i.findings) for i in view.incidents),
                },
            }
        )
        return
    click.echo("\n".join(_check_text(view, devices, lang)))


@cli.group(cls=_Group)
def findings() -> None:
    """Findings and their review: list, show, ack, confirm, dismiss, act, close, reopen."""


_FINDING_STATUS_CHOICES = ["active", *FINDING_STATUSES, "all"]


@findings.command("list")
@common_options
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option(
    "--status",
    "status_",
    type=click.Choice(_FINDING_STATUS_CHOICES),
    default="active",
    show_default=True,
    help="active = open, acknowledged, confirmed or action_taken.",
)
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--lang",
    type=click.Choice(["en", "fr"]),
    default="en",
    show_default=True,
    help="Language of the incidents' texts.",
)
def findings_list(device_id: str | None, status_: str, limit: int, fmt: str, lang: str) -> None:
    """Findings by incident: each incident in plain words (its root, the narrowest slice
    explaining the drop, then the evidence), then the findings, each incident's root
    first. JSON: the findings, newest detection first, each with its ``incident`` (the
    root's id), ``incident_root`` and plain ``text`` (fr, en)."""
    from alerts.incident_texts import supporting_text
    from alerts.incidents import group_incidents
    from alerts.workflow import ACTIVE_STATUSES
    from monitor.findings import finding_record, list_findings
    from monitor.incident_view import annotate, device_entries

    app = _app()
    statuses: list[str] | None
    if status_ == "all":
        statuses = None
    elif status_ == "active":
        statuses = list(ACTIVE_STATUSES)
    else:
        statuses = [status_]
    with app.db.session() as session:
        found = list_findings(session, device_id=device_id, statuses=statuses, limit=limit)
        result = [finding_record(f, app.tz) for f in found]
        devices = device_entries(session, {r["device_id"] for r in result})
    grouped = group_incidents(result)
    annotate(result, grouped, devices)
    if fmt == "json":
        _echo_json(result)
        return
    if not result:
        click.echo("no findings")
        return
    i = 0 if lang == "fr" else 1
    for incident in (g for g in grouped if g.alarm):
        severity = _SEVERITY_WORDS[incident.severity][i]
        click.echo(
            f"Incident {incident.id} - {incident.device_id} - {severity} - "
            f"{len(incident.findings)} {_word('finding', lang)}(s)"
        )
        click.echo(f"  {incident.summary(lang, devices.get(incident.device_id))}")
        evidence = supporting_text(incident, lang)
        if evidence:
            click.echo(f"  {evidence}")
    order = {fid: n for n, g in enumerate(grouped) for fid in g.finding_ids}
    shown = sorted(result, key=lambda r: (order[r["id"]], not r["incident_root"]))
    rows = _finding_rows(shown)
    click.echo(render_table(rows, list(rows[0])))


def _show_finding(detail: dict[str, Any], lang: str = "en") -> None:
    """A finding as text: what it is, its numbers, its actions and its history."""
    subgroup = _subgroup_text(detail["subgroup"]) or "all cases"
    lines = [
        f"finding {detail['id']}  [{detail['severity']}]  status: {detail['status']}",
        f"  device {detail['device_id']} {detail['device_version'] or ''} - {subgroup}",
        f"  rule {detail['rule']}  metric {detail['metric'] or '-'}  "
        f"value {_number(detail['value'])}  threshold {_number(detail['threshold'])}",
        f"  window {detail['window_start'] or '-'} .. {detail['window_end'] or '-'}",
        f"  detected {detail['detected_at']}  last seen {detail['last_seen_at']}  "
        f"({detail['occurrences']} check(s))",
    ]
    if detail["dismissal_reason"]:
        lines.append(f"  dismissed as: {detail['dismissal_reason']}")
    if detail.get("text"):
        lines.insert(1, f"  {detail['text'][lang]}")
    if detail.get("incident") is not None:
        others = len(detail.get("related") or [])
        if detail.get("incident_root"):
            lines.append(f"  root of incident {detail['incident']} ({others} other finding(s))")
        else:
            lines.append(
                f"  supports incident {detail['incident']}: "
                f"{detail['incident_summary'][lang]} ({others} other finding(s))"
            )
    click.echo("\n".join(lines))
    if detail["actions"]:
        click.echo("corrective actions:")
        rows = [
            {
                "id": a["id"],
                "kind": a["kind"],
                "owner": a["owner"],
                "due": a["due_date"] or "",
                "done": a["done_date"] or "",
                "description": a["description"],
            }
            for a in detail["actions"]
        ]
        click.echo(render_table(rows, list(rows[0])))
    click.echo("history:")
    rows = [
        {
            "at": h["at"],
            "by": h["actor"],
            "action": h["action"],
            "comment": h["details"].get("comment", ""),
        }
        for h in detail["history"]
    ]
    click.echo(render_table(rows, ["at", "by", "action", "comment"]))


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


@findings.command("show")
@common_options
@click.argument("finding_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--lang",
    type=click.Choice(["en", "fr"]),
    default="en",
    show_default=True,
    help="Language of the plain texts.",
)
def findings_show(finding_id: int, fmt: str, lang: str) -> None:
    """One finding with its evidence, corrective actions and audit history."""
    from monitor.workflow import finding_detail

    app = _app()
    with app.db.session() as session:
        detail = finding_detail(session, finding_id, app.tz)
    if fmt == "json":
        _echo_json(detail)
    else:
        _show_finding(detail, lang)


def _review_options(func: F) -> F:
    func = click.option("--comment", required=True, help="Why (recorded in the audit log).")(func)
    func = click.option(
        "--user", required=True, help="Who takes the step (recorded in the audit log)."
    )(func)
    return func


def _with_related(func: F) -> F:
    return click.option(
        "--with-related",
        is_flag=True,
        help=(
            "Also dismiss the open or acknowledged findings of the same incident (the same "
            "degradation in other slices; see `findings list`, column incident)."
        ),
    )(func)


def _step(finding_id: int, verb: str, user: str, comment: str, **extra: Any) -> None:
    from monitor import workflow

    step = getattr(workflow, verb)
    app = _app()
    if extra.get("with_related"):
        extra["tz"] = app.tz
    with app.db.session.begin() as session:
        finding = step(session, finding_id, user=user.strip(), comment=comment, **extra)
        click.echo(f"finding {finding.id} is now {finding.status} ({user.strip()})")
        if extra.get("with_related"):
            covered = workflow.covered_findings(session, finding_id)
            names = ", ".join(str(f.id) for f in covered) or "none"
            click.echo(f"dismissed with it as the same incident: {names}")


@findings.command("ack")
@common_options
@click.argument("finding_id", type=int)
@_review_options
def findings_ack(finding_id: int, user: str, comment: str) -> None:
    """Acknowledge an open finding: its chart restarts after the finding's detection."""
    _step(finding_id, "acknowledge", user, comment)


@findings.command("confirm")
@common_options
@click.argument("finding_id", type=int)
@_with_related
@_review_options
def findings_confirm(finding_id: int, user: str, comment: str, with_related: bool) -> None:
    """Confirm an acknowledged finding as a malfunction (then: act, vigilance draft)."""
    _step(finding_id, "confirm", user, comment, with_related=with_related)


@findings.command("dismiss")
@common_options
@click.argument("finding_id", type=int)
@click.option(
    "--reason",
    required=True,
    type=click.Choice(list(DISMISSAL_REASONS)),
    help=(
        "expected_variation, data_error, known_limitation (in the IFU), same_root_cause "
        "(covered by another finding) or other."
    ),
)
@_with_related
@_review_options
def findings_dismiss(
    finding_id: int, reason: str, user: str, comment: str, with_related: bool
) -> None:
    """Dismiss an acknowledged finding, with a reason from the list and a comment."""
    _step(finding_id, "dismiss", user, comment, reason=reason, with_related=with_related)


@findings.command("act")
@common_options
@click.argument("finding_id", type=int)
@click.option("--kind", required=True, type=click.Choice(list(ACTION_KINDS)))
@click.option("--description", required=True, help="What is done.")
@click.option("--owner", required=True, help="Who is responsible for the action.")
@click.option("--due", default=None, help="Due date (YYYY-MM-DD).")
@click.option("--done", default=None, help="Done date, if already done (YYYY-MM-DD).")
@_review_options
def findings_act(
    finding_id: int,
    kind: str,
    description: str,
    owner: str,
    due: str | None,
    done: str | None,
    user: str,
    comment: str,
) -> None:
    """Record a corrective action on a confirmed finding."""
    from monitor.workflow import ActionInput, add_action

    action = ActionInput(
        kind=kind,
        description=description,
        owner=owner,
        due_date=_parse_day(due, "--due") if due else None,
        done_date=_parse_day(done, "--done") if done else None,
    )
    with _app().db.session.begin() as session:
        row = add_action(session, finding_id, action, user=user, comment=comment)
        click.echo(f"action {row.id} recorded on finding {finding_id} (owner {row.owner})")


@findings.command("action-done")
@common_options
@click.argument("action_id", type=int)
@click.option("--date", "done", default=None, help="Done date (YYYY-MM-DD); default today.")
@_review_options
def findings_action_done(action_id: int, done: str | None, user: str, comment: str) -> None:
    """Mark a corrective action done."""
    from monitor.workflow import complete_action

    app = _app()
    day = _parse_day(done, "--date") if done else datetime.now(app.tz).date()
    with app.db.session.begin() as session:
        row = complete_action(session, action_id, done=day, user=user, comment=comment)
        click.echo(f"action {row.id} done on {row.done_date}")


@findings.command("close")
@common_options
@click.argument("finding_id", type=int)
@_review_options
def findings_close(finding_id: int, user: str, comment: str) -> None:
    """Close a dismissed finding, or a confirmed one whose actions are all done."""
    _step(finding_id, "close", user, comment)


@findings.command("reopen")
@common_options
@click.argument("finding_id", type=int)
@_review_options
def findings_reopen(finding_id: int, user: str, comment: str) -> None:
    """Reopen a dismissed or closed finding."""
    _step(finding_id, "reopen", user, comment)


_CASE_COLUMNS = [
    "case_ref",
    "device_version",
    "exam_datetime",
    "ai_result",
    "ai_score",
    "status",
    "outcome",
    "outcome_source",
    "outcome_datetime",
]


@findings.command("cases")
@common_options
@click.argument("finding_id", type=int)
@click.option("--discordant", is_flag=True, help="Only false negatives and false positives.")
@click.option("--all", "every", is_flag=True, help="Also cases outside the finding's metric.")
@click.option("--queue", is_flag=True, help="Put its discordant cases in the review queue.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def findings_cases(finding_id: int, discordant: bool, every: bool, queue: bool, fmt: str) -> None:
    """The cases behind a finding (pseudonymised references), with what is known now."""
    from monitor.findings import get_finding
    from monitor.review import case_summary, finding_cases, sample_discordant

    app = _app()
    with app.summarised_db().session.begin() as session:
        finding = get_finding(session, finding_id)
        cases = finding_cases(session, finding, app.tz)
        summary = case_summary(cases)
        queued = sample_discordant(session, 1.0, finding=finding) if queue else 0
    shown = [c for c in cases if (every or c["in_metric"]) and (not discordant or c["discordant"])]
    if fmt == "json":
        _echo_json({"finding_id": finding_id, "summary": summary, "cases": shown})
        return
    click.echo(
        f"finding {finding_id}: {summary['cases']} case(s) in its window and slice, "
        f"{summary['in_metric']} in its metric, of which {summary['in_metric_discordant']} "
        "discordant",
        err=True,
    )
    if queue:
        click.echo(f"{queued} case(s) added to the review queue", err=True)
    click.echo(render_table(shown, _CASE_COLUMNS) if shown else "no cases")


@cli.group(cls=_Group)
def review() -> None:
    """The case review queue: sample discordant cases, adjudicate, skip."""


@review.command("list")
@common_options
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option(
    "--status",
    "status_",
    type=click.Choice(["pending", "adjudicated", "skipped", "all"]),
    default="pending",
    show_default=True,
)
@click.option("--finding", "finding_id", type=int, default=None, help="Only this finding's.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def review_list(
    device_id: str | None, status_: str, finding_id: int | None, limit: int, fmt: str
) -> None:
    """Queued cases, oldest first, with the queue's progress."""
    from monitor.review import queue_counts, review_items

    app = _app()
    status = None if status_ == "all" else status_
    with app.summarised_db().session() as session:
        items = review_items(
            session,
            app.tz,
            device_id=device_id,
            finding_id=finding_id,
            status=status,
            limit=limit,
        )
        counts = queue_counts(session, device_id)
    if fmt == "json":
        _echo_json({"counts": counts, "items": items})
        return
    done = counts["adjudicated"] + counts["skipped"]
    total = done + counts["pending"]
    click.echo(
        f"review queue: {counts['pending']} pending, {counts['adjudicated']} adjudicated, "
        f"{counts['skipped']} skipped ({done}/{total} reviewed)",
        err=True,
    )
    columns = ["case_ref", "device_id", "reason", "queue_status", *_CASE_COLUMNS[2:]]
    click.echo(render_table(items, columns) if items else "no queued cases")


@review.command("sample")
@common_options
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option(
    "--rate",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Share of discordant cases to queue (default: review.discordant_sample_rate).",
)
def review_sample(device_id: str | None, rate: float | None) -> None:
    """Queue a sample of the discordant cases not queued yet."""
    from monitor.review import sample_discordant

    app = _app()
    chosen = app.config.review.discordant_sample_rate if rate is None else rate
    with app.summarised_db().session.begin() as session:
        added = sample_discordant(session, chosen, device_id=device_id)
    click.echo(f"{added} discordant case(s) added to the review queue (rate {chosen:g})")


@review.command("adjudicate")
@common_options
@click.argument("case")
@click.option("--outcome", required=True, type=click.Choice(["positive", "negative"]))
@_review_options
def review_adjudicate(case: str, outcome: str, user: str, comment: str) -> None:
    """Record the reviewer's outcome for a case (case-N); it outranks every other source."""
    from monitor.review import adjudicate

    with _app().summarised_db().session.begin() as session:
        result = adjudicate(session, case, outcome, user=user, comment=comment)
    click.echo(
        f"{result['case_ref']} adjudicated {outcome} by {user}: "
        f"{result['status_before']} -> {result['status_after']}"
    )


@review.command("skip")
@common_options
@click.argument("case")
@_review_options
def review_skip(case: str, user: str, comment: str) -> None:
    """Skip a queued case that cannot be decided now."""
    from monitor.review import skip

    with _app().db.session.begin() as session:
        item = skip(session, case, user=user, comment=comment)
        click.echo(f"case-{item.prediction_id} skipped by {user}")


@cli.group(cls=_Group)
def audit() -> None:
    """The append-only audit log."""


@audit.command("list")
@common_options
@click.option("--entity", default=None, help="Only this kind of entity (finding, device, case).")
@click.option("--id", "entity_id", default=None, help="Only this entity (e.g. a finding id).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def audit_list(entity: str | None, entity_id: str | None, limit: int, fmt: str) -> None:
    """Audit entries, oldest first of the newest LIMIT: who, when, what."""
    from monitor.audit import list_entries

    app = _app()
    with app.db.session() as session:
        entries = list_entries(session, entity=entity, entity_id=entity_id, limit=limit)
        result = [
            {
                "at": local_iso(e.at, app.tz),
                "actor": e.actor,
                "action": e.action,
                "entity": e.entity,
                "entity_id": e.entity_id,
                "details": e.details,
            }
            for e in reversed(entries)
        ]
    if fmt == "json":
        _echo_json(result)
        return
    rows = [
        {
            "at": r["at"],
            "actor": r["actor"],
            "action": r["action"],
            "entity": f"{r['entity']} {r['entity_id'] or ''}".strip(),
            "details": json.dumps(r["details"], ensure_ascii=False)[:80],
        }
        for r in result
    ]
    columns = ["at", "actor", "action", "entity", "details"]
    click.echo(render_table(rows, columns) if rows else "no audit entries")


def _device_history(device_id: str, moment: datetime) -> Any:
    from monitor.kept_history import kept_history

    app = _app()
    with app.db.session() as session:
        spec = registry.get_device(session, device_id)
        history, _ = kept_history(session, spec, moment, app.config.subgroups.age_bands, keep=False)
        return history


@cli.command("drift")
@common_options
@click.option("--device", "device_id", required=True, help="The device.")
@click.option("--as-of", "as_of", default=None, help="Date (end of day) or date-time; default now.")
@click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also save Evidently's full drift report (self-contained HTML) to this file.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def drift(device_id: str, as_of: str | None, report: str | None, fmt: str) -> None:
    """Inputs and outputs of the last detection.drift_window_days against the reference."""
    from monitor.history import to_ns
    from monitor.label_free import drift_frames, drift_rows, write_device_drift_report

    app = _app()
    moment = parse_as_of(as_of, app.tz)
    frames = drift_frames(_device_history(device_id, moment), app.config, to_ns(moment))
    rows = drift_rows(frames, app.config.detection.drift_min_exams)
    if fmt == "json":
        _echo_json(rows)
    else:
        click.echo(render_table(rows, list(rows[0])) if rows else "no column to compare")
    if report is not None:
        title = f"{device_id}: drift as of {moment.astimezone(app.tz).date().isoformat()}"
        path = write_device_drift_report(frames, Path(report), title)
        click.echo(f"drift report written to {path}", err=True)


@cli.command("chart")
@common_options
@click.option("--device", "device_id", required=True, help="The device.")
@click.option("--metric", type=click.Choice(["sensitivity", "specificity"]), default="sensitivity")
@click.option("--version", "version", default=None, help="One software version (default: all).")
@click.option(
    "--subgroup", default=None, help="One subgroup as dimension=value (default: whole device)."
)
@click.option("--as-of", "as_of", default=None, help="Date (end of day) or date-time; default now.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def chart(
    device_id: str,
    metric: str,
    version: str | None,
    subgroup: str | None,
    as_of: str | None,
    fmt: str,
) -> None:
    """One control chart (CUSUM or EWMA) as `check` runs it: statistic, decision limit, signal."""
    from monitor.control_charts import chart_summary, device_chart_paths, slice_key

    app = _app()
    moment = parse_as_of(as_of, app.tz)
    group = None
    if subgroup is not None:
        dimension, sep, value = subgroup.partition("=")
        if not sep or not dimension.strip() or not value.strip():
            raise MonitorError(f"--subgroup {subgroup!r}: give dimension=value, e.g. site=CHU-Sud")
        group = {dimension.strip(): value.strip()}
    key = slice_key(version, group, metric)
    history = _device_history(device_id, moment)
    with app.db.session() as session:
        paths = device_chart_paths(session, app.config, history, moment, [key])
    if not paths:
        raise MonitorError(
            f"no active {metric} chart for {device_id} {key!r} as of {moment.date()}: a chart "
            "needs verified cases in the last year (with one version, give no --version)"
        )
    summary = chart_summary(paths[0], app.tz)
    if fmt == "json":
        _echo_json(summary)
        return
    click.echo(render_table([summary], [k for k in summary if k not in ("key", "subgroup")]))


@cli.command("estimate")
@common_options
@click.option("--device", "device_id", required=True, help="The device.")
@click.option("--as-of", "as_of", default=None, help="Date (end of day) or date-time; default now.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def estimate(device_id: str, as_of: str | None, fmt: str) -> None:
    """Per month: sensitivity and specificity estimated from scores (CBPE) against realised."""
    from monitor.history import to_ns
    from monitor.label_free import estimated_vs_realised

    app = _app()
    moment = parse_as_of(as_of, app.tz)
    rows = estimated_vs_realised(_device_history(device_id, moment), app.config, to_ns(moment))
    if fmt == "json":
        _echo_json(rows)
        return
    table = [
        {
            "month": r["window_start"][:7],
            "cases": r["cases"],
            "verified": r["verified_share"],
            **{
                f"{kind} {m[:4]}": _interval(
                    {
                        m: r[f"{kind}_{m}"],
                        f"{m}_low": r[f"{kind}_{m}_low"],
                        f"{m}_high": r[f"{kind}_{m}_high"],
                    },
                    m,
                )
                for m in ("sensitivity", "specificity")
                for kind in ("estimated", "realised")
            },
        }
        for r in rows
    ]
    click.echo(render_table(table, list(table[0])) if table else "no month after the reference")


# --- demo ---------------------------------------------------------------------------------


@cli.command("demo")
@common_options
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="demo-output",
    show_default=True,
    help="Folder for the generated files and the demo's SQLite database.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the demo's own).")
def demo(out: str, seed: int | None) -> None:
    """Generate a synthetic year for two devices, ingest, link, evaluate and summarise it."""
    from monitor.demo import run_demo

    run_demo(Path(out), seed=seed, db_url=_app().db_url, echo=click.echo)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="dmn-monitor")


if __name__ == "__main__":
    main()
