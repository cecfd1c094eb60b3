"""The review workflow of a finding: statuses, legal transitions, reasons and actions.

A finding moves ``open -> acknowledged -> confirmed | dismissed``; a confirmed
finding gets corrective actions (``action_taken``) and is closed once they are
done; a dismissed finding may be closed directly; a dismissed or closed finding
may be reopened. Each step is taken by a named user with a comment (the caller
records them); this module only says which step is legal and why not.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "ACTION_KINDS",
    "ACTIVE_STATUSES",
    "DISMISSAL_REASONS",
    "STATUSES",
    "TRANSITIONS",
    "VERBS",
    "IllegalTransition",
    "allowed_verbs",
    "next_status",
]

STATUSES = ("open", "acknowledged", "confirmed", "dismissed", "action_taken", "closed")

ACTIVE_STATUSES = ("open", "acknowledged", "confirmed", "action_taken")
"""Statuses of a finding still being worked on: a rule firing again counts on it."""

TRANSITIONS: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType(
    {
        "acknowledge": MappingProxyType({"open": "acknowledged"}),
        "confirm": MappingProxyType({"acknowledged": "confirmed"}),
        "dismiss": MappingProxyType({"acknowledged": "dismissed"}),
        "act": MappingProxyType({"confirmed": "action_taken", "action_taken": "action_taken"}),
        "close": MappingProxyType({"action_taken": "closed", "dismissed": "closed"}),
        "reopen": MappingProxyType({"dismissed": "open", "closed": "open"}),
    }
)
"""verb -> {status it applies to -> status it leads to}."""

VERBS = tuple(TRANSITIONS)

DISMISSAL_REASONS = MappingProxyType(
    {
        "expected_variation": "expected variation",
        "data_error": "data error",
        "known_limitation": "known limitation in the instructions for use",
        "same_root_cause": "covered by another finding of the same incident",
        "other": "other",
    }
)
"""Why a finding is dismissed: code -> meaning."""

ACTION_KINDS = MappingProxyType(
    {
        "restrict_use": "restrict use (e.g. to a subgroup)",
        "raise_threshold": "change the operating threshold",
        "contact_manufacturer": "contact the manufacturer",
        "suspend_device": "suspend the device",
        "retrain_users": "retrain users",
        "other": "other",
    }
)
"""Kinds of corrective action: code -> meaning."""

_HINTS = {
    "close": (
        "a finding is closed once it is confirmed and its corrective actions are recorded "
        "(findings confirm, findings act), or once it is dismissed (findings dismiss)"
    ),
    "confirm": "a finding is confirmed after it is acknowledged (findings ack)",
    "dismiss": "a finding is dismissed after it is acknowledged (findings ack)",
    "act": "corrective actions are recorded on a confirmed finding (findings confirm)",
    "acknowledge": "only an open finding is acknowledged",
    "reopen": "only a dismissed or closed finding is reopened",
}


_PHRASES = {"act": "record a corrective action on"}


class IllegalTransition(ValueError):
    """A workflow step that does not apply to the finding's current status."""


def allowed_verbs(status: str) -> list[str]:
    """The steps that apply to a finding in ``status``, in workflow order."""
    return [verb for verb, moves in TRANSITIONS.items() if status in moves]


def next_status(status: str, verb: str) -> str:
    """The status ``verb`` leads to from ``status``; IllegalTransition saying why not.

    The message names the current status, what the step needs and the steps that
    do apply now, e.g. ``cannot close a finding that is open: ...; from open: acknowledge``.
    """
    if verb not in TRANSITIONS:
        raise ValueError(f"unknown workflow step {verb!r}; steps are {', '.join(VERBS)}")
    if status not in STATUSES:
        raise ValueError(f"unknown finding status {status!r}")
    moves = TRANSITIONS[verb]
    if status in moves:
        return moves[status]
    possible = allowed_verbs(status)
    then = ", ".join(possible) if possible else "nothing"
    raise IllegalTransition(
        f"cannot {_PHRASES.get(verb, verb)} a finding that is {status}: {_HINTS[verb]}; "
        f"from {status}: {then}"
    )
