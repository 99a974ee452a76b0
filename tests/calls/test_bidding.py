"""Bidding: eligibility, consortia, one bid per organisation, and the deadline to the microsecond."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from market.accounts.models import Organisation
from market.calls import flows
from market.calls.models import Bid, Call
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.calls.conftest import DEADLINE, bid_body, call_body

TICK = dt.timedelta(microseconds=1)


def test_bid_accepted_just_before_deadline_refused_at_it(kit):
    call = kit.published_call()
    early, late = kit.bidder(), kit.bidder()
    kit.clock.now = DEADLINE - TICK
    bid = kit.bid(early, call["id"])
    assert dt.datetime.fromisoformat(bid["submitted_at"]) == DEADLINE - TICK
    kit.clock.now = DEADLINE
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids", json=bid_body(), headers=late.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "bidding_closed"
    # Nor may the accepted bid be changed or withdrawn at the deadline (the beat has not even run yet).
    r = kit.client.patch(f"/api/v1/calls/{call['id']}/bids/{bid['id']}", json={"price": "1.00"}, headers=early.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "bidding_closed"
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids/{bid['id']}/withdraw", headers=early.headers)
    assert r.status_code == 409
    with session_scope() as s:
        assert [str(p) for p in s.scalars(sa.select(Bid.price))] == ["4800000.00"]


def test_change_allowed_before_deadline(kit):
    call = kit.published_call()
    uni = kit.bidder()
    bid = kit.bid(uni, call["id"])
    kit.clock.now = DEADLINE - TICK
    changed = kit.ok(
        kit.client.patch(
            f"/api/v1/calls/{call['id']}/bids/{bid['id']}", json={"price": "4000000.00"}, headers=uni.headers
        )
    )
    assert changed["price"] == "4000000.00" and changed["last_changed_at"] != changed["submitted_at"]


def test_beat_closes_bidding_only_once_due(kit):
    call = kit.published_call()
    with session_scope() as s:
        assert flows.advance_deadlines(s, DEADLINE - TICK) == {"bidding_closed": [], "notice_ended": []}
    with session_scope() as s:
        assert flows.advance_deadlines(s, DEADLINE) == {"bidding_closed": [call["id"]], "notice_ended": []}
    with session_scope() as s:
        assert s.get(Call, call["id"]).state == "bidding_closed"
        # A second run is a no-op.
        assert flows.advance_deadlines(s, DEADLINE) == {"bidding_closed": [], "notice_ended": []}
    # The officer cannot close early either.
    other = kit.published_call()
    r = kit.client.post(f"/api/v1/calls/{other['id']}/close-bidding", headers=kit.officer.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "deadline_not_reached"


def test_celery_task_runs_the_service(kit):
    from workers.calls import advance_deadlines

    call = kit.published_call(bid_deadline=(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat())
    with session_scope() as s:
        s.get(Call, call["id"]).bid_deadline = dt.datetime.now(dt.UTC) - TICK
    assert advance_deadlines.apply().get() == {"bidding_closed": [call["id"]], "notice_ended": []}


@pytest.mark.parametrize(
    ("terms", "org_kw", "code"),
    [
        ({"eligible_regions": ["3302"]}, {"region_code": "330106"}, "region_not_eligible"),
        ({"eligible_entity_types": ["022"]}, {"entity_type_code": "021"}, "entity_type_not_eligible"),
        # 科研失信: the bidder learns only that it is not eligible.
        ({}, {"research_integrity_blacklisted": True}, "not_eligible"),
        ({}, {"verified": False}, "org_not_verified"),
    ],
)
def test_eligibility_enforced(kit, terms, org_kw, code):
    call = kit.published_call(**terms)
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids", json=bid_body(), headers=kit.bidder(**org_kw).headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == code


def test_consortium_rules(kit):
    call = kit.published_call(consortium_allowed=False)
    uni, firm = kit.bidder(), kit.bidder(OrgKind.enterprise)
    r = kit.client.post(
        f"/api/v1/calls/{call['id']}/bids", json=bid_body(member_org_ids=[firm.org_id]), headers=uni.headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "consortium_not_allowed"

    call = kit.published_call()
    bad = kit.world.org(OrgKind.enterprise)
    with session_scope() as s:
        s.get(Organisation, bad).research_integrity_blacklisted = True
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids", json=bid_body(member_org_ids=[bad]), headers=uni.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_eligible"
    kit.consortium_bid(uni, call["id"], [firm])
    # The same organisation cannot bid twice, nor lead a bid while a member of another.
    assert kit.bid(uni, call["id"], status=409)["error"]["code"] == "already_bid"
    assert kit.bid(firm, call["id"], status=409)["error"]["code"] == "already_bid"


def test_milestone_shares_must_sum_to_100(kit):
    call = kit.published_call()
    ms = bid_body()["milestones"]
    ms[2]["payment_share_pct"] = 30
    err = kit.bid(kit.bidder(), call["id"], status=422, milestones=ms)["error"]
    assert err["code"] == "shares_sum"


def test_only_org_users_bid_and_not_on_unpublished_calls(kit):
    call = kit.published_call()
    r = kit.client.post(f"/api/v1/calls/{call['id']}/bids", json=bid_body(), headers=kit.world.expert().headers)
    assert r.status_code == 403
    draft = kit.post(kit.firm, "/api/v1/calls", call_body(), 201)
    r = kit.client.post(f"/api/v1/calls/{draft['id']}/bids", json=bid_body(), headers=kit.bidder().headers)
    assert r.status_code == 404


def test_withdrawn_bid_frees_the_team(kit):
    call = kit.published_call()
    uni, firm = kit.bidder(), kit.bidder(OrgKind.enterprise)
    bid = kit.consortium_bid(uni, call["id"], [firm])
    withdrawn = kit.post(uni, f"/api/v1/calls/{call['id']}/bids/{bid['id']}/withdraw")
    assert withdrawn["state"] == "withdrawn"
    # The former member may now lead its own bid, and the former lead may bid again.
    kit.bid(firm, call["id"])
    kit.bid(uni, call["id"])


def test_posing_firm_cannot_bid_on_its_own_call(kit):
    call = kit.published_call()
    err = kit.bid(kit.firm, call["id"], status=422)["error"]
    assert err["code"] == "posing_org_excluded"
