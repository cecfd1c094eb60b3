"""French and English texts of the monthly quality-control report (labels, terms and
number formats); no logic beyond formatting.

Every table is keyed by a code and holds a ``(fr, en)`` pair. Look-ups are strict:
an unknown code or language raises :class:`KeyError` (a report never shows a silent
blank). Proportions are 0..1 and shown as percent; ``None`` (undefined) is shown as
an en dash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from alerts.incident_texts import MONTHS
from monitor.report_model import Reason

__all__ = [
    "ACTION_KINDS",
    "DASH",
    "DIMENSIONS",
    "DISMISSAL_REASONS",
    "EVENTS",
    "LABELS",
    "LANGS",
    "LIGHT_RULES",
    "LIGHT_WORDS",
    "METRICS",
    "METRICS_LONG",
    "NBSP",
    "NNBSP",
    "REASON_CODES",
    "RISK_MISSING",
    "ROLES",
    "RULES",
    "SEVERITIES",
    "STATUSES",
    "capital",
    "day",
    "decimal",
    "interval",
    "label",
    "moment",
    "month_name",
    "number",
    "p_value",
    "pct",
    "points",
    "reason_text",
    "term",
]

LANGS = ("fr", "en")
"""Languages of the report."""

NNBSP = "\u202f"
"""Narrow no-break space: French thousands separator and space before %."""
NBSP = "\u00a0"
"""No-break space: inside French quotes « »."""
DASH = "–"
"""What an undefined figure (None) shows."""

_Pair = tuple[str, str]


def _lang(lang: str) -> int:
    """Index of ``lang`` in a ``(fr, en)`` pair; KeyError for any other language."""
    if lang not in LANGS:
        raise KeyError(f"unknown report language {lang!r} (expected one of {LANGS})")
    return LANGS.index(lang)


def term(table: Mapping[str, _Pair], key: str, lang: str) -> str:
    """The text of ``key`` in ``table`` for ``lang``; KeyError when either is unknown."""
    pair = table[key]
    return pair[_lang(lang)]


def capital(text: str) -> str:
    """``text`` with its first letter upper-cased (the rest untouched: 'VPP' stays)."""
    return text[:1].upper() + text[1:]


# --- numbers and dates ---------------------------------------------------------------


def decimal(value: float | None, lang: str, digits: int = 1) -> str:
    """``value`` with ``digits`` decimals and the language's decimal mark ("3,5" / "3.5");
    thousands grouped; a minus sign (U+2212) for negatives; the dash for None or NaN."""
    if value is None or math.isnan(value):
        _lang(lang)
        return DASH
    text = f"{abs(value):,.{digits}f}"
    if _lang(lang) == 0:
        text = text.replace(",", NNBSP).replace(".", ",")
    sign = "−" if value < 0 and float(text.replace(",", ".").replace(NNBSP, "")) != 0 else ""
    return sign + text


def pct(value: float | None, lang: str, digits: int = 1) -> str:
    """A proportion 0..1 as percent: "84,5 %" (narrow no-break space) / "84.5%"; the dash
    for None."""
    if value is None or math.isnan(value):
        _lang(lang)
        return DASH
    text = decimal(100 * value, lang, digits)
    return f"{text}{NNBSP}%" if lang == "fr" else f"{text}%"


def interval(
    value: float | None, low: float | None, high: float | None, lang: str, digits: int = 1
) -> str:
    """A proportion with its interval: "84,5 % [81,7–87,0]" / "84.5% [81.7–87.0]" (bounds
    in percent); the value alone when a bound is None; the dash when the value is."""
    head = pct(value, lang, digits)
    if value is None or low is None or high is None:
        return head
    return f"{head} [{decimal(100 * low, lang, digits)}–{decimal(100 * high, lang, digits)}]"


def points(difference: float | None, lang: str, digits: int = 1) -> str:
    """A difference of proportions in percentage points: "−25,0 points" / "−25.0 points",
    "+3,0 points"; the dash for None."""
    if difference is None or math.isnan(difference):
        _lang(lang)
        return DASH
    text = decimal(100 * difference, lang, digits)
    if difference > 0 and text.strip("0,.") != "":
        text = "+" + text
    unit = "points" if abs(100 * difference) >= 2 or lang == "en" else "point"
    return f"{text}{NBSP}{unit}"


def number(n: int | None, lang: str) -> str:
    """An integer with thousands grouped: "12 345" (narrow no-break space) / "12,345"."""
    if n is None:
        _lang(lang)
        return DASH
    text = f"{int(n):,d}"
    return text.replace(",", NNBSP) if _lang(lang) == 0 else text


def p_value(p: float | None, lang: str) -> str:
    """A p-value: three decimals from 0.001 up ("0,012" / "0.012"), else two significant
    digits in scientific notation ("2,3e-08" / "2.3e-08"); the dash for None."""
    if p is None or math.isnan(p):
        _lang(lang)
        return DASH
    text = f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"
    return text.replace(".", ",") if _lang(lang) == 0 else text


def month_name(d: date, lang: str) -> str:
    """The month of ``d`` in words: "août 2025" / "August 2025"."""
    _lang(lang)
    return f"{MONTHS[lang][d.month - 1]} {d.year}"


def day(d: date | None, lang: str) -> str:
    """A date: "31/08/2025" / "2025-08-31"; the dash for None."""
    if d is None:
        _lang(lang)
        return DASH
    if isinstance(d, datetime):
        d = d.date()
    return d.strftime("%d/%m/%Y") if _lang(lang) == 0 else d.isoformat()


def moment(t: datetime | None, lang: str) -> str:
    """A time to the minute, in its own zone: "31/08/2025 23:59" / "2025-08-31 23:59"."""
    if t is None:
        _lang(lang)
        return DASH
    return f"{day(t.date(), lang)} {t:%H:%M}"


# --- terms ---------------------------------------------------------------------------

METRICS: dict[str, _Pair] = {
    "sensitivity": ("sensibilité", "sensitivity"),
    "specificity": ("spécificité", "specificity"),
    "ppv": ("VPP", "PPV"),
    "npv": ("VPN", "NPV"),
}
"""Short metric names, as table cells show them."""

METRICS_LONG: dict[str, _Pair] = {
    "sensitivity": ("sensibilité", "sensitivity"),
    "specificity": ("spécificité", "specificity"),
    "ppv": ("valeur prédictive positive (VPP)", "positive predictive value (PPV)"),
    "npv": ("valeur prédictive négative (VPN)", "negative predictive value (NPV)"),
}

RULES: dict[str, _Pair] = {
    "cusum": ("carte CUSUM", "CUSUM chart"),
    "ewma": ("carte EWMA", "EWMA chart"),
    "below_claim": ("sous la performance annoncée", "below the claimed performance"),
    "version_comparison": ("comparaison de versions", "version comparison"),
    "version_change": ("changement de version", "version change"),
    "outage": ("arrêt des résultats", "output outage"),
    "verification_backlog": ("retard de vérification", "verification backlog"),
    "threshold_mismatch": ("seuil du registre contredit", "registry threshold contradicted"),
    "input_drift": ("dérive des entrées", "input drift"),
    "output_drift": ("dérive des sorties", "output drift"),
    "estimated_performance": ("performance estimée", "estimated performance"),
}

SEVERITIES: dict[str, _Pair] = {
    "info": ("information", "information"),
    "warning": ("avertissement", "warning"),
    "critical": ("critique", "critical"),
}

UNMENTIONED_POLICIES: dict[str, _Pair] = {
    "negative": ("négative", "negative"),
    "pending": ("en attente d'une autre vérité", "pending another outcome"),
}
"""How a device counts an outcome its final report does not mention."""

STATUSES: dict[str, _Pair] = {
    "open": ("ouvert", "open"),
    "acknowledged": ("pris en compte", "acknowledged"),
    "confirmed": ("confirmé", "confirmed"),
    "dismissed": ("écarté", "dismissed"),
    "action_taken": ("action engagée", "action taken"),
    "closed": ("clos", "closed"),
}
"""Statuses of a finding."""

EVENTS: dict[str, _Pair] = {
    "opened": ("ouvert", "opened"),
    "acknowledged": ("pris en compte", "acknowledged"),
    "confirmed": ("confirmé", "confirmed"),
    "dismissed": ("écarté", "dismissed"),
    "action_taken": ("action engagée", "action taken"),
    "closed": ("clos", "closed"),
    "reopened": ("rouvert", "reopened"),
}
"""Workflow steps of a finding within the month."""

DISMISSAL_REASONS: dict[str, _Pair] = {
    "expected_variation": ("variation attendue", "expected variation"),
    "data_error": ("erreur de données", "data error"),
    "known_limitation": ("limite connue du dispositif", "known limitation of the device"),
    "same_root_cause": ("même cause qu'un autre constat", "same root cause as another finding"),
    "other": ("autre", "other"),
}

ACTION_KINDS: dict[str, _Pair] = {
    "restrict_use": ("restriction d'utilisation", "use restricted"),
    "raise_threshold": ("seuil de fonctionnement relevé", "operating threshold raised"),
    "contact_manufacturer": ("fabricant contacté", "manufacturer contacted"),
    "suspend_device": ("dispositif suspendu", "device suspended"),
    "retrain_users": ("formation des utilisateurs", "users retrained"),
    "other": ("autre", "other"),
}

DIMENSIONS: dict[str, _Pair] = {
    "device_version": ("version du dispositif", "device version"),
    "site": ("site", "site"),
    "scanner_manufacturer": ("constructeur de l'appareil d'imagerie", "scanner manufacturer"),
    "scanner_model": ("modèle de l'appareil d'imagerie", "scanner model"),
    "age_band": ("tranche d'âge", "age band"),
    "patient_sex": ("sexe", "sex"),
    "body_part": ("région anatomique", "body part"),
    "modality": ("modalité", "modality"),
    "target": ("cible (type d'anomalie)", "target (finding type)"),
}
"""Subgroup dimensions."""

RISK_MISSING: dict[str, _Pair] = {
    "data_transmission": (
        "aucune description de la transmission des données enregistrée",
        "no description of data transmission recorded",
    ),
    "data_reuse_by_manufacturer": (
        "aucune information sur la réutilisation des données par le fabricant enregistrée",
        "no information on data reuse by the manufacturer recorded",
    ),
    "patient_information": (
        "aucune information des patients enregistrée",
        "no patient information recorded",
    ),
    "cybersecurity": (
        "aucune évaluation de cybersécurité enregistrée",
        "no cybersecurity assessment recorded",
    ),
    "continuity_plan": ("aucun plan de continuité enregistré", "no continuity plan recorded"),
    "training": (
        "aucune formation des utilisateurs enregistrée",
        "no user training recorded",
    ),
}
"""Risk-analysis items, phrased as what is missing."""

LIGHT_WORDS: dict[str, _Pair] = {
    "green": ("vert", "green"),
    "amber": ("orange", "amber"),
    "red": ("rouge", "red"),
    "grey": ("gris", "grey"),
}

LIGHT_RULES: dict[str, _Pair] = {
    "red": (
        "performance dégradée : sensibilité ou spécificité du mois sous la valeur annoncée "
        "(tout l'intervalle en dessous), ou constat de performance (carte CUSUM ou EWMA, "
        "sous l'annonce, comparaison de versions) d'avertissement ou critique encore "
        "ouvert, pris en compte ou confirmé en fin de mois",
        "performance degraded: the month's sensitivity or specificity below the claim (the "
        "whole interval under it), or a performance finding (CUSUM or EWMA chart, below "
        "claim, version comparison) of warning or critical severity still open, "
        "acknowledged or confirmed at month end",
    ),
    "amber": (
        "à surveiller : constat de performance en cours d'action corrective ou clos, "
        "sous-groupe significativement moins bon que le reste après ajustement, incident "
        "d'exploitation (arrêt, retard de vérification, dérive, performance estimée), trop "
        "peu de cas vérifiés pour conclure ou vérification sous le minimum",
        "to watch: a performance finding under corrective action or closed, a subgroup "
        "significantly worse than the rest after adjustment, an operational finding "
        "(outage, verification backlog, drift, estimated performance), too few verified "
        "cases to judge or verification below the floor",
    ),
    "green": ("aucun des points ci-dessus", "none of the above"),
    "grey": (
        "aucun résultat du dispositif ce mois-ci",
        "no device output this month",
    ),
}
"""What each light means (the legend of the summary)."""

ROLES: dict[str, _Pair] = {
    "quality_manager": ("responsable qualité", "quality manager"),
    "radiologist": ("radiologue référent", "referent radiologist"),
    "materiovigilance": (
        "correspondant local de matériovigilance",
        "local materiovigilance correspondent",
    ),
}
"""Roles of the sign-off block when no reviewer is named."""

LABELS: dict[str, _Pair] = {
    "title": ("Revue mensuelle de contrôle qualité", "Monthly quality-control review"),
    "subtitle": (
        "Surveillance des dispositifs médicaux numériques à base d'IA - critère 3.4-05",
        "Monitoring of AI-based digital medical devices - criterion 3.4-05",
    ),
    "month": ("Mois", "Month"),
    "establishment": ("Établissement", "Establishment"),
    "as_of": ("Données arrêtées au", "Data as of"),
    "generated": ("Généré le", "Generated"),
    "page": ("page", "page"),
    "summary": ("Synthèse", "Summary"),
    "light": ("Voyant", "Light"),
    "device": ("Dispositif", "Device"),
    "volume": ("Volume", "Volume"),
    "exams": ("examens", "exams"),
    "verified_short": ("vérifiés", "verified"),
    "sens_vs_claim": ("Sensibilité / annoncée", "Sensitivity / claim"),
    "spec_vs_claim": ("Spécificité / annoncée", "Specificity / claim"),
    "claim_short": ("annoncée", "claim"),
    "open_findings": ("Constats actifs fin de mois", "Findings active at month end"),
    "main_reason": ("Motif principal", "Main reason"),
    "legend": ("Lecture des voyants", "How to read the lights"),
    "legend_note": (
        "Les constats d'information et les constats écartés figurent dans le rapport mais "
        "ne changent jamais le voyant.",
        "Informational and dismissed findings are listed in the report but never change the light.",
    ),
    "no_device": ("Aucun dispositif dans ce rapport.", "No device in this report."),
    "reasons": ("Motifs du voyant", "Reasons for the light"),
    # device: volume
    "volume_title": ("Volume et vérification", "Volume and verification"),
    "predictions": ("Résultats du dispositif", "Device outputs"),
    "verified": ("Vérifiés (vérité terrain connue)", "Verified (outcome known)"),
    "pending": ("En attente de vérification", "Awaiting verification"),
    "excluded": ("Exclus (résultat indéterminé)", "Excluded (indeterminate output)"),
    "verification_rate": ("Taux de vérification", "Verification rate"),
    "contradicting": (
        "Résultats de l'IA contraires à leur score au seuil du registre",
        "AI results contradicting their score at the registry's threshold",
    ),
    "contradicting_of": ("{n} sur {checked} ({share})", "{n} of {checked} ({share})"),
    "median_delay": ("Délai médian de vérification", "Median verification delay"),
    "days": ("j", "days"),
    "last_prediction": ("Dernier résultat reçu", "Last output received"),
    "versions": ("Versions", "Versions"),
    "manufacturer": ("Fabricant", "Manufacturer"),
    # device: metrics
    "metrics_title": ("Performances du mois", "Performance of the month"),
    "metric": ("Indicateur", "Metric"),
    "value_ci": ("Valeur [IC]", "Value [CI]"),
    "n": ("n", "n"),
    "claimed": ("Annoncée", "Claimed"),
    "p_below": ("p (sous l'annonce)", "p (below claim)"),
    "below_claim": ("Sous l'annonce", "Below claim"),
    "below_mark": ("▼ sous l'annonce", "▼ below claim"),
    "no_claim": ("pas de valeur annoncée", "no claim"),
    "metrics_note": (
        "n : dénominateur (positifs vérifiés pour la sensibilité, négatifs vérifiés pour "
        "la spécificité, résultats positifs pour la VPP, négatifs pour la VPN). « Sous "
        "l'annonce » : tout l'intervalle est sous la valeur annoncée.",
        "n: denominator (verified positives for sensitivity, verified negatives for "
        "specificity, positive outputs for PPV, negative outputs for NPV). 'Below claim': "
        "the whole interval lies under the claimed value.",
    ),
    # device: trend
    "trend_title": ("Évolution sur 12 mois", "12-month trend"),
    "trend_alt": (
        "Évolution mensuelle de la sensibilité et de la spécificité sur 12 mois avec leurs "
        "intervalles et les valeurs annoncées ; le mois du rapport est mis en évidence.",
        "Monthly sensitivity and specificity over 12 months with their intervals and the "
        "claimed values; the month of the report is highlighted.",
    ),
    "no_trend": ("Aucune donnée de tendance.", "No trend data."),
    # device: subgroups
    "subgroups_title": ("Sous-groupes", "Subgroups"),
    "subgroup": ("Sous-groupe", "Subgroup"),
    "gap_sens": ("Écart sensibilité (p ajusté)", "Sensitivity gap (adjusted p)"),
    "gap_spec": ("Écart spécificité (p ajusté)", "Specificity gap (adjusted p)"),
    "note": ("Remarque", "Note"),
    "too_small": ("effectif insuffisant", "too few cases"),
    "significant_gap": ("écart significatif", "significant gap"),
    "flag_symbol": ("⚠", "⚠"),
    "subgroups_note": (
        "Écart : sous-groupe moins le reste du dispositif, en points (intervalle de "
        "Newcombe) ; p ajusté par la méthode de Holm sur tous les sous-groupes du mois. "
        "Effectif insuffisant : moins de {min_cases} cas vérifiés, chiffres indicatifs "
        "(grisés).",
        "Gap: subgroup minus the rest of the device, in points (Newcombe interval); p "
        "adjusted by Holm's method across every subgroup of the month. Too few cases: "
        "fewer than {min_cases} verified cases, figures indicative only (greyed).",
    ),
    "no_subgroups": ("Aucun sous-groupe ce mois-ci.", "No subgroup this month."),
    # device: cusum
    "cusum_title": ("Cartes de contrôle", "Control charts"),
    "cusum_caption": (
        "{chart} - {metric}, {slice} : limite de décision {limit}, {observations} "
        "observations, {signal}",
        "{chart} - {metric}, {slice}: decision limit {limit}, {observations} observations, "
        "{signal}",
    ),
    "signal_at": ("signal le {when}", "signal at {when}"),
    "no_signal": ("aucun signal", "no signal"),
    "cusum_alt": (
        "{chart} de la {metric} ({slice}) : statistique au fil des observations vérifiées, "
        "limite de décision {limit} ; {signal}.",
        "{chart} of {metric} ({slice}): statistic over verified observations, decision "
        "limit {limit}; {signal}.",
    ),
    "no_cusum": ("Aucune carte de contrôle ce mois-ci.", "No control chart this month."),
    # device: drift
    "drift_title": ("Dérive des données", "Data drift"),
    "column": ("Variable", "Column"),
    "method": ("Méthode", "Method"),
    "score": ("Score", "Score"),
    "threshold": ("Seuil", "Threshold"),
    "drift": ("Dérive", "Drift"),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
    "n_ref_cur": ("n réf. / actuel", "n ref. / current"),
    "drift_report": ("Rapport de dérive détaillé : ", "Detailed drift report: "),
    "no_drift": ("Aucune mesure de dérive ce mois-ci.", "No drift measured this month."),
    # device: estimates
    "estimate_title": ("Performance estimée et réalisée", "Estimated and realised performance"),
    "estimate_alt": (
        "{metric} estimée à partir des scores (CBPE) et {metric} réalisée avec son "
        "intervalle, par mois.",
        "{metric} estimated from scores (CBPE) and realised {metric} with its interval, by month.",
    ),
    "no_estimate": ("Aucune estimation ce mois-ci.", "No estimate this month."),
    # device: findings
    "findings_title": ("Constats du mois", "Findings of the month"),
    "finding_no": ("N°", "No."),
    "detected": ("Détecté", "Detected"),
    "rule": ("Règle", "Rule"),
    "slice": ("Périmètre", "Slice"),
    "severity": ("Sévérité", "Severity"),
    "status_end": ("Statut fin de mois", "Status at month end"),
    "events": ("Étapes du mois", "Steps in the month"),
    "dismissal": ("Motif d'écart", "Dismissal reason"),
    "no_findings": ("Aucun constat ce mois-ci.", "No finding this month."),
    "incident_head": ("Incident n°{nbsp}{id} ({severity})", "Incident {id} ({severity})"),
    "incidents_note": (
        "Un incident réunit les constats d'une même dégradation : il est nommé par le "
        "sous-groupe le plus étroit qui l'explique, les autres constats en sont les preuves "
        "(listés sous lui dans le tableau).",
        "An incident gathers the findings of one degradation: it is named by the narrowest "
        "slice that explains it, the other findings are its evidence (listed under it in the "
        "table).",
    ),
    "other_findings": ("Autres constats", "Other findings"),
    "actions_title": ("Actions correctives", "Corrective actions"),
    "finding": ("Constat", "Finding"),
    "kind": ("Type", "Kind"),
    "description": ("Description", "Description"),
    "owner": ("Responsable", "Owner"),
    "due": ("Échéance", "Due"),
    "done": ("Réalisée", "Done"),
    "no_actions": ("Aucune action corrective.", "No corrective action."),
    # device: vigilance
    "vigilance_title": ("Projets de signalement de matériovigilance", "Materiovigilance drafts"),
    "draft": ("Projet", "Draft"),
    "date": ("Date", "Date"),
    "language": ("Langue", "Language"),
    "format": ("Format", "Format"),
    "sha": ("SHA-256 (12 premiers)", "SHA-256 (first 12)"),
    "user": ("Utilisateur", "User"),
    "never_sent": (
        "Les projets de signalement ne sont jamais envoyés automatiquement : le "
        "déclarant les relit, les complète et les transmet lui-même à l'ANSM.",
        "Drafts are never sent automatically: the reporter reviews, completes and sends "
        "them to ANSM themselves.",
    ),
    "no_vigilance": ("Aucun projet rédigé ce mois-ci.", "No draft written this month."),
    # device: outcomes
    "outcomes_title": ("Vérité terrain reçue dans le mois", "Ground truth received in the month"),
    "outcomes_decided": ("Tranchée (positive / négative)", "Decided (positive / negative)"),
    "outcomes_unmentioned": (
        "Cible non mentionnée par le compte rendu",
        "Target not mentioned by the report",
    ),
    "outcomes_policy": ("Non mentionnée comptée comme", "Not mentioned counted as"),
    "outcomes_uncertain": ("Incertaine (indéterminée)", "Uncertain (indeterminate)"),
    "outcomes_quarantined": (
        "Lignes mises en quarantaine (cible du dispositif)",
        "Rows quarantined (the device's target)",
    ),
    "outcomes_note": (
        "Vérités terrain datées du mois et rattachées aux examens du dispositif. Un compte "
        "rendu définitif qui ne parle pas de la cible est un état, pas une erreur : il compte "
        "selon le réglage du dispositif. La quarantaine ne retient que les lignes "
        "malformées ; elle est rattachée par la cible de la ligne (commune aux dispositifs "
        "de même cible).",
        "Ground truth dated in the month and linked to the device's exams. A final report "
        "that does not speak of the target is a state, not an error: it counts as the "
        "device's setting says. Quarantine holds malformed rows only; they are attributed "
        "by the row's target (shared by the devices of the same target).",
    ),
    "quarantined_without_device": (
        "Lignes de vérité terrain du mois mises en quarantaine sans dispositif (cible "
        "illisible ou d'aucun dispositif) : {n}.",
        "Ground-truth rows of the month quarantined without a device (target unreadable "
        "or of no device): {n}.",
    ),
    # device: review
    "review_title": ("Relecture des cas", "Case review"),
    "queued": ("Mis en relecture", "Queued"),
    "adjudicated": ("Relus (décision rendue)", "Adjudicated"),
    "skipped": ("Passés", "Skipped"),
    "waiting": ("En attente à la date du rapport", "Waiting at report time"),
    "changed": ("Décisions modifiant le résultat", "Adjudications that changed the outcome"),
    # establishment
    "inventory_part": (
        "Établissement : cartographie des dispositifs à base d'IA",
        "Establishment: inventory of AI-based devices",
    ),
    "model": ("Modèle", "Model"),
    "ce_class": ("Classe CE", "CE class"),
    "udi_di": ("IUD-ID (UDI-DI)", "UDI-DI"),
    "departments": ("Services", "Departments"),
    "sites": ("Sites", "Sites"),
    "in_service": ("En service depuis", "In service since"),
    "intended_purpose": ("Destination (usage prévu)", "Intended purpose"),
    "ai_based": ("Fondé sur l'IA", "AI-based"),
    "claimed_perf": ("Performance annoncée", "Claimed performance"),
    "risk_analysis": ("Analyse de risques", "Risk analysis"),
    "risk_complete": ("complète", "complete"),
    "no_inventory": ("Aucun dispositif enregistré.", "No device registered."),
    "whole_device": ("dispositif entier", "whole device"),
    "establishment_not_set": (
        "non renseigné (réglage report.establishment)",
        "not set (setting report.establishment)",
    ),
    "more_reasons": (
        "… et {n} autres motifs : voir les constats du mois ci-dessous.",
        "… and {n} more reasons: see the findings of the month below.",
    ),
    # sign-off
    "signoff_title": ("Validation", "Sign-off"),
    "name": ("Nom", "Name"),
    "role": ("Fonction", "Role"),
    "signature": ("Signature", "Signature"),
    "decisions": ("Décisions", "Decisions"),
    # about
    "about_title": ("À propos de ces chiffres", "About these figures"),
    "about": (
        "Toutes les données sont arrêtées au {as_of} ({timezone}). Les intervalles sont "
        "des intervalles de confiance de Wilson à {confidence} ; les écarts de "
        "sous-groupes utilisent l'intervalle de Newcombe. Un écart est signalé au seuil "
        "alpha = {alpha} après ajustement de Holm sur tous les sous-groupes du mois ; "
        "en dessous de {min_cases} cas vérifiés, un effectif est jugé insuffisant. Le "
        "fichier {manifest}, à côté de ce rapport, liste chaque chiffre avec la commande "
        "dmn-monitor qui le recalcule.",
        "All data are as of {as_of} ({timezone}). Intervals are {confidence} Wilson "
        "confidence intervals; subgroup gaps use Newcombe's interval. A gap is flagged at "
        "alpha = {alpha} after Holm's adjustment across every subgroup of the month; below "
        "{min_cases} verified cases a cell counts as too small. The file {manifest}, beside "
        "this report, lists every figure with the dmn-monitor command that recomputes it.",
    ),
}
"""Every heading, column and sentence of the report."""


def label(key: str, lang: str) -> str:
    """The label ``key`` in ``lang``; KeyError when unknown."""
    return term(LABELS, key, lang)


def slice_text(slice_label: str, lang: str) -> str:
    """A slice as findings name it (``"device_version=2.4.0, site=CHU-Sud"`` or ``"whole
    device"``) in words: ``"version du dispositif 2.4.0, site CHU-Sud"``; a dimension
    without a translation is shown as it is."""
    if not slice_label or slice_label == "whole device":
        return label("whole_device", lang)
    parts = []
    for part in slice_label.split(", "):
        dimension, sep, value = part.partition("=")
        if not sep:
            parts.append(part)
            continue
        name = term(DIMENSIONS, dimension, lang) if dimension in DIMENSIONS else dimension
        parts.append(f"{name} {value}")
    return ", ".join(parts)


# --- reasons -------------------------------------------------------------------------

REASON_CODES = (
    "below_claim",
    "finding",
    "subgroup_gap",
    "operational",
    "few_cases",
    "low_verification",
    "no_data",
    "within_claim",
)
"""Every reason code :class:`monitor.report_model.Reason` documents."""


def _metric(metric: str | None, lang: str) -> str:
    return DASH if metric is None else term(METRICS, metric, lang)


def _below_claim(p: Mapping[str, Any], lang: str) -> str:
    figure = interval(p["value"], p["low"], p["high"], lang)
    claimed, pv = pct(p["claimed"], lang), p_value(p["p"], lang)
    name = capital(_metric(p["metric"], lang))
    if lang == "fr":
        return f"{name} {figure} sous la performance annoncée de {claimed} (p = {pv})"
    return f"{name} {figure} below the claimed {claimed} (p = {pv})"


def _finding(p: Mapping[str, Any], lang: str) -> str:
    rule, severity = term(RULES, p["rule"], lang), term(SEVERITIES, p["severity"], lang)
    metric = p.get("metric")
    slice_ = slice_text(p["slice"], lang) if p.get("slice") else DASH
    if lang == "fr":
        what = f"{rule} sur la {_metric(metric, lang)}" if metric else rule
        return (
            f"Constat n°{NBSP}{p['finding_id']} : {what}, sévérité {severity} "
            f"(périmètre : {slice_})"
        )
    what = f"{rule} on {_metric(metric, lang)}" if metric else rule
    return f"Finding #{p['finding_id']}: {what}, severity {severity} (slice: {slice_})"


def _subgroup_gap(p: Mapping[str, Any], lang: str) -> str:
    name = capital(_metric(p["metric"], lang))
    dim = term(DIMENSIONS, p["dimension"], lang)
    value = p["value"]
    shown = pct(value, lang) if isinstance(value, float) else str(value)
    gap, pa = points(p["difference"], lang), p_value(p["p_adjusted"], lang)
    if lang == "fr":
        return (
            f"{name} plus basse pour {dim} = {shown} : écart de {gap} avec le reste "
            f"(p ajusté = {pa})"
        )
    return f"{name} lower for {dim} = {shown}: gap of {gap} against the rest (adjusted p = {pa})"


def _operational(p: Mapping[str, Any], lang: str) -> str:
    rule, severity = term(RULES, p["rule"], lang), term(SEVERITIES, p["severity"], lang)
    if lang == "fr":
        return (
            f"Incident d'exploitation : constat n°{NBSP}{p['finding_id']} ({rule}, "
            f"sévérité {severity})"
        )
    return f"Operational problem: finding #{p['finding_id']} ({rule}, severity {severity})"


def _few_cases(p: Mapping[str, Any], lang: str) -> str:
    n, m = number(p["n"], lang), number(p["min_cases"], lang)
    if lang == "fr":
        return f"Seulement {n} cas vérifiés ce mois-ci (minimum {m} pour conclure)"
    return f"Only {n} verified cases this month (at least {m} needed to conclude)"


def _low_verification(p: Mapping[str, Any], lang: str) -> str:
    rate, floor = pct(p["rate"], lang), pct(p["floor"], lang)
    if lang == "fr":
        return (
            f"Taux de vérification de {rate}, sous le minimum de {floor} : chiffres à "
            "interpréter avec prudence"
        )
    return f"Verification rate {rate}, under the floor of {floor}: read the figures with care"


def _no_data(p: Mapping[str, Any], lang: str) -> str:
    return term(
        {"x": ("Aucune donnée du dispositif ce mois-ci", "No data from the device this month")},
        "x",
        lang,
    )


def _within_claim(p: Mapping[str, Any], lang: str) -> str:
    return term(
        {
            "x": (
                "Performances conformes aux valeurs annoncées, aucun point d'attention",
                "Performance within the claimed values, nothing to watch",
            )
        },
        "x",
        lang,
    )


_REASONS = {
    "below_claim": _below_claim,
    "finding": _finding,
    "subgroup_gap": _subgroup_gap,
    "operational": _operational,
    "few_cases": _few_cases,
    "low_verification": _low_verification,
    "no_data": _no_data,
    "within_claim": _within_claim,
}


def reason_text(reason: Reason, lang: str) -> str:
    """One plain sentence for ``reason`` with its figures, e.g. "Sensibilité 84,5 %
    [81,7–87,0] sous la performance annoncée de 91,0 % (p = 2,3e-08)"; KeyError for an
    unknown code, language or missing parameter."""
    _lang(lang)
    return _REASONS[reason.code](reason.params, lang)
