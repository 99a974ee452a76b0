"""HTTP endpoints: /search, /match, /synonyms, /saved-searches, /inbox, /webhooks, /search/lag."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, status
from sqlalchemy.orm import Session

from market.auth.dependencies import BearerToken, BureauActor, CurrentActor, actor_for
from market.core.deps import SessionDep, in_unit_of_work
from market.core.pagination import Page, PageDep
from market.core.types import MoneyIn
from market.core.vocab import Maturity, TechnicalField, TransferMode
from market.evaluations.rules import AdvancementGrade, InnovationGrade
from market.matching import (
    call_matching,
    indexing,
    listings,
    notifications,
    saved_searches,
    searching,
    synonyms,
    webhooks,
)
from market.matching.match import match_listing
from market.matching.models import SavedSearch, WebhookSubscription
from market.matching.schemas import (
    DeliveryOut,
    IndexLag,
    MatchResults,
    NotificationOut,
    SavedSearchIn,
    SavedSearchOut,
    SearchResults,
    SynonymGroupIn,
    SynonymGroupOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from search.query import SearchFilters

router = APIRouter(prefix="/api/v1")


@router.get("/search", response_model=SearchResults, tags=["search"], summary="Full-text search over public listings")
async def search(
    page: PageDep,
    kind: Annotated[Literal["achievement", "demand", "call"], Query(description="what to search")] = "achievement",
    q: Annotated[str, Query(max_length=200)] = "",
    technical_field: TechnicalField | None = None,
    maturity: Annotated[Maturity | None, Query(description="成熟度 (demands: wanted maturity)")] = None,
    mode: Annotated[TransferMode | None, Query(description="transfer / cooperation mode")] = None,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$", description="330200 = all of Ningbo")] = None,
    min_price: Annotated[MoneyIn | None, Query(ge=0, description="yuan")] = None,
    max_price: Annotated[MoneyIn | None, Query(ge=0, description="yuan")] = None,
    include_negotiable: Annotated[bool, Query(description="with a price range, also 面议 listings")] = False,
    evaluated: Annotated[
        bool | None, Query(description="achievements: with (true) or without (false) a finished evaluation")
    ] = None,
    min_trl: Annotated[int | None, Query(ge=1, le=9, description="achievements: evaluated TRL at least")] = None,
    innovation_grade: Annotated[InnovationGrade | None, Query(description="achievements: evaluated 创新程度")] = None,
    advancement_grade: Annotated[AdvancementGrade | None, Query(description="achievements: evaluated 先进程度")] = None,
    sort: Literal["relevance", "newest", "oldest", "price_asc", "price_desc"] = "relevance",
) -> dict:
    filters = SearchFilters(
        technical_field=technical_field,
        maturity=maturity,
        mode=mode,
        region_code=region_code,
        min_price=min_price,
        max_price=max_price,
        include_negotiable=include_negotiable,
        evaluated=evaluated,
        min_trl=min_trl,
        innovation_grade=innovation_grade,
        advancement_grade=advancement_grade,
    )
    return await in_unit_of_work(
        lambda session: searching.search(session, kind, q, filters, sort=sort, page=page), write=False
    )


@router.get("/search/lag", response_model=IndexLag, tags=["search"], summary="Index lag (oldest undrained change)")
def index_lag(session: SessionDep, actor: BureauActor) -> dict:
    return indexing.index_lag(session)


@router.get(
    "/match/{kind}/{listing_id}",
    response_model=MatchResults,
    tags=["search"],
    summary="For a demand: the achievements that fit it; for an achievement: the demands",
)
async def match(
    kind: Literal["achievement", "demand"],
    listing_id: int,
    request: Request,
    token: BearerToken,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> dict:
    def work(session: Session) -> dict:
        listing = listings.get_listing(session, actor_for(session, request, token), kind, listing_id)
        return match_listing(session, kind, listing, limit=limit, filters=SearchFilters(region_code=region_code))

    return await in_unit_of_work(work, write=False)


@router.get(
    "/match/call/{call_id}/organisations",
    tags=["search", "calls"],
    summary="For a published open call (揭榜挂帅): the organisations whose listings fit it, with those listings",
)
def match_call(call_id: int, session: SessionDep, limit: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
    return call_matching.match_call_organisations(session, call_id, limit=limit)


# -- synonyms (read: anyone; edit: bureau) ------------------------------------------------------


@router.get("/synonyms", response_model=Page[SynonymGroupOut], tags=["synonyms"])
def list_synonyms(session: SessionDep, page: PageDep, term: Annotated[str | None, Query(max_length=40)] = None):
    rows, total = synonyms.list_synonym_groups(session, term, page)
    return Page(
        items=[SynonymGroupOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.post("/synonyms", response_model=SynonymGroupOut, status_code=status.HTTP_201_CREATED, tags=["synonyms"])
def create_synonyms(body: SynonymGroupIn, session: SessionDep, actor: BureauActor):
    return synonyms.create_synonym_group(session, actor, body.terms)


@router.put("/synonyms/{group_id}", response_model=SynonymGroupOut, tags=["synonyms"])
def update_synonyms(group_id: int, body: SynonymGroupIn, session: SessionDep, actor: BureauActor):
    return synonyms.update_synonym_group(session, actor, group_id, body.terms)


@router.delete("/synonyms/{group_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["synonyms"])
def delete_synonyms(group_id: int, session: SessionDep, actor: BureauActor) -> None:
    synonyms.delete_synonym_group(session, actor, group_id)


# -- saved searches and the inbox ---------------------------------------------------------------


@router.post(
    "/saved-searches", response_model=SavedSearchOut, status_code=status.HTTP_201_CREATED, tags=["saved searches"]
)
def create_saved_search(body: SavedSearchIn, session: SessionDep, actor: CurrentActor):
    data = body.model_dump()
    data["filters"] = body.filters.model_dump(mode="json", exclude_none=True)
    return saved_searches.create_saved_search(session, actor, data)


@router.get("/saved-searches", response_model=list[SavedSearchOut], tags=["saved searches"])
def list_saved_searches(session: SessionDep, actor: CurrentActor):
    return session.scalars(
        sa.select(SavedSearch).where(SavedSearch.user_id == actor.user_id).order_by(SavedSearch.id)
    ).all()


@router.delete("/saved-searches/{saved_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["saved searches"])
def delete_saved_search(saved_id: int, session: SessionDep, actor: CurrentActor) -> None:
    saved_searches.delete_saved_search(session, actor, saved_id)


@router.get("/inbox", response_model=Page[NotificationOut], tags=["saved searches"])
def inbox(session: SessionDep, actor: CurrentActor, page: PageDep, unread: bool = False):
    rows, total = notifications.inbox(session, actor, unread, page)
    return Page(
        items=[NotificationOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.post("/inbox/{notification_id}/read", response_model=NotificationOut, tags=["saved searches"])
def mark_read(notification_id: int, session: SessionDep, actor: CurrentActor):
    return notifications.mark_read(session, actor, notification_id)


# -- webhooks -------------------------------------------------------------------------------------


@router.post("/webhooks", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED, tags=["webhooks"])
def create_webhook(body: WebhookIn, session: SessionDep, actor: CurrentActor):
    return webhooks.create_webhook(session, actor, body.url)


@router.get("/webhooks", response_model=list[WebhookOut], tags=["webhooks"])
def list_webhooks(session: SessionDep, actor: CurrentActor):
    stmt = sa.select(WebhookSubscription).where(WebhookSubscription.user_id == actor.user_id)
    return session.scalars(stmt.order_by(WebhookSubscription.id)).all()


@router.delete("/webhooks/{sub_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["webhooks"])
def delete_webhook(sub_id: int, session: SessionDep, actor: CurrentActor) -> None:
    webhooks.delete_webhook(session, actor, sub_id)


DeliveryStatus = Annotated[
    Literal["pending", "delivered", "failed"] | None, Query(description="only deliveries in this state")
]


@router.get("/webhooks/{sub_id}/deliveries", response_model=list[DeliveryOut], tags=["webhooks"])
def deliveries(sub_id: int, session: SessionDep, actor: CurrentActor, status: DeliveryStatus = None):
    """The delivery log of one of your webhooks, newest first (200 at most)."""
    return webhooks.list_deliveries(session, actor, subscription_id=sub_id, status=status)


@router.get("/webhook-deliveries", response_model=list[DeliveryOut], tags=["webhooks"])
def all_deliveries(session: SessionDep, actor: CurrentActor, status: DeliveryStatus = None):
    """Deliveries of all your webhooks (the bureau: everyone's), newest first; `?status=failed` for those to redo."""
    return webhooks.list_deliveries(session, actor, status=status)


@router.post("/webhook-deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, tags=["webhooks"])
def redeliver(delivery_id: int, session: SessionDep, actor: CurrentActor):
    """Send a failed (or delivered) notification again, from the start of the retry schedule (audited)."""
    return webhooks.redeliver(session, actor, delivery_id)
