"""Organisations, users and credentials (session tokens and API keys)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime


class Organisation(IdMixin, TimestampMixin, Base):
    """An enterprise, university, institute, intermediary or the bureau itself."""

    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))
    # The credit code this organisation holds (one holder per code). A registration whose code another
    # organisation already claims holds none until the bureau resolves the dispute; a rejected one releases it.
    credit_code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    # The code it applied with (统一社会信用代码 as registered), kept through disputes and rejection.
    claimed_credit_code: Mapped[str | None] = mapped_column(sa.String(18), index=True)
    credit_code_check_ok: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    entity_type_code: Mapped[str] = mapped_column(sa.String(3))
    region_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    country: Mapped[str] = mapped_column(sa.String(2), default="CN")
    # pending | verified | rejected | disputed (another organisation claims the same credit code)
    verification_status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    filing_level: Mapped[str | None] = mapped_column(sa.String(20))
    filing_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    research_integrity_blacklisted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    contact_name: Mapped[str | None] = mapped_column(sa.String(100))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(40))

    @property
    def is_verified(self) -> bool:
        return self.verification_status == "verified"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str | None] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(30))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # 评审专家: the fields an expert reviews in (technical field codes).
    expert_fields: Mapped[str | None] = mapped_column(sa.String(400))


class Credential(IdMixin, Base):
    """A bearer token from a login, or a named API key for a machine client. Only hashes are stored."""

    __tablename__ = "credentials"

    user_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"), index=True)
    # "token" (a login session) | "api_key" | "reset" (a one-time password reset, never a bearer credential)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str | None] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # API keys: what the key may change, space separated (see market/accounts/scopes.py); None for session
    # tokens, which act with the user's full role. A key never does more than its user's role allows.
    scopes: Mapped[str | None] = mapped_column(sa.String(300))
