"""The monthly quality-control report over the demo year: the month of the injected
degradation is red on its first page for the right reason, its trend shows the drop,
its subgroup table flags Fujifilm and nothing else; a quiet month is green with no
flag; every figure of the manifest is what the command it names prints."""

from __future__ import annotations

import ast
import hashlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from monitor.cli import cli
from monitor.config import load_config
from monitor.errors import MonitorError
from monitor.report_data import gather_monthly_report, month_bounds, parse_month, previous_month
from monitor.report_job import due_month
from monitor.report_model import MonthlyReport
from monitor.storage import open_database
from tests.monitor.replay import PARIS, Replayed


@dataclass(frozen=True)
class _Written:
    out: Path
    url: str  # a copy of the replayed demo: writing a report adds to its audit log


@pytest.fixture(scope="module")
def written(replayed_demo: Replayed, tmp_path_factory: pytest.TempPathFactory) -> _Written:
    """August 2025 (degraded) in both languages and formats, June 2025 (quiet) in French."""
    out = tmp_path_factory.mktemp("reports")
    url = replayed_demo.copy_url(out)
    base = ["--config", str(replayed_demo.config_path), "--db", url]
    for month, lang in (("2025-08", "both"), ("2025-06", "fr")):
        args = ["report", "monthly", *base, "--month", month, "--lang", lang, "--out", str(out)]
        result = CliRunner().invoke(cli, [*args, "--user", "dr.quality"])
        assert result.exit_code == 0, result.output
    return _Written(out, url)


@pytest.fixture
def reports(written: _Written) -> Path:
    return written.out


def _gathered(replayed: Replayed, month: str) -> MonthlyReport:
    config = load_config(replayed.config_path)
    db = open_database(replayed.url)
    try:
        with db.session() as session:
            return gather_monthly_report(session, config, parse_month(month))
    finally:
        db.dispose()


