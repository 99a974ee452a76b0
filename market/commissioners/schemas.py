"""API shapes of science commissioners (科技特派员)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from market.commissioners import rules
from market.core.types import Id, MoneyIn, text
from market.core.vocab import TechnicalField

# Bounded text: plain str to a type checker, the bounds and text rules at run time (market.core.types.text).
if TYPE_CHECKING:
    Body4000 = str
    Line200 = str
    Line300 = str
    Reason1000 = str
else:
    Body4000 = text(4000, min_length=1, multiline=True)
    Line200 = text(200, min_length=1)
    Line300 = text(300, min_length=1)
    Reason1000 = text(1000, min_length=1)


class CommissionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["individual", "legal_entity", "team"] = Field(
        description="; ".join(f"{k} {v}" for k, v in rules.KINDS.items())
    )
    name: Line200
    home_org_id: Id | None = Field(None, description="home institution as a member organisation")
    home_institution: Line200 | None = Field(None, description="派出单位 (default: the home organisation's name)")
    level: Literal["provincial", "city", "county"] = Field(description="省派 / 市派 / 县派")
    field: TechnicalField | None = None
    user_id: Id | None = None


class CommissionerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    name: str
    home_org_id: int | None
    home_institution: str
    level: str
    field: str | None
    status: str


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["suspend", "reinstate"]
    reason: Reason1000 = Field(description="why: kept in the audit log and told to the home organisation")


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host_kind: Literal["firm", "village", "cooperative"]
    host_org_id: Id | None = None
    host_name: Line200 | None = None
    start_date: dt.date
    end_date: dt.date
    goals: Body4000 = Field(description="服务协议 goals")


class DispatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    commissioner_id: int
    host_kind: str
    host_org_id: int | None
    host_name: str
    start_date: dt.date
    end_date: dt.date
    goals: str


class AwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    commissioner_id: Id
    kind: Literal[
        "demonstration_base",
        "outstanding_commissioner",
        "advanced_individual",
        "star_maker_space",
        "agri_station",
        "provincial_match",
    ] = Field(description="seed 004 §3(3) selections")
    subject: Line200 | None = None
    provincial_amount: MoneyIn | None = Field(None, description="省级财政后补助/支持额 (1:1 match only)")


class AwardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    year: int
    commissioner_id: int
    kind: str
    subject: str | None
    provincial_amount: Decimal | None
    amount: Decimal
    working: dict[str, Any]
    status: str


class StationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["workstation", "agri_station", "star_maker_space"] = Field(description="工作站 / 农科驿站 / 星创天地")
    name: Line200
    host_org_id: Id | None = None
    host_name: Line200 | None = None
    filing_level: Literal["national", "provincial", "city"] | None = None
    commissioner_ids: list[Id] = Field(default_factory=list, max_length=200)


class StationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    name: str
    host_org_id: int | None
    host_name: str
    filing_level: str | None
    commissioner_ids: list[int]


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host_org_id: Id
    title: Line300
    goals: Body4000
    start_date: dt.date
    contract_id: Id | None = None


class ProjectEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: Body4000 | None = None
    contract_id: Id | None = None
    status: Literal["ongoing", "completed"] | None = None


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    commissioner_id: int
    host_org_id: int
    title: str
    goals: str
    outcomes: str | None
    contract_id: int | None
    start_date: dt.date
    status: str


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["visit", "training", "technology_introduced"] = Field(description="走访 / 培训 / 引进技术")
    on: dt.date
    host_name: Line200
    description: Body4000
    attendees: int = Field(0, ge=0, le=100_000)


class LogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    commissioner_id: int
    kind: str
    on: dt.date
    host_name: str
    description: str
    attendees: int
