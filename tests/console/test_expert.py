"""Expert pages: assignments, an assigned bid, scoring per criterion, conflicts; unassigned bids stay closed."""

from __future__ import annotations

import re

import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.calls.models import ReviewAssignment
from market.core.audit import AuditEntry
from market.core.db import session_scope
from tests.calls.conftest import Kit
from tests.console.conftest import csrf_tokens, sign_in
from tests.factories import Member


def review_running(kit: Kit) -> tuple[int, Member, int, int, Member]:
    """A call in review with two bids, one expert each: (call, expert, their bid, a bid not theirs, other expert)."""
    call = kit.published_call(experts_per_bid=1)
    bids = [kit.bid(kit.bidder(), call["id"]), kit.bid(kit.bidder(), call["id"])]
    experts = kit.experts(2)
    kit.close_and_check(call["id"], bids)
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    with session_scope() as s:
        pairs = {(u, b) for u, b in s.execute(sa.select(ReviewAssignment.expert_user_id, ReviewAssignment.bid_id))}
    for e in experts:
        theirs = [b["id"] for b in bids if (e.user_id, b["id"]) in pairs]
        others = [b["id"] for b in bids if (e.user_id, b["id"]) not in pairs]
        if theirs and others:
            other_expert = next(x for x in experts if x is not e)
            return call["id"], e, theirs[0], others[0], other_expert
    raise AssertionError(f"no expert with one bid and not the other: {pairs}")


def test_expert_scores_an_assigned_bid(kit: Kit) -> None:
    client: TestClient = kit.client
    call_id, expert, bid_id, _, _ = review_running(kit)
    csrf = sign_in(client, expert)
    mine = client.get("/console/expert")
    assert mine.status_code == 200 and f'data-bid="{bid_id}"' in mine.text and "待评分" in mine.text
    page = client.get(f"/console/expert/calls/{call_id}/bids/{bid_id}")
    assert page.status_code == 200
    assert csrf_tokens(page.text) == {csrf}  # logout, scoring and conflict forms
    for text in ("采用硫化物体系", "技术方案", "50%", "评分指引", "张教授", "4,800,000.00"):
        assert text in page.text, text
    url = f"/console/expert/calls/{call_id}/bids/{bid_id}/scores"
    # a criterion left empty: the error stands beside that criterion, nothing is recorded
    r = client.post(url, data={"csrf_token": csrf, "score-0": "80", "score-1": "", "score-2": "90"})
    assert r.status_code == 422 and 'id="score-1-error"' in r.text and "score_required" in r.text
    r = client.post(url, data={"csrf_token": csrf, "score-0": "80", "score-1": "101", "score-2": "90"})
    assert r.status_code == 422 and "scores_invalid" in r.text
    r = client.post(
        url,
        data={"csrf_token": csrf, "score-0": "80", "score-1": "70", "score-2": "90", "comment": "方案可行"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "评分已提交" in page.text and _my_total(page.text) == "79.00"
    assert 'id="score-form"' not in page.text
    # scoring again is refused by the service (already scored) — the form is gone, the POST still checked
    again = client.post(url, data={"csrf_token": csrf, "score-0": "10", "score-1": "10", "score-2": "10"})
    assert again.status_code == 409 and "already_scored" in again.text
    with session_scope() as s:
        a = s.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.bid_id == bid_id))
        assert a is not None and a.scores == {"技术方案": 80, "团队实力": 70, "报价": 90} and a.comment == "方案可行"
        assert (
            s.scalar(
                sa.select(sa.func.count()).where(
                    AuditEntry.entity_type == "call_bid",
                    AuditEntry.action == "score",
                    AuditEntry.actor_user_id == expert.user_id,
                )
            )
            == 1
        )


def test_unassigned_bid_is_not_found_and_cannot_be_scored(kit: Kit) -> None:
    client: TestClient = kit.client
    call_id, expert, _, other_bid, other_expert = review_running(kit)
    csrf = sign_in(client, expert)
    r = client.get(f"/console/expert/calls/{call_id}/bids/{other_bid}")
    assert r.status_code == 404 and "bid_not_found" in r.text and "采用硫化物体系" not in r.text
    r = client.post(
        f"/console/expert/calls/{call_id}/bids/{other_bid}/scores",
        data={"csrf_token": csrf, "score-0": "80", "score-1": "70", "score-2": "90"},
    )
    assert r.status_code == 404
    with session_scope() as s:
        a = s.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.bid_id == other_bid))
        assert a is not None and a.state == "assigned" and a.expert_user_id == other_expert.user_id


