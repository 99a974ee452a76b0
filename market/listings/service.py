"""Create, edit, move through their lifecycle, find and list achievements and demands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.roles import Role
from market.core import audit, outbox, regions
from market.core.db import json_array_contains, to_money, utcnow
from market.core.deps import Actor
from market.core.errors import Forbidden, InvalidState, MarketError, NotFound, ValidationFailed
from market.core.pagination import PageParams, paginate
from market.listings import rules
from market.listings.models import Achievement, Demand
from market.listings.schemas import NEGOTIABLE

Kind = Literal["achievement", "demand"]
MODELS: dict[str, type[Achievement] | type[Demand]] = {"achievement": Achievement, "demand": Demand}
# The price-like field of each kind: (amount column, negotiable flag, modes column).
PRICE_FIELDS = {"achievement": ("asking_price", "price_negotiable"), "demand": ("budget", "budget_negotiable")}
MODES_FIELD = {"achievement": "transfer_modes", "demand": "cooperation_modes"}


def _model(kind: str) -> type[Achievement] | type[Demand]:
    try:
        return MODELS[kind]
    except KeyError:
        raise NotFound(f"unknown listing kind '{kind}'") from None


def _assign(listing: Achievement | Demand, kind: str, data: dict[str, Any]) -> None:
    amount_field, negotiable_field = PRICE_FIELDS[kind]
    for key, value in data.items():
        if key == amount_field:
            if value == NEGOTIABLE:
                setattr(listing, amount_field, None)
                setattr(listing, negotiable_field, True)
            else:
                setattr(listing, amount_field, to_money(Decimal(str(value))))
                setattr(listing, negotiable_field, False)
        elif key == "deadline" and isinstance(value, str):
            listing.deadline = dt.date.fromisoformat(value)
        elif isinstance(value, list):
            setattr(listing, key, [str(v) for v in value])
        else:
            setattr(listing, key, value.value if hasattr(value, "value") else value)


def _can_manage(actor: Actor, listing: Achievement | Demand) -> bool:
    return (
        actor.org_id == listing.org_id
        and actor.role in (Role.org_admin, Role.member)
        or (actor.role == Role.bureau_admin)
    )


def _changed(session: Session, kind: str, listing: Achievement | Demand) -> None:
    """Every change bumps the version and tells the search index, in the same transaction."""
    session.flush()
    outbox.emit(session, outbox.SEARCH_INDEX, kind, listing.id, {"version": listing.version})


def create_listing(session: Session, actor: Actor, kind: Kind, data: dict[str, Any]) -> Achievement | Demand:
    """A new draft listing owned by the actor's organisation."""
    if actor.role not in (Role.org_admin, Role.member):
        raise Forbidden("listings are posted by an organisation's members", code="role_required")
    if kind == "demand" and actor.org_kind not in ("enterprise", "institute", "university", "other"):
        raise Forbidden("demands are posted by enterprises and research organisations", code="org_kind_not_allowed")
    listing = _model(kind)(org_id=actor.org_id, created_by=actor.user_id, status=rules.DRAFT, version=1)
    _assign(listing, kind, data)
    session.add(listing)
    session.flush()
    audit.record(session, entity_type=kind, entity_id=listing.id, action="create", actor=actor, to_state=rules.DRAFT)
    _changed(session, kind, listing)
    return listing


def get_visible(session: Session, actor: Actor | None, kind: Kind, listing_id: int) -> Achievement | Demand:
    """The listing if the actor may see it; drafts and closed ones exist only for their owners and the bureau."""
    listing = session.get(_model(kind), listing_id)
    if listing is None or not is_visible(actor, listing):
        raise NotFound(f"{kind} {listing_id} not found", code="listing_not_found")
    return listing


def visible_row(session: Session, actor: Actor | None, kind: Kind, listing_id: int) -> sa.Row[Any]:
    """`get_visible` for reading only: the listing's columns as a Row, without the ORM's identity bookkeeping.

    Matching reads a listing on every request and changes nothing; a Row costs about half an ORM load.
    """
    table = _model(kind).__table__
    row = session.execute(sa.select(table).where(table.c.id == listing_id)).first()
    if row is None or not is_visible(actor, row):
        raise NotFound(f"{kind} {listing_id} not found", code="listing_not_found")
    return row


def is_visible(actor: Actor | None, listing: Achievement | Demand | sa.Row[Any]) -> bool:
    if listing.status in rules.PUBLIC_STATES:
        return True
    return actor is not None and (actor.org_id == listing.org_id or actor.is_bureau)


def get_manageable(session: Session, actor: Actor, kind: Kind, listing_id: int) -> Achievement | Demand:
    listing = get_visible(session, actor, kind, listing_id)
    if not _can_manage(actor, listing):
        raise Forbidden("only the owning organisation or a bureau admin may change this listing", code="not_owner")
    return listing


