"""One degradation, one incident: findings grouped by their content, around the narrowest
slice that explains the drop (more than half of every broader slice's excess), the same
whatever the order or the runs they came from."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from alerts.incidents import (
    EXPLAINS,
    excess_events,
    explains,
    group_incidents,
    incidents,
    related,
    same_incident,
)

_IDS = itertools.count(1)


def _chart(
    version: str | None,
    subgroup: dict[str, str] | None,
    *,
    cases: int,
    events: int,
    start: str = "2025-07-21",
    end: str = "2025-07-31",
    rate: float = 0.09,
    severity: str = "warning",
    **changes: Any,
) -> dict[str, Any]:
    """A CUSUM finding on sensitivity of fracture-xr: ``events`` misses among ``cases``
    verified positives since its change point ``start``, evidence taken on ``end``."""
    record: dict[str, Any] = {
        "id": next(_IDS),
        "device_id": "fracture-xr",
        "rule": "cusum",
        "metric": "sensitivity",
        "severity": severity,
        "status": "open",
        "device_version": version,
        "subgroup": subgroup,
        "window_start": f"{start}T08:00:00+02:00",
        "window_end": f"{end}T23:59:59+02:00",
        "last_seen_at": f"{end}T23:59:59+02:00",
        "detected_at": f"{end}T23:59:59+02:00",
        "value": 1 - events / cases,
        "threshold": 9.1,
        "evidence": {
            "slice": "...",
            "in_control_source": "claim",
            "in_control_rate": rate,
            "event": "miss",
            "cases_since_change": cases,
            "events_since_change": events,
            "metric_since_change": 1 - events / cases,
            "change_point_exam": f"{start}T08:00:00+02:00",
            "change_point_arrival": f"{start}T08:00:00+02:00",
            "affected_cases_total": events,
        },
    }
    record.update(changes)
    return record


def _month(
    version: str | None,
    subgroup: dict[str, str] | None,
    *,
    month: str,
    n: int,
    correct: int,
    severity: str = "warning",
    **changes: Any,
) -> dict[str, Any]:
    """A below-claim finding of one month (claimed sensitivity 0.91)."""
    year, m = (int(x) for x in month.split("-"))
    end = f"{year + m // 12}-{m % 12 + 1:02d}-01"
    record: dict[str, Any] = {
        "id": next(_IDS),
        "device_id": "fracture-xr",
        "rule": "below_claim",
        "metric": "sensitivity",
        "severity": severity,
        "status": "open",
        "device_version": version,
        "subgroup": subgroup,
        "window_start": f"{month}-01T00:00:00+02:00",
        "window_end": f"{end}T00:00:00+02:00",
        "last_seen_at": "2025-12-31T23:59:59+01:00",
        "detected_at": f"{end}T23:59:59+02:00",
        "value": correct / n,
        "threshold": 0.91,
        "evidence": {"n": n, "correct": correct, "claimed": 0.91, "p_value": 1e-4},
    }
    record.update(changes)
    return record


FUJI = {"scanner_manufacturer": "Fujifilm"}
SUD = {"site": "CHU-Sud"}
OLD = {"age_band": ">=65"}


def _degradation() -> dict[str, dict[str, Any]]:
    """Version 2.4.0 misses fractures on Fujifilm images (CHU-Sud holds the Fujifilm
    machines and others): the alarms of its slices, as detection raises them."""
    return {
        "whole": _chart(None, None, cases=300, events=52),  # excess 25
        "fuji": _chart(None, FUJI, cases=100, events=30),  # excess 21
        "version": _chart("2.4.0", None, cases=200, events=42),  # excess 24
        "version x fuji": _chart("2.4.0", FUJI, cases=60, events=25, severity="critical"),
        "version x sud": _chart("2.4.0", SUD, cases=120, events=32),  # excess 21.2
        "version x old": _chart("2.4.0", OLD, cases=80, events=12),  # excess 4.8
    }


def _root(found: dict[str, dict[str, Any]]) -> str:
    (incident,) = [i for i in group_incidents(found.values()) if i.alarm]
    return next(name for name, record in found.items() if record is incident.root)


def test_one_degradation_seen_in_many_slices_is_one_incident() -> None:
    found = _degradation()
    grouped = group_incidents(found.values())
    assert len(grouped) == 1
    assert len(grouped[0].findings) == len(found)
    assert set(incidents(found.values()).values()) == {grouped[0].id}


def test_the_root_is_the_version_x_fujifilm_slice_that_explains_its_parents() -> None:
    found = _degradation()
    fuji = found["version x fuji"]
    for parent in ("whole", "fuji", "version"):
        assert explains(fuji, found[parent]), parent
    assert not explains(found["whole"], fuji)  # never the other way round
    assert not explains(found["version x old"], found["version"])  # 4.8 of 24: not most
    # The version explains the whole device too, but gives way to its narrower explanation.
    assert explains(found["version"], found["whole"])
    assert _root(found) == "version x fuji"
    (incident,) = group_incidents(found.values())
    assert incident.id == fuji["id"]
    assert {r["id"] for r in incident.supporting} == {
        r["id"] for name, r in found.items() if name != "version x fuji"
    }


def test_of_two_slices_explaining_the_drop_the_most_concentrated_is_the_root() -> None:
    # Version 2.4.0 at CHU-Sud explains its parents too (the site holds the Fujifilm
    # machines), but its excess is spread over twice as many cases.
    found = _degradation()
    assert explains(found["version x sud"], found["version"])
    assert _root(found) == "version x fuji"
    # Without it, the Fujifilm images of every version hold the excess most densely...
    del found["version x fuji"]
    assert _root(found) == "fuji"
    # ...and without them, the version at the site.
    del found["fuji"]
    assert _root(found) == "version x sud"


def test_without_a_narrower_explanation_the_broadest_slice_is_the_root() -> None:
    found = {
        "whole": _chart(None, None, cases=300, events=52),
        "version x old": _chart("2.4.0", OLD, cases=80, events=12, severity="critical"),
        "women": _chart(None, {"patient_sex": "F"}, cases=150, events=24),  # 10.5 of 25
    }
    assert _root(found) == "whole"


def test_a_broader_slice_the_root_does_not_explain_takes_over() -> None:
    # The drop is wider than the Fujifilm images: the whole device loses far more.
    found = _degradation()
    found["whole"] = _chart(None, None, cases=900, events=181)  # excess 100
    assert _root(found) == "whole"


def test_evidence_taken_at_different_dates_compares_by_pace() -> None:
    # The narrow slice alarmed first (10 days of evidence), the whole device a month
    # later: counts differ fourfold, the pace of excess misses per day does not.
    early = _chart("2.4.0", FUJI, cases=60, events=25, end="2025-07-31")
    late = _chart(None, None, cases=1200, events=208, end="2025-08-31")
    assert excess_events(early) == pytest.approx(25 - 0.09 * 60)
    assert excess_events(late) == pytest.approx(208 - 0.09 * 1200)
    assert explains(early, late)


def test_months_compare_only_with_the_same_month() -> None:
    july = _month(None, FUJI, month="2025-07", n=200, correct=160)
    july_version = _month("2.4.0", FUJI, month="2025-07", n=100, correct=70)
    august_version = _month("2.4.0", FUJI, month="2025-08", n=100, correct=70)
    assert explains(july_version, july)
    assert not explains(august_version, july)
    assert not explains(july_version, _chart(None, FUJI, cases=100, events=30))


def test_the_same_findings_give_the_same_incidents_in_any_order() -> None:
    found = list(_degradation().values())
    found += [
        _chart(None, None, cases=300, events=60, start="2025-11-02", end="2025-11-20"),
        _chart(None, None, cases=300, events=60, metric="specificity"),
        _month("2.3.1", {"body_part": "HAND"}, month="2025-03", n=90, correct=75, severity="info"),
    ]
    expected = incidents(found)
    shuffle = random.Random(7)
    for _ in range(50):
        order = found[:]
        shuffle.shuffle(order)
        assert incidents(order) == expected
        assert [i.finding_ids for i in group_incidents(order)] == [
            i.finding_ids for i in group_incidents(found)
        ]


def test_the_incidents_do_not_depend_on_ids_or_detection_times() -> None:
    found = _degradation()
    renumbered = {
        name: {**record, "id": 1000 - record["id"], "detected_at": "2026-01-05T23:59:59+01:00"}
        for name, record in found.items()
    }
    assert _root(renumbered) == _root(found) == "version x fuji"


def test_as_findings_arrive_the_root_stays_unless_a_narrower_one_explains_the_drop() -> None:
    found = _degradation()
    arrival = ["version", "whole", "version x fuji", "fuji", "version x sud", "version x old"]
    roots = []
    for n in range(1, len(arrival) + 1):
        roots.append(_root({name: found[name] for name in arrival[:n]}))
    assert roots == [
        "version",
        "version",  # the whole device's drop is explained by the version's
        "version x fuji",  # a narrower explanation arrives
        "version x fuji",
        "version x fuji",
        "version x fuji",
    ]
    # And whatever order the slices arrive in, the final incident is the same.
    for order in itertools.permutations(arrival):
        assert _root({name: found[name] for name in order}) == "version x fuji"


def test_an_informational_finding_never_heads_nor_links_an_incident() -> None:
    july = _chart("2.4.0", FUJI, cases=60, events=25, end="2025-07-31")
    november = _chart("2.4.0", FUJI, cases=30, events=12, start="2025-11-10", end="2025-11-15")
    # An informational month below the claim, broader than both and spanning neither...
    march = _month(None, None, month="2025-03", n=400, correct=355, severity="info")
    # ...and a long informational comparison overlapping both alarms.
    both = _month(
        None,
        None,
        month="2025-07",
        n=900,
        correct=800,
        severity="info",
        rule="version_comparison",
        window_end="2025-11-30T00:00:00+01:00",
        evidence={},
    )
    grouped = group_incidents([july, november, march, both])
    alarms = [i for i in grouped if i.alarm]
    assert [i.id for i in alarms] == [july["id"], november["id"]]  # not linked by `both`
    assert {i.root["severity"] for i in alarms} == {"warning"}
    assert both["id"] in alarms[0].finding_ids  # it overlaps July longest (10 days, not 5)
    lone = [i for i in grouped if not i.alarm]
    assert [i.id for i in lone] == [march["id"]]  # alone, and not an alarm


def test_an_informational_finding_from_march_does_not_join_a_july_degradation() -> None:
    found = _degradation()
    march = _month(None, FUJI, month="2025-03", n=90, correct=75, severity="info")
    mapping = incidents([march, *found.values()])
    assert mapping[march["id"]] == march["id"]
    assert mapping[found["whole"]["id"]] == found["version x fuji"]["id"]


def test_other_devices_metrics_versions_rules_and_times_are_apart() -> None:
    base = _chart("2.4.0", None, cases=100, events=20)
    assert same_incident(base, _chart(None, FUJI, cases=100, events=20))
    assert related(base, _month("2.4.0", None, month="2025-07", n=100, correct=80))
    assert not related(base, _chart("2.4.0", None, cases=100, events=20, device_id="nod"))
    assert not related(base, _chart("2.4.0", None, cases=100, events=20, metric="specificity"))
    assert not related(base, _chart("2.3.1", None, cases=100, events=20))
    assert not related(base, _chart("2.4.0", None, cases=100, events=20, rule="outage"))
    late = _chart("2.4.0", None, cases=100, events=20, start="2025-09-01", end="2025-09-20")
    assert not related(base, late)
    assert not related(base, _chart("2.4.0", None, cases=100, events=20, window_start=None))
    assert not related(base, base)


def test_a_chart_lasts_while_it_keeps_signalling() -> None:
    raised = _chart(None, None, cases=100, events=20, end="2025-07-31")
    later = _month(None, None, month="2025-09", n=300, correct=250)
    assert not related(raised, later)
    assert related({**raised, "last_seen_at": "2025-09-15T23:59:59+02:00"}, later)


def test_other_findings_are_incidents_of_their_own() -> None:
    outage = _chart(None, None, cases=1, events=0, rule="outage", metric=None, evidence={})
    drift = _chart(None, None, cases=1, events=0, rule="input_drift", severity="info")
    grouped = group_incidents([outage, drift])
    assert [(i.id, i.alarm, i.performance) for i in grouped] == [
        (outage["id"], True, False),
        (drift["id"], False, False),
    ]
    assert incidents([]) == {}


def test_missing_evidence_keys_leave_a_finding_out_of_the_comparison() -> None:
    bare = _chart("2.4.0", FUJI, cases=60, events=25, evidence={"slice": "x"})
    whole = _chart(None, None, cases=300, events=52)
    assert excess_events(bare) is None
    assert not explains(bare, whole)
    assert group_incidents([bare, whole])[0].id == whole["id"]


def test_explaining_means_more_than_half_of_the_broader_pace() -> None:
    broad = _chart(None, None, cases=300, events=57, rate=0.09)  # excess 30
    most = _chart("2.4.0", FUJI, cases=100, events=25, rate=0.09)  # excess 16
    half = _chart("2.4.0", FUJI, cases=100, events=24, rate=0.09)  # excess 15
    assert pytest.approx(0.5) == EXPLAINS
    assert explains(most, broad)
    assert not explains(half, broad)
