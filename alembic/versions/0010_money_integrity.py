"""money integrity: subsidy settlements across runs, re-registration links, reversing payments

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 02:50:00

Existing results carry forward as settlements that paid what they paid (due = difference = total,
nothing before); their year is their run's.
"""
import sqlalchemy as sa
from alembic import op

import market.core.db

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("subsidy_runs") as t:
        t.add_column(sa.Column("to_recover", market.core.db.Money(), server_default="0", nullable=False))
    with op.batch_alter_table("subsidy_results") as t:
        t.add_column(sa.Column("year", sa.SmallInteger(), nullable=True))
        for name in ("due_total", "paid_before", "difference", "to_recover"):
            t.add_column(sa.Column(name, market.core.db.Money(), server_default="0", nullable=False))
    runs = sa.table("subsidy_runs", sa.column("id", ID), sa.column("period_start", sa.Date))
    results = sa.table(
        "subsidy_results", sa.column("run_id", ID), sa.column("year", sa.SmallInteger),
        sa.column("total", sa.BigInteger), sa.column("due_total", sa.BigInteger), sa.column("difference", sa.BigInteger),
    )  # fmt: skip
    conn = op.get_bind()
    for run_id, start in conn.execute(sa.select(runs.c.id, runs.c.period_start)).all():
        conn.execute(sa.update(results).where(results.c.run_id == run_id).values(year=start.year))
    conn.execute(sa.update(results).values(due_total=results.c.total, difference=results.c.total))

    with op.batch_alter_table("contracts") as t:
        t.add_column(sa.Column("imported", sa.Boolean(), server_default=sa.false(), nullable=False))
        t.add_column(sa.Column("reregistration_of_id", ID, nullable=True))
        t.create_foreign_key(op.f("fk_contracts_reregistration_of_id_contracts"), "contracts", ["reregistration_of_id"], ["id"])
    with op.batch_alter_table("contract_payments") as t:
        t.add_column(sa.Column("reverses_payment_id", ID, nullable=True))
        t.create_foreign_key(op.f("fk_contract_payments_reverses_payment_id_contract_payments"), "contract_payments",
                             ["reverses_payment_id"], ["id"])  # fmt: skip
        t.create_unique_constraint(op.f("uq_contract_payments_reverses_payment_id"), ["reverses_payment_id"])
    op.create_table(
        "contract_filing_authorisations",
        sa.Column("party_org_id", ID, nullable=False),
        sa.Column("intermediary_org_id", ID, nullable=False),
        sa.Column("granted_by", ID, nullable=False),
        sa.Column("granted_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", ID, nullable=True),
        sa.Column("revoked_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(["party_org_id"], ["organisations.id"], name=op.f("fk_contract_filing_authorisations_party_org_id_organisations")),
        sa.ForeignKeyConstraint(["intermediary_org_id"], ["organisations.id"], name=op.f("fk_contract_filing_authorisations_intermediary_org_id_organisations")),
        sa.ForeignKeyConstraint(["granted_by"], ["users.id"], name=op.f("fk_contract_filing_authorisations_granted_by_users")),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"], name=op.f("fk_contract_filing_authorisations_revoked_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_filing_authorisations")),
    )
    op.create_index("ix_contract_filing_authorisations_pair", "contract_filing_authorisations",
                    ["party_org_id", "intermediary_org_id"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_contract_filing_authorisations_pair", table_name="contract_filing_authorisations")
    op.drop_table("contract_filing_authorisations")
    with op.batch_alter_table("contract_payments") as t:
        t.drop_constraint(op.f("uq_contract_payments_reverses_payment_id"), type_="unique")
        t.drop_constraint(op.f("fk_contract_payments_reverses_payment_id_contract_payments"), type_="foreignkey")
        t.drop_column("reverses_payment_id")
    with op.batch_alter_table("contracts") as t:
        t.drop_constraint(op.f("fk_contracts_reregistration_of_id_contracts"), type_="foreignkey")
        t.drop_column("reregistration_of_id")
        t.drop_column("imported")
    with op.batch_alter_table("subsidy_results") as t:
        for name in ("to_recover", "difference", "paid_before", "due_total", "year"):
            t.drop_column(name)
    with op.batch_alter_table("subsidy_runs") as t:
        t.drop_column("to_recover")
