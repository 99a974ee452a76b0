"""Amendments and cancellations change the figures from their own registration date on, never before."""

import datetime as dt
from decimal import Decimal

import pytest

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.contracts import service
from market.contracts.schemas import AmendmentIn
from market.core.db import session_scope
from market.core.errors import ValidationFailed
from market.core.vocab import OrgKind
from market.stats import service as stats
from tests.contracts.history import import_contract
from tests.contracts.payloads import contract_body


def test_amendment_and_cancellation_are_dated(world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise)
    reg = world.bureau(Role.registrar)
    registrar = Actor(user_id=reg.user_id, org_id=reg.org_id, role=Role.registrar, org_kind="bureau", org_verified=True)
    today = service.today()
    d1, d2 = today - dt.timedelta(days=60), today - dt.timedelta(days=20)
    body = contract_body(
        seller.org_id,
        buyer.org_id,
        signing_date=(d1 - dt.timedelta(days=2)).isoformat(),
        valid_from=(d1 - dt.timedelta(days=2)).isoformat(),
    )
    cid = import_contract(world, body, d1)
    with session_scope() as s:
        service.amend(
            s,
            registrar,
            cid,
            AmendmentIn(
                reason="合同金额变更", total_amount="2000000.00", technical_field="new_energy", effective_date=d2
            ),
        )
    with session_scope() as s:
        before = stats.totals(s, d1, d2 - dt.timedelta(days=1))
        assert (before.count, before.total_amount) == (1, Decimal("1200000.00"))
        on_amendment = stats.totals(s, d2, d2)
        assert (on_amendment.count, on_amendment.total_amount) == (0, Decimal("800000.00"))
        fields = {r["key"]: r["count"] for r in stats.breakdown(s, "technical_field", d2, d2).rows}
        assert fields == {"advanced_manufacturing": -1, "new_energy": 1}
        overall = stats.totals(s, d1, today)
        assert (overall.count, overall.total_amount, overall.technical_transaction_amount) == (
            1,
            Decimal("2000000.00"),
            Decimal("1800000.00"),
        )
        assert service.version_in_force(s, cid, d2 - dt.timedelta(days=1))["total_amount"] == "1200000.00"
        assert service.version_in_force(s, cid, d2)["total_amount"] == "2000000.00"
        assert service.version_in_force(s, cid, d1 - dt.timedelta(days=1)) is None
        # an amendment cannot predate the registration
        with pytest.raises(ValidationFailed) as exc:
            service.amend(
                s,
                registrar,
                cid,
                AmendmentIn(reason="x", total_amount="1.00", effective_date=d1 - dt.timedelta(days=1)),
            )
        assert exc.value.code == "before_registration"
    with session_scope() as s:
        service.cancel(s, registrar, cid, "解除", today)
    with session_scope() as s:
        assert stats.totals(s, d1, today).count == 0
        assert stats.totals(s, d1, today - dt.timedelta(days=1)).count == 1  # the past is not rewritten
        assert service.version_in_force(s, cid, today) is None
