"""The materiovigilance draft laid out like the EU MDR Manufacturer Incident Report.

The sections of the MIR form 7.3.1 (administrative information, medical device,
incident, manufacturer analysis, general comments), filled with what the user
facility knows, for the manufacturer to copy into their report. What each
section holds is described by :func:`alerts.vigilance_texts.mir_outline`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alerts.imdrf import CodeSuggestion
from alerts.vigilance_description import device_version
from alerts.vigilance_texts import TO_COMPLETE, tr

__all__ = ["mir_sections"]


def mir_sections(
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
            "software_version": device_version(finding),
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
                "user": tr(lang, "professionnel de santé", "health professional"),
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
        "section_5_general_comments": tr(
            lang,
            "Données de surveillance disponibles sur demande (cas pseudonymisés).",
            "Monitoring data available on request (pseudonymised cases).",
        ),
    }
