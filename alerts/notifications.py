"""Notifications of findings: routing and message content (pure, no I/O).

Everything here is built from a finding *record* (the JSON shape of
``monitor.findings.finding_record``) and the device's name. Messages speak of the
finding's *incident* first, in plain words (:mod:`alerts.incident_texts`): the
slice that explains the drop, the metric against the claim in percent, since when,
how many missed findings or false positives; then which finding this is, its dates
and its status. Chart statistics, decision limits and p-values stay in ``findings
show``. A record may carry, as ``monitor.notify`` adds them, ``text`` and
``incident_summary`` (``{"fr": ..., "en": ...}``, written with the device's registry
entry), ``incident`` (the id of the incident's root finding) and
``incident_evidence`` (its other slices); without them the finding's own plain text
is used. Never a patient or exam identifier (cases stay ``case-<n>`` references in
the application).

Languages: a channel's ``lang`` is ``fr``, ``en`` or ``fr+en`` (French, then English,
in the same message); it applies to e-mails and Alertmanager annotations. Webhook
documents always carry both (``summary.fr``, ``summary.en``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.findings import SEVERITIES
from alerts.incident_texts import finding_text

__all__ = [
    "LANGS",
    "RESOLVED",
    "WEBHOOK_SCHEMA",
    "Email",
    "Route",
    "alert_labels",
    "alertmanager_alert",
    "description",
    "email_message",
    "raised_event",
    "routed_channels",
    "subgroup_text",
    "summary",
    "webhook_payload",
]

LANGS = ("fr", "en", "fr+en")
RESOLVED = "resolved"
"""Event of a finding dismissed or closed after it was notified."""
WEBHOOK_SCHEMA = "dmn-monitor.notification/1"

_RULES: dict[str, tuple[str, str]] = {
    "cusum": ("Carte CUSUM : dérive de performance", "CUSUM chart: performance drift"),
    "ewma": ("Carte EWMA : dérive de performance", "EWMA chart: performance drift"),
    "below_claim": (
        "Performance inférieure à celle annoncée par le fabricant",
        "Performance below the manufacturer's claim",
    ),
    "version_comparison": (
        "Nouvelle version comparée à la précédente",
        "New version compared with its predecessor",
    ),
    "version_change": ("Nouvelle version logicielle", "New software version"),
    "outage": (
        "Interruption : le dispositif n'envoie plus de résultats",
        "Outage: the device stopped sending results",
    ),
    "verification_backlog": (
        "Retard de vérité terrain (examens non vérifiés)",
        "Ground-truth backlog (unverified exams)",
    ),
    "threshold_mismatch": (
        "Résultats de l'IA contraires à leur score au seuil du registre",
        "AI results contradicting their score at the registry's threshold",
    ),
    "input_drift": ("Dérive des données d'entrée", "Input drift"),
    "output_drift": ("Dérive des résultats du dispositif", "Output drift"),
    "estimated_performance": (
        "Performance estimée inférieure à celle annoncée",
        "Estimated performance below the claim",
    ),
}
_SEVERITY: dict[str, tuple[str, str]] = {
    "info": ("information", "info"),
    "warning": ("avertissement", "warning"),
    "critical": ("CRITIQUE", "CRITICAL"),
}


@dataclass(frozen=True)
class Route:
    """Which findings a channel takes: at least ``min_severity``, of ``devices`` (empty: all)."""

    channel: str
    min_severity: str = "warning"
    devices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.min_severity!r}")

    def accepts(self, severity: str, device_id: str) -> bool:
        """True when a finding of ``severity`` about ``device_id`` goes to this channel."""
        if self.devices and device_id not in self.devices:
            return False
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)


def routed_channels(record: Mapping[str, Any], routes: Sequence[Route]) -> list[str]:
    """Names of the channels the finding ``record`` goes to, in ``routes`` order."""
    return [r.channel for r in routes if r.accepts(record["severity"], record["device_id"])]


def raised_event(severity: str) -> str:
    """The event of a finding raised (or escalated) at ``severity``: ``raised:<severity>``."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    return f"raised:{severity}"


def _moment(text: str | None) -> str:
    """A record's local ISO date-time as ``YYYY-MM-DD HH:MM`` (``-`` when absent)."""
    return "-" if not text else text[:16].replace("T", " ")


