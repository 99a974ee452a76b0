"""The open-call state machine: one function per transition, each checked for role and state, each audited.

Every function takes the acting user (`actor`; None means the deadline scheduler) and `now` (injectable so
tests pin the clock). Services flush; the request or task commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.calls import rules
from market.calls.models import (
    Bid,
    BidInvitation,
    BidTeamMember,
    Call,
    ExpertConflict,
    IntegrityRecord,
    Milestone,
    Objection,
    Project,
    ReviewAssignment,
    Tranche,
)
from market.calls.notify import notify
from market.calls.rules import BidState, CallKind, CallState, ProjectState
from market.core import audit, outbox
from market.core.db import to_money, utcnow
from market.core.deps import Actor
from market.core.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from market.core.vocab import OrgKind

# --- plumbing ---------------------------------------------------------------------------------------


def _guard(action: str, call: Call | None, actor: Actor | None) -> rules.Transition:
    """Check role and state for `action`; the scheduler (actor None) passes the role check."""
    state = call.state if call is not None else None
    try:
        role = actor.role if actor is not None else next(iter(rules.CALL_TRANSITIONS[action].roles))
        return rules.check_transition(action, state, role)
    except rules.TransitionError as e:
        if e.code == "role_required":
            raise Forbidden(e.message, code="role_required") from None
        raise InvalidState(e.message, code="invalid_state") from None


def _problems(problems: Sequence[rules.Problem]) -> None:
    if problems:
        details = [{"field": f, "code": c, "message": m} for f, c, m in problems]
        code = problems[0][1] if len(problems) == 1 else "validation_failed"
        raise ValidationFailed(
            problems[0][2] if len(problems) == 1 else "The call or bid has problems.", code=code, details=details
        )


def _publicly_changed(session: Session, call: Call) -> None:
    """Bump the version and tell the search index (it drops the document when the call is not public)."""
    call.version = (call.version or 0) + 1
    session.flush()
    outbox.emit(session, outbox.SEARCH_INDEX, "call", call.id, {"version": call.version})


def _move(session: Session, call: Call, action: str, actor: Actor | None, to_state: str, **detail: Any) -> None:
    before = call.state
    call.state = to_state
    audit.record(
        session,
        entity_type="call",
        entity_id=call.id,
        action=action,
        actor=actor,
        from_state=before,
        to_state=to_state,
        detail=detail or None,
    )
    if before in rules.PUBLIC_CALL_STATES or to_state in rules.PUBLIC_CALL_STATES:
        _publicly_changed(session, call)
    _tell_bidders(session, call, f"call.{action}", STATE_LABELS.get(to_state, to_state))


STATE_LABELS = {
    CallState.vetted: "榜单已通过审核",
    CallState.rejected: "榜单未通过审核",
    CallState.published: "已发榜",
    CallState.bidding_closed: "揭榜已截止",
    CallState.reviewing: "进入答辩评审",
    CallState.notice: "拟立项名单公示",
    CallState.notice_ended: "公示期结束",
    CallState.awarded: "已立项",
    CallState.closed: "榜单已结项",
    CallState.cancelled: "榜单已取消",
}


def _lock_call(session: Session, call_id: int, *, shared: bool = False) -> Call:
    """Load a call, locked against concurrent transitions (bids share the lock; closing takes it exclusively)."""
    stmt = sa.select(Call).where(Call.id == call_id).with_for_update(read=shared)
    call = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
    if call is None:
        raise NotFound("call not found", code="call_not_found")
    return call


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or utcnow()


TERM_FIELDS = (
    "title",
    "problem",
    "technical_field",
    "indicators",
    "total_amount",
    "gov_support_ratio_pct",
    "gov_support_cap",
    "duration_months",
    "bid_deadline",
    "eligible_entity_types",
    "eligible_regions",
    "consortium_allowed",
    "winners_count",
    "review_criteria",
    "experts_per_bid",
    "notice_days",
    "first_tranche_pct",
    "achievement_id",
    "posing_org_id",
    "first_tranche_reason",
)


def _apply_terms(call: Call, data: Mapping[str, Any]) -> None:
    for name in TERM_FIELDS:
        if name in data:
            setattr(call, name, data[name])
    _problems(
        rules.check_money_terms(
            total_amount=call.total_amount,
            gov_support_ratio_pct=call.gov_support_ratio_pct or 0,
            gov_support_cap=call.gov_support_cap,
            first_tranche_pct=call.first_tranche_pct
            if call.first_tranche_pct is not None
            else rules.FIRST_TRANCHE_USUAL_PCT,
            first_tranche_reason=call.first_tranche_reason,
        )
    )
    try:
        call.firm_share, call.gov_support = rules.split_amount(
            to_money(call.total_amount), call.gov_support_ratio_pct or 0, call.gov_support_cap
        )
    except ValueError as e:
        raise ValidationFailed.field("total_amount", "amount_split_invalid", str(e)) from None
    _problems(rules.check_criteria(call.review_criteria) if call.review_criteria else [])


# --- proposing, vetting, publishing -----------------------------------------------------------------


def propose_call(session: Session, actor: Actor, data: Mapping[str, Any], *, now: dt.datetime | None = None) -> Call:
    """企业出题: a verified firm proposes a problem; bureau officers may write one (either direction) themselves."""
    _guard("propose", None, actor)
    kind = data.get("kind", CallKind.solve)
    if actor.is_bureau:
        posing_org_id = data.get("posing_org_id")
    else:
        if actor.org_kind != OrgKind.enterprise or not actor.org_verified:
            raise Forbidden("problems are posed by verified enterprises", code="enterprise_required")
        if kind != CallKind.solve:
            raise Forbidden("揭榜转化 calls are compiled by the bureau", code="role_required")
        posing_org_id = actor.org_id
    call = Call(kind=kind, state=CallState.proposed, posing_org_id=posing_org_id, proposed_by=actor.user_id)
    _apply_terms(call, data)
    if not actor.is_bureau:
        call.posing_org_id = actor.org_id
    session.add(call)
    session.flush()
    audit.record(session, entity_type="call", entity_id=call.id, action="propose", actor=actor, to_state=call.state)
    return call


def update_call(session: Session, actor: Actor, call: Call, changes: Mapping[str, Any]) -> Call:
    """Compile the call (榜单): the bureau completes or edits its terms before publication."""
    _guard("update", call, actor)
    _apply_terms(call, changes)
    audit.record(
        session,
        entity_type="call",
        entity_id=call.id,
        action="update",
        actor=actor,
        detail={"fields": sorted(k for k in changes if k in TERM_FIELDS)},
    )
    session.flush()
    return call


def vet_call(session: Session, actor: Actor, call: Call, *, approve: bool, note: str | None) -> Call:
    """The bureau vets a proposed problem: accepted for compiling, or rejected with a reason."""
    if approve:
        _guard("vet", call, actor)
        call.vetting_note = note
        _move(session, call, "vet", actor, CallState.vetted, note=note)
    else:
        _guard("reject", call, actor)
        if not note:
            raise ValidationFailed.field("note", "reason_required", "a rejection needs a reason")
        call.vetting_note = note
        _move(session, call, "reject", actor, CallState.rejected, note=note)
    return call


def publish_call(session: Session, actor: Actor, call: Call, *, now: dt.datetime | None = None) -> Call:
    """发榜: every term must be complete and the deadline in the future."""
    from market.listings.models import Achievement

    _guard("publish", call, actor)
    now = _now(now)
    _problems(
        rules.check_call_terms(
            kind=call.kind,
            indicators=call.indicators,
            review_criteria=call.review_criteria,
            winners_count=call.winners_count,
            notice_days=call.notice_days,
            first_tranche_pct=call.first_tranche_pct,
            experts_per_bid=call.experts_per_bid,
            achievement_id=call.achievement_id,
            duration_months=call.duration_months,
        )
    )
    if call.bid_deadline is None or call.bid_deadline <= now:
        raise ValidationFailed.field("bid_deadline", "deadline_in_past", "the bid deadline must be in the future")
    if call.kind == CallKind.adopt:
        ach = session.get(Achievement, call.achievement_id)
        if ach is None or ach.status != "published":
            raise ValidationFailed.field(
                "achievement_id", "achievement_not_published", "揭榜转化 needs a published achievement"
            )
        call.posing_org_id = call.posing_org_id or ach.org_id
    elif call.posing_org_id is None:
        # The posing firm is the buyer of the contract the award drafts.
        raise ValidationFailed.field(
            "posing_org_id", "posing_org_required", "揭榜攻关 names the firm posing the problem"
        )
    call.published_at = now
    _move(session, call, "publish", actor, CallState.published)
    return call


def cancel_call(session: Session, actor: Actor, call: Call, *, reason: str) -> Call:
    _guard("cancel", call, actor)
    if not reason:
        raise ValidationFailed.field("reason", "reason_required", "a cancellation needs a reason")
    _move(session, call, "cancel", actor, CallState.cancelled, reason=reason)
    return call


# --- research-integrity records (科研失信) -------------------------------------------------------------


def _require_officer(actor: Actor, what: str) -> None:
    if actor.role not in rules.OFFICER_ROLES:
        raise Forbidden(f"{what} is for bureau programme staff", code="role_required")


def _today(now: dt.datetime | None) -> dt.date:
    return _now(now).date()


def record_integrity(
    session: Session, actor: Actor, data: Mapping[str, Any], *, now: dt.datetime | None = None
) -> IntegrityRecord:
    """The bureau records a 科研失信 entry on an organisation or a person (a team leader), with its source."""
    _require_officer(actor, "the research-integrity record")
    if (data.get("org_id") is None) == (not (data.get("person_name") or "").strip()):
        raise ValidationFailed.field("org_id", "one_subject", "name either an organisation or a person")
    if data.get("org_id") is not None and session.get(Organisation, data["org_id"]) is None:
        raise ValidationFailed.field("org_id", "organisation_not_found", "unknown organisation")
    if data["ends_on"] < data["starts_on"]:
        raise ValidationFailed.field("ends_on", "dates_order", "the end date is on or after the start date")
    rec = IntegrityRecord(
        org_id=data.get("org_id"),
        person_name=(data.get("person_name") or "").strip() or None,
        reason=data["reason"],
        source_document=data["source_document"],
        starts_on=data["starts_on"],
        ends_on=data["ends_on"],
        recorded_by=actor.user_id,
    )
    session.add(rec)
    session.flush()
    audit.record(
        session,
        entity_type="integrity_record",
        entity_id=rec.id,
        action="record",
        actor=actor,
        to_state="active",
        detail={
            "org_id": rec.org_id,
            "person_name": rec.person_name,
            "reason": rec.reason,
            "source_document": rec.source_document,
            "starts_on": rec.starts_on.isoformat(),
            "ends_on": rec.ends_on.isoformat(),
        },
    )
    return rec


def lift_integrity(
    session: Session, actor: Actor, rec: IntegrityRecord, *, reason: str, now: dt.datetime | None = None
) -> IntegrityRecord:
    """Lift a record early, with a reason; it stops binding from today."""
    _require_officer(actor, "the research-integrity record")
    if rec.lifted_on is not None:
        raise InvalidState("this record is already lifted", code="already_lifted")
    if not reason.strip():
        raise ValidationFailed.field("reason", "reason_required", "lifting a record needs a reason")
    rec.lifted_on, rec.lift_reason, rec.lifted_by = _today(now), reason, actor.user_id
    audit.record(
        session,
        entity_type="integrity_record",
        entity_id=rec.id,
        action="lift",
        actor=actor,
        from_state="active",
        to_state="lifted",
        detail={"reason": reason},
    )
    session.flush()
    return rec


def _barred(session: Session, org_ids: Sequence[int], people: Sequence[str], on: dt.date) -> dict[str, list]:
    """Who of these organisations and persons is barred on `on`: by an active record, or by the database flag."""
    people = [p.strip() for p in people if p and p.strip()]
    records = [
        r
        for r in session.scalars(
            sa.select(IntegrityRecord)
            .where(IntegrityRecord.org_id.in_(list(org_ids)) | IntegrityRecord.person_name.in_(people))
            .order_by(IntegrityRecord.id)
        )
        if rules.integrity_record_active(r.starts_on, r.ends_on, r.lifted_on, on)
    ]
    flagged = session.scalars(
        sa.select(Organisation.id).where(
            Organisation.id.in_(list(org_ids)), Organisation.research_integrity_blacklisted.is_(True)
        )
    ).all()
    return {
        "record_ids": [r.id for r in records],
        "org_ids": sorted({r.org_id for r in records if r.org_id is not None} | set(flagged)),
        "people": sorted({r.person_name for r in records if r.person_name}),
    }


def _bid_barred(session: Session, bid: Bid, on: dt.date) -> dict[str, list] | None:
    found = _barred(session, [bid.lead_org_id, *bid.member_org_ids], [bid.team_leader], on)
    return found if found["org_ids"] or found["people"] else None


# --- bidding ----------------------------------------------------------------------------------------


def _team_facts(
    session: Session, lead_org_id: int, member_ids: Sequence[int], on: dt.date
) -> tuple[rules.OrgFacts, list]:
    ids = [lead_org_id, *member_ids]
    orgs = {o.id: o for o in session.scalars(sa.select(Organisation).where(Organisation.id.in_(ids)))}
    missing = [i for i in ids if i not in orgs]
    if missing:
        raise ValidationFailed.field("member_org_ids", "organisation_not_found", f"unknown organisations: {missing}")
    barred = set(_barred(session, ids, [], on)["org_ids"])

    def facts(o: Organisation) -> rules.OrgFacts:
        return rules.OrgFacts(o.id, o.entity_type_code, o.region_code, o.is_verified, o.id in barred)

    return facts(orgs[lead_org_id]), [facts(orgs[i]) for i in member_ids]


def _check_bid_content(
    session: Session, call: Call, lead_org_id: int, data: Mapping[str, Any], now: dt.datetime
) -> None:
    """Eligibility of the lead and everyone it invites, the team leader's record, milestones and price."""
    lead, members = _team_facts(session, lead_org_id, list(data.get("member_org_ids") or []), now.date())
    elig = rules.Eligibility(
        call.kind,
        call.eligible_entity_types or (),
        call.eligible_regions or (),
        call.consortium_allowed,
        call.posing_org_id,
    )
    problems = rules.check_eligibility(elig, lead, members)
    if (
        not any(p[1] == "not_eligible" for p in problems)
        and _barred(session, [], [data["team_leader"]], now.date())["people"]
    ):
        problems.append(("team", "not_eligible", "this team is not eligible for this call"))
    problems += rules.check_milestones(data.get("milestones") or [], call.duration_months)
    problems += rules.check_bid_price(data["price"], call.total_amount)
    _problems(problems)


