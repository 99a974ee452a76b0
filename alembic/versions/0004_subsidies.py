"""subsidies: policies and versions, runs, results with working, exclusions, voucher redemptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 18:33:37.835506
"""

import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import market.core.db
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subsidy_policies",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("is_preset", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_policies")),
        sa.UniqueConstraint("code", name=op.f("uq_subsidy_policies_code")),
    )
    op.create_table(
        "subsidy_policy_versions",
        sa.Column("policy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_subsidy_policy_versions_created_by_users")),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["subsidy_policies.id"], name=op.f("fk_subsidy_policy_versions_policy_id_subsidy_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_policy_versions")),
        sa.UniqueConstraint("policy_id", "version", name=op.f("uq_subsidy_policy_versions_policy_id_version")),
    )
    op.create_table(
        "subsidy_runs",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("compute_state", sa.String(length=20), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=False),
        sa.Column("contract_count", sa.Integer(), nullable=False),
        sa.Column("total", market.core.db.Money(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("computed_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("corrects_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reviewed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reviewed_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("approved_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("frozen_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("frozen_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["approved_by"], ["users.id"], name=op.f("fk_subsidy_runs_approved_by_users")),
        sa.ForeignKeyConstraint(
            ["corrects_run_id"], ["subsidy_runs.id"], name=op.f("fk_subsidy_runs_corrects_run_id_subsidy_runs")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_subsidy_runs_created_by_users")),
        sa.ForeignKeyConstraint(["frozen_by"], ["users.id"], name=op.f("fk_subsidy_runs_frozen_by_users")),
        sa.ForeignKeyConstraint(["reviewed_by"], ["users.id"], name=op.f("fk_subsidy_runs_reviewed_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_runs")),
    )
    with op.batch_alter_table("subsidy_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subsidy_runs_status"), ["status"], unique=False)

    op.create_table(
        "subsidy_exclusions",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("policy_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("beneficiary_key", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["subsidy_policy_versions.id"],
            name=op.f("fk_subsidy_exclusions_policy_version_id_subsidy_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["subsidy_runs.id"], name=op.f("fk_subsidy_exclusions_run_id_subsidy_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_exclusions")),
    )
    with op.batch_alter_table("subsidy_exclusions", schema=None) as batch_op:
        batch_op.create_index("ix_subsidy_exclusions_run_contract", ["run_id", "contract_id"], unique=False)

    op.create_table(
        "subsidy_results",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("policy_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("policy_code", sa.String(length=60), nullable=False),
        sa.Column("beneficiary_key", sa.String(length=300), nullable=False),
        sa.Column("beneficiary_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("beneficiary_name", sa.String(length=200), nullable=False),
        sa.Column("basis_total", market.core.db.Money(), nullable=False),
        sa.Column("before_caps", market.core.db.Money(), nullable=False),
        sa.Column("contract_cap_cut", market.core.db.Money(), nullable=False),
        sa.Column("year_cap_cut", market.core.db.Money(), nullable=False),
        sa.Column("awards", market.core.db.Money(), nullable=False),
        sa.Column("total", market.core.db.Money(), nullable=False),
        sa.Column("contract_count", sa.Integer(), nullable=False),
        sa.Column("excluded_count", sa.Integer(), nullable=False),
        sa.Column("working", sa.JSON(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_org_id"],
            ["organisations.id"],
            name=op.f("fk_subsidy_results_beneficiary_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["subsidy_policy_versions.id"],
            name=op.f("fk_subsidy_results_policy_version_id_subsidy_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["subsidy_runs.id"], name=op.f("fk_subsidy_results_run_id_subsidy_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_results")),
        sa.UniqueConstraint(
            "run_id",
            "policy_version_id",
            "beneficiary_key",
            name=op.f("uq_subsidy_results_run_id_policy_version_id_beneficiary_key"),
        ),
    )
    with op.batch_alter_table("subsidy_results", schema=None) as batch_op:
        batch_op.create_index("ix_subsidy_results_org", ["beneficiary_org_id", "run_id"], unique=False)

    op.create_table(
        "subsidy_run_policies",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("policy_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_version_id"],
            ["subsidy_policy_versions.id"],
            name=op.f("fk_subsidy_run_policies_policy_version_id_subsidy_policy_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["subsidy_runs.id"],
            name=op.f("fk_subsidy_run_policies_run_id_subsidy_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "policy_version_id", name=op.f("pk_subsidy_run_policies")),
    )
    op.create_table(
        "subsidy_voucher_redemptions",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_subsidy_voucher_redemptions_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_subsidy_voucher_redemptions_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_voucher_redemptions")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_subsidy_voucher_redemptions_contract_id")),
    )


def downgrade() -> None:
    op.drop_table("subsidy_voucher_redemptions")
    op.drop_table("subsidy_run_policies")
    with op.batch_alter_table("subsidy_results", schema=None) as batch_op:
        batch_op.drop_index("ix_subsidy_results_org")

    op.drop_table("subsidy_results")
    with op.batch_alter_table("subsidy_exclusions", schema=None) as batch_op:
        batch_op.drop_index("ix_subsidy_exclusions_run_contract")

    op.drop_table("subsidy_exclusions")
    with op.batch_alter_table("subsidy_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsidy_runs_status"))

    op.drop_table("subsidy_runs")
    op.drop_table("subsidy_policy_versions")
    op.drop_table("subsidy_policies")
