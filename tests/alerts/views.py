"""Case views built by hand for the rule tests (no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alerts.cases import NOT_VERIFIED, NS_PER_DAY, SUBGROUP_DIMENSIONS, CaseView

START_NS = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z


def view_of(
    truth: np.ndarray,
    call: np.ndarray,
    *,
    exam_day: np.ndarray | None = None,
    delay_days: float = 1.0,
    as_of_day: float | None = None,
    version: np.ndarray | str = "1.0",
    manufacturer: np.ndarray | str = "GE",
    verified: np.ndarray | None = None,
    score: np.ndarray | None = None,
) -> CaseView:
    """Cases in exam order; each verified ``delay_days`` after its exam (unless not)."""
    n = truth.size
    days = exam_day if exam_day is not None else np.linspace(0, 300, n, endpoint=False)
    exam_ns = (START_NS + days * NS_PER_DAY).astype(np.int64)
    cases = pd.DataFrame(
        {
            "prediction_id": np.arange(1, n + 1),
            "device_version": np.broadcast_to(np.asarray(version, dtype=object), n),
            "exam_ns": exam_ns,
            "ai_result": np.where(call == 1, "positive", "negative"),
            "ai_call": call.astype(np.int8),
            "ai_score": score if score is not None else np.full(n, np.nan),
        }
    )
    for column in SUBGROUP_DIMENSIONS:
        cases[column] = None
    cases["scanner_manufacturer"] = np.broadcast_to(np.asarray(manufacturer, dtype=object), n)
    as_of_ns = int(START_NS + (as_of_day if as_of_day is not None else 400) * NS_PER_DAY)
    verified_ns = exam_ns + int(delay_days * NS_PER_DAY)
    known = verified_ns <= as_of_ns if verified is None else verified & (verified_ns <= as_of_ns)
    return CaseView(
        cases=cases,
        verified_ns=np.where(known, verified_ns, NOT_VERIFIED),
        truth=np.where(known, truth, -1).astype(np.int8),
        as_of_ns=as_of_ns,
    )
