"""Pathology mapping: coded diagnoses and conclusion text -> outcome for a target.

Specifies: each code system and its aliases, the ICD-O-3 behaviour digits, ICD-10
prefixes, local codes and extra rules files overriding the built-in rules, French
and English conclusions (negated malignancy, non-diagnostic, mixed), precedence of
codes over text and among codes, a labelled table of realistic conclusions that
must all be right, and bad input: configuration errors raise ValueError, bad data
never raises (outcome None or an ignored code, with the reason in ``notes``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.pathology import (
    TEXT_METHOD,
    CodeRule,
    PathologyOutcome,
    PathologyRules,
    TextVocabulary,
    canonical_system,
    load_pathology_rules,
    map_pathology,
)

LUNG = load_pathology_rules("lung_nodule")
SNOMED_URI = "http://snomed.info/sct"


def _code(system: str, code: str, rules: PathologyRules = LUNG) -> str | None:
    return map_pathology(codes=[(system, code)], rules=rules).outcome


def _text(text: str, rules: PathologyRules = LUNG) -> str | None:
    return map_pathology(text=text, rules=rules).outcome


# ------------------------------------------------------------------ code systems


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("363358000", "positive"),  # Malignant tumor of lung
        ("254637007", "positive"),  # Non-small cell lung cancer
        ("254632001", "positive"),  # Small cell carcinoma of lung
        ("35917007", "positive"),  # Adenocarcinoma (morphology)
        ("45647009", "negative"),  # Granuloma (morphology)
    ],
)
def test_snomed_ct_concepts_map_to_their_outcome(code: str, outcome: str) -> None:
    result = map_pathology(codes=[(SNOMED_URI, code)], rules=LUNG)
    assert (result.outcome, result.method) == (outcome, "pathology_code:snomed-ct")
    assert result.evidence is not None and result.evidence.startswith(f"snomed-ct {code} (")


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("8140/0", "negative"),
        ("8140/1", "indeterminate"),
        ("8140/2", "positive"),
        ("8140/3", "positive"),
        ("8140/6", "positive"),
        ("8140/9", "positive"),
        ("M-8070/3", "positive"),
        (" m8000/0 ", "negative"),
    ],
)
def test_icd_o_3_behaviour_digit_decides(code: str, outcome: str) -> None:
    result = map_pathology(codes=[("icd-o-3", code)], rules=LUNG)
    assert (result.outcome, result.method) == (outcome, "pathology_code:icd-o-3")


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("C34.1", "positive"),
        ("C34", "positive"),
        ("c349", "positive"),
        ("C78.0", "positive"),
        ("D02.2", "positive"),
        ("D14.3", "negative"),
        ("D38.1", "indeterminate"),
    ],
)
def test_icd_10_codes_match_by_longest_prefix(code: str, outcome: str) -> None:
    result = map_pathology(codes=[("icd-10", code)], rules=LUNG)
    assert (result.outcome, result.method) == (outcome, "pathology_code:icd-10")


def test_an_icd_10_code_outside_the_rules_is_ignored_with_a_note() -> None:
    result = map_pathology(codes=[("icd-10", "D14.1")], rules=LUNG)
    assert result.outcome is None
    assert "'D14.1' is not in the 'lung_nodule' rules" in result.notes[0]


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("http://snomed.info/sct", "snomed-ct"),
        ("SCT", "snomed-ct"),
        ("SNOMED", "snomed-ct"),
        ("Snomed CT", "snomed-ct"),
        ("ICDO3", "icd-o-3"),
        ("ICD-O-3", "icd-o-3"),
        ("I10", "icd-10"),
        ("CIM-10", "icd-10"),
        ("http://hl7.org/fhir/sid/icd-10", "icd-10"),
        ("local", "local"),
        ("99LIS", "local"),
        ("LOINC", None),
    ],
)
def test_code_system_aliases(alias: str, canonical: str | None) -> None:
    assert canonical_system(alias) == canonical


def test_fracture_target_uses_the_same_mechanism() -> None:
    fracture = load_pathology_rules("fracture")
    assert _code("I10", "S72.0", fracture) == "positive"
    assert _code("icd-o-3", "8140/3", fracture) is None
    assert _text("Pas de fracture visible.", fracture) == "negative"
    assert _text("Cal osseux en formation.", fracture) == "positive"


# ---------------------------------------------------------- local codes and files


def test_local_codes_map_stripped_and_casefolded() -> None:
    rules = load_pathology_rules("lung_nodule", local_codes={"ANAPATH-M1": "positive"})
    result = map_pathology(codes=[("99ANAPATH", " anapath-m1 ")], rules=rules)
    assert (result.outcome, result.method) == ("positive", "pathology_code:local")
    assert _code("local", "ANAPATH-M1") is None  # built-in rules have no local codes


def test_local_codes_override_codes_of_rules_files(tmp_path: Path) -> None:
    device = tmp_path / "device.yaml"
    device.write_text(
        "targets:\n"
        "  lung_nodule:\n"
        "    icd_o_behaviour: {2: indeterminate}\n"
        "    codes:\n"
        "      local: {B12: negative}\n"
        "      I10: {D38.1: negative}\n",
        encoding="utf-8",
    )
    rules = load_pathology_rules("lung_nodule", [device], local_codes={"b12": "indeterminate"})
    assert _code("local", "B12", rules) == "indeterminate"
    assert _code("icd-10", "D38.1", rules) == "negative"
    assert _code("icd-o-3", "8140/2", rules) == "indeterminate"
    assert _code("icd-o-3", "8140/3", rules) == "positive"
    assert rules.sources[-1] == str(device)


def test_an_extra_file_extends_and_moves_text_terms(tmp_path: Path) -> None:
    device = tmp_path / "device.yaml"
    device.write_text(
        "targets:\n"
        "  lung_nodule:\n"
        "    text:\n"
        "      positive: [tumeur fibreuse solitaire maligne]\n"
        "      negative: [pneumocytome, atypies]\n",
        encoding="utf-8",
    )
    assert _text("Pneumocytome sclérosant.") is None
    assert _text("Atypies réactionnelles.") == "indeterminate"
    rules = load_pathology_rules("lung_nodule", [device])
    assert _text("Pneumocytome sclérosant.", rules) == "negative"
    assert _text("Atypies réactionnelles.", rules) == "negative"


def test_an_extra_file_may_define_a_new_target(tmp_path: Path) -> None:
    extra = tmp_path / "pe.yaml"
    extra.write_text(
        "targets:\n  pulmonary_embolism:\n    text:\n      positive: [thrombus]\n",
        encoding="utf-8",
    )
    rules = load_pathology_rules("pulmonary_embolism", [extra])
    assert _text("Thrombus fibrino-cruorique.", rules) == "positive"
    assert _text("Absence de thrombus.", rules) == "negative"


# -------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    "text",
    [
        "Absence de carcinome.",
        "Pas de cellule carcinomateuse.",
        "Negative for carcinoma.",
        "No malignant cells identified.",
        "Carcinome non retrouvé.",
        "Absence de carcinome, de lymphome ou de métastase.",
    ],
)
def test_negated_malignancy_is_negative_not_positive(text: str) -> None:
    assert _text(text) == "negative"


@pytest.mark.parametrize(
    "text",
    [
        "ADÉNOCARCINOME",
        "adenocarcinome",
        "AdÉnoCarcinome",
        "Ade\u0301nocarcinome",  # decomposed accent (NFD)
        "CARCINOME ÉPIDERMOÏDE",
        "carcinome a petites cellules",
    ],
)
def test_text_matching_ignores_accents_and_case(text: str) -> None:
    assert _text(text) == "positive"


def test_evidence_is_the_span_of_the_original_text() -> None:
    result = map_pathology(text="Biopsie : absence de cellule carcinomateuse.", rules=LUNG)
    assert result == PathologyOutcome(
        "negative", TEXT_METHOD, "absence de cellule carcinomateuse", ()
    )


def test_evidence_keeps_a_trailing_decomposed_accent() -> None:
    text = "Tumeur carcinoi\u0308de."
    assert map_pathology(text=text, rules=LUNG).evidence == "Tumeur carcinoi\u0308de"


def test_malignancy_anywhere_in_a_mixed_conclusion_is_positive() -> None:
    text = "Granulome épithélioïde. Par ailleurs, adénocarcinome lépidique."
    assert _text(text) == "positive"


def test_non_diagnostic_beats_an_absence_of_tumour_cells() -> None:
    assert _text("Matériel insuffisant ; pas de cellule tumorale observée.") == "indeterminate"


def test_a_negated_uncertain_term_says_nothing() -> None:
    assert _text("Hamartome sans atypie.") == "negative"


def test_a_comma_ends_the_negation_unless_the_list_continues() -> None:
    assert _text("Absence d'emboles vasculaires, adénocarcinome acineux.") == "positive"
    assert _text("Absence d'atypie, de carcinome ou de métastase.") == "negative"


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("Adénocarcinome probable.", "indeterminate"),
        ("Malignité non exclue.", "indeterminate"),
        ("Adénocarcinome possiblement métastatique.", "positive"),
        ("Adenocarcinoma, possible colonic origin.", "positive"),
        ("Pas de métastase ganglionnaire. Adénocarcinome.", "positive"),
        ("Carcinome non à petites cellules.", "positive"),
        ("Dossier à présenter en RCP de cancérologie. Hamartome.", "negative"),
    ],
)
def test_uncertainty_cues_stay_within_their_phrase(text: str, outcome: str) -> None:
    assert _text(text) == outcome


def test_text_without_any_term_gives_no_outcome_and_says_why() -> None:
    result = map_pathology(text="Fragments biopsiques reçus fixés.", rules=LUNG)
    assert result.outcome is None and result.method is None
    assert result.notes == ("the text has no term of the rules",)


def test_nothing_given_gives_no_outcome() -> None:
    assert map_pathology(rules=LUNG).notes == ("neither a code nor a text was given",)


# -------------------------------------------------------------------- precedence


def test_a_code_wins_over_text_and_the_evidence_notes_the_text() -> None:
    result = map_pathology(
        codes=[("SCT", "363358000")], text="Absence de cellule carcinomateuse.", rules=LUNG
    )
    assert (result.outcome, result.method) == ("positive", "pathology_code:snomed-ct")
    assert result.evidence is not None
    assert "text says negative: 'Absence de cellule carcinomateuse'" in result.evidence
    assert any("code wins over text" in note for note in result.notes)


def test_agreeing_code_and_text_add_no_note() -> None:
    result = map_pathology(codes=[("I10", "C34.1")], text="Adénocarcinome.", rules=LUNG)
    assert (result.outcome, result.evidence, result.notes) == (
        "positive",
        "icd-10 C34.1",
        (),
    )


@pytest.mark.parametrize(
    ("codes", "outcome"),
    [
        ([("icd-o-3", "8010/0"), ("icd-o-3", "8140/1"), ("I10", "C34.1")], "positive"),
        ([("I10", "D14.3"), ("icd-o-3", "8140/1")], "indeterminate"),
        ([("I10", "D14.3"), ("SCT", "45647009")], "negative"),
    ],
)
def test_among_codes_the_most_severe_wins(codes: list[tuple[str, str]], outcome: str) -> None:
    assert map_pathology(codes=codes, rules=LUNG).outcome == outcome


def test_unrecognised_codes_fall_back_to_text_with_notes() -> None:
    result = map_pathology(
        codes=[("LOINC", "22637-3"), ("icd-o-3", "8140-3")], text="Hamartome.", rules=LUNG
    )
    assert (result.outcome, result.method) == ("negative", TEXT_METHOD)
    assert "code system 'LOINC' is unknown" in result.notes[0]
    assert "'8140-3' is malformed" in result.notes[1]


# ------------------------------------------------------------------ labelled table

CONCLUSIONS: list[tuple[str, str]] = [
    ("Adénocarcinome pulmonaire invasif d'architecture acineuse, TTF1+.", "positive"),
    ("Carcinome épidermoïde peu différencié infiltrant.", "positive"),
    ("Carcinome à petites cellules.", "positive"),
    ("Localisation d'un carcinome neuroendocrine à grandes cellules.", "positive"),
    ("Métastase pulmonaire d'un adénocarcinome colique.", "positive"),
    ("Tumeur carcinoïde typique.", "positive"),
    ("Prolifération tumorale maligne compatible avec une origine pulmonaire.", "positive"),
    ("CBNPC de type adénocarcinome, PD-L1 50 %.", "positive"),
    ("Lymphome B diffus à grandes cellules.", "positive"),
    ("Carcinome épidermoïde in situ.", "positive"),
    ("Lung, RUL wedge: invasive adenocarcinoma, lepidic predominant.", "positive"),
    ("Squamous cell carcinoma, moderately differentiated.", "positive"),
    ("Metastatic melanoma.", "positive"),
    ("Positive for malignancy: small cell carcinoma.", "positive"),
    ("Hamartome chondroïde pulmonaire.", "negative"),
    ("Granulome épithélioïde et gigantocellulaire sans nécrose caséeuse.", "negative"),
    ("Tuberculome calcifié. Absence de malignité.", "negative"),
    ("Lésion inflammatoire non spécifique, absence de cellule tumorale.", "negative"),
    ("Parenchyme pulmonaire normal.", "negative"),
    ("Pas de cellule carcinomateuse identifiée sur ce prélèvement.", "negative"),
    ("Absence de carcinome.", "negative"),
    ("Fibrose pulmonaire cicatricielle avec anthracose.", "negative"),
    ("Pneumopathie organisée.", "negative"),
    ("Nodule bénin.", "negative"),
    ("Aspergillome.", "negative"),
    ("Benign hamartoma.", "negative"),
    ("Necrotizing granuloma; negative for malignancy.", "negative"),
    ("No evidence of malignancy.", "negative"),
    ("Negative for carcinoma.", "negative"),
    ("No malignant cells seen.", "negative"),
    ("Normal lung parenchyma.", "negative"),
    ("Prélèvement non contributif.", "indeterminate"),
    ("Matériel insuffisant pour conclure.", "indeterminate"),
    ("Atypies cytonucléaires de signification indéterminée.", "indeterminate"),
    ("Cellules suspectes de carcinome, à contrôler.", "indeterminate"),
    ("Aspect ne permettant pas de conclure.", "indeterminate"),
    ("Lésion suspecte, à contrôler.", "indeterminate"),
    ("Un adénocarcinome ne peut être exclu.", "indeterminate"),
    ("Non-diagnostic specimen.", "indeterminate"),
    ("Insufficient material for diagnosis.", "indeterminate"),
    ("Atypical cells, suspicious for adenocarcinoma.", "indeterminate"),
    ("Tumour of uncertain malignant potential.", "indeterminate"),
]


@pytest.mark.parametrize(("text", "outcome"), CONCLUSIONS)
def test_labelled_conclusions(text: str, outcome: str) -> None:
    assert _text(text) == outcome


def test_the_labelled_table_covers_every_outcome_in_both_languages() -> None:
    outcomes = [outcome for _, outcome in CONCLUSIONS]
    assert len(CONCLUSIONS) >= 40
    assert {o: outcomes.count(o) >= 8 for o in ("positive", "negative", "indeterminate")} == {
        "positive": True,
        "negative": True,
        "indeterminate": True,
    }


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("codes", "reason"),
    [
        ([("icd-o-3", "8140-3")], "'8140-3' is malformed"),
        ([("icd-o-3", "8140/5")], "behaviour digit 5"),
        ([("SCT", "lung cancer")], "is not a concept id"),
        ([("I10", "34.1")], "ICD-10 code '34.1' is malformed"),
        ([("local", "  ")], "local code is empty"),
        ([("XYZ", "1")], "code system 'XYZ' is unknown"),
        ([("SCT",)], "is not a (system, code) pair"),
        ([("SCT", 363358000)], "is not a pair of strings"),
    ],
)
def test_malformed_codes_give_no_outcome_with_the_reason(
    codes: list[tuple[str, str]], reason: str
) -> None:
    result = map_pathology(codes=codes, rules=LUNG)
    assert result.outcome is None
    assert reason in result.notes[0]


def test_an_unknown_target_raises_naming_it_and_the_fix() -> None:
    with pytest.raises(ValueError, match=r"unknown pathology target 'liver'.*lung_nodule.*extra"):
        load_pathology_rules("liver")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("targets: {lung_nodule: {codes: {I10: {C34: malignant}}}}", "outcome 'malignant'"),
        ("targets: {lung_nodule: {icd_o_behaviour: {5: positive}}}", "behaviour digit"),
        ("targets: {lung_nodule: {codes: {LOINC: {}}}}", "unknown code system 'LOINC'"),
        ("targets: {lung_nodule: {text: {positive: [no]}}}", "quote words"),
        ("targets: {lung_nodule: {txt: {}}}", "unknown keys ['txt']"),
        ("target: {}", "unknown top-level keys ['target']"),
        ("- a list", "must be a mapping"),
        ("targets: {lung_nodule: {codes: {icd-o-3: {'8140-3': positive}}}}", "must look like"),
        ("targets: [", "not a valid UTF-8 YAML file"),
    ],
)
def test_ill_shaped_rules_files_raise_naming_the_file(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.yaml") as raised:
        load_pathology_rules("lung_nodule", [path])
    assert message in str(raised.value)


def test_a_missing_rules_file_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing.yaml: cannot read"):
        load_pathology_rules("lung_nodule", [tmp_path / "missing.yaml"])


def test_a_bad_local_outcome_raises() -> None:
    with pytest.raises(ValueError, match=r"local_codes.*'cancer' must be one of"):
        load_pathology_rules("lung_nodule", local_codes={"X1": "cancer"})


def test_rules_built_directly_are_normalised() -> None:
    rules = PathologyRules(
        target="lung_nodule",
        codes={"I10": {"C34.1": CodeRule("positive")}, "local": {"AbC": CodeRule("negative")}},
        icd_o_behaviour={},
        text=TextVocabulary(indeterminate=("Matériel INSUFFISANT",)),
    )
    assert _code("icd-10", "C34.1", rules) == "positive"
    assert _code("local", "abc", rules) == "negative"
    assert _text("materiel insuffisant", rules) == "indeterminate"
    with pytest.raises(ValueError, match="unknown code system 'LOINC'"):
        PathologyRules(target="x", codes={"LOINC": {}}, icd_o_behaviour={}, text=TextVocabulary())


def test_a_text_that_is_not_a_string_is_ignored_with_a_note() -> None:
    result = map_pathology(text=b"carcinome", rules=LUNG)  # type: ignore[arg-type]
    assert (result.outcome, result.notes) == (None, ("text is a bytes, not a string: ignored",))


def test_rules_and_outcomes_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LUNG.target = "fracture"  # type: ignore[misc]
    with pytest.raises(TypeError):
        LUNG.codes["local"]["x"] = None  # type: ignore[index]


# -------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    result = map_pathology(text=text, rules=LUNG)
    assert result.outcome in (None, "positive", "negative", "indeterminate")
    if result.outcome is not None:
        assert result.evidence and result.evidence in text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=30), st.text(max_size=20)), max_size=4),
    st.sampled_from([text for text, _ in CONCLUSIONS]),
    st.integers(min_value=0, max_value=60),
    st.text(max_size=5),
)
def test_random_codes_and_mutated_conclusions_never_raise(
    codes: list[tuple[str, str]], text: str, at: int, insert: str
) -> None:
    mutated = text[:at] + insert + text[at:]
    result = map_pathology(codes=codes, text=mutated, rules=LUNG)
    assert result.outcome in (None, "positive", "negative", "indeterminate")
