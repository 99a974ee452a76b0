"""Reading open calls: who may see which call and bid (sealed bids), review summaries, the search projection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.accounts.service import org_names
from market.auth.actor import Actor
from market.calls import rules
from market.calls.models import (
    Bid,
    BidInvitation,
    Call,
    IntegrityRecord,
    Milestone,
    Objection,
    Project,
    ReviewAssignment,
    Tranche,
)
from market.calls.rules import BidState, CallState
from market.core.db import get_existing, utcnow
from market.core.errors import Forbidden, NotFound
from market.core.vocab import technical_field_label

# --- calls ------------------------------------------------------------------------------------------


def can_read_call(call: Call, actor: Actor | None) -> bool:
    """Public once published; before that only the bureau and the posing firm."""
    if call.state in rules.PUBLIC_CALL_STATES:
        return True
    return actor is not None and (
        actor.is_bureau or (call.posing_org_id is not None and actor.org_id == call.posing_org_id)
    )


def get_call(session: Session, actor: Actor | None, call_id: int, *, for_update: bool = False) -> Call:
    stmt = sa.select(Call).where(Call.id == call_id)
    call = session.scalar(stmt.with_for_update() if for_update else stmt)
    if call is None or not can_read_call(call, actor):
        raise NotFound("call not found", code="call_not_found")
    return call


def list_calls(actor: Actor | None, *, state: str | None = None, kind: str | None = None) -> sa.Select:
    """Public calls for everyone; the bureau sees every state, a firm also its own proposals."""
    stmt = sa.select(Call).order_by(Call.id.desc())
    if actor is None or not actor.is_bureau:
        visible: sa.ColumnElement[bool] = Call.state.in_(rules.PUBLIC_CALL_STATES)
        if actor is not None:
            visible = visible | (Call.posing_org_id == actor.org_id)
        stmt = stmt.where(visible)
    if state:
        stmt = stmt.where(Call.state == state)
    if kind:
        stmt = stmt.where(Call.kind == kind)
    return stmt


def notice_list(session: Session, call: Call) -> list[dict[str, Any]]:
    """公示: during and after the notice the proposed winners (or winners) are named, with their scores —
    the names are public, the bids' content stays sealed until award."""
    if call.state not in (CallState.notice, CallState.notice_ended, CallState.awarded, CallState.closed):
        return []
    states = (
        (BidState.proposed_winner,) if call.state in (CallState.notice, CallState.notice_ended) else (BidState.winner,)
    )
    bids = list(session.scalars(sa.select(Bid).where(Bid.call_id == call.id, Bid.state.in_(states)).order_by(Bid.id)))
    names = org_names(session, {o for b in bids for o in (b.lead_org_id, *b.member_org_ids)})
    aggregates = _aggregates(session, [b.id for b in bids])
    return [
        {
            "bid_id": b.id,
            "lead_org_id": b.lead_org_id,
            "lead_org_name": names.get(b.lead_org_id),
            "member_org_names": [names.get(m) for m in b.member_org_ids],
            "team_leader": b.team_leader,
            "score": aggregates[b.id].score,
        }
        for b in bids
    ]


# --- bids -------------------------------------------------------------------------------------------


