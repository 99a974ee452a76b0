"""Evaluation tables: approved agencies and the evaluations they carry out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin, UTCDateTime


class EvaluationAgency(IdMixin, TimestampMixin, Base):
    """An organisation registered as an evaluation agency (评价机构); evaluates only once the bureau approves."""

    __tablename__ = "evaluation_agencies"

    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending / approved / rejected
    hide_evaluators: Mapped[bool] = mapped_column(sa.Boolean, default=True)  # evaluators' names kept from holders
    decided_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class Evaluation(IdMixin, TimestampMixin, Base):
    """One achievement's evaluation by one agency, with the evaluators and the report."""

    __tablename__ = "evaluations"

    achievement_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("achievements.id"), index=True)
    holder_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    agency_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="requested")
    declared_conflicts: Mapped[list[int]] = mapped_column(JSONType, default=list)  # user ids the holder named
    evaluator_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    trl: Mapped[int | None] = mapped_column(sa.SmallInteger)
    innovation_grade: Mapped[str | None] = mapped_column(sa.String(30))
    advancement_grade: Mapped[str | None] = mapped_column(sa.String(30))
    value_low: Mapped[Decimal | None] = mapped_column(Money)
    value_high: Mapped[Decimal | None] = mapped_column(Money)
    report_reference: Mapped[str | None] = mapped_column(sa.String(200))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