def subgroup_text(subgroup: Mapping[str, Any] | None) -> str:
    """``all`` for the whole device, else ``column=value`` pairs joined by commas."""
    if not subgroup:
        return "all"
    return ",".join(f"{key}={value}" for key, value in sorted(subgroup.items()))


def _texts(lang: str) -> list[int]:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (use one of {', '.join(LANGS)})")
    return {"fr": [0], "en": [1], "fr+en": [0, 1]}[lang]


def _rule(record: Mapping[str, Any], i: int) -> str:
    rule = str(record["rule"])
    return _RULES.get(rule, (rule, rule))[i]


def _device(record: Mapping[str, Any], device_name: str) -> str:
    version = record.get("device_version")
    return f"{device_name} ({record['device_id']})" + (f" v{version}" if version else "")


_LANG_CODES = ("fr", "en")


def _plain(record: Mapping[str, Any], key: str, i: int) -> str | None:
    """The record's plain text ``key`` (``text``, ``incident_summary``...) in language ``i``."""
    texts = record.get(key)
    if isinstance(texts, Mapping) and texts.get(_LANG_CODES[i]):
        return str(texts[_LANG_CODES[i]])
    return None


def _finding_words(record: Mapping[str, Any], i: int) -> str:
    return _plain(record, "text", i) or finding_text(record, _LANG_CODES[i])


def _incident_words(record: Mapping[str, Any], i: int) -> str:
    return _plain(record, "incident_summary", i) or _finding_words(record, i)


def _incident_id(record: Mapping[str, Any]) -> int:
    incident = record.get("incident")
    return int(incident) if isinstance(incident, int) else int(record["id"])


def summary(record: Mapping[str, Any], device_name: str, lang: str, event: str) -> str:
    """One line: severity, device, the incident in plain words (``lang`` fr, en or fr+en
    joined by `` / ``)."""
    lines = []
    for i in _texts(lang):
        severity = _SEVERITY[record["severity"]][i]
        head = (
            (f"résolu ({record['status']})" if i == 0 else f"resolved ({record['status']})")
            if event == RESOLVED
            else severity
        )
        sep = " : " if i == 0 else ": "
        lines.append(f"[{head}] {_device(record, device_name)}{sep}{_incident_words(record, i)}")
    return " / ".join(lines)


def _body(record: Mapping[str, Any], device_name: str, i: int, event: str) -> list[str]:
    fr = i == 0
    sep = " : " if fr else ": "
    finding_id = record["id"]
    incident = _incident_id(record)
    status = record["status"]
    severity = _SEVERITY[record["severity"]][i]
    resolved = "" if event != RESOLVED else (" - résolu" if fr else " - resolved")
    if incident == finding_id:
        head = f"Incident n° {incident}" if fr else f"Incident {incident}"
    else:
        head = (
            f"Constat n° {finding_id}, élément de l'incident n° {incident}"
            if fr
            else f"Finding {finding_id}, evidence of incident {incident}"
        )
    lines = [
        f"{head} - {severity}{resolved}",
        ("Dispositif" if fr else "Device") + sep + _device(record, device_name),
        _incident_words(record, i),
    ]
    evidence = _plain(record, "incident_evidence", i)
    if evidence:
        lines.append(evidence)
    if incident != finding_id:
        lines.append(("Ce constat" if fr else "This finding") + sep + _finding_words(record, i))
    lines.append(
        (f"Constat n° {finding_id}" if fr else f"Finding {finding_id}")
        + f" ({_rule(record, i)})"
        + sep
        + ("détecté le " if fr else "detected ")
        + _moment(record.get("detected_at"))
        + (
            f" ({'vu' if fr else 'seen'} {record.get('occurrences', 1)} "
            f"{'fois' if fr else 'time(s)'}, {'dernière fois' if fr else 'last'} "
            f"{_moment(record.get('last_seen_at'))})"
        )
    )
    if record.get("escalated_at"):
        lines.append(("Aggravé le" if fr else "Escalated") + sep + _moment(record["escalated_at"]))
    lines.append(("Statut" if fr else "Status") + sep + str(status))
    if event == RESOLVED:
        lines.append(
            "Ce constat a été écarté ou clos : l'alerte est levée."
            if fr
            else "This finding was dismissed or closed: the alert is lifted."
        )
    else:
        lines.append(
            f"À faire : examiner l'incident (`dmn-monitor findings show {finding_id}`, "
            "chiffres détaillés), puis l'acquitter."
            if fr
            else f"To do: review the incident (`dmn-monitor findings show {finding_id}`, "
            "detailed figures), then acknowledge it."
        )
    return lines


