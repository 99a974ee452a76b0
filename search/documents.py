"""Projection of listings onto search documents (only public ones are ever indexed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from market.core import regions
from market.core.vocab import (
    LISTING_PUBLIC_STATES,
    MATURITY_RANK,
    TECHNICAL_FIELD_LABELS,
    Maturity,
    TechnicalField,
    maturity_from_trl,
)
from search.sources import AchievementData, DemandData, EvaluationData
from search.terms import TermExtractor

PUBLIC_STATES = LISTING_PUBLIC_STATES


def fen(amount: Decimal | None) -> int | None:
    """Money goes to the index as integer fen: range filters stay exact, no floats."""
    return None if amount is None else int(amount * 100)


def _rank(maturity: str | None) -> int | None:
    try:
        return MATURITY_RANK[Maturity(maturity)] if maturity else None
    except ValueError:
        return None


def _field_label(code: str) -> str:
    try:
        return TECHNICAL_FIELD_LABELS[TechnicalField(code)]
    except ValueError:
        return code


def _common(listing: AchievementData | DemandData, org_name: str, terms: list[str]) -> dict[str, Any]:
    region = listing.region_code or ""
    return {
        "id": listing.id,
        "title": listing.title,
        "keywords": list(listing.keywords or []),
        "terms": terms,
        "technical_field": listing.technical_field,
        "technical_field_label": _field_label(listing.technical_field),
        "region_code": region,
        "city_code": regions.city_code(region),
        "province_code": regions.province_code(region),
        "org_id": listing.org_id,
        "org_name": org_name,
        "status": listing.status,
        "published_at_ts": int(listing.published_at.timestamp()) if listing.published_at else None,
        "version": listing.version,
    }


def evaluation_fields(evaluation: EvaluationData | None) -> dict[str, Any]:
    """A finished evaluation (科技成果评价) on the achievement's document: shown, filtered and faceted in search
    (`evaluated`, grades, agency), and read by matching: `evaluated_maturity_rank`, from the evaluated TRL,
    outranks the self-declared maturity."""
    if evaluation is None:
        return {
            "evaluated": False,
            "evaluation_trl": None,
            "evaluated_maturity_rank": None,
            "innovation_grade": None,
            "advancement_grade": None,
            "evaluation_agency_id": None,
            "evaluation_agency": None,
            "evaluated_at": None,
        }
    trl = evaluation.trl
    return {
        "evaluated": True,
        "evaluation_trl": trl,
        "evaluated_maturity_rank": MATURITY_RANK[maturity_from_trl(trl)] if trl else None,
        "innovation_grade": evaluation.innovation_grade,
        "advancement_grade": evaluation.advancement_grade,
        "evaluation_agency_id": evaluation.agency_org_id,
        "evaluation_agency": evaluation.agency_name,
        "evaluated_at": evaluation.completed_at.date().isoformat() if evaluation.completed_at else None,
    }


def achievement_document(
    a: AchievementData, org_name: str, extractor: TermExtractor, evaluation: EvaluationData | None = None
) -> dict[str, Any]:
    terms = extractor.terms(a.title, " ".join(a.keywords or []), a.summary)
    return {
        **_common(a, org_name, terms),
        "kind": "achievement",
        "summary": a.summary,
        "maturity": a.maturity,
        "maturity_rank": _rank(a.maturity),
        "trl": a.trl,
        "ip_type": a.ip_type,
        "patent_numbers": list(a.patent_numbers or []),
        "transfer_modes": list(a.transfer_modes or []),
        "asking_price_fen": fen(a.asking_price),
        "price_negotiable": bool(a.price_negotiable or a.asking_price is None),
        "inventors": list(a.inventors or []),
        "recognitions": list(a.recognitions or []),
        **evaluation_fields(evaluation),
    }


def demand_document(d: DemandData, org_name: str, extractor: TermExtractor) -> dict[str, Any]:
    terms = extractor.terms(d.title, " ".join(d.keywords or []), d.description)
    return {
        **_common(d, org_name, terms),
        "kind": "demand",
        "description": d.description,
        "wanted_maturity": d.wanted_maturity,
        "wanted_maturity_rank": _rank(d.wanted_maturity),
        "budget_fen": fen(d.budget),
        "budget_negotiable": bool(d.budget_negotiable or d.budget is None),
        "cooperation_modes": list(d.cooperation_modes or []),
        "deadline": d.deadline.isoformat() if d.deadline else None,
    }


def call_document(doc: dict[str, Any] | None, extractor: TermExtractor) -> dict[str, Any] | None:
    """An open call (揭榜挂帅) as the calls domain projects it, plus the fields every index shares.

    The calls domain's own fields are kept as they are (its `kind` is solve / adopt; `state` its state);
    we add the shared filter fields (status, region prefixes, org, published_at_ts), key terms, and money in fen.
    """
    if doc is None:
        return None
    region = doc.get("region_code") or ""
    text = "；".join(filter(None, [doc.get("problem"), doc.get("indicators_text")]))
    total = doc.get("total_amount")
    return {
        **doc,
        "status": "published",  # search_document returns None for anything not public
        "description": text,
        "keywords": doc.get("keywords") or [],
        "terms": extractor.terms(doc.get("title") or "", text),
        "org_id": doc.get("posing_org_id"),
        "org_name": doc.get("posing_org_name") or "",
        "city_code": regions.city_code(region),
        "province_code": regions.province_code(region),
        "published_at_ts": doc.get("published_at"),
        "total_amount_fen": fen(Decimal(total)) if total is not None else None,
    }
