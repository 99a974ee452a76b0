"""Broker rewards through the subsidy engine: the registry's confirmed broker on each brokered contract.

The calculator pays a `broker` beneficiary keyed within the contract's intermediary, the organisation that
employed the broker on the signing date (a link is only confirmed then: rules.py) and receives the money to pass
on (经中介机构发放). This module registers a refiner with the engine's fact sources: each contract fact's
`broker` becomes the registry's confirmed broker ("name #id"), so two people of one name are two beneficiaries
and a name merely typed on the contract earns nothing. The reward itself is the subsidy policy `broker-reward`
(or any policy with beneficiary "broker"), paid by the bureau's subsidy runs with their working.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.brokers import rules
from market.brokers.models import Broker, BrokerEmployment, BrokerLink
from market.contracts.models import Contract, ContractParty
from market.subsidies import calculator as calc
from market.subsidies import service as subsidies
from market.subsidies import sources

REWARD_CODE = "broker-reward"


def broker_label(broker: Broker) -> str:
    return f"{broker.name} #{broker.id}"


def confirmed_brokers(session: Session, contract_ids: set[int]) -> dict[int, str]:
    """contract id -> the first confirmed broker's label (one broker is rewarded per contract).

    The employment rule is checked again on the records as they stand now, not only when the link was confirmed:
    the broker must have been employed by the link's intermediary on the contract's signing date, and that must
    still be the contract's intermediary. An employment record corrected afterwards (a move dated back) drops the
    broker, so the reward never goes through an intermediary that did not employ them.
    """
    rows = session.execute(
        sa.select(BrokerLink.contract_id, BrokerLink.intermediary_org_id, Contract.signing_date, Broker)
        .join(Broker, Broker.id == BrokerLink.broker_id)
        .join(Contract, Contract.id == BrokerLink.contract_id)
        .where(BrokerLink.status == "confirmed", BrokerLink.contract_id.in_(contract_ids or {0}))
        .order_by(BrokerLink.id)
    ).all()
    intermediaries: dict[int, int | None] = {
        cid: org
        for cid, org in session.execute(
            sa.select(ContractParty.contract_id, ContractParty.org_id).where(
                ContractParty.role == "intermediary", ContractParty.contract_id.in_({r[0] for r in rows} or {0})
            )
        )
    }
    stints: dict[int, list[rules.Stint]] = defaultdict(list)
    for e in session.scalars(
        sa.select(BrokerEmployment).where(BrokerEmployment.broker_id.in_({r[3].id for r in rows} or {0}))
    ):
        stints[e.broker_id].append(rules.Stint(e.intermediary_org_id, e.start_date, e.end_date))
    found: dict[int, str] = {}
    for contract_id, link_org, signed, broker in rows:
        if signed is None or intermediaries.get(contract_id) != link_org:
            continue
        if rules.employer_on(stints[broker.id], signed) != link_org:
            continue
        found.setdefault(contract_id, broker_label(broker))
    return found


def with_registered_brokers(session: Session, facts: list[calc.ContractFact]) -> list[calc.ContractFact]:
    """The facts with `broker` set from confirmed links only (a name typed on the contract no longer pays)."""
    found = confirmed_brokers(session, {f.contract_id for f in facts})
    return [
        f if f.broker == found.get(f.contract_id) else dataclasses.replace(f, broker=found.get(f.contract_id))
        for f in facts
    ]


def rewards_by(session: Session, start: dt.date, end: dt.date, by: str) -> dict[int, Decimal]:
    """Rewards earned in a period under the current `broker-reward` policy, per broker id or paying organisation.

    Nothing while the bureau has not enabled the policy. The engine computes; what is paid is the subsidy run's.
    """
    outcome = subsidies.outcome_of(session, REWARD_CODE, calc.Period(start, end))
    out: dict[int, Decimal] = {}
    for r in outcome.results if outcome else ():
        _, _, label = r.key.partition("/broker:")
        key = int(label.rsplit("#", 1)[1]) if by == "broker" else r.org_id
        if key is not None:
            out[key] = out.get(key, Decimal("0")) + r.total
    return out


def register() -> None:
    """Called once at app and worker start (market/wiring.py)."""
    sources.register("broker_links", refine=with_registered_brokers)
