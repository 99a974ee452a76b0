"""contracts: contract ledger (技术合同认定登记), registration events, statistics ledger, targets, monthly reports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:30:02.951443
"""

import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import market.core.db
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contract_number_counters",
        sa.Column("office", sa.String(length=6), nullable=False),
        sa.Column("year", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office", "year", name=op.f("pk_contract_number_counters")),
    )
    op.create_table(
        "stats_monthly_reports",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("region_prefix", sa.String(length=6), nullable=False),
        sa.Column("generated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "content", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_monthly_reports")),
        sa.UniqueConstraint(
            "year", "month", "region_prefix", name=op.f("uq_stats_monthly_reports_year_month_region_prefix")
        ),
    )
    op.create_table(
        "stats_targets",
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("region_prefix", sa.String(length=6), nullable=False),
        sa.Column("contract_count", sa.Integer(), nullable=True),
        sa.Column("total_amount", market.core.db.Money(), nullable=True),
        sa.Column("technical_transaction_amount", market.core.db.Money(), nullable=True),
        sa.Column("set_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"], name=op.f("fk_stats_targets_set_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_targets")),
        sa.UniqueConstraint("year", "region_prefix", name=op.f("uq_stats_targets_year_region_prefix")),
    )
    op.create_table(
        "contracts",
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("contract_type", sa.String(length=20), nullable=False),
        sa.Column("subtype", sa.String(length=40), nullable=False),
        sa.Column("project_name", sa.String(length=300), nullable=False),
        sa.Column("signing_date", sa.Date(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("total_amount", market.core.db.Money(), nullable=False),
        sa.Column("technical_transaction_amount", market.core.db.Money(), nullable=False),
        sa.Column("payment_method", sa.String(length=20), nullable=True),
        sa.Column("ip_type", sa.String(length=30), nullable=True),
        sa.Column("technical_field", sa.String(length=40), nullable=True),
        sa.Column("plan_source", sa.String(length=20), nullable=True),
        sa.Column("related_party", sa.Boolean(), nullable=False),
        sa.Column("domestic_first", sa.Boolean(), nullable=False),
        sa.Column("first_set", sa.Boolean(), nullable=False),
        sa.Column("technology_import", sa.Boolean(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("achievement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("demand_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("filer_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("submitted_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_deadline", sa.Date(), nullable=True),
        sa.Column(
            "correction_items",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("refusal_reason", sa.String(length=40), nullable=True),
        sa.Column("refusal_note", sa.Text(), nullable=True),
        sa.Column("decided_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("registration_office", sa.String(length=6), nullable=True),
        sa.Column("registration_year", sa.SmallInteger(), nullable=True),
        sa.Column("registration_sequence", sa.Integer(), nullable=True),
        sa.Column("registration_number", sa.String(length=32), nullable=True),
        sa.Column("registered_at", market.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("registration_date", sa.Date(), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"], ["achievements.id"], name=op.f("fk_contracts_achievement_id_achievements")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_contracts_created_by_users")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_contracts_decided_by_users")),
        sa.ForeignKeyConstraint(["demand_id"], ["demands.id"], name=op.f("fk_contracts_demand_id_demands")),
        sa.ForeignKeyConstraint(
            ["filer_org_id"], ["organisations.id"], name=op.f("fk_contracts_filer_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("registration_number", name=op.f("uq_contracts_registration_number")),
        sa.UniqueConstraint(
            "registration_office",
            "registration_year",
            "registration_sequence",
            name=op.f("uq_contracts_registration_office_registration_year_registration_sequence"),
        ),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contracts_achievement_id"), ["achievement_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_demand_id"), ["demand_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_filer_org_id"), ["filer_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_registration_date"), ["registration_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_status"), ["status"], unique=False)
        batch_op.create_index("ix_contracts_status_deadline", ["status", "decision_deadline"], unique=False)

    op.create_table(
        "contract_deductions",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("amount", market.core.db.Money(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_contract_deductions_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_deductions")),
    )
    with op.batch_alter_table("contract_deductions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_deductions_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "contract_events",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("registrar_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "snapshot", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "previous", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_contract_events_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["registrar_user_id"], ["users.id"], name=op.f("fk_contract_events_registrar_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_events")),
    )
    with op.batch_alter_table("contract_events", schema=None) as batch_op:
        batch_op.create_index("ix_contract_events_contract", ["contract_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contract_events_effective_date"), ["effective_date"], unique=False)

    op.create_table(
        "contract_idempotency_keys",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_contract_idempotency_keys_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_contract_idempotency_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_contract_idempotency_keys_user_id_key")),
    )
    op.create_table(
        "contract_parties",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("entity_type_code", sa.String(length=3), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("broker_name", sa.String(length=100), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_contract_parties_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_contract_parties_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_parties")),
        sa.UniqueConstraint("contract_id", "role", name=op.f("uq_contract_parties_contract_id_role")),
    )
    with op.batch_alter_table("contract_parties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_parties_org_id"), ["org_id"], unique=False)

    op.create_table(
        "contract_payments",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", market.core.db.Money(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("recorded_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recorded_at", market.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_contract_payments_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_contract_payments_recorded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_payments")),
    )
    with op.batch_alter_table("contract_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_payments_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "contract_ledger",
        sa.Column("contract_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("entry_year", sa.SmallInteger(), nullable=False),
        sa.Column("entry_month", sa.SmallInteger(), nullable=False),
        sa.Column("sign", sa.SmallInteger(), nullable=False),
        sa.Column("total_amount", market.core.db.Money(), nullable=False),
        sa.Column("technical_transaction_amount", market.core.db.Money(), nullable=False),
        sa.Column("contract_type", sa.String(length=20), nullable=False),
        sa.Column("subtype", sa.String(length=40), nullable=False),
        sa.Column("technical_field", sa.String(length=40), nullable=False),
        sa.Column("ip_type", sa.String(length=30), nullable=False),
        sa.Column("seller_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("seller_name", sa.String(length=200), nullable=False),
        sa.Column("seller_credit_code", sa.String(length=18), nullable=False),
        sa.Column("seller_entity_type", sa.String(length=3), nullable=False),
        sa.Column("seller_region", sa.String(length=6), nullable=False),
        sa.Column("seller_country", sa.String(length=2), nullable=False),
        sa.Column("buyer_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("buyer_credit_code", sa.String(length=18), nullable=False),
        sa.Column("buyer_entity_type", sa.String(length=3), nullable=False),
        sa.Column("buyer_region", sa.String(length=6), nullable=False),
        sa.Column("buyer_country", sa.String(length=2), nullable=False),
        sa.Column("intermediary_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("intermediary_name", sa.String(length=200), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name=op.f("fk_contract_ledger_contract_id_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["contract_events.id"], name=op.f("fk_contract_ledger_event_id_contract_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_ledger")),
    )
    with op.batch_alter_table("contract_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_contract_ledger_contract", ["contract_id"], unique=False)
        batch_op.create_index("ix_contract_ledger_period", ["entry_date", "contract_type", "subtype"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contract_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_ledger_period")
        batch_op.drop_index("ix_contract_ledger_contract")

    op.drop_table("contract_ledger")
    with op.batch_alter_table("contract_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_payments_contract_id"))

    op.drop_table("contract_payments")
    with op.batch_alter_table("contract_parties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_parties_org_id"))

    op.drop_table("contract_parties")
    op.drop_table("contract_idempotency_keys")
    with op.batch_alter_table("contract_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_events_effective_date"))
        batch_op.drop_index("ix_contract_events_contract")

    op.drop_table("contract_events")
    with op.batch_alter_table("contract_deductions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_deductions_contract_id"))

    op.drop_table("contract_deductions")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index("ix_contracts_status_deadline")
        batch_op.drop_index(batch_op.f("ix_contracts_status"))
        batch_op.drop_index(batch_op.f("ix_contracts_registration_date"))
        batch_op.drop_index(batch_op.f("ix_contracts_filer_org_id"))
        batch_op.drop_index(batch_op.f("ix_contracts_demand_id"))
        batch_op.drop_index(batch_op.f("ix_contracts_call_id"))
        batch_op.drop_index(batch_op.f("ix_contracts_achievement_id"))

    op.drop_table("contracts")
    op.drop_table("stats_targets")
    op.drop_table("stats_monthly_reports")
    op.drop_table("contract_number_counters")
