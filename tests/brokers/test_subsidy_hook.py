"""The broker fact source: only a confirmed broker earns; a name typed on the contract or a mere proposal does not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from market.core.db import session_scope
from market.subsidies import calculator as calc
from market.subsidies.presets import preset
from market.subsidies.service import load_facts
from tests.brokers.conftest import contract, decide, link, ok, register
from tests.subsidies.ledger import add_contract


def test_only_confirmed_brokers_are_facts_brokers(client, parties):
    b = register(client, parties.agency, name="李明")
    typed = add_contract(
        parties.seller.org_id,
        parties.buyer.org_id,
        500_000,
        intermediary=parties.agency.org_id,
        on=dt.date(2026, 2, 1),
        signing_date=dt.date(2026, 2, 1),
        broker="张三",
    )
    proposed = contract(parties, parties.agency, dt.date(2026, 3, 1), 400_000, 400_000)
    confirmed = contract(parties, parties.agency, dt.date(2026, 4, 1), 2_400_000, 2_000_000)
    ok(link(client, parties.agency, b["id"], proposed), 201)
    ok(decide(client, parties.seller, ok(link(client, parties.agency, b["id"], confirmed), 201)["id"]))
    with session_scope() as s:
        facts = {f.contract_id: f for f in load_facts(s, calc.Period.year(2026))}  # the registered sources
    assert (facts[typed].broker, facts[proposed].broker) == (None, None)
    assert facts[confirmed].broker == f"李明 #{b['id']}"
    policy = preset("broker-reward", "3302")
    results = calc.compute(policy, list(facts.values()), calc.Period.year(2026)).results
    # 1.5 % × 2,000,000 = 30,000 — exactly the per-contract cap.
    assert [(r.key, r.total) for r in results] == [
        (f"org:{parties.agency.org_id}/broker:李明 #{b['id']}", D("30000.00"))
    ]


def test_employment_edited_after_confirmation_pays_no_wrong_intermediary(client, parties):
    """The employer on the signing date is checked again when a run loads facts, not only at confirmation."""
    b = register(client, parties.agency, name="王芳", start="2026-01-01")
    signed = contract(parties, parties.agency, dt.date(2026, 4, 1), 2_000_000, 1_000_000)
    ok(decide(client, parties.seller, ok(link(client, parties.agency, b["id"], signed), 201)["id"]))
    policy = preset("broker-reward", "3302")

    def rewards() -> list[tuple[str, D]]:
        with session_scope() as s:
            facts = load_facts(s, calc.Period.year(2026))
        return [(r.key, r.total) for r in calc.compute(policy, facts, calc.Period.year(2026)).results]

    # 1.5 % × 1,000,000 = 15,000 through I1, the employer on 2026-04-01.
    assert rewards() == [(f"org:{parties.agency.org_id}/broker:王芳 #{b['id']}", D("15000.00"))]
    # The record is corrected afterwards: she had moved to I2 on 2026-02-01, before the signing date.
    ok(
        client.post(
            f"/api/v1/brokers/{b['id']}/moves",
            json={"intermediary_org_id": parties.agency_b.org_id, "start_date": "2026-02-01"},
            headers=parties.officer.headers,
        ),
        201,
    )
    assert rewards() == []  # neither I1 (did not employ her then) nor I2 (not the contract's intermediary)
