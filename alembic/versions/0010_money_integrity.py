"""money integrity: subsidy settlements across runs, re-registration links, reversing payments

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 02:50:00

Existing results carry forward as settlements that paid what they paid (due = difference = total,
nothing before); their year is their run's. Existing filing levels on organisations become unverified
claims (intermediary filings awaiting review); existing 国内首创 / 首台套 flags and achievement links
stay claims until bureau staff record / the registrar confirms them.
"""

import sqlalchemy as sa

import market.core.db
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch copy of a parent table: on SQLite that drops the old table, and the
    # drop cascades to its children (subsidy_runs → results, contracts → parties, deductions).
    op.add_column("subsidy_runs", sa.Column("to_recover", market.core.db.Money(), server_default="0", nullable=False))
    op.add_column("subsidy_results", sa.Column("year", sa.SmallInteger(), nullable=True))
    for name in ("due_total", "paid_before", "difference", "to_recover"):
        op.add_column("subsidy_results", sa.Column(name, market.core.db.Money(), server_default="0", nullable=False))
    runs = sa.table("subsidy_runs", sa.column("id", ID), sa.column("period_start", sa.Date))
    results = sa.table(
        "subsidy_results",
        sa.column("run_id", ID),
        sa.column("year", sa.SmallInteger),
        sa.column("total", sa.BigInteger),
        sa.column("due_total", sa.BigInteger),
        sa.column("difference", sa.BigInteger),
    )
    conn = op.get_bind()
    for run_id, start in conn.execute(sa.select(runs.c.id, runs.c.period_start)).all():
        conn.execute(sa.update(results).where(results.c.run_id == run_id).values(year=start.year))
    conn.execute(sa.update(results).values(due_total=results.c.total, difference=results.c.total))

    op.add_column("contracts", sa.Column("imported", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("contracts", sa.Column("achievement_link_confirmed_by", ID, nullable=True))
    op.add_column(
        "contracts",
        sa.Column("achievement_link_confirmed_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("contracts", sa.Column("reregistration_of_id", ID, nullable=True))
    # contract_payments has no children: a batch copy (for the constraints, on SQLite) loses nothing.
    with op.batch_alter_table("contract_payments") as t:
        t.add_column(sa.Column("reverses_payment_id", ID, nullable=True))
        t.create_foreign_key(
            op.f("fk_contract_payments_reverses_payment_id_contract_payments"),
            "contract_payments",
            ["reverses_payment_id"],
            ["id"],
        )
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
        sa.ForeignKeyConstraint(
            ["party_org_id"],
            ["organisations.id"],
            name=op.f("fk_contract_filing_authorisations_party_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["intermediary_org_id"],
            ["organisations.id"],
            name=op.f("fk_contract_filing_authorisations_intermediary_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"], ["users.id"], name=op.f("fk_contract_filing_authorisations_granted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_contract_filing_authorisations_revoked_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_filing_authorisations")),
    )
    op.create_index(
        "ix_contract_filing_authorisations_pair",
        "contract_filing_authorisations",
        ["party_org_id", "intermediary_org_id"],
    )

    op.create_table(
        "subsidy_contract_recognitions",
        sa.Column("contract_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("document_reference", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", ID, nullable=True),
        sa.Column("recorded_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_subsidy_contract_recognitions_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_subsidy_contract_recognitions_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_contract_recognitions")),
        sa.UniqueConstraint("contract_id", "kind", name=op.f("uq_subsidy_contract_recognitions_contract_id_kind")),
    )

    op.create_table(
        "intermediary_filings",
        sa.Column("org_id", ID, nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("migrated_claim", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("claimed_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("applied_by", ID, nullable=True),
        sa.Column("filing_number", sa.String(length=60), nullable=True),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoked_by", ID, nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("applied_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_intermediary_filings_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["applied_by"], ["users.id"], name=op.f("fk_intermediary_filings_applied_by_users")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_intermediary_filings_decided_by_users")),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"], name=op.f("fk_intermediary_filings_revoked_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intermediary_filings")),
        sa.UniqueConstraint("filing_number", name=op.f("uq_intermediary_filings_filing_number")),
    )
    op.create_index("ix_intermediary_filings_org", "intermediary_filings", ["org_id", "status"])
    # Filing levels typed into organisation profiles: claims awaiting the bureau's review, never paid on as they stand.
    orgs = sa.table(
        "organisations", sa.column("id", ID), sa.column("filing_level", sa.String), sa.column("filing_date", sa.Date)
    )
    filings = sa.table(
        "intermediary_filings",
        sa.column("org_id", ID),
        sa.column("level", sa.String),
        sa.column("status", sa.String),
        sa.column("migrated_claim", sa.Boolean),
        sa.column("claimed_on", sa.Date),
        sa.column("note", sa.Text),
        sa.column("applied_at", market.core.db.UTCDateTime),
        sa.column("created_at", market.core.db.UTCDateTime),
        sa.column("updated_at", market.core.db.UTCDateTime),
    )
    now = market.core.db.utcnow()
    claims = [
        {
            "org_id": org_id,
            "level": level,
            "status": "applied",
            "migrated_claim": True,
            "claimed_on": day,
            "note": "migrated from the organisation profile (0010): an unverified claim until reviewed",
            "applied_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for org_id, level, day in conn.execute(
            sa.select(orgs.c.id, orgs.c.filing_level, orgs.c.filing_date).where(orgs.c.filing_level.is_not(None))
        )
        if level in ("national", "provincial", "city")
    ]
    if claims:
        conn.execute(sa.insert(filings), claims)


def downgrade() -> None:
    op.drop_index("ix_intermediary_filings_org", table_name="intermediary_filings")
    op.drop_table("intermediary_filings")
    op.drop_table("subsidy_contract_recognitions")
    op.drop_index("ix_contract_filing_authorisations_pair", table_name="contract_filing_authorisations")
    op.drop_table("contract_filing_authorisations")
    with op.batch_alter_table("contract_payments") as t:
        t.drop_constraint(op.f("uq_contract_payments_reverses_payment_id"), type_="unique")
        t.drop_constraint(op.f("fk_contract_payments_reverses_payment_id_contract_payments"), type_="foreignkey")
        t.drop_column("reverses_payment_id")
    # Plain DROP COLUMN (SQLite ≥ 3.35): a batch copy of these parent tables would cascade to their children.
    for name in ("reregistration_of_id", "achievement_link_confirmed_at", "achievement_link_confirmed_by", "imported"):
        op.drop_column("contracts", name)
    for name in ("to_recover", "difference", "paid_before", "due_total", "year"):
        op.drop_column("subsidy_results", name)
    op.drop_column("subsidy_runs", "to_recover")
