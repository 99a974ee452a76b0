"""Webhook delivery as the worker runs it: several transactions by design, the HTTP call outside all of them.

Why here and not in a service: a receiver may take up to the timeout to answer, and a transaction held across
the POST would pin a database connection and the delivery's row lock for that long; so the flow reads in one
transaction, sends outside any, and records the attempt in another (webhooks.py holds the steps; each flushes).
"""

from __future__ import annotations

from market.core.db import session_scope
from market.matching import webhooks
from market.matching.webhooks import WEBHOOK_TIMEOUT


def claim_due_deliveries(limit: int = 100) -> list[int]:
    """Pending deliveries whose time has come, leased to this caller (committed at once: other workers skip them)."""
    with session_scope() as session:
        return webhooks.claim_due(session, limit)


def sweep_webhooks(limit: int = 100, timeout: float = WEBHOOK_TIMEOUT) -> dict[str, int]:
    """Send every due delivery once (beat, every 30 s, and the nudge after a notification)."""
    counts: dict[str, int] = {}
    for delivery_id in claim_due_deliveries(limit):
        outcome = deliver_webhook(delivery_id, timeout=timeout)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def deliver_webhook(delivery_id: int, *, timeout: float = WEBHOOK_TIMEOUT) -> str:
    """POST one notification and log the attempt: "delivered", "retrying" (due again later), "failed", "skipped",
    "withheld".

    A receiver slower than the timeout may still act on the request, so a timed-out attempt is never
    re-sent at once: like any failure it waits its turn on the schedule, and the body and the
    X-Market-Delivery header are the same on every attempt, for the receiver to drop a repeat.
    """
    with session_scope() as session:
        out = webhooks.outgoing(session, delivery_id)
    if isinstance(out, str):
        return out
    status_code, error = webhooks.send(out, timeout)
    with session_scope() as session:
        return webhooks.record_attempt(session, out, status_code, error)
