"""Push ingestion (role quality): ``POST /api/v1/ingest/{kind}/{format}``.

The answer is 200 with the per-record errors even when some records were refused,
and 422 when nothing could be read (unreadable payload, or no record in it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from monitor.api.auth import Principal, Require
from monitor.api.context import API_PREFIX, ApiState, api_state
from monitor.api.errors import ApiError, ErrorBody
from monitor.push import PushResult, ingest_payload

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["ingest"])
State = Annotated[ApiState, Depends(api_state)]
Quality = Annotated[Principal, Depends(Require("quality"))]
KindParam = Literal["predictions", "outcomes"]
SourceParam = Annotated[
    str | None,
    Query(description="A configured source whose mapping reads the payload (vendor codes)"),
]


class RecordErrorOut(BaseModel):
    """Why one record or message was not stored."""

    index: int
    line: int | None
    reason: str


class PushOut(BaseModel):
    """What the push did."""

    run_id: int
    kind: str
    format: str
    status: str
    read: int
    accepted: int
    duplicate: int
    quarantined: int
    errors: list[RecordErrorOut]


_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "Body too large"},
    422: {"model": ErrorBody, "description": "Nothing could be read"},
}


async def _push(
    request: Request,
    state: ApiState,
    principal: Principal,
    kind: str,
    fmt: str,
    payload: bytes,
    source: str | None,
) -> dict[str, Any]:
    if not payload.strip():
        raise ApiError(422, "the body is empty: send the records or the message")
    result: PushResult = await run_in_threadpool(
        ingest_payload,
        state.db,
        state.config,
        kind,  # type: ignore[arg-type]
        fmt,
        payload,
        name=principal.name,
        pseudonym_key=state.pseudonym_key,
        source=source,
    )
    if result.read == 0:
        raise ApiError(
            422,
            "nothing could be read from the payload: check its format",
            code="unreadable_payload",
            details=result.to_dict(),
        )
    return result.to_dict()


@router.post(
    "/ingest/{kind}/records",
    response_model=PushOut,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"type": "object", "additionalProperties": True},
                        "description": "Canonical records (the columns of the canonical CSV)",
                    }
                }
            },
        }
    },
)
async def push_records(
    kind: KindParam, request: Request, state: State, principal: Quality, source: SourceParam = None
) -> Any:
    """A JSON list of canonical records; record ``i`` is line ``i + 2`` of the run."""
    return await _push(request, state, principal, kind, "records", await request.body(), source)


@router.post(
    "/ingest/{kind}/dicom-sr",
    response_model=PushOut,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/dicom": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def push_dicom_sr(
    kind: KindParam, request: Request, state: State, principal: Quality, source: SourceParam = None
) -> Any:
    """One DICOM SR file, as the body (application/dicom) or a multipart ``file``."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(422, "the multipart body needs a 'file' part holding the DICOM SR")
        payload = await upload.read()
        await form.close()
    else:
        payload = await request.body()
    return await _push(request, state, principal, kind, "dicom-sr", payload, source)


@router.post(
    "/ingest/{kind}/hl7",
    response_model=PushOut,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "x-application/hl7-v2+er7": {"schema": {"type": "string"}},
            },
        }
    },
)
async def push_hl7(
    kind: KindParam, request: Request, state: State, principal: Quality, source: SourceParam = None
) -> Any:
    """HL7 v2 messages (ER7 text); errors are indexed by message (0-based)."""
    return await _push(request, state, principal, kind, "hl7", await request.body(), source)


@router.post(
    "/ingest/{kind}/fhir",
    response_model=PushOut,
    responses=_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/fhir+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def push_fhir(
    kind: KindParam, request: Request, state: State, principal: Quality, source: SourceParam = None
) -> Any:
    """A FHIR R4 resource or Bundle (JSON); errors are indexed by entry (0-based)."""
    return await _push(request, state, principal, kind, "fhir", await request.body(), source)
