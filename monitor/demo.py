"""``dmn-monitor demo``: a synthetic year, ingested, linked, evaluated and summarised.

Everything goes through the same code as real use: the generator writes vendor
and canonical CSV files, a registry and a configuration into the output folder;
the demo then imports the registry, ingests every configured source into a fresh
SQLite database there and evaluates as of the last day of the year. The summary
is computed, not scripted: it lists the cells whose interval lies wholly below the
claimed performance, which is where the injected degradation shows up; then it
replays every detection rule day by day over the year and lists the first alarms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alerts.findings import PERFORMANCE_RULES
from alerts.incident_texts import supporting_text
from alerts.incidents import group_incidents
from monitor.config import Config, load_config
from monitor.demo_data import Degradation, DemoParameters, generate_demo, write_demo_files
from monitor.detection import check_dates, run_checks
from monitor.errors import MonitorError
from monitor.evaluation import evaluate_cases
from monitor.findings import finding_record
from monitor.incident_view import device_entries
from monitor.linking import linked_cases
from monitor.pseudonym import generate_key
from monitor.registry import import_registry, list_devices, load_registry_file
from monitor.sources import ingest_sources
from monitor.status import device_status
from monitor.storage import open_database
from monitor.tables import render_table
from monitor.timeutil import end_of_day

__all__ = ["BelowClaim", "find_below_claim", "run_demo"]

Echo = Callable[[str], Any]
_SHOWN = 10  # rows of the below-claim table, lowest upper bound first


@dataclass(frozen=True)
class BelowClaim:
    """A cell whose interval for ``metric`` lies wholly below the claimed value."""

    device_id: str
    dimensions: dict[str, Any]
    metric: str
    value: float
    low: float
    high: float
    claimed: float
    n: int


def find_below_claim(
    cells: list[dict[str, Any]], claims: dict[str, dict[str, float]], by: list[str]
) -> list[BelowClaim]:
    """Cells (from :func:`evaluate_cases`) where ``metric_high`` < the device's claim."""
    found = []
    for cell in cells:
        for metric, claimed in claims.get(cell["device_id"], {}).items():
            high = cell.get(f"{metric}_high")
            if high is not None and high < claimed:
                found.append(
                    BelowClaim(
                        device_id=cell["device_id"],
                        dimensions={k: cell[k] for k in by},
                        metric=metric,
                        value=cell[metric],
                        low=cell[f"{metric}_low"],
                        high=high,
                        claimed=claimed,
                        n=cell["tp"] + cell["fn"]
                        if metric == "sensitivity"
                        else cell["tn"] + cell["fp"],
                    )
                )
    return found


def _ci(cell: dict[str, Any], metric: str) -> str:
    if cell[metric] is None:
        return "-"
    return f"{cell[metric]:.2f} [{cell[f'{metric}_low']:.2f}-{cell[f'{metric}_high']:.2f}]"


