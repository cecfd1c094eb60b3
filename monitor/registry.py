"""The device registry: the 3.4-05 inventory of AI medical devices.

A registry file is YAML with a top-level ``devices:`` list. Entries are validated
here (errors name the file, the device, the field and the problem), stored in the
``devices`` table with the full entry kept for export, and every change is
written to the audit log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import case, null, or_, select, update
from sqlalchemy.orm import Session

from connectors.dicom_sr import DeviceResolver
from monitor import audit
from monitor.cells import refresh_cases
from monitor.errors import NotFoundError, RegistryError
from monitor.models import Device, Prediction
from monitor.scores import ScoreScale, in_scale, scale_range, to_unit
from monitor.timeutil import utc_now

__all__ = [
    "ClaimedPerformance",
    "DeviceSpec",
    "OperatingPoint",
    "ReportReading",
    "RiskAnalysis",
    "ServiceStatus",
    "device_resolver",
    "export_registry",
    "get_device",
    "import_registry",
    "list_devices",
    "load_registry_file",
    "parse_registry",
    "recheck_results",
]

_Fraction = Field(ge=0.0, le=1.0)

ServiceStatus = Literal["in_service", "under_evaluation"]
"""Whether a device is in service, or under evaluation (then it may have no claim)."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaimedPerformance(_Entry):
    """The manufacturer's claim, the yardstick of every evaluation."""

    sensitivity: float = Field(ge=0.0, le=1.0, description="Claimed sensitivity, 0..1.")
    specificity: float = Field(ge=0.0, le=1.0, description="Claimed specificity, 0..1.")
    sensitivity_ci: tuple[float, float] | None = Field(
        None, description="95% interval of the claimed sensitivity [low, high]."
    )
    specificity_ci: tuple[float, float] | None = Field(
        None, description="95% interval of the claimed specificity [low, high]."
    )
    source: str = Field(description="Where the claim comes from (IFU section, publication).")

    @model_validator(mode="after")
    def _intervals_hold_values(self) -> ClaimedPerformance:
        for name in ("sensitivity", "specificity"):
            ci = getattr(self, f"{name}_ci")
            value = getattr(self, name)
            if ci is None:
                continue
            low, high = ci
            if not (0.0 <= low <= value <= high <= 1.0):
                raise ValueError(
                    f"{name}_ci [{low}, {high}] must lie in 0..1 and contain {name} {value}"
                )
        return self


class RiskAnalysis(_Entry):
    """The risk analysis criterion 3.4-05 asks for; an empty text means 'not recorded'."""

    data_transmission: str = Field("", description="Where patient data go and how.")
    data_reuse_by_manufacturer: str = Field("", description="Reuse of data by the manufacturer.")
    patient_information: str = Field("", description="Patient information and consent.")
    cybersecurity: str = Field("", description="Cybersecurity measures and assessment.")
    continuity_plan: str = Field("", description="Continuity plan (PRA/PCA) if the device fails.")
    training: str = Field("", description="User training.")

    def missing(self) -> list[str]:
        """Names of the items not recorded."""
        return [name for name, value in self.model_dump().items() if not str(value).strip()]


class ReportReading(_Entry):
    """How a device counts the report findings its claim may or may not cover
    (:class:`connectors.report_text.ReadingPolicy`): old or past findings, a benign
    finding named alone (a calcified granuloma), a nodular pattern. Applied when cases
    are linked, so a change recounts the device's cases."""

    historical: Literal["ignore", "positive"] = Field(
        "ignore",
        description="An old, healed or past finding: ignore (no current one) or positive.",
    )
    benign: Literal["ignore", "positive"] = Field(
        "ignore", description="A benign finding named alone (granuloma): ignore or positive."
    )
    nodular_pattern: Literal["positive", "ignore"] = Field(
        "positive", description="A nodular pattern (fibronodular...): positive or ignore."
    )


class OperatingPoint(_Entry):
    """A named operating point of a device: a threshold on its score scale."""

    name: str = Field(min_length=1, max_length=40, description="e.g. 'high sensitivity'.")
    threshold: float = Field(description="On the device's score scale, as its IFU gives it.")


