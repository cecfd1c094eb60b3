"""The content of a materiovigilance draft, built from a confirmed finding (pure).

A draft gathers, in French or English, what a hospital needs to declare a
malfunction of an AI medical device: the ANSM health-professional declaration
(Cerfa n° 10246: reporter, device, incident), an incident description written
from the finding's evidence, suggested IMDRF Adverse Event Terminology codes, a
JSON export laid out like the sections of the EU MDR Manufacturer Incident Report
(MIR form 7.3.1) for the manufacturer to reuse, and the EU AI Act article 26
deployer duties the draft helps with. It is always marked *DRAFT - NOT SENT*:
nothing here is sent anywhere, and every blank a human must fill is marked
:data:`TO_COMPLETE`.

Inputs are plain dicts: the finding record (:func:`monitor.findings.finding_record`),
the device's registry entry, the counts of the finding's cases and its corrective
actions. Every number of the description comes from the finding (its value,
threshold and evidence) or the registry's claim; nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DRAFT_BANNER",
    "LANGS",
    "TO_COMPLETE",
    "CodeSuggestion",
    "DraftContent",
    "DraftField",
    "DraftSection",
    "Duty",
    "build_draft",
    "draft_refusal",
    "format_interval",
    "format_percent",
    "imdrf_suggestions",
    "key_numbers",
    "number_labels",
    "number_rows",
]

LANGS = ("fr", "en")

TO_COMPLETE = {"fr": "[À COMPLÉTER]", "en": "[TO BE COMPLETED]"}
"""The mark of a blank a human must fill."""

DRAFT_BANNER = {"fr": "PROJET - NON ENVOYÉ", "en": "DRAFT - NOT SENT"}

DRAFTABLE_STATUSES = ("confirmed", "action_taken", "closed")

MAX_EXAMPLES = 10
"""Pseudonymised case references quoted in the description at most."""

IMDRF_RELEASE = "2022"
"""IMDRF AET annex release the suggested codes were checked against."""


def draft_refusal(status: str, confirmed_at: str | None) -> str | None:
    """Why no draft may be made of a finding in ``status``, or None when one may.

    A draft needs a confirmed malfunction: status confirmed or action_taken, or
    closed after a confirmation (``confirmed_at`` set).
    """
    if status in DRAFTABLE_STATUSES and confirmed_at is not None:
        return None
    return (
        f"the finding is {status}{'' if confirmed_at else ' and was never confirmed'}: a "
        "materiovigilance draft is made only of a confirmed malfunction; review it and "
        "confirm it first (findings ack, then findings confirm)"
    )


# --- formatting -------------------------------------------------------------------------


def format_percent(value: float | None, lang: str) -> str:
    """A 0..1 proportion as a percentage with one decimal: ``62,3 %`` (fr), ``62.3%`` (en)."""
    if value is None:
        return TO_COMPLETE[lang]
    text = f"{value * 100:.1f}"
    return f"{text.replace('.', ',')} %" if lang == "fr" else f"{text}%"


def format_interval(interval: Sequence[float] | None, confidence: float, lang: str) -> str:
    """``IC à 95 % : 55,1 % - 69,0 %`` (fr) / ``95% CI 55.1%-69.0%`` (en); '' without one."""
    if not interval:
        return ""
    low, high = format_percent(interval[0], lang), format_percent(interval[1], lang)
    level = format_percent(confidence, lang).replace(",0", "").replace(".0", "")
    if lang == "fr":
        return f"IC à {level} : {low} - {high}"
    return f"{level} CI {low}-{high}"


def _number(value: float | None, lang: str, digits: int = 3) -> str:
    if value is None:
        return TO_COMPLETE[lang]
    text = f"{value:.{digits}g}"
    return text.replace(".", ",") if lang == "fr" else text


def _date(iso: str | None, lang: str) -> str:
    """The calendar date of a local ISO date-time: ``14/03/2025`` (fr), ``2025-03-14`` (en)."""
    if not iso:
        return TO_COMPLETE[lang]
    day = iso[:10]
    if lang == "fr":
        year, month, dd = day.split("-")
        return f"{dd}/{month}/{year}"
    return day


def _t(lang: str, fr: str, en: str) -> str:
    return fr if lang == "fr" else en


_METRIC = {
    "sensitivity": ("sensibilité", "sensitivity"),
    "specificity": ("spécificité", "specificity"),
    "ppv": ("valeur prédictive positive", "positive predictive value"),
    "npv": ("valeur prédictive négative", "negative predictive value"),
}

_ERRORS = {
    "sensitivity": ("faux négatifs (anomalies manquées)", "false negatives (missed findings)"),
    "specificity": ("faux positifs (fausses détections)", "false positives (false findings)"),
    "ppv": ("faux positifs (fausses détections)", "false positives (false findings)"),
    "npv": ("faux négatifs (anomalies manquées)", "false negatives (missed findings)"),
}

_POPULATION = {
    "sensitivity": ("examens positifs vérifiés", "verified positive exams"),
    "specificity": ("examens négatifs vérifiés", "verified negative exams"),
    "ppv": ("examens signalés positifs par le dispositif", "exams the device called positive"),
    "npv": ("examens signalés négatifs par le dispositif", "exams the device called negative"),
}

_SUBGROUP_COLUMNS = {
    "site": ("site", "site"),
    "modality": ("modalité", "modality"),
    "body_part": ("région anatomique", "body part"),
    "scanner_manufacturer": ("constructeur de l'appareil d'imagerie", "scanner manufacturer"),
    "scanner_model": ("modèle de l'appareil d'imagerie", "scanner model"),
    "age_band": ("tranche d'âge", "age band"),
    "patient_sex": ("sexe", "sex"),
}

_RULES = {
    "cusum": ("carte de contrôle CUSUM (Bernoulli)", "Bernoulli CUSUM control chart"),
    "ewma": ("carte de contrôle EWMA (Bernoulli)", "Bernoulli EWMA control chart"),
    "below_claim": (
        "comparaison mensuelle à la performance revendiquée",
        "monthly comparison with the claimed performance",
    ),
    "version_comparison": (
        "comparaison avec la version précédente",
        "comparison with the previous version",
    ),
    "version_change": ("changement de version", "version change"),
    "outage": ("arrêt des résultats du dispositif", "device output outage"),
    "verification_backlog": ("retard de vérification", "verification backlog"),
    "input_drift": ("dérive des données d'entrée", "input data drift"),
    "output_drift": ("dérive des sorties du dispositif", "device output drift"),
    "estimated_performance": (
        "performance estimée sans vérité terrain",
        "performance estimated without ground truth",
    ),
}

_ACTION_KINDS = {
    "restrict_use": ("restriction d'utilisation", "use restricted"),
    "raise_threshold": ("modification du seuil de fonctionnement", "operating threshold changed"),
    "contact_manufacturer": ("fabricant contacté", "manufacturer contacted"),
    "suspend_device": ("dispositif suspendu", "device suspended"),
    "retrain_users": ("formation des utilisateurs", "users retrained"),
    "other": ("autre", "other"),
}


def _pick(table: Mapping[str, tuple[str, str]], key: str | None, lang: str) -> str:
    if key is None or key not in table:
        return key or ""
    fr, en = table[key]
    return _t(lang, fr, en)


def _subgroup_text(subgroup: Mapping[str, Any] | None, lang: str) -> str:
    if not subgroup:
        return _t(lang, "tous les examens", "all exams")
    parts = [f"{_pick(_SUBGROUP_COLUMNS, str(k), lang)} = {v}" for k, v in subgroup.items()]
    return ", ".join(parts)


# --- the numbers of the evidence --------------------------------------------------------


def _claim(device: Mapping[str, Any], metric: str | None) -> tuple[float | None, Any, Any]:
    claimed = device.get("claimed_performance") or {}
    if metric not in ("sensitivity", "specificity"):
        return None, None, claimed.get("source")
    return claimed.get(metric), claimed.get(f"{metric}_ci"), claimed.get("source")


def key_numbers(finding: Mapping[str, Any], device: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of the incident, taken as they are from the finding and the registry.

    Keys (None when the rule does not give one): ``metric``, ``observed`` (0..1),
    ``observed_interval`` ([low, high]), ``confidence``, ``exams`` (cases the metric
    is computed on), ``errors`` (false negatives or false positives among them),
    ``affected_cases_total``, ``claimed``, ``claimed_interval``, ``claim_source``,
    ``threshold`` (the finding's), ``p_value``; for a version comparison also
    ``previous_version``, ``previous_observed``, ``previous_interval``,
    ``difference`` and ``difference_interval``; for a control chart
    ``change_point_exam`` and ``expected_error_rate``.
    """
    ev: Mapping[str, Any] = finding.get("evidence") or {}
    metric = finding.get("metric")
    claimed, claimed_ci, source = _claim(device, metric)
    numbers: dict[str, Any] = {
        "metric": metric,
        "observed": finding.get("value"),
        "observed_interval": ev.get("interval"),
        "confidence": ev.get("confidence", 0.95),
        "exams": None,
        "errors": None,
        "affected_cases_total": ev.get("affected_cases_total"),
        "claimed": claimed,
        "claimed_interval": list(claimed_ci) if claimed_ci else None,
        "claim_source": source,
        "threshold": finding.get("threshold"),
        "p_value": ev.get("p_value"),
    }
    rule = finding.get("rule")
    if rule in ("cusum", "ewma"):
        numbers.update(
            observed=ev.get("metric_since_change", finding.get("value")),
            observed_interval=ev.get("metric_interval"),
            exams=ev.get("cases_since_change"),
            errors=ev.get("events_since_change"),
            change_point_exam=ev.get("change_point_exam"),
            expected_error_rate=ev.get("in_control_rate"),
        )
    elif rule == "below_claim":
        n, correct = ev.get("n"), ev.get("correct")
        numbers.update(
            observed=ev.get("observed", finding.get("value")),
            exams=n,
            errors=None if n is None or correct is None else n - correct,
            claimed=ev.get("claimed", claimed),
        )
    elif rule == "version_comparison":
        after, before = ev.get("after") or {}, ev.get("before") or {}
        n, correct = after.get("n"), after.get("correct")
        numbers.update(
            observed_interval=after.get("interval"),
            exams=n,
            errors=None if n is None or correct is None else n - correct,
            previous_version=ev.get("previous_version"),
            previous_observed=finding.get("threshold"),
            previous_interval=before.get("interval"),
            difference=ev.get("difference"),
            difference_interval=ev.get("difference_interval"),
        )
    elif rule == "estimated_performance":
        numbers.update(
            observed=ev.get("estimate", finding.get("value")),
            exams=ev.get("cases"),
            claimed=finding.get("threshold"),
        )
    return numbers


