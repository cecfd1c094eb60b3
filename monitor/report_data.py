"""Gather a month's quality-control report from storage, as of the end of the month.

Every figure is computed by the same functions as the command line (``evaluate``,
``status``, ``chart``, ``drift``, ``estimate``, ``findings``) with the outcomes known
at the month's last instant (data time), and recorded in the report's manifest
with the command that gives it back. Workflow events (acknowledged, confirmed,
dismissed, closed) count at the time they were recorded in the audit log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.incident_texts import LANGS, finding_text, incident_text, supporting_text
from alerts.incidents import group_incidents
from alerts.traffic_light import (
    ACTIVE_AT_END,
    FindingState,
    GapFlag,
    Light,
    MonthFigure,
    traffic_light,
)
from metrics.subgroups import holm
from monitor import audit, registry
from monitor.config import Config
from monitor.control_charts import chart_summary, device_chart_paths, slice_key
from monitor.errors import MonitorError
from monitor.evaluate_stored import evaluation_options, stored_evaluation
from monitor.findings import finding_record
from monitor.history import DeviceHistory, to_ns
from monitor.kept_history import kept_history
from monitor.label_free import (
    drift_frames,
    drift_rows,
    estimated_vs_realised,
    write_device_drift_report,
)
from monitor.models import Finding, ReviewItem, VigilanceDraft
from monitor.outcome_counts import OutcomeMonth, outcome_months, outcome_totals
from monitor.registry import DeviceSpec
from monitor.report_model import (
    ActionLine,
    CusumPanel,
    DeviceMonth,
    DriftLine,
    EstimateLine,
    FindingLine,
    IncidentLine,
    InventoryLine,
    Manifest,
    ManifestEntry,
    MetricLine,
    MonthlyReport,
    OutcomeCounts,
    ReviewSummary,
    SubgroupLine,
    TrendPoint,
    VigilanceLine,
    Volume,
)
from monitor.status import DeviceStatus, device_status
from monitor.timeutil import end_of_day, utc_now
from monitor.workflow import list_actions

__all__ = [
    "MONTH_METRICS",
    "TREND_MONTHS",
    "DeviceLight",
    "gather_monthly_report",
    "month_bounds",
    "month_lights",
    "parse_month",
    "previous_month",
]

MONTH_METRICS = ("sensitivity", "specificity", "ppv", "npv")
TREND_MONTHS = 12
MAX_EXTRA_CHARTS = 3
"""Charts shown besides the whole device's: those of the month's chart findings."""

_DENOMINATORS = {
    "sensitivity": ("tp", "fn"),
    "specificity": ("tn", "fp"),
    "ppv": ("tp", "fp"),
    "npv": ("tn", "fn"),
}
_SUBGROUP_METRICS = ("sensitivity", "specificity", "claim", "vs_rest")
_MONTH_METRIC_NAMES = (*MONTH_METRICS, "claim")


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of that month; MonitorError otherwise."""
    try:
        year, month = text.strip().split("-")
        return date(int(year), int(month), 1)
    except ValueError as exc:
        raise MonitorError(f"--month {text!r} is not a month: give YYYY-MM, e.g. 2025-08") from exc


def previous_month(today: date) -> date:
    """The first day of the month before ``today``'s."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime, datetime]:
    """(start, end exclusive, as-of) of a month in ``tz``; as-of is the end of its last
    day as ``--as-of YYYY-MM-DD`` gives it."""
    start = datetime.combine(month, datetime.min.time(), tzinfo=tz)
    following = _next_month(month)
    end = datetime.combine(following, datetime.min.time(), tzinfo=tz)
    return start, end, end_of_day(following - timedelta(days=1), tz)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


@dataclass
class _Query:
    """The month's queries and their manifest."""

    session: Session
    config: Config
    tz: ZoneInfo
    month: date
    start: datetime
    end: datetime
    as_of: datetime
    manifest: Manifest
    states: dict[str, DeviceStatus]
    """The month's status of every device, read once (:func:`device_status`)."""
    months: list[OutcomeMonth] = field(default_factory=list)
    """The month's outcomes per device, read once (:func:`outcome_months`)."""

    @property
    def day(self) -> str:
        return self.as_of.astimezone(self.tz).date().isoformat()

    @property
    def first(self) -> str:
        return self.month.isoformat()

    @property
    def alpha(self) -> float:
        return 1.0 - self.config.evaluation.confidence

    def record(
        self,
        key: str,
        label: str,
        value: Any,
        argv: Sequence[str],
        select_: dict[str, Any],
        **how: Any,
    ) -> Any:
        return self.manifest.add(
            ManifestEntry(
                key=key, label=label, value=value, argv=tuple(argv), select=select_, **how
            )
        )

    def fields(
        self,
        key: str,
        label: str,
        row: dict[str, Any],
        names: Sequence[str],
        argv: Sequence[str],
        select_: dict[str, Any],
    ) -> None:
        """Record each of ``names`` that ``row`` defines (not None) as ``key/name``."""
        for name in names:
            if row.get(name) is not None:
                self.record(
                    f"{key}/{name}", f"{label} {name}".strip(), row[name], argv, select_, field=name
                )


