"""Saved searches: what their owners watch, whether they may still see it, and the notifications they raise."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.auth.actor import Actor
from market.core import audit, outbox
from market.core.config import get_settings
from market.core.db import session_scope
from market.core.errors import NotFound, ValidationFailed
from market.matching.indexing import NOTIFY_TOPIC
from market.matching.listings import ENDED_STATES, OTHER_SIDE, get_listing, load_listing
from market.matching.match import match_listing
from market.matching.models import Notification, SavedSearch
from market.matching.notifications import WEBHOOK_TOPIC, pending_deliveries, queue_deliveries
from market.matching.searching import meaning_of
from market.matching.synonyms import current_extractor
from search import documents, query, runtime
from search.settings import index_uid

log = logging.getLogger(__name__)


def create_saved_search(session: Session, actor: Actor, data: dict[str, Any]) -> SavedSearch:
    if data.get("source_type"):
        listing = get_listing(session, actor, data["source_type"], data["source_id"])
        target = OTHER_SIDE[data["source_type"]]
        query_text = None
        source_id = listing.id
    else:
        if not (data.get("query") or "").strip():
            raise ValidationFailed.field("query", "query_required", "give a query, or a listing to match")
        target, query_text, source_id = data["target"], data["query"].strip(), None
    saved = SavedSearch(
        user_id=actor.user_id,
        name=data["name"],
        target=target,
        query=query_text,
        filters=data.get("filters") or {},
        source_type=data.get("source_type"),
        source_id=source_id,
        min_score=data.get("min_score", 50),
        active=True,
    )
    session.add(saved)
    session.flush()
    audit.record(
        session,
        entity_type="saved_search",
        entity_id=saved.id,
        action="create",
        actor=actor,
        detail={"target": target, "query": query_text, "source_type": saved.source_type, "source_id": source_id},
    )
    return saved


def delete_saved_search(session: Session, actor: Actor, saved_id: int) -> None:
    saved = own_saved_search(session, actor, saved_id)
    audit.record(
        session,
        entity_type="saved_search",
        entity_id=saved.id,
        action="delete",
        actor=actor,
        detail={"name": saved.name},
    )
    session.delete(saved)
    session.flush()


def own_saved_search(session: Session, actor: Actor, saved_id: int) -> SavedSearch:
    saved = session.get(SavedSearch, saved_id)
    if saved is None or saved.user_id != actor.user_id:
        raise NotFound(f"saved search {saved_id} not found", code="saved_search_not_found")
    return saved


def _filters_of(saved: SavedSearch, listing_id: int) -> query.SearchFilters:
    f = dict(saved.filters or {})
    for money in ("min_price", "max_price"):
        if f.get(money) is not None:
            f[money] = Decimal(str(f[money]))
    return query.SearchFilters(**f, only_ids=[listing_id])


def evaluate(session: Session, saved: SavedSearch, kind: str, listing_id: int) -> dict[str, Any] | None:
    """Does the (indexed, public) listing fit this saved search? The hit's detail, or None."""
    if not saved.source_type:
        return evaluate_queries(session, [saved], kind, listing_id).get(saved.id)
    source = load_listing(session, saved.source_type, saved.source_id)
    if source is None or source.status in ENDED_STATES:  # its owner no longer looks
        return None
    result = match_listing(session, saved.source_type, source, limit=1, filters=_filters_of(saved, listing_id))
    if not result["items"] or result["items"][0]["score"] * 100 < saved.min_score:
        return None
    item = result["items"][0]
    return {"score": item["score"], "matched_terms": item["matched_terms"], "title": item["listing"]["title"]}


# -- access: a saved search only evaluates what its owner may see now ------------------------------

# Why a saved search paused itself (shown to its owner as `paused_reason`).
PAUSED_SOURCE_NOT_VISIBLE = "source_not_visible"  # the watched listing went back to draft, or was deleted
PAUSED_OWNER_DISABLED = "owner_disabled"


def owner_still_sees_source(session: Session, saved: SavedSearch) -> bool:
    """May the saved search's owner, as of now, see what it evaluates? If not, it pauses and says why.

    A "match for my listing" reads its source listing's full text: evaluated for someone who may no longer
    see that listing (its owner took it back to draft), it would leak the draft's terms into their inbox.
    """
    from market.accounts.models import User
    from market.accounts.service import actor_for_user
    from market.listings import service as listings

    owner = session.get(User, saved.user_id)
    reason = None
    if owner is None or not owner.is_active:
        reason = PAUSED_OWNER_DISABLED
    elif saved.source_type:
        source = load_listing(session, saved.source_type, saved.source_id)
        if source is None or not listings.is_visible(actor_for_user(session, owner), source):
            reason = PAUSED_SOURCE_NOT_VISIBLE
    if reason is None:
        return True
    if not saved.active and saved.paused_reason == reason:
        return False  # already paused, already said why
    saved.active, saved.paused_reason = False, reason
    audit.record(
        session,
        entity_type="saved_search",
        entity_id=saved.id,
        action="pause",
        from_state="active",
        to_state="paused",
        detail={"reason": reason},
    )
    session.flush()
    log.info("saved search %s paused: %s", saved.id, reason)
    return False


