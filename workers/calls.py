"""Open-call tasks: the beat moves deadlines on (bidding close, end of public notice) — nobody has to remember."""

from __future__ import annotations

from market.calls import flows
from market.core.db import session_scope
from workers.base import add_beat, task

ADVANCE_DEADLINES = "market.calls.advance_deadlines"


@task(ADVANCE_DEADLINES, queue="calls", max_retries=3)
def advance_deadlines() -> dict[str, list[int]]:
    """Close bidding and end notices that are due (idempotent: a second run finds nothing to do)."""
    with session_scope() as session:
        return flows.advance_deadlines(session)


# Every 30 s: a deadline is enforced at the instant by the bid check itself; this only moves the state on.
add_beat("calls-advance-deadlines", ADVANCE_DEADLINES, 30.0, queue="calls")

REMIND_OVERDUE = "market.calls.remind_overdue"


@task(REMIND_OVERDUE, queue="calls", max_retries=3)
def remind_overdue() -> list[int]:
    """Remind teams and officers of overdue milestones (idempotent: each milestone is reminded once per due date)."""
    with session_scope() as session:
        return flows.remind_overdue(session)


# Hourly: a milestone is overdue from the day after its due date; nobody has to open a page for the reminder.
add_beat("calls-remind-overdue", REMIND_OVERDUE, 3600.0, queue="calls")
