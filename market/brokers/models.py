"""Tables of technology brokers (技术经纪人): people, training, employment, contract links, performance weights."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, TimestampMixin


class Broker(IdMixin, TimestampMixin, Base):
    """A broker as a person. The ID number is kept only masked, and as a keyed digest for uniqueness."""

    __tablename__ = "brokers"

    name: Mapped[str] = mapped_column(sa.String(100))
    id_number_masked: Mapped[str] = mapped_column(sa.String(18))
    id_number_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    level: Mapped[str] = mapped_column(sa.String(30))  # rules.LEVELS
    field: Mapped[str | None] = mapped_column(sa.String(40))  # market.core.vocab.TechnicalField
    status: Mapped[str] = mapped_column(sa.String(20), default="active", index=True)
    user_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class BrokerTraining(IdMixin, Base):
    """A training course completed, with the certificate it earned (培训记录 / 证书)."""

    __tablename__ = "broker_trainings"

    broker_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("brokers.id"), index=True)
    course: Mapped[str] = mapped_column(sa.String(200))
    hours: Mapped[int] = mapped_column(sa.Integer)
    completed_on: Mapped[dt.date] = mapped_column(sa.Date)
    certificate_number: Mapped[str | None] = mapped_column(sa.String(60))
    issuer: Mapped[str | None] = mapped_column(sa.String(200))


class BrokerEmployment(IdMixin, Base):
    """One employment by an intermediary (技术转移服务机构), from start to end (inclusive; None = current)."""

    __tablename__ = "broker_employments"

    broker_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("brokers.id"), index=True)
    intermediary_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(sa.Date)
    end_date: Mapped[dt.date | None] = mapped_column(sa.Date)


class BrokerLink(IdMixin, TimestampMixin, Base):
    """A broker on a contract: proposed by the intermediary, confirmed (or rejected) by the contract's filer."""

    __tablename__ = "broker_links"
    __table_args__ = (sa.UniqueConstraint("broker_id", "contract_id"),)

    broker_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("brokers.id"), index=True)
    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"), index=True)
    intermediary_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="proposed", index=True)  # proposed|confirmed|rejected
    proposed_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class BrokerPerformanceWeights(IdMixin, Base):
    """The bureau's weights of the annual performance value (绩效分值) for one year."""

    __tablename__ = "broker_performance_weights"

    year: Mapped[int] = mapped_column(sa.Integer, unique=True)
    weights: Mapped[dict[str, Any]] = mapped_column(JSONType)  # item -> points, as strings
    set_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class BrokerListing(IdMixin, TimestampMixin, Base):
    """A demand or achievement a broker brought in: proposed by the intermediary, confirmed by the listing's owner."""

    __tablename__ = "broker_listings"
    __table_args__ = (sa.UniqueConstraint("broker_id", "listing_type", "listing_id"),)

    broker_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("brokers.id"), index=True)
    listing_type: Mapped[str] = mapped_column(sa.String(20))  # achievement | demand
    listing_id: Mapped[int] = mapped_column(BigIntPK, index=True)  # no FK: two tables, by listing_type
    intermediary_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="proposed", index=True)
    proposed_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    decided_on: Mapped[dt.date | None] = mapped_column(sa.Date)
