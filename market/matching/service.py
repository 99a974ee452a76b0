"""Search, match, synonyms, saved searches, the inbox and webhooks: the market side of Meilisearch."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.auth.actor import Actor
from market.core import audit, outbox
from market.core.db import after_commit, is_sqlite, json_array_contains, session_scope, utcnow
from market.core.errors import InvalidState, NotFound, ValidationFailed
from market.core.pagination import PageParams, paginate
from market.listings.models import Achievement, Demand
from market.matching.models import Notification, SavedSearch, SynonymGroup, WebhookDelivery, WebhookSubscription
from search import documents, embeddings, explain, indexer, query, runtime, scoring, vectors
from search.scoring import Facts, explain_fused, fuse_ranks, fused_score, rank_score, score_pair, text_relevance
from search.settings import index_uid
from search.synonyms import Thesaurus, normalise
from search.terms import ConceptMatcher, TermExtractor, shipped_vocabulary

log = logging.getLogger(__name__)

OTHER_SIDE = {"demand": "achievement", "achievement": "demand"}
ENDED_STATES = frozenset({"closed", "withdrawn"})
MODELS = {"achievement": Achievement, "demand": Demand}
# A listing as matching reads it: the ORM object, or its columns as a Row (documents read attributes only).
Listing = Achievement | Demand | sa.Row[Any]

# -- the dictionary, cached per process and refreshed when the bureau edits it --------------------

_cache: dict[str, Any] = {"stamp": None, "checked": 0.0, "extractor": None}
CACHE_SECONDS = 5.0


def _stamp(session: Session) -> tuple[int, Any]:
    return tuple(session.execute(sa.select(sa.func.count(), sa.func.max(SynonymGroup.updated_at))).one())


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


# -- index upkeep --------------------------------------------------------------------------------


def apply_index_settings() -> None:
    """Create the indexes and apply their settings (idempotent; start-up and CLI)."""
    indexer.apply_settings(runtime.get_client())


def search_startup() -> None:
    """Web/worker start-up: register the outbox nudger and apply index settings if a Meilisearch is configured.

    Without MARKET_MEILI_URL the embedded runner starts Meilisearch first (runtime.get_client()),
    so a bare create_app() in another domain's tests never spawns a search engine.
    """
    import importlib

    from market.core.config import get_settings
    from search.client import SearchUnavailable

    with contextlib.suppress(ModuleNotFoundError):
        importlib.import_module("workers.search")  # registers the after-commit nudger
    if runtime.configured() or get_settings().meili_url:
        try:
            apply_index_settings()
        except SearchUnavailable:
            log.warning("Meilisearch unavailable at start-up; run `market search apply-settings` once it is up")


def drain_index(limit: int = indexer.BATCH) -> indexer.DrainResult:
    """Drain the search outbox; each listing found public gets a NOTIFY_TOPIC row (see drain_notifications)."""
    with session_scope() as session:
        extractor = current_extractor(session)
    return indexer.drain(runtime.get_client(), extractor, limit=limit)


def embed_pending(limit: int = vectors.BATCH) -> indexer.DrainResult:
    """The embedding pass of the drain: vectors for listings indexed without one (search/vectors.py)."""
    with session_scope() as session:
        extractor = current_extractor(session)
    return vectors.embed_pending(runtime.get_client(), extractor, limit=limit)


def embed_all(on_start=None, on_progress=None) -> dict[str, int]:
    """Every public listing embedded by the current model (`market search embed`, e.g. after a model change)."""
    apply_index_settings()  # the embedder's dimensions may have changed with the model
    with session_scope() as session:
        extractor = current_extractor(session)
    return vectors.embed_all(runtime.get_client(), extractor, on_start=on_start, on_progress=on_progress)


def reindex() -> dict[str, int]:
    with session_scope() as session:
        extractor = current_extractor(session)
    return indexer.reindex(runtime.get_client(), extractor)


def index_lag(session: Session) -> dict[str, Any]:
    return indexer.index_lag(session)


# -- presenting documents -----------------------------------------------------------------------


def _yuan(value: int | None) -> str | None:
    return None if value is None else str((Decimal(value) / 100).quantize(Decimal("0.01")))


def present(hit: dict[str, Any]) -> dict[str, Any]:
    """A search document as the API shows it: money back in yuan strings, 面议 spelled out."""
    out = {k: v for k, v in hit.items() if not k.startswith("_") and k not in ("terms", "version")}
    kind = hit.get("kind")
    if kind == "achievement":
        fen_value = out.pop("asking_price_fen", None)
        out["asking_price"] = "面议" if out.get("price_negotiable") else _yuan(fen_value)
    elif kind == "demand":
        fen_value = out.pop("budget_fen", None)
        out["budget"] = "面议" if out.get("budget_negotiable") else _yuan(fen_value)
    if "_formatted" in hit:
        out["highlight"] = {
            k: v for k, v in hit["_formatted"].items() if k in ("title", "summary", "description") and v
        }
    return out


def facts_of(kind: str, doc: dict[str, Any], extractor: TermExtractor, concepts: frozenset[str] | None = None) -> Facts:
    """Matching facts of a document; `concepts` overrides the document's own (e.g. those shared with a source)."""
    if concepts is None:
        concepts = frozenset(extractor.concept_keys(doc.get("terms") or []))
    if kind == "achievement":
        return Facts(
            doc.get("technical_field"),
            doc.get("maturity_rank"),
            doc.get("asking_price_fen"),
            bool(doc.get("price_negotiable")),
            frozenset(doc.get("transfer_modes") or []),
            doc.get("region_code"),
            concepts,
        )
    return Facts(
        doc.get("technical_field"),
        doc.get("wanted_maturity_rank"),
        doc.get("budget_fen"),
        bool(doc.get("budget_negotiable")),
        frozenset(doc.get("cooperation_modes") or []),
        doc.get("region_code"),
        concepts,
    )


