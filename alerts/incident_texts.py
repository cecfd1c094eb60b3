"""Incidents and findings in plain French and English, for the people who act on them.

What a quality manager reads: the slice in words ("version 2.4.0 on Fujifilm
images", "patients aged 65 and over", "site CHU-Nord"), the metric against its
reference in percentages, since when, and how many patients it concerns - "version
2.4.0 on Fujifilm images: sensitivity 63% against 91% claimed, since 21 July 2025,
20 missed fractures" / "version 2.4.0 sur les images Fujifilm : sensibilité 63 %
pour 91 % revendiqués, depuis le 21 juillet 2025, 20 fractures manquées". Chart
statistics, decision limits and p-values stay in a finding's details.

Inputs are finding records (:func:`monitor.findings.finding_record`), incidents
(:class:`alerts.incidents.Incident`) and, optionally, the device's registry entry as
a mapping (``target``, ``claimed_performance``); a figure the evidence lacks is left
out of the sentence, never guessed. Texts are plain (nothing escaped: HTML escaping
is the templates' job); values read from files (versions, subgroup values) are cut
to :data:`MAX_VALUE` characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from alerts.incidents import Incident, slice_conditions

__all__ = [
    "LANGS",
    "MAX_VALUE",
    "finding_text",
    "incident_text",
    "slice_text",
    "supporting_text",
]

LANGS = ("fr", "en")
MAX_VALUE = 40
"""Characters of a version or subgroup value shown at most (values come from files)."""

NNBSP = "\u202f"
"""Narrow no-break space: before % and between thousands in French."""

_Pair = tuple[str, str]

MONTHS: dict[str, tuple[str, ...]] = {
    "fr": (
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}

_METRICS: dict[str, _Pair] = {
    "sensitivity": ("sensibilité", "sensitivity"),
    "specificity": ("spécificité", "specificity"),
    "ppv": ("valeur prédictive positive", "positive predictive value"),
    "npv": ("valeur prédictive négative", "negative predictive value"),
}

_MISSED: dict[str, tuple[_Pair, _Pair]] = {
    "fracture": (
        ("fracture manquée", "fractures manquées"),
        ("missed fracture", "missed fractures"),
    ),
    "lung_nodule": (
        ("nodule pulmonaire manqué", "nodules pulmonaires manqués"),
        ("missed lung nodule", "missed lung nodules"),
    ),
}
_MISSED_ANY = (("anomalie manquée", "anomalies manquées"), ("missed finding", "missed findings"))
_FALSE_POSITIVES = (("faux positif", "faux positifs"), ("false positive", "false positives"))

_BODY_PARTS: dict[str, _Pair] = {
    "HAND": ("de la main", "hand"),
    "FINGER": ("des doigts", "finger"),
    "WRIST": ("du poignet", "wrist"),
    "FOREARM": ("de l'avant-bras", "forearm"),
    "ELBOW": ("du coude", "elbow"),
    "ARM": ("du bras", "arm"),
    "SHOULDER": ("de l'épaule", "shoulder"),
    "CLAVICLE": ("de la clavicule", "clavicle"),
    "HIP": ("de la hanche", "hip"),
    "PELVIS": ("du bassin", "pelvis"),
    "KNEE": ("du genou", "knee"),
    "LEG": ("de la jambe", "leg"),
    "ANKLE": ("de la cheville", "ankle"),
    "FOOT": ("du pied", "foot"),
    "SPINE": ("du rachis", "spine"),
    "CSPINE": ("du rachis cervical", "cervical spine"),
    "TSPINE": ("du rachis thoracique", "thoracic spine"),
    "LSPINE": ("du rachis lombaire", "lumbar spine"),
    "SKULL": ("du crâne", "skull"),
    "HEAD": ("de la tête", "head"),
    "CHEST": ("du thorax", "chest"),
    "ABDOMEN": ("de l'abdomen", "abdomen"),
}

_DIMENSIONS: dict[str, _Pair] = {
    "site": ("site", "site"),
    "modality": ("modalité", "modality"),
    "body_part": ("région anatomique", "body part"),
    "scanner_manufacturer": ("constructeur", "scanner manufacturer"),
    "scanner_model": ("modèle d'appareil", "scanner model"),
    "patient_sex": ("sexe", "sex"),
    "target": ("cible", "target"),
    "age_band": ("tranche d'âge", "age band"),
}

_COLUMNS: dict[str, _Pair] = {
    "patient_age": ("de l'âge des patients", "patient age"),
    "patient_sex": ("du sexe des patients", "patient sex"),
    "ai_score": ("du score de l'IA", "the AI score"),
    "ai_result": ("des résultats de l'IA", "the AI results"),
    "site": ("des sites", "sites"),
    "modality": ("des modalités", "modalities"),
    "body_part": ("des régions anatomiques", "body parts"),
    "scanner_manufacturer": ("des constructeurs d'appareils", "scanner manufacturers"),
    "scanner_model": ("des modèles d'appareils", "scanner models"),
}
"""Columns a drift finding names (its ``metric``); in French after "répartition"."""


def _check(lang: str) -> int:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r} (expected one of {', '.join(LANGS)})")
    return LANGS.index(lang)


def _pick(pair: _Pair, lang: str) -> str:
    return pair[_check(lang)]


def _bounded(value: Any) -> str:
    """A value read from a file, on one line and at most :data:`MAX_VALUE` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(n: float, lang: str) -> str:
    text = f"{round(n):,d}"
    return text.replace(",", NNBSP) if lang == "fr" else text


