"""Filing, 补正, registrar decisions, amendments, cancellations and payments, through the API."""

import datetime as dt

from market.accounts.roles import Role
from market.contracts.service import today
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body

API = "/api/v1/contracts"


def setup(world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    registrar = world.bureau(Role.registrar)
    return seller, buyer, registrar


def test_file_return_correct_register(client, world):
    seller, buyer, registrar = setup(world)
    r = client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["status"] == "submitted" and c["technical_transaction_amount"] == "1000000.00"
    assert c["decision_deadline"] is not None and {p["role"] for p in c["parties"]} == {"seller", "buyer"}

    r = client.post(
        f"{API}/{c['id']}/return",
        json={"items": [{"field": "parties", "message": "缺少买方盖章页"}]},
        headers=registrar.headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "returned"
    assert r.json()["correction_items"][0]["message"] == "缺少买方盖章页"

    # the filer sees what to fix, edits and resubmits
    body = contract_body(seller.org_id, buyer.org_id, project_name="伺服电机控制算法专利权转让")
    r = client.put(f"{API}/{c['id']}", json=body, headers=seller.headers)
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    assert r.json()["correction_items"] is None

    r = client.post(f"{API}/{c['id']}/register", headers=registrar.headers)
    assert r.status_code == 200, r.text
    reg = r.json()
    year = today().year
    assert reg["status"] == "registered" and reg["registration_number"] == f"{year}330200000001"
    # registered contracts cannot be edited
    r = client.put(f"{API}/{c['id']}", json=body, headers=seller.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "contract_not_editable"


def test_validation_errors_name_the_problem(client, world):
    seller, buyer, _ = setup(world)
    cases = [
        ({"technical_transaction_amount": "1300000.00"}, "technical_amount_exceeds_total"),
        ({"technical_transaction_amount": "999999.00"}, "deductions_do_not_add_up"),
        ({"subtype": "cooperative"}, "unknown_subtype"),
        ({"valid_until": (today() - dt.timedelta(days=1)).isoformat()}, "contract_expired"),
        ({"parties": [{"role": "seller", "org_id": seller.org_id}]}, "missing_party"),
        (
            {"parties": [{"role": "seller", "org_id": seller.org_id}, {"role": "buyer", "org_id": seller.org_id}]},
            "self_contract",
        ),
    ]
    for change, code in cases:
        r = client.post(API, json=contract_body(seller.org_id, buyer.org_id, **change), headers=seller.headers)
        assert r.status_code == 422, (code, r.text)
        assert code in {d["code"] for d in r.json()["error"]["details"]}, (code, r.json())
        assert r.json()["error"]["message"]


def test_only_the_seller_files_and_import_is_filed_by_buyer(client, world):
    seller, buyer, _ = setup(world)
    r = client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=buyer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_the_filer"
    body = contract_body(
        seller.org_id,
        buyer.org_id,
        technology_import=True,
        deductions=[],
        technical_transaction_amount=None,
        parties=[
            {"role": "seller", "name": "Fraunhofer IPT", "country": "DE"},
            {"role": "buyer", "org_id": buyer.org_id},
        ],
    )
    r = client.post(API, json=body, headers=buyer.headers)
    assert r.status_code == 201, r.text
    assert r.json()["filer_org_id"] == buyer.org_id


def test_refuse_needs_a_known_reason(client, world):
    seller, buyer, registrar = setup(world)
    cid = client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers).json()["id"]
    r = client.post(f"{API}/{cid}/refuse", json={"reason": "dislike"}, headers=registrar.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_refusal_reason"
    r = client.post(
        f"{API}/{cid}/refuse", json={"reason": "seals_missing", "note": "买方未盖章"}, headers=registrar.headers
    )
    assert r.status_code == 200 and r.json()["status"] == "refused" and r.json()["refusal_reason"] == "seals_missing"
    r = client.post(f"{API}/{cid}/register", headers=registrar.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"


def test_access_per_role(client, world):
    seller, buyer, registrar = setup(world)
    outsider = world.member(OrgKind.enterprise)
    officer = world.bureau(Role.programme_officer)
    cid = client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers).json()["id"]
    assert client.get(f"{API}/{cid}").status_code == 401  # the public sees nothing
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/{cid}", headers=outsider.headers).status_code == 404
    assert client.get(API, headers=outsider.headers).json()["total"] == 0
    for member in (seller, buyer, registrar, officer):
        assert client.get(f"{API}/{cid}", headers=member.headers).status_code == 200
    assert client.get(API, headers=buyer.headers).json()["total"] == 1
    # deciding is for registrars; org members and programme officers cannot
    for member in (seller, buyer, outsider):
        r = client.post(f"{API}/{cid}/register", headers=member.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    r = client.post(f"{API}/{cid}/register", headers=officer.headers)
    assert r.status_code == 403
    assert client.get(f"{API}/overdue", headers=seller.headers).status_code == 403
    # an unverified organisation cannot file
    pending = world.member(OrgKind.university, verified=False)
    r = client.post(API, json=contract_body(pending.org_id, buyer.org_id), headers=pending.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "org_not_verified"


def test_idempotent_filing(client, world):
    seller, buyer, _ = setup(world)
    body = contract_body(seller.org_id, buyer.org_id)
    headers = {**seller.headers, "Idempotency-Key": "file-42"}
    first = client.post(API, json=body, headers=headers)
    again = client.post(API, json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert client.get(API, headers=seller.headers).json()["total"] == 1
    r = client.post(
        API, json={**body, "total_amount": "1300000.00", "technical_transaction_amount": None}, headers=headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"
    # the same key from another user is a different request
    colleague = world.user(seller.org_id)
    r = client.post(API, json=body, headers={**colleague.headers, "Idempotency-Key": "file-42"})
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]


def test_amend_cancel_history_and_payments(client, world):
    seller, buyer, registrar = setup(world)
    cid = client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers).json()["id"]
    r = client.post(
        f"{API}/{cid}/payments", json={"amount": "1.00", "received_on": today().isoformat()}, headers=seller.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "contract_not_registered"
    client.post(f"{API}/{cid}/register", headers=registrar.headers)

    for amount in ("300000.00", "200000.50"):
        r = client.post(
            f"{API}/{cid}/payments", json={"amount": amount, "received_on": today().isoformat()}, headers=seller.headers
        )
        assert r.status_code == 201, r.text
    r = client.post(
        f"{API}/{cid}/payments", json={"amount": "1.00", "received_on": today().isoformat()}, headers=buyer.headers
    )
    assert r.status_code == 403
    r = client.post(
        f"{API}/{cid}/payments",
        json={"amount": "800000.00", "received_on": today().isoformat()},
        headers=seller.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "payments_exceed_total"
    assert client.get(f"{API}/{cid}", headers=buyer.headers).json()["performed_amount"] == "500000.50"

    r = client.post(
        f"{API}/{cid}/amendments",
        json={"reason": "增加技术服务内容", "total_amount": "1500000.00"},
        headers=registrar.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["previous"]["total_amount"] == "1200000.00" and r.json()["snapshot"]["total_amount"] == "1500000.00"
    c = client.get(f"{API}/{cid}", headers=seller.headers).json()
    assert c["version"] == 2 and c["technical_transaction_amount"] == "1300000.00"
    r = client.post(f"{API}/{cid}/amendments", json={"reason": "nothing"}, headers=registrar.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_amendment"

    r = client.post(f"{API}/{cid}/cancellation", json={"reason": "双方协议解除"}, headers=registrar.headers)
    assert r.status_code == 201
    events = client.get(f"{API}/{cid}/events", headers=buyer.headers).json()
    assert [e["kind"] for e in events] == ["registered", "payment", "payment", "amended", "cancelled"]
    assert [e["version"] for e in events] == [1, None, None, 2, 2]
    assert client.get(f"{API}/{cid}", headers=seller.headers).json()["status"] == "cancelled"
    r = client.post(f"{API}/{cid}/cancellation", json={"reason": "again"}, headers=registrar.headers)
    assert r.status_code == 409


def test_overdue_list(client, world, engine):
    import sqlalchemy as sa

    from market.contracts.models import Contract

    seller, buyer, registrar = setup(world)
    late = client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers).json()["id"]
    client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers)
    with engine.begin() as conn:
        conn.execute(
            sa.update(Contract.__table__)
            .where(Contract.__table__.c.id == late)
            .values(decision_deadline=today() - dt.timedelta(days=1))
        )
    r = client.get(f"{API}/overdue", headers=registrar.headers)
    assert r.status_code == 200 and [c["id"] for c in r.json()["items"]] == [late]


def test_draft_then_submit(client, world):
    seller, buyer, _ = setup(world)
    body = contract_body(seller.org_id, buyer.org_id, submit=False, signing_date=None)
    r = client.post(API, json=body, headers=seller.headers)
    assert r.status_code == 201 and r.json()["status"] == "draft", r.text
    r = client.post(f"{API}/{r.json()['id']}/submit", headers=seller.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "signing_date_required"
