"""Request bodies for contract tests."""

import datetime as dt

from market.contracts.service import today


def contract_body(seller_org_id: int, buyer_org_id: int, **overrides) -> dict:
    now = today()
    body = {
        "project_name": "高精度伺服电机控制算法专利转让",
        "contract_type": "transfer",
        "subtype": "patent_right",
        "signing_date": (now - dt.timedelta(days=5)).isoformat(),
        "valid_from": (now - dt.timedelta(days=5)).isoformat(),
        "valid_until": (now + dt.timedelta(days=365)).isoformat(),
        "total_amount": "1200000.00",
        "deductions": [{"kind": "equipment", "description": "样机", "amount": "200000.00"}],
        "technical_transaction_amount": "1000000.00",
        "payment_method": "instalments",
        "ip_type": "invention_patent",
        "technical_field": "advanced_manufacturing",
        "plan_source": "unplanned",
        "parties": [{"role": "seller", "org_id": seller_org_id}, {"role": "buyer", "org_id": buyer_org_id}],
    }
    body.update(overrides)
    return body
