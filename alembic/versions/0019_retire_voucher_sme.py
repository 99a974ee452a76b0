"""subsidies: retire the lc2020-voucher-sme preset (the voucher programme pays the city's 30 % itself)

A deployment that installed or adopted it has it switched off, with an audit entry; its versions stay (runs
that used it keep pointing at them). Presets no longer ship it and the service refuses to run or re-create it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 06:00:00
"""

import sqlalchemy as sa

import market.core.db
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

CODE = "lc2020-voucher-sme"


def upgrade() -> None:
    conn = op.get_bind()
    policy_id = conn.scalar(
        sa.text("SELECT id FROM subsidy_policies WHERE code = :code AND active = :yes"), {"code": CODE, "yes": True}
    )
    if policy_id is None:
        return
    conn.execute(sa.text("UPDATE subsidy_policies SET active = :no WHERE id = :id"), {"no": False, "id": policy_id})
    audit_log = sa.table(
        "audit_log",
        sa.column("entity_type", sa.String),
        sa.column("entity_id", sa.BigInteger),
        sa.column("action", sa.String),
        sa.column("from_state", sa.String),
        sa.column("to_state", sa.String),
        sa.column("detail", market.core.db.JSONType),
        sa.column("at", market.core.db.UTCDateTime),
    )
    conn.execute(
        audit_log.insert().values(
            entity_type="subsidy_policy",
            entity_id=policy_id,
            action="retired",
            from_state="active",
            to_state="inactive",
            detail={"reason": "the voucher programme pays the city's 30 % with the reimbursement (migration 0019)"},
            at=market.core.db.utcnow(),
        )
    )


def downgrade() -> None:
    pass  # a retired preset is not switched back on: that would pay the city's 30 % twice
