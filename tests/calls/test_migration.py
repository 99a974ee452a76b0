"""Migration 0012 on a database in use: consortium members who joined before invitations existed stay members."""

from __future__ import annotations

import sqlalchemy as sa

from alembic import command
from market.calls.models import BidInvitation
from market.core.db import session_scope
from market.core.migrations import alembic_config
from market.core.vocab import OrgKind


def test_existing_consortium_members_carry_forward_as_accepted(engine, kit):
    call = kit.published_call()
    uni, firm = kit.bidder(), kit.bidder(OrgKind.enterprise)
    bid = kit.consortium_bid(uni, call["id"], [firm])
    with session_scope() as s:
        s.execute(sa.delete(BidInvitation))
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0008")
        command.upgrade(alembic_config(conn), "head")
        rows = conn.execute(sa.select(BidInvitation.bid_id, BidInvitation.org_id, BidInvitation.state)).all()
    assert rows == [(bid["id"], firm.org_id, "accepted")]
    # The member still reads the plan it is a party to.
    r = kit.client.get(f"/api/v1/calls/{call['id']}/bids/{bid['id']}", headers=firm.headers)
    assert r.status_code == 200 and r.json()["member_org_ids"] == [firm.org_id]
