"""Technology contract ledger (技术合同认定登记): contracts, parties, deductions, payments, registration events.

How the tables fit together (other domains read these; the columns are the contract):

- `contracts` — one row per contract, holding the figures *currently in force* (the
  latest registered version) and its workflow state. `status` is one of
  draft / submitted / returned / registered / refused / cancelled. Only
  `registered` contracts count anywhere (statistics, subsidies, tax relief).
- `contract_parties` — seller, buyer, optional intermediary (with optional broker name);
  exactly one seller and one buyer per contract. `org_id` is set when the party is a
  member organisation of the market, null otherwise (e.g. a foreign buyer).
- `contract_deductions` — itemised non-technical costs; 技术交易额 = 成交额 − Σ deductions.
- `contract_payments` — money actually received; 实际履行金额 = Σ amount (see
  `market.contracts.service.performed_amount`).
- `contract_events` — the registration history, append-only: `registered`, `amended`,
  `cancelled`, each with its own `effective_date` (the registration date of that event)
  and a `snapshot` of the figures in force after it (`previous` holds the ones before,
  for amendments). Nothing is overwritten: the version in force on a day is the last
  event with `effective_date` ≤ that day.
- `contract_ledger` — the statistics' double-entry view of those events: +1 row when a
  contract is registered, −1/+1 rows when an amendment replaces a version, −1 when it is
  cancelled, each dated at the event's registration date and carrying the dimensions the
  statistics group by. Every statistic is a SUM over it, so amendments and cancellations
  change the figures from their registration date on and never rewrite a past period.
  The same sums per month and year are kept in `stats_rollup` (`market.stats.rollup`),
  written in the transaction of every ledger row.
- `contract_number_counters` — one row per (registration office, year), locked while a
  number is taken, which makes registration numbers gapless.
- `contract_idempotency_keys` — filing requests already served, by (user, key).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin, UTCDateTime, utcnow


class ContractStatus(StrEnum):
    draft = "draft"  # 草稿 (e.g. created by an open-call award, not yet filed)
    submitted = "submitted"  # 已申请, awaiting the registrar
    returned = "returned"  # 退回补正
    registered = "registered"  # 已登记
    refused = "refused"  # 不予登记
    cancelled = "cancelled"  # 已注销 (a registration cancelled later)


class PartyRole(StrEnum):
    seller = "seller"  # 卖方 (技术输出方)
    buyer = "buyer"  # 买方 (技术吸纳方)
    intermediary = "intermediary"  # 中介方 (技术转移服务机构)
    consortium_member = "consortium_member"  # 联合体成员: develops with the seller (open-call consortium)


class EventKind(StrEnum):
    registered = "registered"  # 登记
    amended = "amended"  # 变更登记
    cancelled = "cancelled"  # 注销登记


class Contract(IdMixin, TimestampMixin, Base):
    """A technology contract filed for registration; the columns hold the version in force."""

    __tablename__ = "contracts"
    __table_args__ = (
        sa.UniqueConstraint("registration_office", "registration_year", "registration_sequence"),
        sa.Index("ix_contracts_status_deadline", "status", "decision_deadline"),
    )

    status: Mapped[str] = mapped_column(sa.String(20), default=ContractStatus.draft, index=True)
    contract_type: Mapped[str] = mapped_column(sa.String(20))  # see rules.CONTRACT_TYPES
    subtype: Mapped[str] = mapped_column(sa.String(40))
    project_name: Mapped[str] = mapped_column(sa.String(300))
    signing_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    valid_from: Mapped[dt.date | None] = mapped_column(sa.Date)
    valid_until: Mapped[dt.date | None] = mapped_column(sa.Date)
    # 合同成交额
    total_amount: Mapped[Decimal] = mapped_column(Money)
    # 技术交易额 = total_amount − Σ deductions
    technical_transaction_amount: Mapped[Decimal] = mapped_column(Money)
    payment_method: Mapped[str | None] = mapped_column(sa.String(20))  # lump_sum / instalments / royalty / equity
    ip_type: Mapped[str | None] = mapped_column(sa.String(30))  # market.core.vocab.IPType
    technical_field: Mapped[str | None] = mapped_column(sa.String(40))  # market.core.vocab.TechnicalField
    plan_source: Mapped[str | None] = mapped_column(
        sa.String(20)
    )  # national / ministry / provincial / municipal / unplanned
    related_party: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # 关联交易
    domestic_first: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # 国内首创
    first_set: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # 首台套
    technology_import: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # 技术引进: domestic buyer files
    disputed: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # 有争议: 30 working days to decide

    achievement_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("achievements.id"), index=True)
    demand_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("demands.id"), index=True)
    # The open call (揭榜挂帅) it came from; no FK so this domain does not depend on the calls branch.
    call_id: Mapped[int | None] = mapped_column(BigIntPK, index=True)

    filer_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_deadline: Mapped[dt.date | None] = mapped_column(sa.Date)
    # 补正: what the registrar asked to fix, [{"field", "message"}].
    correction_items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    refusal_reason: Mapped[str | None] = mapped_column(sa.String(40))  # rules.RefusalReason
    refusal_note: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))

    registration_office: Mapped[str | None] = mapped_column(sa.String(6))
    registration_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    registration_sequence: Mapped[int | None] = mapped_column(sa.Integer)
    registration_number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    registered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    registration_date: Mapped[dt.date | None] = mapped_column(sa.Date, index=True)  # China local date
    cancelled_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    # Bumped by every registered amendment (1 = as first registered).
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    # A re-registration (重新登记) of an earlier registration of the same deal: one activity for subsidies.
    # No FK constraints on the 0010 columns: adding one on SQLite recreates `contracts`, and dropping the old
    # table cascades to its parties and deductions; the service checks these ids instead.
    reregistration_of_id: Mapped[int | None] = mapped_column(BigIntPK)
    # A historical registration brought in by the audited import, with its original number and date.
    imported: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # The link to the achievement (which drives the re-transfer "value added only" rule) counts once confirmed.
    achievement_link_confirmed_by: Mapped[int | None] = mapped_column(BigIntPK)  # users.id
    achievement_link_confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ContractParty(IdMixin, Base):
    """A party to a contract, as written on it (name, credit code, entity type, region, country)."""

    __tablename__ = "contract_parties"
    __table_args__ = (sa.UniqueConstraint("contract_id", "role"),)

    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(sa.String(20))  # PartyRole
    org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    credit_code: Mapped[str | None] = mapped_column(sa.String(18))
    entity_type_code: Mapped[str | None] = mapped_column(sa.String(3))  # 法人性质
    region_code: Mapped[str | None] = mapped_column(sa.String(6))  # null for a party abroad
    country: Mapped[str] = mapped_column(sa.String(2), default="CN")
    broker_name: Mapped[str | None] = mapped_column(sa.String(100))  # 技术经纪人, intermediaries only


class ContractDeduction(IdMixin, Base):
    """An itemised non-technical cost deducted from 成交额 (设备、仪器、零部件、原材料…)."""

    __tablename__ = "contract_deductions"

    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))  # rules.DEDUCTION_KINDS
    description: Mapped[str | None] = mapped_column(sa.String(200))
    amount: Mapped[Decimal] = mapped_column(Money)


class ContractPayment(IdMixin, Base):
    """Money received under a registered contract; 实际履行金额 is their sum."""

    __tablename__ = "contract_payments"

    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    received_on: Mapped[dt.date] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.String(200))
    recorded_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A correction is a reversing entry (negative amount) pointing at the payment it reverses; never an edit.
    reverses_payment_id: Mapped[int | None] = mapped_column(
        BigIntPK, sa.ForeignKey("contract_payments.id"), unique=True
    )


class FilingAuthorisation(IdMixin, Base):
    """A party's recorded authorisation of an intermediary to file its contracts (委托代办). Revoked, never deleted."""

    __tablename__ = "contract_filing_authorisations"
    __table_args__ = (sa.Index("ix_contract_filing_authorisations_pair", "party_org_id", "intermediary_org_id"),)

    party_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    intermediary_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    granted_by: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ContractEvent(IdMixin, Base):
    """A registration event (登记 / 变更登记 / 注销登记). Append-only."""

    __tablename__ = "contract_events"
    __table_args__ = (sa.Index("ix_contract_events_contract", "contract_id", "id"),)

    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # EventKind
    version: Mapped[int] = mapped_column(sa.Integer)  # the contract version in force after the event
    effective_date: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    registrar_user_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # Figures in force after (snapshot) and before (previous, amendments only).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class LedgerEntry(IdMixin, Base):
    """A signed statistics entry: one version of one contract entering (+1) or leaving (−1) the figures."""

    __tablename__ = "contract_ledger"
    __table_args__ = (
        # Period filter first, dimension next, figures included: GROUP BY runs as an index-only scan.
        sa.Index("ix_contract_ledger_period", "entry_date", "contract_type", "subtype"),
        sa.Index("ix_contract_ledger_contract", "contract_id"),
    )

    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"))
    event_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contract_events.id"))
    entry_date: Mapped[dt.date] = mapped_column(sa.Date)
    entry_year: Mapped[int] = mapped_column(sa.SmallInteger)
    entry_month: Mapped[int] = mapped_column(sa.SmallInteger)
    sign: Mapped[int] = mapped_column(sa.SmallInteger)  # +1 or −1: the count delta
    total_amount: Mapped[Decimal] = mapped_column(Money)  # signed
    technical_transaction_amount: Mapped[Decimal] = mapped_column(Money)  # signed
    contract_type: Mapped[str] = mapped_column(sa.String(20))
    subtype: Mapped[str] = mapped_column(sa.String(40))
    technical_field: Mapped[str] = mapped_column(sa.String(40))
    ip_type: Mapped[str] = mapped_column(sa.String(30))
    seller_org_id: Mapped[int | None] = mapped_column(BigIntPK)
    seller_name: Mapped[str] = mapped_column(sa.String(200))
    seller_credit_code: Mapped[str] = mapped_column(sa.String(18))  # "" when none
    seller_entity_type: Mapped[str] = mapped_column(sa.String(3))
    seller_region: Mapped[str] = mapped_column(sa.String(6))  # "" abroad
    seller_country: Mapped[str] = mapped_column(sa.String(2))
    buyer_org_id: Mapped[int | None] = mapped_column(BigIntPK)
    buyer_name: Mapped[str] = mapped_column(sa.String(200))
    buyer_credit_code: Mapped[str] = mapped_column(sa.String(18))
    buyer_entity_type: Mapped[str] = mapped_column(sa.String(3))
    buyer_region: Mapped[str] = mapped_column(sa.String(6))
    buyer_country: Mapped[str] = mapped_column(sa.String(2))
    intermediary_org_id: Mapped[int | None] = mapped_column(BigIntPK)
    intermediary_name: Mapped[str] = mapped_column(sa.String(200))  # "" when none
    # 计划来源 and 支付方式 of the version in force (rules.PLAN_SOURCES / PAYMENT_METHODS; "" when not given)
    plan_source: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")
    payment_method: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")


class NumberCounter(Base):
    """Last registration sequence used per (office, year); the row is locked while a number is taken."""

    __tablename__ = "contract_number_counters"

    office: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    year: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(sa.Integer, default=0)


class IdempotencyKey(IdMixin, Base):
    """A filing request already served: the same key from the same user returns the same contract."""

    __tablename__ = "contract_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    user_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(sa.String(100))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
