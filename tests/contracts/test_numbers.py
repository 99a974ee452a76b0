"""Registration numbers under concurrency, and the draft an open-call award creates."""

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.contracts import service
from market.contracts.models import Contract, ContractParty, LedgerEntry
from market.contracts.schemas import ContractIn
from market.core.db import session_scope
from market.core.errors import ValidationFailed
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body


def actor_of(member, role, kind="enterprise"):
    return Actor(user_id=member.user_id, org_id=member.org_id, role=role, org_kind=kind, org_verified=True)


def file_many(seller, buyer, n):
    filer = actor_of(seller, Role.org_admin, "university")
    with session_scope() as s:
        return [
            service.file_contract(s, filer, ContractIn(**contract_body(seller.org_id, buyer.org_id)))[0].id
            for _ in range(n)
        ]


def test_fifty_concurrent_registrations_get_consecutive_numbers(pg_world):
    seller = pg_world.member(OrgKind.university, region_code="330205")
    buyer = pg_world.member(OrgKind.enterprise)
    registrar = actor_of(pg_world.bureau(Role.registrar), Role.registrar, "bureau")
    ids = file_many(seller, buyer, 50)
    barrier = threading.Barrier(50)
    errors = []

    def register(cid):
        try:
            barrier.wait()
            with session_scope() as s:
                service.register(s, registrar, cid)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope() as s:
        rows = s.execute(sa.select(Contract.registration_sequence, Contract.registration_number)).all()
        assert sorted(r[0] for r in rows) == list(range(1, 51))
        assert len({r[1] for r in rows}) == 50
        assert s.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 50


def test_a_failed_registration_leaves_no_gap(world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise)
    registrar = actor_of(world.bureau(Role.registrar), Role.registrar, "bureau")
    first, second = file_many(seller, buyer, 2)
    with pytest.raises(RuntimeError), session_scope() as s:
        service.register(s, registrar, first)
        raise RuntimeError("the request failed after numbering")
    with session_scope() as s:
        assert service.register(s, registrar, second).registration_sequence == 1
        assert service.register(s, registrar, first).registration_sequence == 2


def test_create_draft_contract_for_a_call_award(world):
    seller = world.member(OrgKind.institute, region_code="330203")
    buyer = world.member(OrgKind.enterprise)
    officer = actor_of(world.bureau(Role.programme_officer), Role.programme_officer, "bureau")
    with session_scope() as s:
        c = service.create_draft_contract(
            s,
            officer,
            {
                "project_name": "揭榜挂帅: 高端轴承寿命提升",
                "seller_org_id": seller.org_id,
                "buyer_org_id": buyer.org_id,
                "total_amount": "3000000",
                "call_id": 17,
            },
        )
        assert (c.status, c.contract_type, c.subtype, c.call_id) == ("draft", "development", "commissioned", 17)
        assert c.total_amount == Decimal("3000000.00") and c.filer_org_id == seller.org_id
        roles = s.scalars(sa.select(ContractParty.role).where(ContractParty.contract_id == c.id)).all()
        assert sorted(roles) == ["buyer", "seller"]
        with pytest.raises(ValidationFailed) as exc:
            service.create_draft_contract(
                s,
                officer,
                {
                    "project_name": "x",
                    "seller_org_id": seller.org_id,
                    "buyer_org_id": seller.org_id,
                    "total_amount": "1",
                    "call_id": 17,
                },
            )
        assert exc.value.code == "self_contract"
