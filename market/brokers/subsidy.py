"""Broker rewards through the subsidy engine: confirmed broker links as the facts' broker, and a reward policy.

The calculator (market.subsidies.calculator) already pays a `broker` beneficiary, keyed within the
contract's intermediary (who receives the money and passes it on: 经中介机构发放). Today the key is the
free-text broker name on the contract. `with_registered_brokers` puts the registry's confirmed broker in
its place ("name #id"), so two people of one name are two beneficiaries and an unconfirmed name earns
nothing. The engine is not changed: the subsidy run calls this over its facts once it is wired in.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.brokers.models import Broker, BrokerLink
from market.subsidies import calculator as calc

REWARD_CODE = "broker-reward"


def broker_label(broker: Broker) -> str:
    return f"{broker.name} #{broker.id}"


def confirmed_brokers(session: Session, contract_ids: set[int]) -> dict[int, str]:
    """contract id -> the first confirmed broker's label (one broker is rewarded per contract)."""
    rows = session.execute(
        sa.select(BrokerLink.contract_id, Broker)
        .join(Broker, Broker.id == BrokerLink.broker_id)
        .where(BrokerLink.status == "confirmed", BrokerLink.contract_id.in_(contract_ids or {0}))
        .order_by(BrokerLink.id)
    )
    found: dict[int, str] = {}
    for contract_id, broker in rows:
        found.setdefault(contract_id, broker_label(broker))
    return found


def with_registered_brokers(session: Session, facts: list[calc.ContractFact]) -> list[calc.ContractFact]:
    """The facts with `broker` set from confirmed links only (a name typed on the contract no longer pays)."""
    found = confirmed_brokers(session, {f.contract_id for f in facts})
    return [dataclasses.replace(f, broker=found.get(f.contract_id)) for f in facts]


def broker_reward_policy(
    jurisdiction: tuple[str, ...],
    *,
    rate: str = "0.015",
    cap_per_contract: str = "30000",
    cap_per_year: str = "100000",
    valid_from=None,
) -> calc.Policy:
    """A broker reward: `rate` of each brokered contract's 技术交易额, capped per contract and per broker-year."""
    return calc.Policy(
        code=REWARD_CODE,
        name="技术经纪人促成交易奖励",
        beneficiary=calc.Beneficiary.broker,
        basis=calc.Basis.technical,
        aggregation=calc.Aggregation.per_contract,
        brackets=(calc.Bracket(Decimal(rate)),),
        intermediary_regions=jurisdiction,
        cap_per_contract=Decimal(cap_per_contract),
        cap_per_year=Decimal(cap_per_year),
        valid_from=valid_from,
        source="seed 004 四(二); issue 15",
        description="技术经纪人促成的已登记技术合同，按技术交易额1.5%奖励，单个合同最高3万元，每人每年最高10万元，经所在中介机构发放。",
    )


def broker_rewards(session: Session, year: int, jurisdiction: str) -> list[dict]:
    """A preview of the year's broker rewards from registered contracts, with the engine's working.

    The bureau's subsidy run is what pays, once it loads facts through `with_registered_brokers`.
    """
    from market.subsidies.service import load_facts

    period = calc.Period.year(year)
    facts = with_registered_brokers(session, load_facts(session, period))
    policy = broker_reward_policy((jurisdiction,))
    lines = []
    for r in calc.compute(policy, facts, period).results:
        payee = r.key.split("/broker:")[0]
        lines.append(
            {
                "broker": r.name,
                "key": r.key,
                "paid_through": payee,
                "total": str(r.total),
                "working": calc.working_json(r, policy),
            }
        )
    return sorted(lines, key=lambda line: line["key"])


def rewards_by(session: Session, start, end, by: str) -> dict[int, Decimal]:
    """Rewards earned in a period under the reward policy, per broker id or per paying intermediary's org id."""
    from market.subsidies.service import jurisdiction, load_facts

    period = calc.Period(start, end)
    facts = with_registered_brokers(session, load_facts(session, period))
    out: dict[int, Decimal] = {}
    for r in calc.compute(broker_reward_policy((jurisdiction(),)), facts, period).results:
        payee, _, label = r.key.partition("/broker:")
        key = int(label.rsplit("#", 1)[1]) if by == "broker" else int(payee.removeprefix("org:"))
        out[key] = out.get(key, Decimal("0")) + r.total
    return out
