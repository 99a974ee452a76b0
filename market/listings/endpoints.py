"""HTTP endpoints for achievements (/achievements) and demands (/demands)."""

from enum import Enum
from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from market.accounts.security import API_KEY_PREFIX
from market.auth.dependencies import BearerToken, CurrentActor, OptionalActor, actor_for, get_actor
from market.core.deps import SessionDep, in_unit_of_work
from market.core.errors import Unauthorized
from market.core.pagination import Page, PageDep
from market.core.types import MoneyIn
from market.core.vocab import (
    IP_TYPE_LABELS,
    MATURITY_LABELS,
    TECHNICAL_FIELD_LABELS,
    TRANSFER_MODE_LABELS,
    Maturity,
    TechnicalField,
    TransferMode,
)
from market.evaluations import service as evaluations
from market.listings import service
from market.listings.schemas import (
    AchievementIn,
    AchievementOut,
    AchievementPatch,
    DemandIn,
    DemandOut,
    DemandPatch,
    EvaluationBlock,
    HistoryEntry,
    TransitionIn,
)

router = APIRouter(prefix="/api/v1")


async def _credentials_sent(request: Request, token: BearerToken) -> str | None:
    """A create needs credentials: without any, a 401 before the body is validated (no database needed).

    An API key (mkt_a_…) acts only within its scopes: one without this route's is refused before the body is
    read, as on every other route (a trip of its own; a session token's create still makes one).
    """
    secret = token or request.headers.get("X-API-Key")
    if not secret:
        raise Unauthorized(headers={"WWW-Authenticate": "Bearer"})
    if secret.startswith(API_KEY_PREFIX):
        await in_unit_of_work(lambda session: actor_for(session, request, token), write=False)
    return token


