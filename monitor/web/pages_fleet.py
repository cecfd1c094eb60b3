"""Console pages: the device fleet, a device's month, and the registry entry's edit form.

``/fleet`` shows one row per registered device for a month (``?month=YYYY-MM``, by
default the latest month with data): its traffic light by the monthly report's rules
(:func:`alerts.traffic_light.traffic_light` fed as :mod:`monitor.report_data` feeds it),
volume, verification, sensitivity and specificity against the claim, and findings.
``/devices/{id}`` shows the device's month as the report does (trend, subgroups,
control charts, drift, estimates) with its registry entry (criterion 3.4-05);
``/devices/{id}/edit`` lets an admin change that entry (audited by
:func:`monitor.registry.import_registry`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.traffic_light import ACTIVE_AT_END, Light
from monitor import registry, report_plots, report_render
from monitor import report_data as rd
from monitor import report_texts as tx
from monitor.config import Config
from monitor.errors import MonitorError, NotFoundError
from monitor.models import Finding, Prediction
from monitor.registry import DeviceSpec
from monitor.report_model import DeviceMonth, MetricLine, Volume
from monitor.scores import SCORE_SCALES
from monitor.timeutil import as_utc, utc_now
from monitor.web.auth import AdminLogin, AdminPost, ViewerLogin
from monitor.web.i18n import register, translate
from monitor.web.render import PageNotFound, language, page
from monitor.web.sessions import Login

__all__ = ["FleetLine", "FormField", "fleet_lines", "router"]

router = APIRouter()

_FRENCH_SPACES = {
    " :": "\u00a0:",
    " ;": "\u202f;",
    " %": "\u202f%",
    "« ": "«\u00a0",
    " »": "\u00a0»",
    "n° ": "n°\u00a0",
}


def _french(text: str) -> str:
    """``text`` with French typography's no-break spaces (before : ; % and inside « »)."""
    for plain, spaced in _FRENCH_SPACES.items():
        text = text.replace(plain, spaced)
    return text


