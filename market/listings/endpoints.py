"""HTTP endpoints for achievements (/achievements) and demands (/demands)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from sqlalchemy.orm import Session

from market.core.deps import CurrentActor, OptionalActor, SessionDep
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


def _routes(kind: str, path: str, create_model: type, patch_model: type, out_model: type, label: str) -> None:
    tags = [f"{kind}s"]

    def one(session: Session, listing: Any) -> Any:
        return _shown(session, kind, [out_model.model_validate(listing)])[0]

    def create(body: Annotated[create_model, Body()], session: SessionDep, actor: CurrentActor):  # type: ignore[valid-type]
        listing = service.create_listing(session, actor, kind, body.model_dump())
        return one(session, listing)

    def list_(
        session: SessionDep,
        actor: OptionalActor,
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
        items, total = service.list_listings(session, actor, kind, filters, page)
        return Page(
            items=_shown(session, kind, [out_model.model_validate(i) for i in items]),
            total=total,
            page=page.page,
            page_size=page.page_size,
        )

    def get(listing_id: int, session: SessionDep, actor: OptionalActor):
        return one(session, service.get_visible(session, actor, kind, listing_id))

    def patch(listing_id: int, body: Annotated[patch_model, Body()], session: SessionDep, actor: CurrentActor):  # type: ignore[valid-type]
        listing = service.update_listing(session, actor, kind, listing_id, body.model_dump(exclude_unset=True))
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
        response_model=Page[out_model],
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
