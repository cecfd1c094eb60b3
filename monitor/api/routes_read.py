"""Read-only routes (role viewer): devices, status, evaluations, reports."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from monitor import registry
from monitor.api.auth import Require
from monitor.api.context import API_PREFIX, ApiState, api_state
from monitor.api.errors import ApiError, plain
from monitor.evaluate_stored import evaluation_options, stored_evaluation
from monitor.evaluation import BY_COLUMNS, METRICS, WINDOWS
from monitor.report_job import report_dir
from monitor.status import device_status, status_record
from monitor.timeutil import local_iso, parse_as_of

__all__ = ["parse_day", "router"]

router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(Require("viewer"))])
State = Annotated[ApiState, Depends(api_state)]

_REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


_YEARS = range(1900, 2200)
"""Years a date parameter may name (the evaluation's time arithmetic stops in 2262)."""


def parse_day(text: str, name: str) -> date:
    """A YYYY-MM-DD query value from 1900 to 2199; 422 naming the parameter otherwise."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ApiError(422, f"{name} must be a date YYYY-MM-DD, not {text!r}") from exc
    if day.year not in _YEARS:
        raise ApiError(422, f"{name} must be a date from 1900 to 2199, not {text!r}")
    return day


def moment_of(state: ApiState, as_of: str | None) -> datetime:
    """``as_of`` (date: end of that local day; date-time; None: now) as an aware moment,
    from 1900 to 2199."""
    try:
        moment = parse_as_of(as_of, state.tz)
    except Exception as exc:
        raise ApiError(
            422, f"as_of must be a date (YYYY-MM-DD) or an ISO date-time, not {as_of!r}"
        ) from exc
    if moment.year not in _YEARS:
        raise ApiError(422, f"as_of must be from 1900 to 2199, not {as_of!r}")
    return moment


@router.get("/devices", tags=["devices"])
def devices(state: State) -> list[dict[str, Any]]:
    """The registered devices (registry entries)."""
    with state.db.session() as session:
        return [s.to_document() for s in registry.list_devices(session)]


@router.get("/devices/{device_id}", tags=["devices"])
def device(device_id: str, state: State) -> dict[str, Any]:
    """One device's registry entry (404 when unknown)."""
    with state.db.session() as session:
        return registry.get_device(session, device_id).to_document()


class DeviceStatusOut(BaseModel):
    """One device's volumes and verification as of a date."""

    device: str
    predictions: int
    linked: int
    awaiting_truth: int
    excluded: int
    median_label_delay_days: float | None
    last_prediction: str | None
    results_derived: int
    results_checked: int
    results_contradicting: int


@router.get("/status", tags=["status"], response_model=list[DeviceStatusOut])
def status(
    state: State,
    as_of: Annotated[str | None, Query(description="Date (end of day) or date-time")] = None,
    start: Annotated[
        str | None, Query(alias="from", description="Only exams from this day on")
    ] = None,
) -> list[dict[str, Any]]:
    """Per device: predictions, linked cases, awaiting truth, label delay, last prediction
    (as ``dmn-monitor status --format json``)."""
    moment = moment_of(state, as_of)
    since = None
    if start is not None:
        since = datetime.combine(parse_day(start, "from"), datetime.min.time(), tzinfo=state.tz)
    with state.db.session() as session:
        states = device_status(session, moment, since=since)
    rows = [status_record(s, state.tz) for s in states]
    return list(plain(rows))


@router.get("/evaluations", tags=["evaluations"])
def evaluations(
    state: State,
    device: Annotated[str | None, Query(description="Only this device")] = None,
    by: Annotated[
        list[str] | None,
        Query(
            description="Comma-separated dimensions of one breakdown; repeat for several. "
            f"Any of: {', '.join(BY_COLUMNS)}"
        ),
    ] = None,
    window: Annotated[str, Query(description=f"One of: {', '.join(WINDOWS)}")] = "all",
    days: Annotated[int, Query(ge=1, le=3660, description="Rolling window length")] = 30,
    metrics: Annotated[
        str | None, Query(description=f"Comma-separated; any of: {', '.join(METRICS)}")
    ] = None,
    as_of: Annotated[str | None, Query(description="Date (end of day) or date-time")] = None,
    start: Annotated[
        str | None, Query(alias="from", description="Only exams from this day on")
    ] = None,
) -> list[dict[str, Any]]:
    """Performance with confidence intervals: the records of
    ``dmn-monitor evaluate --format json`` for the same query (NaN as null)."""
    if window not in WINDOWS:
        raise ApiError(422, f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
    breakdowns: list[tuple[str, ...]] = []
    for value in by or []:
        parts = tuple(p.strip() for p in value.split(",") if p.strip())
        unknown = [p for p in parts if p not in BY_COLUMNS]
        if unknown:
            raise ApiError(
                422, f"unknown dimension {', '.join(unknown)}: use any of {', '.join(BY_COLUMNS)}"
            )
        breakdowns.append(parts)
    names = tuple(m.strip() for m in (metrics or "").split(",") if m.strip())
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ApiError(422, f"unknown metric {', '.join(unknown)}: use any of {', '.join(METRICS)}")
    moment = moment_of(state, as_of)
    first = parse_day(start, "from") if start is not None else None
    options = evaluation_options(state.config, window=window, rolling_days=days, metrics=names)
    if first is not None and first > moment.astimezone(state.tz).date():
        raise ApiError(422, f"from ({first}) is after as_of ({moment.date().isoformat()})")
    db = state.summarised_db()
    with db.session() as session:
        results = stored_evaluation(
            session,
            as_of=moment,
            tz=state.tz,
            options=options,
            breakdowns=breakdowns or [()],
            device_id=device,
            first=first,
        )
    return list(plain(results))


class ReportFile(BaseModel):
    """A file of the report folder."""

    name: str
    bytes: int
    modified: str | None


@router.get("/reports", tags=["reports"], response_model=list[ReportFile])
def reports(state: State) -> list[dict[str, Any]]:
    """The files of the report folder (``report.out_dir``), newest first."""
    folder = report_dir(state.config)
    if not folder.is_dir():
        return []
    files = [
        p for p in folder.iterdir() if p.is_file() and _REPORT_NAME.fullmatch(p.name) is not None
    ]
    files.sort(key=lambda p: (-p.stat().st_mtime, p.name))
    return [
        {
            "name": p.name,
            "bytes": p.stat().st_size,
            "modified": local_iso(datetime.fromtimestamp(p.stat().st_mtime, tz=state.tz), state.tz),
        }
        for p in files
    ]


_MEDIA = {
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


@router.get(
    "/reports/{name}",
    tags=["reports"],
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def report_file(name: str, state: State) -> FileResponse:
    """Download one file of the report folder (a plain file name; no folders)."""
    if _REPORT_NAME.fullmatch(name) is None or ".." in name:
        raise ApiError(404, f"no report file {name!r}: GET /api/v1/reports lists them")
    folder = report_dir(state.config).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise ApiError(404, f"no report file {name!r}: GET /api/v1/reports lists them")
    media = _MEDIA.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, filename=path.name)
