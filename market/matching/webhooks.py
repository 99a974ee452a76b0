"""Webhooks: subscriptions, signed deliveries with their retry schedule, withholding what may no longer be seen."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from market.core import audit, outbox
from market.core.db import is_sqlite, utcnow
from market.core.deps import Actor
from market.core.errors import InvalidState, NotFound, ValidationFailed
from market.matching.listings import load_listing
from market.matching.models import Notification, SavedSearch, WebhookDelivery, WebhookSubscription
from market.matching.notifications import WEBHOOK_TOPIC
from market.matching.saved_searches import PAUSED_SOURCE_NOT_VISIBLE, owner_still_sees_source
from market.matching.webhook_targets import WebhookRejected, WebhookTargetRefused, check_webhook_target, post_pinned


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """X-Market-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


WEBHOOK_TIMEOUT = 10.0
# Attempt n waits FIRST_RETRY · 2^(n-1), at most MAX_RETRY_WAIT, ±25 % jitter: 30 s, 1, 2, 4, 8, 16, 32 min,
# then hourly; after MAX_ATTEMPTS (≈ 7 h of trying, at least 5 h) the delivery is `failed` until someone redelivers it.
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY_WAIT = dt.timedelta(hours=1)
MAX_ATTEMPTS = 14
# An attempt in flight holds its delivery this long: no second worker sends it meanwhile.
DELIVERY_LEASE = dt.timedelta(seconds=WEBHOOK_TIMEOUT * 3 + 30)


def retry_delay(attempts: int, rand: Any = random.random) -> dt.timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY_WAIT)
    return base * (0.75 + 0.5 * rand())


@dataclass(frozen=True)
class Outgoing:
    """One attempt's request, read in a transaction and sent outside any (flows.deliver_webhook)."""

    delivery_id: int
    url: str
    event: str
    body: bytes
    secret: str
    active: bool


def claim_due(session: Session, limit: int = 100) -> list[int]:
    """Pending deliveries whose time has come, leased to the caller (for DELIVERY_LEASE, once committed)."""
    now = utcnow()
    stmt = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if not is_sqlite(session):
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.scalars(stmt).all()
    for row in rows:
        row.next_attempt_at = now + DELIVERY_LEASE
    session.flush()
    return [row.id for row in rows]


def outgoing(session: Session, delivery_id: int) -> Outgoing | str:
    """The request a due delivery sends now, or why it sends none: "skipped" (not pending), "withheld" (access at
    this moment; written on the delivery)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return "skipped"
    sub = session.get(WebhookSubscription, delivery.subscription_id)
    note = session.get(Notification, delivery.notification_id)
    assert sub is not None and note is not None  # foreign keys
    if (withheld := delivery_withheld(session, note)) is not None:  # access at this moment
        delivery.status, delivery.last_error = "withheld", withheld
        session.flush()
        return "withheld"
    event = (
        "saved_search.match"
        if note.saved_search_id is not None
        else str((note.detail or {}).get("event") or f"{note.listing_type}.notice")
    )
    payload = {
        "event": event,
        "delivery_id": delivery.id,
        "notification_id": note.id,
        "saved_search_id": note.saved_search_id,
        "listing_type": note.listing_type,
        "listing_id": note.listing_id,
        "title": note.title,
        "detail": note.detail,
        "created_at": note.created_at.isoformat(),
    }
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    return Outgoing(delivery.id, sub.url, event, body, sub.secret, sub.active)


def send(out: Outgoing, timeout: float) -> tuple[int | None, str | None]:
    """POST the signed request (no database here): the receiver's status code, and the error if it failed."""
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Market-Event": out.event,
        "X-Market-Delivery": str(out.delivery_id),
        "X-Market-Signature": sign(out.secret, ts, out.body),
    }
    if not out.active:
        return None, "the webhook was deleted"
    try:
        return post_pinned(out.url, out.body, headers, timeout), None
    except WebhookRejected as exc:
        return exc.status_code, str(exc)
    except (httpx.HTTPError, WebhookTargetRefused) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def record_attempt(session: Session, out: Outgoing, status_code: int | None, error: str | None) -> str:
    """Write one attempt's outcome on its delivery: "delivered", "retrying" (due again later) or "failed"."""
    delivery = session.get(WebhookDelivery, out.delivery_id)
    assert delivery is not None  # deliveries are pruned only once delivered
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    if error is None:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", utcnow(), None
        outcome = "delivered"
    elif delivery.attempts >= MAX_ATTEMPTS or not out.active:
        delivery.status, delivery.next_attempt_at = "failed", None
        webhook_failed(delivery.subscription_id)
        outcome = "failed"
    else:
        delivery.next_attempt_at = utcnow() + retry_delay(delivery.attempts)
        outcome = "retrying"
    session.flush()
    return outcome


