"""Listings as matching reads them: kinds and their other side, documents, facts and how a hit is shown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.auth.actor import Actor
from market.core.errors import NotFound
from market.listings.models import Achievement, Demand
from search import documents
from search.scoring import Facts
from search.sources import AchievementData, DemandData, EvaluationData, ListingData
from search.terms import TermExtractor

OTHER_SIDE = {"demand": "achievement", "achievement": "demand"}
ENDED_STATES = frozenset({"closed", "withdrawn"})
MODELS: dict[str, type[Achievement] | type[Demand]] = {"achievement": Achievement, "demand": Demand}
# A listing as matching reads it: the ORM object, or its columns as a Row (documents read attributes only).
Listing = Achievement | Demand | sa.Row[Any]


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
        evaluated = doc.get("evaluated_maturity_rank")  # from a finished evaluation's TRL: outranks the declared one
        return Facts(
            doc.get("technical_field"),
            evaluated if evaluated is not None else doc.get("maturity_rank"),
            doc.get("asking_price_fen"),
            bool(doc.get("price_negotiable")),
            frozenset(doc.get("transfer_modes") or []),
            doc.get("region_code"),
            concepts,
            doc.get("evaluation_trl") if evaluated is not None else None,
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


def document_of(
    kind: str,
    listing: Listing | ListingData,
    extractor: TermExtractor,
    org_name: str = "",
    evaluation: Any = None,
) -> dict[str, Any]:
    """A listing's search document: search builds it from plain data (search/sources.py), never from the ORM;
    `evaluation`: an achievement's latest finished evaluation (`market.evaluations.service.Summary`), if any."""
    if kind == "achievement":
        evaluated = EvaluationData.of(evaluation) if evaluation is not None else None
        return documents.achievement_document(AchievementData.of(listing), org_name, extractor, evaluated)
    return documents.demand_document(DemandData.of(listing), org_name, extractor)


def load_listing(session: Session, kind: str | None, listing_id: int | None) -> Achievement | Demand | None:
    """The achievement or demand by id (None for another kind, or one that is gone)."""
    if listing_id is None or kind not in MODELS:
        return None
    return session.get(Achievement, listing_id) if kind == "achievement" else session.get(Demand, listing_id)


def get_listing(session: Session, actor: Actor | None, kind: str, listing_id: int) -> Listing:
    """The listing to match or watch, if the actor may see it (read-only: its columns, not an ORM object)."""
    from market.listings import service as listings

    if kind not in MODELS:
        raise NotFound(f"unknown listing kind '{kind}'", code="unknown_kind")
    return listings.visible_row(session, actor, kind, listing_id)  # type: ignore[arg-type]
