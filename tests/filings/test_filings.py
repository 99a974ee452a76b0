"""Intermediary filings (技术转移机构备案): apply, review, record, revoke — per role, audited."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from market.accounts.roles import Role
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.filings.rules import Record, level_in_force

API = "/api/v1/filings"


def test_an_intermediary_applies_and_bureau_staff_record_and_revoke(client, world):
    broker = world.member(OrgKind.intermediary, region_code="330201")
    r = client.post(API, json={"level": "provincial", "claimed_on": "2024-03-01"}, headers=broker.headers)
    assert r.status_code == 201 and r.json()["status"] == "applied", r.text
    fid = r.json()["id"]
    record = {
        "filing_number": "浙技转备2024-017",
        "level": "provincial",
        "filed_on": "2024-03-05",
        "valid_until": "2027-03-04",
    }
    for who in (broker, world.bureau(Role.programme_officer)):
        assert client.post(f"{API}/{fid}/record", json=record, headers=who.headers).status_code == 403
    registrar = world.bureau(Role.registrar)
    r = client.post(f"{API}/{fid}/record", json=record, headers=registrar.headers)
    assert r.status_code == 200 and (r.json()["status"], r.json()["filing_number"]) == ("recorded", "浙技转备2024-017")
    again = client.post(API, json={"level": "city"}, headers=broker.headers).json()["id"]
    dup = client.post(f"{API}/{again}/record", json=record | {"level": "city"}, headers=registrar.headers)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "filing_number_taken"
    assert (
        client.post(f"{API}/{again}/reject", json={"note": "材料不全"}, headers=registrar.headers).json()["status"]
        == "rejected"
    )
    r = client.post(
        f"{API}/{fid}/revoke",
        json={"reason": "年度考核不合格", "revoked_on": "2025-01-01"},
        headers=world.bureau(Role.bureau_admin).headers,
    )
    assert r.status_code == 200 and (r.json()["status"], r.json()["revoked_on"]) == ("revoked", "2025-01-01")
    again_revoked = client.post(f"{API}/{fid}/revoke", json={"reason": "x"}, headers=registrar.headers)
    assert again_revoked.status_code == 409
    assert again_revoked.json()["error"]["code"] == "invalid_filing_transition"  # the code clients see stays
    with session_scope() as s:
        actions = s.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.entity_type == "intermediary_filing", AuditEntry.entity_id == fid)
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["applied", "recorded", "revoked"]


def test_who_applies_and_who_reads(client, world):
    firm = world.member(OrgKind.enterprise)
    r = client.post(API, json={"level": "city"}, headers=firm.headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_an_intermediary"
    broker = world.member(OrgKind.intermediary)
    member = world.user(broker.org_id, Role.member)
    assert client.post(API, json={"level": "city"}, headers=member.headers).status_code == 403
    assert client.post(API, json={"level": "city"}, headers=world.bureau(Role.bureau_admin).headers).status_code == 403
    fid = client.post(API, json={"level": "city"}, headers=broker.headers).json()["id"]
    assert client.get(f"{API}/{fid}", headers=firm.headers).status_code == 404
    assert client.get(f"{API}/{fid}", headers=member.headers).status_code == 200
    assert client.get(API, headers=firm.headers).json()["total"] == 0
    assert client.get(API, headers=world.bureau(Role.programme_officer).headers).json()["total"] == 1


def test_the_level_in_force_on_a_day():
    records = [
        Record(1, "city", dt.date(2022, 1, 1)),
        Record(1, "provincial", dt.date(2024, 3, 5), revoked_on=dt.date(2025, 1, 1)),
        Record(1, "national", dt.date(2026, 1, 1), valid_until=dt.date(2026, 6, 30)),
    ]
    cases = {
        dt.date(2021, 12, 31): None,
        dt.date(2023, 5, 1): "city",
        dt.date(2024, 3, 5): "provincial",
        dt.date(2025, 1, 1): "city",
        dt.date(2026, 2, 1): "national",
        dt.date(2026, 7, 1): "city",
    }
    for day, level in cases.items():
        found = level_in_force(records, day)
        assert (found.level if found else None) == level, day