def document_of(kind: str, listing: Listing, extractor: TermExtractor) -> dict[str, Any]:
    project = documents.achievement_document if kind == "achievement" else documents.demand_document
    return project(listing, "", extractor)


# -- search --------------------------------------------------------------------------------------


def search(
    session: Session, kind: str, q: str, filters: query.SearchFilters, *, sort: str, page: PageParams
) -> dict[str, Any]:
    """Public full-text search; query words are expanded through the synonym dictionary."""
    extractor = current_extractor(session)
    variants = extractor.variants(extractor.terms(q)) if q.strip() else []
    uid = index_uid(kind)
    queries, federation, body = query.search_request(
        uid,
        kind,
        q,
        variants,
        filters,
        sort=sort,
        offset=page.offset,
        limit=page.page_size,
        **_meaning_of(q, sort),
    )
    client = runtime.get_client()
    if body is not None:
        result = client.search(uid, body)
        facets = result.get("facetDistribution", {})
    else:
        result = client.multi_search(queries, federation)
        facets = result.get("facetsByIndex", {}).get(uid, {}).get("distribution", {})
    items = []
    for hit in result["hits"]:
        item = present(hit)
        item["relevance"] = round(hit.get("_rankingScore", 0.0), 4)
        items.append(item)
    return {
        "items": items,
        "total": result.get("estimatedTotalHits", result.get("totalHits", len(items))),
        "page": page.page,
        "page_size": page.page_size,
        "facets": facets,
        "expanded_terms": variants,
    }


def _meaning_of(q: str, sort: str) -> dict[str, Any]:
    """The query's vector (cached) for a relevance search, when an embedder is configured; else nothing."""
    from market.core.config import get_settings

    cache = embeddings.query_cache()
    if cache is None or sort != "relevance" or not q.strip():
        return {}
    vector = _query_vector(lambda: cache.one(q.strip(), "query"))
    if vector is None:
        return {}
    return {"vector": vector, "min_similarity": get_settings().embeddings_min_similarity}


def _query_vector(compute) -> list[float] | None:
    """A query's vector, or None when the embeddings service is down: search and match fall back to words."""
    try:
        return compute()
    except embeddings.EmbeddingsUnavailable:
        log.warning("embeddings unavailable: searching by words only", exc_info=True)
        return None


# -- match ---------------------------------------------------------------------------------------


