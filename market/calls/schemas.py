"""Request and response shapes of open calls (揭榜挂帅)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from market.calls.rules import CallKind
from market.core.types import Id, LongText, Text, TextRules
from market.core.vocab import IPType, TechnicalField

MoneyIn = Annotated[Decimal, Field(max_digits=16, decimal_places=2, description="yuan, 2 decimals")]


class Indicator(BaseModel):
    """技术指标: a measurable indicator and its target."""

    name: Text = Field(min_length=1, max_length=200)
    target: Text = Field(min_length=1, max_length=200, description="e.g. ≥ 350 Wh/kg")
    unit: Text | None = Field(None, max_length=40)


class Criterion(BaseModel):
    """评审指标: weights over all criteria sum to 100."""

    name: Text = Field(min_length=1, max_length=100)
    weight: int = Field(gt=0, le=100)


class CallTerms(BaseModel):
    """Terms of a call (榜单); on update every field is optional."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200), TextRules(multiline=False)] | None = None
    problem: Annotated[str, Field(min_length=1), TextRules(multiline=True)] | None = Field(
        None, description="the problem (揭榜攻关) or what taking up means (揭榜转化)"
    )
    technical_field: TechnicalField | None = None
    indicators: list[Indicator] | None = None
    total_amount: MoneyIn | None = Field(None, description="榜额 (yuan)")
    gov_support_ratio_pct: int | None = Field(None, ge=0, le=100, description="government support as % of 榜额")
    gov_support_cap: MoneyIn | None = Field(None, description="cap on the government support (yuan)")
    duration_months: int | None = Field(None, ge=1, le=120)
    bid_deadline: AwareDatetime | None = Field(
        None, description="bids are taken strictly before this instant (with offset)"
    )
    eligible_entity_types: list[Text] | None = Field(
        None, description="法人性质 codes or prefixes ('1' = domestic firms); empty = all"
    )
    eligible_regions: list[Text] | None = Field(None, description="region-code prefixes ('3302' = Ningbo); empty = all")
    consortium_allowed: bool | None = Field(None, description="联合体 bids accepted")
    winners_count: int | None = Field(None, ge=1, le=5, description="1, or 2–5 under 赛马制")
    review_criteria: list[Criterion] | None = None
    experts_per_bid: int | None = Field(None, ge=1, le=15)
    notice_days: int | None = Field(None, ge=1, le=30, description="公示 length in days")
    first_tranche_pct: int | None = Field(
        None, ge=0, le=100, description="share of the grant paid on signing; below 60 % only with first_tranche_reason"
    )
    first_tranche_reason: LongText | None = Field(
        None, max_length=2000, description="why the first tranche is below 60 % of the grant"
    )
    achievement_id: Id | None = Field(None, description="揭榜转化: the achievement to take up")
    posing_org_id: Id | None = Field(None, description="the posing firm (set by the bureau; a firm poses as itself)")

    def data(self) -> dict[str, Any]:
        out = self.model_dump(exclude_unset=True)
        for key in ("indicators", "review_criteria"):
            if out.get(key) is not None:
                out[key] = [dict(x) for x in out[key]]
        if out.get("technical_field") is not None:
            out["technical_field"] = str(out["technical_field"])
        return out


class CallProposal(CallTerms):
    kind: CallKind = Field(CallKind.solve, description="solve 揭榜攻关 / adopt 揭榜转化")
    title: Text = Field(min_length=1, max_length=200)
    problem: LongText = Field(min_length=1)
    technical_field: TechnicalField
    total_amount: MoneyIn = Field(description="榜额 (yuan)")
    gov_support_ratio_pct: int = Field(0, ge=0, le=100)
    duration_months: int = Field(ge=1, le=120)
    indicators: list[Indicator] = Field(default_factory=list)
    review_criteria: list[Criterion] = Field(default_factory=list)
    eligible_entity_types: list[Text] = Field(default_factory=list)
    eligible_regions: list[Text] = Field(default_factory=list)
    consortium_allowed: bool = True
    winners_count: int = Field(1, ge=1, le=5)
    experts_per_bid: int = Field(3, ge=1, le=15)
    notice_days: int = Field(5, ge=1, le=30)
    first_tranche_pct: int = Field(60, ge=0, le=100)

    def data(self) -> dict[str, Any]:
        out = super().data()
        for name in (
            "kind",
            "gov_support_ratio_pct",
            "consortium_allowed",
            "winners_count",
            "experts_per_bid",
            "notice_days",
            "first_tranche_pct",
            "indicators",
            "review_criteria",
            "eligible_entity_types",
            "eligible_regions",
        ):
            value = getattr(self, name)
            out.setdefault(name, [dict(x) for x in value] if name in ("indicators", "review_criteria") else value)
        return out


