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
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.cases import SUBGROUP_DIMENSIONS
from monitor.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_DATABASE_URL",
    "SUBGROUP_COLUMNS",
    "Config",
    "DatabaseConfig",
    "DetectionConfig",
    "EvaluationConfig",
    "IngestConfig",
    "NotificationChannelConfig",
    "NotificationsConfig",
    "PseudonymisationConfig",
    "ReviewConfig",
    "SourceConfig",
    "SubgroupConfig",
    "TimeConfig",
    "iter_keys",
    "load_config",
]

DEFAULT_CONFIG_FILE = "dmn-monitor.toml"
DEFAULT_DATABASE_URL = "sqlite:///dmn-monitor.db"

SUBGROUP_COLUMNS = ("device_version", *SUBGROUP_DIMENSIONS)


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
    keep_report_text: bool = Field(
        False,
        description=(
            "Keep the whole text of each report an outcome was read from (table report_texts, "
            "shown to reviewers), for report_text_retention_days. Off: only its SHA-256, the "
            "deciding sentence, its section and qualifiers are kept."
        ),
    )
    report_text_retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description=(
            "Days a kept report text is stored before the daily purge deletes it (by the "
            "time it was stored)."
        ),
    )
    max_inflated_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest dataset a deflated DICOM SR may inflate to (bytes); a larger "
        "one is refused as a decompression bomb.",
    )
    max_cell_bytes: int = Field(
        128 * 1024,
        ge=1024,
        description="Largest cell read (bytes): a CSV field, a Parquet column's average "
        "width per row.",
    )
    max_batch_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest batch of Parquet rows decoded at once (bytes).",
    )
    max_message_file_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest message file (HL7 v2, FHIR, DICOM SR) read whole (bytes).",
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


