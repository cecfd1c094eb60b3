"""Console pages: the findings, one finding's evidence, chart, cases and review.

``GET /findings`` lists findings (filters device, status, severity; 200 rows at most,
with the count). ``GET /findings/{id}`` shows a finding: its evidence in words, its
control chart (CUSUM/EWMA findings) or its slice's monthly trend (other performance
findings), the other findings of its incident, its cases (quality: the discordant
ones as ``case-<n>``; viewers: counts only), the workflow steps allowed now, its
corrective actions, its materiovigilance drafts and its audit history. Every POST
needs the quality role and is audited with the user's name (``Full Name (login)``)
by the domain functions (:mod:`monitor.workflow`, :mod:`monitor.vigilance`), or as
``console.queue_cases`` for the review queue.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from alerts.incident_texts import finding_text, incident_text, supporting_text
from alerts.incidents import group_incidents
from alerts.vigilance import LANGS as DRAFT_LANGS
from alerts.vigilance import draft_refusal, key_numbers, number_rows
from alerts.workflow import (
    ACTION_KINDS,
    ACTIVE_STATUSES,
    DISMISSAL_REASONS,
    allowed_verbs,
)
from monitor import audit, registry, workflow
from monitor import report_texts as tx
from monitor.control_charts import device_chart_paths, slice_key
from monitor.errors import MonitorError
from monitor.evaluate_stored import evaluation_options, stored_evaluation
from monitor.findings import FINDING_STATUSES, finding_record, list_findings
from monitor.incident_view import device_entries
from monitor.kept_history import kept_history
from monitor.models import Device, Finding, FindingAction, VigilanceDraft
from monitor.report_job import report_dir
from monitor.report_model import TrendPoint
from monitor.report_plots import cusum_chart, trend_chart
from monitor.review import case_summary, finding_cases, sample_discordant
from monitor.vigilance import FORMATS, list_drafts, write_draft
from monitor.web.auth import Posted, QualityLogin, QualityPost, ViewerLogin
from monitor.web.i18n import TEXTS, register, translate
from monitor.web.pages_review import qualifier_words, section_words
from monitor.web.render import PageNotFound, language, page
from monitor.web.sessions import Login

__all__ = ["LIST_LIMIT", "router"]

router = APIRouter()

LIST_LIMIT: Final = 200
"""Findings listed on one page at most (the count of all matching ones is shown)."""

_MAX_ID: Final = 2**31 - 1
_STEPS: Final = ("acknowledge", "confirm", "dismiss", "close", "reopen")
"""The workflow steps taken with a button (``act`` is the corrective-action form)."""
_SEVERITY_FILTERS: Final = ("all", "critical", "warning", "info")
_CHART_RULES: Final = ("cusum", "ewma")
_PROPORTIONS: Final = ("sensitivity", "specificity", "ppv", "npv")
_TREND_METRICS: Final = ("sensitivity", "specificity")
_DENOMINATORS: Final = {"sensitivity": ("tp", "fn"), "specificity": ("tn", "fp")}
_CASE_REF = re.compile(r"\bcase-\d+", re.IGNORECASE)
_MEDIA: Final = {
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}
_UTC = ZoneInfo("UTC")

register(
    {
        "findings.title": ("Constats", "Findings"),
        "findings.finding_title": ("Constat n°\u00a0{id}", "Finding {id}"),
        "findings.filters": ("Filtrer les constats", "Filter the findings"),
        "findings.device": ("Dispositif", "Device"),
        "findings.all_devices": ("tous les dispositifs", "all devices"),
        "findings.status": ("Statut", "Status"),
        "findings.status_active": ("actifs (à traiter)", "active (to review)"),
        "findings.status_all": ("tous", "all"),
        "findings.severity": ("Gravité", "Severity"),
        "findings.severity_all": ("toutes", "all"),
        "findings.apply": ("Afficher", "Show"),
        "findings.count": (
            "{shown} constat(s) affiché(s) sur {total}.",
            "{shown} finding(s) shown of {total}.",
        ),
        "findings.limited": (
            "Seuls les {limit} plus récents sont affichés\u00a0: affinez les filtres.",
            "Only the {limit} most recent are shown: narrow the filters.",
        ),
        "findings.none": ("Aucun constat ne correspond.", "No finding matches."),
        "findings.table": ("Constats, du plus récent au plus ancien", "Findings, newest first"),
        "findings.incidents": ("Incidents", "Incidents"),
        "findings.incidents_note": (
            "Un incident réunit les constats d'une même dégradation\u00a0; il est nommé par "
            "le sous-groupe le plus étroit qui l'explique, les autres constats en sont les "
            "éléments de preuve.",
            "An incident gathers the findings of one degradation; it is named by the narrowest "
            "slice that explains it, the other findings are its evidence.",
        ),
        "findings.incident_heading": (
            "Incident n°\u00a0{id} · {device}",
            "Incident {id} · {device}",
        ),
        "findings.open_root": ("Ouvrir le constat racine n°\u00a0{id}", "Open root finding {id}"),
        "findings.incident_findings": (
            "Les {n} constats de l'incident (afficher ou masquer)",
            "The incident's {n} findings (show or hide)",
        ),
        "findings.incident_table": (
            "Constats de l'incident n°\u00a0{id}, la racine en premier",
            "Findings of incident {id}, the root first",
        ),
        "findings.others": ("Autres constats", "Other findings"),
        "findings.others_table": (
            "Autres constats (information, exploitation), du plus récent au plus ancien",
            "Other findings (information, operations), newest first",
        ),
        "findings.text": ("En clair", "In words"),
        "findings.root": ("racine", "root"),
        "findings.is_root": (
            "Ce constat est la racine de l'incident n°\u00a0{id}\u00a0: le sous-groupe le plus "
            "étroit qui explique la dégradation.",
            "This finding is the root of incident {id}: the narrowest slice that explains the "
            "degradation.",
        ),
        "findings.supports": (
            "Ce constat est un élément de preuve de l'incident n°\u00a0{id}\u00a0:",
            "This finding is evidence of incident {id}:",
        ),
        "findings.id": ("N°", "No."),
        "findings.version": ("Version", "Version"),
        "findings.slice": ("Sous-groupe", "Subgroup"),
        "findings.rule": ("Règle", "Rule"),
        "findings.metric": ("Indicateur", "Metric"),
        "findings.detected": ("Détecté le", "Detected"),
        "findings.last_seen": ("Vu pour la dernière fois", "Last seen"),
        "findings.incident": ("Incident", "Incident"),
        "findings.incident_of": ("incident n°\u00a0{id}", "incident {id}"),
        "findings.all_versions": ("toutes", "all"),
        "findings.open_finding": ("Ouvrir le constat n°\u00a0{id}", "Open finding {id}"),
        "findings.related_summary": (
            "{n} autres constats du même incident (afficher ou masquer)",
            "{n} other findings of the same incident (show or hide)",
        ),
        "findings.back": ("Retour à la liste des constats", "Back to the findings"),
        # one finding
        "findings.evidence": ("Éléments de preuve", "Evidence"),
        "findings.window": ("Période des examens", "Exam window"),
        "findings.value": ("Valeur", "Value"),
        "findings.threshold": ("Seuil", "Threshold"),
        "findings.decision_limit": ("Limite de décision", "Decision limit"),
        "findings.claimed": ("Valeur annoncée", "Claimed value"),
        "findings.previous_version": (
            "Valeur de la version précédente",
            "Previous version's value",
        ),
        "findings.statistic": ("Statistique au signal", "Statistic at the signal"),
        "findings.change_point": ("Rupture estimée (examen du)", "Estimated change (exam of)"),
        "findings.signal_at": ("Signal le", "Signal on"),
        "findings.expected_rate": ("Taux d'erreur attendu", "Expected error rate"),
        "findings.observed_rate": (
            "Taux d'erreur depuis la rupture",
            "Error rate since the change",
        ),
        "findings.p_value": ("p", "p"),
        "findings.occurrences": ("Détections", "Detections"),
        "findings.escalated": ("Aggravé le", "Escalated"),
        "findings.dismissal_reason": ("Motif d'écartement", "Dismissal reason"),
        "findings.acknowledged_by": ("Pris en compte par", "Acknowledged by"),
        "findings.confirmed_by": ("Confirmé par", "Confirmed by"),
        "findings.chart": ("Carte de contrôle ou tendance", "Control chart or trend"),
        "findings.cusum_alt": (
            "{chart} de la {metric}, {slice}\u00a0: statistique au fil des examens, limite "
            "de décision {limit}, signal le {signal}.",
            "{chart} of {metric}, {slice}: statistic over the exams, decision limit {limit}, "
            "signal on {signal}.",
        ),
        "findings.trend_alt": (
            "Évolution mensuelle de la {metric}, {slice}, avec son intervalle de confiance "
            "et la valeur annoncée\u202f; le mois du constat est mis en évidence.",
            "Monthly {metric}, {slice}, with its confidence interval and the claimed value; "
            "the month of the finding is highlighted.",
        ),
        "findings.no_chart": (
            "Pas de graphique pour ce type de constat\u00a0: les éléments ci-dessus le décrivent.",
            "No chart for this kind of finding: the evidence above describes it.",
        ),
        "findings.related": ("Autres constats du même incident", "Other findings of the incident"),
        "findings.no_related": (
            "Aucun autre constat actif dans cet incident.",
            "No other active finding in this incident.",
        ),
        "findings.cases": ("Cas concernés", "Affected cases"),
        "findings.cases_counts": ("Effectifs des cas", "Case counts"),
        "findings.cases_total": ("Examens du sous-groupe et de la période", "Exams of the slice"),
        "findings.cases_verified": ("Vérifiés", "Verified"),
        "findings.cases_pending": ("En attente de vérité", "Awaiting ground truth"),
        "findings.cases_in_metric": ("Dans l'indicateur", "In the metric"),
        "findings.cases_discordant": (
            "Discordants dans l'indicateur",
            "Discordant in the metric",
        ),
        "findings.sentence": ("Phrase du compte rendu", "Report sentence"),
        "findings.not_mentioned": (
            "cible non mentionnée (comptée négative)",
            "target not mentioned (counted as negative)",
        ),
        "findings.cases_table": (
            "Cas discordants de l'indicateur (pseudonymisés)",
            "Discordant cases of the metric (pseudonymised)",
        ),
        "findings.case": ("Cas", "Case"),
        "findings.exam": ("Examen", "Exam"),
        "findings.site": ("Site", "Site"),
        "findings.scanner": ("Constructeur", "Scanner manufacturer"),
        "findings.ai_result": ("Résultat de l'IA", "AI result"),
        "findings.outcome": ("Vérité", "Ground truth"),
        "findings.source": ("Source", "Source"),
        "findings.case_status": ("Statut du cas", "Case status"),
        "findings.review_case": ("Revoir {ref}", "Review {ref}"),
        "findings.no_discordant": ("Aucun cas discordant.", "No discordant case."),
        "findings.queue": (
            "Mettre en revue les cas discordants du constat",
            "Queue the finding's discordant cases for review",
        ),
        "findings.queue_link": (
            "Voir les cas de ce constat dans la revue",
            "See this finding's cases in the review",
        ),
        "findings.workflow": ("Traitement", "Review"),
        "findings.current_status": ("Statut actuel", "Current status"),
        "findings.no_step": ("Aucune étape possible.", "No step possible."),
        "findings.step.acknowledge": ("Prendre en compte", "Acknowledge"),
        "findings.step.confirm": ("Confirmer le dysfonctionnement", "Confirm the malfunction"),
        "findings.step.dismiss": ("Écarter le constat", "Dismiss the finding"),
        "findings.step.close": ("Clore le constat", "Close the finding"),
        "findings.step.reopen": ("Rouvrir le constat", "Reopen the finding"),
        "findings.with_related": (
            "Écarter aussi les constats du même incident (même cause)",
            "Also dismiss the findings of the same incident (same cause)",
        ),
        "findings.reason": ("Motif", "Reason"),
        "findings.actions": ("Actions correctives", "Corrective actions"),
        "findings.no_actions": ("Aucune action corrective.", "No corrective action."),
        "findings.actions_table": ("Actions correctives du constat", "The finding's actions"),
        "findings.kind": ("Type", "Kind"),
        "findings.description": ("Description", "Description"),
        "findings.owner": ("Responsable", "Owner"),
        "findings.due": ("Échéance", "Due"),
        "findings.done_date": ("Réalisée le", "Done on"),
        "findings.recorded_by": ("Enregistrée par", "Recorded by"),
        "findings.mark_done": ("Marquer comme réalisée", "Mark as done"),
        "findings.done_on": ("Date de réalisation", "Date done"),
        "findings.add_action": ("Enregistrer une action corrective", "Record a corrective action"),
        "findings.optional": ("facultatif", "optional"),
        "findings.vigilance": ("Matériovigilance", "Materiovigilance"),
        "findings.vigilance_draft": (
            "Préparer la déclaration de matériovigilance",
            "Draft the materiovigilance declaration",
        ),
        "findings.vigilance_note": (
            "Le brouillon n'est jamais envoyé\u00a0: relisez-le, complétez-le et déclarez "
            "vous-même.",
            "The draft is never sent: review it, complete it and declare it yourself.",
        ),
        "findings.vigilance_refused": (
            "Un brouillon de déclaration n'est possible que pour un dysfonctionnement confirmé.",
            "A declaration draft is possible only for a confirmed malfunction.",
        ),
        "findings.draft_lang": ("Langue", "Language"),
        "findings.draft_format": ("Format", "Format"),
        "findings.drafts": ("Brouillons produits", "Drafts produced"),
        "findings.no_drafts": ("Aucun brouillon.", "No draft."),
        "findings.draft_file": ("Fichier", "File"),
        "findings.created": ("Créé le", "Created"),
        "findings.by": ("Par", "By"),
        "findings.download": ("Télécharger {name}", "Download {name}"),
        "findings.history": ("Historique (journal d'audit)", "History (audit log)"),
        "findings.history_table": ("Historique du constat", "The finding's history"),
        "findings.when": ("Quand", "When"),
        "findings.who": ("Qui", "Who"),
        "findings.what": ("Quoi", "What"),
        "findings.details": ("Détails", "Details"),
        "findings.cs.tp": ("VP (vrai positif)", "TP (true positive)"),
        "findings.cs.fn": ("FN (faux négatif)", "FN (false negative)"),
        "findings.cs.tn": ("VN (vrai négatif)", "TN (true negative)"),
        "findings.cs.fp": ("FP (faux positif)", "FP (false positive)"),
        "findings.cs.pending": ("en attente", "pending"),
        "findings.cs.excluded": ("exclu", "excluded"),
        "findings.result.positive": ("positif", "positive"),
        "findings.result.negative": ("négatif", "negative"),
        "findings.result.indeterminate": ("indéterminé", "indeterminate"),
        "findings.source.report": ("compte rendu", "report"),
        "findings.source.pathology": ("anatomopathologie", "pathology"),
        "findings.source.follow_up": ("suivi", "follow-up"),
        "findings.source.adjudication": ("arbitrage", "adjudication"),
        "findings.lang.fr": ("français", "French"),
        "findings.lang.en": ("anglais", "English"),
        "findings.action.finding.create": ("constat ouvert", "finding opened"),
        "findings.action.finding.escalate": ("constat aggravé", "finding escalated"),
        "findings.action.finding.acknowledge": ("pris en compte", "acknowledged"),
        "findings.action.finding.confirm": ("confirmé", "confirmed"),
        "findings.action.finding.dismiss": ("écarté", "dismissed"),
        "findings.action.finding.act": ("action engagée", "action taken"),
        "findings.action.finding.action_add": (
            "action corrective enregistrée",
            "corrective action recorded",
        ),
        "findings.action.finding.action_done": (
            "action corrective réalisée",
            "corrective action done",
        ),
        "findings.action.finding.close": ("clos", "closed"),
        "findings.action.finding.reopen": ("rouvert", "reopened"),
        "findings.action.vigilance.draft": (
            "brouillon de matériovigilance",
            "materiovigilance draft",
        ),
        "findings.action.console.queue_cases": (
            "cas mis en revue",
            "cases queued for review",
        ),
        # confirmations and errors
        "findings.done.step": ("Étape enregistrée.", "Step recorded."),
        "findings.done.action": ("Action corrective enregistrée.", "Corrective action recorded."),
        "findings.done.action_done": (
            "Action corrective marquée comme réalisée.",
            "Corrective action marked as done.",
        ),
        "findings.done.queued": (
            "{count} cas ajouté(s) à la file de revue.",
            "{count} case(s) added to the review queue.",
        ),
        "findings.done.vigilance": (
            "Brouillon de déclaration écrit (non envoyé).",
            "Declaration draft written (not sent).",
        ),
        "findings.error.comment": (
            "Le commentaire est obligatoire\u00a0: dites pourquoi.",
            "The comment is required: say why.",
        ),
        "findings.error.field": (
            "Champ manquant ou invalide\u00a0: {field}.",
            "Missing or invalid field: {field}.",
        ),
        "findings.error.changed": (
            "Le fichier du brouillon {id} a changé ou disparu depuis sa création\u00a0: "
            "préparez un nouveau brouillon.",
            "The file of draft {id} changed or disappeared since it was made: make a new draft.",
        ),
    }
)


# --- formatting ---------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)


def slice_label(version: str | None, subgroup: Mapping[str, Any] | None) -> str:
    """A finding's slice as the reports name it (``"device_version=2.4.0, site=X"``)."""
    parts = [f"device_version={version}"] if version else []
    parts += [f"{k}={v}" for k, v in (subgroup or {}).items()]
    return ", ".join(parts) or "whole device"