# --- IMDRF suggestions ------------------------------------------------------------------


@dataclass(frozen=True)
class CodeSuggestion:
    """A suggested IMDRF AET code: never final, the reporter (or manufacturer) decides."""

    annex: str
    code: str | None
    term: str
    why: str
    to_check: bool = False


_A_FALSE_NEGATIVE = ("A090803", "False Negative Result")
_A_FALSE_POSITIVE = ("A090804", "False Positive Result")
_A_INCORRECT = ("A0908", "Incorrect, Inadequate or Imprecise Result or Readings")
_A_SOFTWARE = ("A11", "Computer Software Problem")
_A_UPGRADE = ("A110206", "Application Program Version or Upgrade Problem")
_A_NO_OUTPUT = ("A0907", "No Device Output")
_F_DELAY = ("F04", "Delay to Diagnosis")
_F_MISDIAGNOSIS = ("F13", "Misdiagnosis/ Misclassification")
_F_IMAGING = ("F2203", "Imaging Required")
_F_UNKNOWN = ("F24", "Insufficient Information")


def imdrf_suggestions(finding: Mapping[str, Any], lang: str) -> list[CodeSuggestion]:
    """Suggested Annex A (device problem) and Annex F (health impact) codes for a finding.

    Codes and terms are those of IMDRF AET release :data:`IMDRF_RELEASE` (terms are
    kept in English, as IMDRF publishes them). Annex F codes are candidates for the
    clinical review of the affected patients, which this tool does not know.
    """
    metric = finding.get("metric")
    rule = finding.get("rule")
    out: list[CodeSuggestion] = []

    def add(annex: str, item: tuple[str, str], fr: str, en: str) -> None:
        out.append(CodeSuggestion(annex, item[0], item[1], _t(lang, fr, en)))

    if metric in ("sensitivity", "npv"):
        add(
            "A",
            _A_FALSE_NEGATIVE,
            "le dispositif n'a pas signalé des anomalies présentes",
            "the device did not flag findings that were present",
        )
    elif metric in ("specificity", "ppv"):
        add(
            "A",
            _A_FALSE_POSITIVE,
            "le dispositif a signalé des anomalies absentes",
            "the device flagged findings that were absent",
        )
    elif rule == "outage":
        add("A", _A_NO_OUTPUT, "aucun résultat reçu du dispositif", "no result from the device")
    else:
        add(
            "A",
            _A_INCORRECT,
            "résultats hors des performances documentées",
            "results outside the documented performance",
        )
    if rule in ("version_comparison", "version_change") or (finding.get("evidence") or {}).get(
        "versions_since_change"
    ):
        add(
            "A",
            _A_UPGRADE,
            "la dégradation suit une mise à jour du logiciel",
            "the degradation follows a software update",
        )
    add(
        "A",
        _A_SOFTWARE,
        "niveau 1 de la hiérarchie, si un code plus général est préféré",
        "level-1 term, if a broader code is preferred",
    )
    if metric in ("sensitivity", "npv"):
        add(
            "F",
            _F_DELAY,
            "si le suivi des patients montre un diagnostic retardé",
            "if the patients' follow-up shows a delayed diagnosis",
        )
        add(
            "F",
            _F_MISDIAGNOSIS,
            "si un diagnostic erroné a été posé",
            "if a wrong diagnosis was made",
        )
    elif metric in ("specificity", "ppv"):
        add(
            "F",
            _F_IMAGING,
            "si des examens d'imagerie non prévus ont été faits",
            "if imaging that was not planned was done",
        )
        add(
            "F",
            _F_MISDIAGNOSIS,
            "si un diagnostic erroné a été posé",
            "if a wrong diagnosis was made",
        )
    add(
        "F",
        _F_UNKNOWN,
        "tant que la revue clinique des cas n'est pas faite",
        "until the clinical review of the cases is done",
    )
    return out


