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

This module holds the logic and the public entry points; the texts live in
:mod:`alerts.vigilance_texts` (fr/en labels, ANSM form, MIR outline, AI Act duties),
:mod:`alerts.imdrf` (IMDRF codes), :mod:`alerts.vigilance_description` (incident
description), :mod:`alerts.vigilance_mir` (MIR sections) and
:mod:`alerts.vigilance_format` (numbers and dates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.imdrf import IMDRF_NOTE, IMDRF_RELEASE, CodeSuggestion, imdrf_suggestions
from alerts.vigilance_description import (
    device_version,
    incident_description,
    incident_paragraph,
    manufacturer_informed,
    measures_text,
    patient_consequences,
    related_paragraph,
)
from alerts.vigilance_format import format_date, format_interval, format_percent
from alerts.vigilance_mir import mir_sections
from alerts.vigilance_texts import (
    AI_ACT_NOTE,
    ANSM_FIELDS,
    ANSM_SECTIONS,
    DRAFT_BANNER,
    DRAFT_NOTICE,
    DRAFT_TITLE,
    TO_COMPLETE,
    Duty,
    ai_act_duties,
    heading_labels,
    mir_outline,
    number_labels,
    pick,
    tr,
)

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

DRAFTABLE_STATUSES = ("confirmed", "action_taken", "closed")

MAX_EXAMPLES = 10
"""Pseudonymised case references quoted in the description at most."""


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
    related: tuple[dict[str, Any], ...] = ()

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
            "related_findings": [dict(r) for r in self.related],
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


def build_draft(
    finding: Mapping[str, Any],
    device: Mapping[str, Any],
    *,
    lang: str,
    generated_at: str,
    cases: Mapping[str, int] | None = None,
    actions: Sequence[Mapping[str, Any]] = (),
    related: Sequence[Mapping[str, Any]] = (),
) -> DraftContent:
    """The draft of a confirmed finding in ``lang`` (fr or en).

    ``finding`` is a finding record, ``device`` the device's registry entry,
    ``cases`` the counts of the finding's cases (``cases``, ``verified``, ``tp``,
    ``fp``, ``tn``, ``fn``, ``pending``), None when unknown, ``actions`` its
    corrective actions (action records), ``related`` the findings of the same
    incident it covers (finding records). Raises ValueError for an unknown language
    or a finding that was not confirmed (:func:`draft_refusal`).
    """
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    refusal = draft_refusal(str(finding.get("status")), finding.get("confirmed_at"))
    if refusal is not None:
        raise ValueError(refusal)
    numbers = key_numbers(finding, device)
    description = [
        incident_paragraph(finding, related, device, lang),
        *incident_description(finding, device, numbers, lang),
    ]
    covered = related_paragraph(related, lang, device)
    if covered is not None:
        description.append(covered)
    consequences, consequences_text = patient_consequences(numbers, cases, lang)
    refs = list((finding.get("evidence") or {}).get("affected_cases") or [])
    examples = tuple(refs[:MAX_EXAMPLES])
    if examples:
        total = numbers.get("affected_cases_total") or len(refs)
        description.append(
            tr(
                lang,
                f"Exemples (références pseudonymisées, {len(examples)} sur {total}) : "
                f"{', '.join(examples)}.",
                f"Examples (pseudonymised references, {len(examples)} of {total}): "
                f"{', '.join(examples)}.",
            )
        )
    informed, informed_on = manufacturer_informed(actions, lang)
    ansm = _ansm_form(
        finding, device, lang, description, consequences_text, actions, informed, informed_on
    )
    imdrf = tuple(imdrf_suggestions(finding, lang))
    mir = mir_sections(finding, device, numbers, description, consequences, imdrf, actions, lang)
    return DraftContent(
        lang=lang,
        finding_id=int(finding["id"]),
        banner=DRAFT_BANNER[lang],
        title=DRAFT_TITLE[lang],
        notice=DRAFT_NOTICE[lang],
        generated_at=generated_at,
        ansm=ansm,
        description=tuple(description),
        examples=examples,
        numbers=numbers,
        related=tuple(
            {k: r.get(k) for k in ("id", "rule", "metric", "device_version", "subgroup", "value")}
            for r in related
        ),
        consequences=consequences,
        imdrf=imdrf,
        imdrf_note=IMDRF_NOTE[lang],
        mir=mir,
        ai_act=ai_act_duties(informed, lang),
        ai_act_note=AI_ACT_NOTE[lang],
        mir_outline=mir_outline(lang),
        labels=heading_labels(lang),
    )


def _ansm_form(
    finding: Mapping[str, Any],
    device: Mapping[str, Any],
    lang: str,
    description: Sequence[str],
    consequences_text: str,
    actions: Sequence[Mapping[str, Any]],
    informed: str,
    informed_on: str,
) -> tuple[DraftSection, ...]:
    """The sections of the ANSM declaration (Cerfa n° 10246), blanks as None values."""
    sites = ", ".join(device.get("sites") or []) or None
    departments = ", ".join(device.get("departments") or []) or None
    registry = tr(lang, "registre", "registry")
    evidence = tr(lang, "constat", "finding")
    start, end = finding.get("window_start"), finding.get("window_end")
    detected = format_date(finding.get("detected_at"), lang)
    confirmed = format_date(finding.get("confirmed_at"), lang)

    def f(key: str, value: Any, source: str = "") -> DraftField:
        return _f(key, pick(ANSM_FIELDS, key, lang), value, source)

    def section(key: str, *fields: DraftField) -> DraftSection:
        return DraftSection(key, pick(ANSM_SECTIONS, key, lang), fields)

    return (
        section(
            "reporter",
            f("name", None),
            f("profession", None),
            f("establishment", None),
            f("finess", None),
            f("department", departments, registry),
            f("address", None),
            f("phone", None),
            f("email", None),
            f("vigilance_correspondent", None),
        ),
        section(
            "device",
            f("trade_name", device.get("name")),
            f("manufacturer", device.get("manufacturer")),
            f("model", device.get("model")),
            f("software_version", device_version(finding)),
            f("udi_di", device.get("udi_di")),
            f("ce_class", device.get("ce_class")),
            f("notified_body", device.get("notified_body")),
            f("intended_purpose", device.get("intended_purpose")),
            f("supplier", None),
            f("date_in_service", device.get("date_in_service")),
        ),
        section(
            "incident",
            f(
                "date_of_occurrence",
                tr(
                    lang,
                    f"du {format_date(start, lang)} au {format_date(end, lang)} "
                    "(examens concernés)",
                    f"from {format_date(start, lang)} to {format_date(end, lang)} "
                    "(exams concerned)",
                )
                if start
                else None,
                evidence,
            ),
            f(
                "date_of_awareness",
                tr(
                    lang,
                    f"{detected} (détection), {confirmed} (confirmation)",
                    f"{detected} (detection), {confirmed} (confirmation)",
                ),
                evidence,
            ),
            f("place", sites, registry),
            f("description", " ".join(description), evidence),
            f("patient_consequences", consequences_text, evidence),
            f("seriousness", None),
            f("measures_taken", measures_text(actions, lang), evidence),
            f("manufacturer_informed", informed),
            f(
                "manufacturer_informed_on",
                None if informed_on == TO_COMPLETE[lang] else informed_on,
            ),
        ),
    )


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


def number_rows(numbers: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, text) of the key numbers, in display order."""
    labels = number_labels(lang)
    return [(labels[k], v) for k, v in _number_rows(numbers, lang).items()]