def run_demo(
    out: Path, *, seed: int | None = None, db_url: str | None = None, echo: Echo = print
) -> list[BelowClaim]:
    """Generate, ingest, link, evaluate and print the summary; returns the below-claim cells.

    The database is a fresh SQLite file in ``out``, or ``db_url`` (e.g. PostgreSQL),
    which must then hold no device yet: the demo never mixes with real data.
    """
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("dmn-monitor.db*"):
        stale.unlink()
    params = DemoParameters() if seed is None else DemoParameters(seed=seed)
    files = write_demo_files(generate_demo(params), out)
    config = load_config(files.config)
    if db_url is not None:
        config = config.with_database_url(db_url)
    tz = ZoneInfo(config.time.timezone)
    echo(f"Demo: a synthetic year for two AI devices, written to {out}/")
    echo(
        "A pseudonymisation key was generated for this demo and not kept; real use "
        f"needs {config.pseudonymisation.key_env}."
    )
    key = generate_key().encode("utf-8")

    db = open_database(config.database.url)
    try:
        with db.session.begin() as session:
            if list_devices(session):
                raise MonitorError(
                    "the demo needs an empty database, and this one already has devices: "
                    "give another --db, or none for a SQLite file in the --out folder"
                )
            import_registry(session, load_registry_file(files.registry), actor="demo")
        echo("\nIngestion")
        for path, outcome in ingest_sources(db, config, key, skip_ingested=False):
            if isinstance(outcome, MonitorError):
                raise outcome
            echo(f"  {path.name}: {outcome.summary()}")

        last_day = params.start + timedelta(days=params.days - 1)
        as_of = end_of_day(last_day, tz)
        with db.session() as session:
            specs = {spec.id: spec for spec in list_devices(session)}
            states = device_status(session, as_of)
            cases = linked_cases(session, as_of)
    finally:
        db.dispose()

    echo(f"\nStatus as of {last_day.isoformat()} (data time)")
    echo(
        render_table(
            [
                {
                    "device": s.device_id,
                    "predictions": s.predictions,
                    "linked": s.linked,
                    "awaiting_truth": s.pending,
                    "median_label_delay_days": s.median_label_delay_days,
                }
                for s in states
            ],
            ["device", "predictions", "linked", "awaiting_truth", "median_label_delay_days"],
        )
    )

    overall = evaluate_cases(cases, as_of=as_of, tz=tz)
    echo("\nPerformance over the year against the claim (Wilson 95% intervals)")
    echo(
        render_table(
            [
                {
                    "device": c["device_id"],
                    "n": c["n"],
                    "sensitivity": _ci(c, "sensitivity"),
                    "claimed_sens": specs[c["device_id"]].claims().get("sensitivity", "no claim"),
                    "specificity": _ci(c, "specificity"),
                    "claimed_spec": specs[c["device_id"]].claims().get("specificity", "no claim"),
                }
                for c in overall
            ],
            ["device", "n", "sensitivity", "claimed_sens", "specificity", "claimed_spec"],
        )
    )

    monthly = evaluate_cases(cases, as_of=as_of, tz=tz, window="month")
    echo("\nMonthly sensitivity")
    echo(
        render_table(
            [
                {
                    "month": c["window_start"][:7],
                    "device": c["device_id"],
                    "positives": c["tp"] + c["fn"],
                    "sensitivity": _ci(c, "sensitivity"),
                    "pending": c["pending"],
                }
                for c in monthly
            ],
            ["month", "device", "positives", "sensitivity", "pending"],
        )
    )

    claims = {spec.id: spec.claims() for spec in specs.values()}
    findings: list[BelowClaim] = []
    dimensions = [d for d in config.subgroups.dimensions if d != "device_version"]
    for dimension in dimensions:
        by = ["device_version", dimension]
        cells = evaluate_cases(
            cases, as_of=as_of, tz=tz, by=by, age_bands=config.subgroups.age_bands
        )
        findings.extend(find_below_claim(cells, claims, by))

    echo(
        "\nSubgroups whose 95% interval lies wholly below the claim "
        f"(version x {', '.join(dimensions)})"
    )
    shown = sorted(findings, key=lambda f: f.high)[:_SHOWN]
    if findings:
        echo(
            render_table(
                [
                    {
                        "device": f.device_id,
                        "subgroup": ", ".join(f"{k}={v}" for k, v in f.dimensions.items()),
                        "metric": f.metric,
                        "n": f.n,
                        "observed": f"{f.value:.2f} [{f.low:.2f}-{f.high:.2f}]",
                        "claimed": f.claimed,
                    }
                    for f in shown
                ],
                ["device", "subgroup", "metric", "n", "observed", "claimed"],
            )
        )
        if len(findings) > len(shown):
            echo(f"  ... and {len(findings) - len(shown)} more")
    else:
        echo("  none")
    _replay_detection(config, params, tz, echo)
    echo(f"\nDone in {time.perf_counter() - started:.1f} s. Explore with:")
    where = f"--config {files.config}" + (f" --db {db_url}" if db_url else "")
    echo(f"  dmn-monitor status {where} --as-of {last_day.isoformat()}")
    echo(
        f"  dmn-monitor evaluate {where} --device fracture-xr "
        f"--by device_version,scanner_manufacturer --as-of {last_day.isoformat()}"
    )
    echo(f"  dmn-monitor findings list {where}")
    # The first whole month of the injected degradation: red on the report's first page.
    degraded = (Degradation.of(params).start.replace(day=28) + timedelta(days=4)).replace(day=1)
    echo(
        f"  dmn-monitor report monthly {where} --month {degraded:%Y-%m} "
        f"--out {files.config.parent / 'reports'}"
    )
    return findings


def _replay_detection(config: Config, params: DemoParameters, tz: ZoneInfo, echo: Echo) -> None:
    """Replay every detection rule day by day over the year; print the incidents in plain
    words, then the first alarms by date as their evidence."""
    dates = check_dates(params.start, params.start + timedelta(days=params.days - 1), 1, tz)
    db = open_database(config.database.url)
    try:
        with db.session.begin() as session:
            found = run_checks(session, config, dates)
            records = [finding_record(f, tz) for f in found]
            devices = device_entries(session)
    finally:
        db.dispose()
    alarms = sorted(
        (r for r in records if r["rule"] in PERFORMANCE_RULES and r["severity"] != "info"),
        key=lambda r: r["escalated_at"] or r["detected_at"],
    )
    grouped = [i for i in group_incidents(records) if i.alarm]
    echo(
        f"\nDetection, replayed day by day: {len(records)} findings stored, "
        f"{len(alarms)} performance alarms (warning or critical) in "
        f"{len(grouped)} incident(s):"
    )
    if not alarms:
        echo("  none")
        return
    for incident in grouped:
        echo(
            f"  incident {incident.id} - {incident.device_id} - {incident.severity}: "
            f"{incident.summary('en', devices.get(incident.device_id))}"
        )
        evidence = supporting_text(incident, "en")
        if evidence:
            echo(f"    {evidence}")
    echo("\nFirst alarms, by date:")
    echo(
        render_table(
            [
                {
                    "raised": (r["escalated_at"] or r["detected_at"])[:10],
                    "device": r["device_id"],
                    "version": r["device_version"] or "all",
                    "subgroup": ", ".join(f"{k}={v}" for k, v in (r["subgroup"] or {}).items())
                    or "whole device",
                    "rule": r["rule"],
                    "metric": r["metric"],
                    "severity": r["severity"],
                    "since": (r["evidence"].get("change_point_exam") or r["window_start"])[:10],
                    "value": f"{r['value']:.2f}",
                }
                for r in alarms[:_SHOWN]
            ],
            [
                "raised",
                "device",
                "version",
                "subgroup",
                "rule",
                "metric",
                "severity",
                "since",
                "value",
            ],
        )
    )
    root = grouped[0].id if grouped else alarms[0]["id"]
    echo(
        "\nReview an incident: `dmn-monitor findings list` (incidents first), then "
        f"`findings ack {root}`, `findings cases {root} --discordant`, "
        f"`findings confirm {root} --with-related`, `findings act ...`, "
        f"`vigilance draft {root} --lang fr --format pdf --out FILE` "
        "(each with --config demo-output/dmn-monitor.toml and --user/--comment)."
    )
