"""Voucher notices: written to the outbox with the change, delivered after commit into the inbox and webhooks.

Each becomes an inbox entry of its own (no saved search; `listing_type` names the voucher record) and a
webhook delivery per active subscription, queued the one way every domain's notice is.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.core import outbox
from market.core.db import utcnow
from market.matching import notifications
from market.matching.models import Notification

TOPIC = "vouchers.notice"


def emit(session: Session, org_id: int, entity_type: str, entity_id: int, title: str, detail: dict[str, Any]) -> None:
    """Tell every active user of `org_id` about a voucher event, once this transaction commits."""
    outbox.emit(session, TOPIC, entity_type, entity_id, {"org_id": org_id, "title": title, "detail": detail})


def deliver_pending(session: Session, limit: int = 500, topic: str = TOPIC) -> list[int]:
    """Turn pending notices into inbox entries and webhook deliveries; returns the delivery ids to send.

    Rows are claimed with SKIP LOCKED on PostgreSQL, so two drains never deliver one notice twice. Another
    domain's notices of the same shape (org_id, title, detail) drain here with their own `topic`.
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
    notifications.queue_deliveries(session, notes)
    if notes:
        notifications.nudge_deliveries(session)
    return notifications.pending_deliveries(session, [n.id for n in notes])
