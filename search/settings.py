"""Index settings as data: one entry per index, applied idempotently (at start-up and by `market search apply-settings`)."""

from __future__ import annotations

from typing import Any

from search import runtime

KINDS = ("achievement", "demand", "call")

_COMMON_FILTERS = [
    "id",
    "status",
    "technical_field",
    "region_code",
    "city_code",
    "province_code",
    "org_id",
    "terms",
    "published_at_ts",
]
# Codes are matched exactly: a typo-tolerant patent number would find someone else's patent.
_TYPO = {"enabled": True, "disableOnNumbers": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}}

INDEX_SETTINGS: dict[str, dict[str, Any]] = {
    "achievement": {
        "searchableAttributes": ["title", "keywords", "terms", "summary", "org_name", "inventors", "patent_numbers"],
        "filterableAttributes": _COMMON_FILTERS
        + [
            "maturity",
            "maturity_rank",
            "transfer_modes",
            "asking_price_fen",
            "price_negotiable",
            "ip_type",
            "recognitions",
            # a finished evaluation (科技成果评价, search/documents.py evaluation_fields)
            "evaluated",
            "evaluation_trl",
            "innovation_grade",
            "advancement_grade",
            "evaluation_agency_id",
        ],
        "sortableAttributes": ["id", "published_at_ts", "asking_price_fen", "maturity_rank", "evaluation_trl"],
        "localizedAttributes": [
            {
                "attributePatterns": ["title", "keywords", "terms", "summary", "org_name", "inventors"],
                "locales": ["cmn"],
            }
        ],
        "typoTolerance": {**_TYPO, "disableOnAttributes": ["patent_numbers", "region_code", "terms"]},
    },
    "demand": {
        "searchableAttributes": ["title", "keywords", "terms", "description", "org_name"],
        "filterableAttributes": _COMMON_FILTERS
        + [
            "wanted_maturity",
            "wanted_maturity_rank",
            "cooperation_modes",
            "budget_fen",
            "budget_negotiable",
            "deadline",
        ],
        "sortableAttributes": ["id", "published_at_ts", "budget_fen", "deadline"],
        "localizedAttributes": [
            {"attributePatterns": ["title", "keywords", "terms", "description", "org_name"], "locales": ["cmn"]}
        ],
        "typoTolerance": {**_TYPO, "disableOnAttributes": ["region_code", "terms"]},
    },
    "call": {
        "searchableAttributes": ["title", "keywords", "terms", "description", "org_name", "winners"],
        "filterableAttributes": _COMMON_FILTERS
        + [
            "kind",
            "state",
            "bidding_open",
            "horse_race",
            "consortium_allowed",
            "total_amount_fen",
            "bid_deadline",
        ],
        "sortableAttributes": ["id", "published_at_ts", "total_amount_fen", "bid_deadline"],
        "localizedAttributes": [
            {"attributePatterns": ["title", "keywords", "terms", "description", "org_name"], "locales": ["cmn"]}
        ],
        "typoTolerance": {**_TYPO, "disableOnAttributes": ["region_code", "terms"]},
    },
}
SHARED_SETTINGS: dict[str, Any] = {
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    # No Meilisearch synonyms: the dictionary is applied by our own query expansion (search and match send
    # one federated query per variant). Meilisearch's synonyms would expand every one of those again, and
    # with multi-word Chinese phrases they multiply a query's cost: a match took 388 ms p50 with the
    # dictionary pushed as synonyms and 29 ms without (3,000 listings), with the same results.
    "synonyms": {},
    "faceting": {"maxValuesPerFacet": 100},
    "pagination": {"maxTotalHits": 2000},
}
FACETS = {
    "achievement": [
        "technical_field",
        "maturity",
        "transfer_modes",
        "region_code",
        "ip_type",
        "price_negotiable",
        "evaluated",
        "evaluation_trl",
        "innovation_grade",
        "advancement_grade",
    ],
    "demand": ["technical_field", "wanted_maturity", "cooperation_modes", "region_code", "budget_negotiable"],
    "call": ["technical_field", "region_code", "kind", "state", "bidding_open"],
}


def index_uid(kind: str, suffix: str = "") -> str:
    return f"{runtime.index_prefix()}_{kind}s{suffix}"


def settings_for(kind: str) -> dict[str, Any]:
    from search import embeddings, vectors

    # the vectors we compute (search/vectors.py); none in lexical-only mode (null removes an earlier embedder)
    semantic = {"embedders": vectors.embedder_settings(embeddings.get_embedder())}
    return {**SHARED_SETTINGS, **INDEX_SETTINGS[kind], "displayedAttributes": ["*"], **semantic}
