"""Notifications of findings: queue, deliver, retry and record every attempt.

A *delivery* is one event of one finding to one channel (unique: a finding event is
delivered at most once per channel, whatever the retries). Events:

- ``raised:<severity>`` for every active finding heading an incident
  (:mod:`alerts.incidents`) that the channel's route takes: one message per
  degradation, telling it in plain words with its other slices as evidence (a new
  root - a narrower explanation - is told anew); an escalation is a new event. A
  pending one whose finding was dismissed, closed or escalated before it went out is
  ``cancelled``.
- ``resolved`` for a dismissed or closed finding, on webhook and Alertmanager
  channels that were told of it (e-mail channels are not).

Each dispatch (:func:`notify`) queues the new events, then sends every due
delivery. Each claim and each result is committed in its own transaction: a
notification problem never blocks, loses or alters a finding. A failed attempt is
retried at the first dispatch after ``backoff_seconds * 2**(attempts - 1)`` (capped
at a day) until ``max_attempts``, then the delivery is ``failed``; a refusal retrying
cannot cure (HTTP 4xx but 408/429, SMTP 5xx, a missing secret) fails at once.

Alertmanager forgets an alert at its ``endsAt``: every dispatch re-posts the
``raised`` alert of each active finding (``endsAt`` = now + ``alert_hold_seconds``),
each post recorded as an attempt of that delivery; a resolved finding and the lower
severity of an escalated one are posted with ``endsAt`` = now.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from http.client import HTTPException
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.incident_texts import LANGS, finding_text, incident_text, supporting_text
from alerts.incidents import group_incidents
from alerts.notifications import (
    RESOLVED,
    Email,
    Route,
    alertmanager_alert,
    email_message,
    raised_event,
    webhook_payload,
)
from monitor.config import Config, NotificationChannelConfig, NotificationsConfig
from monitor.findings import finding_record
from monitor.models import Device, Finding, NotificationAttempt, NotificationDelivery
from monitor.storage import Database
from monitor.timeutil import local_iso, utc_now
from monitor.workflow import finding_incident

__all__ = [
    "ACTIVE_STATUSES",
    "DELIVERY_STATUSES",
    "DispatchReport",
    "backoff_delay",
    "deliver_due",
    "list_deliveries",
    "notify",
    "queue_deliveries",
]

ACTIVE_STATUSES = ("open", "acknowledged", "confirmed", "action_taken")
"""Finding statuses still being worked on (notified as raised)."""
ENDED_STATUSES = ("dismissed", "closed")
DELIVERY_STATUSES = ("pending", "sent", "failed", "cancelled")
MAX_BACKOFF_SECONDS = 86400.0
_RAISED = "raised:%"

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatch did: deliveries queued, sent, given up, still pending after it.

    ``refreshed`` counts Alertmanager alerts of active findings re-posted, ``cancelled``
    the pending deliveries whose finding ended or escalated before they went out.
    """

    queued: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    refreshed: int = 0
    cancelled: int = 0


def backoff_delay(settings: NotificationsConfig, attempts: int) -> timedelta:
    """Wait after ``attempts`` failed attempts: backoff_seconds * 2**(attempts-1), max a day."""
    seconds = settings.backoff_seconds * 2.0 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


# --- queueing ------------------------------------------------------------------------------


def _routes(channels: Sequence[NotificationChannelConfig]) -> list[Route]:
    return [Route(c.name, c.min_severity, c.devices) for c in channels]


def _incident_roots(active: Sequence[Finding], tz: ZoneInfo) -> set[int]:
    """The ids of the findings heading an incident (:mod:`alerts.incidents`): the other
    findings of a degradation are its evidence, told in its root's message."""
    return {i.id for i in group_incidents(finding_record(f, tz) for f in active)}


