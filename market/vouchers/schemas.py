"""API shapes of innovation vouchers (创新券)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from market.contracts.schemas import MoneyIn
from market.core.types import Id
from market.vouchers import rules

Share = Field(ge=0, le=1, max_digits=5, decimal_places=4)
CategoryField = Field(
    description="service category (seed 000 篇三 #25): " + ", ".join(f"{k} {v}" for k, v in rules.CATEGORIES.items())
)


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    name: str = Field(min_length=1, max_length=200)
    total_budget: MoneyIn = Field(description="总预算 (yuan)")
    province_share: Decimal = Field(
        rules.DEFAULT_PROVINCE_SHARE,
        ge=0,
        le=1,
        max_digits=5,
        decimal_places=4,
        description="省补贴 share of a service's price (default 0.60)",
    )
    city_share: Decimal = Field(
        rules.DEFAULT_CITY_SHARE,
        ge=0,
        le=1,
        max_digits=5,
        decimal_places=4,
        description="市财政 share of a service's price (default 0.30)",
    )
    face_value: MoneyIn | None = Field(None, description="面值: every voucher's value (or give per_firm_ceiling)")
    per_firm_ceiling: MoneyIn | None = Field(None, description="每家企业上限: the most a firm may ask for")
    eligible_firm_kinds: list[str] = Field(
        default_factory=lambda: list(rules.FIRM_KINDS),
        description="; ".join(f"{k} {v}" for k, v in rules.FIRM_KINDS.items()),
    )
    eligible_categories: list[str] = Field(
        default_factory=lambda: list(rules.CATEGORIES), description="service categories"
    )
    valid_from: dt.date
    valid_until: dt.date
    out_of_city_allowed: bool = Field(
        False, description="通用通兑: vouchers may be used with providers outside the city"
    )


class ProgrammeEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total_budget: MoneyIn | None = None
    province_share: Decimal | None = Field(None, ge=0, le=1, max_digits=5, decimal_places=4)
    city_share: Decimal | None = Field(None, ge=0, le=1, max_digits=5, decimal_places=4)
    face_value: MoneyIn | None = None
    per_firm_ceiling: MoneyIn | None = None
    eligible_firm_kinds: list[str] | None = None
    eligible_categories: list[str] | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    out_of_city_allowed: bool | None = None


class ProgrammeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    year: int
    name: str
    total_budget: Decimal
    committed: Decimal
    province_share: Decimal
    city_share: Decimal
    face_value: Decimal | None
    per_firm_ceiling: Decimal | None
    eligible_firm_kinds: list[str]
    eligible_categories: list[str]
    valid_from: dt.date
    valid_until: dt.date
    out_of_city_allowed: bool
    region_prefix: str
    status: str


class CatalogueItem(BaseModel):
    category: str = CategoryField
    name: str = Field(min_length=1, max_length=200)
    price: MoneyIn


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalogue: list[CatalogueItem] = Field(min_length=1, description="服务目录: category, service, price")


class ProviderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    status: str
    catalogue: list[dict[str, Any]]
    decision_note: str | None


class DecisionIn(BaseModel):
    action: Literal["approve", "reject", "suspend", "remove"]
    note: str | None = None


class RelationshipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_org_id: int
    firm_org_id: int
    kind: str = Field(min_length=1, max_length=40, description="关联关系: shareholding, same controller, family…")


class RelationshipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_org_id: int
    firm_org_id: int
    kind: str


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    firm_kind: str = Field(description="sme / startup / maker_team")
    requested_amount: MoneyIn | None = Field(None, description="ignored where the programme has a face value")
    purpose: str = Field(min_length=1, max_length=2000)


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    granted_amount: MoneyIn | None = Field(None, description="less than requested, where the bureau so decides")


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class VoucherOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    programme_id: int
    firm_org_id: int
    firm_kind: str
    purpose: str
    requested_amount: Decimal
    status: str
    number: str | None
    value: Decimal
    balance: Decimal
    returned: Decimal
    issued_on: dt.date | None
    expires_on: dt.date | None
    decision_note: str | None


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_org_id: int
    category: str = CategoryField
    scope: str = Field(min_length=1, max_length=4000, description="服务内容")
    price: MoneyIn = Field(description="服务合同价款 (yuan)")
    voucher_amount: MoneyIn = Field(description="the part the voucher pays (at most the province + city shares)")
    settlement: Literal["general", "direct"] = Field(
        description="general 通用 (firm pays, is reimbursed) or direct 通兑"
    )


class EvidenceItem(BaseModel):
    kind: str = Field(min_length=1, max_length=40, description="report, certificate, minutes…")
    reference: str = Field(min_length=1, max_length=500)


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: list[EvidenceItem]


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: dict[str, int] = Field(description="quality, timeliness, attitude: 1–5 each")


class BookingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    voucher_id: int
    provider_org_id: int
    category: str
    scope: str
    price: Decimal
    voucher_amount: Decimal
    settlement: str
    status: str
    evidence: list[dict[str, Any]]
    delivered_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    scores: dict[str, Any] | None
    score: Decimal | None


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_reference: str = Field(min_length=1, max_length=200, description="服务合同")
    contract_id: Id | None = Field(None, description="the registered technology contract this service contract is")
    payment_proof: str = Field(min_length=1, max_length=500, description="付款凭证")
    paid_amount: MoneyIn = Field(description="what the firm paid the provider, per the proof")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: str | None = None


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    payer: str
    payee_org_id: int
    amount: Decimal


class ClaimOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    booking_id: int
    claimant_org_id: int
    amount: Decimal
    contract_reference: str
    contract_id: int | None = None
    payment_proof: str
    paid_amount: Decimal
    status: str
    reviewed_on: dt.date | None
    review_note: str | None
    payments: list[PaymentOut] = []


class VoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=4000)
    org_id: int | None = Field(None, description="the organisation the finding is against (default: the firm)")


class FindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    voucher_id: int | None
    kind: str
    description: str
    recorded_at: dt.datetime


class AwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_org_id: int
    awarded_on: dt.date
    amount: MoneyIn
    reference: str = Field(min_length=1, max_length=200)


class AwardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_org_id: int
    awarded_on: dt.date
    amount: Decimal
    reference: str
