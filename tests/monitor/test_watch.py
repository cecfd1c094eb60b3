"""Watched folders: a file moves to processed/ once its rows are committed, to failed/
with its reason when it cannot be read; a file whose ingestion stopped half-way
stays and resumes, adding nothing twice."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from connectors import PREDICTION_COLUMNS
from monitor.config import load_config
from monitor.models import IngestionRun, Prediction, QuarantinedRow
from monitor.storage import Database
from monitor.watch import poll_sources
from tests.monitor.synthetic import write_rows
from tests.monitor.test_ingest import _prediction


def _setup(tmp_path: Path, url: str, chunk_size: int = 5000) -> tuple[Path, Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = tmp_path / "dmn-monitor.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[ingest]\nchunk_size = {chunk_size}\n'
        '[[sources]]\nname = "ris"\nkind = "predictions"\npath = "inbox/*.csv"\n',
        encoding="utf-8",
    )
    return inbox, config


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_files_are_set_aside_once_decided(
    registered: Database, db_url: str, tmp_path: Path, pseudonym_key: bytes
) -> None:
    inbox, config_path = _setup(tmp_path, db_url)
    rows = [_prediction(i) for i in range(20)]
    rows[3]["ai_result"] = "maybe"
    write_rows(inbox / "good.csv", PREDICTION_COLUMNS, rows)
    (inbox / "broken.csv").write_text("not,a,prediction\n1,2,3\n", encoding="utf-8")
    config = load_config(config_path)

    report = poll_sources(registered, config, pseudonym_key)

    assert (report.ingested, report.failed) == (1, 1)
    assert not list(inbox.glob("*.csv"))
    assert (inbox / "processed" / "good.csv").is_file()
    assert (inbox / "failed" / "broken.csv").is_file()
    reason = (inbox / "failed" / "broken.csv.reason.txt").read_text(encoding="utf-8")
    assert "device_id" in reason
    assert _count(registered, Prediction) == 19
    assert _count(registered, QuarantinedRow) == 1

    # The same content dropped again is known: set aside, nothing added.
    write_rows(inbox / "again.csv", PREDICTION_COLUMNS, rows)
    report = poll_sources(registered, config, pseudonym_key)
    assert (report.ingested, report.already) == (0, 1)
    assert (inbox / "processed" / "again.csv").is_file()
    assert _count(registered, Prediction) == 19


class _SetAfter(threading.Event):
    """An event that reads as set from its ``calls``-th look on."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls <= 0


def test_a_stop_half_way_leaves_the_file_to_resume(
    registered: Database, db_url: str, tmp_path: Path, pseudonym_key: bytes
) -> None:
    inbox, config_path = _setup(tmp_path, db_url, chunk_size=10)
    write_rows(inbox / "feed.csv", PREDICTION_COLUMNS, [_prediction(i) for i in range(35)])
    config = load_config(config_path)

    # Looked at before the file, then after each chunk: stop after the first chunk.
    report = poll_sources(registered, config, pseudonym_key, stop=_SetAfter(2))

    assert report.stopped and report.ingested == 0
    assert (inbox / "feed.csv").is_file()
    assert _count(registered, Prediction) == 10
    with registered.session() as session:
        run = session.scalars(select(IngestionRun)).one()
    assert run.status == "failed" and "stopping" in (run.error or "")

    report = poll_sources(registered, config, pseudonym_key)
    assert report.ingested == 1 and not report.stopped
    assert (inbox / "processed" / "feed.csv").is_file()
    assert _count(registered, Prediction) == 35


def test_without_move_files_stay_and_are_not_ingested_twice(
    registered: Database, db_url: str, tmp_path: Path, pseudonym_key: bytes
) -> None:
    inbox, config_path = _setup(tmp_path, db_url)
    write_rows(inbox / "a.csv", PREDICTION_COLUMNS, [_prediction(i) for i in range(5)])
    config = load_config(config_path)
    assert poll_sources(registered, config, pseudonym_key, move=False).ingested == 1
    assert poll_sources(registered, config, pseudonym_key, move=False).already == 1
    assert (inbox / "a.csv").is_file() and not (inbox / "processed").exists()
    assert _count(registered, Prediction) == 5


def test_a_missing_key_leaves_the_file_in_place(
    registered: Database, db_url: str, tmp_path: Path
) -> None:
    inbox, config_path = _setup(tmp_path, db_url)
    write_rows(inbox / "a.csv", PREDICTION_COLUMNS, [_prediction(i) for i in range(5)])
    report = poll_sources(registered, load_config(config_path), None)
    assert report.errors and "a.csv" in report.errors[0]
    assert (inbox / "a.csv").is_file()
    assert _count(registered, Prediction) == 0
