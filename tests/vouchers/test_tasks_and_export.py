"""Voucher notices reach the inbox and webhooks once; the beat's expiry task; figures export as CSV and XLSX."""

from __future__ import annotations

import io
from decimal import Decimal as D

import sqlalchemy as sa
from openpyxl import load_workbook

from market.core.db import session_scope
from market.core.outbox import OutboxEvent
from market.matching.models import Notification, WebhookDelivery, WebhookSubscription
from market.vouchers import notices
from tests.vouchers.conftest import (
    API,
    EVIDENCE,
    SCORES,
    admit_provider,
    book,
    issue_voucher,
    ok,
    open_programme,
    refused,
)


def test_notices_reach_inbox_and_webhooks_once(vclient, parties):
    c, officer, firm = vclient, parties.officer, parties.firm
    with session_scope() as s:
        s.add(
            WebhookSubscription(user_id=firm.user_id, url="https://receiver.example/hook", secret="s" * 32, active=True)
        )
    programme = open_programme(c, officer)
    voucher = issue_voucher(c, officer, firm, programme["id"], "20000.00")
    with session_scope() as s:
        pending = s.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.topic == notices.TOPIC, OutboxEvent.processed_at.is_(None))
        )
    assert pending == 1  # written with the approval, not yet delivered
    with session_scope() as s:
        deliveries = notices.deliver_pending(s)
    with session_scope() as s:
        assert notices.deliver_pending(s) == []  # a second drain delivers nothing again
    assert len(deliveries) == 1
    inbox = ok(c.get("/api/v1/inbox", headers=firm.headers))
    assert inbox["total"] == 1
    note = inbox["items"][0]
    assert voucher["number"] in note["title"] and note["detail"]["entity_id"] == voucher["id"]
    with session_scope() as s:
        delivery = s.get(WebhookDelivery, deliveries[0])
        assert delivery.status == "pending" and s.get(Notification, delivery.notification_id).user_id == firm.user_id
    # another firm's inbox stays empty
    assert ok(c.get("/api/v1/inbox", headers=parties.other_firm.headers))["total"] == 0


def test_beat_expiry_task_returns_unused_value(vclient, parties):
    from workers.vouchers import expire_due

    c, officer = vclient, parties.officer
    # valid until mid-2026: the wall clock (the task reads it) is past that
    programme = open_programme(c, officer, valid_until="2026-06-30")
    voucher = issue_voucher(c, officer, parties.firm, programme["id"], "25000.00")
    assert expire_due() == [voucher["id"]]
    assert expire_due() == []
    after = ok(c.get(f"{API}/vouchers/{voucher['id']}", headers=parties.firm.headers))
    assert (after["status"], D(after["balance"]), D(after["returned"])) == ("expired", D("0"), D("25000"))
    assert D(ok(c.get(f"{API}/programmes/{programme['id']}"))["committed"]) == D("0")


