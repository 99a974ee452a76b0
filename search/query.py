"""Query building: public search (filters, facets, sort, highlight) and match queries from a listing's key terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from search.documents import PUBLIC_STATES, fen
from search.settings import FACETS
from search.terms import Concept

# Meilisearch reads at most 10 words of one query, and ANDs them before dropping the last:
# a concept's variants are therefore separate queries, merged by federated search.
MAX_MATCH_QUERIES = 24
MAX_OOV_TERMS = 6
OOV_STRATEGIES = ("last", "frequency")
# Re-scoring decides the order: fetch more than will be shown.
MATCH_CANDIDATES = 60
# Same-field listings without any text hit rank after every text hit in the federation (scores are 0–1).
FALLBACK_WEIGHT = 0.01
# Scoring needs terms, structured fields and the text (for out-of-dictionary terms); the long text is not shown.
MATCH_ATTRIBUTES = [
    "id",
    "kind",
    "title",
    "keywords",
    "terms",
    "technical_field",
    "technical_field_label",
    "region_code",
    "org_id",
    "org_name",
    "status",
    "published_at_ts",
    "maturity",
    "maturity_rank",
    "evaluation_trl",
    "evaluated_maturity_rank",
    "transfer_modes",
    "asking_price_fen",
    "price_negotiable",
    "ip_type",
    "wanted_maturity",
    "wanted_maturity_rank",
    "cooperation_modes",
    "budget_fen",
    "budget_negotiable",
    "deadline",
    "summary",
    "description",
]
MATCH_ATTRIBUTES_NO_TEXT = [a for a in MATCH_ATTRIBUTES if a not in ("summary", "description")]
PUBLIC_FILTER = "status IN [" + ", ".join(sorted(PUBLIC_STATES)) + "]"
HIGHLIGHT = {"achievement": ["title", "summary"], "demand": ["title", "description"], "call": ["title", "description"]}
PRICE_FIELD = {"achievement": "asking_price_fen", "demand": "budget_fen", "call": "total_amount_fen"}
NEGOTIABLE_FIELD = {"achievement": "price_negotiable", "demand": "budget_negotiable"}
MATURITY_FIELD = {"achievement": "maturity", "demand": "wanted_maturity"}
MODES_FIELD = {"achievement": "transfer_modes", "demand": "cooperation_modes"}
SORTS = {
    "newest": ["published_at_ts:desc", "id:desc"],
    "oldest": ["published_at_ts:asc", "id:asc"],
    "price_asc": "price:asc",
    "price_desc": "price:desc",
}


def _quote(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class SearchFilters:
    technical_field: str | None = None
    maturity: str | None = None
    mode: str | None = None
    region_code: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    include_negotiable: bool = False
    # a finished evaluation (achievements only): evaluated or not, TRL at least, grades
    evaluated: bool | None = None
    min_trl: int | None = None
    innovation_grade: str | None = None
    advancement_grade: str | None = None
    exclude_ids: list[int] = field(default_factory=list)
    only_ids: list[int] = field(default_factory=list)


def region_clause(code: str) -> str:
    """330000 = the province, 330200 = the city (prefix-aware), anything else exact."""
    if len(code) == 6 and code.endswith("0000"):
        return f"province_code = {_quote(code)}"
    if len(code) == 6 and code.endswith("00"):
        return f"city_code = {_quote(code)}"
    return f"region_code = {_quote(code)}"


def filter_expression(kind: str, f: SearchFilters) -> list[str | list[str]]:
    """Meilisearch filter (AND of the list); drafts are excluded here, always."""
    out: list[str | list[str]] = [PUBLIC_FILTER]
    if f.technical_field:
        out.append(f"technical_field = {_quote(f.technical_field)}")
    if f.maturity and kind in MATURITY_FIELD:
        out.append(f"{MATURITY_FIELD[kind]} = {_quote(f.maturity)}")
    if f.mode and kind in MODES_FIELD:
        out.append(f"{MODES_FIELD[kind]} = {_quote(f.mode)}")
    if f.region_code:
        out.append(region_clause(f.region_code))
    if f.min_price is not None or f.max_price is not None:
        price = PRICE_FIELD[kind]
        parts = []
        if f.min_price is not None:
            parts.append(f"{price} >= {fen(f.min_price)}")
        if f.max_price is not None:
            parts.append(f"{price} <= {fen(f.max_price)}")
        ranged = " AND ".join(parts)
        if f.include_negotiable and kind in NEGOTIABLE_FIELD:
            out.append([f"({ranged})", f"{NEGOTIABLE_FIELD[kind]} = true"])
        else:
            out.append(ranged)
    if kind == "achievement":
        if f.evaluated is not None:
            out.append(f"evaluated = {'true' if f.evaluated else 'false'}")
        if f.min_trl is not None:
            out.append(f"evaluation_trl >= {int(f.min_trl)}")
        if f.innovation_grade:
            out.append(f"innovation_grade = {_quote(f.innovation_grade)}")
        if f.advancement_grade:
            out.append(f"advancement_grade = {_quote(f.advancement_grade)}")
    if f.exclude_ids:
        out.append(f"id NOT IN [{', '.join(str(int(i)) for i in f.exclude_ids)}]")
    if f.only_ids:
        out.append(f"id IN [{', '.join(str(int(i)) for i in f.only_ids)}]")
    return out


def sort_for(kind: str, sort: str) -> list[str] | None:
    if sort == "relevance":
        return None
    if sort in ("newest", "oldest"):
        return list(SORTS[sort])
    if sort in ("price_asc", "price_desc"):
        return [f"{PRICE_FIELD[kind]}:{sort.split('_')[1]}", "id:desc"]
    raise ValueError(sort)


# A query's meaning as one more query of the federation, below an exact keyword hit (weight). Only listings at least
# `min_similarity` similar count (Meilisearch's semantic score is (1 + cosine) / 2; Settings.embeddings_min_similarity).
# The floor is not sent as a `rankingScoreThreshold`: when few listings reach it, Meilisearch then scans the whole
# vector index for more (1.6 s instead of 120 ms at 120,000 listings). Instead a bounded request (`semantic_probe`,
# a fixed `limit`) brings the nearest listings with their scores, our code keeps those above the floor
# (`ids_above_floor`), and the federation's semantic query is restricted to those ids.
SEMANTIC_WEIGHT = 0.9
# Nearest listings the bounded semantic request brings (at least a page's offset + limit).
SEMANTIC_LIMIT = 100


def similarity_floor(min_similarity: float) -> float:
    """The Meilisearch semantic score of a listing exactly `min_similarity` (cosine) similar to the query."""
    return round((1 + min_similarity) / 2, 4)


def semantic_query(uid: str, vector: list[float], embedder: str = "semantic") -> dict[str, Any]:
    return {
        "indexUid": uid,
        "q": "",
        "vector": vector,
        "hybrid": {"embedder": embedder, "semanticRatio": 1.0},
    }


def semantic_probe(uid: str, kind: str, vector: list[float], filters: SearchFilters, *, want: int) -> dict[str, Any]:
    """The bounded semantic request (for `MeiliClient.search`): the `want` (at least SEMANTIC_LIMIT) nearest
    listings the filters allow, ids and scores only."""
    body = semantic_query(uid, vector)
    body.pop("indexUid")
    return {
        **body,
        "filter": filter_expression(kind, filters),
        "limit": max(want, SEMANTIC_LIMIT),
        "showRankingScore": True,
        "attributesToRetrieve": ["id"],
    }


def ids_above_floor(hits: list[dict[str, Any]], min_similarity: float) -> list[int]:
    """The ids of the semantic hits at least `min_similarity` similar to the query, best first."""
    floor = similarity_floor(min_similarity)
    return [int(h["id"]) for h in hits if h.get("_rankingScore", 0.0) >= floor]


def search_request(
    uid: str,
    kind: str,
    q: str,
    variants: list[str],
    filters: SearchFilters,
    *,
    sort: str,
    offset: int,
    limit: int,
    vector: list[float] | None = None,
    semantic_ids: list[int] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None]:
    """(queries, federation, single_body): a plain search when sorting or without expansion or meaning, else federated
    (the query, its synonym variants, and with `vector` the query's meaning).

    With `semantic_ids` (from `semantic_probe` and `ids_above_floor`), the semantic query only scores those
    listings, and is left out when there are none. Without, it is unrestricted (no similarity floor): the caller
    must bound it by its filters (one listing, for saved searches) and drop hits below the floor itself."""
    base = {
        "indexUid": uid,
        "filter": filter_expression(kind, filters),
        "attributesToHighlight": HIGHLIGHT[kind],
        "highlightPreTag": "<em>",
        "highlightPostTag": "</em>",
        "attributesToCrop": [HIGHLIGHT[kind][1]],
        "cropLength": 60,
        "showRankingScore": True,
    }
    sort_spec = sort_for(kind, sort)
    extra = [v for v in variants if v and v != q.strip().lower()][: MAX_MATCH_QUERIES - 1]
    meaning = vector is not None and sort_spec is None and bool(q.strip()) and semantic_ids != []
    if sort_spec is not None or not q.strip() or not (extra or meaning):
        body = {**base, "q": q, "offset": offset, "limit": limit, "facets": FACETS[kind]}
        body.pop("indexUid")
        if sort_spec:
            body["sort"] = sort_spec
        return [], None, body
    queries = [{**base, "q": q}] + [{**base, "q": v, "federationOptions": {"weight": 0.9}} for v in extra]
    if meaning and vector is not None:  # (meaning implies a vector; said again for the type checker)
        semantic = {
            **base,
            **semantic_query(uid, vector),
            "federationOptions": {"weight": SEMANTIC_WEIGHT},
        }
        if semantic_ids is not None:
            semantic["filter"] = filter_expression(kind, filters) + [
                f"id IN [{', '.join(str(int(i)) for i in semantic_ids)}]"
            ]
        queries.append(semantic)
    federation = {"offset": offset, "limit": limit, "facetsByIndex": {uid: FACETS[kind]}}
    return queries, federation, None


def match_queries(
    uid: str, kind: str, concepts: list[Concept], filters: SearchFilters, *, field: str | None = None
) -> list[dict[str, Any]]:
    """One query per concept variant (title-like weight for the strongest concepts), all with the same filter.

    Out-of-dictionary concepts get their own queries, outside the dictionary budget: jieba splits them into
    words it knows, and Meilisearch may drop words, by position (`last`) and, for longer ones, by frequency.
    With `field`, a last placeholder query brings in listings of that technical field at a token weight,
    so that a listing whose words retrieve too little still gets same-field candidates (see `FALLBACK_WEIGHT`).
    """
    flt = filter_expression(kind, filters)
    top = max((c.weight for c in concepts), default=1.0)
    queries: list[dict[str, Any]] = []

    # the long text is only read for out-of-dictionary concepts: without any, it is not fetched
    attributes = MATCH_ATTRIBUTES if any(c.oov for c in concepts) else MATCH_ATTRIBUTES_NO_TEXT

    def add(q: str, weight: float, **extra: Any) -> None:
        queries.append(
            {
                "indexUid": uid,
                "q": q,
                "filter": flt,
                "showRankingScore": True,
                "attributesToRetrieve": attributes,
                "federationOptions": {"weight": weight},
                **extra,
            }
        )

    known = [c for c in concepts if not c.oov]
    # Round-robin over concepts so that one concept with many variants cannot use up the budget.
    depth = max((len(c.variants) for c in known), default=0)
    for i in range(depth):
        for concept in known:
            if i >= len(concept.variants) or len(queries) >= MAX_MATCH_QUERIES:
                continue
            add(concept.variants[i], round(0.5 + 0.5 * concept.weight / top, 3))
    for concept in [c for c in concepts if c.oov][:MAX_OOV_TERMS]:
        weight = round(0.4 + 0.4 * concept.weight / top, 3)
        # the two relaxations find different things: dropping the last words vs the most frequent ones
        for strategy in OOV_STRATEGIES if len(concept.key) > 2 else OOV_STRATEGIES[:1]:
            add(concept.key, weight, matchingStrategy=strategy)
    if field and queries:
        add("", FALLBACK_WEIGHT, filter=flt + [f"technical_field = {_quote(field)}"])
    return queries


def fallback_position(queries: list[dict[str, Any]]) -> int | None:
    """Index of the same-field placeholder query in `queries`, if there is one."""
    last = len(queries) - 1
    return last if queries and queries[-1]["q"] == "" else None


def match_federation(limit: int = MATCH_CANDIDATES) -> dict[str, Any]:
    return {"offset": 0, "limit": limit}
