"""HTTP endpoints of the turnover statistics (bureau staff only), as JSON, CSV or XLSX."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.auth.dependencies import BureauActor, require_roles
from market.contracts.rules import region_prefix
from market.core import audit
from market.core.config import get_settings
from market.core.db import utcnow
from market.core.deps import SessionDep
from market.core.errors import NotFound, ValidationFailed
from market.core.regions import region_name
from market.core.types import Id, MoneyIn, text
from market.core.workdays import china_date
from market.stats import export, service, targets
from market.stats.models import MonthlyReport

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])

FORMATS = ("json", "csv", "xlsx")
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# Statistics cover registrations from 1990 to 2100: a date or year outside is a 422, never a date overflow
# when the service steps back a year for the year-on-year comparison.
FIRST_DAY, LAST_DAY = dt.date(1990, 1, 1), dt.date(2100, 12, 31)
StatsDate = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY, description="1990-01-01 … 2100-12-31")]
StatsYear = Annotated[int, Field(ge=1990, le=2100)]


class PeriodParams(BaseModel):
    start: dt.date
    end: dt.date


def period(
    year: Annotated[StatsYear | None, Query(description="registration year")] = None,
    month: Annotated[int | None, Query(description="1-12, within year")] = None,
    quarter: Annotated[int | None, Query(description="1-4, within year")] = None,
    date_from: Annotated[
        StatsDate | None, Query(alias="from", description="registration date from (inclusive)")
    ] = None,
    date_to: Annotated[StatsDate | None, Query(alias="to", description="registration date to (inclusive)")] = None,
) -> PeriodParams:
    """The registration period: from/to, or a year (month / quarter), default this year to date."""
    if date_from or date_to:
        if year is not None or month is not None or quarter is not None:
            raise ValidationFailed("give either from/to or year/month/quarter", code="ambiguous_period")
        today = china_date(utcnow())
        start, end = date_from or dt.date(today.year, 1, 1), date_to or today
    elif year is not None:
        start, end = service.period_bounds(year, month, quarter)
    else:
        if month is not None or quarter is not None:
            raise ValidationFailed.field("year", "year_required", "month and quarter need a year")
        today = china_date(utcnow())
        start, end = dt.date(today.year, 1, 1), today
    if start > end:
        raise ValidationFailed.field("from", "period_out_of_order", "from is after to")
    return PeriodParams(start=start, end=end)


PeriodDep = Annotated[PeriodParams, Depends(period)]
FormatQ = Annotated[str, Query(alias="format", description="json, csv or xlsx")]


def render(table: service.Table, fmt: str) -> Any:
    if fmt not in FORMATS:
        raise ValidationFailed.field("format", "invalid_format", "format: json, csv or xlsx")
    if fmt == "json":
        return service.jsonable_table(table)
    body = export.to_csv(table) if fmt == "csv" else export.to_xlsx(table)
    return Response(
        body, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{table.title}.{fmt}"'}
    )


@router.get("/summary")
def summary(session: SessionDep, actor: BureauActor, p: PeriodDep, fmt: FormatQ = "json") -> Any:
    """Count, 成交额 and 技术交易额 of the period, beside the same period last year."""
    return render(service.summary(session, p.start, p.end), fmt)


@router.get("/year-to-date")
def year_to_date(session: SessionDep, actor: BureauActor, as_of: StatsDate | None = None, fmt: FormatQ = "json") -> Any:
    """Year to date (累计), with year-on-year growth."""
    return render(service.year_to_date(session, as_of or china_date(utcnow())), fmt)


@router.get("/series")
def series(
    session: SessionDep,
    actor: BureauActor,
    p: PeriodDep,
    granularity: Annotated[str, Query(description="month, quarter or year")] = "month",
    fmt: FormatQ = "json",
) -> Any:
    """Figures per registration month / quarter / year, each with year-on-year growth."""
    return render(service.series(session, p.start, p.end, granularity), fmt)


@router.get("/breakdown/{dimension}")
def breakdown(
    dimension: str,
    session: SessionDep,
    actor: BureauActor,
    p: PeriodDep,
    region_level: Annotated[int, Query(description="2 province, 4 city, 6 county (region dimensions)")] = 6,
    within: Annotated[str | None, Query(description="only regions under this prefix (region dimensions)")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    order_by: str = "total_amount",
    fmt: FormatQ = "json",
) -> Any:
    """By contract_type, subtype, technical_field, ip_type, seller_entity_type (输出), buyer_entity_type (吸纳),
    plan_source (计划来源), payment_method (支付方式),
    seller_region (输出), buyer_region (吸纳), intermediary, seller, buyer."""
    table = service.breakdown(
        session, dimension, p.start, p.end, region_level=region_level, within=within, limit=limit, order_by=order_by
    )
    return render(table, fmt)


@router.get("/top/{side}")
def top(
    side: str,
    session: SessionDep,
    actor: BureauActor,
    p: PeriodDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    order_by: str = "total_amount",
    fmt: FormatQ = "json",
) -> Any:
    """Top sellers or buyers of the period."""
    return render(service.top_parties(session, side, p.start, p.end, limit, order_by), fmt)


@router.get("/flows")
def flows(
    session: SessionDep,
    actor: BureauActor,
    p: PeriodDep,
    region: Annotated[str | None, Query(description="region code or prefix; default the deployment's (3302)")] = None,
    fmt: FormatQ = "json",
) -> Any:
    """Output, absorption, local↔local, inflow and outflow for a region."""
    return render(service.flows(session, p.start, p.end, region), fmt)


class TargetIn(BaseModel):
    region: str | None = Field(None, description="region prefix; default the deployment's")
    contract_count: int | None = Field(None, ge=0)
    total_amount: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2, description="成交额 target")
    technical_transaction_amount: Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2)


@router.put("/targets/{year}")
def set_target(
    year: StatsYear, data: TargetIn, session: SessionDep, actor: Annotated[Actor, require_roles(Role.bureau_admin)]
) -> dict[str, Any]:
    """Set the year's target (bureau admin)."""
    t = service.set_target(
        session,
        actor.user_id,
        year,
        data.region,
        contract_count=data.contract_count,
        total_amount=data.total_amount,
        technical_transaction_amount=data.technical_transaction_amount,
    )
    return {
        "year": t.year,
        "region": t.region_prefix,
        "region_name": region_name(t.region_prefix),
        "contract_count": t.contract_count,
        "total_amount": t.total_amount,
        "technical_transaction_amount": t.technical_transaction_amount,
    }


