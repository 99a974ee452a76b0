"""Settling a year across runs (pure): caps over frozen runs, each item once, the year's end equals one full run."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from market.subsidies.calculator import Aggregation, Basis, ContractFact, Party, Period
from market.subsidies.presets import preset
from market.subsidies.settlement import AWARD, Books, Coverage, facts_in, settle_policy

UNI = Party("宁波某大学", org_id=1, entity_type="022", region="330203")
INSTITUTE = Party("宁波某研究院", org_id=2, entity_type="021", region="330212")
FIRM = Party("宁波某企业", org_id=3, entity_type="150", region="330206")
CENTRE = Party("技术转移中心", org_id=4, entity_type="150", region="330201", filing_level="city")
SELLERS = (UNI, INSTITUTE)
# Flat and tiered, per year and per contract, on 成交额, 技术交易额 and the amount actually paid.
POLICIES = [
    preset(c)
    for c in (
        "lc2020-seller-development-transfer",
        "nb2014-intermediary",
        "s000-transfer-centre",
        "lc2020-intermediary-city",
    )
]
YEAR = 2024
JAN1 = dt.date(YEAR, 1, 1)


def day(n: int) -> dt.date:
    return JAN1 + dt.timedelta(days=n)


def make_fact(i: int, spec) -> ContractFact:
    seller, ctype, amount, registered, brokered, payments = spec
    total = D(amount) * 100_000
    return ContractFact(
        contract_id=i,
        registration_number=f"N{i}",
        contract_type=ctype,
        subtype="",
        seller=SELLERS[seller],
        buyer=FIRM,
        total_amount=total,
        technical_amount=total,
        paid_amount=D(0),
        registered_on=day(registered),
        intermediary=CENTRE if brokered else None,
        activity_id=f"contract:{i}",
        payments=tuple((max(day(d), day(registered)), D(a) * 10_000) for d, a in payments),
    )


contract_spec = st.tuples(
    st.integers(0, 1),
    st.sampled_from(["development", "transfer"]),
    st.integers(1, 400),
    st.integers(-60, 364),  # before the year: paid in it, registered earlier
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 364), st.integers(1, 60)), max_size=3),
)
period = st.tuples(st.integers(0, 364), st.integers(0, 364)).map(lambda t: Period(day(min(t)), day(max(t))))
ops = st.lists(
    st.one_of(
        st.tuples(st.just("run"), period, st.booleans()),
        st.tuples(st.just("amend"), st.integers(0, 5), st.integers(1, 400)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("pay"), st.integers(0, 5), st.integers(0, 364), st.integers(1, 60)),
        st.tuples(st.just("reverse"), st.integers(0, 5)),
        st.tuples(st.just("add"), contract_spec),
    ),
    max_size=12,
)


def apply(facts: list[ContractFact], op) -> None:
    kind, *args = op
    if kind == "add":
        facts.append(make_fact(len(facts) + 1, args[0]))
        return
    i = args[0] % len(facts)
    f = facts[i]
    if kind == "amend":
        total = D(args[1]) * 100_000
        facts[i] = dataclasses.replace(f, total_amount=total, technical_amount=total)
    elif kind == "cancel":
        facts[i] = dataclasses.replace(f, status="cancelled")
    elif kind == "pay":
        facts[i] = dataclasses.replace(
            f, payments=(*f.payments, (max(day(args[1]), f.registered_on), D(args[2]) * 10_000))
        )
    elif kind == "reverse" and f.payments:  # a reversing entry nets the payment to nothing
        facts[i] = dataclasses.replace(f, payments=f.payments[:-1])


def item_ceiling(policy, facts: list[ContractFact], item: str) -> D:
    """The most an item could ever be due: the top rate on its whole basis (and its contract cap)."""
    top = max(b.rate for b in policy.brackets)
    amount = D(0)
    for f in facts:
        if f.activity == item:
            amount += (
                sum((a for d, a in f.payments if d.year == YEAR), D(0))
                if policy.basis is Basis.paid
                else f.total_amount
            )
    ceiling = top * amount
    return min(ceiling, policy.cap_per_contract) if policy.cap_per_contract is not None else ceiling


def check_books(books_by_code: dict[str, Books], facts: list[ContractFact]) -> None:
    for policy in POLICIES:
        for (_year, key), (_, _, paid, items, _) in books_by_code[policy.code].entries.items():
            assert paid >= 0
            if policy.cap_per_year is not None and policy.aggregation is Aggregation.per_year:
                assert paid <= policy.cap_per_year, (policy.code, key, paid)
            for item, net in items.items():
                assert not item.startswith(AWARD)
                assert D(0) <= net <= item_ceiling(policy, facts, item) + D("0.01"), (policy.code, item, net)


@settings(max_examples=30, deadline=None)
@given(st.lists(contract_spec, min_size=1, max_size=6), ops)
def test_runs_over_a_year_pay_each_item_once_within_the_caps_and_end_at_the_full_year(specs, operations):
    facts = [make_fact(i, s) for i, s in enumerate(specs, start=1)]
    books = {p.code: Books() for p in POLICIES}
    for op in operations:
        if op[0] != "run":
            apply(facts, op)
            continue
        _, period, frozen = op
        cache: dict = {}
        for policy in POLICIES:
            settlements, _, _ = settle_policy(policy, facts, period, books[policy.code], prepared=cache)
            for s in settlements:
                assert s.to_pay == max(D(0), s.due_now - s.paid_before) and s.to_pay * s.to_recover == 0
            if frozen:
                books[policy.code].freeze(period, settlements)
        if frozen:  # a freeze settles every item against the facts as they now stand (recoveries included)
            check_books(books, facts)
    # A last run over the whole year brings the books to exactly what one full-year run on a clean slate pays.
    year = Period.year(YEAR)
    for policy in POLICIES:
        settlements, _, _ = settle_policy(policy, facts, year, books[policy.code])
        books[policy.code].freeze(year, settlements)
        fresh, _, _ = settle_policy(policy, facts, year, Books())
        expected = {(s.key, i.item): i.due_now for s in fresh for i in s.items if i.due_now}
        held = {
            (key, item): net for (_, key), e in books[policy.code].entries.items() for item, net in e[3].items() if net
        }
        assert held == expected, policy.code
        totals = {key: e[2] for (_, key), e in books[policy.code].entries.items() if e[2]}
        assert totals == {s.key: s.due_now for s in fresh if s.due_now}
    check_books(books, facts)


def test_coverage_joins_the_run_with_the_frozen_periods_of_its_year():
    books = Books()
    books.add_period(Period(dt.date(2023, 10, 1), dt.date(2024, 3, 31)))
    books.add_period(Period(dt.date(2024, 7, 1), dt.date(2024, 9, 30)))
    c = books.coverage(Period(dt.date(2024, 4, 1), dt.date(2024, 5, 31)))
    assert c == Coverage(
        2024, (Period(dt.date(2024, 1, 1), dt.date(2024, 5, 31)), Period(dt.date(2024, 7, 1), dt.date(2024, 9, 30)))
    )
    assert dt.date(2024, 6, 15) not in c and dt.date(2023, 12, 1) not in c


def test_a_paid_amount_fact_carries_only_its_payments_in_the_coverage():
    f = make_fact(1, (0, "transfer", 10, -40, True, [(40, 10), (200, 20)]))
    (inside,) = facts_in(Basis.paid, [f], Coverage(2024, (Period(JAN1, dt.date(2024, 3, 31)),)))
    assert (inside.paid_amount, inside.earned_on) == (D(100_000), day(40))
    assert facts_in(Basis.total, [f], Coverage(2024, (Period.year(2024),))) == []  # registered in 2023
