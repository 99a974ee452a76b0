"""Voucher notices: written to the outbox with the change, delivered after commit into the inbox and webhooks.

The inbox (market.matching) files each entry under a saved search; voucher notices go under one
inactive saved search per user named 创新券 (target "voucher"), which no listing ever matches.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.core import outbox
from market.core.db import utcnow
from market.matching.models import Notification, SavedSearch, WebhookDelivery, WebhookSubscription

TOPIC = "vouchers.notice"
CHANNEL_TARGET = "voucher"
CHANNEL_NAME = "创新券 innovation vouchers"


def emit(session: Session, org_id: int, entity_type: str, entity_id: int, title: str, detail: dict[str, Any]) -> None:
    """Tell every active user of `org_id` about a voucher event, once this transaction commits."""
    outbox.emit(session, TOPIC, entity_type, entity_id, {"org_id": org_id, "title": title, "detail": detail})


def _channel(session: Session, user_id: int) -> int:
    found = session.scalar(sa.select(SavedSearch.id).where(
        SavedSearch.user_id == user_id, SavedSearch.target == CHANNEL_TARGET))  # fmt: skip
    if found is not None:
        return found
    saved = SavedSearch(user_id=user_id, name=CHANNEL_NAME, target=CHANNEL_TARGET, query=None, filters={},
                        min_score=0, active=False)  # fmt: skip
    session.add(saved)
    session.flush()
    return saved.id


def deliver_pending(session: Session, limit: int = 500) -> list[int]:
    """Turn pending notices into inbox entries and webhook deliveries; returns the delivery ids to send.

    Rows are claimed with SKIP LOCKED on PostgreSQL, so two drains never deliver one notice twice.
    """
    stmt = (
        sa.select(outbox.OutboxEvent)
        .where(outbox.OutboxEvent.topic == TOPIC, outbox.OutboxEvent.processed_at.is_(None))
        .order_by(outbox.OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    deliveries: list[int] = []
    for event in session.scalars(stmt).all():
        payload = event.payload or {}
        users = session.scalars(sa.select(User.id).where(User.org_id == payload.get("org_id"), User.is_active.is_(True)))
        for user_id in users.all():
            note = Notification(user_id=user_id, saved_search_id=_channel(session, user_id),
                                listing_type=CHANNEL_TARGET, listing_id=event.id,
                                title=str(payload.get("title", ""))[:300],
                                detail={**(payload.get("detail") or {}), "entity_type": event.entity_type,
                                        "entity_id": event.entity_id})  # fmt: skip
            session.add(note)
            session.flush()
            for sub_id in session.scalars(sa.select(WebhookSubscription.id).where(
                    WebhookSubscription.user_id == user_id, WebhookSubscription.active.is_(True))):  # fmt: skip
                delivery = WebhookDelivery(subscription_id=sub_id, notification_id=note.id, status="pending", attempts=0)
                session.add(delivery)
                session.flush()
                deliveries.append(delivery.id)
        event.processed_at = utcnow()
        event.attempts = (event.attempts or 0) + 1
    session.flush()
    return deliveries