def match_listing(
    session: Session,
    kind: str,
    listing: Listing,
    *,
    limit: int = 10,
    filters: query.SearchFilters | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """The other side's public listings that fit `listing`, best first, each with its reasons."""
    extractor = current_extractor(session)
    source = document_of(kind, listing, extractor)
    return match_document(extractor, kind, source, limit=limit, filters=filters, mode=mode, session=session)


MATCH_MODES = ("hybrid", "lexical", "semantic")
# Candidates the semantic query brings (beside the lexical federation's `query.MATCH_CANDIDATES`).
SEMANTIC_CANDIDATES = 60


def match_mode(mode: str | None = None) -> str:
    """hybrid when an embedder is configured, lexical without one (a request for more falls back to lexical)."""
    if embeddings.get_embedder() is None:
        return "lexical"
    return mode or "hybrid"


def match_document(
    extractor: TermExtractor,
    kind: str,
    source: dict[str, Any],
    *,
    limit: int = 10,
    filters: query.SearchFilters | None = None,
    mode: str | None = None,
    session: Session | None = None,
) -> dict[str, Any]:
    """Lexical candidates (concept queries, one federated request) and semantic candidates (the source's vector,
    one hybrid request), fused by rank (`fuse_ranks`) and scored with the structured fit; the lexical-only
    mode is the lexical ranking alone (`rank_score`). Only the candidates shown are explained."""
    mode = match_mode(mode)
    target = OTHER_SIDE[kind]
    uid = index_uid(target)
    flt = filters or query.SearchFilters()
    body = source.get("summary") if kind == "achievement" else source.get("description")
    concepts = extractor.concepts(source["title"], source.get("keywords") or [], body or "")
    weights = {c.key: c.weight for c in concepts}
    queries = (
        query.match_queries(uid, target, concepts, flt, field=source.get("technical_field"))
        if mode != "semantic"
        else []
    )
    vector = _query_vector(lambda: vectors.source_vector(source)) if mode != "lexical" else None
    if vector is None and mode != "lexical":
        mode = "lexical"  # the model is unavailable: words only, said in the response
        queries = query.match_queries(uid, target, concepts, flt, field=source.get("technical_field"))
    if not queries and vector is None:
        return {"source": {"kind": kind, "id": source["id"]}, "concepts": [], "items": []}
    client = runtime.get_client()
    source_facts = facts_of(kind, source, extractor)
    matcher = ConceptMatcher(concepts)
    # id → (candidate facts, lexical text evidence, lexical rank score, engine score, hit)
    found: dict[int, tuple[Facts, float, float, float, dict[str, Any]]] = {}
    if queries:
        # one federated request: concept queries, out-of-dictionary queries and the same-field fallback
        result = client.multi_search(queries, query.match_federation())
        fallback = query.fallback_position(queries)
        oov_from = next((i for i, q in enumerate(queries) if "matchingStrategy" in q), len(queries))
        for hit in result["hits"]:
            text = ""
            if matcher.reads_text:
                text = " ".join([hit.get("title") or "", " ".join(hit.get("keywords") or []), _body(hit)])
            shared = matcher.shared(extractor.candidate_keys(hit.get("terms") or []), text)
            candidate = facts_of(target, hit, extractor, shared)
            demand, achievement = (source_facts, candidate) if kind == "demand" else (candidate, source_facts)
            federation = hit.get("_federation", {})
            engine = hit.get("_rankingScore", federation.get("weightedRankingScore", 0.0))
            if federation.get("queriesPosition", -1) >= oov_from:
                engine = federation.get("weightedRankingScore", engine)  # a guessed term's hit counts at its weight
            if fallback is not None and federation.get("queriesPosition") == fallback:
                engine = 0.0  # found only by the placeholder query: no text evidence from the engine
            lexical, _ = text_relevance(weights, candidate.concepts, engine)
            score = rank_score(demand, achievement, query_concepts=weights, candidate=candidate, engine_score=engine)
            found[hit["id"]] = (candidate, lexical, score, engine, hit)
    similarity: dict[int, float] = {}
    if vector is not None:
        sem = client.search(uid, semantic_match_request(target, vector, flt))
        for hit in sem["hits"]:
            score = hit.get("_rankingScore", 0.0)
            if score <= 0.0:
                continue  # a listing whose vector has not landed yet
            similarity[hit["id"]] = score
            if hit["id"] not in found:
                text = " ".join([hit.get("title") or "", " ".join(hit.get("keywords") or []), _body(hit)])
                shared = matcher.shared(extractor.candidate_keys(hit.get("terms") or []), text)
                found[hit["id"]] = (facts_of(target, hit, extractor, shared), 0.0, 0.0, 0.0, hit)
    if mode == "lexical":
        text_of = {i: entry[1] for i, entry in found.items()}
        ranked = sorted(found, key=lambda i: (-found[i][2], i))
    else:
        lexical = {i: entry[1] for i, entry in found.items()} if mode == "hybrid" else {}
        text_of = fuse_ranks(lexical, similarity, weights=scoring.HYBRID_WEIGHTS) if lexical else fuse_ranks(similarity)
        scores = {}
        for i, (candidate, *_rest) in found.items():
            demand, achievement = (source_facts, candidate) if kind == "demand" else (candidate, source_facts)
            scores[i] = fused_score(demand, achievement, text_of.get(i, 0.0))
        ranked = sorted(found, key=lambda i: (-scores[i], i))
    shown = ranked[:limit]
    closest = _closest_sentences(session, target, vector, shown)
    items = []
    for i in shown:  # only those shown are explained
        candidate, _lex, _score, engine, hit = found[i]
        demand, achievement = (source_facts, candidate) if kind == "demand" else (candidate, source_facts)
        words = explain.shown_terms(
            concepts,
            [k for k in weights if k in candidate.concepts],
            _text_of(source),
            _text_of(hit),
            list(source.get("keywords") or []) + list(hit.get("keywords") or []),
        )
        if mode == "lexical":
            scored = score_pair(demand, achievement, query_concepts=weights, candidate=candidate, engine_score=engine)
            scored = replace(scored, matched_terms=words)
        else:
            scored = explain_fused(demand, achievement, text_of.get(i, 0.0), words)
        reasons = [{"constraint": r.constraint, "fit": r.fit.value, "detail": r.detail} for r in scored.reasons]
        meaning = _meaning_reasons(words, closest.get(i), similarity.get(i))
        items.append(
            {
                "listing": {k: v for k, v in present(hit).items() if k not in ("summary", "description")},
                "score": scored.score,
                "text_score": scored.text_score,
                "matched_terms": list(scored.matched_terms),
                "semantic_similarity": round(2 * similarity[i] - 1, 4) if i in similarity else None,
                "reasons": meaning + reasons,
            }
        )
    return {
        "source": {"kind": kind, "id": source["id"]},
        "mode": mode,
        "concepts": [{"term": c.key, "weight": c.weight, "variants": list(c.variants)} for c in concepts],
        "items": items,
    }


def semantic_match_request(target: str, vector: list[float], filters: query.SearchFilters) -> dict[str, Any]:
    """The semantic half of a match (also what the benchmark sends straight to Meilisearch)."""
    return {
        "q": "",
        "vector": vector,
        "hybrid": {"embedder": vectors.EMBEDDER_NAME, "semanticRatio": 1.0},
        "filter": query.filter_expression(target, filters),
        "limit": SEMANTIC_CANDIDATES,
        "showRankingScore": True,
        "attributesToRetrieve": query.MATCH_ATTRIBUTES,
    }


def _text_of(doc: dict[str, Any]) -> str:
    return " ".join([doc.get("title") or "", " ".join(doc.get("keywords") or []), _body(doc)])


def _closest_sentences(
    session: Session | None, kind: str, vector: list[float] | None, ids: list[int]
) -> dict[int, tuple[str, float]]:
    """For the candidates shown: each one's sentence closest in meaning to the source (vectors stored at indexing)."""
    embedder = embeddings.get_embedder()
    if vector is None or embedder is None or session is None or not ids:
        return {}
    out = {}
    for i, (ss, vs) in vectors.sentence_vectors(session, kind, ids, embedder.identity).items():
        best = explain.closest(vector, ss, vs) if ss else None
        if best is not None:
            out[i] = best
    return out


def _meaning_reasons(
    words: tuple[str, ...], closest: tuple[str, float] | None, similarity: float | None
) -> list[dict[str, Any]]:
    out = []
    if words:
        out.append({"constraint": "concepts", "fit": "fit", "detail": "共同概念：" + "、".join(words)})
    if closest is not None:
        out.append({"constraint": "meaning", "fit": "fit", "detail": f"最相近的一句：「{closest[0]}」"})
    elif similarity is not None:
        out.append({"constraint": "meaning", "fit": "fit", "detail": "内容语义相近"})
    return out


def _body(hit: dict[str, Any]) -> str:
    return hit.get("summary") or hit.get("description") or ""


def match_request(
    extractor: TermExtractor, kind: str, source: dict[str, Any], filters: query.SearchFilters | None = None
) -> list[dict[str, Any]]:
    """The federated queries a match sends (also what the benchmark sends straight to Meilisearch)."""
    body = source.get("summary") if kind == "achievement" else source.get("description")
    concepts = extractor.concepts(source["title"], source.get("keywords") or [], body or "")
    return query.match_queries(
        index_uid(OTHER_SIDE[kind]),
        OTHER_SIDE[kind],
        concepts,
        filters or query.SearchFilters(),
        field=source.get("technical_field"),
    )


def get_listing(session: Session, actor: Actor | None, kind: str, listing_id: int) -> Listing:
    """The listing to match or watch, if the actor may see it (read-only: its columns, not an ORM object)."""
    from market.listings import service as listings

    if kind not in MODELS:
        raise NotFound(f"unknown listing kind '{kind}'", code="unknown_kind")
    return listings.visible_row(session, actor, kind, listing_id)  # type: ignore[arg-type]


# -- synonyms ------------------------------------------------------------------------------------

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
    for kind, model in MODELS.items():
        body = model.summary if kind == "achievement" else model.description
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
            outbox.emit(session, indexer.TOPIC, kind, listing_id)
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


# -- saved searches, inbox, webhooks ------------------------------------------------------------


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
    source = session.get(MODELS[saved.source_type], saved.source_id)
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
        source = session.get(MODELS[saved.source_type], saved.source_id)
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


def delivery_withheld(session: Session, note: Notification) -> str | None:
    """Why a webhook delivery may not go out now, or None: its search paused, or the listing it announces is
    no longer visible to the subscriber (taken back to draft since the notification was made)."""
    from market.accounts.models import User
    from market.accounts.service import actor_for_user
    from market.listings import service as listings

    if note.saved_search_id is None:
        return None  # a domain's own notice (an open call's stage, a voucher), addressed when it was made
    saved = session.get(SavedSearch, note.saved_search_id)
    if saved is None or not owner_still_sees_source(session, saved):
        return saved.paused_reason if saved is not None else PAUSED_SOURCE_NOT_VISIBLE
    listing = session.get(MODELS[note.listing_type], note.listing_id) if note.listing_type in MODELS else None
    if listing is None or not listings.is_visible(actor_for_user(session, session.get(User, saved.user_id)), listing):
        return "listing_not_visible"
    return None


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
    owners: list[tuple[int, float]] = []  # per query: (saved search id, weight)
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
            **_meaning_of(q, "relevance"),
        )
        for one in federated or [{**body, "indexUid": uid}]:
            weight = one.get("federationOptions", {}).get("weight", 1.0)
            queries.append({k: v for k, v in one.items() if k not in ("federationOptions", "facets")})
            owners.append((saved.id, weight))
    fits: dict[int, dict[str, Any]] = {}
    client = runtime.get_client()
    for start in range(0, len(queries), QUERIES_PER_REQUEST):
        results = client.multi_search(queries[start : start + QUERIES_PER_REQUEST])["results"]
        for (saved_id, weight), result in zip(owners[start : start + QUERIES_PER_REQUEST], results, strict=True):
            if not result["hits"]:
                continue
            hit = result["hits"][0]
            score = round(weight * hit.get("_rankingScore", 0.0), 4)
            if saved_id not in fits or score > fits[saved_id]["score"]:
                fits[saved_id] = {"score": score, "title": hit.get("title")}
    return fits


