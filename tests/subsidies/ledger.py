"""Registered contracts written straight into the contracts tables (the subsidy domain only reads them)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from market.accounts.models import Organisation
from market.contracts.models import Contract, ContractParty, ContractPayment
from market.core.db import session_scope

_seq = itertools.count(1)


def add_contract(
    seller: int,
    buyer: int,
    amount: str | int,
    *,
    intermediary: int | None = None,
    type: str = "transfer",
    subtype: str = "patent_right",
    technical: str | int | None = None,
    paid: str | int | None = None,
    on: dt.date = dt.date(2024, 6, 1),
    status: str = "registered",
    project: str | None = None,
    broker: str | None = None,
    **flags,
) -> int:
    n = next(_seq)
    with session_scope() as s:
        total = Decimal(str(amount))
        seller_org = s.get(Organisation, seller)
        c = Contract(
            status=status,
            contract_type=type,
            subtype=subtype,
            project_name=project or f"项目{n}",
            total_amount=total,
            technical_transaction_amount=total if technical is None else Decimal(str(technical)),
            filer_org_id=seller_org.id,
            registration_office="330200",
            registration_year=on.year,
            registration_sequence=n,
            registration_number=f"{on.year}3302{n:06d}",
            registration_date=on,
            **flags,
        )
        s.add(c)
        s.flush()
        for role, org_id in (("seller", seller), ("buyer", buyer), ("intermediary", intermediary)):
            if org_id is None:
                continue
            o = s.get(Organisation, org_id)
            s.add(
                ContractParty(
                    contract_id=c.id,
                    role=role,
                    org_id=o.id,
                    name=o.name,
                    credit_code=o.credit_code,
                    entity_type_code=o.entity_type_code,
                    region_code=o.region_code,
                    broker_name=broker if role == "intermediary" else None,
                )
            )
        if paid is not None:
            s.add(ContractPayment(contract_id=c.id, amount=Decimal(str(paid)), received_on=on))
        return c.id


def set_contract(contract_id: int, **values) -> None:
    with session_scope() as s:
        c = s.get(Contract, contract_id)
        for k, v in values.items():
            setattr(c, k, v)


def add_payment(contract_id: int, amount: str | int, on: dt.date) -> int:
    with session_scope() as s:
        p = ContractPayment(contract_id=contract_id, amount=Decimal(str(amount)), received_on=on)
        s.add(p)
        s.flush()
        return p.id
