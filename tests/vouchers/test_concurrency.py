"""The budget is never overcommitted, even when officers approve at the same instant (real threads, real databases)."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import sqlalchemy as sa

from market.accounts.service import actor_from_secret
from market.core.db import session_scope
from market.core.errors import MarketError
from market.core.vocab import OrgKind
from market.vouchers import flows
from market.vouchers.models import Voucher, VoucherProgramme
from tests.vouchers.conftest import API, TODAY, ok, open_programme

THREADS = 12


def test_concurrent_approvals_never_overcommit(vclient, parties, world, engine):
    c, officer = vclient, parties.officer
    # 100,000 of budget, 12 applications of 10,000: exactly 10 fit.
    programme = open_programme(c, officer, total_budget="100000.00", per_firm_ceiling="10000.00")
    ids = []
    for _ in range(THREADS):
        firm = world.member(OrgKind.enterprise)
        body = {"firm_kind": "sme", "requested_amount": "10000.00", "purpose": "x"}
        ids.append(
            ok(c.post(f"{API}/programmes/{programme['id']}/applications", json=body, headers=firm.headers), 201)["id"]
        )
    with session_scope() as s:
        actor = actor_from_secret(s, officer.token)

    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(voucher_id: int) -> None:
        barrier.wait()
        try:
            with session_scope() as s:
                flows.approve_voucher(s, actor, voucher_id, None, TODAY)
            result = "issued"
        except MarketError as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=approve, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["budget_exhausted"] * 2 + ["issued"] * 10
    with session_scope() as s:
        committed = s.scalar(sa.select(VoucherProgramme.committed).where(VoucherProgramme.id == programme["id"]))
        issued = s.scalar(sa.select(sa.func.sum(Voucher.value)).where(Voucher.status == "issued"))
        numbers = s.scalars(sa.select(Voucher.number).where(Voucher.status == "issued")).all()
    assert committed == issued == D("100000")
    assert len(set(numbers)) == 10


def _race(calls) -> list[str]:
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call) -> None:
        barrier.wait()
        try:
            with session_scope() as s:
                call(s)
            result = "ok"
        except MarketError as exc:
            result = exc.code
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return sorted(outcomes)


def test_one_application_approved_twice_at_once_is_issued_once(vclient, parties, engine):
    c, officer = vclient, parties.officer
    programme = open_programme(c, officer)
    body = {"firm_kind": "sme", "requested_amount": "10000.00", "purpose": "x"}
    vid = ok(c.post(f"{API}/programmes/{programme['id']}/applications", json=body, headers=parties.firm.headers), 201)[
        "id"
    ]
    with session_scope() as s:
        actor = actor_from_secret(s, officer.token)
    outcomes = _race([lambda s: flows.approve_voucher(s, actor, vid, None, TODAY)] * 4)
    assert outcomes == ["invalid_state"] * 3 + ["ok"]
    assert D(ok(c.get(f"{API}/programmes/{programme['id']}"))["committed"]) == D("10000")


def test_bookings_at_once_never_overspend_a_voucher(vclient, parties, engine):
    from tests.vouchers.conftest import admit_provider, issue_voucher

    c, officer = vclient, parties.officer
    admit_provider(c, officer, parties.provider, ["testing_certification"])
    programme = open_programme(c, officer)
    voucher = issue_voucher(c, officer, parties.firm, programme["id"], "10000.00")
    with session_scope() as s:
        firm = actor_from_secret(s, parties.firm.token)
    data = {
        "provider_org_id": parties.provider.org_id,
        "category": "testing_certification",
        "scope": "x",
        "price": D("4000"),
        "voucher_amount": D("3600"),
        "settlement": "general",
    }
    outcomes = _race([lambda s: flows.book_service(s, firm, voucher["id"], data, TODAY)] * 4)
    assert outcomes == ["ok"] * 2 + ["voucher_balance_insufficient"] * 2  # 2 × 3,600 fit in 10,000; a third does not
    assert D(ok(c.get(f"{API}/vouchers/{voucher['id']}", headers=parties.firm.headers))["balance"]) == D("2800")


def test_one_booking_claimed_at_once_is_paid_once(vclient, parties, engine):
    from tests.vouchers.conftest import EVIDENCE, SCORES, admit_provider, book, issue_voucher

    c, officer, firm = vclient, parties.officer, parties.firm
    admit_provider(c, officer, parties.provider, ["testing_certification"])
    programme = open_programme(c, officer)
    voucher = issue_voucher(c, officer, firm, programme["id"], "10000.00")
    b = ok(
        book(c, firm, voucher["id"], parties.provider, "testing_certification", "4000.00", "3600.00", "general"), 201
    )
    ok(c.post(f"{API}/bookings/{b['id']}/deliver", json=EVIDENCE, headers=parties.provider.headers))
    ok(c.post(f"{API}/bookings/{b['id']}/confirm", json=SCORES, headers=firm.headers))
    with session_scope() as s:
        actor = actor_from_secret(s, firm.token)
    data = {"contract_reference": "SC", "payment_proof": "回单", "paid_amount": D("4000")}
    outcomes = _race([lambda s: flows.submit_claim(s, actor, b["id"], data)] * 4)
    assert outcomes == ["invalid_state"] * 3 + ["ok"]