def notify_for_listing(session: Session, kind: str, listing_id: int) -> list[int]:
    """Create inbox entries (and webhook deliveries) for every saved search the new listing fits."""
    listing = session.get(MODELS[kind], listing_id) if kind in MODELS else None
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


def queue_deliveries(session: Session, notes: list[Notification]) -> int:
    """A pending webhook delivery, due now, per active subscription of each note's user (the one way any
    domain's inbox entry reaches webhooks): the beat sweep sends it; call `nudge_deliveries` to send sooner."""
    by_user: dict[int, list[Notification]] = {}
    for note in notes:
        by_user.setdefault(note.user_id, []).append(note)
    if not by_user:
        return 0
    session.flush()
    count = 0
    subs = sa.select(WebhookSubscription).where(
        WebhookSubscription.user_id.in_(by_user), WebhookSubscription.active.is_(True)
    )
    for sub in session.scalars(subs):
        for note in by_user[sub.user_id]:
            session.add(
                WebhookDelivery(
                    subscription_id=sub.id,
                    notification_id=note.id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=utcnow(),
                )
            )
            count += 1
    session.flush()
    return count


def nudge_deliveries(session: Session) -> None:
    """Ask the worker to send due deliveries once this transaction commits (best effort; beat sweeps anyway)."""
    outbox.nudge_after_commit(session, WEBHOOK_TOPIC)