_TEXTS: dict[str, tuple[str, str]] = {
    "fleet.title": ("Parc des dispositifs", "Device fleet"),
    "fleet.month": ("Mois", "Month"),
    "fleet.show": ("Afficher", "Show"),
    "fleet.month_shown": ("Mois affiché : {month}", "Month shown: {month}"),
    "fleet.month_so_far": (
        "mois en cours : chiffres arrêtés à ce jour",
        "month in progress: figures so far",
    ),
    "fleet.data_as_of": (
        "Données arrêtées à la fin du mois ({as_of}), comme le rapport mensuel.",
        "Figures as of the end of the month ({as_of}), as in the monthly report.",
    ),
    "fleet.bad_month": (
        "Mois « {month} » invalide : indiquez AAAA-MM d'un mois passé ou en cours "
        "(par exemple 2025-08).",
        "Month '{month}' is not valid: give YYYY-MM of a past or current month (e.g. 2025-08).",
    ),
    "fleet.no_data": (
        "Aucune donnée reçue pour l'instant.",
        "No data received yet.",
    ),
    "fleet.table": ("Voyant et performances de chaque dispositif", "Each device's light"),
    "fleet.verification": ("Taux de vérification", "Verification rate"),
    "fleet.findings": ("Constats", "Findings"),
    "fleet.active_at_end": ("{n} actifs en fin de mois", "{n} active at month end"),
    "fleet.open_now": ("{n} en cours aujourd'hui", "{n} in progress today"),
    "fleet.more": ("(+ {n} autres motifs)", "(+ {n} more reasons)"),
    "fleet.legend": ("Lecture des voyants", "How to read the lights"),
    "fleet.no_device": (
        "Aucun dispositif enregistré : importez le registre (dmn-monitor devices import).",
        "No device registered: import the registry (dmn-monitor devices import).",
    ),
    "fleet.light_label": ("Voyant {color}", "Light {color}"),
    # device page
    "fleet.device_title": ("Dispositif", "Device"),
    "fleet.edit": ("Modifier la fiche du registre", "Edit the registry entry"),
    "fleet.saved": (
        "Fiche du registre enregistrée ; la modification figure au journal d'audit.",
        "Registry entry saved; the change is in the audit log.",
    ),
    "fleet.unchanged": (
        "Aucune modification : la fiche du registre est inchangée.",
        "Nothing changed: the registry entry is as it was.",
    ),
    "fleet.not_found": ("aucun dispositif « {id} » dans le registre", "no device '{id}'"),
    "fleet.finding_no": ("Constat n° {id}", "Finding #{id}"),
    "fleet.light_title": ("Voyant du mois", "Light of the month"),
    "fleet.not_computed": ("Non calculé : {why}", "Not computed: {why}"),
    "fleet.versions_title": ("Versions en service", "Versions in service"),
    "fleet.version": ("Version", "Version"),
    "fleet.in_registry": ("Déclarée au registre", "Declared in the registry"),
    "fleet.in_data": (
        "Vue dans les données (jusqu'à la fin du mois)",
        "Seen in the data (up to month end)",
    ),
    "fleet.undeclared": (
        "version reçue mais absente du registre",
        "version received but not in the registry",
    ),
    "fleet.registry_title": (
        "Fiche du registre (cartographie 3.4-05)",
        "Registry entry (3.4-05 inventory)",
    ),
    "fleet.identity": ("Identifiant", "Identifier"),
    "fleet.name": ("Nom", "Name"),
    "fleet.notified_body": ("Organisme notifié", "Notified body"),
    "fleet.target": ("Cible", "Target"),
    "fleet.threshold": ("Seuil de fonctionnement", "Operating threshold"),
    "fleet.status": ("Statut", "Status"),
    "fleet.status.in_service": ("en service", "in service"),
    "fleet.status.under_evaluation": ("en évaluation", "under evaluation"),
    "fleet.scale": ("Échelle des scores", "Score scale"),
    "fleet.scale.unit": ("0 à 1", "0 to 1"),
    "fleet.scale.percent": ("0 à 100", "0 to 100"),
    "fleet.scale.logit": ("logit (log-cote)", "logit (log-odds)"),
    "fleet.points": ("Autres points de fonctionnement", "Other operating points"),
    "fleet.no_points": ("aucun", "none"),
    "fleet.no_claim": (
        "aucune (dispositif en évaluation)",
        "none (device under evaluation)",
    ),
    "fleet.policy": ("Résultats indéterminés", "Indeterminate outputs"),
    "fleet.policy.positive": ("comptés positifs", "counted as positive"),
    "fleet.policy.negative": ("comptés négatifs", "counted as negative"),
    "fleet.policy.exclude": ("exclus", "excluded"),
    "fleet.unmentioned": (
        "Cible non mentionnée par un compte rendu définitif",
        "Target not mentioned by a final report",
    ),
    "fleet.unmentioned.pending": (
        "en attente (le cas attend une autre vérité)",
        "pending (the case waits for another outcome)",
    ),
    "fleet.unmentioned.negative": ("comptée négative", "counted as negative"),
    "fleet.reading.historical": (
        "Lésion ancienne ou antécédent (fracture consolidée)",
        "Old or past finding (healed fracture)",
    ),
    "fleet.reading.benign": (
        "Lésion bénigne nommée seule (granulome calcifié)",
        "Benign finding named alone (calcified granuloma)",
    ),
    "fleet.reading.nodular_pattern": (
        "Aspect nodulaire diffus (fibro-, réticulo-nodulaire)",
        "Nodular pattern (fibronodular, reticulonodular)",
    ),
    "fleet.reading.ignore": ("non comptée", "not counted"),
    "fleet.reading.positive": ("comptée positive", "counted as positive"),
    "fleet.source": ("Source", "Source"),
    "fleet.not_recorded": ("non renseigné", "not recorded"),
    "fleet.missing": ("manquant", "missing"),
    "fleet.risk.data_transmission": ("Transmission des données", "Data transmission"),
    "fleet.risk.data_reuse_by_manufacturer": (
        "Réutilisation des données par le fabricant",
        "Data reuse by the manufacturer",
    ),
    "fleet.risk.patient_information": ("Information des patients", "Patient information"),
    "fleet.risk.cybersecurity": ("Cybersécurité", "Cybersecurity"),
    "fleet.risk.continuity_plan": ("Plan de continuité", "Continuity plan"),
    "fleet.risk.training": ("Formation des utilisateurs", "User training"),
    "fleet.subgroups_table": ("Sous-groupes du mois", "Subgroups of the month"),
    "fleet.drift_table": ("Dérive des variables", "Drift of each column"),
    "fleet.findings_table": ("Constats du mois", "Findings of the month"),
    "fleet.metrics_table": ("Performances du mois", "Performance of the month"),
    # edit form
    "fleet.edit_title": ("Modifier la fiche du registre", "Edit the registry entry"),
    "fleet.edit_intro": (
        "Dispositif {id}. Les listes (versions, services, sites) sont séparées par des "
        "virgules ; les performances sont des proportions entre 0 et 1 (0,91 ou 0.91) ; "
        "les seuils sont sur l'échelle des scores du dispositif. Un dispositif en "
        "évaluation peut ne pas avoir de performance annoncée. La modification est "
        "enregistrée au journal d'audit avec l'avant et l'après.",
        "Device {id}. Lists (versions, departments, sites) are comma-separated; "
        "performances are proportions between 0 and 1; thresholds are on the device's "
        "score scale. A device under evaluation may have no claimed performance. The "
        "change is recorded in the audit log with what it was before and after.",
    ),
    "fleet.save": ("Enregistrer la fiche", "Save the entry"),
    "fleet.cancel": ("Annuler et revenir au dispositif", "Cancel and go back"),
    "fleet.errors": (
        "{n} champ(s) à corriger ; rien n'a été enregistré.",
        "{n} field(s) to correct; nothing was saved.",
    ),
    "fleet.group.identity": ("Identification", "Identification"),
    "fleet.group.use": ("Utilisation", "Use"),
    "fleet.group.claim": ("Performance annoncée", "Claimed performance"),
    "fleet.group.risk": ("Analyse de risques", "Risk analysis"),
    "fleet.f.sens_low": (
        "Sensibilité annoncée : borne basse de l'IC à 95 %",
        "Claimed sensitivity: 95% CI low",
    ),
    "fleet.f.sens_high": (
        "Sensibilité annoncée : borne haute de l'IC à 95 %",
        "Claimed sensitivity: 95% CI high",
    ),
    "fleet.f.spec_low": (
        "Spécificité annoncée : borne basse de l'IC à 95 %",
        "Claimed specificity: 95% CI low",
    ),
    "fleet.f.spec_high": (
        "Spécificité annoncée : borne haute de l'IC à 95 %",
        "Claimed specificity: 95% CI high",
    ),
    "fleet.f.sensitivity": ("Sensibilité annoncée", "Claimed sensitivity"),
    "fleet.f.specificity": ("Spécificité annoncée", "Claimed specificity"),
    "fleet.f.none": ("(non renseigné)", "(not set)"),
    "fleet.err.required": ("Champ obligatoire.", "This field is required."),
    "fleet.err.range": ("Doit être compris entre 0 et 1.", "Must be between 0 and 1."),
    "fleet.err.number": ("Ce n'est pas un nombre.", "Not a number."),
    "fleet.err.date": ("Date attendue (AAAA-MM-JJ).", "A date is needed (YYYY-MM-DD)."),
    "fleet.err.choice": ("Choisissez une valeur de la liste.", "Choose a value of the list."),
    "fleet.err.both_bounds": (
        "Donnez les deux bornes de l'intervalle, ou aucune.",
        "Give both bounds of the interval, or none.",
    ),
    "fleet.err.interval": (
        "L'intervalle doit être dans 0..1 et contenir la valeur annoncée.",
        "The interval must lie in 0..1 and contain the claimed value.",
    ),
    "fleet.err.invalid": ("Valeur refusée : {why}", "Value refused: {why}"),
    "fleet.err.claim_needed": (
        "Obligatoire pour un dispositif en service ; un dispositif en évaluation peut "
        "ne pas en avoir (statut « en évaluation »).",
        "Required for a device in service; a device under evaluation may have none "
        "(status 'under evaluation').",
    ),
    "fleet.err.scale": (
        "Hors de l'échelle des scores du dispositif ({range}) : corrigez le seuil ou l'échelle.",
        "Outside the device's score scale ({range}): correct the threshold or the scale.",
    ),
    "fleet.err.points": (
        "Écrivez « nom = seuil », les points séparés par des points-virgules, "
        "par exemple « haute sensibilité = 0.3 ; haute spécificité = 0.7 ».",
        "Write 'name = threshold', points separated by semicolons, e.g. "
        "'high sensitivity = 0.3; high specificity = 0.7'.",
    ),
}
register({key: (_french(fr), en) for key, (fr, en) in _TEXTS.items()})