# --- the draft --------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftField:
    """One field of a form: its value, or None when a human must fill it."""

    key: str
    label: str
    value: str | None
    source: str = ""

    def text(self, lang: str) -> str:
        return TO_COMPLETE[lang] if self.value is None else self.value


@dataclass(frozen=True)
class DraftSection:
    key: str
    title: str
    fields: tuple[DraftField, ...]


@dataclass(frozen=True)
class Duty:
    """An EU AI Act article 26 deployer duty and what the draft contributes to it."""

    article: str
    duty: str
    support: str


@dataclass(frozen=True)
class DraftContent:
    """Everything a rendering (JSON, HTML, PDF) shows, in one language."""

    lang: str
    finding_id: int
    banner: str
    title: str
    notice: str
    generated_at: str
    ansm: tuple[DraftSection, ...]
    description: tuple[str, ...]
    examples: tuple[str, ...]
    numbers: dict[str, Any]
    consequences: dict[str, Any]
    imdrf: tuple[CodeSuggestion, ...]
    imdrf_note: str
    mir: dict[str, Any]
    ai_act: tuple[Duty, ...]
    ai_act_note: str
    mir_outline: tuple[tuple[str, str], ...] = ()
    labels: dict[str, str] = field(default_factory=dict)

    def to_complete(self) -> list[str]:
        """Keys of the ANSM fields a human must fill."""
        return [f"{s.key}.{f.key}" for s in self.ansm for f in s.fields if f.value is None]

    def to_json(self) -> dict[str, Any]:
        """The draft as a JSON-ready mapping (the ``--format json`` export)."""
        return {
            "status": self.banner,
            "draft": True,
            "sent": False,
            "lang": self.lang,
            "finding_id": self.finding_id,
            "generated_at": self.generated_at,
            "title": self.title,
            "notice": self.notice,
            "placeholder": TO_COMPLETE[self.lang],
            "ansm_declaration": {
                s.key: {
                    "title": s.title,
                    "fields": {
                        f.key: {
                            "label": f.label,
                            "value": f.value,
                            "to_complete": f.value is None,
                            **({"source": f.source} if f.source else {}),
                        }
                        for f in s.fields
                    },
                }
                for s in self.ansm
            },
            "fields_to_complete": self.to_complete(),
            "incident_description": list(self.description),
            "example_cases": list(self.examples),
            "key_numbers": self.numbers,
            "consequences_for_patients": self.consequences,
            "imdrf_suggestions": {
                "note": self.imdrf_note,
                "release": IMDRF_RELEASE,
                "codes": [
                    {
                        "annex": c.annex,
                        "code": c.code,
                        "term": c.term,
                        "why": c.why,
                        "suggestion": True,
                        "code_to_check": c.to_check,
                    }
                    for c in self.imdrf
                ],
            },
            "mir_sections": self.mir,
            "ai_act_article_26": {
                "note": self.ai_act_note,
                "duties": [
                    {"article": d.article, "duty": d.duty, "support": d.support}
                    for d in self.ai_act
                ],
            },
        }


