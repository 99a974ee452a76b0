"""Commissioner notices: a dispatch tells the host, an approved award tells the commissioner's home organisation.

Written to the outbox with the change; drained by the voucher notices' function under a topic of their own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from market.core import outbox
from market.vouchers import notices as voucher_notices

TOPIC = "commissioners.notice"


def emit(session: Session, org_id: int, entity_type: str, entity_id: int, title: str, detail: dict[str, Any]) -> None:
    # entity_type becomes the inbox entry's listing_type: at most 20 characters.
    outbox.emit(session, TOPIC, entity_type, entity_id, {"org_id": org_id, "title": title, "detail": detail})


def deliver_pending(session: Session, limit: int = 500) -> list[int]:
    return voucher_notices.deliver_pending(session, limit, topic=TOPIC)