def description(record: Mapping[str, Any], device_name: str, lang: str, event: str) -> str:
    """Plain-text description (several lines; both languages separated by a blank line)."""
    return "\n\n".join("\n".join(_body(record, device_name, i, event)) for i in _texts(lang))


@dataclass(frozen=True)
class Email:
    """Subject and plain-text body of a notification e-mail."""

    subject: str
    body: str


def email_message(record: Mapping[str, Any], device_name: str, lang: str, event: str) -> Email:
    """The e-mail of ``event`` about the finding ``record`` in ``lang`` (fr, en or fr+en)."""
    subject = "[dmn-monitor] " + summary(record, device_name, lang, event)
    parts = [description(record, device_name, lang, event)]
    footer = {
        "fr": "Message automatique de dmn-monitor (aucune donnée patient).",
        "en": "Automatic message from dmn-monitor (no patient data).",
    }
    parts.append(
        "-- \n" + "\n".join(footer[code] for code in (["fr", "en"] if lang == "fr+en" else [lang]))
    )
    return Email(subject=subject, body="\n\n".join(parts) + "\n")


def webhook_payload(
    record: Mapping[str, Any],
    device_name: str,
    *,
    event_key: str,
    channel: str,
    sent_at: datetime,
) -> dict[str, Any]:
    """The JSON document posted to a webhook (``event_key`` ``raised:<severity>`` or resolved)."""
    event = RESOLVED if event_key == RESOLVED else "raised"
    return {
        "schema": WEBHOOK_SCHEMA,
        "event": event,
        "event_key": event_key,
        "channel": channel,
        "sent_at": sent_at.isoformat(timespec="seconds"),
        "device": {"id": record["device_id"], "name": device_name},
        "finding": dict(record),
        "summary": {
            "fr": summary(record, device_name, "fr", event),
            "en": summary(record, device_name, "en", event),
        },
    }


_LABEL_SAFE = re.compile(r"[^A-Za-z0-9]+")


def _alertname(rule: str) -> str:
    return "DmnMonitor" + "".join(part.capitalize() for part in _LABEL_SAFE.split(rule) if part)


def alert_labels(record: Mapping[str, Any], severity: str | None = None) -> dict[str, str]:
    """Alertmanager labels of a finding: bounded, never an id of a patient, exam or finding.

    ``severity`` overrides the record's (to resolve the alert of an earlier severity).
    """
    return {
        "alertname": _alertname(str(record["rule"])),
        "device": str(record["device_id"]),
        "version": str(record.get("device_version") or "all"),
        "rule": str(record["rule"]),
        "metric": str(record.get("metric") or "none"),
        "severity": severity or str(record["severity"]),
        "subgroup": subgroup_text(record.get("subgroup")),
    }


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("alert times must be timezone-aware")
    return moment.isoformat(timespec="seconds")


def alertmanager_alert(
    record: Mapping[str, Any],
    device_name: str,
    *,
    lang: str,
    starts_at: datetime,
    ends_at: datetime,
    severity: str | None = None,
    resolved: bool = False,
) -> dict[str, Any]:
    """One alert of Alertmanager's v2 API (``POST /api/v2/alerts`` takes a list of them).

    Firing while ``ends_at`` is in the future; ``ends_at`` = now resolves it. ``severity``
    names an earlier severity's alert (same labels otherwise) to resolve it.
    """
    event = RESOLVED if resolved else "raised"
    start, end = _rfc3339(starts_at), _rfc3339(ends_at)
    return {
        "labels": alert_labels(record, severity),
        "annotations": {
            "summary": summary(record, device_name, lang, event),
            "description": description(record, device_name, lang, event),
            "finding_id": str(record["id"]),
        },
        "startsAt": start if starts_at < ends_at else end,
        "endsAt": end,
    }
