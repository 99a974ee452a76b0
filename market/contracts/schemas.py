"""Request and response shapes of the contract registration API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from market.core.types import Id, LongText, Text

MoneyIn = Annotated[Decimal, Field(max_digits=16, decimal_places=2)]


class PartyIn(BaseModel):
    role: Text = Field(description="seller 卖方 / buyer 买方 / intermediary 中介方")
    org_id: Id | None = Field(None, description="a member organisation; its details fill what is not given")
    name: Text | None = None
    credit_code: Text | None = Field(None, description="统一社会信用代码")
    entity_type_code: Text | None = Field(None, description="法人性质 code, e.g. 022 高等院校, 150 有限责任公司")
    region_code: Text | None = Field(None, description="行政区划代码 (6 digits); empty for a party abroad")
    country: Text | None = Field(None, description="ISO 3166 alpha-2, default CN")
    broker_name: Text | None = Field(None, description="技术经纪人 (intermediary only)")


class DeductionIn(BaseModel):
    kind: Text = Field(
        description="equipment 设备 / instruments 仪器 / parts 零部件 / raw_materials 原材料 / other_non_technical"
    )
    description: LongText | None = None
    amount: MoneyIn


class ContractIn(BaseModel):
    """A contract as filed (or edited after 补正)."""

    model_config = ConfigDict(extra="forbid")

    project_name: Text = Field(min_length=1, max_length=300)
    contract_type: Text = Field(
        description="development 技术开发 / transfer 技术转让 / license 技术许可 / consulting 技术咨询 / service 技术服务"
    )
    subtype: Text
    signing_date: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    total_amount: MoneyIn = Field(description="合同成交额 (yuan)")
    technical_transaction_amount: MoneyIn | None = Field(
        None, description="技术交易额 = 成交额 − deductions; derived when omitted, checked when given"
    )
    deductions: list[DeductionIn] = Field(default_factory=list, description="非技术性费用, itemised")
    payment_method: Text | None = Field(None, description="lump_sum / instalments / royalty / equity")
    ip_type: Text | None = None
    technical_field: Text | None = None
    plan_source: Text | None = Field(None, description="national / ministry / provincial / municipal / unplanned")
    related_party: bool = False
    domestic_first: bool = False
    first_set: bool = False
    technology_import: bool = Field(False, description="技术引进: the domestic buyer files")
    disputed: bool = False
    achievement_id: Id | None = None
    demand_id: Id | None = None
    call_id: Id | None = None
    reregistration_of_id: Id | None = Field(None, description="重新登记: the earlier registration of the same deal")
    parties: list[PartyIn] = Field(default_factory=list)
    submit: bool = Field(True, description="file it now (true) or keep it as a draft (false)")


class AmendmentIn(BaseModel):
    """变更登记: the fields that change, and the registration date the change takes effect."""

    model_config = ConfigDict(extra="forbid")

    reason: LongText = Field(min_length=1)
    effective_date: dt.date | None = Field(None, description="registration date of the amendment; default today")
    project_name: Text | None = None
    contract_type: Text | None = None
    subtype: Text | None = None
    valid_until: dt.date | None = None
    total_amount: MoneyIn | None = None
    deductions: list[DeductionIn] | None = None
    payment_method: Text | None = None
    ip_type: Text | None = None
    technical_field: Text | None = None
    plan_source: Text | None = None
    parties: list[PartyIn] | None = None


class CancellationIn(BaseModel):
    reason: LongText = Field(min_length=1)
    effective_date: dt.date | None = None


class CorrectionItem(BaseModel):
    field: Text
    message: LongText


class ReturnIn(BaseModel):
    items: list[CorrectionItem] = Field(min_length=1, description="what the filer must fix (补正)")


class RefuseIn(BaseModel):
    reason: LongText = Field(description="one of the 不予登记 reasons, see GET /contracts/catalogue")
    note: LongText | None = None


class RegisterIn(BaseModel):
    registration_date: dt.date | None = Field(
        None,
        description="refused when given: the registration date is the decision date (today, China time); "
        "historical registrations come through POST /contracts/import",
    )


class PaymentIn(BaseModel):
    amount: MoneyIn
    received_on: dt.date
    note: LongText | None = None


class PartyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: str
    org_id: int | None
    name: str
    credit_code: str | None
    entity_type_code: str | None
    region_code: str | None
    country: str
    broker_name: str | None


class DeductionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    description: str | None
    amount: Decimal


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    amount: Decimal
    received_on: dt.date
    note: str | None
    recorded_at: dt.datetime
    reverses_payment_id: int | None = Field(None, description="a reversing entry: the payment it corrects")


class ReversalIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class AuthorisationIn(BaseModel):
    intermediary_org_id: int


class AuthorisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    party_org_id: int
    intermediary_org_id: int
    granted_at: dt.datetime
    revoked_at: dt.datetime | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="registered / amended / cancelled, and payment / payment_reversal")
    version: int | None
    effective_date: dt.date
    recorded_at: dt.datetime
    reason: str | None
    snapshot: dict
    previous: dict | None
    payment: dict | None = None


class ContractOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    contract_type: str
    subtype: str
    project_name: str
    signing_date: dt.date | None
    valid_from: dt.date | None
    valid_until: dt.date | None
    total_amount: Decimal = Field(description="合同成交额")
    technical_transaction_amount: Decimal = Field(description="技术交易额")
    payment_method: str | None
    ip_type: str | None
    technical_field: str | None
    plan_source: str | None
    related_party: bool
    domestic_first: bool
    first_set: bool
    technology_import: bool
    disputed: bool
    achievement_id: int | None
    demand_id: int | None
    call_id: int | None
    filer_org_id: int
    submitted_at: dt.datetime | None
    decision_deadline: dt.date | None
    correction_items: list[dict] | None
    refusal_reason: str | None
    refusal_note: str | None
    registration_number: str | None
    registration_office: str | None
    registration_year: int | None
    registration_date: dt.date | None
    registered_at: dt.datetime | None
    cancelled_on: dt.date | None
    version: int
    reregistration_of_id: int | None = None
    imported: bool = Field(False, description="a historical registration from the audited import")
    achievement_link_confirmed_at: dt.datetime | None = Field(
        None, description="the registrar confirmed the achievement link"
    )
    performed_amount: Decimal = Field(Decimal("0.00"), description="实际履行金额 = Σ payments received")
    parties: list[PartyOut] = Field(default_factory=list)
    deductions: list[DeductionOut] = Field(default_factory=list)


class ContractSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    contract_type: str
    subtype: str
    project_name: str
    total_amount: Decimal
    technical_transaction_amount: Decimal
    filer_org_id: int
    submitted_at: dt.datetime | None
    decision_deadline: dt.date | None
    registration_number: str | None
    registration_date: dt.date | None


class ImportRow(BaseModel):
    """One historical registration (a city's back catalogue): the spreadsheet's columns, one row each."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    registration_number: str = Field(min_length=1, max_length=32, description="登记号 as originally assigned")
    registration_date: dt.date = Field(description="登记日期 as originally registered")
    project_name: str = Field(min_length=1, max_length=300)
    contract_type: str
    subtype: str
    signing_date: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    total_amount: MoneyIn = Field(description="合同成交额")
    technical_transaction_amount: MoneyIn | None = Field(None, description="技术交易额; default = 成交额")
    payment_method: str | None = None
    ip_type: str | None = None
    technical_field: str | None = None
    plan_source: str | None = None
    technology_import: bool = False
    seller_name: str = Field(min_length=1, max_length=200)
    seller_credit_code: str | None = None
    seller_entity_type: str | None = None
    seller_region: str | None = None
    seller_country: str | None = None
    buyer_name: str = Field(min_length=1, max_length=200)
    buyer_credit_code: str | None = None
    buyer_entity_type: str | None = None
    buyer_region: str | None = None
    buyer_country: str | None = None
    intermediary_name: str | None = None
    intermediary_credit_code: str | None = None
    intermediary_entity_type: str | None = None
    intermediary_region: str | None = None
    intermediary_country: str | None = None
    broker_name: str | None = None


class ImportIn(BaseModel):
    rows: list[dict] = Field(min_length=1, max_length=5000, description="ImportRow objects; checked row by row")


class ImportOut(BaseModel):
    imported: int
    contract_ids: list[int]
