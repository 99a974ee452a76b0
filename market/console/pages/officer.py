"""Console pages of the programme officer (项目主管): open calls from vetting to award, and their projects.

Every form posts to a route here that parses it with the API's schema and calls the same `market.calls.flows`
function the API endpoint calls; the flows check role and state, so a page allows exactly what the API does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.accounts.service import org_names
from market.auth.actor import Actor
from market.calls import flows, rules, service
from market.calls.endpoints import Now
from market.calls.models import Bid, Call, ExpertConflict, Objection, Project, ReviewAssignment
from market.calls.rules import CallState
from market.calls.schemas import (
    AcceptanceIn,
    CallTerms,
    DecisionIn,
    DownSelectIn,
    FormalCheckIn,
    MidtermReviewIn,
    MilestoneReviewIn,
    ProposeWinnersIn,
    ReasonIn,
    ResolveIn,
    VetIn,
)
from market.console.acting import form_values, parse, text
from market.console.auth import OfficerUser
from market.console.menu import MenuItem
from market.console.web import ConsoleRoute, FormErrors, attempt, redirect, render
from market.core.deps import SessionDep
from market.core.errors import MarketError, NotFound
from market.core.vocab import TECHNICAL_FIELD_LABELS

router = APIRouter(route_class=ConsoleRoute)
MENU = [MenuItem("揭榜挂帅", "/console/officer/calls", rules.OFFICER_ROLES, group="项目管理", order=40)]
BASE = "/console/officer/calls"

LOCAL = ZoneInfo("Asia/Shanghai")  # the bureau's deadlines are read and typed in local time

STATE_LABELS: dict[str, str] = {
    CallState.proposed: "待审核",
    CallState.rejected: "未通过审核",
    CallState.vetted: "编制中",
    CallState.published: "揭榜中",
    CallState.bidding_closed: "已截止 · 形式审查",
    CallState.reviewing: "专家评审中",
    CallState.notice: "公示中",
    CallState.notice_ended: "公示期满",
    CallState.awarded: "已立项",
    CallState.closed: "已结项",
    CallState.cancelled: "已取消",
}
BID_STATE_LABELS = {
    "submitted": "已提交",
    "withdrawn": "已撤回",
    "formal_passed": "形式审查通过",
    "formal_failed": "形式审查不通过",
    "proposed_winner": "拟立项",
    "disqualified": "取消资格",
    "winner": "立项",
    "not_selected": "未入选",
}
PROJECT_STATE_LABELS = {
    "awarded": "待签约",
    "in_progress": "实施中",
    "suspended": "暂停拨付",
    "terminated": "已终止",
    "dropped": "未保留（赛马）",
    "passed": "验收通过",
    "failed": "验收不通过",
    "diligent": "尽职免责",
    "closed": "已结项",
}
MILESTONE_STATE_LABELS = {"pending": "未提交", "submitted": "待审核", "passed": "通过", "failed": "未通过"}
TRANCHE_LABELS = {"first": "首笔", "milestone": "节点", "final": "尾款", "reallocated": "再分配"}
TRANCHE_STATE_LABELS = {
    "scheduled": "计划",
    "suspended": "暂停",
    "due": "应拨付",
    "paid": "已拨付",
    "cancelled": "已取消",
}
# The work lists of the calls page, in the order an officer works through them.
QUEUES = (
    ("待审核的出题", (CallState.proposed,)),
    ("编制中的榜单", (CallState.vetted,)),
    ("揭榜与评审", (CallState.published, CallState.bidding_closed, CallState.reviewing)),
    ("公示", (CallState.notice, CallState.notice_ended)),
    ("已立项", (CallState.awarded,)),
    ("已结束", (CallState.closed, CallState.rejected, CallState.cancelled)),
)
EDITABLE = frozenset({CallState.proposed, CallState.vetted})
BLANK_ROWS = 2  # empty rows offered below the indicators and criteria


def _local(value: dt.datetime | None) -> str:
    return value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M") if value else ""


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all())


# --- the calls page -------------------------------------------------------------------------------------


@router.get("/officer/calls")
def calls_page(request: Request, session: SessionDep, user: OfficerUser) -> Response:
    calls = list(session.scalars(service.list_calls(user.actor).order_by(None).order_by(Call.id.desc())))
    names = org_names(session, {c.posing_org_id for c in calls if c.posing_org_id})
    queues = [(title, [c for c in calls if c.state in states]) for title, states in QUEUES]
    context = {"queues": queues, "names": names, "labels": STATE_LABELS, "local": _local, "base": BASE}
    return render(request, "console/officer/calls.html", context)


# --- one call: every stage on one page ------------------------------------------------------------------


def _terms_form(call: Call) -> dict[str, Any]:
    """The editor's fields as the call holds them now."""
    return {
        "title": call.title,
        "problem": call.problem,
        "technical_field": call.technical_field,
        "indicators": [dict(i) for i in call.indicators or []],
        "review_criteria": [dict(c) for c in call.review_criteria or []],
        "total_amount": str(call.total_amount),
        "gov_support_ratio_pct": str(call.gov_support_ratio_pct),
        "gov_support_cap": "" if call.gov_support_cap is None else str(call.gov_support_cap),
        "duration_months": str(call.duration_months),
        "bid_deadline": call.bid_deadline.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M") if call.bid_deadline else "",
        "eligible_entity_types": " ".join(call.eligible_entity_types or []),
        "eligible_regions": " ".join(call.eligible_regions or []),
        "consortium_allowed": call.consortium_allowed,
        "winners_count": str(call.winners_count),
        "experts_per_bid": str(call.experts_per_bid),
        "notice_days": str(call.notice_days),
        "first_tranche_pct": str(call.first_tranche_pct),
        "first_tranche_reason": call.first_tranche_reason or "",
        "posing_org_id": "" if call.posing_org_id is None else str(call.posing_org_id),
    }


