"""The seller's tax-relief estimate through the API: derived and entered income, and who may see it."""

from market.accounts.roles import Role
from market.contracts.service import today
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body

API = "/api/v1"


def test_estimate_derived_entered_and_access(client, world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    registrar = world.bureau(Role.registrar)
    ids = []
    for body in (
        contract_body(seller.org_id, buyer.org_id),  # 技术转让
        contract_body(seller.org_id, buyer.org_id, contract_type="license", subtype="patent_ordinary"),
        contract_body(seller.org_id, buyer.org_id, contract_type="service", subtype="technical_service"),
    ):
        cid = client.post(f"{API}/contracts", json=body, headers=seller.headers).json()["id"]
        assert client.post(f"{API}/contracts/{cid}/register", headers=registrar.headers).status_code == 200
        ids.append(cid)
    for cid, amount in zip(ids, ("600000.00", "300000.00", "90000.00"), strict=True):
        r = client.post(
            f"{API}/contracts/{cid}/payments",
            json={"amount": amount, "received_on": today().isoformat()},
            headers=seller.headers,
        )
        assert r.status_code == 201, r.text
    year = today().year
    url = f"{API}/tax-relief/{seller.org_id}/{year}"

    r = client.get(url, headers=seller.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    # the licence runs about a year (< 5 years): listed, not counted; the service contract is not listed at all
    listed = {c["contract_id"]: (c["qualifies"], c["income"], c["reasons"]) for c in body["contracts"]}
    assert listed == {ids[0]: (True, "600000.00", []), ids[1]: (False, "300000.00", ["licence_term_under_5_years"])}
    assert body["income_source"] == "derived" and body["income"] == "600000.00"
    assert body["exempt"] == "600000.00" and body["taxable_after_relief"] == "0.00"
    assert body["estimated_tax_saving"] == "150000.00" and body["caveats"]

    # entered income across the threshold: 7,000,000 − 1,000,000 = 6,000,000 → reduction 5,500,000
    r = client.get(url, params={"income": "7000000.00", "costs": "1000000.00"}, headers=registrar.headers)
    body = r.json()
    assert (
        body["income_source"],
        body["transfer_gain"],
        body["exempt"],
        body["excess"],
        body["taxable_after_relief"],
        body["taxable_reduction"],
        body["estimated_tax_saving"],
    ) == ("entered", "6000000.00", "5000000.00", "1000000.00", "500000.00", "5500000.00", "1375000.00")
    assert any("5500000.00" in line for line in body["working"])

    # who may: the buyer is not the seller; anonymous is 401; a bad figure is a 422
    r = client.get(url, headers=buyer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_organisation"
    assert client.get(url).status_code == 401
    assert client.get(url, params={"costs": "-1"}, headers=seller.headers).status_code == 422
    r = client.get(f"{API}/tax-relief/999999/{year}", headers=registrar.headers)
    assert r.status_code == 404
