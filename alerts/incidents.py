"""One degradation, one incident: findings grouped around the slice that explains the drop.

A degradation of a device raises findings in every slice that holds the affected
cases (the version, the site, the age band, the manufacturer of the images...) and
by several rules (charts, monthly below-claim, version comparison). People read
*incidents*: one per degradation, named by its *root* - the narrowest slice that
explains the drop - with the other findings as supporting evidence.

**Grouping** is a pure function of the findings' content, never of the order they
come in, their ids or how many ``check`` runs raised them:

- *alarms* - performance findings (:data:`PERFORMANCE_RULES`) of severity warning or
  critical - are linked when they are :func:`related`: same device and metric,
  versions that agree (equal, or one of them all versions) and spans that overlap (a
  chart's span runs from its change point to its last sighting, the degradation
  lasting while the chart keeps signalling; a month judged below the claim or a
  version comparison spans its own window). Incidents are the connected components of
  that link, so any order of arrival gives the same ones; a new finding can only join
  or merge incidents, never split one.
- *informational* performance findings never head an incident nor link two: each
  joins the related incident it overlaps longest (ties: the incident whose root
  sorts first), else stands alone.
- other findings (outages, drift, backlog, version changes...) are incidents of their
  own.

**The root** of an incident compares the *excess events* of its findings: events
(misses for sensitivity, false positives for specificity) beyond what the in-control
rate allows - ``events_since_change - in_control_rate x cases_since_change`` for a
chart, errors beyond the claim for a month below it, errors beyond the previous
version's rate for a version comparison - as a pace per day of the finding's data
(evidence is taken at different dates: paces compare, counts would not). A finding
*explains* a broader one - its slice holds the broader one's conditions and more:
"version 2.4.0 on Fujifilm images" is narrower than "version 2.4.0", than "Fujifilm
images" and than the whole device - counted the same way (charts and version
comparisons count since a start, a change point or a new version; a month judged
against the claim compares with the same month only) when its pace is more than
:data:`EXPLAINS` (half) of the broader one's: most of the broader slice's excess is in
it. The candidates are the findings that explain every broader finding they compare
with in the incident (at least one); a candidate explained in turn by a narrower
candidate gives way to it (the version on the Fujifilm images, not the version). Of
the candidates left, the root is the one counted since a change (a chart, then a
version comparison, then a month) with the highest excess per case - the narrowest
population holding the excess: the Fujifilm images rather than the site that holds
them - then the most conditions, the most severe. Without a candidate the root is the
broadest finding (fewest conditions), a chart first, the most severe, the largest
excess. Remaining ties are broken by content (version, subgroup, rule, window), then
id.

So a new finding keeps the root unless it is a narrower explanation, or a broader
slice whose drop the root does not explain (the degradation is wider than thought).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts.findings import PERFORMANCE_RULES, SEVERITIES

__all__ = [
    "EXPLAINS",
    "Incident",
    "excess_events",
    "explains",
    "group_incidents",
    "incidents",
    "is_alarm",
    "related",
    "same_incident",
    "slice_conditions",
]

EXPLAINS = 0.5
"""Share of a broader finding's excess pace a narrower one must exceed to explain it
("most" of it: its pace is compared, over evidence taken at different dates, so a
stricter share would let the noise of a few days' counts decide)."""

_CHART_RULES = ("cusum", "ewma")
_RULE_ORDER = {"cusum": 0, "ewma": 0, "version_comparison": 1, "below_claim": 2}
"""Which rule names a root first among equals: counts since a change, then months."""
_SECONDS_PER_DAY = 86_400.0

Record = Mapping[str, Any]


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def is_alarm(record: Record) -> bool:
    """A performance finding (:data:`PERFORMANCE_RULES`) of severity warning or critical."""
    return record.get("rule") in PERFORMANCE_RULES and record.get("severity") != "info"


def _span(record: Record) -> tuple[datetime, datetime] | None:
    """When the finding's degradation was seen: a chart from its change point to its
    last sighting, other rules their window; None without a window."""
    start = _moment(record.get("window_start"))
    ends = [_moment(record.get("window_end"))]
    if record.get("rule") in _CHART_RULES:
        ends.append(_moment(record.get("last_seen_at")))
    known = [end for end in ends if end is not None]
    if start is None or not known:
        return None
    return start, max(known)


class _Facts:
    """What grouping reads of each record - span, slice, excess - computed once per
    record (records are compared pairwise)."""

    def __init__(self) -> None:
        self._spans: dict[int, tuple[datetime, datetime] | None] = {}
        self._conditions: dict[int, frozenset[tuple[str, str]]] = {}
        self._paces: dict[int, float | None] = {}
        self._keys: dict[int, tuple[Any, ...]] = {}

    def span(self, record: Record) -> tuple[datetime, datetime] | None:
        key = id(record)
        if key not in self._spans:
            self._spans[key] = _span(record)
        return self._spans[key]

    def conditions(self, record: Record) -> frozenset[tuple[str, str]]:
        key = id(record)
        if key not in self._conditions:
            self._conditions[key] = slice_conditions(record)
        return self._conditions[key]

    def pace(self, record: Record) -> float | None:
        key = id(record)
        if key not in self._paces:
            self._paces[key] = _pace(record)
        return self._paces[key]

    def key(self, record: Record) -> tuple[Any, ...]:
        key = id(record)
        if key not in self._keys:
            self._keys[key] = _content_key(record)
        return self._keys[key]


def _overlap_days(facts: _Facts, a: Record, b: Record) -> float | None:
    """Days the spans of ``a`` and ``b`` share (0 when they only touch); None if apart."""
    one, two = facts.span(a), facts.span(b)
    if one is None or two is None:
        return None
    start, end = max(one[0], two[0]), min(one[1], two[1])
    if start > end:
        return None
    return (end - start).total_seconds() / _SECONDS_PER_DAY


def _related(facts: _Facts, a: Record, b: Record) -> bool:
    if a.get("id") is not None and a.get("id") == b.get("id"):
        return False
    if a.get("rule") not in PERFORMANCE_RULES or b.get("rule") not in PERFORMANCE_RULES:
        return False
    if a.get("device_id") != b.get("device_id") or a.get("metric") != b.get("metric"):
        return False
    versions = (a.get("device_version"), b.get("device_version"))
    if None not in versions and versions[0] != versions[1]:
        return False
    return _overlap_days(facts, a, b) is not None


def related(a: Record, b: Record) -> bool:
    """Whether ``a`` and ``b`` are most likely one degradation seen in two slices.

    Both are performance findings of the same device and metric, their versions agree
    (equal, or one of them is all versions) and their spans overlap. Records carry
    ``device_id``, ``rule``, ``metric``, ``device_version``, ``window_start``,
    ``window_end`` and ``last_seen_at`` (aware datetimes or ISO 8601 texts); a finding
    without a window is related to nothing. Symmetric; severity plays no part.
    """
    return _related(_Facts(), a, b)


def same_incident(primary: Record, other: Record) -> bool:
    """Whether ``other`` is related to ``primary`` (:func:`related`); kept for callers."""
    return related(primary, other)


# --- the evidence: slices and excess events ------------------------------------------------


def slice_conditions(record: Record) -> frozenset[tuple[str, str]]:
    """What the finding's slice requires: its version and its subgroup values.

    ``{("device_version", "2.4.0"), ("scanner_manufacturer", "Fujifilm")}``; empty for
    the whole device. A slice is narrower than another when its conditions strictly
    include the other's.
    """
    conditions = set()
    if record.get("device_version"):
        conditions.add(("device_version", str(record["device_version"])))
    subgroup = record.get("subgroup")
    if isinstance(subgroup, Mapping):
        conditions.update((str(k), str(v)) for k, v in subgroup.items())
    return frozenset(conditions)


def _counts(record: Record) -> tuple[float, float, float] | None:
    """(events, expected events, cases) of the finding's evidence; None when unknown."""
    ev = record.get("evidence")
    if not isinstance(ev, Mapping):
        return None
    rule = record.get("rule")
    if rule in _CHART_RULES:
        events = _number(ev.get("events_since_change"))
        rate = _number(ev.get("in_control_rate"))
        cases = _number(ev.get("cases_since_change"))
    elif rule == "below_claim":
        cases, correct = _number(ev.get("n")), _number(ev.get("correct"))
        claimed = _number(ev.get("claimed", record.get("threshold")))
        events = None if cases is None or correct is None else cases - correct
        rate = None if claimed is None else 1.0 - claimed
    elif rule == "version_comparison":
        after, before = ev.get("after"), ev.get("before")
        if not isinstance(after, Mapping) or not isinstance(before, Mapping):
            return None
        cases, correct = _number(after.get("n")), _number(after.get("correct"))
        n_before, k_before = _number(before.get("n")), _number(before.get("correct"))
        events = None if cases is None or correct is None else cases - correct
        rate = None if not n_before or k_before is None else 1.0 - k_before / n_before
    else:
        return None
    if events is None or rate is None or cases is None or cases <= 0:
        return None
    return events, rate * cases, cases


def excess_events(record: Record) -> float | None:
    """Events beyond what the in-control rate allows in the finding's evidence (misses
    for sensitivity, false positives for specificity); None when the evidence lacks
    the counts (see the module's docstring for each rule)."""
    counts = _counts(record)
    return None if counts is None else counts[0] - counts[1]


def _per_case(record: Record) -> float | None:
    counts = _counts(record)
    return None if counts is None else (counts[0] - counts[1]) / counts[2]


def _days(record: Record) -> float:
    """Days of data behind the finding's counts (at least one)."""
    ev = record.get("evidence")
    start = None
    if record.get("rule") in _CHART_RULES and isinstance(ev, Mapping):
        start = _moment(ev.get("change_point_arrival"))
    start = start or _moment(record.get("window_start"))
    end = _moment(record.get("window_end"))
    if start is None or end is None:
        return 1.0
    return max(1.0, (end - start).total_seconds() / _SECONDS_PER_DAY)


def _pace(record: Record) -> float | None:
    """Excess events per day of the finding's data."""
    excess = excess_events(record)
    return None if excess is None else excess / _days(record)


def _comparable(narrow: Record, broad: Record) -> bool:
    """Findings counted since a start (charts since their change point, a version
    comparison since the version came) compare with each other; a month judged against
    the claim compares with the same month only."""
    months = (narrow.get("rule") == "below_claim", broad.get("rule") == "below_claim")
    if months == (False, False):
        return True
    if months != (True, True):
        return False
    return _moment(narrow.get("window_start")) == _moment(broad.get("window_start"))


def _broader(facts: _Facts, narrow: Record, broad: Record) -> bool:
    return facts.conditions(broad) < facts.conditions(narrow)


def _explains(facts: _Facts, narrow: Record, broad: Record) -> bool:
    if not _broader(facts, narrow, broad) or not _comparable(narrow, broad):
        return False
    mine, theirs = facts.pace(narrow), facts.pace(broad)
    if mine is None or theirs is None:
        return False
    return theirs <= 0 or mine > EXPLAINS * theirs


def explains(narrow: Record, broad: Record) -> bool:
    """Whether ``narrow`` holds most of ``broad``'s excess: its slice is strictly
    narrower, the two compare (counted since a start, or the same month) and its excess
    pace is more than :data:`EXPLAINS` of ``broad``'s (any pace explains a broader slice
    with no excess). False when either lacks the counts."""
    return _explains(_Facts(), narrow, broad)


# --- incidents ---------------------------------------------------------------------------


def _severity(record: Record) -> int:
    severity = record.get("severity")
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def _content_key(record: Record) -> tuple[Any, ...]:
    """A total order on findings from what they say (the id last, for identical ones)."""
    start = _moment(record.get("window_start"))
    return (
        str(record.get("device_id") or ""),
        str(record.get("metric") or ""),
        str(record.get("device_version") or ""),
        sorted(slice_conditions(record)),
        str(record.get("rule") or ""),
        start.timestamp() if start is not None else 0.0,
        int(record["id"]),
    )


def _root(facts: _Facts, members: Sequence[Record]) -> Record:
    """The root of an incident's alarms (see the module's docstring)."""

    def ancestors(record: Record) -> list[Record]:
        return [
            other
            for other in members
            if other is not record and _broader(facts, record, other) and _comparable(record, other)
        ]

    candidates = [
        record
        for record in members
        if (above := ancestors(record)) and all(_explains(facts, record, other) for other in above)
    ]
    leaves = [
        record
        for record in candidates
        if not any(other is not record and _explains(facts, other, record) for other in candidates)
    ]
    if leaves:
        return min(
            leaves,
            key=lambda r: (
                _RULE_ORDER.get(str(r["rule"]), 9),
                -(_per_case(r) or 0.0),
                -len(facts.conditions(r)),
                -_severity(r),
                facts.key(r),
            ),
        )
    return min(
        members,
        key=lambda r: (
            len(facts.conditions(r)),
            _RULE_ORDER.get(str(r["rule"]), 9),
            -_severity(r),
            -(excess_events(r) or 0.0),
            facts.key(r),
        ),
    )


@dataclass(frozen=True)
class Incident:
    """One degradation: its root finding and the findings that support it.

    ``root`` and ``supporting`` are finding records as given. ``supporting`` is
    ordered most severe first, then broadest slice first, then by content.
    """

    root: Record
    supporting: tuple[Record, ...] = ()

    @property
    def id(self) -> int:
        """The incident's id: its root finding's."""
        return int(self.root["id"])

    @property
    def findings(self) -> tuple[Record, ...]:
        """The root, then the supporting findings."""
        return (self.root, *self.supporting)

    @property
    def finding_ids(self) -> tuple[int, ...]:
        return tuple(int(r["id"]) for r in self.findings)

    @property
    def device_id(self) -> str:
        return str(self.root.get("device_id"))

    @property
    def metric(self) -> str | None:
        metric = self.root.get("metric")
        return None if metric is None else str(metric)

    @property
    def severity(self) -> str:
        """The most severe of its findings."""
        return SEVERITIES[max(_severity(r) for r in self.findings)]

    @property
    def alarm(self) -> bool:
        """A warning or critical root: something a person must look at (informational
        findings never head an incident of several)."""
        return self.root.get("severity") in ("warning", "critical")

    @property
    def performance(self) -> bool:
        """Headed by a performance finding (charts, below-claim, version comparison)."""
        return self.root.get("rule") in PERFORMANCE_RULES

    def summary(self, lang: str, device: Mapping[str, Any] | None = None) -> str:
        """The incident in plain words (:func:`alerts.incident_texts.incident_text`)."""
        from alerts.incident_texts import incident_text

        return incident_text(self, lang, device)


def _supporting_order(record: Record) -> tuple[Any, ...]:
    return (-_severity(record), len(slice_conditions(record)), _content_key(record))


def _incident_order(incident: Incident) -> tuple[Any, ...]:
    start = _moment(incident.root.get("window_start"))
    return (
        not incident.alarm,
        -SEVERITIES.index(incident.severity),
        start.timestamp() if start is not None else math.inf,
        _content_key(incident.root),
    )


def _components(facts: _Facts, alarms: Sequence[Record]) -> list[list[Record]]:
    """Connected components of :func:`related` among ``alarms`` (order-free)."""
    parent = list(range(len(alarms)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(alarms)):
        for j in range(i + 1, len(alarms)):
            if find(i) != find(j) and _related(facts, alarms[i], alarms[j]):
                parent[find(i)] = find(j)
    groups: dict[int, list[Record]] = {}
    for i, record in enumerate(alarms):
        groups.setdefault(find(i), []).append(record)
    return list(groups.values())


def group_incidents(records: Iterable[Record]) -> list[Incident]:
    """The findings as incidents (every finding in exactly one), alarms first, most
    severe first, then by start and content. A record needs ``id``, ``device_id``,
    ``rule``, ``severity``, ``metric``, ``device_version``, ``subgroup``, the window
    and ``last_seen_at``; ``evidence`` decides the root (see the module's docstring)."""
    facts = _Facts()
    unique: dict[int, Record] = {}
    for record in records:
        unique.setdefault(int(record["id"]), record)
    everything = sorted(unique.values(), key=facts.key)
    alarms = [r for r in everything if is_alarm(r) and facts.span(r) is not None]
    alarm_ids = {int(r["id"]) for r in alarms}
    heads = [(_root(facts, component), component) for component in _components(facts, alarms)]
    joined: dict[int, list[Record]] = {id(root): [] for root, _ in heads}
    alone: list[Record] = []
    for record in everything:
        if int(record["id"]) in alarm_ids:
            continue
        best: tuple[Any, ...] | None = None
        owner: Record | None = None
        if record.get("rule") in PERFORMANCE_RULES:
            for root, component in heads:
                overlaps = [
                    days
                    for member in component
                    if _related(facts, record, member)
                    and (days := _overlap_days(facts, record, member)) is not None
                ]
                if not overlaps:
                    continue
                key = (-max(overlaps), facts.key(root))
                if best is None or key < best:
                    best, owner = key, root
        if owner is None:
            alone.append(record)
        else:
            joined[id(owner)].append(record)
    result = []
    for root, component in heads:
        others = [r for r in component if r is not root] + joined[id(root)]
        result.append(Incident(root, tuple(sorted(others, key=_supporting_order))))
    result += [Incident(record) for record in alone]
    return sorted(result, key=_incident_order)


def incidents(records: Iterable[Record]) -> dict[int, int]:
    """Finding id -> id of the root finding of its incident (itself when alone); see
    :func:`group_incidents`."""
    return {
        finding_id: incident.id
        for incident in group_incidents(records)
        for finding_id in incident.finding_ids
    }
