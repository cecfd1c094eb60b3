"""The command line, as a user types it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connectors import PREDICTION_COLUMNS
from monitor.cli import cli
from monitor.storage import head_revision
from tests.conftest import registry_document


@pytest.fixture
def run(db_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, [*args, "--db", db_url], env=env)
        if ok:
            assert result.exit_code == 0, result.output + str(result.exception)
        return result

    return invoke


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "devices.yaml"
    path.write_text(yaml.safe_dump(registry_document()), encoding="utf-8")
    return path


def _predictions(path: Path, rows: int, broken: int = 0) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(PREDICTION_COLUMNS)
        for i in range(rows):
            values = {c: "" for c in PREDICTION_COLUMNS}
            values.update(
                device_id="frac",
                device_version="1.0",
                exam_datetime="2025-05-02T08:00:00",
                ai_result="negative",
                accession_number=f"A{i}",
                patient_id=f"P{i}",
            )
            if i < broken:
                values["ai_result"] = "sort of"
            writer.writerow([values[c] for c in PREDICTION_COLUMNS])
    return path


def test_devices_import_list_show_export(run, registry_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("devices", "import", str(registry_file), "--user", "qm").output.splitlines() == [
        "frac: created",
        "nod: created",
    ]
    listing = run("devices", "list").output
    assert "frac" in listing and "Fracture detector" in listing and "continuity_plan" in listing
    assert yaml.safe_load(run("devices", "show", "nod").output)["devices"][0]["id"] == "nod"
    out = tmp_path / "export.yaml"
    run("devices", "export", "--out", str(out))
    assert [d["id"] for d in yaml.safe_load(out.read_text())["devices"]] == ["frac", "nod"]
    assert json.loads(run("devices", "list", "--format", "json").output)[0]["id"] == "frac"


def test_errors_are_one_line_without_traceback(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "devices.yaml"
    document = registry_document()
    document["devices"][0]["claimed_performance"]["sensitivity"] = 1.3
    bad.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = run("devices", "import", str(bad), ok=False)
    assert result.exit_code == 1
    assert "claimed_performance.sensitivity 1.3 outside 0..1" in result.output
    assert "Traceback" not in result.output
    result = run("devices", "show", "ghost", ok=False)
    assert result.exit_code == 1 and "no device 'ghost'" in result.output


def test_ingest_prints_counts_and_quarantine_lists_reasons(
    run,
    registry_file: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    run("devices", "import", str(registry_file))
    path = _predictions(tmp_path / "p.csv", rows=50, broken=2)
    env = {"DMN_MONITOR_PSEUDONYM_KEY": "a-long-enough-secret-key-for-tests"}
    first = run("ingest", "predictions", str(path), env=env).output
    assert "read 50, accepted 48, duplicate 0, quarantined 2" in first
    second = run("ingest", "predictions", str(path), env=env).output
    assert "read 50, accepted 0, duplicate 48, quarantined 2" in second
    listing = run("quarantine", "list").output
    assert listing.count("ai_result: a value shaped 'aaaa aa' is not one of") == 2
    assert "P0" not in run("quarantine", "list", "--format", "json").output
    runs = json.loads(run("ingest", "runs", "--format", "json").output)
    assert [(r["status"], r["accepted"]) for r in runs] == [("completed", 0), ("completed", 48)]


def test_ingest_refuses_patient_ids_without_a_key(run, registry_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("devices", "import", str(registry_file))
    result = run("ingest", "predictions", str(_predictions(tmp_path / "p.csv", 3)), ok=False)
    assert result.exit_code == 1
    assert "no pseudonymisation key is set" in result.output
    short = run(
        "ingest",
        "predictions",
        str(tmp_path / "p.csv"),
        env={"DMN_MONITOR_PSEUDONYM_KEY": "short"},
        ok=False,
    )
    assert "shorter than 16" in short.output
    # Failed before: 40 spaces, or one character repeated, were accepted as a key.
    for weak, said in ((" " * 40, "once its spaces are stripped"), ("a" * 40, "different")):
        refused = run(
            "ingest",
            "predictions",
            str(tmp_path / "p.csv"),
            env={"DMN_MONITOR_PSEUDONYM_KEY": weak},
            ok=False,
        )
        assert refused.exit_code == 1 and said in refused.output


def test_status_and_evaluate_formats(run, registry_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("devices", "import", str(registry_file))
    env = {"DMN_MONITOR_PSEUDONYM_KEY": "a-long-enough-secret-key-for-tests"}
    run("ingest", "predictions", str(_predictions(tmp_path / "p.csv", 10)), env=env)
    outcomes = tmp_path / "o.csv"
    outcomes.write_text(
        "accession_number,outcome,source,outcome_datetime\n"
        + "".join(
            f"A{i},{'positive' if i < 3 else 'negative'},report,2025-05-03T10:00:00\n"
            for i in range(8)
        ),
        encoding="utf-8",
    )
    run("ingest", "outcomes", str(outcomes))
    status = json.loads(run("status", "--as-of", "2025-05-31", "--format", "json").output)
    frac = next(s for s in status if s["device"] == "frac")
    assert (frac["predictions"], frac["linked"], frac["awaiting_truth"]) == (10, 8, 2)
    assert frac["median_label_delay_days"] == pytest.approx(26 / 24)
    before = json.loads(run("status", "--as-of", "2025-05-02", "--format", "json").output)
    assert next(s for s in before if s["device"] == "frac")["linked"] == 0

    table = run("evaluate", "--as-of", "2025-05-31").output
    assert "frac" in table and "sensitivity" in table
    lines = run("evaluate", "--as-of", "2025-05-31", "--format", "csv").output.splitlines()
    assert lines[0].startswith("device_id,window_start,window_end,n,tp,fp,tn,fn,pending")
    assert lines[1].split(",")[3:9] == ["8", "0", "0", "5", "3", "2"]
    bad = run("evaluate", "--by", "colour", ok=False)
    assert bad.exit_code == 1 and "cannot break down by colour" in bad.output


def test_config_show_and_keys(tmp_path: Path) -> None:
    config = tmp_path / "dmn-monitor.toml"
    config.write_text('[time]\ntimezone = "Europe/Paris"\n[ingest]\nchunk_size = 100\n')
    runner = CliRunner()
    shown = runner.invoke(cli, ["config", "show", "--config", str(config)])
    assert shown.exit_code == 0
    body = json.loads(shown.output.split("\n", 1)[1])
    assert body["ingest"]["chunk_size"] == 100
    keys = runner.invoke(cli, ["config", "keys"]).output
    assert "sources[].columns" in keys and "pseudonymisation.key_env" in keys
    config.write_text("[ingest]\nchunk_sise = 100\n")
    bad = runner.invoke(cli, ["config", "show", "--config", str(config)])
    assert bad.exit_code == 1
    assert "unknown key 'ingest.chunk_sise'" in bad.output and str(config) in bad.output


def test_db_url_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/env.db"
    result = CliRunner().invoke(cli, ["db", "upgrade"], env={"DMN_MONITOR_DB": url})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env.db").exists()
    current = CliRunner().invoke(cli, ["db", "current"], env={"DMN_MONITOR_DB": url})
    assert f"database: {head_revision()}  needed: {head_revision()}" in current.output


def test_python_dash_m_monitor_is_the_same_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--help"], capture_output=True, text=True, check=True
    )
    assert "evaluate" in result.stdout and "ingest" in result.stdout


def test_ingest_sources_reads_configured_globs_and_skips_what_is_done(  # type: ignore[no-untyped-def]
    run, registry_file: Path, tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    _predictions(exports / "day1.csv", rows=5)
    config = tmp_path / "dmn-monitor.toml"
    config.write_text(
        '[[sources]]\nname = "ai"\nkind = "predictions"\npath = "exports/*.csv"\n',
        encoding="utf-8",
    )
    env = {"DMN_MONITOR_PSEUDONYM_KEY": "a-long-enough-secret-key-for-tests"}
    run("devices", "import", str(registry_file))
    first = run("ingest", "sources", "--config", str(config), env=env).output
    assert "day1.csv: read 5, accepted 5" in first
    _predictions(exports / "day2.csv", rows=7)
    second = run("ingest", "sources", "--config", str(config), env=env).output
    assert "day1.csv" not in second and "day2.csv: read 7, accepted 2, duplicate 5" in second
    assert run("ingest", "sources", "--config", str(config), env=env).output == ""
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    result = run("ingest", "sources", "--config", str(empty), ok=False)
    assert result.exit_code == 1 and "no [[sources]]" in result.output


def test_evaluate_csv_neutralises_formulas_that_came_from_files(  # type: ignore[no-untyped-def]
    run, registry_file: Path, tmp_path: Path
) -> None:
    """A subgroup value written by a hostile feed is text in the spreadsheet, not a
    formula (failed before: ``=HYPERLINK(...)`` was written as it came)."""
    run("devices", "import", str(registry_file))
    env = {"DMN_MONITOR_PSEUDONYM_KEY": "a-long-enough-secret-key-for-tests"}
    sites = ['=HYPERLINK("http://x.example","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)"]
    path = _predictions(tmp_path / "p.csv", 9)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("site")
    for i, row in enumerate(rows[1:]):
        row[column] = sites[i % 3]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    run("ingest", "predictions", str(path), env=env)
    output = run("evaluate", "--as-of", "2025-05-31", "--by", "site", "--format", "csv").output
    cells = [cell for row in csv.reader(output.splitlines()) for cell in row]
    for site in sites:
        assert "'" + site in cells
    assert not any(cell.lstrip().startswith(("=", "+", "@")) for cell in cells)


def test_a_row_whose_columns_slid_quarantines_without_showing_its_identifiers(  # type: ignore[no-untyped-def]
    run, registry_file: Path, tmp_path: Path
) -> None:
    """Failed before: the reason read ``patient_sex 'P1247707' is not one of F, M, O, U``
    and the raw row showed the identifier in the clear, to every viewer."""
    run("devices", "import", str(registry_file))
    path = _predictions(tmp_path / "p.csv", 3)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    slid = rows[1]
    # Each value one column to the right of where it belongs, from patient_id on.
    start = header.index("patient_id")
    slid[start + 1 :] = slid[start:-1]
    slid[header.index("patient_sex")] = "P1247707"
    slid[header.index("patient_age")] = "1247707"
    slid[header.index("accession_number")] = "ACC2025-99812"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    env = {"DMN_MONITOR_PSEUDONYM_KEY": "a-long-enough-secret-key-for-tests"}
    assert "quarantined 1" in run("ingest", "predictions", str(path), env=env).output
    table = run("quarantine", "list").output
    shown = run("quarantine", "list", "--format", "json").output
    for identifier in ("P1247707", "1247707", "99812"):
        assert identifier not in table and identifier not in shown
    reason = json.loads(shown)[0]["reason"]
    assert "patient_sex: a value shaped 'A9999999' is not one of" in reason
    assert "patient_age: a value shaped '9999999' is outside 0..130" in reason
