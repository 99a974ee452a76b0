"""Consortium consent, research-integrity (科研失信) records, bid price and call terms — each through the API."""

from __future__ import annotations

import datetime as dt

import pytest

from market.accounts.roles import Role
from market.calls import flows
from market.calls.models import Bid
from market.core.audit import history
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.calls.conftest import DEADLINE, T0, bid_body, call_body

TODAY = T0.date()


def _record(kit, who, status=201, **over):
    body = {
        "reason": "论文数据造假",
        "source_document": "甬科监〔2026〕3号",
        "starts_on": str(TODAY - dt.timedelta(days=10)),
        "ends_on": str(TODAY + dt.timedelta(days=365)),
        **over,
    }
    return kit.post(who, "/api/v1/calls/integrity/records", body, status)


# --- consortium consent -----------------------------------------------------------------------------


def test_named_member_is_no_party_until_it_accepts(kit):
    call = kit.published_call()
    uni, firm = kit.bidder(), kit.bidder(OrgKind.enterprise)
    bid = kit.bid(uni, call["id"], member_org_ids=[firm.org_id])
    url = f"/api/v1/calls/{call['id']}/bids/{bid['id']}"
    # Not yet a party: not listed, cannot read the sealed plan, and not blocked from bidding itself.
    assert bid["member_org_ids"] == []
    assert kit.client.get(url, headers=firm.headers).status_code == 404
    invitation = kit.invitation(firm, bid["id"])
    assert invitation["state"] == "invited" and invitation["lead_org_id"] == uni.org_id and "plan" not in invitation
    own = kit.bid(firm, call["id"])
    # Having its own bid, it cannot also accept (an organisation is in at most one accepted bid per call).
    r = kit.client.post(f"/api/v1/calls/invitations/{invitation['id']}/accept", headers=firm.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_bid"
    kit.post(firm, f"/api/v1/calls/{call['id']}/bids/{own['id']}/withdraw")
    # Only the invited organisation answers its invitation; to anyone else it does not exist.
    other = kit.bidder()
    r = kit.client.post(f"/api/v1/calls/invitations/{invitation['id']}/accept", headers=other.headers)
    assert r.status_code == 404
    accepted = kit.post(firm, f"/api/v1/calls/invitations/{invitation['id']}/accept")
    assert accepted["state"] == "accepted"
    assert kit.ok(kit.client.get(url, headers=firm.headers))["member_org_ids"] == [firm.org_id]
    assert kit.bid(firm, call["id"], status=409)["error"]["code"] == "already_bid"
    # A member may withdraw before the deadline: it is free again and sees nothing.
    kit.post(firm, f"/api/v1/calls/invitations/{invitation['id']}/withdraw")
    assert kit.client.get(url, headers=firm.headers).status_code == 404
    assert kit.ok(kit.client.get(url, headers=uni.headers))["member_org_ids"] == []
    kit.bid(firm, call["id"])
    with session_scope() as s:
        actions = [e.action for e in history(s, "call_bid", bid["id"])]
    assert actions == ["submit", "invite_member", "member_accept", "member_withdraw"]


def test_declined_invitation_and_no_answer_after_the_deadline(kit):
    call = kit.published_call()
    uni, firm, inst = kit.bidder(), kit.bidder(OrgKind.enterprise), kit.bidder(OrgKind.institute)
    bid = kit.bid(uni, call["id"], member_org_ids=[firm.org_id, inst.org_id])
    kit.post(firm, f"/api/v1/calls/invitations/{kit.invitation(firm, bid['id'])['id']}/decline")
    # The lead follows the answers; an invitee that has not joined does not see the others'.
    listed = kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bid['id']}/invitations", headers=uni.headers))
    assert [(i["org_id"], i["state"]) for i in listed] == [(firm.org_id, "declined"), (inst.org_id, "invited")]
    r = kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bid['id']}/invitations", headers=inst.headers)
    assert r.status_code == 404
    kit.clock.now = DEADLINE
    r = kit.client.post(
        f"/api/v1/calls/invitations/{kit.invitation(inst, bid['id'])['id']}/accept", headers=inst.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "bidding_closed"
    with session_scope() as s:
        assert s.get(Bid, bid["id"]).member_org_ids == []
    # The lead sees who was invited in its own bid's history, the invitee its invitation state.
    assert kit.invitation(firm, bid["id"])["state"] == "declined"


# --- research-integrity records ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.programme_officer, 201), (Role.bureau_admin, 201), (Role.registrar, 403)],
)
def test_bureau_programme_staff_record_integrity_entries(kit, role, status):
    org = kit.world.org(OrgKind.university)
    _record(kit, kit.world.bureau(role), status, org_id=org)


