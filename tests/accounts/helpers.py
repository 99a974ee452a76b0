"""Shared helpers for the accounts tests: passwords on factory users, logins, settings for one test."""

from __future__ import annotations

import sqlalchemy as sa

from market.accounts import security
from market.accounts.models import User
from market.core.audit import AuditEntry
from market.core.db import session_scope

PASSWORD = "quiet-harbour-lantern-42"


def set_password(user_id: int, password: str = PASSWORD) -> None:
    with session_scope() as s:
        s.get(User, user_id).password_hash = security.hash_password(password)


def login(client, username: str, password: str = PASSWORD, **kw):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password}, **kw)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_actions(entity_type: str, entity_id: int) -> list[str]:
    with session_scope() as s:
        return list(
            s.scalars(
                sa.select(AuditEntry.action)
                .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
                .order_by(AuditEntry.id)
            )
        )