@router.get("/targets/{year}/progress")
def target_progress(
    year: StatsYear,
    session: SessionDep,
    actor: BureauActor,
    region: str | None = None,
    as_of: StatsDate | None = None,
    fmt: FormatQ = "json",
) -> Any:
    """Progress against the year's target (basis: 技术输出, sellers in the region)."""
    return render(service.progress(session, year, region, as_of), fmt)


@router.get("/reports")
def list_reports(session: SessionDep, actor: BureauActor) -> list[dict[str, Any]]:
    """Stored monthly reports (月度监测)."""
    rows = session.scalars(sa.select(MonthlyReport).order_by(MonthlyReport.year.desc(), MonthlyReport.month.desc()))
    return [
        {
            "id": r.id,
            "year": r.year,
            "month": r.month,
            "region": r.region_prefix,
            "region_name": region_name(r.region_prefix),
            "generated_at": r.generated_at,
        }
        for r in rows
    ]


@router.post("/reports/{year}/{month}", status_code=201)
def produce_report(
    year: StatsYear,
    month: Annotated[int, Path(ge=1, le=12)],
    session: SessionDep,
    actor: BureauActor,
    region: Annotated[str | None, Query(pattern=r"^\d{2,6}$")] = None,
    replace: Annotated[bool, Query(description="re-produce a report that exists")] = False,
) -> dict[str, Any]:
    """Produce (or re-produce) any month's report now, e.g. to back-fill (bureau staff)."""
    report = service.produce_monthly_report(session, year, month, region, replace=replace)
    audit.record(
        session,
        entity_type="stats_monthly_report",
        entity_id=report.id,
        action="produce",
        actor=actor,
        detail={"year": year, "month": month, "region": report.region_prefix, "replace": replace},
    )
    return {
        "id": report.id,
        "year": report.year,
        "month": report.month,
        "region": report.region_prefix,
        "region_name": region_name(report.region_prefix),
        "generated_at": report.generated_at,
    }


