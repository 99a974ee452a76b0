"""Expert (评审专家): my assignments, an assigned bid's content, the scoring form, declaring a conflict (回避).

Reading a bid is `calls.service.get_bid` (an unassigned bid is "not found", as in the API); scoring is
`flows.submit_scores` and a conflict `flows.declare_conflict`, the calls the API's endpoints make, with the same
clock dependency. Nothing of other experts' scores is ever shown here.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from market.accounts.roles import Role
from market.accounts.service import org_names
from market.calls import flows
from market.calls import service as calls
from market.calls.endpoints import Now
from market.calls.models import Call, ReviewAssignment
from market.calls.schemas import ConflictIn, ScoresIn
from market.console import auth
from market.console.forms import parse
from market.console.menu import MenuItem
from market.console.web import ConsoleRoute, FormErrors, attempt, redirect, render
from market.core.deps import SessionDep
from market.core.errors import ValidationFailed
from market.core.vocab import TECHNICAL_FIELD_LABELS

router = APIRouter(route_class=ConsoleRoute)
MENU = [MenuItem("我的评审任务", "/console/expert", frozenset({Role.expert}), group="专家评审", order=40)]
Expert = Annotated[auth.ConsoleUser, auth.allow(Role.expert)]
STATE_LABELS = {"assigned": "待评分", "scored": "已评分", "recused": "已回避"}
# What an expert reads beside each criterion when the call gives no guidance of its own.
DEFAULT_GUIDANCE = "0–100 分：90 分以上优秀，75–89 良好，60–74 一般，60 分以下较差。请依据方案内容独立打分。"


@router.get("/expert")
def assignments(request: Request, session: SessionDep, user: Expert) -> Response:
    mine = calls.my_assignments(session, user.actor)
    call_ids = {a.call_id for a in mine}
    titles = {i: t for i, t in session.execute(sa.select(Call.id, Call.title).where(Call.id.in_(call_ids)))}
    rows = [{"a": a, "title": titles.get(a.call_id, ""), "state": STATE_LABELS.get(a.state, a.state)} for a in mine]
    return render(request, "console/expert/assignments.html", {"rows": rows})


def _bid_page(
    request: Request,
    session: Session,
    user: auth.ConsoleUser,
    call_id: int,
    bid_id: int,
    *,
    errors: FormErrors | None = None,
    form: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    bid = calls.get_bid(session, user.actor, call_id, bid_id)  # not assigned to me → 404, as in the API
    call = session.get(Call, bid.call_id)
    assert call is not None
    mine = session.scalar(
        sa.select(ReviewAssignment).where(
            ReviewAssignment.bid_id == bid.id, ReviewAssignment.expert_user_id == user.actor.user_id
        )
    )
    names = org_names(session, [bid.lead_org_id, *bid.member_org_ids])
    context: dict[str, Any] = {
        "call": call,
        "bid": bid,
        "field": {k.value: v for k, v in TECHNICAL_FIELD_LABELS.items()}.get(
            call.technical_field, call.technical_field
        ),
        "lead": names.get(bid.lead_org_id, str(bid.lead_org_id)),
        "members": [names.get(i, str(i)) for i in bid.member_org_ids],
        "mine": mine,
        "state": STATE_LABELS.get(mine.state, mine.state) if mine else "",
        "criteria": [
            {"name": c["name"], "weight": c["weight"], "guidance": c.get("guidance") or DEFAULT_GUIDANCE}
            for c in call.review_criteria
        ],
        "errors": errors or FormErrors(),
        "form": form,
        "notice": notice,
        "values": dict(getattr(request.state, "form_values", {})),
    }
    return render(request, "console/expert/bid.html", context, status_code=status_code)


@router.get("/expert/calls/{call_id}/bids/{bid_id}")
def bid_page(
    request: Request, call_id: int, bid_id: int, session: SessionDep, user: Expert, done: str = ""
) -> Response:
    notices = {"score": "评分已提交。", "conflict": "已申报回避，此评审任务将另行分配。"}
    return _bid_page(request, session, user, call_id, bid_id, notice=notices.get(done, ""))


def _act(
    request: Request, session: Session, user: auth.ConsoleUser, call_id: int, bid_id: int, form: str, action: Any
) -> Response:
    error = attempt(session, action)
    if error is None:
        if form == "conflict":
            return redirect("/console/expert?done=conflict")
        return redirect(f"/console/expert/calls/{call_id}/bids/{bid_id}?done={form}")
    return _bid_page(
        request, session, user, call_id, bid_id, errors=FormErrors(error), form=form, status_code=error.status_code
    )


@router.post("/expert/calls/{call_id}/bids/{bid_id}/scores")
async def score(request: Request, call_id: int, bid_id: int, session: SessionDep, user: Expert, now: Now) -> Response:
    form = await request.form()
    call = await run_in_threadpool(session.get, Call, call_id)
    names = [str(c["name"]) for c in (call.review_criteria if call else [])]
    raw = {name: str(form.get(f"score-{i}", "")).strip() for i, name in enumerate(names)}
    comment = str(form.get("comment", "")).strip() or None
    request.state.form_values = {"scores": raw, "comment": comment or ""}

    def act() -> None:
        bid = calls.get_bid(session, user.actor, call_id, bid_id)
        for i, name in enumerate(names):
            if not raw[name].isdigit():
                raise ValidationFailed.field(f"score-{i}", "score_required", f"请为“{name}”填写 0–100 的整数分")
        body = parse(ScoresIn, {"scores": {k: int(v) for k, v in raw.items()}, "comment": comment})
        flows.submit_scores(session, user.actor, bid, body.scores, comment=body.comment, now=now)

    return await run_in_threadpool(_act, request, session, user, call_id, bid_id, "score", act)


@router.post("/expert/calls/{call_id}/bids/{bid_id}/conflict")
async def declare_conflict(
    request: Request, call_id: int, bid_id: int, session: SessionDep, user: Expert, now: Now
) -> Response:
    form = await request.form()
    reason = str(form.get("reason", "")).strip()
    request.state.form_values = {"reason": reason}

    def act() -> None:
        calls.get_bid(session, user.actor, call_id, bid_id)
        body = parse(ConflictIn, {"bid_id": bid_id, "reason": reason})
        flows.declare_conflict(session, user.actor, bid_id=body.bid_id, reason=body.reason, now=now)

    return await run_in_threadpool(_act, request, session, user, call_id, bid_id, "conflict", act)
