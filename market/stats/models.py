"""Statistics tables: the bureau's yearly targets and the stored monthly reports (月度监测)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin, UTCDateTime, utcnow


class StatsTarget(IdMixin, TimestampMixin, Base):
    """A yearly target the bureau sets for a region: contract count and/or amounts (目标任务)."""

    __tablename__ = "stats_targets"
    __table_args__ = (sa.UniqueConstraint("year", "region_prefix"),)

    year: Mapped[int] = mapped_column(sa.SmallInteger)
    region_prefix: Mapped[str] = mapped_column(sa.String(6))
    contract_count: Mapped[int | None] = mapped_column(sa.Integer)
    total_amount: Mapped[Decimal | None] = mapped_column(Money)  # 成交额 target
    technical_transaction_amount: Mapped[Decimal | None] = mapped_column(Money)  # 技术交易额 target
    set_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class MonthlyReport(IdMixin, Base):
    """月度监测: the figures of one month as produced by the scheduled task, kept as issued."""

    __tablename__ = "stats_monthly_reports"
    __table_args__ = (sa.UniqueConstraint("year", "month", "region_prefix"),)

    year: Mapped[int] = mapped_column(sa.SmallInteger)
    month: Mapped[int] = mapped_column(sa.SmallInteger)
    region_prefix: Mapped[str] = mapped_column(sa.String(6))
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
