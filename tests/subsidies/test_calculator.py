"""The calculator's rules, table-driven, and its invariants as hypothesis properties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.subsidies.calculator import (
    Aggregation,
    Basis,
    Beneficiary,
    Bracket,
    ContractFact,
    History,
    Party,
    Period,
    Policy,
    PolicyError,
    bracket_amount,
    compute,
    policy_from_dict,
    policy_to_dict,
    working_json,
)
from tests.subsidies.helpers import FIRM, UNI, fact

Y2024 = Period.year(2024)


def seller_policy(**kw) -> Policy:
    base = dict(code="t", name="t", beneficiary=Beneficiary.seller, brackets=(Bracket(D("0.10")),))
    return Policy(**(base | kw))


def only(outcome):
    (result,) = outcome.results
    return result


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "cancelled"}, "cancelled"),
        ({"status": "submitted"}, "not_registered"),
        ({"on": dt.date(2023, 12, 31)}, "outside_period"),
        ({"on": dt.date(2024, 1, 1), "policy": {"valid_from": dt.date(2024, 3, 1)}}, "outside_validity"),
        ({"on": dt.date(2024, 9, 1), "policy": {"valid_until": dt.date(2024, 8, 31)}}, "outside_validity"),
        ({"policy": {"seller_entity_types": frozenset({"enterprise"})}}, "seller_entity_type"),
        ({"policy": {"buyer_entity_types": frozenset({"research"})}}, "buyer_entity_type"),
        ({"policy": {"seller_regions": ("3301",)}}, "seller_region"),
        ({"policy": {"buyer_regions": ("3301",)}}, "buyer_region"),
        ({"policy": {"intermediary_regions": ("3302",)}}, "intermediary_region"),
        ({"policy": {"intermediary_filing_levels": frozenset({"city"})}}, "intermediary_filing_level"),
        ({"amount": 0}, "zero_basis"),
        ({"policy": {"min_annual_basis": D("100001")}}, "below_annual_threshold"),
    ],
)
def test_why_a_contract_is_excluded(changes, reason):
    policy = seller_policy(**changes.pop("policy", {}))
    f = fact(changes.pop("amount", 100_000), on=changes.pop("on", dt.date(2024, 6, 1)), **changes)
    r = only(compute(policy, [f], Y2024))
    assert r.total == 0 and r.contributions == ()
    assert [(e.contract_id, e.reason) for e in r.exclusions] == [(f.contract_id, reason)]
    assert r.exclusions[0].message  # a human explanation, in Chinese


def test_a_flagged_policy_ignores_unflagged_contracts():
    out = compute(
        seller_policy(required_flags_any=frozenset({"first_set", "domestic_first"})),
        [fact(100_000), fact(100_000, domestic_first=True)],
        Y2024,
    )
    assert only(out).total == D("10000.00") and out.out_of_scope == 1


def test_threshold_met_exactly_pays():
    r = only(compute(seller_policy(min_annual_basis=D("100000")), [fact(100_000)], Y2024))
    assert r.total == D("10000.00")


def test_an_amended_or_re_registered_activity_is_paid_once_on_its_latest_version():
    first = fact(1_000_000, activity_id="deal-1", on=dt.date(2024, 2, 1))
    amended = fact(1_200_000, activity_id="deal-1", on=dt.date(2024, 5, 1))
    r = only(compute(seller_policy(), [amended, first], Y2024))
    assert [(c.contract_id, c.amount) for c in r.contributions] == [(amended.contract_id, D("120000.00"))]
    assert [(e.contract_id, e.reason) for e in r.exclusions] == [(first.contract_id, "superseded")]


def test_an_activity_paid_in_an_earlier_run_is_not_paid_again():
    f = fact(1_000_000, activity_id="deal-9")
    r = only(compute(seller_policy(), [f], Y2024, History(subsidised_activities=frozenset({"deal-9"}))))
    assert r.total == 0 and r.exclusions[0].reason == "already_subsidised"


def test_re_transfer_pays_only_the_value_added_over_the_highest_earlier_transfer():
    first = fact(1_000_000, achievement_id=7, on=dt.date(2024, 1, 10))
    resale = fact(1_500_000, achievement_id=7, on=dt.date(2024, 6, 1), seller=FIRM, buyer=UNI)
    cheaper = fact(1_200_000, achievement_id=7, on=dt.date(2024, 8, 1))
    development = fact(5_000_000, achievement_id=7, type="development", on=dt.date(2024, 9, 1))
    out = compute(seller_policy(), [cheaper, resale, first, development], Y2024).by_key()
    uni = out["org:9001"]
    assert {c.contract_id: c.counted_amount for c in uni.contributions} == {
        first.contract_id: D("1000000"),
        development.contract_id: D("5000000"),  # development moves no achievement
    }
    assert {e.contract_id: e.reason for e in uni.exclusions} == {cheaper.contract_id: "no_value_added"}
    firm = out["org:9101"].contributions[0]
    assert (firm.basis_amount, firm.counted_amount, firm.prior_transfer_value) == (
        D("1500000"),
        D("500000"),
        D("1000000"),
    )
    assert firm.amount == D("50000.00")


def test_re_transfer_remembers_earlier_periods():
    f = fact(1_500_000, achievement_id=8)
    history = History(prior_transfer_values={(8, "total"): D("2000000")})
    r = only(compute(seller_policy(), [f], Y2024, history))
    assert r.exclusions[0].reason == "no_value_added"


def test_a_cancelled_earlier_transfer_sets_no_high_water_mark():
    cancelled = fact(3_000_000, achievement_id=9, status="cancelled", on=dt.date(2024, 1, 1))
    later = fact(1_000_000, achievement_id=9, on=dt.date(2024, 2, 1))
    r = only(compute(seller_policy(), [cancelled, later], Y2024))
    assert r.total == D("100000.00")


def test_broker_is_paid_as_a_person_within_their_intermediary():
    inter = Party("机构", org_id=77, entity_type="150", region="330201")
    policy = Policy(code="b", name="b", beneficiary=Beneficiary.broker, brackets=(Bracket(D("0.01")),))
    out = compute(policy, [fact(1_000_000, intermediary=inter, broker="王经纪"), fact(1_000_000)], Y2024)
    assert [(r.key, r.total) for r in out.results] == [("org:77/broker:王经纪", D("10000.00"))]
    assert out.out_of_scope == 1


@pytest.mark.parametrize(
    ("brackets", "code"),
    [
        ((), "policy_no_rates"),
        ((Bracket(D("1.5")),), "policy_bad_rate"),
        ((Bracket(D("0.1"), D("100")),), "policy_bad_brackets"),
        ((Bracket(D("0.1"), D("100")), Bracket(D("0.1"), D("50")), Bracket(D("0.1"))), "policy_bad_brackets"),
    ],
)
def test_bad_policies_are_refused_with_a_code(brackets, code):
    with pytest.raises(PolicyError) as err:
        seller_policy(brackets=brackets)
    assert err.value.code == code


def test_policy_round_trips_through_json_and_refuses_floats():
    p = seller_policy(brackets=(Bracket(D("0.015"), D("10000000")), Bracket(D("0.01"))), cap_per_year=D("300000"))
    assert policy_from_dict(policy_to_dict(p)) == p
    data = policy_to_dict(p) | {"cap_per_year": 300000.5}
    with pytest.raises(PolicyError) as err:
        policy_from_dict(data)
    assert err.value.code == "policy_float_amount"


def test_working_json_adds_up():
    policy = seller_policy(cap_per_year=D("150000"), aggregation=Aggregation.per_year)
    r = only(compute(policy, [fact(1_000_000), fact(1_000_000), fact(1, status="cancelled")], Y2024))
    w = working_json(r, policy)
    assert w["total"] == "150000.00" and w["before_caps"] == "200000.00" and w["year_cap_cut"] == "50000.00"
    assert sum(D(c["paid"]) for c in w["contributions"]) == D(w["total"])
    assert [e["reason"] for e in w["exclusions"]] == ["cancelled"]


# ---- properties --------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=50_000_000, places=2, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)
caps = st.none() | st.decimals(min_value=0, max_value=2_000_000, places=0, allow_nan=False, allow_infinity=False)
SELLERS = [Party(f"s{i}", org_id=i, entity_type="022", region="330201") for i in range(4)]


@st.composite
def brackets(draw):
    edges = sorted(set(draw(st.lists(st.integers(1, 40_000_000), max_size=3))))
    rs = draw(st.lists(rates, min_size=len(edges) + 1, max_size=len(edges) + 1))
    return tuple(Bracket(r, D(e)) for r, e in zip(rs, edges, strict=False)) + (Bracket(rs[-1]),)


@st.composite
def policies(draw):
    return Policy(
        code="p",
        name="p",
        beneficiary=Beneficiary.seller,
        basis=draw(st.sampled_from(list(Basis))),
        aggregation=draw(st.sampled_from(list(Aggregation))),
        brackets=draw(brackets()),
        cap_per_contract=draw(caps),
        cap_per_year=draw(caps),
    )


@st.composite
def contract_sets(draw):
    n = draw(st.integers(0, 12))
    facts = []
    for i in range(n):
        total = draw(money)
        facts.append(
            ContractFact(
                contract_id=i + 1,
                registration_number=f"R{i + 1}",
                contract_type=draw(st.sampled_from(["transfer", "development", "license"])),
                subtype="",
                seller=draw(st.sampled_from(SELLERS)),
                buyer=FIRM,
                total_amount=total,
                technical_amount=draw(money),
                paid_amount=draw(money),
                registered_on=dt.date(2024, draw(st.integers(1, 12)), draw(st.integers(1, 28))),
                status=draw(st.sampled_from(["registered", "registered", "registered", "cancelled"])),
                achievement_id=draw(st.none() | st.integers(1, 3)),
                activity_id=draw(st.sampled_from(["", "", "", "a1", "a2"])),
            )
        )
    return facts


@settings(max_examples=150, deadline=None)
@given(policies(), contract_sets())
def test_caps_hold_and_totals_are_contributions_cut_by_exactly_the_caps(policy, facts):
    for r in compute(policy, facts, Y2024).results:
        for c in r.contributions:
            if policy.cap_per_contract is not None:
                assert c.amount - c.contract_cap_cut <= policy.cap_per_contract
                assert c.contract_cap_cut == max(D(0), c.amount - policy.cap_per_contract)
            assert c.paid >= 0
        after_contract_caps = sum((c.amount - c.contract_cap_cut for c in r.contributions), D(0))
        expected_year_cut = D(0)
        if policy.cap_per_year is not None:
            assert r.total <= policy.cap_per_year
            expected_year_cut = max(D(0), after_contract_caps - policy.cap_per_year)
        assert r.year_cap_cut == expected_year_cut
        assert r.total == r.before_caps - r.contract_cap_cut - r.year_cap_cut
        assert r.before_caps == sum((c.amount for c in r.contributions), D(0))
        assert r.total == sum((c.paid for c in r.contributions), D(0))


@settings(max_examples=150, deadline=None)
@given(policies(), contract_sets())
def test_no_contract_or_activity_is_paid_twice_and_every_contract_is_accounted_for(policy, facts):
    outcome = compute(policy, facts, Y2024)
    paid = [c.contract_id for r in outcome.results for c in r.contributions]
    activities = [c.activity_id for r in outcome.results for c in r.contributions]
    excluded = [e.contract_id for r in outcome.results for e in r.exclusions]
    assert len(paid) == len(set(paid)) and len(activities) == len(set(activities))
    assert sorted(paid + excluded) == sorted(f.contract_id for f in facts)
    assert not {f.contract_id for f in facts if f.status == "cancelled"} & set(paid)


@settings(max_examples=150, deadline=None)
@given(policies(), contract_sets(), st.decimals(min_value=1, max_value=3, places=2))
def test_raising_a_rate_never_lowers_a_payout(policy, facts, factor):
    raised_brackets = tuple(Bracket(min(D(1), b.rate * factor), b.upto) for b in policy.brackets)
    raised = Policy(**{**policy.__dict__, "brackets": raised_brackets})
    before = {r.key: r.total for r in compute(policy, facts, Y2024).results}
    after = {r.key: r.total for r in compute(raised, facts, Y2024).results}
    assert before.keys() == after.keys()
    assert all(after[k] >= before[k] for k in before)


@settings(max_examples=300, deadline=None)
@given(brackets(), money, st.decimals(min_value=D("0.01"), max_value=1_000_000, places=2))
def test_brackets_are_marginal_no_cliff(bs, x, step):
    max_rate = max(b.rate for b in bs)
    lo, hi = bracket_amount(bs, x), bracket_amount(bs, x + step)
    assert D(0) <= hi - lo <= step * max_rate
    for b in bs:  # right at and just past each edge
        if b.upto is not None:
            at, past = bracket_amount(bs, b.upto), bracket_amount(bs, b.upto + D("0.01"))
            assert D(0) <= past - at <= D("0.01") * max_rate
