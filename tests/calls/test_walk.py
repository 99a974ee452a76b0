"""A scripted walk of the whole open-call flow, as the bureau, firms, a university, a consortium and experts
would go through it: consent, a blacklisted bidder refused, 赛马制 with two winners, mid-term review,
down-selection with reallocation, award contracts through registration, milestone-by-milestone payments, and
each acceptance outcome (passed, failed, 尽职免责)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from market.accounts.roles import Role
from market.calls import flows
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.calls.conftest import DEADLINE, T0


def _events(kit, who) -> list[str]:
    return [
        n["detail"]["event"]
        for n in kit.ok(kit.client.get("/api/v1/inbox?page_size=100", headers=who.headers))["items"]
    ]


def _to_notice_end(kit, call, bids, experts):
    kit.close_and_check(call["id"], bids)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.score_all(call["id"], experts)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [b["id"] for b in bids]})
    kit.clock.now += dt.timedelta(days=6)
    with session_scope() as s:
        flows.advance_deadlines(s, kit.clock.now)


def _deliver_all(kit, lead, project):
    """Milestone by milestone: hand in, pass, pay the tranche it released; returns the paid amounts."""
    pid, paid = project["id"], []
    for m in project["milestones"]:
        kit.post(lead, f"/api/v1/calls/projects/{pid}/milestones/{m['id']}/submit", {"note": f"{m['title']}交付"})
        after = kit.post(kit.officer, f"/api/v1/calls/projects/{pid}/milestones/{m['id']}/review", {"passed": True})
        due = [t for t in after["tranches"] if t["milestone_id"] == m["id"] and t["state"] == "due"]
        for t in due:
            kit.post(kit.officer, f"/api/v1/calls/projects/{pid}/tranches/{t['id']}/pay")
            paid.append(Decimal(t["amount"]))
    return paid


def test_walk_of_the_whole_flow(kit):
    c = kit.client
    registrar = kit.world.bureau(Role.registrar)
    # --- 赛马制 call: 榜额 5,000,000; government 30 % capped at 1,000,000; two teams in parallel.
    call = kit.published_call(winners_count=2, experts_per_bid=1, first_tranche_pct=60)
    cid = call["id"]
    uni, partner, inst = kit.bidder(OrgKind.university), kit.bidder(OrgKind.enterprise), kit.bidder(OrgKind.institute)
    # A blacklisted bidder is refused, learning only that it is not eligible.
    cheat = kit.bidder(OrgKind.university)
    kit.post(
        kit.officer,
        "/api/v1/calls/integrity/records",
        {
            "org_id": cheat.org_id,
            "reason": "项目结题材料造假",
            "source_document": "甬科监〔2026〕1号",
            "starts_on": "2026-01-01",
            "ends_on": "2029-12-31",
        },
        201,
    )
    refused = kit.bid(cheat, cid, status=422)["error"]
    assert refused["code"] == "not_eligible" and "造假" not in str(refused)
    # Consortium consent: the partner is invited, sees nothing until it accepts, then is a party.
    bid_a = kit.bid(uni, cid, member_org_ids=[partner.org_id], price="4800000.00")
    assert c.get(f"/api/v1/calls/{cid}/bids/{bid_a['id']}", headers=partner.headers).status_code == 404
    invitation = kit.invitation(partner, bid_a["id"])
    kit.post(partner, f"/api/v1/calls/invitations/{invitation['id']}/accept")
    assert kit.ok(c.get(f"/api/v1/calls/{cid}/bids/{bid_a['id']}", headers=partner.headers))["member_org_ids"] == [
        partner.org_id
    ]
    bid_b = kit.bid(inst, cid, team_leader="李研究员", price="4500000.00")
    experts = kit.experts(2)
    _to_notice_end(kit, call, [bid_a, bid_b], experts)

    projects = kit.post(kit.officer, f"/api/v1/calls/{cid}/award")
    pa, pb = sorted(projects, key=lambda p: p["bid_id"])
    assert [Decimal(p["gov_grant"]) for p in (pa, pb)] == [Decimal("500000.00"), Decimal("500000.00")]
    assert "bid.won" in _events(kit, partner) and "call.award" in _events(kit, kit.firm)
    # The draft 委托开发 contract names the whole consortium.
    contract = kit.ok(c.get(f"/api/v1/contracts/{pa['contract_id']}", headers=kit.officer.headers))
    assert contract["status"] == "draft"
    assert sorted((p["role"], p["org_id"]) for p in contract["parties"]) == sorted(
        [("seller", uni.org_id), ("buyer", kit.firm.org_id), ("consortium_member", partner.org_id)]
    )
    # Signing recorded by each lead (a party): the contract is filed and goes through normal registration.
    for lead, p in ((uni, pa), (inst, pb)):
        signed = kit.post(lead, f"/api/v1/calls/projects/{p['id']}/sign", {"signed_on": "2026-04-30"})
        assert signed["state"] == "in_progress"
    assert kit.ok(c.get(f"/api/v1/contracts/{pa['contract_id']}", headers=uni.headers))["status"] == "submitted"
    registered = kit.post(registrar, f"/api/v1/contracts/{pa['contract_id']}/register")
    assert registered["status"] == "registered" and registered["registration_number"]
    for p in (pa, pb):
        kit.post(kit.officer, f"/api/v1/calls/projects/{p['id']}/tranches/{p['tranches'][0]['id']}/pay")

    # --- mid-term review, then down-selection: B dropped, its unpaid grant reallocated to A.
    keep = {"keep_bid_ids": [bid_a["id"]], "disposition": "reallocated", "reason": "中期评估A组领先"}
    r = c.post(f"/api/v1/calls/{cid}/down-select", json=keep, headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "midterm_review_required"
    kit.post(kit.officer, f"/api/v1/calls/{cid}/midterm-review", {"conclusion": "A组指标领先，B组进度滞后"})
    (dropped,) = kit.post(kit.officer, f"/api/v1/calls/{cid}/down-select", keep)
    assert dropped["state"] == "dropped"
    # B's first tranche (300,000) was paid; the other 200,000 goes to A.
    assert kit.ok(c.get(f"/api/v1/calls/{cid}"))["down_selection"]["amount"] == "200000.00"
    assert kit.ok(c.get(f"/api/v1/contracts/{pb['contract_id']}", headers=kit.officer.headers))["status"] == "cancelled"
    assert "project.dropped" in _events(kit, inst)

    # --- A delivers milestone by milestone, each passed milestone paying its tranche; acceptance passes.
    paid = _deliver_all(kit, uni, pa)
    assert paid == [Decimal("60000.00"), Decimal("60000.00")]  # 30 % and 30 % of the 200,000 after the first
    accepted = kit.post(
        kit.officer, f"/api/v1/calls/projects/{pa['id']}/acceptance", {"result": "passed", "note": "全部指标达成"}
    )
    due = [t for t in accepted["tranches"] if t["state"] == "due"]
    assert sorted((t["kind"], t["amount"]) for t in due) == [("final", "80000.00"), ("reallocated", "200000.00")]
    for t in due:
        kit.post(kit.officer, f"/api/v1/calls/projects/{pa['id']}/tranches/{t['id']}/pay")
    final = kit.ok(c.get(f"/api/v1/calls/projects/{pa['id']}", headers=kit.officer.headers))
    assert sum(Decimal(t["amount"]) for t in final["tranches"] if t["state"] == "paid") == Decimal("700000.00")
    assert "tranche.paid" in _events(kit, partner)
    assert kit.post(kit.officer, f"/api/v1/calls/{cid}/close")["state"] == "closed"

    # --- a second 赛马制 call: one team fails acceptance (recovery), the other is 尽职免责 (no recovery).
    kit.clock.now = T0
    call2 = kit.published_call(winners_count=2, experts_per_bid=1, bid_deadline=DEADLINE.isoformat())
    c2 = call2["id"]
    u2, i2 = kit.bidder(OrgKind.university), kit.bidder(OrgKind.institute)
    b1, b2 = kit.bid(u2, c2), kit.bid(i2, c2, team_leader="王研究员")
    _to_notice_end(kit, call2, [b1, b2], experts)  # the same pool of experts reviews again
    p1, p2 = sorted(kit.post(kit.officer, f"/api/v1/calls/{c2}/award"), key=lambda p: p["bid_id"])
    for lead, p in ((u2, p1), (i2, p2)):
        kit.post(lead, f"/api/v1/calls/projects/{p['id']}/sign", {"signed_on": "2026-04-30"})
        kit.post(kit.officer, f"/api/v1/calls/projects/{p['id']}/tranches/{p['tranches'][0]['id']}/pay")
    # A route change is recorded mid-project for the second team.
    kit.post(
        kit.officer,
        f"/api/v1/calls/projects/{p2['id']}/route-changes",
        {"description": "改用氧化物路线", "reason": "硫化物原料受限", "approved_on": "2026-08-01"},
    )
    failed = kit.post(
        kit.officer,
        f"/api/v1/calls/projects/{p1['id']}/acceptance",
        {"result": "failed", "note": "主要指标未达成", "unspent_amount": "120000.00"},
    )
    assert (failed["state"], failed["recovery_amount"]) == ("failed", "120000.00")
    diligent = kit.post(
        kit.officer,
        f"/api/v1/calls/projects/{p2['id']}/acceptance",
        {
            "result": "diligent",
            "note": "路线受限但勤勉尽责",
            "expert_panel": ["周", "吴", "郑"],
            "expert_panel_conclusion": "经组织专家评议认定，项目承担单位已勤勉尽责，予以免责",
        },
    )
    assert (diligent["state"], diligent["recovery_amount"]) == ("diligent", "0.00")
    assert {t["state"] for t in diligent["tranches"][1:]} == {"cancelled"}
    assert "project.accepted" in _events(kit, i2)
    assert kit.post(kit.officer, f"/api/v1/calls/{c2}/close")["state"] == "closed"
