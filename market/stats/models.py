"""Statistics tables: the ledger rollup, the bureau's yearly targets and the stored monthly reports (月度监测)."""

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


class RollupRow(Base):
    """The ledger summed per dimension value and year (grain "y", period yyyy), quarter ("q", yyyyq),
    month ("m", yyyymm) or day ("d", yyyymmdd).

    Kept in the transaction of every ledger write (`market.stats.rollup.apply`), so any period is read as
    its whole years, quarters and months and its edge days, never from the ledger; `rebuild` recomputes it.
    The dimensions and their keys:

    - `subtype`: key = contract type, key2 = subtype (also the contract-type, summary and series figures)
    - `technical_field`, `ip_type`, `seller_entity_type`, `buyer_entity_type`: key = the code
    - `region`: key = seller region, key2 = buyer region (6 digits, "" abroad): both region breakdowns at
      any level, the flows of any region prefix and the targets' basis come from these pairs
    - `seller`, `buyer`: key = credit code, else name; `name` = the greatest name seen (as max() on the ledger)
    - `intermediary`: key = name (contracts without one have no row)
    - `plan_source`, `payment_method`: key = the code ("" when the contract gave none)
    """

    __tablename__ = "stats_rollup"

    # Primary key in query order: dimension and grain by equality, then a period range.
    dimension: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    grain: Mapped[str] = mapped_column(sa.String(1), primary_key=True)
    period: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    key2: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    count: Mapped[int] = mapped_column(sa.Integer)
    total_amount: Mapped[Decimal] = mapped_column(Money)
    technical_transaction_amount: Mapped[Decimal] = mapped_column(Money)


class PeriodTarget(IdMixin, TimestampMixin, Base):
    """A target over several years (目标任务): cumulative (技术合同成交额 8亿 in 2023–2026) or a ratio each year
    against a denominator the bureau enters (成交额 / GDP ≥ 0.8 %)."""

    __tablename__ = "stats_period_targets"

    region_prefix: Mapped[str] = mapped_column(sa.String(6))
    kind: Mapped[str] = mapped_column(sa.String(20))  # stats.rules.KINDS
    metric: Mapped[str] = mapped_column(sa.String(30))  # stats.rules.METRICS
    first_year: Mapped[int] = mapped_column(sa.SmallInteger)
    last_year: Mapped[int] = mapped_column(sa.SmallInteger)
    target_amount: Mapped[Decimal | None] = mapped_column(Money)  # cumulative: yuan (or a contract count)
    target_pct: Mapped[Decimal | None] = mapped_column(Money)  # ratio: per cent, 2 decimals (0.80)
    denominator: Mapped[str | None] = mapped_column(sa.String(30))  # ratio: e.g. "gdp"
    name: Mapped[str] = mapped_column(sa.String(200))
    set_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class Denominator(IdMixin, TimestampMixin, Base):
    """A figure the bureau enters for ratio targets: a region's GDP of a year (yuan)."""

    __tablename__ = "stats_denominators"
    __table_args__ = (sa.UniqueConstraint("name", "region_prefix", "year"),)

    name: Mapped[str] = mapped_column(sa.String(30))
    region_prefix: Mapped[str] = mapped_column(sa.String(6))
    year: Mapped[int] = mapped_column(sa.SmallInteger)
    amount: Mapped[Decimal] = mapped_column(Money)
    set_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
