"""HTTP endpoints of technology brokers (技术经纪人): /api/v1/brokers/…"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from market.auth.dependencies import CurrentActor
from market.brokers import service
from market.brokers.schemas import (
    BrokerEdit,
    BrokerIn,
    BrokerOut,
    EmploymentOut,
    LinkDecisionIn,
    LinkIn,
    LinkOut,
    ListingLinkIn,
    ListingLinkOut,
    MoveIn,
    StatusIn,
    TrainingIn,
    TrainingOut,
    WeightsIn,
)
from market.core.deps import SessionDep
from market.core.pagination import Page, PageDep, paginate
from market.core.types import Id
from market.stats.endpoints import FormatQ, render

router = APIRouter(prefix="/api/v1/brokers", tags=["brokers 技术经纪人"])
Year = Annotated[int, Path(ge=2000, le=2100)]


def _out(session, broker) -> BrokerOut:
    out = BrokerOut.model_validate(broker)
    out.employments = [EmploymentOut.model_validate(e) for e in service.stints(session, broker.id)]
    out.trainings = [TrainingOut.model_validate(t) for t in service.trainings(session, broker.id)]
    return out


@router.post("", status_code=201, response_model=BrokerOut, summary="Register a broker (intermediary or bureau)")
def register(body: BrokerIn, session: SessionDep, actor: CurrentActor) -> Any:
    return _out(session, service.register(session, actor, body.model_dump()))


@router.get("", response_model=Page[BrokerOut], summary="Brokers (bureau: all; intermediary: its staff; broker: self)")
def list_brokers(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    status: Annotated[Literal["active", "suspended", "removed"] | None, Query()] = None,
    intermediary_org_id: Annotated[Id | None, Query()] = None,
) -> Any:
    rows, total = paginate(session, service.brokers_query(actor, status, intermediary_org_id), page)
    return Page(items=[_out(session, b) for b in rows], total=total, page=page.page, page_size=page.page_size)


@router.get("/me", response_model=BrokerOut, summary="The caller's own broker record")
def my_record(session: SessionDep, actor: CurrentActor) -> Any:
    return _out(session, service.me(session, actor))


@router.get("/links", response_model=Page[LinkOut], summary="Broker ↔ contract links the caller is party to")
def list_links(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    contract_id: Annotated[Id | None, Query()] = None,
    broker_id: Annotated[Id | None, Query()] = None,
) -> Any:
    rows, total = paginate(session, service.links_query(session, actor, contract_id, broker_id), page)
    return Page(items=[LinkOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size)


@router.post("/links", status_code=201, response_model=LinkOut, summary="Put a broker on a contract (its intermediary)")
def propose_link(body: LinkIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.propose_link(session, actor, body.broker_id, body.contract_id)


@router.post(
    "/links/{link_id}/decision", response_model=LinkOut, summary="Confirm or reject a broker (contract's filer)"
)
def decide_link(link_id: int, body: LinkDecisionIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.decide_link(session, actor, link_id, body.accept)


@router.get("/listings", response_model=Page[ListingLinkOut], summary="Demands / achievements brought in by brokers")
def list_listings(
    session: SessionDep, actor: CurrentActor, page: PageDep, broker_id: Annotated[Id | None, Query()] = None
) -> Any:
    rows, total = paginate(session, service.listings_query(actor, broker_id), page)
    return Page(
        items=[ListingLinkOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.post(
    "/listings",
    status_code=201,
    response_model=ListingLinkOut,
    summary="Record a demand or achievement a broker brought in (their intermediary)",
)
def propose_listing(body: ListingLinkIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.propose_listing(session, actor, body.broker_id, body.listing_type, body.listing_id)


@router.post(
    "/listings/{row_id}/decision", response_model=ListingLinkOut, summary="Confirm or reject (the listing's owner)"
)
def decide_listing(row_id: int, body: LinkDecisionIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.decide_listing(session, actor, row_id, body.accept)


@router.get("/performance", summary="Performance and ranking per broker or intermediary (json, csv or xlsx)")
def performance(
    session: SessionDep,
    actor: CurrentActor,
    start: dt.date,
    end: dt.date,
    by: Annotated[Literal["broker", "intermediary"], Query()] = "broker",
    fmt: FormatQ = "json",
) -> Any:
    return render(service.performance(session, actor, start, end, by), fmt)


@router.put("/performance-weights/{year}", summary="Set the year's performance weights (bureau)")
def set_weights(year: Year, body: WeightsIn, session: SessionDep, actor: CurrentActor) -> Any:
    weights = service.set_weights(session, actor, year, body.model_dump(exclude_none=True))
    return {"year": year, "weights": {k: str(v) for k, v in weights.items()}}


@router.get("/performance-weights/{year}", summary="The year's performance weights")
def get_weights(year: Year, session: SessionDep, actor: CurrentActor) -> Any:
    return {"year": year, "weights": {k: str(v) for k, v in service.weights_for(session, year).items()}}


@router.get("/{broker_id}", response_model=BrokerOut)
def get_broker(broker_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return _out(session, service.read(session, actor, broker_id))


@router.patch("/{broker_id}", response_model=BrokerOut, summary="Edit name, level, field or account")
def edit(broker_id: int, body: BrokerEdit, session: SessionDep, actor: CurrentActor) -> Any:
    return _out(session, service.update(session, actor, broker_id, body.model_dump(exclude_unset=True)))


@router.post("/{broker_id}/status", response_model=BrokerOut, summary="Suspend, reinstate or remove (bureau)")
def change_status(broker_id: int, body: StatusIn, session: SessionDep, actor: CurrentActor) -> Any:
    return _out(session, service.change_status(session, actor, broker_id, body.action, body.note))


@router.post(
    "/{broker_id}/trainings", status_code=201, response_model=TrainingOut, summary="Record a training / certificate"
)
def add_training(broker_id: int, body: TrainingIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.add_training(session, actor, broker_id, body.model_dump())


@router.post(
    "/{broker_id}/moves", status_code=201, response_model=EmploymentOut, summary="Record a move to another intermediary"
)
def move(broker_id: int, body: MoveIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.move(session, actor, broker_id, body.intermediary_org_id, body.start_date)