def update_listing(session: Session, actor: Actor, kind: Kind, listing_id: int, changes: dict[str, Any]):
    listing = get_manageable(session, actor, kind, listing_id)
    if listing.status not in rules.EDITABLE_STATES:
        raise InvalidState(
            f"a {listing.status} listing cannot be edited; re-open it first", code="listing_not_editable"
        )
    if not changes:
        return listing
    _assign(listing, kind, changes)
    listing.version += 1
    audit.record(
        session,
        entity_type=kind,
        entity_id=listing.id,
        action="edit",
        actor=actor,
        from_state=listing.status,
        to_state=listing.status,
        detail={"fields": sorted(changes)},
    )
    _changed(session, kind, listing)
    return listing


def transition(
    session: Session, actor: Actor, listing: Achievement | Demand, action: str, note: str | None = None
) -> Achievement | Demand:
    kind = "achievement" if isinstance(listing, Achievement) else "demand"
    if not _can_manage(actor, listing):
        raise Forbidden("only the owning organisation or a bureau admin may change this listing", code="not_owner")
    org_verified = actor.org_verified if actor.org_id == listing.org_id else _org_verified(session, listing.org_id)
    try:
        target = rules.next_state(listing.status, action, org_verified=org_verified)
    except rules.TransitionRefused as refused:
        status = 403 if refused.code == "organisation_not_verified" else 409
        err = MarketError(refused.message, code=refused.code)
        err.status_code = status
        raise err from None
    before = listing.status
    listing.status = target
    now = utcnow()
    if target == rules.PUBLISHED and before == rules.DRAFT:
        listing.published_at = now
    if target in (rules.CLOSED, rules.WITHDRAWN):
        listing.closed_at = now
    if action == "reopen":
        listing.closed_at = None
    listing.version += 1
    audit.record(
        session,
        entity_type=kind,
        entity_id=listing.id,
        action=action,
        actor=actor,
        from_state=before,
        to_state=target,
        detail={"note": note} if note else None,
    )
    _changed(session, kind, listing)
    return listing


def _org_verified(session: Session, org_id: int) -> bool:
    from market.accounts.models import Organisation

    return session.scalar(sa.select(Organisation.verification_status).where(Organisation.id == org_id)) == "verified"


def list_listings(
    session: Session, actor: Actor | None, kind: Kind, filters: dict[str, Any], page: PageParams
) -> tuple[list, int]:
    """Filtered, paginated listings the actor may see (public ones, plus own drafts; bureau sees all)."""
    model = _model(kind)
    stmt = sa.select(model)
    visible = model.status.in_(rules.PUBLIC_STATES)
    if actor is not None and actor.is_bureau:
        visible = sa.true()
    elif actor is not None:
        visible = sa.or_(visible, model.org_id == actor.org_id)
    stmt = stmt.where(visible)
    if filters.get("status"):
        stmt = stmt.where(model.status == filters["status"])
    if filters.get("technical_field"):
        stmt = stmt.where(model.technical_field == filters["technical_field"])
    if filters.get("org_id"):
        stmt = stmt.where(model.org_id == filters["org_id"])
    if filters.get("region_code"):
        # A region code with trailing zeros covers its subdivisions: 330200 is all of Ningbo (330110 is itself).
        prefix = regions.region_prefix(filters["region_code"])
        stmt = stmt.where(model.region_code.startswith(prefix))
    maturity_col = model.maturity if kind == "achievement" else model.wanted_maturity
    if filters.get("maturity"):
        stmt = stmt.where(maturity_col == filters["maturity"])
    if filters.get("mode"):
        stmt = stmt.where(json_array_contains(getattr(model, MODES_FIELD[kind]), filters["mode"]))
    if filters.get("q"):
        stmt = stmt.where(model.title.contains(filters["q"], autoescape=True))
    amount_field, negotiable_field = PRICE_FIELDS[kind]
    amount, negotiable = getattr(model, amount_field), getattr(model, negotiable_field)
    lo, hi = filters.get("min_amount"), filters.get("max_amount")
    if lo is not None or hi is not None:
        if lo is not None and hi is not None and lo > hi:
            raise ValidationFailed.field("min_price", "invalid_range", "the minimum is above the maximum")
        in_range = sa.and_(
            amount.is_not(None),
            amount >= lo if lo is not None else sa.true(),
            amount <= hi if hi is not None else sa.true(),
        )
        stmt = stmt.where(sa.or_(in_range, negotiable) if filters.get("include_negotiable") else in_range)
    if filters.get("negotiable") is not None:
        stmt = stmt.where(negotiable.is_(bool(filters["negotiable"])))
    order = filters.get("sort") or "-published_at"
    column = {
        "published_at": model.published_at,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "price": amount,
        "id": model.id,
    }.get(order.lstrip("-"))
    if column is None:
        raise ValidationFailed.field(
            "sort", "invalid_sort", "sort by published_at, created_at, updated_at, price or id"
        )
    ordering = column.desc().nulls_last() if order.startswith("-") else column.asc().nulls_last()
    stmt = stmt.order_by(ordering, model.id.desc())
    return paginate(session, stmt, page)


def history(session: Session, actor: Actor | None, kind: Kind, listing_id: int) -> list[audit.AuditEntry]:
    listing = get_visible(session, actor, kind, listing_id)
    if actor is None or not (actor.org_id == listing.org_id or actor.is_bureau):
        raise Forbidden("a listing's history is for its organisation and the bureau", code="history_forbidden")
    return audit.history(session, kind, listing.id)
