"""a voucher redemption claim names the registered technology contract it is, when it is one

Revision ID: 0027
Revises: 0019
Create Date: 2026-11-30 06:50:00
"""

import sqlalchemy as sa

from alembic import op

revision = "0027"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("voucher_redemption_claims") as batch:
        batch.add_column(sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch.create_index("ix_voucher_redemption_claims_contract_id", ["contract_id"], unique=False)
        batch.create_foreign_key(
            "fk_voucher_redemption_claims_contract_id_contracts", "contracts", ["contract_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("voucher_redemption_claims") as batch:
        batch.drop_constraint("fk_voucher_redemption_claims_contract_id_contracts", type_="foreignkey")
        batch.drop_index("ix_voucher_redemption_claims_contract_id")
        batch.drop_column("contract_id")