def _f(key: str, label: str, value: Any, source: str = "") -> DraftField:
    text = None if value is None or value == "" or value == [] else str(value)
    return DraftField(key, label, text, source)


def _version(finding: Mapping[str, Any]) -> str | None:
    version = finding.get("device_version")
    if version:
        return str(version)
    seen = (finding.get("evidence") or {}).get("versions_since_change")
    return ", ".join(str(v) for v in seen) if seen else None


def _manufacturer_informed(actions: Sequence[Mapping[str, Any]], lang: str) -> tuple[str, str]:
    contacts = [a for a in actions if a.get("kind") == "contact_manufacturer"]
    if not contacts:
        return _t(lang, "non", "no"), TO_COMPLETE[lang]
    first = contacts[0]
    day = first.get("done_date") or first.get("due_date")
    when = _date(day, lang) if day else TO_COMPLETE[lang]
    return _t(lang, "oui", "yes"), when


def _measures(actions: Sequence[Mapping[str, Any]], lang: str) -> str | None:
    if not actions:
        return None
    lines = []
    for a in actions:
        state = (
            _t(
                lang,
                f"fait le {_date(a['done_date'], lang)}",
                f"done {_date(a['done_date'], lang)}",
            )
            if a.get("done_date")
            else _t(lang, "en cours", "in progress")
        )
        lines.append(
            f"{_pick(_ACTION_KINDS, a.get('kind'), lang)}: {a.get('description', '')} "
            f"({_t(lang, 'responsable', 'owner')} {a.get('owner', '')}, {state})"
        )
    return "; ".join(lines)


def _description(
    finding: Mapping[str, Any],
    device: Mapping[str, Any],
    numbers: Mapping[str, Any],
    lang: str,
) -> list[str]:
    """The incident description, one paragraph per item, from the evidence only."""
    metric = numbers["metric"]
    metric_name = _pick(_METRIC, metric, lang) if metric else ""
    version = _version(finding) or TO_COMPLETE[lang]
    rule = _pick(_RULES, finding.get("rule"), lang)
    subgroup = _subgroup_text(finding.get("subgroup"), lang)
    start, end = _date(finding.get("window_start"), lang), _date(finding.get("window_end"), lang)
    name = device.get("name", finding.get("device_id"))
    paragraphs = [
        _t(
            lang,
            f"Le suivi de la performance en vie réelle de {name} (version {version}) dans "
            f"l'établissement a mis en évidence un écart par {rule}, pour {subgroup}, sur les "
            f"examens du {start} au {end}.",
            f"Real-world performance monitoring of {name} (version {version}) in our "
            f"establishment found a deviation by {rule}, for {subgroup}, on the exams from "
            f"{start} to {end}.",
        )
    ]
    observed = numbers.get("observed")
    if metric in _METRIC and observed is not None:
        ci = format_interval(numbers.get("observed_interval"), numbers["confidence"], lang)
        ci_text = f" ({ci})" if ci else ""
        exams = numbers.get("exams")
        on = (
            _t(
                lang,
                f" sur {exams} {_pick(_POPULATION, metric, lang)}",
                f" on {exams} {_pick(_POPULATION, metric, lang)}",
            )
            if exams is not None
            else ""
        )
        sentence = _t(
            lang,
            f"La {metric_name} observée est de {format_percent(observed, lang)}{ci_text}{on}",
            f"The observed {metric_name} is {format_percent(observed, lang)}{ci_text}{on}",
        )
        if numbers.get("claimed") is not None:
            claim_ci = format_interval(numbers.get("claimed_interval"), 0.95, lang)
            claim_ci_text = f" ({claim_ci})" if claim_ci else ""
            source = numbers.get("claim_source")
            source_text = _t(lang, f", source : {source}", f", source: {source}") if source else ""
            sentence += _t(
                lang,
                f", pour une {metric_name} revendiquée par le fabricant de "
                f"{format_percent(numbers['claimed'], lang)}{claim_ci_text}{source_text}.",
                f", against a {metric_name} claimed by the manufacturer of "
                f"{format_percent(numbers['claimed'], lang)}{claim_ci_text}{source_text}.",
            )
        else:
            sentence += "."
        paragraphs.append(sentence)
    elif observed is not None:
        paragraphs.append(
            _t(
                lang,
                f"Valeur observée : {_number(observed, lang)} ; seuil : "
                f"{_number(numbers.get('threshold'), lang)}.",
                f"Observed value: {_number(observed, lang)}; threshold: "
                f"{_number(numbers.get('threshold'), lang)}.",
            )
        )
    if numbers.get("previous_version") is not None:
        diff_ci = format_interval(numbers.get("difference_interval"), numbers["confidence"], lang)
        prev_ci = format_interval(numbers.get("previous_interval"), numbers["confidence"], lang)
        paragraphs.append(
            _t(
                lang,
                f"Avec la version précédente {numbers['previous_version']}, la {metric_name} "
                f"était de {format_percent(numbers.get('previous_observed'), lang)} ({prev_ci}) ; "
                f"différence : {format_percent(numbers.get('difference'), lang)} ({diff_ci}).",
                f"With the previous version {numbers['previous_version']}, the {metric_name} "
                f"was {format_percent(numbers.get('previous_observed'), lang)} ({prev_ci}); "
                f"difference: {format_percent(numbers.get('difference'), lang)} ({diff_ci}).",
            )
        )
    if numbers.get("change_point_exam"):
        expected = numbers.get("expected_error_rate")
        expected_text = (
            _t(
                lang,
                f" ; taux d'erreur attendu {format_percent(expected, lang)}",
                f"; expected error rate {format_percent(expected, lang)}",
            )
            if expected is not None
            else ""
        )
        paragraphs.append(
            _t(
                lang,
                f"Début estimé de la dégradation : examen du "
                f"{_date(numbers['change_point_exam'], lang)}{expected_text}.",
                f"Estimated start of the degradation: exam of "
                f"{_date(numbers['change_point_exam'], lang)}{expected_text}.",
            )
        )
    errors = numbers.get("errors")
    if errors is not None and metric in _ERRORS:
        paragraphs.append(
            _t(
                lang,
                f"Nombre d'examens concernés : {errors} {_pick(_ERRORS, metric, lang)}.",
                f"Number of affected exams: {errors} {_pick(_ERRORS, metric, lang)}.",
            )
        )
    if numbers.get("p_value") is not None:
        paragraphs.append(
            _t(
                lang,
                f"Probabilité d'un tel écart si la performance revendiquée était tenue "
                f"(p) : {_number(numbers['p_value'], lang)}.",
                f"Probability of such a deviation were the claimed performance held (p): "
                f"{_number(numbers['p_value'], lang)}.",
            )
        )
    detected = _date(finding.get("detected_at"), lang)
    confirmed = _date(finding.get("confirmed_at"), lang)
    paragraphs.append(
        _t(
            lang,
            f"Écart détecté automatiquement le {detected} et confirmé le {confirmed} par "
            f"{finding.get('confirmed_by') or TO_COMPLETE[lang]} (revue qualité, constat "
            f"n° {finding.get('id')}).",
            f"Deviation detected automatically on {detected} and confirmed on {confirmed} by "
            f"{finding.get('confirmed_by') or TO_COMPLETE[lang]} (quality review, finding "
            f"no. {finding.get('id')}).",
        )
    )
    return paragraphs