class DeviceSpec(_Entry):
    """One registry entry.

    ``status``: ``in_service``, or ``under_evaluation`` (a device being evaluated
    before use, which may have no ``claimed_performance``). ``score_scale``: the scale
    of the device's scores (``unit`` 0..1, ``percent`` 0..100, ``logit``); thresholds
    are written on it. ``operating_threshold`` is the primary operating point (the
    device's AI result at it is what every evaluation counts); ``operating_points``
    are the other points the device offers, whose sensitivity and specificity
    ``evaluate`` computes from the scores. Without ``operating_threshold`` the first
    operating point is the primary one.
    """

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=1)
    manufacturer: str = Field(min_length=1)
    model: str | None = None
    versions: tuple[str, ...] = ()
    ce_class: Literal["I", "IIa", "IIb", "III"] | None = None
    notified_body: str | None = None
    udi_di: str | None = Field(None, description="UDI-DI (EUDAMED device identifier), if known.")
    intended_purpose: str | None = None
    target: str = Field(min_length=1)
    ai_based: bool
    departments: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    date_in_service: date | None = None
    status: ServiceStatus = "in_service"
    score_scale: ScoreScale = "unit"
    operating_threshold: float | None = None
    operating_points: tuple[OperatingPoint, ...] = ()
    indeterminate_policy: Literal["positive", "negative", "exclude"]
    unmentioned: Literal["negative", "pending"] = Field(
        "pending",
        description=(
            "How an outcome 'not mentioned' (a final report silent about the target) counts: "
            "negative, or pending (the case waits for another outcome)."
        ),
    )
    report_reading: ReportReading = Field(default_factory=ReportReading)
    claimed_performance: ClaimedPerformance | None = None
    risk_analysis: RiskAnalysis = Field(default_factory=RiskAnalysis)

    @field_validator("versions", "departments", "sites", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        return value

    @model_validator(mode="after")
    def _thresholds_and_claim(self) -> DeviceSpec:
        thresholds = [
            (f"operating_points.{i}.threshold", p.threshold)
            for i, p in enumerate(self.operating_points)
        ]
        if self.operating_threshold is not None:
            thresholds.insert(0, ("operating_threshold", self.operating_threshold))
        for field, value in thresholds:
            if not in_scale(value, self.score_scale):
                raise ValueError(
                    f"{field} {value:g} outside {scale_range(self.score_scale)}, the device's "
                    f"score_scale {self.score_scale} (set score_scale: percent for 0..100 "
                    "scores, logit for log-odds)"
                    if math.isfinite(value)
                    else f"{field} {value!r} is not a number"
                )
        names: set[str] = set()
        for point in self.operating_points:
            if point.name in names:
                raise ValueError(f"operating_points: the name {point.name!r} is used twice")
            names.add(point.name)
        if self.claimed_performance is None and self.status == "in_service":
            raise ValueError(
                "claimed_performance is required for a device in service; a device without "
                "a manufacturer's claim is one under evaluation (status: under_evaluation)"
            )
        return self

    @property
    def primary_threshold(self) -> float | None:
        """The threshold of the primary operating point, on the device's scale."""
        if self.operating_threshold is not None:
            return self.operating_threshold
        return self.operating_points[0].threshold if self.operating_points else None

    def claims(self) -> dict[str, float]:
        """The claimed sensitivity and specificity; empty without a claim (a device
        under evaluation), which every comparison then skips."""
        claim = self.claimed_performance
        if claim is None:
            return {}
        return {"sensitivity": claim.sensitivity, "specificity": claim.specificity}

    def unit_threshold(self) -> float | None:
        """:attr:`primary_threshold` converted to 0..1, as stored scores are."""
        threshold = self.primary_threshold
        return None if threshold is None else to_unit(threshold, self.score_scale)

    def to_document(self) -> dict[str, Any]:
        """The entry as a YAML-ready mapping (dates as dates, tuples as lists); the
        status, scale, operating points and unmentioned policy only when they differ
        from their default."""
        document = self.model_dump(mode="json", exclude_none=True)
        for name, default in (
            ("status", "in_service"),
            ("score_scale", "unit"),
            ("unmentioned", "pending"),
        ):
            if document.get(name) == default:
                del document[name]
        if not document.get("operating_points"):
            document.pop("operating_points", None)
        if document.get("report_reading") == ReportReading().model_dump(mode="json"):
            del document["report_reading"]
        return document


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    field = ".".join(str(p) for p in error["loc"])
    value = error.get("input")
    if error["type"] == "missing":
        return field, "is required"
    if error["type"] == "extra_forbidden":
        return field, "is not a registry field"
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return field, str(error["ctx"]["error"])  # a validator's own sentence
    shown = f" {value!r}" if not isinstance(value, dict | list) else ""
    message = error["msg"]
    if error["type"] in ("greater_than_equal", "less_than_equal"):
        message = "outside 0..1" if field != "id" else message
    return field, f"{shown.strip()} {message}".strip()


def parse_registry(document: Any, *, path: str = "<registry>") -> list[DeviceSpec]:
    """Validate a registry document (``{"devices": [...]}``).

    Raises :class:`RegistryError` naming the file, device, field and problem,
    e.g. ``devices.yaml: device 'fracture-xr': claimed_performance.sensitivity 1.3
    outside 0..1``. Duplicate ids are an error.
    """
    if not isinstance(document, dict) or not isinstance(document.get("devices"), list):
        raise RegistryError(f"{path}: expected a top-level 'devices:' list", path=path)
    unknown = sorted(set(document) - {"devices"})
    if unknown:
        raise RegistryError(f"{path}: unknown top-level key(s) {', '.join(unknown)}", path=path)
    specs: list[DeviceSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["devices"]):
        device_id = entry.get("id") if isinstance(entry, dict) else None
        label = f"device {device_id!r}" if device_id else f"device #{index + 1}"
        if not isinstance(entry, dict):
            raise RegistryError(f"{path}: {label}: expected a mapping of fields", path=path)
        try:
            spec = DeviceSpec.model_validate(entry)
        except ValidationError as exc:
            problems = [_describe(dict(e)) for e in exc.errors()]
            field, problem = problems[0]
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            raise RegistryError(
                f"{path}: {label}: {' '.join(p for p in (field, problem) if p)}{more}",
                path=path,
                device_id=device_id,
                field=field,
            ) from exc
        if spec.id in seen:
            raise RegistryError(
                f"{path}: device {spec.id!r} appears twice",
                path=path,
                device_id=spec.id,
                field="id",
            )
        seen.add(spec.id)
        specs.append(spec)
    return specs


def load_registry_file(path: str | Path) -> list[DeviceSpec]:
    """Read and validate a registry YAML file."""
    file = Path(path)
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RegistryError(f"registry file {file} does not exist", path=str(file)) from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"{file}: invalid YAML: {exc}", path=str(file)) from exc
    return parse_registry(document, path=str(file))


