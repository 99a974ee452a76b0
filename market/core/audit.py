"""Append-only audit log: who did what to which record, and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, UTCDateTime, utcnow


class AuditEntry(IdMixin, Base):
    """One state change or notable action. Rows are never updated or deleted."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id", "id"),)

    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[int] = mapped_column(BigIntPK)
    action: Mapped[str] = mapped_column(sa.String(60))
    from_state: Mapped[str | None] = mapped_column(sa.String(40))
    to_state: Mapped[str | None] = mapped_column(sa.String(40))
    actor_user_id: Mapped[int | None] = mapped_column(BigIntPK)
    actor_org_id: Mapped[int | None] = mapped_column(BigIntPK)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


def record(
    session: Session,
    *,
    entity_type: str,
    entity_id: int,
    action: str,
    actor: Any | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an audit entry in the caller's transaction. `actor` is a market.auth.actor.Actor or None."""
    entry = AuditEntry(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        actor_user_id=getattr(actor, "user_id", None),
        actor_org_id=getattr(actor, "org_id", None),
        detail=detail,
    )
    session.add(entry)
    return entry


def history(session: Session, entity_type: str, entity_id: int) -> list[AuditEntry]:
    stmt = (
        sa.select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(stmt))


@sa.event.listens_for(AuditEntry, "before_update")
@sa.event.listens_for(AuditEntry, "before_delete")
def _append_only(*_: Any) -> None:
    raise RuntimeError("audit_log is append-only")
