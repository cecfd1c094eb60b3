"""The container stack, the image, the systemd unit and the example configuration."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_config
from tests.deploy import DEPLOY, ROOT

COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
SERVICES = {"monitor", "postgres", "prometheus", "alertmanager", "grafana"}
CONFIG_IN_CONTAINER = "/etc/dmn-monitor/dmn-monitor.toml"
DEFAULTED = re.compile(r"^\$\{(\w+):-([^}]*)\}")


def compose() -> dict[str, Any]:
    """deploy/compose.yaml, parsed."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines())
        if parts
    ]


def test_compose_defines_the_five_services_with_pinned_images() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name}: {image} has no tag"
        assert tag != "latest" and "${" not in image, f"{name}: {image} is not pinned"
    assert services["postgres"]["image"] == "postgres:15"
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")
    assert services["alertmanager"]["image"].startswith("prom/alertmanager:v")


def test_the_monitor_is_built_from_the_repository_and_waits_for_a_healthy_database() -> None:
    monitor = compose()["services"]["monitor"]
    assert monitor["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    context = (DEPLOY / monitor["build"]["context"]).resolve()
    assert context == ROOT and (context / monitor["build"]["dockerfile"]) == DOCKERFILE
    assert monitor["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert "pg_isready" in " ".join(compose()["services"]["postgres"]["healthcheck"]["test"])
    assert any(mount.endswith(f":{CONFIG_IN_CONTAINER}:ro") for mount in monitor["volumes"])
    environment = monitor["environment"]
    assert environment["DMN_MONITOR_PSEUDONYM_KEY"].startswith("${DMN_MONITOR_PSEUDONYM_KEY:?")
    assert environment["DMN_MONITOR_DB"].startswith("postgresql+psycopg://dmn_monitor:${")
    assert environment["DMN_MONITOR_DB"].endswith("@postgres:5432/dmn_monitor")


def test_the_monitor_service_has_a_healthcheck_on_healthz_and_a_graceful_stop() -> None:
    monitor = compose()["services"]["monitor"]
    check = monitor["healthcheck"]
    assert check["test"][0] == "CMD"
    assert "http://127.0.0.1:8765/healthz" in " ".join(check["test"])
    assert monitor["stop_signal"] == "SIGTERM"
    assert monitor["stop_grace_period"] == "90s"  # as TimeoutStopSec of the unit


def test_grafana_takes_its_admin_password_from_the_environment() -> None:
    grafana = compose()["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith(
        "${GRAFANA_ADMIN_PASSWORD:?"
    )
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]


def test_every_mounted_file_exists_and_ports_are_local_only() -> None:
    for name, service in compose()["services"].items():
        for mount in service.get("volumes", []):
            source = DEFAULTED.sub(lambda m: m.group(2), mount.split(":")[0])
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_the_env_example_sets_every_required_variable() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {"DMN_MONITOR_PSEUDONYM_KEY", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    defined = set(re.findall(r"^(\w+)=", example, re.M))
    assert required <= defined


def test_the_dockerfile_is_multi_stage_slim_and_runs_as_uid_10001() -> None:
    instructions = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    bases = [args.split()[0] for op, args in instructions if op == "FROM"]
    assert len(bases) == 2 and all(b.startswith("python:3.11-slim") for b in bases)
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    assert ("COPY", "--from=build /opt/dmn-monitor /opt/dmn-monitor") in final
    users = [args for op, args in final if op == "USER"]
    assert users == ["10001:10001"]
    final_text = " ".join(args for _, args in final)
    assert not re.search(r"\b(gcc|g\+\+|build-essential|apt-get install)\b", final_text)
    assert ("EXPOSE", "8765") in final
    healthcheck = next(args for op, args in final if op == "HEALTHCHECK")
    assert "http://127.0.0.1:8765/healthz" in healthcheck
    assert json.loads(next(args for op, args in final if op == "ENTRYPOINT")) == ["dmn-monitor"]
    command = json.loads(next(args for op, args in final if op == "CMD"))
    assert command == ["serve", "--config", CONFIG_IN_CONTAINER, "--host", "0.0.0.0"]


def test_the_build_context_sends_only_the_package() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    kept = [pattern for pattern in patterns if pattern.startswith("!")]
    assert patterns[0] == "*"  # everything is excluded first, then the package allowed back
    assert kept == [
        "!pyproject.toml",
        "!README.md",
        "!connectors/",
        "!metrics/",
        "!alerts/",
        "!monitor/",
    ]


def test_docker_compose_accepts_the_stack() -> None:
    """Run only where `docker compose` works (docker is optional, even in CI)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False, timeout=60
    )
    if probe.returncode != 0:
        pytest.skip("docker compose is not available")
    result = subprocess.run(
        [
            docker,
            "compose",
            "-f",
            str(COMPOSE),
            "--env-file",
            str(DEPLOY / ".env.example"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / "dmn-monitor.service", encoding="utf-8")
    return parser


def test_the_systemd_unit_runs_dmn_monitor_serve_unprivileged() -> None:
    service = _unit()["Service"]
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "dmn-monitor" and command[1] == "serve"
    assert command[command.index("--config") + 1] == "/etc/dmn-monitor/dmn-monitor.toml"
    assert service["User"] == "dmn-monitor" and service["User"] != "root"
    assert service["EnvironmentFile"] == "/etc/dmn-monitor/secrets.env"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/dmn-monitor"


def test_the_systemd_unit_restarts_on_failure_and_stops_gracefully() -> None:
    unit = _unit()
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) >= 60
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_example_configuration_loads_and_matches_the_stack() -> None:
    config = load_config(DEPLOY / "dmn-monitor.example.toml")
    assert config.database.url == "postgresql+psycopg://dmn_monitor@postgres:5432/dmn_monitor"
    assert config.time.timezone == "Europe/Paris"
    assert config.sources and {source.kind for source in config.sources} == {
        "predictions",
        "outcomes",
    }
    for source in config.sources:
        assert source.path.startswith("/var/lib/dmn-monitor/inbox/"), source.path
    (channel,) = config.notifications.channels
    assert (channel.kind, channel.url) == ("alertmanager", "http://alertmanager:9093")
    assert config.report.establishment
    assert config.report.out_dir.startswith("/var/lib/dmn-monitor/")
