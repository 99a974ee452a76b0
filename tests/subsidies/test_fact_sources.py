"""One subsidy run paying from every registered fact source, through the HTTP API, with hand-worked figures.

2026, policies named explicitly (Ningbo: 聊城's two §5(3) presets adopted, the broker reward turned on):
- Voucher (seed 004 §5(3)): firm F books provider P at 40,000 (voucher 36,000, 通用); the claim is approved,
  F is reimbursed 36,000 (province 24,000 + city 12,000) by the programme itself. P's post-subsidy 5 % × 40,000
  = 2,000; P's provincial award of 10,000 is matched 1:1 = 10,000. F gets nothing from the run (the city's 30 %
  was the reimbursement's).
- Broker: 李明 of intermediary I, confirmed on a contract signed 2026-03-10 (技术交易额 1,000,000):
  1.5 % = 15,000 (≤ 30,000 per contract), paid through I.
- Commissioner 陈农 (home: university U): 优秀科技特派员, proposed and approved = 20,000.
Run 1 = 2,000 + 10,000 + 15,000 + 20,000 = 47,000, frozen.
Run 2 (the whole year again) after a second redemption (20,000 → 5 % = 1,000) and a second award (先进个人 10,000):
due P 3,000 − paid 2,000 = 1,000; 陈农 30,000 − 20,000 = 10,000; the match and the broker unchanged (0).
Run 2 pays 11,000: nothing is paid twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from market.accounts.roles import Role
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.subsidies.models import SubsidyPolicy, SubsidyPolicyVersion
from tests.brokers import conftest as brokers
from tests.subsidies.helpers import adopt, enable, run_year
from tests.vouchers import conftest as vouchers

SUBSIDIES = "/api/v1/subsidies"
CODES = ["lc2020-voucher-provider", "lc2020-voucher-provider-award-match", "broker-reward", "commissioner-awards"]
ok, refused = vouchers.ok, vouchers.refused


@pytest.fixture
def year(client, world):
    officer, admin = world.bureau(Role.programme_officer), world.bureau(Role.bureau_admin)
    vouchers.set_today(client, dt.date(2026, 3, 2))
    provider = world.member(OrgKind.intermediary, name="宁波检测中心 P", region_code="330203")
    firm = world.member(OrgKind.enterprise, name="甬江精密 F", region_code="330206")
    agency = world.member(OrgKind.intermediary, name="甬江技术转移中心 I", region_code="330201")
    uni = world.member(OrgKind.university, name="宁波大学 U", region_code="330203")
    buyer = world.member(OrgKind.enterprise, name="海曙电子", region_code="330203")

    # Voucher: programme, provider, voucher, booking, delivery, confirmation, claim approved; a provincial award.
    programme = vouchers.open_programme(client, officer)
    vouchers.admit_provider(client, officer, provider, ["testing_certification"])
    voucher = vouchers.issue_voucher(client, officer, firm, programme["id"], "50000.00")

    def redeem(price: str, share: str, ref: str) -> None:
        booking = ok(
            vouchers.book(client, firm, voucher["id"], provider, "testing_certification", price, share, "general"),
            201,
        )
        ok(
            client.post(
                f"{vouchers.API}/bookings/{booking['id']}/deliver", json=vouchers.EVIDENCE, headers=provider.headers
            )
        )
        ok(client.post(f"{vouchers.API}/bookings/{booking['id']}/confirm", json=vouchers.SCORES, headers=firm.headers))
        claim = {"contract_reference": ref, "payment_proof": "银行回单", "paid_amount": price}
        claimed = ok(
            client.post(f"{vouchers.API}/bookings/{booking['id']}/claim", json=claim, headers=firm.headers), 201
        )
        ok(
            client.post(
                f"{vouchers.API}/claims/{claimed['id']}/review", json={"approve": True}, headers=officer.headers
            )
        )

    redeem("40000.00", "36000.00", "SC-1")
    award = {
        "provider_org_id": provider.org_id,
        "awarded_on": "2026-11-20",
        "amount": "10000.00",
        "reference": "浙科发88号",
    }
    ok(client.post(f"{vouchers.API}/provincial-awards", json=award, headers=officer.headers), 201)

    # Broker: registered by I, confirmed on a contract I brokered.
    li = brokers.register(client, agency, name="李明")
    p = SimpleNamespace(seller=uni, buyer=buyer)
    signed = brokers.contract(p, agency, dt.date(2026, 3, 10), 1_200_000, 1_000_000)
    brokers.ok(brokers.decide(client, uni, brokers.ok(brokers.link(client, agency, li["id"], signed), 201)["id"]))

    # Commissioner: an award proposed by one officer, approved by another.
    chen = ok(
        client.post(
            "/api/v1/commissioners",
            json={"kind": "individual", "name": "陈农", "home_org_id": uni.org_id, "level": "city"},
            headers=officer.headers,
        ),
        201,
    )

    def commissioner_award(kind: str) -> None:
        body = {"year": 2026, "commissioner_id": chen["id"], "kind": kind}
        proposed = ok(client.post("/api/v1/commissioners/awards", json=body, headers=officer.headers), 201)
        ok(client.post(f"/api/v1/commissioners/awards/{proposed['id']}/approve", headers=admin.headers))

    commissioner_award("outstanding_commissioner")

    adopt(client, officer, "lc2020-voucher-provider", "lc2020-voucher-provider-award-match")
    enable(client, officer, "broker-reward")
    return SimpleNamespace(
        officer=officer,
        admin=admin,
        provider=provider,
        firm=firm,
        agency=agency,
        uni=uni,
        buyer=buyer,
        li=li,
        chen=chen,
        redeem=redeem,
        commissioner_award=commissioner_award,
    )


def _results(client, who, run_id) -> dict[tuple[str, str], dict]:
    items = ok(client.get(f"{SUBSIDIES}/runs/{run_id}/results?page_size=100", headers=who.headers))["items"]
    return {(r["policy_code"], r["beneficiary_key"]): r for r in items}


def _decide(client, y, run_id, *actions) -> None:
    for action in actions:
        who = y.officer if action == "review" else y.admin
        ok(client.post(f"{SUBSIDIES}/runs/{run_id}/{action}", headers=who.headers))


def test_one_run_pays_vouchers_brokers_and_commissioners_with_working_and_settles_across_runs(client, year):
    y = year
    p_key, i_key = f"org:{y.provider.org_id}", f"org:{y.agency.org_id}/broker:李明 #{y.li['id']}"
    c_key = f"commissioner:{y.chen['id']}"
    run1 = run_year(client, y.officer, 2026, CODES)
    assert ok(client.get(f"{SUBSIDIES}/runs/{run1}", headers=y.officer.headers))["total"] == "47000.00"
    results = _results(client, y.officer, run1)
    assert {k: (D(r["total"]), r["beneficiary_org_id"]) for k, r in results.items()} == {
        (CODES[0], p_key): (D("2000.00"), y.provider.org_id),
        (CODES[1], p_key): (D("10000.00"), y.provider.org_id),
        (CODES[2], i_key): (D("15000.00"), y.agency.org_id),  # paid through the intermediary
        (CODES[3], c_key): (D("20000.00"), y.uni.org_id),  # seen by the home organisation
    }

    # The working of each: 5 % of the whole service contract; the 1:1 match; 1.5 % of 技术交易额; the approved award.
    def working(code, key):
        return ok(client.get(f"{SUBSIDIES}/results/{results[(code, key)]['id']}", headers=y.officer.headers))["working"]

    post = working(CODES[0], p_key)["contributions"]
    assert [(D(c["basis_amount"]), c["brackets"][0]["rate"], D(c["paid"])) for c in post] == [
        (D("40000.00"), "0.05", D("2000.00"))
    ]
    match = working(CODES[1], p_key)["contributions"]
    assert [(c["registration_number"], D(c["paid"])) for c in match] == [("浙科发88号", D("10000.00"))]
    broker = working(CODES[2], i_key)
    assert (broker["basis"], D(broker["contributions"][0]["basis_amount"]), broker["paid_through_org_id"]) == (
        "technical",
        D("1000000.00"),
        y.agency.org_id,
    )
    assert [D(c["paid"]) for c in working(CODES[3], c_key)["contributions"]] == [D("20000.00")]

    # Who sees what: nobody outside the bureau before approval; then each beneficiary its own, the firm nothing.
    refused(client.get(f"{SUBSIDIES}/runs/{run1}", headers=y.provider.headers), 404, "run_not_found")
    refused(client.get(f"{SUBSIDIES}/runs/{run1}/results"), 401, "not_authenticated")
    refused(client.post(f"{SUBSIDIES}/runs/{run1}/approve", headers=y.officer.headers), 403, "subsidy_role_required")
    _decide(client, y, run1, "review", "approve", "freeze")

    def mine(who) -> dict[str, D]:
        return {r["policy_code"]: D(r["total"]) for r in ok(client.get(f"{SUBSIDIES}/my-results", headers=who.headers))}

    assert mine(y.provider) == {CODES[0]: D("2000.00"), CODES[1]: D("10000.00")}
    assert mine(y.agency) == {CODES[2]: D("15000.00")}
    assert mine(y.uni) == {CODES[3]: D("20000.00")}
    assert mine(y.firm) == {} and mine(y.buyer) == {}  # the firm's 30 % came with its reimbursement, not here
    other = results[(CODES[2], i_key)]["id"]
    refused(client.get(f"{SUBSIDIES}/results/{other}", headers=y.provider.headers), 404, "result_not_found")
    assert ok(client.get(f"{SUBSIDIES}/results/{other}", headers=y.agency.headers))["total"] == "15000.00"

    # More in the year, and the whole year run again: only the differences are paid.
    y.redeem("20000.00", "14000.00", "SC-2")
    y.commissioner_award("advanced_individual")
    run2 = run_year(client, y.officer, 2026, CODES)
    again = _results(client, y.officer, run2)
    assert {k: (D(r["due_total"]), D(r["paid_before"]), D(r["total"])) for k, r in again.items()} == {
        (CODES[0], p_key): (D("3000.00"), D("2000.00"), D("1000.00")),
        (CODES[1], p_key): (D("10000.00"), D("10000.00"), D("0.00")),
        (CODES[2], i_key): (D("15000.00"), D("15000.00"), D("0.00")),
        (CODES[3], c_key): (D("30000.00"), D("20000.00"), D("10000.00")),
    }
    assert ok(client.get(f"{SUBSIDIES}/runs/{run2}", headers=y.officer.headers))["total"] == "11000.00"


def test_a_run_over_every_active_policy_pays_no_voucher_share_to_the_firm(client, year):
    y = year
    run = run_year(client, y.officer, 2026)  # every enabled policy (the presets adopted and turned on included)
    codes = {p["code"] for p in ok(client.get(f"{SUBSIDIES}/runs/{run}", headers=y.officer.headers))["policies"]}
    assert set(CODES) <= codes and "lc2020-voucher-sme" not in codes
    paid_to_firm = [r for r in _results(client, y.officer, run).values() if r["beneficiary_org_id"] == y.firm.org_id]
    assert paid_to_firm == []


def _install_retired_preset(adopted: bool) -> int:
    """The preset as a deployment had it before 0019: installed (or adopted for Ningbo) and active."""
    spec = {
        "code": "lc2020-voucher-sme",
        "name": "创新券中小微企业市级补助",
        "beneficiary": "buyer",
        "basis": "paid",
        "aggregation": "per_contract",
        "brackets": [{"rate": "0.30", "upto": None}],
        "contract_types": ["service"],
        "required_flags_any": ["voucher_eligible"],
        "buyer_entity_types": ["enterprise"],
        "buyer_regions": ["3302" if adopted else "3715"],
        "jurisdiction": "3302" if adopted else "3715",
        "valid_from": "2020-05-14",
    }
    with session_scope() as s:
        row = SubsidyPolicy(code=spec["code"], name=spec["name"], current_version=1, is_preset=True, active=adopted)
        s.add(row)
        s.flush()
        s.add(SubsidyPolicyVersion(policy_id=row.id, version=1, spec=spec))
        return row.id


def test_migration_0019_switches_an_adopted_sme_preset_off_and_nothing_runs_it_again(engine, client, world):
    from alembic import command
    from market.core.migrations import alembic_config

    officer = world.bureau(Role.programme_officer)
    policy_id = _install_retired_preset(adopted=True)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0018")
        command.upgrade(alembic_config(conn), "head")
    with session_scope() as s:
        assert s.get(SubsidyPolicy, policy_id).active is False
        trail = s.scalars(
            sa.select(AuditEntry.action).where(
                AuditEntry.entity_type == "subsidy_policy", AuditEntry.entity_id == policy_id
            )
        ).all()
    assert trail == ["retired"]

    period = {"period_start": "2026-01-01", "period_end": "2026-12-31"}
    named = client.post(
        f"{SUBSIDIES}/runs", json={**period, "policy_codes": ["lc2020-voucher-sme"]}, headers=officer.headers
    )
    refused(named, 422, "policy_not_enabled")
    spec = ok(client.get(f"{SUBSIDIES}/policies/lc2020-voucher-sme", headers=officer.headers))["spec"]
    refused(
        client.put(f"{SUBSIDIES}/policies/lc2020-voucher-sme", json=spec, headers=officer.headers),
        422,
        "policy_retired",
    )
    again = {**spec, "code": "my-voucher-sme"}
    refused(
        client.post(f"{SUBSIDIES}/policies", json=again, headers=officer.headers),
        422,
        "voucher_share_paid_by_programme",
    )
    # Even switched back on by hand, a run over every active policy leaves it out.
    with session_scope() as s:
        s.get(SubsidyPolicy, policy_id).active = True
    run = ok(client.post(f"{SUBSIDIES}/runs", json=period, headers=officer.headers), 202)
    assert "lc2020-voucher-sme" not in {p["code"] for p in run["policies"]}


def test_migration_0019_leaves_a_never_adopted_preset_alone(engine):
    from alembic import command
    from market.core.migrations import alembic_config

    policy_id = _install_retired_preset(adopted=False)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0018")
        command.upgrade(alembic_config(conn), "head")
    with session_scope() as s:
        assert s.get(SubsidyPolicy, policy_id).active is False
        retired = sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "retired")
        assert s.scalar(retired) == 0


def test_subsidies_import_no_domain_that_feeds_them_and_no_worker():
    import ast
    from pathlib import Path

    import market.subsidies

    feeders = ("market.vouchers", "market.brokers", "market.commissioners", "workers")
    for path in Path(market.subsidies.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.startswith(feeders)], f"{path.name} imports {names}"


def test_a_run_computed_without_wiring_still_sees_every_source(client, year, monkeypatch):
    """A script calling flows.compute_run directly, in a process where nothing called wire(): same figures."""
    from market.subsidies import service, sources

    monkeypatch.setattr(sources, "_sources", {"contracts": sources.FactSource("contracts", service.contract_facts)})
    run = run_year(client, year.officer, 2026, CODES)  # compute_run, called directly
    assert set(sources.registered()) >= {"voucher_redemptions", "broker_links", "commissioner_awards"}
    # 2,000 + 10,000 + 15,000 + 20,000, as in the wired run above.
    assert ok(client.get(f"{SUBSIDIES}/runs/{run}", headers=year.officer.headers))["total"] == "47000.00"