def pending_deliveries(session: Session, notification_ids: list[int]) -> list[int]:
    if not notification_ids:
        return []
    return list(
        session.scalars(
            sa.select(WebhookDelivery.id).where(
                WebhookDelivery.notification_id.in_(notification_ids), WebhookDelivery.status == "pending"
            )
        )
    )


def notify_saved_searches(kind: str, listing_id: int) -> list[int]:
    """Inbox entries and webhook deliveries for one listing now in the index (the NOTIFY_TOPIC handler)."""
    with session_scope() as session:
        created = notify_for_listing(session, kind, listing_id)
        if pending_deliveries(session, created):
            outbox.nudge_after_commit(session, WEBHOOK_TOPIC)
    return created


def drain_notifications(limit: int = 50) -> dict[str, int]:
    """Check saved searches against every listing the index drain found public (worker, beat and CLI alike)."""
    return outbox.drain_topic(
        indexer.NOTIFY_TOPIC, lambda kind, listing_id, _payload: notify_saved_searches(kind, listing_id), limit=limit
    )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """X-Market-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# Nudge name for "a webhook delivery is due" (deliveries are rows of their own, not outbox rows).
WEBHOOK_TOPIC = "webhooks.deliver"
WEBHOOK_TIMEOUT = 10.0
# Attempt n waits FIRST_RETRY · 2^(n-1), at most MAX_RETRY_WAIT, ±25 % jitter: 30 s, 1, 2, 4, 8, 16, 32 min,
# then hourly; after MAX_ATTEMPTS (≈ 7 h of trying, at least 5 h) the delivery is `failed` until someone redelivers it.
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY_WAIT = dt.timedelta(hours=1)
MAX_ATTEMPTS = 14
# An attempt in flight holds its delivery this long: no second worker sends it meanwhile.
DELIVERY_LEASE = dt.timedelta(seconds=WEBHOOK_TIMEOUT * 3 + 30)


def retry_delay(attempts: int, rand: Any = random.random) -> dt.timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY_WAIT)
    return base * (0.75 + 0.5 * rand())


def claim_due_deliveries(limit: int = 100) -> list[int]:
    """Pending deliveries whose time has come, leased to this caller (committed at once)."""
    with session_scope() as session:
        now = utcnow()
        stmt = (
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
        if not is_sqlite(session):
            stmt = stmt.with_for_update(skip_locked=True)
        rows = session.scalars(stmt).all()
        for row in rows:
            row.next_attempt_at = now + DELIVERY_LEASE
        return [row.id for row in rows]


def sweep_webhooks(limit: int = 100, timeout: float = WEBHOOK_TIMEOUT) -> dict[str, int]:
    """Send every due delivery once (beat, every 30 s, and the nudge after a notification)."""
    counts: dict[str, int] = {}
    for delivery_id in claim_due_deliveries(limit):
        outcome = deliver_webhook(delivery_id, timeout=timeout)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def deliver_webhook(delivery_id: int, *, timeout: float = WEBHOOK_TIMEOUT) -> str:
    """POST one notification and log the attempt: "delivered", "retrying" (due again later), "failed", "skipped".

    A receiver slower than the timeout may still act on the request, so a timed-out attempt is never
    re-sent at once: like any failure it waits its turn on the schedule, and the body and the
    X-Market-Delivery header are the same on every attempt, for the receiver to drop a repeat.
    """
    with session_scope() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return "skipped"
        sub = session.get(WebhookSubscription, delivery.subscription_id)
        note = session.get(Notification, delivery.notification_id)
        if (withheld := delivery_withheld(session, note)) is not None:  # access at this moment
            delivery.status, delivery.last_error = "withheld", withheld
            return "withheld"
        event = (
            "saved_search.match"
            if note.saved_search_id is not None
            else str((note.detail or {}).get("event") or f"{note.listing_type}.notice")
        )
        payload = {
            "event": event,
            "delivery_id": delivery.id,
            "notification_id": note.id,
            "saved_search_id": note.saved_search_id,
            "listing_type": note.listing_type,
            "listing_id": note.listing_id,
            "title": note.title,
            "detail": note.detail,
            "created_at": note.created_at.isoformat(),
        }
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        url, secret, active = sub.url, sub.secret, sub.active
    ts = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Market-Event": event,
        "X-Market-Delivery": str(delivery_id),
        "X-Market-Signature": sign(secret, ts, body),
    }
    status_code, error = None, None
    if not active:
        error = "the webhook was deleted"
    else:
        try:
            status_code = post_pinned(url, body, headers, timeout)
        except WebhookRejected as exc:
            status_code, error = exc.status_code, str(exc)
        except (httpx.HTTPError, WebhookTargetRefused) as exc:
            error = f"{type(exc).__name__}: {exc}"
    with session_scope() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
        if error is None:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", utcnow(), None
            return "delivered"
        if delivery.attempts >= MAX_ATTEMPTS or not active:
            delivery.status, delivery.next_attempt_at = "failed", None
            webhook_failed(delivery.subscription_id)
            return "failed"
        delivery.next_attempt_at = utcnow() + retry_delay(delivery.attempts)
        return "retrying"


def webhook_failed(subscription_id: int) -> None:
    """Hook for metrics: a delivery gave up (a no-op here; operations may count it)."""


class WebhookRejected(Exception):
    """The receiver answered, but not 2xx."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


