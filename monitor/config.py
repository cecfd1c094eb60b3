"""Configuration: one TOML file, parsed once at start-up into a frozen object.

Every key is declared here with its help text; ``dmn-monitor config show`` prints
the effective values and the README's configuration table lists every key (a test
keeps them in step). Library code receives a :class:`Config`; only the CLI reads
the environment, once.

Resolution order: ``--config PATH``; else ``./dmn-monitor.toml`` if present; else
the defaults. The database URL is ``--db URL``, else ``DMN_MONITOR_DB``, else the
config's ``database.url``, else ``sqlite:///dmn-monitor.db`` (in the working
directory).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_DATABASE_URL",
    "SUBGROUP_COLUMNS",
    "Config",
    "DatabaseConfig",
    "EvaluationConfig",
    "IngestConfig",
    "PseudonymisationConfig",
    "SourceConfig",
    "SubgroupConfig",
    "TimeConfig",
    "iter_keys",
    "load_config",
]

DEFAULT_CONFIG_FILE = "dmn-monitor.toml"
DEFAULT_DATABASE_URL = "sqlite:///dmn-monitor.db"

SUBGROUP_COLUMNS = (
    "device_version",
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
    "patient_sex",
    "target",
    "age_band",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseConfig(_Section):
    url: str = Field(
        DEFAULT_DATABASE_URL,
        description=(
            "SQLAlchemy URL of the database: sqlite:///path/file.db (default, relative to the "
            "working directory) or postgresql+psycopg://user@host:5432/dbname. "
            "Overridden by DMN_MONITOR_DB and by --db."
        ),
    )


class TimeConfig(_Section):
    timezone: str = Field(
        "Europe/Paris",
        description=(
            "IANA timezone of the establishment: naive timestamps in exports are read as local "
            "time there, and days, weeks, months and as-of dates are counted there."
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name)") from exc
        return value


class PseudonymisationConfig(_Section):
    key_env: str = Field(
        "DMN_MONITOR_PSEUDONYM_KEY",
        description=(
            "Name of the environment variable holding the secret key of the keyed HMAC that "
            "pseudonymises patient identifiers at ingestion. Without it, files with patient "
            "ids are refused."
        ),
    )


class IngestConfig(_Section):
    chunk_size: int = Field(
        5000,
        ge=1,
        le=1_000_000,
        description=(
            "Rows per committed chunk: a failure rolls back one chunk only, and peak memory "
            "depends on this, not on the file size."
        ),
    )


class SubgroupConfig(_Section):
    dimensions: tuple[str, ...] = Field(
        ("device_version", "site", "scanner_manufacturer", "age_band", "patient_sex", "body_part"),
        description=(
            "Prediction columns along which performance is broken down by default "
            f"(any of: {', '.join(SUBGROUP_COLUMNS)})."
        ),
    )
    age_bands: tuple[float, ...] = Field(
        (18.0, 65.0),
        description=(
            "Ascending age limits in years cutting the age_band subgroup: [18, 65] gives "
            "'<18', '18-64', '>=65'."
        ),
    )

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in SUBGROUP_COLUMNS:
                known = ", ".join(SUBGROUP_COLUMNS)
                raise ValueError(f"unknown subgroup dimension {name!r} (use one of {known})")
        return value

    @field_validator("age_bands")
    @classmethod
    def _ascending(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(b <= a for a, b in pairwise(value)):
            raise ValueError("age_bands must be strictly ascending")
        if any(v < 0 for v in value):
            raise ValueError("age_bands must be >= 0")
        return value


class EvaluationConfig(_Section):
    confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence level of every interval (0.95 = 95%)."
    )
    interval_method: Literal[
        "wilson", "wilson_cc", "clopper_pearson", "jeffreys", "agresti_coull"
    ] = Field("wilson", description="Interval method for proportions.")
    min_cases: int = Field(
        30,
        ge=1,
        description=(
            "Verified cases (tp + fp + tn + fn) below which a cell is flagged too small, "
            "shown with the sample size it would need."
        ),
    )
    target_half_width: float = Field(
        0.05,
        gt=0.0,
        le=0.5,
        description=(
            "Half-width of the sensitivity interval the sample-size guidance aims at "
            "(Buderer's formula)."
        ),
    )


class SourceConfig(_Section):
    name: str = Field(description="Short name of the source, shown in ingestion runs.")
    kind: Literal["predictions", "outcomes"] = Field(
        description="What the files hold: device outputs (predictions) or ground truth (outcomes)."
    )
    path: str = Field(
        description=(
            "Glob of the files of this source, relative to the configuration file's folder "
            "unless absolute. A file given to `dmn-monitor ingest` that matches it is read "
            "with this source's mapping."
        )
    )
    format: Literal["csv", "parquet"] = Field("csv", description="File format: csv or parquet.")
    delimiter: str = Field(",", description="CSV field delimiter (one character).")
    encoding: str = Field("utf-8", description="CSV text encoding (a BOM is tolerated).")
    datetime_format: str | None = Field(
        None,
        description=(
            "strptime format of the source's date-times (e.g. '%d/%m/%Y %H:%M'); "
            "default ISO 8601. Naive values are local time of time.timezone."
        ),
    )
    columns: Mapping[str, str] = Field(
        default_factory=dict,
        description="Column mapping: canonical column name = the column name in this source.",
    )
    values: Mapping[str, Mapping[str, str]] = Field(
        default_factory=dict,
        description=(
            "Value mapping per canonical column, e.g. values.ai_result.DOUBT = 'indeterminate' "
            "(matched ignoring case and surrounding spaces)."
        ),
    )
    defaults: Mapping[str, str] = Field(
        default_factory=dict,
        description=(
            "Constant values for canonical columns absent from the source or empty in a row, "
            "e.g. defaults.device_id = 'fracture-xr'."
        ),
    )

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("delimiter must be exactly one character")
        return value


class Config(_Section):
    """The effective configuration. ``path`` is the file it came from, if any."""

    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="Storage.")
    time: TimeConfig = Field(default_factory=TimeConfig, description="Time and calendar.")
    pseudonymisation: PseudonymisationConfig = Field(
        default_factory=PseudonymisationConfig, description="Patient identifier protection."
    )
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Ingestion.")
    subgroups: SubgroupConfig = Field(
        default_factory=SubgroupConfig, description="Patient subgroups for breakdowns."
    )
    evaluation: EvaluationConfig = Field(
        default_factory=EvaluationConfig, description="Statistics of the evaluation."
    )
    sources: tuple[SourceConfig, ...] = Field(
        (), description="Configured sources ([[sources]] tables), each with its own mapping."
    )
    path: Path | None = Field(None, exclude=True, description="The file this config came from.")

    @property
    def base_dir(self) -> Path:
        """Folder that relative source paths are resolved against."""
        return self.path.parent if self.path is not None else Path.cwd()

    def with_database_url(self, url: str) -> Config:
        """A copy with another database URL (the ``--db`` / ``DMN_MONITOR_DB`` override)."""
        return self.model_copy(update={"database": DatabaseConfig(url=url)})


def _format_location(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list | tuple):
            name = node[item].get("name") if isinstance(node[item], dict) else None
            parts[-1] = f"{parts[-1]}[{item}]" + (f" ({name!r})" if name else "")
            node = node[item]
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def load_config(path: str | Path | None = None, *, cwd: Path | None = None) -> Config:
    """Read and validate a configuration file.

    ``path`` None means ``./dmn-monitor.toml`` when present, else all defaults.
    Raises :class:`ConfigError` naming the file and the key for a missing file,
    invalid TOML, an unknown key or a value of the wrong type.
    """
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        if not candidate.is_file():
            return Config()
        path = candidate
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {file} does not exist", path=str(file)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {file}: {exc}", path=str(file)) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}", path=str(file)) from exc
    if "path" in data:
        raise ConfigError(f"{file}: unknown key 'path'", path=str(file), key="path")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _format_location(tuple(first["loc"]), data)
        if first["type"] == "extra_forbidden":
            message = (
                f"{file}: unknown key '{key}' (`dmn-monitor config keys` lists the valid keys)"
            )
        else:
            message = f"{file}: key '{key}': {first['msg']}"
        if len(exc.errors()) > 1:
            message += f" (and {len(exc.errors()) - 1} more problem(s))"
        raise ConfigError(message, path=str(file), key=key) from exc
    return config.model_copy(update={"path": file.resolve()})


def iter_keys(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[tuple[str, str, str]]:
    """Yield ``(dotted key, default as text, help text)`` for every configuration key."""
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        annotation = field.annotation
        key = f"{prefix}{name}"
        nested = _nested_model(annotation)
        if nested is not None:
            yield from iter_keys(
                nested, prefix=f"{key}[]." if nested is SourceConfig else f"{key}."
            )
            continue
        default = "" if field.is_required() else repr(field.get_default(call_default_factory=True))
        yield key, default, field.description or ""


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = getattr(annotation, "__args__", ())
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