REVIEWED = frozenset(
    {CallState.reviewing, CallState.notice, CallState.notice_ended, CallState.awarded, CallState.closed}
)


def _conflicts(session: Session, bids: list[Bid], call: Call) -> list[dict[str, Any]]:
    """Declared conflicts (回避) that touch this call: with one of its bids or an organisation on a team."""
    if not bids:
        return []
    org_ids = {o for b in bids for o in (b.lead_org_id, *b.member_org_ids)} | ({call.posing_org_id} - {None})
    bid_ids = {b.id for b in bids}
    rows = session.scalars(
        sa.select(ExpertConflict)
        .where(sa.or_(ExpertConflict.bid_id.in_(bid_ids), ExpertConflict.org_id.in_(org_ids)))
        .order_by(ExpertConflict.id)
    ).all()
    experts = _user_names(session, {r.expert_user_id for r in rows})
    orgs = org_names(session, {r.org_id for r in rows if r.org_id})
    return [
        {
            "expert": experts.get(r.expert_user_id, str(r.expert_user_id)),
            "bid_id": r.bid_id,
            "org": orgs.get(r.org_id) if r.org_id else None,
            "reason": r.reason,
            "declared_at": r.declared_at,
        }
        for r in rows
    ]


def _call_page(
    request: Request,
    session: Session,
    actor: Actor,
    call_id: int,
    now: dt.datetime,
    *,
    error: MarketError | None = None,
    form: dict[str, Any] | None = None,
    form_name: str | None = None,
) -> Response:
    call = service.get_call(session, actor, call_id)
    sealed = call.state == CallState.published  # the bids stay sealed on this page until bidding closes
    bids = [] if sealed else service.list_bids(session, actor, call)
    bid_count = session.scalar(sa.select(sa.func.count()).select_from(Bid).where(Bid.call_id == call.id)) or 0
    assignments = list(
        session.scalars(
            sa.select(ReviewAssignment).where(ReviewAssignment.call_id == call.id).order_by(ReviewAssignment.id)
        )
    )
    objections: list[Objection] = service.list_objections(session, actor, call) if call.state in REVIEWED else []
    projects = service.list_projects(session, actor, call) if call.state in rules.AWARDED_CALL_STATES else []
    org_ids = {o for b in bids for o in (b.lead_org_id, *b.member_org_ids)}
    org_ids |= {o for o in (call.posing_org_id, *(x.lodged_by_org_id for x in objections)) if o is not None}
    terms = dict(form) if form_name == "terms" and form is not None else _terms_form(call)
    for key in ("indicators", "review_criteria"):
        terms[key] = list(terms[key]) + [{} for _ in range(BLANK_ROWS)]
    context = {
        "call": call,
        "base": BASE,
        "state_label": STATE_LABELS.get(call.state, call.state),
        "editable": call.state in EDITABLE,
        "terms": terms,
        "technical_fields": TECHNICAL_FIELD_LABELS,
        "sealed": sealed,
        "bid_count": bid_count,
        "bids": bids,
        "bid_labels": BID_STATE_LABELS,
        "assignments": assignments,
        "experts": _user_names(session, {a.expert_user_id for a in assignments}),
        "conflicts": _conflicts(session, bids, call),
        "board": service.review_summary(session, actor, call) if call.state in REVIEWED else [],
        "notice": service.notice_list(session, call),
        "objections": objections,
        "open_objections": sum(1 for o in objections if o.state == "open"),
        "projects": projects,
        "project_labels": PROJECT_STATE_LABELS,
        "names": org_names(session, org_ids),
        "spread_limit": rules.DISAGREEMENT_SPREAD,
        "stdev_limit": rules.DISAGREEMENT_STDEV,
        "criteria_sum": sum(int(c.get("weight") or 0) for c in call.review_criteria or []),
        "deadline": _local(call.bid_deadline),
        "deadline_passed": call.bid_deadline is not None and call.bid_deadline <= now,
        "notice_ends": _local(call.notice_ends_at),
        "local": _local,
        "errors": FormErrors(error),
        "form_name": form_name,
        "form": form or {},
        "done": request.query_params.get("done"),
    }
    return render(request, "console/officer/call.html", context, status_code=error.status_code if error else 200)


