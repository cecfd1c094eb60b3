"""The 'not mentioned' state through ingestion, linking, evaluate, status and the
monthly report, on SQLite and PostgreSQL.

A final report silent about the target is stored as ``not_mentioned``; the device's
``unmentioned`` policy (``pending`` by default, or ``negative``) says how it counts,
and it never outranks a decided outcome. Changing the policy recounts the device's
cases. Per device and month: decided, unmentioned, uncertain and quarantined.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connectors import OUTCOME_COLUMNS, PREDICTION_COLUMNS
from monitor.cli import cli
from monitor.config import Config
from monitor.history import load_history, to_ns
from monitor.ingest import ingest_file
from monitor.kept_texts import purge_report_texts
from monitor.linking import linked_cases
from monitor.models import IngestionRun, Outcome, QuarantinedRow, ReportText
from monitor.outcome_counts import outcome_months
from monitor.registry import DeviceSpec, export_registry, get_device, import_registry
from monitor.report_data import gather_monthly_report
from monitor.report_render import render_html
from monitor.storage import Database
from tests.monitor.synthetic import write_rows

TZ = ZoneInfo("Europe/Paris")
AS_OF = datetime(2025, 3, 31, 23, 59, 59, tzinfo=TZ)
NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)

SILENT = "Radiographie du genou droit. Épanchement intra-articulaire modéré."
POSITIVE = "Radiographie du poignet.\nConclusion : fracture du radius distal."
NEGATIVE = "Radiographie de la cheville.\nConclusion : pas de fracture visible."
UNCERTAIN = "Radiographie du poignet.\nConclusion : fracture possible du scaphoïde."
SECRET = "Texte secret du compte rendu : genou normal."

# accession, AI result, score
PREDICTIONS = [
    ("ACC1", "positive", "0.90"),  # report positive                        -> tp
    ("ACC2", "negative", "0.10"),  # report negative                        -> tn
    ("ACC3", "positive", "0.80"),  # report silent: pending | fp
    ("ACC4", "negative", "0.20"),  # report uncertain                       -> pending
    ("ACC5", "negative", "0.20"),  # report silent, then follow-up positive -> fn
    ("ACC6", "positive", "0.90"),  # report positive, later report silent   -> tp
]


def _outcome(accession: str, day: int, text: str = "", **fields: str) -> dict[str, str]:
    row = {
        "accession_number": accession,
        "source": "report",
        "outcome_datetime": f"2025-03-{day:02d}T18:00:00",
        "target": "fracture",
        "report_text": text,
    }
    row.update(fields)
    return row


OUTCOMES = [
    _outcome("ACC1", 3, POSITIVE),
    _outcome("ACC2", 3, NEGATIVE),
    _outcome("ACC3", 3, SILENT),
    _outcome("ACC4", 3, UNCERTAIN),
    _outcome("ACC5", 3, SILENT),
    _outcome("ACC5", 20, source="follow_up", outcome="positive"),
    _outcome("ACC6", 3, POSITIVE),
    _outcome("ACC6", 6, SILENT),  # a later report silent: never outranks the statement
    # Malformed (quarantined): no link key, of the fracture device's target...
    _outcome("", 10, SECRET),
    # ... and two of no device: no target and a blank text, another device's target.
    _outcome("ACC9", 11, "", target=""),
    _outcome("", 12, "Pas de pneumothorax.", target="pneumothorax"),
]


@pytest.fixture
def ingested(registered: Database, tmp_path: Path) -> Database:
    predictions = [
        {
            "device_id": "frac",
            "device_version": "1.0",
            "exam_datetime": f"2025-03-0{1 + i % 2}T10:00:00",
            "ai_result": result,
            "ai_score": score,
            "accession_number": accession,
        }
        for i, (accession, result, score) in enumerate(PREDICTIONS)
    ]
    ingest_file(
        registered,
        write_rows(tmp_path / "p.csv", PREDICTION_COLUMNS, predictions),
        "predictions",
    )
    report = ingest_file(
        registered,
        write_rows(tmp_path / "o.csv", OUTCOME_COLUMNS, OUTCOMES),
        "outcomes",
        keep_report_text=True,
    )
    assert (report.accepted, report.quarantined) == (8, 3)
    return registered


def _statuses(db: Database) -> dict[str, str]:
    with db.session() as session:
        cases = linked_cases(session, AS_OF)
    return dict(zip(cases["accession_number"], cases["status"], strict=True))


def _set_policy(db: Database, policy: str) -> dict[str, str]:
    with db.session.begin() as session:
        spec = get_device(session, "frac")
        changed = DeviceSpec.model_validate({**spec.to_document(), "unmentioned": policy})
        return import_registry(session, [changed], actor="test")


def _invoke(db: Database, *args: str) -> Any:
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, [*args, "--db", url])
    assert result.exit_code == 0, result.output + str(result.exception)
    return json.loads(result.stdout) if "--format" in args else result.stdout


def test_a_silent_report_is_stored_as_not_mentioned_and_only_malformed_rows_quarantined(
    ingested: Database,
) -> None:
    with ingested.session() as session:
        stored = {
            (o.accession_number, o.source, o.outcome_datetime.day): o
            for o in session.scalars(select(Outcome))
        }
        quarantined = list(session.scalars(select(QuarantinedRow).order_by(QuarantinedRow.id)))
        runs = list(session.scalars(select(IngestionRun)))
    silent = stored["ACC3", "report", 3]
    assert (silent.outcome, silent.evidence, silent.sentence) == ("not_mentioned", None, None)
    assert silent.method and silent.method.startswith("report_text_rules/")
    negative = stored["ACC2", "report", 3]
    assert (negative.outcome, negative.section) == ("negative", "conclusion")
    assert negative.sentence and "pas de fracture" in negative.sentence
    assert negative.qualifiers and negative.qualifiers.startswith("negated")
    assert stored["ACC4", "report", 3].outcome == "indeterminate"
    # Quarantine: malformed rows only, with their target and date when readable.
    assert [(q.target, q.data_datetime is not None) for q in quarantined] == [
        ("fracture", True),
        (None, True),
        ("pneumothorax", True),
    ]
    # A report text is never in a reason, a raw row or a run's error.
    for q in quarantined:
        assert SECRET not in q.reason and SECRET not in json.dumps(q.raw_row)
    assert all(SECRET not in (r.error or "") for r in runs)


def test_the_policy_decides_how_not_mentioned_counts_and_a_change_recounts(
    ingested: Database,
) -> None:
    pending = _statuses(ingested)
    assert pending == {
        "ACC1": "tp",
        "ACC2": "tn",
        "ACC3": "pending",
        "ACC4": "pending",
        "ACC5": "fn",  # the follow-up decides, whatever the silent report
        "ACC6": "tp",  # a later silent report does not outrank the positive one
    }
    assert _set_policy(ingested, "negative") == {"frac": "updated"}
    negative = _statuses(ingested)
    assert negative == {**pending, "ACC3": "fp"}
    with ingested.session() as session:
        case = linked_cases(session, AS_OF)
        silent = case[case["accession_number"] == "ACC3"].iloc[0]
        assert (silent["outcome"], silent["outcome_read"]) == ("negative", "not_mentioned")
        # Replays (history) see what linking sees.
        history = load_history(session, get_device(session, "frac"), AS_OF, (18.0, 65.0))
        view = history.as_of(to_ns(AS_OF))
        truth = dict(zip(view.cases["prediction_id"], view.truth, strict=True))
        for row in case.itertuples():
            known = {"positive": 1, "negative": 0}.get(str(row.outcome), -1)
            assert truth[row.prediction_id] == known, row.accession_number
    # The stored cells (what evaluate reads) were recounted.
    rows = _invoke(ingested, "evaluate", "--as-of", "2025-03-31", "--format", "json")
    frac = next(r for r in rows if r["device_id"] == "frac")
    assert (frac["tp"], frac["fp"], frac["tn"], frac["fn"], frac["pending"]) == (2, 1, 1, 1, 1)
    assert _set_policy(ingested, "pending") == {"frac": "updated"}
    rows = _invoke(ingested, "evaluate", "--as-of", "2025-03-31", "--format", "json")
    frac = next(r for r in rows if r["device_id"] == "frac")
    assert (frac["tp"], frac["fp"], frac["tn"], frac["fn"], frac["pending"]) == (2, 0, 1, 1, 2)


def test_the_policy_round_trips_through_the_registry_yaml(registered: Database) -> None:
    _set_policy(registered, "negative")
    with registered.session() as session:
        spec = get_device(session, "frac")
        other = get_device(session, "nod")
    assert spec.unmentioned == "negative" and other.unmentioned == "pending"
    text = export_registry([spec, other])
    assert "unmentioned: negative" in text and text.count("unmentioned") == 1
    with pytest.raises(ValueError, match="unmentioned"):
        DeviceSpec.model_validate({**spec.to_document(), "unmentioned": "positive"})


def test_outcomes_are_counted_per_device_and_month(ingested: Database) -> None:
    with ingested.session() as session:
        months = outcome_months(session, datetime(2025, 3, 1, tzinfo=TZ), AS_OF, TZ)
    records = [m.record() for m in months]
    assert records == [
        {
            "device": "frac",
            "month": "2025-03",
            "decided": 4,
            "positive": 3,
            "negative": 1,
            "unmentioned": 3,
            "uncertain": 1,
            "quarantined": 1,
        },
        {
            "device": None,
            "month": "2025-03",
            "decided": 0,
            "positive": 0,
            "negative": 0,
            "unmentioned": 0,
            "uncertain": 0,
            "quarantined": 2,
        },
    ]
    # status prints them: per device over its period, and per device and month.
    status = _invoke(
        ingested, "status", "--from", "2025-03-01", "--as-of", "2025-03-31", "--format", "json"
    )
    frac = next(s for s in status if s["device"] == "frac")
    assert frac["outcomes"] == {k: v for k, v in records[0].items() if k not in ("device", "month")}
    nod = next(s for s in status if s["device"] == "nod")
    assert nod["outcomes"]["decided"] == 0
    per_month = _invoke(
        ingested, "status", "--outcomes", "--as-of", "2025-03-31", "--format", "json"
    )
    assert per_month == records
    table = _invoke(ingested, "status", "--as-of", "2025-03-31")
    assert "outcomes per device and month" in table and "unmentioned" in table
    # Before the silent reports were written, nothing of them is counted.
    with ingested.session() as session:
        early = outcome_months(session, None, datetime(2025, 3, 2, tzinfo=TZ), TZ)
    assert early == []


def test_the_monthly_report_shows_the_months_outcomes(ingested: Database) -> None:
    config = Config().with_database_url(ingested.engine.url.render_as_string(hide_password=False))
    with ingested.session() as session:
        report = gather_monthly_report(session, config, date(2025, 3, 1), now=NOW)
    frac = next(d for d in report.devices if d.device_id == "frac")
    assert frac.outcomes is not None
    counts = frac.outcomes
    assert (counts.decided, counts.unmentioned, counts.uncertain, counts.quarantined) == (
        4,
        3,
        1,
        1,
    )
    assert counts.policy == "pending"
    assert report.quarantined_without_device == 2
    french = html.unescape(render_html(report, "fr").decode("utf-8"))
    english = html.unescape(render_html(report, "en").decode("utf-8"))
    assert "Cible non mentionnée par le compte rendu" in french
    assert "en attente d'une autre vérité" in french
    assert "Target not mentioned by the report" in english
    assert "quarantined without a device" in english
    # Every outcome figure is what its command prints.
    entries = [e for e in report.manifest.entries if "outcomes" in e.key or "without" in e.key]
    assert {e.key for e in entries} >= {"frac/outcomes/unmentioned", "quarantined_without_device"}
    outputs: dict[tuple[str, ...], Any] = {}
    for entry in entries:
        if entry.argv not in outputs:
            outputs[entry.argv] = _invoke(ingested, *entry.argv)
        (row,) = [
            r for r in outputs[entry.argv] if all(r.get(k) == v for k, v in entry.select.items())
        ]
        value: Any = row
        for part in (entry.field or "").split("."):
            value = value[part]
        assert value == entry.value, entry.key


def test_kept_report_texts_are_purged_after_their_retention(ingested: Database) -> None:
    with ingested.session() as session:
        kept = session.scalar(select(func.count()).select_from(ReportText))
        with_text = session.scalar(
            select(func.count()).select_from(Outcome).where(Outcome.report_text_sha256.is_not(None))
        )
    assert kept == with_text == 7
    with ingested.session.begin() as session:
        assert purge_report_texts(session, 90, now=datetime.now(UTC) + timedelta(days=89)) == 0
    with ingested.session.begin() as session:
        assert purge_report_texts(session, 90, now=datetime.now(UTC) + timedelta(days=91)) == 7
    with ingested.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportText)) == 0


def test_report_texts_are_not_kept_by_default(registered: Database, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "o.csv", OUTCOME_COLUMNS, OUTCOMES[:3])
    ingest_file(registered, path, "outcomes")
    with registered.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportText)) == 0
