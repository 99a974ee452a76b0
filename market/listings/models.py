"""Achievement (科技成果) and demand (技术需求) tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin, UTCDateTime


class ListingMixin(IdMixin, TimestampMixin):
    title: Mapped[str] = mapped_column(sa.String(200))
    technical_field: Mapped[str] = mapped_column(sa.String(40), index=True)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    region_code: Mapped[str] = mapped_column(sa.String(6), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft", index=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    # Bumped on every change; the search index ignores documents older than what it holds.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class Achievement(ListingMixin, Base):
    """科技成果: what a university, institute or firm has to offer."""

    __tablename__ = "achievements"

    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    summary: Mapped[str] = mapped_column(sa.Text)
    maturity: Mapped[str] = mapped_column(sa.String(20), index=True)
    trl: Mapped[int | None] = mapped_column(sa.SmallInteger)
    ip_type: Mapped[str] = mapped_column(sa.String(30))
    patent_numbers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    transfer_modes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # 面议 (negotiable) is its own value: price_negotiable true and asking_price null.
    asking_price: Mapped[Decimal | None] = mapped_column(Money)
    price_negotiable: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    inventors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # 国内首创 / 首台套 and similar recognitions, as codes.
    recognitions: Mapped[list[str]] = mapped_column(JSONType, default=list)

    @property
    def price_value(self) -> Decimal | str | None:
        """The asking price as the API shows it: an amount, or 面议."""
        return "面议" if self.price_negotiable else self.asking_price


class Demand(ListingMixin, Base):
    """技术需求: a technical problem a firm wants solved."""

    __tablename__ = "demands"

    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    wanted_maturity: Mapped[str | None] = mapped_column(sa.String(20))
    budget: Mapped[Decimal | None] = mapped_column(Money)
    budget_negotiable: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    cooperation_modes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    deadline: Mapped[dt.date | None] = mapped_column(sa.Date)

    @property
    def budget_value(self) -> Decimal | str | None:
        """The budget as the API shows it: an amount, or 面议."""
        return "面议" if self.budget_negotiable else self.budget