# --- volume -------------------------------------------------------------------------------


def _volume(q: _Query, device_id: str) -> Volume:
    state = q.states[device_id]
    argv = ("status", "--from", q.first, "--as-of", q.day, "--format", "json")
    where = {"device": device_id}
    prefix = f"{device_id}/volume"
    predictions = q.record(
        f"{prefix}/predictions", "predictions", state.predictions, argv, where, field="predictions"
    )
    verified = q.record(f"{prefix}/verified", "verified", state.linked, argv, where, field="linked")
    pending = q.record(
        f"{prefix}/pending", "awaiting truth", state.pending, argv, where, field="awaiting_truth"
    )
    excluded = q.record(
        f"{prefix}/excluded", "excluded", state.excluded, argv, where, field="excluded"
    )
    rate = None
    if verified + pending:
        rate = q.record(
            f"{prefix}/verification_rate",
            "verification rate",
            state.verification_rate,
            argv,
            where,
            formula="linked / (linked + awaiting_truth)",
        )
    delay = _num(state.median_label_delay_days)
    if delay is not None:
        q.record(
            f"{prefix}/median_label_delay_days",
            "median label delay (days)",
            state.median_label_delay_days,
            argv,
            where,
            field="median_label_delay_days",
        )
    checked = state.results.checked
    contradicting = 0
    if checked:
        contradicting = q.record(
            f"{prefix}/results_contradicting",
            "AI results contradicting their score at the threshold",
            state.results.contradicts,
            argv,
            where,
            field="results_contradicting",
        )
    return Volume(
        predictions=predictions,
        verified=verified,
        pending=pending,
        excluded=excluded,
        verification_rate=rate,
        median_label_delay_days=delay,
        last_prediction=state.last_prediction.astimezone(q.tz) if state.last_prediction else None,
        results_checked=checked,
        results_contradicting=contradicting,
    )


# --- outcomes -----------------------------------------------------------------------------


def _outcomes(q: _Query, spec: DeviceSpec) -> OutcomeCounts:
    """The month's outcomes of the device, each recorded with the ``status`` command
    that prints it (its ``outcomes`` object)."""
    totals = outcome_totals(q.months, spec.id)
    argv = ("status", "--from", q.first, "--as-of", q.day, "--format", "json")
    where = {"device": spec.id}
    for name, value in totals.items():
        q.record(
            f"{spec.id}/outcomes/{name}",
            f"outcomes {name}",
            value,
            argv,
            where,
            field=f"outcomes.{name}",
        )
    return OutcomeCounts(**totals, policy=spec.unmentioned)


def _quarantined_without_device(q: _Query) -> int:
    """Quarantined outcome rows of the month with no device's target, recorded."""
    month = f"{q.month:%Y-%m}"
    rows = [m for m in q.months if m.device_id is None and f"{m.month:%Y-%m}" == month]
    if not rows:
        return 0
    return int(
        q.record(
            "quarantined_without_device",
            "outcome rows quarantined without a device",
            rows[0].quarantined,
            ("status", "--outcomes", "--from", q.first, "--as-of", q.day, "--format", "json"),
            {"device": None, "month": month},
            field="quarantined",
        )
    )


# --- metrics and trend --------------------------------------------------------------------


def _monthly_rows(q: _Query, device_id: str) -> list[dict[str, Any]]:
    options = evaluation_options(q.config, window="month", metrics=_MONTH_METRIC_NAMES)
    return stored_evaluation(
        q.session, as_of=q.as_of, tz=q.tz, options=options, device_id=device_id
    )


def _monthly_argv(q: _Query, device_id: str) -> tuple[str, ...]:
    return (
        "evaluate",
        "--device",
        device_id,
        "--window",
        "month",
        "--metrics",
        ",".join(_MONTH_METRIC_NAMES),
        "--as-of",
        q.day,
        "--format",
        "json",
    )


