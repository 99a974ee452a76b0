"""stats: the contract-ledger rollup (per dimension value and month / year), filled from the ledger

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:10:00
"""

import sqlalchemy as sa

import market.core.db
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_rollup",
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("period", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("key2", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_amount", market.core.db.Money(), nullable=False),
        sa.Column("technical_transaction_amount", market.core.db.Money(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "grain", "period", "key", "key2", name=op.f("pk_stats_rollup")),
    )
    # Contracts registered before this revision: their ledger rows become rollup rows.
    from sqlalchemy.orm import Session

    from market.stats import rollup

    rollup.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table("stats_rollup")