class DetectionConfig(_Section):
    chart: Literal["cusum", "ewma"] = Field(
        "cusum",
        description=(
            "Sequential chart on misses among verified positives and false positives among "
            "verified negatives: cusum (Bernoulli CUSUM) or ewma (Bernoulli EWMA)."
        ),
    )
    false_alarms_per_device_year: float = Field(
        0.1,
        gt=0.0,
        le=12.0,
        description=(
            "False-alarm budget of every performance rule of a device together (warning or "
            "critical findings per device per year when nothing changed): 0.1 = one in ten "
            "years. Charts get 80% of it, the below-claim rule 10%, the version comparison "
            "10%; each divides its share among its cells and windows."
        ),
    )
    out_of_control_ratio: float = Field(
        2.0,
        gt=1.0,
        le=10.0,
        description=(
            "EWMA chart only: the miss or false-positive rate it reports as out of control, "
            "as a multiple of the in-control rate."
        ),
    )
    design_drop: float = Field(
        0.10,
        gt=0.0,
        le=0.5,
        description=(
            "The smallest drop of sensitivity or specificity that matters clinically (0.10 = "
            "10 points): each CUSUM chart is tuned to find a drop of this size fastest, "
            "from the device's in-control level."
        ),
    )
    local_baseline_cases: int = Field(
        1000,
        ge=30,
        description=(
            "The device's own level is established on its first this many verified "
            "positives (for sensitivity) or negatives (for specificity), by the earliest "
            "truth of each: from then on the charts watch for change from that level. "
            "Until then they watch from the claim, or from the level seen so far if worse."
        ),
    )
    baseline_lag_days: int = Field(
        60,
        ge=7,
        le=730,
        description=(
            "The device's own level counts every verified case whose first outcome "
            "arrived at least this many days before the check (at least the first "
            "local_baseline_cases): a change is judged against what came before it."
        ),
    )
    ewma_lambda: float = Field(
        0.05, gt=0.0, le=1.0, description="Smoothing weight of the EWMA chart (0..1)."
    )
    baselines: Mapping[str, tuple[date, date]] = Field(
        default_factory=dict,
        description=(
            "Pinned baseline periods per device (device id = [first day, last day]): the "
            "in-control miss and false-positive rates are those observed then, instead of the "
            "claimed performance."
        ),
    )
    reference_days: int = Field(
        90,
        ge=7,
        le=730,
        description=(
            "Length of the reference period of drift and label-free estimation: the first "
            "days after the device entered service (or after its first prediction, if later)."
        ),
    )
    references: Mapping[str, tuple[date, date]] = Field(
        default_factory=dict,
        description="Pinned reference periods per device (device id = [first day, last day]).",
    )
    drift_window_days: int = Field(
        30, ge=1, le=365, description="Days of recent data compared with the reference."
    )
    drift_min_exams: int = Field(
        200,
        ge=10,
        description="Exams the reference and the recent window each need before drift is judged.",
    )
    below_claim_lag_days: int = Field(
        30,
        ge=0,
        le=365,
        description=(
            "Days after the end of a calendar month at which its sensitivity and specificity "
            "are judged against the claim (once, when most outcomes have arrived)."
        ),
    )
    backlog_days: int = Field(
        30, ge=1, description="Exams older than this with no ground truth count as backlog."
    )
    backlog_share: float = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description=(
            "Share of the exams of the 90 days before the backlog cut-off still unverified "
            "that raises a verification-backlog finding."
        ),
    )
    threshold_mismatch_share: float = Field(
        0.05,
        gt=0.0,
        lt=1.0,
        description=(
            "Share of the given AI results of the last 30 days (of at least 30 checked) that "
            "contradict their score at the registry's operating threshold which raises a "
            "threshold-mismatch finding (critical at twice it): the registry's threshold or "
            "score scale is then not the one the device runs."
        ),
    )
    outage_expected_exams: float = Field(
        10.0,
        ge=3.0,
        description=(
            "A silence of a device is an outage when its usual cadence (learned per weekday "
            "and hour over the last 8 weeks, public holidays as Sundays) expected at least "
            "this many predictions in it (10: chance below 1 in 20,000 of a normal silence)."
        ),
    )
    public_holidays: Literal["france", "none"] = Field(
        "france", description="Calendar of public holidays the cadence treats as Sundays."
    )
    version_min_cases: int = Field(
        100,
        ge=10,
        description=(
            "Verified positives and negatives a new version needs, and its predecessor too, "
            "before the before/after comparison is made (once)."
        ),
    )
    estimation_days: int = Field(
        30,
        ge=1,
        description=(
            "Recent days whose pending cases get a label-free performance estimate (needs AI "
            "scores)."
        ),
    )

    @field_validator("baselines", "references")
    @classmethod
    def _ordered_periods(
        cls, value: Mapping[str, tuple[date, date]]
    ) -> Mapping[str, tuple[date, date]]:
        for device, (first, last) in value.items():
            if last < first:
                raise ValueError(
                    f"the period of {device!r} ends ({last}) before its first day ({first})"
                )
        return value


class ReviewConfig(_Section):
    discordant_sample_rate: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description=(
            "Share of the discordant cases (false positives and false negatives) queued for "
            "human review by each `check` and `review sample` (0..1; the choice is a fixed "
            "hash of the case, so reruns add nothing twice)."
        ),
    )


class ReportConfig(_Section):
    establishment: str = Field(
        "", description="Name of the establishment printed on the monthly report."
    )
    reviewers: tuple[str, ...] = Field(
        (),
        description=(
            "Names (with their role) listed in the report's sign-off block, e.g. "
            '"Dr A. Martin - referent radiologist"; empty: three blank roles.'
        ),
    )
    min_verification_rate: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "Share of the month's cases with a known outcome below which the month's "
            "light is amber (0..1)."
        ),
    )
    out_dir: str = Field(
        "reports",
        description="Folder of the reports written by the scheduler (relative to the config).",
    )
    languages: tuple[Literal["fr", "en"], ...] = Field(
        ("fr", "en"), description="Languages of the reports written by the scheduler."
    )
    formats: tuple[Literal["html", "pdf"], ...] = Field(
        ("html", "pdf"), description="Formats of the reports written by the scheduler."
    )


