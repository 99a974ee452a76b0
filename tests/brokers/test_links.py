"""Broker ↔ contract links: proposed by the contract's intermediary, confirmed by its filer, employment on the signing date."""

from __future__ import annotations

import datetime as dt

from tests.brokers.conftest import API, contract, decide, link, ok, refused, register


def test_propose_and_confirm_per_role(client, parties):
    b = register(client, parties.agency)
    c = contract(parties, parties.agency, dt.date(2026, 3, 10), 1_200_000, 1_000_000)
    for who, status, code in [
        (parties.agency_b, 403, "not_contract_intermediary"),
        (parties.agency_member, 403, "not_contract_intermediary"),
        (parties.seller, 403, "not_contract_intermediary"),
        (parties.broker_user, 403, "not_contract_intermediary"),
        (parties.officer, 403, "not_contract_intermediary"),
    ]:
        refused(link(client, who, b["id"], c), status, code)
    refused(client.post(f"{API}/links", json={"broker_id": b["id"], "contract_id": c}), 401, "not_authenticated")
    proposed = ok(link(client, parties.agency, b["id"], c), 201)
    assert proposed["status"] == "proposed" and proposed["intermediary_org_id"] == parties.agency.org_id
    refused(link(client, parties.agency, b["id"], c), 409, "duplicate_link")
    # Only the filer (the seller here) confirms.
    for who in (parties.agency, parties.buyer, parties.other, parties.officer, parties.broker_user):
        refused(decide(client, who, proposed["id"]), 403, "not_contract_filer")
    refused(client.post(f"{API}/links/{proposed['id']}/decision", json={"accept": True}), 401, "not_authenticated")
    assert ok(decide(client, parties.seller, proposed["id"]))["status"] == "confirmed"
    refused(decide(client, parties.seller, proposed["id"]), 409, "invalid_state")
    # Who sees the link: the intermediary, the filer, the broker, the bureau; not a stranger.
    for who, n in [
        (parties.agency, 1),
        (parties.seller, 1),
        (parties.broker_user, 0),
        (parties.officer, 1),
        (parties.other, 0),
        (parties.agency_b, 0),
    ]:
        assert ok(client.get(f"{API}/links", headers=who.headers))["total"] == n


def test_the_broker_must_be_employed_by_the_intermediary_on_the_signing_date(client, parties):
    b = register(client, parties.agency, start="2026-02-01")
    before = contract(parties, parties.agency, dt.date(2026, 1, 20), 100_000, 100_000)
    refused(link(client, parties.agency, b["id"], before), 422, "broker_not_employed_on_signing_date")
    ok(
        client.post(
            f"{API}/{b['id']}/moves",
            json={"intermediary_org_id": parties.agency_b.org_id, "start_date": "2026-07-01"},
            headers=parties.officer.headers,
        ),
        201,
    )
    # Signed with I1 after the move: I1 may not put them on it; I2 is not the contract's intermediary.
    after = contract(parties, parties.agency, dt.date(2026, 8, 1), 100_000, 100_000)
    refused(link(client, parties.agency, b["id"], after), 422, "broker_not_employed_on_signing_date")
    refused(link(client, parties.agency_b, b["id"], after), 403, "not_contract_intermediary")
    # Signed with I1 while employed there: still fine after the move.
    during = contract(parties, parties.agency, dt.date(2026, 6, 30), 100_000, 100_000)
    ok(link(client, parties.agency, b["id"], during), 201)
    # No intermediary on the contract at all.
    bare = contract(parties, None, dt.date(2026, 3, 1), 100_000, 100_000)
    refused(link(client, parties.agency, b["id"], bare), 403, "not_contract_intermediary")


