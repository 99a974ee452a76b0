"""The synonym dictionary the bureau edits, and the term extractor built from it (cached per process)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.core import audit, outbox
from market.core.db import after_commit, json_array_contains, utcnow
from market.core.deps import Actor
from market.core.errors import NotFound, ValidationFailed
from market.core.pagination import PageParams, paginate
from market.listings.models import Achievement, Demand
from market.matching.models import SynonymGroup
from search import documents
from search.synonyms import Thesaurus, normalise
from search.terms import TermExtractor, shipped_vocabulary

# -- the dictionary, cached per process and refreshed when the bureau edits it --------------------

_cache: dict[str, Any] = {"stamp": None, "checked": 0.0, "extractor": None}
CACHE_SECONDS = 5.0


def _stamp(session: Session) -> tuple[int, Any]:
    count, last = session.execute(sa.select(sa.func.count(), sa.func.max(SynonymGroup.updated_at))).one()
    return int(count), last


def current_extractor(session: Session) -> TermExtractor:
    now = time.monotonic()
    if _cache["extractor"] is not None and now - _cache["checked"] < CACHE_SECONDS:
        return _cache["extractor"]
    stamp = _stamp(session)
    if stamp != _cache["stamp"] or _cache["extractor"] is None:
        groups = session.scalars(sa.select(SynonymGroup.terms).order_by(SynonymGroup.id)).all()
        thesaurus = Thesaurus.of(groups)
        _cache.update(extractor=TermExtractor(thesaurus, shipped_vocabulary()), stamp=stamp)
    _cache["checked"] = now
    return _cache["extractor"]


def reset_cache() -> None:
    _cache.update(stamp=None, checked=0.0, extractor=None)


# -- edits ----------------------------------------------------------------------------------------

MAX_TERMS = 30


def _clean_terms(terms: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in terms if t and t.strip()))
    if len(cleaned) < 2:
        raise ValidationFailed.field("terms", "synonyms_too_few", "a synonym group needs at least two distinct terms")
    if len(cleaned) > MAX_TERMS:
        raise ValidationFailed.field("terms", "synonyms_too_many", f"at most {MAX_TERMS} terms per group")
    for t in cleaned:
        if len(t) > 40 or "," in t or "，" in t:
            raise ValidationFailed.field(
                "terms", "synonym_invalid", f"'{t}' is not a valid term (≤ 40 chars, no commas)"
            )
    return cleaned


def _reload_dictionary_after_commit(session: Session) -> None:
    # this process at once; the others within CACHE_SECONDS (they compare the table's count and last change)
    after_commit(session, reset_cache)


def _reindex_listings_using(session: Session, terms: list[str]) -> int:
    """Index again the public listings that use a term the dictionary did not know: their documents carry
    the dictionary terms found in them, and matching compares those. Same transaction as the edit (outbox)."""
    new = sorted({normalise(t) for t in terms} - current_extractor(session).segmenter.words)
    if not new:
        return 0
    queued = 0
    listings: tuple[tuple[str, type[Achievement] | type[Demand], Any], ...] = (
        ("achievement", Achievement, Achievement.summary),
        ("demand", Demand, Demand.description),
    )
    for kind, model, body in listings:
        uses = [
            c
            for t in new
            for c in (
                model.title.icontains(t, autoescape=True),
                body.icontains(t, autoescape=True),
                json_array_contains(model.keywords, t),
            )
        ]
        ids = session.scalars(sa.select(model.id).where(model.status.in_(documents.PUBLIC_STATES), sa.or_(*uses)))
        for listing_id in ids:
            outbox.emit(session, outbox.SEARCH_INDEX, kind, listing_id)
            queued += 1
    return queued


def create_synonym_group(session: Session, actor: Actor, terms: list[str]) -> SynonymGroup:
    cleaned = _clean_terms(terms)
    queued = _reindex_listings_using(session, cleaned)  # against the dictionary before this edit
    group = SynonymGroup(terms=cleaned, updated_by=actor.user_id)
    session.add(group)
    session.flush()
    audit.record(
        session,
        entity_type="synonym_group",
        entity_id=group.id,
        action="create",
        actor=actor,
        detail={"terms": cleaned, "reindexed": queued},
    )
    _reload_dictionary_after_commit(session)
    return group


def update_synonym_group(session: Session, actor: Actor, group_id: int, terms: list[str]) -> SynonymGroup:
    group = session.get(SynonymGroup, group_id)
    if group is None:
        raise NotFound(f"synonym group {group_id} not found", code="synonym_group_not_found")
    cleaned = _clean_terms(terms)
    queued = _reindex_listings_using(session, cleaned)  # against the dictionary before this edit
    before = list(group.terms)
    group.terms = cleaned
    group.updated_by = actor.user_id
    group.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        entity_type="synonym_group",
        entity_id=group.id,
        action="update",
        actor=actor,
        detail={"from": before, "to": cleaned, "reindexed": queued},
    )
    _reload_dictionary_after_commit(session)
    return group


def delete_synonym_group(session: Session, actor: Actor, group_id: int) -> None:
    group = session.get(SynonymGroup, group_id)
    if group is None:
        raise NotFound(f"synonym group {group_id} not found", code="synonym_group_not_found")
    audit.record(
        session,
        entity_type="synonym_group",
        entity_id=group.id,
        action="delete",
        actor=actor,
        detail={"terms": list(group.terms)},
    )
    session.delete(group)
    session.flush()
    _reload_dictionary_after_commit(session)


def list_synonym_groups(session: Session, term: str | None, page: PageParams) -> tuple[list[SynonymGroup], int]:
    stmt = sa.select(SynonymGroup).order_by(SynonymGroup.id)
    if not term:
        return paginate(session, stmt, page)
    # JSON containment differs across databases; the dictionary is small enough to filter here.
    t = normalise(term)
    hits = [g for g in session.scalars(stmt) if any(t in normalise(x) for x in g.terms)]
    return hits[page.offset : page.offset + page.page_size], len(hits)
