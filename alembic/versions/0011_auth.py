"""accounts: API key scopes, credit-code claims and disputes, saved searches that pause and say why

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-30 03:00:00

Plain ADD/DROP COLUMN (no batch table copy): on SQLite a copy of `organisations` would be dropped under
the users that reference it, and one of `saved_searches` would cascade-delete the inbox.
"""

import sqlalchemy as sa

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Existing API keys keep doing what they did: every scope (market/accounts/scopes.py).
ALL_SCOPES = "accounts bids calls contracts listings matching read stats subsidies"


def upgrade() -> None:
    op.add_column("credentials", sa.Column("scopes", sa.String(length=300), nullable=True))
    credentials = sa.table("credentials", sa.column("kind", sa.String), sa.column("scopes", sa.String))
    op.execute(credentials.update().where(credentials.c.kind == "api_key").values(scopes=ALL_SCOPES))

    op.add_column("organisations", sa.Column("claimed_credit_code", sa.String(length=18), nullable=True))
    op.create_index(
        op.f("ix_organisations_claimed_credit_code"), "organisations", ["claimed_credit_code"], unique=False
    )
    organisations = sa.table(
        "organisations",
        sa.column("credit_code", sa.String),
        sa.column("claimed_credit_code", sa.String),
        sa.column("verification_status", sa.String),
    )
    op.execute(organisations.update().values(claimed_credit_code=organisations.c.credit_code))
    # A rejected registration no longer holds its code (it keeps it as its claim).
    op.execute(organisations.update().where(organisations.c.verification_status == "rejected").values(credit_code=None))

    op.add_column("saved_searches", sa.Column("paused_reason", sa.String(length=60), nullable=True))


def downgrade() -> None:
    op.drop_column("saved_searches", "paused_reason")
    op.drop_index(op.f("ix_organisations_claimed_credit_code"), table_name="organisations")
    op.drop_column("organisations", "claimed_credit_code")
    op.drop_column("credentials", "scopes")
