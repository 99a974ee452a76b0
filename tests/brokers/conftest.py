"""Broker test helpers: two intermediaries, a filing seller, a buyer, the bureau, and valid ID numbers."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.brokers.rules import ID_CHECK, ID_WEIGHTS
from market.core.vocab import OrgKind
from tests.factories import Member, World
from tests.subsidies.ledger import add_contract

API = "/api/v1/brokers"
_seq = itertools.count(1)


def id_number(n: int | None = None, region: str = "330203", born: str = "19880512") -> str:
    """A valid 居民身份证号码 (check digit computed), distinct per call."""
    body = f"{region}{born}{(next(_seq) if n is None else n) % 1000:03d}"
    return body + ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


@dataclass
class Parties:
    officer: Member  # bureau programme officer
    registrar: Member
    agency: Member  # intermediary I1, its admin
    agency_member: Member  # I1 staff
    agency_b: Member  # intermediary I2, its admin
    broker_user: Member  # the broker's own account (a user of I1)
    seller: Member  # files the contracts
    buyer: Member
    other: Member  # an unrelated firm


@pytest.fixture
def parties(world: World) -> Parties:
    agency = world.member(OrgKind.intermediary, name="甬江技术转移中心 I1")
    agency_b = world.member(OrgKind.intermediary, name="海曙科技服务 I2")
    return Parties(
        officer=world.bureau(Role.programme_officer),
        registrar=world.bureau(Role.registrar),
        agency=agency,
        agency_member=world.user(agency.org_id, Role.member),
        agency_b=agency_b,
        broker_user=world.user(agency.org_id, Role.member),
        seller=world.member(OrgKind.university, name="宁波大学"),
        buyer=world.member(OrgKind.enterprise, name="甬江精密"),
        other=world.member(OrgKind.enterprise, name="无关企业"),
    )


def register(client: TestClient, who: Member, *, name: str = "李明", start: str = "2026-01-01", **extra) -> dict:
    body = {"name": name, "id_number": id_number(), "level": "junior_broker", "start_date": start, **extra}
    return ok(client.post(API, json=body, headers=who.headers), 201)


def contract(
    p: Parties,
    intermediary: Member | None,
    signed: dt.date,
    total: int,
    technical: int,
    status: str = "registered",
    **flags,
) -> int:
    """A contract filed by the seller with the given intermediary, signed and registered on `signed`."""
    return add_contract(
        p.seller.org_id,
        p.buyer.org_id,
        total,
        technical=technical,
        intermediary=intermediary.org_id if intermediary else None,
        on=signed,
        signing_date=signed,
        status=status,
        **flags,
    )


def link(client: TestClient, who: Member, broker_id: int, contract_id: int):
    return client.post(f"{API}/links", json={"broker_id": broker_id, "contract_id": contract_id}, headers=who.headers)


def decide(client: TestClient, who: Member, link_id: int, accept: bool = True):
    return client.post(f"{API}/links/{link_id}/decision", json={"accept": accept}, headers=who.headers)