def test_a_suspended_broker_cannot_be_put_on_a_contract_and_a_rejected_link_can_be_proposed_again(client, parties):
    b = register(client, parties.agency)
    c = contract(parties, parties.agency, dt.date(2026, 3, 10), 500_000, 500_000)
    proposed = ok(link(client, parties.agency, b["id"], c), 201)
    assert ok(decide(client, parties.seller, proposed["id"], accept=False))["status"] == "rejected"
    ok(client.post(f"{API}/{b['id']}/status", json={"action": "suspend"}, headers=parties.officer.headers))
    refused(link(client, parties.agency, b["id"], c), 409, "broker_not_active")
    ok(client.post(f"{API}/{b['id']}/status", json={"action": "reinstate"}, headers=parties.officer.headers))
    again = ok(link(client, parties.agency, b["id"], c), 201)
    assert again["id"] == proposed["id"] and again["status"] == "proposed"
    # Suspended between proposal and confirmation: the filer cannot confirm.
    ok(client.post(f"{API}/{b['id']}/status", json={"action": "suspend"}, headers=parties.officer.headers))
    refused(decide(client, parties.seller, again["id"]), 409, "broker_not_active")


def test_unknown_ids_are_404(client, parties):
    b = register(client, parties.agency)
    refused(link(client, parties.agency, b["id"], 999_999), 404, "contract_not_found")
    c = contract(parties, parties.agency, dt.date(2026, 3, 10), 500_000, 500_000)
    refused(link(client, parties.agency, 999_999, c), 404, "broker_not_found")
    refused(decide(client, parties.seller, 999_999), 404, "broker_link_not_found")


def test_the_filer_and_the_intermediary_hear_of_a_link_in_their_inbox(client, parties):
    from market.brokers import notices
    from market.core.db import session_scope

    b = register(client, parties.agency)
    c = contract(parties, parties.agency, dt.date(2026, 3, 10), 500_000, 500_000)
    proposed = ok(link(client, parties.agency, b["id"], c), 201)
    with session_scope() as s:
        assert len(notices.deliver_pending(s)) == 0  # no webhook subscriptions; inbox entries only
    inbox = ok(client.get("/api/v1/inbox", headers=parties.seller.headers))
    assert inbox["total"] == 1 and inbox["items"][0]["detail"]["entity_id"] == proposed["id"]
    assert ok(client.get("/api/v1/inbox", headers=parties.other.headers))["total"] == 0
    ok(decide(client, parties.seller, proposed["id"]))
    with session_scope() as s:
        notices.deliver_pending(s)
        assert notices.deliver_pending(s) == []
    note = ok(client.get("/api/v1/inbox", headers=parties.agency.headers))["items"][0]
    assert note["detail"]["status"] == "confirmed"


def test_listings_brought_in_per_role(client, parties):
    from tests.listings.payloads import demand_body

    b = register(client, parties.agency, user_id=parties.broker_user.user_id)
    demand = ok(client.post("/api/v1/demands", json=demand_body(), headers=parties.buyer.headers), 201)
    body = {"broker_id": b["id"], "listing_type": "demand", "listing_id": demand["id"]}
    refused(client.post(f"{API}/listings", json=body), 401, "not_authenticated")
    for who in (parties.agency_b, parties.agency_member, parties.broker_user, parties.buyer, parties.registrar):
        refused(client.post(f"{API}/listings", json=body, headers=who.headers), 403, "not_broker_manager")
    refused(
        client.post(f"{API}/listings", json={**body, "listing_id": 999_999}, headers=parties.agency.headers),
        404,
        "listing_not_found",
    )
    row = ok(client.post(f"{API}/listings", json=body, headers=parties.agency.headers), 201)
    refused(client.post(f"{API}/listings", json=body, headers=parties.agency.headers), 409, "duplicate_link")
    for who in (parties.agency, parties.seller, parties.other, parties.broker_user):
        refused(
            client.post(f"{API}/listings/{row['id']}/decision", json={"accept": True}, headers=who.headers),
            403,
            "not_listing_owner",
        )
    assert (
        ok(client.post(f"{API}/listings/{row['id']}/decision", json={"accept": False}, headers=parties.buyer.headers))[
            "status"
        ]
        == "rejected"
    )
    for who, n in [
        (parties.agency, 1),
        (parties.buyer, 1),
        (parties.broker_user, 1),
        (parties.officer, 1),
        (parties.other, 0),
        (parties.agency_b, 0),
    ]:
        assert ok(client.get(f"{API}/listings", headers=who.headers))["total"] == n