def test_rejected_claim_can_be_corrected_and_cancel_returns_the_amount(vclient, parties):
    c, officer, firm, p = vclient, parties.officer, parties.firm, parties.provider
    admit_provider(c, officer, p, ["testing_certification"])
    programme = open_programme(c, officer)
    voucher = issue_voucher(c, officer, firm, programme["id"], "30000.00")
    b1 = ok(book(c, firm, voucher["id"], p, "testing_certification", "10000.00", "9000.00", "general"), 201)
    b2 = ok(book(c, firm, voucher["id"], p, "testing_certification", "5000.00", "4500.00", "general"), 201)
    assert D(ok(c.get(f"{API}/vouchers/{voucher['id']}", headers=firm.headers))["balance"]) == D("16500")
    ok(c.post(f"{API}/bookings/{b2['id']}/cancel", headers=firm.headers))
    assert D(ok(c.get(f"{API}/vouchers/{voucher['id']}", headers=firm.headers))["balance"]) == D("21000")
    refused(c.post(f"{API}/bookings/{b1['id']}/confirm", json=SCORES, headers=firm.headers), 409, "invalid_state")
    ok(c.post(f"{API}/bookings/{b1['id']}/deliver", json=EVIDENCE, headers=p.headers))
    refused(c.post(f"{API}/bookings/{b1['id']}/cancel", headers=firm.headers), 409, "invalid_state")
    refused(
        c.post(f"{API}/bookings/{b1['id']}/deliver", json={"evidence": []}, headers=p.headers), 422, "evidence_required"
    )
    refused(
        c.post(
            f"{API}/bookings/{b1['id']}/confirm",
            json={"scores": {"quality": 9, "timeliness": 1, "attitude": 1}},
            headers=firm.headers,
        ),
        422,
        "bad_scores",
    )
    ok(c.post(f"{API}/bookings/{b1['id']}/confirm", json=SCORES, headers=firm.headers))
    claim = {"contract_reference": "SC-9", "payment_proof": "回单", "paid_amount": "1000.00"}
    refused(c.post(f"{API}/bookings/{b1['id']}/claim", json=claim, headers=firm.headers), 422, "payment_incomplete")
    first = ok(
        c.post(f"{API}/bookings/{b1['id']}/claim", json={**claim, "paid_amount": "10000.00"}, headers=firm.headers), 201
    )
    rejected = ok(
        c.post(
            f"{API}/claims/{first['id']}/review", json={"approve": False, "note": "回单不清晰"}, headers=officer.headers
        )
    )
    assert rejected["status"] == "rejected" and rejected["payments"] == []
    refused(
        c.post(f"{API}/claims/{first['id']}/review", json={"approve": True}, headers=officer.headers),
        409,
        "invalid_state",
    )
    second = ok(
        c.post(
            f"{API}/bookings/{b1['id']}/claim",
            json={**claim, "paid_amount": "10000.00", "payment_proof": "清晰回单"},
            headers=firm.headers,
        ),
        201,
    )
    approved = ok(c.post(f"{API}/claims/{second['id']}/review", json={"approve": True}, headers=officer.headers))
    assert sum(D(x["amount"]) for x in approved["payments"]) == D("9000")
    assert [x["status"] for x in ok(c.get(f"{API}/claims", headers=firm.headers))["items"]] == ["rejected", "approved"]


def test_figures_export_csv_and_xlsx(vclient, parties):
    c, officer, firm, p = vclient, parties.officer, parties.firm, parties.provider
    admit_provider(c, officer, p, ["testing_certification"])
    programme = open_programme(c, officer)
    voucher = issue_voucher(c, officer, firm, programme["id"], "40000.00")
    b = ok(book(c, firm, voucher["id"], p, "testing_certification", "10000.00", "9000.00", "direct"), 201)
    url = f"{API}/programmes/{programme['id']}/figures"
    csv_response = c.get(url, params={"format": "csv"}, headers=officer.headers)
    assert csv_response.status_code == 200 and csv_response.headers["content-type"].startswith("text/csv")
    lines = csv_response.content.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[0] == "dimension" and header[3:6] == ["issued", "booked", "used"]
    assert lines[1].split(",")[3:6] == ["40000.00", "9000.00", "0.00"]  # issued, booked, used (nothing confirmed yet)
    xlsx = c.get(url, params={"format": "xlsx"}, headers=officer.headers)
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == "programme" and D(str(rows[1][4])) == D("9000")
    assert {r[0] for r in rows[1:]} == {"programme", "category", "provider"}
    refused(c.get(url, params={"format": "pdf"}, headers=officer.headers), 422, "invalid_format")
    assert b["status"] == "booked"


def test_voiding_an_expired_voucher_returns_its_open_bookings(vclient, parties):
    from market.vouchers import flows

    c, officer, firm, p = vclient, parties.officer, parties.firm, parties.provider
    admit_provider(c, officer, p, ["testing_certification"])
    programme = open_programme(c, officer)
    voucher = issue_voucher(c, officer, firm, programme["id"], "30000.00")
    ok(book(c, firm, voucher["id"], p, "testing_certification", "10000.00", "9000.00", "general"), 201)
    import datetime as dt

    with session_scope() as s:
        assert flows.expire_due(s, dt.date(2027, 1, 1)) == [voucher["id"]]
    assert D(ok(c.get(f"{API}/programmes/{programme['id']}"))["committed"]) == D("9000")  # the booked part stays
    ok(c.post(f"{API}/vouchers/{voucher['id']}/void", json={"description": "虚构服务"}, headers=officer.headers))
    assert D(ok(c.get(f"{API}/programmes/{programme['id']}"))["committed"]) == D("0")
    after = ok(c.get(f"{API}/vouchers/{voucher['id']}", headers=officer.headers))
    assert (after["status"], D(after["returned"])) == ("voided", D("30000"))
