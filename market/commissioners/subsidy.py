"""Approved commissioner awards as subsidy facts, registered with the engine's fact sources.

Each approved award is a fact of type `commissioner_award` whose "seller" is the commissioner (a person or team,
keyed by commissioner id; the home organisation sees the result). The preset `commissioner-awards` pays rate 1
on it in the bureau's subsidy runs. The amount itself is decided by `rules.award_amount` (the seed's fixed sums
and the 1:1 match) and approved by a second officer; the run carries the payment and its working.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.commissioners.models import Commissioner, CommissionerAward
from market.subsidies import calculator as calc
from market.subsidies import sources


def award_facts(session: Session, period: calc.Period) -> list[calc.ContractFact]:
    """Awards approved for the period's year(s), dated the last day of their year (within the period)."""
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
            contract_id=sources.ID_BASES["commissioner_award"] + a.id,
            registration_number=f"CA-{a.year}-{a.id}",
            contract_type=sources.COMMISSIONER_AWARD,
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


def register() -> None:
    """Called once at app and worker start (market/wiring.py)."""
    sources.register("commissioner_awards", load=award_facts)
