"""The ledger rollup: how a period is cut, a party renamed by an amendment, the rebuild/check command."""

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.cli import main as cli
from market.contracts import service
from market.contracts.schemas import AmendmentIn, ContractIn, PartyIn
from market.core.db import session_scope
from market.core.vocab import OrgKind
from market.stats import rollup
from market.stats import service as stats
from market.stats.models import RollupRow
from tests.contracts.history import import_contract
from tests.contracts.payloads import contract_body

D = dt.date


@pytest.mark.parametrize(
    ("start", "end", "years", "quarters", "months", "days"),
    [
        # a calendar year: one year row
        (D(2025, 1, 1), D(2025, 12, 31), (2025, 2025), [], [], []),
        # five years to a mid-month today: years, this year's whole quarters, then month, then this month's days
        (
            D(2022, 1, 1),
            D(2026, 11, 23),
            (2022, 2025),
            [(20261, 20263)],
            [(202610, 202610)],
            [(D(2026, 11, 1), D(2026, 11, 23))],
        ),
        # a rolling year: days at both edges, whole quarters and months between
        (
            D(2024, 3, 15),
            D(2025, 3, 14),
            None,
            [(20242, 20244)],
            [(202501, 202502)],
            [(D(2024, 3, 15), D(2024, 3, 31)), (D(2025, 3, 1), D(2025, 3, 14))],
        ),
        # no whole month at all: days only
        (D(2025, 1, 15), D(2025, 2, 10), None, [], [], [(D(2025, 1, 15), D(2025, 2, 10))]),
        (D(2025, 2, 1), D(2025, 2, 28), None, [], [(202502, 202502)], []),
        # a year with whole months on both sides
        (D(2024, 12, 1), D(2026, 1, 31), (2025, 2025), [], [(202412, 202412), (202601, 202601)], []),
        # quarters on both sides of a year, months outside them
        (
            D(2023, 8, 1),
            D(2025, 5, 31),
            (2024, 2024),
            [(20234, 20234), (20251, 20251)],
            [(202308, 202309), (202504, 202505)],
            [],
        ),
        # quarters across a year end when years are not wanted
        (D(2024, 10, 1), D(2025, 3, 31), None, [(20244, 20251)], [], []),
        (D(2025, 3, 1), D(2025, 2, 1), None, [], [], []),
    ],
)
def test_split_period(start, end, years, quarters, months, days):
    split = rollup.split_period(start, end)
    if years is None and quarters == [(20244, 20251)]:
        split = rollup.split_period(start, end, years=False)
    assert (split.years, split.quarters, split.months, split.days) == (years, quarters, months, days)
    covered = (
        months_of(months)
        | months_of_quarters(quarters)
        | (months_of([(years[0] * 100 + 1, years[1] * 100 + 12)]) if years else set())
    )
    # without years and quarters: the same days, and the same whole months as one run
    flat = rollup.split_period(start, end, years=False, quarters=False)
    assert flat.years is None and flat.quarters == [] and flat.days == days
    assert months_of(flat.months) == covered and len(flat.months) == (1 if covered else 0)
    # without years: quarters and months still cover exactly the same months, each once
    no_years = rollup.split_period(start, end, years=False)
    parts = [months_of([m]) for m in no_years.months] + [months_of_quarters([q]) for q in no_years.quarters]
    assert set().union(*parts) == covered and sum(map(len, parts)) == len(covered) and no_years.days == days


def months_of(ranges):
    return {
        y * 100 + m
        for lo, hi in ranges
        for y in range(lo // 100, hi // 100 + 1)
        for m in range(1, 13)
        if lo <= y * 100 + m <= hi
    }


def months_of_quarters(ranges):
    return {
        y * 100 + m
        for lo, hi in ranges
        for y in range(lo // 10, hi // 10 + 1)
        for m in range(1, 13)
        if lo <= y * 10 + (m + 2) // 3 <= hi
    }


def registrar_and_filer(world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="310104")
    reg = world.bureau(Role.registrar)
    registrar = Actor(user_id=reg.user_id, org_id=reg.org_id, role=Role.registrar, org_kind="bureau", org_verified=True)
    filer = Actor(
        user_id=seller.user_id, org_id=seller.org_id, role=Role.org_admin, org_kind="university", org_verified=True
    )
    return seller, buyer, registrar, filer


def test_amendment_renaming_a_party_keeps_the_rollup_exact(world):
    """−old/+new of one party under two names in one transaction: two upserts of one row, no error, max() name."""
    seller, buyer, registrar, filer = registrar_and_filer(world)
    today = service.today()
    day = today.replace(day=1) - dt.timedelta(days=40)  # a whole month
    body = contract_body(
        seller.org_id,
        buyer.org_id,
        signing_date=(day - dt.timedelta(days=2)).isoformat(),
        valid_from=(day - dt.timedelta(days=2)).isoformat(),
    )
    cid = import_contract(world, body, day)
    parties = [
        PartyIn(role="seller", org_id=seller.org_id, name="zz 更名后的大学"),
        PartyIn(role="buyer", org_id=buyer.org_id),
    ]
    with session_scope() as s:
        service.amend(s, registrar, cid, AmendmentIn(reason="更名", parties=parties, effective_date=day))
    with session_scope() as s:
        assert rollup.differences(s) == []
        month = stats.period_bounds(day.year, day.month)
        sellers = stats.breakdown(s, "seller", *month).rows
        assert [(r["label"], r["count"]) for r in sellers] == [("zz 更名后的大学", 1)]
        flows = {r["key"]: r["count"] for r in stats.flows(s, *month, "3302").rows}
        assert flows == {"output": 1, "absorption": 0, "local_local": 0, "inflow": 0, "outflow": 1}


def test_rebuild_command_repairs_a_drifted_rollup(world):
    seller, buyer, registrar, filer = registrar_and_filer(world)
    with session_scope() as s:
        c, _ = service.file_contract(s, filer, ContractIn(**contract_body(seller.org_id, buyer.org_id)))
        service.register(s, registrar, c.id)
    runner = CliRunner()
    assert runner.invoke(cli, ["stats-rollup", "--check"]).exit_code == 0
    with session_scope() as s:
        s.execute(
            sa.update(RollupRow).where(RollupRow.dimension == "technical_field").values(count=RollupRow.count + 5)
        )
    result = runner.invoke(cli, ["stats-rollup", "--check"])
    # its year, quarter, month and day
    assert result.exit_code == 1 and "4 rollup rows differ" in result.output
    result = runner.invoke(cli, ["stats-rollup"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli, ["stats-rollup", "--check"]).exit_code == 0
    with session_scope() as s:
        assert (
            s.scalar(
                sa.select(sa.func.sum(RollupRow.count)).where(
                    RollupRow.dimension == "technical_field", RollupRow.grain == "y"
                )
            )
            == 1
        )
