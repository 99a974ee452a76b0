"""The whole life of a call over HTTP, on PostgreSQL and SQLite: propose → … → award → delivery → closed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from market.calls import service
from market.calls.models import Call
from market.contracts.models import Contract, ContractParty
from market.core.audit import history
from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.core.vocab import OrgKind
from tests.calls.conftest import DEADLINE, T0, bid_body, call_body


def test_full_life_of_a_call(kit):
    c = kit.client
    call = kit.post(kit.firm, "/api/v1/calls", call_body(), 201)
    assert call["state"] == "proposed"
    # 榜额 5,000,000 × 30 % = 1,500,000, capped at 1,000,000; the firm pays the rest.
    assert Decimal(call["gov_support"]) == Decimal("1000000.00")
    assert Decimal(call["firm_share"]) == Decimal("4000000.00")
    # Not public before publication: the public and other firms get 404.
    assert c.get(f"/api/v1/calls/{call['id']}").status_code == 404
    assert kit.client.get(f"/api/v1/calls/{call['id']}", headers=kit.bidder().headers).status_code == 404
    with session_scope() as s:
        assert service.search_document(s, call["id"]) is None

    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/vet", {"approve": True, "note": "ok"})
    published = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/publish")
    assert published["state"] == "published"
    assert c.get(f"/api/v1/calls/{call['id']}").status_code == 200
    with session_scope() as s:
        doc = service.search_document(s, call["id"])
        events = s.scalars(sa.select(OutboxEvent).where(OutboxEvent.entity_type == "call")).all()
    assert doc["title"] == call_body()["title"] and doc["state"] == "published" and doc["gov_support"] == "1000000.00"
    assert doc["bid_deadline"] == int(DEADLINE.timestamp()) and doc["technical_field_label"] == "新能源与高效节能"
    assert [e.topic for e in events] == ["search.index"]

    uni, inst = kit.bidder(OrgKind.university), kit.bidder(OrgKind.institute)
    b1 = kit.bid(uni, call["id"])
    b2 = kit.bid(inst, call["id"], price="4500000.00")
    experts = kit.experts(3)
    kit.close_and_check(call["id"], [b1, b2])
    projects = kit.to_award(call["id"], [b1["id"]], experts)

    assert len(projects) == 1
    p = projects[0]
    assert Decimal(p["gov_grant"]) == Decimal("1000000.00")
    # First tranche 60 % on signing; the other 400,000 by the milestones' shares (30/30/40), the last one final.
    assert [(t["kind"], Decimal(t["amount"])) for t in p["tranches"]] == [
        ("first", Decimal("600000.00")),
        ("milestone", Decimal("120000.00")),
        ("milestone", Decimal("120000.00")),
        ("final", Decimal("160000.00")),
    ]
    assert [Decimal(m["amount"]) for m in p["milestones"]] == [
        Decimal("1440000.00"),
        Decimal("1440000.00"),
        Decimal("1920000.00"),
    ]
    # The award drafted a technology contract linked to the call: the winner develops for the posing firm.
    with session_scope() as s:
        contract = s.get(Contract, p["contract_id"])
        parties = {
            x.role: x.org_id
            for x in s.scalars(sa.select(ContractParty).where(ContractParty.contract_id == contract.id))
        }
        assert (contract.status, contract.call_id, contract.total_amount) == (
            "draft",
            call["id"],
            Decimal("4800000.00"),
        )
        assert parties == {"seller": uni.org_id, "buyer": kit.firm.org_id}
        assert s.get(Call, call["id"]).state == "awarded"
    # After the award the winner is public, the loser is not.
    assert c.get(f"/api/v1/calls/{call['id']}/bids/{b1['id']}").status_code == 200
    assert c.get(f"/api/v1/calls/{call['id']}/bids/{b2['id']}").status_code == 404
    assert [b["id"] for b in c.get(f"/api/v1/calls/{call['id']}/bids").json()] == [b1["id"]]

    # Delivery: sign → first tranche due; milestones; acceptance; final tranche; close.
    pid = p["id"]
    # The winner (the seller, who files) records the signing; bureau staff do not file a firm's contract.
    r = c.post(f"/api/v1/calls/projects/{pid}/sign", json={"signed_on": "2026-05-15"}, headers=kit.officer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "bureau_may_not_file"
    signed = kit.post(uni, f"/api/v1/calls/projects/{pid}/sign", {"signed_on": "2026-05-15"})
    assert signed["end_date"] == "2028-05-15" and signed["milestones"][0]["due_date"] == "2027-01-15"
    first, final = signed["tranches"][0], signed["tranches"][-1]
    assert first["state"] == "due" and final["state"] == "scheduled"
    kit.post(kit.officer, f"/api/v1/calls/projects/{pid}/tranches/{first['id']}/pay")
    # Acceptance cannot pass while milestones are open.
    r = c.post(
        f"/api/v1/calls/projects/{pid}/acceptance", json={"result": "passed", "note": "x"}, headers=kit.officer.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "milestones_open"
    for m in signed["milestones"]:
        kit.post(uni, f"/api/v1/calls/projects/{pid}/milestones/{m['id']}/submit", {"note": "交付"})
        kit.post(kit.officer, f"/api/v1/calls/projects/{pid}/milestones/{m['id']}/review", {"passed": True})
    accepted = kit.post(
        kit.officer, f"/api/v1/calls/projects/{pid}/acceptance", {"result": "passed", "note": "指标全部达成"}
    )
    assert accepted["state"] == "passed" and [t["state"] for t in accepted["tranches"]] == ["paid", "due", "due", "due"]
    closed = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/close")
    assert closed["state"] == "closed"

    with session_scope() as s:
        actions = [(e.action, e.to_state) for e in history(s, "call", call["id"])]
        doc = service.search_document(s, call["id"])
        index_events = s.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.entity_type == "call", OutboxEvent.entity_id == call["id"])
        ).all()
    # One search.index intent per change of public state (publish … close), each with a newer version.
    assert len(index_events) == 7 and [e.payload["version"] for e in index_events] == sorted(
        {e.payload["version"] for e in index_events}
    )
    assert actions == [
        ("propose", "proposed"),
        ("vet", "vetted"),
        ("publish", "published"),
        ("close_bidding", "bidding_closed"),
        ("start_review", "reviewing"),
        ("propose_winners", "notice"),
        ("end_notice", "notice_ended"),
        ("award", "awarded"),
        ("close", "closed"),
    ]
    assert doc["state"] == "closed" and doc["winners"] == [
        c.get(f"/api/v1/calls/{call['id']}").json()["notice"][0]["lead_org_name"]
    ]


def test_adopt_call_drafts_a_transfer_from_the_holder(kit):
    """揭榜转化: an enterprise takes up a published achievement; the holder is the seller."""
    from market.listings.models import Achievement

    uni = kit.bidder(OrgKind.university)
    with session_scope() as s:
        ach = Achievement(
            title="固态电解质专利",
            technical_field="new_energy",
            keywords=[],
            region_code="330212",
            status="published",
            org_id=uni.org_id,
            summary="成熟成果",
            maturity="pilot",
            ip_type="invention_patent",
        )
        s.add(ach)
        s.flush()
        ach_id = ach.id
    body = call_body(kind="adopt", achievement_id=ach_id, eligible_entity_types=["1"])
    call = kit.post(kit.officer, "/api/v1/calls", body, 201)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/vet", {"approve": True})
    call = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/publish")
    assert call["posing_org_id"] == uni.org_id
    # A university cannot take up under 揭榜转化; an enterprise can.
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/bids", json=bid_body(), headers=kit.bidder(OrgKind.institute).headers
    )
    assert r.status_code == 422
    firm = kit.bidder(OrgKind.enterprise)
    b = kit.bid(firm, call["id"])
    kit.close_and_check(call["id"], [b])
    p = kit.to_award(call["id"], [b["id"]], kit.experts(3))[0]
    with session_scope() as s:
        contract = s.get(Contract, p["contract_id"])
        parties = {
            x.role: x.org_id
            for x in s.scalars(sa.select(ContractParty).where(ContractParty.contract_id == contract.id))
        }
    assert (contract.contract_type, contract.subtype, contract.achievement_id) == ("transfer", "patent_right", ach_id)
    assert parties == {"seller": uni.org_id, "buyer": firm.org_id}
    # The holder (seller) files: it records the signing; the taking-up enterprise (buyer) and the bureau do not.
    url = f"/api/v1/calls/projects/{p['id']}/sign"
    r = kit.client.post(url, json={"signed_on": "2026-04-30"}, headers=firm.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_the_filer"
    r = kit.client.post(url, json={"signed_on": "2026-04-30"}, headers=kit.officer.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "bureau_may_not_file"
    assert kit.post(uni, url, {"signed_on": "2026-04-30"})["state"] == "in_progress"
    with session_scope() as s:
        assert s.get(Contract, p["contract_id"]).status == "submitted"


def test_firm_cannot_vet_or_publish_and_rejection_needs_reason(kit):
    call = kit.post(kit.firm, "/api/v1/calls", call_body(), 201)
    r = kit.client.post(f"/api/v1/calls/{call['id']}/vet", json={"approve": True}, headers=kit.firm.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_required"
    r = kit.client.post(f"/api/v1/calls/{call['id']}/publish", headers=kit.firm.headers)
    assert r.status_code == 403
    # Publishing straight from proposed skips vetting: refused by the state machine.
    r = kit.client.post(f"/api/v1/calls/{call['id']}/publish", headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"
    r = kit.client.post(f"/api/v1/calls/{call['id']}/vet", json={"approve": False}, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "reason_required"
    rejected = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/vet", {"approve": False, "note": "不属于技术难题"})
    assert rejected["state"] == "rejected"
    # A university cannot pose a problem (企业出题).
    r = kit.client.post("/api/v1/calls", json=call_body(), headers=kit.bidder(OrgKind.university).headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "enterprise_required"


def test_publish_refuses_incomplete_terms(kit):
    call = kit.post(kit.firm, "/api/v1/calls", call_body(indicators=[], review_criteria=[]), 201)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/vet", {"approve": True})
    r = kit.client.post(f"/api/v1/calls/{call['id']}/publish", headers=kit.officer.headers)
    codes = {d["code"] for d in r.json()["error"]["details"]}
    assert r.status_code == 422 and codes == {"indicators_required", "criteria_required"}
    # Weights must sum to 100 — refused already when compiling.
    bad = [{"name": "a", "weight": 50}, {"name": "b", "weight": 40}]
    r = kit.client.patch(f"/api/v1/calls/{call['id']}", json={"review_criteria": bad}, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "criteria_weights_sum"
    r = kit.client.patch(
        f"/api/v1/calls/{call['id']}",
        json={
            "review_criteria": [{"name": "a", "weight": 60}, {"name": "b", "weight": 40}],
            "indicators": [{"name": "效率", "target": "≥ 95 %"}],
            "bid_deadline": (T0 - dt.timedelta(seconds=1)).isoformat(),
        },
        headers=kit.officer.headers,
    )
    assert r.status_code == 200
    r = kit.client.post(f"/api/v1/calls/{call['id']}/publish", headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "deadline_in_past"
