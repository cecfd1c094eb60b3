"""One degradation, many slices: findings grouped into incidents around a primary."""

from __future__ import annotations

from typing import Any

from alerts.incidents import incidents, same_incident


def _record(id_: int, start: str, end: str, **changes: Any) -> dict[str, Any]:
    record = {
        "id": id_,
        "device_id": "frac",
        "rule": "cusum",
        "metric": "sensitivity",
        "device_version": "2.4.0",
        "window_start": f"{start}T00:00:00+02:00",
        "window_end": f"{end}T23:59:59+02:00",
        "last_seen_at": f"{end}T23:59:59+02:00",
        "detected_at": f"{end}T23:59:59+02:00",
    }
    record.update(changes)
    return record


def test_overlapping_performance_findings_of_one_device_and_metric_are_one_incident() -> None:
    primary = _record(1, "2025-07-21", "2025-07-27")
    assert same_incident(primary, _record(2, "2025-07-22", "2025-07-30", device_version=None))
    assert same_incident(primary, _record(3, "2025-07-01", "2025-07-31", rule="below_claim"))


def test_other_devices_metrics_versions_rules_and_times_are_not() -> None:
    primary = _record(1, "2025-07-21", "2025-07-27")
    assert not same_incident(primary, _record(2, "2025-07-22", "2025-07-30", device_id="nod"))
    assert not same_incident(primary, _record(2, "2025-07-22", "2025-07-30", metric="specificity"))
    assert not same_incident(primary, _record(2, "2025-07-22", "2025-07-30", device_version="2.3"))
    assert not same_incident(primary, _record(2, "2025-07-22", "2025-07-30", rule="outage"))
    assert not same_incident(primary, _record(2, "2025-08-02", "2025-08-30"))
    assert not same_incident(primary, _record(2, "2025-07-22", "2025-07-30", window_start=None))
    assert not same_incident(primary, primary)


def test_an_incident_lasts_while_its_slices_keep_alarming() -> None:
    records = [
        _record(1, "2025-07-21", "2025-07-27"),  # the first alarm
        _record(2, "2025-07-25", "2025-08-20"),  # overlaps 1 and stretches the incident
        _record(3, "2025-08-10", "2025-09-05"),  # overlaps only 2: same incident
        _record(4, "2025-11-01", "2025-11-30"),  # after a quiet spell: a new incident
        _record(5, "2025-07-21", "2025-07-28", metric="specificity"),
    ]
    assert incidents(records) == {1: 1, 2: 1, 3: 1, 4: 4, 5: 5}
    assert incidents(reversed(records)) == incidents(records)
    assert incidents([]) == {}