def _queue(session: Session, config: Config, now: datetime) -> tuple[int, int]:
    channels = {c.name: c for c in config.notifications.channels}
    routes = _routes(config.notifications.channels)
    D = NotificationDelivery
    known = {
        (row.finding_id, row.event, row.channel)
        for row in session.execute(select(D.finding_id, D.event, D.channel))
    }
    queued = 0

    def add(finding_id: int, event: str, channel: str) -> None:
        nonlocal queued
        if (finding_id, event, channel) in known:
            return
        known.add((finding_id, event, channel))
        session.add(
            D(
                finding_id=finding_id,
                event=event,
                channel=channel,
                kind=channels[channel].kind,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        queued += 1

    active = list(
        session.scalars(
            select(Finding).where(Finding.status.in_(ACTIVE_STATUSES)).order_by(Finding.id)
        )
    )
    roots = _incident_roots(active, ZoneInfo(config.time.timezone))
    for finding in active:
        if finding.id not in roots:
            continue
        for route in routes:
            if route.accepts(finding.severity, finding.device_id):
                add(finding.id, raised_event(finding.severity), route.channel)

    told = session.execute(
        select(D.finding_id, D.channel, D.kind, D.status)
        .join(Finding, Finding.id == D.finding_id)
        .where(Finding.status.in_(ENDED_STATUSES), D.event.like(_RAISED))
    ).all()
    for row in told:
        channel = channels.get(row.channel)
        if channel is None or channel.kind == "email":
            continue
        if row.status == "sent" or (row.status == "failed" and channel.kind == "alertmanager"):
            add(row.finding_id, RESOLVED, row.channel)

    cancelled = 0
    stale = session.execute(
        select(D, Finding.status, Finding.severity)
        .join(Finding, Finding.id == D.finding_id)
        .where(D.status == "pending", D.event.like(_RAISED))
    ).all()
    for delivery, finding_status, severity in stale:
        if finding_status in ENDED_STATUSES:
            reason = f"cancelled: the finding was {finding_status} before delivery"
        elif delivery.event != raised_event(severity):
            reason = f"cancelled: superseded by {raised_event(severity)}"
        else:
            continue
        delivery.status = "cancelled"
        delivery.next_attempt_at = None
        delivery.last_error = reason
        cancelled += 1
    return queued, cancelled


def queue_deliveries(db: Database, config: Config, now: datetime) -> tuple[int, int]:
    """Queue the finding events not yet queued; cancel stale pending ones.

    Returns ``(queued, cancelled)``. Committed in one transaction; if another
    dispatcher queued the same events meanwhile, the queueing is redone once.
    """
    for attempt in range(2):
        try:
            with db.session.begin() as session:
                return _queue(session, config, now)
        except IntegrityError:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


# --- sending -------------------------------------------------------------------------------


class _Failure(Exception):
    """A failed attempt: ``permanent`` when retrying cannot help, ``timeout`` when slow."""

    def __init__(self, message: str, *, permanent: bool = False, timeout: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.timeout = timeout


def _secret(environ: Mapping[str, str], name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = environ.get(name)
    if not value:
        raise _Failure(
            f"the {what} variable {name} is not set in the environment of dmn-monitor",
            permanent=True,
        )
    return value


def _safe_url(url: str) -> str:
    """``url`` without user:password@ (error messages never carry credentials)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _post_json(
    url: str,
    body: Any,
    *,
    token: str | None,
    timeout: float,
    ca_file: str | None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """POST ``body`` as JSON; the status line on 2xx, else :class:`_Failure`."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "dmn-monitor",
            **(headers or {}),
        },
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=ca_file) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            response.read(4096)
            return f"HTTP {response.status} from {_safe_url(url)}"
    except urllib.error.HTTPError as exc:
        snippet = exc.read(300).decode("utf-8", "replace").strip()
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        detail = f"HTTP {exc.code} {exc.reason} from {_safe_url(url)}"
        raise _Failure(detail + (f": {snippet}" if snippet else ""), permanent=permanent) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            message = f"no answer from {_safe_url(url)} within {timeout:g} s"
            raise _Failure(message, timeout=True) from exc
        raise _Failure(f"cannot reach {_safe_url(url)}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise _Failure(
            f"no answer from {_safe_url(url)} within {timeout:g} s", timeout=True
        ) from exc
    except (OSError, HTTPException) as exc:
        raise _Failure(f"{_safe_url(url)}: {type(exc).__name__}: {exc}") from exc


def _send_mail(
    channel: NotificationChannelConfig,
    email: Email,
    *,
    password: str | None,
    timeout: float,
    sent_at: datetime,
) -> str:
    """Send ``email`` through the channel's SMTP server (STARTTLS, then login if configured)."""
    assert channel.smtp_host is not None and channel.sender is not None
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.recipients)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain=channel.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body)
    where = f"SMTP {channel.smtp_host}:{channel.smtp_port}"
    try:
        with smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=timeout) as smtp:
            smtp.ehlo()
            if channel.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=channel.ca_file))
                smtp.ehlo()
            if channel.username:
                smtp.login(channel.username, password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPNotSupportedError as exc:
        raise _Failure(f"{where}: {exc} (set starttls = false?)", permanent=True) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise _Failure(f"{where}: every recipient refused", permanent=True) from exc
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        )
        raise _Failure(f"{where}: {exc.smtp_code} {text}", permanent=exc.smtp_code >= 500) from exc
    except ssl.SSLCertVerificationError as exc:
        raise _Failure(
            f"{where}: certificate not trusted ({exc.verify_message}); see ca_file", permanent=True
        ) from exc
    except TimeoutError as exc:
        raise _Failure(f"{where}: no answer within {timeout:g} s", timeout=True) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise _Failure(f"{where}: {type(exc).__name__}: {exc}") from exc
    accepted = len(channel.recipients) - len(refused)
    detail = f"{where}: accepted for {accepted} recipient(s)"
    return detail + (f", refused {len(refused)}" if refused else "")