def post_pinned(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST to the address vetted by check_webhook_target, never looking the name up a second time.

    The connection goes to the vetted IP; the Host header and (for https) SNI and certificate check
    use the name, so a DNS answer that changes between check and connect (rebinding) is never used.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    ip = check_webhook_target(url)
    host = f"[{ip}]" if ":" in ip else ip
    netloc = f"{host}:{parts.port}" if parts.port else host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    name = parts.hostname or ""
    host_header = (f"[{name}]" if ":" in name else name) + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": name} if parts.scheme == "https" else {}
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        request = http.build_request(
            "POST", pinned, content=body, headers={**headers, "Host": host_header}, extensions=extensions
        )
        response = http.send(request)
    if not 200 <= response.status_code < 300:
        raise WebhookRejected(response.status_code)
    return response.status_code


def list_deliveries(
    session: Session, actor: Actor, *, subscription_id: int | None = None, status: str | None = None, limit: int = 200
) -> list[WebhookDelivery]:
    """A subscriber's deliveries (one webhook, or all of theirs); the bureau may see everyone's."""
    stmt = sa.select(WebhookDelivery).join(
        WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id
    )
    if subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == own_webhook(session, actor, subscription_id).id)
    elif not actor.is_bureau:
        stmt = stmt.where(WebhookSubscription.user_id == actor.user_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))


