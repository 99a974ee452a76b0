"""API shapes of intermediary filings (技术转移机构备案)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["national", "provincial", "city"]


class ApplicationIn(BaseModel):
    level: Level = Field(description="national 国家级 / provincial 省级 / city 市级")
    claimed_on: dt.date | None = Field(None, description="the filing date the applicant states (checked by the bureau)")
    note: str | None = Field(None, max_length=2000)


class RecordIn(BaseModel):
    filing_number: str = Field(min_length=1, max_length=60, description="备案编号")
    level: Level
    filed_on: dt.date = Field(description="备案日期: in force from")
    valid_until: dt.date | None = Field(None, description="有效期至; null: no end")
    note: str | None = Field(None, max_length=2000)


class RejectIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    revoked_on: dt.date | None = Field(None, description="no longer in force from this day; default today")


class FilingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int
    level: str
    status: str
    migrated_claim: bool
    claimed_on: dt.date | None
    note: str | None
    filing_number: str | None
    filed_on: dt.date | None
    valid_until: dt.date | None
    decided_at: dt.datetime | None
    decision_note: str | None
    revoked_on: dt.date | None
    revocation_reason: str | None
    applied_at: dt.datetime
