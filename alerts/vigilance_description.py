"""The incident description of the materiovigilance draft, written from the evidence.

The paragraphs of the description, the consequences for the patients, the
measures taken and whether the manufacturer was informed, in French or English.
Every number comes from :func:`alerts.vigilance.key_numbers`; nothing is
recomputed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alerts.incident_texts import finding_text, incident_text
from alerts.incidents import group_incidents
from alerts.vigilance_format import format_date, format_interval, format_number, format_percent
from alerts.vigilance_texts import (
    ACTION_KINDS,
    ERRORS,
    METRIC,
    POPULATION,
    RULES,
    SUBGROUP_COLUMNS,
    TO_COMPLETE,
    pick,
    tr,
)

__all__ = [
    "device_version",
    "incident_description",
    "incident_paragraph",
    "manufacturer_informed",
    "measures_text",
    "patient_consequences",
    "related_paragraph",
    "subgroup_text",
]


def subgroup_text(subgroup: Mapping[str, Any] | None, lang: str) -> str:
    """The subgroup as ``column = value, ...``; all exams without one."""
    if not subgroup:
        return tr(lang, "tous les examens", "all exams")
    parts = [f"{pick(SUBGROUP_COLUMNS, str(k), lang)} = {v}" for k, v in subgroup.items()]
    return ", ".join(parts)


def device_version(finding: Mapping[str, Any]) -> str | None:
    """The finding's device version, else the versions seen since the change; None."""
    version = finding.get("device_version")
    if version:
        return str(version)
    seen = (finding.get("evidence") or {}).get("versions_since_change")
    return ", ".join(str(v) for v in seen) if seen else None


def manufacturer_informed(actions: Sequence[Mapping[str, Any]], lang: str) -> tuple[str, str]:
    """("yes"/"no", date) of the first contact_manufacturer action, in ``lang``."""
    contacts = [a for a in actions if a.get("kind") == "contact_manufacturer"]
    if not contacts:
        return tr(lang, "non", "no"), TO_COMPLETE[lang]
    first = contacts[0]
    day = first.get("done_date") or first.get("due_date")
    when = format_date(day, lang) if day else TO_COMPLETE[lang]
    return tr(lang, "oui", "yes"), when


def measures_text(actions: Sequence[Mapping[str, Any]], lang: str) -> str | None:
    """The corrective actions as one text, None without any."""
    if not actions:
        return None
    lines = []
    for a in actions:
        state = (
            tr(
                lang,
                f"fait le {format_date(a['done_date'], lang)}",
                f"done {format_date(a['done_date'], lang)}",
            )
            if a.get("done_date")
            else tr(lang, "en cours", "in progress")
        )
        lines.append(
            f"{pick(ACTION_KINDS, a.get('kind'), lang)}: {a.get('description', '')} "
            f"({tr(lang, 'responsable', 'owner')} {a.get('owner', '')}, {state})"
        )
    return "; ".join(lines)