def _percent(value: float, lang: str, digits: int = 0) -> str:
    text = f"{100 * value:.{digits}f}"
    return f"{text.replace('.', ',')}{NNBSP}%" if lang == "fr" else f"{text}%"


def _percents(value: float, reference: float | None, lang: str) -> tuple[str, str | None]:
    """Two proportions in whole percent, with one decimal when whole ones would match."""
    digits = 0
    if reference is not None and round(100 * value) == round(100 * reference):
        digits = 1
    shown = None if reference is None else _percent(reference, lang, digits)
    return _percent(value, lang, digits), shown


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            return None


def _date_text(d: date, lang: str) -> str:
    """``21 July 2025`` / ``21 juillet 2025`` (``1er juillet 2025``)."""
    month = MONTHS[lang][d.month - 1]
    if lang == "fr":
        return f"{'1er' if d.day == 1 else d.day} {month} {d.year}"
    return f"{d.day} {month} {d.year}"


def _since(d: date, lang: str) -> str:
    return f"depuis le {_date_text(d, lang)}" if lang == "fr" else f"since {_date_text(d, lang)}"


def _month_text(d: date, lang: str) -> str:
    month = MONTHS[lang][d.month - 1]
    return f"en {month} {d.year}" if lang == "fr" else f"in {month} {d.year}"


# --- slices ------------------------------------------------------------------------------

_AGE = re.compile(r"^\s*(?:(<|>=|≥)\s*(\d+)|(\d+)\s*-\s*(\d+))\s*$")


def _age(value: str, lang: str) -> str | None:
    """``patients aged 65 and over`` / ``patients de 65 ans et plus``; None if unparsed."""
    match = _AGE.match(value)
    if match is None:
        return None
    sign, bound, low, high = match.groups()
    if sign == "<":
        return f"patients de moins de {bound} ans" if lang == "fr" else f"patients under {bound}"
    if sign is not None:
        if lang == "fr":
            return f"patients de {bound} ans et plus"
        return f"patients aged {bound} and over"
    return f"patients de {low} à {high} ans" if lang == "fr" else f"patients aged {low} to {high}"


