"""Credit-code disputes: a second applicant is heard, not squatted on; rejection reasons stay private."""

from __future__ import annotations

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.accounts.helpers import PASSWORD, audit_actions
from tests.accounts.test_accounts import registration
from tests.factories import valid_credit_code


def _register(client, code: str, username: str, name: str = "宁波甬新智能装备有限公司"):
    body = registration(
        name=name, credit_code=code, admin={"username": username, "password": PASSWORD, "display_name": "x"}
    )
    r = client.post("/api/v1/organisations", json=body)
    assert r.status_code == 201, r.text
    return r.json()["organisation"]


def _status(client, org_id: int) -> str:
    return client.get(f"/api/v1/organisations/{org_id}").json()["verification_status"]


def test_second_claim_of_a_code_becomes_a_dispute_the_bureau_resolves(client, world):
    code = valid_credit_code(region="330206")
    squatter = _register(client, code, "squatter", "抢注公司")
    rightful = _register(client, code, "rightful")
    assert rightful["verification_status"] == "disputed"
    assert rightful["credit_code"] is None and rightful["claimed_credit_code"] == code
    assert _status(client, squatter["id"]) == "disputed"
    bureau = world.bureau()
    disputed = client.get("/api/v1/organisations", params={"verification_status": "disputed"}, headers=bureau.headers)
    assert {o["id"] for o in disputed.json()["items"]} == {squatter["id"], rightful["id"]}

    firm = world.member(OrgKind.enterprise)  # only the bureau resolves
    r = client.post(
        f"/api/v1/organisations/{rightful['id']}/verification", json={"verified": True}, headers=firm.headers
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/organisations/{rightful['id']}/verification", json={"verified": True}, headers=bureau.headers
    )
    assert r.status_code == 200 and r.json()["verification_status"] == "verified" and r.json()["credit_code"] == code
    assert _status(client, squatter["id"]) == "rejected"
    assert client.get(f"/api/v1/organisations/{squatter['id']}").json()["credit_code"] is None
    assert audit_actions("organisation", squatter["id"]) == ["register", "dispute", "reject"]


def test_a_verified_holder_keeps_its_code_until_the_bureau_decides(client, world):
    code = valid_credit_code(region="330206")
    holder = _register(client, code, "holder")
    bureau = world.bureau()
    client.post(f"/api/v1/organisations/{holder['id']}/verification", json={"verified": True}, headers=bureau.headers)
    claimant = _register(client, code, "claimant")
    assert claimant["verification_status"] == "disputed" and _status(client, holder["id"]) == "verified"
    r = client.post(
        f"/api/v1/organisations/{claimant['id']}/verification",
        json={"verified": False, "reason": "证照与代码不符"},
        headers=bureau.headers,
    )
    assert r.json()["verification_status"] == "rejected" and _status(client, holder["id"]) == "verified"


def test_a_rejected_registration_releases_its_code(client, world):
    code = valid_credit_code(region="330206")
    first = _register(client, code, "first")
    bureau = world.bureau()
    client.post(
        f"/api/v1/organisations/{first['id']}/verification",
        json={"verified": False, "reason": "营业执照不清晰"},
        headers=bureau.headers,
    )
    assert client.get(f"/api/v1/organisations/{first['id']}").json()["claimed_credit_code"] == code
    again = _register(client, code, "again")
    assert again["verification_status"] == "pending" and again["credit_code"] == code  # no dispute: released
    r = client.post(
        f"/api/v1/organisations/{again['id']}/verification", json={"verified": True}, headers=bureau.headers
    )
    assert r.status_code == 200


def test_rejection_reason_is_seen_by_the_organisation_and_the_bureau_only(client, world):
    org_id = world.org(OrgKind.enterprise, verified=False)
    own = world.user(org_id, Role.member)
    bureau, registrar = world.bureau(), world.bureau(Role.registrar)
    r = client.post(
        f"/api/v1/organisations/{org_id}/verification",
        json={"verified": False, "reason": "法定代表人信息不符"},
        headers=bureau.headers,
    )
    assert r.json()["rejection_reason"] == "法定代表人信息不符"
    rival = world.member(OrgKind.enterprise)

    def seen(headers) -> tuple[str | None, str | None]:
        one = client.get(f"/api/v1/organisations/{org_id}", headers=headers).json()["rejection_reason"]
        listed = client.get("/api/v1/organisations", params={"verification_status": "rejected"}, headers=headers).json()
        return one, next(o["rejection_reason"] for o in listed["items"] if o["id"] == org_id)

    assert seen({}) == (None, None)  # anonymous
    assert seen(rival.headers) == (None, None)
    assert seen(own.headers) == ("法定代表人信息不符",) * 2
    assert seen(registrar.headers) == ("法定代表人信息不符",) * 2