"""Finding statuses that no longer count as active (as the report's summary counts)."""
MAX_REASONS = 6
"""Reasons of a light listed on a device's page (the rest are in its findings)."""


# --- the month ------------------------------------------------------------------------------


def _month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def data_months(session: Session, tz: ZoneInfo, now: datetime) -> list[date]:
    """The months (first days, newest first) from the first exam's to the latest exam's
    (exams after ``now`` ignored); empty without data."""
    first, last = session.execute(
        select(func.min(Prediction.exam_datetime), func.max(Prediction.exam_datetime)).where(
            Prediction.exam_datetime <= now
        )
    ).one()
    if first is None or last is None:
        return []
    month = as_utc(first).astimezone(tz).date().replace(day=1)
    end = as_utc(last).astimezone(tz).date().replace(day=1)
    months = []
    while month <= end:
        months.append(month)
        month = _month_after(month)
    return months[::-1]


@dataclass(frozen=True)
class MonthChoice:
    """The month a page shows, the months offered, and a complaint about ``?month=``."""

    month: date | None
    months: tuple[date, ...]
    error: str | None
    in_progress: bool


def choose_month(request: Request, session: Session, tz: ZoneInfo, now: datetime) -> MonthChoice:
    """``?month=YYYY-MM`` when it is a past or current month, else the latest month
    with data (None without data); ``error`` holds the refused text."""
    months = tuple(data_months(session, tz, now))
    default = months[0] if months else None
    text = request.query_params.get("month")
    chosen, error = default, None
    if text:
        try:
            chosen = rd.parse_month(text)
            if chosen > now.astimezone(tz).date():
                raise MonitorError("future month")
        except MonitorError:
            chosen, error = default, text[:20]
    in_progress = chosen is not None and rd.month_bounds(chosen, tz)[1] > now
    return MonthChoice(chosen, months, error, in_progress)


