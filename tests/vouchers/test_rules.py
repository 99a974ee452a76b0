"""Voucher rules, table-driven, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest

from market.vouchers import rules
from market.vouchers.rules import RuleViolation

TODAY = dt.date(2026, 6, 1)
PROGRAMME = dict(
    total_budget=D("1000000"),
    province_share=D("0.6"),
    city_share=D("0.3"),
    face_value=None,
    per_firm_ceiling=D("50000"),
    firm_kinds=["sme"],
    categories=["testing_certification"],
    valid_from=dt.date(2026, 1, 1),
    valid_until=dt.date(2026, 12, 31),
)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({}, None),
        ({"total_budget": D("0")}, "budget_not_positive"),
        ({"province_share": D("1.2")}, "share_out_of_range"),
        ({"province_share": D("0.8"), "city_share": D("0.3")}, "shares_out_of_range"),
        ({"province_share": D("0"), "city_share": D("0")}, "shares_out_of_range"),
        ({"face_value": D("10000")}, "value_rule_required"),  # both given
        ({"per_firm_ceiling": None}, "value_rule_required"),  # neither
        ({"per_firm_ceiling": D("2000000")}, "value_out_of_range"),
        ({"firm_kinds": ["giant"]}, "unknown_firm_kind"),
        ({"categories": []}, "unknown_category"),
        ({"categories": ["catering"]}, "unknown_category"),
        ({"valid_until": dt.date(2025, 12, 31)}, "bad_validity"),
    ],
)
def test_programme_terms(change, code):
    if code is None:
        rules.check_programme(**{**PROGRAMME, **change})
        return
    with pytest.raises(RuleViolation) as err:
        rules.check_programme(**{**PROGRAMME, **change})
    assert err.value.code == code


TERMS = rules.ProgrammeTerms(
    "open", None, D("50000"), frozenset({"sme", "maker_team"}), dt.date(2026, 1, 1), dt.date(2026, 12, 31), "3302"
)
APPLICANT = dict(
    org_kind="enterprise", org_verified=True, org_region="330212", firm_kind="sme", requested=D("30000"), today=TODAY
)


@pytest.mark.parametrize(
    ("terms", "change", "code"),
    [
        (TERMS, {}, None),
        (replace(TERMS, status="closed"), {}, "programme_closed"),
        (TERMS, {"today": dt.date(2027, 1, 1)}, "programme_closed"),
        (TERMS, {"org_kind": "university"}, "firm_not_eligible"),
        (TERMS, {"org_verified": False}, "org_not_verified"),
        (TERMS, {"org_region": "330100"}, "firm_outside_city"),
        (TERMS, {"firm_kind": "startup"}, "firm_kind_not_eligible"),
        (TERMS, {"requested": D("0")}, "amount_not_positive"),
        (TERMS, {"requested": D("50000.01")}, "above_firm_ceiling"),
        (TERMS, {"requested": D("50000")}, None),
    ],
)
def test_application(terms, change, code):
    args = {**APPLICANT, **change}
    if code is None:
        rules.check_application(terms, **args)
        return
    with pytest.raises(RuleViolation) as err:
        rules.check_application(terms, **args)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("face", "requested", "granted", "expected"),
    [
        (D("20000"), D("20000"), None, D("20000")),
        (D("20000"), D("20000"), D("5"), D("20000")),  # a face value is a face value
        (None, D("30000"), None, D("30000")),
        (None, D("30000"), D("25000"), D("25000")),
        (None, D("30000"), D("30000.01"), "bad_granted_amount"),
        (None, D("30000"), D("0"), "bad_granted_amount"),
    ],
)
def test_voucher_value(face, requested, granted, expected):
    terms = replace(TERMS, face_value=face, per_firm_ceiling=None if face else D("50000"))
    if isinstance(expected, str):
        with pytest.raises(RuleViolation) as err:
            rules.voucher_value(terms, requested, granted)
        assert err.value.code == expected
    else:
        assert rules.voucher_value(terms, requested, granted) == expected


@pytest.mark.parametrize(
    ("total", "committed", "value", "left"),
    [
        (D("100000"), D("0"), D("100000"), D("0")),
        (D("100000"), D("60000"), D("40000"), D("0")),
        (D("100000"), D("60000"), D("40000.01"), None),
        (D("100000"), D("100000"), D("0.01"), None),
    ],
)
def test_budget_never_overcommitted(total, committed, value, left):
    if left is None:
        with pytest.raises(RuleViolation) as err:
            rules.check_budget(total, committed, value)
        assert err.value.code == "budget_exhausted"
    else:
        assert rules.check_budget(total, committed, value) == left


FACTS = rules.BookingFacts(
    voucher_status="issued",
    voucher_balance=D("30000"),
    voucher_expires_on=dt.date(2026, 12, 31),
    firm_org_id=1,
    provider_org_id=2,
    provider_status="approved",
    provider_region="330203",
    provider_categories=frozenset({"testing_certification", "consulting"}),
    related=False,
    eligible_categories=frozenset({"testing_certification", "intellectual_property"}),
    out_of_city_allowed=False,
    region_prefix="3302",
    province_share=D("0.6"),
    city_share=D("0.3"),
)
BOOK = dict(
    category="testing_certification", price=D("20000"), voucher_amount=D("18000"), settlement="general", today=TODAY
)


@pytest.mark.parametrize(
    ("facts", "change", "code"),
    [
        (FACTS, {}, None),
        (replace(FACTS, voucher_status="expired"), {}, "voucher_not_active"),
        (replace(FACTS, voucher_status="voided"), {}, "voucher_not_active"),
        (FACTS, {"today": dt.date(2027, 1, 1)}, "voucher_expired"),
        (replace(FACTS, provider_status="suspended"), {}, "provider_not_approved"),
        (replace(FACTS, provider_status="pending"), {}, "provider_not_approved"),
        (replace(FACTS, provider_org_id=1), {}, "related_party"),  # the same organisation
        (replace(FACTS, related=True), {}, "related_party"),  # a declared relationship
        (replace(FACTS, provider_region="310104"), {}, "out_of_city_not_allowed"),
        (replace(FACTS, provider_region="310104", out_of_city_allowed=True), {}, None),  # 通用通兑
        (FACTS, {"category": "consulting"}, "category_not_eligible"),
        (FACTS, {"category": "intellectual_property"}, "not_in_catalogue"),
        (FACTS, {"settlement": "barter"}, "unknown_settlement"),
        (FACTS, {"voucher_amount": D("0")}, "amount_not_positive"),
        (FACTS, {"voucher_amount": D("18000.01")}, "voucher_share_exceeded"),  # 90 % of 20,000
        (FACTS, {"price": D("40000"), "voucher_amount": D("30000.01")}, "voucher_balance_insufficient"),
        (FACTS, {"price": D("40000"), "voucher_amount": D("30000")}, None),
    ],
)
def test_booking(facts, change, code):
    args = {**BOOK, **change}
    if code is None:
        rules.check_booking(facts, **args)
        return
    with pytest.raises(RuleViolation) as err:
        rules.check_booking(facts, **args)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("price", "p", "c", "most"),
    [
        (D("20000"), D("0.6"), D("0.3"), D("18000.00")),
        (D("333.33"), D("0.6"), D("0.3"), D("299.99")),  # rounded down: never more than the shares
        (D("1000"), D("0.5"), D("0.5"), D("1000.00")),
    ],
)
def test_max_voucher_amount(price, p, c, most):
    assert rules.max_voucher_amount(price, p, c) == most


@pytest.mark.parametrize(
    ("amount", "p", "c", "province", "city"),
    [
        (D("18000"), D("0.6"), D("0.3"), D("12000.00"), D("6000.00")),
        (D("100.00"), D("0.6"), D("0.3"), D("66.67"), D("33.33")),  # the city takes the rounding; sum exact
        (D("0.01"), D("0.6"), D("0.3"), D("0.01"), D("0.00")),
        (D("9000"), D("0.5"), D("0.25"), D("6000.00"), D("3000.00")),
    ],
)
def test_split_shares(amount, p, c, province, city):
    shares = rules.split_shares(amount, p, c)
    assert shares == {"province": province, "city": city}
    assert sum(shares.values()) == amount


@pytest.mark.parametrize(
    ("state", "action", "result"),
    [
        ("booked", "deliver", "delivered"),
        ("booked", "cancel", "cancelled"),
        ("booked", "confirm", None),
        ("delivered", "confirm", "confirmed"),
        ("delivered", "cancel", None),
        ("confirmed", "claim", "claimed"),
        ("delivered", "claim", None),
        ("claimed", "approve", "redeemed"),
        ("claimed", "reject", "confirmed"),  # a rejected claim may be corrected and claimed again
        ("redeemed", "claim", None),
        ("cancelled", "deliver", None),
    ],
)
def test_booking_flow(state, action, result):
    if result is None:
        with pytest.raises(RuleViolation) as err:
            rules.next_booking_state(state, action)
        assert err.value.code == "invalid_state"
    else:
        assert rules.next_booking_state(state, action) == result


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"quality": 5, "timeliness": 4, "attitude": 5}, D("4.67")),
        ({"quality": 1, "timeliness": 1, "attitude": 1}, D("1.00")),
        ({"quality": 6, "timeliness": 4, "attitude": 5}, "bad_scores"),
        ({"quality": 0, "timeliness": 4, "attitude": 5}, "bad_scores"),
        ({"quality": 5, "timeliness": 4}, "bad_scores"),
        ({"quality": 5, "timeliness": 4, "attitude": 5, "price": 3}, "bad_scores"),
        ({"quality": True, "timeliness": 4, "attitude": 5}, "bad_scores"),
    ],
)
def test_service_score(scores, expected):
    if isinstance(expected, str):
        with pytest.raises(RuleViolation) as err:
            rules.service_score(scores)
        assert err.value.code == expected
    else:
        assert rules.service_score(scores) == expected


@pytest.mark.parametrize(
    ("settlement", "price", "voucher", "paid", "contract", "proof", "code"),
    [
        ("general", D("20000"), D("18000"), D("20000"), "SC-1", "bank slip", None),
        ("general", D("20000"), D("18000"), D("2000"), "SC-1", "bank slip", "payment_incomplete"),  # 通用: pays in full
        ("direct", D("20000"), D("18000"), D("2000"), "SC-1", "bank slip", None),  # 通兑: the rest only
        ("direct", D("20000"), D("18000"), D("1999.99"), "SC-1", "bank slip", "payment_incomplete"),
        ("general", D("20000"), D("18000"), D("20000"), " ", "bank slip", "contract_required"),
        ("general", D("20000"), D("18000"), D("20000"), "SC-1", "", "payment_proof_required"),
    ],
)
def test_claim(settlement, price, voucher, paid, contract, proof, code):
    if code is None:
        rules.check_claim(settlement, price, voucher, paid, contract, proof)
        return
    with pytest.raises(RuleViolation) as err:
        rules.check_claim(settlement, price, voucher, paid, contract, proof)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("status", "expires", "today", "due"),
    [
        ("issued", dt.date(2026, 12, 31), dt.date(2026, 12, 31), False),  # valid through its last day
        ("issued", dt.date(2026, 12, 31), dt.date(2027, 1, 1), True),
        ("expired", dt.date(2026, 12, 31), dt.date(2027, 1, 1), False),
        ("voided", dt.date(2026, 12, 31), dt.date(2027, 1, 1), False),
        ("applied", None, dt.date(2027, 1, 1), False),
    ],
)
def test_expiry(status, expires, today, due):
    assert rules.is_due_to_expire(status, expires, today) is due


def test_claimant_and_rate():
    assert rules.claimant("general") == "firm" and rules.claimant("direct") == "provider"
    assert rules.rate(D("1"), D("3")) == D("0.3333")
    assert rules.rate(D("1"), D("0")) is None
    assert rules.voucher_number(2026, 3, 17) == "CXQ-2026-003-000017"
