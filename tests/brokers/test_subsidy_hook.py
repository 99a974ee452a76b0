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
