"""The broker registry through the API: who may register, read, train, move, suspend; the ID number never shows."""

from __future__ import annotations

import sqlalchemy as sa

from market.brokers.models import Broker
from market.core.audit import AuditEntry
from market.core.db import session_scope
from tests.brokers.conftest import API, id_number, ok, refused, register


def test_intermediary_registers_its_broker_and_the_raw_id_number_is_never_kept_or_shown(client, parties):
    number = id_number(7)
    body = {
        "name": "李明",
        "id_number": number,
        "level": "intermediate_manager",
        "start_date": "2026-01-01",
        "user_id": parties.broker_user.user_id,
        "field": "advanced_manufacturing",
    }
    r = client.post(API, json=body, headers=parties.agency.headers)
    b = ok(r, 201)
    assert number not in r.text
    assert b["id_number_masked"] == number[:6] + "********" + number[-4:]
    assert b["status"] == "active" and b["level"] == "intermediate_manager"
    assert b["employments"] == [
        {
            "id": b["employments"][0]["id"],
            "intermediary_org_id": parties.agency.org_id,
            "start_date": "2026-01-01",
            "end_date": None,
        }
    ]
    with session_scope() as s:
        row = s.get(Broker, b["id"])
        assert number not in (row.id_number_masked, row.id_number_digest)
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.entity_type == "broker")).one()
        assert entry.action == "register" and number not in str(entry.detail)
    # The same person again (any intermediary, lower-case x or not): refused.
    again = {**body, "user_id": None}
    refused(client.post(API, json=again, headers=parties.agency_b.headers), 409, "broker_already_registered")
    # The broker's own account reads the record.
    assert ok(client.get(f"{API}/me", headers=parties.broker_user.headers))["id"] == b["id"]


def test_who_may_register(client, parties):
    body = {"name": "王芳", "id_number": id_number(), "level": "junior_broker", "start_date": "2026-01-01"}
    refused(client.post(API, json=body), 401, "not_authenticated")
    refused(client.post(API, json=body, headers=parties.other.headers), 422, "not_an_intermediary")
    refused(
        client.post(API, json={**body, "intermediary_org_id": parties.agency.org_id}, headers=parties.agency_b.headers),
        403,
        "not_broker_manager",
    )
    refused(client.post(API, json=body, headers=parties.registrar.headers), 403, "not_broker_manager")
    # A plain member of the intermediary does not; its administrator does, and the bureau for any intermediary.
    refused(client.post(API, json=body, headers=parties.agency_member.headers), 403, "not_broker_manager")
    ok(client.post(API, json=body, headers=parties.agency.headers), 201)
    ok(
        client.post(
            API,
            json={**body, "id_number": id_number(), "intermediary_org_id": parties.agency_b.org_id},
            headers=parties.officer.headers,
        ),
        201,
    )


def test_bad_input_is_a_clear_422(client, parties):
    base = {"name": "王芳", "level": "junior_broker", "start_date": "2026-01-01"}
    refused(
        client.post(API, json={**base, "id_number": "110105194912310021"}, headers=parties.agency.headers),
        422,
        "invalid_id_number",
    )
    r = client.post(API, json={**base, "id_number": id_number(), "level": "guru"}, headers=parties.agency.headers)
    assert r.status_code == 422
    other_user = parties.seller.user_id
    refused(
        client.post(
            API, json={**base, "id_number": id_number(), "user_id": other_user}, headers=parties.agency.headers
        ),
        422,
        "user_not_in_intermediary",
    )
    b = register(client, parties.agency)
    refused(
        client.patch(f"{API}/{b['id']}", json={"name": None}, headers=parties.agency.headers), 422, "null_not_allowed"
    )


def test_reading_per_role(client, parties):
    mine = register(client, parties.agency, user_id=parties.broker_user.user_id)
    theirs = register(client, parties.agency_b, name="张伟")
    ids = lambda who: {b["id"] for b in ok(client.get(API, headers=who.headers))["items"]}  # noqa: E731
    assert ids(parties.officer) == {mine["id"], theirs["id"]}
    assert ids(parties.registrar) == {mine["id"], theirs["id"]}
    assert ids(parties.agency) == {mine["id"]}
    assert ids(parties.agency_b) == {theirs["id"]}
    assert ids(parties.broker_user) == {mine["id"]}
    assert ids(parties.other) == set()
    refused(client.get(API), 401, "not_authenticated")
    refused(client.get(f"{API}/{mine['id']}", headers=parties.agency_b.headers), 404, "broker_not_found")
    refused(client.get(f"{API}/{mine['id']}", headers=parties.other.headers), 404, "broker_not_found")
    refused(client.get(f"{API}/me", headers=parties.other.headers), 404, "broker_not_found")
    ok(client.get(f"{API}/{mine['id']}", headers=parties.broker_user.headers))