def _consequences(
    numbers: Mapping[str, Any], cases: Mapping[str, int] | None, lang: str
) -> tuple[dict[str, Any], str]:
    metric = numbers.get("metric")
    errors = numbers.get("errors")
    missed = errors if metric in ("sensitivity", "npv") else None
    false = errors if metric in ("specificity", "ppv") else None
    data: dict[str, Any] = {
        "missed_findings": missed,
        "false_findings": false,
        "affected_cases_total": numbers.get("affected_cases_total"),
        "case_counts": dict(cases) if cases is not None else None,
        "clinical_consequences": None,
    }
    parts = []
    if missed is not None:
        parts.append(_t(lang, f"{missed} anomalies manquées", f"{missed} missed findings"))
    if false is not None:
        parts.append(_t(lang, f"{false} fausses détections", f"{false} false findings"))
    if cases is not None:
        n, verified = cases.get("cases", 0), cases.get("verified", 0)
        fn, fp, pending = cases.get("fn", 0), cases.get("fp", 0), cases.get("pending", 0)
        parts.append(
            _t(
                lang,
                f"cas de la fenêtre connus à ce jour : {n} dont {verified} vérifiés ({fn} faux "
                f"négatifs, {fp} faux positifs), {pending} en attente de vérité terrain",
                f"cases of the window known today: {n}, {verified} verified ({fn} false "
                f"negatives, {fp} false positives), {pending} awaiting ground truth",
            )
        )
    parts.append(
        _t(
            lang,
            f"conséquences cliniques pour les patients : {TO_COMPLETE[lang]}",
            f"clinical consequences for the patients: {TO_COMPLETE[lang]}",
        )
    )
    return data, "; ".join(parts)


