"""accounts: API key scopes, credit-code disputes (one verified holder per code), saved searches that pause

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-30 03:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0008'
branch_labels = None
depends_on = None

# Existing API keys keep doing what they did: every scope (market/accounts/scopes.py, ALL_SCOPES).
ALL_SCOPES = "read listings contracts bids calls matching subsidies stats accounts"
VERIFIED = "verification_status = 'verified'"


def upgrade() -> None:
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=300), nullable=True))
    credentials = sa.table('credentials', sa.column('kind', sa.String), sa.column('scopes', sa.String))
    op.execute(credentials.update().where(credentials.c.kind == 'api_key').values(scopes=ALL_SCOPES))

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_constraint('uq_organisations_credit_code', type_='unique')
        batch_op.create_index(batch_op.f('ix_organisations_credit_code'), ['credit_code'], unique=False)
        batch_op.create_index(
            'uq_organisations_verified_credit_code', ['credit_code'], unique=True,
            postgresql_where=sa.text(VERIFIED), sqlite_where=sa.text(VERIFIED),
        )

    with op.batch_alter_table('saved_searches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_reason', sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('saved_searches', schema=None) as batch_op:
        batch_op.drop_column('paused_reason')
    # Back to one organisation per code: disputed and rejected claimants give theirs up.
    organisations = sa.table(
        'organisations', sa.column('credit_code', sa.String), sa.column('verification_status', sa.String)
    )
    op.execute(
        organisations.update()
        .where(organisations.c.verification_status.in_(['disputed', 'rejected']))
        .values(credit_code=None)
    )
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index('uq_organisations_verified_credit_code')
        batch_op.drop_index(batch_op.f('ix_organisations_credit_code'))
        batch_op.create_unique_constraint('uq_organisations_credit_code', ['credit_code'])
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_column('scopes')
