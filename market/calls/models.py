"""Tables of open calls (揭榜挂帅): calls, bids and invitations, integrity records, reviews, objections, projects,
milestones, tranches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from market.core.db import Base, BigIntPK, IdMixin, JSONType, Money, TimestampMixin, UTCDateTime


class Call(IdMixin, TimestampMixin, Base):
    """榜单: a problem (揭榜攻关) or an achievement to take up (揭榜转化), with its terms."""

    __tablename__ = "calls"

    kind: Mapped[str] = mapped_column(sa.String(10))
    state: Mapped[str] = mapped_column(sa.String(20), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    problem: Mapped[str] = mapped_column(sa.Text)
    technical_field: Mapped[str] = mapped_column(sa.String(40), index=True)
    # [{"name", "target", "unit"?}] — measurable technical indicators (技术指标) with targets.
    indicators: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # 榜额 and its split: the posing firm's share plus the government's support (ratio of 榜额, capped).
    total_amount: Mapped[Decimal] = mapped_column(Money)
    gov_support_ratio_pct: Mapped[int] = mapped_column(sa.Integer, default=0)
    gov_support_cap: Mapped[Decimal | None] = mapped_column(Money)
    firm_share: Mapped[Decimal] = mapped_column(Money)
    gov_support: Mapped[Decimal] = mapped_column(Money)
    duration_months: Mapped[int] = mapped_column(sa.Integer)
    bid_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    # Eligibility: empty lists mean open to all (不论资质、不设门槛).
    eligible_entity_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    eligible_regions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    consortium_allowed: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    winners_count: Mapped[int] = mapped_column(sa.Integer, default=1)  # 2–5: 赛马制
    # [{"name", "weight"}] with weights summing to 100.
    review_criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    experts_per_bid: Mapped[int] = mapped_column(sa.Integer, default=3)
    notice_days: Mapped[int] = mapped_column(sa.Integer, default=5)
    first_tranche_pct: Mapped[int] = mapped_column(sa.Integer, default=60)
    # Why the first tranche is below 60 % of the grant (seed practice: ≥ 60 % after signing); required then.
    first_tranche_reason: Mapped[str | None] = mapped_column(sa.Text)
    achievement_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("achievements.id"))
    posing_org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    proposed_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    vetting_note: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notice_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notice_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    awarded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # 赛马制: the mid-term review (中期评估) a down-selection rests on, and what was decided there.
    midterm_review: Mapped[str | None] = mapped_column(sa.Text)
    midterm_reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # {"kept", "dropped", "disposition" (reallocated | returned), "amount", "reason", "at"}
    down_selection: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Bumped on every change of the public state; the search index ignores older documents.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class Bid(IdMixin, TimestampMixin, Base):
    """揭榜方案: one organisation's (or consortium's) sealed bid."""

    __tablename__ = "call_bids"

    call_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("calls.id"), index=True)
    lead_org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    member_org_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)  # 联合体 members who accepted
    state: Mapped[str] = mapped_column(sa.String(20), index=True)
    team_leader: Mapped[str] = mapped_column(sa.String(100))
    plan: Mapped[str] = mapped_column(sa.Text)
    promised_indicators: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    price: Mapped[Decimal] = mapped_column(Money)
    # [{"title", "deliverable", "due_month", "payment_share_pct"}], shares summing to 100.
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    submitted_by: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    formal_check_reason: Mapped[str | None] = mapped_column(sa.Text)


class BidTeamMember(Base):
    """Who is on which live bid: an organisation is in at most one bid per call, as lead or member.

    The primary key makes that rule hold under concurrent submissions; rows go when a bid is withdrawn.
    """

    __tablename__ = "call_bid_team"

    call_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("calls.id"), primary_key=True)
    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), primary_key=True)
    bid_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("call_bids.id"), index=True)
    is_lead: Mapped[bool] = mapped_column(sa.Boolean)


class BidInvitation(IdMixin, Base):
    """An invitation to join a consortium bid (联合体): the member is a party only once it accepts."""

    __tablename__ = "call_bid_invitations"
    __table_args__ = (sa.UniqueConstraint("bid_id", "org_id"),)

    call_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("calls.id"), index=True)
    bid_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("call_bids.id"), index=True)
    org_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(20))  # invited | accepted | declined | withdrawn | revoked
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class IntegrityRecord(IdMixin, TimestampMixin, Base):
    """科研失信: a research-integrity record on an organisation or a person, kept by the bureau.

    Consulted at bid time, at formal check and at award; a bidder learns only that it is not eligible.
    """

    __tablename__ = "research_integrity_records"

    org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"), index=True)
    person_name: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    source_document: Mapped[str] = mapped_column(sa.String(300))
    starts_on: Mapped[dt.date] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date] = mapped_column(sa.Date)
    recorded_by: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    lifted_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    lift_reason: Mapped[str | None] = mapped_column(sa.Text)
    lifted_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))


class ExpertConflict(IdMixin, Base):
    """An expert's declared conflict of interest with an organisation or a bid (回避)."""

    __tablename__ = "call_expert_conflicts"

    expert_user_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    bid_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("call_bids.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReviewAssignment(IdMixin, Base):
    """One expert's review of one bid: criterion scores, hidden from other experts."""

    __tablename__ = "call_review_assignments"
    __table_args__ = (sa.UniqueConstraint("bid_id", "expert_user_id"),)

    call_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("calls.id"), index=True)
    bid_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("call_bids.id"), index=True)
    expert_user_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(20))  # assigned | scored | recused
    scores: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    # Weighted total in hundredths of a point (exact, and no Decimal-on-SQLite warning).
    total_centi: Mapped[int | None] = mapped_column(sa.Integer)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    scored_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Objection(IdMixin, Base):
    """异议: lodged during the public notice; the call cannot be awarded while one is open."""

    __tablename__ = "call_objections"

    call_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("calls.id"), index=True)
    bid_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("call_bids.id"))
    lodged_by: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    lodged_by_org_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("organisations.id"))
    # The bidder concerned sees the objection; the objector's identity only if the bureau decides so.
    reveal_objector: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(20))  # open | upheld | dismissed
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    resolved_by: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("users.id"))
    lodged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Project(IdMixin, TimestampMixin, Base):
    """立项: a winning bid under delivery, with its draft technology contract and government grant."""

    __tablename__ = "call_projects"

    call_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("calls.id"), index=True)
    bid_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("call_bids.id"), unique=True)
    # The draft technology contract (contracts domain); no FK so the two domains migrate independently.
    contract_id: Mapped[int | None] = mapped_column(BigIntPK)
    state: Mapped[str] = mapped_column(sa.String(20), index=True)
    gov_grant: Mapped[Decimal] = mapped_column(Money)
    signed_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    end_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    extension_months: Mapped[int | None] = mapped_column(sa.Integer)
    extension_reason: Mapped[str | None] = mapped_column(sa.Text)
    acceptance_note: Mapped[str | None] = mapped_column(sa.Text)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # 尽职免责 rests on an expert panel's conclusion (经组织专家评议认定): [names] and its text.
    expert_panel: Mapped[list[str] | None] = mapped_column(JSONType)
    expert_panel_conclusion: Mapped[str | None] = mapped_column(sa.Text)
    # Failed acceptance (or termination): the unspent grant to recover (追回).
    recovery_amount: Mapped[Decimal | None] = mapped_column(Money)
    # Approved changes of technical route (技术路线变更): [{"description", "reason", "approved_on", "at"}].
    route_changes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, default=list)


class Milestone(IdMixin, Base):
    __tablename__ = "call_milestones"
    __table_args__ = (sa.UniqueConstraint("project_id", "seq"),)

    project_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("call_projects.id"), index=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(200))
    deliverable: Mapped[str] = mapped_column(sa.Text)
    due_month: Mapped[int] = mapped_column(sa.Integer)
    due_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    payment_share_pct: Mapped[int] = mapped_column(sa.Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[str] = mapped_column(sa.String(20))  # pending | submitted | passed | failed
    submission_note: Mapped[str | None] = mapped_column(sa.Text)
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # After a failure the officer decides: continue | rework | terminate.
    decision: Mapped[str | None] = mapped_column(sa.String(20))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # overdue reminder sent


class Tranche(IdMixin, Base):
    """A payment of the government grant: the first on signing, one per milestone accepted, the final on acceptance."""

    __tablename__ = "call_tranches"

    project_id: Mapped[int] = mapped_column(BigIntPK, sa.ForeignKey("call_projects.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # first | milestone | final | reallocated
    milestone_id: Mapped[int | None] = mapped_column(BigIntPK, sa.ForeignKey("call_milestones.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[str] = mapped_column(sa.String(20))  # scheduled | suspended | due | paid | cancelled
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
