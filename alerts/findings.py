"""A finding as a rule proposes it, before storage deduplicates it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PERFORMANCE_RULES", "RULES", "SEVERITIES", "FindingDraft", "case_refs"]

SEVERITIES = ("info", "warning", "critical")

RULES = (
    "cusum",
    "ewma",
    "below_claim",
    "version_comparison",
    "version_change",
    "outage",
    "verification_backlog",
    "threshold_mismatch",
    "input_drift",
    "output_drift",
    "estimated_performance",
)
"""Every rule that raises findings."""

PERFORMANCE_RULES = ("cusum", "ewma", "below_claim", "version_comparison")
"""Rules whose warning and critical findings share the false-alarm budget."""

MAX_CASE_REFS = 100
"""Affected cases listed in a finding's evidence at most (the count is always given)."""


def case_refs(prediction_ids: Any) -> list[str]:
    """Pseudonymised references of cases (internal prediction ids; never an exam id)."""
    return [f"case-{int(i)}" for i in list(prediction_ids)[:MAX_CASE_REFS]]


@dataclass(frozen=True)
class FindingDraft:
    """What a rule found about a device (times in UTC nanoseconds)."""

    device_id: str
    rule: str
    severity: str
    metric: str | None = None
    device_version: str | None = None
    subgroup: dict[str, str] | None = None
    window_start_ns: int | None = None
    window_end_ns: int | None = None
    value: float | None = None
    threshold: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    @property
    def counts_against_budget(self) -> bool:
        """A warning or critical finding of a performance rule."""
        return self.rule in PERFORMANCE_RULES and self.severity != "info"