def webhook_failed(subscription_id: int) -> None:
    """Hook for metrics: a delivery gave up (a no-op here; operations may count it)."""


def list_deliveries(
    session: Session, actor: Actor, *, subscription_id: int | None = None, status: str | None = None, limit: int = 200
) -> list[WebhookDelivery]:
    """A subscriber's deliveries (one webhook, or all of theirs); the bureau may see everyone's."""
    stmt = sa.select(WebhookDelivery).join(
        WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id
    )
    if subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == own_webhook(session, actor, subscription_id).id)
    elif not actor.is_bureau:
        stmt = stmt.where(WebhookSubscription.user_id == actor.user_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))


def redeliver(session: Session, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again from the start of the schedule (its subscriber, or the bureau)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    sub = session.get(WebhookSubscription, delivery.subscription_id) if delivery else None
    if delivery is None or sub is None or not (actor.is_bureau or sub.user_id == actor.user_id):
        raise NotFound(f"webhook delivery {delivery_id} not found", code="webhook_delivery_not_found")
    if not sub.active:
        raise InvalidState("the webhook was deleted; create it again", code="webhook_inactive")
    if delivery.status == "pending":
        raise InvalidState("the delivery is still being tried", code="delivery_pending")
    before = delivery.status
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    session.flush()
    audit.record(
        session,
        entity_type="webhook_delivery",
        entity_id=delivery.id,
        action="redeliver",
        actor=actor,
        from_state=before,
        to_state="pending",
        detail={"subscription_id": sub.id},
    )
    outbox.nudge_after_commit(session, WEBHOOK_TOPIC)
    return delivery


def prune_deliveries(session: Session, older_than: dt.timedelta) -> int:
    """Delete delivered deliveries older than `older_than`; pending and failed ones stay until resolved."""
    cutoff = utcnow() - older_than
    result = cast(
        CursorResult[Any],
        session.execute(
            sa.delete(WebhookDelivery).where(
                WebhookDelivery.status == "delivered", WebhookDelivery.delivered_at < cutoff
            )
        ),
    )
    return result.rowcount or 0


def delivery_withheld(session: Session, note: Notification) -> str | None:
    """Why a webhook delivery may not go out now, or None: its search paused, or the listing it announces is
    no longer visible to the subscriber (taken back to draft since the notification was made)."""
    from market.accounts.models import User
    from market.accounts.service import actor_for_user
    from market.listings import service as listings

    if note.saved_search_id is None:
        return None  # a domain's own notice (an open call's stage, a voucher), addressed when it was made
    saved = session.get(SavedSearch, note.saved_search_id)
    if saved is None or not owner_still_sees_source(session, saved):
        return saved.paused_reason if saved is not None else PAUSED_SOURCE_NOT_VISIBLE
    listing = load_listing(session, note.listing_type, note.listing_id)
    owner = session.get(User, saved.user_id)
    if listing is None or owner is None or not listings.is_visible(actor_for_user(session, owner), listing):
        return "listing_not_visible"
    return None


def create_webhook(session: Session, actor: Actor, url: str) -> WebhookSubscription:
    try:
        check_webhook_target(url)
    except WebhookTargetRefused as refused:
        raise ValidationFailed.field("url", "invalid_webhook_url", str(refused)) from None
    sub = WebhookSubscription(user_id=actor.user_id, url=url, secret=secrets.token_hex(24), active=True)
    session.add(sub)
    session.flush()
    audit.record(
        session,
        entity_type="webhook",
        entity_id=sub.id,
        action="create",
        actor=actor,
        to_state="active",
        detail={"url": url},
    )
    return sub


def delete_webhook(session: Session, actor: Actor, sub_id: int) -> None:
    sub = own_webhook(session, actor, sub_id)
    if sub.active:
        sub.active = False
        session.flush()
        audit.record(
            session,
            entity_type="webhook",
            entity_id=sub.id,
            action="delete",
            actor=actor,
            from_state="active",
            to_state="deleted",
        )


def own_webhook(session: Session, actor: Actor, sub_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None or sub.user_id != actor.user_id:
        raise NotFound(f"webhook {sub_id} not found", code="webhook_not_found")
    return sub