def _subgroup_phrase(dimension: str, raw: Any, lang: str) -> tuple[str, str]:
    """One subgroup value in words: (alone, after a version)."""
    value = _bounded(raw)
    fr = lang == "fr"
    if dimension == "scanner_manufacturer":
        alone = f"images {value}" if fr else f"{value} images"
        return alone, (f"sur les {alone}" if fr else f"on {alone}")
    if dimension == "scanner_model":
        alone = f"images de l'appareil {value}" if fr else f"images from the {value} scanner"
        return alone, (f"sur les {alone}" if fr else f"on {alone}")
    if dimension == "modality":
        alone = f"images {value}" if fr else f"{value} images"
        return alone, (f"sur les {alone}" if fr else f"on {alone}")
    if dimension == "body_part":
        part = _BODY_PARTS.get(str(raw).strip().upper())
        if part is not None:
            alone = f"examens {part[0]}" if fr else f"{part[1]} exams"
        else:
            alone = f"examens de la région {value}" if fr else f"{value} exams"
        return alone, (f"sur les {alone}" if fr else f"on {alone}")
    if dimension == "site":
        alone = f"site {value}"
        return alone, (f"sur le {alone}" if fr else f"at {alone}")
    if dimension == "age_band":
        words = _age(str(raw), lang)
        if words is not None:
            return words, (f"chez les {words}" if fr else f"for {words}")
    if dimension == "patient_sex" and str(raw).strip().upper() in ("F", "M"):
        female = str(raw).strip().upper() == "F"
        alone = ("femmes" if female else "hommes") if fr else ("women" if female else "men")
        return alone, (f"chez les {alone}" if fr else f"for {alone}")
    name = _pick(_DIMENSIONS[dimension], lang) if dimension in _DIMENSIONS else _bounded(dimension)
    alone = f"{name} {value}"
    return alone, (f"pour {alone}" if fr else f"for {alone}")


def slice_text(version: Any, subgroup: Mapping[str, Any] | None, lang: str) -> str:
    """A slice in words: ``version 2.4.0 on Fujifilm images`` / ``version 2.4.0 sur les
    images Fujifilm``, ``patients aged 65 and over``, ``site CHU-Nord``; ``all exams`` /
    ``tous les examens`` for the whole device."""
    _check(lang)
    phrases = [_subgroup_phrase(str(k), v, lang) for k, v in sorted((subgroup or {}).items())]
    joiner = " et " if lang == "fr" else " and "
    if version:
        head = f"version {_bounded(version)}"
        return f"{head} {joiner.join(p[1] for p in phrases)}" if phrases else head
    if phrases:
        return joiner.join(p[0] for p in phrases)
    return "tous les examens" if lang == "fr" else "all exams"


def _record_slice(record: Mapping[str, Any], lang: str) -> str:
    subgroup = record.get("subgroup")
    return slice_text(
        record.get("device_version"), subgroup if isinstance(subgroup, Mapping) else None, lang
    )


# --- findings ----------------------------------------------------------------------------


def _events_noun(metric: str | None, target: Any, n: float, lang: str) -> str | None:
    """``missed fractures``, ``false positives`` (singular for one); None for a metric
    whose errors are not one kind."""
    index = _check(lang)
    if metric in ("sensitivity", "npv"):
        pairs = _MISSED.get(str(target), _MISSED_ANY)
    elif metric in ("specificity", "ppv"):
        pairs = _FALSE_POSITIVES
    else:
        return None
    singular = n < 2 if lang == "fr" else round(n) == 1
    return pairs[index][0 if singular else 1]


def _claimed(device: Mapping[str, Any] | None, metric: str | None) -> float | None:
    if not device or metric is None:
        return None
    claimed = device.get("claimed_performance")
    if isinstance(claimed, Mapping):
        return _number(claimed.get(metric))
    return _number(getattr(claimed, metric, None))