def test_organisations_and_experts_neither_record_nor_read_records(kit):
    org = kit.world.org(OrgKind.university)
    for who in (kit.bidder(), kit.world.expert()):
        assert _record(kit, who, 403, org_id=org)["error"]["code"] == "role_required"
        assert kit.client.get("/api/v1/calls/integrity/records", headers=who.headers).status_code == 403
    assert kit.client.get("/api/v1/calls/integrity/records").status_code == 401


def test_record_needs_one_subject_and_ordered_dates(kit):
    org = kit.world.org(OrgKind.university)
    assert _record(kit, kit.officer, 422)["error"]["code"] == "one_subject"
    err = _record(kit, kit.officer, 422, org_id=org, ends_on=str(TODAY - dt.timedelta(days=20)))["error"]
    assert err["code"] == "dates_order"


def test_recorded_bidder_learns_only_that_it_is_not_eligible_until_lifted(kit):
    call = kit.published_call()
    uni = kit.bidder()
    rec = _record(kit, kit.officer, org_id=uni.org_id)
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids", json=bid_body(), headers=uni.headers)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "not_eligible"
    assert "造假" not in r.text and "甬科监" not in r.text and "失信" not in r.text
    # A member with a record spoils the team the same way, at acceptance.
    lead, member = kit.bidder(), kit.bidder(OrgKind.enterprise)
    bid = kit.bid(lead, call["id"], member_org_ids=[member.org_id])
    _record(kit, kit.officer, org_id=member.org_id)
    r = kit.client.post(
        f"/api/v1/calls/invitations/{kit.invitation(member, bid['id'])['id']}/accept", headers=member.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_eligible"
    # Lifted early with a reason: the organisation may bid again; everything is audited.
    r = kit.client.post(
        f"/api/v1/calls/integrity/records/{rec['id']}/lift", json={"reason": "复核撤销"}, headers=uni.headers
    )
    assert r.status_code == 403
    lifted = kit.post(kit.officer, f"/api/v1/calls/integrity/records/{rec['id']}/lift", {"reason": "复核撤销"})
    assert lifted["lifted_on"] == str(TODAY) and lifted["lift_reason"] == "复核撤销"
    kit.bid(uni, call["id"])
    with session_scope() as s:
        assert [(e.action, e.actor_user_id) for e in history(s, "integrity_record", rec["id"])] == [
            ("record", kit.officer.user_id),
            ("lift", kit.officer.user_id),
        ]
    listed = kit.ok(kit.client.get(f"/api/v1/calls/integrity/records?org_id={uni.org_id}", headers=kit.officer.headers))
    assert [r["id"] for r in listed["items"]] == [rec["id"]]


def test_person_record_binds_the_team_leader_and_expired_records_do_not(kit):
    call = kit.published_call()
    _record(kit, kit.officer, person_name="张教授")
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids", json=bid_body(), headers=kit.bidder().headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_eligible"
    old = kit.bidder()
    _record(kit, kit.officer, org_id=old.org_id, starts_on="2020-01-01", ends_on="2021-01-01")
    kit.bid(old, call["id"], team_leader="李研究员")


def test_record_is_consulted_again_at_formal_check_and_award(kit):
    call = kit.published_call(experts_per_bid=1, winners_count=2)
    a, b = kit.bidder(), kit.bidder(OrgKind.institute)
    bid_a, bid_b = kit.bid(a, call["id"]), kit.bid(b, call["id"], team_leader="李研究员")
    experts = kit.experts(1)
    kit.clock.now = DEADLINE
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/close-bidding")
    rec = _record(kit, kit.officer, org_id=a.org_id)
    # Formal check: the bureau cannot pass a team with an active record, and sees which record.
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/bids/{bid_a['id']}/formal-check",
        json={"passed": True},
        headers=kit.officer.headers,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "research_integrity_record"
    assert r.json()["error"]["details"][0]["record_ids"] == [rec["id"]]
    kit.post(kit.officer, f"/api/v1/calls/integrity/records/{rec['id']}/lift", {"reason": "误录"})
    for bid in (bid_a, bid_b):
        kit.post(kit.officer, f"/api/v1/calls/{call['id']}/bids/{bid['id']}/formal-check", {"passed": True})
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.score_all(call["id"], experts)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bid_a["id"], bid_b["id"]]})
    # During the notice the person leading bid B gets a record: at award B is disqualified, A is awarded.
    _record(kit, kit.officer, person_name="李研究员")
    kit.clock.now += dt.timedelta(days=6)
    with session_scope() as s:
        flows.advance_deadlines(s, kit.clock.now)
    projects = kit.post(kit.officer, f"/api/v1/calls/{call['id']}/award")
    assert [p["bid_id"] for p in projects] == [bid_a["id"]]
    assert (
        kit.ok(kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bid_b['id']}", headers=b.headers))["state"]
        == "disqualified"
    )