def _ensure_open(call: Call, now: dt.datetime) -> None:
    if not rules.bidding_open(call.state, call.bid_deadline, now):
        raise InvalidState("bidding is closed for this call", code="bidding_closed")


def _join_team(session: Session, bid: Bid, org_id: int, *, is_lead: bool) -> None:
    """Put an organisation on the bid's team in a savepoint; a clash means it is already in another bid."""
    try:
        with session.begin_nested():
            session.add(BidTeamMember(call_id=bid.call_id, org_id=org_id, bid_id=bid.id, is_lead=is_lead))
            session.flush()
    except IntegrityError:
        raise Conflict("an organisation of this team is already in a bid on this call", code="already_bid") from None


def _leave_team(session: Session, bid: Bid, org_id: int) -> None:
    session.execute(sa.delete(BidTeamMember).where(BidTeamMember.bid_id == bid.id, BidTeamMember.org_id == org_id))
    bid.member_org_ids = [m for m in bid.member_org_ids if m != org_id]


def _invite(session: Session, actor: Actor, call: Call, bid: Bid, org_ids: Sequence[int], now: dt.datetime) -> None:
    """联合体: named members are invited; they join (and are bound) only when they accept."""
    existing = {i.org_id: i for i in session.scalars(sa.select(BidInvitation).where(BidInvitation.bid_id == bid.id))}
    for org_id in org_ids:
        inv = existing.get(org_id)
        if inv is not None and inv.state in ("invited", "accepted"):
            continue
        if inv is None:
            inv = BidInvitation(call_id=call.id, bid_id=bid.id, org_id=org_id, state="invited", invited_at=now)
            session.add(inv)
        else:
            inv.state, inv.invited_at, inv.responded_at = "invited", now, None
        session.flush()
        audit.record(
            session,
            entity_type="call_bid",
            entity_id=bid.id,
            action="invite_member",
            actor=actor,
            to_state="invited",
            detail={"org_id": org_id, "invitation_id": inv.id},
        )
        notify(
            session,
            "bid.invitation",
            call.id,
            f"邀请加入联合体揭榜: {call.title}",
            org_ids=[org_id],
            detail={"invitation_id": inv.id, "bid_id": bid.id},
        )


def _revoke(session: Session, actor: Actor, bid: Bid, keep: set[int], now: dt.datetime) -> None:
    """Invitations of organisations no longer named lapse; accepted members leave the team."""
    for inv in session.scalars(
        sa.select(BidInvitation).where(BidInvitation.bid_id == bid.id, BidInvitation.state.in_(("invited", "accepted")))
    ):
        if inv.org_id in keep:
            continue
        if inv.state == "accepted":
            _leave_team(session, bid, inv.org_id)
        before, inv.state, inv.responded_at = inv.state, "revoked", now
        audit.record(
            session,
            entity_type="call_bid",
            entity_id=bid.id,
            action="revoke_member",
            actor=actor,
            from_state=before,
            to_state="revoked",
            detail={"org_id": inv.org_id},
        )


