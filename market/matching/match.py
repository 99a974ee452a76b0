"""Match a listing against the other side: lexical and semantic candidates fused, scored and explained."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from market.evaluations import service as evaluations
from market.matching import embedding
from market.matching.listings import OTHER_SIDE, Listing, document_of, facts_of, present
from market.matching.searching import query_vector
from market.matching.synonyms import current_extractor
from search import embeddings, explain, query, runtime, scoring, vectors
from search.scoring import Facts, explain_fused, fuse_ranks, fused_score, rank_score, score_pair, text_relevance
from search.settings import index_uid
from search.terms import ConceptMatcher, TermExtractor


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
    evaluation = evaluations.summaries(session, [listing.id]).get(listing.id) if kind == "achievement" else None
    source = document_of(kind, listing, extractor, evaluation=evaluation)
    return match_document(extractor, kind, source, limit=limit, filters=filters, mode=mode, session=session)


MATCH_MODES = ("hybrid", "lexical", "semantic")
# Candidates the semantic query brings (beside the lexical federation's `query.MATCH_CANDIDATES`).
SEMANTIC_CANDIDATES = 60
# Sends a match's semantic request while the calling thread sends the lexical one and reads its hits (a match
# waits for the slower of the two instead of their sum). The client's connection pool is shared and thread-safe.
_SEMANTIC = ThreadPoolExecutor(max_workers=8, thread_name_prefix="semantic-match")


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
    vector = query_vector(lambda: vectors.source_vector(source)) if mode != "lexical" else None
    if vector is None and mode != "lexical":
        mode = "lexical"  # the model is unavailable: words only, said in the response
        queries = query.match_queries(uid, target, concepts, flt, field=source.get("technical_field"))
    if not queries and vector is None:
        return {"source": {"kind": kind, "id": source["id"]}, "concepts": [], "items": []}
    client = runtime.get_client()
    # the semantic request goes out first and runs in Meilisearch while the lexical one is sent and its hits read
    semantic = _SEMANTIC.submit(client.search, uid, semantic_match_request(target, vector, flt)) if vector else None
    source_facts = facts_of(kind, source, extractor)
    matcher = ConceptMatcher(concepts)
    # id → (candidate facts, lexical text evidence, lexical rank score, engine score, hit)
    found: dict[int, tuple[Facts, float, float, float, dict[str, Any]]] = {}
    semantic_only: dict[int, dict[str, Any]] = {}  # hits found by meaning alone: their facts are read cheaply
    try:
        if queries:
            _lexical(client, queries, kind, target, extractor, matcher, weights, source_facts, mode, found)
        similarity: dict[int, float] = {}
        if semantic is not None:
            for hit in semantic.result()["hits"]:
                score = hit.get("_rankingScore", 0.0)
                if score <= 0.0:
                    continue  # a listing whose vector has not landed yet
                similarity[hit["id"]] = score
                if hit["id"] not in found:
                    semantic_only[hit["id"]] = hit
                    found[hit["id"]] = (facts_of(target, hit, extractor, frozenset()), 0.0, 0.0, 0.0, hit)
    finally:
        if semantic is not None:
            semantic.cancel()
    if mode == "lexical":
        text_of = {i: entry[1] for i, entry in found.items()}
        ranked = sorted(found, key=lambda i: (-found[i][2], i))
    else:
        lexical_of = {i: entry[1] for i, entry in found.items()} if mode == "hybrid" else {}
        text_of = (
            fuse_ranks(lexical_of, similarity, weights=scoring.HYBRID_WEIGHTS) if lexical_of else fuse_ranks(similarity)
        )
        scores = {}
        for i, (candidate, *_rest) in found.items():
            demand, achievement = (source_facts, candidate) if kind == "demand" else (candidate, source_facts)
            scores[i] = fused_score(demand, achievement, text_of.get(i, 0.0))
        ranked = sorted(found, key=lambda i: (-scores[i], i))
    shown = ranked[:limit]
    closest = _closest_sentences(session, target, vector, {i: found[i][4] for i in shown})
    items = []
    for i in shown:  # only those shown are explained
        candidate, _lex, _score, engine, hit = found[i]
        if i in semantic_only:  # the concepts it shares with the source: read only for those shown
            candidate = candidate._replace(concepts=_shared(matcher, extractor, hit))
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
    session: Session | None, kind: str, vector: list[float] | None, hits: dict[int, dict[str, Any]]
) -> dict[int, tuple[str, float]]:
    """For the candidates shown: each one's sentence closest in meaning to the source (vectors stored at indexing
    for exactly the text shown; remembered per text, see `embedding.sentence_vectors`)."""
    embedder = embeddings.get_embedder()
    if vector is None or embedder is None or session is None or not hits:
        return {}
    hashes = {i: vectors.text_hash(vectors.embedding_text(hit)) for i, hit in hits.items()}
    return explain.closest_each(vector, embedding.sentence_vectors(session, kind, hits, embedder.identity, hashes))


def _shared(matcher: ConceptMatcher, extractor: TermExtractor, hit: dict[str, Any]) -> frozenset[str]:
    """The source's concepts a candidate has (its indexed key terms, and its text when the source needs it)."""
    text = _text_of(hit) if matcher.reads_text else ""
    return frozenset(matcher.shared(extractor.candidate_keys(hit.get("terms") or []), text))


def _lexical(
    client: Any,
    queries: list[dict[str, Any]],
    kind: str,
    target: str,
    extractor: TermExtractor,
    matcher: ConceptMatcher,
    weights: dict[str, float],
    source_facts: Facts,
    mode: str,
    found: dict[int, tuple[Facts, float, float, float, dict[str, Any]]],
) -> None:
    """The lexical candidates: one federated request (concept queries, out-of-dictionary queries and the same-field
    fallback), each hit with its shared concepts and text evidence; its rank score only in lexical mode."""
    result = client.multi_search(queries, query.match_federation())
    fallback = query.fallback_position(queries)
    oov_from = next((i for i, q in enumerate(queries) if "matchingStrategy" in q), len(queries))
    for hit in result["hits"]:
        candidate = facts_of(target, hit, extractor, _shared(matcher, extractor, hit))
        federation = hit.get("_federation", {})
        engine = hit.get("_rankingScore", federation.get("weightedRankingScore", 0.0))
        if federation.get("queriesPosition", -1) >= oov_from:
            engine = federation.get("weightedRankingScore", engine)  # a guessed term's hit counts at its weight
        if fallback is not None and federation.get("queriesPosition") == fallback:
            engine = 0.0  # found only by the placeholder query: no text evidence from the engine
        lexical, _ = text_relevance(weights, candidate.concepts, engine)
        score = 0.0
        if mode == "lexical":  # the hybrid ranks by the fused evidence instead
            demand, achievement = (source_facts, candidate) if kind == "demand" else (candidate, source_facts)
            score = rank_score(demand, achievement, query_concepts=weights, candidate=candidate, engine_score=engine)
        found[hit["id"]] = (candidate, lexical, score, engine, hit)


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
