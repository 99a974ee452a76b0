"""Broker notices: written to the outbox with the change, delivered after commit into the inbox and webhooks.

Same shape as the voucher notices, drained by the same function under a topic of their own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from market.core import outbox
from market.vouchers import notices as voucher_notices

TOPIC = "brokers.notice"


def emit(session: Session, org_id: int, entity_type: str, entity_id: int, title: str, detail: dict[str, Any]) -> None:
    """Tell every active user of `org_id` about a broker event, once this transaction commits."""
    outbox.emit(session, TOPIC, entity_type, entity_id, {"org_id": org_id, "title": title, "detail": detail})


def deliver_pending(session: Session, limit: int = 500) -> list[int]:
    return voucher_notices.deliver_pending(session, limit, topic=TOPIC)
