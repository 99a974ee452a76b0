"""Request and response shapes for achievements and demands; 面议 (negotiable) is a first-class price."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from market.core.identifiers import IdentifierError, check_patent_number, check_region_code
from market.core.types import LongText, Text, patch_model, text
from market.core.vocab import IPType, Maturity, TechnicalField, TransferMode

NEGOTIABLE = "面议"
NEGOTIABLE_ALIASES = {"面议", "negotiable"}


def _parse_price(value: Any) -> Decimal | str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in NEGOTIABLE_ALIASES:
        return NEGOTIABLE
    if isinstance(value, float):
        raise IdentifierError("invalid_amount", 'send money as a decimal string like "150000.00", not a float')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise IdentifierError("invalid_amount", f"'{value}' is neither an amount in yuan nor 面议") from None
    exponent = amount.as_tuple().exponent  # an int for every finite amount ('n', 'N', 'F': NaN, sNaN, infinity)
    if not isinstance(exponent, int) or amount < 0 or exponent < -2 or amount > Decimal("1e13"):
        raise IdentifierError("invalid_amount", "amount must be non-negative yuan with at most 2 decimals")
    return amount.quantize(Decimal("0.01"))


# A price or budget: a decimal amount in yuan, or "面议" (negotiable). Serialised as a string.
PriceOrNegotiable = Annotated[
    Decimal | str | None,
    BeforeValidator(_parse_price),
    PlainSerializer(lambda v: None if v is None else str(v), return_type=str | None),
    Field(description='yuan as a decimal string, e.g. "500000.00", or "面议" (negotiable)'),
]


def _check_patents(values: list[str]) -> list[str]:
    return [check_patent_number(v).number for v in values]


def _check_region(value: str) -> str:
    return check_region_code(value)


class _ListingBase(BaseModel):
    title: Text = Field(min_length=4, max_length=200)
    technical_field: TechnicalField = Field(description="技术领域")
    keywords: list[text(40, min_length=1)] = Field(default_factory=list, max_length=20)  # type: ignore[valid-type]  # text() builds its Annotated type at run time
    region_code: str = Field(description="行政区划代码 (GB/T 2260)")

    _region = field_validator("region_code")(lambda cls, v: _check_region(v))


class AchievementIn(_ListingBase):
    """科技成果."""

    summary: LongText = Field(min_length=10, max_length=20000)
    maturity: Maturity = Field(description="成熟度: 实验室 / 小试 / 中试 / 小批量 / 产业化")
    trl: int | None = Field(None, ge=1, le=9, description="technology readiness level 1-9")
    ip_type: IPType = Field(description="知识产权类型")
    patent_numbers: list[str] = Field(default_factory=list, description="CNIPA numbers, e.g. ZL201710601862.3")
    transfer_modes: list[TransferMode] = Field(min_length=1, description="转化方式")
    asking_price: PriceOrNegotiable
    inventors: list[text(100)] = Field(default_factory=list, max_length=100)  # type: ignore[valid-type]  # as keywords
    recognitions: list[Literal["domestic_first", "first_set"]] = Field(
        default_factory=list, description="国内首创 / 首台套"
    )

    _patents = field_validator("patent_numbers")(lambda cls, v: _check_patents(v))

    @field_validator("asking_price")
    @classmethod
    def _price_required(cls, v: Any) -> Any:
        if v is None:
            raise IdentifierError("price_required", "asking_price is required: an amount in yuan or 面议")
        return v


class DemandIn(_ListingBase):
    """技术需求."""

    description: LongText = Field(min_length=10, max_length=20000)
    wanted_maturity: Maturity | None = None
    budget: PriceOrNegotiable
    cooperation_modes: list[TransferMode] = Field(min_length=1, description="合作方式")
    deadline: dt.date | None = None

    @field_validator("budget")
    @classmethod
    def _budget_required(cls, v: Any) -> Any:
        if v is None:
            raise IdentifierError("budget_required", "budget is required: an amount in yuan or 面议")
        return v


AchievementPatch = patch_model(AchievementIn, "AchievementPatch")
DemandPatch = patch_model(DemandIn, "DemandPatch")


class _ListingOutBase(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    title: str
    technical_field: str
    keywords: list[str]
    region_code: str
    status: str
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class EvaluationBlock(BaseModel):
    """The achievement's latest finished evaluation (科技成果评价): grades, agency, date."""

    evaluation_id: int
    trl: int | None
    trl_label: str | None
    innovation_grade: str | None
    innovation_grade_label: str | None
    advancement_grade: str | None
    advancement_grade_label: str | None
    agency_org_id: int
    agency_name: str
    completed_at: dt.datetime | None


class AchievementOut(_ListingOutBase):
    summary: str
    maturity: str
    trl: int | None
    ip_type: str
    patent_numbers: list[str]
    transfer_modes: list[str]
    asking_price: PriceOrNegotiable = Field(validation_alias="price_value")
    inventors: list[str]
    recognitions: list[str]
    evaluation: EvaluationBlock | None = Field(None, description="latest finished evaluation; null when none")


class DemandOut(_ListingOutBase):
    description: str
    wanted_maturity: str | None
    budget: PriceOrNegotiable = Field(validation_alias="budget_value")
    cooperation_modes: list[str]
    deadline: dt.date | None


class TransitionIn(BaseModel):
    action: Literal["publish", "mark_matched", "mark_negotiating", "close", "withdraw", "reopen"]
    note: LongText | None = Field(None, max_length=1000)


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    from_state: str | None
    to_state: str | None
    actor_user_id: int | None
    actor_org_id: int | None
    at: dt.datetime
    detail: dict | None
