"""Notices to an organisation's people: written to the outbox with the change, drained after commit.

Every domain that tells an organisation about something (vouchers, brokers, commissioners, …) emits here
under a topic of its own; `deliver_pending(session, topic=...)` turns the pending rows of that topic into
inbox entries (no saved search; `listing_type` names the record) and a webhook delivery per active
subscription, queued the one way every notice is.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.core import outbox
from market.core.db import utcnow
from market.matching import notifications as matching
from market.matching.models import Notification


def emit(
    session: Session, topic: str, org_id: int, entity_type: str, entity_id: int, title: str, detail: dict[str, Any]
) -> None:
    """Tell every active user of `org_id` about an event, once this transaction commits.

    `entity_type` becomes the inbox entry's listing_type: at most 20 characters.
    """
    outbox.emit(session, topic, entity_type, entity_id, {"org_id": org_id, "title": title, "detail": detail})


def deliver_pending(session: Session, *, topic: str, limit: int = 500) -> list[int]:
    """Turn `topic`'s pending notices into inbox entries and webhook deliveries; returns the delivery ids to send.

    Rows are claimed with SKIP LOCKED on PostgreSQL, so two drains never deliver one notice twice.
    """
    stmt = (
        sa.select(outbox.OutboxEvent)
        .where(outbox.OutboxEvent.topic == topic, outbox.OutboxEvent.processed_at.is_(None))
        .order_by(outbox.OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    notes: list[Notification] = []
    for event in session.scalars(stmt).all():
        payload = event.payload or {}
        users = session.scalars(
            sa.select(User.id).where(User.org_id == payload.get("org_id"), User.is_active.is_(True))
        )
        for user_id in users.all():
            note = Notification(
                user_id=user_id,
                saved_search_id=None,
                listing_type=event.entity_type,
                listing_id=event.entity_id,
                title=str(payload.get("title", ""))[:300],
                detail={
                    **(payload.get("detail") or {}),
                    "event": f"{event.entity_type}.notice",
                    "entity_type": event.entity_type,
                    "entity_id": event.entity_id,
                },
            )
            session.add(note)
            notes.append(note)
        event.processed_at = utcnow()
        event.attempts = (event.attempts or 0) + 1
    session.flush()
    matching.queue_deliveries(session, notes)
    if notes:
        matching.nudge_deliveries(session)
    return matching.pending_deliveries(session, [n.id for n in notes])