# --- the fleet ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetLine:
    """One device's month on the fleet page (figures as of the month's end)."""

    spec: DeviceSpec
    light: Light
    volume: Volume
    metrics: dict[str, MetricLine]
    active_at_end: int


def fleet_lines(session: Session, config: Config, month: date) -> list[FleetLine]:
    """Every registered device's light and figures for ``month`` (its first day), as of
    the month's last instant, by the monthly report's rules but without its charts,
    drift and estimates (:func:`monitor.report_data.month_lights`)."""
    return [
        FleetLine(d.spec, d.light, d.volume, {m.metric: m for m in d.metrics}, d.active_at_end)
        for d in rd.month_lights(session, config, month)
    ]


def open_findings(session: Session) -> dict[str, int]:
    """Per device, its findings not yet closed or dismissed (today, whatever the month)."""
    query = (
        select(Finding.device_id, func.count())
        .where(Finding.status.in_(ACTIVE_AT_END))
        .group_by(Finding.device_id)
    )
    return {str(device): int(n) for device, n in session.execute(query)}


def _words(lang: str) -> dict[str, Any]:
    """The report's words and formatters a page needs, bound to ``lang``."""
    return {
        "rl": lambda key: tx.label(key, lang),
        "metric_name": lambda metric: tx.term(tx.METRICS, metric, lang),
        "light_word": lambda color: tx.term(tx.LIGHT_WORDS, color, lang),
        "light_rule": lambda color: tx.term(tx.LIGHT_RULES, color, lang),
        "reason": lambda reason: tx.reason_text(reason, lang),
        "dimension": lambda d: tx.term(tx.DIMENSIONS, d, lang) if d in tx.DIMENSIONS else d,
        "rule_name": lambda r: tx.term(tx.RULES, r, lang) if r in tx.RULES else r,
        "severity": lambda s: tx.term(tx.SEVERITIES, s, lang) if s in tx.SEVERITIES else s,
        "status_name": lambda s: tx.term(tx.STATUSES, s, lang) if s in tx.STATUSES else s,
        "slice_words": lambda s: tx.slice_text(s, lang),
        "risk_missing": lambda item: tx.term(tx.RISK_MISSING, item, lang),
        "unmentioned_word": lambda p: tx.term(tx.UNMENTIONED_POLICIES, p, lang),
        "lights": tx.LIGHT_WORDS,
    }


