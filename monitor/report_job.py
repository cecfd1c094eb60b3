"""Write a month's quality-control report: gather, render, manifest, audit.

``write_monthly_report`` is what ``dmn-monitor report monthly`` and the scheduler
run: it gathers the month (:mod:`monitor.report_data`), renders it in each asked
language and format (:mod:`monitor.report_render`), writes the evidence manifest
beside it (every figure with the command that recomputes it) and records the
files and their SHA-256 in the audit log (``report.monthly``), so the file a
surveyor is shown can be proved to be the one produced.

A month whose review every reviewer has signed (:mod:`monitor.signoff`) is locked:
its report is not rewritten, neither the whole establishment's nor a single
device's (:class:`MonthLockedError`) - in a registry of one device both have the
same file names, and a device's report must not disagree with the signed one.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor import audit
from monitor.cells import CellSettings, ensure_summaries
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.files import write_atomic
from monitor.models import MonthLock
from monitor.report_data import gather_monthly_report, previous_month
from monitor.report_model import ManifestEntry, MonthlyReport
from monitor.report_render import FORMATS, manifest_name, write_report
from monitor.report_texts import LANGS
from monitor.storage import Database
from monitor.timeutil import utc_now

__all__ = [
    "MonthLockedError",
    "ReportFiles",
    "due_month",
    "manifest_document",
    "report_dir",
    "write_monthly_report",
]


class MonthLockedError(MonitorError):
    """The month's review is signed and locked: its report is not rewritten."""


@dataclass(frozen=True)
class ReportFiles:
    """What a run wrote: the renderings, the manifest and the drift reports."""

    month: date
    files: tuple[Path, ...]
    manifest: Path
    figures: int
    lights: dict[str, str]


def due_month(now: datetime, tz: ZoneInfo) -> date:
    """The month whose report is due at ``now``: the one before the local month of ``now``."""
    return previous_month(now.astimezone(tz).date())


def report_dir(config: Config) -> Path:
    """``report.out_dir``, relative to the configuration file's folder."""
    path = Path(config.report.out_dir).expanduser()
    return path if path.is_absolute() else config.base_dir / path


def _entry(entry: ManifestEntry) -> dict[str, Any]:
    how: dict[str, Any] = {}
    if entry.field is not None:
        how["field"] = entry.field
    if entry.aggregate is not None:
        how["aggregate"] = entry.aggregate
    if entry.formula is not None:
        how["formula"] = entry.formula
    return {
        "key": entry.key,
        "label": entry.label,
        "value": entry.value,
        "command": shlex.join(["dmn-monitor", *entry.argv]),
        "argv": list(entry.argv),
        "select": entry.select,
        **how,
    }


def manifest_document(report: MonthlyReport, files: Sequence[Path]) -> dict[str, Any]:
    """The manifest as JSON: the report's files and, for every figure, its value and the
    command whose JSON output holds it (add ``--config FILE`` to run it)."""
    return {
        "kind": "dmn-monitor monthly quality-control report manifest",
        "month": f"{report.month:%Y-%m}",
        "as_of": report.as_of.isoformat(),
        "generated": report.generated.isoformat(timespec="seconds"),
        "timezone": report.timezone,
        "devices": [d.device_id for d in report.devices],
        "lights": {d.device_id: d.light.color for d in report.devices},
        "files": [p.name for p in files],
        "how_to_check": (
            "Run each command with --config pointing to the monitor's configuration; in its "
            "JSON output, the row whose keys equal 'select' (a list: one of its values) holds "
            "the value in 'field' (dots: nested keys), or the number of such rows "
            "('aggregate': 'count'), or 'formula' computed from that row."
        ),
        "figures": [_entry(e) for e in report.manifest.entries],
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refuse_locked(db: Database, config: Config, month: date) -> None:
    """MonthLockedError when the review of ``month`` is locked."""
    with db.session() as session:
        lock = session.get(MonthLock, month.replace(day=1))
    if lock is not None:
        day = lock.locked_at.astimezone(ZoneInfo(config.time.timezone))
        raise MonthLockedError(
            f"the review of {month:%Y-%m} was signed and locked on {day:%Y-%m-%d} by "
            f"{lock.locked_by}: its report is not rewritten"
        )


def write_monthly_report(
    db: Database,
    config: Config,
    month: date,
    *,
    out_dir: Path,
    langs: Sequence[str] = LANGS,
    formats: Sequence[str] = FORMATS,
    device_id: str | None = None,
    user: str,
    now: datetime | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ReportFiles:
    """Write the report of ``month`` (first day) into ``out_dir`` in each language and
    format, with its manifest ``...-manifest.json`` and the devices' drift reports;
    files are replaced atomically, a rerun replaces them. MonthLockedError, before
    anything is done, when the month's review is signed and locked (whether for the
    whole establishment or one device); MonitorError for an unknown language or
    format, and as :func:`monitor.report_data.gather_monthly_report`.

    ``progress(done, total, step)``, when given, is called before each step: "gather",
    then "render:<lang>" for each language, then "manifest" (``total`` is the number of
    languages + 2; the caller reports the end)."""
    unknown = [lang for lang in langs if lang not in LANGS]
    unknown += [fmt for fmt in formats if fmt not in FORMATS]
    if unknown or not langs or not formats:
        raise MonitorError(
            f"report languages {list(langs)} and formats {list(formats)}: use languages "
            f"{', '.join(LANGS)} and formats {', '.join(FORMATS)}"
        )
    _refuse_locked(db, config, month)
    steps = len(langs) + 2
    step = progress or (lambda done, total, name: None)
    step(0, steps, "gather")
    now = now or utc_now()
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = CellSettings(config.time.timezone, config.subgroups.age_bands)
    with db.session.begin() as session:
        ensure_summaries(session, settings)
    with db.session() as session:
        report = gather_monthly_report(
            session, config, month, device_id=device_id, out_dir=out_dir, now=now
        )
    _refuse_locked(db, config, month)  # again: it may have been signed while gathering
    files: list[Path] = []
    for index, lang in enumerate(langs):
        step(1 + index, steps, f"render:{lang}")
        files += write_report(report, lang, formats, out_dir)
    step(steps - 1, steps, "manifest")
    drift = [out_dir / d.drift_report for d in report.devices if d.drift_report]
    manifest = out_dir / manifest_name(report)
    document = manifest_document(report, [*files, *drift])
    write_atomic(manifest, json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8"))
    with db.session.begin() as session:
        audit.record(
            session,
            actor=user,
            action="report.monthly",
            entity="report",
            entity_id=f"{month:%Y-%m}" + (f"/{device_id}" if device_id else ""),
            details={
                "files": {p.name: _sha256(p) for p in [*files, manifest, *drift]},
                "lights": {d.device_id: d.light.color for d in report.devices},
                "as_of": report.as_of.isoformat(),
            },
        )
    return ReportFiles(
        month=month,
        files=tuple(files),
        manifest=manifest,
        figures=len(report.manifest.entries),
        lights={d.device_id: d.light.color for d in report.devices},
    )