def _assigned_experts(session: Session, bid_ids: list[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {i: set() for i in bid_ids}
    if bid_ids:
        rows = session.execute(
            sa.select(ReviewAssignment.bid_id, ReviewAssignment.expert_user_id).where(
                ReviewAssignment.bid_id.in_(bid_ids), ReviewAssignment.state != "recused"
            )
        )
        for bid_id, uid in rows:
            out[bid_id].add(uid)
    return out


def _readable(actor: Actor | None, bid: Bid, call: Call, assigned: set[int]) -> bool:
    return rules.can_read_bid(
        role=actor.role if actor else None,
        org_id=actor.org_id if actor else None,
        user_id=actor.user_id if actor else None,
        team_org_ids={bid.lead_org_id, *bid.member_org_ids},
        bid_state=bid.state,
        call_state=call.state,
        assigned_expert_ids=assigned,
    )


def get_bid(session: Session, actor: Actor | None, call_id: int, bid_id: int) -> Bid:
    """A bid the actor may read; every other bid — existing or not — is 404, so existence never leaks."""
    bid = session.get(Bid, bid_id)
    call = session.get(Call, call_id)
    if bid is None or call is None or bid.call_id != call.id:
        raise NotFound("bid not found", code="bid_not_found")
    if not _readable(actor, bid, call, _assigned_experts(session, [bid.id])[bid.id]):
        raise NotFound("bid not found", code="bid_not_found")
    return bid


def list_bids(session: Session, actor: Actor | None, call: Call) -> list[Bid]:
    bids = list(session.scalars(sa.select(Bid).where(Bid.call_id == call.id).order_by(Bid.id)))
    assigned = _assigned_experts(session, [b.id for b in bids])
    return [b for b in bids if _readable(actor, b, call, assigned[b.id])]


# --- review -----------------------------------------------------------------------------------------


def _aggregates(session: Session, bid_ids: list[int]) -> dict[int, rules.Aggregate]:
    totals: dict[int, list] = {i: [] for i in bid_ids}
    if bid_ids:
        rows = session.execute(
            sa.select(ReviewAssignment.bid_id, ReviewAssignment.total_centi).where(
                ReviewAssignment.bid_id.in_(bid_ids), ReviewAssignment.state == "scored"
            )
        )
        for bid_id, centi in rows:
            if centi is not None:  # a scored assignment has its total
                totals[bid_id].append(Decimal(centi) / 100)
    return {i: rules.aggregate(t) for i, t in totals.items()}


def review_summary(session: Session, actor: Actor, call: Call) -> list[dict[str, Any]]:
    """For the officer: each reviewed bid's aggregate, trimmed or not, the spread, and the disagreement flag."""
    if not actor.is_bureau:
        raise Forbidden("the review summary is for bureau staff", code="role_required")
    bids = list(session.scalars(sa.select(Bid).where(Bid.call_id == call.id).order_by(Bid.id)))
    aggregates = _aggregates(session, [b.id for b in bids])
    assignments: dict[int, list[ReviewAssignment]] = {}
    for a in session.scalars(sa.select(ReviewAssignment).where(ReviewAssignment.call_id == call.id)):
        assignments.setdefault(a.bid_id, []).append(a)
    out: list[dict[str, Any]] = []
    for b in bids:
        agg = aggregates[b.id]
        rows = assignments.get(b.id, [])
        out.append(
            {
                "bid_id": b.id,
                "state": b.state,
                "score": agg.score,
                "n_scored": agg.n_scored,
                "trimmed": agg.trimmed,
                "spread": agg.spread,
                "stdev": agg.stdev,
                "disagreement": agg.disagreement,
                "assigned": sum(1 for a in rows if a.state != "recused"),
                "pending": sum(1 for a in rows if a.state == "assigned"),
                "experts": [
                    {
                        "expert_user_id": a.expert_user_id,
                        "state": a.state,
                        "total": None if a.total_centi is None else a.total_centi / 100,
                    }
                    for a in rows
                ],
            }
        )
    out.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0), r["bid_id"]))
    return out


def my_assignments(session: Session, actor: Actor) -> list[ReviewAssignment]:
    if not actor.is_expert:
        raise Forbidden("only experts have review assignments", code="role_required")
    stmt = sa.select(ReviewAssignment).where(ReviewAssignment.expert_user_id == actor.user_id)
    return list(session.scalars(stmt.order_by(ReviewAssignment.id)))


# --- objections -------------------------------------------------------------------------------------


def _concerns(session: Session, actor: Actor, obj: Objection) -> bool:
    """The objection is against a bid of the actor's team."""
    if obj.bid_id is None or actor.is_bureau or actor.is_expert:
        return False
    bid = get_existing(session, Bid, obj.bid_id)
    return actor.org_id in {bid.lead_org_id, *bid.member_org_ids}


def _may_read_objection(session: Session, actor: Actor, obj: Objection) -> bool:
    return actor.is_bureau or obj.lodged_by == actor.user_id or _concerns(session, actor, obj)


def list_objections(session: Session, actor: Actor, call: Call) -> list[Objection]:
    """The bureau sees all objections; the objector its own; a team those against its bid."""
    stmt = sa.select(Objection).where(Objection.call_id == call.id).order_by(Objection.id)
    return [o for o in session.scalars(stmt) if _may_read_objection(session, actor, o)]