# Queries per Meilisearch request when saved searches are checked against a new listing.
QUERIES_PER_REQUEST = 200


def evaluate_queries(
    session: Session, saved_searches: list[SavedSearch], kind: str, listing_id: int
) -> dict[int, dict[str, Any]]:
    """Query saved searches the new listing fits, by id: all of them checked in a few multi-search requests.

    Each saved search is its public search restricted to this one listing (synonym variants included,
    at the weight search gives them); it fits when any of its queries finds the listing.
    """
    extractor = current_extractor(session)
    uid = index_uid(kind)
    floor = query.similarity_floor(get_settings().embeddings_min_similarity)
    owners: list[tuple[int, float, float]] = []  # per query: (saved search id, weight, least score that fits)
    queries: list[dict[str, Any]] = []
    for saved in saved_searches:
        q = saved.query or ""
        variants = extractor.variants(extractor.terms(q)) if q.strip() else []
        federated, _, body = query.search_request(
            uid,
            kind,
            q,
            variants,
            _filters_of(saved, listing_id),
            sort="relevance",
            offset=0,
            limit=1,
            **meaning_of(q, "relevance"),
        )
        for one in federated or [{**(body or {}), "indexUid": uid}]:
            weight = one.get("federationOptions", {}).get("weight", 1.0)
            # a semantic query is unrestricted by similarity (no threshold: see search.query): its filter (this one
            # listing) and limit bound it, and its hit must reach the similarity floor
            queries.append({k: v for k, v in one.items() if k not in ("federationOptions", "facets")} | {"limit": 1})
            owners.append((saved.id, weight, floor if "vector" in one else 0.0))
    fits: dict[int, dict[str, Any]] = {}
    client = runtime.get_client()
    for start in range(0, len(queries), QUERIES_PER_REQUEST):
        results = client.multi_search(queries[start : start + QUERIES_PER_REQUEST])["results"]
        for (saved_id, weight, least), result in zip(owners[start : start + QUERIES_PER_REQUEST], results, strict=True):
            if not result["hits"] or result["hits"][0].get("_rankingScore", 0.0) < least:
                continue
            hit = result["hits"][0]
            score = round(weight * hit.get("_rankingScore", 0.0), 4)
            if saved_id not in fits or score > fits[saved_id]["score"]:
                fits[saved_id] = {"score": score, "title": hit.get("title")}
    return fits


def notify_for_listing(session: Session, kind: str, listing_id: int) -> list[int]:
    """Create inbox entries (and webhook deliveries) for every saved search the new listing fits."""
    listing = load_listing(session, kind, listing_id)
    if listing is None or listing.status not in documents.PUBLIC_STATES:
        return []
    searches = session.scalars(
        sa.select(SavedSearch).where(SavedSearch.target == kind, SavedSearch.active.is_(True)).order_by(SavedSearch.id)
    ).all()
    if not searches:
        return []
    done = set(
        session.scalars(
            sa.select(Notification.saved_search_id).where(
                Notification.listing_type == kind, Notification.listing_id == listing_id
            )
        )
    )
    pending = [s for s in searches if s.id not in done and not (s.source_type == kind and s.source_id == listing_id)]
    # query searches in a few requests together; a "match for my listing" is a match of its own
    fitting_queries = evaluate_queries(session, [s for s in pending if not s.source_type], kind, listing_id)
    created: list[int] = []
    for saved in pending:
        if not owner_still_sees_source(session, saved):  # access at this moment, not when it was saved
            continue
        detail = evaluate(session, saved, kind, listing_id) if saved.source_type else fitting_queries.get(saved.id)
        if detail is None:
            continue
        note = Notification(
            user_id=saved.user_id,
            saved_search_id=saved.id,
            listing_type=kind,
            listing_id=listing_id,
            title=f"「{saved.name}」有新匹配: {listing.title}"[:300],
            detail={**detail, "saved_search": saved.name},
        )
        session.add(note)
        session.flush()
        queue_deliveries(session, [note])
        created.append(note.id)
    session.flush()
    return created


def notify_saved_searches(kind: str, listing_id: int) -> list[int]:
    """Inbox entries and webhook deliveries for one listing now in the index (the NOTIFY_TOPIC handler)."""
    with session_scope() as session:
        created = notify_for_listing(session, kind, listing_id)
        if pending_deliveries(session, created):
            outbox.nudge_after_commit(session, WEBHOOK_TOPIC)
    return created


def drain_notifications(limit: int = 50) -> dict[str, int]:
    """Check saved searches against every listing the index drain found public (worker, beat and CLI alike)."""

    def notify(kind: str, listing_id: int, _payload: object) -> None:
        notify_saved_searches(kind, listing_id)

    return outbox.drain_topic(NOTIFY_TOPIC, notify, limit=limit)