def submit_bid(
    session: Session, actor: Actor, call_id: int, data: Mapping[str, Any], *, now: dt.datetime | None = None
) -> Bid:
    """揭榜: the actor's organisation bids strictly before the deadline, alone or inviting consortium members."""
    call = _lock_call(session, call_id, shared=True)
    if call.state not in rules.PUBLIC_CALL_STATES:
        raise NotFound("call not found", code="call_not_found")
    _guard("submit_bid", call, actor)
    now = _now(now)
    _ensure_open(call, now)
    _check_bid_content(session, call, actor.org_id, data, now)
    invited = list(dict.fromkeys(int(m) for m in data.get("member_org_ids") or []))
    bid = Bid(
        call_id=call.id,
        lead_org_id=actor.org_id,
        member_org_ids=[],
        state=BidState.submitted,
        team_leader=data["team_leader"],
        plan=data["plan"],
        promised_indicators=list(data.get("promised_indicators") or []),
        price=to_money(data["price"]),
        milestones=[dict(m) for m in data["milestones"]],
        submitted_by=actor.user_id,
        submitted_at=now,
        last_changed_at=now,
    )
    session.add(bid)
    session.flush()
    _join_team(session, bid, actor.org_id, is_lead=True)
    audit.record(
        session,
        entity_type="call_bid",
        entity_id=bid.id,
        action="submit",
        actor=actor,
        to_state=bid.state,
        detail={"call_id": call.id},
    )
    _invite(session, actor, call, bid, invited, now)
    return bid


def _own_bid(bid: Bid, actor: Actor) -> None:
    # A bid that is not yours does not exist, as far as you can tell.
    if bid.lead_org_id != actor.org_id:
        raise NotFound("bid not found", code="bid_not_found")


def update_bid(
    session: Session, actor: Actor, bid: Bid, changes: Mapping[str, Any], *, now: dt.datetime | None = None
) -> Bid:
    """Change a bid while bidding is open; after the deadline nothing changes."""
    _own_bid(bid, actor)
    call = _lock_call(session, bid.call_id, shared=True)
    _guard("update_bid", call, actor)
    now = _now(now)
    _ensure_open(call, now)
    if bid.state != BidState.submitted:
        raise InvalidState("only a submitted bid can be changed", code="invalid_state")
    named = [
        i.org_id
        for i in session.scalars(
            sa.select(BidInvitation).where(
                BidInvitation.bid_id == bid.id, BidInvitation.state.in_(("invited", "accepted"))
            )
        )
    ]
    merged = {
        "member_org_ids": named,
        "team_leader": bid.team_leader,
        "plan": bid.plan,
        "promised_indicators": bid.promised_indicators,
        "price": bid.price,
        "milestones": bid.milestones,
        **{k: v for k, v in changes.items() if v is not None},
    }
    _check_bid_content(session, call, bid.lead_org_id, merged, now)
    members = list(dict.fromkeys(int(m) for m in merged["member_org_ids"]))
    if set(members) != set(named):
        _revoke(session, actor, bid, set(members), now)
        _invite(session, actor, call, bid, members, now)
    for name in ("team_leader", "plan", "promised_indicators", "milestones"):
        setattr(bid, name, [dict(m) for m in merged[name]] if name == "milestones" else merged[name])
    bid.price = to_money(merged["price"])
    bid.last_changed_at = now
    audit.record(
        session,
        entity_type="call_bid",
        entity_id=bid.id,
        action="update",
        actor=actor,
        detail={"fields": sorted(changes)},
    )
    session.flush()
    return bid


def withdraw_bid(session: Session, actor: Actor, bid: Bid, *, now: dt.datetime | None = None) -> Bid:
    _own_bid(bid, actor)
    call = _lock_call(session, bid.call_id, shared=True)
    _guard("withdraw_bid", call, actor)
    now = _now(now)
    _ensure_open(call, now)
    if bid.state != BidState.submitted:
        raise InvalidState("only a submitted bid can be withdrawn", code="invalid_state")
    bid.state = BidState.withdrawn
    _revoke(session, actor, bid, set(), now)
    session.execute(sa.delete(BidTeamMember).where(BidTeamMember.bid_id == bid.id))
    audit.record(
        session,
        entity_type="call_bid",
        entity_id=bid.id,
        action="withdraw",
        actor=actor,
        from_state=BidState.submitted,
        to_state=bid.state,
    )
    return bid


_ANSWER_LABELS = {"accept": "接受邀请", "decline": "拒绝邀请", "withdraw": "退出"}


def answer_invitation(
    session: Session, actor: Actor, invitation: BidInvitation, *, action: str, now: dt.datetime | None = None
) -> BidInvitation:
    """The invited organisation accepts or declines; an accepted member may withdraw — all before the deadline.

    Accepting makes it a party: it then sees the plan, and it cannot be in another bid on the call."""
    if invitation.org_id != actor.org_id:
        raise NotFound("invitation not found", code="invitation_not_found")
    call = _lock_call(session, invitation.call_id, shared=True)
    _guard("answer_invitation", call, actor)
    now = _now(now)
    _ensure_open(call, now)
    bid = session.get(Bid, invitation.bid_id)
    allowed = {"accept": ("invited",), "decline": ("invited",), "withdraw": ("accepted",)}[action]
    if invitation.state not in allowed or bid.state != BidState.submitted:
        raise InvalidState(f"this invitation cannot be {action}ed now", code="invalid_state")
    before = invitation.state
    if action == "accept":
        lead, members = _team_facts(session, bid.lead_org_id, [actor.org_id], now.date())
        elig = rules.Eligibility(call.kind, (), (), call.consortium_allowed, call.posing_org_id)
        _problems(rules.check_eligibility(elig, lead, members))
        _join_team(session, bid, actor.org_id, is_lead=False)
        bid.member_org_ids = [*bid.member_org_ids, actor.org_id]
        invitation.state = "accepted"
    elif action == "decline":
        invitation.state = "declined"
    else:
        _leave_team(session, bid, actor.org_id)
        invitation.state = "withdrawn"
    invitation.responded_at = now
    audit.record(
        session,
        entity_type="call_bid",
        entity_id=bid.id,
        action=f"member_{action}",
        actor=actor,
        from_state=before,
        to_state=invitation.state,
        detail={"org_id": actor.org_id},
    )
    notify(
        session,
        f"bid.member_{action}",
        call.id,
        f"联合体成员已{_ANSWER_LABELS[action]}: {call.title}",
        org_ids=[bid.lead_org_id],
        detail={"bid_id": bid.id, "org_id": actor.org_id},
    )
    session.flush()
    return invitation


def close_bidding(
    session: Session, call_id: int, actor: Actor | None = None, *, now: dt.datetime | None = None
) -> Call:
    """The deadline has passed: no more bids (the scheduler does this; an officer may too, never early)."""
    call = _lock_call(session, call_id)
    _guard("close_bidding", call, actor)
    now = _now(now)
    if now < call.bid_deadline:
        raise InvalidState("the bid deadline has not passed", code="deadline_not_reached")
    _move(session, call, "close_bidding", actor, CallState.bidding_closed)
    return call


# --- formal check and expert review -----------------------------------------------------------------


def formal_check(
    session: Session, actor: Actor, bid: Bid, *, passed: bool, reason: str | None, now: dt.datetime | None = None
) -> Bid:
    """形式审查: pass or fail with a reason; may be redone until review starts. A team with an active
    research-integrity record cannot pass (the bureau sees which records)."""
    call = _lock_call(session, bid.call_id)
    _guard("formal_check", call, actor)
    barred = _bid_barred(session, bid, _today(now)) if passed else None
    if barred:
        raise InvalidState(
            "the team has an active research-integrity record (科研失信)",
            code="research_integrity_record",
            details=[barred],
        )
    if bid.state not in (BidState.submitted, BidState.formal_passed, BidState.formal_failed):
        raise InvalidState("this bid is not up for formal check", code="invalid_state")
    if not passed and not reason:
        raise ValidationFailed.field("reason", "reason_required", "a failed formal check needs a reason")
    before = bid.state
    bid.state = BidState.formal_passed if passed else BidState.formal_failed
    bid.formal_check_reason = reason
    audit.record(
        session,
        entity_type="call_bid",
        entity_id=bid.id,
        action="formal_check",
        actor=actor,
        from_state=before,
        to_state=bid.state,
        detail={"reason": reason} if reason else None,
    )
    notify(
        session,
        "bid.formal_check",
        call.id,
        f"形式审查{'通过' if passed else '未通过'}: {call.title}",
        org_ids=_team(bid),
        detail={"bid_id": bid.id, "passed": passed, "reason": reason},
    )
    return bid


def _team(bid: Bid) -> list[int]:
    return [bid.lead_org_id, *bid.member_org_ids]