def _json(model: BaseModel, status_code: int = 200) -> Response:
    """The response body, serialised once (FastAPI would validate the model again against `response_model`)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


@router.get("/catalog", tags=["listings"])
def catalog() -> dict[str, Any]:
    """The controlled vocabularies: codes and their Chinese labels."""
    return {
        "technical_fields": {k.value: v for k, v in TECHNICAL_FIELD_LABELS.items()},
        "maturity": {k.value: v for k, v in MATURITY_LABELS.items()},
        "transfer_modes": {k.value: v for k, v in TRANSFER_MODE_LABELS.items()},
        "ip_types": {k.value: v for k, v in IP_TYPE_LABELS.items()},
    }


def _shown(session: Session, kind: str, out: list[Any]) -> list[Any]:
    """Achievements show their latest finished evaluation (one query for the whole page)."""
    if kind == "achievement" and out:
        found = evaluations.summaries(session, [o.id for o in out])
        for o in out:
            if o.id in found:
                o.evaluation = EvaluationBlock(**found[o.id].public())
    return out


def _routes(
    kind: service.Kind,
    path: str,
    create_model: type[BaseModel],
    patch_model: type[BaseModel],
    out_model: type[BaseModel],
    label: str,
) -> None:
    tags: list[str | Enum] = [f"{kind}s"]
    # The models are chosen per kind at run time; to mypy a variable is not a type (hence the ignores below).

    def one(session: Session, listing: Any) -> Any:
        return _shown(session, kind, [out_model.model_validate(listing)])[0]

    # The hot paths (create, list, get) are async and do all their database work, the actor's credential
    # included, in one trip to the worker threads (`in_unit_of_work`): with SessionDep, OptionalActor and a
    # sync endpoint a request made three (a create) or two (a list) trips, each a GIL hand-off that a loaded
    # worker process queues for. Their responses are serialised once, in that trip.
    async def create(
        token: Annotated[str | None, Depends(_credentials_sent)],
        body: Annotated[create_model, Body()],  # type: ignore[valid-type]  # see above
        request: Request,
    ):
        data = cast(BaseModel, body).model_dump()

        def work(session: Session) -> Response:
            actor = get_actor(actor_for(session, request, token))
            listing = service.create_listing(session, actor, kind, data)
            # a new draft has no finished evaluation: nothing to look up
            return _json(out_model.model_validate(listing), status.HTTP_201_CREATED)

        return await in_unit_of_work(work)

    async def list_(
        request: Request,
        token: BearerToken,
        page: PageDep,
        technical_field: TechnicalField | None = None,
        maturity: Annotated[Maturity | None, Query(description="成熟度 (for demands: wanted maturity)")] = None,
        mode: Annotated[TransferMode | None, Query(description="transfer / cooperation mode it offers")] = None,
        region_code: Annotated[
            str | None, Query(pattern=r"^\d{2,6}$", description="prefix-aware: 330200 = Ningbo")
        ] = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
        org_id: int | None = None,
        min_price: Annotated[MoneyIn | None, Query(ge=0, description="minimum price / budget in yuan")] = None,
        max_price: Annotated[MoneyIn | None, Query(ge=0, description="maximum price / budget in yuan")] = None,
        include_negotiable: Annotated[bool, Query(description="with a price range: also list 面议 ones")] = False,
        negotiable: Annotated[bool | None, Query(description="only 面议 (true) or only priced (false)")] = None,
        q: Annotated[str | None, Query(max_length=100, description="title contains")] = None,
        sort: Annotated[
            str, Query(description="published_at, created_at, updated_at, price, id; '-' = descending")
        ] = "-published_at",
    ):
        filters = {
            "technical_field": technical_field,
            "maturity": maturity,
            "mode": mode,
            "region_code": region_code,
            "status": status_,
            "org_id": org_id,
            "min_amount": min_price,
            "max_amount": max_price,
            "include_negotiable": include_negotiable,
            "negotiable": negotiable,
            "q": q,
            "sort": sort,
        }

        def work(session: Session) -> Response:
            actor = actor_for(session, request, token)
            items, total = service.list_listings(session, actor, kind, filters, page)
            listed = _shown(session, kind, [out_model.model_validate(i) for i in items])
            paged = Page[out_model](items=listed, total=total, page=page.page, page_size=page.page_size)  # type: ignore[valid-type]  # see above
            return _json(paged)

        return await in_unit_of_work(work, write=False)

    async def get(listing_id: int, request: Request, token: BearerToken):
        def work(session: Session) -> Response:
            listing = service.get_visible(session, actor_for(session, request, token), kind, listing_id)
            return _json(one(session, listing))

        return await in_unit_of_work(work, write=False)

    def patch(listing_id: int, body: Annotated[patch_model, Body()], session: SessionDep, actor: CurrentActor):  # type: ignore[valid-type]  # see above
        listing = service.update_listing(
            session, actor, kind, listing_id, cast(BaseModel, body).model_dump(exclude_unset=True)
        )
        return one(session, listing)

    def transition(listing_id: int, body: TransitionIn, session: SessionDep, actor: CurrentActor):
        listing = service.get_manageable(session, actor, kind, listing_id)
        return one(session, service.transition(session, actor, listing, body.action, body.note))

    def history(listing_id: int, session: SessionDep, actor: OptionalActor):
        return [HistoryEntry.model_validate(e) for e in service.history(session, actor, kind, listing_id)]

    router.add_api_route(
        f"/{path}",
        create,
        methods=["POST"],
        response_model=out_model,
        status_code=status.HTTP_201_CREATED,
        tags=tags,
        summary=f"Create a draft {label}",
    )
    router.add_api_route(
        f"/{path}",
        list_,
        methods=["GET"],
        response_model=Page[out_model],  # type: ignore[valid-type]  # see above
        tags=tags,
        summary=f"List and filter {label}s (public ones, plus your own drafts)",
    )
    router.add_api_route(
        f"/{path}/{{listing_id}}",
        get,
        methods=["GET"],
        response_model=out_model,
        tags=tags,
        summary=f"Read one {label}",
    )
    router.add_api_route(
        f"/{path}/{{listing_id}}",
        patch,
        methods=["PATCH"],
        response_model=out_model,
        tags=tags,
        summary=f"Edit a {label} (owner organisation or bureau admin)",
    )
    router.add_api_route(
        f"/{path}/{{listing_id}}/transitions",
        transition,
        methods=["POST"],
        response_model=out_model,
        tags=tags,
        summary="publish / mark_matched / mark_negotiating / close / withdraw / reopen",
    )
    router.add_api_route(
        f"/{path}/{{listing_id}}/history",
        history,
        methods=["GET"],
        response_model=list[HistoryEntry],
        tags=tags,
        summary="Audit log of the listing (owner organisation and bureau)",
    )


_routes("achievement", "achievements", AchievementIn, AchievementPatch, AchievementOut, "achievement (科技成果)")
_routes("demand", "demands", DemandIn, DemandPatch, DemandOut, "demand (技术需求)")
