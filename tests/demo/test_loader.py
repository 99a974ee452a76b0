"""Loading the demo data into a real database, through the listings service, once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from market.accounts.models import Organisation, User
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.demo import load_demo
from market.demo.loader import demo_username
from market.listings.models import Achievement, Demand

TODAY = dt.date(2025, 3, 1)


def _load(listings: int = 320) -> dict:
    with session_scope() as s:
        return load_demo(s, listings=listings, today=TODAY)


def _status_counts(s, model) -> dict[str, int]:
    return dict(s.execute(sa.select(model.status, sa.func.count()).group_by(model.status)).all())


def test_load_creates_what_it_reports_and_is_visible_through_the_api(engine, client):
    counts = _load()
    assert counts["skipped"] is False
    assert counts["achievements"] + counts["demands"] == 320
    with session_scope() as s:
        orgs = s.scalars(sa.select(Organisation).where(Organisation.kind != "bureau")).all()  # + the console's bureau
        assert len(orgs) == counts["organisations"] and all(o.verification_status == "verified" for o in orgs)
        users = s.scalars(sa.select(User)).all()
        admins = [u for u in users if u.role == "org_admin"]  # the rest: the console's bureau users and experts
        assert len(admins) == counts["users"] and all(u.password_hash is None for u in users)
        achievements, demands = _status_counts(s, Achievement), _status_counts(s, Demand)
        assert sum(achievements.values()) == counts["achievements"]
        assert sum(demands.values()) == counts["demands"]
        for state in ("published", "draft", "closed", "withdrawn"):
            assert achievements.get(state, 0) + demands.get(state, 0) == counts[state]
        # Through the service: each listing has its audit trail and a search outbox intent per change.
        listing = AuditEntry.entity_type.in_(("achievement", "demand"))
        creates = s.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(listing, AuditEntry.action == "create")
        )
        publishes = s.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(listing, AuditEntry.action == "publish")
        )
        assert creates == 320
        assert publishes == counts["published"] + counts["closed"] + counts["withdrawn"]
        assert s.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) >= 320 + publishes

    body = client.get("/api/v1/achievements", params={"page_size": 200}).json()
    assert body["total"] == achievements["published"]
    assert {item["status"] for item in body["items"]} == {"published"}
    assert any(item["asking_price"] == "面议" for item in body["items"])
    assert any(item["patent_numbers"] for item in body["items"])
    demands_page = client.get("/api/v1/demands", params={"page_size": 1}).json()
    assert demands_page["total"] == demands["published"]
    ningbo = client.get("/api/v1/achievements", params={"region_code": "330200", "technical_field": "new_energy"})
    assert ningbo.status_code == 200 and ningbo.json()["total"] > 0
    assert all(i["region_code"].startswith("3302") for i in ningbo.json()["items"])


def test_second_load_does_nothing(engine):
    first = _load(listings=40)
    assert first["achievements"] + first["demands"] == 40
    assert _load(listings=40) == {"skipped": True, "reason": "demo organisations already exist"}
    with session_scope() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Achievement)) == first["achievements"]
        firms_and_labs = sa.select(sa.func.count()).where(Organisation.kind != "bureau")
        assert s.scalar(firms_and_labs) == first["organisations"]


def test_demo_admins_cannot_log_in(engine, client):
    _load(listings=20)
    with session_scope() as s:
        assert s.scalar(sa.select(User.id).where(User.username == demo_username("research-00")))
    response = client.post(
        "/api/v1/auth/token", data={"username": demo_username("research-00"), "password": "correct-horse-battery"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
