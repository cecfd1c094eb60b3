"""What a rule sees: the cases of one device as known at one instant (data time)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "NOT_VERIFIED",
    "SUBGROUP_DIMENSIONS",
    "CaseView",
    "Scope",
    "ScopeParts",
    "TextCodes",
    "TruthChanges",
    "coded_column",
    "scope_parts",
    "scopes_of",
    "sorted_codes",
]

NOT_VERIFIED = np.iinfo(np.int64).max
"""``verified_ns`` of a case with no determinate truth yet."""

SUBGROUP_DIMENSIONS = (
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
    "patient_sex",
    "target",
    "age_band",
)
"""Case columns a subgroup can be cut along (besides ``device_version``)."""

NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class TextCodes:
    """A text column as codes into its distinct values, as a kept history holds it.

    ``codes`` has one entry per case: the index of its value in ``values`` (an object
    array of distinct strings, in no particular order, some perhaps held by no case,
    None for no value: a kept history's end with it), -1 for no value.
    """

    codes: np.ndarray
    values: np.ndarray

    def factorized(self) -> tuple[np.ndarray, list[str]]:
        """What ``pandas.factorize(column, sort=True)`` gives for the column: codes into
        the sorted distinct values the cases hold, -1 for no value (a None entry of
        ``values`` is no value too). O(cases)."""
        size = len(self.values)
        held = np.bincount(self.codes[self.codes >= 0], minlength=size)
        present = [i for i in range(size) if held[i] and self.values[i] is not None]
        present.sort(key=lambda i: str(self.values[i]))
        remap = np.full(size + 1, -1, dtype=np.int64)  # the last entry: code -1 stays -1
        remap[present] = np.arange(len(present))
        return remap[self.codes], [str(self.values[i]) for i in present]


def coded_column(codes: Mapping[str, TextCodes] | None, column: str, rows: int) -> TextCodes | None:
    """``column``'s codes if ``codes`` has them for these ``rows`` cases (else None)."""
    known = (codes or {}).get(column)
    return known if known is not None and known.codes.size == rows else None


def sorted_codes(
    cases: pd.DataFrame, column: str, codes: Mapping[str, TextCodes] | None = None
) -> tuple[np.ndarray, list[str]]:
    """``pandas.factorize(cases[column], sort=True)`` (values as text), from ``codes``
    when it has the column (a kept history's: no string is hashed)."""
    known = coded_column(codes, column, len(cases))
    if known is not None:
        return known.factorized()
    values = cases[column]
    if isinstance(values.dtype, pd.CategoricalDtype):  # by value, not category order
        values = values.astype(object)
    found, names = pd.factorize(values, sort=True)
    return np.asarray(found), [str(n) for n in names]


@dataclass(frozen=True)
class TruthChanges:
    """Each change of a case's best-known truth, in arrival order (UTC ns).

    The first change of a case is its first determinate outcome (``previous`` -1);
    a later one is a stronger or newer source that says otherwise (a pathology
    correcting a report). Changes that keep the same truth are left out.
    """

    case: np.ndarray
    ns: np.ndarray
    truth: np.ndarray
    previous: np.ndarray

    def __len__(self) -> int:
        return int(self.case.size)

    def cut(self, cases: int, as_of_ns: int) -> TruthChanges:
        """The changes known at ``as_of_ns`` of the first ``cases`` cases."""
        keep = (self.ns <= as_of_ns) & (self.case < cases)
        if keep.all():  # as of the end: these very arrays (never written to)
            return self
        return TruthChanges(self.case[keep], self.ns[keep], self.truth[keep], self.previous[keep])


@dataclass(frozen=True)
class CaseView:
    """The cases of a device with an exam by ``as_of_ns``, and their truth as known then.

    ``cases`` (exam order) has ``prediction_id``, ``device_version``, ``exam_ns``
    (UTC nanoseconds), ``ai_result``, ``ai_call`` (1 positive, 0 negative, -1
    excluded), ``ai_score`` and the :data:`SUBGROUP_DIMENSIONS`. ``verified_ns`` is
    when each case's first determinate outcome arrived (:data:`NOT_VERIFIED` if
    none by then), ``truth`` its best truth then (1, 0, or -1 unknown).
    """

    cases: pd.DataFrame
    verified_ns: np.ndarray
    truth: np.ndarray
    as_of_ns: int
    independent: np.ndarray | None = None
    """Whether each case's truth then rests on an independent reference (adjudication,
    pathology or follow-up) rather than a routine report; None: not known."""
    changes: TruthChanges | None = None
    """How each truth arrived and changed (None: once, at ``verified_ns``; see
    :meth:`truth_changes`)."""
    first_truth: np.ndarray | None = None
    """Each case's first determinate truth (-1 none); None: the same as ``truth``."""

    def __len__(self) -> int:
        return len(self.cases)

    def truth_changes(self) -> TruthChanges:
        """The truth changes known at ``as_of_ns``; without a recorded history, one per
        verified case: its truth arriving at ``verified_ns``."""
        if self.changes is not None:
            return self.changes
        case = np.flatnonzero(self.truth >= 0)
        order = np.argsort(self.verified_ns[case], kind="stable")
        case = case[order]
        return TruthChanges(
            case, self.verified_ns[case], self.truth[case], np.full(case.size, -1, np.int8)
        )

    @property
    def earliest_truth(self) -> np.ndarray:
        """Each case's first determinate truth (1, 0, or -1 none yet)."""
        return self.truth if self.first_truth is None else self.first_truth

    @property
    def verified(self) -> np.ndarray:
        """Cases with a determinate truth and a counted AI call."""
        calls = np.asarray(self.cases["ai_call"].to_numpy())
        known: np.ndarray = (self.truth >= 0) & (calls >= 0)
        return known


@dataclass(frozen=True)
class Scope:
    """A slice of a device's cases: one version (or all) x one subgroup value (or all)."""

    version: str | None
    subgroup: tuple[str, str] | None
    version_mask: np.ndarray
    subgroup_mask: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """Whether each case is in the slice (computed at each use, not kept: a device
        has dozens of slices over up to millions of cases)."""
        mask: np.ndarray = self.version_mask & self.subgroup_mask
        return mask

    def holds(self, cases: np.ndarray) -> np.ndarray:
        """Whether each of ``cases`` (indices) is in the slice: O(len(cases))."""
        held: np.ndarray = self.version_mask[cases] & self.subgroup_mask[cases]
        return held

    @property
    def subgroup_dict(self) -> dict[str, str] | None:
        return None if self.subgroup is None else {self.subgroup[0]: self.subgroup[1]}

    @property
    def label(self) -> str:
        parts = [f"device_version={self.version}"] if self.version is not None else []
        if self.subgroup is not None:
            parts.append(f"{self.subgroup[0]}={self.subgroup[1]}")
        return ", ".join(parts) or "whole device"


@dataclass(frozen=True)
class ScopeParts:
    """The version and subgroup masks of a case table, to build scopes of any prefix.

    A detection replay reads a device's history once; the cases known at a date are
    a prefix of it, so masks computed once and cut to the prefix give the same
    scopes as :func:`scopes_of` on that prefix.
    """

    versions: list[tuple[str | None, np.ndarray]]
    subgroups: list[tuple[tuple[str, str] | None, np.ndarray]]

    def scopes(self, n: int) -> list[Scope]:
        """The scopes of the first ``n`` cases (values absent from them form none).

        A slice holding the same cases as a broader one is left out, so that no
        chart or test is counted twice against the false-alarm budget: with a single
        version, its scopes stand for all versions; a subgroup value every case has
        (one body part, one site) is the whole device.
        """
        versions = [(v, m[:n]) for v, m in self.versions if v is None or m[:n].any()]
        if len(versions) == 2:
            versions = versions[1:]
        subgroups = [(g, m[:n]) for g, m in self.subgroups if g is None or 0 < m[:n].sum() < n]
        return [
            Scope(version, subgroup, version_mask, subgroup_mask)
            for version, version_mask in versions
            for subgroup, subgroup_mask in subgroups
        ]


def scope_parts(
    cases: pd.DataFrame,
    dimensions: Sequence[str],
    codes: Mapping[str, TextCodes] | None = None,
) -> ScopeParts:
    """Masks of each version and each subgroup value of ``cases`` (see :func:`scopes_of`);
    ``codes``: the text columns already encoded (:func:`sorted_codes`), if known."""
    everything = np.ones(len(cases), dtype=bool)
    versions: list[tuple[str | None, np.ndarray]] = [(None, everything)]
    version_codes, version_names = sorted_codes(cases, "device_version", codes)
    versions += [(v, version_codes == i) for i, v in enumerate(version_names)]
    subgroups: list[tuple[tuple[str, str] | None, np.ndarray]] = [(None, everything)]
    for dimension in dimensions:
        if dimension == "device_version" or dimension not in cases.columns:
            continue
        found, names = sorted_codes(cases, dimension, codes)
        subgroups += [((dimension, v), found == i) for i, v in enumerate(names)]
    return ScopeParts(versions, subgroups)


def scopes_of(cases: pd.DataFrame, dimensions: Sequence[str]) -> list[Scope]:
    """Every slice a rule watches: (all versions + each version) x (whole + each value).

    ``dimensions`` are subgroup columns (``device_version`` among them is ignored:
    versions are always sliced). Missing values form no subgroup. Slices equal to a
    broader one are left out (see :meth:`ScopeParts.scopes`).
    """
    return scope_parts(cases, dimensions).scopes(len(cases))
