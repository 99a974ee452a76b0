"""Director dashboard: charts and tables from the stats services, exports, the printable monthly report."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from market.accounts.roles import Role
from market.contracts.service import today
from market.core.vocab import OrgKind
from tests.console.conftest import sign_in
from tests.contracts.history import import_row
from tests.contracts.payloads import contract_body
from tests.factories import World


def seed(client: TestClient, world: World) -> int:
    """Registrations this year and last year, through the audited import (the only way to past dates)."""
    seller = world.member(OrgKind.university, region_code="330205", name="宁波大学测试")
    buyer = world.member(OrgKind.enterprise, region_code="330106", name="杭州测试机械有限公司")
    day = today()
    this_year = dt.date(day.year, 1, 15) if day > dt.date(day.year, 1, 15) else day
    last_year = dt.date(day.year - 1, 1, 20)
    rows = []
    for i, when in enumerate((this_year, this_year, last_year)):
        signed = (when - dt.timedelta(days=10)).isoformat()
        body = contract_body(
            seller.org_id,
            buyer.org_id,
            signing_date=signed,
            valid_from=signed,
            valid_until=(when + dt.timedelta(days=400)).isoformat(),
        )
        rows.append(import_row(body, when, number=f"{when.year}330200{i:06d}"))
    admin = world.bureau(Role.bureau_admin)
    r = client.post("/api/v1/contracts/import", json={"rows": rows}, headers=admin.headers)
    assert r.status_code == 201, r.text
    return day.year


def chart_options(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="(chart-[a-z-]+)-data">(.*?)</script>', html, re.S)
    return {cid: json.loads(body) for cid, body in found}


def test_dashboard_draws_every_chart_from_the_stats(client: TestClient, world: World) -> None:
    year = seed(client, world)
    sign_in(client, world.bureau(Role.programme_officer))
    r = client.get("/console/dashboard")
    assert r.status_code == 200, r.text
    assert '<script src="/console/vendor/echarts.min.js"' in r.text
    options = chart_options(r.text)
    expected = {
        "chart-monthly",
        "chart-type",
        "chart-field",
        "chart-seller-entity",
        "chart-buyer-entity",
        "chart-seller-region",
        "chart-buyer-region",
        "chart-flows",
        "chart-top-sellers",
        "chart-top-buyers",
        "chart-progress",
    }
    assert set(options) == expected
    for cid in expected:
        assert f'data-chart="{cid}-data"' in r.text
    monthly = options["chart-monthly"]["series"]
    # January: two contracts of 1,000,000 技术交易额 this year, one last year, in 万元
    assert monthly[0]["data"][0] == "200.00" and monthly[1]["data"][0] == "100.00"
    assert options["chart-type"]["series"][0]["data"] == [{"name": "技术转让", "value": "200.00"}]
    assert "宁波大学测试" in options["chart-top-sellers"]["yAxis"]["data"]
    assert "杭州测试机械有限公司" in options["chart-top-buyers"]["yAxis"]["data"]
    regions = options["chart-buyer-region"]["yAxis"]["data"]
    assert regions == ["西湖区"]  # names, not codes
    assert "2,000,000.00" in r.text and f"{year} 年" in r.text


def test_every_table_exports_as_csv_and_xlsx(client: TestClient, world: World) -> None:
    year = seed(client, world)
    sign_in(client, world.bureau(Role.registrar))
    page = client.get("/console/dashboard").text
    names = set(re.findall(r"/console/dashboard/export/([a-z_]+)\.csv", page))
    assert len(names) == 11
    for name in names:
        csv = client.get(f"/console/dashboard/export/{name}.csv?year={year}")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert csv.content.startswith("\ufeff".encode())
        xlsx = client.get(f"/console/dashboard/export/{name}.xlsx?year={year}")
        assert xlsx.status_code == 200
        load_workbook(io.BytesIO(xlsx.content))
    top = client.get(f"/console/dashboard/export/top_sellers.csv?year={year}").content.decode("utf-8-sig")
    assert "宁波大学测试" in top and "2000000.00" in top
    assert client.get("/console/dashboard/export/nothing.csv").status_code == 404
    assert client.get("/console/dashboard/export/by_month.pdf").status_code == 422


def test_monthly_report_is_printable_and_exportable(client: TestClient, world: World) -> None:
    year = seed(client, world)
    sign_in(client, world.bureau(Role.bureau_admin))
    r = client.get(f"/console/dashboard/report?year={year - 1}&month=1")
    assert r.status_code == 200
    assert "data-print" in r.text and "月度监测报告" in r.text and "宁波大学测试" in r.text
    x = client.get(f"/console/dashboard/report.xlsx?year={year - 1}&month=1")
    assert x.status_code == 200 and len(load_workbook(io.BytesIO(x.content)).sheetnames) == 11
    assert client.get(f"/console/dashboard/report?year={year + 1}&month=1").status_code == 422
    assert client.get("/console/dashboard/report").status_code == 200  # last month by default


@pytest.mark.parametrize("who", ["expert", "firm"])
def test_dashboard_is_for_the_bureau_only(client: TestClient, world: World, who: str) -> None:
    sign_in(client, world.expert() if who == "expert" else world.member())
    for url in ("/console/dashboard", "/console/dashboard/report", "/console/dashboard/export/by_month.csv"):
        assert client.get(url).status_code == 403
    client.cookies.clear()
    assert client.get("/console/dashboard", follow_redirects=False).status_code == 303