def _now() -> datetime:
    return utc_now()


@router.get("/fleet")
def fleet(request: Request, login: ViewerLogin) -> Response:
    """Every registered device's light for a month, worst first kept in registry order."""
    console = request.app.state.console
    lang = language(request, login)
    now = _now()
    with console.api.db.session() as session:
        choice = choose_month(request, session, console.api.tz, now)
        lines = (
            fleet_lines(session, console.api.config, choice.month)
            if choice.month is not None
            else []
        )
        specs = registry.list_devices(session) if choice.month is None else []
        open_now = open_findings(session)
    as_of = rd.month_bounds(choice.month, console.api.tz)[2] if choice.month else None
    return page(
        request,
        login,
        "fleet.html",
        {
            "choice": choice,
            "lines": lines,
            "specs": specs,
            "open_now": open_now,
            "as_of": as_of,
            **_words(lang),
        },
        title="fleet.title",
        status_code=400 if choice.error else 200,
    )


# --- a device -------------------------------------------------------------------------------


def _device(session: Session, login: Login, device_id: str) -> DeviceSpec:
    try:
        return registry.get_device(session, device_id)
    except NotFoundError:
        raise PageNotFound(login, f"no device {device_id[:64]!r} in the registry") from None


def _device_month(session: Session, config: Config, spec: DeviceSpec, month: date) -> DeviceMonth:
    """The report's month of one device; a month in progress is shown as it stands."""
    tz = ZoneInfo(config.time.timezone)
    end = rd.month_bounds(month, tz)[1]
    now = max(_now(), end)
    report = rd.gather_monthly_report(session, config, month, device_id=spec.id, now=now)
    return report.devices[0]


def _charts(dm: DeviceMonth, month: date, tz: ZoneInfo, lang: str) -> dict[str, Any]:
    """The device page's charts as SVG bytes with their alt texts."""
    start, end, _ = rd.month_bounds(month, tz)
    trend = report_plots.trend_chart(dm.trend, dm.claims, highlight=month, lang=lang)
    panels = []
    for panel in dm.cusum:
        svg, alt, caption = report_render.cusum_figure(panel, start, end, lang, name_finding=False)
        panels.append(
            {
                "svg": svg,
                "alt": alt,
                "caption": caption,
                "finding_id": panel.finding_id if panel.signal_at is not None else None,
            }
        )
    estimates = [{"svg": svg, "alt": alt} for svg, alt in report_render.estimate_figures(dm, lang)]
    return {"trend": trend, "panels": panels, "estimate_charts": estimates}


def _versions(spec: DeviceSpec, seen: Sequence[str]) -> list[tuple[str, bool, bool]]:
    """(version, declared in the registry, seen in the data), registry order first."""
    ordered = list(dict.fromkeys([*spec.versions, *sorted(seen)]))
    return [(v, v in spec.versions, v in seen) for v in ordered]


@router.get("/devices/{device_id}")
def device_page(device_id: str, request: Request, login: ViewerLogin) -> Response:
    """One device's month (as in the report) and its registry entry."""
    console = request.app.state.console
    lang = language(request, login)
    tz: ZoneInfo = console.api.tz
    now = _now()
    with console.api.db.session() as session:
        spec = _device(session, login, device_id)
        choice = choose_month(request, session, tz, now)
        dm = (
            _device_month(session, console.api.config, spec, choice.month)
            if choice.month is not None
            else None
        )
    charts = _charts(dm, choice.month, tz, lang) if dm is not None and choice.month else {}
    done = request.query_params.get("done")
    return page(
        request,
        login,
        "device.html",
        {
            "spec": spec,
            "choice": choice,
            "dm": dm,
            "charts": charts,
            "versions": _versions(spec, dm.versions if dm is not None else ()),
            "as_of": rd.month_bounds(choice.month, tz)[2] if choice.month else None,
            "min_cases": console.api.config.evaluation.min_cases,
            "max_reasons": MAX_REASONS,
            "done": done if done in ("saved", "unchanged") else None,
            "risk_items": list(spec.risk_analysis.model_dump().items()),
            **_words(lang),
        },
        title="fleet.device_title",
        status_code=400 if choice.error else 200,
    )


