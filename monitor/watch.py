"""Watched folders: ingest each configured source's new files, then move them aside.

A file moves into ``processed/`` beside it once every row of it is committed (or
it was already ingested completely), or into ``failed/`` with a ``.reason.txt``
when it cannot be ingested at all (unreadable, a required column missing); its
good rows, if any, stay in the database and its bad rows in quarantine. A file
whose ingestion stops half-way (the service stopping, the database or the disk
failing, a crash) stays where it is: its run resumes at the next poll from the
last committed chunk.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from monitor.config import Config
from monitor.errors import IngestError, MissingKeyError, MonitorError
from monitor.ingest import completed_run, file_checksum, ingest_file
from monitor.models import IngestionRun
from monitor.sources import mapping_for, read_limits, source_files
from monitor.storage import Database
from monitor.timeutil import utc_now

__all__ = ["FAILED", "PROCESSED", "PollReport", "Stopping", "poll_sources"]

PROCESSED = "processed"
FAILED = "failed"

log = logging.getLogger(__name__)


class Stopping(Exception):
    """The service is stopping: the file's run ends after its current chunk."""


@dataclass
class PollReport:
    """What one poll did (counts of files; rows are in the ingestion runs)."""

    ingested: int = 0
    already: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: bool = False


def _move(path: Path, folder: str) -> Path:
    """Move ``path`` into ``folder`` beside it, never over another file."""
    target_dir = path.parent / folder
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    if target.exists():
        stamp = utc_now().strftime("%Y%m%dT%H%M%S%f")
        target = target_dir / f"{path.stem}.{stamp}{path.suffix}"
    os.replace(path, target)
    return target


def _set_aside(path: Path) -> bool:
    return path.parent.name in (PROCESSED, FAILED)


def poll_sources(
    db: Database,
    config: Config,
    pseudonym_key: bytes | None,
    *,
    stop: threading.Event | None = None,
    move: bool = True,
) -> PollReport:
    """Ingest the files of every configured source (predictions first) not yet ingested
    completely; with ``move``, set each aside once decided. ``stop``, when set, ends
    the poll after the current chunk (the file stays, its run resumes later).
    Configuration problems (no pseudonymisation key...) leave the file in place and
    are reported in ``errors`` (file name and message)."""
    report = PollReport()

    def check_stop(_run: IngestionRun) -> None:
        if stop is not None and stop.is_set():
            raise Stopping("the service is stopping; this file resumes at the next poll")

    for source in sorted(config.sources, key=lambda s: s.kind != "predictions"):
        mapping = mapping_for(source, config.time.timezone, config.base_dir, read_limits(config))
        for path in source_files(config, source):
            if _set_aside(path):
                continue
            if stop is not None and stop.is_set():
                report.stopped = True
                return report
            if completed_run(db, file_checksum(path), source.kind) is not None:
                report.already += 1
                if move:
                    _move(path, PROCESSED)
                continue
            try:
                ingest_file(
                    db,
                    path,
                    source.kind,
                    mapping=mapping,
                    source_name=source.name,
                    chunk_size=config.ingest.chunk_size,
                    keep_report_text=config.ingest.keep_report_text,
                    pseudonym_key=pseudonym_key,
                    fmt=source.format,
                    on_chunk=check_stop,
                )
            except IngestError as exc:
                if isinstance(exc.__cause__, Stopping):
                    report.stopped = True
                    return report
                if isinstance(exc, MissingKeyError) or isinstance(
                    exc.__cause__, SQLAlchemyError | OSError
                ):
                    # The configuration, the database or the disk failed, not the file:
                    # it stays, and its run resumes at the next poll.
                    report.errors.append(f"{path.name}: {exc}")
                    continue
                report.failed += 1
                report.errors.append(f"{path.name}: {exc}")
                log.warning("source %s: a file could not be ingested", source.name)
                if move:
                    moved = _move(path, FAILED)
                    moved.with_name(moved.name + ".reason.txt").write_text(
                        f"{exc}\n", encoding="utf-8"
                    )
                continue
            except MonitorError as exc:
                report.errors.append(f"{path.name}: {exc}")
                continue
            report.ingested += 1
            if move:
                _move(path, PROCESSED)
    return report
