"""Milestones carry the money: ordered review, tranches per milestone, suspension after a failure and the
officer's decision, overdue reminders by beat, acceptance outcomes, route changes, objections, notifications."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from market.accounts.roles import Role
from market.calls import flows
from market.core.audit import history
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.matching.models import Notification, WebhookDelivery, WebhookSubscription
from tests.calls.conftest import DEADLINE, T0


def _awarded(kit, signed_on="2026-04-30", **terms):
    """A signed project of one university; returns (project, team lead)."""
    kit.clock.now = T0
    call = kit.published_call(experts_per_bid=1, **terms)
    uni = kit.bidder()
    bid = kit.bid(uni, call["id"])
    # Every expert made so far may be assigned: each scores whatever it was given.
    experts = kit.__dict__.setdefault("all_experts", [])
    experts.append(kit.experts(1)[0])
    kit.close_and_check(call["id"], [bid])
    (p,) = kit.to_award(call["id"], [bid["id"]], experts)
    signed = kit.post(uni, f"/api/v1/calls/projects/{p['id']}/sign", {"signed_on": signed_on})
    return signed, uni


def _url(p, tail=""):
    return f"/api/v1/calls/projects/{p['id']}{tail}"


def _submit(kit, who, p, m):
    return kit.post(who, _url(p, f"/milestones/{m['id']}/submit"), {"note": "交付物"})


def _review(kit, p, m, passed=True, status=200, note="评审意见"):
    return kit.post(kit.officer, _url(p, f"/milestones/{m['id']}/review"), {"passed": passed, "note": note}, status)


def _inbox(kit, who):
    return kit.ok(kit.client.get("/api/v1/inbox", headers=who.headers))["items"]


def test_milestones_reviewed_in_order_each_releasing_its_tranche(kit):
    p, uni = _awarded(kit)
    m1, m2, m3 = p["milestones"]
    _submit(kit, uni, p, m2)
    # m2 is handed in, but m1 comes first.
    assert _review(kit, p, m2, status=409)["error"]["code"] == "milestone_order"
    _submit(kit, uni, p, m1)
    after = _review(kit, p, m1)
    by_milestone = {t["milestone_id"]: t for t in after["tranches"]}
    assert by_milestone[m1["id"]]["state"] == "due" and by_milestone[m2["id"]]["state"] == "scheduled"
    paid = kit.post(kit.officer, _url(p, f"/tranches/{by_milestone[m1['id']]['id']}/pay"))
    assert {t["milestone_id"]: t["state"] for t in paid["tranches"]}[m1["id"]] == "paid"
    after = _review(kit, p, m2)
    # The last milestone's tranche is the final one: it waits for acceptance, not for the review.
    _submit(kit, uni, p, m3)
    after = _review(kit, p, m3)
    assert [(t["kind"], t["state"]) for t in after["tranches"]] == [
        ("first", "due"),
        ("milestone", "paid"),
        ("milestone", "due"),
        ("final", "scheduled"),
    ]
    # The team was told of each review and of the payment.
    events = [n["detail"]["event"] for n in _inbox(kit, uni)]
    assert events.count("milestone.reviewed") == 3 and "tranche.paid" in events


def test_only_the_bureau_reviews_pays_and_decides(kit):
    p, uni = _awarded(kit)
    m1 = p["milestones"][0]
    _submit(kit, uni, p, m1)
    for who in (uni, kit.firm, kit.world.expert()):
        r = kit.client.post(_url(p, f"/milestones/{m1['id']}/review"), json={"passed": True}, headers=who.headers)
        assert r.status_code in (403, 404)
    _review(kit, p, m1, passed=False)
    for who in (uni, kit.firm):
        r = kit.client.post(
            _url(p, f"/milestones/{m1['id']}/decision"),
            json={"decision": "continue", "reason": "x"},
            headers=who.headers,
        )
        assert r.status_code == 403
    registrar = kit.world.bureau(Role.registrar)
    r = kit.client.post(
        _url(p, f"/milestones/{m1['id']}/decision"),
        json={"decision": "continue", "reason": "x"},
        headers=registrar.headers,
    )
    assert r.status_code == 403


def test_failed_milestone_suspends_later_tranches_until_rework_passes(kit):
    p, uni = _awarded(kit)
    m1, m2, _ = p["milestones"]
    _submit(kit, uni, p, m1)
    failed = _review(kit, p, m1, passed=False, note="样品性能不达标")
    assert failed["state"] == "suspended"
    assert [t["state"] for t in failed["tranches"]] == ["due", "suspended", "suspended", "suspended"]
    # While suspended nothing moves: no submissions, no acceptance.
    r = kit.client.post(_url(p, f"/milestones/{m2['id']}/submit"), json={"note": "x"}, headers=uni.headers)
    assert r.status_code == 409
    r = kit.client.post(_url(p, "/acceptance"), json={"result": "passed", "note": "x"}, headers=kit.officer.headers)
    assert r.status_code == 409
    r = kit.client.post(
        _url(p, f"/milestones/{m1['id']}/decision"),
        json={"decision": "pause", "reason": "x"},
        headers=kit.officer.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "decision_invalid"
    rework = kit.post(
        kit.officer, _url(p, f"/milestones/{m1['id']}/decision"), {"decision": "rework", "reason": "限期整改"}
    )
    assert rework["state"] == "in_progress" and rework["milestones"][0]["state"] == "pending"
    assert [t["state"] for t in rework["tranches"]] == ["due", "scheduled", "scheduled", "scheduled"]
    _submit(kit, uni, p, m1)
    passed = _review(kit, p, m1)
    assert [t["state"] for t in passed["tranches"]] == ["due", "due", "scheduled", "scheduled"]
    with session_scope() as s:
        actions = [e.action for e in history(s, "call_project", p["id"])]
    assert actions[-5:] == [
        "submit_milestone",
        "review_milestone",
        "milestone_rework",
        "submit_milestone",
        "review_milestone",
    ]


def test_continue_withholds_the_failed_tranche_and_terminate_records_recovery(kit):
    p, uni = _awarded(kit)
    m1, m2, _ = p["milestones"]
    kit.post(kit.officer, _url(p, f"/tranches/{p['tranches'][0]['id']}/pay"))
    _submit(kit, uni, p, m1)
    _review(kit, p, m1, passed=False)
    cont = kit.post(
        kit.officer, _url(p, f"/milestones/{m1['id']}/decision"), {"decision": "continue", "reason": "影响有限"}
    )
    assert [t["state"] for t in cont["tranches"]] == ["paid", "cancelled", "scheduled", "scheduled"]
    _submit(kit, uni, p, m2)
    _review(kit, p, m2, passed=False)
    body = {"decision": "terminate", "reason": "技术路线不可行"}
    r = kit.client.post(_url(p, f"/milestones/{m2['id']}/decision"), json=body, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unspent_amount_required"
    r = kit.client.post(
        _url(p, f"/milestones/{m2['id']}/decision"),
        json={**body, "unspent_amount": "999999999.00"},
        headers=kit.officer.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unspent_amount_range"
    ended = kit.post(kit.officer, _url(p, f"/milestones/{m2['id']}/decision"), {**body, "unspent_amount": "200000.00"})
    assert ended["state"] == "terminated" and ended["recovery_amount"] == "200000.00"
    assert [t["state"] for t in ended["tranches"]] == ["paid", "cancelled", "cancelled", "cancelled"]


def test_overdue_milestones_remind_team_and_officer_once_by_beat(kit):
    from workers.app import celery_app
    from workers.calls import remind_overdue

    p, uni = _awarded(kit)
    # Signed 2026-04-30: milestone 1 is due 2026-12-30; the day after it is overdue.
    with session_scope() as s:
        assert flows.remind_overdue(s, dt.datetime(2026, 12, 30, 12, tzinfo=dt.UTC)) == []
    with session_scope() as s:
        assert flows.remind_overdue(s, dt.datetime(2026, 12, 31, 1, tzinfo=dt.UTC)) == [p["milestones"][0]["id"]]
    # The beat task runs on the real clock: a ten-year project signed in 2020 is long overdue on all three milestones.
    old, old_team = _awarded(kit, signed_on="2020-01-15", duration_months=120)
    reminded = set(remind_overdue.apply().get())
    assert {m["id"] for m in old["milestones"]} <= reminded and p["milestones"][0]["id"] not in reminded
    assert remind_overdue.apply().get() == []
    assert celery_app.conf.beat_schedule["calls-remind-overdue"]["task"] == "market.calls.remind_overdue"
    assert len([n for n in _inbox(kit, uni) if n["detail"]["event"] == "milestone.overdue"]) == 1
    team = [n for n in _inbox(kit, old_team) if n["detail"]["event"] == "milestone.overdue"]
    officer = [n for n in _inbox(kit, kit.officer) if n["detail"]["event"] == "milestone.overdue"]
    assert len(team) == 3 and len(officer) == 4 and team[0]["listing_type"] == "call"
    # An outsider hears nothing.
    assert _inbox(kit, kit.bidder()) == []


def test_acceptance_outcomes_differ(kit):
    p, uni = _awarded(kit)
    for m in p["milestones"]:
        _submit(kit, uni, p, m)
        _review(kit, p, m)
    passed = kit.post(kit.officer, _url(p, "/acceptance"), {"result": "passed", "note": "指标全部达成"})
    assert passed["tranches"][-1]["state"] == "due" and passed["recovery_amount"] is None
    assert "project.accepted" in [n["detail"]["event"] for n in _inbox(kit, kit.firm)]
    # failed: the unspent amount is recorded for recovery (at most what was paid).
    p2, uni2 = _awarded(kit)
    body = {"result": "failed", "note": "未达指标"}
    r = kit.client.post(_url(p2, "/acceptance"), json=body, headers=kit.officer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unspent_amount_required"
    kit.post(kit.officer, _url(p2, f"/tranches/{p2['tranches'][0]['id']}/pay"))
    failed = kit.post(kit.officer, _url(p2, "/acceptance"), {**body, "unspent_amount": "150000.00"})
    assert failed["recovery_amount"] == "150000.00" and failed["tranches"][-1]["state"] == "cancelled"
    # 尽职免责: only on an expert panel's recorded conclusion; nothing to recover.
    p3, _ = _awarded(kit)
    body = {"result": "diligent", "note": "勤勉尽责"}
    for extra in (
        {},
        {"expert_panel": ["王", "李"], "expert_panel_conclusion": "免责"},
        {"expert_panel": ["王", "李", "赵"]},
    ):
        r = kit.client.post(_url(p3, "/acceptance"), json={**body, **extra}, headers=kit.officer.headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "expert_panel_required"
    r = kit.client.post(
        _url(p3, "/acceptance"),
        json={**body, "expert_panel": ["王", "李", "赵"], "expert_panel_conclusion": "经专家评议，予以免责"},
        headers=uni.headers,
    )
    assert r.status_code in (403, 404)
    dil = kit.post(
        kit.officer,
        _url(p3, "/acceptance"),
        {**body, "expert_panel": ["王", "李", "赵"], "expert_panel_conclusion": "经专家评议，予以免责"},
    )
    assert (dil["state"], dil["recovery_amount"], dil["expert_panel"]) == ("diligent", "0.00", ["王", "李", "赵"])


def test_route_change_recorded_by_the_bureau_only(kit):
    p, uni = _awarded(kit)
    body = {"description": "由硫化物体系改为氧化物体系", "reason": "原料受限", "approved_on": "2026-09-01"}
    for who in (uni, kit.firm):
        assert kit.client.post(_url(p, "/route-changes"), json=body, headers=who.headers).status_code == 403
    changed = kit.post(kit.officer, _url(p, "/route-changes"), body)
    assert [(c["description"], c["approved_on"]) for c in changed["route_changes"]] == [
        ("由硫化物体系改为氧化物体系", "2026-09-01")
    ]
    with session_scope() as s:
        assert history(s, "call_project", p["id"])[-1].action == "route_change"


# --- objections -------------------------------------------------------------------------------------


@pytest.fixture
def in_notice(kit):
    call = kit.published_call(experts_per_bid=1)
    uni = kit.bidder()
    bid = kit.bid(uni, call["id"])
    experts = kit.experts(1)
    kit.close_and_check(call["id"], [bid])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.score_all(call["id"], experts)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/notice", {"bid_ids": [bid["id"]]})
    return kit, call, bid, uni


def test_objection_seen_by_the_bidder_without_the_objector_who_may_answer(in_notice):
    kit, call, bid, uni = in_notice
    rival = kit.bidder(OrgKind.institute)
    url = f"/api/v1/calls/{call['id']}/objections"
    obj = kit.post(rival, url, {"bid_id": bid["id"], "text": "团队负责人资质存疑"}, 201)
    assert obj["lodged_by_org_id"] == rival.org_id  # the objector sees its own
    seen = kit.ok(kit.client.get(url, headers=uni.headers))
    assert [(o["id"], o["lodged_by_org_id"]) for o in seen] == [(obj["id"], None)]
    assert "objection.lodged" in [n["detail"]["event"] for n in _inbox(kit, uni)]
    # An outsider neither sees nor answers it.
    outsider = kit.bidder()
    assert kit.ok(kit.client.get(url, headers=outsider.headers)) == []
    r = kit.client.post(f"{url}/{obj['id']}/answer", json={"answer": "x"}, headers=outsider.headers)
    assert r.status_code == 404
    # The objector cannot answer it either; the bidder can, before resolution.
    r = kit.client.post(f"{url}/{obj['id']}/answer", json={"answer": "x"}, headers=rival.headers)
    assert r.status_code == 404
    answered = kit.post(uni, f"{url}/{obj['id']}/answer", {"answer": "负责人具备高级职称，附证明"})
    assert answered["answer"] == "负责人具备高级职称，附证明" and answered["lodged_by_org_id"] is None
    assert kit.ok(kit.client.get(url, headers=kit.officer.headers))[0]["answer"] == answered["answer"]
    # Only the bureau discloses the objector.
    r = kit.client.post(f"{url}/{obj['id']}/disclose", json={"reason": "x"}, headers=uni.headers)
    assert r.status_code == 403
    kit.post(kit.officer, f"{url}/{obj['id']}/disclose", {"reason": "双方当面核实"})
    assert kit.ok(kit.client.get(url, headers=uni.headers))[0]["lodged_by_org_id"] == rival.org_id
    kit.post(kit.officer, f"{url}/{obj['id']}/resolve", {"upheld": False, "resolution": "证明材料齐全"})
    r = kit.client.post(f"{url}/{obj['id']}/answer", json={"answer": "再答"}, headers=uni.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_resolved"
    for who in (rival, uni):
        assert "objection.resolved" in [n["detail"]["event"] for n in _inbox(kit, who)]


def test_stage_changes_reach_bidders_inbox_and_webhooks(kit):
    call = kit.published_call()
    uni = kit.bidder()
    with session_scope() as s:
        s.add(WebhookSubscription(user_id=uni.user_id, url="https://example.org/hook", secret="s" * 32, active=True))
    kit.bid(uni, call["id"])
    kit.clock.now = DEADLINE
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/close-bidding")
    notes = _inbox(kit, uni)
    assert [n["detail"]["event"] for n in notes] == ["call.close_bidding"]
    assert notes[0]["saved_search_id"] is None and notes[0]["listing_id"] == call["id"]
    with session_scope() as s:
        deliveries = s.scalars(
            sa.select(WebhookDelivery).join(Notification).where(Notification.user_id == uni.user_id)
        ).all()
        assert [d.status for d in deliveries] == ["pending"]


# --- award contracts --------------------------------------------------------------------------------


def test_signing_is_recorded_by_the_filing_lead_only_never_the_bureau_and_files_the_contract(kit):
    kit.clock.now = T0
    call = kit.published_call(experts_per_bid=1)
    uni, partner = kit.bidder(), kit.bidder(OrgKind.enterprise)
    bid = kit.consortium_bid(uni, call["id"], [partner])
    experts = kit.experts(1)
    kit.close_and_check(call["id"], [bid])
    (p,) = kit.to_award(call["id"], [bid["id"]], experts)
    contract_url = f"/api/v1/contracts/{p['contract_id']}"
    parties = kit.ok(kit.client.get(contract_url, headers=partner.headers))["parties"]
    assert {(x["role"], x["org_id"]) for x in parties} >= {("consortium_member", partner.org_id)}
    # A consortium member, the posing firm (buyer) and an expert may not; bureau staff of any role may not file.
    for who in (partner, kit.firm, kit.world.expert()):
        r = kit.client.post(_url(p, "/sign"), json={"signed_on": "2026-04-30"}, headers=who.headers)
        assert r.status_code in (403, 404)
    for role in (Role.programme_officer, Role.bureau_admin, Role.registrar):
        r = kit.client.post(_url(p, "/sign"), json={"signed_on": "2026-04-30"}, headers=kit.world.bureau(role).headers)
        assert r.status_code == 403 and r.json()["error"]["code"] in ("bureau_may_not_file", "role_required")
    assert kit.ok(kit.client.get(contract_url, headers=uni.headers))["status"] == "draft"
    kit.post(uni, _url(p, "/sign"), {"signed_on": "2026-04-30"})
    filed = kit.ok(kit.client.get(contract_url, headers=uni.headers))
    assert (filed["status"], filed["signing_date"], filed["payment_method"]) == (
        "submitted",
        "2026-04-30",
        "instalments",
    )


def test_terminated_project_withdraws_its_contract(kit):
    p, uni = _awarded(kit)
    m1 = p["milestones"][0]
    _submit(kit, uni, p, m1)
    _review(kit, p, m1, passed=False)
    kit.post(
        kit.officer,
        _url(p, f"/milestones/{m1['id']}/decision"),
        {"decision": "terminate", "reason": "无法继续", "unspent_amount": "0.00"},
    )
    contract = kit.ok(kit.client.get(f"/api/v1/contracts/{p['contract_id']}", headers=kit.officer.headers))
    assert contract["status"] == "cancelled"


def test_first_tranche_of_zero_with_a_reason_pays_everything_by_milestone(kit):
    p, uni = _awarded(kit, first_tranche_pct=0, first_tranche_reason="全部按里程碑拨付")
    assert [(t["kind"], t["amount"]) for t in p["tranches"]] == [
        ("milestone", "300000.00"),
        ("milestone", "300000.00"),
        ("final", "400000.00"),
    ]
    m1 = p["milestones"][0]
    _submit(kit, uni, p, m1)
    assert _review(kit, p, m1)["tranches"][0]["state"] == "due"