# --- the registry entry's edit form ---------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One input of the registry form: ``name`` is the entry's dotted path (``.0``/``.1``
    for an interval's bounds); ``kind`` text, textarea, select, number (a proportion
    0..1), score (a number on the device's score scale), date or list."""

    name: str
    kind: str
    label: str
    group: str
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False


_RISK_ITEMS = (
    "data_transmission",
    "data_reuse_by_manufacturer",
    "patient_information",
    "cybersecurity",
    "continuity_plan",
    "training",
)


def form_fields(lang: str) -> list[FormField]:
    """The registry form's inputs, labelled in ``lang`` (the id is not editable)."""

    def r(key: str) -> str:
        return tx.label(key, lang)

    def w(key: str) -> str:
        return translate(key, lang)

    classes = (("", w("fleet.f.none")), ("I", "I"), ("IIa", "IIa"), ("IIb", "IIb"), ("III", "III"))
    policies = tuple((p, w(f"fleet.policy.{p}")) for p in ("positive", "negative", "exclude"))
    silences = tuple((p, w(f"fleet.unmentioned.{p}")) for p in ("pending", "negative"))
    counts = tuple((p, w(f"fleet.reading.{p}")) for p in ("ignore", "positive"))
    counts_first = tuple(reversed(counts))
    statuses = tuple((s, w(f"fleet.status.{s}")) for s in ("in_service", "under_evaluation"))
    scales = tuple((s, w(f"fleet.scale.{s}")) for s in SCORE_SCALES)
    yes_no = (("true", w("common.yes")), ("false", w("common.no")))
    ident, use, claim, risk = "identity", "use", "claim", "risk"
    return [
        FormField("name", "text", w("fleet.name"), ident, required=True),
        FormField("manufacturer", "text", r("manufacturer"), ident, required=True),
        FormField("model", "text", r("model"), ident),
        FormField("versions", "list", r("versions"), ident),
        FormField("ce_class", "select", r("ce_class"), ident, classes),
        FormField("notified_body", "text", w("fleet.notified_body"), ident),
        FormField("udi_di", "text", r("udi_di"), ident),
        FormField("intended_purpose", "textarea", r("intended_purpose"), use),
        FormField("target", "text", w("fleet.target"), use, required=True),
        FormField("ai_based", "select", r("ai_based"), use, yes_no, required=True),
        FormField("departments", "list", r("departments"), use),
        FormField("sites", "list", r("sites"), use),
        FormField("date_in_service", "date", r("in_service"), use),
        FormField("status", "select", w("fleet.status"), use, statuses, True),
        FormField("score_scale", "select", w("fleet.scale"), use, scales, True),
        FormField("operating_threshold", "score", w("fleet.threshold"), use),
        FormField("operating_points", "text", w("fleet.points"), use),
        FormField("indeterminate_policy", "select", w("fleet.policy"), use, policies, True),
        FormField("unmentioned", "select", w("fleet.unmentioned"), use, silences, True),
        FormField(
            "report_reading.historical",
            "select",
            w("fleet.reading.historical"),
            use,
            counts,
            True,
        ),
        FormField("report_reading.benign", "select", w("fleet.reading.benign"), use, counts, True),
        FormField(
            "report_reading.nodular_pattern",
            "select",
            w("fleet.reading.nodular_pattern"),
            use,
            counts_first,
            True,
        ),
        FormField("claimed_performance.sensitivity", "number", w("fleet.f.sensitivity"), claim),
        FormField("claimed_performance.sensitivity_ci.0", "number", w("fleet.f.sens_low"), claim),
        FormField("claimed_performance.sensitivity_ci.1", "number", w("fleet.f.sens_high"), claim),
        FormField("claimed_performance.specificity", "number", w("fleet.f.specificity"), claim),
        FormField("claimed_performance.specificity_ci.0", "number", w("fleet.f.spec_low"), claim),
        FormField("claimed_performance.specificity_ci.1", "number", w("fleet.f.spec_high"), claim),
        FormField("claimed_performance.source", "textarea", w("fleet.source"), claim),
        *(
            FormField(f"risk_analysis.{item}", "textarea", w(f"fleet.risk.{item}"), risk)
            for item in _RISK_ITEMS
        ),
    ]


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _points_text(points: Sequence[dict[str, Any]]) -> str:
    """Operating points as the form writes them: ``name = threshold; ...``."""
    return "; ".join(f"{p['name']} = {p['threshold']:g}" for p in points)


def _points(text: str) -> list[dict[str, Any]] | None:
    """``name = threshold; ...`` as operating points; None when a part is not so."""
    points = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sign, threshold = part.rpartition("=")
        if not sign or not name.strip() or _number(threshold) is None:
            return None
        points.append({"name": name.strip(), "threshold": _number(threshold)})
    return points


def form_values(spec: DeviceSpec) -> dict[str, str]:
    """The form's values of ``spec`` (every input of :func:`form_fields`)."""
    document = spec.model_dump(mode="json")
    values: dict[str, str] = {"operating_points": _points_text(document["operating_points"])}
    for field in form_fields("en"):
        if field.name in values:
            continue
        value: Any = document
        for part in field.name.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit():
                value = value[int(part)]
            else:
                value = None
        values[field.name] = _shown(value)
    return values


def _number(text: str) -> str | None:
    text = text.strip().replace(",", ".").replace("\u202f", "").replace(" ", "")
    return text or None


def entry_document(device_id: str, values: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The registry entry the form's ``values`` describe, and the form's own errors
    (field -> text key) found before validation (an interval with one bound)."""
    errors: dict[str, str] = {}

    def text(name: str) -> str | None:
        return values.get(name, "").strip() or None

    def listed(name: str) -> list[str]:
        return [v.strip() for v in values.get(name, "").split(",") if v.strip()]

    claim: dict[str, Any] = {
        "sensitivity": _number(values.get("claimed_performance.sensitivity", "")),
        "specificity": _number(values.get("claimed_performance.specificity", "")),
        "source": text("claimed_performance.source"),
    }
    for metric in ("sensitivity", "specificity"):
        name = f"claimed_performance.{metric}_ci"
        bounds = [_number(values.get(f"{name}.{i}", "")) for i in (0, 1)]
        if all(b is not None for b in bounds):
            claim[f"{metric}_ci"] = bounds
        elif any(b is not None for b in bounds):
            missing = 0 if bounds[0] is None else 1
            errors[f"{name}.{missing}"] = "fleet.err.both_bounds"
    points = _points(values.get("operating_points", ""))
    if points is None:
        errors["operating_points"] = "fleet.err.points"
    document: dict[str, Any] = {
        "id": device_id,
        "name": text("name"),
        "manufacturer": text("manufacturer"),
        "model": text("model"),
        "versions": listed("versions"),
        "ce_class": text("ce_class"),
        "notified_body": text("notified_body"),
        "udi_di": text("udi_di"),
        "intended_purpose": text("intended_purpose"),
        "target": text("target"),
        "ai_based": text("ai_based"),
        "departments": listed("departments"),
        "sites": listed("sites"),
        "date_in_service": text("date_in_service"),
        "status": text("status") or "in_service",
        "score_scale": text("score_scale") or "unit",
        "operating_threshold": _number(values.get("operating_threshold", "")),
        "operating_points": points if points is not None else [],
        "indeterminate_policy": text("indeterminate_policy"),
        "unmentioned": text("unmentioned") or "pending",
        "report_reading": {
            "historical": text("report_reading.historical") or "ignore",
            "benign": text("report_reading.benign") or "ignore",
            "nodular_pattern": text("report_reading.nodular_pattern") or "positive",
        },
        "claimed_performance": {k: v for k, v in claim.items() if v is not None} or None,
        "risk_analysis": {
            item: values.get(f"risk_analysis.{item}", "").strip() for item in _RISK_ITEMS
        },
    }
    required = ("name", "manufacturer", "target", "ai_based", "indeterminate_policy")
    document = {k: v for k, v in document.items() if v is not None or k == "operating_threshold"}
    for name in required:
        document.setdefault(name, None)
    return document, errors


_ERROR_KEYS = {
    "missing": "fleet.err.required",
    "string_too_short": "fleet.err.required",
    "string_type": "fleet.err.required",
    "greater_than_equal": "fleet.err.range",
    "less_than_equal": "fleet.err.range",
    "float_parsing": "fleet.err.number",
    "float_type": "fleet.err.number",
    "date_parsing": "fleet.err.date",
    "date_from_datetime_parsing": "fleet.err.date",
    "date_type": "fleet.err.date",
    "literal_error": "fleet.err.choice",
    "bool_parsing": "fleet.err.choice",
    "bool_type": "fleet.err.choice",
}


def validation_errors(
    exc: ValidationError, names: Sequence[str], translate: Callable[[str], str]
) -> dict[str, str]:
    """Per form field, the first problem pydantic found with it, in words."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"])
        if error["type"] == "value_error" and loc == "claimed_performance":
            metric = "specificity" if "specificity_ci" in error["msg"] else "sensitivity"
            loc, message = f"claimed_performance.{metric}_ci.0", translate("fleet.err.interval")
        elif error["type"] == "value_error" and not loc:
            loc, message = _entry_error(str(error["ctx"]["error"]), translate)
        elif error["type"] in _ERROR_KEYS:
            message = translate(_ERROR_KEYS[error["type"]])
        else:
            message = translate("fleet.err.invalid").format(why=error["msg"])
        if loc not in names:
            loc = next((n for n in names if n.startswith(loc + ".")), names[0])
        errors.setdefault(loc, message)
    return errors