def _pages(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


# --- what it shows -------------------------------------------------------------------------


def test_the_degraded_month_is_red_on_the_first_page_with_its_reason(reports: Path) -> None:
    fr = _pages(reports / "qc-report-2025-08-fr.pdf")
    en = _pages(reports / "qc-report-2025-08-en.pdf")
    assert 6 <= len(fr) <= 30 and 6 <= len(en) <= 30
    assert "rouge" in fr[0] and "vert" in fr[0]
    assert "red" in en[0] and "green" in en[0]
    # The month's sensitivity (595 / 704 = 84.5 %) against the claimed 91 %.
    assert "84,5" in fr[0] and "91,0" in fr[0]
    assert "84.5" in en[0] and "91.0" in en[0]
    html = (reports / "qc-report-2025-08-en.html").read_text(encoding="utf-8")
    summary = html[: html.index("FractaLens XR", html.index("FractaLens XR") + 1)]
    assert "red" in summary and "84.5" in summary


def test_the_degraded_month_in_data(replayed_demo: Replayed) -> None:
    report = _gathered(replayed_demo, "2025-08")
    fracture, nodule = report.devices
    assert fracture.light.color == "red"
    first = fracture.light.reasons[0]
    assert first.code == "below_claim" and first.params["metric"] == "sensitivity"
    assert first.params["value"] == pytest.approx(595 / 704)
    assert nodule.light.color == "green"
    # The trend shows the drop: August below the claim, the months before above it.
    sensitivity = fracture.trend["sensitivity"]
    assert [p.month for p in sensitivity][-1] == date(2025, 8, 1)
    assert sensitivity[-1].high is not None and sensitivity[-1].high < 0.91
    assert all(p.value is not None and p.value > 0.9 for p in sensitivity[:-1])
    # The subgroup table flags Fujifilm (misses) and no other manufacturer.
    manufacturers = [s for s in fracture.subgroups if s.dimension == "scanner_manufacturer"]
    flagged = {s.value: s.flagged for s in manufacturers if s.flagged}
    assert flagged == {"Fujifilm": ("sensitivity",)}
    fujifilm = next(s for s in manufacturers if s.value == "Fujifilm")
    assert fujifilm.sensitivity_gap[0] is not None and fujifilm.sensitivity_gap[0] < -0.2
    # Its control chart is shown with the signal, and the findings of the month listed.
    charts = {c.slice_label: c for c in fracture.cusum}
    fuji = charts["device_version=2.4.0, scanner_manufacturer=Fujifilm"]
    assert fuji.signal_at is not None and fuji.signal_at.month == 7
    assert max(fuji.statistic) >= fuji.limit
    raised = [f for f in fracture.findings if ("opened", f.detected) in f.events]
    assert raised and all(f.detected.month == 8 for f in raised)
    # ...under one incident, named by the slice that explains the drop.
    (incident,) = fracture.incidents
    assert incident.summary["en"].startswith("Version 2.4.0 on Fujifilm images: sensitivity ")
    assert incident.summary["fr"].startswith("Version 2.4.0 sur les images Fujifilm : ")
    assert {f.incident for f in raised} == {incident.incident_id}
    assert nodule.incidents == ()
    assert fracture.drift_note is None and fracture.drift
    assert fracture.estimate_note is not None  # the fracture export carries no scores
    assert nodule.estimates and nodule.estimate_note is None


def test_a_quiet_month_is_green_with_no_false_flag(replayed_demo: Replayed, reports: Path) -> None:
    report = _gathered(replayed_demo, "2025-06")
    for device in report.devices:
        assert device.light.color == "green", device.light
        assert not [s for s in device.subgroups if s.flagged]
        assert not [m for m in device.metrics if m.below_claim]
    first = _pages(reports / "qc-report-2025-06-fr.pdf")[0]
    assert "vert" in first and "rouge" not in first.split("Lecture des voyants")[0]


def test_the_inventory_lists_every_device_with_what_its_risk_analysis_lacks(
    replayed_demo: Replayed,
) -> None:
    report = _gathered(replayed_demo, "2025-08")
    assert [line.device_id for line in report.inventory] == ["fracture-xr", "nodule-ct"]
    for line in report.inventory:
        assert set(line.risk_missing) <= {
            "data_transmission",
            "data_reuse_by_manufacturer",
            "patient_information",
            "cybersecurity",
            "continuity_plan",
            "training",
        }


def test_a_month_not_over_or_an_unknown_device_is_refused(replayed_demo: Replayed) -> None:
    config = load_config(replayed_demo.config_path)
    db = open_database(replayed_demo.url)
    try:
        with db.session() as session, pytest.raises(MonitorError, match="not over yet"):
            gather_monthly_report(
                session, config, date(2025, 8, 1), now=datetime(2025, 8, 20, tzinfo=PARIS)
            )
        with (
            db.session() as session,
            pytest.raises(MonitorError, match="no device 'nope' in the registry"),
        ):
            gather_monthly_report(session, config, date(2025, 8, 1), device_id="nope")
    finally:
        db.dispose()
    with pytest.raises(MonitorError, match="YYYY-MM"):
        parse_month("August")


def test_months_and_their_bounds() -> None:
    assert previous_month(date(2026, 1, 1)) == date(2025, 12, 1)
    assert previous_month(date(2025, 3, 31)) == date(2025, 2, 1)
    assert due_month(datetime(2025, 9, 1, 0, 30, tzinfo=PARIS), PARIS) == date(2025, 8, 1)
    start, end, as_of = month_bounds(date(2025, 10, 1), PARIS)
    assert start == datetime(2025, 10, 1, tzinfo=PARIS)
    assert end == datetime(2025, 11, 1, tzinfo=PARIS)
    assert as_of.date() == date(2025, 10, 31) and as_of < end


# --- the manifest -------------------------------------------------------------------------

_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _formula(text: str, row: dict[str, Any]) -> Any:
    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.BinOp):
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Name):
            return row[node.id]
        if isinstance(node, ast.Constant):
            return node.value
        raise AssertionError(f"unexpected formula part in {text!r}")

    return value(ast.parse(text, mode="eval").body)