def _performance(
    record: Mapping[str, Any], device: Mapping[str, Any] | None, lang: str
) -> list[str]:
    """The parts of a performance finding's sentence: figure, when, how many."""
    fr = lang == "fr"
    ev = record.get("evidence")
    ev = ev if isinstance(ev, Mapping) else {}
    rule, metric = record.get("rule"), record.get("metric")
    name = _pick(_METRICS[metric], lang) if metric in _METRICS else _bounded(metric or "")
    observed: float | None
    reference: float | None = None
    reference_words = ""
    when: str | None = None
    events: float | None = None
    if rule in ("cusum", "ewma"):
        observed = _number(ev.get("metric_since_change", record.get("value")))
        rate = _number(ev.get("in_control_rate"))
        source = str(ev.get("in_control_source") or "claim")
        if source.startswith("baseline") and rate is not None:
            reference = 1.0 - rate
            reference_words = "sur la période de référence" if fr else "in the reference period"
        else:
            reference = _claimed(device, metric)
            if reference is None and rate is not None:
                reference = 1.0 - rate
            reference_words = "revendiqués" if fr else "claimed"
        start = _day(ev.get("change_point_exam") or record.get("window_start"))
        when = None if start is None else _since(start, lang)
        events = _number(ev.get("events_since_change"))
    elif rule == "below_claim":
        observed = _number(ev.get("observed", record.get("value")))
        reference = _number(ev.get("claimed", record.get("threshold")))
        reference_words = "revendiqués" if fr else "claimed"
        start = _day(record.get("window_start"))
        when = None if start is None else _month_text(start, lang)
        n, correct = _number(ev.get("n")), _number(ev.get("correct"))
        events = None if n is None or correct is None else n - correct
    elif rule == "version_comparison":
        observed = _number(record.get("value"))
        reference = _number(record.get("threshold"))
        previous = ev.get("previous_version")
        if previous:
            version = _bounded(previous)
            reference_words = f"avec la version {version}" if fr else f"with version {version}"
        else:
            reference_words = "avec la version précédente" if fr else "with the previous version"
        start = _day(record.get("window_start"))
        when = None if start is None else _since(start, lang)
        after = ev.get("after")
        if isinstance(after, Mapping):
            n, correct = _number(after.get("n")), _number(after.get("correct"))
            events = None if n is None or correct is None else n - correct
    elif rule == "estimated_performance":
        observed = _number(ev.get("estimate", record.get("value")))
        reference = _number(record.get("threshold"))
        reference_words = "revendiqués" if fr else "claimed"
        name = f"{name} estimée" if fr else f"estimated {name}"
    else:
        return []
    if events is None:
        events = _number(ev.get("affected_cases_total"))
    parts = []
    if observed is not None:
        shown, against = _percents(observed, reference, lang)
        figure = f"{name} {shown}"
        if against is not None:
            figure += f" pour {against} {reference_words}" if fr else f" against {against}"
            figure += "" if fr else f" {reference_words}"
        parts.append(figure)
    else:
        parts.append(name)
    if when:
        parts.append(when)
    noun = (
        None if events is None else _events_noun(metric, (device or {}).get("target"), events, lang)
    )
    if events is not None and noun is not None:
        parts.append(f"{_count(events, lang)} {noun}")
    if rule == "estimated_performance":
        parts.append("vérité terrain en attente" if fr else "ground truth still pending")
    return parts


def _operational(record: Mapping[str, Any], lang: str) -> str:
    """What an outage, backlog, threshold, drift or version-change finding says."""
    fr = lang == "fr"
    ev = record.get("evidence")
    ev = ev if isinstance(ev, Mapping) else {}
    rule = record.get("rule")
    if rule == "outage":
        last = _day(ev.get("last_prediction") or record.get("window_start"))
        if last is None:
            return (
                "le dispositif n'envoie plus de résultats" if fr else "no results from the device"
            )
        if fr:
            return f"aucun résultat du dispositif depuis le {_date_text(last, lang)}"
        return f"no results from the device since {_date_text(last, lang)}"
    if rule == "verification_backlog":
        exams, unverified = _number(ev.get("exams")), _number(ev.get("unverified"))
        days = _number(ev.get("older_than_days"))
        if not exams or unverified is None:
            return "examens en attente de vérité terrain" if fr else "exams awaiting ground truth"
        share = _percent(unverified / exams, lang)
        if fr:
            late = "" if days is None else f" après {round(days)} jours"
            return (
                f"{_count(unverified, lang)} examens sur {_count(exams, lang)} ({share}) "
                f"toujours sans vérité terrain{late}"
            )
        late = "" if days is None else f" after {round(days)} days"
        return (
            f"{_count(unverified, lang)} of {_count(exams, lang)} exams ({share}) still "
            f"without ground truth{late}"
        )
    if rule == "threshold_mismatch":
        checked = _number(ev.get("checked_results"))
        contradicting = _number(ev.get("contradicting_results"))
        if not checked or contradicting is None:
            if fr:
                return "des résultats de l'IA contredisent leur score au seuil du registre"
            return "AI results contradict their score at the registry's threshold"
        share = _percent(contradicting / checked, lang)
        if fr:
            return (
                f"{share} des résultats de l'IA contredisent leur score au seuil du registre "
                f"({_count(contradicting, lang)} sur {_count(checked, lang)})"
            )
        return (
            f"{share} of the AI results contradict their score at the registry's threshold "
            f"({_count(contradicting, lang)} of {_count(checked, lang)})"
        )
    if rule in ("input_drift", "output_drift"):
        column = str(record.get("metric") or "")
        words = _COLUMNS.get(column)
        if fr:
            what = words[0] if words else f"de la colonne {_bounded(column)}"
            return f"répartition {what} différente de celle de la période de référence"
        what = words[1] if words else f"column {_bounded(column)}"
        return f"distribution of {what} unlike the reference period's"
    if rule == "version_change":
        version = _bounded(record.get("device_version") or "?")
        previous = ev.get("previous_version")
        start = _day(ev.get("first_exam") or record.get("window_start"))
        if fr:
            text = f"nouvelle version {version}"
            text += f" (après la {_bounded(previous)})" if previous else ""
            text += f" depuis le {_date_text(start, lang)}" if start else ""
            return text + (
                ", absente du registre" if ev.get("declared_in_registry") is False else ""
            )
        text = f"new version {version}"
        text += f" (after {_bounded(previous)})" if previous else ""
        text += f" since {_date_text(start, lang)}" if start else ""
        return text + (", not in the registry" if ev.get("declared_in_registry") is False else "")
    return _bounded(rule or "")


