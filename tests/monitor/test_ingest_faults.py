"""Faults of the machine during ingestion: one clear line, a failed run with its reason,
never the SQL or the rows' values."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from connectors import PREDICTION_COLUMNS
from monitor.cli import cli
from monitor.errors import IngestError
from monitor.ingest import ingest_file
from monitor.models import IngestionRun
from monitor.storage import Database, open_database
from tests.monitor.synthetic import write_rows
from tests.monitor.test_ingest import _prediction

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _file(tmp_path: Path, rows: int = 3000) -> Path:
    return write_rows(
        tmp_path / "predictions.csv", PREDICTION_COLUMNS, [_prediction(i) for i in range(rows)]
    )


def test_a_full_disk_fails_the_run_with_one_line_and_no_values(
    registered: Database, tmp_path: Path, pseudonym_key: bytes
) -> None:
    """Failed before: a 90-line traceback whose SQL error carried the rows' values."""
    path = _file(tmp_path)
    with registered.engine.connect() as connection:
        pages = int(connection.execute(text("PRAGMA page_count")).scalar_one())
    full = open_database(str(registered.engine.url))

    @event.listens_for(full.engine, "connect")
    def _small_disk(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # (without the write-ahead log, whose growth the page limit does not stop)
        dbapi_connection.execute("PRAGMA journal_mode = DELETE")
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 8}")

    registered.dispose()  # no connection left in write-ahead-log mode
    full.engine.dispose()  # every connection from here on has the small disk
    try:
        with pytest.raises(IngestError) as caught:
            ingest_file(full, path, "predictions", pseudonym_key=pseudonym_key, chunk_size=500)
    finally:
        full.dispose()
    message = str(caught.value)
    assert "database or disk is full: free disk space" in message
    assert "\n" not in message and "INSERT" not in message and "ACC0" not in message
    with registered.session() as session:
        run = session.scalars(select(IngestionRun)).one()
    assert run.status == "failed" and run.error is not None
    assert run.error.startswith("database error: database or disk is full")


def test_a_read_only_database_is_one_line_from_the_command(
    registered: Database, tmp_path: Path
) -> None:
    """Failed before: a traceback from the driver, with the statement."""
    path = _file(tmp_path, 5)

    def read_only(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA query_only = ON")

    event.listen(Engine, "connect", read_only)  # every engine, the command's too
    try:
        result = CliRunner().invoke(
            cli,
            ["ingest", "predictions", str(path), "--db", str(registered.engine.url)],
            env={"DMN_MONITOR_PSEUDONYM_KEY": "a-long-enough-secret-key-for-tests"},
        )
    finally:
        event.remove(Engine, "connect", read_only)
    assert result.exit_code == 1, result.output
    assert "readonly database" in result.output and "check permissions" in result.output
    assert "Traceback" not in result.output and "INSERT" not in result.output
    assert len(result.output.strip().splitlines()) == 1
