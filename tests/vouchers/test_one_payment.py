"""One voucher-funded service pays its provider's 5 % once, whether marked the old way, redeemed, or both.

Figures (seed 004 §5(3), 5 % of the service contract, cap 500,000 per provider and year), 2026:
- Provider P sells firm F a technology service, registered as contract C (40,000, 2026-03-05). The bureau marks C
  voucher-funded the old way (`POST /subsidies/vouchers`), and F also redeems a voucher booking for the same
  service (price 40,000, voucher 36,000) whose claim names C. Before: two facts, 2,000 + 2,000 = 4,000.
  Now: one payment, 5 % × 40,000 = 2,000.
- Across years: C3 (30,000, registered 2025-09-01) marked the old way is paid 1,500 in a frozen 2025 run; a 2026
  redemption naming C3 joins C3's activity and pays nothing more in 2026 (before: 1,500 again).
- Then a second service, contract C2 (20,000): redeemed first, naming C2; the old marking of C2 is refused
  (409 voucher_redemption_covers); P's year = 2,000 + 5 % × 20,000 = 3,000.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.subsidies.helpers import adopt, run_year
from tests.subsidies.ledger import add_contract
from tests.vouchers import conftest as v

ok, refused = v.ok, v.refused
CODE = "lc2020-voucher-provider"


@pytest.fixture
def scheme(client, world):
    officer, admin = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    v.set_today(client, dt.date(2026, 3, 2))
    provider = world.member(OrgKind.intermediary, name="宁波检测中心 P", region_code="330203")
    firm = world.member(OrgKind.enterprise, name="甬江精密 F", region_code="330206")
    other = world.member(OrgKind.enterprise, name="海曙电子", region_code="330203")
    programme = v.open_programme(client, officer)
    v.admit_provider(client, officer, provider, ["testing_certification"])
    voucher = v.issue_voucher(client, officer, firm, programme["id"], "50000.00")
    adopt(client, officer, CODE)

    def service_contract(buyer, amount: int, on: dt.date) -> int:
        return add_contract(provider.org_id, buyer.org_id, amount, type="service", subtype="technical_service", on=on)

    def delivered(price: str, share: str) -> int:
        booking = ok(
            v.book(client, firm, voucher["id"], provider, "testing_certification", price, share, "general"), 201
        )
        ok(client.post(f"{v.API}/bookings/{booking['id']}/deliver", json=v.EVIDENCE, headers=provider.headers))
        ok(client.post(f"{v.API}/bookings/{booking['id']}/confirm", json=v.SCORES, headers=firm.headers))
        return booking["id"]

    def claim(booking_id: int, price: str, contract_id: int | None):
        body = {
            "contract_reference": "SC",
            "payment_proof": "银行回单",
            "paid_amount": price,
            "contract_id": contract_id,
        }
        return client.post(f"{v.API}/bookings/{booking_id}/claim", json=body, headers=firm.headers)

    def approve(claim_id: int) -> None:
        ok(client.post(f"{v.API}/claims/{claim_id}/review", json={"approve": True}, headers=officer.headers))

    def mark(contract_id: int):
        return client.post("/api/v1/subsidies/vouchers", json={"contract_id": contract_id}, headers=officer.headers)

    def provider_total(year: int = 2026, freeze: bool = False) -> D:
        run = run_year(client, officer, year, [CODE])
        for action, who in (("review", officer), ("approve", admin), ("freeze", admin)) if freeze else ():
            ok(client.post(f"/api/v1/subsidies/runs/{run}/{action}", headers=who.headers))
        items = ok(client.get(f"/api/v1/subsidies/runs/{run}/results?page_size=100", headers=officer.headers))
        return sum((D(r["total"]) for r in items["items"] if r["beneficiary_org_id"] == provider.org_id), D(0))

    return locals()


def test_a_service_marked_the_old_way_and_redeemed_pays_its_provider_once(client, scheme):
    s = scheme
    c = s["service_contract"](s["firm"], 40_000, dt.date(2026, 3, 5))
    ok(s["mark"](c), 201)
    booking = s["delivered"]("40000.00", "36000.00")
    claimed = ok(s["claim"](booking, "40000.00", c), 201)
    assert claimed["contract_id"] == c
    s["approve"](claimed["id"])
    assert s["provider_total"]() == D("2000.00")  # 5 % × 40,000, once (two facts paid 4,000)

    # Redeemed first, then the old marking: refused, and the year pays each service once.
    c2 = s["service_contract"](s["firm"], 20_000, dt.date(2026, 4, 1))
    second = ok(s["claim"](s["delivered"]("20000.00", "10000.00"), "20000.00", c2), 201)
    refused(s["mark"](c2), 409, "voucher_redemption_covers")
    s["approve"](second["id"])
    refused(s["mark"](c2), 409, "voucher_redemption_covers")
    assert s["provider_total"]() == D("3000.00")  # 2,000 + 5 % × 20,000


def test_a_claim_names_only_a_registered_contract_of_this_service_and_only_once(client, scheme):
    s = scheme
    c = s["service_contract"](s["firm"], 40_000, dt.date(2026, 3, 5))
    theirs = s["service_contract"](s["other"], 40_000, dt.date(2026, 3, 5))  # P sells to another firm
    booking = s["delivered"]("40000.00", "36000.00")
    refused(s["claim"](booking, "40000.00", theirs), 422, "contract_not_of_booking")
    refused(s["claim"](booking, "40000.00", 987_654_321), 422, "contract_not_of_booking")  # none: same answer
    ok(s["claim"](booking, "40000.00", c), 201)
    again = s["delivered"]("30000.00", "10000.00")
    refused(s["claim"](again, "30000.00", c), 409, "contract_already_redeemed")


def test_a_contract_paid_the_old_way_in_a_frozen_year_is_not_paid_again_by_a_later_redemption(client, scheme):
    s = scheme
    c3 = s["service_contract"](s["firm"], 30_000, dt.date(2025, 9, 1))
    ok(s["mark"](c3), 201)
    assert s["provider_total"](2025, freeze=True) == D("1500.00")  # 5 % × 30,000
    claimed = ok(s["claim"](s["delivered"]("30000.00", "20000.00"), "30000.00", c3), 201)
    s["approve"](claimed["id"])
    assert s["provider_total"](2026) == D("0.00")  # the service was paid in 2025
