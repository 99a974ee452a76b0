"""Public full-text search over listings, by words and (when an embedder is configured) by meaning."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from market.core.config import get_settings
from market.core.errors import ValidationFailed
from market.core.pagination import PageParams
from market.matching.listings import present
from market.matching.synonyms import current_extractor
from search import embeddings, query, runtime
from search.settings import index_uid

log = logging.getLogger(__name__)


def search(
    session: Session, kind: str, q: str, filters: query.SearchFilters, *, sort: str, page: PageParams
) -> dict[str, Any]:
    """Public full-text search; query words are expanded through the synonym dictionary."""
    extractor = current_extractor(session)
    variants = extractor.variants(extractor.terms(q)) if q.strip() else []
    uid = index_uid(kind)
    client = runtime.get_client()
    meaning = meaning_of(q, sort)
    if "vector" in meaning:  # the bounded semantic request first: which listings are similar enough
        probe = query.semantic_probe(uid, kind, meaning["vector"], filters, want=page.offset + page.page_size)
        hits = client.search(uid, probe)["hits"]
        meaning = {
            "vector": meaning["vector"],
            "semantic_ids": query.ids_above_floor(hits, get_settings().embeddings_min_similarity),
        }
    queries, federation, body = query.search_request(
        uid,
        kind,
        q,
        variants,
        filters,
        sort=sort,
        offset=page.offset,
        limit=page.page_size,
        **meaning,
    )
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


def meaning_of(q: str, sort: str) -> dict[str, Any]:
    """The query's vector (cached) for a relevance search, when an embedder is configured; else nothing."""
    cache = embeddings.query_cache()
    if cache is None or sort != "relevance" or not q.strip():
        return {}
    vector = query_vector(lambda: cache.one(q.strip(), "query"))
    if vector is None:
        return {}
    return {"vector": vector}


def query_vector(compute) -> list[float] | None:
    """A query's vector, or None when the embeddings service is down: search and match fall back to words."""
    try:
        return compute()
    except embeddings.EmbeddingsUnavailable:
        log.warning("embeddings unavailable: searching by words only", exc_info=True)
        return None


def ensure_kind_searchable(kind: str) -> None:
    if kind not in ("achievement", "demand", "call"):
        raise ValidationFailed.field("kind", "unknown_kind", "kind must be achievement, demand or call")
