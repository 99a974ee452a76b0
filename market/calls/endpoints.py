"""HTTP endpoints of open calls (揭榜挂帅): calls, sealed bids, review, notice and objections, projects."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from market.auth.dependencies import CurrentActor, OptionalActor
from market.calls import flows, service
from market.calls.models import Call
from market.calls.schemas import (
    AcceptanceIn,
    AnswerIn,
    AssignmentOut,
    BidChange,
    BidIn,
    BidOut,
    CallOut,
    CallProposal,
    CallTerms,
    ConflictIn,
    DecisionIn,
    DownSelectIn,
    ExtensionIn,
    FormalCheckIn,
    IntegrityIn,
    IntegrityOut,
    InvitationOut,
    MidtermReviewIn,
    MilestoneOut,
    MilestoneReviewIn,
    MilestoneSubmitIn,
    NoticeEntry,
    ObjectionIn,
    ObjectionOut,
    ProjectOut,
    ProposeWinnersIn,
    ReasonIn,
    ResolveIn,
    ReviewRow,
    RouteChangeIn,
    ScoresIn,
    SignIn,
    TrancheOut,
    VetIn,
)
from market.core.db import utcnow
from market.core.deps import SessionDep
from market.core.errors import NotFound
from market.core.pagination import Page, PageDep, paginate

router = APIRouter(prefix="/api/v1/calls", tags=["calls 揭榜挂帅"])


def clock() -> dt.datetime:
    """The service clock; tests pin it with app.dependency_overrides[clock]."""
    return utcnow()


Now = Annotated[dt.datetime, Depends(clock)]


def _call_out(session: Session, call: Call) -> CallOut:
    out = CallOut.model_validate(call)
    out.notice = [NoticeEntry(**row) for row in service.notice_list(session, call)]
    return out


def _project_out(session: Session, project) -> ProjectOut:
    out = ProjectOut.model_validate(project)
    out.milestones = [MilestoneOut.model_validate(m) for m in service.milestones_of(session, project.id)]
    out.tranches = [TrancheOut.model_validate(t) for t in service.tranches_of(session, project.id)]
    return out


# --- research-integrity records (科研失信), consortium invitations -------------------------------------


@router.post(
    "/integrity/records",
    status_code=201,
    response_model=IntegrityOut,
    summary="Record a research-integrity (科研失信) entry (bureau)",
)
def record_integrity(body: IntegrityIn, session: SessionDep, actor: CurrentActor, now: Now) -> IntegrityOut:
    return IntegrityOut.model_validate(flows.record_integrity(session, actor, body.model_dump(), now=now))


@router.get("/integrity/records", response_model=Page[IntegrityOut], summary="Research-integrity records (bureau)")
def list_integrity(
    session: SessionDep, actor: CurrentActor, page: PageDep, org_id: Annotated[int | None, Query()] = None
) -> Page[IntegrityOut]:
    rows, total = paginate(session, service.list_integrity_records(actor, org_id=org_id), page)
    return Page(
        items=[IntegrityOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.post("/integrity/records/{record_id}/lift", response_model=IntegrityOut, summary="Lift a record early")
def lift_integrity(record_id: int, body: ReasonIn, session: SessionDep, actor: CurrentActor, now: Now) -> IntegrityOut:
    rec = service.get_integrity_record(session, actor, record_id)
    return IntegrityOut.model_validate(flows.lift_integrity(session, actor, rec, reason=body.reason, now=now))


@router.get(
    "/invitations/mine", response_model=list[InvitationOut], summary="Consortium invitations to your organisation"
)
def my_invitations(session: SessionDep, actor: CurrentActor) -> list[InvitationOut]:
    return [InvitationOut(**row) for row in service.my_invitations(session, actor)]


@router.post(
    "/invitations/{invitation_id}/{action}",
    response_model=InvitationOut,
    summary="Accept or decline an invitation to a consortium, or withdraw after accepting",
)
def answer_invitation(
    invitation_id: int,
    action: Literal["accept", "decline", "withdraw"],
    session: SessionDep,
    actor: CurrentActor,
    now: Now,
) -> InvitationOut:
    inv = service.get_invitation(session, actor, invitation_id)
    return InvitationOut.model_validate(flows.answer_invitation(session, actor, inv, action=action, now=now))


# --- calls ------------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=CallOut, summary="Propose a problem (企业出题) or write a call")
def propose(body: CallProposal, session: SessionDep, actor: CurrentActor, now: Now) -> CallOut:
    return _call_out(session, flows.propose_call(session, actor, body.data(), now=now))


@router.get("", response_model=Page[CallOut], summary="Published calls (the bureau sees every state)")
def list_calls(
    session: SessionDep,
    actor: OptionalActor,
    page: PageDep,
    state: Annotated[str | None, Query()] = None,
    kind: Annotated[str | None, Query()] = None,
) -> Page[CallOut]:
    rows, total = paginate(session, service.list_calls(actor, state=state, kind=kind), page)
    return Page(items=[_call_out(session, c) for c in rows], total=total, page=page.page, page_size=page.page_size)


@router.get("/{call_id}", response_model=CallOut)
def get_call(call_id: int, session: SessionDep, actor: OptionalActor) -> CallOut:
    return _call_out(session, service.get_call(session, actor, call_id))


@router.patch("/{call_id}", response_model=CallOut, summary="Compile the call's terms (bureau, before publication)")
def update_call(call_id: int, body: CallTerms, session: SessionDep, actor: CurrentActor) -> CallOut:
    call = service.get_call(session, actor, call_id, for_update=True)
    return _call_out(session, flows.update_call(session, actor, call, body.data()))


@router.post("/{call_id}/vet", response_model=CallOut)
def vet(call_id: int, body: VetIn, session: SessionDep, actor: CurrentActor) -> CallOut:
    call = service.get_call(session, actor, call_id, for_update=True)
    return _call_out(session, flows.vet_call(session, actor, call, approve=body.approve, note=body.note))


@router.post("/{call_id}/publish", response_model=CallOut, summary="发榜")
def publish(call_id: int, session: SessionDep, actor: CurrentActor, now: Now) -> CallOut:
    call = service.get_call(session, actor, call_id, for_update=True)
    return _call_out(session, flows.publish_call(session, actor, call, now=now))


@router.post("/{call_id}/cancel", response_model=CallOut)
def cancel(call_id: int, body: ReasonIn, session: SessionDep, actor: CurrentActor) -> CallOut:
    call = service.get_call(session, actor, call_id, for_update=True)
    return _call_out(session, flows.cancel_call(session, actor, call, reason=body.reason))


@router.post("/{call_id}/close-bidding", response_model=CallOut, summary="Close bidding (never before the deadline)")
def close_bidding(call_id: int, session: SessionDep, actor: CurrentActor, now: Now) -> CallOut:
    service.get_call(session, actor, call_id)
    return _call_out(session, flows.close_bidding(session, call_id, actor, now=now))


# --- bids -------------------------------------------------------------------------------------------


@router.post("/{call_id}/bids", status_code=201, response_model=BidOut, summary="揭榜: submit a sealed bid")
def submit_bid(call_id: int, body: BidIn, session: SessionDep, actor: CurrentActor, now: Now) -> BidOut:
    return BidOut.model_validate(flows.submit_bid(session, actor, call_id, body.data(), now=now))


@router.get("/{call_id}/bids", response_model=list[BidOut], summary="The bids you may see (sealed)")
def list_bids(call_id: int, session: SessionDep, actor: OptionalActor) -> list[BidOut]:
    call = service.get_call(session, actor, call_id)
    return [BidOut.model_validate(b) for b in service.list_bids(session, actor, call)]


@router.get("/{call_id}/bids/{bid_id}", response_model=BidOut)
def get_bid(call_id: int, bid_id: int, session: SessionDep, actor: OptionalActor) -> BidOut:
    return BidOut.model_validate(service.get_bid(session, actor, call_id, bid_id))


@router.get(
    "/{call_id}/bids/{bid_id}/invitations",
    response_model=list[InvitationOut],
    summary="Who was invited to the consortium, and their answers (the bid's team and the bureau)",
)
def bid_invitations(call_id: int, bid_id: int, session: SessionDep, actor: CurrentActor) -> list[InvitationOut]:
    bid = service.get_bid(session, actor, call_id, bid_id)
    if actor.is_expert:
        raise NotFound("bid not found", code="bid_not_found")
    return [InvitationOut.model_validate(i) for i in service.invitations_of(session, bid)]


@router.patch("/{call_id}/bids/{bid_id}", response_model=BidOut, summary="Change your bid before the deadline")
def update_bid(
    call_id: int, bid_id: int, body: BidChange, session: SessionDep, actor: CurrentActor, now: Now
) -> BidOut:
    bid = service.get_bid(session, actor, call_id, bid_id)
    return BidOut.model_validate(flows.update_bid(session, actor, bid, body.data(), now=now))


@router.post("/{call_id}/bids/{bid_id}/withdraw", response_model=BidOut)
def withdraw_bid(call_id: int, bid_id: int, session: SessionDep, actor: CurrentActor, now: Now) -> BidOut:
    bid = service.get_bid(session, actor, call_id, bid_id)
    return BidOut.model_validate(flows.withdraw_bid(session, actor, bid, now=now))


@router.post("/{call_id}/bids/{bid_id}/formal-check", response_model=BidOut, summary="形式审查")
def formal_check(
    call_id: int, bid_id: int, body: FormalCheckIn, session: SessionDep, actor: CurrentActor, now: Now
) -> BidOut:
    bid = service.get_bid(session, actor, call_id, bid_id)
    return BidOut.model_validate(
        flows.formal_check(session, actor, bid, passed=body.passed, reason=body.reason, now=now)
    )


# --- review -----------------------------------------------------------------------------------------


@router.post("/{call_id}/review", response_model=CallOut, summary="Assign experts and start the review")
def start_review(call_id: int, session: SessionDep, actor: CurrentActor, now: Now) -> CallOut:
    service.get_call(session, actor, call_id)
    return _call_out(session, flows.start_review(session, actor, call_id, now=now))


@router.get("/{call_id}/review", response_model=list[ReviewRow], summary="Aggregates and disagreement flags (bureau)")
def review_summary(call_id: int, session: SessionDep, actor: CurrentActor) -> list[ReviewRow]:
    call = service.get_call(session, actor, call_id)
    return [ReviewRow(**row) for row in service.review_summary(session, actor, call)]


@router.get("/reviews/mine", response_model=list[AssignmentOut], summary="An expert's own assignments")
def my_assignments(session: SessionDep, actor: CurrentActor) -> list[AssignmentOut]:
    return [AssignmentOut.model_validate(a) for a in service.my_assignments(session, actor)]


@router.post("/{call_id}/bids/{bid_id}/scores", response_model=AssignmentOut, summary="An assigned expert scores")
def score(
    call_id: int, bid_id: int, body: ScoresIn, session: SessionDep, actor: CurrentActor, now: Now
) -> AssignmentOut:
    bid = service.get_bid(session, actor, call_id, bid_id)
    return AssignmentOut.model_validate(
        flows.submit_scores(session, actor, bid, body.scores, comment=body.comment, now=now)
    )


@router.post("/conflicts", status_code=201, summary="An expert declares a conflict of interest (回避)")
def declare_conflict(body: ConflictIn, session: SessionDep, actor: CurrentActor, now: Now) -> dict[str, int]:
    c = flows.declare_conflict(session, actor, org_id=body.org_id, bid_id=body.bid_id, reason=body.reason, now=now)
    return {"id": c.id}


# --- notice, objections, award ----------------------------------------------------------------------


@router.post("/{call_id}/notice", response_model=CallOut, summary="公示: propose the winners")
def propose_winners(
    call_id: int, body: ProposeWinnersIn, session: SessionDep, actor: CurrentActor, now: Now
) -> CallOut:
    service.get_call(session, actor, call_id)
    return _call_out(session, flows.propose_winners(session, actor, call_id, body.bid_ids, now=now))


@router.post("/{call_id}/objections", status_code=201, response_model=ObjectionOut, summary="Lodge an objection (异议)")
def lodge_objection(
    call_id: int, body: ObjectionIn, session: SessionDep, actor: CurrentActor, now: Now
) -> ObjectionOut:
    service.get_call(session, actor, call_id)
    obj = flows.lodge_objection(session, actor, call_id, text=body.text, bid_id=body.bid_id, now=now)
    return ObjectionOut(**service.objection_view(actor, obj))


@router.get(
    "/{call_id}/objections",
    response_model=list[ObjectionOut],
    summary="Objections you may see: all (bureau), yours, or those against your team's bid",
)
def list_objections(call_id: int, session: SessionDep, actor: CurrentActor) -> list[ObjectionOut]:
    call = service.get_call(session, actor, call_id)
    return [ObjectionOut(**service.objection_view(actor, o)) for o in service.list_objections(session, actor, call)]


@router.post(
    "/{call_id}/objections/{objection_id}/answer",
    response_model=ObjectionOut,
    summary="The team concerned answers an objection before it is resolved",
)
def answer_objection(
    call_id: int, objection_id: int, body: AnswerIn, session: SessionDep, actor: CurrentActor, now: Now
) -> ObjectionOut:
    obj = service.get_objection(session, actor, call_id, objection_id)
    return ObjectionOut(
        **service.objection_view(actor, flows.answer_objection(session, actor, obj, answer=body.answer, now=now))
    )


@router.post(
    "/{call_id}/objections/{objection_id}/disclose",
    response_model=ObjectionOut,
    summary="The bureau lets the team concerned see who objected",
)
def disclose_objector(
    call_id: int, objection_id: int, body: ReasonIn, session: SessionDep, actor: CurrentActor
) -> ObjectionOut:
    obj = service.get_objection(session, actor, call_id, objection_id)
    return ObjectionOut(
        **service.objection_view(actor, flows.disclose_objector(session, actor, obj, reason=body.reason))
    )


@router.post("/{call_id}/objections/{objection_id}/resolve", response_model=ObjectionOut)
def resolve_objection(
    call_id: int, objection_id: int, body: ResolveIn, session: SessionDep, actor: CurrentActor, now: Now
) -> ObjectionOut:
    obj = service.get_objection(session, actor, call_id, objection_id)
    return ObjectionOut(
        **service.objection_view(
            actor, flows.resolve_objection(session, actor, obj, upheld=body.upheld, resolution=body.resolution, now=now)
        )
    )


@router.post("/{call_id}/award", response_model=list[ProjectOut], summary="立项: award, drafting a contract per winner")
def award(call_id: int, session: SessionDep, actor: CurrentActor, now: Now) -> list[ProjectOut]:
    service.get_call(session, actor, call_id)
    return [_project_out(session, p) for p in flows.award(session, actor, call_id, now=now)]


@router.post("/{call_id}/midterm-review", response_model=CallOut, summary="赛马制: record the mid-term review")
def midterm_review(call_id: int, body: MidtermReviewIn, session: SessionDep, actor: CurrentActor, now: Now) -> CallOut:
    service.get_call(session, actor, call_id)
    return _call_out(session, flows.record_midterm_review(session, actor, call_id, conclusion=body.conclusion, now=now))


@router.post(
    "/{call_id}/down-select",
    response_model=list[ProjectOut],
    summary="赛马制: keep some teams; the dropped teams' grant is reallocated or returned",
)
def down_select(
    call_id: int, body: DownSelectIn, session: SessionDep, actor: CurrentActor, now: Now
) -> list[ProjectOut]:
    service.get_call(session, actor, call_id)
    dropped = flows.down_select(
        session, actor, call_id, body.keep_bid_ids, disposition=body.disposition, reason=body.reason, now=now
    )
    return [_project_out(session, p) for p in dropped]


@router.post("/{call_id}/close", response_model=CallOut)
def close(call_id: int, session: SessionDep, actor: CurrentActor) -> CallOut:
    service.get_call(session, actor, call_id)
    return _call_out(session, flows.close_call(session, actor, call_id))


# --- delivery ---------------------------------------------------------------------------------------


@router.get("/{call_id}/projects", response_model=list[ProjectOut])
def list_projects(call_id: int, session: SessionDep, actor: CurrentActor) -> list[ProjectOut]:
    call = service.get_call(session, actor, call_id)
    return [_project_out(session, p) for p in service.list_projects(session, actor, call)]


@router.get("/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: int, session: SessionDep, actor: CurrentActor) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    return _project_out(session, project)


@router.post("/projects/{project_id}/sign", response_model=ProjectOut, summary="Record the signing; first tranche due")
def sign(project_id: int, body: SignIn, session: SessionDep, actor: CurrentActor) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    return _project_out(
        session,
        flows.sign_project(
            session, actor, project, signed_on=body.signed_on, ip_type=body.ip_type and str(body.ip_type)
        ),
    )


@router.post("/projects/{project_id}/milestones/{milestone_id}/submit", response_model=ProjectOut)
def submit_milestone(
    project_id: int, milestone_id: int, body: MilestoneSubmitIn, session: SessionDep, actor: CurrentActor
) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    flows.submit_milestone(
        session, actor, project, service.get_milestone(session, project, milestone_id), note=body.note
    )
    return _project_out(session, project)


@router.post("/projects/{project_id}/milestones/{milestone_id}/review", response_model=ProjectOut)
def review_milestone(
    project_id: int, milestone_id: int, body: MilestoneReviewIn, session: SessionDep, actor: CurrentActor, now: Now
) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    milestone = service.get_milestone(session, project, milestone_id)
    flows.review_milestone(session, actor, project, milestone, passed=body.passed, note=body.note, now=now)
    return _project_out(session, project)


@router.post(
    "/projects/{project_id}/milestones/{milestone_id}/decision",
    response_model=ProjectOut,
    summary="After a failed milestone: continue, rework or terminate",
)
def decide_milestone(
    project_id: int, milestone_id: int, body: DecisionIn, session: SessionDep, actor: CurrentActor, now: Now
) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    milestone = service.get_milestone(session, project, milestone_id)
    flows.decide_after_failure(
        session,
        actor,
        project,
        milestone,
        decision=body.decision,
        reason=body.reason,
        unspent_amount=body.unspent_amount,
        now=now,
    )
    return _project_out(session, project)


@router.post(
    "/projects/{project_id}/route-changes",
    response_model=ProjectOut,
    summary="Record an approved change of technical route (技术路线变更)",
)
def route_change(
    project_id: int, body: RouteChangeIn, session: SessionDep, actor: CurrentActor, now: Now
) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    flows.record_route_change(
        session, actor, project, description=body.description, reason=body.reason, approved_on=body.approved_on, now=now
    )
    return _project_out(session, project)


@router.post("/projects/{project_id}/extension", response_model=ProjectOut, summary="延期 (once)")
def extend(project_id: int, body: ExtensionIn, session: SessionDep, actor: CurrentActor) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    return _project_out(session, flows.extend_project(session, actor, project, months=body.months, reason=body.reason))


@router.post("/projects/{project_id}/acceptance", response_model=ProjectOut, summary="验收")
def accept(project_id: int, body: AcceptanceIn, session: SessionDep, actor: CurrentActor, now: Now) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    return _project_out(
        session,
        flows.accept_project(
            session,
            actor,
            project,
            result=body.result,
            note=body.note,
            unspent_amount=body.unspent_amount,
            expert_panel=body.expert_panel,
            expert_panel_conclusion=body.expert_panel_conclusion,
            now=now,
        ),
    )


@router.post("/projects/{project_id}/tranches/{tranche_id}/pay", response_model=ProjectOut)
def pay(project_id: int, tranche_id: int, session: SessionDep, actor: CurrentActor, now: Now) -> ProjectOut:
    project, _ = service.get_project(session, actor, project_id)
    flows.pay_tranche(session, actor, service.get_tranche(session, project, tranche_id), now=now)
    return _project_out(session, project)
