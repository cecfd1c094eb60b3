"""Prometheus alerting rules, their promtool unit tests and the Alertmanager configuration."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import DEPLOY, require_binary

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules" / "dmn-monitor.rules.yml"
RULE_TESTS = PROMETHEUS / "tests" / "dmn-monitor.rules.test.yml"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"

EXPECTED_ALERTS = {
    "DmnMonitorDown",
    "DmnDeviceSilent",
    "DmnPerformanceBelowClaim",
    "DmnCusumSignal",
    "DmnCriticalFindingOpen",
    "DmnIngestionFailing",
    "DmnJobFailing",
    "DmnSnapshotsStale",
}
ANNOTATIONS = ("summary", "summary_fr", "description", "description_fr", "runbook", "runbook_fr")


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerting_rules() -> list[dict[str, Any]]:
    """Every alerting rule of the rules file, in file order."""
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def test_the_rules_define_exactly_the_on_call_alerts() -> None:
    assert {rule["alert"] for rule in alerting_rules()} == EXPECTED_ALERTS


def test_promtool_accepts_the_rules() -> None:
    result = _run(require_binary("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_promtool_unit_tests_pass() -> None:
    result = _run(require_binary("promtool"), "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_prove_every_alert_fires_and_stays_silent() -> None:
    """For each alert, one case expects it firing and another expects it silent."""
    document = _load(RULE_TESTS)
    assert document["rule_files"] == ["../rules/dmn-monitor.rules.yml"]
    firing: set[str] = set()
    silent: set[str] = set()
    for case in document["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert firing == EXPECTED_ALERTS
    assert silent == EXPECTED_ALERTS


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: str(rule["alert"]))
def test_every_alert_has_a_severity_a_delay_and_bilingual_annotations(
    rule: dict[str, Any],
) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["labels"]["service"] == "dmn-monitor"  # the inhibition matches on it
    assert re.fullmatch(r"\d+[smh]", str(rule["for"]))
    annotations = rule["annotations"]
    for key in ANNOTATIONS:
        assert str(annotations[key]).strip(), key
    for key in ("summary", "description", "runbook"):
        assert annotations[key] != annotations[f"{key}_fr"]


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: str(rule["alert"]))
def test_french_annotations_use_non_breaking_spaces(rule: dict[str, Any]) -> None:
    """French typography: a non-breaking space before : ; % and inside « »."""
    for key in ("summary_fr", "description_fr", "runbook_fr"):
        text = str(rule["annotations"][key])
        assert not re.search(r" [:;%»]|« ", text), (key, text)  # ordinary space
        assert not re.search(r"[^\s][:;](?=\s)|[^\s]%(?!\.)", text), (key, text)  # none


def test_prometheus_scrapes_the_monitor_every_30_seconds_and_loads_the_rules() -> None:
    config = _load(PROMETHEUS / "prometheus.yml")
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "dmn-monitor"]
    assert job["scrape_interval"] == "30s"
    assert job["static_configs"][0]["targets"] == ["monitor:8765"]
    # The exporter's own `job` label (ingest, check...) must not become exported_job.
    assert job["honor_labels"] is True
    assert config["rule_files"] == ["rules/*.yml"]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]


def test_promtool_accepts_the_prometheus_configuration_and_finds_the_rules() -> None:
    result = _run(require_binary("promtool"), "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout
    assert str(RULES.name) in result.stdout


def test_amtool_accepts_the_alertmanager_configuration() -> None:
    result = _run(require_binary("amtool"), "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=DmnMonitorDown", "severity=critical"], "dmn-critical"),
        (["alertname=DmnJobFailing", "severity=warning"], "dmn-warning"),
        (["alertname=DmnMonitorDrift", "severity=info"], "null"),
    ],
)
def test_alertmanager_routes_by_severity(labels: list[str], receiver: str) -> None:
    amtool = require_binary("amtool")
    result = _run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_the_monitor_being_down_inhibits_its_other_alerts() -> None:
    config = _load(ALERTMANAGER)
    (rule,) = [
        rule
        for rule in config["inhibit_rules"]
        if rule["source_matchers"] == ['alertname="DmnMonitorDown"']
    ]
    assert set(rule["target_matchers"]) == {'service="dmn-monitor"', 'alertname!="DmnMonitorDown"'}
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    for name in ("dmn-critical", "dmn-warning"):
        url = receivers[name]["webhook_configs"][0]["url"]
        assert url.startswith("http://alert-receiver.example.invalid/"), (
            url
        )  # documented placeholder
