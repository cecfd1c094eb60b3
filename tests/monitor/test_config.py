"""Configuration: frozen, every key documented, unknown or mistyped keys named."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.config import Config, iter_keys, load_config
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dmn-monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path)
    assert config.path is None
    assert config.database.url == "sqlite:///dmn-monitor.db"
    assert config.time.timezone == "Europe/Paris"
    assert config.pseudonymisation.key_env == "DMN_MONITOR_PSEUDONYM_KEY"


def test_the_default_file_in_the_working_directory_is_read(tmp_path: Path) -> None:
    _write(tmp_path, '[time]\ntimezone = "America/Cayenne"\n')
    assert load_config(cwd=tmp_path).time.timezone == "America/Cayenne"


def test_a_full_file_is_parsed_into_a_frozen_object(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[database]
url = "postgresql+psycopg://monitor@db:5432/monitor"
[subgroups]
dimensions = ["site", "age_band"]
age_bands = [18, 65]
[detection]
chart = "ewma"
baselines = { frac = [2025-01-01, 2025-03-31] }
[[sources]]
name = "vendor"
kind = "predictions"
path = "exports/*.csv"
delimiter = ";"
[sources.columns]
accession_number = "Accession"
[sources.values.ai_result]
DOUBT = "indeterminate"
[sources.defaults]
device_id = "frac"
""",
    )
    config = load_config(path)
    assert config.path == path.resolve()
    assert config.base_dir == tmp_path.resolve()
    (source,) = config.sources
    assert source.columns["accession_number"] == "Accession"
    assert source.values["ai_result"]["DOUBT"] == "indeterminate"
    assert config.subgroups.age_bands == (18.0, 65.0)
    assert config.detection.chart == "ewma"
    assert config.detection.baselines["frac"] == (date(2025, 1, 1), date(2025, 3, 31))
    with pytest.raises(ValidationError):
        config.database.url = "sqlite:///other.db"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[databse]\nurl = 'x'\n", "databse", "unknown key"),
        ("[database]\nurll = 'x'\n", "database.urll", "unknown key"),
        ("[ingest]\nchunk_size = 'many'\n", "ingest.chunk_size", "valid integer"),
        ("[time]\ntimezone = 'Mars/Olympus'\n", "time.timezone", "unknown timezone"),
        ("[subgroups]\nage_bands = [65, 18]\n", "subgroups.age_bands", "strictly ascending"),
        ("[subgroups]\ndimensions = ['shoe_size']\n", "subgroups.dimensions", "shoe_size"),
        (
            "[detection]\nbaselines = { frac = [2025-03-01, 2025-02-01] }\n",
            "detection.baselines",
            "ends (2025-02-01) before its first day",
        ),
        ("[detection]\nchart = 'shewhart'\n", "detection.chart", "cusum"),
        (
            "[[sources]]\nname = 'a'\nkind = 'predictions'\npath = 'x'\nformatt = 'csv'\n",
            "sources[0] ('a').formatt",
            "unknown key",
        ),
        ("[[sources]]\nname = 'a'\nkind = 'labels'\npath = 'x'\n", "sources[0] ('a').kind", ""),
    ],
)
def test_bad_keys_are_named_with_the_file(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{path}: ")
    assert key in str(caught.value)
    assert problem in str(caught.value)


def test_missing_file_and_bad_toml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(_write(tmp_path, "[database\n"))


def test_every_key_has_help_text() -> None:
    keys = list(iter_keys())
    assert len(keys) >= 15
    for key, _default, help_text in keys:
        assert len(help_text) > 15, f"{key} has no help text"


def test_every_key_is_in_the_readme_configuration_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_\[\].]+)` \|", section, flags=re.MULTILINE))
    keys = {key for key, _, _ in iter_keys()}
    assert keys - documented == set(), "keys missing from the README's configuration table"
    assert documented - keys == set(), "README documents keys that do not exist"


def test_database_override_keeps_the_rest() -> None:
    config = Config().with_database_url("sqlite:///other.db")
    assert config.database.url == "sqlite:///other.db"
    assert config.time.timezone == "Europe/Paris"


def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    """Failed before: a traceback (UnicodeDecodeError)."""
    path = tmp_path / "dmn-monitor.toml"
    path.write_bytes('[report]\nout_dir = "rapports-été"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte \d+ cannot be read\)"):
        load_config(path)


@pytest.mark.parametrize(
    ("key", "folder"),
    [
        ("report.out_dir", "/etc"),
        ("report.out_dir", "/usr/share/reports"),
        ("report.out_dir", "../../../../../../../../etc/cron.d"),
        ("console.upload_dir", "/"),
    ],
)
def test_folders_the_service_writes_to_cannot_be_system_folders(
    tmp_path: Path, key: str, folder: str
) -> None:
    """Failed before: report.out_dir = "/etc" was accepted."""
    section, name = key.split(".")
    path = _write(tmp_path, f'[{section}]\n{name} = "{folder}"\n')
    with pytest.raises(ConfigError, match=f"key '{re.escape(key)}': .* system folder"):
        load_config(path)


def test_a_folder_of_the_services_own_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, '[report]\nout_dir = "/var/lib/dmn-monitor/reports"\n')
    assert load_config(path).report.out_dir == "/var/lib/dmn-monitor/reports"