def _columns(spec: DeviceSpec) -> dict[str, Any]:
    claim = spec.claimed_performance
    return {
        "name": spec.name,
        "manufacturer": spec.manufacturer,
        "target": spec.target,
        "ai_based": spec.ai_based,
        "operating_threshold": spec.operating_threshold,
        "indeterminate_policy": spec.indeterminate_policy,
        "unmentioned": spec.unmentioned,
        "reading_historical": spec.report_reading.historical,
        "reading_benign": spec.report_reading.benign,
        "reading_pattern": spec.report_reading.nodular_pattern,
        "claimed_sensitivity": claim.sensitivity if claim else None,
        "claimed_specificity": claim.specificity if claim else None,
        "date_in_service": spec.date_in_service,
        "spec": spec.to_document(),
    }


def import_registry(session: Session, specs: list[DeviceSpec], *, actor: str) -> dict[str, str]:
    """Insert or update devices; returns ``{device_id: "created"|"updated"|"unchanged"}``.

    Each creation or change is audited with the fields that changed; a changed primary
    threshold checks the device's stored results again (:func:`recheck_results`); a changed
    ``indeterminate_policy``, ``unmentioned`` or ``report_reading`` policy recounts the
    device's cases in the per-cell summaries. Devices absent from ``specs`` are left as
    they are (a registry is never deleted by an import).
    """
    now = utc_now()
    result: dict[str, str] = {}
    for spec in specs:
        device = session.get(Device, spec.id)
        columns = _columns(spec)
        if device is None:
            session.add(Device(id=spec.id, updated_at=now, **columns))
            audit.record(
                session,
                actor=actor,
                action="device.created",
                entity="device",
                entity_id=spec.id,
                details={"spec": columns["spec"]},
                at=now,
            )
            result[spec.id] = "created"
            continue
        before = DeviceSpec.model_validate(device.spec).to_document()
        after = columns["spec"]
        if before == after:
            result[spec.id] = "unchanged"
            continue
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        for key, value in columns.items():
            setattr(device, key, value)
        device.updated_at = now
        if {"indeterminate_policy", "unmentioned", "report_reading"} & set(changed):
            # The policies turn indeterminate outputs into calls and unmentioned outcomes
            # into truths (or not): recount the device's cases.
            session.flush()
            ids = session.scalars(select(Prediction.id).where(Prediction.device_id == spec.id))
            refresh_cases(session, list(ids))
        if DeviceSpec.model_validate(before).unit_threshold() != spec.unit_threshold():
            # Results are checked (and derived) at the primary threshold: again.
            session.flush()
            recheck_results(session, spec)
        audit.record(
            session,
            actor=actor,
            action="device.updated",
            entity="device",
            entity_id=spec.id,
            details={"changed": {k: {"from": before.get(k), "to": after.get(k)} for k in changed}},
            at=now,
        )
        result[spec.id] = "updated"
    return result