def build_draft(
    finding: Mapping[str, Any],
    device: Mapping[str, Any],
    *,
    lang: str,
    generated_at: str,
    cases: Mapping[str, int] | None = None,
    actions: Sequence[Mapping[str, Any]] = (),
) -> DraftContent:
    """The draft of a confirmed finding in ``lang`` (fr or en).

    ``finding`` is a finding record, ``device`` the device's registry entry,
    ``cases`` the counts of the finding's cases (``cases``, ``verified``, ``tp``,
    ``fp``, ``tn``, ``fn``, ``pending``), None when unknown, ``actions`` its
    corrective actions (action records). Raises ValueError for an unknown language
    or a finding that was not confirmed (:func:`draft_refusal`).
    """
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    refusal = draft_refusal(str(finding.get("status")), finding.get("confirmed_at"))
    if refusal is not None:
        raise ValueError(refusal)
    numbers = key_numbers(finding, device)
    description = _description(finding, device, numbers, lang)
    consequences, consequences_text = _consequences(numbers, cases, lang)
    refs = list((finding.get("evidence") or {}).get("affected_cases") or [])
    examples = tuple(refs[:MAX_EXAMPLES])
    if examples:
        total = numbers.get("affected_cases_total") or len(refs)
        description.append(
            _t(
                lang,
                f"Exemples (références pseudonymisées, {len(examples)} sur {total}) : "
                f"{', '.join(examples)}.",
                f"Examples (pseudonymised references, {len(examples)} of {total}): "
                f"{', '.join(examples)}.",
            )
        )
    informed, informed_on = _manufacturer_informed(actions, lang)
    version = _version(finding)
    sites = ", ".join(device.get("sites") or []) or None
    departments = ", ".join(device.get("departments") or []) or None
    registry = _t(lang, "registre", "registry")
    evidence = _t(lang, "constat", "finding")

    def t(fr: str, en: str) -> str:
        return _t(lang, fr, en)

    ansm = (
        DraftSection(
            "reporter",
            t("Déclarant", "Reporter"),
            (
                _f("name", t("Nom et prénom", "Name"), None),
                _f("profession", t("Qualité / profession", "Profession"), None),
                _f("establishment", t("Établissement de santé", "Healthcare establishment"), None),
                _f("finess", t("N° FINESS", "FINESS number"), None),
                _f("department", t("Service", "Department"), departments, registry),
                _f("address", t("Adresse", "Address"), None),
                _f("phone", t("Téléphone", "Phone"), None),
                _f("email", t("Courriel", "E-mail"), None),
                _f(
                    "vigilance_correspondent",
                    t(
                        "Correspondant local de matériovigilance",
                        "Local materiovigilance correspondent",
                    ),
                    None,
                ),
            ),
        ),
        DraftSection(
            "device",
            t("Dispositif médical", "Medical device"),
            (
                _f("trade_name", t("Dénomination commerciale", "Trade name"), device.get("name")),
                _f("manufacturer", t("Fabricant", "Manufacturer"), device.get("manufacturer")),
                _f("model", t("Modèle / référence", "Model / reference"), device.get("model")),
                _f("software_version", t("Version du logiciel", "Software version"), version),
                _f(
                    "udi_di",
                    t("IUD-ID (UDI-DI), si connu", "UDI-DI, if known"),
                    device.get("udi_di"),
                ),
                _f("ce_class", t("Classe CE", "CE class"), device.get("ce_class")),
                _f(
                    "notified_body",
                    t("Organisme notifié", "Notified body"),
                    device.get("notified_body"),
                ),
                _f(
                    "intended_purpose",
                    t("Destination (usage prévu)", "Intended purpose"),
                    device.get("intended_purpose"),
                ),
                _f("supplier", t("Fournisseur / distributeur", "Supplier / distributor"), None),
                _f(
                    "date_in_service",
                    t("Date de mise en service", "Date in service"),
                    device.get("date_in_service"),
                ),
            ),
        ),
        DraftSection(
            "incident",
            t("Incident", "Incident"),
            (
                _f(
                    "date_of_occurrence",
                    t("Date de survenue", "Date of occurrence"),
                    t(
                        f"du {_date(finding.get('window_start'), lang)} au "
                        f"{_date(finding.get('window_end'), lang)} (examens concernés)",
                        f"from {_date(finding.get('window_start'), lang)} to "
                        f"{_date(finding.get('window_end'), lang)} (exams concerned)",
                    )
                    if finding.get("window_start")
                    else None,
                    evidence,
                ),
                _f(
                    "date_of_awareness",
                    t("Date de constat / de connaissance", "Date of awareness"),
                    t(
                        f"{_date(finding.get('detected_at'), lang)} (détection), "
                        f"{_date(finding.get('confirmed_at'), lang)} (confirmation)",
                        f"{_date(finding.get('detected_at'), lang)} (detection), "
                        f"{_date(finding.get('confirmed_at'), lang)} (confirmation)",
                    ),
                    evidence,
                ),
                _f("place", t("Lieu de survenue", "Place"), sites, registry),
                _f(
                    "description",
                    t("Description des faits", "Description of the facts"),
                    " ".join(description),
                    evidence,
                ),
                _f(
                    "patient_consequences",
                    t("Conséquences pour le(s) patient(s)", "Consequences for the patient(s)"),
                    consequences_text,
                    evidence,
                ),
                _f(
                    "seriousness",
                    t(
                        "Gravité (incident grave ou non, selon le déclarant)",
                        "Seriousness (serious incident or not, as the reporter judges)",
                    ),
                    None,
                ),
                _f(
                    "measures_taken",
                    t("Mesures prises", "Measures taken"),
                    _measures(actions, lang),
                    evidence,
                ),
                _f(
                    "manufacturer_informed",
                    t("Fabricant informé", "Manufacturer informed"),
                    informed,
                ),
                _f(
                    "manufacturer_informed_on",
                    t("Date d'information du fabricant", "Date the manufacturer was informed"),
                    None if informed_on == TO_COMPLETE[lang] else informed_on,
                ),
            ),
        ),
    )
    imdrf = tuple(imdrf_suggestions(finding, lang))
    mir = _mir(finding, device, numbers, description, consequences, imdrf, actions, lang)
    return DraftContent(
        lang=lang,
        finding_id=int(finding["id"]),
        banner=DRAFT_BANNER[lang],
        title=t(
            "Signalement de matériovigilance - projet (déclaration d'un professionnel de "
            "santé, Cerfa n° 10246)",
            "Materiovigilance report - draft (health-professional declaration to ANSM, "
            "Cerfa no. 10246)",
        ),
        notice=t(
            "Document préparé automatiquement par dmn-monitor à partir d'un constat confirmé. "
            "Il n'a été envoyé ni à l'ANSM ni au fabricant : le déclarant le relit, complète "
            f"les champs marqués {TO_COMPLETE['fr']} et le transmet lui-même.",
            "Prepared automatically by dmn-monitor from a confirmed finding. It has been sent "
            "neither to ANSM nor to the manufacturer: the reporter reviews it, fills the fields "
            f"marked {TO_COMPLETE['en']} and sends it themselves.",
        ),
        generated_at=generated_at,
        ansm=ansm,
        description=tuple(description),
        examples=examples,
        numbers=numbers,
        consequences=consequences,
        imdrf=imdrf,
        imdrf_note=t(
            f"Suggestions uniquement (terminologie IMDRF AET, version {IMDRF_RELEASE} ; "
            "termes en anglais) : à valider par le déclarant et le fabricant avec la version "
            "en vigueur. Annexe A : problème du dispositif ; annexe F : impact sur la santé.",
            f"Suggestions only (IMDRF AET terminology, release {IMDRF_RELEASE}): for the "
            "reporter and the manufacturer to confirm against the current release. Annex A: "
            "device problem; Annex F: health impact.",
        ),
        mir=mir,
        ai_act=_ai_act(informed, lang),
        ai_act_note=t(
            "S'applique si le dispositif est un système d'IA à haut risque au sens du "
            "règlement (UE) 2024/1689 (article 6, paragraphe 1 : dispositif médical soumis à "
            "un organisme notifié) ; date d'application à vérifier.",
            "Applies when the device is a high-risk AI system under Regulation (EU) 2024/1689 "
            "(article 6(1): a medical device assessed by a notified body); date of "
            "application to be checked.",
        ),
        mir_outline=_mir_outline(lang),
        labels=_labels(lang),
    )


