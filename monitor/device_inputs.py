"""A prediction checked against its device's registry entry before it is stored.

What a connector cannot know, the registry does: the device's target condition,
the scale of its scores and its operating threshold. For each prediction:

- its ``target`` (default: the device's) must be the device's target condition;
- its ``ai_score`` must lie on the device's scale (``unit`` 0..1, ``percent``
  0..100, ``logit`` any number; a message that stated a unit brings its own) and is
  stored converted to 0..1;
- an absent ``ai_result`` is derived from the score at the device's primary
  threshold (``positive`` when ``score >= threshold``), which needs a threshold;
- a given ``ai_result`` is kept as given, and checked: it ``agrees`` with the score
  and threshold, or ``contradicts`` them (a positive below the threshold, a negative
  at or above it), or cannot be checked (None).

A prediction failing a check is quarantined with a reason naming the device and
what to fix (never an exam or patient identifier).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from connectors import PredictionRecord
from connectors.shapes import value_shape
from monitor.registry import DeviceSpec
from monitor.scores import (
    SCORE_SCALES,
    ResultCheck,
    ScoreScale,
    check_result,
    in_scale,
    result_at,
    scale_range,
    to_unit,
)

__all__ = ["CheckedPrediction", "DeviceInputs", "check_prediction"]


@dataclass(frozen=True)
class DeviceInputs:
    """What a device's predictions are checked against: its id, target condition,
    score scale and primary threshold on 0..1 (None when it has none)."""

    device_id: str
    target: str
    scale: ScoreScale
    threshold: float | None

    @classmethod
    def of(cls, spec: DeviceSpec) -> DeviceInputs:
        """The inputs of a registry entry."""
        return cls(spec.id, spec.target, spec.score_scale, spec.unit_threshold())


class CheckedPrediction(NamedTuple):
    """The stored values of a prediction that passed its device's checks."""

    target: str
    ai_result: str
    ai_score: float | None
    ai_result_check: ResultCheck | None


def check_prediction(record: PredictionRecord, device: DeviceInputs) -> CheckedPrediction | str:
    """``record`` checked against ``device``: the values to store, or the reason to
    quarantine it."""
    name = f"device {device.device_id!r}"
    target = record.target or device.target
    if target != device.target:
        return (
            f"target shaped {value_shape(target)!r} is not the target condition of {name} "
            f"({device.target}): "
            "fix the row's target, or register the device that reports it"
        )
    score = record.ai_score
    if score is not None:
        stated = record.ai_score_scale
        scale: ScoreScale = stated if stated in SCORE_SCALES else device.scale
        if not in_scale(score, scale):
            return (
                f"ai_score shaped {value_shape(f'{score:g}')!r} is outside "
                f"{scale_range(scale)}, the scale of {name} "
                f"(score_scale: {scale}): fix the score, or the device's score_scale in the "
                "registry (unit, percent or logit)"
            )
        score = to_unit(score, scale)
    if record.ai_result is None:
        if score is None:
            return "ai_result is missing and there is no ai_score to derive it from"
        if device.threshold is None:
            return (
                f"ai_result is missing and {name} has no operating threshold to derive it "
                "from ai_score: give ai_result, or the device's operating_threshold in the "
                "registry"
            )
        return CheckedPrediction(target, result_at(score, device.threshold), score, "derived")
    check = check_result(record.ai_result, score, device.threshold)
    return CheckedPrediction(target, record.ai_result, score, check)
