"""The inbox: notifications, and handing each one to its user's webhooks (the one way any domain does it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.core import audit, outbox
from market.core.db import utcnow
from market.core.deps import Actor
from market.core.errors import NotFound
from market.core.pagination import PageParams, paginate
from market.matching.models import Notification, WebhookDelivery, WebhookSubscription

# Nudge name for "a webhook delivery is due" (deliveries are rows of their own, not outbox rows), and the worker's
# task that sends due deliveries, by name (workers/search.py registers it under this name).
WEBHOOK_TOPIC = "webhooks.deliver"
DELIVER_TASK = "market.search.deliver_webhooks"
outbox.route(WEBHOOK_TOPIC, DELIVER_TASK, "search")


def queue_deliveries(session: Session, notes: list[Notification]) -> int:
    """A pending webhook delivery, due now, per active subscription of each note's user (the one way any
    domain's inbox entry reaches webhooks): the beat sweep sends it; call `nudge_deliveries` to send sooner."""
    by_user: dict[int, list[Notification]] = {}
    for note in notes:
        by_user.setdefault(note.user_id, []).append(note)
    if not by_user:
        return 0
    session.flush()
    count = 0
    subs = sa.select(WebhookSubscription).where(
        WebhookSubscription.user_id.in_(by_user), WebhookSubscription.active.is_(True)
    )
    for sub in session.scalars(subs):
        for note in by_user[sub.user_id]:
            session.add(
                WebhookDelivery(
                    subscription_id=sub.id,
                    notification_id=note.id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=utcnow(),
                )
            )
            count += 1
    session.flush()
    return count


def nudge_deliveries(session: Session) -> None:
    """Ask the worker to send due deliveries once this transaction commits (best effort; beat sweeps anyway)."""
    outbox.nudge_after_commit(session, WEBHOOK_TOPIC)


def pending_deliveries(session: Session, notification_ids: list[int]) -> list[int]:
    if not notification_ids:
        return []
    return list(
        session.scalars(
            sa.select(WebhookDelivery.id).where(
                WebhookDelivery.notification_id.in_(notification_ids), WebhookDelivery.status == "pending"
            )
        )
    )


def inbox(session: Session, actor: Actor, unread_only: bool, page: PageParams) -> tuple[list[Notification], int]:
    stmt = sa.select(Notification).where(Notification.user_id == actor.user_id).order_by(Notification.id.desc())
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(session, stmt, page)


def mark_read(session: Session, actor: Actor, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != actor.user_id:
        raise NotFound(f"notification {notification_id} not found", code="notification_not_found")
    if note.read_at is None:
        note.read_at = utcnow()
        session.flush()
        audit.record(session, entity_type="notification", entity_id=note.id, action="read", actor=actor)
    return note
