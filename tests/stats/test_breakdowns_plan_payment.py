"""Breakdowns by plan source (计划来源) and payment method (支付方式), and region names in statistics."""

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body

API = "/api/v1"


def test_plan_source_and_payment_method_breakdowns(client, world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330110")
    registrar = world.bureau(Role.registrar)
    for plan, pay in (("national", "lump_sum"), ("national", "royalty"), ("provincial", "royalty")):
        body = contract_body(seller.org_id, buyer.org_id, plan_source=plan, payment_method=pay)
        cid = client.post(f"{API}/contracts", json=body, headers=seller.headers).json()["id"]
        assert client.post(f"{API}/contracts/{cid}/register", headers=registrar.headers).status_code == 200
    r = client.get(f"{API}/stats/breakdown/plan_source", headers=registrar.headers)
    assert r.status_code == 200, r.text
    rows = {row["key"]: (row["label"], row["count"], row["total_amount"]) for row in r.json()["rows"]}
    assert rows == {"national": ("国家计划", 2, "2400000.00"), "provincial": ("省级计划", 1, "1200000.00")}
    r = client.get(f"{API}/stats/breakdown/payment_method", params={"format": "csv"}, headers=registrar.headers)
    assert r.status_code == 200 and "提成支付" in r.content.decode("utf-8-sig")
    r = client.get(f"{API}/stats/breakdown/payment_method", headers=registrar.headers)
    assert {row["key"]: row["count"] for row in r.json()["rows"]} == {"royalty": 2, "lump_sum": 1}
    assert client.get(f"{API}/stats/breakdown/plan_source", headers=seller.headers).status_code == 403

    # region names beside codes
    r = client.get(f"{API}/stats/breakdown/buyer_region", headers=registrar.headers)
    assert [(row["key"], row["label"]) for row in r.json()["rows"]] == [("330110", "余杭区")]
    r = client.get(f"{API}/stats/breakdown/seller_region", params={"region_level": 4}, headers=registrar.headers)
    assert [(row["key"], row["label"]) for row in r.json()["rows"]] == [("3302", "宁波市")]
    r = client.get(f"{API}/stats/flows", params={"region": "330200"}, headers=registrar.headers)
    assert r.json()["meta"]["region"] == "3302" and r.json()["meta"]["region_name"] == "宁波市"