def recheck_results(session: Session, spec: DeviceSpec) -> int:
    """Check the device's stored AI results against its primary threshold again.

    Given results are flagged anew (``agrees`` / ``contradicts``, None when not
    checkable); results derived from the score are derived again, and the cases whose
    result changed are recounted. Returns how many derived results changed. Scores
    are stored on 0..1: a changed ``score_scale`` does not convert them again.
    """
    threshold = spec.unit_threshold()
    mine = Prediction.device_id == spec.id
    derived = Prediction.ai_result_check == "derived"
    side = case((Prediction.ai_score >= threshold, "positive"), else_="negative")
    check: Any = null()
    if threshold is not None:
        check = case(
            (
                Prediction.ai_score.is_(None)
                | Prediction.ai_result.not_in(("positive", "negative")),
                null(),
            ),
            (side == Prediction.ai_result, "agrees"),
            else_="contradicts",
        )
    session.execute(
        update(Prediction)
        .where(mine, or_(Prediction.ai_result_check.is_(None), ~derived))
        .values(ai_result_check=check)
    )
    if threshold is None:
        return 0
    ids = list(
        session.scalars(select(Prediction.id).where(mine, derived, Prediction.ai_result != side))
    )
    if ids:
        for start in range(0, len(ids), 1000):
            batch = ids[start : start + 1000]
            session.execute(
                update(Prediction).where(Prediction.id.in_(batch)).values(ai_result=side)
            )
        refresh_cases(session, ids)
    return len(ids)


def list_devices(session: Session) -> list[DeviceSpec]:
    """Every registered device, by id."""
    rows = session.scalars(select(Device).order_by(Device.id))
    return [DeviceSpec.model_validate(row.spec) for row in rows]


def get_device(session: Session, device_id: str) -> DeviceSpec:
    """One device; :class:`NotFoundError` names the known ids when it does not exist."""
    device = session.get(Device, device_id)
    if device is None:
        known = ", ".join(d.id for d in list_devices(session)) or "none registered"
        raise NotFoundError(f"no device {device_id!r} in the registry (known: {known})")
    return DeviceSpec.model_validate(device.spec)


def export_registry(specs: list[DeviceSpec]) -> str:
    """The registry as YAML text, re-importable as is."""
    document = {"devices": [spec.to_document() for spec in specs]}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def device_resolver(
    devices: Sequence[DeviceSpec],
) -> DeviceResolver:
    """Name the registry device of a DICOM SR from what the SR says of its maker.

    The SR's (or device observer's) manufacturer, model name, algorithm name and
    version, and software versions are matched against the registry: a device whose
    manufacturer equals the SR's (ignoring case; any when the SR gives none) and
    whose id, name or model equals the algorithm name or the model name. The
    version is the algorithm version, else the first software version. None when no
    single device matches or no version is given (the SR is then quarantined with
    what it says, to be added to the registry).
    """

    def fold(text: str | None) -> str:
        return (text or "").strip().casefold()

    def resolve(
        manufacturer: str | None,
        model: str | None,
        algorithm_name: str | None,
        algorithm_version: str | None,
        software_versions: tuple[str, ...],
    ) -> tuple[str, str] | None:
        names = {fold(algorithm_name), fold(model)} - {""}
        matches = [
            d
            for d in devices
            if (not fold(manufacturer) or fold(d.manufacturer) == fold(manufacturer))
            and names & ({fold(d.id), fold(d.name), fold(d.model)} - {""})
        ]
        version = algorithm_version or next((v for v in software_versions if v.strip()), None)
        if len(matches) != 1 or not version:
            return None
        return matches[0].id, version.strip()

    return resolve
