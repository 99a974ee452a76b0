"""evaluation: plan source and payment method in the contract ledger and its rollup; the regional monitoring index

Revision ID: 0018
Revises: 0016
Create Date: 2026-11-30 03:50:00
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import market.core.db
from alembic import op

revision = "0018"
down_revision = "0017"
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
    from sqlalchemy.orm import Session

    from market.stats import rollup

    rollup.rebuild(Session(bind=op.get_bind()))
    create_monitoring()
    create_targets()
    create_evaluations()


def create_monitoring() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    bigint = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

    def stamps() -> list[sa.Column]:
        return [
            sa.Column("id", bigint, autoincrement=True, nullable=False),
            sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        ]

    op.create_table(
        "monitoring_indicator_sets",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", json, nullable=False),
        sa.Column("is_preset", sa.Boolean(), nullable=False),
        sa.Column("created_by", bigint, nullable=True),
        *stamps(),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_monitoring_indicator_sets_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_indicator_sets")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_monitoring_indicator_sets_code_version")),
    )
    op.create_table(
        "monitoring_values",
        sa.Column("set_code", sa.String(length=60), nullable=False),
        sa.Column("indicator_code", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("value", json, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("entered_by", bigint, nullable=True),
        *stamps(),
        sa.ForeignKeyConstraint(["entered_by"], ["users.id"], name=op.f("fk_monitoring_values_entered_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_values")),
        sa.UniqueConstraint(
            "set_code",
            "indicator_code",
            "region_code",
            "period",
            name=op.f("uq_monitoring_values_set_code_indicator_code_region_code_period"),
        ),
    )


def downgrade() -> None:
    op.drop_table("evaluations")
    op.drop_table("evaluation_agencies")
    op.drop_table("stats_denominators")
    op.drop_table("stats_period_targets")
    drop_monitoring()
    op.execute("DELETE FROM stats_rollup WHERE dimension IN ('plan_source', 'payment_method')")
    for column in ("plan_source", "payment_method"):
        with op.batch_alter_table("contract_ledger") as batch:
            batch.drop_column(column)


def drop_monitoring() -> None:
    op.drop_table("monitoring_values")
    op.drop_table("monitoring_indicator_sets")


def create_targets() -> None:
    bigint = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

    def stamps() -> list[sa.Column]:
        return [
            sa.Column("id", bigint, autoincrement=True, nullable=False),
            sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        ]

    op.create_table(
        "stats_period_targets",
        sa.Column("region_prefix", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("first_year", sa.SmallInteger(), nullable=False),
        sa.Column("last_year", sa.SmallInteger(), nullable=False),
        sa.Column("target_amount", market.core.db.Money(), nullable=True),
        sa.Column("target_pct", market.core.db.Money(), nullable=True),
        sa.Column("denominator", sa.String(length=30), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("set_by", bigint, nullable=True),
        *stamps(),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_stats_period_targets_set_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_period_targets")),
    )
    op.create_table(
        "stats_denominators",
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("region_prefix", sa.String(length=6), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("amount", market.core.db.Money(), nullable=False),
        sa.Column("set_by", bigint, nullable=True),
        *stamps(),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_stats_denominators_set_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_denominators")),
        sa.UniqueConstraint(
            "name", "region_prefix", "year", name=op.f("uq_stats_denominators_name_region_prefix_year")
        ),
    )


def create_evaluations() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    bigint = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

    def stamps() -> list[sa.Column]:
        return [
            sa.Column("id", bigint, autoincrement=True, nullable=False),
            sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        ]

    op.create_table(
        "evaluation_agencies",
        sa.Column("org_id", bigint, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("hide_evaluators", sa.Boolean(), nullable=False),
        sa.Column("decided_by", bigint, nullable=True),
        *stamps(),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_evaluation_agencies_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_evaluation_agencies_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_agencies")),
        sa.UniqueConstraint("org_id", name=op.f("uq_evaluation_agencies_org_id")),
    )
    op.create_table(
        "evaluations",
        sa.Column("achievement_id", bigint, nullable=False),
        sa.Column("holder_org_id", bigint, nullable=False),
        sa.Column("agency_org_id", bigint, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("declared_conflicts", json, nullable=False),
        sa.Column("evaluator_ids", json, nullable=False),
        sa.Column("trl", sa.SmallInteger(), nullable=True),
        sa.Column("innovation_grade", sa.String(length=30), nullable=True),
        sa.Column("advancement_grade", sa.String(length=30), nullable=True),
        sa.Column("value_low", market.core.db.Money(), nullable=True),
        sa.Column("value_high", market.core.db.Money(), nullable=True),
        sa.Column("report_reference", sa.String(length=200), nullable=True),
        sa.Column("completed_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        *stamps(),
        sa.ForeignKeyConstraint(
            ["achievement_id"], ["achievements.id"], name=op.f("fk_evaluations_achievement_id_achievements")
        ),
        sa.ForeignKeyConstraint(
            ["agency_org_id"], ["organisations.id"], name=op.f("fk_evaluations_agency_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["holder_org_id"], ["organisations.id"], name=op.f("fk_evaluations_holder_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    op.create_index(op.f("ix_evaluations_achievement_id"), "evaluations", ["achievement_id"], unique=False)
    op.create_index(op.f("ix_evaluations_agency_org_id"), "evaluations", ["agency_org_id"], unique=False)
