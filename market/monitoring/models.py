"""Monitoring tables: indicator sets (versioned definitions) and the values entered per region and period."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, TimestampMixin


class IndicatorSet(IdMixin, TimestampMixin, Base):
    """One version of an indicator set (监测评价指标体系): a new definition is a new version, old ones stay."""

    __tablename__ = "monitoring_indicator_sets"
    __table_args__ = (sa.UniqueConstraint("code", "version"),)

    code: Mapped[str] = mapped_column(sa.String(60))
    version: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)  # market.monitoring.rules.validate
    is_preset: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class IndicatorValue(IdMixin, TimestampMixin, Base):
    """An indicator's value for a region (GB/T 2260 district / county) and period ("2025" or "2025-06")."""

    __tablename__ = "monitoring_values"
    __table_args__ = (sa.UniqueConstraint("set_code", "indicator_code", "region_code", "period"),)

    set_code: Mapped[str] = mapped_column(sa.String(60))
    indicator_code: Mapped[str] = mapped_column(sa.String(60))
    region_code: Mapped[str] = mapped_column(sa.String(6))
    period: Mapped[str] = mapped_column(sa.String(7))
    value: Mapped[dict[str, Any]] = mapped_column(JSONType)  # {"value": number as string | {item: count}}
    source: Mapped[str] = mapped_column(sa.String(20), default="entered")  # entered / imported
    entered_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
