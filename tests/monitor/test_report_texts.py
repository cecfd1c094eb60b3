"""Texts of the monthly report: number formats, terms and reason sentences."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.findings import RULES, SEVERITIES
from alerts.workflow import ACTION_KINDS, DISMISSAL_REASONS, STATUSES
from monitor import report_texts as tx
from monitor.config import SUBGROUP_COLUMNS
from monitor.registry import RiskAnalysis
from monitor.report_model import LIGHTS, Reason

N = tx.NNBSP

REASON_PARAMS: dict[str, dict[str, Any]] = {
    "below_claim": {
        "metric": "sensitivity",
        "value": 0.845,
        "low": 0.817,
        "high": 0.870,
        "claimed": 0.91,
        "p": 2.3e-08,
    },
    "finding": {
        "finding_id": 12,
        "rule": "cusum",
        "metric": "sensitivity",
        "severity": "critical",
        "slice": "version 3.3.1",
    },
    "subgroup_gap": {
        "metric": "sensitivity",
        "dimension": "scanner_manufacturer",
        "value": "Fujifilm",
        "difference": -0.25,
        "p_adjusted": 0.00042,
    },
    "operational": {"finding_id": 14, "rule": "outage", "severity": "warning"},
    "few_cases": {"n": 12, "min_cases": 30},
    "low_verification": {"rate": 0.42, "floor": 0.6},
    "no_data": {},
    "within_claim": {},
}


def test_percent_uses_the_decimal_mark_and_spacing_of_the_language() -> None:
    assert tx.pct(0.845, "fr") == f"84,5{N}%"
    assert tx.pct(0.845, "en") == "84.5%"
    assert tx.pct(0.95, "fr", 0) == f"95{N}%"
    assert tx.pct(None, "fr") == tx.pct(None, "en") == "–"
    assert tx.pct(float("nan"), "en") == "–"


def test_interval_shows_bounds_in_percent_with_an_en_dash() -> None:
    assert tx.interval(0.845, 0.817, 0.870, "fr") == f"84,5{N}% [81,7–87,0]"
    assert tx.interval(0.845, 0.817, 0.870, "en") == "84.5% [81.7–87.0]"
    assert tx.interval(0.845, None, None, "en") == "84.5%"
    assert tx.interval(None, 0.1, 0.2, "fr") == "–"


def test_numbers_group_thousands_per_language() -> None:
    assert tx.number(12345, "fr") == f"12{N}345"
    assert tx.number(1234567, "en") == "1,234,567"
    assert tx.number(999, "fr") == "999"
    assert tx.decimal(1234.5, "fr") == f"1{N}234,5"
    assert tx.decimal(-0.25, "en", 2) == "−0.25"


def test_points_are_signed_differences_in_percentage_points() -> None:
    assert tx.points(-0.25, "fr") == f"−25,0{tx.NBSP}points"
    assert tx.points(0.03, "en") == f"+3.0{tx.NBSP}points"
    assert tx.points(0.0, "en") == f"0.0{tx.NBSP}points"


def test_p_values_switch_to_scientific_notation_below_a_thousandth() -> None:
    assert tx.p_value(2.3e-08, "fr") == "2,3e-08"
    assert tx.p_value(2.3e-08, "en") == "2.3e-08"
    assert tx.p_value(0.0123, "fr") == "0,012"
    assert tx.p_value(1.0, "en") == "1.000"
    assert tx.p_value(None, "en") == "–"


def test_dates_are_written_in_the_language() -> None:
    assert tx.month_name(date(2025, 8, 1), "fr") == "août 2025"
    assert tx.month_name(date(2025, 8, 1), "en") == "August 2025"
    assert tx.day(date(2025, 8, 31), "fr") == "31/08/2025"
    assert tx.day(date(2025, 8, 31), "en") == "2025-08-31"
    t = datetime(2025, 8, 31, 23, 59, 59, tzinfo=ZoneInfo("Europe/Paris"))
    assert tx.moment(t, "fr") == "31/08/2025 23:59"
    assert tx.moment(t, "en") == "2025-08-31 23:59"


def test_an_unknown_language_is_an_error_not_a_fallback() -> None:
    with pytest.raises(KeyError):
        tx.pct(0.5, "de")
    with pytest.raises(KeyError):
        tx.label("title", "de")
    with pytest.raises(KeyError):
        tx.reason_text(Reason("no_data"), "es")


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        (tx.RULES, RULES),
        (tx.SEVERITIES, SEVERITIES),
        (tx.STATUSES, STATUSES),
        (tx.DISMISSAL_REASONS, tuple(DISMISSAL_REASONS)),
        (tx.ACTION_KINDS, tuple(ACTION_KINDS)),
        (tx.DIMENSIONS, SUBGROUP_COLUMNS),
        (tx.RISK_MISSING, tuple(RiskAnalysis.model_fields)),
        (tx.LIGHT_WORDS, LIGHTS),
        (tx.LIGHT_RULES, LIGHTS),
        (tx.METRICS, ("sensitivity", "specificity", "ppv", "npv")),
    ],
)
def test_every_code_of_the_project_has_a_text_in_both_languages(
    table: dict[str, tuple[str, str]], codes: tuple[str, ...]
) -> None:
    assert set(codes) <= set(table)
    for code in codes:
        fr, en = tx.term(table, code, "fr"), tx.term(table, code, "en")
        assert fr.strip() and en.strip()


def test_terms_read_as_the_report_shows_them() -> None:
    assert tx.term(tx.RULES, "cusum", "fr") == "carte CUSUM"
    assert tx.term(tx.RULES, "cusum", "en") == "CUSUM chart"
    assert [tx.term(tx.METRICS, m, "fr") for m in ("sensitivity", "specificity", "ppv", "npv")] == [
        "sensibilité",
        "spécificité",
        "VPP",
        "VPN",
    ]
    assert tx.term(tx.RISK_MISSING, "continuity_plan", "fr") == (
        "aucun plan de continuité enregistré"
    )
    assert tx.term(tx.RISK_MISSING, "continuity_plan", "en") == "no continuity plan recorded"
    assert [tx.term(tx.LIGHT_WORDS, c, "fr") for c in LIGHTS] == ["vert", "orange", "rouge", "gris"]


def test_an_unknown_term_raises() -> None:
    with pytest.raises(KeyError):
        tx.term(tx.RULES, "no_such_rule", "fr")
    with pytest.raises(KeyError):
        tx.label("no_such_label", "en")


def test_reason_codes_are_exactly_those_the_model_documents() -> None:
    documented = re.findall(r"``(\w+)``", Reason.__doc__ or "")
    assert set(tx.REASON_CODES) == set(documented)
    assert set(REASON_PARAMS) == set(tx.REASON_CODES)


@pytest.mark.parametrize("code", tx.REASON_CODES)
def test_every_reason_has_one_plain_sentence_per_language(code: str) -> None:
    reason = Reason(code, REASON_PARAMS[code])
    fr, en = tx.reason_text(reason, "fr"), tx.reason_text(reason, "en")
    assert fr and en and fr != en
    assert "{" not in fr + en and "None" not in fr + en
    assert fr[0].isupper() and en[0].isupper()


def test_below_claim_reads_with_its_figures() -> None:
    reason = Reason("below_claim", REASON_PARAMS["below_claim"])
    assert tx.reason_text(reason, "fr") == (
        f"Sensibilité 84,5{N}% [81,7–87,0] sous la performance annoncée de 91,0{N}% (p = 2,3e-08)"
    )
    assert tx.reason_text(reason, "en") == (
        "Sensitivity 84.5% [81.7–87.0] below the claimed 91.0% (p = 2.3e-08)"
    )


def test_reasons_carry_their_figures() -> None:
    gap = tx.reason_text(Reason("subgroup_gap", REASON_PARAMS["subgroup_gap"]), "fr")
    assert "Fujifilm" in gap and "−25,0" in gap and "4,2e-04" in gap
    finding = tx.reason_text(Reason("finding", REASON_PARAMS["finding"]), "en")
    assert "#12" in finding and "CUSUM chart" in finding and "critical" in finding
    few = tx.reason_text(Reason("few_cases", REASON_PARAMS["few_cases"]), "en")
    assert "12" in few and "30" in few
    low = tx.reason_text(Reason("low_verification", REASON_PARAMS["low_verification"]), "fr")
    assert f"42,0{N}%" in low and f"60,0{N}%" in low


def test_an_unknown_reason_or_a_missing_figure_raises() -> None:
    with pytest.raises(KeyError):
        tx.reason_text(Reason("mystery"), "fr")
    with pytest.raises(KeyError):
        tx.reason_text(Reason("below_claim", {"metric": "sensitivity"}), "en")
    with pytest.raises(KeyError):
        tx.reason_text(Reason("finding", {**REASON_PARAMS["finding"], "rule": "bogus"}), "en")


def test_slices_are_named_in_words() -> None:
    assert tx.slice_text("whole device", "fr") == "dispositif entier"
    assert tx.slice_text("", "en") == "whole device"
    assert (
        tx.slice_text("device_version=2.4.0, scanner_manufacturer=Fujifilm", "fr")
        == "version du dispositif 2.4.0, constructeur de l'appareil d'imagerie Fujifilm"
    )
    assert tx.slice_text("site=CHU-Sud", "en") == "site CHU-Sud"
    assert tx.slice_text("ward=7", "en") == "ward 7"
