"""The layout's rules: dependencies point one way, public APIs are curated."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "connectors", "metrics", "alerts")
ALLOWED = {
    "monitor": {"monitor", "connectors", "metrics", "alerts"},
    "alerts": {"alerts", "metrics"},
    "connectors": {"connectors"},
    "metrics": {"metrics"},
}


def _imported_project_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_dependencies_point_one_way(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        used = _imported_project_packages(path)
        assert used <= ALLOWED[package], (
            f"{path.relative_to(ROOT)} imports {used - ALLOWED[package]}"
        )


@pytest.mark.parametrize("package", ["connectors", "metrics"])
def test_pure_packages_read_no_environment(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        assert "os.environ" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("package", PACKAGES)
def test_public_api_is_exactly_all(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    assert all(hasattr(module, name) for name in exported)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, type(importlib))
    }
    assert public <= exported | {"annotations"}, f"{package} exposes {public - exported}"
