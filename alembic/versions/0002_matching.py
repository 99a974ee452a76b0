"""matching: synonym groups (seeded from search/data/synonyms.txt), saved searches, notifications, webhooks

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import market.core.db
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def _id() -> sa.Column:
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def _stamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    groups = op.create_table(
        "synonym_groups",
        sa.Column("terms", JSON, nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        _id(),
        *_stamps(),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_synonym_groups_updated_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_synonym_groups")),
    )
    op.create_table(
        "saved_searches",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=True),
        sa.Column("filters", JSON, nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=True),
        sa.Column("source_id", ID, nullable=True),
        sa.Column("min_score", sa.SmallInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _id(),
        *_stamps(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_saved_searches_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    op.create_index(op.f("ix_saved_searches_user_id"), "saved_searches", ["user_id"])
    op.create_index(op.f("ix_saved_searches_target"), "saved_searches", ["target"])
    op.create_table(
        "notifications",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("saved_search_id", ID, nullable=False),
        sa.Column("listing_type", sa.String(length=20), nullable=False),
        sa.Column("listing_id", ID, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        _id(),
        sa.ForeignKeyConstraint(
            ["saved_search_id"],
            ["saved_searches.id"],
            name=op.f("fk_notifications_saved_search_id_saved_searches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "saved_search_id",
            "listing_type",
            "listing_id",
            name=op.f("uq_notifications_saved_search_id_listing_type_listing_id"),
        ),
    )
    op.create_index(op.f("ix_notifications_user_id"), "notifications", ["user_id"])
    op.create_table(
        "webhook_subscriptions",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _id(),
        *_stamps(),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_webhook_subscriptions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(op.f("ix_webhook_subscriptions_user_id"), "webhook_subscriptions", ["user_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("notification_id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        _id(),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_webhook_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "subscription_id", "notification_id", name=op.f("uq_webhook_deliveries_subscription_id_notification_id")
        ),
    )
    op.create_index(op.f("ix_webhook_deliveries_subscription_id"), "webhook_deliveries", ["subscription_id"])

    # The shipped dictionary becomes the editable one.
    from market.core.db import utcnow
    from search.synonyms import shipped_groups

    now = utcnow()
    op.bulk_insert(
        groups, [{"terms": list(g), "created_at": now, "updated_at": now} for g in shipped_groups("synonyms.txt")]
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    op.drop_table("notifications")
    op.drop_table("saved_searches")
    op.drop_table("synonym_groups")
