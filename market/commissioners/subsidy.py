"""Approved commissioner awards as subsidy facts, so the engine pays them with its working (like the voucher hook).

Each approved award is a fact of its own type whose "seller" is the commissioner (a person or team, keyed by
commissioner id); `award_policy` pays rate 1 on it. The amount itself is decided by `rules.award_amount` (the
seed's fixed sums and the 1:1 match); the engine adds nothing, it carries the payment and its working.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.commissioners.models import Commissioner, CommissionerAward
from market.subsidies import calculator as calc

AWARD_TYPE = "commissioner_award"
AWARD_ID_BASE = 7_000_000_000_000  # fact ids beyond any contract id (vouchers use 8e12 and 9e12)


def award_facts(session: Session, period: calc.Period) -> list[calc.ContractFact]:
    rows = session.execute(
        sa.select(CommissionerAward, Commissioner)
        .join(Commissioner, Commissioner.id == CommissionerAward.commissioner_id)
        .where(
            CommissionerAward.status == "approved",
            CommissionerAward.year >= period.start.year,
            CommissionerAward.year <= period.end.year,
        )
        .order_by(CommissionerAward.id)
    ).all()
    bureau = calc.Party("市科技局 (commissioner programme)", ident="bureau")
    return [
        calc.ContractFact(
            contract_id=AWARD_ID_BASE + a.id,
            registration_number=f"CA-{a.year}-{a.id}",
            contract_type=AWARD_TYPE,
            subtype=a.kind,
            seller=calc.Party(c.name, org_id=c.home_org_id, ident=f"commissioner:{c.id}"),
            buyer=bureau,
            total_amount=a.amount,
            technical_amount=a.amount,
            paid_amount=a.amount,
            registered_on=max(period.start, min(period.end, dt.date(a.year, 12, 31))),
            activity_id=f"commissioner-award:{a.id}",
        )
        for a, c in rows
    ]


def award_policy() -> calc.Policy:
    return calc.Policy(
        code="commissioner-awards",
        name="科技特派员年度评选奖励",
        beneficiary=calc.Beneficiary.seller,
        basis=calc.Basis.total,
        aggregation=calc.Aggregation.per_contract,
        brackets=(calc.Bracket(Decimal("1")),),
        contract_types=frozenset({AWARD_TYPE}),
        value_added_only=False,
        source="seed 004 三(三)",
        description="示范基地(项目)10万元、优秀科技特派员2万元、先进个人1万元；星创天地一次性20万元；省级后补助1∶1配套。",
    )


def payout(session: Session, year: int) -> list[dict]:
    """The year's approved awards through the engine, per commissioner, with the engine's working."""
    period = calc.Period.year(year)
    policy = award_policy()
    return [
        {"commissioner": r.name, "key": r.key, "total": str(r.total), "working": calc.working_json(r, policy)}
        for r in calc.compute(policy, award_facts(session, period), period).results
    ]