class ServiceConfig(_Section):
    host: str = Field("127.0.0.1", description="Address `serve` listens on (--host overrides).")
    port: int = Field(8765, ge=1, le=65535, description="Port of `serve` (--port overrides).")
    ingest_seconds: int = Field(
        300, ge=10, description="How often `serve` polls the configured sources (seconds)."
    )
    evaluate_seconds: int = Field(
        900,
        ge=10,
        description="How often `serve` recomputes the performance snapshots /metrics serves.",
    )
    check_seconds: int = Field(
        3600, ge=60, description="How often `serve` runs every detection rule as of now."
    )
    notify_seconds: int = Field(
        60, ge=5, description="How often `serve` delivers due notifications (seconds)."
    )
    report_hour: int = Field(
        6,
        ge=0,
        le=23,
        description="Local hour of the 1st of each month when `serve` writes the previous "
        "month's report.",
    )
    misfire_grace_seconds: int = Field(
        3600,
        ge=1,
        description="A run missed while the service was down still runs if it is at most "
        "this late; runs missed several times are coalesced into one.",
    )
    move_processed: bool = Field(
        True,
        description="After polling, move each source file into processed/ (its rows "
        "committed) or failed/ (unreadable) beside it.",
    )
    max_request_bytes: int = Field(
        10_000_000, ge=1024, description="Largest HTTP request body accepted (bytes)."
    )
    mllp_enabled: bool = Field(
        False, description="Listen for HL7 v2 messages over MLLP (RIS/LIS result feeds)."
    )
    mllp_host: str = Field("127.0.0.1", description="Address of the MLLP listener.")
    mllp_port: int = Field(2575, ge=1, le=65535, description="Port of the MLLP listener.")
    mllp_kind: Literal["predictions", "outcomes"] = Field(
        "outcomes", description="What the MLLP feed carries."
    )
    mllp_max_connections: int = Field(
        16,
        ge=1,
        description="MLLP connections open at once; one more is answered AR and closed.",
    )
    mllp_idle_seconds: float = Field(
        60.0, gt=0, description="An MLLP connection silent for this long is closed."
    )
    mllp_message_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest time one MLLP message may take to arrive, from its start "
        "block to its end (a sender trickling bytes is answered AR and closed).",
    )
    tls_certfile: str | None = Field(
        None, description="PEM certificate to serve HTTPS directly (else plain HTTP)."
    )
    tls_keyfile: str | None = Field(None, description="PEM private key of tls_certfile.")
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Reverse proxies whose X-Forwarded-* headers are trusted (comma list).",
    )


