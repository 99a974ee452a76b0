"""Webhook deliveries: a schedule that outlasts an afternoon's outage, redelivery, slow receivers, pinned DNS."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest
import sqlalchemy as sa

from market.accounts.roles import Role
from market.core.audit import AuditEntry
from market.core.db import session_scope, utcnow
from market.core.vocab import OrgKind
from market.listings.models import Achievement
from market.matching import flows, webhook_targets, webhooks
from market.matching.models import Notification, SavedSearch, WebhookDelivery, WebhookSubscription
from tests.matching.test_endpoints import Receiver, allow_loopback_webhooks  # noqa: F401 - a fixture


@pytest.fixture
def receiver(allow_loopback_webhooks):
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def people(world):
    return {
        "firm": world.member(OrgKind.enterprise),
        "other": world.member(OrgKind.enterprise),
        "bureau": world.bureau(Role.bureau_admin),
    }


def _delivery_for(client, member, url: str) -> tuple[int, int]:
    """A webhook and one pending delivery of a notification to it (as notify_for_listing leaves them)."""
    hook = client.post("/api/v1/webhooks", json={"url": url}, headers=member.headers)
    assert hook.status_code == 201, hook.text
    with session_scope() as s:
        saved = SavedSearch(user_id=member.user_id, name="s", target="achievement", query="x", filters={}, min_score=50)
        listing = Achievement(
            org_id=member.org_id,
            title="公开成果",
            summary="x",
            keywords=[],
            technical_field="new_energy",
            region_code="330203",
            maturity="pilot",
            ip_type="other",
            patent_numbers=[],
            transfer_modes=[],
            price_negotiable=True,
            inventors=[],
            recognitions=[],
            status="published",
            published_at=utcnow(),
        )
        s.add_all([saved, listing])
        s.flush()
        # a public listing the subscriber may see: a delivery about anything else is withheld
        note = Notification(
            user_id=member.user_id,
            saved_search_id=saved.id,
            listing_type="achievement",
            listing_id=listing.id,
            title="t",
            detail={},
        )
        s.add(note)
        s.flush()
        d = WebhookDelivery(
            subscription_id=hook.json()["id"],
            notification_id=note.id,
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
        )
        s.add(d)
        s.flush()
        return hook.json()["id"], d.id


def _make_due(delivery_id: int) -> None:
    """Time passes: the delivery's next attempt is now."""
    with session_scope() as s:
        s.get(WebhookDelivery, delivery_id).next_attempt_at = utcnow()


def _delivery(delivery_id: int) -> WebhookDelivery:
    with session_scope() as s:
        return s.get(WebhookDelivery, delivery_id)


def test_the_retry_schedule_spans_hours_with_backoff_and_jitter():
    low = [webhooks.retry_delay(n, rand=lambda: 0.0) for n in range(1, webhooks.MAX_ATTEMPTS)]
    high = [webhooks.retry_delay(n, rand=lambda: 1.0) for n in range(1, webhooks.MAX_ATTEMPTS)]
    assert low == sorted(low) and low[0] < dt.timedelta(minutes=1) and high[-1] <= dt.timedelta(hours=1.25)
    assert all(a < b for a, b in zip(low, high, strict=True))  # jitter: ±25 % around each step
    assert sum(low, dt.timedelta()) > dt.timedelta(hours=5)  # gives up only after an afternoon