# --- bid price and call terms -----------------------------------------------------------------------


def test_bid_price_cannot_exceed_what_the_call_offers(kit):
    call = kit.published_call(total_amount="3000000.00")
    uni = kit.bidder()
    err = kit.bid(uni, call["id"], status=422, price="300000000.00")["error"]
    assert err["code"] == "price_exceeds_call" and err["details"][0]["field"] == "price"
    bid = kit.bid(uni, call["id"], price="3000000.00")
    r = kit.client.patch(
        f"/api/v1/calls/{call['id']}/bids/{bid['id']}", json={"price": "3000000.01"}, headers=uni.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "price_exceeds_call"


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"gov_support_cap": "-1.00"}, "amount_negative"),
        ({"total_amount": "0.00"}, "amount_not_positive"),
        ({"total_amount": "-5.00"}, "amount_not_positive"),
        ({"first_tranche_pct": 50}, "first_tranche_reason_required"),
        ({"first_tranche_pct": 50, "first_tranche_reason": "  "}, "first_tranche_reason_required"),
        ({"gov_support_ratio_pct": 101}, "invalid_less_than_equal"),
        ({"first_tranche_pct": 101}, "invalid_less_than_equal"),
    ],
)
def test_call_terms_refused_when_proposed(kit, over, code):
    r = kit.client.post("/api/v1/calls", json=call_body(**over), headers=kit.firm.headers)
    assert r.status_code == 422 and code in {
        r.json()["error"]["code"],
        *(d["code"] for d in r.json()["error"].get("details", [])),
    }


def test_officer_compiling_terms_is_held_to_the_same_rules(kit):
    call = kit.post(kit.firm, "/api/v1/calls", call_body(), 201)
    url = f"/api/v1/calls/{call['id']}"
    r = kit.client.patch(url, json={"gov_support_cap": "-100.00"}, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "amount_negative"
    r = kit.client.patch(url, json={"first_tranche_pct": 40}, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "first_tranche_reason_required"
    ok = kit.ok(
        kit.client.patch(
            url,
            json={"first_tranche_pct": 40, "first_tranche_reason": "设备采购集中在中期"},
            headers=kit.officer.headers,
        )
    )
    assert (ok["first_tranche_pct"], ok["first_tranche_reason"]) == (40, "设备采购集中在中期")
    # The posing firm may not compile the terms.
    r = kit.client.patch(url, json={"first_tranche_pct": 70}, headers=kit.firm.headers)
    assert r.status_code == 403
