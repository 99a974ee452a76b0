"""Duties kept apart: who files, who decides (four eyes), the decision date, jurisdiction, payments, links."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.contracts import service
from market.contracts.service import today
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body

API = "/api/v1/contracts"


def parties(world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    return seller, buyer


def file(client, who, body):
    r = client.post(API, json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_bureau_staff_neither_file_nor_edit_a_firms_contract(client, world):
    seller, buyer = parties(world)
    body = contract_body(seller.org_id, buyer.org_id)
    cid = file(client, seller, contract_body(seller.org_id, buyer.org_id, submit=False))
    for role in (Role.bureau_admin, Role.registrar, Role.programme_officer):
        staff = world.bureau(role)
        r = client.post(API, json=body, headers=staff.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "bureau_may_not_file", (role, r.text)
        r = client.put(f"{API}/{cid}", json=body, headers=staff.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "bureau_may_not_file", role
        r = client.post(f"{API}/{cid}/submit", headers=staff.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "bureau_may_not_file", role


def test_an_intermediary_files_only_with_the_partys_recorded_authorisation(client, world):
    seller, buyer = parties(world)
    broker = world.member(OrgKind.intermediary, region_code="330203")
    body = contract_body(
        seller.org_id,
        buyer.org_id,
        parties=[
            {"role": "seller", "org_id": seller.org_id},
            {"role": "buyer", "org_id": buyer.org_id},
            {"role": "intermediary", "org_id": broker.org_id, "broker_name": "王经纪"},
        ],
    )
    r = client.post(API, json=body, headers=broker.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "no_filing_authorisation"
    # Only the party's administrator records an authorisation; not a plain member, not the buyer, not the bureau.
    grant = {"intermediary_org_id": broker.org_id}
    for who in (world.user(seller.org_id, Role.member), world.bureau(Role.bureau_admin)):
        assert client.post(f"{API}/authorisations", json=grant, headers=who.headers).status_code == 403
    r = client.post(f"{API}/authorisations", json=grant, headers=seller.headers)
    assert r.status_code == 201, r.text
    auth_id = r.json()["id"]
    r = client.post(API, json=body, headers=broker.headers)
    assert r.status_code == 201, r.text
    assert r.json()["filer_org_id"] == seller.org_id
    # ...for the party that authorised it, not for another seller.
    other = world.member(OrgKind.university, region_code="330205")
    r = client.post(
        API,
        json=contract_body(
            other.org_id,
            buyer.org_id,
            parties=[
                {"role": "seller", "org_id": other.org_id},
                {"role": "buyer", "org_id": buyer.org_id},
                {"role": "intermediary", "org_id": broker.org_id},
            ],
        ),
        headers=broker.headers,
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "no_filing_authorisation"
    # An intermediary not named on the contract files nothing, authorised or not.
    r = client.post(API, json=contract_body(seller.org_id, buyer.org_id), headers=broker.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_the_filer"
    assert client.delete(f"{API}/authorisations/{auth_id}", headers=seller.headers).status_code == 200
    r = client.post(API, json=body, headers=broker.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "no_filing_authorisation"
    listed = client.get(f"{API}/authorisations", headers=seller.headers).json()
    assert [(a["intermediary_org_id"], a["revoked_at"] is not None) for a in listed] == [(broker.org_id, True)]
    with session_scope() as s:
        actions = s.scalars(sa.select(AuditEntry.action).where(AuditEntry.entity_type == "filing_authorisation")).all()
    assert actions == ["granted", "revoked"]


def test_programme_officers_never_change_a_contract(client, world):
    seller, buyer = parties(world)
    officer = world.bureau(Role.programme_officer)
    cid = file(client, seller, contract_body(seller.org_id, buyer.org_id))
    client.post(f"{API}/{cid}/register", headers=world.bureau(Role.registrar).headers)
    for url, body in (
        (f"{API}/{cid}/amendments", {"reason": "x", "project_name": "改名"}),
        (f"{API}/{cid}/cancellation", {"reason": "x"}),
        (f"{API}/{cid}/payments", {"amount": "1.00", "received_on": today().isoformat()}),
    ):
        r = client.post(url, json=body, headers=officer.headers)
        assert r.status_code == 403, (url, r.text)


def test_four_eyes_the_registrar_who_decides_did_not_create_the_contract(client, world):
    seller, buyer = parties(world)
    admin = world.bureau(Role.bureau_admin)
    with session_scope() as s:  # an open call's award: the bureau's user creates the draft
        actor = Actor(
            user_id=admin.user_id, org_id=admin.org_id, role=Role.bureau_admin, org_kind="bureau", org_verified=True
        )
        cid = service.create_draft_contract(
            s,
            actor,
            {
                "project_name": "揭榜项目",
                "seller_org_id": seller.org_id,
                "buyer_org_id": buyer.org_id,
                "total_amount": "500000",
            },
        ).id
    r = client.put(f"{API}/{cid}", json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers)
    assert r.status_code == 200, r.text
    for action, body in (
        ("register", None),
        ("return", {"items": [{"field": "x", "message": "y"}]}),
        ("refuse", {"reason": "seals_missing"}),
    ):
        r = client.post(f"{API}/{cid}/{action}", json=body, headers=admin.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "four_eyes", action
    r = client.post(f"{API}/{cid}/register", headers=world.bureau(Role.registrar).headers)
    assert r.status_code == 200 and r.json()["status"] == "registered"


def test_the_registration_date_is_the_decision_date(client, world):
    seller, buyer = parties(world)
    registrar = world.bureau(Role.registrar)
    cid = file(client, seller, contract_body(seller.org_id, buyer.org_id))
    past = (today() - dt.timedelta(days=400)).isoformat()
    r = client.post(f"{API}/{cid}/register", json={"registration_date": past}, headers=registrar.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "registration_date_is_decision_date"
    r = client.post(f"{API}/{cid}/register", headers=registrar.headers)
    assert r.status_code == 200 and r.json()["registration_date"] == today().isoformat()


def test_an_office_registers_sellers_in_its_own_jurisdiction(client, world):
    registrar = world.bureau(Role.registrar)
    shanghai = world.member(OrgKind.university, region_code="310115")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    cid = file(client, shanghai, contract_body(shanghai.org_id, buyer.org_id))
    r = client.post(f"{API}/{cid}/register", headers=registrar.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "outside_jurisdiction"
    # A technology import is the domestic buyer's: a Ningbo buyer of a German seller is ours.
    body = contract_body(
        0,
        buyer.org_id,
        technology_import=True,
        deductions=[],
        technical_transaction_amount=None,
        parties=[
            {"role": "seller", "name": "Fraunhofer IPT", "country": "DE"},
            {"role": "buyer", "org_id": buyer.org_id},
        ],
    )
    cid = file(client, buyer, body)
    assert client.post(f"{API}/{cid}/register", headers=registrar.headers).status_code == 200


def test_amendments_keep_the_total_above_what_was_received_and_payments_are_reversed_not_edited(client, world):
    seller, buyer = parties(world)
    registrar = world.bureau(Role.registrar)
    cid = file(client, seller, contract_body(seller.org_id, buyer.org_id))
    client.post(f"{API}/{cid}/register", headers=registrar.headers)
    pid = client.post(
        f"{API}/{cid}/payments",
        json={"amount": "900000.00", "received_on": today().isoformat()},
        headers=seller.headers,
    ).json()["id"]
    r = client.post(
        f"{API}/{cid}/amendments", json={"reason": "减少", "total_amount": "800000.00"}, headers=registrar.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "total_below_received"
    # There is no way to delete or edit a payment.
    assert client.delete(f"{API}/{cid}/payments/{pid}", headers=seller.headers).status_code in (404, 405)
    assert client.put(f"{API}/{cid}/payments/{pid}", json={}, headers=seller.headers).status_code in (404, 405)
    r = client.post(f"{API}/{cid}/payments/{pid}/reversal", json={"reason": "录入错误"}, headers=buyer.headers)
    assert r.status_code == 403
    r = client.post(f"{API}/{cid}/payments/{pid}/reversal", json={"reason": "录入错误"}, headers=seller.headers)
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == "-900000.00" and r.json()["reverses_payment_id"] == pid
    again = client.post(f"{API}/{cid}/payments/{pid}/reversal", json={"reason": "again"}, headers=seller.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "payment_already_reversed"
    back = client.post(f"{API}/{cid}/payments/{r.json()['id']}/reversal", json={"reason": "x"}, headers=seller.headers)
    assert back.status_code == 422 and back.json()["error"]["code"] == "reversal_not_reversible"
    assert client.get(f"{API}/{cid}", headers=buyer.headers).json()["performed_amount"] == "0.00"
    events = client.get(f"{API}/{cid}/events", headers=buyer.headers).json()
    assert [(e["kind"], (e.get("payment") or {}).get("amount")) for e in events] == [
        ("registered", None),
        ("payment", "900000.00"),
        ("payment_reversal", "-900000.00"),
    ]
    r = client.post(
        f"{API}/{cid}/amendments", json={"reason": "减少", "total_amount": "800000.00"}, headers=registrar.headers
    )
    assert r.status_code == 201, r.text


def test_links_must_exist_and_be_visible_to_the_filer(client, world):
    from market.core.db import session_scope as scope
    from market.listings.models import Achievement

    seller, buyer = parties(world)
    other = world.member(OrgKind.university, region_code="330205")
    common = dict(
        keywords=[],
        technical_field="new_energy",
        region_code="330203",
        version=1,
        summary="x",
        maturity="pilot",
        ip_type="other",
        patent_numbers=[],
        transfer_modes=[],
        price_negotiable=True,
        inventors=[],
        recognitions=[],
    )
    with scope() as s:
        hidden = Achievement(title="他人草稿", org_id=other.org_id, status="draft", **common)
        mine = Achievement(title="自己草稿", org_id=seller.org_id, status="draft", **common)
        public = Achievement(title="公开成果", org_id=other.org_id, status="published", **common)
        s.add_all([hidden, mine, public])
    for field, value in (
        ("achievement_id", hidden.id),
        ("achievement_id", 10**9),
        ("demand_id", 10**9),
        ("call_id", 10**9),
        ("reregistration_of_id", 10**9),
    ):
        r = client.post(API, json=contract_body(seller.org_id, buyer.org_id, **{field: value}), headers=seller.headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_link", (field, r.text)
        assert str(value) not in r.json()["error"]["message"]  # the same answer for hidden and missing
    for value in (mine.id, public.id):
        file(client, seller, contract_body(seller.org_id, buyer.org_id, achievement_id=value))
