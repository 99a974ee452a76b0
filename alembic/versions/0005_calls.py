"""open calls (揭榜挂帅): calls, bids, reviews, objections, projects, milestones, tranches

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import market.core.db
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("technical_field", sa.String(length=40), nullable=False),
        sa.Column(
            "indicators", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("total_amount", market.core.db.Money(), nullable=False),
        sa.Column("gov_support_ratio_pct", sa.Integer(), nullable=False),
        sa.Column("gov_support_cap", market.core.db.Money(), nullable=True),
        sa.Column("firm_share", market.core.db.Money(), nullable=False),
        sa.Column("gov_support", market.core.db.Money(), nullable=False),
        sa.Column("duration_months", sa.Integer(), nullable=False),
        sa.Column("bid_deadline", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "eligible_entity_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "eligible_regions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("consortium_allowed", sa.Boolean(), nullable=False),
        sa.Column("winners_count", sa.Integer(), nullable=False),
        sa.Column(
            "review_criteria",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("experts_per_bid", sa.Integer(), nullable=False),
        sa.Column("notice_days", sa.Integer(), nullable=False),
        sa.Column("first_tranche_pct", sa.Integer(), nullable=False),
        sa.Column("achievement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("posing_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("proposed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("vetting_note", sa.Text(), nullable=True),
        sa.Column("published_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice_started_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notice_ends_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("awarded_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"], ["achievements.id"], name=op.f("fk_calls_achievement_id_achievements")
        ),
        sa.ForeignKeyConstraint(
            ["posing_org_id"], ["organisations.id"], name=op.f("fk_calls_posing_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["proposed_by"], ["users.id"], name=op.f("fk_calls_proposed_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index(op.f("ix_calls_bid_deadline"), "calls", ["bid_deadline"], unique=False)
    op.create_index(op.f("ix_calls_notice_ends_at"), "calls", ["notice_ends_at"], unique=False)
    op.create_index(op.f("ix_calls_posing_org_id"), "calls", ["posing_org_id"], unique=False)
    op.create_index(op.f("ix_calls_state"), "calls", ["state"], unique=False)
    op.create_index(op.f("ix_calls_technical_field"), "calls", ["technical_field"], unique=False)
    op.create_table(
        "call_bids",
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("lead_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_org_ids", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("team_leader", sa.String(length=100), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column(
            "promised_indicators",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("price", market.core.db.Money(), nullable=False),
        sa.Column(
            "milestones", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("submitted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("submitted_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_changed_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("formal_check_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_bids_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["lead_org_id"], ["organisations.id"], name=op.f("fk_call_bids_lead_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], name=op.f("fk_call_bids_submitted_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_bids")),
    )
    op.create_index(op.f("ix_call_bids_call_id"), "call_bids", ["call_id"], unique=False)
    op.create_index(op.f("ix_call_bids_lead_org_id"), "call_bids", ["lead_org_id"], unique=False)
    op.create_index(op.f("ix_call_bids_state"), "call_bids", ["state"], unique=False)
    op.create_table(
        "call_bid_team",
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("is_lead", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["bid_id"], ["call_bids.id"], name=op.f("fk_call_bid_team_bid_id_call_bids")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_bid_team_call_id_calls")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_call_bid_team_org_id_organisations")),
        sa.PrimaryKeyConstraint("call_id", "org_id", name=op.f("pk_call_bid_team")),
    )
    op.create_index(op.f("ix_call_bid_team_bid_id"), "call_bid_team", ["bid_id"], unique=False)
    op.create_table(
        "call_expert_conflicts",
        sa.Column("expert_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("bid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(["bid_id"], ["call_bids.id"], name=op.f("fk_call_expert_conflicts_bid_id_call_bids")),
        sa.ForeignKeyConstraint(
            ["expert_user_id"], ["users.id"], name=op.f("fk_call_expert_conflicts_expert_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_call_expert_conflicts_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_expert_conflicts")),
    )
    op.create_index(
        op.f("ix_call_expert_conflicts_expert_user_id"), "call_expert_conflicts", ["expert_user_id"], unique=False
    )
    op.create_table(
        "call_objections",
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("lodged_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("lodged_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(["bid_id"], ["call_bids.id"], name=op.f("fk_call_objections_bid_id_call_bids")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_objections_call_id_calls")),
        sa.ForeignKeyConstraint(["lodged_by"], ["users.id"], name=op.f("fk_call_objections_lodged_by_users")),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], name=op.f("fk_call_objections_resolved_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_objections")),
    )
    op.create_index(op.f("ix_call_objections_call_id"), "call_objections", ["call_id"], unique=False)
    op.create_table(
        "call_projects",
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("gov_grant", market.core.db.Money(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("extension_months", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("acceptance_note", sa.Text(), nullable=True),
        sa.Column("accepted_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bid_id"], ["call_bids.id"], name=op.f("fk_call_projects_bid_id_call_bids")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_projects_call_id_calls")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_projects")),
        sa.UniqueConstraint("bid_id", name=op.f("uq_call_projects_bid_id")),
    )
    op.create_index(op.f("ix_call_projects_call_id"), "call_projects", ["call_id"], unique=False)
    op.create_index(op.f("ix_call_projects_state"), "call_projects", ["state"], unique=False)
    op.create_table(
        "call_review_assignments",
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("scores", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True),
        sa.Column("total_centi", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("assigned_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("scored_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(["bid_id"], ["call_bids.id"], name=op.f("fk_call_review_assignments_bid_id_call_bids")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_review_assignments_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["expert_user_id"], ["users.id"], name=op.f("fk_call_review_assignments_expert_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_review_assignments")),
        sa.UniqueConstraint("bid_id", "expert_user_id", name=op.f("uq_call_review_assignments_bid_id_expert_user_id")),
    )
    op.create_index(op.f("ix_call_review_assignments_bid_id"), "call_review_assignments", ["bid_id"], unique=False)
    op.create_index(op.f("ix_call_review_assignments_call_id"), "call_review_assignments", ["call_id"], unique=False)
    op.create_index(
        op.f("ix_call_review_assignments_expert_user_id"), "call_review_assignments", ["expert_user_id"], unique=False
    )
    op.create_table(
        "call_milestones",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("deliverable", sa.Text(), nullable=False),
        sa.Column("due_month", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("payment_share_pct", sa.Integer(), nullable=False),
        sa.Column("amount", market.core.db.Money(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("submission_note", sa.Text(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["call_projects.id"], name=op.f("fk_call_milestones_project_id_call_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_milestones")),
        sa.UniqueConstraint("project_id", "seq", name=op.f("uq_call_milestones_project_id_seq")),
    )
    op.create_index(op.f("ix_call_milestones_project_id"), "call_milestones", ["project_id"], unique=False)
    op.create_table(
        "call_tranches",
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", market.core.db.Money(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("paid_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["call_projects.id"], name=op.f("fk_call_tranches_project_id_call_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_tranches")),
    )
    op.create_index(op.f("ix_call_tranches_project_id"), "call_tranches", ["project_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_call_tranches_project_id"), table_name="call_tranches")
    op.drop_table("call_tranches")
    op.drop_index(op.f("ix_call_milestones_project_id"), table_name="call_milestones")
    op.drop_table("call_milestones")
    op.drop_index(op.f("ix_call_review_assignments_expert_user_id"), table_name="call_review_assignments")
    op.drop_index(op.f("ix_call_review_assignments_call_id"), table_name="call_review_assignments")
    op.drop_index(op.f("ix_call_review_assignments_bid_id"), table_name="call_review_assignments")
    op.drop_table("call_review_assignments")
    op.drop_index(op.f("ix_call_projects_state"), table_name="call_projects")
    op.drop_index(op.f("ix_call_projects_call_id"), table_name="call_projects")
    op.drop_table("call_projects")
    op.drop_index(op.f("ix_call_objections_call_id"), table_name="call_objections")
    op.drop_table("call_objections")
    op.drop_index(op.f("ix_call_expert_conflicts_expert_user_id"), table_name="call_expert_conflicts")
    op.drop_table("call_expert_conflicts")
    op.drop_index(op.f("ix_call_bid_team_bid_id"), table_name="call_bid_team")
    op.drop_table("call_bid_team")
    op.drop_index(op.f("ix_call_bids_state"), table_name="call_bids")
    op.drop_index(op.f("ix_call_bids_lead_org_id"), table_name="call_bids")
    op.drop_index(op.f("ix_call_bids_call_id"), table_name="call_bids")
    op.drop_table("call_bids")
    op.drop_index(op.f("ix_calls_technical_field"), table_name="calls")
    op.drop_index(op.f("ix_calls_state"), table_name="calls")
    op.drop_index(op.f("ix_calls_posing_org_id"), table_name="calls")
    op.drop_index(op.f("ix_calls_notice_ends_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_bid_deadline"), table_name="calls")
    op.drop_table("calls")
