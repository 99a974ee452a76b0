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
        t.add_column(sa.Column("reregistration_of_id", ID, nullable=True))
        t.create_foreign_key(op.f("fk_contracts_reregistration_of_id_contracts"), "contracts", ["reregistration_of_id"], ["id"])
    with op.batch_alter_table("contract_payments") as t:
        t.add_column(sa.Column("reverses_payment_id", ID, nullable=True))
        t.create_foreign_key(op.f("fk_contract_payments_reverses_payment_id_contract_payments"), "contract_payments",
                             ["reverses_payment_id"], ["id"])  # fmt: skip
        t.create_unique_constraint(op.f("uq_contract_payments_reverses_payment_id"), ["reverses_payment_id"])


def downgrade() -> None:
    with op.batch_alter_table("contract_payments") as t:
        t.drop_constraint(op.f("uq_contract_payments_reverses_payment_id"), type_="unique")
        t.drop_constraint(op.f("fk_contract_payments_reverses_payment_id_contract_payments"), type_="foreignkey")
        t.drop_column("reverses_payment_id")
    with op.batch_alter_table("contracts") as t:
        t.drop_constraint(op.f("fk_contracts_reregistration_of_id_contracts"), type_="foreignkey")
        t.drop_column("reregistration_of_id")
    with op.batch_alter_table("subsidy_results") as t:
        for name in ("to_recover", "difference", "paid_before", "due_total", "year"):
            t.drop_column(name)
    with op.batch_alter_table("subsidy_runs") as t:
        t.drop_column("to_recover")