def _matches(row: dict[str, Any], select: dict[str, Any]) -> bool:
    for key, wanted in select.items():
        got = row.get(key)
        if isinstance(wanted, list) and got not in wanted:
            return False
        if not isinstance(wanted, list) and got != wanted:
            return False
    return True


def _field(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value[part]
    return value


def test_every_figure_of_the_manifest_is_what_its_command_prints(
    replayed_demo: Replayed, written: _Written
) -> None:
    reports = written.out
    manifest = json.loads((reports / "qc-report-2025-08-manifest.json").read_text("utf-8"))
    assert manifest["lights"] == {"fracture-xr": "red", "nodule-ct": "green"}
    assert "qc-report-2025-08-fr.pdf" in manifest["files"]
    for name in manifest["files"]:
        assert (reports / name).is_file()
    figures = manifest["figures"]
    assert len(figures) > 300
    commands = {e["command"] for e in figures}
    assert {c.split()[1] for c in commands} == {
        "status",
        "evaluate",
        "chart",
        "drift",
        "estimate",
        "findings",
    }
    base = ["--config", str(replayed_demo.config_path), "--db", written.url]
    outputs: dict[str, Any] = {}
    for argv in dict.fromkeys(tuple(e["argv"]) for e in figures):
        cut = 2 if argv[0] in ("findings",) else 1
        result = CliRunner().invoke(cli, [*argv[:cut], *base, *argv[cut:]])
        assert result.exit_code == 0, (argv, result.output)
        outputs[" ".join(argv)] = json.loads(result.stdout)
    checked = 0
    for entry in figures:
        output = outputs[" ".join(entry["argv"])]
        rows = output if isinstance(output, list) else [output]
        chosen = [r for r in rows if _matches(r, entry["select"])]
        if entry.get("aggregate") == "count":
            assert len(chosen) == entry["value"], entry
        else:
            assert len(chosen) == 1, entry
            row = chosen[0]
            got = (
                _formula(entry["formula"], row)
                if "formula" in entry
                else _field(row, entry["field"])
            )
            assert got == entry["value"], entry
        checked += 1
    assert checked == len(figures)


def test_the_report_files_are_recorded_in_the_audit_log(
    replayed_demo: Replayed, written: _Written
) -> None:
    reports = written.out
    base = ["--config", str(replayed_demo.config_path), "--db", written.url]
    result = CliRunner().invoke(
        cli, ["audit", "list", *base, "--entity", "report", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    entries = {e["entity_id"]: e for e in json.loads(result.stdout)}
    august = entries["2025-08"]
    assert august["actor"] == "dr.quality" and august["action"] == "report.monthly"
    files = august["details"]["files"]
    for name, digest in files.items():
        assert hashlib.sha256((reports / name).read_bytes()).hexdigest() == digest
    assert "qc-report-2025-08-manifest.json" in files


def test_without_a_month_it_writes_the_previous_one_as_configured(
    replayed_demo: Replayed, tmp_path: Path
) -> None:
    config = tmp_path / "dmn-monitor.toml"
    text = replayed_demo.config_path.read_text(encoding="utf-8")
    config.write_text(
        text + '\n[report]\nout_dir = "monthly"\nlanguages = ["en"]\nformats = ["html"]\n'
        'establishment = "CHU Exemple"\n',
        encoding="utf-8",
    )
    url = replayed_demo.copy_url(tmp_path)
    result = CliRunner().invoke(cli, ["report", "monthly", "--config", str(config), "--db", url])
    assert result.exit_code == 0, result.output
    month = due_month(datetime.now(PARIS), PARIS)
    written = sorted(p.name for p in (tmp_path / "monthly").iterdir())
    assert written == [f"qc-report-{month:%Y-%m}-en.html", f"qc-report-{month:%Y-%m}-manifest.json"]
    html = (tmp_path / "monthly" / written[0]).read_text(encoding="utf-8")
    assert "CHU Exemple" in html
    # No output that month: grey, unless a degradation is still unresolved - the demo's
    # 2025 findings were never reviewed, so the fracture detector stays red.
    assert f"{month:%Y-%m}: fracture-xr red, nodule-ct grey" in result.output


def test_the_deploy_timer_runs_a_command_the_program_accepts() -> None:
    unit = Path(__file__).parents[2] / "deploy" / "systemd" / "dmn-monitor-report.service"
    command = next(
        line.split("=", 1)[1].split()
        for line in unit.read_text(encoding="utf-8").splitlines()
        if line.startswith("ExecStart=")
    )
    assert command[0].endswith("/dmn-monitor")
    result = CliRunner().invoke(cli, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "--month" in result.output


def test_the_months_review_steps_actions_and_adjudications_are_reported(
    replayed_demo: Replayed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor import review, workflow
    from monitor.findings import get_finding

    config = load_config(replayed_demo.config_path)
    db = open_database(replayed_demo.copy_url(tmp_path))
    fuji = next(
        f["id"]
        for f in replayed_demo.findings
        if f["rule"] == "cusum"
        and f["device_version"] == "2.4.0"
        and f["subgroup"] == {"scanner_manufacturer": "Fujifilm"}
    )
    other = next(
        f["id"]
        for f in replayed_demo.findings
        if f["rule"] == "cusum" and f["subgroup"] == {"site": "CHU-Sud"}
    )
    during = datetime(2025, 8, 20, 10, 0, tzinfo=PARIS)
    for module in ("monitor.workflow", "monitor.audit", "monitor.review"):
        monkeypatch.setattr(f"{module}.utc_now", lambda: during)
    who = {"user": "dr.quality", "comment": "reviewed at the August meeting"}
    try:
        with db.session.begin() as session:
            workflow.acknowledge(session, fuji, **who)
            workflow.confirm(session, fuji, **who)
            workflow.add_action(
                session,
                fuji,
                workflow.ActionInput(
                    "restrict_use",
                    "No AI reading of Fujifilm images",
                    "Dr Martin",
                    due_date=date(2025, 9, 15),
                ),
                **who,
            )
            workflow.acknowledge(session, other, **who)
            workflow.dismiss(session, other, reason="same_root_cause", **who)
            queued = review.sample_discordant(session, 1.0, finding=get_finding(session, fuji))
            assert queued > 0
            [item] = review.review_items(session, PARIS, finding_id=fuji, limit=1)
            review.adjudicate(session, item["case_ref"], "positive", **who)
        with db.session() as session:
            august = gather_monthly_report(session, config, date(2025, 8, 1))
            july = gather_monthly_report(session, config, date(2025, 7, 1))
    finally:
        db.dispose()
    fracture = august.devices[0]
    lines = {f.finding_id: f for f in fracture.findings}
    confirmed = lines[fuji]
    assert confirmed.status == "action_taken"
    assert [e for e, _ in confirmed.events] == [
        "acknowledged",
        "confirmed",
        "action_taken",
        "action_added",
    ]
    assert all(day == date(2025, 8, 20) for _, day in confirmed.events)
    assert lines[other].status == "dismissed"
    assert lines[other].dismissal_reason == "same_root_cause"
    [action] = fracture.actions
    assert (action.finding_id, action.kind, action.due) == (fuji, "restrict_use", date(2025, 9, 15))
    assert fracture.review.queued == queued and fracture.review.adjudicated == 1
    # Still red (the month is below the claim); the confirmed finding is under action.
    assert fracture.light.color == "red"
    codes = {r.params.get("finding_id"): r.code for r in fracture.light.reasons}
    assert fuji in codes and other not in codes
    # Seen from the end of July, none of this had happened.
    july_lines = {f.finding_id: f for f in july.devices[0].findings}
    assert july_lines[fuji].status == "open" and july_lines[fuji].events[0][0] == "opened"
    assert len(july_lines[fuji].events) == 1
    assert not july.devices[0].actions and july.devices[0].review.adjudicated == 0
