"""The console's demo data: open calls at three stages, through the calls flows, and a frozen subsidy run."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from market.calls.models import Bid, Call, ReviewAssignment
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.demo import load_demo
from market.subsidies.models import SubsidyRun

TODAY = dt.date(2025, 3, 1)


def test_demo_has_a_call_to_vet_one_under_review_and_one_ready_to_award(engine):
    with session_scope() as s:
        load_demo(s, listings=40, today=TODAY)
    with session_scope() as s:
        states = dict(s.execute(sa.select(Call.state, sa.func.count()).group_by(Call.state)).all())
        assert states == {"proposed": 1, "reviewing": 1, "notice_ended": 1}
        reviewing = s.scalar(sa.select(Call).where(Call.state == "reviewing"))
        assert reviewing is not None
        scored = s.scalars(sa.select(ReviewAssignment.state).where(ReviewAssignment.call_id == reviewing.id)).all()
        assert sorted(set(scored)) == ["assigned", "scored"]  # two of three experts have scored
        ready = s.scalar(sa.select(Call).where(Call.state == "notice_ended"))
        assert ready is not None
        bid_states = s.scalars(sa.select(Bid.state).where(Bid.call_id == ready.id)).all()
        assert sorted(bid_states).count("proposed_winner") == 1
        # Through the flows: every step audited.
        actions = set(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.entity_type == "call")))
        assert {
            "propose",
            "vet",
            "publish",
            "close_bidding",
            "start_review",
            "propose_winners",
            "end_notice",
        } <= actions
        # The subsidy run is finished after the loader's commit: computed, reviewed and approved by two people.
        run = s.scalar(sa.select(SubsidyRun))
        assert run is not None and run.status == "frozen" and run.compute_state == "computed"
        assert run.reviewed_by is not None and run.approved_by not in (None, run.reviewed_by)