def _tell_bidders(session: Session, call: Call, event: str, title: str, **detail: Any) -> None:
    """A stage change: the posing firm and every team still in the call hear of it."""
    teams = [
        o
        for b in session.scalars(sa.select(Bid).where(Bid.call_id == call.id, Bid.state != BidState.withdrawn))
        for o in _team(b)
    ]
    notify(
        session,
        event,
        call.id,
        f"{title}: {call.title}",
        org_ids=[call.posing_org_id, *teams],
        detail={"state": call.state, **detail},
    )


def _expert_pool(session: Session) -> list[rules.ExpertFacts]:
    rows = session.execute(
        sa.select(User.id, User.org_id, User.expert_fields).where(User.role == Role.expert, User.is_active.is_(True))
    )
    return [rules.ExpertFacts(uid, oid, frozenset(filter(None, (f or "").split(",")))) for uid, oid, f in rows]


def _conflicts(session: Session) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """(expert -> conflicting org ids, bid -> experts who declared a conflict with it)."""
    by_org: dict[int, set[int]] = {}
    by_bid: dict[int, set[int]] = {}
    for c in session.scalars(sa.select(ExpertConflict)):
        if c.org_id is not None:
            by_org.setdefault(c.expert_user_id, set()).add(c.org_id)
        if c.bid_id is not None:
            by_bid.setdefault(c.bid_id, set()).add(c.expert_user_id)
    return by_org, by_bid


def _assign(session: Session, call: Call, bids: Sequence[Bid], now: dt.datetime) -> list[int]:
    """Fill each bid up to N active experts; returns the ids of bids that could not be filled.

    Excluded: experts outside the call's field, from any team organisation or the posing firm, and anyone
    who declared a conflict with one of those organisations or with the bid."""
    pool = _expert_pool(session)
    by_org, by_bid = _conflicts(session)
    existing = list(session.scalars(sa.select(ReviewAssignment).where(ReviewAssignment.call_id == call.id)))
    load: dict[int, int] = {}
    for a in existing:
        if a.state != "recused":
            load[a.expert_user_id] = load.get(a.expert_user_id, 0) + 1
    short = []
    for bid in bids:
        mine = [a for a in existing if a.bid_id == bid.id]
        taken = {a.expert_user_id for a in mine}  # a recused expert is never asked again
        active = sum(1 for a in mine if a.state != "recused")
        candidates = [
            e
            for e in rules.eligible_experts(
                pool,
                field=call.technical_field,
                team_org_ids={bid.lead_org_id, *bid.member_org_ids} | ({call.posing_org_id} - {None}),
                conflict_org_ids=by_org,
                conflict_bid=by_bid.get(bid.id, set()),
                bid_id=bid.id,
            )
            if e.user_id not in taken
        ]
        need = call.experts_per_bid - active
        for uid in rules.pick_experts(candidates, need, load, bid.id) if need > 0 else []:
            session.add(
                ReviewAssignment(call_id=call.id, bid_id=bid.id, expert_user_id=uid, state="assigned", assigned_at=now)
            )
            load[uid] = load.get(uid, 0) + 1
            active += 1
        if active < call.experts_per_bid:
            short.append(bid.id)
    session.flush()
    return short


def start_review(session: Session, actor: Actor, call_id: int, *, now: dt.datetime | None = None) -> Call:
    """Every bid formally checked → assign N experts per passed bid by field, recusing conflicts → reviewing."""
    call = _lock_call(session, call_id)
    _guard("start_review", call, actor)
    bids = list(session.scalars(sa.select(Bid).where(Bid.call_id == call.id).order_by(Bid.id)))
    unchecked = [b.id for b in bids if b.state == BidState.submitted]
    if unchecked:
        raise InvalidState(f"bids not yet formally checked: {unchecked}", code="formal_check_pending")
    passed = [b for b in bids if b.state == BidState.formal_passed]
    if not passed:
        raise InvalidState("no bid passed the formal check", code="no_eligible_bids")
    short = _assign(session, call, passed, _now(now))
    if short:
        raise Conflict(
            f"not enough eligible experts in {call.technical_field} for bids {short}", code="not_enough_experts"
        )
    _move(session, call, "start_review", actor, CallState.reviewing, bids=len(passed))
    return call


def _my_assignment(session: Session, actor: Actor, bid_id: int) -> ReviewAssignment:
    a = session.scalar(
        sa.select(ReviewAssignment).where(
            ReviewAssignment.bid_id == bid_id, ReviewAssignment.expert_user_id == actor.user_id
        )
    )
    if a is None or a.state == "recused":
        raise NotFound("bid not found", code="bid_not_found")
    return a


def submit_scores(
    session: Session,
    actor: Actor,
    bid: Bid,
    scores: Mapping[str, int],
    *,
    comment: str | None = None,
    now: dt.datetime | None = None,
) -> ReviewAssignment:
    """An assigned expert scores every criterion once; nobody else's scores are shown to them."""
    call = session.get(Call, bid.call_id)
    if not actor.is_expert:
        raise Forbidden("only experts score bids", code="role_required")
    a = _my_assignment(session, actor, bid.id)
    _guard("score", call, actor)
    if a.state != "assigned":
        raise InvalidState("you have already scored this bid", code="already_scored")
    try:
        total = rules.weighted_total(call.review_criteria, dict(scores))
    except ValueError as e:
        raise ValidationFailed.field("scores", "scores_invalid", str(e)) from None
    a.scores, a.total_centi, a.comment, a.state, a.scored_at = (
        dict(scores),
        int(total * 100),
        comment,
        "scored",
        _now(now),
    )
    audit.record(
        session, entity_type="call_bid", entity_id=bid.id, action="score", actor=actor, detail={"assignment_id": a.id}
    )
    return a


def declare_conflict(
    session: Session,
    actor: Actor,
    *,
    org_id: int | None = None,
    bid_id: int | None = None,
    reason: str,
    now: dt.datetime | None = None,
) -> ExpertConflict:
    """回避: an expert declares a conflict with an organisation or an assigned bid; open reviews are reassigned."""
    if not actor.is_expert:
        raise Forbidden("only experts declare conflicts", code="role_required")
    if (org_id is None) == (bid_id is None):
        raise ValidationFailed.field("org_id", "one_target", "name either an organisation or a bid")
    now = _now(now)
    if bid_id is not None:
        _my_assignment(session, actor, bid_id)
    elif session.get(Organisation, org_id) is None:
        raise NotFound("organisation not found", code="organisation_not_found")
    conflict = ExpertConflict(
        expert_user_id=actor.user_id, org_id=org_id, bid_id=bid_id, reason=reason, declared_at=now
    )
    session.add(conflict)
    session.flush()
    audit.record(
        session,
        entity_type="expert_conflict",
        entity_id=conflict.id,
        action="declare",
        actor=actor,
        detail={"org_id": org_id, "bid_id": bid_id},
    )
    # Recuse from unscored reviews this conflict touches, and find replacements.
    affected = session.execute(
        sa.select(ReviewAssignment, Bid)
        .join(Bid, Bid.id == ReviewAssignment.bid_id)
        .where(ReviewAssignment.expert_user_id == actor.user_id, ReviewAssignment.state == "assigned")
    ).all()
    for a, bid in affected:
        if bid.id == bid_id or (org_id is not None and org_id in {bid.lead_org_id, *bid.member_org_ids}):
            call = _lock_call(session, bid.call_id)
            _guard("recuse", call, actor)
            a.state = "recused"
            audit.record(session, entity_type="call_bid", entity_id=bid.id, action="recuse", actor=actor)
            session.flush()
            _assign(session, call, [bid], now)
    return conflict


def propose_winners(
    session: Session, actor: Actor, call_id: int, bid_ids: Sequence[int], *, now: dt.datetime | None = None
) -> Call:
    """公示: name the proposed winners (1, or up to the 赛马制 count) once every review is in."""
    call = _lock_call(session, call_id)
    _guard("propose_winners", call, actor)
    now = _now(now)
    bids = {b.id: b for b in session.scalars(sa.select(Bid).where(Bid.call_id == call.id))}
    open_reviews = session.scalar(
        sa.select(sa.func.count())
        .select_from(ReviewAssignment)
        .where(ReviewAssignment.call_id == call.id, ReviewAssignment.state == "assigned")
    )
    if open_reviews:
        raise InvalidState(f"{open_reviews} reviews are still open", code="reviews_pending")
    chosen = list(dict.fromkeys(bid_ids))
    if not 1 <= len(chosen) <= call.winners_count:
        raise ValidationFailed.field("bid_ids", "winners_count", f"name 1..{call.winners_count} winners")
    for bid_id in chosen:
        bid = bids.get(bid_id)
        if bid is None or bid.state not in (BidState.formal_passed, BidState.proposed_winner):
            raise ValidationFailed.field("bid_ids", "bid_not_eligible", f"bid {bid_id} cannot be proposed")
    for bid in bids.values():
        if bid.state == BidState.proposed_winner and bid.id not in chosen:
            bid.state = BidState.formal_passed
        elif bid.id in chosen:
            bid.state = BidState.proposed_winner
    call.notice_started_at = now
    call.notice_ends_at = now + dt.timedelta(days=call.notice_days)
    _move(
        session,
        call,
        "propose_winners",
        actor,
        CallState.notice,
        bid_ids=chosen,
        notice_ends_at=call.notice_ends_at.isoformat(),
    )
    return call