def _mir_outline(lang: str) -> tuple[tuple[str, str], ...]:
    """What each MIR section of the JSON export holds."""

    def t(fr: str, en: str) -> str:
        return _t(lang, fr, en)

    return (
        (
            t("1. Informations administratives", "1. Administrative information"),
            t(
                "autorité compétente, dates de l'incident, de détection et de confirmation ; "
                "type et classification du rapport à compléter",
                "competent authority, dates of the incident, detection and confirmation; "
                "report type and classification to complete",
            ),
        ),
        (
            t("2. Dispositif médical", "2. Medical device"),
            t(
                "nom commercial, modèle, version, IUD-ID, classe, organisme notifié, destination",
                "trade name, model, version, UDI-DI, class, notified body, intended purpose",
            ),
        ),
        (
            t("3. Incident", "3. Incident"),
            t(
                "description, chiffres et preuves du constat, cas concernés, codes IMDRF "
                "suggérés, mesures prises par l'établissement",
                "description, figures and evidence of the finding, affected cases, suggested "
                "IMDRF codes, measures taken by the facility",
            ),
        ),
        (
            t("4. Analyse du fabricant", "4. Manufacturer analysis"),
            t("à remplir par le fabricant", "for the manufacturer to fill"),
        ),
        (
            t("5. Commentaires", "5. General comments"),
            t("données de surveillance disponibles", "monitoring data available"),
        ),
    )


def _labels(lang: str) -> dict[str, str]:
    """Headings of the renderings."""

    def t(fr: str, en: str) -> str:
        return _t(lang, fr, en)

    return {
        "description": t("Description de l'incident", "Incident description"),
        "numbers": t("Chiffres du constat", "Figures of the finding"),
        "imdrf": t("Codes IMDRF suggérés", "Suggested IMDRF codes"),
        "annex": t("Annexe", "Annex"),
        "code": t("Code", "Code"),
        "term": t("Terme", "Term"),
        "why": t("Motif", "Why"),
        "suggestion": t("suggestion", "suggestion"),
        "mir": t(
            "Export pour le fabricant (sections du formulaire MIR 7.3.1)",
            "Export for the manufacturer (MIR form 7.3.1 sections)",
        ),
        "mir_note": t(
            "Le détail structuré est dans l'export JSON (--format json).",
            "The structured detail is in the JSON export (--format json).",
        ),
        "ai_act": t(
            "Obligations du déployeur (AI Act, article 26)",
            "Deployer duties (AI Act, article 26)",
        ),
        "generated": t("Généré le", "Generated on"),
        "finding": t("Constat", "Finding"),
        "page": t("Page", "Page"),
        "see_description": t(
            "voir « Description de l'incident » ci-dessous",
            "see 'Incident description' below",
        ),
        "to_complete_legend": t(
            f"{TO_COMPLETE['fr']} : champ à remplir par le déclarant.",
            f"{TO_COMPLETE['en']}: field for the reporter to fill.",
        ),
    }


def _number_rows(numbers: Mapping[str, Any], lang: str) -> dict[str, str]:
    """The key numbers as display texts (used by the MIR section and the renderings)."""
    rows = {}
    conf = numbers.get("confidence", 0.95)
    if numbers.get("observed") is not None:
        rows["observed"] = format_percent(numbers["observed"], lang)
    if numbers.get("observed_interval"):
        rows["observed_interval"] = format_interval(numbers["observed_interval"], conf, lang)
    if numbers.get("claimed") is not None:
        rows["claimed"] = format_percent(numbers["claimed"], lang)
    if numbers.get("claimed_interval"):
        rows["claimed_interval"] = format_interval(numbers["claimed_interval"], 0.95, lang)
    for key in ("exams", "errors", "affected_cases_total"):
        if numbers.get(key) is not None:
            rows[key] = str(numbers[key])
    return rows


