"""A demo year ingested and replayed day by day, as the detection tests and the
workflow tests see it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.config import load_config
from monitor.demo_data import DemoParameters, generate_demo, write_demo_files
from monitor.detection import check_dates, run_checks
from monitor.findings import finding_record
from monitor.registry import import_registry, load_registry_file
from monitor.sources import ingest_sources
from monitor.storage import open_database

PARIS = ZoneInfo("Europe/Paris")
KEY = b"detection-test-key-0123456789"


@dataclass(frozen=True)
class Replayed:
    params: DemoParameters
    config_path: Path
    url: str
    findings: list[dict]  # type: ignore[type-arg]

    def copy_url(self, folder: Path) -> str:
        """A private copy of the replayed SQLite database (for tests that change it)."""
        copy = folder / "replayed-copy.db"
        shutil.copyfile(self.url.removeprefix("sqlite:///"), copy)
        return f"sqlite:///{copy}"


def replayed_year(folder: Path, params: DemoParameters, step_days: int = 1) -> Replayed:
    """Write the demo's files, ingest them and run detection as of every day of the year
    (every ``step_days``-th day, and the last)."""
    files = write_demo_files(generate_demo(params), folder)
    config = load_config(files.config)
    db = open_database(config.database.url)
    try:
        with db.session.begin() as session:
            import_registry(session, load_registry_file(files.registry), actor="test")
        for path, report in ingest_sources(db, config, KEY, skip_ingested=False):
            assert not isinstance(report, Exception), (path, report)
        with db.session.begin() as session:
            dates = check_dates(params.start, params.end, step_days, PARIS)
            last = check_dates(params.end, params.end, 1, PARIS)
            found = run_checks(session, config, sorted(set(dates + last)))
            records = [finding_record(f, PARIS) for f in found]
    finally:
        db.dispose()
    return Replayed(params, files.config, config.database.url, records)
