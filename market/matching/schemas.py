"""Request and response shapes of search, match, synonyms, saved searches, inbox and webhooks."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from market.core.types import Id, MoneyIn, Text
from market.core.vocab import Maturity, TechnicalField, TransferMode


class SearchResults(BaseModel):
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int
    facets: dict[str, dict[str, int]] = Field(description="value counts per facet (技术领域, 成熟度, 方式, 地区…)")
    expanded_terms: list[str] = Field(description="query terms after synonym expansion")


class Reason(BaseModel):
    constraint: Literal["concepts", "meaning", "technical_field", "maturity", "price", "modes", "region"]
    fit: Literal["fit", "partial", "miss", "unknown"]
    detail: str


class MatchItem(BaseModel):
    listing: dict[str, Any]
    score: float = Field(description="0-1: text relevance combined with structured compatibility")
    text_score: float
    matched_terms: list[str] = Field(description="words of the source listing this one says too (never fragments)")
    semantic_similarity: float | None = Field(
        default=None, description="cosine similarity of the two listings' embeddings (None: lexical only)"
    )
    reasons: list[Reason] = Field(
        description="concepts: shared words; meaning: the candidate's sentence closest in meaning; then the fits"
    )


class MatchResults(BaseModel):
    source: dict[str, Any]
    mode: str = Field(default="lexical", description="hybrid (words and meaning), lexical or semantic")
    concepts: list[dict[str, Any]] = Field(description="the source listing's key terms and their synonyms")
    items: list[MatchItem]


class SynonymGroupIn(BaseModel):
    terms: list[Text] = Field(min_length=2, max_length=30, description="同义词: terms that mean the same")


class SynonymGroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    terms: list[str]
    updated_at: dt.datetime


class SavedSearchFilters(BaseModel):
    technical_field: TechnicalField | None = None
    maturity: Maturity | None = None
    mode: TransferMode | None = None
    region_code: Text | None = Field(None, pattern=r"^\d{6}$")
    min_price: MoneyIn | None = None
    max_price: MoneyIn | None = None
    include_negotiable: bool = False


class SavedSearchIn(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    target: Literal["achievement", "demand", "call"] | None = Field(
        None, description="what to watch (for a text query)"
    )
    query: Text | None = Field(None, max_length=200)
    filters: SavedSearchFilters = Field(default_factory=SavedSearchFilters)
    source_type: Literal["achievement", "demand"] | None = Field(None, description='"match for my listing"')
    source_id: Id | None = None
    min_score: int = Field(50, ge=0, le=100, description="match score (0-100) a listing must reach")

    @model_validator(mode="after")
    def _one_kind(self) -> SavedSearchIn:
        if (self.source_type is None) != (self.source_id is None):
            raise ValueError("source_type and source_id go together")
        if self.source_type is None and self.target is None:
            raise ValueError("a text query needs a target (achievement, demand or call)")
        return self


class SavedSearchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    target: str
    query: str | None
    filters: dict[str, Any]
    source_type: str | None
    source_id: int | None
    min_score: int
    active: bool
    paused_reason: str | None = Field(
        None, description="why it paused itself, e.g. source_not_visible (its listing is no longer visible to you)"
    )
    created_at: dt.datetime


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    saved_search_id: int | None
    listing_type: str
    listing_id: int
    title: str
    detail: dict[str, Any]
    created_at: dt.datetime
    read_at: dt.datetime | None


class WebhookIn(BaseModel):
    url: Text = Field(max_length=500)


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    url: str
    active: bool
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 key for X-Market-Signature; shown only once")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    notification_id: int
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    subscription_id: int
    next_attempt_at: dt.datetime | None = Field(description="when a pending delivery is tried next")


class IndexLag(BaseModel):
    pending: int = Field(description="outbox entries not yet in the index")
    oldest_created_at: dt.datetime | None
    lag_seconds: float = Field(description="age of the oldest undrained entry (0 when caught up)")
