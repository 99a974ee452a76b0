"""API shapes of technology brokers (技术经纪人). The raw ID number goes in, never out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from market.brokers import rules
from market.core.types import Id, text
from market.core.vocab import TechnicalField

# Bounded text: plain str to a type checker, the bounds and text rules at run time (market.core.types.text).
if TYPE_CHECKING:
    IdNumber18 = str
    Line200 = str
    Line60 = str
    Name100 = str
    Note1000 = str
else:
    IdNumber18 = text(18, min_length=18)
    Line200 = text(200, min_length=1)
    Line60 = text(60, min_length=1)
    Name100 = text(100, min_length=1)
    Note1000 = text(1000)


LevelField = Field(description="credential level: " + "; ".join(f"{k} {v}" for k, v in rules.LEVELS.items()))
Level = Literal["junior_broker", "intermediate_manager", "senior_manager"]


class BrokerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name100
    id_number: IdNumber18 = Field(description="居民身份证号码; stored only masked and as a keyed digest")
    level: Level = LevelField
    field: TechnicalField | None = Field(None, description="技术领域")
    intermediary_org_id: Id | None = Field(None, description="employing intermediary (default: the caller's)")
    start_date: dt.date = Field(description="employed from")
    user_id: Id | None = Field(None, description="the broker's own user account (a user of the intermediary)")


class BrokerEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name100 | None = None
    level: Level | None = None
    field: TechnicalField | None = None
    user_id: Id | None = None


class EmploymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    intermediary_org_id: int
    start_date: dt.date
    end_date: dt.date | None


class TrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course: Line200
    hours: int = Field(ge=1, le=10_000)
    completed_on: dt.date
    certificate_number: Line60 | None = None
    issuer: Line200 | None = None


class TrainingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    course: str
    hours: int
    completed_on: dt.date
    certificate_number: str | None
    issuer: str | None


class BrokerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    id_number_masked: str = Field(description="e.g. 330203********123X")
    level: str
    field: str | None
    status: str
    user_id: int | None
    employments: list[EmploymentOut] = []
    trainings: list[TrainingOut] = []


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["suspend", "reinstate", "remove"]
    note: Note1000 | None = None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intermediary_org_id: Id
    start_date: dt.date = Field(description="first day with the new intermediary; the old one ends the day before")


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker_id: Id
    contract_id: Id


class LinkDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: bool


class LinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    broker_id: int
    contract_id: int
    intermediary_org_id: int
    status: str


class WeightsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deals: Decimal | None = Field(None, ge=0, le=1_000_000, decimal_places=4, description="points per deal")
    total_amount_wan: Decimal | None = Field(
        None, ge=0, le=1_000_000, decimal_places=4, description="points per 万元 成交额"
    )
    technical_amount_wan: Decimal | None = Field(
        None, ge=0, le=1_000_000, decimal_places=4, description="points per 万元 技术交易额 (registered contracts)"
    )
    listings: Decimal | None = Field(
        None, ge=0, le=1_000_000, decimal_places=4, description="points per listing brought in"
    )
    matches: Decimal | None = Field(
        None, ge=0, le=1_000_000, decimal_places=4, description="points per deal on a listing the broker brought in"
    )


class ListingLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker_id: Id
    listing_type: Literal["achievement", "demand"]
    listing_id: Id


class ListingLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    broker_id: int
    listing_type: str
    listing_id: int
    intermediary_org_id: int
    status: str
    decided_on: dt.date | None