@dataclass
class _Job:
    """A claimed delivery (or, with ``refresh``, a standing Alertmanager alert)."""

    delivery_id: int
    attempt: int
    event: str
    record: dict[str, Any]
    device_name: str
    starts_at: datetime
    other_severities: list[str] = field(default_factory=list)
    refresh: bool = False


def _incident_record(
    session: Session, finding: Finding, device: Device | None, tz: ZoneInfo
) -> dict[str, Any]:
    """The finding's record with its plain ``text``, its ``incident`` (the root's id),
    ``incident_summary`` and ``incident_evidence`` (fr, en), as the messages tell them."""
    record = finding_record(finding, tz)
    spec = dict(device.spec or {}) if device is not None else {}
    incident = finding_incident(session, finding, tz)
    record["text"] = {lang: finding_text(record, lang, spec) for lang in LANGS}
    record["incident"] = incident.id
    record["incident_summary"] = {lang: incident_text(incident, lang, spec) for lang in LANGS}
    record["incident_evidence"] = {lang: supporting_text(incident, lang) for lang in LANGS}
    return record


def _job(session: Session, delivery: NotificationDelivery, attempt: int, tz: ZoneInfo) -> _Job:
    finding = session.get(Finding, delivery.finding_id)
    assert finding is not None
    device = session.get(Device, finding.device_id)
    D = NotificationDelivery
    raised = session.scalars(
        select(D.event).where(
            D.finding_id == finding.id,
            D.channel == delivery.channel,
            D.event.like(_RAISED),
            D.status.in_(("sent", "failed")),
            D.event != delivery.event,
        )
    )
    return _Job(
        delivery_id=delivery.id,
        attempt=attempt,
        event=delivery.event,
        record=_incident_record(session, finding, device, tz),
        device_name=device.name if device is not None else finding.device_id,
        starts_at=finding.escalated_at or finding.detected_at,
        other_severities=sorted(e.split(":", 1)[1] for e in raised),
        refresh=False,
    )


