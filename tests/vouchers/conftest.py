"""Voucher test helpers: the scheme's parties, and a pinned clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from market.vouchers.endpoints import clock
from tests.factories import Member, World

API = "/api/v1/vouchers"
TODAY = dt.date(2026, 3, 2)
PROGRAMME = {
    "year": 2026,
    "name": "2026年度创新券",
    "total_budget": "200000.00",
    "per_firm_ceiling": "50000.00",
    "eligible_categories": ["testing_certification", "research_development", "intellectual_property", "consulting"],
    "valid_from": "2026-01-01",
    "valid_until": "2026-12-31",
}


def set_today(client: TestClient, day: dt.date) -> None:
    client.app.dependency_overrides[clock] = lambda: day


def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


@dataclass
class Parties:
    officer: Member
    registrar: Member
    firm: Member  # 企业 A
    firm_b: Member
    other_firm: Member
    provider: Member  # 服务机构 P1
    provider_b: Member

    def all_roles(self) -> dict[str, dict[str, str]]:
        return {
            "firm": self.firm.headers,
            "provider": self.provider.headers,
            "bureau": self.officer.headers,
            "other_firm": self.other_firm.headers,
            "anonymous": {},
        }


@pytest.fixture
def parties(world: World) -> Parties:
    return Parties(
        officer=world.bureau(Role.programme_officer),
        registrar=world.bureau(Role.registrar),
        firm=world.member(OrgKind.enterprise, name="甬江精密 A"),
        firm_b=world.member(OrgKind.enterprise, name="海曙电子 B"),
        other_firm=world.member(OrgKind.enterprise, name="无关企业 X"),
        provider=world.member(OrgKind.intermediary, name="宁波检测中心 P1", region_code="330203"),
        provider_b=world.member(OrgKind.institute, name="材料所咨询 P2", region_code="330212"),
    )


@pytest.fixture
def vclient(client: TestClient) -> TestClient:
    set_today(client, TODAY)
    return client


def open_programme(client: TestClient, officer: Member, **changes) -> dict:
    return ok(client.post(f"{API}/programmes", json={**PROGRAMME, **changes}, headers=officer.headers), 201)


def admit_provider(client: TestClient, officer: Member, provider: Member, categories: list[str]) -> dict:
    catalogue = [{"category": c, "name": f"{c} 服务", "price": "10000.00"} for c in categories]
    applied = ok(client.post(f"{API}/providers", json={"catalogue": catalogue}, headers=provider.headers), 201)
    return ok(
        client.post(f"{API}/providers/{applied['id']}/decision", json={"action": "approve"}, headers=officer.headers)
    )


def issue_voucher(
    client: TestClient, officer: Member, firm: Member, programme_id: int, amount: str, firm_kind: str = "sme"
) -> dict:
    body = {"firm_kind": firm_kind, "requested_amount": amount, "purpose": "新产品检测认证"}
    applied = ok(client.post(f"{API}/programmes/{programme_id}/applications", json=body, headers=firm.headers), 201)
    return ok(client.post(f"{API}/vouchers/{applied['id']}/approve", json={}, headers=officer.headers))


def book(
    client: TestClient,
    firm: Member,
    voucher_id: int,
    provider: Member,
    category: str,
    price: str,
    voucher_amount: str,
    settlement: str,
):
    body = {
        "provider_org_id": provider.org_id,
        "category": category,
        "scope": "按合同约定提供服务",
        "price": price,
        "voucher_amount": voucher_amount,
        "settlement": settlement,
    }
    return client.post(f"{API}/vouchers/{voucher_id}/bookings", json=body, headers=firm.headers)


EVIDENCE = {"evidence": [{"kind": "report", "reference": "检测报告 NB-2026-0012"}]}
SCORES = {"scores": {"quality": 5, "timeliness": 4, "attitude": 5}}