def _month_of(row: dict[str, Any]) -> date:
    return date.fromisoformat(str(row["window_start"])[:10])


def _metric_lines(q: _Query, device_id: str, rows: list[dict[str, Any]]) -> tuple[MetricLine, ...]:
    row = next((r for r in rows if _month_of(r) == q.month), None)
    if row is None:
        return ()
    argv = _monthly_argv(q, device_id)
    where = {"device_id": device_id, "window_start": row["window_start"]}
    lines = []
    for metric in MONTH_METRICS:
        hit, miss = _DENOMINATORS[metric]
        n = int(row[hit]) + int(row[miss])
        key = f"{device_id}/month"
        names = [metric, f"{metric}_low", f"{metric}_high"]
        q.fields(key, "", row, [*names, f"{metric}_claimed", f"{metric}_claim_p"], argv, where)
        q.record(f"{key}/{metric}_n", f"{metric} n", n, argv, where, formula=f"{hit} + {miss}")
        values = {suffix: row.get(f"{metric}{suffix}") for suffix in ("", "_low", "_high")}
        claimed = _num(row.get(f"{metric}_claimed"))
        p_value = _num(row.get(f"{metric}_claim_p"))
        lines.append(
            MetricLine(
                metric=metric,
                value=_num(values[""]),
                low=_num(values["_low"]),
                high=_num(values["_high"]),
                n=n,
                claimed=claimed,
                p_value=p_value,
                below_claim=bool(row.get(f"{metric}_below_claim", False)),
            )
        )
    return tuple(lines)


