"""API shapes of science commissioners (科技特派员)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from market.commissioners import rules
from market.core.types import Id, MoneyIn, text
from market.core.vocab import TechnicalField


class CommissionerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["individual", "legal_entity", "team"] = Field(description="; ".join(f"{k} {v}" for k, v in rules.KINDS.items()))
    name: text(200, min_length=1)
    home_org_id: Id | None = Field(None, description="home institution as a member organisation")
    home_institution: text(200, min_length=1) | None = Field(None, description="派出单位 (default: the home organisation's name)")
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


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host_kind: Literal["firm", "village", "cooperative"]
    host_org_id: Id | None = None
    host_name: text(200, min_length=1) | None = None
    start_date: dt.date
    end_date: dt.date
    goals: text(4000, min_length=1, multiline=True) = Field(description="服务协议 goals")


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
    kind: Literal["demonstration_base", "outstanding_commissioner", "advanced_individual", "star_maker_space",
                  "agri_station", "provincial_match"] = Field(description="seed 004 §3(3) selections")  # fmt: skip
    subject: text(200, min_length=1) | None = None
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
