"""SourceMapping: an immutable, hashable description of a vendor's export."""

from __future__ import annotations

import dataclasses

import pytest

from connectors import ConnectorError, SourceMapping


def test_defaults_describe_the_canonical_layout() -> None:
    mapping = SourceMapping()
    assert (mapping.columns, mapping.values, mapping.defaults) == ({}, {}, {})
    assert (mapping.datetime_format, mapping.timezone) == (None, "Europe/Paris")
    assert (mapping.delimiter, mapping.encoding) == (",", "utf-8")
    assert mapping.source_column("ai_result") == "ai_result"


def test_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        SourceMapping({"ai_result": "Result"})  # type: ignore[call-arg]


def test_value_keys_are_stripped_and_casefolded() -> None:
    mapping = SourceMapping(values={"ai_result": {" DOUBT ": " indeterminate", "Straße": "x"}})
    assert dict(mapping.values["ai_result"]) == {"doubt": "indeterminate", "strasse": "x"}


def test_a_mapping_is_immutable_and_hashable_and_copies_its_input() -> None:
    columns = {"ai_result": "Result"}
    mapping = SourceMapping(columns=columns, values={"ai_result": {"DOUBT": "indeterminate"}})
    columns["ai_result"] = "Other"
    assert mapping.source_column("ai_result") == "Result"
    with pytest.raises(TypeError):
        mapping.columns["ai_result"] = "Other"  # type: ignore[index]
    with pytest.raises(TypeError):
        mapping.values["ai_result"]["x"] = "y"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        mapping.delimiter = ";"  # type: ignore[misc]
    same = SourceMapping(
        columns={"ai_result": "Result"}, values={"ai_result": {"doubt": "indeterminate"}}
    )
    assert mapping == same and hash(mapping) == hash(same)
    assert len({mapping, same, SourceMapping()}) == 2


def test_validate_for_names_an_unknown_canonical_column() -> None:
    mapping = SourceMapping(defaults={"report_text": "n/a"})
    mapping.validate_for("outcomes")
    with pytest.raises(
        ConnectorError,
        match="defaults names 'report_text', which is not a canonical predictions column",
    ):
        mapping.validate_for("predictions")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timezone": "Europe/Pariss"}, "unknown timezone 'Europe/Pariss'"),
        ({"delimiter": ""}, "delimiter must be one character"),
        ({"delimiter": '"'}, "delimiter must be one character"),
        ({"encoding": "utf-9"}, "unknown encoding 'utf-9'"),
        ({"datetime_format": "dd/mm/yyyy"}, "has no % directive"),
        ({"datetime_format": "%d/%m/%Y %Q"}, "bad directive"),
    ],
)
def test_validate_for_refuses_unusable_settings(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConnectorError, match=message):
        SourceMapping(**options).validate_for("predictions")  # type: ignore[arg-type]