def redeliver(session: Session, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again from the start of the schedule (its subscriber, or the bureau)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    sub = session.get(WebhookSubscription, delivery.subscription_id) if delivery else None
    if sub is None or not (actor.is_bureau or sub.user_id == actor.user_id):
        raise NotFound(f"webhook delivery {delivery_id} not found", code="webhook_delivery_not_found")
    if not sub.active:
        raise InvalidState("the webhook was deleted; create it again", code="webhook_inactive")
    if delivery.status == "pending":
        raise InvalidState("the delivery is still being tried", code="delivery_pending")
    before = delivery.status
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    session.flush()
    audit.record(
        session,
        entity_type="webhook_delivery",
        entity_id=delivery.id,
        action="redeliver",
        actor=actor,
        from_state=before,
        to_state="pending",
        detail={"subscription_id": sub.id},
    )
    outbox.nudge_after_commit(session, WEBHOOK_TOPIC)
    return delivery


def prune_deliveries(session: Session, older_than: dt.timedelta) -> int:
    """Delete delivered deliveries older than `older_than`; pending and failed ones stay until resolved."""
    cutoff = utcnow() - older_than
    result = session.execute(
        sa.delete(WebhookDelivery).where(WebhookDelivery.status == "delivered", WebhookDelivery.delivered_at < cutoff)
    )
    return result.rowcount or 0


class WebhookTargetRefused(ValueError):
    pass


# NAT64 prefixes: the well-known one carries a public IPv4 in its last 32 bits; the local-use one is internal.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries: mapped, compatible, 6to4, Teredo, NAT64."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _IPV4_COMPATIBLE or ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_internal_address(address: str) -> bool:
    """Loopback, private, link-local, reserved or multicast, in any IPv4 or IPv6 spelling."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return True
        if ip in _NAT64:  # the gateway reaches the IPv4 it carries: that address decides
            candidates = []
        candidates.extend(_embedded_ipv4(ip))
    return any(
        not a.is_global or a.is_multicast or a.is_reserved or a.is_unspecified or a.is_loopback or a.is_link_local
        for a in candidates
    )


def check_webhook_target(url: str) -> str:
    """The one address a webhook may be sent to: refuse URLs that are not http(s) or whose host resolves to an
    internal address (any of its addresses; the message never echoes one), else return the first address."""
    import socket
    from urllib.parse import urlsplit

    from market.core.config import get_settings

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookTargetRefused("webhook URL must be http(s) with a host") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookTargetRefused("webhook URL must be http(s) with a host")
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        raise WebhookTargetRefused(f"webhook host '{parts.hostname}' does not resolve") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise WebhookTargetRefused(f"webhook host '{parts.hostname}' does not resolve")
    if not get_settings().webhook_allow_private_targets and any(is_internal_address(a) for a in addresses):
        raise WebhookTargetRefused(f"webhook host '{parts.hostname}' is an internal address")
    return addresses[0]


def create_webhook(session: Session, actor: Actor, url: str) -> WebhookSubscription:
    try:
        check_webhook_target(url)
    except WebhookTargetRefused as refused:
        raise ValidationFailed.field("url", "invalid_webhook_url", str(refused)) from None
    sub = WebhookSubscription(user_id=actor.user_id, url=url, secret=secrets.token_hex(24), active=True)
    session.add(sub)
    session.flush()
    audit.record(
        session,
        entity_type="webhook",
        entity_id=sub.id,
        action="create",
        actor=actor,
        to_state="active",
        detail={"url": url},
    )
    return sub


def delete_webhook(session: Session, actor: Actor, sub_id: int) -> None:
    sub = own_webhook(session, actor, sub_id)
    if sub.active:
        sub.active = False
        session.flush()
        audit.record(
            session,
            entity_type="webhook",
            entity_id=sub.id,
            action="delete",
            actor=actor,
            from_state="active",
            to_state="deleted",
        )


def own_webhook(session: Session, actor: Actor, sub_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None or sub.user_id != actor.user_id:
        raise NotFound(f"webhook {sub_id} not found", code="webhook_not_found")
    return sub


def inbox(session: Session, actor: Actor, unread_only: bool, page: PageParams) -> tuple[list[Notification], int]:
    stmt = sa.select(Notification).where(Notification.user_id == actor.user_id).order_by(Notification.id.desc())
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(session, stmt, page)


def mark_read(session: Session, actor: Actor, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != actor.user_id:
        raise NotFound(f"notification {notification_id} not found", code="notification_not_found")
    if note.read_at is None:
        note.read_at = utcnow()
        session.flush()
        audit.record(session, entity_type="notification", entity_id=note.id, action="read", actor=actor)
    return note


def ensure_kind_searchable(kind: str) -> None:
    if kind not in ("achievement", "demand", "call"):
        raise ValidationFailed.field("kind", "unknown_kind", "kind must be achievement, demand or call")


# -- open calls ----------------------------------------------------------------------------------


def match_call_organisations(session: Session, call_id: int, *, limit: int = 10) -> dict[str, Any]:
    """Organisations whose public listings fit a published call, best first, with the listings that fit.

    A 揭榜攻关 call ("solve") reads like a demand: it is matched against achievements, so the
    universities, institutes and firms that already hold fitting results come first. A 揭榜转化
    call ("adopt") offers an achievement to enterprises: it is matched against demands.
    """
    from market.calls.service import search_document
    from market.core.config import get_settings

    doc = search_document(session, call_id)
    if doc is None:
        raise NotFound(f"call {call_id} not found", code="call_not_found")
    extractor = current_extractor(session)
    text = "；".join(filter(None, [doc.get("problem"), doc.get("indicators_text")]))
    region = doc.get("region_code") or get_settings().region_code
    total = Decimal(doc["total_amount"])
    if doc.get("kind") == "adopt":
        kind, listing = (
            "achievement",
            Achievement(
                id=call_id,
                org_id=doc.get("posing_org_id") or 0,
                title=doc["title"],
                summary=text,
                keywords=[],
                technical_field=doc["technical_field"],
                region_code=region,
                maturity="industrial",
                trl=None,
                ip_type="other",
                patent_numbers=[],
                transfer_modes=["transfer", "license"],
                asking_price=total,
                price_negotiable=False,
                inventors=[],
                recognitions=[],
                status="published",
                version=1,
            ),
        )
    else:
        kind, listing = (
            "demand",
            Demand(
                id=call_id,
                org_id=doc.get("posing_org_id") or 0,
                title=doc["title"],
                description=text,
                keywords=[],
                technical_field=doc["technical_field"],
                region_code=region,
                wanted_maturity=None,
                budget=total,
                budget_negotiable=False,
                cooperation_modes=["joint_development", "transfer", "license"],
                status="published",
                version=1,
            ),
        )
    matched = match_document(extractor, kind, document_of(kind, listing, extractor), limit=MATCH_POOL, session=session)
    by_org: dict[int, dict[str, Any]] = {}
    for item in matched["items"]:
        org_id = item["listing"]["org_id"]
        if org_id == doc.get("posing_org_id"):
            continue  # the posing firm does not take up its own call
        entry = by_org.setdefault(
            org_id,
            {"org_id": org_id, "org_name": item["listing"].get("org_name"), "score": item["score"], "listings": []},
        )
        entry["listings"].append(
            {
                "kind": item["listing"]["kind"],
                "id": item["listing"]["id"],
                "title": item["listing"]["title"],
                "score": item["score"],
                "matched_terms": item["matched_terms"],
                "reasons": item["reasons"],
            }
        )
    ranked = sorted(by_org.values(), key=lambda e: (-e["score"], e["org_id"]))
    return {"call_id": call_id, "matched_against": OTHER_SIDE[kind], "items": ranked[:limit]}


# Listings fetched for a call before grouping them by organisation.
MATCH_POOL = 40
