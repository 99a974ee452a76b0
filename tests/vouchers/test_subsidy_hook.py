"""The voucher fact source: redemptions and provincial awards as calculator facts, paid by the adopted presets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from market.subsidies import calculator as calc
from market.subsidies.presets import preset
from market.subsidies.sources import PROVINCIAL_AWARD, VOUCHER_SERVICE


def _fact(i: int, seller_region: str, contract_type: str, amount: str) -> calc.ContractFact:
    seller = calc.Party(
        f"provider {seller_region}", org_id=10 if seller_region.startswith("3302") else 11, region=seller_region
    )
    buyer = calc.Party("firm", org_id=20, region="330212", entity_type="150")
    return calc.ContractFact(
        contract_id=i,
        registration_number=f"CXQ/{i}",
        contract_type=contract_type,
        subtype="voucher_service",
        seller=seller,
        buyer=buyer,
        total_amount=D(amount),
        technical_amount=D(amount),
        paid_amount=D(amount),
        registered_on=dt.date(2026, 5, 1),
        voucher_eligible=True,
        activity_id=f"voucher-booking:{i}",
    )


def test_award_match_preset_pays_one_to_one_in_the_city_only():
    policy = preset("lc2020-voucher-provider-award-match", "3302")
    assert calc.policy_from_dict(calc.policy_to_dict(policy)) == policy  # the bureau can store and edit it as data
    facts = [
        _fact(1, "330203", PROVINCIAL_AWARD, "80000"),
        _fact(2, "310104", PROVINCIAL_AWARD, "50000"),
        _fact(3, "330203", "service", "40000"),
    ]
    outcome = calc.compute(policy, facts, calc.Period.year(2026))
    paid = {r.org_id: r.total for r in outcome.results}
    assert paid == {10: D("80000.00"), 11: D("0.00")}  # out of city: excluded (seller_region); services: out of scope


def test_provider_preset_ignores_award_facts_and_pays_five_percent_of_service_contracts():
    policy = preset("lc2020-voucher-provider", "3302")
    facts = [
        _fact(1, "330203", VOUCHER_SERVICE, "40000"),
        _fact(2, "330203", PROVINCIAL_AWARD, "80000"),
        _fact(3, "330203", "service", "10000"),  # a registered service contract the bureau marked voucher-funded
    ]
    outcome = calc.compute(policy, facts, calc.Period.year(2026))
    assert [(r.org_id, r.total) for r in outcome.results] == [(10, D("2500.00"))]


def test_a_redemption_is_no_registered_contract_for_the_contract_policies():
    consulting = preset("lc2020-seller-consulting-service", "3302")  # 1 ‰ of the seller's service contracts
    outcome = calc.compute(consulting, [_fact(1, "330203", VOUCHER_SERVICE, "40000")], calc.Period.year(2026))
    assert outcome.results == () and outcome.out_of_scope == 1


def test_a_contract_fact_is_built_by_keyword_only():
    import pytest

    with pytest.raises(TypeError):
        calc.ContractFact(1, "R", "service", "", calc.Party("s"), calc.Party("b"), D(1), D(1), D(1), dt.date.today())  # type: ignore[misc]  # the point: positional is refused