def _figure(value: float | None, rule: str, metric: str | None, lang: str) -> str:
    """A finding's value or threshold: a percentage for proportions, else a decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return tx.DASH
    if rule in _CHART_RULES:
        return tx.decimal(value, lang, 2)
    if metric in _PROPORTIONS:
        return tx.pct(value, lang)
    return tx.decimal(value, lang, 3)


def _value_figure(record: Mapping[str, Any], lang: str) -> str:
    """The finding's value (for a chart, the metric since the change: a proportion)."""
    value = record.get("value")
    if record["rule"] in _CHART_RULES and value is not None:
        return tx.pct(value, lang)
    return _figure(value, record["rule"], record.get("metric"), lang)


def _threshold_key(rule: str) -> str:
    return {
        "cusum": "findings.decision_limit",
        "ewma": "findings.decision_limit",
        "below_claim": "findings.claimed",
        "version_comparison": "findings.previous_version",
    }.get(rule, "findings.threshold")


def _row(
    record: Mapping[str, Any], lang: str, device: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the list and the related findings show of a finding, in words."""
    metric = record.get("metric")
    return {
        "text": finding_text(record, lang, device),
        "id": record["id"],
        "device_id": record["device_id"],
        "version": record.get("device_version"),
        "slice": tx.slice_text(slice_label(None, record.get("subgroup")), lang),
        "rule": tx.term(tx.RULES, record["rule"], lang),
        "metric": tx.term(tx.METRICS, metric, lang) if metric in tx.METRICS else metric or tx.DASH,
        "value": _value_figure(record, lang),
        "threshold": _figure(record.get("threshold"), record["rule"], metric, lang),
        "severity": record["severity"],
        "severity_text": tx.term(tx.SEVERITIES, record["severity"], lang),
        "status_text": tx.term(tx.STATUSES, record["status"], lang),
        "detected_at": record.get("detected_at"),
        "last_seen_at": record.get("last_seen_at"),
        "incident": record.get("incident"),
        "root": record.get("incident") == record["id"],
    }


def _hide_cases(value: Any) -> Any:
    """``value`` with every ``case-<n>`` reference masked (comments shown to viewers)."""
    if isinstance(value, str):
        return _CASE_REF.sub("[…]", value)
    if isinstance(value, dict):
        return {k: _hide_cases(v) for k, v in value.items() if k != "affected_cases"}
    if isinstance(value, list):
        return [_hide_cases(v) for v in value]
    return value


# --- the list -------------------------------------------------------------------------------


@router.get("/findings", response_class=HTMLResponse)
def findings_page(request: Request, login: ViewerLogin) -> Response:
    """The findings, newest first, filtered by device, status and severity."""
    console = request.app.state.console
    state = console.api
    lang = language(request, login)
    query = request.query_params
    device = query.get("device") or ""
    status = query.get("status") or "active"
    severity = query.get("severity") or "all"
    if status not in ("active", "all", *FINDING_STATUSES):
        status = "active"
    if severity not in _SEVERITY_FILTERS:
        severity = "all"
    statuses: list[str] | None = (
        None if status == "all" else list(ACTIVE_STATUSES) if status == "active" else [status]
    )
    with state.db.session() as session:
        devices = [d.id for d in registry.list_devices(session)]
        if device not in devices:
            device = ""
        found = list_findings(session, device_id=device or None, statuses=statuses)
        records = [finding_record(f, state.tz) for f in found]
        entries = device_entries(session, {r["device_id"] for r in records})
    if severity != "all":
        records = [r for r in records if r["severity"] == severity]
    grouped = group_incidents(records)
    root_of = {fid: incident.id for incident in grouped for fid in incident.finding_ids}
    for record in records:
        record["incident"] = root_of[record["id"]]
    budget = LIST_LIMIT
    shown = 0
    shown_incidents = []
    for incident in (g for g in grouped if g.alarm):
        if budget <= 0:
            break
        spec = entries.get(incident.device_id)
        rows = [_row(r, lang, spec) for r in incident.findings[:budget]]
        budget -= len(rows)
        shown += len(rows)
        shown_incidents.append(
            {
                "id": incident.id,
                "device_id": incident.device_id,
                "severity": incident.severity,
                "severity_text": tx.term(tx.SEVERITIES, incident.severity, lang),
                "summary": incident_text(incident, lang, spec),
                "evidence": supporting_text(incident, lang),
                "count": len(incident.findings),
                "rows": rows,
            }
        )
    others = sorted(
        (r for g in grouped if not g.alarm for r in g.findings),
        key=lambda r: (str(r.get("detected_at") or ""), int(r["id"])),
        reverse=True,
    )
    other_rows = [_row(r, lang, entries.get(r["device_id"])) for r in others[: max(budget, 0)]]
    return page(
        request,
        login,
        "findings.html",
        {
            "incidents": shown_incidents,
            "rows": other_rows,
            "shown": shown + len(other_rows),
            "total": len(records),
            "limit": LIST_LIMIT,
            "devices": devices,
            "device": device,
            "status": status,
            "severity": severity,
            "statuses": [(s, tx.term(tx.STATUSES, s, lang)) for s in FINDING_STATUSES],
            "severities": [(s, tx.term(tx.SEVERITIES, s, lang)) for s in _SEVERITY_FILTERS[1:]],
        },
        title="findings.title",
    )


# --- one finding ----------------------------------------------------------------------------


def _finding_or_404(session: Session, login: Login, finding_id: int) -> Finding:
    found = session.get(Finding, finding_id) if 1 <= finding_id <= _MAX_ID else None
    if found is None:
        raise PageNotFound(login, f"no finding {finding_id}")
    return found


def _evidence(
    record: Mapping[str, Any], spec: Mapping[str, Any], lang: str
) -> list[tuple[str, str]]:
    """The finding's evidence as (text key or label, text) pairs; keys start with
    ``findings.``, labels from :func:`alerts.vigilance.number_rows` are shown as they are."""
    rule, metric = record["rule"], record.get("metric")
    ev = record.get("evidence") or {}
    facts: list[tuple[str, str]] = [
        ("findings.device", record["device_id"]),
        (
            "findings.version",
            record.get("device_version") or translate("findings.all_versions", lang),
        ),
        ("findings.slice", tx.slice_text(slice_label(None, record.get("subgroup")), lang)),
        ("findings.rule", tx.term(tx.RULES, rule, lang)),
    ]
    if metric:
        name = tx.term(tx.METRICS_LONG, metric, lang) if metric in tx.METRICS_LONG else metric
        facts.append(("findings.metric", name))
    if record.get("window_start") or record.get("window_end"):
        window = (
            f"{_when(record.get('window_start'), lang)} → {_when(record.get('window_end'), lang)}"
        )
        facts.append(("findings.window", window))
    facts.append(("findings.value", _value_figure(record, lang)))
    if record.get("threshold") is not None:
        facts.append((_threshold_key(rule), _figure(record["threshold"], rule, metric, lang)))
    facts.append(("findings.severity", tx.term(tx.SEVERITIES, record["severity"], lang)))
    if rule in _CHART_RULES:
        if ev.get("statistic") is not None:
            facts.append(("findings.statistic", tx.decimal(float(ev["statistic"]), lang, 2)))
        if ev.get("change_point_exam"):
            facts.append(("findings.change_point", _when(ev["change_point_exam"], lang)))
        if ev.get("signal_arrival"):
            facts.append(("findings.signal_at", _when(ev["signal_arrival"], lang)))
        if ev.get("in_control_rate") is not None:
            facts.append(("findings.expected_rate", tx.pct(float(ev["in_control_rate"]), lang)))
        if ev.get("event_rate_since_change") is not None:
            rate = tx.pct(float(ev["event_rate_since_change"]), lang)
            facts.append(("findings.observed_rate", rate))
    if ev.get("p_value") is not None:
        facts.append(("findings.p_value", tx.p_value(float(ev["p_value"]), lang)))
    if metric in _PROPORTIONS:
        facts += list(number_rows(key_numbers(record, spec), lang))
    facts.append(("findings.detected", _when(record.get("detected_at"), lang)))
    facts.append(("findings.last_seen", _when(record.get("last_seen_at"), lang)))
    facts.append(("findings.occurrences", tx.number(record.get("occurrences"), lang)))
    if record.get("escalated_at"):
        facts.append(("findings.escalated", _when(record["escalated_at"], lang)))
    facts.append(("findings.status", tx.term(tx.STATUSES, record["status"], lang)))
    if record.get("acknowledged_by"):
        facts.append(("findings.acknowledged_by", str(record["acknowledged_by"])))
    if record.get("confirmed_by"):
        facts.append(("findings.confirmed_by", str(record["confirmed_by"])))
    if record.get("dismissal_reason"):
        reason = record["dismissal_reason"]
        text = (
            tx.term(tx.DISMISSAL_REASONS, reason, lang)
            if reason in tx.DISMISSAL_REASONS
            else reason
        )
        facts.append(("findings.dismissal_reason", text))
    return facts


def _word(prefix: str, code: Any, lang: str) -> str:
    """The word of ``prefix + code`` in ``lang``; the code itself when unknown, the dash
    for None."""
    if code is None or code == "":
        return tx.DASH
    key = f"{prefix}{code}"
    return translate(key, lang) if key in TEXTS else str(code)


def _when(value: Any, lang: str) -> str:
    if not value:
        return tx.DASH
    try:
        return tx.moment(datetime.fromisoformat(str(value)), lang)
    except ValueError:
        return str(value)


def _chart(
    request: Request, session: Session, finding: Finding, lang: str
) -> tuple[bytes, str] | None:
    """The finding's chart (SVG) and its alt text, or None when it has none."""
    state = request.app.state.console.api
    metric = finding.metric or ""
    label = slice_label(finding.device_version, finding.subgroup)
    words = {
        "metric": tx.term(tx.METRICS_LONG, metric, lang) if metric in tx.METRICS_LONG else metric,
        "slice": tx.slice_text(label, lang),
    }
    if finding.rule in _CHART_RULES and metric:
        as_of = _aware(finding.escalated_at or finding.detected_at)
        spec = registry.get_device(session, finding.device_id)
        history, _ = kept_history(
            session, spec, as_of, state.config.subgroups.age_bands, keep=False
        )
        key = slice_key(finding.device_version, finding.subgroup, metric)
        paths = device_chart_paths(session, state.config, history, as_of, [key])
        if not paths:
            return None
        path = paths[0]
        tz = state.tz
        times = [
            _aware(datetime.fromtimestamp(int(ns) / 1e9, tz=_UTC)).astimezone(tz)
            for ns in path.arrival_ns
        ]
        signal = times[path.signal_index] if path.signal_index is not None else None
        svg = cusum_chart(
            times,
            [float(v) for v in path.statistic],
            path.limit,
            signal_at=signal,
            month=None,
            lang=lang,
        )
        alt = tx.capital(
            translate(
                "findings.cusum_alt",
                lang,
                chart=tx.term(tx.RULES, finding.rule, lang),
                limit=tx.decimal(path.limit, lang, 2),
                signal=tx.moment(signal, lang) if signal else tx.DASH,
                **words,
            )
        )
        return svg, alt
    if finding.rule in ("below_claim", "version_comparison", "estimated_performance") and (
        metric in _TREND_METRICS
    ):
        return _trend(request, session, finding, lang, words)
    return None


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _trend(
    request: Request,
    session: Session,
    finding: Finding,
    lang: str,
    words: Mapping[str, str],
) -> tuple[bytes, str] | None:
    """The monthly trend of the finding's metric in its slice, up to its window's month."""
    state = request.app.state.console.api
    tz: ZoneInfo = state.tz
    metric = finding.metric or ""
    end = _aware(finding.window_end or finding.detected_at)
    dims = (["device_version"] if finding.device_version else []) + list(finding.subgroup or {})
    db = state.summarised_db()
    with db.session() as cells_session:
        rows = stored_evaluation(
            cells_session,
            as_of=end,
            tz=tz,
            options=evaluation_options(state.config, window="month", metrics=_TREND_METRICS),
            breakdowns=[tuple(dims)],
            device_id=finding.device_id,
        )
    wanted = {"device_version": finding.device_version, **dict(finding.subgroup or {})}
    month = end.astimezone(tz).date().replace(day=1)
    first = date(month.year - 1, month.month, 1)  # the twelve months up to ``month``
    hit, miss = _DENOMINATORS[metric]
    points = []
    for row in rows:
        if any(str(row.get(k)) != str(v) for k, v in wanted.items() if k in dims):
            continue
        start = date.fromisoformat(str(row["window_start"])[:10])
        if not first < start <= month:
            continue
        points.append(
            TrendPoint(
                month=start,
                value=_num(row.get(metric)),
                low=_num(row.get(f"{metric}_low")),
                high=_num(row.get(f"{metric}_high")),
                n=int(row.get(hit) or 0) + int(row.get(miss) or 0),
            )
        )
    if not points:
        return None
    spec = registry.get_device(session, finding.device_id)
    claimed = getattr(spec.claimed_performance, metric, None)
    svg = trend_chart({metric: points}, {metric: claimed}, highlight=month, lang=lang)
    return svg, translate("findings.trend_alt", lang, **words)


_DETAIL_TERMS: Final = {
    "from": tx.STATUSES,
    "to": tx.STATUSES,
    "reason": tx.DISMISSAL_REASONS,
    "kind": tx.ACTION_KINDS,
    "severity": tx.SEVERITIES,
    "rule": tx.RULES,
    "metric": tx.METRICS,
}
"""Audit details whose value is a code with words in :mod:`monitor.report_texts`."""
_HIDDEN_DETAILS: Final = frozenset({"sha256", "sent", "device_id", "detected_at", "as_of"})


def _details(details: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """An audit entry's details as (label, text), codes in words, in a fixed order."""
    shown = []
    for key, value in details.items():
        if value is None or value == "" or key in _HIDDEN_DETAILS:
            continue
        table = _DETAIL_TERMS.get(key)
        if table is not None and str(value) in table:
            text = tx.term(table, str(value), lang)
        elif key == "lang":
            text = _word("findings.lang.", value, lang)
        else:
            text = str(value)
        label = f"findings.detail.{key}"
        shown.append((translate(label, lang) if label in TEXTS else key, text))
    return shown


def _history(
    session: Session, finding_id: int, tz: ZoneInfo, lang: str, quality: bool
) -> list[dict[str, Any]]:
    """The finding's audit entries, oldest first; case references masked for viewers."""
    rows = []
    for entry in workflow.finding_history(session, finding_id, tz):
        key = f"findings.action.{entry['action']}"
        details = entry["details"] or {}
        if not quality:
            details = _hide_cases(details)
        rows.append(
            {
                "at": entry["at"],
                "actor": entry["actor"],
                "action": key if key in TEXTS else None,
                "raw": entry["action"],
                "details": _details(details, lang),
            }
        )
    return rows


def _finding_page(
    request: Request,
    login: Login,
    finding_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    """The page of finding ``finding_id`` (``error``: a refused form's message)."""
    console = request.app.state.console
    state = console.api
    tz = state.tz
    lang = language(request, login)
    quality = login.role in ("quality", "admin")
    db = state.summarised_db()
    with db.session() as session:
        finding = _finding_or_404(session, login, finding_id)
        record = finding_record(finding, tz)
        device = session.get(Device, finding.device_id)
        spec = dict(device.spec or {}) if device is not None else {}
        evidence = _evidence(record, spec, lang)
        try:
            chart = _chart(request, session, finding, lang)
        except MonitorError:  # a device or chart that cannot be rebuilt: the evidence stays
            chart = None
        incident = workflow.finding_incident(session, finding, tz)
        related_records = [dict(r) for r in incident.findings if r["id"] != finding_id]
        known = {r["id"] for r in related_records}
        related_records += [
            finding_record(f, tz)
            for f in workflow.covered_findings(session, finding_id)
            if f.id not in known
        ]
        record["incident"] = incident.id
        for item in related_records:
            item["incident"] = incident.id
        related = [_row(r, lang, spec) for r in related_records]
        incident_view = {
            "id": incident.id,
            "root": incident.id == finding_id,
            "summary": incident_text(incident, lang, spec),
            "evidence": supporting_text(incident, lang),
        }
        cases = finding_cases(session, finding, tz)
        actions = [
            {
                **workflow.action_record(a),
                "kind_text": tx.term(tx.ACTION_KINDS, a.kind, lang)
                if a.kind in tx.ACTION_KINDS
                else a.kind,
            }
            for a in workflow.list_actions(session, finding_id)
        ]
        drafts = list_drafts(session, tz, finding_id=finding_id)
        history = _history(session, finding_id, tz, lang, quality)
    summary = case_summary(cases)
    discordant = [c for c in cases if c["discordant"] and c["in_metric"]] if quality else []
    for case in discordant:
        case["status_text"] = _word("findings.cs.", case["status"], lang)
        case["ai_text"] = _word("findings.result.", case["ai_result"], lang)
        case["outcome_text"] = _word("findings.result.", case["outcome"], lang)
        case["source_text"] = _word("findings.source.", case["outcome_source"], lang)
        case["section_text"] = section_words(case["outcome_section"], lang)
        case["qualifier_texts"] = [
            translate("review.qualifier_item", lang, tag=tag, words=words) if tag else words
            for tag, words in qualifier_words(case["outcome_qualifiers"], lang)
        ]
    for draft in drafts:
        draft["name"] = Path(str(draft["file_name"] or "")).name
    steps = [v for v in allowed_verbs(finding.status) if v in _STEPS]
    query = request.query_params
    done = query.get("done") if query.get("done") in _DONE_KEYS else None
    return page(
        request,
        login,
        "finding.html",
        {
            "f": _row(record, lang, spec),
            "incident": incident_view,
            "status": finding.status,
            "evidence": evidence,
            "chart": chart,
            "related": related,
            "summary": summary,
            "discordant": discordant,
            "actions": actions,
            "drafts": drafts,
            "history": history,
            "steps": steps,
            "related_count": len(related),
            "reasons": [(r, tx.term(tx.DISMISSAL_REASONS, r, lang)) for r in DISMISSAL_REASONS],
            "kinds": [(k, tx.term(tx.ACTION_KINDS, k, lang)) for k in ACTION_KINDS],
            "can_act": finding.status in ("confirmed", "action_taken"),
            "can_draft": draft_refusal(finding.status, record["confirmed_at"]) is None,
            "draft_langs": DRAFT_LANGS,
            "draft_formats": FORMATS,
            "done": done,
            "done_count": query.get("count", "0") if query.get("count", "").isdigit() else "0",
            "error": error,
            "today": datetime.now(tz).date().isoformat(),
        },
        title="findings.title",
        status_code=status_code,
    )


_DONE_KEYS: Final = ("step", "action", "action_done", "queued", "vigilance")


@router.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding_page(finding_id: int, request: Request, login: ViewerLogin) -> Response:
    """One finding: evidence, chart, incident, cases, review, actions, drafts, history."""
    return _finding_page(request, login, finding_id)


# --- the forms ------------------------------------------------------------------------------


def _redirect(finding_id: int, done: str, **extra: Any) -> RedirectResponse:
    tail = "".join(f"&{k}={v}" for k, v in extra.items())
    return RedirectResponse(f"/findings/{finding_id}?done={done}{tail}", status_code=303)


def _refused(
    request: Request, posted: Posted, finding_id: int, message: str, code: int
) -> Response:
    return _finding_page(request, posted.login, finding_id, error=message, status_code=code)


def _text(request: Request, posted: Posted, key: str, **fields: Any) -> str:
    return translate(key, language(request, posted.login), **fields)


def _check_finding(request: Request, posted: Posted, finding_id: int) -> None:
    with request.app.state.console.api.db.session() as session:
        _finding_or_404(session, posted.login, finding_id)


@router.post("/findings/{finding_id}/actions", response_class=HTMLResponse)
def add_action(finding_id: int, request: Request, posted: QualityPost) -> Response:
    """Record a corrective action on a confirmed finding (it becomes action_taken)."""
    _check_finding(request, posted, finding_id)
    comment = posted.text("comment")
    if not comment:
        return _refused(
            request, posted, finding_id, _text(request, posted, "findings.error.comment"), 400
        )
    kind = posted.text("kind")
    fields = {
        "findings.kind": kind in ACTION_KINDS,
        "findings.description": bool(posted.text("description")),
        "findings.owner": bool(posted.text("owner", max_length=200)),
    }
    due, due_ok = _date(posted.text("due_date"))
    done, done_ok = _date(posted.text("done_date"))
    fields["findings.due"] = due_ok
    fields["findings.done_date"] = done_ok
    missing = [key for key, ok in fields.items() if not ok]
    if missing:
        names = ", ".join(_text(request, posted, k) for k in missing)
        message = _text(request, posted, "findings.error.field", field=names)
        return _refused(request, posted, finding_id, message, 400)
    action = workflow.ActionInput(
        kind=kind,
        description=posted.text("description"),
        owner=posted.text("owner", max_length=200),
        due_date=due,
        done_date=done,
    )
    try:
        with request.app.state.console.api.db.session.begin() as session:
            workflow.add_action(
                session, finding_id, action, user=posted.login.actor, comment=comment
            )
    except MonitorError as exc:
        return _refused(request, posted, finding_id, str(exc), 409)
    return _redirect(finding_id, "action")


def _date(text: str) -> tuple[date | None, bool]:
    """An optional YYYY-MM-DD field: (the date or None, whether it was valid)."""
    if not text:
        return None, True
    try:
        return date.fromisoformat(text), True
    except ValueError:
        return None, False


@router.post("/findings/{finding_id}/queue-cases", response_class=HTMLResponse)
def queue_cases(finding_id: int, request: Request, posted: QualityPost) -> Response:
    """Queue every discordant case of the finding's metric for review (audited)."""
    _check_finding(request, posted, finding_id)
    db = request.app.state.console.api.summarised_db()
    with db.session.begin() as session:
        finding = session.get_one(Finding, finding_id)
        added = sample_discordant(session, 1.0, finding=finding)
        audit.record(
            session,
            actor=posted.login.actor,
            action="console.queue_cases",
            entity="finding",
            entity_id=str(finding_id),
            details={"queued": added},
        )
    return _redirect(finding_id, "queued", count=added)


@router.post("/findings/{finding_id}/vigilance", response_class=HTMLResponse)
def vigilance_draft(finding_id: int, request: Request, posted: QualityPost) -> Response:
    """Write the materiovigilance draft of a confirmed finding (recorded and audited)."""
    _check_finding(request, posted, finding_id)
    state = request.app.state.console.api
    lang, fmt = posted.text("lang"), posted.text("format")
    if lang not in DRAFT_LANGS or fmt not in FORMATS:
        key = "findings.draft_lang" if lang not in DRAFT_LANGS else "findings.draft_format"
        message = _text(request, posted, "findings.error.field", field=_text(request, posted, key))
        return _refused(request, posted, finding_id, message, 400)
    stamp = datetime.now(state.tz).strftime("%Y%m%d-%H%M%S-%f")
    out = report_dir(state.config) / "vigilance" / f"finding-{finding_id}-{stamp}-{lang}.{fmt}"
    try:
        with state.summarised_db().session.begin() as session:
            write_draft(
                session,
                finding_id,
                lang=lang,
                fmt=fmt,
                out=out,
                user=posted.login.actor,
                tz=state.tz,
            )
    except MonitorError as exc:
        out.unlink(missing_ok=True)
        return _refused(request, posted, finding_id, str(exc), 409)
    return _redirect(finding_id, "vigilance")


@router.get("/findings/{finding_id}/vigilance/{draft_id}")
def vigilance_download(
    finding_id: int, draft_id: int, request: Request, login: QualityLogin
) -> Response:
    """A draft's file, as an attachment (quality: it quotes case references)."""
    with request.app.state.console.api.db.session() as session:
        _finding_or_404(session, login, finding_id)
        draft = session.get(VigilanceDraft, draft_id) if 1 <= draft_id <= _MAX_ID else None
        if draft is None or draft.finding_id != finding_id:
            raise PageNotFound(login, f"no draft {draft_id} of finding {finding_id}")
        path = Path(str(draft.file_name or ""))
        fmt, digest = draft.format, draft.sha256
    data = path.read_bytes() if path.is_file() else b""
    if not data or hashlib.sha256(data).hexdigest() != digest:
        message = translate("findings.error.changed", language(request, login), id=draft_id)
        return _finding_page(request, login, finding_id, error=message, status_code=409)
    return Response(
        data,
        media_type=_MEDIA.get(fmt, "application/octet-stream"),
        headers={
            "Content-Disposition": f'attachment; filename="{path.name}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/actions/{action_id}/done", response_class=HTMLResponse)
def action_done(action_id: int, request: Request, posted: QualityPost) -> Response:
    """Mark a corrective action done (default today, local)."""
    state = request.app.state.console.api
    with state.db.session() as session:
        row = session.get(FindingAction, action_id) if 1 <= action_id <= _MAX_ID else None
        if row is None:
            raise PageNotFound(posted.login, f"no corrective action {action_id}")
        finding_id = row.finding_id
    comment = posted.text("comment")
    if not comment:
        return _refused(
            request, posted, finding_id, _text(request, posted, "findings.error.comment"), 400
        )
    day, ok = _date(posted.text("date"))
    if not ok:
        message = _text(
            request,
            posted,
            "findings.error.field",
            field=_text(request, posted, "findings.done_on"),
        )
        return _refused(request, posted, finding_id, message, 400)
    try:
        with state.db.session.begin() as session:
            workflow.complete_action(
                session,
                action_id,
                done=day or datetime.now(state.tz).date(),
                user=posted.login.actor,
                comment=comment,
            )
    except MonitorError as exc:
        return _refused(request, posted, finding_id, str(exc), 409)
    return _redirect(finding_id, "action_done")


@router.post("/findings/{finding_id}/{verb}", response_class=HTMLResponse)
def step(finding_id: int, verb: str, request: Request, posted: QualityPost) -> Response:
    """A workflow step (acknowledge, confirm, dismiss, close, reopen) with a comment."""
    _check_finding(request, posted, finding_id)
    if verb not in _STEPS:
        raise PageNotFound(posted.login, f"no step {verb!r}")
    comment = posted.text("comment")
    if not comment:
        return _refused(
            request, posted, finding_id, _text(request, posted, "findings.error.comment"), 400
        )
    state = request.app.state.console.api
    extra: dict[str, Any] = {}
    if verb in ("confirm", "dismiss") and posted.text("with_related"):
        extra = {"with_related": True, "tz": state.tz}
    if verb == "dismiss":
        reason = posted.text("reason")
        if reason not in DISMISSAL_REASONS:
            field = _text(request, posted, "findings.reason")
            message = _text(request, posted, "findings.error.field", field=field)
            return _refused(request, posted, finding_id, message, 400)
        extra["reason"] = reason
    try:
        with state.db.session.begin() as session:
            getattr(workflow, verb)(
                session, finding_id, user=posted.login.actor, comment=comment, **extra
            )
    except MonitorError as exc:
        return _refused(request, posted, finding_id, str(exc), 409)
    return _redirect(finding_id, "step")
