"""Findings, their workflow and the case review.

Reading findings needs viewer (without case references: evidence ``affected_cases``
is removed); their cases, workflow steps, corrective actions and the review queue
need quality. The audit log names the token as the actor, or
``"<on_behalf_of> via <token>"`` when the body says for whom it acts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from alerts.incidents import group_incidents
from alerts.workflow import ACTION_KINDS, ACTIVE_STATUSES, DISMISSAL_REASONS
from monitor import workflow
from monitor.api.auth import Principal, Require, actor_name
from monitor.api.context import API_PREFIX, ApiState, api_state
from monitor.api.errors import ApiError, plain
from monitor.api.routes_read import parse_day
from monitor.errors import MonitorError
from monitor.findings import FINDING_STATUSES, finding_record, list_findings
from monitor.incident_view import annotate, device_entries
from monitor.models import Finding, FindingAction
from monitor.review import (
    REVIEW_STATUSES,
    adjudicate,
    case_summary,
    finding_cases,
    queue_counts,
    review_items,
)
from monitor.tokens import allows

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX)
State = Annotated[ApiState, Depends(api_state)]
Viewer = Annotated[Principal, Depends(Require("viewer"))]
Quality = Annotated[Principal, Depends(Require("quality"))]

_CASE_KEYS = frozenset({"affected_cases"})
_MAX_ID = 2**31 - 1  # an INTEGER column on PostgreSQL
FindingId = Annotated[int, Path(ge=1, le=_MAX_ID, description="A finding's id")]
ActionId = Annotated[int, Path(ge=1, le=_MAX_ID, description="A corrective action's id")]
CaseRef = Annotated[
    str, Path(pattern=r"^(case-)?[0-9]{1,10}$", description="A case reference, case-<n>")
]


def _without_cases(value: Any) -> Any:
    """``value`` without any ``affected_cases`` key, at any depth."""
    if isinstance(value, dict):
        return {k: _without_cases(v) for k, v in value.items() if k not in _CASE_KEYS}
    if isinstance(value, list):
        return [_without_cases(v) for v in value]
    return value


def _shown(record: dict[str, Any], principal: Principal) -> dict[str, Any]:
    shown = record if allows(principal.role, "quality") else _without_cases(record)
    result: dict[str, Any] = plain(shown)
    return result


def _finding_or_404(state: ApiState, finding_id: int) -> None:
    with state.db.session() as session:
        if session.get(Finding, finding_id) is None:
            raise ApiError(404, f"no finding {finding_id}: GET /api/v1/findings lists them")


@router.get("/findings", tags=["findings"])
def findings(
    state: State,
    principal: Viewer,
    device: Annotated[str | None, Query(description="Only this device")] = None,
    status: Annotated[
        str,
        Query(description=f"active, all, or one of: {', '.join(FINDING_STATUSES)}"),
    ] = "active",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[dict[str, Any]]:
    """Findings, newest detection first, each with its ``incident`` (the id of its
    incident's root finding: the narrowest slice explaining the drop),
    ``incident_root``, and plain ``text`` and ``incident_summary`` (``fr``, ``en``)."""
    statuses: list[str] | None
    if status == "all":
        statuses = None
    elif status == "active":
        statuses = list(ACTIVE_STATUSES)
    elif status in FINDING_STATUSES:
        statuses = [status]
    else:
        raise ApiError(422, f"status must be active, all or one of {', '.join(FINDING_STATUSES)}")
    with state.db.session() as session:
        found = list_findings(session, device_id=device, statuses=statuses, limit=limit)
        result = [finding_record(f, state.tz) for f in found]
        devices = device_entries(session, {r["device_id"] for r in result})
    annotate(result, group_incidents(result), devices)
    return [_shown(r, principal) for r in result]


@router.get("/findings/{finding_id}", tags=["findings"])
def finding(finding_id: FindingId, state: State, principal: Viewer) -> dict[str, Any]:
    """One finding with its corrective actions and audit history."""
    _finding_or_404(state, finding_id)
    with state.db.session() as session:
        detail = workflow.finding_detail(session, finding_id, state.tz)
    return _shown(detail, principal)


@router.get("/findings/{finding_id}/cases", tags=["findings"])
def cases(
    finding_id: FindingId,
    state: State,
    _principal: Quality,
    discordant: Annotated[bool, Query(description="Only false negatives/positives")] = False,
    every: Annotated[bool, Query(alias="all", description="Also cases outside the metric")] = False,
) -> dict[str, Any]:
    """The cases behind a finding (pseudonymised ``case-<n>`` references)."""
    _finding_or_404(state, finding_id)
    db = state.summarised_db()
    with db.session() as session:
        found = session.get_one(Finding, finding_id)
        rows = finding_cases(session, found, state.tz)
    summary = case_summary(rows)
    shown = [c for c in rows if (every or c["in_metric"]) and (not discordant or c["discordant"])]
    return {"finding_id": finding_id, "summary": summary, "cases": plain(shown)}


class StepIn(BaseModel):
    """A workflow step: why, and optionally for whom the token acts."""

    comment: str = Field(min_length=1, max_length=4000)
    on_behalf_of: str | None = Field(default=None, max_length=100)


class RelatedStepIn(StepIn):
    """Confirm: optionally dismiss the other findings of the incident with it."""

    with_related: bool = False


class DismissIn(RelatedStepIn):
    """Dismiss: one of the dismissal reasons."""

    reason: Literal[tuple(DISMISSAL_REASONS)]  # type: ignore[valid-type]


class StepOut(BaseModel):
    """The finding after the step; ``covered``: findings dismissed with it."""

    id: int
    status: str
    actor: str
    covered: list[int] = []


def _step(
    state: ApiState,
    finding_id: int,
    verb: str,
    principal: Principal,
    body: StepIn,
    **extra: Any,
) -> dict[str, Any]:
    _finding_or_404(state, finding_id)
    actor = actor_name(principal, body.on_behalf_of)
    if extra.get("with_related"):
        extra["tz"] = state.tz
    step = getattr(workflow, verb)
    try:
        with state.db.session.begin() as session:
            moved = step(session, finding_id, user=actor, comment=body.comment, **extra)
            covered = (
                [f.id for f in workflow.covered_findings(session, finding_id)]
                if extra.get("with_related")
                else []
            )
            return {"id": moved.id, "status": moved.status, "actor": actor, "covered": covered}
    except MonitorError as exc:
        raise ApiError(409, str(exc), code="workflow_conflict") from exc


@router.post("/findings/{finding_id}/acknowledge", tags=["workflow"], response_model=StepOut)
def acknowledge(finding_id: FindingId, body: StepIn, state: State, principal: Quality) -> Any:
    """Acknowledge an open finding (its chart restarts after it)."""
    return _step(state, finding_id, "acknowledge", principal, body)


@router.post("/findings/{finding_id}/confirm", tags=["workflow"], response_model=StepOut)
def confirm(finding_id: FindingId, body: RelatedStepIn, state: State, principal: Quality) -> Any:
    """Confirm an acknowledged finding as a malfunction."""
    return _step(state, finding_id, "confirm", principal, body, with_related=body.with_related)


@router.post("/findings/{finding_id}/dismiss", tags=["workflow"], response_model=StepOut)
def dismiss(finding_id: FindingId, body: DismissIn, state: State, principal: Quality) -> Any:
    """Dismiss an acknowledged finding with a reason."""
    return _step(
        state,
        finding_id,
        "dismiss",
        principal,
        body,
        reason=body.reason,
        with_related=body.with_related,
    )


@router.post("/findings/{finding_id}/close", tags=["workflow"], response_model=StepOut)
def close(finding_id: FindingId, body: StepIn, state: State, principal: Quality) -> Any:
    """Close a dismissed finding, or a confirmed one whose actions are all done."""
    return _step(state, finding_id, "close", principal, body)


@router.post("/findings/{finding_id}/reopen", tags=["workflow"], response_model=StepOut)
def reopen(finding_id: FindingId, body: StepIn, state: State, principal: Quality) -> Any:
    """Reopen a dismissed or closed finding."""
    return _step(state, finding_id, "reopen", principal, body)


class ActionIn(StepIn):
    """A corrective action on a confirmed finding."""

    kind: Literal[tuple(ACTION_KINDS)]  # type: ignore[valid-type]
    description: str = Field(min_length=1, max_length=4000)
    owner: str = Field(min_length=1, max_length=200)
    due_date: date | None = None
    done_date: date | None = None


class ActionOut(BaseModel):
    """A corrective action."""

    id: int
    kind: str
    description: str
    owner: str
    due_date: str | None
    done_date: str | None
    created_by: str
    completed_by: str | None


@router.post("/findings/{finding_id}/actions", tags=["workflow"], response_model=ActionOut)
def add_action(finding_id: FindingId, body: ActionIn, state: State, principal: Quality) -> Any:
    """Record a corrective action (the finding becomes action_taken)."""
    _finding_or_404(state, finding_id)
    action = workflow.ActionInput(
        kind=body.kind,
        description=body.description,
        owner=body.owner,
        due_date=body.due_date,
        done_date=body.done_date,
    )
    actor = actor_name(principal, body.on_behalf_of)
    try:
        with state.db.session.begin() as session:
            row = workflow.add_action(session, finding_id, action, user=actor, comment=body.comment)
            return workflow.action_record(row)
    except MonitorError as exc:
        raise ApiError(409, str(exc), code="workflow_conflict") from exc


class DoneIn(StepIn):
    """When the action was done (default: today, local)."""

    date: str | None = Field(default=None, description="YYYY-MM-DD")


@router.post("/actions/{action_id}/done", tags=["workflow"], response_model=ActionOut)
def action_done(action_id: ActionId, body: DoneIn, state: State, principal: Quality) -> Any:
    """Mark a corrective action done."""
    with state.db.session() as session:
        if session.get(FindingAction, action_id) is None:
            raise ApiError(404, f"no corrective action {action_id}")
    day = parse_day(body.date, "date") if body.date else datetime.now(state.tz).date()
    actor = actor_name(principal, body.on_behalf_of)
    try:
        with state.db.session.begin() as session:
            row = workflow.complete_action(
                session, action_id, done=day, user=actor, comment=body.comment
            )
            return workflow.action_record(row)
    except MonitorError as exc:
        raise ApiError(409, str(exc), code="workflow_conflict") from exc


@router.get("/review", tags=["review"])
def review(
    state: State,
    _principal: Quality,
    device: Annotated[str | None, Query(description="Only this device")] = None,
    status: Annotated[
        str, Query(description=f"all or one of: {', '.join(REVIEW_STATUSES)}")
    ] = "pending",
    finding: Annotated[
        int | None, Query(ge=1, le=_MAX_ID, description="Only this finding's cases")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    """The review queue, oldest first, with its counts (pseudonymised case refs)."""
    if status != "all" and status not in REVIEW_STATUSES:
        raise ApiError(422, f"status must be all or one of {', '.join(REVIEW_STATUSES)}")
    db = state.summarised_db()
    with db.session() as session:
        items = review_items(
            session,
            state.tz,
            device_id=device,
            finding_id=finding,
            status=None if status == "all" else status,
            limit=limit,
        )
        counts = queue_counts(session, device)
    return {"counts": counts, "items": plain(items)}


class AdjudicateIn(StepIn):
    """The reviewer's outcome for a case."""

    outcome: Literal["positive", "negative"]


class AdjudicateOut(BaseModel):
    """The case's status before and after."""

    case_ref: str
    status_before: str | None
    status_after: str | None


@router.post("/review/{case_ref}/adjudicate", tags=["review"], response_model=AdjudicateOut)
def adjudicate_case(case_ref: CaseRef, body: AdjudicateIn, state: State, principal: Quality) -> Any:
    """Record the reviewer's outcome for a case (case-N); it outranks every other source."""
    if int(case_ref.removeprefix("case-")) > _MAX_ID:
        raise ApiError(404, f"no case {case_ref}")
    actor = actor_name(principal, body.on_behalf_of)
    db = state.summarised_db()
    try:
        with db.session.begin() as session:
            return adjudicate(session, case_ref, body.outcome, user=actor, comment=body.comment)
    except MonitorError as exc:
        status = 404 if str(exc).startswith("no case") else 422
        raise ApiError(status, str(exc)) from exc
