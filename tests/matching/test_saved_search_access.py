"""Saved searches evaluate only what their owner may see at that moment; one that loses sight pauses and says why.

One test per kind of saved search: "match for a listing" watching a demand or an achievement, and a text
query watching achievements or demands. Webhooks follow the inbox: a paused search posts nothing.
"""

from __future__ import annotations

import pytest

from market.accounts.roles import Role
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.matching import flows, notifications, saved_searches
from market.matching.models import SavedSearch, WebhookDelivery
from tests.accounts.helpers import audit_actions
from tests.matching.test_endpoints import allow_loopback_webhooks, receiver  # noqa: F401 - fixtures
from tests.search.conftest import drain, post, transition

OTHER = {"demand": "achievement", "achievement": "demand"}


@pytest.fixture
def people(pg_world):
    return {
        "firm": pg_world.member(OrgKind.enterprise, region_code="330212"),
        "institute": pg_world.member(OrgKind.institute, region_code="330203"),
        "broker": pg_world.member(OrgKind.intermediary, Role.member),
        "bureau": pg_world.bureau(Role.bureau_admin),
    }


def _notify(kind: str, listing_id: int) -> tuple[list[int], list[int]]:
    with session_scope() as s:
        created = saved_searches.notify_for_listing(s, kind, listing_id)
        return created, notifications.pending_deliveries(s, created)


def _inbox(client, member) -> list[int]:
    return [n["listing_id"] for n in client.get("/api/v1/inbox", headers=member.headers).json()["items"]]


def _saved(client, member, saved_id: int) -> dict:
    return next(s for s in client.get("/api/v1/saved-searches", headers=member.headers).json() if s["id"] == saved_id)


def _hook(client, member) -> None:
    # a subscription whose deliveries are counted, never sent, in these tests
    r = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=member.headers)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("source_kind", ["demand", "achievement"])
def test_match_for_a_listing_pauses_when_its_owner_takes_the_listing_back_to_draft(
    pg_client, meili, people, source_kind, allow_loopback_webhooks
):
    owner = people["firm"] if source_kind == "demand" else people["institute"]
    poster = people["institute"] if source_kind == "demand" else people["firm"]
    broker = people["broker"]
    source = post(pg_client, owner, source_kind)
    drain()
    r = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "对手需求的匹配", "source_type": source_kind, "source_id": source, "min_score": 0},
        headers=broker.headers,
    )
    assert r.status_code == 201, r.text
    saved_id = r.json()["id"]
    _hook(pg_client, broker)

    first = post(pg_client, poster, OTHER[source_kind])
    drain()
    created, deliveries = _notify(OTHER[source_kind], first)
    assert len(created) == 1 and len(deliveries) == 1  # while the source is public, the broker is told

    # the owner takes its listing back to draft (withdraw, re-open): from now on only its own org sees it
    transition(pg_client, owner, source_kind, source, "withdraw")
    transition(pg_client, owner, source_kind, source, "reopen")
    second = post(
        pg_client, poster, OTHER[source_kind], title="第二个" + ("成果" if source_kind == "demand" else "需求")
    )
    drain()
    assert _notify(OTHER[source_kind], second) == ([], [])
    assert _inbox(pg_client, broker) == [first]
    saved = _saved(pg_client, broker, saved_id)
    assert saved["active"] is False and saved["paused_reason"] == "source_not_visible"
    assert audit_actions("saved_search", saved_id) == ["create", "pause"]


def test_match_for_my_own_draft_keeps_working(pg_client, meili, people):
    # the owner's own organisation still sees its draft: the search is about visibility, not state
    firm, inst = people["firm"], people["institute"]
    demand = post(pg_client, firm, "demand")
    drain()
    saved_id = pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "我的需求", "source_type": "demand", "source_id": demand, "min_score": 0},
        headers=firm.headers,
    ).json()["id"]
    transition(pg_client, firm, "demand", demand, "withdraw")
    transition(pg_client, firm, "demand", demand, "reopen")
    fits = post(pg_client, inst, "achievement")
    drain()
    assert len(_notify("achievement", fits)[0]) == 1
    assert _saved(pg_client, firm, saved_id)["active"] is True


@pytest.mark.parametrize(("target", "query"), [("achievement", "正极材料"), ("demand", "锂电")])
def test_query_search_pauses_when_its_owner_is_disabled(
    pg_client, meili, people, target, query, allow_loopback_webhooks
):
    broker = people["broker"]
    saved_id = pg_client.post(
        "/api/v1/saved-searches", json={"name": query, "target": target, "query": query}, headers=broker.headers
    ).json()["id"]
    _hook(pg_client, broker)
    poster = people["institute"] if target == "achievement" else people["firm"]
    first = post(pg_client, poster, target)
    drain()
    assert len(_notify(target, first)[0]) == 1

    r = pg_client.post(f"/api/v1/users/{broker.user_id}/disable", headers=people["bureau"].headers)
    assert r.status_code == 200
    second = post(pg_client, poster, target, title="又一个锂电正极材料项目")
    drain()
    assert _notify(target, second) == ([], [])
    with session_scope() as s:
        saved = s.get(SavedSearch, saved_id)
        assert (saved.active, saved.paused_reason) == (False, "owner_disabled")


@pytest.mark.parametrize("change", ["listing_back_to_draft", "owner_disabled"])
def test_webhook_delivery_is_withheld_when_its_owner_may_no_longer_see(pg_client, meili, people, receiver, change):
    broker, inst = people["broker"], people["institute"]
    pg_client.post(
        "/api/v1/saved-searches",
        json={"name": "正极", "target": "achievement", "query": "正极材料"},
        headers=broker.headers,
    )
    hook = pg_client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=broker.headers).json()
    listing = post(pg_client, inst, "achievement")
    drain()
    _, deliveries = _notify("achievement", listing)
    assert len(deliveries) == 1
    if change == "listing_back_to_draft":  # between the notification and its delivery
        transition(pg_client, inst, "achievement", listing, "withdraw")
        transition(pg_client, inst, "achievement", listing, "reopen")
    else:
        assert (
            pg_client.post(f"/api/v1/users/{broker.user_id}/disable", headers=people["bureau"].headers).status_code
            == 200
        )
    assert flows.deliver_webhook(deliveries[0]) == "withheld"
    assert receiver.requests == []
    with session_scope() as s:
        delivery = s.get(WebhookDelivery, deliveries[0])
        expected = "listing_not_visible" if change == "listing_back_to_draft" else "owner_disabled"
        assert (delivery.status, delivery.last_error, delivery.subscription_id) == ("withheld", expected, hook["id"])
