"""Finished achievement evaluations (科技成果评价) as verified subsidy facts, registered with the engine (issue 19).

A registered contract whose achievement link is confirmed carries the TRL of that achievement's latest completed
evaluation (`evaluated_trl`), so a policy can require an evaluated TRL (`min_evaluated_trl`): a contract without a
finished evaluation, or rated below, is excluded with reason `evaluated_trl`. Only a completed evaluation by an
approved agency counts, never a TRL typed on a listing; the latest one stands, as `service.verified_trl` says.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.evaluations.models import Evaluation
from market.subsidies import calculator as calc
from market.subsidies import sources


def evaluated_trls(session: Session, achievement_ids: set[int]) -> dict[int, int]:
    """achievement id -> TRL of its latest completed evaluation (the same order as `service.completed_for`)."""
    found: dict[int, int] = {}
    for achievement_id, trl in session.execute(
        sa.select(Evaluation.achievement_id, Evaluation.trl)
        .where(Evaluation.status == "completed", Evaluation.achievement_id.in_(achievement_ids or {0}))
        .order_by(Evaluation.id)
    ):
        if trl is not None:
            found[achievement_id] = trl  # later rows overwrite: the latest stands
    return found


def with_evaluated_trl(session: Session, facts: list[calc.ContractFact]) -> list[calc.ContractFact]:
    """The facts with `evaluated_trl` set from finished evaluations of their (confirmed) achievement."""
    trls = evaluated_trls(session, {f.achievement_id for f in facts if f.achievement_id is not None})
    return [
        f
        if f.evaluated_trl == trls.get(f.achievement_id or 0)
        else dataclasses.replace(f, evaluated_trl=trls.get(f.achievement_id or 0))
        for f in facts
    ]


def register() -> None:
    """Called by market/wiring.py."""
    sources.register("achievement_evaluations", refine=with_evaluated_trl)