def test_an_outage_is_retried_from_the_database_then_failed_then_redelivered(client, people, receiver):
    firm, other, bureau = people["firm"], people["other"], people["bureau"]
    hook_id, delivery_id = _delivery_for(client, firm, receiver.url)
    receiver.status = 503
    assert flows.sweep_webhooks() == {"retrying": 1}
    first = _delivery(delivery_id)
    wait = first.next_attempt_at - utcnow()
    assert dt.timedelta(seconds=15) < wait < dt.timedelta(seconds=40) and first.last_status_code == 503
    assert flows.sweep_webhooks() == {}  # not due yet: persisted time, not a Celery countdown
    for _ in range(webhooks.MAX_ATTEMPTS - 1):
        _make_due(delivery_id)
        flows.sweep_webhooks()
    failed = _delivery(delivery_id)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("failed", webhooks.MAX_ATTEMPTS, None)
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    assert {h["X-Market-Delivery"] for h, _ in receiver.requests} == {str(delivery_id)}  # stable across attempts

    # the subscriber and the bureau see it among the failed; nobody else does
    listed = client.get("/api/v1/webhook-deliveries", params={"status": "failed"}, headers=firm.headers)
    assert [d["id"] for d in listed.json()] == [delivery_id]
    assert [
        d["id"] for d in client.get(f"/api/v1/webhooks/{hook_id}/deliveries?status=failed", headers=firm.headers).json()
    ] == [delivery_id]
    assert client.get(f"/api/v1/webhooks/{hook_id}/deliveries?status=delivered", headers=firm.headers).json() == []
    assert [d["id"] for d in client.get("/api/v1/webhook-deliveries?status=failed", headers=bureau.headers).json()] == [
        delivery_id
    ]
    assert client.get("/api/v1/webhook-deliveries?status=failed", headers=other.headers).json() == []
    assert client.get("/api/v1/webhook-deliveries").status_code == 401
    # redelivery: not by another organisation's user; by the subscriber, audited
    url = f"/api/v1/webhook-deliveries/{delivery_id}/redeliver"
    assert client.post(url).status_code == 401
    r = client.post(url, headers=other.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "webhook_delivery_not_found"
    receiver.status = 204
    r = client.post(url, headers=firm.headers)
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["attempts"] == 0
    r = client.post(url, headers=firm.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "delivery_pending"
    assert flows.sweep_webhooks() == {"delivered": 1}
    # the bureau may redeliver a delivered one too
    assert client.post(url, headers=bureau.headers).status_code == 200
    assert flows.sweep_webhooks() == {"delivered": 1}
    with session_scope() as s:
        actors = s.scalars(
            sa.select(AuditEntry.actor_user_id)
            .where(
                AuditEntry.entity_type == "webhook_delivery",
                AuditEntry.entity_id == delivery_id,
                AuditEntry.action == "redeliver",
            )
            .order_by(AuditEntry.id)
        ).all()
    assert actors == [firm.user_id, bureau.user_id]


def test_a_receiver_slower_than_the_timeout_is_not_sent_the_delivery_again_at_once(client, people, receiver):
    _, delivery_id = _delivery_for(client, people["firm"], receiver.url)
    receiver.delay = 1.5
    # two workers sweeping at once, then again and again while the receiver is still busy with the first
    assert flows.sweep_webhooks(timeout=0.5) == {"retrying": 1}
    for _ in range(3):
        assert flows.sweep_webhooks(timeout=0.5) == {}
    time.sleep(1.5)
    assert len(receiver.requests) == 1
    d = _delivery(delivery_id)
    assert d.status == "pending" and d.next_attempt_at - utcnow() > dt.timedelta(seconds=15)
    assert "Timeout" in (d.last_error or "")


def test_a_claimed_delivery_is_not_claimed_twice(client, people, receiver):
    _, delivery_id = _delivery_for(client, people["firm"], receiver.url)
    assert flows.claim_due_deliveries() == [delivery_id]
    assert flows.claim_due_deliveries() == []  # leased to the first sweep while its attempt is in flight


def test_delivery_connects_to_the_vetted_address_without_a_second_lookup(client, people, receiver, monkeypatch):
    port = receiver.server.server_address[1]
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "hooks.example.test":
            lookups.append(host)
            # first answer: the vetted (here, allowed) address; any later answer points elsewhere
            host = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    _, delivery_id = _delivery_for(client, people["firm"], f"http://hooks.example.test:{port}/hook")
    lookups.clear()
    assert flows.sweep_webhooks() == {"delivered": 1}
    assert lookups == ["hooks.example.test"]  # one lookup, at the check; the connection used its answer
    headers, _ = receiver.requests[-1]
    assert headers["Host"] == f"hooks.example.test:{port}"


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("64:ff9b::8.8.8.8", False),
        ("2002:808:808::1", False),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", True),
        ("::127.0.0.1", True),
        ("::ffff:127.0.0.1", True),
        ("2002:7f00:1::", True),
        ("64:ff9b::192.168.0.1", True),
        ("64:ff9b:1::8.8.8.8", True),
        ("fe80::1%eth0", True),
        ("100.64.0.1", True),
        ("224.0.0.1", True),
        ("::", True),
    ],
)
def test_internal_addresses_in_every_spelling(address, internal):
    assert webhook_targets.is_internal_address(address) is internal


def test_old_delivered_webhooks_and_processed_outbox_rows_are_pruned_by_beat(client, people, receiver):
    from market.core.outbox import OutboxEvent
    from workers.app import celery_app

    _, old_ok = _delivery_for(client, people["firm"], receiver.url)
    _, old_failed = _delivery_for(client, people["other"], receiver.url)
    long_ago = utcnow() - dt.timedelta(days=400)
    with session_scope() as s:
        s.get(WebhookDelivery, old_ok).status, s.get(WebhookDelivery, old_ok).delivered_at = "delivered", long_ago
        s.get(WebhookDelivery, old_failed).status, s.get(WebhookDelivery, old_failed).created_at = "failed", long_ago
        s.add_all(
            [
                OutboxEvent(topic="t", entity_type="x", entity_id=1, processed_at=long_ago, created_at=long_ago),
                OutboxEvent(topic="t", entity_type="x", entity_id=2, processed_at=utcnow()),
                OutboxEvent(
                    topic="t", entity_type="x", entity_id=3, created_at=long_ago, attempts=9, last_error="down"
                ),
            ]
        )
    entry = next(e for e in celery_app.conf.beat_schedule.values() if e["task"] == "market.maintenance.prune")
    celery_app.tasks[entry["task"]]()
    with session_scope() as s:
        assert set(s.scalars(sa.select(WebhookDelivery.id))) == {old_failed}  # failed ones stay until redelivered
        assert set(s.scalars(sa.select(OutboxEvent.entity_id).where(OutboxEvent.topic == "t"))) == {2, 3}
        assert s.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) == 2
