"""Gather a seller's transfer and licence contracts of a tax year and estimate the relief (read-only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.auth.actor import Actor
from market.contracts.models import Contract, ContractParty, ContractPayment, PartyRole
from market.core.errors import Forbidden, NotFound
from market.taxrelief import rules


def contract_facts(session: Session, org_id: int, year: int) -> list[rules.ContractFact]:
    """The seller's registered (or since cancelled) transfer and licence contracts with payments in `year`."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    received = (
        sa.select(ContractPayment.contract_id, sa.func.sum(ContractPayment.amount).label("received"))
        .where(ContractPayment.received_on.between(start, end))
        .group_by(ContractPayment.contract_id)
        .subquery()
    )
    stmt = (
        sa.select(Contract, sa.func.coalesce(received.c.received, 0))
        .join(ContractParty, sa.and_(ContractParty.contract_id == Contract.id, ContractParty.role == PartyRole.seller))
        .outerjoin(received, received.c.contract_id == Contract.id)
        .where(
            ContractParty.org_id == org_id,
            Contract.contract_type.in_(list(rules.QUALIFYING_TYPES)),
            Contract.status.in_(["registered", "cancelled"]),
            Contract.registered_at.is_not(None),
            # the year's: money received in it, or registered in it (listed with nothing received yet)
            sa.or_(
                received.c.received.is_not(None),
                Contract.registered_at.between(
                    dt.datetime(year, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=8),
                    dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=8),
                ),
            ),
        )
        .order_by(Contract.id)
    )
    facts = []
    for c, amount in session.execute(stmt):
        facts.append(
            rules.ContractFact(
                c.id,
                c.registration_number,
                c.contract_type,
                c.subtype,
                c.status,
                c.valid_from,
                c.valid_until,
                bool(c.related_party),
                Decimal(amount),
            )
        )
    return facts


def seller_estimate(
    session: Session, actor: Actor, org_id: int, year: int, *, income: Decimal | None, costs: Decimal, rate: Decimal
) -> dict[str, Any]:
    """The relief estimate of `org_id` for `year`: sellers see their own, the bureau everyone's."""
    if not actor.is_bureau and actor.org_id != org_id:
        raise Forbidden("a seller sees its own tax estimate only", code="not_your_organisation")
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation", code="organisation_not_found")
    rows = [rules.qualify(f) for f in contract_facts(session, org_id, year)]
    derived = sum((q.income for q in rows if q.qualifies), rules.ZERO)
    used = derived if income is None else income
    est = rules.estimate(used, costs, rate)
    source = (
        f"derived: payments received in {year} under qualifying contracts = {derived}"
        if income is None
        else f"entered by the seller: {rules.money(income)} (derived would be {derived})"
    )
    return {
        "org_id": org_id,
        "org_name": org.name,
        "year": year,
        "income_source": "derived" if income is None else "entered",
        "derived_income": derived,
        "contracts": [
            {
                "contract_id": q.contract_id,
                "registration_number": q.registration_number,
                "contract_type": q.contract_type,
                "contract_type_label": rules.QUALIFYING_TYPES[q.contract_type],
                "qualifies": q.qualifies,
                "income": q.income,
                "reasons": list(q.reasons),
                "warnings": list(q.warnings),
            }
            for q in rows
        ],
        "income": est.income,
        "costs": est.costs,
        "transfer_gain": est.gain,
        "exempt": est.exempt,
        "excess": est.excess,
        "taxable_after_relief": est.taxable,
        "taxable_reduction": est.reduction,
        "rate": est.rate,
        "estimated_tax_saving": est.tax_saving,
        "working": [source, *est.working],
        "caveats": list(rules.CAVEATS),
    }
