"""Which subgroup values look alike: script, case and spacing, not meaning."""

from __future__ import annotations

from monitor.lookalikes import look_alike_groups, skeleton


def test_letters_of_other_scripts_case_and_spacing_look_alike() -> None:
    assert skeleton("Fuj\u0456film") == skeleton("FUJIFILM") == skeleton("Fuji film")
    assert skeleton("\u0421\u0422 thorax") == skeleton("CT-thorax")  # Cyrillic С and Т


def test_different_versions_and_names_do_not() -> None:
    assert skeleton("2.4.0") != skeleton("24.0")
    assert skeleton("Siemens") != skeleton("Philips")
    assert look_alike_groups(["2.4.0", "24.0", "2.4.1", "Fujifilm", "Fujifilm"]) == []


def test_groups_hold_every_spelling_sorted() -> None:
    assert look_alike_groups(["b", "Fujifilm", "FUJIFILM", "a", "fujifilm"]) == [
        ["FUJIFILM", "Fujifilm", "fujifilm"]
    ]