def number_labels(lang: str) -> dict[str, str]:
    """Display labels of :func:`key_numbers` keys shown in the renderings."""

    def t(fr: str, en: str) -> str:
        return _t(lang, fr, en)

    return {
        "observed": t("Valeur observée", "Observed value"),
        "observed_interval": t("Intervalle de confiance", "Confidence interval"),
        "claimed": t("Valeur revendiquée", "Claimed value"),
        "claimed_interval": t("Intervalle revendiqué", "Claimed interval"),
        "exams": t("Examens évalués", "Exams evaluated"),
        "errors": t("Erreurs du dispositif", "Device errors"),
        "affected_cases_total": t("Examens concernés", "Affected exams"),
    }


def number_rows(numbers: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, text) of the key numbers, in display order."""
    labels = number_labels(lang)
    return [(labels[k], v) for k, v in _number_rows(numbers, lang).items()]


def _mir(
    finding: Mapping[str, Any],
    device: Mapping[str, Any],
    numbers: Mapping[str, Any],
    description: Sequence[str],
    consequences: Mapping[str, Any],
    imdrf: Sequence[CodeSuggestion],
    actions: Sequence[Mapping[str, Any]],
    lang: str,
) -> dict[str, Any]:
    """The draft laid out like the MIR form's sections (keys in English, texts in ``lang``).

    This is not the official MIR XML: it groups what the user facility knows so the
    manufacturer can copy it into their report; ``None`` marks what only they know.
    """
    todo = TO_COMPLETE[lang]
    return {
        "form": "EU MDR Manufacturer Incident Report (MIR) 7.3.1 - sections",
        "section_1_administrative_information": {
            "competent_authority": "ANSM (France)",
            "report_type": todo,
            "incident_classification": todo,
            "date_of_incident": {
                "from": finding.get("window_start"),
                "to": finding.get("window_end"),
            },
            "user_facility_awareness_date": finding.get("detected_at"),
            "confirmation_date": finding.get("confirmed_at"),
            "manufacturer_awareness_date": None,
            "manufacturer": {"name": device.get("manufacturer"), "address": None},
            "authorised_representative": None,
            "healthcare_facility": {"name": todo, "contact": todo},
        },
        "section_2_medical_device_information": {
            "trade_name": device.get("name"),
            "model": device.get("model"),
            "software_version": _version(finding),
            "known_versions": list(device.get("versions") or []),
            "udi_di": device.get("udi_di"),
            "risk_class": device.get("ce_class"),
            "notified_body": device.get("notified_body"),
            "intended_purpose": device.get("intended_purpose"),
            "target_condition": device.get("target"),
            "emdn_code": None,
        },
        "section_3_incident_information": {
            "description": list(description),
            "rule": finding.get("rule"),
            "metric": finding.get("metric"),
            "subgroup": finding.get("subgroup"),
            "window": {"start": finding.get("window_start"), "end": finding.get("window_end")},
            "key_numbers": dict(numbers),
            "evidence": finding.get("evidence"),
            "patients_involved": consequences.get("affected_cases_total"),
            "consequences_for_patients": dict(consequences),
            "imdrf_annex_a_suggested": [
                {"code": c.code, "term": c.term} for c in imdrf if c.annex == "A"
            ],
            "imdrf_annex_e_health_effect": None,
            "imdrf_annex_f_suggested": [
                {"code": c.code, "term": c.term} for c in imdrf if c.annex == "F"
            ],
            "usage_context": {
                "user": _t(lang, "professionnel de santé", "health professional"),
                "sites": list(device.get("sites") or []),
                "departments": list(device.get("departments") or []),
            },
            "user_facility_measures": [dict(a) for a in actions],
        },
        "section_4_manufacturer_analysis": {
            "investigation": None,
            "root_cause": None,
            "imdrf_annex_b_c_d": None,
            "corrective_action": None,
        },
        "section_5_general_comments": _t(
            lang,
            "Données de surveillance disponibles sur demande (cas pseudonymisés).",
            "Monitoring data available on request (pseudonymised cases).",
        ),
    }


def _ai_act(informed: str, lang: str) -> tuple[Duty, ...]:
    def t(fr: str, en: str) -> str:
        return _t(lang, fr, en)

    return (
        Duty(
            "26(5)",
            t(
                "Surveiller le fonctionnement selon la notice ; en cas de risque ou d'incident "
                "grave, informer sans délai le fournisseur puis l'autorité de surveillance du "
                "marché, et suspendre l'utilisation si nécessaire.",
                "Monitor the operation as the instructions for use say; on a risk or a "
                "serious incident, inform the provider without undue delay, then the market "
                "surveillance authority, and suspend use where needed.",
            ),
            t(
                f"Le constat documente la surveillance ; ce projet sert à informer le "
                f"fournisseur (fabricant informé : {informed}).",
                f"The finding documents the monitoring; this draft serves to inform the "
                f"provider (manufacturer informed: {informed}).",
            ),
        ),
        Duty(
            "26(6)",
            t(
                "Conserver au moins six mois les journaux générés automatiquement par le "
                "système, dans la mesure où ils sont sous le contrôle du déployeur.",
                "Keep the logs automatically generated by the system for at least six months, "
                "to the extent they are under the deployer's control.",
            ),
            t(
                "dmn-monitor conserve les résultats du dispositif, les vérités terrain, les "
                "constats et un journal d'audit non modifiable ; durée de conservation : "
                f"{TO_COMPLETE['fr']}.",
                "dmn-monitor keeps the device results, the ground truth, the findings and an "
                "append-only audit log; retention period: "
                f"{TO_COMPLETE['en']}.",
            ),
        ),
        Duty(
            "26(2)",
            t(
                "Confier le contrôle humain à des personnes compétentes et formées.",
                "Assign human oversight to competent, trained persons.",
            ),
            t(
                "Le constat a été confirmé par une personne nommée (journal d'audit).",
                "The finding was confirmed by a named person (audit log).",
            ),
        ),
    )