def finding_text(
    record: Mapping[str, Any], lang: str, device: Mapping[str, Any] | None = None
) -> str:
    """One finding in plain words: its slice, then its figures.

    ``Version 2.4.0 on Fujifilm images: sensitivity 63% against 91% claimed, since 21
    July 2025, 20 missed fractures``; for other rules what they saw (``no results from
    the device since 3 March 2025``). ``device`` (registry entry: ``target``,
    ``claimed_performance``) gives the noun and the claim; without it the claim comes
    from the evidence and the events are "missed findings".
    """
    _check(lang)
    parts = _performance(record, device, lang)
    sep = " : " if lang == "fr" else ": "
    if parts:
        return _capital(_record_slice(record, lang)) + sep + ", ".join(parts)
    what = _operational(record, lang)
    if record.get("rule") == "version_change" or not slice_conditions(record):
        return _capital(what)
    return _capital(_record_slice(record, lang)) + sep + what


def incident_text(incident: Incident, lang: str, device: Mapping[str, Any] | None = None) -> str:
    """The incident in plain words: its root finding's sentence (:func:`finding_text`)."""
    return finding_text(incident.root, lang, device)


def supporting_text(incident: Incident, lang: str, limit: int = 6) -> str | None:
    """The other slices of the incident, as evidence: ``Also seen in 3 other slices (7
    findings): Fujifilm images; version 2.4.0; site CHU-Sud.`` (at most ``limit`` named,
    the others counted); None for an incident of one finding."""
    _check(lang)
    if not incident.supporting:
        return None
    root = slice_conditions(incident.root)
    slices: dict[frozenset[tuple[str, str]], str] = {}
    for record in incident.supporting:
        conditions = slice_conditions(record)
        if conditions != root and conditions not in slices:
            slices[conditions] = _record_slice(record, lang)
    n = len(incident.supporting)
    named = list(slices.values())[: max(limit, 0)]
    more = len(slices) - len(named)
    if lang == "fr":
        head = (
            f"Également visible dans {len(slices)} autre(s) sous-groupe(s) ({n} constat(s))"
            if slices
            else f"Également vu par {n} autre(s) constat(s) sur le même sous-groupe"
        )
        tail = f" et {more} autre(s)" if more > 0 else ""
        return f"{head} : {' ; '.join(named)}{tail}." if named else f"{head}."
    head = (
        f"Also seen in {len(slices)} other slice(s) ({n} finding(s))"
        if slices
        else f"Also seen by {n} other finding(s) on the same slice"
    )
    tail = f" and {more} more" if more > 0 else ""
    return f"{head}: {'; '.join(named)}{tail}." if named else f"{head}."
