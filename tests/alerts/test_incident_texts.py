"""What a quality manager reads of an incident or a finding: plain French and English,
percentages, dates and the number of patients concerned - no chart statistics, limits
or p-values; a figure the evidence lacks is left out, never guessed."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.incident_texts import MAX_VALUE, finding_text, slice_text, supporting_text
from alerts.incidents import Incident

NNBSP = "\u202f"
FRACTURE = {"target": "fracture", "claimed_performance": {"sensitivity": 0.91}}


def _chart(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": 11,
        "device_id": "fracture-xr",
        "rule": "cusum",
        "metric": "sensitivity",
        "severity": "critical",
        "device_version": "2.4.0",
        "subgroup": {"scanner_manufacturer": "Fujifilm"},
        "window_start": "2025-07-21T12:25:00+02:00",
        "window_end": "2025-07-27T23:59:59+02:00",
        "last_seen_at": "2025-12-31T23:59:59+01:00",
        "value": 0.63,
        "threshold": 8.9,
        "evidence": {
            "in_control_source": "claim",
            "in_control_rate": 0.09,
            "decision_limit": 8.9,
            "statistic": 9.4,
            "cases_since_change": 65,
            "events_since_change": 24,
            "metric_since_change": 0.63,
            "change_point_exam": "2025-07-21T12:25:00+02:00",
            "affected_cases_total": 24,
        },
    }
    record.update(changes)
    return record


def test_a_chart_finding_in_english_and_french() -> None:
    assert finding_text(_chart(), "en", FRACTURE) == (
        "Version 2.4.0 on Fujifilm images: sensitivity 63% against 91% claimed, "
        "since 21 July 2025, 24 missed fractures"
    )
    assert finding_text(_chart(), "fr", FRACTURE) == (
        f"Version 2.4.0 sur les images Fujifilm : sensibilité 63{NNBSP}% pour 91{NNBSP}% "
        "revendiqués, depuis le 21 juillet 2025, 24 fractures manquées"
    )


def test_no_chart_statistic_limit_or_p_value_is_shown() -> None:
    for lang in ("en", "fr"):
        text = finding_text(_chart(), lang, FRACTURE)
        assert "8.9" not in text and "8,9" not in text and "9.4" not in text
        assert "CUSUM" not in text and "p =" not in text


def test_the_incident_speaks_through_its_root_and_lists_the_other_slices() -> None:
    root = _chart()
    others = (
        _chart(id=12, device_version=None),
        _chart(id=15, subgroup=None),
        _chart(id=16, rule="below_claim", device_version=None, evidence={}),  # same slice as 12
        _chart(id=17, subgroup={"age_band": ">=65"}),
    )
    incident = Incident(root, others)
    assert incident.summary("en", FRACTURE) == finding_text(root, "en", FRACTURE)
    assert supporting_text(incident, "en") == (
        "Also seen in 3 other slice(s) (4 finding(s)): Fujifilm images; version 2.4.0; "
        "version 2.4.0 for patients aged 65 and over."
    )
    assert supporting_text(incident, "fr", limit=1) == (
        "Également visible dans 3 autre(s) sous-groupe(s) (4 constat(s)) : images Fujifilm "
        "et 2 autre(s)."
    )
    assert supporting_text(Incident(root), "en") is None


@pytest.mark.parametrize(
    ("version", "subgroup", "en", "fr"),
    [
        (None, None, "all exams", "tous les examens"),
        ("2.4.0", None, "version 2.4.0", "version 2.4.0"),
        (None, {"site": "CHU-Nord"}, "site CHU-Nord", "site CHU-Nord"),
        (
            "2.4.0",
            {"site": "CHU-Nord"},
            "version 2.4.0 at site CHU-Nord",
            "version 2.4.0 sur le site CHU-Nord",
        ),
        (None, {"age_band": ">=65"}, "patients aged 65 and over", "patients de 65 ans et plus"),
        (None, {"age_band": "<18"}, "patients under 18", "patients de moins de 18 ans"),
        (None, {"age_band": "18-64"}, "patients aged 18 to 64", "patients de 18 à 64 ans"),
        ("1.7.0", {"patient_sex": "F"}, "version 1.7.0 for women", "version 1.7.0 chez les femmes"),
        (None, {"body_part": "WRIST"}, "wrist exams", "examens du poignet"),
        (None, {"body_part": "TOE"}, "TOE exams", "examens de la région TOE"),
        (None, {"modality": "CR"}, "CR images", "images CR"),
        (None, {"ward": "B2"}, "ward B2", "ward B2"),
    ],
)
def test_slices_in_words(
    version: str | None, subgroup: dict[str, str] | None, en: str, fr: str
) -> None:
    assert slice_text(version, subgroup, "en") == en
    assert slice_text(version, subgroup, "fr") == fr


def test_values_read_from_files_are_bounded_and_on_one_line() -> None:
    text = slice_text("9" * 500, {"site": "A\nvery " + "long " * 100}, "en")
    assert "\n" not in text
    assert text.count("…") == 2
    assert len(text) < 3 * MAX_VALUE


def test_a_missing_evidence_key_leaves_its_phrase_out() -> None:
    bare = _chart(evidence={"metric_since_change": 0.63}, window_start=None)
    assert finding_text(bare, "en", FRACTURE) == (
        "Version 2.4.0 on Fujifilm images: sensitivity 63% against 91% claimed"
    )
    # Without the registry's claim, the in-control rate of the chart is the reference.
    assert finding_text(_chart(), "en") == (
        "Version 2.4.0 on Fujifilm images: sensitivity 63% against 91% claimed, "
        "since 21 July 2025, 24 missed findings"
    )
    nothing = _chart(evidence=None, value=None, window_start=None)
    assert finding_text(nothing, "en") == "Version 2.4.0 on Fujifilm images: sensitivity"


def test_a_baseline_chart_compares_with_the_reference_period() -> None:
    chart = _chart()
    chart["evidence"] = {
        **chart["evidence"],
        "in_control_source": "baseline 2025-01-01..2025-03-31",
        "in_control_rate": 0.07,
    }
    assert "against 93% in the reference period" in finding_text(chart, "en", FRACTURE)
    assert f"pour 93{NNBSP}% sur la période de référence" in finding_text(chart, "fr", FRACTURE)


def test_other_rules_in_plain_words() -> None:
    month = _chart(
        rule="below_claim",
        device_version=None,
        subgroup={"scanner_manufacturer": "Fujifilm"},
        window_start="2025-07-01T00:00:00+02:00",
        value=0.81,
        threshold=0.91,
        evidence={"n": 210, "correct": 170, "claimed": 0.91, "observed": 0.81, "p_value": 1e-5},
    )
    assert finding_text(month, "en", FRACTURE) == (
        "Fujifilm images: sensitivity 81% against 91% claimed, in July 2025, 40 missed fractures"
    )
    assert finding_text(month, "fr", FRACTURE) == (
        f"Images Fujifilm : sensibilité 81{NNBSP}% pour 91{NNBSP}% revendiqués, en juillet 2025, "
        "40 fractures manquées"
    )
    compared = _chart(
        rule="version_comparison",
        subgroup=None,
        window_start="2025-07-20T01:23:00+02:00",
        value=0.82,
        threshold=0.92,
        evidence={
            "previous_version": "2.3.1",
            "after": {"n": 100, "correct": 82},
            "p_value": 0.001,
        },
    )
    assert finding_text(compared, "en", FRACTURE) == (
        "Version 2.4.0: sensitivity 82% against 92% with version 2.3.1, since 20 July 2025, "
        "18 missed fractures"
    )
    false_positives = _chart(
        metric="specificity",
        evidence={"metric_since_change": 0.8, "in_control_rate": 0.12, "events_since_change": 1},
    )
    nodules = {"target": "lung_nodule", "claimed_performance": {"specificity": 0.88}}
    assert finding_text(false_positives, "en", nodules).endswith(
        "specificity 80% against 88% claimed, since 21 July 2025, 1 false positive"
    )
    assert finding_text(false_positives, "fr", nodules).endswith("1 faux positif")
    missed = _chart(evidence={"metric_since_change": 0.8, "events_since_change": 3})
    assert finding_text(missed, "fr", {"target": "lung_nodule"}).endswith(
        "3 nodules pulmonaires manqués"
    )
    outage = {
        "id": 3,
        "rule": "outage",
        "severity": "critical",
        "device_version": None,
        "subgroup": None,
        "evidence": {"last_prediction": "2025-03-01T09:00:00+01:00", "silence_hours": 30},
    }
    assert finding_text(outage, "en") == "No results from the device since 1 March 2025"
    assert finding_text(outage, "fr") == "Aucun résultat du dispositif depuis le 1er mars 2025"
    change = {
        "id": 4,
        "rule": "version_change",
        "severity": "warning",
        "device_version": "2.4.0",
        "window_start": "2025-07-20T01:23:00+02:00",
        "evidence": {"previous_version": "2.3.1", "declared_in_registry": False},
    }
    assert finding_text(change, "en") == (
        "New version 2.4.0 (after 2.3.1) since 20 July 2025, not in the registry"
    )


def test_percentages_keep_a_decimal_when_whole_ones_would_look_equal() -> None:
    close = _chart(evidence={"metric_since_change": 0.906})
    assert "sensitivity 90.6% against 91.0% claimed" in finding_text(close, "en", FRACTURE)


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        finding_text(_chart(), "de")
