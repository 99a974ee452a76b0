"""Statistics through the API: access per role, formats, targets, the monthly report task."""

import csv
import datetime as dt
import io

from openpyxl import load_workbook

from market.accounts.roles import Role
from market.contracts.service import today
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body
from workers.contracts import monthly_report

API = "/api/v1"


def registered_world(client, world):
    seller = world.member(OrgKind.university, region_code="330205")
    local_buyer = world.member(OrgKind.enterprise, region_code="330212")
    far_buyer = world.member(OrgKind.enterprise, region_code="310104")
    registrar = world.bureau(Role.registrar)
    for buyer in (local_buyer, far_buyer):
        cid = client.post(
            f"{API}/contracts", json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers
        ).json()["id"]
        assert client.post(f"{API}/contracts/{cid}/register", headers=registrar.headers).status_code == 200
    return seller, registrar


def test_access_per_role(client, world):
    seller, registrar = registered_world(client, world)
    officer = world.bureau(Role.programme_officer)
    admin = world.bureau(Role.bureau_admin)
    url = f"{API}/stats/summary"
    assert client.get(url).status_code == 401
    r = client.get(url, headers=seller.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    for member in (registrar, officer, admin):
        r = client.get(url, headers=member.headers)
        assert r.status_code == 200 and r.json()["rows"][0]["count"] == 2
    assert r.json()["rows"][0]["total_amount"] == "2400000.00"
    body = {"total_amount": "800000000.00", "contract_count": 10}
    assert client.put(f"{API}/stats/targets/{today().year}", json=body, headers=registrar.headers).status_code == 403
    assert client.put(f"{API}/stats/targets/{today().year}", json=body, headers=admin.headers).status_code == 200
    r = client.get(f"{API}/stats/targets/{today().year}/progress", headers=officer.headers)
    rows = {row["metric"]: row for row in r.json()["rows"]}
    assert rows["count"]["achieved"] == 2 and rows["count"]["progress_pct"] == "20.00"
    assert rows["total_amount"]["achieved"] == "2400000.00" and rows["total_amount"]["progress_pct"] == "0.30"


def test_breakdowns_flows_and_exports(client, world):
    _, registrar = registered_world(client, world)
    h = registrar.headers
    r = client.get(f"{API}/stats/breakdown/buyer_region", params={"region_level": 4}, headers=h)
    assert {row["key"]: row["count"] for row in r.json()["rows"]} == {"3302": 1, "3101": 1}
    r = client.get(f"{API}/stats/flows", params={"region": "3302"}, headers=h)
    flows = {row["key"]: row["count"] for row in r.json()["rows"]}
    assert flows == {"output": 2, "absorption": 1, "local_local": 1, "inflow": 0, "outflow": 1}
    r = client.get(f"{API}/stats/breakdown/colour", headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_dimension"
    r = client.get(f"{API}/stats/summary", params={"year": 2026, "from": "2026-01-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "ambiguous_period"

    r = client.get(f"{API}/stats/breakdown/contract_type", params={"format": "csv"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[1][:5] == ["transfer", "技术转让", "2", "2400000.00", "2000000.00"]
    r = client.get(f"{API}/stats/top/seller", params={"format": "xlsx"}, headers=h)
    sheet = load_workbook(io.BytesIO(r.content)).active
    values = list(sheet.values)
    assert values[1][2] == 2 and float(values[1][3]) == 2400000.0
    r = client.get(f"{API}/stats/series", params={"granularity": "quarter", "year": today().year}, headers=h)
    assert [row["period"] for row in r.json()["rows"]] == [f"{today().year}Q{q}" for q in range(1, 5)]
    assert sum(row["count"] for row in r.json()["rows"]) == 2


def test_monthly_report_task(client, world):
    _, registrar = registered_world(client, world)
    year, month = today().year, today().month
    report_id = monthly_report(year, month)
    assert monthly_report(year, month) == report_id  # produced once
    r = client.get(f"{API}/stats/reports/{year}/{month}", headers=registrar.headers)
    assert r.status_code == 200
    tables = {t["title"]: t for t in r.json()["content"]["tables"]}
    assert tables["summary"]["rows"][0]["count"] == 2
    assert {row["key"]: row["count"] for row in tables["flows"]["rows"]}["outflow"] == 1
    r = client.get(f"{API}/stats/reports/{year}/{month}", params={"format": "xlsx"}, headers=registrar.headers)
    assert "top_sellers" in load_workbook(io.BytesIO(r.content)).sheetnames
    assert client.get(f"{API}/stats/reports", headers=registrar.headers).json()[0]["id"] == report_id
    r = client.get(f"{API}/stats/reports/1999/1", headers=registrar.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "report_not_found"
    # the default run reports on the month just ended
    prev = today().replace(day=1) - dt.timedelta(days=1)
    monthly_report()
    assert client.get(f"{API}/stats/reports/{prev.year}/{prev.month}", headers=registrar.headers).status_code == 200
