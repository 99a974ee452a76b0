"""Table-driven tests of the pure registration rules: no database."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from market.contracts import rules
from market.contracts.rules import ContractFacts, PartyFacts
from market.core.transitions import TransitionError
from tests.factories import valid_credit_code

TODAY = dt.date(2026, 3, 10)
SELLER = PartyFacts("seller", "宁波大学", valid_credit_code(9001), "022", "330205")
BUYER = PartyFacts("buyer", "甬新智能装备有限公司", valid_credit_code(9002), "150", "330212")
BROKER = PartyFacts("intermediary", "宁波技术转移中心", valid_credit_code(9003), "150", "330203")

GOOD = ContractFacts(
    contract_type="transfer",
    subtype="patent_right",
    total_amount=Decimal("1000000.00"),
    deductions=[Decimal("200000.00")],
    deduction_kinds=["equipment"],
    technical_transaction_amount=Decimal("800000.00"),
    signing_date=dt.date(2026, 3, 1),
    valid_from=dt.date(2026, 3, 1),
    valid_until=dt.date(2027, 3, 1),
    parties=[SELLER, BUYER, BROKER],
    payment_method="lump_sum",
    ip_type="invention_patent",
    technical_field="advanced_manufacturing",
    plan_source="unplanned",
)


def codes(facts):
    return [p.code for p in rules.validate_contract(facts, TODAY)]


def test_a_complete_contract_passes():
    assert codes(GOOD) == []


@pytest.mark.parametrize(
    "change, code",
    [
        ({"contract_type": "lease"}, "unknown_contract_type"),
        ({"subtype": "commissioned"}, "unknown_subtype"),  # a development subtype under 技术转让
        ({"technical_transaction_amount": Decimal("1000000.01")}, "technical_amount_exceeds_total"),
        ({"technical_transaction_amount": Decimal("810000.00")}, "deductions_do_not_add_up"),
        ({"deductions": [Decimal("1200000")], "technical_transaction_amount": None}, "deductions_exceed_total"),
        ({"deductions": [Decimal("-1")], "technical_transaction_amount": None}, "deduction_not_positive"),
        ({"deduction_kinds": ["lunch"]}, "unknown_deduction_kind"),
        ({"total_amount": Decimal("0"), "deductions": [], "technical_transaction_amount": None}, "amount_not_positive"),
        ({"valid_from": dt.date(2027, 4, 1)}, "validity_out_of_order"),
        ({"signing_date": dt.date(2026, 3, 11)}, "signing_date_in_future"),
        ({"signing_date": None}, "signing_date_required"),
        ({"valid_until": None}, "validity_required"),
        (
            {
                "signing_date": dt.date(2025, 1, 2),
                "valid_from": dt.date(2025, 1, 1),
                "valid_until": dt.date(2026, 3, 9),
            },
            "contract_expired",
        ),
        (
            {
                "signing_date": dt.date(2026, 3, 5),
                "valid_from": dt.date(2026, 1, 1),
                "valid_until": dt.date(2026, 3, 1),
            },
            "signed_after_expiry",
        ),
        ({"parties": [SELLER]}, "missing_party"),
        ({"parties": [BUYER]}, "missing_party"),
        ({"parties": [SELLER, BUYER, replace(BUYER, name="another buyer")]}, "duplicate_party"),
        ({"parties": [SELLER, replace(BUYER, credit_code=SELLER.credit_code)]}, "self_contract"),
        ({"parties": [replace(SELLER, org_id=7), replace(BUYER, org_id=7)]}, "self_contract"),
        ({"parties": [SELLER, BUYER, replace(BROKER, credit_code=BUYER.credit_code)]}, "intermediary_is_party"),
        ({"parties": [replace(SELLER, credit_code="123")] + [BUYER]}, "invalid_credit_code"),
        ({"parties": [replace(SELLER, credit_code=None), BUYER]}, "credit_code_required"),
        ({"parties": [replace(SELLER, region_code="990000"), BUYER]}, "invalid_region_code"),
        ({"parties": [replace(SELLER, entity_type_code="9x"), BUYER]}, "invalid_entity_type"),
        ({"technology_import": True}, "import_seller_not_foreign"),
        ({"payment_method": "barter"}, "unknown_payment_method"),
        ({"ip_type": None}, "ip_type_required"),
        ({"technical_field": "alchemy"}, "unknown_technical_field"),
        ({"plan_source": "mystery"}, "unknown_plan_source"),
    ],
)
def test_each_problem_is_named(change, code):
    assert code in codes(replace(GOOD, **change))


def test_a_foreign_seller_needs_no_credit_code_or_region():
    foreign = PartyFacts("seller", "Fraunhofer IPT", country="DE")
    assert codes(replace(GOOD, parties=[foreign, BUYER], technology_import=True)) == []


def test_derived_amount_when_not_claimed():
    assert rules.derived_technical_amount(Decimal("100.00"), [Decimal("30.10"), Decimal("9.90")]) == Decimal("60.00")
    assert codes(replace(GOOD, technical_transaction_amount=None)) == []


MON = dt.date(2026, 3, 2)  # a Monday


@pytest.mark.parametrize(
    "start, amount, disputed, holidays, extra, expected",
    [
        (MON, Decimal("100"), False, (), (), dt.date(2026, 3, 23)),  # 15 working days = 3 weeks
        (dt.date(2026, 3, 6), Decimal("100"), False, (), (), dt.date(2026, 3, 27)),  # filed on a Friday
        (dt.date(2026, 3, 7), Decimal("100"), False, (), (), dt.date(2026, 3, 27)),  # filed on a Saturday
        (MON, Decimal("4999999.99"), False, (), (), dt.date(2026, 3, 23)),
        (MON, Decimal("5000000.00"), False, (), (), dt.date(2026, 4, 13)),  # ≥ 5,000,000: 30 working days
        (MON, Decimal("100"), True, (), (), dt.date(2026, 4, 13)),  # disputed: 30
        (MON, Decimal("100"), False, (dt.date(2026, 3, 3), dt.date(2026, 3, 4)), (), dt.date(2026, 3, 25)),
        (MON, Decimal("100"), False, (), (dt.date(2026, 3, 7),), dt.date(2026, 3, 20)),  # 调休 Saturday
    ],
)
def test_decision_deadline(start, amount, disputed, holidays, extra, expected):
    assert rules.decision_deadline(start, amount, disputed, frozenset(holidays), frozenset(extra)) == expected


def test_parse_holidays():
    assert rules.parse_holidays("2026-10-01, 2026-10-02 2026-10-03") == {
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 2),
        dt.date(2026, 10, 3),
    }
    assert rules.parse_holidays("") == frozenset()


@pytest.mark.parametrize(
    "year, office, seq, template, expected",
    [
        (2026, "330200", 1, rules.DEFAULT_NUMBER_TEMPLATE, "2026330200000001"),
        (2026, "330200", 999999, rules.DEFAULT_NUMBER_TEMPLATE, "2026330200999999"),
        (2027, "330212", 42, rules.DEFAULT_NUMBER_TEMPLATE, "2027330212000042"),
        (2026, "330200", 7, "{office}-{year}-{seq:05d}", "330200-2026-00007"),
    ],
)
def test_registration_number_format(year, office, seq, template, expected):
    number = rules.format_registration_number(year, office, seq, template)
    assert number == expected
    if template == rules.DEFAULT_NUMBER_TEMPLATE:
        assert len(number) == 16 and rules.parse_registration_number(number) == (year, office, seq)


@pytest.mark.parametrize("seq, office", [(0, "330200"), (1_000_000, "330200"), (1, "3302")])
def test_registration_number_out_of_range(seq, office):
    with pytest.raises(rules.NumberFormatError):
        rules.format_registration_number(2026, office, seq)


@pytest.mark.parametrize(
    "status, action, expected",
    [
        ("draft", "submit", "submitted"),
        ("returned", "submit", "submitted"),
        ("submitted", "register", "registered"),
        ("submitted", "return", "returned"),
        ("submitted", "refuse", "refused"),
        ("registered", "amend", "registered"),
        ("registered", "cancel", "cancelled"),
        ("draft", "register", None),
        ("refused", "submit", None),
        ("cancelled", "amend", None),
        ("registered", "register", None),
        ("returned", "register", None),
        ("cancelled", "cancel", None),
    ],
)
def test_transitions(status, action, expected):
    if expected is None:
        with pytest.raises(TransitionError) as exc:
            rules.next_status(status, action)
        assert exc.value.code == "invalid_state"
    else:
        assert rules.next_status(status, action) == expected


@pytest.mark.parametrize("code, prefix", [("330000", "33"), ("330200", "3302"), ("330212", "330212"), ("3302", "3302")])
def test_region_prefix(code, prefix):
    assert rules.region_prefix(code) == prefix


def test_filer_role():
    assert rules.filer_role(False) == "seller" and rules.filer_role(True) == "buyer"
