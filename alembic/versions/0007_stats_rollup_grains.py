"""stats: quarter and day grains in the rollup (no statistic reads the ledger any more): rebuilt from the ledger

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:40:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Same table, two more grains ("q" yyyyq, "d" yyyymmdd): recompute every row from the ledger.
    from sqlalchemy.orm import Session

    from market.stats import rollup

    rollup.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.execute("DELETE FROM stats_rollup WHERE grain IN ('q', 'd')")
