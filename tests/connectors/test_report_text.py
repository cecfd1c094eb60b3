"""Reading a report's outcome by rules: what each rule does, and agreement with a corpus.

Specified here: negation, uncertainty, pseudo-negation, historical and other-site
cues and their scope (clause and list boundaries); the conclusion preferred over
the body; accent-, case-, apostrophe- and hyphen-insensitive matching; evidence
offsets into the original text; vocabularies extended by the user's YAML files
and their errors; unknown targets; empty texts. The labelled corpus
(``report_corpus.py``) must agree >= 95 % and fail exactly on :data:`KNOWN_ERRORS`.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import ConnectorError
from connectors.report_text import (
    SECTIONS,
    TARGETS,
    TextOutcome,
    extract_outcome,
    load_vocabulary,
)
from tests.connectors.report_corpus import CORPUS, CorpusItem

KNOWN_ERRORS = {
    # Negation of another finding (healing) that precedes the term in the same phrase.
    "fr-fracture-085": "'absence de consolidation de la fracture' reads as a negated fracture",
    "en-fracture-083": "'no evidence of healing of the ... fracture' reads as a negated fracture",
    # An 'or' inside the affirmed finding makes the comma continue the negated list.
    "en-fracture-087": "'no dislocation, fracture of the radius or ulna' reads as a list",
}

OUTCOME_VALUES = ("positive", "negative", "indeterminate", None)


def outcome(text: str, target: str = "fracture") -> str | None:
    return extract_outcome(text, target).outcome


# ------------------------------------------------------------------- corpus


def test_the_corpus_is_large_and_balanced() -> None:
    assert len(CORPUS) >= 300
    assert len({item.id for item in CORPUS}) == len(CORPUS)
    for language in ("fr", "en"):
        for target in TARGETS:
            for expected in ("positive", "negative", "indeterminate"):
                count = sum(
                    (item.language, item.target, item.expected) == (language, target, expected)
                    for item in CORPUS
                )
                assert count >= 20, (language, target, expected)


def test_the_corpus_agrees_at_least_95_percent() -> None:
    correct = sum(outcome(item.text, item.target) == item.expected for item in CORPUS)
    assert correct / len(CORPUS) >= 0.95


def test_exactly_the_known_errors_fail() -> None:
    wrong = {item.id for item in CORPUS if outcome(item.text, item.target) != item.expected}
    assert wrong == set(KNOWN_ERRORS), (
        f"new errors: {sorted(wrong - set(KNOWN_ERRORS))}; "
        f"fixed (remove from KNOWN_ERRORS): {sorted(set(KNOWN_ERRORS) - wrong)}"
    )


# ---------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fracture du radius.", "positive"),
        ("Pas de fracture.", "negative"),
        ("Suspicion de fracture.", "indeterminate"),
        ("Luxation de l'épaule.", None),
        ("Fracture du radius. Pas de fracture du cubitus.", "positive"),
        ("Fracture possible du radius. Pas de fracture du cubitus.", "indeterminate"),
    ],
)
def test_positive_beats_indeterminate_beats_negative_beats_no_mention(
    text: str, expected: str | None
) -> None:
    assert outcome(text) == expected


def test_an_explicit_normal_statement_is_negative_with_normal_evidence() -> None:
    result = extract_outcome("Examen normal.", "fracture")
    assert result.outcome == "negative"
    assert result.evidence is not None
    assert (result.evidence.status, result.evidence.term) == ("normal", None)
    assert result.evidence.cue == "Examen normal"


def test_a_normal_statement_must_fill_its_clause() -> None:
    assert outcome("Reste de l'examen normal.") is None
    assert outcome("Pas d'anomalie osseuse.", "lung_nodule") is None
    assert outcome("No acute abnormality.", "lung_nodule") == "negative"


def test_a_mention_beats_a_normal_statement() -> None:
    assert outcome("Fracture de la rotule. Examen normal par ailleurs.") == "positive"
    assert outcome("Possible fracture. Examen normal par ailleurs.") == "indeterminate"


def test_no_mention_is_the_unmentioned_state_not_negative() -> None:
    result = extract_outcome("Cardiomégalie.", "lung_nodule")
    assert (result.outcome, result.evidence, result.section) == (None, None, None)
    assert result.state == "unmentioned"


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_an_empty_text_is_the_empty_state(text: str) -> None:
    result = extract_outcome(text, "fracture")
    assert result == TextOutcome("fracture", None, "report_text_rules/v2", None, None, "empty")


# -------------------------------------------------------------------- scope


@pytest.mark.parametrize(
    "text",
    [
        "Pas de luxation. Fracture du radius.",
        "Pas de luxation; fracture du radius.",
        "Pas de luxation : fracture du radius.",
        "Pas de luxation\nfracture du radius",
        "Pas de luxation mais fracture du radius.",
        "Pas de luxation, cependant fracture du radius.",
        "Pas de luxation, par ailleurs fracture du radius.",
        "Pas d'anomalie hormis une fracture du radius.",
        "Pas d'anomalie en dehors d'une fracture du radius.",
        "No dislocation but a fracture of the radius.",
        "No dislocation; however, fracture of the radius.",
        "No abnormality apart from a fracture of the radius.",
        "Pas de luxation, fracture du radius.",
    ],
)
def test_negation_scope_ends_at_clause_boundaries(text: str) -> None:
    assert outcome(text) == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "Pas de luxation, de fracture ou d'épanchement.",
        "Pas de luxation, fracture ou épanchement.",
        "Ni luxation ni fracture.",
        "No dislocation, fracture, or effusion.",
        "No dislocation, fracture nor effusion.",
    ],
)
def test_negation_covers_a_list(text: str) -> None:
    assert outcome(text) == "negative"


def test_a_decimal_point_or_comma_does_not_end_a_clause() -> None:
    assert outcome("Pas de nodule de 3.5 mm ni de 4,5 mm.", "lung_nodule") == "negative"


def test_a_cue_after_the_term_only_covers_its_segment() -> None:
    assert outcome("Fracture du radius, luxation non exclue.") == "positive"
    assert outcome("Fracture du radius, non exclue.") == "indeterminate"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pas de changement de la fracture connue.", "positive"),
        ("Fracture sans déplacement.", "positive"),
        ("Fracture non déplacée du radius.", "positive"),
        ("No change in the known fracture.", "positive"),
        ("Not only a fracture but also a dislocation.", "positive"),
        ("Cet aspect n'exclut pas une fracture.", "indeterminate"),
        ("Sans doute fracture du scaphoïde.", "indeterminate"),
    ],
)
def test_pseudo_negations_do_not_negate(text: str, expected: str) -> None:
    assert outcome(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Suspicion de fracture.",
        "Fracture possible.",
        "Probable fracture.",
        "Fracture à confirmer.",
        "Fracture ?",
        "? fracture du scaphoïde",
        "Doute sur une fracture.",
        "Fracture non exclue.",
        "Cannot exclude a fracture.",
        "A fracture cannot be excluded.",
        "Questionable fracture.",
        "Likely fracture.",
    ],
)
def test_uncertainty_cues_make_it_indeterminate(text: str) -> None:
    assert outcome(text) == "indeterminate"


def test_the_outermost_cue_decides_between_negation_and_uncertainty() -> None:
    assert outcome("The suspected fracture is not identified.") == "negative"
    assert outcome("No evidence of suspected fracture.") == "negative"
    assert outcome("Pas de fracture ?") == "indeterminate"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ancienne fracture consolidée de la clavicule.", "negative"),
        ("Antécédent de fracture du fémur.", None),
        ("Fracture du fémur en 2019.", None),
        ("Old healed fracture of the clavicle.", "negative"),
        ("History of wrist fracture.", None),
    ],
)
def test_historical_mentions_are_not_current(text: str, expected: str | None) -> None:
    """An old fracture seen on the image: no current one (negative); a past history
    alone: the current exam is not spoken of (None)."""
    assert outcome(text) == expected


def test_a_historical_cue_stays_in_its_segment() -> None:
    assert outcome("Ancienne fracture de la clavicule, fracture récente du radius.") == "positive"


def test_other_sites_and_excluded_phrases_do_not_count() -> None:
    assert outcome("Nodule thyroïdien droit.", "lung_nodule") is None
    assert outcome("Thyroid nodule.", "lung_nodule") is None
    assert outcome("Risque fracturaire élevé.") is None


def test_an_indication_line_is_not_read() -> None:
    assert outcome("Indication : suspicion de fracture.") is None
    text = "Renseignements cliniques : chute, fracture ?\nPas de fracture."
    assert outcome(text) == "negative"


# ----------------------------------------------------------------- sections


def test_the_conclusion_is_preferred() -> None:
    result = extract_outcome(
        "Trait de fracture du radius ?\nConclusion : pas de fracture.", "fracture"
    )
    assert (result.outcome, result.section) == ("negative", "conclusion")
    result = extract_outcome("No fracture seen.\nIMPRESSION: Fracture of the radius.", "fracture")
    assert (result.outcome, result.section) == ("positive", "conclusion")


@pytest.mark.parametrize(
    "header",
    ["Conclusion :", "CONCLUSION\n", "Au total,", "En conclusion,", "Synthèse -", "IMPRESSION:"],
)
def test_every_conclusion_header_is_found(header: str) -> None:
    result = extract_outcome(f"Fracture du radius.\n{header} pas de fracture.", "fracture")
    assert (result.outcome, result.section) == ("negative", "conclusion")


def test_a_silent_conclusion_falls_back_to_the_body() -> None:
    result = extract_outcome(
        "Pas de nodule pulmonaire.\nConclusion : fracture de côte.", "lung_nodule"
    )
    assert (result.outcome, result.section) == ("negative", "findings")
    result = extract_outcome("Rien.\nConclusion : fracture de côte.", "lung_nodule")
    assert (result.outcome, result.state) == (None, "unmentioned")


def test_a_header_word_inside_a_sentence_is_not_a_header() -> None:
    result = extract_outcome("Fracture du radius, au total trois traits.", "fracture")
    assert result.section == "full_text"


# ------------------------------------------------------------------ matching


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@pytest.mark.parametrize("item", CORPUS[::7], ids=lambda item: item.id)
def test_matching_ignores_accents_and_case(item: CorpusItem) -> None:
    text, target = item.text, item.target
    expected = outcome(text, target)
    assert outcome(_strip_accents(text), target) == expected
    assert outcome(text.upper(), target) == expected
    assert outcome(text.lower(), target) == expected


def test_typographic_apostrophes_and_hyphens_match() -> None:
    assert outcome("Cet aspect n’exclut pas une fracture.") == "indeterminate"
    assert outcome("L’absence de fracture est certaine.") == "negative"
    assert outcome("Fracture tassement de L1.") == "positive"
    assert outcome("Nodule en verre‑dépoli.", "lung_nodule") == "positive"


def test_plurals_match() -> None:
    assert outcome("Fractures costales.") == "positive"
    assert outcome("Pas de micronodules.", "lung_nodule") == "negative"


def test_evidence_is_a_slice_of_the_original_text() -> None:
    text = "Œdème des parties molles. Pas d’épanchement; fracture déplacée possible."
    result = extract_outcome(text, "fracture")
    assert result.outcome == "indeterminate"
    evidence = result.evidence
    assert evidence is not None
    assert text[evidence.start : evidence.end] == evidence.text == "fracture déplacée possible"
    assert (evidence.term, evidence.cue, evidence.status) == ("fracture", "possible", "uncertain")


def test_the_method_names_the_language() -> None:
    assert extract_outcome("Pas de fracture du radius.", "fracture").method == (
        "report_text_rules/v2 fr"
    )
    assert extract_outcome("No fracture of the radius.", "fracture").method == (
        "report_text_rules/v2 en"
    )
    assert extract_outcome("Fx.", "fracture").method == "report_text_rules/v2 fr+en"


def test_results_are_frozen() -> None:
    result = extract_outcome("Fracture.", "fracture")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.outcome = "negative"  # type: ignore[misc]


# -------------------------------------------------------------- vocabularies


def test_unknown_target_is_a_value_error_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="fracture, lung_nodule"):
        extract_outcome("Fracture.", "pneumothorax")
    with pytest.raises(ValueError, match="fracture, lung_nodule"):
        load_vocabulary("pneumothorax")


def test_builtin_vocabularies_have_both_languages() -> None:
    for target in TARGETS:
        vocabulary = load_vocabulary(target)
        assert vocabulary.target == target
        for language in ("fr", "en"):
            entry = vocabulary.language(language)
            assert entry.terms and entry.negation and entry.uncertainty


def test_an_extra_file_extends_the_terms(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "target: fracture\nfr:\n  terms: [fêlure]\n  negation: ['re:exempt de']\n",
        encoding="utf-8",
    )
    assert outcome("Fêlure du radius.") is None
    vocabulary = load_vocabulary("fracture", [extra])
    assert "fêlure" in vocabulary.language("fr").terms
    assert "fracture" in vocabulary.language("fr").terms
    assert extract_outcome("Felure du radius.", "fracture", vocabulary).outcome == "positive"
    assert extract_outcome("Exempt de fêlure.", "fracture", vocabulary).outcome == "negative"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("fr: [", "valid UTF-8 YAML"),
        ("- a list", "mapping"),
        ("de:\n  terms: [Bruch]", "unknown key 'de'"),
        ("fr:\n  words: [x]", "unknown list"),
        ("fr:\n  terms: fracture", "list of strings"),
        ("fr:\n  terms: ['re:(']", "bad regular expression"),
        ("fr:\n  terms: ['  ']", "empty entry"),
        ("target: lung_nodule\nfr:\n  terms: [x]", "for target 'lung_nodule'"),
        ("fr: [x]", "mapping of lists"),
    ],
)
def test_a_bad_extra_file_is_a_connector_error(tmp_path: Path, content: str, message: str) -> None:
    extra = tmp_path / "bad.yaml"
    extra.write_text(content, encoding="utf-8")
    with pytest.raises(ConnectorError, match=message) as caught:
        load_vocabulary("fracture", [extra])
    assert str(extra) in str(caught.value)


def test_a_missing_extra_file_is_a_connector_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="cannot read"):
        load_vocabulary("fracture", [tmp_path / "absent.yaml"])


def test_an_empty_extra_file_changes_nothing(tmp_path: Path) -> None:
    extra = tmp_path / "empty.yaml"
    extra.write_text("", encoding="utf-8")
    assert load_vocabulary("fracture", [extra]) == load_vocabulary("fracture")


# --------------------------------------------------------------- robustness


def _check(result: TextOutcome, text: str) -> None:
    assert result.outcome in OUTCOME_VALUES
    assert result.section is None or result.section in SECTIONS
    if result.evidence is not None:
        evidence = result.evidence
        assert 0 <= evidence.start <= evidence.end <= len(text)
        assert text[evidence.start : evidence.end] == evidence.text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(TARGETS))
def test_random_bytes_never_raise(data: bytes, target: str) -> None:
    text = data.decode("utf-8", errors="replace")
    _check(extract_outcome(text, target), text)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(CORPUS),
    st.integers(min_value=0, max_value=200),
    st.text(alphabet=st.sampled_from(list(".,;:?!'’-\n éÉœ\u0301ßİ")), max_size=5),
)
def test_mutated_corpus_reports_never_raise(item: CorpusItem, position: int, insert: str) -> None:
    text = item.text
    cut = position % (len(text) + 1)
    mutated = text[:cut] + insert + text[cut:]
    _check(extract_outcome(mutated, item.target), mutated)
