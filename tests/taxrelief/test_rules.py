"""The relief arithmetic, hand-worked across the 5,000,000 threshold, and which contracts qualify."""

import datetime as dt
from decimal import Decimal as D

import pytest

from market.taxrelief import rules


@pytest.mark.parametrize(
    ("income", "costs", "gain", "exempt", "excess", "taxable", "reduction", "saving"),
    [
        # below the threshold: all exempt; 25 % of 3,000,000 = 750,000
        ("3200000.00", "200000.00", "3000000.00", "3000000.00", "0.00", "0.00", "3000000.00", "750000.00"),
        # exactly at it
        ("5000000.00", "0", "5000000.00", "5000000.00", "0.00", "0.00", "5000000.00", "1250000.00"),
        # across it: 7,000,000 − 1,000,000 = 6,000,000; 5,000,000 exempt; 1,000,000 excess taxed on 500,000;
        # reduction 5,000,000 + 500,000 = 5,500,000; saving 5,500,000 × 25 % = 1,375,000
        ("7000000.00", "1000000.00", "6000000.00", "5000000.00", "1000000.00", "500000.00", "5500000.00", "1375000.00"),
        # an odd cent in the excess: half of 0.01 rounds to 0.01 taxable, so the reduction is 5,000,000.00
        ("5000000.01", "0", "5000000.01", "5000000.00", "0.01", "0.01", "5000000.00", "1250000.00"),
        # costs above income: no gain, no relief
        ("100.00", "500.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00"),
    ],
)
def test_estimate(income, costs, gain, exempt, excess, taxable, reduction, saving):
    e = rules.estimate(D(income), D(costs))
    assert (e.gain, e.exempt, e.excess, e.taxable, e.reduction, e.tax_saving) == tuple(
        D(v) for v in (gain, exempt, excess, taxable, reduction, saving)
    )
    assert e.exempt + e.excess == e.gain and e.reduction + e.taxable == e.gain


def test_high_tech_rate():
    assert rules.estimate(D("6000000"), rate=D("0.15")).tax_saving == D("825000.00")  # 5,500,000 × 15 %


def fact(**kw):
    base = dict(
        contract_id=1,
        registration_number="x",
        contract_type="transfer",
        subtype="patent_right",
        status="registered",
        valid_from=dt.date(2026, 1, 1),
        valid_until=dt.date(2026, 12, 31),
        related_party=False,
        received_in_year=D("100"),
    )
    return rules.ContractFact(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "qualifies", "reasons"),
    [
        ({}, True, ()),
        ({"contract_type": "service"}, False, ("type_not_transfer_or_licence",)),
        ({"status": "cancelled"}, False, ("not_registered",)),
        ({"contract_type": "license"}, False, ("licence_term_under_5_years",)),
        ({"contract_type": "license", "valid_until": dt.date(2030, 12, 31)}, True, ()),  # 5 full years
        ({"contract_type": "license", "valid_until": dt.date(2030, 12, 30)}, False, ("licence_term_under_5_years",)),
        ({"contract_type": "license", "valid_until": None}, False, ("licence_term_unknown",)),
    ],
)
def test_qualify(kw, qualifies, reasons):
    q = rules.qualify(fact(**kw))
    assert (q.qualifies, q.reasons) == (qualifies, reasons)


def test_related_party_is_a_warning():
    q = rules.qualify(fact(related_party=True))
    assert q.qualifies and q.warnings
