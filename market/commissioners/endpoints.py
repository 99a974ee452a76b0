"""HTTP endpoints of science commissioners (科技特派员): /api/v1/commissioners/…"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query

from market.auth.dependencies import BureauActor, CurrentActor
from market.commissioners import service
from market.commissioners.models import Commissioner
from market.commissioners.schemas import (
    AwardIn,
    AwardOut,
    CommissionerIn,
    CommissionerOut,
    DispatchIn,
    DispatchOut,
    LogIn,
    LogOut,
    ProjectEdit,
    ProjectIn,
    ProjectOut,
    StationIn,
    StationOut,
    StatusIn,
)
from market.core.deps import SessionDep
from market.core.pagination import Page, PageDep, paginate
from market.stats.endpoints import FormatQ, render

router = APIRouter(prefix="/api/v1/commissioners", tags=["commissioners 科技特派员"])
Year = Annotated[int, Path(ge=2000, le=2100)]


@router.post("", status_code=201, response_model=CommissionerOut, summary="Register a commissioner (bureau)")
def register(body: CommissionerIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.register(session, actor, body.model_dump())


@router.get("", response_model=Page[CommissionerOut], summary="Commissioners (public directory)")
def list_commissioners(session: SessionDep, page: PageDep) -> Any:
    rows, total = paginate(session, sa.select(Commissioner).order_by(Commissioner.id), page)
    return Page(
        items=[CommissionerOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.get("/awards", response_model=list[AwardOut], summary="Evaluation awards with their working (bureau)")
def list_awards(
    session: SessionDep, actor: BureauActor, year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> Any:
    return service.awards(session, year)


@router.post("/awards", status_code=201, response_model=AwardOut, summary="Propose an evaluation award (bureau)")
def propose_award(body: AwardIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.propose_award(session, actor, body.model_dump())


@router.post("/awards/{award_id}/approve", response_model=AwardOut, summary="Approve an award (another officer)")
def approve_award(award_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return service.approve_award(session, actor, award_id)


@router.post(
    "/stations", status_code=201, response_model=StationOut, summary="Record a station and who serves it (bureau)"
)
def add_station(body: StationIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.add_station(session, actor, body.model_dump())


@router.get("/stations", response_model=list[StationOut], summary="Stations (public)")
def list_stations(session: SessionDep) -> Any:
    return service.stations(session)


@router.get(
    "/projects", response_model=Page[ProjectOut], summary="Projects (bureau: all; commissioner: own; host firm: hosted)"
)
def list_projects(
    session: SessionDep, actor: CurrentActor, page: PageDep, commissioner_id: Annotated[int | None, Query(ge=1)] = None
) -> Any:
    rows, total = paginate(session, service.projects_query(actor, commissioner_id), page)
    return Page(
        items=[ProjectOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.patch("/projects/{project_id}", response_model=ProjectOut, summary="Record outcomes / the contract led to")
def edit_project(project_id: int, body: ProjectEdit, session: SessionDep, actor: CurrentActor) -> Any:
    return service.update_project(session, actor, project_id, body.model_dump(exclude_unset=True))


@router.get("/figures/{year}", summary="By level and field, hosts served, awards (json, csv or xlsx)")
def figures(year: Year, session: SessionDep, actor: BureauActor, fmt: FormatQ = "json") -> Any:
    return render(service.figures(session, year), fmt)


@router.get("/{commissioner_id}", response_model=CommissionerOut)
def get_commissioner(commissioner_id: int, session: SessionDep) -> Any:
    return service.get(session, commissioner_id)


@router.post(
    "/{commissioner_id}/status",
    response_model=CommissionerOut,
    summary="Suspend or reinstate (bureau): no new dispatches or awards while suspended",
)
def change_status(commissioner_id: int, body: StatusIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.change_status(session, actor, commissioner_id, body.action, body.reason)


@router.get("/{commissioner_id}/dispatches", response_model=list[DispatchOut])
def list_dispatches(commissioner_id: int, session: SessionDep) -> Any:
    service.get(session, commissioner_id)
    return service.dispatches(session, commissioner_id)


@router.post(
    "/{commissioner_id}/dispatches",
    status_code=201,
    response_model=DispatchOut,
    summary="Dispatch under a service agreement (bureau)",
)
def dispatch(commissioner_id: int, body: DispatchIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.dispatch(session, actor, commissioner_id, body.model_dump())


@router.post(
    "/{commissioner_id}/projects",
    status_code=201,
    response_model=ProjectOut,
    summary="Record a project with a firm (the commissioner or the bureau)",
)
def add_project(commissioner_id: int, body: ProjectIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.add_project(session, actor, commissioner_id, body.model_dump())


@router.post(
    "/{commissioner_id}/logs", status_code=201, response_model=LogOut, summary="Log a visit, training or technology"
)
def add_log(commissioner_id: int, body: LogIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.add_log(session, actor, commissioner_id, body.model_dump())


@router.get("/{commissioner_id}/logs", response_model=list[LogOut], summary="The service log (commissioner or bureau)")
def list_logs(commissioner_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return service.logs(session, actor, commissioner_id)
