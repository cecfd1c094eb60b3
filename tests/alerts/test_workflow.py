"""The finding review workflow: which step applies to which status, and why not."""

from __future__ import annotations

import pytest

from alerts.workflow import (
    ACTIVE_STATUSES,
    STATUSES,
    TRANSITIONS,
    IllegalTransition,
    allowed_verbs,
    next_status,
)


def test_the_lifecycle_runs_open_to_closed_through_confirmation_and_action() -> None:
    status = "open"
    for verb in ("acknowledge", "confirm", "act", "act", "close"):
        status = next_status(status, verb)
    assert status == "closed"


def test_a_dismissed_finding_closes_without_action_and_may_be_reopened() -> None:
    status = next_status(next_status("open", "acknowledge"), "dismiss")
    assert status == "dismissed"
    assert next_status(status, "close") == "closed"
    assert next_status("closed", "reopen") == "open"
    assert next_status("dismissed", "reopen") == "open"


@pytest.mark.parametrize(
    ("status", "verb"),
    [
        ("open", "close"),
        ("open", "confirm"),
        ("open", "dismiss"),
        ("open", "act"),
        ("acknowledged", "close"),
        ("acknowledged", "act"),
        ("confirmed", "close"),
        ("confirmed", "dismiss"),
        ("dismissed", "act"),
        ("closed", "acknowledge"),
        ("open", "reopen"),
        ("action_taken", "reopen"),
    ],
)
def test_steps_out_of_order_are_refused(status: str, verb: str) -> None:
    phrase = "record a corrective action on" if verb == "act" else verb
    with pytest.raises(IllegalTransition, match=f"cannot {phrase} a finding that is {status}:"):
        next_status(status, verb)


def test_closing_an_open_finding_says_what_it_needs_and_what_can_be_done() -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status("open", "close")
    message = str(caught.value)
    assert "confirmed" in message and "dismissed" in message
    assert message.endswith("from open: acknowledge")


def test_every_status_is_reachable_and_every_move_lands_on_a_status() -> None:
    reached = {"open"}
    for moves in TRANSITIONS.values():
        for before, after in moves.items():
            assert before in STATUSES and after in STATUSES
            reached.add(after)
    assert reached == set(STATUSES)
    assert set(ACTIVE_STATUSES) == set(STATUSES) - {"dismissed", "closed"}


def test_allowed_steps_follow_the_table() -> None:
    assert allowed_verbs("open") == ["acknowledge"]
    assert allowed_verbs("acknowledged") == ["confirm", "dismiss"]
    assert allowed_verbs("action_taken") == ["act", "close"]
    assert allowed_verbs("closed") == ["reopen"]


def test_unknown_steps_and_statuses_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="unknown workflow step"):
        next_status("open", "approve")
    with pytest.raises(ValueError, match="unknown finding status"):
        next_status("archived", "close")
