"""Filing records of technology-transfer intermediaries (技术转移服务机构备案, seed 004 §4(2) "实行备案制").

- `intermediary_filings` — one row per application: the level applied for, then the bureau's record
  (number, level, filing date, validity) or rejection, and a later revocation. Rows are never deleted;
  every step is in the audit log. A level an organisation typed into its profile or onto a contract
  is a claim: subsidies read only recorded filings, as in force on the day that matters.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime, utcnow


class FilingStatus(StrEnum):
    applied = "applied"  # 已申请 (or a migrated claim): awaiting the bureau's review
    recorded = "recorded"  # 已备案: number, level, date, validity
    rejected = "rejected"  # 不予备案
    revoked = "revoked"  # 已撤销 (from `revoked_on`)


class FilingLevel(StrEnum):
    national = "national"  # 国家级
    provincial = "provincial"  # 省级
    city = "city"  # 市级


class IntermediaryFiling(IdMixin, TimestampMixin, Base):
    __tablename__ = "intermediary_filings"
    __table_args__ = (sa.Index("ix_intermediary_filings_org", "org_id", "status"),)

    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    level: Mapped[str] = mapped_column(sa.String(20))  # FilingLevel: applied for, then as recorded
    status: Mapped[str] = mapped_column(sa.String(20), default=FilingStatus.applied)
    # A filing level carried over from an organisation's profile by migration 0010: a claim until reviewed.
    migrated_claim: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    claimed_on: Mapped[dt.date | None] = mapped_column(sa.Date)  # the date the applicant states
    note: Mapped[str | None] = mapped_column(sa.Text)
    applied_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    filing_number: Mapped[str | None] = mapped_column(sa.String(60), unique=True)  # 备案编号
    filed_on: Mapped[dt.date | None] = mapped_column(sa.Date)  # 备案日期: in force from
    valid_until: Mapped[dt.date | None] = mapped_column(sa.Date)  # 有效期至 (None: no end)
    decided_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    revoked_on: Mapped[dt.date | None] = mapped_column(sa.Date)  # no longer in force from this day
    revoked_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    revocation_reason: Mapped[str | None] = mapped_column(sa.Text)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