def lodge_objection(
    session: Session,
    actor: Actor,
    call_id: int,
    *,
    text: str,
    bid_id: int | None = None,
    now: dt.datetime | None = None,
) -> Objection:
    """异议: any logged-in organisation, during the notice period, against the call or a proposed winner.

    The team it concerns is told, without the objector's identity."""
    call = _lock_call(session, call_id, shared=True)
    _guard("lodge_objection", call, actor)
    now = _now(now)
    if now >= call.notice_ends_at:
        raise InvalidState("the public notice period is over", code="notice_over")
    if bid_id is not None:
        bid = session.get(Bid, bid_id)
        if bid is None or bid.call_id != call.id or bid.state != BidState.proposed_winner:
            raise NotFound("bid not found", code="bid_not_found")
    if not text.strip():
        raise ValidationFailed.field("text", "text_required", "say what the objection is")
    obj = Objection(
        call_id=call.id,
        bid_id=bid_id,
        lodged_by=actor.user_id,
        lodged_by_org_id=actor.org_id,
        text=text,
        state="open",
        lodged_at=now,
        reveal_objector=False,
    )
    session.add(obj)
    session.flush()
    audit.record(
        session,
        entity_type="call_objection",
        entity_id=obj.id,
        action="lodge",
        actor=actor,
        to_state="open",
        detail={"call_id": call.id, "bid_id": bid_id},
    )
    concerned = _team(session.get(Bid, bid_id)) if bid_id is not None else []
    notify(
        session,
        "objection.lodged",
        call.id,
        f"公示期收到异议: {call.title}",
        org_ids=concerned,
        officers=True,
        detail={"objection_id": obj.id, "bid_id": bid_id},
    )
    return obj


def answer_objection(
    session: Session, actor: Actor, objection: Objection, *, answer: str, now: dt.datetime | None = None
) -> Objection:
    """The team an objection concerns answers it before the bureau resolves it (once; a later answer replaces it)."""
    bid = session.get(Bid, objection.bid_id) if objection.bid_id is not None else None
    if bid is None or actor.org_id not in _team(bid):
        raise NotFound("objection not found", code="objection_not_found")
    call = _lock_call(session, objection.call_id, shared=True)
    _guard("answer_objection", call, actor)
    if objection.state != "open":
        raise InvalidState("this objection is already resolved", code="already_resolved")
    if not answer.strip():
        raise ValidationFailed.field("answer", "text_required", "say what the answer is")
    objection.answer, objection.answered_at = answer, _now(now)
    audit.record(
        session,
        entity_type="call_objection",
        entity_id=objection.id,
        action="answer",
        actor=actor,
        detail={"bid_id": bid.id},
    )
    notify(
        session,
        "objection.answered",
        call.id,
        f"异议已答复: {call.title}",
        officers=True,
        detail={"objection_id": objection.id},
    )
    session.flush()
    return objection


def disclose_objector(session: Session, actor: Actor, objection: Objection, *, reason: str) -> Objection:
    """The bureau decides that the team concerned may know who objected."""
    _require_officer(actor, "disclosing an objector")
    if not reason.strip():
        raise ValidationFailed.field("reason", "reason_required", "disclosure needs a reason")
    objection.reveal_objector = True
    audit.record(
        session,
        entity_type="call_objection",
        entity_id=objection.id,
        action="disclose_objector",
        actor=actor,
        detail={"reason": reason},
    )
    session.flush()
    return objection


def resolve_objection(
    session: Session,
    actor: Actor,
    objection: Objection,
    *,
    upheld: bool,
    resolution: str,
    now: dt.datetime | None = None,
) -> Objection:
    """The officer resolves an objection; upholding one against a proposed winner disqualifies it and
    sends the call back to review, so winners are proposed (and noticed) again."""
    call = _lock_call(session, objection.call_id)
    _guard("resolve_objection", call, actor)
    if objection.state != "open":
        raise InvalidState("this objection is already resolved", code="already_resolved")
    if not resolution:
        raise ValidationFailed.field("resolution", "reason_required", "a resolution needs a reason")
    objection.state = "upheld" if upheld else "dismissed"
    objection.resolution, objection.resolved_by, objection.resolved_at = resolution, actor.user_id, _now(now)
    audit.record(
        session,
        entity_type="call_objection",
        entity_id=objection.id,
        action="resolve",
        actor=actor,
        from_state="open",
        to_state=objection.state,
        detail={"resolution": resolution},
    )
    concerned = _team(session.get(Bid, objection.bid_id)) if objection.bid_id is not None else []
    notify(
        session,
        "objection.resolved",
        call.id,
        f"异议处理结果({'成立' if upheld else '不成立'}): {call.title}",
        org_ids=[objection.lodged_by_org_id, *concerned],
        detail={"objection_id": objection.id, "upheld": upheld, "resolution": resolution},
    )
    if upheld and objection.bid_id is not None:
        bid = session.get(Bid, objection.bid_id)
        if bid.state == BidState.proposed_winner:
            bid.state = BidState.disqualified
            audit.record(
                session,
                entity_type="call_bid",
                entity_id=bid.id,
                action="disqualify",
                actor=actor,
                from_state=BidState.proposed_winner,
                to_state=bid.state,
            )
            _move(session, call, "objection_upheld", actor, CallState.reviewing, objection_id=objection.id)
    return objection


def end_notice(session: Session, call_id: int, actor: Actor | None = None, *, now: dt.datetime | None = None) -> Call:
    """The notice period is over (the scheduler does this)."""
    call = _lock_call(session, call_id)
    _guard("end_notice", call, actor)
    if _now(now) < call.notice_ends_at:
        raise InvalidState("the public notice period is not over", code="notice_not_over")
    _move(session, call, "end_notice", actor, CallState.notice_ended)
    return call


# --- award and delivery -----------------------------------------------------------------------------


# 揭榜转化 transfers the achievement's rights; the subtype follows its IP type.
_TRANSFER_SUBTYPE = {
    "invention_patent": "patent_right",
    "utility_model": "patent_right",
    "design": "patent_right",
    "software_copyright": "software_copyright",
    "ic_layout": "ic_layout",
    "plant_variety": "plant_variety",
}


def _draft_contract(session: Session, actor: Actor, call: Call, bid: Bid) -> int:
    """A draft technology contract per awarded bid, naming every accepted consortium member as a party.

    揭榜攻关: the winning team develops for the posing firm (技术开发 / 委托开发, seller = lead).
    揭榜转化: the achievement's holder transfers it to the winning enterprise (技术转让).
    """
    from market.contracts.service import add_consortium_members, create_draft_contract
    from market.listings.models import Achievement

    data: dict[str, Any] = {
        "project_name": call.title,
        "total_amount": bid.price,
        "call_id": call.id,
        "technical_field": call.technical_field,
    }
    if call.kind == CallKind.adopt:
        ach = session.get(Achievement, call.achievement_id)
        data |= {
            "contract_type": "transfer",
            "subtype": _TRANSFER_SUBTYPE.get(ach.ip_type, "technical_secret"),
            "seller_org_id": ach.org_id,
            "buyer_org_id": bid.lead_org_id,
            "achievement_id": ach.id,
        }
    else:
        data |= {
            "contract_type": "development",
            "subtype": "commissioned",
            "seller_org_id": bid.lead_org_id,
            "buyer_org_id": call.posing_org_id,
        }
    contract_id = create_draft_contract(session, actor, data).id
    if bid.member_org_ids:
        add_consortium_members(session, actor, contract_id, list(bid.member_org_ids))
    return contract_id


