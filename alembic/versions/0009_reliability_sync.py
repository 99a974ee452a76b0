"""reliability: webhook deliveries carry their next attempt time (swept by beat, retried for hours)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 03:00:00
"""

import sqlalchemy as sa

import market.core.db
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from market.core.db import utcnow

    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("next_attempt_at", market.core.db.UTCDateTime(), nullable=True))
        batch.create_index("ix_webhook_deliveries_due", ["status", "next_attempt_at"])
    # Deliveries still pending were waiting on a Celery countdown that may be gone: the sweep sends them now.
    deliveries = sa.table(
        "webhook_deliveries", sa.column("status", sa.String), sa.column("next_attempt_at", market.core.db.UTCDateTime)
    )
    op.execute(deliveries.update().where(deliveries.c.status == "pending").values(next_attempt_at=utcnow()))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_index("ix_webhook_deliveries_due")
        batch.drop_column("next_attempt_at")