def _my_total(html: str) -> str:
    """The weighted total in the foot of my scores table (not any "79.00" elsewhere on the page)."""
    found = re.search(r'id="my-scores".*?<tfoot>.*?<th class="num">([^<]*)</th>', html, flags=re.S)
    assert found, "no total in my scores"
    return found.group(1).strip()


def _cells(html: str) -> str:
    """The page's text and cells, without attribute values (CSRF tokens are hex and contain any digits)."""
    return re.sub(r"""(value|hx-headers)=("[^"]*"|'[^']*')""", "", html)


def test_other_experts_scores_are_never_shown(kit: Kit) -> None:
    client: TestClient = kit.client
    call = kit.published_call(experts_per_bid=2)
    bid = kit.bid(kit.bidder(), call["id"])
    first, second = kit.experts(2)
    kit.close_and_check(call["id"], [bid])
    kit.post(kit.officer, f"/api/v1/calls/{call['id']}/review")
    kit.score_all(call["id"], [first], {"技术方案": 11, "团队实力": 37, "报价": 53})  # total 27.20
    csrf = sign_in(client, second)
    url = f"/console/expert/calls/{call['id']}/bids/{bid['id']}"
    others = re.compile(r">\s*(11|37|53|27\.20)\s*<")
    for page in (client.get(url).text, client.get("/console/expert").text):
        assert 'id="score-form"' in page or "data-bid" in page
        assert not others.search(_cells(page))
    r = client.post(
        f"{url}/scores",
        data={"csrf_token": csrf, "score-0": "80", "score-1": "70", "score-2": "90"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = client.get(url).text
    assert _my_total(after) == "79.00" and not others.search(_cells(after))  # after submitting: still only my own


def test_declaring_a_conflict_recuses_through_the_service(kit: Kit) -> None:
    client: TestClient = kit.client
    call_id, expert, bid_id, _, _ = review_running(kit)
    kit.experts(1)  # someone to take the review over
    csrf = sign_in(client, expert)
    url = f"/console/expert/calls/{call_id}/bids/{bid_id}/conflict"
    r = client.post(url, data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    r = client.post(url, data={"csrf_token": csrf, "reason": "曾任牵头单位顾问"}, follow_redirects=False)
    assert r.status_code == 303
    with session_scope() as s:
        states = {
            a.expert_user_id: a.state
            for a in s.scalars(sa.select(ReviewAssignment).where(ReviewAssignment.bid_id == bid_id))
        }
    assert states[expert.user_id] == "recused" and "assigned" in states.values()
    assert client.get(f"/console/expert/calls/{call_id}/bids/{bid_id}").status_code == 404


def test_only_experts_use_the_expert_pages(kit: Kit) -> None:
    client: TestClient = kit.client
    call_id, _, bid_id, _, _ = review_running(kit)
    for member in (kit.world.bureau(Role.registrar), kit.officer, kit.firm):
        csrf = sign_in(client, member)
        assert client.get("/console/expert").status_code == 403
        assert client.get(f"/console/expert/calls/{call_id}/bids/{bid_id}").status_code == 403
        r = client.post(f"/console/expert/calls/{call_id}/bids/{bid_id}/scores", data={"csrf_token": csrf})
        assert r.status_code == 403
    client.cookies.clear()
    assert client.get("/console/expert", follow_redirects=False).status_code == 303


def test_scoring_without_the_csrf_token_is_refused(kit: Kit) -> None:
    client: TestClient = kit.client
    call_id, expert, bid_id, _, _ = review_running(kit)
    sign_in(client, expert)
    r = client.post(
        f"/console/expert/calls/{call_id}/bids/{bid_id}/scores",
        data={"score-0": "80", "score-1": "70", "score-2": "90"},
    )
    assert r.status_code == 403 and "csrf_failed" in r.text
    with session_scope() as s:
        a = s.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.bid_id == bid_id))
        assert a is not None and a.state == "assigned"