def _claim(
    db: Database, delivery_id: int, seen: int, now: datetime, lease: timedelta, tz: ZoneInfo
) -> _Job | None:
    """Take a due delivery for one attempt (None if another dispatcher took it)."""
    D = NotificationDelivery
    with db.session.begin() as session:
        taken = session.execute(
            update(D)
            .where(D.id == delivery_id, D.status == "pending", D.attempts == seen)
            .values(attempts=seen + 1, next_attempt_at=now + lease)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        delivery = session.get(D, delivery_id)
        assert delivery is not None
        return _job(session, delivery, seen + 1, tz)


def _record(
    db: Database,
    job: _Job,
    settings: NotificationsConfig,
    now: datetime,
    *,
    ok: bool,
    detail: str,
    permanent: bool = False,
) -> str:
    """Record the attempt and its outcome; returns the delivery's status after it."""
    with db.session.begin() as session:
        delivery = session.get(NotificationDelivery, job.delivery_id)
        assert delivery is not None
        if job.refresh:
            delivery.attempts += 1
            job.attempt = delivery.attempts
        session.add(
            NotificationAttempt(
                delivery_id=delivery.id, attempt=job.attempt, at=now, ok=ok, detail=detail[:2000]
            )
        )
        if ok:
            delivery.status = "sent"
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            delivery.last_error = None
        elif job.refresh:
            delivery.last_error = detail
        elif permanent or delivery.attempts >= settings.max_attempts:
            delivery.status = "failed"
            delivery.next_attempt_at = None
            delivery.last_error = detail
        else:
            delivery.next_attempt_at = now + backoff_delay(settings, delivery.attempts)
            delivery.last_error = detail
        return delivery.status


def _due(db: Database, channel: str, now: datetime) -> list[tuple[int, int]]:
    D = NotificationDelivery
    with db.session() as session:
        rows = session.execute(
            select(D.id, D.attempts)
            .where(D.channel == channel, D.status == "pending", D.next_attempt_at <= now)
            .order_by(D.created_at, D.id)
        )
        return [(row.id, row.attempts) for row in rows]


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    refreshed: int = 0

    def count(self, job: _Job, status: str, ok: bool) -> None:
        if job.refresh:
            self.refreshed += ok
        elif status == "sent":
            self.sent += 1
        elif status == "failed":
            self.failed += 1


def _deliver_one(
    channel: NotificationChannelConfig,
    job: _Job,
    settings: NotificationsConfig,
    environ: Mapping[str, str],
    clock: Clock,
) -> str:
    """Send one webhook or e-mail delivery; the success detail, else :class:`_Failure`."""
    if channel.kind == "webhook":
        assert channel.url is not None
        token = _secret(environ, channel.token_env, "webhook token")
        payload = webhook_payload(
            job.record,
            job.device_name,
            event_key=job.event,
            channel=channel.name,
            sent_at=clock(),
        )
        return _post_json(
            channel.url,
            payload,
            token=token,
            timeout=settings.timeout_seconds,
            ca_file=channel.ca_file,
            headers={"Idempotency-Key": f"dmn-monitor-delivery-{job.delivery_id}"},
        )
    password = _secret(environ, channel.password_env, "SMTP password")
    email = email_message(job.record, job.device_name, channel.lang, job.event)
    return _send_mail(
        channel, email, password=password, timeout=settings.timeout_seconds, sent_at=clock()
    )


def _deliver_each(
    db: Database,
    channel: NotificationChannelConfig,
    settings: NotificationsConfig,
    environ: Mapping[str, str],
    clock: Clock,
    tz: ZoneInfo,
    tally: _Tally,
) -> None:
    lease = timedelta(seconds=4 * settings.timeout_seconds + 60)
    for delivery_id, seen in _due(db, channel.name, clock()):
        job = _claim(db, delivery_id, seen, clock(), lease, tz)
        if job is None:
            continue
        try:
            detail = _deliver_one(channel, job, settings, environ, clock)
        except _Failure as failure:
            status = _record(
                db,
                job,
                settings,
                clock(),
                ok=False,
                detail=str(failure),
                permanent=failure.permanent,
            )
            tally.count(job, status, ok=False)
            if failure.timeout:  # a slow channel is not tried again in this dispatch
                return
            continue
        except Exception as exc:  # a bug in a message must not stop the dispatch
            detail = f"unexpected error: {type(exc).__name__}: {exc}"
            tally.count(job, _record(db, job, settings, clock(), ok=False, detail=detail), False)
            continue
        tally.count(job, _record(db, job, settings, clock(), ok=True, detail=detail), True)


def _standing_alerts(db: Database, channel: str, tz: ZoneInfo) -> list[_Job]:
    """The raised alert of each active finding told to an Alertmanager channel."""
    D = NotificationDelivery
    jobs = []
    with db.session() as session:
        rows = session.execute(
            select(D, Finding)
            .join(Finding, Finding.id == D.finding_id)
            .where(
                D.channel == channel,
                D.status.in_(("sent", "failed")),
                D.event.like(_RAISED),
                Finding.status.in_(ACTIVE_STATUSES),
            )
            .order_by(D.id)
        ).all()
        for delivery, finding in rows:
            if delivery.event != raised_event(finding.severity):
                continue
            job = _job(session, delivery, 0, tz)
            job.refresh = True
            jobs.append(job)
    return jobs


def _alerts_of(
    job: _Job, channel: NotificationChannelConfig, settings: NotificationsConfig, now: datetime
) -> list[dict[str, Any]]:
    record, name, lang = job.record, job.device_name, channel.lang
    ended = [
        alertmanager_alert(
            record,
            name,
            lang=lang,
            starts_at=job.starts_at,
            ends_at=now,
            severity=s,
            resolved=True,
        )
        for s in job.other_severities
    ]
    if job.event == RESOLVED:
        return ended
    firing = alertmanager_alert(
        record,
        name,
        lang=lang,
        starts_at=job.starts_at,
        ends_at=now + timedelta(seconds=settings.alert_hold_seconds),
    )
    return [firing, *ended]


def _deliver_alertmanager(
    db: Database,
    channel: NotificationChannelConfig,
    settings: NotificationsConfig,
    environ: Mapping[str, str],
    clock: Clock,
    tz: ZoneInfo,
    tally: _Tally,
) -> None:
    """One POST per dispatch: due deliveries plus the standing alerts of active findings."""
    assert channel.url is not None
    lease = timedelta(seconds=4 * settings.timeout_seconds + 60)
    jobs = [
        job
        for delivery_id, seen in _due(db, channel.name, clock())
        if (job := _claim(db, delivery_id, seen, clock(), lease, tz)) is not None
    ]
    claimed = {job.delivery_id for job in jobs}
    jobs += [j for j in _standing_alerts(db, channel.name, tz) if j.delivery_id not in claimed]
    if not jobs:
        return
    now = clock()
    permanent = False
    try:
        token = _secret(environ, channel.token_env, "Alertmanager token")
        alerts = [alert for job in jobs for alert in _alerts_of(job, channel, settings, now)]
        url = channel.url.rstrip("/") + "/api/v2/alerts"
        detail = _post_json(
            url, alerts, token=token, timeout=settings.timeout_seconds, ca_file=channel.ca_file
        )
        detail += f" ({len(alerts)} alert(s) in the post)"
        ok = True
    except _Failure as failure:
        ok, detail, permanent = False, str(failure), failure.permanent
    except Exception as exc:  # a bug in a message must not stop the dispatch
        ok, detail = False, f"unexpected error: {type(exc).__name__}: {exc}"
    for job in jobs:
        status = _record(db, job, settings, clock(), ok=ok, detail=detail, permanent=permanent)
        tally.count(job, status, ok)


def deliver_due(
    db: Database,
    config: Config,
    *,
    environ: Mapping[str, str],
    now: datetime | None = None,
) -> tuple[int, int, int]:
    """Send every due delivery of every configured channel; ``(sent, failed, refreshed)``.

    Never raises for a delivery problem: each is recorded as a failed attempt.
    ``now`` fixes the clock (tests, replays); default the current time at each step.
    """
    settings = config.notifications
    clock: Clock = (lambda: now) if now is not None else utc_now
    tz = ZoneInfo(config.time.timezone)
    tally = _Tally()
    for channel in settings.channels:
        if channel.kind == "alertmanager":
            _deliver_alertmanager(db, channel, settings, environ, clock, tz, tally)
        else:
            _deliver_each(db, channel, settings, environ, clock, tz, tally)
    return tally.sent, tally.failed, tally.refreshed


def notify(
    db: Database,
    config: Config,
    *,
    environ: Mapping[str, str],
    now: datetime | None = None,
) -> DispatchReport:
    """Queue the notifications of findings not yet notified and send every due one.

    A no-op when no channel is configured. Never raises for a delivery problem (it
    is recorded with the delivery); secrets are read from ``environ`` by the names
    the configuration gives. Call it after the findings are committed.
    """
    if not config.notifications.channels:
        return DispatchReport()
    queued, cancelled = queue_deliveries(db, config, now or utc_now())
    sent, failed, refreshed = deliver_due(db, config, environ=environ, now=now)
    with db.session() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(NotificationDelivery)
            .where(
                NotificationDelivery.status == "pending",
                NotificationDelivery.channel.in_([c.name for c in config.notifications.channels]),
            )
        )
    return DispatchReport(
        queued=queued,
        sent=sent,
        failed=failed,
        pending=int(pending or 0),
        refreshed=refreshed,
        cancelled=cancelled,
    )


