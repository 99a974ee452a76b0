"""Director / everyone in the bureau: the statistics dashboard, the printable monthly report, exports.

Every figure comes from market/stats services (the rollup of the contract ledger, as the API's /stats endpoints
read it); every table is exportable as CSV or XLSX through market/stats/export (the project's one exporter,
market/core/export.py). Charts are Apache ECharts, served from the project; their options are plain JSON
in the page (no inline script), drawn by static/console.js. Amounts stay Decimal: charts get them as strings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from market.accounts.roles import BUREAU_ROLES
from market.console import auth
from market.console.menu import MenuItem
from market.console.web import ConsoleRoute, render
from market.core.config import get_settings
from market.core.db import utcnow
from market.core.deps import SessionDep
from market.core.errors import NotFound, ValidationFailed
from market.core.regions import region_name
from market.core.workdays import china_date
from market.stats import export, service
from market.stats.service import Table

router = APIRouter(route_class=ConsoleRoute)
MENU = [
    MenuItem("统计看板", "/console/dashboard", frozenset(BUREAU_ROLES), group="统计分析", order=60),
    MenuItem("月度监测报告", "/console/dashboard/report", frozenset(BUREAU_ROLES), group="统计分析", order=61),
]
Bureau = Annotated[auth.ConsoleUser, auth.allow(*BUREAU_ROLES)]
Year = Annotated[int | None, Query(ge=1990, le=2100)]
Month = Annotated[int | None, Query(ge=1, le=12)]
WAN = Decimal("10000")
METRIC_LABELS = {
    "count": "合同数（项）",
    "total_amount": "合同成交额（元）",
    "technical_transaction_amount": "技术交易额（元）",
}
# The dashboard's tables, by the name their export link uses: (heading, builder(session, start, end, region)).
TABLES: dict[str, str] = {
    "by_month": "按月技术交易额（与上年同期比较）",
    "contract_type": "按合同类型",
    "technical_field": "按技术领域",
    "seller_entity_type": "按卖方法人性质（技术输出）",
    "buyer_entity_type": "按买方法人性质（技术吸纳）",
    "seller_region": "按卖方所在地区（技术输出）",
    "buyer_region": "按买方所在地区（技术吸纳）",
    "flows": "技术流入与流出",
    "top_sellers": "卖方前十",
    "top_buyers": "买方前十",
    "progress": "年度目标完成进度",
}


def wan(amount: Any) -> str:
    """Yuan → 万元 as a decimal string (what a chart axis shows); never a float."""
    return str((Decimal(str(amount or 0)) / WAN).quantize(Decimal("0.01")))


def _period(year: int | None) -> tuple[int, dt.date, dt.date]:
    today = china_date(utcnow())
    year = year or today.year
    end = min(dt.date(year, 12, 31), today) if year == today.year else dt.date(year, 12, 31)
    if year > today.year:
        raise ValidationFailed.field("year", "year_in_future", "统计年份不能晚于今年")
    return year, dt.date(year, 1, 1), end


def build_table(session: Session, name: str, start: dt.date, end: dt.date) -> Table:
    region = get_settings().region_code
    if name == "by_month":
        return service.series(session, start, end, "month")
    if name in ("contract_type", "technical_field", "seller_entity_type", "buyer_entity_type"):
        return service.breakdown(session, name, start, end)
    if name in ("seller_region", "buyer_region"):
        return service.breakdown(session, name, start, end, region_level=6, limit=15)
    if name == "flows":
        return service.flows(session, start, end, region)
    if name in ("top_sellers", "top_buyers"):
        return service.top_parties(session, name.removeprefix("top_").removesuffix("s"), start, end, 10)
    if name == "progress":
        return service.progress(session, start.year, region, end)
    raise NotFound(f"no table {name!r}", code="table_not_found")


def _bar(labels: list[str], series: list[tuple[str, list[str]]], *, horizontal: bool = False) -> dict[str, Any]:
    category = {"type": "category", "data": labels, "axisLabel": {"interval": 0, "rotate": 0 if horizontal else 30}}
    value = {"type": "value", "name": "万元"}
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 16, "bottom": 8, "top": 36, "containLabel": True},
        "xAxis": value if horizontal else category,
        "yAxis": {**category, "inverse": True} if horizontal else value,
        "series": [{"name": name, "type": "bar", "data": data} for name, data in series],
    }


def _pie(table: Table) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "item", "formatter": "{b}：{c} 万元（{d}%）"},
        "legend": {"type": "scroll", "bottom": 0},
        "series": [
            {
                "type": "pie",
                "radius": ["35%", "65%"],
                "data": [{"name": r["label"], "value": wan(r["technical_transaction_amount"])} for r in table.rows],
            }
        ],
    }


def charts(tables: dict[str, Table]) -> list[dict[str, Any]]:
    """(id, heading, ECharts option, table name) of each chart, from the tables the page shows."""
    monthly = tables["by_month"]
    months = [r["period"][-2:].lstrip("0") + "月" for r in monthly.rows]
    year = monthly.rows[0]["period"][:4] if monthly.rows else ""
    out = [
        (
            "chart-monthly",
            "按月技术交易额（万元）",
            {
                **_bar(
                    months,
                    [
                        (f"{year} 年", [wan(r["technical_transaction_amount"]) for r in monthly.rows]),
                        ("上年同期", [wan(r["previous_technical_transaction_amount"]) for r in monthly.rows]),
                    ],
                ),
            },
            "by_month",
        ),
        ("chart-type", "按合同类型（技术交易额）", _pie(tables["contract_type"]), "contract_type"),
        ("chart-field", "按技术领域（技术交易额）", _pie(tables["technical_field"]), "technical_field"),
        ("chart-seller-entity", "卖方法人性质", _pie(tables["seller_entity_type"]), "seller_entity_type"),
        ("chart-buyer-entity", "买方法人性质", _pie(tables["buyer_entity_type"]), "buyer_entity_type"),
    ]
    for side, heading in (
        ("seller_region", "技术输出地区（卖方所在地）"),
        ("buyer_region", "技术吸纳地区（买方所在地）"),
    ):
        t = tables[side]
        out.append(
            (
                f"chart-{side.replace('_', '-')}",
                heading,
                _bar(
                    [r["label"] for r in t.rows],
                    [("技术交易额", [wan(r["technical_transaction_amount"]) for r in t.rows])],
                    horizontal=True,
                ),
                side,
            )
        )
    f = tables["flows"]
    out.append(
        (
            "chart-flows",
            f"技术流入与流出（{f.meta.get('region_name', '')}）",
            _bar(
                [r["label"].split(" ")[0] for r in f.rows],
                [("技术交易额", [wan(r["technical_transaction_amount"]) for r in f.rows])],
            ),
            "flows",
        )
    )
    for side, heading in (("top_sellers", "卖方前十"), ("top_buyers", "买方前十")):
        t = tables[side]
        out.append(
            (
                f"chart-{side.replace('_', '-')}",
                f"{heading}（技术交易额）",
                _bar(
                    [r["label"] for r in t.rows],
                    [("技术交易额", [wan(r["technical_transaction_amount"]) for r in t.rows])],
                    horizontal=True,
                ),
                side,
            )
        )
    p = tables["progress"]
    out.append(
        (
            "chart-progress",
            "年度目标完成进度（%）",
            {
                "tooltip": {"trigger": "axis"},
                "grid": {"left": 8, "right": 24, "bottom": 8, "top": 16, "containLabel": True},
                "xAxis": {"type": "value", "max": 100, "name": "%"},
                "yAxis": {"type": "category", "data": [METRIC_LABELS[r["metric"]] for r in p.rows]},
                "series": [{"type": "bar", "name": "完成率", "data": [r["progress_pct"] or "0" for r in p.rows]}],
            },
            "progress",
        )
    )
    return [{"id": cid, "heading": heading, "option": option, "table": table} for cid, heading, option, table in out]


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, user: Bureau, year: Year = None) -> Response:
    year, start, end = _period(year)
    tables = {name: build_table(session, name, start, end) for name in TABLES}
    summary = service.summary(session, start, end).rows[0]
    return render(
        request,
        "console/director/dashboard.html",
        {
            "year": year,
            "start": start,
            "end": end,
            "summary": summary,
            "charts": charts(tables),
            "tables": tables,
            "headings": TABLES,
            "metric_labels": METRIC_LABELS,
            "region": region_name(get_settings().region_code),
        },
    )


@router.get("/dashboard/export/{name}.{fmt}")
def export_table(name: str, fmt: str, session: SessionDep, user: Bureau, year: Year = None) -> Response:
    """Any of the dashboard's tables as CSV or XLSX (the same exporter as the API's ?format=)."""
    if name not in TABLES:
        raise NotFound(f"no table {name!r}", code="table_not_found")
    if fmt not in ("csv", "xlsx"):
        raise ValidationFailed.field("format", "invalid_format", "format: csv or xlsx")
    year, start, end = _period(year)
    table = build_table(session, name, start, end)
    body = export.to_csv(table) if fmt == "csv" else export.to_xlsx(table)
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    filename = f"{name}-{year}.{fmt}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


REPORT_HEADINGS = {
    "summary": "本月合计（与上年同期比较）",
    "year_to_date": "本年累计（与上年同期比较）",
    "by_contract_type": "按合同类型",
    "by_technical_field": "按技术领域",
    "by_seller_entity_type": "按卖方法人性质",
    "by_buyer_entity_type": "按买方法人性质",
    "flows": "本月技术流入与流出",
    "flows_year_to_date": "本年累计技术流入与流出",
    "top_sellers": "本月卖方前十",
    "top_buyers": "本月买方前十",
    "target_progress": "年度目标完成进度",
}
COLUMN_LABELS = {
    **METRIC_LABELS,
    "label": "名称",
    "key": "代码",
    "period": "期间",
    "from": "起",
    "to": "止",
    "previous_count": "上年同期合同数",
    "previous_total_amount": "上年同期成交额（元）",
    "previous_technical_transaction_amount": "上年同期技术交易额（元）",
    "count_growth_pct": "合同数增长（%）",
    "total_amount_growth_pct": "成交额增长（%）",
    "technical_transaction_amount_growth_pct": "技术交易额增长（%）",
    "metric": "指标",
    "target": "目标",
    "achieved": "完成",
    "progress_pct": "完成率（%）",
}


def _report(session: Session, year: int | None, month: int | None) -> dict[str, Any]:
    today = china_date(utcnow())
    if year is None or month is None:
        year, month = service.previous_month(today)
    if (year, month) > (today.year, today.month):
        raise ValidationFailed.field("month", "month_in_future", "报告月份不能晚于本月")
    return service.build_monthly_report(session, year, month)


@router.get("/dashboard/report")
def monthly_report(
    request: Request, session: SessionDep, user: Bureau, year: Year = None, month: Month = None
) -> Response:
    """The 月度监测 report of a month (default: last month), laid out for printing."""
    report = _report(session, year, month)
    return render(
        request,
        "console/director/report.html",
        {"report": report, "headings": REPORT_HEADINGS, "columns": COLUMN_LABELS, "metric_labels": METRIC_LABELS},
    )


@router.get("/dashboard/report.xlsx")
def monthly_report_xlsx(session: SessionDep, user: Bureau, year: Year = None, month: Month = None) -> Response:
    report = _report(session, year, month)
    body = export.to_xlsx_many([service.table_from_json(t) for t in report["tables"]])
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="report-{report["year"]}-{report["month"]:02d}.xlsx"'},
    )