@router.get("/officer/calls/{call_id}")
def call_page(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    return _call_page(request, session, user.actor, call_id, now)


def _rows(form: Any, prefix: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """Repeated form rows (`indicator_name`, `indicator_target`, …) as dicts; rows left empty are dropped."""
    columns = [form.getlist(f"{prefix}_{n}") for n in names]
    rows = []
    for values in zip(*columns, strict=False):
        row = {n: str(v).strip() for n, v in zip(names, values, strict=True)}
        if any(row.values()):
            rows.append(row)
    return rows


# The editor's single-valued fields: the flows' terms but the lists (rows of their own), the checkbox and the
# achievement of a 揭榜转化 call (not edited here).
TERM_TEXTS = tuple(
    f for f in flows.TERM_FIELDS if f not in ("indicators", "review_criteria", "consortium_allowed", "achievement_id")
)


def _terms_data(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the page shows back, what goes to the API's CallTerms) from the editor's form."""
    shown: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in TERM_TEXTS}
    shown["consortium_allowed"] = form.get("consortium_allowed") == "on"
    shown["indicators"] = _rows(form, "indicator", ("name", "target", "unit"))
    shown["review_criteria"] = _rows(form, "criterion", ("name", "weight"))
    data: dict[str, Any] = {k: v for k, v in shown.items() if v != "" and k in TERM_TEXTS and k != "bid_deadline"}
    data["consortium_allowed"] = shown["consortium_allowed"]
    data["indicators"] = [{k: v for k, v in row.items() if v} for row in shown["indicators"]]
    data["review_criteria"] = [{k: v for k, v in row.items() if v} for row in shown["review_criteria"]]
    for name in ("eligible_entity_types", "eligible_regions"):
        data[name] = shown[name].replace(",", " ").replace("，", " ").split()
    for name in ("gov_support_cap", "first_tranche_reason", "posing_org_id"):
        data.setdefault(name, None)
    if shown["bid_deadline"]:
        try:
            typed = dt.datetime.fromisoformat(shown["bid_deadline"])
            data["bid_deadline"] = typed.replace(tzinfo=LOCAL) if typed.tzinfo is None else typed
        except ValueError:
            data["bid_deadline"] = shown["bid_deadline"]  # the schema refuses it with the API's message
    return shown, data


@router.post("/officer/calls/{call_id}/terms")
async def save_terms(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    """The call editor: the API's PATCH /calls/{id} (CallTerms → flows.update_call)."""
    shown, data = _terms_data(await request.form())
    actor = user.actor

    def work() -> Call:
        terms = parse(CallTerms, data)
        return flows.update_call(
            session, actor, service.get_call(session, actor, call_id, for_update=True), terms.data()
        )

    error = attempt(session, work)
    if error:
        return _call_page(request, session, actor, call_id, now, error=error, form=shown, form_name="terms")
    return redirect(f"{BASE}/{call_id}?done=terms")


def _act(
    request: Request,
    session: Session,
    actor: Actor,
    call_id: int,
    now: dt.datetime,
    name: str,
    work: Callable[[], Any],
    form: dict[str, Any],
) -> Response:
    """Run one flow for the form `name`; a refusal shows the call page again with the error at that form."""
    error = attempt(session, work)
    if error:
        return _call_page(request, session, actor, call_id, now, error=error, form=form, form_name=name)
    return redirect(f"{BASE}/{call_id}?done={name}")


@router.post("/officer/calls/{call_id}/vet")
async def vet(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    form, actor = form_values(await request.form()), user.actor

    def work() -> Call:
        body = parse(VetIn, {"approve": form.get("decision") == "approve", "note": text(form, "note")})
        call = service.get_call(session, actor, call_id, for_update=True)
        return flows.vet_call(session, actor, call, approve=body.approve, note=body.note)

    return _act(request, session, actor, call_id, now, "vet", work, form)


@router.post("/officer/calls/{call_id}/publish")
def publish(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    actor = user.actor

    def work() -> Call:
        return flows.publish_call(session, actor, service.get_call(session, actor, call_id, for_update=True), now=now)

    return _act(request, session, actor, call_id, now, "publish", work, {})


@router.post("/officer/calls/{call_id}/close-bidding")
def close_bidding(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    actor = user.actor

    def work() -> Call:
        service.get_call(session, actor, call_id)
        return flows.close_bidding(session, call_id, actor, now=now)

    return _act(request, session, actor, call_id, now, "close_bidding", work, {})


@router.post("/officer/calls/{call_id}/bids/{bid_id}/formal-check")
async def formal_check(
    call_id: int, bid_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now
) -> Response:
    form, actor = form_values(await request.form()), user.actor

    def work() -> Bid:
        body = parse(FormalCheckIn, {"passed": form.get("passed") == "yes", "reason": text(form, "reason")})
        bid = service.get_bid(session, actor, call_id, bid_id)
        return flows.formal_check(session, actor, bid, passed=body.passed, reason=body.reason, now=now)

    return _act(request, session, actor, call_id, now, f"formal_check_{bid_id}", work, form)


@router.post("/officer/calls/{call_id}/review")
def start_review(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    """Assign N experts per bid by field, leaving out every declared conflict, and open the review."""
    actor = user.actor

    def work() -> Call:
        service.get_call(session, actor, call_id)
        return flows.start_review(session, actor, call_id, now=now)

    return _act(request, session, actor, call_id, now, "review", work, {})


@router.post("/officer/calls/{call_id}/notice")
async def propose_winners(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    raw, actor = await request.form(), user.actor
    form: dict[str, Any] = {"bid_ids": [str(v) for v in raw.getlist("bid_ids")]}

    def work() -> Call:
        body = parse(ProposeWinnersIn, {"bid_ids": form["bid_ids"]})
        service.get_call(session, actor, call_id)
        return flows.propose_winners(session, actor, call_id, body.bid_ids, now=now)

    return _act(request, session, actor, call_id, now, "notice", work, form)


@router.post("/officer/calls/{call_id}/objections/{objection_id}/resolve")
async def resolve_objection(
    call_id: int, objection_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now
) -> Response:
    form, actor = form_values(await request.form()), user.actor

    def work() -> Objection:
        body = parse(ResolveIn, {"upheld": form.get("upheld") == "yes", "resolution": text(form, "resolution") or ""})
        obj = service.get_objection(session, actor, call_id, objection_id)
        return flows.resolve_objection(session, actor, obj, upheld=body.upheld, resolution=body.resolution, now=now)

    return _act(request, session, actor, call_id, now, f"resolve_{objection_id}", work, form)


@router.post("/officer/calls/{call_id}/award")
def award(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    """立项: the API's POST /calls/{id}/award (refused while the notice runs or an objection is open)."""
    actor = user.actor

    def work() -> list[Project]:
        service.get_call(session, actor, call_id)
        return flows.award(session, actor, call_id, now=now)

    return _act(request, session, actor, call_id, now, "award", work, {})


@router.post("/officer/calls/{call_id}/cancel")
async def cancel(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    """取消榜单: the API's POST /calls/{id}/cancel (ReasonIn → flows.cancel_call), before the award."""
    form, actor = form_values(await request.form()), user.actor

    def work() -> Call:
        body = parse(ReasonIn, {"reason": text(form, "reason") or ""})
        call = service.get_call(session, actor, call_id, for_update=True)
        return flows.cancel_call(session, actor, call, reason=body.reason)

    return _act(request, session, actor, call_id, now, "cancel", work, form)


@router.post("/officer/calls/{call_id}/midterm-review")
async def midterm_review(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    """赛马制 中期评估: the API's POST /calls/{id}/midterm-review (→ flows.record_midterm_review)."""
    form, actor = form_values(await request.form()), user.actor

    def work() -> Call:
        body = parse(MidtermReviewIn, {"conclusion": text(form, "conclusion") or ""})
        service.get_call(session, actor, call_id)
        return flows.record_midterm_review(session, actor, call_id, conclusion=body.conclusion, now=now)

    return _act(request, session, actor, call_id, now, "midterm_review", work, form)


@router.post("/officer/calls/{call_id}/down-select")
async def down_select(call_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    """赛马制 择优保留: the API's POST /calls/{id}/down-select (DownSelectIn → flows.down_select)."""
    raw, actor = await request.form(), user.actor
    form: dict[str, Any] = {**form_values(raw), "keep_bid_ids": [str(v) for v in raw.getlist("keep_bid_ids")]}

    def work() -> list[Project]:
        body = parse(
            DownSelectIn,
            {
                "keep_bid_ids": form["keep_bid_ids"],
                "disposition": text(form, "disposition") or "",
                "reason": text(form, "reason") or "",
            },
        )
        service.get_call(session, actor, call_id)
        return flows.down_select(
            session, actor, call_id, body.keep_bid_ids, disposition=body.disposition, reason=body.reason, now=now
        )

    return _act(request, session, actor, call_id, now, "down_select", work, form)


# --- projects: milestones and tranches ------------------------------------------------------------------


def _project_page(
    request: Request,
    session: Session,
    actor: Actor,
    project_id: int,
    *,
    error: MarketError | None = None,
    form: dict[str, Any] | None = None,
    form_name: str | None = None,
) -> Response:
    project, bid = service.get_project(session, actor, project_id)
    call = session.get(Call, project.call_id)
    if call is None:  # a project always has its call; this narrows the type
        raise NotFound("project not found", code="project_not_found")
    tranches = service.tranches_of(session, project.id)
    context = {
        "project": project,
        "bid": bid,
        "call": call,
        "base": BASE,
        "names": org_names(session, {bid.lead_org_id, *bid.member_org_ids}),
        "state_label": PROJECT_STATE_LABELS.get(project.state, project.state),
        "milestones": service.milestones_of(session, project.id),
        "milestone_labels": MILESTONE_STATE_LABELS,
        "tranches": tranches,
        "tranche_labels": TRANCHE_LABELS,
        "tranche_state_labels": TRANCHE_STATE_LABELS,
        "paid": sum((t.amount for t in tranches if t.state == "paid"), Decimal(0)),
        "errors": FormErrors(error),
        "form_name": form_name,
        "form": form or {},
        "done": request.query_params.get("done"),
        "local": _local,
    }
    return render(request, "console/officer/project.html", context, status_code=error.status_code if error else 200)


@router.get("/officer/projects/{project_id}")
def project_page(project_id: int, request: Request, session: SessionDep, user: OfficerUser) -> Response:
    return _project_page(request, session, user.actor, project_id)


@router.post("/officer/projects/{project_id}/milestones/{milestone_id}/review")
async def review_milestone(
    project_id: int, milestone_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now
) -> Response:
    form, actor = form_values(await request.form()), user.actor

    def work() -> Any:
        body = parse(MilestoneReviewIn, {"passed": form.get("passed") == "yes", "note": text(form, "note")})
        project, _bid = service.get_project(session, actor, project_id)
        milestone = service.get_milestone(session, project, milestone_id)
        return flows.review_milestone(session, actor, project, milestone, passed=body.passed, note=body.note, now=now)

    error = attempt(session, work)
    if error:
        return _project_page(
            request, session, actor, project_id, error=error, form=form, form_name=f"milestone_{milestone_id}"
        )
    return redirect(f"/console/officer/projects/{project_id}?done=milestone")


@router.post("/officer/projects/{project_id}/tranches/{tranche_id}/pay")
def pay_tranche(
    project_id: int, tranche_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now
) -> Response:
    actor = user.actor

    def work() -> Any:
        project, _bid = service.get_project(session, actor, project_id)
        return flows.pay_tranche(session, actor, service.get_tranche(session, project, tranche_id), now=now)

    error = attempt(session, work)
    if error:
        return _project_page(request, session, actor, project_id, error=error, form_name=f"tranche_{tranche_id}")
    return redirect(f"/console/officer/projects/{project_id}?done=tranche")


def _project_act(
    request: Request, session: Session, actor: Actor, project_id: int, name: str, work: Callable[[], Any], form: dict
) -> Response:
    """Run one flow for the project form `name`; a refusal shows the project page with the error at that form."""
    error = attempt(session, work)
    if error:
        return _project_page(request, session, actor, project_id, error=error, form=form, form_name=name)
    return redirect(f"/console/officer/projects/{project_id}?done={name.split('_')[0]}")


@router.post("/officer/projects/{project_id}/milestones/{milestone_id}/decision")
async def decide_milestone(
    project_id: int, milestone_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now
) -> Response:
    """After a failed milestone: continue, rework or terminate — the API's …/decision (→ flows.decide_after_failure)."""
    form, actor = form_values(await request.form()), user.actor

    def work() -> Any:
        body = parse(
            DecisionIn,
            {
                "decision": text(form, "decision") or "",
                "reason": text(form, "reason") or "",
                "unspent_amount": text(form, "unspent_amount"),
            },
        )
        project, _bid = service.get_project(session, actor, project_id)
        milestone = service.get_milestone(session, project, milestone_id)
        return flows.decide_after_failure(
            session,
            actor,
            project,
            milestone,
            decision=body.decision,
            reason=body.reason,
            unspent_amount=body.unspent_amount,
            now=now,
        )

    return _project_act(request, session, actor, project_id, f"decision_{milestone_id}", work, form)


@router.post("/officer/projects/{project_id}/acceptance")
async def accept(project_id: int, request: Request, session: SessionDep, user: OfficerUser, now: Now) -> Response:
    """验收: the API's POST /projects/{id}/acceptance (AcceptanceIn → flows.accept_project)."""
    form, actor = form_values(await request.form()), user.actor
    panel = [
        n for n in (text(form, "expert_panel") or "").replace("，", ",").replace("、", ",").split(",") if n.strip()
    ]

    def work() -> Any:
        body = parse(
            AcceptanceIn,
            {
                "result": text(form, "result") or "",
                "note": text(form, "note") or "",
                "unspent_amount": text(form, "unspent_amount"),
                "expert_panel": [n.strip() for n in panel] or None,
                "expert_panel_conclusion": text(form, "expert_panel_conclusion"),
            },
        )
        project, _bid = service.get_project(session, actor, project_id)
        return flows.accept_project(
            session,
            actor,
            project,
            result=body.result,
            note=body.note,
            unspent_amount=body.unspent_amount,
            expert_panel=body.expert_panel,
            expert_panel_conclusion=body.expert_panel_conclusion,
            now=now,
        )

    return _project_act(request, session, actor, project_id, "acceptance", work, form)
