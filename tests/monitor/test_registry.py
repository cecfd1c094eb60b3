"""The device registry: validation messages, import/export round trip, audit."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from monitor import audit
from monitor.errors import NotFoundError, RegistryError
from monitor.registry import (
    export_registry,
    get_device,
    import_registry,
    list_devices,
    load_registry_file,
    parse_registry,
)
from monitor.storage import Database
from tests.conftest import registry_document


def _with(change: dict, index: int = 0) -> dict:  # type: ignore[type-arg]
    document = copy.deepcopy(registry_document())
    for dotted, value in change.items():
        node = document["devices"][index]
        *path, last = dotted.split(".")
        for part in path:
            node = node[part]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"claimed_performance.sensitivity": 1.3},
            "device 'frac': claimed_performance.sensitivity 1.3 outside 0..1",
        ),
        ({"indeterminate_policy": "maybe"}, "device 'frac': indeterminate_policy 'maybe'"),
        ({"target": KeyError}, "device 'frac': target is required"),
        ({"operating_threshold": -0.1}, "device 'frac': operating_threshold -0.1 outside 0..1"),
        ({"colour": "blue"}, "device 'frac': colour is not a registry field"),
        (
            {"claimed_performance.sensitivity_ci": [0.95, 0.97]},
            "sensitivity_ci [0.95, 0.97] must lie in 0..1 and contain sensitivity 0.9",
        ),
        ({"ce_class": "IV"}, "device 'frac': ce_class 'IV'"),
        ({"date_in_service": "yesterday"}, "device 'frac': date_in_service 'yesterday'"),
    ],
)
def test_validation_errors_name_device_field_and_problem(change: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(RegistryError) as caught:
        parse_registry(_with(change), path="devices.yaml")
    assert str(caught.value).startswith("devices.yaml: ")
    assert message in str(caught.value)
    assert caught.value.device_id == "frac"


def test_duplicate_ids_and_bad_structure_are_refused() -> None:
    document = registry_document()
    document["devices"].append(copy.deepcopy(document["devices"][0]))
    with pytest.raises(RegistryError, match="'frac' appears twice"):
        parse_registry(document)
    with pytest.raises(RegistryError, match="top-level 'devices:' list"):
        parse_registry({"device": []})


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        load_registry_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices: [\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="invalid YAML"):
        load_registry_file(bad)


def test_risk_analysis_reports_what_is_missing() -> None:
    frac, nod = parse_registry(registry_document())
    assert frac.risk_analysis.missing() == [
        "data_reuse_by_manufacturer",
        "patient_information",
        "cybersecurity",
        "continuity_plan",
    ]
    assert len(nod.risk_analysis.missing()) == 6


def test_import_export_round_trip_and_audit(database: Database, tmp_path: Path) -> None:
    specs = parse_registry(registry_document())
    with database.session.begin() as session:
        assert import_registry(session, specs, actor="alice") == {
            "frac": "created",
            "nod": "created",
        }
    with database.session() as session:
        exported = export_registry(list_devices(session))
    file = tmp_path / "export.yaml"
    file.write_text(exported, encoding="utf-8")
    assert load_registry_file(file) == specs

    changed = _with({"claimed_performance.sensitivity": 0.88})
    with database.session.begin() as session:
        result = import_registry(session, parse_registry(changed), actor="bob")
    assert result == {"frac": "updated", "nod": "unchanged"}
    with database.session() as session:
        assert get_device(session, "frac").claimed_performance.sensitivity == 0.88
        entries = audit.list_entries(session, entity="device")
    assert [(e.actor, e.action, e.entity_id) for e in entries] == [
        ("bob", "device.updated", "frac"),
        ("alice", "device.created", "nod"),
        ("alice", "device.created", "frac"),
    ]
    change = entries[0].details["changed"]["claimed_performance"]
    assert change["from"]["sensitivity"] == 0.9 and change["to"]["sensitivity"] == 0.88


def test_unknown_device_names_the_known_ones(registered: Database) -> None:
    with registered.session() as session, pytest.raises(NotFoundError, match="known: frac, nod"):
        get_device(session, "ghost")


def test_export_is_plain_yaml_with_a_devices_list(registered: Database) -> None:
    with registered.session() as session:
        document = yaml.safe_load(export_registry(list_devices(session)))
    assert [d["id"] for d in document["devices"]] == ["frac", "nod"]
    assert document["devices"][0]["date_in_service"] == "2025-01-01"


# --- score scale, operating points, devices under evaluation --------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"operating_threshold": 40},
            "device 'frac': operating_threshold 40 outside 0..1, the device's score_scale unit "
            "(set score_scale: percent for 0..100 scores, logit for log-odds)",
        ),
        (
            {"score_scale": "percent", "operating_threshold": 140},
            "device 'frac': operating_threshold 140 outside 0..100, the device's score_scale "
            "percent",
        ),
        ({"score_scale": "per mille"}, "device 'frac': score_scale 'per mille'"),
        (
            {"operating_points": [{"name": "high sensitivity", "threshold": 1.2}]},
            "device 'frac': operating_points.0.threshold 1.2 outside 0..1",
        ),
        (
            {"operating_points": [{"name": "a", "threshold": 0.2}] * 2},
            "device 'frac': operating_points: the name 'a' is used twice",
        ),
        (
            {"operating_points": [{"threshold": 0.2}]},
            "device 'frac': operating_points.0.name is required",
        ),
        (
            {"claimed_performance": KeyError},
            "device 'frac': claimed_performance is required for a device in service; a device "
            "without a manufacturer's claim is one under evaluation (status: under_evaluation)",
        ),
        ({"status": "retired"}, "device 'frac': status 'retired'"),
    ],
)
def test_thresholds_are_checked_on_the_device_scale_and_a_claim_in_service(
    change: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry(_with(change), path="devices.yaml")
    assert message in str(caught.value)


def test_a_device_declares_its_scale_operating_points_and_status() -> None:
    frac, _ = parse_registry(
        _with(
            {
                "score_scale": "logit",
                "operating_threshold": None,
                "operating_points": [
                    {"name": "high sensitivity", "threshold": -1.0},
                    {"name": "high specificity", "threshold": 2.0},
                ],
                "status": "under_evaluation",
                "claimed_performance": KeyError,
            }
        )
    )
    assert (frac.score_scale, frac.status, frac.claimed_performance) == (
        "logit",
        "under_evaluation",
        None,
    )
    assert frac.primary_threshold == -1.0  # the first point, without operating_threshold
    assert frac.unit_threshold() == pytest.approx(0.2689, abs=1e-4)
    assert frac.claims() == {}


def test_the_new_fields_round_trip_and_defaults_stay_out_of_the_export(
    database: Database, tmp_path: Path
) -> None:
    document = _with(
        {
            "score_scale": "percent",
            "operating_threshold": 50,
            "operating_points": [{"name": "high sensitivity", "threshold": 30}],
            "status": "under_evaluation",
            "claimed_performance": KeyError,
        }
    )
    specs = parse_registry(document)
    with database.session.begin() as session:
        import_registry(session, specs, actor="alice")
    with database.session() as session:
        exported = export_registry(list_devices(session))
    file = tmp_path / "export.yaml"
    file.write_text(exported, encoding="utf-8")
    assert load_registry_file(file) == specs
    frac, nod = yaml.safe_load(exported)["devices"]
    assert frac["operating_points"] == [{"name": "high sensitivity", "threshold": 30.0}]
    assert (frac["score_scale"], frac["status"]) == ("percent", "under_evaluation")
    assert "claimed_performance" not in frac
    assert not {"score_scale", "status", "operating_points"} & set(nod)  # defaults


def test_a_device_without_a_claim_is_stored_without_claimed_rates(database: Database) -> None:
    from monitor.models import Device

    document = _with({"status": "under_evaluation", "claimed_performance": KeyError})
    with database.session.begin() as session:
        import_registry(session, parse_registry(document), actor="alice")
    with database.session() as session:
        device = session.get_one(Device, "frac")
        assert (device.claimed_sensitivity, device.claimed_specificity) == (None, None)
