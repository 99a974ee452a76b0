"""Subsidy tables: policies and their versions, runs through approval, results with their working.

- `subsidy_policies` / `subsidy_policy_versions` — a policy's identity and every version of its
  rules (the calculator's Policy as JSON). Editing a policy adds a version; versions are never
  changed, so a run can always show the rules it used.
- `subsidy_runs` — one computation of a period: approval state (draft → reviewed → approved →
  frozen), computation state and progress, and the frozen run it corrects (if any).
- `subsidy_run_policies` — the policy versions a run uses.
- `subsidy_results` — per run, policy version and beneficiary: the amounts and the full working.
- `subsidy_exclusions` — per run and policy version, each excluded contract and why (queryable).
- `subsidy_voucher_redemptions` — contracts the bureau accepted for 创新券 redemption (兑现条件).
- `subsidy_contract_recognitions` — 国内首创 / 首台套 as bureau staff recorded them, with the document
  that recognises them; the flags a filer ticks on a contract are claims and pay nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin, UTCDateTime, utcnow


class RunStatus(StrEnum):
    draft = "draft"  # 草稿: computed, may be recomputed
    reviewed = "reviewed"  # 已审核
    approved = "approved"  # 已批准: beneficiaries see their results
    frozen = "frozen"  # 已冻结: final, never recomputed


class ComputeState(StrEnum):
    queued = "queued"
    computing = "computing"
    computed = "computed"
    failed = "failed"


class SubsidyPolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "subsidy_policies"

    code: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    current_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    is_preset: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class SubsidyPolicyVersion(IdMixin, Base):
    """One immutable version of a policy's rules."""

    __tablename__ = "subsidy_policy_versions"
    __table_args__ = (sa.UniqueConstraint("policy_id", "version"),)

    policy_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("subsidy_policies.id"))
    version: Mapped[int] = mapped_column(sa.Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)  # calculator.policy_to_dict
    created_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubsidyRun(IdMixin, TimestampMixin, Base):
    __tablename__ = "subsidy_runs"

    name: Mapped[str] = mapped_column(sa.String(200))
    period_start: Mapped[dt.date] = mapped_column(sa.Date)
    period_end: Mapped[dt.date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default=RunStatus.draft, index=True)
    compute_state: Mapped[str] = mapped_column(sa.String(20), default=ComputeState.queued)
    progress_done: Mapped[int] = mapped_column(sa.Integer, default=0)
    progress_total: Mapped[int] = mapped_column(sa.Integer, default=0)
    contract_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # what this run pays
    # Σ negative differences against frozen runs: recorded to be recovered, never netted (0010).
    to_recover: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    error: Mapped[str | None] = mapped_column(sa.Text)
    computed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A correction of a frozen run: the diff is shown against it.
    corrects_run_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("subsidy_runs.id"))
    created_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    reviewed_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    frozen_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    frozen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SubsidyRunPolicy(Base):
    __tablename__ = "subsidy_run_policies"

    run_id: Mapped[int] = mapped_column(
        BigIntPK, sa.ForeignKey("subsidy_runs.id", ondelete="CASCADE"), primary_key=True
    )
    policy_version_id: Mapped[int] = mapped_column(
        BigIntPK, sa.ForeignKey("subsidy_policy_versions.id"), primary_key=True
    )


class SubsidyResult(IdMixin, Base):
    """A beneficiary's amount under one policy version in one run, with its working."""

    __tablename__ = "subsidy_results"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "policy_version_id", "beneficiary_key"),
        sa.Index("ix_subsidy_results_org", "beneficiary_org_id", "run_id"),
    )

    run_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("subsidy_runs.id", ondelete="CASCADE"))
    policy_version_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("subsidy_policy_versions.id"))
    policy_code: Mapped[str] = mapped_column(sa.String(60))
    beneficiary_key: Mapped[str] = mapped_column(sa.String(300))
    beneficiary_org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    beneficiary_name: Mapped[str] = mapped_column(sa.String(200))
    basis_total: Mapped[Decimal] = mapped_column(Money)
    before_caps: Mapped[Decimal] = mapped_column(Money)
    contract_cap_cut: Mapped[Decimal] = mapped_column(Money)
    year_cap_cut: Mapped[Decimal] = mapped_column(Money)
    awards: Mapped[Decimal] = mapped_column(Money)
    # The settlement of the beneficiary's year (0010): due over the year's coverage, what frozen runs
    # paid before, the signed difference; `total` is what this run pays, `to_recover` what it claims back.
    year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    due_total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    paid_before: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    difference: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    to_recover: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    total: Mapped[Decimal] = mapped_column(Money)
    contract_count: Mapped[int] = mapped_column(sa.Integer)
    excluded_count: Mapped[int] = mapped_column(sa.Integer)
    # Plain JSON, not JSONB: written once per run in bulk, read whole, never queried inside — so
    # JSONB's conversion on write (≈ 25 % of storing a year's results) buys nothing.
    working: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class SubsidyExclusion(IdMixin, Base):
    __tablename__ = "subsidy_exclusions"
    __table_args__ = (sa.Index("ix_subsidy_exclusions_run_contract", "run_id", "contract_id"),)

    run_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("subsidy_runs.id", ondelete="CASCADE"))
    policy_version_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("subsidy_policy_versions.id"))
    contract_id: Mapped[int] = mapped_column(BigIntPK)
    beneficiary_key: Mapped[str | None] = mapped_column(sa.String(300))
    reason: Mapped[str] = mapped_column(sa.String(40))


class VoucherRedemption(IdMixin, Base):
    """A contract accepted for 创新券 redemption: what makes it voucher-eligible for the voucher presets."""

    __tablename__ = "subsidy_voucher_redemptions"

    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"), unique=True)
    recorded_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContractRecognition(IdMixin, Base):
    """A recognition that changes payouts (国内首创 domestic_first, 首台套 first_set), recorded with its document."""

    __tablename__ = "subsidy_contract_recognitions"
    __table_args__ = (sa.UniqueConstraint("contract_id", "kind"),)

    contract_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("contracts.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # domestic_first / first_set
    document_reference: Mapped[str] = mapped_column(sa.String(200))  # the recognising document (文号)
    recorded_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