def award(session: Session, actor: Actor, call_id: int, *, now: dt.datetime | None = None) -> list[Project]:
    """立项: the notice is over and every objection resolved; winners get a project, a tranche plan and a draft
    contract. A proposed winner whose team now has an active research-integrity record is disqualified; if none
    is left the call goes back to review (and the answer is an empty list)."""
    call = _lock_call(session, call_id)
    _guard("award", call, actor)
    now = _now(now)
    open_objections = session.scalar(
        sa.select(sa.func.count()).select_from(Objection).where(Objection.call_id == call.id, Objection.state == "open")
    )
    if open_objections:
        raise InvalidState(f"{open_objections} objections are still open", code="objections_open")
    bids = list(session.scalars(sa.select(Bid).where(Bid.call_id == call.id).order_by(Bid.id)))
    winners = []
    for bid in bids:
        if bid.state != BidState.proposed_winner:
            continue
        barred = _bid_barred(session, bid, now.date())
        if barred:
            bid.state = BidState.disqualified
            audit.record(
                session,
                entity_type="call_bid",
                entity_id=bid.id,
                action="disqualify",
                actor=actor,
                from_state=BidState.proposed_winner,
                to_state=bid.state,
                detail={"research_integrity": barred},
            )
            notify(
                session,
                "bid.not_eligible",
                call.id,
                f"不符合立项条件: {call.title}",
                org_ids=_team(bid),
                detail={"bid_id": bid.id},
            )
        else:
            winners.append(bid)
    if not winners:
        if any(b.state == BidState.disqualified for b in bids):
            _move(session, call, "award_refused", actor, CallState.reviewing, reason="research_integrity")
            session.flush()
            return []
        raise InvalidState("no proposed winner left; propose again", code="no_winner")
    grants = rules.split_evenly(call.gov_support, len(winners))
    projects = []
    for bid, grant in zip(winners, grants, strict=True):
        bid.state = BidState.winner
        project = Project(call_id=call.id, bid_id=bid.id, state=ProjectState.awarded, gov_grant=grant, route_changes=[])
        session.add(project)
        session.flush()
        shares = [m["payment_share_pct"] for m in bid.milestones]
        amounts = rules.milestone_amounts(bid.price, shares)
        first, per_milestone = rules.tranche_plan(grant, call.first_tranche_pct, shares)
        if first > 0:
            session.add(Tranche(project_id=project.id, kind="first", amount=first, state="scheduled"))
        for seq, (m, amount, tranche) in enumerate(zip(bid.milestones, amounts, per_milestone, strict=True), start=1):
            milestone = Milestone(
                project_id=project.id,
                seq=seq,
                title=m["title"],
                deliverable=m["deliverable"],
                due_month=m["due_month"],
                payment_share_pct=m["payment_share_pct"],
                amount=amount,
                state="pending",
            )
            session.add(milestone)
            session.flush()
            kind = "final" if seq == len(bid.milestones) else "milestone"
            if tranche > 0:  # a 100 % first tranche leaves nothing to pay per milestone
                session.add(
                    Tranche(
                        project_id=project.id, kind=kind, milestone_id=milestone.id, amount=tranche, state="scheduled"
                    )
                )
        project.contract_id = _draft_contract(session, actor, call, bid)
        audit.record(
            session,
            entity_type="call_project",
            entity_id=project.id,
            action="award",
            actor=actor,
            to_state=project.state,
            detail={"bid_id": bid.id, "contract_id": project.contract_id},
        )
        notify(
            session,
            "bid.won",
            call.id,
            f"揭榜成功，已立项: {call.title}",
            org_ids=_team(bid),
            detail={"bid_id": bid.id, "project_id": project.id},
        )
        projects.append(project)
    for bid in bids:
        if bid.state == BidState.formal_passed:
            bid.state = BidState.not_selected
            notify(
                session,
                "bid.not_selected",
                call.id,
                f"未入选: {call.title}",
                org_ids=_team(bid),
                detail={"bid_id": bid.id},
            )
    call.awarded_at = now
    _move(session, call, "award", actor, CallState.awarded, projects=[p.id for p in projects])
    session.flush()
    return projects


def _project_call(session: Session, project: Project, action: str, actor: Actor) -> Call:
    call = _lock_call(session, project.call_id)
    _guard(action, call, actor)
    return call


def _tranches(session: Session, project_id: int, *states: str) -> list[Tranche]:
    stmt = sa.select(Tranche).where(Tranche.project_id == project_id)
    if states:
        stmt = stmt.where(Tranche.state.in_(states))
    return list(session.scalars(stmt.order_by(Tranche.id)))


def _project_team(session: Session, project: Project) -> list[int]:
    return _team(session.get(Bid, project.bid_id))


# Tranches not yet earned; a due tranche was earned and stays due whatever happens later.
NOT_YET_DUE = ("scheduled", "suspended")


def record_midterm_review(
    session: Session, actor: Actor, call_id: int, *, conclusion: str, now: dt.datetime | None = None
) -> Call:
    """中期评估 of a 赛马制 call: the recorded review a down-selection rests on."""
    call = _lock_call(session, call_id)
    _guard("midterm_review", call, actor)
    if call.winners_count < 2:
        raise InvalidState("a mid-term review for down-selection is for 赛马制 calls", code="not_horse_race")
    if not conclusion.strip():
        raise ValidationFailed.field("conclusion", "text_required", "record the review's conclusion")
    call.midterm_review, call.midterm_reviewed_at = conclusion, _now(now)
    audit.record(
        session,
        entity_type="call",
        entity_id=call.id,
        action="midterm_review",
        actor=actor,
        detail={"conclusion": conclusion},
    )
    session.flush()
    return call


def down_select(
    session: Session,
    actor: Actor,
    call_id: int,
    keep_bid_ids: Sequence[int],
    *,
    disposition: str = "returned",
    reason: str = "",
    now: dt.datetime | None = None,
) -> list[Project]:
    """赛马制 down-selection after a recorded mid-term review: keep some of the parallel teams, stop the rest.

    The dropped teams' unpaid grant is, as the bureau decides, reallocated evenly to the kept teams (a
    "reallocated" tranche each, released with the final one) or returned; the decision is recorded on the call."""
    call = _lock_call(session, call_id)
    _guard("down_select", call, actor)
    if call.winners_count < 2:
        raise InvalidState("down-selection is for 赛马制 calls", code="not_horse_race")
    if not call.midterm_review:
        raise InvalidState("record the mid-term review first", code="midterm_review_required")
    if disposition not in ("reallocated", "returned"):
        raise ValidationFailed.field("disposition", "disposition_invalid", "reallocated or returned")
    if not reason.strip():
        raise ValidationFailed.field("reason", "reason_required", "a down-selection needs a reason")
    running = [
        p
        for p in session.scalars(sa.select(Project).where(Project.call_id == call.id).order_by(Project.id))
        if p.state in (ProjectState.awarded, ProjectState.in_progress, ProjectState.suspended)
    ]
    keep = set(keep_bid_ids)
    if not keep or not keep <= {p.bid_id for p in running} or keep == {p.bid_id for p in running}:
        raise ValidationFailed.field("keep_bid_ids", "keep_invalid", "keep a non-empty proper subset of running teams")
    dropped, kept = [], [p for p in running if p.bid_id in keep]
    freed = to_money(0)
    for p in running:
        if p.bid_id in keep:
            continue
        before, p.state = p.state, ProjectState.dropped
        for t in _tranches(session, p.id, *NOT_YET_DUE):
            t.state = "cancelled"
            freed += t.amount
        _cancel_contract(session, actor, p, reason=f"赛马制 down-selection: {reason}")
        audit.record(
            session,
            entity_type="call_project",
            entity_id=p.id,
            action="down_select",
            actor=actor,
            from_state=before,
            to_state=p.state,
            detail={"freed": str(freed)},
        )
        notify(
            session,
            "project.dropped",
            call.id,
            f"赛马制未保留: {call.title}",
            org_ids=_project_team(session, p),
            detail={"project_id": p.id},
        )
        dropped.append(p)
    shares = rules.split_evenly(freed, len(kept)) if disposition == "reallocated" and freed > 0 else []
    for p, share in zip(kept, shares, strict=False):
        p.gov_grant = to_money(p.gov_grant) + share
        # A kept team whose project is suspended gets it suspended too, like its other later tranches.
        state = "suspended" if p.state == ProjectState.suspended else "scheduled"
        session.add(Tranche(project_id=p.id, kind="reallocated", amount=share, state=state))
    reallocated = {p.id: share for p, share in zip(kept, shares, strict=False)}
    for p in kept:
        notify(
            session,
            "project.kept",
            call.id,
            f"赛马制保留: {call.title}",
            org_ids=_project_team(session, p),
            detail={"project_id": p.id, "reallocated": str(reallocated.get(p.id, 0))},
        )
    call.down_selection = {
        "kept": sorted(keep),
        "dropped": [p.bid_id for p in dropped],
        "disposition": disposition,
        "amount": str(freed),
        "per_kept": {str(p.bid_id): str(s) for p, s in zip(kept, shares, strict=False)},
        "reason": reason,
        "at": _now(now).isoformat(),
    }
    audit.record(
        session, entity_type="call", entity_id=call.id, action="down_select", actor=actor, detail=call.down_selection
    )
    session.flush()
    return dropped


