"""The monitoring index through the API: the preset, new versions, values, scores with ranks, roles."""

import csv
import io

from market.accounts.roles import Role
from market.core.vocab import OrgKind

API = "/api/v1/monitoring"
SET = "seed000-pian4"


def test_values_scores_ranks_and_versions(client, world):
    officer, admin = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    h = officer.headers
    r = client.get(f"{API}/sets", headers=h)
    assert r.status_code == 200 and [(s["code"], s["version"]) for s in r.json()] == [(SET, 1)]
    assert len(client.get(f"{API}/sets/{SET}", headers=h).json()["definition"]["dimensions"]) == 5

    # 鄞州区 2025: 地方财政支出 7500 → 4.5 (inside a band), 比重 1.25 → 6.5, 1 国家级重点实验室 → 2, assessed 3
    r = client.put(
        f"{API}/sets/{SET}/values/330212/2025",
        headers=h,
        json={
            "values": {
                "fiscal_expenditure": "7500",
                "fiscal_st_share": 1.25,
                "platforms": {"national_key_lab": 1},
                "management_innovation": "3",
            }
        },
    )
    assert r.status_code == 200, r.text
    # 江北区 2025: 12000 → 5, 2 % → 8, assessed 4 → 17; and 2024 for the year-on-year change: 5000 → 4
    client.put(
        f"{API}/sets/{SET}/values/330205/2025",
        headers=h,
        json={"values": {"fiscal_expenditure": "12000", "fiscal_st_share": "2", "management_innovation": "4"}},
    )
    client.put(f"{API}/sets/{SET}/values/330205/2024", headers=h, json={"values": {"fiscal_expenditure": "5000"}})

    r = client.get(f"{API}/sets/{SET}/scores/2025", headers=h)
    assert r.status_code == 200, r.text
    regions = r.json()["regions"]
    assert [(x["rank"], x["region_code"], x["region_name"], x["total"]) for x in regions] == [
        (1, "330205", "江北区", "17.00"),
        (2, "330212", "鄞州区", "16.00"),
    ]
    assert (
        regions[0]["previous_total"] == "4.00" and regions[0]["change"] == "13.00" and regions[0]["previous_rank"] == 1
    )
    # year on year per dimension and indicator: 创新投入 5 + 8 = 13 against 4; 地方财政支出 12000 → 5 against 5000 → 4
    inputs = regions[0]["dimensions"][0]
    assert (inputs["score"], inputs["previous_score"], inputs["change"]) == ("13.00", "4.00", "9.00")
    fiscal_jb = inputs["indicators"][0]
    assert (fiscal_jb["value"], fiscal_jb["previous_value"], fiscal_jb["previous_score"], fiscal_jb["change"]) == (
        "12000",
        "5000",
        "4.00",
        "1.00",
    )
    assert regions[1]["dimensions"][0]["previous_score"] is None  # 鄞州区 has nothing for 2024
    fiscal = regions[1]["dimensions"][0]["indicators"][0]
    assert fiscal["score"] == "4.50" and "7500 in [5000, 10000)" in fiscal["working"]
    assert fiscal["department"] == "区财政局"

    # replace a value, remove another
    client.put(
        f"{API}/sets/{SET}/values/330212/2025",
        headers=h,
        json={"values": {"fiscal_expenditure": "3000", "platforms": None}},
    )  # 3.5, and −2
    r = client.get(f"{API}/sets/{SET}/scores/2025", params={"within": "330212"}, headers=h)
    assert [(x["region_code"], x["total"]) for x in r.json()["regions"]] == [("330212", "13.00")]

    r = client.get(f"{API}/sets/{SET}/scores/2025", params={"format": "csv"}, headers=h)
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["rank", "region_code", "region_name", "total"] and len(rows) == 1 + 2 * 17

    # a new version: old version still scorable as it was
    definition = client.get(f"{API}/sets/{SET}", headers=h).json()["definition"]
    definition["dimensions"][0]["indicators"][0]["rule"]["bands"][2]["score_from"] = "3"  # 5000 now scores 3
    definition["dimensions"][0]["indicators"][0]["rule"]["bands"][1]["score_to"] = "3"
    r = client.post(f"{API}/sets/{SET}/versions", headers=officer.headers, json={"name": "x", "definition": definition})
    assert r.status_code == 403
    r = client.post(
        f"{API}/sets/{SET}/versions", headers=admin.headers, json={"name": "篇四 v2", "definition": definition}
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    old = client.get(f"{API}/sets/{SET}/scores/2024", params={"version": 1}, headers=h).json()["regions"][0]["total"]
    new = client.get(f"{API}/sets/{SET}/scores/2024", headers=h).json()["regions"][0]["total"]
    assert (old, new) == ("4.00", "3.00")


def test_bad_input_and_roles(client, world):
    officer = world.bureau(Role.registrar)
    member = world.member(OrgKind.enterprise)
    h = officer.headers
    url = f"{API}/sets/{SET}/values/330212/2025"
    cases = [
        ({"values": {"no_such": "1"}}, url, "unknown_indicator"),
        ({"values": {"fiscal_expenditure": "abc"}}, url, None),
        ({"values": {"platforms": {"moon_base": 1}}}, url, "invalid_indicator_value"),
        ({"values": {"management_innovation": "6"}}, url, "invalid_indicator_value"),
        ({"values": {}}, url, "no_values"),
        ({"values": {"fiscal_expenditure": "1"}}, f"{API}/sets/{SET}/values/990000/2025", "invalid_region_code"),
        ({"values": {"fiscal_expenditure": "1"}}, f"{API}/sets/{SET}/values/330212/2025-13", "invalid_period"),
    ]
    for body, target, code in cases:
        r = client.put(target, headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
        if code:
            assert r.json()["error"]["code"] == code, r.text
    assert client.put(f"{API}/sets/nope/values/330212/2025", headers=h, json={"values": {"a": "1"}}).status_code == 404
    assert client.get(f"{API}/sets", headers=member.headers).status_code == 403
    assert client.put(url, headers=member.headers, json={"values": {"fiscal_expenditure": "1"}}).status_code == 403
    assert client.get(f"{API}/sets").status_code == 401
    admin = world.bureau(Role.bureau_admin)
    r = client.post(
        f"{API}/sets/mine/versions",
        headers=admin.headers,
        json={"name": "broken", "definition": {"dimensions": [{"code": "a", "weight": "10", "indicators": []}]}},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_indicator_set"