class VetIn(BaseModel):
    approve: bool
    note: LongText | None = None


class ReasonIn(BaseModel):
    reason: LongText = Field(min_length=1)


class NoticeEntry(BaseModel):
    bid_id: int
    lead_org_id: int
    lead_org_name: str | None
    member_org_names: list[str | None]
    team_leader: str
    score: Decimal | None


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    state: str
    title: str
    problem: str
    technical_field: str
    indicators: list[dict[str, Any]]
    total_amount: Decimal
    firm_share: Decimal = Field(description="the posing firm's share of 榜额")
    gov_support: Decimal = Field(description="government support (min(榜额 × ratio, cap))")
    gov_support_ratio_pct: int
    gov_support_cap: Decimal | None
    duration_months: int
    bid_deadline: dt.datetime | None
    eligible_entity_types: list[str]
    eligible_regions: list[str]
    consortium_allowed: bool
    winners_count: int
    review_criteria: list[dict[str, Any]]
    experts_per_bid: int
    notice_days: int
    first_tranche_pct: int
    first_tranche_reason: str | None
    achievement_id: int | None
    posing_org_id: int | None
    vetting_note: str | None
    published_at: dt.datetime | None
    notice_ends_at: dt.datetime | None
    awarded_at: dt.datetime | None
    midterm_review: str | None = Field(description="赛马制: the recorded mid-term review (中期评估)")
    midterm_reviewed_at: dt.datetime | None
    down_selection: dict[str, Any] | None = Field(
        description="赛马制 down-selection: kept and dropped bids, disposition of the freed grant "
        "(reallocated to the kept teams | returned), amount, reason"
    )
    version: int
    notice: list[NoticeEntry] = Field(default_factory=list, description="公示: proposed winners (or winners)")


class Milestone(BaseModel):
    title: Text = Field(min_length=1, max_length=200)
    deliverable: LongText = Field(min_length=1)
    due_month: int = Field(description="months after signing")
    payment_share_pct: int = Field(description="share of the price; shares sum to 100")


class BidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_org_ids: list[Id] = Field(
        default_factory=list,
        description="联合体 members to invite (the actor's org leads); each joins only by accepting",
    )
    team_leader: Text = Field(min_length=1, max_length=100)
    plan: LongText = Field(min_length=1)
    promised_indicators: list[Indicator] = Field(default_factory=list)
    price: MoneyIn = Field(
        description="the work's price (yuan); at most the call's 榜额 — the government's part "
        "(price × support ratio, capped) then stays within what the call offers"
    )
    milestones: list[Milestone]

    def data(self) -> dict[str, Any]:
        return self.model_dump()


class BidChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_org_ids: list[Id] | None = None
    team_leader: Annotated[str, Field(min_length=1, max_length=100), TextRules(multiline=False)] | None = None
    plan: Annotated[str, Field(min_length=1), TextRules(multiline=True)] | None = None
    promised_indicators: list[Indicator] | None = None
    price: MoneyIn | None = None
    milestones: list[Milestone] | None = None

    def data(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class BidOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    lead_org_id: int
    member_org_ids: list[int] = Field(description="consortium members who accepted")
    state: str
    team_leader: str
    plan: str
    promised_indicators: list[dict[str, Any]]
    price: Decimal
    milestones: list[dict[str, Any]]
    submitted_at: dt.datetime
    last_changed_at: dt.datetime
    formal_check_reason: str | None


class FormalCheckIn(BaseModel):
    passed: bool
    reason: LongText | None = None


class ScoresIn(BaseModel):
    scores: dict[str, int] = Field(description="criterion name → 0..100")
    comment: LongText | None = None


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    bid_id: int
    state: str
    scores: dict[str, int] | None
    total_centi: int | None = Field(description="own weighted total × 100")
    comment: str | None
    assigned_at: dt.datetime
    scored_at: dt.datetime | None


class ConflictIn(BaseModel):
    org_id: Id | None = None
    bid_id: Id | None = None
    reason: LongText = Field(min_length=1)


class ProposeWinnersIn(BaseModel):
    bid_ids: list[Id] = Field(min_length=1)


class ObjectionIn(BaseModel):
    bid_id: Id | None = Field(None, description="a proposed winner, or none for the call as a whole")
    text: LongText = Field(min_length=1)


class ResolveIn(BaseModel):
    upheld: bool
    resolution: LongText = Field(min_length=1)


class ObjectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    bid_id: int | None
    text: str
    state: str
    resolution: str | None
    lodged_at: dt.datetime
    resolved_at: dt.datetime | None
    lodged_by_org_id: int | None = Field(None, description="shown to the bidder only if the bureau disclosed it")
    reveal_objector: bool = False
    answer: str | None = Field(None, description="the bidder's answer")
    answered_at: dt.datetime | None = None


class AnswerIn(BaseModel):
    answer: str = Field(min_length=1)


class DownSelectIn(BaseModel):
    keep_bid_ids: list[Id] = Field(min_length=1)
    disposition: Text = Field(description="the dropped teams' unpaid grant: reallocated (to the kept teams) | returned")
    reason: LongText = Field(min_length=1)


class MidtermReviewIn(BaseModel):
    conclusion: LongText = Field(min_length=1, description="中期评估 conclusion")


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    bid_id: int
    org_id: int
    state: str = Field(description="invited | accepted | declined | withdrawn | revoked")
    invited_at: dt.datetime
    responded_at: dt.datetime | None
    call_title: str | None = None
    lead_org_id: int | None = None
    lead_org_name: str | None = None


class IntegrityIn(BaseModel):
    """科研失信 record: an organisation or a person (a team leader), with reason, source and period."""

    model_config = ConfigDict(extra="forbid")

    org_id: Id | None = None
    person_name: Text | None = Field(None, max_length=100)
    reason: LongText = Field(min_length=1)
    source_document: Text = Field(min_length=1, max_length=300, description="the decision it rests on (文号)")
    starts_on: dt.date
    ends_on: dt.date


class IntegrityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    org_id: int | None
    person_name: str | None
    reason: str
    source_document: str
    starts_on: dt.date
    ends_on: dt.date
    recorded_by: int
    lifted_on: dt.date | None
    lift_reason: str | None
    created_at: dt.datetime


class MilestoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    title: str
    deliverable: str
    due_month: int
    due_date: dt.date | None
    payment_share_pct: int
    amount: Decimal
    state: str
    submission_note: str | None
    review_note: str | None
    decision: str | None = Field(None, description="after a failure: continue | rework | terminate")
    decision_reason: str | None = None


class TrancheOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="first (on signing) | milestone | final (on acceptance) | reallocated (赛马制)")
    milestone_id: int | None = None
    amount: Decimal
    state: str = Field(description="scheduled | suspended | due | paid | cancelled")
    paid_at: dt.datetime | None


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    bid_id: int
    contract_id: int | None
    state: str
    gov_grant: Decimal
    signed_on: dt.date | None
    end_date: dt.date | None
    extension_months: int | None
    acceptance_note: str | None
    expert_panel: list[str] | None = None
    expert_panel_conclusion: str | None = None
    recovery_amount: Decimal | None = Field(None, description="unspent grant to recover (failed / terminated)")
    route_changes: list[dict[str, Any]] | None = None
    milestones: list[MilestoneOut] = Field(default_factory=list)
    tranches: list[TrancheOut] = Field(default_factory=list)


class SignIn(BaseModel):
    signed_on: dt.date
    ip_type: IPType | None = Field(
        None,
        description="the contract's 知识产权类型 (default: the achievement's for 揭榜转化, "
        "technical_secret for 揭榜攻关)",
    )


class MilestoneSubmitIn(BaseModel):
    note: LongText = Field(min_length=1)


class MilestoneReviewIn(BaseModel):
    passed: bool
    note: LongText | None = None


class ExtensionIn(BaseModel):
    months: int
    reason: LongText = Field(min_length=1)


class AcceptanceIn(BaseModel):
    result: Text = Field(description="passed 通过 / failed 不通过 / diligent 尽职免责")
    note: LongText = Field(min_length=1)
    unspent_amount: MoneyIn | None = Field(None, description="failed: the unspent grant to recover")
    expert_panel: list[Text] | None = Field(None, description="尽职免责: the experts of the panel (≥ 3)")
    expert_panel_conclusion: LongText | None = Field(
        None, description="尽职免责: the panel's conclusion (专家评议意见)"
    )


class DecisionIn(BaseModel):
    decision: Text = Field(description="continue | rework | terminate")
    reason: LongText = Field(min_length=1)
    unspent_amount: MoneyIn | None = Field(None, description="terminate: the unspent grant to recover")


class RouteChangeIn(BaseModel):
    description: LongText = Field(min_length=1, description="the new technical route (技术路线)")
    reason: LongText = Field(min_length=1)
    approved_on: dt.date


class ReviewRow(BaseModel):
    bid_id: int
    state: str
    score: Decimal | None
    n_scored: int
    trimmed: bool
    spread: Decimal | None
    stdev: Decimal | None
    disagreement: bool
    assigned: int
    pending: int
    experts: list[dict[str, Any]]
