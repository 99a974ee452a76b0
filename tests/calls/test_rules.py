"""Pure rules of open calls, table-driven, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.accounts.roles import Role
from market.calls import rules
from market.calls.rules import CallState as S

D = Decimal


@pytest.mark.parametrize(
    ("action", "state", "role", "outcome"),
    [
        ("publish", S.vetted, Role.programme_officer, S.published),
        ("publish", S.proposed, Role.programme_officer, "invalid_state"),
        ("publish", S.vetted, Role.org_admin, "role_required"),
        ("vet", S.proposed, Role.bureau_admin, S.vetted),
        ("vet", S.proposed, Role.registrar, "role_required"),
        ("submit_bid", S.published, Role.member, None),
        ("submit_bid", S.bidding_closed, Role.member, "invalid_state"),
        ("submit_bid", S.published, Role.expert, "role_required"),
        ("score", S.reviewing, Role.expert, None),
        ("score", S.notice, Role.expert, "invalid_state"),
        ("lodge_objection", S.notice, Role.member, None),
        ("lodge_objection", S.notice_ended, Role.member, "invalid_state"),
        ("award", S.notice, Role.programme_officer, "invalid_state"),
        ("award", S.notice_ended, Role.programme_officer, S.awarded),
        ("close", S.awarded, Role.programme_officer, S.closed),
        ("cancel", S.awarded, Role.programme_officer, "invalid_state"),
    ],
)
def test_transition_table(action, state, role, outcome):
    if outcome in ("invalid_state", "role_required"):
        with pytest.raises(rules.TransitionError) as e:
            rules.check_transition(action, state, role)
        assert e.value.code == outcome
    else:
        assert rules.check_transition(action, state, role).to_state == outcome


@pytest.mark.parametrize(
    ("total", "ratio", "cap", "firm", "gov"),
    [
        ("5000000", 30, "1000000", "4000000.00", "1000000.00"),  # capped
        ("1000000", 30, "1000000", "700000.00", "300000.00"),  # under the cap
        ("1000000", 0, None, "1000000.00", "0.00"),  # no government support
        ("0.03", 50, None, "0.02", "0.01"),  # rounds the support down to the fen
    ],
)
def test_split_amount(total, ratio, cap, firm, gov):
    assert rules.split_amount(D(total), ratio, D(cap) if cap else None) == (D(firm), D(gov))


@given(st.integers(min_value=1, max_value=10**12), st.integers(0, 100))
def test_split_is_exact(fen, ratio):
    total = D(fen) / 100
    firm, gov = rules.split_amount(total, ratio, None)
    assert firm + gov == total and gov >= 0


@pytest.mark.parametrize(
    ("grant", "pct", "first"), [("1000000", 60, "600000.00"), ("333333.34", 70, "233333.34"), ("0.01", 60, "0.01")]
)
def test_first_tranche(grant, pct, first):
    assert rules.first_tranche(D(grant), pct) == D(first)


@given(st.integers(1, 10**10), st.integers(1, 5))
def test_split_evenly_sums(fen, parts):
    shares = rules.split_evenly(D(fen) / 100, parts)
    assert sum(shares) == D(fen) / 100 and max(shares) - min(shares) <= D("0.01")


@given(st.integers(100, 10**10), st.lists(st.integers(1, 50), min_size=1, max_size=6))
def test_milestone_amounts_sum_to_price(fen, shares):
    price = D(fen) / 100
    assert sum(rules.milestone_amounts(price, shares)) == price


@pytest.mark.parametrize(
    ("criteria", "codes"),
    [
        ([{"name": "a", "weight": 60}, {"name": "b", "weight": 40}], []),
        ([{"name": "a", "weight": 60}, {"name": "b", "weight": 30}], ["criteria_weights_sum"]),
        ([{"name": "a", "weight": 100}, {"name": "b", "weight": 0}], ["criteria_weight_positive"]),
        ([{"name": "a", "weight": 50}, {"name": "a", "weight": 50}], ["criteria_names"]),
        ([], ["criteria_required"]),
    ],
)
def test_criteria(criteria, codes):
    assert [p[1] for p in rules.check_criteria(criteria)] == codes


def _ms(*shares_months):
    return [{"title": "t", "deliverable": "d", "due_month": m, "payment_share_pct": s} for s, m in shares_months]


@pytest.mark.parametrize(
    ("milestones", "codes"),
    [
        (_ms((60, 6), (40, 12)), []),
        (_ms((60, 6), (30, 12)), ["shares_sum"]),
        (_ms((60, 12), (40, 6)), ["due_month_order"]),
        (_ms((100, 25)), ["due_month_range"]),
        (_ms((0, 6), (100, 12)), ["share_positive"]),
        ([], ["milestones_required"]),
    ],
)
def test_milestones(milestones, codes):
    assert [p[1] for p in rules.check_milestones(milestones, 24)] == codes


def _org(i=1, etype="022", region="330212", verified=True, black=False):
    return rules.OrgFacts(i, etype, region, verified, black)


@pytest.mark.parametrize(
    ("elig", "lead", "members", "codes"),
    [
        (rules.Eligibility("solve"), _org(), [], []),
        (rules.Eligibility("solve", regions=["3302"]), _org(region="330106"), [], ["region_not_eligible"]),
        (rules.Eligibility("solve", entity_types=["1"]), _org(etype="150"), [], []),
        (rules.Eligibility("solve", entity_types=["021", "022"]), _org(etype="150"), [], ["entity_type_not_eligible"]),
        (rules.Eligibility("solve", consortium_allowed=False), _org(), [_org(2)], ["consortium_not_allowed"]),
        (rules.Eligibility("solve"), _org(), [_org(2, black=True)], ["not_eligible"]),
        (rules.Eligibility("solve"), _org(), [_org(1)], ["members_duplicate"]),
        (rules.Eligibility("adopt"), _org(etype="022"), [], ["enterprise_required"]),
        (rules.Eligibility("solve"), _org(verified=False), [], ["org_not_verified"]),
        (rules.Eligibility("solve", posing_org_id=2), _org(), [_org(2, "150")], ["posing_org_excluded"]),
        # Region and entity type bind the lead only: a Ningbo university may bring a Hangzhou firm.
        (rules.Eligibility("solve", regions=["3302"], entity_types=["022"]), _org(), [_org(2, "150", "330106")], []),
    ],
)
def test_eligibility(elig, lead, members, codes):
    assert [p[1] for p in rules.check_eligibility(elig, lead, members)] == codes


@pytest.mark.parametrize(
    ("totals", "score", "trimmed", "flag"),
    [
        ([], None, False, False),
        (["80"], "80.00", False, False),
        (["80", "82", "78", "81"], "80.25", False, False),
        (["20", "70", "75", "80", "95"], "75.00", True, True),  # trimmed; spread 75 flagged
        (["70", "72", "74", "76", "99"], "74.00", True, True),  # one outlier: the trimmed mean ignores it, flag stays
        (["70", "72", "74", "76", "78"], "74.00", True, False),
        (["60", "90"], "75.00", False, True),  # spread 30 > 25
    ],
)
def test_aggregate(totals, score, trimmed, flag):
    agg = rules.aggregate([D(t) for t in totals])
    assert (agg.score, agg.trimmed, agg.disagreement) == (D(score) if score else None, trimmed, flag)


def test_weighted_total_requires_every_criterion():
    crit = [{"name": "a", "weight": 70}, {"name": "b", "weight": 30}]
    assert rules.weighted_total(crit, {"a": 90, "b": 50}) == D("78.00")
    for bad in ({"a": 90}, {"a": 90, "b": 101}, {"a": 90, "b": 50, "c": 1}):
        with pytest.raises(ValueError):
            rules.weighted_total(crit, bad)


def test_bidding_open_is_strictly_before_deadline():
    deadline = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    tick = dt.timedelta(microseconds=1)
    assert rules.bidding_open(S.published, deadline, deadline - tick)
    assert not rules.bidding_open(S.published, deadline, deadline)
    assert not rules.bidding_open(S.vetted, deadline, deadline - tick)


def test_expert_eligibility_and_spread():
    experts = [rules.ExpertFacts(u, org, frozenset({"new_energy"})) for u, org in ((1, 10), (2, 11), (3, 12), (4, 13))]
    experts.append(rules.ExpertFacts(5, 14, frozenset({"agriculture"})))
    ok = rules.eligible_experts(
        experts, field="new_energy", team_org_ids={10}, conflict_org_ids={2: {10}}, conflict_bid={3}, bid_id=7
    )
    assert [e.user_id for e in ok] == [4]
    picked = rules.pick_experts(experts[:4], 2, {1: 3, 2: 0, 3: 0, 4: 1}, bid_id=1)
    assert set(picked) == {2, 3}


@pytest.mark.parametrize(
    ("used", "months", "code"), [(False, 6, None), (True, 6, "extension_used"), (False, 13, "extension_range")]
)
def test_extension(used, months, code):
    if code is None:
        rules.check_extension(used, months)
    else:
        with pytest.raises(rules.TransitionError) as e:
            rules.check_extension(used, months)
        assert e.value.code == code


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2027, 12, 15), 3, dt.date(2028, 3, 15)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),
    ],
)
def test_add_months(day, months, expected):
    assert rules.add_months(day, months) == expected


@pytest.mark.parametrize(
    ("kw", "visible"),
    [
        ({"role": Role.programme_officer}, True),
        ({"role": Role.member, "org_id": 5}, True),  # own (lead or member)
        ({"role": Role.member, "org_id": 6}, False),  # rival
        ({"role": Role.expert, "user_id": 9, "org_id": 5}, False),  # expert from the team's org, not assigned
        ({"role": Role.expert, "user_id": 8}, True),  # assigned
        ({"role": None}, False),  # public before award
        ({"role": None, "call_state": S.awarded, "bid_state": "winner"}, True),
        ({"role": None, "call_state": S.awarded, "bid_state": "not_selected"}, False),
    ],
)
def test_can_read_bid(kw, visible):
    args = {
        "role": None,
        "org_id": None,
        "user_id": None,
        "team_org_ids": {5},
        "bid_state": "formal_passed",
        "call_state": S.reviewing,
        "assigned_expert_ids": {8},
    } | kw
    assert rules.can_read_bid(**args) is visible


# --- money in the terms, tranches, milestone order, integrity records -------------------------------


@pytest.mark.parametrize(
    ("terms", "codes"),
    [
        ({}, []),
        ({"total_amount": D("0")}, ["amount_not_positive"]),
        ({"gov_support_cap": D("-0.01")}, ["amount_negative"]),
        ({"gov_support_cap": D("0")}, []),
        ({"gov_support_ratio_pct": 101}, ["share_range"]),
        ({"first_tranche_pct": 59}, ["first_tranche_reason_required"]),
        ({"first_tranche_pct": 59, "first_tranche_reason": "设备集中采购"}, []),
        ({"first_tranche_pct": 0, "first_tranche_reason": "全部按里程碑拨付"}, []),
        ({"first_tranche_pct": 60}, []),
        ({"first_tranche_pct": -1}, ["share_range"]),
    ],
)
def test_money_terms(terms, codes):
    base = {
        "total_amount": D("1000"),
        "gov_support_ratio_pct": 30,
        "gov_support_cap": None,
        "first_tranche_pct": 60,
        "first_tranche_reason": None,
    }
    assert [p[1] for p in rules.check_money_terms(**(base | terms))] == codes


@pytest.mark.parametrize(
    ("price", "codes"),
    [(D("3000000"), []), (D("3000000.01"), ["price_exceeds_call"]), (D("0"), ["price_positive"]), (D("1"), [])],
)
def test_bid_price_against_the_call(price, codes):
    assert [p[1] for p in rules.check_bid_price(price, D("3000000"))] == codes


def test_tranche_plan_is_fen_exact():
    first, rest = rules.tranche_plan(D("333333.33"), 70, [30, 30, 40])
    assert first == D("233333.33") and rest == [D("30000.00"), D("30000.00"), D("40000.00")]
    first, rest = rules.tranche_plan(D("100.01"), 60, [33, 33, 34])
    assert first + sum(rest) == D("100.01")


@pytest.mark.parametrize(
    ("seq", "earlier", "ok"),
    [
        (1, [], True),
        (2, [(1, "passed", None)], True),
        (2, [(1, "submitted", None)], False),
        (2, [(1, "failed", None)], False),
        (2, [(1, "failed", "continue")], True),
        (3, [(1, "passed", None), (2, "pending", "rework")], False),
    ],
)
def test_milestones_reviewed_in_order(seq, earlier, ok):
    assert rules.milestone_reviewable(seq, earlier) is ok


@pytest.mark.parametrize(
    ("lifted", "on", "active"),
    [
        (None, dt.date(2026, 1, 1), True),  # first day
        (None, dt.date(2026, 12, 31), True),  # last day
        (None, dt.date(2027, 1, 1), False),
        (None, dt.date(2025, 12, 31), False),
        (dt.date(2026, 6, 1), dt.date(2026, 5, 31), True),
        (dt.date(2026, 6, 1), dt.date(2026, 6, 1), False),  # lifted from that day
    ],
)
def test_integrity_record_period(lifted, on, active):
    assert rules.integrity_record_active(dt.date(2026, 1, 1), dt.date(2026, 12, 31), lifted, on) is active
