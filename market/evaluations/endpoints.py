"""HTTP endpoints of achievement evaluation (科技成果评价)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from market.accounts.roles import Role
from market.auth.actor import Actor
from market.auth.dependencies import CurrentActor, OptionalActor, require_roles
from market.core.deps import SessionDep
from market.core.errors import NotFound
from market.core.types import Id, MoneyIn, text
from market.evaluations import rules, service
from market.evaluations.models import Evaluation

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"])


class AgencyIn(BaseModel):
    hide_evaluators: bool = Field(True, description="keep evaluators' identities from holders")


@router.post("/agencies", status_code=201)
def register_agency(data: AgencyIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """Register the caller's organisation as an evaluation agency (pending the bureau's approval)."""
    a = service.register_agency(session, actor, data.hide_evaluators)
    return {"org_id": a.org_id, "status": a.status, "hide_evaluators": a.hide_evaluators}


class DecisionIn(BaseModel):
    approve: bool


@router.post("/agencies/{org_id}/decision")
def decide_agency(
    org_id: Id, data: DecisionIn, session: SessionDep, actor: Annotated[Actor, require_roles(Role.bureau_admin)]
) -> dict[str, Any]:
    """Approve or reject an agency (bureau admin)."""
    a = service.decide_agency(session, actor, org_id, data.approve)
    return {"org_id": a.org_id, "status": a.status}


class RequestIn(BaseModel):
    achievement_id: Id
    agency_org_id: Id
    declared_conflicts: list[Id] = Field(default_factory=list, max_length=50, description="users who must not evaluate")


@router.post("", status_code=201)
def request_evaluation(data: RequestIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """The achievement's holder requests an evaluation from an approved agency."""
    ev = service.request(session, actor, data.achievement_id, data.agency_org_id, data.declared_conflicts)
    return service.view(session, actor, ev)


class AssignIn(BaseModel):
    evaluator_ids: list[Id] = Field(min_length=1, max_length=15)


@router.post("/{evaluation_id}/evaluators")
def assign(evaluation_id: Id, data: AssignIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """The agency names the evaluators (none from the holder's organisation or declared conflicted)."""
    return service.view(session, actor, service.assign(session, actor, evaluation_id, data.evaluator_ids))


class ReportIn(BaseModel):
    trl: int = Field(ge=1, le=9, description="technology readiness level, GB/T 22900")
    innovation_grade: rules.InnovationGrade
    advancement_grade: rules.AdvancementGrade
    value_low: MoneyIn | None = None
    value_high: MoneyIn | None = None
    report_reference: text(200, min_length=1)  # type: ignore[valid-type]


@router.post("/{evaluation_id}/report")
def report(evaluation_id: Id, data: ReportIn, session: SessionDep, actor: CurrentActor) -> dict[str, Any]:
    """The agency files the evaluation report: TRL, degree of innovation and of advancement, value range."""
    return service.view(session, actor, service.report(session, actor, evaluation_id, data.model_dump()))


@router.get("/{evaluation_id}")
def get_evaluation(evaluation_id: Id, session: SessionDep, actor: OptionalActor) -> dict[str, Any]:
    """One evaluation: parties see it throughout, everyone sees a completed one (evaluators as the agency chose)."""
    ev = session.get(Evaluation, evaluation_id)
    if ev is None:
        raise NotFound("no such evaluation", code="evaluation_not_found")
    return service.view(session, actor, ev)


@router.get("")
def completed_for_achievement(
    achievement_id: Annotated[int, Query(ge=1, le=2**63 - 1)], session: SessionDep, actor: OptionalActor
) -> list[dict[str, Any]]:
    """The completed evaluations of an achievement (grade, agency, date), as a listing shows them."""
    return [service.view(session, actor, ev) for ev in service.completed_for(session, achievement_id)]
