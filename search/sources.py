"""What search documents are built from: plain data the market hands over (search never reads the database).

`of(obj)` copies the fields from anything that has them as attributes: an ORM object, a Row, another record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Self


@dataclass(frozen=True, kw_only=True, slots=True)
class ListingData:
    id: int
    org_id: int
    title: str
    keywords: list[str]
    technical_field: str
    region_code: str | None
    status: str
    published_at: dt.datetime | None
    version: int

    @classmethod
    def of(cls, obj: Any) -> Self:
        return cls(**{name: getattr(obj, name) for name in _names(cls)})


@dataclass(frozen=True, kw_only=True, slots=True)
class AchievementData(ListingData):
    """科技成果 as its search document reads it."""

    summary: str
    maturity: str | None
    trl: int | None
    ip_type: str | None
    patent_numbers: list[str]
    transfer_modes: list[str]
    asking_price: Decimal | None
    price_negotiable: bool | None
    inventors: list[str]
    recognitions: list[str]


@dataclass(frozen=True, kw_only=True, slots=True)
class DemandData(ListingData):
    """技术需求 as its search document reads it."""

    description: str
    wanted_maturity: str | None
    budget: Decimal | None
    budget_negotiable: bool | None
    cooperation_modes: list[str]
    deadline: dt.date | None


_fields: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    if cls not in _fields:
        _fields[cls] = tuple(f.name for f in fields(cls))
    return _fields[cls]


@dataclass(frozen=True, kw_only=True, slots=True)
class EvaluationData:
    """An achievement's latest finished evaluation (科技成果评价) as its search document reads it."""

    trl: int | None
    innovation_grade: str | None
    advancement_grade: str | None
    agency_org_id: int
    agency_name: str
    completed_at: dt.datetime | None

    @classmethod
    def of(cls, obj: Any) -> Self:
        return cls(**{name: getattr(obj, name) for name in _names(cls)})
