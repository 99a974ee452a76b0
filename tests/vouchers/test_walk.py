"""A scripted year of a voucher programme, through the HTTP API, with hand-worked figures.

Programme 2026: budget 200,000, province 60 % + city 30 %, at most 50,000 per firm.
- A (sme) 50,000 — books P1 检验检测认证 at 40,000, voucher 36,000, 通用: A pays 40,000 and is reimbursed
  36,000 = province 24,000 + city 12,000.
- B (sme) 40,000 — books P2 科技咨询 at 30,000, voucher 27,000, 通兑: B pays 3,000, P2 redeems 27,000 =
  province 18,000 + city 9,000.
- C (maker team) 30,000 — P1 declared a relationship with C: booking P1 is refused (related_party).
- D (sme) 20,000 — books P2 知识产权 at 10,000 (voucher 9,000), then is found to have faked the contract:
  the voucher is voided, the booking voided, 20,000 returns to the budget, a finding stands against D.
- 2027-01-01 the beat expires A (14,000 unused), B (13,000), C (30,000): all return to the budget.
Committed after the year: 140,000 − 20,000 − 14,000 − 13,000 − 30,000 = 63,000 = 36,000 + 27,000 redeemed.

Provider subsidy 2026 (seed 004 §5(3)), a second programme adds one large 通兑 contract of P1 (12,000,000):
- P1: 5 % × (40,000 + 12,000,000) = 602,000 → capped at 500,000 (year cap cut 102,000).
- P2: 5 % × 30,000 = 1,500, plus the 1:1 match of its 80,000 provincial award = 81,500.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import sqlalchemy as sa

from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.subsidies.flows import compute_run
from market.vouchers import notices
from tests.subsidies.helpers import adopt
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
    set_today,
)


def _claim(client, booking_id, who, paid, ref="SC-2026-001"):
    body = {"contract_reference": ref, "payment_proof": "银行回单 2026-03-10", "paid_amount": paid}
    return ok(client.post(f"{API}/bookings/{booking_id}/claim", json=body, headers=who.headers), 201)


def _actions(entity_type: str, entity_id: int) -> list[str]:
    with session_scope() as s:
        return list(
            s.scalars(
                sa.select(AuditEntry.action)
                .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
                .order_by(AuditEntry.id)
            )
        )


def test_a_year_of_vouchers(vclient, parties, world):
    c, officer, p1, p2 = vclient, parties.officer, parties.provider, parties.provider_b
    firm_a, firm_b = parties.firm, parties.firm_b
    maker_c = world.member(OrgKind.enterprise, name="众创空间创客团队 C")
    cheat_d = world.member(OrgKind.enterprise, name="虚报企业 D")

    programme = open_programme(c, officer, eligible_firm_kinds=["sme", "maker_team"])
    assert (D(programme["province_share"]), D(programme["city_share"])) == (D("0.6"), D("0.3"))  # the default
    pid = programme["id"]
    admit_provider(c, officer, p1, ["testing_certification", "research_development"])
    admit_provider(c, officer, p2, ["consulting", "intellectual_property"])
    ok(
        c.post(
            f"{API}/relationships",
            json={"provider_org_id": p1.org_id, "firm_org_id": maker_c.org_id, "kind": "shareholding"},
            headers=p1.headers,
        ),
        201,
    )

    va = issue_voucher(c, officer, firm_a, pid, "50000.00")
    vb = issue_voucher(c, officer, firm_b, pid, "40000.00")
    vc = issue_voucher(c, officer, maker_c, pid, "30000.00", firm_kind="maker_team")
    vd = issue_voucher(c, officer, cheat_d, pid, "20000.00")
    assert va["number"].startswith("CXQ-2026-") and va["status"] == "issued" and va["expires_on"] == "2026-12-31"
    assert D(ok(c.get(f"{API}/programmes/{pid}"))["committed"]) == D("140000")

    # 通用: A pays in full and is reimbursed the voucher share.
    ba = ok(book(c, firm_a, va["id"], p1, "testing_certification", "40000.00", "36000.00", "general"), 201)
    ok(c.post(f"{API}/bookings/{ba['id']}/deliver", json=EVIDENCE, headers=p1.headers))
    confirmed = ok(c.post(f"{API}/bookings/{ba['id']}/confirm", json=SCORES, headers=firm_a.headers))
    assert D(confirmed["score"]) == D("4.67")
    claim_a = _claim(c, ba["id"], firm_a, "40000.00")
    reviewed = ok(c.post(f"{API}/claims/{claim_a['id']}/review", json={"approve": True}, headers=officer.headers))
    assert reviewed["status"] == "approved"
    assert {(p["payer"], p["payee_org_id"], D(p["amount"])) for p in reviewed["payments"]} == {
        ("province", firm_a.org_id, D("24000")),
        ("city", firm_a.org_id, D("12000")),
    }

    # 通兑: the provider redeems the voucher share; B paid only the rest.
    bb = ok(book(c, firm_b, vb["id"], p2, "consulting", "30000.00", "27000.00", "direct"), 201)
    ok(c.post(f"{API}/bookings/{bb['id']}/deliver", json=EVIDENCE, headers=p2.headers))
    ok(c.post(f"{API}/bookings/{bb['id']}/confirm", json=SCORES, headers=firm_b.headers))
    refused(
        c.post(
            f"{API}/bookings/{bb['id']}/claim",
            json={"contract_reference": "SC", "payment_proof": "x", "paid_amount": "3000.00"},
            headers=firm_b.headers,
        ),
        403,
        "wrong_claimant",
    )
    claim_b = _claim(c, bb["id"], p2, "3000.00", ref="SC-2026-002")
    reviewed = ok(c.post(f"{API}/claims/{claim_b['id']}/review", json={"approve": True}, headers=officer.headers))
    assert {(p["payer"], p["payee_org_id"], D(p["amount"])) for p in reviewed["payments"]} == {
        ("province", p2.org_id, D("18000")),
        ("city", p2.org_id, D("9000")),
    }

    # A related party is refused with a clear code, and nothing is booked.
    refused(
        book(c, maker_c, vc["id"], p1, "testing_certification", "10000.00", "9000.00", "general"), 403, "related_party"
    )
    assert D(ok(c.get(f"{API}/vouchers/{vc['id']}", headers=maker_c.headers))["balance"]) == D("30000")

    # Fraud: D's voucher is voided, its open booking with it, the finding recorded against D.
    bd = ok(book(c, cheat_d, vd["id"], p2, "intellectual_property", "10000.00", "9000.00", "general"), 201)
    finding = ok(
        c.post(f"{API}/vouchers/{vd['id']}/void", json={"description": "伪造服务合同"}, headers=officer.headers)
    )
    assert finding["org_id"] == cheat_d.org_id and finding["kind"] == "fraud"
    assert ok(c.get(f"{API}/bookings/{bd['id']}", headers=cheat_d.headers))["status"] == "voided"
    assert [f["description"] for f in ok(c.get(f"{API}/findings/{cheat_d.org_id}", headers=officer.headers))] == [
        "伪造服务合同"
    ]
    assert D(ok(c.get(f"{API}/programmes/{pid}"))["committed"]) == D("120000")
    refused(
        book(c, cheat_d, vd["id"], p2, "intellectual_property", "100.00", "90.00", "general"), 409, "voucher_not_active"
    )

    # Year end: the beat's expiry gives the unused value back.
    from market.vouchers import flows

    with session_scope() as s:
        expired = flows.expire_due(s, dt.date(2027, 1, 1))
    assert sorted(expired) == sorted([va["id"], vb["id"], vc["id"]])
    with session_scope() as s:
        assert flows.expire_due(s, dt.date(2027, 1, 2)) == []  # idempotent
    returned = {
        v: D(ok(c.get(f"{API}/vouchers/{v}", headers=officer.headers))["returned"])
        for v in (va["id"], vb["id"], vc["id"])
    }
    assert returned == {va["id"]: D("14000"), vb["id"]: D("13000"), vc["id"]: D("30000")}
    assert D(ok(c.get(f"{API}/programmes/{pid}"))["committed"]) == D("63000")
    set_today(c, dt.date(2027, 1, 1))
    refused(
        book(c, firm_a, va["id"], p1, "testing_certification", "100.00", "90.00", "general"), 409, "voucher_not_active"
    )

    # Figures of the programme: issued 140,000; booked = used = redeemed = 63,000 (45 %).
    f = ok(c.get(f"{API}/programmes/{pid}/figures", headers=officer.headers))
    assert (D(f["issued"]), D(f["booked"]), D(f["used"]), D(f["redeemed"])) == (
        D("140000"),
        D("63000"),
        D("63000"),
        D("63000"),
    )
    assert D(f["redeemed_rate"]) == D("0.45")
    assert {(x["category"], D(x["redeemed"])) for x in f["by_category"]} == {
        ("testing_certification", D("36000")),
        ("consulting", D("27000")),
    }
    assert {(x["provider_org_id"], D(x["booked"])) for x in f["by_provider"]} == {
        (p1.org_id, D("36000")),
        (p2.org_id, D("27000")),
    }

    # Provider subsidy at year end: a second programme adds P1's large 通兑 contract; P2 won a provincial award.
    set_today(c, dt.date(2026, 6, 1))
    big = open_programme(c, officer, name="重大专项创新券", total_budget="12000000.00", per_firm_ceiling="10800000.00")
    firm_e = world.member(OrgKind.enterprise, name="大额企业 E")
    ve = issue_voucher(c, officer, firm_e, big["id"], "10800000.00")
    be = ok(book(c, firm_e, ve["id"], p1, "research_development", "12000000.00", "10800000.00", "direct"), 201)
    ok(c.post(f"{API}/bookings/{be['id']}/deliver", json=EVIDENCE, headers=p1.headers))
    ok(c.post(f"{API}/bookings/{be['id']}/confirm", json=SCORES, headers=firm_e.headers))
    claim_e = _claim(c, be["id"], p1, "1200000.00", ref="SC-2026-100")
    ok(c.post(f"{API}/claims/{claim_e['id']}/review", json={"approve": True}, headers=officer.headers))
    ok(
        c.post(
            f"{API}/provincial-awards",
            json={
                "provider_org_id": p2.org_id,
                "awarded_on": "2026-11-20",
                "amount": "80000.00",
                "reference": "浙科发〔2026〕88号",
            },
            headers=officer.headers,
        ),
        201,
    )
    # The bureau's subsidy run pays it (this is Ningbo: 聊城's §5(3) presets run here once adopted).
    codes = ["lc2020-voucher-provider", "lc2020-voucher-provider-award-match"]
    adopt(c, officer, *codes)
    run = ok(
        c.post(
            "/api/v1/subsidies/runs",
            json={"period_start": "2026-01-01", "period_end": "2026-12-31", "policy_codes": codes},
            headers=officer.headers,
        ),
        202,
    )
    compute_run(run["id"])
    rows = ok(c.get(f"/api/v1/subsidies/runs/{run['id']}/results?page_size=50", headers=officer.headers))["items"]
    paid = {(r["policy_code"], r["beneficiary_org_id"]): D(r["total"]) for r in rows}
    assert paid == {
        (codes[0], p1.org_id): D("500000"),
        (codes[0], p2.org_id): D("1500"),
        (codes[1], p2.org_id): D("80000"),
    }
    p1_result = next(r for r in rows if r["beneficiary_org_id"] == p1.org_id)
    p1_working = ok(c.get(f"/api/v1/subsidies/results/{p1_result['id']}", headers=officer.headers))["working"]
    assert D(p1_working["before_caps"]) == D("602000") and D(p1_working["year_cap_cut"]) == D("102000")
    assert {x["registration_number"].split("/")[0] for x in p1_working["contributions"]} == {ve["number"], va["number"]}

    # Every step left its audit trail.
    assert _actions("voucher", va["id"]) == ["applied", "approved", "expired"]
    assert _actions("voucher_booking", ba["id"]) == ["booked", "deliver", "confirm", "claim", "approve"]
    assert "voided" in _actions("voucher", vd["id"]) and "finding_recorded" in _actions("organisation", cheat_d.org_id)

    # The firm hears of it in its inbox once the notices are drained.
    with session_scope() as s:
        notices.deliver_pending(s)
    titles = [n["title"] for n in ok(c.get("/api/v1/inbox?page_size=50", headers=firm_a.headers))["items"]]
    assert any("创新券已发放" in t for t in titles) and any("兑现已批准" in t for t in titles)
    assert any("已过期" in t for t in titles)
    provider_titles = [n["title"] for n in ok(c.get("/api/v1/inbox?page_size=50", headers=p2.headers))["items"]]
    assert any("新的创新券服务预约" in t for t in provider_titles)
