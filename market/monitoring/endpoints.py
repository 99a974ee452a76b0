"""HTTP endpoints of the regional monitoring index (bureau staff): indicator sets, values, scores and ranks."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.auth.dependencies import BureauActor, require_roles
from market.core import export
from market.core.deps import SessionDep
from market.core.errors import ValidationFailed
from market.core.types import text
from market.monitoring import monthly, service
from market.monitoring.models import IndicatorSet

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])

SetCode = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$", description="indicator set code")]
Period = Annotated[str, Path(pattern=r"^\d{4}(-\d{2})?$", description="2025 or 2025-06")]
RegionCode = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 district / county code")]
# A value: a number (bands, assessed points) or {item: count} (per-item rules).
Value = Decimal | dict[Annotated[str, Field(max_length=60)], int] | None


def set_out(row: IndicatorSet, full: bool = False) -> dict[str, Any]:
    out = {
        "code": row.code,
        "version": row.version,
        "name": row.name,
        "is_preset": row.is_preset,
        "created_at": row.created_at,
    }
    return {**out, "definition": row.definition} if full else out


@router.get("/sets")
def list_sets(session: SessionDep, actor: BureauActor) -> list[dict[str, Any]]:
    """Every version of every indicator set (the shipped 篇四 preset included)."""
    return [set_out(r) for r in service.list_sets(session)]


@router.get("/sets/{code}")
def get_set(
    code: SetCode, session: SessionDep, actor: BureauActor, version: Annotated[int | None, Query(ge=1, le=10**6)] = None
) -> dict[str, Any]:
    """One version of a set (default the latest) with its dimensions, indicators and scoring rules."""
    return set_out(service.get_set(session, code, version), full=True)


class SetVersionIn(BaseModel):
    name: text(200, min_length=1)  # type: ignore[valid-type]
    definition: dict[str, Any] = Field(description="dimensions with weights and indicators (see README)")


@router.post("/sets/{code}/versions", status_code=201)
def new_version(
    code: SetCode,
    data: SetVersionIn,
    session: SessionDep,
    actor: Annotated[Actor, require_roles(Role.bureau_admin)],
) -> dict[str, Any]:
    """A new version of a set (bureau admin); earlier versions and their scores stay as they were."""
    return set_out(service.new_version(session, actor, code, data.name, data.definition), full=True)


class ValuesIn(BaseModel):
    values: dict[Annotated[str, Field(max_length=60)], Value] = Field(
        description="indicator code → number, {item: count} or null to remove", max_length=200
    )


@router.put("/sets/{code}/values/{region_code}/{period}")
def put_values(
    code: SetCode, region_code: RegionCode, period: Period, data: ValuesIn, session: SessionDep, actor: BureauActor
) -> dict[str, Any]:
    """Enter a region's indicator values for a period (bureau staff)."""
    rows = service.put_values(session, actor, code, region_code, period, data.values)
    return {
        "set": code,
        "region_code": region_code,
        "period": period,
        "values": {r.indicator_code: r.value["value"] for r in rows},
    }


@router.get("/sets/{code}/scores/{period}")
def scores(
    code: SetCode,
    period: Period,
    session: SessionDep,
    actor: BureauActor,
    version: Annotated[int | None, Query(ge=1, le=10**6)] = None,
    within: Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="region prefix, e.g. 3302")] = None,
    fmt: Annotated[str, Query(alias="format", description="json, csv or xlsx")] = "json",
) -> Any:
    """Scores and ranks per region with the working of every indicator, and the change on a year earlier."""
    result = service.scores(session, code, period, version=version, within=within)
    if fmt == "json":
        return result
    header, rows = service.flat_rows(result)
    if fmt == "csv":
        return Response(export.to_csv(header, rows), media_type="text/csv; charset=utf-8")
    if fmt == "xlsx":
        return Response(
            export.to_xlsx([export.Sheet(f"scores {period}", header, rows)]),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    raise ValidationFailed.field("format", "invalid_format", "format: json, csv or xlsx")


class ImportIn(BaseModel):
    filename: text(200, min_length=1)  # type: ignore[valid-type]
    content_base64: str = Field(max_length=14_000_000, description="the .csv or .xlsx file, base64-encoded")


@router.post("/sets/{code}/values/import")
def import_values(code: SetCode, data: ImportIn, session: SessionDep, actor: BureauActor) -> dict[str, Any]:
    """Import values from a spreadsheet (columns region_code, period, indicator_code, value; per-item values as
    "item=count; item=count"). All rows or none: a 422 lists every bad row."""
    try:
        content = base64.b64decode(data.content_base64, validate=True)
    except ValueError:
        raise ValidationFailed.field("content_base64", "invalid_base64", "content_base64 is not base64") from None
    return service.import_values(session, actor, code, data.filename, content)


@router.get("/sets/{code}/values/{region_code}/{period}")
def region_values(
    code: SetCode, region_code: RegionCode, period: Period, session: SessionDep, actor: BureauActor
) -> dict[str, Any]:
    """A region's values for a period with their source (entered / imported / market), the market's working
    and any market figure waiting beside an entered value."""
    return service.region_values(session, code, region_code, period)


@router.post("/sets/{code}/values/{region_code}/{period}/compute")
def compute_values(
    code: SetCode, region_code: RegionCode, period: Period, session: SessionDep, actor: BureauActor
) -> dict[str, Any]:
    """(Re)compute the indicators the market computes from its own records (bureau staff). A value a
    department entered is never overwritten: the market's figure is held beside it for the bureau to choose."""
    return service.compute_values(session, actor, code, region_code, period)


class ChoiceIn(BaseModel):
    use: Literal["market", "entered"] = Field(description="take the market's figure, or keep the entered value")


@router.post("/sets/{code}/values/{region_code}/{period}/{indicator_code}/choice")
def choose(
    code: SetCode,
    region_code: RegionCode,
    period: Period,
    indicator_code: Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$")],
    data: ChoiceIn,
    session: SessionDep,
    actor: BureauActor,
) -> dict[str, Any]:
    """Choose between an entered value and the market's figure held beside it (bureau staff; audited)."""
    row = service.choose(session, actor, code, region_code, period, indicator_code, data.use)
    return service.value_out(row)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/monthly/{year}/{month}")
def monthly_view(
    year: Annotated[int, Path(ge=1991, le=2100)],
    month: Annotated[int, Path(ge=1, le=12)],
    session: SessionDep,
    actor: BureauActor,
    region: Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="default the deployment's")] = None,
    fmt: Annotated[str, Query(alias="format", description="json, csv or xlsx")] = "json",
) -> Any:
    """月度监测 (seed 001): per region, the month's market-computed figures against the same month last year,
    year to date, and the targets with their working (bureau staff)."""
    if fmt not in ("json", "csv", "xlsx"):
        raise ValidationFailed.field("format", "invalid_format", "format: json, csv or xlsx")
    result = monthly.view(session, year, month, region)
    if fmt == "json":
        return result
    header, rows, target_header, target_rows = monthly.flat(result)
    name = f"monitoring-{year}-{month:02d}"
    if fmt == "csv":
        body, media = export.to_csv(header, rows), "text/csv; charset=utf-8"
    else:
        sheets = [
            export.Sheet(f"月度监测 {year}-{month:02d}", header, rows),
            export.Sheet("目标", target_header, target_rows),
        ]
        body, media = export.to_xlsx(sheets), XLSX
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
