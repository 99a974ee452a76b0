"""Historical registrations for tests that need a past registration date: through the audited import only."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.accounts.service import actor_for_user
from market.contracts import service
from market.core.db import session_scope

_numbers = itertools.count(1)


def import_row(body: dict[str, Any], day, number: str | None = None) -> dict[str, Any]:
    """A contract_body(...) as one import row registered on `day`."""
    row = {
        k: body[k]
        for k in (
            "project_name",
            "contract_type",
            "subtype",
            "signing_date",
            "valid_from",
            "valid_until",
            "total_amount",
            "payment_method",
            "ip_type",
            "technical_field",
            "plan_source",
        )
        if body.get(k)
    }
    deducted = sum((Decimal(str(d["amount"])) for d in body.get("deductions") or []), Decimal(0))
    if deducted:
        row["technical_transaction_amount"] = str(Decimal(str(body["total_amount"])) - deducted)
    row |= {"registration_number": number or f"IMP-{next(_numbers)}", "registration_date": day.isoformat()}
    with session_scope() as s:
        for p in body["parties"]:
            org = s.get(Organisation, p["org_id"]) if p.get("org_id") else None
            role = p["role"]
            row[f"{role}_name"] = p.get("name") or org.name
            for key, attr in (
                ("credit_code", "credit_code"),
                ("entity_type", "entity_type_code"),
                ("region", "region_code"),
            ):
                if org is not None and getattr(org, attr):
                    row[f"{role}_{key}"] = getattr(org, attr)
            if p.get("country"):
                row[f"{role}_country"] = p["country"]
            if p.get("broker_name"):
                row["broker_name"] = p["broker_name"]
    return row


def import_contract(world, body: dict[str, Any], day, number: str | None = None) -> int:
    admin = world.bureau(Role.bureau_admin)
    row = import_row(body, day, number)
    with session_scope() as s:
        actor = actor_for_user(s, s.get(User, admin.user_id))
        return service.import_rows(s, actor, [row])[0].id
