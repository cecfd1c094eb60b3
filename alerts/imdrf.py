"""IMDRF Adverse Event Terminology (AET) codes suggested by the materiovigilance draft.

The codes and terms used here come from two annexes of the IMDRF AET
(IMDRF/AE WG/N43, "IMDRF terminologies for categorized Adverse Event Reporting",
annexes published on imdrf.org):

- Annex A, medical device problem: A0907, A0908, A090803, A090804, A11, A110206;
- Annex F, health impact: F04, F13, F2203, F24.

They were checked against the annexes of release :data:`IMDRF_RELEASE`; terms are
kept in English, as IMDRF publishes them. IMDRF revises the annexes every year:
the draft presents every code as a suggestion for the reporter and the
manufacturer to confirm against the release in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerts.vigilance_texts import tr

__all__ = ["IMDRF_NOTE", "IMDRF_RELEASE", "CodeSuggestion", "imdrf_suggestions"]

IMDRF_RELEASE = "2022"
"""IMDRF AET annex release the suggested codes were checked against."""

IMDRF_NOTE = {
    "fr": f"Suggestions uniquement (terminologie IMDRF AET, version {IMDRF_RELEASE} ; "
    "termes en anglais) : à valider par le déclarant et le fabricant avec la version "
    "en vigueur. Annexe A : problème du dispositif ; annexe F : impact sur la santé.",
    "en": f"Suggestions only (IMDRF AET terminology, release {IMDRF_RELEASE}): for the "
    "reporter and the manufacturer to confirm against the current release. Annex A: "
    "device problem; Annex F: health impact.",
}
"""The note shown above the suggested codes, by language."""


@dataclass(frozen=True)
class CodeSuggestion:
    """A suggested IMDRF AET code: never final, the reporter (or manufacturer) decides."""

    annex: str
    code: str | None
    term: str
    why: str
    to_check: bool = False


# Annex A - medical device problem
_A_FALSE_NEGATIVE = ("A090803", "False Negative Result")
_A_FALSE_POSITIVE = ("A090804", "False Positive Result")
_A_INCORRECT = ("A0908", "Incorrect, Inadequate or Imprecise Result or Readings")
_A_SOFTWARE = ("A11", "Computer Software Problem")
_A_UPGRADE = ("A110206", "Application Program Version or Upgrade Problem")
_A_NO_OUTPUT = ("A0907", "No Device Output")
# Annex F - health impact
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
        out.append(CodeSuggestion(annex, item[0], item[1], tr(lang, fr, en)))

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
