"""Tables of innovation vouchers (创新券): programmes, providers, vouchers, bookings, redemptions, findings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin, UTCDateTime


class VoucherProgramme(IdMixin, TimestampMixin, Base):
    """创新券项目: one year's scheme with its budget, funding shares and rules."""

    __tablename__ = "voucher_programmes"

    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    total_budget: Mapped[Decimal] = mapped_column(Money)
    # Value of vouchers issued and not returned (expiry and voids give the unused part back).
    committed: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # Funding shares of a service's price: province (省补贴) and city (市财政); the firm pays the rest.
    province_share: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4))
    city_share: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4))
    face_value: Mapped[Decimal | None] = mapped_column(Money)  # fixed value of every voucher, or …
    per_firm_ceiling: Mapped[Decimal | None] = mapped_column(Money)  # … what a firm may ask up to
    eligible_firm_kinds: Mapped[list[str]] = mapped_column(JSONType, default=list)
    eligible_categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    valid_from: Mapped[dt.date] = mapped_column(sa.Date)
    valid_until: Mapped[dt.date] = mapped_column(sa.Date)
    out_of_city_allowed: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # 通用通兑 outside the city
    region_prefix: Mapped[str] = mapped_column(sa.String(6))  # the city, e.g. "3302"
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    created_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class VoucherProvider(IdMixin, TimestampMixin, Base):
    """科技服务机构 / 创新载体 admitted to serve voucher holders, with its service catalogue."""

    __tablename__ = "voucher_providers"

    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    # [{"category", "name", "price"}] — price as a string of yuan.
    catalogue: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    decision_note: Mapped[str | None] = mapped_column(sa.Text)


class VoucherRelationship(IdMixin, Base):
    """A declared relationship (关联关系) between a provider and a firm: the provider may not serve it."""

    __tablename__ = "voucher_relationships"
    __table_args__ = (sa.UniqueConstraint("provider_org_id", "firm_org_id"),)

    provider_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    firm_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    declared_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Voucher(IdMixin, TimestampMixin, Base):
    """A firm's application and, once approved, its voucher: number, value, balance, expiry."""

    __tablename__ = "vouchers"
    __table_args__ = (sa.UniqueConstraint("programme_id", "firm_org_id"),)

    programme_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("voucher_programmes.id"), index=True)
    firm_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    firm_kind: Mapped[str] = mapped_column(sa.String(20))
    purpose: Mapped[str] = mapped_column(sa.Text)
    requested_amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(sa.String(20), default="applied", index=True)
    number: Mapped[str | None] = mapped_column(sa.String(30), unique=True)
    value: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    returned: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))  # unused value given back
    issued_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    expires_on: Mapped[dt.date | None] = mapped_column(sa.Date, index=True)
    decision_note: Mapped[str | None] = mapped_column(sa.Text)


class VoucherBooking(IdMixin, TimestampMixin, Base):
    """A service contract (服务合同) paid partly by a voucher: scope, price, voucher amount, settlement mode."""

    __tablename__ = "voucher_bookings"

    voucher_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("vouchers.id"), index=True)
    provider_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(40))
    scope: Mapped[str] = mapped_column(sa.Text)
    price: Mapped[Decimal] = mapped_column(Money)
    voucher_amount: Mapped[Decimal] = mapped_column(Money)
    settlement: Mapped[str] = mapped_column(sa.String(20))  # general (通用) | direct (通兑)
    status: Mapped[str] = mapped_column(sa.String(20), default="booked", index=True)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    score: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 2))


class VoucherRedemptionClaim(IdMixin, TimestampMixin, Base):
    """兑现申请: voucher + service contract + proof of payment, reviewed by the bureau."""

    __tablename__ = "voucher_redemption_claims"

    booking_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("voucher_bookings.id"), index=True)
    claimant_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    contract_reference: Mapped[str] = mapped_column(sa.String(200))
    # The registered technology contract that is this service contract, when it is one: the redemption then pays
    # the provider's 5 % for it, and the contract's own voucher marking pays nothing (one service, one payment).
    contract_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"), index=True)
    payment_proof: Mapped[str] = mapped_column(sa.String(500))
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(sa.String(20), default="submitted", index=True)
    reviewed_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    reviewed_on: Mapped[dt.date | None] = mapped_column(sa.Date, index=True)
    review_note: Mapped[str | None] = mapped_column(sa.Text)


class VoucherPayment(IdMixin, Base):
    """One share of an approved redemption: who pays it (province / city), to whom, how much."""

    __tablename__ = "voucher_payments"

    claim_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("voucher_redemption_claims.id"), index=True)
    payer: Mapped[str] = mapped_column(sa.String(20))
    payee_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    amount: Mapped[Decimal] = mapped_column(Money)


class VoucherFinding(IdMixin, Base):
    """A finding recorded against an organisation (e.g. fraud that voided a voucher)."""

    __tablename__ = "voucher_findings"

    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    voucher_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("vouchers.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.Text)
    recorded_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ProvincialServiceAward(IdMixin, Base):
    """省服务绩效奖励 received by a provider: the city matches it 1:1 (seed 004 §5(3))."""

    __tablename__ = "voucher_provincial_awards"

    provider_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    awarded_on: Mapped[dt.date] = mapped_column(sa.Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    reference: Mapped[str] = mapped_column(sa.String(200))
    recorded_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
