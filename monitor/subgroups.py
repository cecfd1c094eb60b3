"""Subgroup dimensions of a case and the age bands that cut ``age_band``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import pandas as pd

from monitor.config import SUBGROUP_COLUMNS

__all__ = ["BY_COLUMNS", "add_age_band", "age_band_labels"]

BY_COLUMNS = SUBGROUP_COLUMNS
"""Dimensions a breakdown accepts: device_version and the subgroup columns of a case."""


def _fmt(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else f"{limit:g}"


def age_band_labels(limits: Sequence[float]) -> list[str]:
    """Labels of the bands cut at ``limits``: [18, 65] -> ['<18', '18-64', '>=65']."""
    if not limits:
        return ["all ages"]
    labels = [f"<{_fmt(limits[0])}"]
    for low, high in pairwise(limits):
        upper = (
            _fmt(high - 1)
            if float(high).is_integer() and float(low).is_integer()
            else f"<{_fmt(high)}"
        )
        labels.append(f"{_fmt(low)}-{upper}")
    labels.append(f">={_fmt(limits[-1])}")
    return labels


def add_age_band(cases: pd.DataFrame, limits: Sequence[float]) -> pd.DataFrame:
    """Add ``age_band`` (None where the age is unknown); bands are [low, high) in years."""
    edges = [-math.inf, *limits, math.inf]
    bands = pd.cut(cases["patient_age"], bins=edges, right=False, labels=age_band_labels(limits))
    cases["age_band"] = bands.astype(object).where(bands.notna(), None)
    return cases
