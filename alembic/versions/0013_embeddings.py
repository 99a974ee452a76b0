"""matching: listing embeddings (vector, model identity, text hash) for semantic matching; public listings queued

Revision ID: 0013
Revises: 0008
Create Date: 2026-11-30 03:00:00
"""

import sqlalchemy as sa

import market.core.db
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = market.core.db.BigIntPK
outbox = sa.table(
    "outbox",
    sa.column("topic", sa.String),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", ID),
    sa.column("created_at", market.core.db.UTCDateTime),
    sa.column("available_at", market.core.db.UTCDateTime),
    sa.column("attempts", sa.Integer),
)
# Frozen here: whatever later code calls them.
PUBLIC_STATES = ("published", "matched", "negotiating")
LISTING_TABLES = {"achievement": "achievements", "demand": "demands"}
EMBED_TOPIC = "search.embed"


def upgrade() -> None:
    from market.core.db import utcnow

    op.create_table(
        "listing_embeddings",
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("sentences", market.core.db.JSONType, nullable=False),
        sa.Column("sentence_vectors", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_embeddings")),
        sa.UniqueConstraint(
            "entity_type", "entity_id", "model", name=op.f("uq_listing_embeddings_entity_type_entity_id_model")
        ),
    )
    # every public listing gets its first embedding from the worker (existing data carried forward)
    bind = op.get_bind()
    now = utcnow()
    for kind, table in LISTING_TABLES.items():
        listings = sa.table(table, sa.column("id", ID), sa.column("status", sa.String))
        ids = bind.execute(sa.select(listings.c.id).where(listings.c.status.in_(PUBLIC_STATES))).scalars().all()
        if ids:
            op.bulk_insert(
                outbox,
                [
                    {
                        "topic": EMBED_TOPIC,
                        "entity_type": kind,
                        "entity_id": i,
                        "created_at": now,
                        "available_at": now,
                        "attempts": 0,
                    }
                    for i in ids
                ],
            )


def downgrade() -> None:
    op.drop_table("listing_embeddings")
    op.execute(sa.delete(outbox).where(outbox.c.topic == EMBED_TOPIC))
