"""Pure rules of intermediary filings: who decides, the transitions, and the level in force on a day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from market.accounts.roles import Role
from market.core import transitions

# Bureau staff who review filings; programme officers (who prepare subsidy runs) do not decide their inputs.
REVIEW_ROLES = frozenset({Role.bureau_admin, Role.registrar})
LEVELS = ("national", "provincial", "city")
RANK = {"national": 3, "provincial": 2, "city": 1}

TRANSITIONS = {
    ("applied", "record"): "recorded",
    ("applied", "reject"): "rejected",
    ("recorded", "revoke"): "revoked",
}


def next_status(status: str, action: str) -> str:
    """The filing's status after `action`; TransitionError("invalid_filing_transition") if not allowed."""
    return transitions.next_status(TRANSITIONS, status, action, subject="a filing", code="invalid_filing_transition")


@dataclass(frozen=True, slots=True)
class Record:
    """A recorded filing as the subsidy engine sees it."""

    org_id: int
    level: str
    filed_on: dt.date
    valid_until: dt.date | None = None
    revoked_on: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        if day < self.filed_on or (self.valid_until is not None and day > self.valid_until):
            return False
        return self.revoked_on is None or day < self.revoked_on


def level_in_force(records: Iterable[Record], day: dt.date) -> Record | None:
    """The highest level recorded and in force on `day` (None: not filed then)."""
    best = None
    for r in records:
        if r.in_force(day) and (best is None or RANK[r.level] > RANK[best.level]):
            best = r
    return best
