"""Notification content and routing: what each channel says, to whom, in which language."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.notifications import (
    RESOLVED,
    WEBHOOK_SCHEMA,
    Route,
    alert_labels,
    alertmanager_alert,
    email_message,
    raised_event,
    routed_channels,
    summary,
    webhook_payload,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NNBSP = "\u202f"


def _record(**changes: Any) -> dict[str, Any]:
    """A finding record as ``monitor.findings.finding_record`` shapes it."""
    record: dict[str, Any] = {
        "id": 7,
        "device_id": "frac",
        "device_version": "1.1",
        "rule": "cusum",
        "metric": "sensitivity",
        "subgroup": {"site": "A"},
        "window_start": "2025-05-12T08:00:00+02:00",
        "window_end": "2025-06-30T23:59:59+02:00",
        "detected_at": "2025-06-30T23:59:59+02:00",
        "severity": "critical",
        "value": 0.712,
        "threshold": 4.2,
        "evidence": {
            "affected_cases": ["case-101", "case-102"],
            "affected_cases_total": 2,
        },
        "status": "open",
        "last_seen_at": "2025-06-30T23:59:59+02:00",
        "escalated_at": None,
        "occurrences": 1,
    }
    record.update(changes)
    return record


def test_routes_take_findings_at_or_above_their_severity_of_their_devices() -> None:
    routes = [
        Route("on-call", min_severity="critical"),
        Route("quality", min_severity="warning", devices=("frac",)),
        Route("everything", min_severity="info"),
    ]
    assert routed_channels(_record(), routes) == ["on-call", "quality", "everything"]
    assert routed_channels(_record(severity="warning"), routes) == ["quality", "everything"]
    assert routed_channels(_record(severity="info"), routes) == ["everything"]
    assert routed_channels(_record(device_id="nod"), routes) == ["on-call", "everything"]
    with pytest.raises(ValueError, match="unknown severity"):
        Route("x", min_severity="urgent")


def test_an_escalation_is_another_event() -> None:
    assert raised_event("warning") == "raised:warning"
    assert raised_event("critical") != raised_event("warning")
    with pytest.raises(ValueError):
        raised_event("bad")


def test_alert_labels_are_bounded_and_name_no_case_or_finding() -> None:
    labels = alert_labels(_record())
    assert labels == {
        "alertname": "DmnMonitorCusum",
        "device": "frac",
        "version": "1.1",
        "rule": "cusum",
        "metric": "sensitivity",
        "severity": "critical",
        "subgroup": "site=A",
    }
    whole = alert_labels(
        _record(rule="verification_backlog", metric=None, device_version=None, subgroup=None)
    )
    assert whole["alertname"] == "DmnMonitorVerificationBacklog"
    assert (whole["version"], whole["metric"], whole["subgroup"]) == ("all", "none", "all")
    assert alert_labels(_record(), severity="warning")["severity"] == "warning"


def test_an_alertmanager_alert_fires_until_its_end_and_carries_the_finding_id_as_annotation() -> (
    None
):
    alert = alertmanager_alert(
        _record(),
        "Fracture detector",
        lang="fr",
        starts_at=NOW - timedelta(days=3),
        ends_at=NOW + timedelta(hours=26),
    )
    assert alert["startsAt"] == "2026-01-02T09:00:00+00:00"
    assert alert["endsAt"] == "2026-01-06T11:00:00+00:00"
    assert alert["annotations"]["finding_id"] == "7"
    assert "7" not in alert["labels"].values()
    assert alert["annotations"]["summary"].startswith("[CRITIQUE] Fracture detector (frac) v1.1")
    assert "Incident n° 7" in alert["annotations"]["description"]
    assert "Incident 7 " not in alert["annotations"]["description"]
    # A start after the end (a check of a future as-of date) is brought back to the end.
    late = alertmanager_alert(
        _record(), "F", lang="en", starts_at=NOW + timedelta(days=1), ends_at=NOW, resolved=True
    )
    assert late["startsAt"] == late["endsAt"] == "2026-01-05T09:00:00+00:00"
    assert late["annotations"]["summary"].startswith("[resolved (open)]")
    with pytest.raises(ValueError, match="aware"):
        alertmanager_alert(
            _record(), "F", lang="en", starts_at=NOW, ends_at=datetime(2026, 1, 6, 9, 0)
        )


def test_the_email_is_in_french_then_english_and_lists_no_case() -> None:
    mail = email_message(_record(), "Fracture detector", "fr+en", raised_event("critical"))
    assert mail.subject.startswith(
        "[dmn-monitor] [CRITIQUE] Fracture detector (frac) v1.1 : Version 1.1 sur le site A : "
        f"sensibilité 71{NNBSP}%"
    )
    assert "[CRITICAL] Fracture detector (frac) v1.1: Version 1.1 at site A" in mail.subject
    french, english = mail.body.index("Incident n° 7"), mail.body.index("Incident 7")
    assert french < english
    for line in (
        "Dispositif : Fracture detector (frac) v1.1",
        "Constat n° 7 (Carte CUSUM : dérive de performance) : détecté le 2025-06-30 23:59",
        "Finding 7 (CUSUM chart: performance drift): detected 2025-06-30 23:59",
        "Version 1.1 at site A: sensitivity 71%, since 12 May 2025, 2 missed findings",
        "dmn-monitor findings show 7",
    ):
        assert line in mail.body
    assert "case-101" not in mail.body and "case-101" not in mail.subject
    # Chart statistics and limits stay in `findings show`.
    assert "4.2" not in mail.body and "seuil" not in mail.body and "threshold" not in mail.body


def test_a_finding_of_an_incident_is_told_as_its_evidence() -> None:
    record = _record(
        id=9,
        incident=7,
        text={"fr": "Site A : sensibilité 71 %", "en": "Site A: sensitivity 71%"},
        incident_summary={
            "fr": "Version 1.1 sur les images Fujifilm : sensibilité 63 % pour 91 % revendiqués",
            "en": "Version 1.1 on Fujifilm images: sensitivity 63% against 91% claimed",
        },
        incident_evidence={
            "fr": None,
            "en": "Also seen in 1 other slice(s) (1 finding(s)): site A.",
        },
    )
    mail = email_message(record, "Fracture detector", "en", "raised:critical")
    assert mail.subject == (
        "[dmn-monitor] [CRITICAL] Fracture detector (frac) v1.1: Version 1.1 on Fujifilm images: "
        "sensitivity 63% against 91% claimed"
    )
    lines = mail.body.splitlines()
    assert lines[:5] == [
        "Finding 9, evidence of incident 7 - CRITICAL",
        "Device: Fracture detector (frac) v1.1",
        "Version 1.1 on Fujifilm images: sensitivity 63% against 91% claimed",
        "Also seen in 1 other slice(s) (1 finding(s)): site A.",
        "This finding: Site A: sensitivity 71%",
    ]


def test_a_single_language_email_has_only_that_language() -> None:
    english = email_message(_record(subgroup=None), "Fracture detector", "en", "raised:critical")
    assert "Constat" not in english.body and "Incident 7 - CRITICAL" in english.body
    assert english.subject == (
        "[dmn-monitor] [CRITICAL] Fracture detector (frac) v1.1: Version 1.1: sensitivity 71%, "
        "since 12 May 2025, 2 missed findings"
    )
    french = email_message(_record(), "Fracture detector", "fr", "raised:critical")
    assert "Finding" not in french.body and "Statut : open" in french.body
    with pytest.raises(ValueError, match="unknown language"):
        summary(_record(), "F", "de", "raised:critical")


def test_the_webhook_document_carries_the_finding_and_both_summaries() -> None:
    payload = webhook_payload(
        _record(status="dismissed"),
        "Fracture detector",
        event_key=RESOLVED,
        channel="tickets",
        sent_at=NOW,
    )
    assert json.loads(json.dumps(payload)) == payload
    assert payload["schema"] == WEBHOOK_SCHEMA
    assert (payload["event"], payload["event_key"]) == ("resolved", "resolved")
    assert payload["device"] == {"id": "frac", "name": "Fracture detector"}
    assert payload["finding"]["id"] == 7
    assert payload["summary"]["fr"].startswith("[résolu (dismissed)]")
    assert payload["summary"]["en"].startswith("[resolved (dismissed)]")
    raised = webhook_payload(
        _record(), "F", event_key="raised:critical", channel="tickets", sent_at=NOW
    )
    assert raised["event"] == "raised" and raised["sent_at"] == "2026-01-05T09:00:00+00:00"
