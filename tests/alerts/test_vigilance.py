"""The content of a materiovigilance draft: only of a confirmed finding, numbers taken
from the evidence, blanks marked, codes suggested, always a draft."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from alerts.vigilance import (
    TO_COMPLETE,
    build_draft,
    draft_refusal,
    format_interval,
    format_percent,
    imdrf_suggestions,
    key_numbers,
)

DEVICE: dict[str, Any] = {
    "id": "frac",
    "name": "FractaLens XR",
    "manufacturer": "Exemplar Imaging SAS",
    "model": "FL-XR",
    "versions": ["2.3.1", "2.4.0"],
    "ce_class": "IIa",
    "notified_body": "NB 0000",
    "intended_purpose": "Detect fractures on radiographs",
    "target": "fracture",
    "sites": ["CHU-Nord"],
    "departments": ["Urgences"],
    "claimed_performance": {
        "sensitivity": 0.91,
        "specificity": 0.88,
        "sensitivity_ci": [0.88, 0.93],
        "specificity_ci": [0.85, 0.90],
        "source": "IFU v2.3 section 9",
    },
}

CUSUM: dict[str, Any] = {
    "id": 11,
    "device_id": "frac",
    "device_version": "2.4.0",
    "rule": "cusum",
    "metric": "sensitivity",
    "subgroup": {"scanner_manufacturer": "Fujifilm"},
    "window_start": "2025-07-21T08:12:00+02:00",
    "window_end": "2025-07-27T23:59:59+02:00",
    "detected_at": "2025-07-27T23:59:59+02:00",
    "severity": "critical",
    "value": 0.6296296,
    "threshold": 3.1,
    "evidence": {
        "chart": "cusum",
        "in_control_rate": 0.09,
        "cases_since_change": 54,
        "events_since_change": 20,
        "metric_since_change": 0.6296296,
        "metric_interval": [0.4963, 0.7457],
        "change_point_exam": "2025-07-21T08:12:00+02:00",
        "versions_since_change": ["2.4.0"],
        "affected_cases": [f"case-{i}" for i in range(100, 120)],
        "affected_cases_total": 20,
    },
    "status": "confirmed",
    "confirmed_at": "2025-07-29T10:00:00+02:00",
    "confirmed_by": "Dr Lefèvre",
}

BELOW_CLAIM: dict[str, Any] = {
    **CUSUM,
    "id": 12,
    "rule": "below_claim",
    "metric": "specificity",
    "subgroup": None,
    "value": 0.8012,
    "threshold": 0.88,
    "evidence": {
        "n": 312,
        "correct": 250,
        "observed": 0.8012,
        "interval": [0.7534, 0.8418],
        "confidence": 0.95,
        "claimed": 0.88,
        "p_value": 0.00012,
        "affected_cases": ["case-7", "case-9"],
        "affected_cases_total": 62,
    },
}


def test_a_draft_is_made_only_of_a_confirmed_malfunction() -> None:
    assert draft_refusal("confirmed", "2025-07-29") is None
    assert draft_refusal("action_taken", "2025-07-29") is None
    assert draft_refusal("closed", "2025-07-29") is None
    for status, confirmed in [("open", None), ("acknowledged", None), ("closed", None)]:
        refusal = draft_refusal(status, confirmed)
        assert refusal is not None and "confirm it first" in refusal
    with pytest.raises(ValueError, match="confirm it first"):
        build_draft(
            {**CUSUM, "status": "acknowledged", "confirmed_at": None},
            DEVICE,
            lang="fr",
            generated_at="2025-07-30T09:00:00+02:00",
        )


def test_the_numbers_are_those_of_the_evidence() -> None:
    numbers = key_numbers(CUSUM, DEVICE)
    ev = CUSUM["evidence"]
    assert numbers["observed"] == ev["metric_since_change"]
    assert numbers["observed_interval"] == ev["metric_interval"]
    assert numbers["exams"] == ev["cases_since_change"]
    assert numbers["errors"] == ev["events_since_change"]
    assert numbers["affected_cases_total"] == ev["affected_cases_total"]
    assert numbers["claimed"] == 0.91 and numbers["claimed_interval"] == [0.88, 0.93]

    monthly = key_numbers(BELOW_CLAIM, DEVICE)
    assert monthly["observed"] == 0.8012 and monthly["exams"] == 312
    assert monthly["errors"] == 312 - 250
    assert monthly["claimed"] == 0.88 and monthly["p_value"] == 0.00012


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_description_states_the_evidence_in_each_language(lang: str) -> None:
    draft = build_draft(CUSUM, DEVICE, lang=lang, generated_at="2025-07-30T09:00:00+02:00")
    text = " ".join(draft.description)
    ev = CUSUM["evidence"]
    decimal = "," if lang == "fr" else "."
    observed = f"{ev['metric_since_change'] * 100:.1f}".replace(".", decimal)
    low, high = (f"{v * 100:.1f}".replace(".", decimal) for v in ev["metric_interval"])
    for expected in (observed, low, high, str(ev["cases_since_change"])):
        assert expected in text
    assert f"{ev['events_since_change']} " in text
    assert "Fujifilm" in text and "2.4.0" in text
    assert "case-100" in text and "case-110" not in text  # ten examples at most
    assert ("sensibilité" if lang == "fr" else "sensitivity") in text


def test_percentages_and_intervals_read_naturally() -> None:
    assert format_percent(0.6296, "fr") == "63,0 %"
    assert format_percent(0.6296, "en") == "63.0%"
    assert format_interval([0.4963, 0.7457], 0.95, "fr") == "IC à 95 % : 49,6 % - 74,6 %"
    assert format_interval([0.4963, 0.7457], 0.95, "en") == "95% CI 49.6%-74.6%"
    assert format_interval(None, 0.95, "en") == ""


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_blanks_a_human_must_fill_are_marked(lang: str) -> None:
    draft = build_draft(CUSUM, DEVICE, lang=lang, generated_at="2025-07-30T09:00:00+02:00")
    todo = draft.to_complete()
    for key in ("reporter.name", "reporter.establishment", "device.udi_di", "incident.seriousness"):
        assert key in todo
    assert "device.trade_name" not in todo
    fields = draft.to_json()["ansm_declaration"]
    assert fields["reporter"]["fields"]["name"]["value"] is None
    assert fields["reporter"]["fields"]["name"]["to_complete"] is True
    with_udi = build_draft(
        CUSUM,
        {**DEVICE, "udi_di": "03760000000001"},
        lang=lang,
        generated_at="2025-07-30T09:00:00+02:00",
    )
    assert "device.udi_di" not in with_udi.to_complete()
    assert TO_COMPLETE[lang] in " ".join(f.text(lang) for s in draft.ansm for f in s.fields)


def test_the_manufacturer_is_informed_when_a_contact_action_says_so() -> None:
    contact = {
        "kind": "contact_manufacturer",
        "description": "E-mail to the manufacturer",
        "owner": "CLMV",
        "due_date": None,
        "done_date": "2025-07-30",
    }
    informed = build_draft(
        CUSUM, DEVICE, lang="en", generated_at="2025-07-31T09:00:00+02:00", actions=[contact]
    )
    fields = informed.to_json()["ansm_declaration"]["incident"]["fields"]
    assert fields["manufacturer_informed"]["value"] == "yes"
    assert fields["manufacturer_informed_on"]["value"] == "2025-07-30"
    assert "E-mail to the manufacturer" in fields["measures_taken"]["value"]
    silent = build_draft(CUSUM, DEVICE, lang="fr", generated_at="2025-07-31T09:00:00+02:00")
    fields = silent.to_json()["ansm_declaration"]["incident"]["fields"]
    assert fields["manufacturer_informed"]["value"] == "non"
    assert fields["measures_taken"]["to_complete"] is True


def test_imdrf_codes_are_suggestions_matching_the_error_kind() -> None:
    missed = {(c.annex, c.code) for c in imdrf_suggestions(CUSUM, "en")}
    assert ("A", "A090803") in missed  # False Negative Result
    assert ("A", "A110206") in missed  # after a version change
    assert ("F", "F24") in missed  # health impact unknown until the clinical review
    false = {(c.annex, c.code) for c in imdrf_suggestions(BELOW_CLAIM, "en")}
    assert ("A", "A090804") in false and ("A", "A090803") not in false
    exported = build_draft(
        BELOW_CLAIM, DEVICE, lang="en", generated_at="2025-07-30T09:00:00+02:00"
    ).to_json()
    codes = exported["imdrf_suggestions"]["codes"]
    assert codes and all(c["suggestion"] for c in codes)
    assert "Suggestions only" in exported["imdrf_suggestions"]["note"]


def test_the_json_export_is_a_draft_with_mir_sections_and_ai_act_duties() -> None:
    exported = build_draft(
        CUSUM, DEVICE, lang="en", generated_at="2025-07-30T09:00:00+02:00"
    ).to_json()
    assert exported["draft"] is True and exported["sent"] is False
    assert exported["status"] == "DRAFT - NOT SENT"
    mir = exported["mir_sections"]
    assert {k for k in mir if k.startswith("section_")} == {
        "section_1_administrative_information",
        "section_2_medical_device_information",
        "section_3_incident_information",
        "section_4_manufacturer_analysis",
        "section_5_general_comments",
    }
    assert mir["section_2_medical_device_information"]["software_version"] == "2.4.0"
    assert mir["section_3_incident_information"]["evidence"] == CUSUM["evidence"]
    assert mir["section_4_manufacturer_analysis"]["root_cause"] is None
    articles = {d["article"] for d in exported["ai_act_article_26"]["duties"]}
    assert {"26(5)", "26(6)"} <= articles
    json.dumps(exported)  # JSON-ready as it is


def test_the_content_does_not_change_the_finding_and_refuses_unknown_languages() -> None:
    before = copy.deepcopy(CUSUM)
    build_draft(CUSUM, DEVICE, lang="fr", generated_at="2025-07-30T09:00:00+02:00")
    assert before == CUSUM
    with pytest.raises(ValueError, match="language"):
        build_draft(CUSUM, DEVICE, lang="de", generated_at="2025-07-30T09:00:00+02:00")


def test_the_description_names_the_other_slices_of_the_incident() -> None:
    from alerts.vigilance_description import MAX_RELATED_SHOWN, related_paragraph

    related = [
        {
            "id": 20 + i,
            "rule": "cusum",
            "metric": "sensitivity",
            "device_version": "2.4.0" if i % 2 else None,
            "subgroup": {"site": f"S{i}"},
            "value": 0.8,
            "evidence": {"metric_since_change": 0.8, "events_since_change": 12},
        }
        for i in range(10)
    ]
    english = related_paragraph(related, "en", DEVICE)
    assert english is not None
    assert english.startswith(
        "The same degradation was detected in 10 other subgroup(s) or by other rules, grouped "
        "under this finding: Site S0: sensitivity 80% against 91% claimed, 12 missed fractures "
        "(#20); Version 2.4.0 at site S1: "
    )
    assert f"#{20 + MAX_RELATED_SHOWN}" not in english
    assert english.endswith(f"and {10 - MAX_RELATED_SHOWN} more.")
    french = related_paragraph(related[:1], "fr", DEVICE)
    assert french is not None and "Site S0 : sensibilité 80" in french and "1 autre(s)" in french
    assert related_paragraph([], "fr") is None


def test_the_draft_speaks_of_the_incident_first() -> None:
    root = CUSUM
    covered = {
        **CUSUM,
        "id": 14,
        "device_version": None,
        "status": "dismissed",
        "evidence": {**CUSUM["evidence"], "cases_since_change": 70, "events_since_change": 27},
    }
    draft = build_draft(
        root, DEVICE, lang="en", generated_at="2025-07-30T09:00:00+02:00", related=[covered]
    )
    assert draft.description[0] == (
        "Degradation found: Version 2.4.0 on Fujifilm images: sensitivity 63% against 91% "
        "claimed, since 21 July 2025, 20 missed fractures."
    )
    # Confirmed on a broader slice, the draft still names the incident by its root.
    broader = {**covered, "status": "confirmed"}
    draft = build_draft(
        broader,
        DEVICE,
        lang="fr",
        generated_at="2025-07-30T09:00:00+02:00",
        related=[{**root, "status": "dismissed"}],
    )
    assert draft.description[0].startswith(
        "Dégradation constatée : Version 2.4.0 sur les images Fujifilm : sensibilité 63"
    )
    assert (
        "Le constat n° 14 en est un élément de preuve : Images Fujifilm : "
        in (draft.description[0])
    )
