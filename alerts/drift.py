"""Drift without labels: a device's inputs and outputs against its reference period.

Inputs are the exams' metadata (patient age and sex, body part, scanner
manufacturer and model, site, modality); outputs are the AI score and the AI
result (its positive and indeterminate rates). Each column is compared with the
method Evidently would choose for it (:func:`metrics.drift.default_method`) and
Evidently's threshold; a drifted column raises an *info* finding: drift explains
and warns, it is not a performance failure by itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alerts.cases import TextCodes, coded_column
from alerts.findings import FindingDraft
from metrics.drift import DriftResult, categorical_drift_from_counts, numeric_drift

__all__ = [
    "DRIFT_COLUMNS",
    "INPUT_COLUMNS",
    "OUTPUT_COLUMNS",
    "ColumnDrift",
    "EncodedCases",
    "drift_findings",
    "drift_table",
    "encode_cases",
    "encoded_drift_table",
]

INPUT_COLUMNS = {
    "patient_age": "numeric",
    "patient_sex": "categorical",
    "body_part": "categorical",
    "scanner_manufacturer": "categorical",
    "scanner_model": "categorical",
    "site": "categorical",
    "modality": "categorical",
}
OUTPUT_COLUMNS = {"ai_score": "numeric", "ai_result": "categorical"}
DRIFT_COLUMNS = {**INPUT_COLUMNS, **OUTPUT_COLUMNS}


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift, with the shares behind it for categorical columns."""

    column: str
    kind: str
    result: DriftResult
    n_reference: int
    n_current: int
    reference_shares: dict[str, float]
    current_shares: dict[str, float]


@dataclass(frozen=True)
class EncodedCases:
    """The :data:`DRIFT_COLUMNS` of a case table, encoded once for repeated comparisons.

    ``numeric`` holds float values (NaN when missing or not a number); ``codes`` the
    index of each categorical value in ``labels`` (its sorted distinct values as
    text), -1 when missing.
    """

    numeric: dict[str, np.ndarray]
    codes: dict[str, np.ndarray]
    labels: dict[str, list[str]]


def encode_cases(cases: pd.DataFrame, codes: Mapping[str, TextCodes] | None = None) -> EncodedCases:
    """Encode the drift columns ``cases`` has (the others are left out); ``codes``: the
    text columns already encoded (a kept history's), used instead of hashing strings."""
    numeric: dict[str, np.ndarray] = {}
    found_codes: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    for column, kind in DRIFT_COLUMNS.items():
        if column not in cases.columns:
            continue
        values = cases[column]
        if kind == "numeric":
            numeric[column] = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
            continue
        known = coded_column(codes, column, len(cases))
        if known is not None:
            column_codes, names = known.factorized()
            found_codes[column] = column_codes.astype(np.int32)
            labels[column] = names
            continue
        present = values.notna().to_numpy()
        column_codes = np.full(len(values), -1, dtype=np.int32)
        found, names = pd.factorize(values[present].astype(str), sort=True)
        column_codes[present] = found
        found_codes[column], labels[column] = column_codes, [str(n) for n in names]
    return EncodedCases(numeric, found_codes, labels)


def drift_table(
    reference: pd.DataFrame, current: pd.DataFrame, min_rows: int = 30
) -> list[ColumnDrift]:
    """Every :data:`DRIFT_COLUMNS` column with at least ``min_rows`` values on both sides."""
    encoded = encode_cases(pd.concat([reference, current], ignore_index=True))
    in_reference = np.arange(len(reference) + len(current)) < len(reference)
    return encoded_drift_table(encoded, in_reference, ~in_reference, min_rows)


def encoded_drift_table(
    encoded: EncodedCases, reference: np.ndarray, current: np.ndarray, min_rows: int = 30
) -> list[ColumnDrift]:
    """:func:`drift_table` of the rows selected by two boolean masks of an encoded table.

    The masks may be shorter than the table (a prefix of it: the cases known so far).
    """
    table = []
    for column, kind in DRIFT_COLUMNS.items():
        if kind == "numeric" and column in encoded.numeric:
            values = encoded.numeric[column][: reference.size]
            ref_values = values[reference & np.isfinite(values)]
            cur_values = values[current & np.isfinite(values)]
            if ref_values.size < min_rows or cur_values.size < min_rows:
                continue
            result = numeric_drift(ref_values, cur_values)
            ref_shares = {"mean": float(ref_values.mean())}
            cur_shares = {"mean": float(cur_values.mean())}
            n_ref, n_cur = ref_values.size, cur_values.size
        elif kind == "categorical" and column in encoded.codes:
            codes, labels = encoded.codes[column][: reference.size], encoded.labels[column]
            ref_counts = np.bincount(codes[reference & (codes >= 0)], minlength=len(labels))
            cur_counts = np.bincount(codes[current & (codes >= 0)], minlength=len(labels))
            n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
            if n_ref < min_rows or n_cur < min_rows:
                continue
            result = categorical_drift_from_counts(ref_counts, cur_counts)
            ref_shares = _shares(ref_counts, labels)
            cur_shares = _shares(cur_counts, labels)
        else:
            continue
        table.append(ColumnDrift(column, kind, result, n_ref, n_cur, ref_shares, cur_shares))
    return table


def _shares(counts: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Share of each label seen (sorted labels), as Evidently tabulates them."""
    total = float(counts.sum())
    return {label: float(c) / total for label, c in zip(labels, counts, strict=True) if c > 0}


def drift_findings(
    table: list[ColumnDrift],
    device_id: str,
    window: tuple[int, int],
    reference_window: tuple[int, int],
) -> list[FindingDraft]:
    """An *info* finding per drifted column of ``table`` (rule ``input_drift`` or
    ``output_drift``); ``window`` and ``reference_window`` are UTC ns (start, end)."""
    drafts = []
    for drift in table:
        if not drift.result.drift_detected:
            continue
        rule = "output_drift" if drift.column in OUTPUT_COLUMNS else "input_drift"
        drafts.append(
            FindingDraft(
                device_id=device_id,
                rule=rule,
                severity="info",
                metric=drift.column,
                window_start_ns=window[0],
                window_end_ns=window[1],
                value=drift.result.score,
                threshold=drift.result.threshold,
                evidence={
                    "method": drift.result.method,
                    "statistic": drift.result.statistic,
                    "p_value": drift.result.p_value,
                    "reference_start_ns": reference_window[0],
                    "reference_end_ns": reference_window[1],
                    "n_reference": drift.n_reference,
                    "n_current": drift.n_current,
                    "reference": drift.reference_shares,
                    "current": drift.current_shares,
                },
            )
        )
    return drafts
