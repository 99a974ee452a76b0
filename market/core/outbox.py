"""Transactional outbox: intents written in the same transaction as the data they follow.

A row here means "something outside the database (search index, webhook, …) must learn
about entity X". Workers drain it; nothing is lost if Redis, the worker or the target is down.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, UTCDateTime, after_commit, utcnow


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "topic", "processed_at", "available_at"),)

    topic: Mapped[str] = mapped_column(sa.String(60))
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[int] = mapped_column(BigIntPK)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


# topic -> callable run after commit to nudge a drainer (set by workers; a no-op if unset).
_nudgers: dict[str, Any] = {}


def register_nudger(topic: str, nudge: Any) -> None:
    _nudgers[topic] = nudge


def emit(
    session: Session, topic: str, entity_type: str, entity_id: int, payload: dict[str, Any] | None = None
) -> None:
    """Record an intent in the caller's transaction and nudge the drainer once it commits."""
    session.add(OutboxEvent(topic=topic, entity_type=entity_type, entity_id=entity_id, payload=payload))
    nudge = _nudgers.get(topic)
    if nudge is not None and not session.info.get(f"nudge:{topic}"):
        session.info[f"nudge:{topic}"] = True

        def _send() -> None:
            session.info.pop(f"nudge:{topic}", None)
            nudge()

        after_commit(session, _send)
