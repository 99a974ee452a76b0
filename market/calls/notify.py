"""Open-call events told to the organisations concerned, through the matching inbox and its signed webhooks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.accounts.roles import ORG_ROLES
from market.calls.rules import OFFICER_ROLES
from market.matching import notifications
from market.matching.models import Notification


def _recipients(session: Session, org_ids: Iterable[int | None], *, officers: bool) -> list[int]:
    orgs = {o for o in org_ids if o is not None}
    stmt = sa.select(User.id).where(User.is_active.is_(True))
    who = User.org_id.in_(orgs) & User.role.in_(ORG_ROLES) if orgs else sa.false()
    if officers:
        who = who | User.role.in_(OFFICER_ROLES)
    return list(session.scalars(stmt.where(who).order_by(User.id)))


def notify(
    session: Session,
    event: str,
    call_id: int,
    title: str,
    *,
    org_ids: Iterable[int | None] = (),
    officers: bool = False,
    detail: dict[str, Any] | None = None,
) -> list[int]:
    """An inbox entry (listing_type "call") for every active user of the organisations (and the programme
    officers if asked), plus a webhook delivery per active subscription (sent by the webhook sweep)."""
    notes = []
    for user_id in _recipients(session, org_ids, officers=officers):
        note = Notification(
            user_id=user_id,
            saved_search_id=None,
            listing_type="call",
            listing_id=call_id,
            title=title[:300],
            detail={"event": event, "call_id": call_id, **(detail or {})},
        )
        session.add(note)
        notes.append(note)
    if not notes:
        return []
    notifications.queue_deliveries(session, notes)
    notifications.nudge_deliveries(session)
    return [n.id for n in notes]