def _entry_error(text: str, translate: Callable[[str], str]) -> tuple[str, str]:
    """The field and words of an error of the whole entry (a threshold off its scale, a
    claim missing for a device in service)."""
    field = text.split(" ", 1)[0]
    if field.startswith("claimed_performance"):
        return "claimed_performance.sensitivity", translate("fleet.err.claim_needed")
    if " outside " in text:
        shown = text.split(" outside ", 1)[1].split(",", 1)[0]
        name = "operating_points" if field.startswith("operating_points") else field
        return name, translate("fleet.err.scale").format(range=shown)
    name = "operating_points" if field.startswith("operating_points") else field
    return name, translate("fleet.err.invalid").format(why=text)


def _edit_page(
    request: Request,
    login: Login,
    spec: DeviceSpec,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    lang = language(request, login)
    fields = form_fields(lang)
    groups = [
        (group, [f for f in fields if f.group == group])
        for group in ("identity", "use", "claim", "risk")
    ]
    return page(
        request,
        login,
        "device_edit.html",
        {
            "spec": spec,
            "groups": groups,
            "values": values,
            "errors": errors,
            "labels": {f.name: f.label for f in fields},
        },
        title="fleet.edit_title",
        status_code=status_code,
    )


@router.get("/devices/{device_id}/edit")
def edit_form(device_id: str, request: Request, login: AdminLogin) -> Response:
    """The registry entry's form (admin only)."""
    console = request.app.state.console
    with console.api.db.session() as session:
        spec = _device(session, login, device_id)
    return _edit_page(request, login, spec, form_values(spec), {})


@router.post("/devices/{device_id}/edit")
def edit_save(device_id: str, request: Request, posted: AdminPost) -> Response:
    """Validate and save the entry (audited with what changed), or show the form again
    with each problem next to its field (400, nothing saved)."""
    console = request.app.state.console
    lang = language(request, posted.login)
    names = [f.name for f in form_fields(lang)]
    values = {name: posted.text(name) for name in names}
    with console.api.db.session.begin() as session:
        current = _device(session, posted.login, device_id)
        document, own = entry_document(current.id, values)
        errors = {k: _translate(v, lang) for k, v in own.items()}
        spec = None
        try:
            spec = DeviceSpec.model_validate(document)
        except ValidationError as exc:
            found = validation_errors(exc, names, lambda key: _translate(key, lang))
            errors = {**found, **errors}
        if errors or spec is None:
            return _edit_page(request, posted.login, current, values, errors, status_code=400)
        result = registry.import_registry(session, [spec], actor=posted.login.actor)
    done = "unchanged" if result.get(spec.id) == "unchanged" else "saved"
    return RedirectResponse(f"/devices/{spec.id}?done={done}", status_code=303)


def _translate(key: str, lang: str) -> str:
    return translate(key, lang)