def test_training_records_by_the_employer_or_bureau(client, parties):
    b = register(client, parties.agency)
    course = {
        "course": "国家技术转移专业人员能力等级培训(初级)",
        "hours": 48,
        "completed_on": "2026-04-20",
        "certificate_number": "JSJJR-2026-0381",
        "issuer": "浙江省技术转移联盟",
    }
    ok(client.post(f"{API}/{b['id']}/trainings", json=course, headers=parties.agency.headers), 201)
    ok(client.post(f"{API}/{b['id']}/trainings", json={**course, "hours": 8}, headers=parties.officer.headers), 201)
    refused(
        client.post(f"{API}/{b['id']}/trainings", json=course, headers=parties.agency_b.headers),
        403,
        "not_broker_manager",
    )
    refused(
        client.post(f"{API}/{b['id']}/trainings", json=course, headers=parties.broker_user.headers),
        403,
        "not_broker_manager",
    )
    refused(client.post(f"{API}/{b['id']}/trainings", json=course), 401, "not_authenticated")
    got = ok(client.get(f"{API}/{b['id']}", headers=parties.agency.headers))
    assert [t["certificate_number"] for t in got["trainings"]] == ["JSJJR-2026-0381", "JSJJR-2026-0381"]


def test_status_is_the_bureaus(client, parties):
    b = register(client, parties.agency)
    path = f"{API}/{b['id']}/status"
    refused(client.post(path, json={"action": "suspend"}, headers=parties.agency.headers), 403, "role_required")
    refused(client.post(path, json={"action": "suspend"}, headers=parties.registrar.headers), 403, "role_required")
    assert (
        ok(client.post(path, json={"action": "suspend", "note": "投诉核查中"}, headers=parties.officer.headers))[
            "status"
        ]
        == "suspended"
    )
    assert ok(client.post(path, json={"action": "reinstate"}, headers=parties.officer.headers))["status"] == "active"
    assert ok(client.post(path, json={"action": "remove"}, headers=parties.officer.headers))["status"] == "removed"
    refused(client.post(path, json={"action": "reinstate"}, headers=parties.officer.headers), 409, "invalid_state")
    refused(
        client.post(
            f"{API}/{b['id']}/moves",
            json={"intermediary_org_id": parties.agency_b.org_id, "start_date": "2026-07-01"},
            headers=parties.officer.headers,
        ),
        409,
        "invalid_state",
    )
    with session_scope() as s:
        actions = s.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.entity_type == "broker", AuditEntry.entity_id == b["id"])
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["register", "suspend", "reinstate", "remove"]


def test_a_move_is_one_employment_at_a_time_with_dates(client, parties):
    b = register(client, parties.agency)
    path = f"{API}/{b['id']}/moves"
    move = {"intermediary_org_id": parties.agency_b.org_id, "start_date": "2026-07-01"}
    refused(client.post(path, json=move, headers=parties.other.headers), 403, "not_broker_manager")
    refused(client.post(path, json=move), 401, "not_authenticated")
    refused(
        client.post(path, json={**move, "start_date": "2025-12-01"}, headers=parties.agency_b.headers),
        422,
        "move_before_current_start",
    )
    refused(
        client.post(path, json={**move, "intermediary_org_id": parties.agency.org_id}, headers=parties.agency.headers),
        409,
        "already_employed",
    )
    refused(
        client.post(path, json={**move, "intermediary_org_id": parties.buyer.org_id}, headers=parties.officer.headers),
        422,
        "not_an_intermediary",
    )
    ok(client.post(path, json=move, headers=parties.agency_b.headers), 201)  # the new employer records it
    got = ok(client.get(f"{API}/{b['id']}", headers=parties.officer.headers))
    assert [(e["intermediary_org_id"], e["start_date"], e["end_date"]) for e in got["employments"]] == [
        (parties.agency.org_id, "2026-01-01", "2026-06-30"),
        (parties.agency_b.org_id, "2026-07-01", None),
    ]
    # The old employer no longer manages or lists the broker; the new one does.
    refused(
        client.patch(f"{API}/{b['id']}", json={"level": "senior_manager"}, headers=parties.agency.headers),
        403,
        "not_broker_manager",
    )
    assert (
        ok(client.patch(f"{API}/{b['id']}", json={"level": "senior_manager"}, headers=parties.agency_b.headers))[
            "level"
        ]
        == "senior_manager"
    )
    assert ok(client.get(API, headers=parties.agency.headers))["total"] == 0
