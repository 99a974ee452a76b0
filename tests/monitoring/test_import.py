"""Importing monitoring values from a spreadsheet: all rows or none, every bad row reported."""

import base64
import io

from openpyxl import Workbook

from market.accounts.roles import Role
from market.core.vocab import OrgKind

API = "/api/v1/monitoring/sets/seed000-pian4"


def upload(name, content):
    return {"filename": name, "content_base64": base64.b64encode(content).decode()}


def test_csv_row_errors_then_xlsx_import(client, world):
    officer = world.bureau(Role.programme_officer)
    h = officer.headers
    sheet = (
        "region_code,period,indicator_code,value\n"
        "330212,2025,fiscal_expenditure,7500\n"
        "990000,2025,fiscal_expenditure,1\n"  # row 3: no such province
        "330212,2025-13,fiscal_st_share,1\n"  # row 4: month 13
        "330212,2025,no_such,1\n"  # row 5
        "330212,2025,platforms,national_key_lab=1; moon_base=2\n"  # row 6: unknown item
        "330212,2025,fiscal_expenditure,8000\n"
    )  # row 7: twice
    r = client.post(f"{API}/values/import", json=upload("v.csv", sheet.encode()), headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "import_rows_invalid"
    got = [(d["row"], d["field"], d["code"]) for d in r.json()["error"]["details"]]
    assert got == [
        (3, "region_code", "invalid_region_code"),
        (4, "period", "invalid_period"),
        (5, "indicator_code", "unknown_indicator"),
        (6, "value", "invalid_indicator_value"),
        (7, "indicator_code", "duplicate_row"),
    ]
    assert client.get(f"{API}/scores/2025", headers=h).json()["regions"] == []  # nothing imported

    wb = Workbook()
    ws = wb.active
    ws.append(["region_code", "period", "indicator_code", "value"])
    ws.append(["330212", 2025, "fiscal_expenditure", 7500])  # 4.5
    ws.append(["330212", 2025, "platforms", "national_key_lab=1; provincial_key_lab=2"])  # 2 + 2 = 4
    ws.append(["330205", "2025", "fiscal_st_share", 2])  # 8
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post(f"{API}/values/import", json=upload("v.xlsx", buf.getvalue()), headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"imported": 3, "regions": 2}
    scores = {x["region_code"]: x["total"] for x in client.get(f"{API}/scores/2025", headers=h).json()["regions"]}
    assert scores == {"330212": "8.50", "330205": "8.00"}

    r = client.post(f"{API}/values/import", json=upload("v.csv", b"a,b\n1,2\n"), headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_header"
    r = client.post(f"{API}/values/import", json=upload("v.xlsx", b"not a workbook"), headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unreadable_spreadsheet"
    r = client.post(f"{API}/values/import", json={"filename": "v.csv", "content_base64": "!!"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_base64"
    member = world.member(OrgKind.enterprise)
    assert (
        client.post(f"{API}/values/import", json=upload("v.csv", sheet.encode()), headers=member.headers).status_code
        == 403
    )
