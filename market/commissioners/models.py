"""Tables of science commissioners (科技特派员): commissioners, dispatches, evaluation awards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin


class Commissioner(IdMixin, TimestampMixin, Base):
    """An individual, legal-entity (法人科技特派员) or team commissioner, with home institution and level."""

    __tablename__ = "commissioners"

    kind: Mapped[str] = mapped_column(sa.String(20))  # rules.KINDS
    name: Mapped[str] = mapped_column(sa.String(200))
    home_org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    home_institution: Mapped[str] = mapped_column(sa.String(200))
    level: Mapped[str] = mapped_column(sa.String(20), index=True)  # rules.LEVELS: 省派 / 市派 / 县派
    field: Mapped[str | None] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    user_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class CommissionerDispatch(IdMixin, Base):
    """选派: a commissioner sent to a firm, village or cooperative under a service agreement (period, goals)."""

    __tablename__ = "commissioner_dispatches"

    commissioner_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("commissioners.id"), index=True)
    host_kind: Mapped[str] = mapped_column(sa.String(20))  # rules.HOST_KINDS
    host_org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    host_name: Mapped[str] = mapped_column(sa.String(200))
    start_date: Mapped[dt.date] = mapped_column(sa.Date)
    end_date: Mapped[dt.date] = mapped_column(sa.Date)
    goals: Mapped[str] = mapped_column(sa.Text)


class CommissionerAward(IdMixin, TimestampMixin, Base):
    """One selection of the annual evaluation (年度评选) with its amount and working; approved by a second officer."""

    __tablename__ = "commissioner_awards"

    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    commissioner_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("commissioners.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))  # rules.AWARD_KINDS
    subject: Mapped[str | None] = mapped_column(sa.String(200))  # the base, project or station named
    provincial_amount: Mapped[Decimal | None] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    working: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(20), default="proposed")  # proposed | approved
    proposed_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    approved_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class CommissionerStation(IdMixin, TimestampMixin, Base):
    """A station (工作站, 农科驿站, 星创天地) with its host and the commissioners serving it."""

    __tablename__ = "commissioner_stations"

    kind: Mapped[str] = mapped_column(sa.String(30))  # rules.STATION_KINDS
    name: Mapped[str] = mapped_column(sa.String(200))
    host_org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    host_name: Mapped[str] = mapped_column(sa.String(200))
    filing_level: Mapped[str | None] = mapped_column(sa.String(20))  # national / provincial / city
    commissioner_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)


class CommissionerProject(IdMixin, TimestampMixin, Base):
    """实质性技术合作: a project with a firm, its goals and outcomes, and any contract it led to."""

    __tablename__ = "commissioner_projects"

    commissioner_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("commissioners.id"), index=True)
    host_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    goals: Mapped[str] = mapped_column(sa.Text)
    outcomes: Mapped[str | None] = mapped_column(sa.Text)
    contract_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"))
    start_date: Mapped[dt.date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default="ongoing")  # ongoing | completed


class CommissionerServiceLog(IdMixin, Base):
    """A visit, training session or technology introduced, logged by the commissioner."""

    __tablename__ = "commissioner_service_logs"

    commissioner_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("commissioners.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))  # rules.LOG_KINDS
    on: Mapped[dt.date] = mapped_column(sa.Date)
    host_name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    attendees: Mapped[int] = mapped_column(sa.Integer, default=0)
