"""Open calls matched to the organisations whose public listings fit them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from market.core.errors import NotFound
from market.matching.listings import OTHER_SIDE, document_of
from market.matching.match import match_document
from market.matching.synonyms import current_extractor
from search.sources import AchievementData, DemandData, ListingData


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
    listing: ListingData
    if doc.get("kind") == "adopt":
        kind, listing = (
            "achievement",
            AchievementData(
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
                published_at=None,
                version=1,
            ),
        )
    else:
        kind, listing = (
            "demand",
            DemandData(
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
                deadline=None,
                status="published",
                published_at=None,
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