class ConsoleConfig(_Section):
    enabled: bool = Field(True, description="Serve the web console (login page at /login).")
    session_hours: float = Field(
        10.0, gt=0, le=24 * 30, description="A console login lasts at most this long (hours)."
    )
    idle_minutes: float = Field(
        30.0, gt=0, description="A console session unused for this long ends (minutes)."
    )
    secure_cookies: bool = Field(
        True,
        description="Mark the session cookie Secure (sent over HTTPS only; browsers also "
        "accept it on http://localhost). Turn off only on a trusted network without TLS.",
    )
    max_upload_bytes: int = Field(
        1_000_000_000,
        ge=1024,
        description="Largest file uploaded in the console's ingestion page (bytes); other "
        "requests keep service.max_request_bytes.",
    )
    upload_dir: str = Field(
        "uploads",
        description="Folder where files uploaded in the console are kept before and after "
        "their ingestion (relative to the config).",
    )
    login_attempts_per_client: int = Field(
        10,
        ge=1,
        description="Login attempts one client address may make in a minute; more are "
        "answered 429 without checking the password.",
    )
    login_attempts_per_minute: int = Field(
        120,
        ge=1,
        description="Login attempts the whole console takes in a minute (every client); "
        "more are answered 429.",
    )
    login_concurrency: int = Field(
        1,
        ge=1,
        description="Passwords checked at once (each costs ~50 ms of a core and 16 MiB by "
        "design); a login waits up to 2 s for its turn, then is answered 429.",
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
    format: Literal["csv", "parquet", "dicom-sr", "hl7", "fhir", "auto"] = Field(
        "csv",
        description=("File format: csv, parquet, dicom-sr, hl7, fhir, or auto (from the content)."),
    )
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
    vocabularies: Mapping[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description=(
            "Extra report-text vocabulary files per target (YAML, relative to the "
            "configuration file), e.g. vocabularies.fracture = ['vocab/fracture-chu.yaml']."
        ),
    )
    pathology_rules: Mapping[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description=(
            "Extra pathology rule files per target (YAML, relative to the configuration file)."
        ),
    )
    local_codes: Mapping[str, str] = Field(
        default_factory=dict,
        description=(
            "The LIS's own diagnosis codes -> positive / negative / indeterminate, e.g. "
            "local_codes.ANAPATH-K = 'positive'."
        ),
    )

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("delimiter must be exactly one character")
        return value


class NotificationChannelConfig(_Section):
    name: str = Field(
        description="Short unique name of the channel, recorded with every delivery to it."
    )
    kind: Literal["webhook", "alertmanager", "email"] = Field(
        description=(
            "webhook (POST of a JSON document), alertmanager (POST to its /api/v2/alerts, so "
            "its routing, grouping and silences apply) or email (SMTP)."
        )
    )
    url: str | None = Field(
        None,
        description=(
            "webhook: the URL posted to; alertmanager: its base URL "
            "(e.g. http://alertmanager:9093). http or https."
        ),
    )
    token_env: str | None = Field(
        None,
        description=(
            "Name of the environment variable holding a bearer token sent as "
            "'Authorization: Bearer ...' (webhook and alertmanager)."
        ),
    )
    ca_file: str | None = Field(
        None,
        description=(
            "PEM file of the certificate authority that signed the server's certificate "
            "(https or SMTP STARTTLS with an internal CA); default: the system's."
        ),
    )
    smtp_host: str | None = Field(None, description="email: host name of the SMTP server.")
    smtp_port: int = Field(587, ge=1, le=65535, description="email: port of the SMTP server.")
    starttls: bool = Field(
        True,
        description=(
            "email: upgrade the connection with STARTTLS (certificate verified) before "
            "anything is sent. Required when username is set."
        ),
    )
    username: str | None = Field(
        None, description="email: SMTP login user name (AUTH after STARTTLS); none: no login."
    )
    password_env: str | None = Field(
        None, description="email: name of the environment variable holding the SMTP password."
    )
    sender: str | None = Field(None, description="email: the From address.")
    recipients: tuple[str, ...] = Field((), description="email: the To addresses.")
    lang: Literal["fr", "en", "fr+en"] = Field(
        "fr+en",
        description=(
            "Language of e-mails and Alertmanager annotations: fr, en, or fr+en (French then "
            "English in the same message). Webhook documents always carry both."
        ),
    )
    min_severity: Literal["info", "warning", "critical"] = Field(
        "warning", description="Least severe finding sent to this channel: info, warning, critical."
    )
    devices: tuple[str, ...] = Field(
        (), description="Device ids whose findings go to this channel; empty: every device."
    )

    @model_validator(mode="after")
    def _complete(self) -> NotificationChannelConfig:
        if self.kind in ("webhook", "alertmanager"):
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ValueError(f"a {self.kind} channel needs url = 'http(s)://...'")
        else:
            missing = [
                key
                for key, value in (
                    ("smtp_host", self.smtp_host),
                    ("sender", self.sender),
                    ("recipients", self.recipients),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"an email channel needs {', '.join(missing)}")
            if self.username and not self.starttls:
                raise ValueError("username needs starttls = true (no password sent in clear)")
            if self.username and not self.password_env:
                raise ValueError("username needs password_env (the variable with the password)")
        return self


class NotificationsConfig(_Section):
    channels: tuple[NotificationChannelConfig, ...] = Field(
        (),
        description=(
            "Notification channels ([[notifications.channels]] tables); none: notifications off."
        ),
    )
    max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts of a delivery before it is recorded as failed."
    )
    backoff_seconds: float = Field(
        60.0,
        gt=0.0,
        le=86400.0,
        description=(
            "Wait before the first retry, in seconds; doubled after each failed attempt "
            "(capped at one day). A retry is made at the first dispatch after its time."
        ),
    )
    timeout_seconds: float = Field(
        10.0, gt=0.0, le=120.0, description="Connection and response timeout of every attempt."
    )
    alert_hold_seconds: int = Field(
        93600,
        ge=300,
        description=(
            "Alertmanager: endsAt of a firing alert, in seconds after each post; every "
            "dispatch re-posts the active findings, so keep it above the interval between "
            "dispatches (default 26 h for a daily check)."
        ),
    )

    @field_validator("channels")
    @classmethod
    def _unique_names(
        cls, value: tuple[NotificationChannelConfig, ...]
    ) -> tuple[NotificationChannelConfig, ...]:
        names = [channel.name for channel in value]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise ValueError(f"channel names must be unique: {', '.join(doubles)}")
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
    detection: DetectionConfig = Field(
        default_factory=DetectionConfig,
        description="Detection rules: sequential charts, drift, estimation, operational rules.",
    )
    review: ReviewConfig = Field(default_factory=ReviewConfig, description="Case review queue.")
    report: ReportConfig = Field(
        default_factory=ReportConfig, description="The monthly quality-control report."
    )
    service: ServiceConfig = Field(
        default_factory=ServiceConfig,
        description="`dmn-monitor serve`: HTTP API, scheduler, MLLP listener.",
    )
    console: ConsoleConfig = Field(
        default_factory=ConsoleConfig, description="The web console served by `serve`."
    )
    sources: tuple[SourceConfig, ...] = Field(
        (), description="Configured sources ([[sources]] tables), each with its own mapping."
    )
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig,
        description="Notifications of findings: webhook, Alertmanager, e-mail.",
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
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{file}: not UTF-8 text (byte {exc.start} cannot be read): save it as UTF-8",
            path=str(file),
        ) from exc
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
    config = config.model_copy(update={"path": file.resolve()})
    for key, folder in (
        ("report.out_dir", config.report.out_dir),
        ("console.upload_dir", config.console.upload_dir),
    ):
        problem = system_folder(config.base_dir, folder)
        if problem is not None:
            raise ConfigError(f"{file}: key '{key}': {problem}", path=str(file), key=key)
    return config


SYSTEM_FOLDERS = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
)
"""Folders the product never writes files into, nor anywhere under them."""

SHARED_FOLDERS = ("/", "/home", "/opt", "/srv", "/var", "/var/lib", "/var/log")
"""Folders that hold other folders: the product writes into one of its own below."""


def system_folder(base: Path, folder: str) -> str | None:
    """Why ``folder`` (relative to ``base`` unless absolute) must not receive the
    product's files - it is or lies in one of :data:`SYSTEM_FOLDERS` - else None."""
    path = Path(folder).expanduser()
    resolved = (path if path.is_absolute() else base / path).resolve()
    hint = ": give a folder of the service's own (e.g. /var/lib/dmn-monitor/reports)"
    for system in SYSTEM_FOLDERS:
        root = Path(system)
        if resolved == root or root in resolved.parents:
            where = "" if resolved == root else " or lies in it"
            return f"{folder!r} is the system folder {system}{where}{hint}"
    if str(resolved) in SHARED_FOLDERS:
        return f"{folder!r} is the system folder {resolved}, shared by other programs{hint}"
    return None


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
                nested,
                prefix=f"{key}[]."
                if nested in (SourceConfig, NotificationChannelConfig)
                else f"{key}.",
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