@router.get("/reports/{year}/{month}")
def get_report(
    year: StatsYear,
    month: Annotated[int, Field(ge=1, le=12)],
    session: SessionDep,
    actor: BureauActor,
    region: str | None = None,
    fmt: FormatQ = "json",
) -> Any:
    """One monthly report as issued; xlsx gives one sheet per table."""
    prefix = region_prefix(region or get_settings().region_code)
    report = session.scalar(
        sa.select(MonthlyReport).where(
            MonthlyReport.year == year, MonthlyReport.month == month, MonthlyReport.region_prefix == prefix
        )
    )
    if report is None:
        raise NotFound("no report for that month yet", code="report_not_found")
    if fmt == "xlsx":
        body = export.to_xlsx_many([service.table_from_json(t) for t in report.content["tables"]])
        return Response(
            body,
            media_type=MEDIA["xlsx"],
            headers={"Content-Disposition": f'attachment; filename="report-{year}-{month:02d}.xlsx"'},
        )
    if fmt != "json":
        raise ValidationFailed.field("format", "invalid_format", "a report is json or xlsx")
    return {
        "year": report.year,
        "month": report.month,
        "region": report.region_prefix,
        "region_name": region_name(report.region_prefix),
        "generated_at": report.generated_at,
        "content": report.content,
    }


class PeriodTargetIn(BaseModel):
    name: text(200, min_length=1)  # type: ignore[valid-type]
    kind: Literal["cumulative", "ratio"] = Field(description="cumulative over the years, or a ratio each year")
    metric: Literal["count", "total_amount", "technical_transaction_amount"] = "total_amount"
    region: Annotated[str | None, Field(pattern=r"^\d{2,6}$", description="default the deployment's")] = None
    first_year: StatsYear
    last_year: StatsYear
    target_amount: MoneyIn | None = Field(None, description="cumulative: the amount (or count) to reach")
    target_pct: Annotated[Decimal | None, Field(ge=0, le=100, decimal_places=2)] = Field(
        None, description="ratio: the per cent to reach, e.g. 0.80"
    )
    denominator: Annotated[str | None, Field(pattern=r"^[a-z_]{1,30}$")] = Field(None, description="ratio: e.g. gdp")


@router.post("/period-targets", status_code=201)
def create_period_target(
    data: PeriodTargetIn, session: SessionDep, actor: Annotated[Actor, require_roles(Role.bureau_admin)]
) -> dict[str, Any]:
    """A multi-year target: cumulative (8亿 2023–2026) or a yearly ratio against a denominator (成交额/GDP ≥ 0.8 %)."""
    t = targets.create(session, actor, data.model_dump())
    return {
        "id": t.id,
        "name": t.name,
        "kind": t.kind,
        "region": t.region_prefix,
        "region_name": region_name(t.region_prefix),
    }


@router.get("/period-targets/{target_id}/progress")
def period_target_progress(
    target_id: Id, session: SessionDep, actor: BureauActor, as_of: StatsDate | None = None
) -> dict[str, Any]:
    """Progress of a multi-year target with the working, year by year."""
    return targets.progress(session, target_id, as_of)


class DenominatorIn(BaseModel):
    amount: MoneyIn


@router.put("/denominators/{name}/{region}/{year}")
def set_denominator(
    name: Annotated[str, Path(pattern=r"^[a-z_]{1,30}$", description="e.g. gdp")],
    region: Annotated[str, Path(pattern=r"^\d{2,6}$")],
    year: StatsYear,
    data: DenominatorIn,
    session: SessionDep,
    actor: Annotated[Actor, require_roles(Role.bureau_admin)],
) -> dict[str, Any]:
    """Enter a denominator for ratio targets: a region's GDP of a year, in yuan (bureau admin)."""
    d = targets.set_denominator(session, actor, name, region, year, data.amount)
    return {
        "name": d.name,
        "region": d.region_prefix,
        "region_name": region_name(d.region_prefix),
        "year": d.year,
        "amount": d.amount,
    }
