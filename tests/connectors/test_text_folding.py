"""Folded text for rule matching, with the way back to the original's offsets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.text_folding import fold_text


def test_accents_case_apostrophes_dashes_and_ligatures_are_folded() -> None:
    folded, _ = fold_text("Œdème — Fracture DÉPLACÉE, l\u2019os\u00a0n\u2019est pas")
    assert folded == "oedeme - fracture deplacee, l'os n'est pas"
    assert fold_text("œ")[1] == [0, 0, 1]  # both letters come from the one character
    assert fold_text("Straße\r")[0] == "strasse\n"


@given(st.text(max_size=200))
def test_every_folded_span_maps_back_to_a_span_of_the_original(text: str) -> None:
    folded, origin = fold_text(text)
    assert len(origin) == len(folded) + 1 and origin[-1] == len(text)
    assert origin == sorted(origin)
    for start in range(0, len(folded), 7):
        end = min(len(folded), start + 5)
        span = text[origin[start] : origin[end - 1] + 1]  # the characters behind the piece
        assert folded[start:end] in fold_text(span)[0]
