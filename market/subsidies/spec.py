"""A subsidy policy's shape and rules, written once: the pydantic model behind the API body, the stored versions and
the calculator's `Policy` (pure: no database).

`PolicyModel` validates a policy as data: its fields, and the rules a computable policy keeps (rates in [0, 1],
increasing bracket edges with an open last band, no negative amounts, a validity that does not end before it
starts, known flags). A rule broken raises `PolicyError` with a stable code; inside a request pydantic carries it
to the one error shape with that code. The API's body (`schemas.PolicySpec`) is this model with its text fields
bounded; the calculator builds its frozen `Policy` from it and checks every `Policy` made in code against it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator


class Beneficiary(StrEnum):
    """Who a policy pays."""

    seller = "seller"  # 卖方 / 技术输出方
    buyer = "buyer"  # 买方 / 技术吸纳方
    intermediary = "intermediary"  # 技术转移服务机构 (中介方)
    broker = "broker"  # 技术经纪人 named on the contract
    service_provider = "service_provider"  # 科技服务机构: the seller of a service contract


class Basis(StrEnum):
    """The amount a policy pays on."""

    total = "total"  # 合同成交额
    technical = "technical"  # 技术交易额
    paid = "paid"  # 实际履行金额 (amount actually paid / performed)


class Aggregation(StrEnum):
    per_contract = "per_contract"  # rates and the contract cap apply to each contract
    per_year = "per_year"  # rates apply to the beneficiary's annual basis (marginal brackets)


FLAGS = ("domestic_first", "first_set", "voucher_eligible")
ZERO = Decimal(0)


class PolicyError(ValueError):
    """A policy that cannot be computed (bad brackets, negative cap…), with a stable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BracketModel(BaseModel):
    rate: Decimal = Field(description="marginal rate, e.g. 0.015 for 1.5 %")
    upto: Decimal | None = Field(None, description="upper edge of the band in yuan; null = no upper edge")


class AwardModel(BaseModel):
    filing_level: str = Field(description="national / provincial / city")
    amount: Decimal
    label: str = ""


class PolicyModel(BaseModel):
    """A subsidy policy (补助政策) as data. A null criterion means "any"."""

    code: str
    name: str
    beneficiary: Beneficiary
    basis: Basis = Field(Basis.total, description="total 合同成交额 / technical 技术交易额 / paid 实际履行金额")
    aggregation: Aggregation = Field(
        Aggregation.per_contract, description="per contract, or on the beneficiary's annual basis"
    )
    brackets: list[BracketModel] = Field(
        default_factory=list, description="flat = one open band; tiered bands are marginal"
    )
    contract_types: list[str] | None = None
    subtypes: list[str] | None = None
    seller_entity_types: list[str] | None = Field(
        None, description="法人性质 codes or classes: enterprise, research, university, institute"
    )
    buyer_entity_types: list[str] | None = None
    seller_regions: list[str] | None = Field(None, description="region-code prefixes, e.g. 3302")
    buyer_regions: list[str] | None = None
    intermediary_regions: list[str] | None = None
    intermediary_filing_levels: list[str] | None = None
    required_flags_any: list[str] | None = Field(
        None, description="domestic_first 国内首创 / first_set 首台套 / voucher_eligible 创新券"
    )
    min_annual_basis: Decimal | None = Field(None, description="minimum annual qualifying amount (门槛)")
    min_evaluated_trl: int | None = Field(
        None,
        ge=1,
        le=9,
        description="the achievement's finished evaluation (科技成果评价) must rate it this TRL or more",
    )
    cap_per_contract: Decimal | None = None
    cap_per_year: Decimal | None = Field(None, description="cap per beneficiary per period")
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    one_off_awards: list[AwardModel] = Field(default_factory=list)
    value_added_only: bool = Field(True, description="同一项目多次转让，仅就增值部分补助")
    jurisdiction: str | None = Field(None, description="region-code prefix whose rules these are")
    source: str = ""
    description: str = ""

    @model_validator(mode="after")
    def _computable(self) -> PolicyModel:
        check_rules(self)
        return self


def check_rules(policy: PolicyModel) -> None:
    """The rules a computable policy keeps; PolicyError with a stable code on the first one broken."""
    if not policy.brackets and not policy.one_off_awards:
        raise PolicyError("policy_no_rates", "a policy needs rates (brackets) or one-off awards")
    last: Decimal | None = ZERO
    for i, b in enumerate(policy.brackets):
        if b.rate < 0 or b.rate > 1:
            raise PolicyError("policy_bad_rate", f"bracket {i + 1}: rate must be between 0 and 1")
        if last is None:
            raise PolicyError("policy_bad_brackets", "only the last bracket may be open-ended")
        if b.upto is not None and b.upto <= last:
            raise PolicyError("policy_bad_brackets", "bracket edges must increase")
        last = b.upto
    if policy.brackets and policy.brackets[-1].upto is not None:
        raise PolicyError("policy_bad_brackets", "the last bracket must be open-ended (upto = null)")
    for name in ("cap_per_contract", "cap_per_year", "min_annual_basis"):
        value = getattr(policy, name)
        if value is not None and value < 0:
            raise PolicyError("policy_negative_amount", f"{name} must not be negative")
    if any(a.amount < 0 for a in policy.one_off_awards):
        raise PolicyError("policy_negative_amount", "one-off award amounts must not be negative")
    if policy.valid_from and policy.valid_until and policy.valid_until < policy.valid_from:
        raise PolicyError("policy_bad_validity", "valid_until is before valid_from")
    if policy.required_flags_any and not set(policy.required_flags_any) <= set(FLAGS):
        raise PolicyError("policy_unknown_flag", f"flags must be among {', '.join(FLAGS)}")