# --- listing -------------------------------------------------------------------------------


def list_deliveries(
    session: Session,
    tz: ZoneInfo,
    *,
    status: str | None = None,
    finding_id: int | None = None,
    limit: int | None = 200,
) -> list[dict[str, Any]]:
    """Deliveries, newest first, each with its attempts (attempt, at, ok, detail) as history."""
    D = NotificationDelivery
    query = select(D).order_by(D.created_at.desc(), D.id.desc())
    if status is not None:
        query = query.where(D.status == status)
    if finding_id is not None:
        query = query.where(D.finding_id == finding_id)
    if limit is not None:
        query = query.limit(limit)
    deliveries = list(session.scalars(query))
    attempts: dict[int, list[dict[str, Any]]] = {d.id: [] for d in deliveries}
    if deliveries:
        A = NotificationAttempt
        for attempt in session.scalars(
            select(A).where(A.delivery_id.in_(list(attempts))).order_by(A.delivery_id, A.id)
        ):
            attempts[attempt.delivery_id].append(
                {
                    "attempt": attempt.attempt,
                    "at": local_iso(attempt.at, tz),
                    "ok": attempt.ok,
                    "detail": attempt.detail,
                }
            )
    return [
        {
            "id": d.id,
            "finding_id": d.finding_id,
            "event": d.event,
            "channel": d.channel,
            "kind": d.kind,
            "status": d.status,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "next_attempt_at": local_iso(d.next_attempt_at, tz),
            "delivered_at": local_iso(d.delivered_at, tz),
            "created_at": local_iso(d.created_at, tz),
            "history": attempts[d.id],
        }
        for d in deliveries
    ]