def sign_project(
    session: Session, actor: Actor, project: Project, *, signed_on: dt.date, ip_type: str | None = None
) -> Project:
    """The contract is signed: milestone due dates are fixed, the first tranche falls due, and the award's draft
    contract is filed for registration by the party that files it — the seller: the winning team's lead for
    揭榜攻关, the achievement's holder for 揭榜转化 — never by bureau staff (who do not file a firm's contract)."""
    _project_call(session, project, "deliver", actor)
    if actor.is_bureau:
        raise Forbidden(
            "bureau staff do not file or edit a firm's contract; the party that files records the signing",
            code="bureau_may_not_file",
        )
    if project.contract_id is not None:
        from market.contracts.models import Contract

        filer_org_id = session.get(Contract, project.contract_id).filer_org_id
    else:
        filer_org_id = session.get(Bid, project.bid_id).lead_org_id
    if actor.org_id != filer_org_id:
        raise Forbidden("the party that files the award contract records the signing", code="not_the_filer")
    if project.state != ProjectState.awarded:
        raise InvalidState("the project is not awaiting signature", code="invalid_state")
    call = session.get(Call, project.call_id)
    project.signed_on = signed_on
    project.end_date = rules.add_months(signed_on, call.duration_months)
    for m in session.scalars(sa.select(Milestone).where(Milestone.project_id == project.id)):
        m.due_date = rules.add_months(signed_on, m.due_month)
    first = session.scalar(sa.select(Tranche).where(Tranche.project_id == project.id, Tranche.kind == "first"))
    if first is not None:
        first.state = "due"
    project.state = ProjectState.in_progress
    if project.contract_id is not None:
        from market.contracts.service import file_signed_draft
        from market.listings.models import Achievement

        if ip_type is None:
            ach = session.get(Achievement, call.achievement_id) if call.achievement_id else None
            ip_type = ach.ip_type if ach is not None and ach.ip_type else "technical_secret"
        # Paid in instalments (the tranches); an open call is a municipal plan (市级科技计划).
        file_signed_draft(
            session,
            actor,
            project.contract_id,
            signing_date=signed_on,
            valid_until=project.end_date,
            payment_method="instalments",
            ip_type=ip_type,
            plan_source="municipal",
        )
    audit.record(
        session,
        entity_type="call_project",
        entity_id=project.id,
        action="sign",
        actor=actor,
        from_state=ProjectState.awarded,
        to_state=project.state,
        detail={"signed_on": signed_on.isoformat()},
    )
    session.flush()
    return project


def _running(project: Project) -> None:
    if project.state != ProjectState.in_progress:
        raise InvalidState(f"the project is {project.state}, not in progress", code="invalid_state")


def submit_milestone(session: Session, actor: Actor, project: Project, milestone: Milestone, *, note: str) -> Milestone:
    """The winning team hands in a milestone's deliverable."""
    _project_call(session, project, "deliver", actor)
    bid = session.get(Bid, project.bid_id)
    if actor.is_bureau or actor.org_id != bid.lead_org_id:
        raise NotFound("project not found", code="project_not_found")
    _running(project)
    if milestone.state != "pending":
        raise InvalidState("this milestone is not awaiting a deliverable", code="invalid_state")
    before, milestone.state, milestone.submission_note = milestone.state, "submitted", note
    audit.record(
        session,
        entity_type="call_project",
        entity_id=project.id,
        action="submit_milestone",
        actor=actor,
        from_state=before,
        to_state="submitted",
        detail={"milestone": milestone.seq},
    )
    notify(
        session,
        "milestone.submitted",
        project.call_id,
        f"里程碑已提交: {milestone.title}",
        officers=True,
        detail={"project_id": project.id, "milestone": milestone.seq},
    )
    return milestone


def _milestone_tranche(session: Session, milestone: Milestone) -> Tranche | None:
    return session.scalar(sa.select(Tranche).where(Tranche.milestone_id == milestone.id))


def review_milestone(
    session: Session,
    actor: Actor,
    project: Project,
    milestone: Milestone,
    *,
    passed: bool,
    note: str | None,
    now: dt.datetime | None = None,
) -> Milestone:
    """Milestones are reviewed in order. Passing one makes its tranche due (the last one's waits for acceptance);
    failing one suspends the project and every later tranche until the officer decides."""
    _project_call(session, project, "deliver", actor)
    if not actor.is_bureau:
        raise Forbidden("milestones are reviewed by the bureau", code="role_required")
    _running(project)
    if milestone.state != "submitted":
        raise InvalidState("no deliverable to review", code="invalid_state")
    earlier = [
        (m.seq, m.state, m.decision)
        for m in session.scalars(
            sa.select(Milestone).where(Milestone.project_id == project.id, Milestone.seq < milestone.seq)
        )
    ]
    if not rules.milestone_reviewable(milestone.seq, earlier):
        raise InvalidState("earlier milestones are reviewed first", code="milestone_order")
    if not passed and not note:
        raise ValidationFailed.field("note", "reason_required", "a failed review needs a reason")
    milestone.state, milestone.review_note, milestone.reviewed_at = ("passed" if passed else "failed"), note, _now(now)
    tranche = _milestone_tranche(session, milestone)
    if passed:
        milestone.decision = None
        if tranche is not None and tranche.kind == "milestone" and tranche.state == "scheduled":
            tranche.state = "due"
    else:
        project.state = ProjectState.suspended
        for t in _tranches(session, project.id, "scheduled"):
            if t.kind != "first":
                t.state = "suspended"
    audit.record(
        session,
        entity_type="call_project",
        entity_id=project.id,
        action="review_milestone",
        actor=actor,
        from_state="submitted",
        to_state=milestone.state,
        detail={"milestone": milestone.seq, "note": note},
    )
    notify(
        session,
        "milestone.reviewed",
        project.call_id,
        f"里程碑评审{'通过' if passed else '未通过，后续拨款暂停'}: {milestone.title}",
        org_ids=_project_team(session, project),
        detail={"project_id": project.id, "milestone": milestone.seq, "passed": passed},
    )
    return milestone


def decide_after_failure(
    session: Session,
    actor: Actor,
    project: Project,
    milestone: Milestone,
    *,
    decision: str,
    reason: str,
    unspent_amount: Any = None,
    now: dt.datetime | None = None,
) -> Project:
    """After a failed milestone the officer decides: continue (its tranche is withheld, later ones resume),
    rework (the team hands it in again), or terminate (every unpaid tranche cancelled, the unspent grant
    recorded for recovery)."""
    _project_call(session, project, "deliver", actor)
    _require_officer(actor, "deciding on a failed milestone")
    if project.state != ProjectState.suspended or milestone.state != "failed" or milestone.decision is not None:
        raise InvalidState("no failed milestone awaits a decision", code="invalid_state")
    if decision not in rules.MILESTONE_DECISIONS:
        raise ValidationFailed.field("decision", "decision_invalid", "continue, rework or terminate")
    if not reason.strip():
        raise ValidationFailed.field("reason", "reason_required", "a decision needs a reason")
    before = project.state
    milestone.decision, milestone.decision_reason = decision, reason
    if decision == "terminate":
        project.recovery_amount = _recovery(session, project, unspent_amount)
        for t in _tranches(session, project.id, *NOT_YET_DUE):
            t.state = "cancelled"
        project.state = ProjectState.terminated
        _cancel_contract(session, actor, project, reason=f"terminated after a failed milestone: {reason}")
    else:
        for t in _tranches(session, project.id, "suspended"):
            t.state = "scheduled"
        if decision == "continue":
            withheld = _milestone_tranche(session, milestone)
            if withheld is not None and withheld.state in NOT_YET_DUE:
                withheld.state = "cancelled"
        else:
            milestone.state = "pending"
        project.state = ProjectState.in_progress
    audit.record(
        session,
        entity_type="call_project",
        entity_id=project.id,
        action=f"milestone_{decision}",
        actor=actor,
        from_state=before,
        to_state=project.state,
        detail={
            "milestone": milestone.seq,
            "reason": reason,
            "recovery_amount": None if project.recovery_amount is None else str(project.recovery_amount),
        },
    )
    notify(
        session,
        "milestone.decision",
        project.call_id,
        f"里程碑处理决定({decision}): {milestone.title}",
        org_ids=_project_team(session, project),
        detail={"project_id": project.id, "decision": decision},
    )
    session.flush()
    return project


def _recovery(session: Session, project: Project, unspent_amount: Any) -> Any:
    """The unspent grant to recover: given by the officer, at most what was paid."""
    if unspent_amount is None:
        raise ValidationFailed.field(
            "unspent_amount", "unspent_amount_required", "record the unspent amount to recover"
        )
    amount = to_money(unspent_amount)
    paid = sum((t.amount for t in _tranches(session, project.id, "paid")), to_money(0))
    if amount < 0 or amount > paid:
        raise ValidationFailed.field(
            "unspent_amount", "unspent_amount_range", f"the unspent amount is 0..{paid} (paid)"
        )
    return amount


