"""Fixtures for open calls: a pinned clock and a kit that drives a call through its life over HTTP."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.calls.endpoints import clock
from market.core.vocab import OrgKind
from tests.factories import Member, World

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
DEADLINE = T0 + dt.timedelta(days=30)
FIELD = "new_energy"


class Clock:
    """The time the services see; tests move it explicitly."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def call_body(**over: Any) -> dict[str, Any]:
    body = {
        "kind": "solve",
        "title": "高比能固态锂电池电解质",
        "problem": "现有电解质离子电导率不足，需攻克室温高电导固态电解质。",
        "technical_field": FIELD,
        "indicators": [
            {"name": "离子电导率", "target": "≥ 1e-3", "unit": "S/cm"},
            {"name": "循环寿命", "target": "≥ 1000 次"},
        ],
        "total_amount": "5000000.00",
        "gov_support_ratio_pct": 30,
        "gov_support_cap": "1000000.00",
        "duration_months": 24,
        "bid_deadline": DEADLINE.isoformat(),
        "winners_count": 1,
        "review_criteria": [
            {"name": "技术方案", "weight": 50},
            {"name": "团队实力", "weight": 30},
            {"name": "报价", "weight": 20},
        ],
        "experts_per_bid": 3,
        "notice_days": 5,
    }
    body.update(over)
    return body


def bid_body(**over: Any) -> dict[str, Any]:
    body = {
        "team_leader": "张教授",
        "plan": "采用硫化物体系……",
        "promised_indicators": [{"name": "离子电导率", "target": "1.2e-3", "unit": "S/cm"}],
        "price": "4800000.00",
        "milestones": [
            {"title": "小试", "deliverable": "样品与测试报告", "due_month": 8, "payment_share_pct": 30},
            {"title": "中试", "deliverable": "中试线与报告", "due_month": 16, "payment_share_pct": 30},
            {"title": "验收", "deliverable": "验收报告", "due_month": 24, "payment_share_pct": 40},
        ],
    }
    body.update(over)
    return body


@dataclass
class Kit:
    """Drives calls over HTTP: one bureau officer, one posing firm, and helpers for each step."""

    client: TestClient
    world: World
    clock: Clock
    officer: Member = field(init=False)
    firm: Member = field(init=False)

    def __post_init__(self) -> None:
        self.officer = self.world.bureau(Role.programme_officer)
        self.firm = self.world.member(OrgKind.enterprise)

    def ok(self, r, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()

    def post(self, who: Member | None, url: str, body: Any = None, status: int = 200) -> Any:
        return self.ok(self.client.post(url, json=body, headers=who.headers if who else {}), status)

    def published_call(self, **over: Any) -> dict:
        call = self.post(self.firm, "/api/v1/calls", call_body(**over), 201)
        self.post(self.officer, f"/api/v1/calls/{call['id']}/vet", {"approve": True, "note": "问题清晰"})
        return self.post(self.officer, f"/api/v1/calls/{call['id']}/publish")

    def bidder(self, kind: OrgKind = OrgKind.university, **org_kw: Any) -> Member:
        return self.world.member(kind, **org_kw)

    def bid(self, who: Member, call_id: int, status: int = 201, **over: Any) -> dict:
        return self.post(who, f"/api/v1/calls/{call_id}/bids", bid_body(**over), status)

    def consortium_bid(self, lead: Member, call_id: int, members: list[Member], **over: Any) -> dict:
        """Submit a bid inviting `members`; each accepts its invitation (a member joins only by accepting)."""
        bid = self.bid(lead, call_id, member_org_ids=[m.org_id for m in members], **over)
        for m in members:
            self.post(m, f"/api/v1/calls/invitations/{self.invitation(m, bid['id'])['id']}/accept")
        return self.ok(self.client.get(f"/api/v1/calls/{call_id}/bids/{bid['id']}", headers=lead.headers))

    def invitation(self, who: Member, bid_id: int) -> dict:
        mine = self.ok(self.client.get("/api/v1/calls/invitations/mine", headers=who.headers))
        return next(i for i in mine if i["bid_id"] == bid_id)

    def filer(self, project: dict) -> Member:
        """A member of the party that files the project's award contract (the seller; never bureau staff)."""
        from market.contracts.models import Contract
        from market.core.db import session_scope

        with session_scope() as s:
            org_id = s.get(Contract, project["contract_id"]).filer_org_id
        return self.world.user(org_id)

    def sign(self, project: dict, signed_on: str = "2026-04-30") -> dict:
        """The filing party records the signing (which files the award contract)."""
        return self.post(self.filer(project), f"/api/v1/calls/projects/{project['id']}/sign", {"signed_on": signed_on})

    def experts(self, n: int, fields: list[str] | None = None) -> list[Member]:
        return [self.world.expert(fields=fields or [FIELD]) for _ in range(n)]

    def close_and_check(self, call_id: int, bids: list[dict]) -> None:
        self.clock.now = DEADLINE
        self.post(self.officer, f"/api/v1/calls/{call_id}/close-bidding")
        for b in bids:
            self.post(self.officer, f"/api/v1/calls/{call_id}/bids/{b['id']}/formal-check", {"passed": True})

    def score_all(self, call_id: int, experts: list[Member], scores: dict[str, int] | None = None) -> None:
        scores = scores or {"技术方案": 80, "团队实力": 70, "报价": 90}
        for e in experts:
            for a in self.ok(self.client.get("/api/v1/calls/reviews/mine", headers=e.headers)):
                if a["call_id"] == call_id and a["state"] == "assigned":
                    self.post(e, f"/api/v1/calls/{call_id}/bids/{a['bid_id']}/scores", {"scores": scores})

    def to_award(self, call_id: int, winners: list[int], experts: list[Member]) -> list[dict]:
        self.post(self.officer, f"/api/v1/calls/{call_id}/review")
        self.score_all(call_id, experts)
        self.post(self.officer, f"/api/v1/calls/{call_id}/notice", {"bid_ids": winners})
        self.clock.now = self.clock.now + dt.timedelta(days=6)
        from market.calls import flows
        from market.core.db import session_scope

        with session_scope() as s:
            flows.advance_deadlines(s, self.clock.now)
        return self.post(self.officer, f"/api/v1/calls/{call_id}/award")


@pytest.fixture
def pinned() -> Clock:
    return Clock(T0)


@pytest.fixture
def kit(client: TestClient, world: World, pinned: Clock) -> Kit:
    client.app.dependency_overrides[clock] = pinned
    return Kit(client, world, pinned)


@pytest.fixture
def pg_kit(pg_client: TestClient, pg_world: World, pinned: Clock) -> Kit:
    pg_client.app.dependency_overrides[clock] = pinned
    return Kit(pg_client, pg_world, pinned)