def incident_description(
    finding: Mapping[str, Any],
    device: Mapping[str, Any],
    numbers: Mapping[str, Any],
    lang: str,
) -> list[str]:
    """The incident description, one paragraph per item, from the evidence only."""
    metric = numbers["metric"]
    metric_name = pick(METRIC, metric, lang) if metric else ""
    version = device_version(finding) or TO_COMPLETE[lang]
    rule = pick(RULES, finding.get("rule"), lang)
    subgroup = subgroup_text(finding.get("subgroup"), lang)
    start, end = (
        format_date(finding.get("window_start"), lang),
        format_date(finding.get("window_end"), lang),
    )
    name = device.get("name", finding.get("device_id"))
    paragraphs = [
        tr(
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
    if metric in METRIC and observed is not None:
        ci = format_interval(numbers.get("observed_interval"), numbers["confidence"], lang)
        ci_text = f" ({ci})" if ci else ""
        exams = numbers.get("exams")
        on = (
            tr(
                lang,
                f" sur {exams} {pick(POPULATION, metric, lang)}",
                f" on {exams} {pick(POPULATION, metric, lang)}",
            )
            if exams is not None
            else ""
        )
        sentence = tr(
            lang,
            f"La {metric_name} observée est de {format_percent(observed, lang)}{ci_text}{on}",
            f"The observed {metric_name} is {format_percent(observed, lang)}{ci_text}{on}",
        )
        if numbers.get("claimed") is not None:
            claim_ci = format_interval(numbers.get("claimed_interval"), 0.95, lang)
            claim_ci_text = f" ({claim_ci})" if claim_ci else ""
            source = numbers.get("claim_source")
            source_text = tr(lang, f", source : {source}", f", source: {source}") if source else ""
            sentence += tr(
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
            tr(
                lang,
                f"Valeur observée : {format_number(observed, lang)} ; seuil : "
                f"{format_number(numbers.get('threshold'), lang)}.",
                f"Observed value: {format_number(observed, lang)}; threshold: "
                f"{format_number(numbers.get('threshold'), lang)}.",
            )
        )
    if numbers.get("previous_version") is not None:
        diff_ci = format_interval(numbers.get("difference_interval"), numbers["confidence"], lang)
        prev_ci = format_interval(numbers.get("previous_interval"), numbers["confidence"], lang)
        paragraphs.append(
            tr(
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
            tr(
                lang,
                f" ; taux d'erreur attendu {format_percent(expected, lang)}",
                f"; expected error rate {format_percent(expected, lang)}",
            )
            if expected is not None
            else ""
        )
        paragraphs.append(
            tr(
                lang,
                f"Début estimé de la dégradation : examen du "
                f"{format_date(numbers['change_point_exam'], lang)}{expected_text}.",
                f"Estimated start of the degradation: exam of "
                f"{format_date(numbers['change_point_exam'], lang)}{expected_text}.",
            )
        )
    errors = numbers.get("errors")
    if errors is not None and metric in ERRORS:
        paragraphs.append(
            tr(
                lang,
                f"Nombre d'examens concernés : {errors} {pick(ERRORS, metric, lang)}.",
                f"Number of affected exams: {errors} {pick(ERRORS, metric, lang)}.",
            )
        )
    if numbers.get("p_value") is not None:
        paragraphs.append(
            tr(
                lang,
                f"Probabilité d'un tel écart si la performance revendiquée était tenue "
                f"(p) : {format_number(numbers['p_value'], lang)}.",
                f"Probability of such a deviation were the claimed performance held (p): "
                f"{format_number(numbers['p_value'], lang)}.",
            )
        )
    detected = format_date(finding.get("detected_at"), lang)
    confirmed = format_date(finding.get("confirmed_at"), lang)
    paragraphs.append(
        tr(
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


def patient_consequences(
    numbers: Mapping[str, Any], cases: Mapping[str, int] | None, lang: str
) -> tuple[dict[str, Any], str]:
    """The consequences for the patients: the data of the export and the form's text."""
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
        parts.append(tr(lang, f"{missed} anomalies manquées", f"{missed} missed findings"))
    if false is not None:
        parts.append(tr(lang, f"{false} fausses détections", f"{false} false findings"))
    if cases is not None:
        n, verified = cases.get("cases", 0), cases.get("verified", 0)
        fn, fp, pending = cases.get("fn", 0), cases.get("fp", 0), cases.get("pending", 0)
        parts.append(
            tr(
                lang,
                f"cas de la fenêtre connus à ce jour : {n} dont {verified} vérifiés ({fn} faux "
                f"négatifs, {fp} faux positifs), {pending} en attente de vérité terrain",
                f"cases of the window known today: {n}, {verified} verified ({fn} false "
                f"negatives, {fp} false positives), {pending} awaiting ground truth",
            )
        )
    parts.append(
        tr(
            lang,
            f"conséquences cliniques pour les patients : {TO_COMPLETE[lang]}",
            f"clinical consequences for the patients: {TO_COMPLETE[lang]}",
        )
    )
    return data, "; ".join(parts)


MAX_RELATED_SHOWN = 8
"""Other findings of the incident named in the description at most (all are counted)."""


def related_paragraph(
    related: Sequence[Mapping[str, Any]],
    lang: str,
    device: Mapping[str, Any] | None = None,
) -> str | None:
    """One paragraph naming the other slices and rules of the same incident, in plain
    words (:func:`alerts.incident_texts.finding_text`), or None.

    ``related`` are finding records (``id``, ``rule``, ``metric``, ``device_version``,
    ``subgroup``, ``value``, ``evidence``...): the findings covered by this one
    (dismissed as the same root cause); ``device`` the registry entry (claim, target).
    """
    if not related:
        return None
    shown = [
        f"{finding_text(record, lang, device)} (#{record['id']})"
        for record in sorted(related, key=lambda r: int(r["id"]))[:MAX_RELATED_SHOWN]
    ]
    more = len(related) - len(shown)
    tail = tr(lang, f" et {more} autre(s)", f" and {more} more") if more > 0 else ""
    return tr(
        lang,
        f"La même dégradation a été détectée dans {len(related)} autre(s) sous-groupe(s) ou "
        f"par d'autres règles, regroupés dans ce constat : {' ; '.join(shown)}{tail}.",
        f"The same degradation was detected in {len(related)} other subgroup(s) or by other "
        f"rules, grouped under this finding: {'; '.join(shown)}{tail}.",
    )


def incident_paragraph(
    finding: Mapping[str, Any],
    related: Sequence[Mapping[str, Any]],
    device: Mapping[str, Any] | None,
    lang: str,
) -> str:
    """The degradation first, in plain words: the incident of ``finding`` among itself
    and ``related`` (:mod:`alerts.incidents`), named by its root - the narrowest slice
    that explains the drop - and, when the finding is not that root, what it shows."""
    grouped = group_incidents([finding, *related])
    incident = next(i for i in grouped if int(finding["id"]) in i.finding_ids)
    text = tr(
        lang,
        f"Dégradation constatée : {incident_text(incident, lang, device)}.",
        f"Degradation found: {incident_text(incident, lang, device)}.",
    )
    if incident.id != int(finding["id"]):
        mine = finding_text(finding, lang, device)
        text += tr(
            lang,
            f" Le constat n° {finding['id']} en est un élément de preuve : {mine}.",
            f" Finding no. {finding['id']} is evidence of it: {mine}.",
        )
    return text
