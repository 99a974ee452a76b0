"""Commissioner notices (topic `commissioners.notice`): a dispatch tells the host, an approved award the home organisation.

Written to the outbox with the change and drained after commit by the one notice drain (market/notices/drain.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from market.notices import drain

TOPIC = "commissioners.notice"


def emit(session: Session, org_id: int, entity_type: str, entity_id: int, title: str, detail: dict[str, Any]) -> None:
    drain.emit(session, TOPIC, org_id, entity_type, entity_id, title, detail)


def deliver_pending(session: Session, limit: int = 500) -> list[int]:
    return drain.deliver_pending(session, topic=TOPIC, limit=limit)