def record_route_change(
    session: Session,
    actor: Actor,
    project: Project,
    *,
    description: str,
    reason: str,
    approved_on: dt.date,
    now: dt.datetime | None = None,
) -> Project:
    """技术路线变更: the bureau records a change of technical route approved mid-project."""
    _project_call(session, project, "deliver", actor)
    _require_officer(actor, "approving a change of technical route")
    if project.state not in (ProjectState.in_progress, ProjectState.suspended):
        raise InvalidState("the project is not running", code="invalid_state")
    entry = {
        "description": description,
        "reason": reason,
        "approved_on": approved_on.isoformat(),
        "at": _now(now).isoformat(),
        "by": actor.user_id,
    }
    project.route_changes = [*(project.route_changes or []), entry]
    audit.record(
        session, entity_type="call_project", entity_id=project.id, action="route_change", actor=actor, detail=entry
    )
    session.flush()
    return project


def extend_project(session: Session, actor: Actor, project: Project, *, months: int, reason: str) -> Project:
    """延期: once per project; the end date and every open milestone move by the same months."""
    _project_call(session, project, "deliver", actor)
    if not actor.is_bureau:
        raise Forbidden("extensions are granted by the bureau", code="role_required")
    _running(project)
    try:
        rules.check_extension(project.extension_months is not None, months)
    except rules.TransitionError as e:
        raise (
            InvalidState(e.message, code=e.code)
            if e.code == "extension_used"
            else ValidationFailed.field("months", e.code, e.message)
        ) from None
    project.extension_months, project.extension_reason = months, reason
    project.end_date = rules.add_months(project.end_date, months)
    for m in session.scalars(
        sa.select(Milestone).where(Milestone.project_id == project.id, Milestone.state != "passed")
    ):
        m.due_date = rules.add_months(m.due_date, months)
        m.reminded_at = None
    audit.record(
        session,
        entity_type="call_project",
        entity_id=project.id,
        action="extend",
        actor=actor,
        detail={"months": months, "reason": reason},
    )
    session.flush()
    return project


def accept_project(
    session: Session,
    actor: Actor,
    project: Project,
    *,
    result: str,
    note: str,
    unspent_amount: Any = None,
    expert_panel: Sequence[str] | None = None,
    expert_panel_conclusion: str | None = None,
    now: dt.datetime | None = None,
) -> Project:
    """验收. passed: every milestone passed (or continued past), the final (and any reallocated) tranche falls due.
    failed: the unspent grant to recover is recorded. 尽职免责 (diligent): only on an expert panel's recorded
    conclusion (经组织专家评议认定); nothing is recovered. Either way the unpaid tranches are cancelled."""
    _project_call(session, project, "deliver", actor)
    if not actor.is_bureau:
        raise Forbidden("acceptance is decided by the bureau", code="role_required")
    _running(project)
    if result not in rules.ACCEPTANCE_RESULTS:
        raise ValidationFailed.field("result", "result_invalid", "passed, failed or diligent")
    if not note:
        raise ValidationFailed.field("note", "reason_required", "an acceptance decision needs a note")
    if result == ProjectState.passed:
        rows = [
            (m.seq, m.state, m.decision)
            for m in session.scalars(sa.select(Milestone).where(Milestone.project_id == project.id))
        ]
        if not rules.milestone_reviewable(max(s for s, _, _ in rows) + 1, rows):
            raise InvalidState("every milestone must pass before acceptance passes", code="milestones_open")
        for t in _tranches(session, project.id, "scheduled"):
            if t.kind in ("final", "reallocated"):
                t.state = "due"
    else:
        if result == ProjectState.diligent:
            panel = [n.strip() for n in expert_panel or [] if n and n.strip()]
            if len(panel) < 3 or not (expert_panel_conclusion or "").strip():
                raise ValidationFailed.field(
                    "expert_panel",
                    "expert_panel_required",
                    "尽职免责 needs an expert panel (≥ 3 experts) and its recorded conclusion",
                )
            project.expert_panel, project.expert_panel_conclusion = panel, expert_panel_conclusion
            project.recovery_amount = to_money(0)
        else:
            project.recovery_amount = _recovery(session, project, unspent_amount)
        for t in _tranches(session, project.id, *NOT_YET_DUE):
            t.state = "cancelled"
    before, project.state = project.state, result
    project.acceptance_note, project.accepted_at = note, _now(now)
    audit.record(
        session,
        entity_type="call_project",
        entity_id=project.id,
        action="accept",
        actor=actor,
        from_state=before,
        to_state=result,
        detail={
            "note": note,
            "recovery_amount": None if project.recovery_amount is None else str(project.recovery_amount),
            "expert_panel": project.expert_panel,
        },
    )
    notify(
        session,
        "project.accepted",
        project.call_id,
        f"验收结论: {ACCEPTANCE_LABELS[result]}",
        org_ids=[*_project_team(session, project), session.get(Call, project.call_id).posing_org_id],
        detail={"project_id": project.id, "result": result},
    )
    return project


ACCEPTANCE_LABELS = {ProjectState.passed: "通过", ProjectState.failed: "不通过", ProjectState.diligent: "尽职免责"}


def pay_tranche(session: Session, actor: Actor, tranche: Tranche, *, now: dt.datetime | None = None) -> Tranche:
    project = session.get(Project, tranche.project_id)
    _project_call(session, project, "deliver", actor)
    if not actor.is_bureau:
        raise Forbidden("the bureau pays tranches", code="role_required")
    if tranche.state != "due":
        raise InvalidState("this tranche is not due", code="tranche_not_due")
    tranche.state, tranche.paid_at = "paid", _now(now)
    audit.record(
        session,
        entity_type="call_project",
        entity_id=project.id,
        action="pay_tranche",
        actor=actor,
        to_state="paid",
        detail={"tranche": tranche.kind, "tranche_id": tranche.id, "amount": str(tranche.amount)},
    )
    notify(
        session,
        "tranche.paid",
        project.call_id,
        f"财政资助已拨付 {tranche.amount} 元",
        org_ids=_project_team(session, project),
        detail={"project_id": project.id, "tranche_id": tranche.id, "amount": str(tranche.amount)},
    )
    return tranche


def close_call(session: Session, actor: Actor, call_id: int) -> Call:
    """Every project is accepted (or dropped): the call is closed."""
    call = _lock_call(session, call_id)
    _guard("close", call, actor)
    open_projects = [
        p.id
        for p in session.scalars(sa.select(Project).where(Project.call_id == call.id))
        if p.state not in rules.PROJECT_FINAL_STATES
    ]
    if open_projects:
        raise InvalidState(f"projects still running: {open_projects}", code="projects_open")
    _move(session, call, "close", actor, CallState.closed)
    return call


def _cancel_contract(session: Session, actor: Actor, project: Project, *, reason: str) -> None:
    """The contract of a team that will not deliver is cancelled (a registered one by a registrar)."""
    from market.contracts.service import withdraw_award_contract

    if project.contract_id is not None:
        contract = withdraw_award_contract(session, actor, project.contract_id, reason)
        audit.record(
            session,
            entity_type="call_project",
            entity_id=project.id,
            action="contract_withdrawn",
            actor=actor,
            detail={"contract_id": contract.id, "contract_status": contract.status},
        )


# --- the scheduler --------------------------------------------------------------------------------


def advance_deadlines(session: Session, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Close bidding and end notices whose time has come (the Celery beat task calls this)."""
    now = _now(now)
    due_bidding = session.scalars(
        sa.select(Call.id).where(Call.state == CallState.published, Call.bid_deadline <= now).order_by(Call.id)
    ).all()
    due_notice = session.scalars(
        sa.select(Call.id).where(Call.state == CallState.notice, Call.notice_ends_at <= now).order_by(Call.id)
    ).all()
    done: dict[str, list[int]] = {"bidding_closed": [], "notice_ended": []}
    for key, ids, step in (("bidding_closed", due_bidding, close_bidding), ("notice_ended", due_notice, end_notice)):
        for call_id in ids:
            try:
                step(session, call_id, None, now=now)
            except InvalidState:
                continue  # moved on by someone else between the query and the lock
            done[key].append(call_id)
    return done


def remind_overdue(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Overdue milestones (due date passed, deliverable not handed in) remind the team and the programme
    officers, once per milestone and due date (the Celery beat task calls this)."""
    today = _today(now)
    rows = session.execute(
        sa.select(Milestone, Project)
        .join(Project, Project.id == Milestone.project_id)
        .where(
            Project.state == ProjectState.in_progress,
            Milestone.state == "pending",
            Milestone.due_date < today,
            Milestone.reminded_at.is_(None),
        )
        .order_by(Milestone.id)
    ).all()
    done = []
    for milestone, project in rows:
        milestone.reminded_at = _now(now)
        notify(
            session,
            "milestone.overdue",
            project.call_id,
            f"里程碑已逾期: {milestone.title}（应于 {milestone.due_date} 交付）",
            org_ids=_project_team(session, project),
            officers=True,
            detail={"project_id": project.id, "milestone": milestone.seq, "due_date": milestone.due_date.isoformat()},
        )
        audit.record(
            session,
            entity_type="call_project",
            entity_id=project.id,
            action="overdue_reminder",
            detail={"milestone": milestone.seq},
        )
        done.append(milestone.id)
    session.flush()
    return done