def get_objection(session: Session, actor: Actor, call_id: int, objection_id: int) -> Objection:
    obj = session.get(Objection, objection_id)
    if obj is None or obj.call_id != call_id or not _may_read_objection(session, actor, obj):
        raise NotFound("objection not found", code="objection_not_found")
    return obj


def objection_view(actor: Actor, obj: Objection) -> dict[str, Any]:
    """The objection as the actor may see it: the objector's organisation only to the bureau, the objector
    itself, or the team concerned once the bureau disclosed it."""
    show = actor.is_bureau or obj.lodged_by == actor.user_id or obj.reveal_objector
    return {
        "id": obj.id,
        "call_id": obj.call_id,
        "bid_id": obj.bid_id,
        "text": obj.text,
        "state": obj.state,
        "resolution": obj.resolution,
        "lodged_at": obj.lodged_at,
        "resolved_at": obj.resolved_at,
        "lodged_by_org_id": obj.lodged_by_org_id if show else None,
        "reveal_objector": obj.reveal_objector,
        "answer": obj.answer,
        "answered_at": obj.answered_at,
    }


# --- consortium invitations -------------------------------------------------------------------------


def my_invitations(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Invitations to the actor's organisation: the call and the lead, never the plan."""
    rows = session.execute(
        sa.select(BidInvitation, Bid.lead_org_id, Call.title)
        .join(Bid, Bid.id == BidInvitation.bid_id)
        .join(Call, Call.id == BidInvitation.call_id)
        .where(BidInvitation.org_id == actor.org_id)
        .order_by(BidInvitation.id.desc())
    ).all()
    names = org_names(session, {lead for _, lead, _ in rows})
    out = []
    for inv, lead, title in rows:
        out.append(
            {
                "id": inv.id,
                "call_id": inv.call_id,
                "bid_id": inv.bid_id,
                "org_id": inv.org_id,
                "state": inv.state,
                "invited_at": inv.invited_at,
                "responded_at": inv.responded_at,
                "call_title": title,
                "lead_org_id": lead,
                "lead_org_name": names.get(lead),
            }
        )
    return out


def invitations_of(session: Session, bid: Bid) -> list[BidInvitation]:
    """A bid's invitations (for those who may read the bid: its team and the bureau)."""
    return list(
        session.scalars(sa.select(BidInvitation).where(BidInvitation.bid_id == bid.id).order_by(BidInvitation.id))
    )


def get_invitation(session: Session, actor: Actor, invitation_id: int) -> BidInvitation:
    inv = session.get(BidInvitation, invitation_id)
    if inv is None or inv.org_id != actor.org_id:
        raise NotFound("invitation not found", code="invitation_not_found")
    return inv


# --- research-integrity records (科研失信) -------------------------------------------------------------


def _bureau_only(actor: Actor) -> None:
    if not actor.is_bureau:
        raise Forbidden("research-integrity records are kept by the bureau", code="role_required")


def list_integrity_records(actor: Actor, *, org_id: int | None = None) -> sa.Select:
    _bureau_only(actor)
    stmt = sa.select(IntegrityRecord).order_by(IntegrityRecord.id.desc())
    return stmt.where(IntegrityRecord.org_id == org_id) if org_id is not None else stmt


def get_integrity_record(session: Session, actor: Actor, record_id: int) -> IntegrityRecord:
    _bureau_only(actor)
    rec = session.get(IntegrityRecord, record_id)
    if rec is None:
        raise NotFound("record not found", code="integrity_record_not_found")
    return rec


# --- projects ---------------------------------------------------------------------------------------


def get_project(session: Session, actor: Actor, project_id: int) -> tuple[Project, Bid]:
    """Bureau staff, the winning team and the posing firm follow a project; nobody else."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("project not found", code="project_not_found")
    bid = get_existing(session, Bid, project.bid_id)
    call = get_existing(session, Call, project.call_id)
    if not (actor.is_bureau or actor.org_id in {bid.lead_org_id, *bid.member_org_ids, call.posing_org_id}):
        raise NotFound("project not found", code="project_not_found")
    return project, bid


def list_projects(session: Session, actor: Actor, call: Call) -> list[Project]:
    out = []
    for p in session.scalars(sa.select(Project).where(Project.call_id == call.id).order_by(Project.id)):
        try:
            get_project(session, actor, p.id)
        except NotFound:
            continue
        out.append(p)
    return out


def milestones_of(session: Session, project_id: int) -> list[Milestone]:
    return list(session.scalars(sa.select(Milestone).where(Milestone.project_id == project_id).order_by(Milestone.seq)))


def tranches_of(session: Session, project_id: int) -> list[Tranche]:
    return list(session.scalars(sa.select(Tranche).where(Tranche.project_id == project_id).order_by(Tranche.id)))


def get_milestone(session: Session, project: Project, milestone_id: int) -> Milestone:
    m = session.get(Milestone, milestone_id)
    if m is None or m.project_id != project.id:
        raise NotFound("milestone not found", code="milestone_not_found")
    return m


def get_tranche(session: Session, project: Project, tranche_id: int) -> Tranche:
    t = session.get(Tranche, tranche_id)
    if t is None or t.project_id != project.id:
        raise NotFound("tranche not found", code="tranche_not_found")
    return t


# --- search -----------------------------------------------------------------------------------------


def search_document(session: Session, call_id: int) -> dict[str, Any] | None:
    """The call as the search index holds it, or None when it is not public (the indexer then deletes it).

    Fields (entity_type "call"):
      id (int), entity_type ("call"), kind ("solve" 揭榜攻关 | "adopt" 揭榜转化), state (see rules.CallState),
      title, problem (text), technical_field (code) and technical_field_label (Chinese),
      indicators (list of "name: target unit" strings), indicators_text (joined, for full-text),
      total_amount, firm_share, gov_support, gov_support_cap (yuan as strings, exact Decimal; cap may be None),
      gov_support_ratio_pct (int), duration_months (int), bid_deadline / published_at / notice_ends_at
      (Unix seconds, int or None), bidding_open (bool: published and before the deadline at projection time),
      eligible_entity_types, eligible_regions (lists of codes / prefixes; empty = open to all),
      consortium_allowed (bool), winners_count (int; > 1 means 赛马制), horse_race (bool),
      posing_org_id and posing_org_name, region_code (the posing firm's region), achievement_id (揭榜转化),
      winners (list of winning organisation names; only once awarded), version (int; bumped on every public
      change — keep the newest).
    """
    call = session.get(Call, call_id)
    if call is None or call.state not in rules.PUBLIC_CALL_STATES:
        return None
    posing = session.get(Organisation, call.posing_org_id) if call.posing_org_id else None
    indicators = [
        f"{i.get('name', '')}: {i.get('target', '')}{(' ' + i['unit']) if i.get('unit') else ''}"
        for i in call.indicators
    ]
    winners: list[str] = []
    if call.state in rules.AWARDED_CALL_STATES:
        winners = [row["lead_org_name"] for row in notice_list(session, call)]

    def ts(value: Any) -> int | None:
        return int(value.timestamp()) if value is not None else None

    return {
        "id": call.id,
        "entity_type": "call",
        "kind": call.kind,
        "state": call.state,
        "title": call.title,
        "problem": call.problem,
        "technical_field": call.technical_field,
        "technical_field_label": technical_field_label(call.technical_field),
        "indicators": indicators,
        "indicators_text": "；".join(indicators),
        "total_amount": str(call.total_amount),
        "firm_share": str(call.firm_share),
        "gov_support": str(call.gov_support),
        "gov_support_cap": None if call.gov_support_cap is None else str(call.gov_support_cap),
        "gov_support_ratio_pct": call.gov_support_ratio_pct,
        "duration_months": call.duration_months,
        "bid_deadline": ts(call.bid_deadline),
        "published_at": ts(call.published_at),
        "notice_ends_at": ts(call.notice_ends_at),
        "bidding_open": rules.bidding_open(call.state, call.bid_deadline, utcnow()),
        "eligible_entity_types": list(call.eligible_entity_types),
        "eligible_regions": list(call.eligible_regions),
        "consortium_allowed": call.consortium_allowed,
        "winners_count": call.winners_count,
        "horse_race": call.winners_count > 1,
        "posing_org_id": call.posing_org_id,
        "posing_org_name": posing.name if posing else None,
        "region_code": posing.region_code if posing else None,
        "achievement_id": call.achievement_id,
        "winners": winners,
        "version": call.version,
    }