def _trend(
    q: _Query, device_id: str, rows: list[dict[str, Any]]
) -> dict[str, tuple[TrendPoint, ...]]:
    first = q.month
    for _ in range(TREND_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    months = [r for r in rows if first <= _month_of(r) <= q.month]
    argv = _monthly_argv(q, device_id)
    trend: dict[str, tuple[TrendPoint, ...]] = {}
    for metric in ("sensitivity", "specificity"):
        hit, miss = _DENOMINATORS[metric]
        points = []
        for row in months:
            month = _month_of(row)
            where = {"device_id": device_id, "window_start": row["window_start"]}
            names = [metric, f"{metric}_low", f"{metric}_high"]
            q.fields(f"{device_id}/trend/{month:%Y-%m}", "", row, names, argv, where)
            points.append(
                TrendPoint(
                    month=month,
                    value=_num(row.get(metric)),
                    low=_num(row.get(f"{metric}_low")),
                    high=_num(row.get(f"{metric}_high")),
                    n=int(row[hit]) + int(row[miss]),
                )
            )
        trend[metric] = tuple(points)
    return trend


# --- subgroups ----------------------------------------------------------------------------


def _subgroup_dimensions(config: Config) -> list[str]:
    dimensions = list(config.subgroups.dimensions)
    return dimensions if "device_version" in dimensions else ["device_version", *dimensions]


def _triple(row: dict[str, Any], name: str) -> tuple[float | None, float | None, float | None]:
    return (_num(row.get(name)), _num(row.get(f"{name}_low")), _num(row.get(f"{name}_high")))


def _subgroups(q: _Query, device_id: str) -> tuple[tuple[SubgroupLine, ...], list[GapFlag]]:
    dimensions = _subgroup_dimensions(q.config)
    options = evaluation_options(q.config, window="all", metrics=_SUBGROUP_METRICS)
    rows = stored_evaluation(
        q.session,
        as_of=q.as_of,
        tz=q.tz,
        options=options,
        breakdowns=[(d,) for d in dimensions],
        device_id=device_id,
        first=q.month,
    )
    argv: list[str] = ["evaluate", "--device", device_id, "--window", "all"]
    for dimension in dimensions:
        argv += ["--by", dimension]
    argv += ["--metrics", ",".join(_SUBGROUP_METRICS), "--from", q.first, "--as-of", q.day]
    argv += ["--format", "json"]
    # "Below the claim" in a subgroup is adjusted for the number of subgroups (Holm).
    claim_p = {
        metric: holm(np.array([_num(r.get(f"{metric}_claim_p")) or np.nan for r in rows]))
        if rows
        else np.array([])
        for metric in ("sensitivity", "specificity")
    }
    lines, gaps = [], []
    for index, row in enumerate(rows):
        dimension = str(row["breakdown"])
        raw_value = row.get(dimension)
        value = "" if raw_value is None else str(raw_value)
        where = {"device_id": device_id, "breakdown": dimension, dimension: raw_value}
        label = f"{dimension}={value}"
        key = f"{device_id}/subgroup/{label}"
        q.fields(key, label, row, ["n"], argv, where)
        flagged, below = [], []
        for metric in ("sensitivity", "specificity"):
            names = [metric, f"{metric}_low", f"{metric}_high", f"{metric}_vs_rest"]
            q.fields(key, label, row, [*names, f"{metric}_vs_rest_p_holm"], argv, where)
            adjusted = _num(row.get(f"{metric}_vs_rest_p_holm"))
            difference = _num(row.get(f"{metric}_vs_rest"))
            if (
                adjusted is not None
                and difference is not None
                and adjusted < q.alpha
                and difference < 0
            ):
                flagged.append(metric)
                gaps.append(GapFlag(metric, dimension, value, difference, adjusted))
            if row.get(f"{metric}_below_claim") and claim_p[metric][index] < q.alpha:
                below.append(metric)
        lines.append(
            SubgroupLine(
                dimension=dimension,
                value=value,
                n=int(row["n"]),
                sensitivity=_triple(row, "sensitivity"),
                specificity=_triple(row, "specificity"),
                sensitivity_gap=_triple(row, "sensitivity_vs_rest"),
                specificity_gap=_triple(row, "specificity_vs_rest"),
                sensitivity_p_adjusted=_num(row.get("sensitivity_vs_rest_p_holm")),
                specificity_p_adjusted=_num(row.get("specificity_vs_rest_p_holm")),
                too_small=bool(row.get("too_small")),
                flagged=tuple(flagged),
                below_claim=tuple(below),
            )
        )
    return tuple(lines), gaps


# --- findings -----------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))


def _slice_label(finding: Finding) -> str:
    parts = [f"device_version={finding.device_version}"] if finding.device_version else []
    parts += [f"{k}={v}" for k, v in (finding.subgroup or {}).items()]
    return ", ".join(parts) or "whole device"


_STEPS = ("acknowledge", "confirm", "dismiss", "act", "close", "reopen")
"""Audit verbs of workflow steps (their details say the status after, ``to``)."""
_ACTION_STEPS = {"action_add": "action_added", "action_done": "action_done"}


@dataclass(frozen=True)
class _Story:
    finding: Finding
    status: str
    events: tuple[tuple[str, date], ...]
    raised_in_month: bool


def _story(q: _Query, finding: Finding, entries: list[Any]) -> _Story:
    """The finding's status at the end of the month and its workflow steps in it."""
    detected = _aware(finding.detected_at)
    raised = q.start <= detected < q.end
    status = "open"
    events: list[tuple[str, date]] = []
    if raised:
        events.append(("opened", detected.astimezone(q.tz).date()))
    for entry in sorted(entries, key=lambda e: (e.at, e.id)):
        at = _aware(entry.at)
        if at > q.as_of:
            break
        verb = entry.action.removeprefix("finding.")
        if verb not in _STEPS and verb not in _ACTION_STEPS:
            continue
        after = (entry.details or {}).get("to") if verb in _STEPS else None
        if after is not None:
            status = str(after)
        if at >= q.start:
            event = "reopened" if verb == "reopen" else str(after or _ACTION_STEPS.get(verb))
            events.append((event, at.astimezone(q.tz).date()))
    return _Story(finding, status, tuple(events), raised)


def _findings(q: _Query, found: list[Finding]) -> list[_Story]:
    """The findings of ``found`` that matter to the month, with their stories."""
    by_finding: dict[str, list[Any]] = {}
    for entry in audit.list_entries(q.session, entity="finding", limit=None):
        by_finding.setdefault(entry.entity_id or "", []).append(entry)
    stories = []
    for finding in found:
        story = _story(q, finding, by_finding.get(str(finding.id), []))
        active = story.status in ACTIVE_AT_END and finding.severity != "info"
        if story.raised_in_month or story.events or active:
            stories.append(story)
    return stories


def _finding_lines(
    q: _Query,
    device_id: str,
    stories: list[_Story],
    every: list[Finding],
    device: dict[str, Any] | None = None,
) -> tuple[tuple[FindingLine, ...], tuple[IncidentLine, ...]]:
    """The month's findings, by incident (the root first), and their incidents."""
    grouped = group_incidents(finding_record(f, q.tz) for f in every)
    incident_of = {fid: incident for incident in grouped for fid in incident.finding_ids}
    argv = ("findings", "list", "--device", device_id, "--status", "all", "--format", "json")
    lines = []
    for story in stories:
        f = story.finding
        incident = incident_of.get(f.id)
        record = incident.findings[incident.finding_ids.index(f.id)] if incident else None
        lines.append(
            FindingLine(
                finding_id=f.id,
                rule=f.rule,
                metric=f.metric,
                severity=f.severity,
                slice_label=_slice_label(f),
                detected=_aware(f.detected_at).astimezone(q.tz).date(),
                since=_aware(f.window_start).astimezone(q.tz).date() if f.window_start else None,
                value=f.value,
                threshold=f.threshold,
                status=story.status,
                events=story.events,
                dismissal_reason=f.dismissal_reason if story.status == "dismissed" else None,
                incident=incident.id if incident else f.id,
                text={lang: finding_text(record, lang, device) for lang in LANGS}
                if record is not None
                else {},
            )
        )
    mine = {line.finding_id for line in lines}
    incident_lines = []
    for incident in grouped:
        ids = tuple(fid for fid in incident.finding_ids if fid in mine)
        if not incident.alarm or not ids:
            continue
        incident_lines.append(
            IncidentLine(
                incident_id=incident.id,
                severity=incident.severity,
                summary={lang: incident_text(incident, lang, device) for lang in LANGS},
                evidence={lang: supporting_text(incident, lang) for lang in LANGS},
                finding_ids=ids,
            )
        )
    order = {fid: n for n, incident in enumerate(grouped) for fid in incident.finding_ids}
    lines.sort(key=lambda line: (order.get(line.finding_id, len(order)), line.finding_id))
    raised = [s.finding.id for s in stories if s.raised_in_month]
    q.record(
        f"{device_id}/findings/raised_in_month",
        "findings raised in the month",
        len(raised),
        argv,
        {"id": raised},
        aggregate="count",
    )
    for line in lines:
        if line.value is not None:
            q.record(
                f"{device_id}/finding/{line.finding_id}/value",
                f"finding {line.finding_id} value",
                line.value,
                argv,
                {"id": line.finding_id},
                field="value",
            )
    return tuple(lines), tuple(incident_lines)


def _actions(q: _Query, stories: list[_Story]) -> tuple[ActionLine, ...]:
    lines = []
    for story in stories:
        for action in list_actions(q.session, story.finding.id):
            if _aware(action.created_at) > q.as_of:
                continue
            lines.append(
                ActionLine(
                    action_id=action.id,
                    finding_id=action.finding_id,
                    kind=action.kind,
                    description=action.description,
                    owner=action.owner,
                    due=action.due_date,
                    done=action.done_date,
                )
            )
    return tuple(lines)


def _vigilance(q: _Query, device_id: str) -> tuple[VigilanceLine, ...]:
    query = (
        select(VigilanceDraft)
        .join(Finding, Finding.id == VigilanceDraft.finding_id)
        .where(Finding.device_id == device_id)
        .order_by(VigilanceDraft.id)
    )
    lines = []
    for draft in q.session.scalars(query):
        created = _aware(draft.created_at)
        if not q.start <= created < q.end:
            continue
        lines.append(
            VigilanceLine(
                draft_id=draft.id,
                finding_id=draft.finding_id,
                created=created.astimezone(q.tz),
                lang=draft.lang,
                fmt=draft.format,
                sha256=draft.sha256,
                user=draft.created_by,
            )
        )
    return tuple(lines)


def _review(q: _Query, device_id: str) -> ReviewSummary:
    items = list(q.session.scalars(select(ReviewItem).where(ReviewItem.device_id == device_id)))
    queued = adjudicated = skipped = waiting = changed = 0
    for item in items:
        queued_at = _aware(item.queued_at)
        decided = _aware(item.decided_at) if item.decided_at is not None else None
        if q.start <= queued_at < q.end:
            queued += 1
        if queued_at <= q.as_of and (decided is None or decided > q.as_of):
            waiting += 1
        if decided is None or not q.start <= decided < q.end:
            continue
        if item.status == "adjudicated":
            adjudicated += 1
            before = "positive" if item.case_status in ("tp", "fn") else "negative"
            if item.case_status in ("tp", "fn", "tn", "fp") and item.decision != before:
                changed += 1
        elif item.status == "skipped":
            skipped += 1
    return ReviewSummary(
        queued=queued, adjudicated=adjudicated, skipped=skipped, waiting=waiting, changed=changed
    )


# --- charts, drift, estimates -------------------------------------------------------------


def _chart_keys(history: DeviceHistory, stories: list[_Story], as_of_ns: int) -> list[str]:
    view = history.as_of(as_of_ns)
    versions = sorted(set(view.cases["device_version"].astype(str)))
    whole = None if len(versions) != 1 else versions[0]
    keys = [slice_key(whole, None, m) for m in ("sensitivity", "specificity")]
    charted = [
        s.finding
        for s in stories
        if s.finding.rule in ("cusum", "ewma") and s.finding.severity != "info"
    ]
    charted.sort(key=lambda f: ({"critical": 0, "warning": 1}.get(f.severity, 2), f.value or 1.0))
    for finding in charted:
        key = slice_key(finding.device_version, finding.subgroup, finding.metric or "")
        if key not in keys and len(keys) < 2 + MAX_EXTRA_CHARTS:
            keys.append(key)
    return keys


def _cusum(q: _Query, history: DeviceHistory, stories: list[_Story]) -> tuple[CusumPanel, ...]:
    keys = _chart_keys(history, stories, to_ns(q.as_of))
    paths = device_chart_paths(q.session, q.config, history, q.as_of, keys)
    finding_of = {
        slice_key(
            s.finding.device_version, s.finding.subgroup, s.finding.metric or ""
        ): s.finding.id
        for s in stories
        if s.finding.rule in ("cusum", "ewma")
    }
    device_id = history.device.id
    panels = []
    for path in paths:
        summary = chart_summary(path, q.tz)
        argv = ["chart", "--device", device_id, "--metric", path.metric]
        if path.version is not None:
            argv += ["--version", path.version]
        if path.subgroup is not None:
            argv += ["--subgroup", f"{path.subgroup[0]}={path.subgroup[1]}"]
        argv += ["--as-of", q.day, "--format", "json"]
        names = ("decision_limit", "statistic", "observations")
        label = f"{path.slice_label} {path.metric}"
        q.fields(f"{device_id}/chart/{path.key}", label, summary, names, argv, {})
        times = tuple(pd.to_datetime(path.arrival_ns, utc=True).tz_convert(q.tz).to_pydatetime())
        signal_at = times[path.signal_index] if path.signal_index is not None else None
        panels.append(
            CusumPanel(
                chart=path.chart,
                metric=path.metric,
                slice_label=path.slice_label,
                version=path.version,
                subgroup=None if path.subgroup is None else {path.subgroup[0]: path.subgroup[1]},
                times=times,
                statistic=tuple(float(v) for v in path.statistic),
                limit=path.limit,
                signal_at=signal_at,
                in_control_rate=path.in_control_rate,
                observations=int(path.statistic.size),
                finding_id=finding_of.get(path.key),
            )
        )
    return tuple(panels)


def _drift(
    q: _Query, history: DeviceHistory, out_dir: Path | None
) -> tuple[tuple[DriftLine, ...], str | None, str | None]:
    device_id = history.device.id
    try:
        frames = drift_frames(history, q.config, to_ns(q.as_of))
    except MonitorError as exc:
        return (), None, str(exc)
    rows = drift_rows(frames, q.config.detection.drift_min_exams)
    argv = ("drift", "--device", device_id, "--as-of", q.day, "--format", "json")
    lines = []
    for row in rows:
        q.record(
            f"{device_id}/drift/{row['column']}/score",
            f"drift of {row['column']}",
            row["score"],
            argv,
            {"column": row["column"]},
            field="score",
        )
        lines.append(
            DriftLine(
                column=str(row["column"]),
                method=str(row["method"]),
                score=float(row["score"]),
                threshold=float(row["threshold"]),
                drift=bool(row["drift"]),
                n_reference=int(row["n_reference"]),
                n_current=int(row["n_current"]),
            )
        )
    report = None
    if out_dir is not None and lines:
        name = f"qc-report-{q.month:%Y-%m}-{device_id}-drift.html"
        title = f"{device_id}: drift as of {q.day}"
        write_device_drift_report(frames, out_dir / name, title)
        report = name
    note = None if lines else "no column with enough exams in both periods"
    return tuple(lines), report, note


_KINDS = ("estimated", "realised")


def _estimates(q: _Query, history: DeviceHistory) -> tuple[tuple[EstimateLine, ...], str | None]:
    device_id = history.device.id
    try:
        rows = estimated_vs_realised(history, q.config, to_ns(q.as_of))
    except MonitorError as exc:
        return (), str(exc)
    first = q.month
    for _ in range(TREND_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    argv = ("estimate", "--device", device_id, "--as-of", q.day, "--format", "json")
    lines = []
    for row in rows:
        month = date.fromisoformat(str(row["window_start"])[:7] + "-01")
        if month < first:
            continue
        where = {"window_start": row["window_start"]}
        names = [f"{kind}_{m}" for m in ("sensitivity", "specificity") for kind in _KINDS]
        q.fields(f"{device_id}/estimate/{month:%Y-%m}", "", row, names, argv, where)
        lines.append(
            EstimateLine(
                month=month,
                cases=int(row["cases"]),
                verified_share=float(row["verified_share"]),
                estimated_sensitivity=_num(row.get("estimated_sensitivity")),
                realised_sensitivity=_num(row.get("realised_sensitivity")),
                realised_sensitivity_low=_num(row.get("realised_sensitivity_low")),
                realised_sensitivity_high=_num(row.get("realised_sensitivity_high")),
                estimated_specificity=_num(row.get("estimated_specificity")),
                realised_specificity=_num(row.get("realised_specificity")),
                realised_specificity_low=_num(row.get("realised_specificity_low")),
                realised_specificity_high=_num(row.get("realised_specificity_high")),
            )
        )
    note = None if lines else "no month after the reference period yet"
    return tuple(lines), note


# --- device and establishment -------------------------------------------------------------


def _device_findings(q: _Query, device_id: str) -> list[Finding]:
    """The device's findings detected by the month's end, by id."""
    return list(
        q.session.scalars(
            select(Finding)
            .where(Finding.device_id == device_id, Finding.detected_at <= q.as_of)
            .order_by(Finding.id)
        )
    )


def _light(
    q: _Query,
    volume: Volume,
    rows: list[dict[str, Any]],
    metrics: Sequence[MetricLine],
    stories: Sequence[_Story],
    gaps: Sequence[GapFlag],
) -> Light:
    """The device's light for the month (:func:`alerts.traffic_light.traffic_light` fed
    with the month's figures, its findings as they stood and its flagged gaps)."""
    month_rows = [r for r in rows if _month_of(r) == q.month]
    verified = int(month_rows[0]["n"]) if month_rows else 0
    return traffic_light(
        [
            MonthFigure(m.metric, m.value, m.low, m.high, m.claimed, m.p_value, m.below_claim)
            for m in metrics
            if m.metric in ("sensitivity", "specificity")
        ],
        [
            FindingState(
                finding_id=s.finding.id,
                rule=s.finding.rule,
                metric=s.finding.metric,
                severity=s.finding.severity,
                slice_label=_slice_label(s.finding),
                status=s.status,
                raised_in_month=s.raised_in_month,
            )
            for s in stories
        ],
        gaps,
        predictions=volume.predictions,
        verified=verified,
        verification_rate=volume.verification_rate,
        min_cases=q.config.evaluation.min_cases,
        min_verification_rate=q.config.report.min_verification_rate,
    )


@dataclass(frozen=True)
class DeviceLight:
    """A device's light for a month and what it rests on: the first page of the
    monthly report, without its charts, drift and estimates."""

    spec: DeviceSpec
    light: Light
    volume: Volume
    metrics: tuple[MetricLine, ...]
    active_at_end: int
    """Findings still active (not dismissed or closed) at the month's end."""


def month_lights(session: Session, config: Config, month: date) -> list[DeviceLight]:
    """Every registered device's light for ``month`` (its first day) as of the month's
    last instant, by the same rules and figures as :func:`gather_monthly_report` (about
    a third of its time: no charts, drift or estimates). The case summaries must be
    built; a month not over yet gives its figures so far."""
    tz = ZoneInfo(config.time.timezone)
    start, end, as_of = month_bounds(month, tz)
    states = {s.device_id: s for s in device_status(session, as_of, since=start)}
    q = _Query(session, config, tz, month, start, end, as_of, Manifest(), states)
    lights = []
    for spec in registry.list_devices(session):
        volume = _volume(q, spec.id)
        rows = _monthly_rows(q, spec.id)
        metrics = _metric_lines(q, spec.id, rows)
        _, gaps = _subgroups(q, spec.id) if volume.predictions else ((), [])
        stories = _findings(q, _device_findings(q, spec.id))
        light = _light(q, volume, rows, metrics, stories, gaps)
        active = sum(1 for s in stories if s.status in ACTIVE_AT_END)
        lights.append(DeviceLight(spec, light, volume, tuple(metrics), active))
    return lights


def _device_month(q: _Query, spec: DeviceSpec, out_dir: Path | None) -> DeviceMonth:
    device_id = spec.id
    volume = _volume(q, device_id)
    rows = _monthly_rows(q, device_id)
    metrics = _metric_lines(q, device_id, rows)
    trend = _trend(q, device_id, rows)
    subgroups, gaps = _subgroups(q, device_id) if volume.predictions else ((), [])
    every = _device_findings(q, device_id)
    stories = _findings(q, every)
    history, _ = kept_history(q.session, spec, q.as_of, q.config.subgroups.age_bands, keep=False)
    cusum = _cusum(q, history, stories) if len(history.cases) else ()
    drift, drift_report, drift_note = _drift(q, history, out_dir)
    estimates, estimate_note = _estimates(q, history)
    light = _light(q, volume, rows, metrics, stories, gaps)
    versions = sorted({str(v) for v in history.as_of(to_ns(q.as_of)).cases["device_version"]})
    findings, incident_lines = _finding_lines(
        q, device_id, stories, every, spec.model_dump(mode="json")
    )
    return DeviceMonth(
        device_id=device_id,
        name=spec.name,
        manufacturer=spec.manufacturer,
        versions=tuple(versions),
        light=light,
        volume=volume,
        metrics=metrics,
        trend=trend,
        claims=dict(spec.claims()),
        subgroups=subgroups,
        cusum=cusum,
        drift=drift,
        drift_report=drift_report,
        drift_note=drift_note,
        estimates=estimates,
        estimate_note=estimate_note,
        findings=findings,
        incidents=incident_lines,
        actions=_actions(q, stories),
        vigilance=_vigilance(q, device_id),
        review=_review(q, device_id),
        outcomes=_outcomes(q, spec),
    )


def _inventory(specs: Sequence[DeviceSpec]) -> tuple[InventoryLine, ...]:
    return tuple(
        InventoryLine(
            device_id=spec.id,
            name=spec.name,
            manufacturer=spec.manufacturer,
            model=spec.model,
            ce_class=spec.ce_class,
            udi_di=spec.udi_di,
            versions=spec.versions,
            departments=spec.departments,
            sites=spec.sites,
            date_in_service=spec.date_in_service,
            intended_purpose=spec.intended_purpose,
            ai_based=spec.ai_based,
            claimed_sensitivity=spec.claims().get("sensitivity"),
            claimed_specificity=spec.claims().get("specificity"),
            risk_missing=tuple(spec.risk_analysis.missing()),
        )
        for spec in specs
    )


def gather_monthly_report(
    session: Session,
    config: Config,
    month: date,
    *,
    device_id: str | None = None,
    out_dir: Path | None = None,
    now: datetime | None = None,
) -> MonthlyReport:
    """The report of ``month`` (its first day) for every registered device, or one.

    Figures are as of the month's last instant; ``out_dir``, when given, receives
    each device's Evidently drift report (linked from the report). The case
    summaries must be built. MonitorError for an unknown device, a month not over
    at ``now`` (its figures would change), or a registry without devices.
    """
    tz = ZoneInfo(config.time.timezone)
    now = now or utc_now()
    start, end, as_of = month_bounds(month, tz)
    if end > now:
        raise MonitorError(
            f"{month:%Y-%m} is not over yet: a monthly report is written once its month has "
            "ended (the scheduler writes the previous month's on the first day of each month)"
        )
    specs = registry.list_devices(session)
    if not specs:
        raise MonitorError("no device in the registry: `dmn-monitor devices import FILE` first")
    if device_id is not None:
        specs = [registry.get_device(session, device_id)]
    states = {s.device_id: s for s in device_status(session, as_of, since=start)}
    months = outcome_months(session, start, as_of, tz)
    query = _Query(session, config, tz, month, start, end, as_of, Manifest(), states, months)
    devices = tuple(_device_month(query, spec, out_dir) for spec in specs)
    without_device = _quarantined_without_device(query) if device_id is None else 0
    return MonthlyReport(
        month=month,
        start=start,
        end=end,
        as_of=as_of,
        generated=now.astimezone(tz),
        establishment=config.report.establishment,
        timezone=config.time.timezone,
        devices=devices,
        inventory=_inventory(registry.list_devices(session)),
        reviewers=config.report.reviewers,
        manifest=query.manifest,
        min_cases=config.evaluation.min_cases,
        confidence=config.evaluation.confidence,
        alpha=1.0 - config.evaluation.confidence,
        interval_method=config.evaluation.interval_method,
        quarantined_without_device=without_device,
    )
