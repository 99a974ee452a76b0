"""API shapes of the subsidy domain (money as Decimal yuan; Chinese terms in the descriptions)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from market.core.types import Id, LongText, Text
from market.subsidies.spec import PolicyModel


class PolicySpec(PolicyModel):
    """A subsidy policy (补助政策) as the API takes it: the one policy schema (market/subsidies/spec.py), its text
    bounded. A null criterion means "any"."""

    code: Text = Field(min_length=2, max_length=60, pattern=r"^[a-z0-9][a-z0-9\-_.]*$")
    name: Text = Field(min_length=1, max_length=200)
    contract_types: list[Text] | None = None
    subtypes: list[Text] | None = None
    seller_entity_types: list[Text] | None = Field(
        None, description="法人性质 codes or classes: enterprise, research, university, institute"
    )
    buyer_entity_types: list[Text] | None = None
    seller_regions: list[Text] | None = Field(None, description="region-code prefixes, e.g. 3302")
    buyer_regions: list[Text] | None = None
    intermediary_regions: list[Text] | None = None
    intermediary_filing_levels: list[Text] | None = None
    required_flags_any: list[Text] | None = Field(
        None, description="domestic_first 国内首创 / first_set 首台套 / voucher_eligible 创新券"
    )
    jurisdiction: str | None = Field(
        None,
        pattern=r"^\d{2,6}$",
        description="region-code prefix whose rules these are; "
        "default the deployment's (MARKET_REGION_CODE); only the deployment's own run",
    )
    source: Text = ""
    description: LongText = ""

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PolicyEdit(PolicySpec):
    code: Text | None = None  # type: ignore[assignment]  # taken from the path, so optional in the body


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    current_version: int
    is_preset: bool
    active: bool
    spec: dict[str, Any]


class PolicyVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    spec: dict[str, Any]
    created_by: int | None
    created_at: dt.datetime


class PolicyDetail(PolicyOut):
    versions: list[PolicyVersionOut]


class RunIn(BaseModel):
    period_start: dt.date
    period_end: dt.date
    policy_codes: list[Text] | None = Field(None, description="default: every active policy")
    name: Text | None = Field(None, max_length=200)
    corrects_run_id: Id | None = Field(None, description="the frozen run this run corrects")


class RunPolicyOut(BaseModel):
    code: str
    version: int
    policy_version_id: int


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    period_start: dt.date
    period_end: dt.date
    status: str
    compute_state: str
    progress_done: int
    progress_total: int
    contract_count: int
    total: Decimal = Field(description="what this run pays: the positive differences against frozen runs")
    to_recover: Decimal = Field(
        Decimal(0), description="negative differences against frozen runs: to recover, never netted"
    )
    error: str | None
    corrects_run_id: int | None
    computed_at: dt.datetime | None
    reviewed_at: dt.datetime | None
    approved_at: dt.datetime | None
    frozen_at: dt.datetime | None
    policies: list[RunPolicyOut] = []


class ResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: int
    policy_code: str
    policy_version_id: int
    beneficiary_key: str
    beneficiary_org_id: int | None
    beneficiary_name: str
    basis_total: Decimal
    before_caps: Decimal
    contract_cap_cut: Decimal
    year_cap_cut: Decimal
    awards: Decimal
    year: int | None = None
    due_total: Decimal = Field(
        Decimal(0), description="due for the year over the run's period and the periods frozen runs covered"
    )
    paid_before: Decimal = Field(Decimal(0), description="what frozen runs settled for the year (recoveries included)")
    difference: Decimal = Field(Decimal(0), description="due_total − paid_before")
    to_recover: Decimal = Field(Decimal(0), description="a negative difference: recorded to be recovered")
    total: Decimal = Field(description="what this run pays: the difference when positive")
    contract_count: int
    excluded_count: int


class ResultDetail(ResultOut):
    working: dict[str, Any]


class ExclusionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    policy_version_id: int
    contract_id: int
    beneficiary_key: str | None
    reason: str
    message: str = ""


class ChangeOut(BaseModel):
    policy_code: str
    beneficiary_key: str
    beneficiary_name: str
    before: Decimal
    after: Decimal
    change: Decimal
    paid_before: Decimal | None = None
    due_now: Decimal | None = None
    difference: Decimal | None = None
    to_pay: Decimal | None = None
    to_recover: Decimal | None = None


class DiffOut(BaseModel):
    run_id: int
    against_run_id: int | None
    total_before: Decimal
    total_after: Decimal
    change: Decimal
    to_pay: Decimal = Decimal(0)
    to_recover: Decimal = Decimal(0)
    changes: list[ChangeOut]


class WhatIfIn(BaseModel):
    policy: PolicySpec
    period_start: dt.date
    period_end: dt.date


class WhatIfOut(BaseModel):
    policy_code: str
    period_start: dt.date
    period_end: dt.date
    contracts: int
    total: Decimal
    current_total: Decimal | None = Field(description="the policy's current version over the same period, if it exists")
    change: Decimal
    beneficiaries_paid: int
    changes: list[ChangeOut]
    changes_truncated: bool


class VoucherIn(BaseModel):
    contract_id: Id


class RecognitionIn(BaseModel):
    contract_id: Id
    kind: Text = Field(description="domestic_first 国内首创 / first_set 首台套")
    document_reference: Text = Field(min_length=1, max_length=200, description="the recognising document (文号)")
