"""Grafana dashboards and provisioning: structure, datasource, PromQL and the metric contract.

``expressions()`` lists every PromQL expression of the dashboards (panel targets and
template variable queries) with the variables replaced by sample values, so that
they can be parsed here and queried against a real Prometheus elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from tests.deploy import DEPLOY, require_binary

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
RULES = DEPLOY / "prometheus" / "rules" / "dmn-monitor.rules.yml"
DASHBOARD_NAMES = ("fleet", "device", "ingestion")
PANEL_TYPES = {"timeseries", "stat", "table", "row"}

# The metric names served at /metrics by `dmn-monitor serve` (issue 8 contract).
CONTRACT_METRICS = frozenset(
    {
        *(f"dmn_monitor_{m}_ratio" for m in ("sensitivity", "specificity", "ppv", "npv")),
        *(f"dmn_monitor_{m}_lower_ratio" for m in ("sensitivity", "specificity", "ppv", "npv")),
        *(f"dmn_monitor_{m}_upper_ratio" for m in ("sensitivity", "specificity", "ppv", "npv")),
        "dmn_monitor_verified_cases",
        "dmn_monitor_pending_cases",
        "dmn_monitor_claimed_sensitivity_ratio",
        "dmn_monitor_claimed_specificity_ratio",
        "dmn_monitor_below_claim",
        "dmn_monitor_cusum_statistic",
        "dmn_monitor_cusum_decision_limit",
        "dmn_monitor_cusum_signal",
        "dmn_monitor_drift_score",
        "dmn_monitor_drift_threshold",
        "dmn_monitor_estimated_sensitivity_ratio",
        "dmn_monitor_estimated_specificity_ratio",
        "dmn_monitor_open_findings",
        "dmn_monitor_label_delay_seconds",
        "dmn_monitor_last_prediction_timestamp_seconds",
        "dmn_monitor_last_ingest_timestamp_seconds",
        "dmn_monitor_ingest_rows_total",
        "dmn_monitor_job_last_duration_seconds",
        "dmn_monitor_job_last_success_timestamp_seconds",
        "dmn_monitor_job_runs_total",
        "dmn_monitor_job_running",
        "dmn_monitor_snapshot_timestamp_seconds",
        "dmn_monitor_build_info",
    }
)

# Sample values of the dashboard variables (and Grafana's built-in ones).
SAMPLE_VALUES = {
    "device": "fracture-xr",
    "version": "all",
    "window": "30d",
    "job": "ingest",
    "__rate_interval": "2m",
    "__interval": "30s",
    "__range": "1h",
}
METRIC_NAME = re.compile(r"\bdmn_monitor_[a-z0-9_]+")
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.+),\s*(?P<label>\w+)\s*\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.+)\)\s*$", re.S)


class Expression(NamedTuple):
    """One PromQL expression of a dashboard, variables substituted."""

    dashboard: str
    where: str  # panel title and refId, or "variable NAME"
    expr: str


def dashboard(name: str) -> dict[str, Any]:
    """The parsed JSON of deploy/grafana/dashboards/NAME.json."""
    data: dict[str, Any] = json.loads((DASHBOARDS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, the panels inside rows included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def substitute(expr: str) -> str:
    """Replace $var, ${var}, ${var:fmt} and [[var]] by SAMPLE_VALUES (KeyError when unknown)."""

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return SAMPLE_VALUES[name]

    return VARIABLE.sub(value, expr)


def variable_selector(query: str) -> str:
    """The PromQL of a variable query: label_values(SELECTOR, label) -> SELECTOR.

    query_result(EXPR) gives EXPR; anything else (label_values(label) without a
    selector, metrics(...)) raises ValueError, as it has no PromQL to check.
    """
    if match := LABEL_VALUES.match(query):
        return match["selector"].strip()
    if match := QUERY_RESULT.match(query):
        return match["expr"].strip()
    raise ValueError(f"variable query without a PromQL selector: {query!r}")


def _variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    return str(query or variable.get("definition") or "")


def expressions() -> list[Expression]:
    """Every PromQL expression of the dashboards, variables replaced by sample values."""
    found: list[Expression] = []
    for name in DASHBOARD_NAMES:
        board = dashboard(name)
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                expr = substitute(variable_selector(_variable_query(variable)))
                found.append(Expression(name, f"variable {variable['name']}", expr))
        for panel in panels(board):
            for target in panel.get("targets", []):
                where = f"{panel['title']} [{target['refId']}]"
                found.append(Expression(name, where, substitute(target["expr"])))
    return found


def test_variable_queries_become_their_selector_and_variables_are_substituted() -> None:
    query = 'label_values(dmn_monitor_verified_cases{device="$device"}, version)'
    assert variable_selector(query) == 'dmn_monitor_verified_cases{device="$device"}'
    assert substitute(variable_selector(query)) == (
        'dmn_monitor_verified_cases{device="fracture-xr"}'
    )
    assert substitute('rate(x{job=~"${job:regex}"}[$__rate_interval])') == (
        'rate(x{job=~"ingest"}[2m])'
    )
    with pytest.raises(ValueError, match="without a PromQL selector"):
        variable_selector("label_values(device)")
    with pytest.raises(KeyError):
        substitute('x{site="$site"}')


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_dashboards_are_valid_grafana_json(name: str) -> None:
    board = dashboard(name)
    assert board["schemaVersion"] >= 36
    assert board["uid"] == f"dmn-monitor-{name}"
    assert "dmn-monitor" in board["tags"]
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert {panel["type"] for panel in panels(board)} <= PANEL_TYPES
    assert all(" / " in panel["title"] for panel in panels(board)), "titles in English / French"


def test_dashboard_uids_are_unique() -> None:
    assert len({dashboard(name)["uid"] for name in DASHBOARD_NAMES}) == len(DASHBOARD_NAMES)


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_query_uses_the_prometheus_datasource_by_uid(name: str) -> None:
    board = dashboard(name)
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus", panel["title"]


def test_every_expression_parses_as_promql(tmp_path: Path) -> None:
    """Written as recording rules, `promtool check rules` parses every expression."""
    promtool = require_binary("promtool")
    found = expressions()
    assert len(found) > 50
    assert not [e for e in found if "$" in e.expr or "label_values" in e.expr]
    rules = [
        {"record": f"dashboard:expression_{i}:check", "expr": e.expr} for i, e in enumerate(found)
    ]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(found)} rules found" in result.stdout


def test_promtool_rejects_a_broken_expression(tmp_path: Path) -> None:
    """The check above can fail: a malformed expression is refused."""
    promtool = require_binary("promtool")
    path = tmp_path / "broken.rules.yml"
    rule = {"record": "dashboard:broken", "expr": "sum by (device (dmn_monitor_open_findings)"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [rule]}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0


def _used_metrics() -> dict[str, set[str]]:
    used = {"rules": set(METRIC_NAME.findall(RULES.read_text(encoding="utf-8")))}
    for name in DASHBOARD_NAMES:
        used[name] = set(METRIC_NAME.findall((DASHBOARDS / f"{name}.json").read_text("utf-8")))
    return used


def test_dashboards_and_rules_use_only_contract_metric_names() -> None:
    for source, names in _used_metrics().items():
        assert names <= CONTRACT_METRICS, (source, sorted(names - CONTRACT_METRICS))


def test_every_contract_metric_is_shown_or_alerted_on() -> None:
    used = set().union(*_used_metrics().values())
    assert sorted(CONTRACT_METRICS - used) == []


def test_the_device_dashboard_shows_intervals_claims_cusum_drift_and_estimates() -> None:
    board = dashboard("device")
    assert [v["name"] for v in board["templating"]["list"]] == ["device", "version", "window"]
    exprs = " ".join(e.expr for e in expressions() if e.dashboard == "device")
    for metric in ("sensitivity", "specificity"):
        for series in ("ratio", "lower_ratio", "upper_ratio"):
            assert f'dmn_monitor_{metric}_{series}{{device="fracture-xr"' in exprs
        assert f'dmn_monitor_claimed_{metric}_ratio{{device="fracture-xr"}}' in exprs
    for metric in ("cusum_statistic", "cusum_decision_limit", "drift_score", "drift_threshold"):
        assert f'dmn_monitor_{metric}{{device="fracture-xr"' in exprs
    assert 'dimension!="all"' in exprs  # the subgroups table
    bands = [
        override
        for panel in panels(board)
        for override in panel.get("fieldConfig", {}).get("overrides", [])
        if any(p["id"] == "custom.fillBelowTo" for p in override["properties"])
    ]
    assert len(bands) == 4  # sensitivity, specificity, PPV, NPV


def test_grafana_provisions_the_datasource_and_the_dashboards_folder() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert (source["uid"], source["type"], source["url"]) == (
        "prometheus",
        "prometheus",
        "http://prometheus:9090",
    )
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/dmn-monitor.yml").read_text())
    (provider,) = providers["providers"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
