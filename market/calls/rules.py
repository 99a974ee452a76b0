"""Pure rules of open calls (揭榜挂帅): states and transitions, eligibility, weights, shares, scores, money splits."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from market.accounts.roles import Role
from market.core.db import to_money
from market.core.transitions import TransitionError
from market.core.vocab import is_enterprise_entity


class CallKind(StrEnum):
    solve = "solve"  # 揭榜攻关: a firm's problem, solved by whoever can
    adopt = "adopt"  # 揭榜转化: a mature achievement, taken up by an enterprise


class CallState(StrEnum):
    proposed = "proposed"  # a firm (or the bureau) has posed the problem
    rejected = "rejected"  # not vetted
    vetted = "vetted"  # the bureau accepts the problem and compiles the call (榜单)
    published = "published"  # 发榜: open for bids until the deadline
    bidding_closed = "bidding_closed"  # deadline passed; formal check (形式审查)
    reviewing = "reviewing"  # experts assigned and scoring (答辩评审)
    notice = "notice"  # 公示: proposed winners published, objections may be lodged
    notice_ended = "notice_ended"  # notice period over; awardable once every objection is resolved
    awarded = "awarded"  # 立项: projects under delivery
    closed = "closed"
    cancelled = "cancelled"


class BidState(StrEnum):
    submitted = "submitted"
    withdrawn = "withdrawn"
    formal_passed = "formal_passed"
    formal_failed = "formal_failed"
    proposed_winner = "proposed_winner"  # named in the public notice
    disqualified = "disqualified"  # an objection against it was upheld
    winner = "winner"
    not_selected = "not_selected"


class ProjectState(StrEnum):
    awarded = "awarded"  # contract drafted, not yet signed
    in_progress = "in_progress"  # signed; milestones running
    suspended = "suspended"  # a milestone failed: later tranches wait for the officer's decision
    terminated = "terminated"  # the officer ended it after a failed milestone
    dropped = "dropped"  # 赛马制: not kept at down-selection
    passed = "passed"  # 验收通过
    failed = "failed"  # 验收不通过
    diligent = "diligent"  # 尽职免责: failed but diligent, no penalty
    closed = "closed"


ACCEPTANCE_RESULTS = (ProjectState.passed, ProjectState.failed, ProjectState.diligent)
PROJECT_FINAL_STATES = frozenset(
    {ProjectState.dropped, ProjectState.terminated, *ACCEPTANCE_RESULTS, ProjectState.closed}
)
# What the officer may decide after a failed milestone.
MILESTONE_DECISIONS = ("continue", "rework", "terminate")
# Invitation states of a consortium member (联合体成员).
INVITATION_STATES = ("invited", "accepted", "declined", "withdrawn", "revoked")

# Calls the public may read (and search finds); earlier states are the bureau's and the poser's business.
PUBLIC_CALL_STATES = frozenset(
    {
        CallState.published,
        CallState.bidding_closed,
        CallState.reviewing,
        CallState.notice,
        CallState.notice_ended,
        CallState.awarded,
        CallState.closed,
    }
)
# From these states on the winners' bids are public.
AWARDED_CALL_STATES = frozenset({CallState.awarded, CallState.closed})

OFFICER_ROLES = frozenset({Role.programme_officer, Role.bureau_admin})
ORG_ROLES = frozenset({Role.org_admin, Role.member})


@dataclass(frozen=True)
class Transition:
    from_states: frozenset[str]
    to_state: str | None  # None: the state does not change
    roles: frozenset[Role]


def _t(frm: Iterable[str], to: str | None, roles: Iterable[Role]) -> Transition:
    return Transition(frozenset(frm), to, frozenset(roles))


S = CallState
# The call's state machine, in one table: action -> (allowed from, goes to, who may do it).
CALL_TRANSITIONS: dict[str, Transition] = {
    "propose": _t([], S.proposed, ORG_ROLES | OFFICER_ROLES),
    "update": _t([S.proposed, S.vetted], None, OFFICER_ROLES),
    "vet": _t([S.proposed], S.vetted, OFFICER_ROLES),
    "reject": _t([S.proposed], S.rejected, OFFICER_ROLES),
    "publish": _t([S.vetted], S.published, OFFICER_ROLES),
    "cancel": _t([S.proposed, S.vetted, S.published, S.bidding_closed, S.reviewing], S.cancelled, OFFICER_ROLES),
    "close_bidding": _t([S.published], S.bidding_closed, OFFICER_ROLES),
    "formal_check": _t([S.bidding_closed], None, OFFICER_ROLES),
    "start_review": _t([S.bidding_closed], S.reviewing, OFFICER_ROLES),
    "score": _t([S.reviewing], None, {Role.expert}),
    "recuse": _t([S.reviewing], None, {Role.expert}),
    "propose_winners": _t([S.reviewing], S.notice, OFFICER_ROLES),
    "lodge_objection": _t([S.notice], None, set(Role)),
    "answer_objection": _t([S.notice, S.notice_ended], None, ORG_ROLES),
    "resolve_objection": _t([S.notice, S.notice_ended], None, OFFICER_ROLES),
    "end_notice": _t([S.notice], S.notice_ended, OFFICER_ROLES),
    "award": _t([S.notice_ended], S.awarded, OFFICER_ROLES),
    "midterm_review": _t([S.awarded], None, OFFICER_ROLES),
    "down_select": _t([S.awarded], None, OFFICER_ROLES),
    "deliver": _t([S.awarded], None, OFFICER_ROLES | ORG_ROLES),
    "close": _t([S.awarded], S.closed, OFFICER_ROLES),
}
BID_ACTIONS = {"submit_bid", "update_bid", "withdraw_bid", "answer_invitation"}
for _name in BID_ACTIONS:
    CALL_TRANSITIONS[_name] = _t([S.published], None, ORG_ROLES)


def check_transition(action: str, state: str | None, role: str) -> Transition:
    """Return the transition if `role` may do `action` on a call in `state`; raise TransitionError otherwise."""
    t = CALL_TRANSITIONS[action]
    if role not in t.roles:
        raise TransitionError("role_required", f"{action}: not allowed for role {role}")
    if t.from_states and state not in t.from_states:
        raise TransitionError("invalid_state", f"{action}: not allowed while the call is {state}")
    return t


# --- bidding window -------------------------------------------------------------------------------


def bidding_open(state: str, deadline: dt.datetime | None, now: dt.datetime) -> bool:
    """Bids are taken while published and strictly before the deadline (at the deadline it is closed)."""
    return state == CallState.published and deadline is not None and now < deadline


# --- money ----------------------------------------------------------------------------------------


def split_amount(total: Decimal, gov_ratio_pct: int, gov_cap: Decimal | None) -> tuple[Decimal, Decimal]:
    """榜额 → (posing firm's share, government support): support = min(total × ratio, cap)."""
    if total <= 0:
        raise ValueError("total_amount must be positive")
    if not 0 <= gov_ratio_pct <= 100:
        raise ValueError("gov_support_ratio_pct must be within 0..100")
    support = (to_money(total) * gov_ratio_pct / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    if gov_cap is not None:
        support = min(support, to_money(gov_cap))
    return to_money(total) - support, support


FIRST_TRANCHE_USUAL_PCT = 60  # seed practice: the first tranche is at least 60 % of the grant, after signing


def check_money_terms(
    *,
    total_amount: Decimal,
    gov_support_ratio_pct: int,
    gov_support_cap: Decimal | None,
    first_tranche_pct: int,
    first_tranche_reason: str | None,
) -> list[Problem]:
    """Amounts are positive (the cap non-negative), shares 0–100, and a first tranche below 60 % of the grant
    needs the officer's recorded reason."""
    problems: list[Problem] = []
    if total_amount is None or to_money(total_amount) <= 0:
        problems.append(("total_amount", "amount_not_positive", "榜额 must be greater than zero"))
    if gov_support_cap is not None and to_money(gov_support_cap) < 0:
        problems.append(("gov_support_cap", "amount_negative", "the government support cap cannot be negative"))
    if not 0 <= (gov_support_ratio_pct or 0) <= 100:
        problems.append(("gov_support_ratio_pct", "share_range", "a share is 0–100 %"))
    if not 0 <= first_tranche_pct <= 100:
        problems.append(("first_tranche_pct", "share_range", "a share is 0–100 %"))
    elif first_tranche_pct < FIRST_TRANCHE_USUAL_PCT and not (first_tranche_reason or "").strip():
        problems.append(
            (
                "first_tranche_reason",
                "first_tranche_reason_required",
                f"a first tranche below {FIRST_TRANCHE_USUAL_PCT} % of the grant needs a recorded reason",
            )
        )
    return problems


def check_bid_price(price: Decimal, total_amount: Decimal) -> list[Problem]:
    """A bid's price is positive and at most the call's 榜额: the government's part of it (price × ratio, capped)
    then never exceeds the support the call offers."""
    price = to_money(price)
    if price <= 0:
        return [("price", "price_positive", "the price must be positive")]
    if price > to_money(total_amount):
        return [
            (
                "price",
                "price_exceeds_call",
                f"the price exceeds the call's total amount (榜额) of {to_money(total_amount)} yuan",
            )
        ]
    return []


def tranche_plan(
    gov_grant: Decimal, first_tranche_pct: int, shares_pct: Sequence[int]
) -> tuple[Decimal, list[Decimal]]:
    """The grant as (first tranche on signing, one tranche per milestone by its payment share); exact to the fen.

    The last milestone's tranche is the final one, released when acceptance passes."""
    first = first_tranche(gov_grant, first_tranche_pct)
    return first, milestone_amounts(to_money(gov_grant) - first, shares_pct)


def milestone_reviewable(seq: int, earlier: Sequence[tuple[int, str, str | None]]) -> bool:
    """Milestones are reviewed in order: every earlier one passed, or failed and the officer chose to continue."""
    return all(
        state == "passed" or (state == "failed" and decision == "continue") for s, state, decision in earlier if s < seq
    )


def integrity_record_active(starts_on: dt.date, ends_on: dt.date, lifted_on: dt.date | None, on: dt.date) -> bool:
    """A 科研失信 record binds from its start to its end date inclusive, unless lifted early (from that day)."""
    if lifted_on is not None and lifted_on <= on:
        return False
    return starts_on <= on <= ends_on


def first_tranche(gov_grant: Decimal, first_tranche_pct: int) -> Decimal:
    """The tranche paid on signing: a share (default 60 %) of the government grant, rounded to the fen."""
    return (to_money(gov_grant) * first_tranche_pct / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def split_evenly(amount: Decimal, parts: int) -> list[Decimal]:
    """Split money into `parts` fen-exact shares; leftover fen go to the first shares."""
    fen = int(to_money(amount) * 100)
    base, extra = divmod(fen, parts)
    return [Decimal(base + (1 if i < extra else 0)) / 100 for i in range(parts)]


def milestone_amounts(price: Decimal, shares_pct: Sequence[int]) -> list[Decimal]:
    """Each milestone's payment of the bid price; the last takes the rounding so the sum is exact."""
    price = to_money(price)
    amounts = [(price * s / 100).quantize(Decimal("0.01"), rounding=ROUND_DOWN) for s in shares_pct[:-1]]
    return [*amounts, price - sum(amounts, Decimal("0"))]


# --- validation of a call and a bid ----------------------------------------------------------------

Problem = tuple[str, str, str]  # (field, code, message)


def check_call_terms(
    *,
    kind: str,
    indicators: Sequence[Mapping],
    review_criteria: Sequence[Mapping],
    winners_count: int,
    notice_days: int,
    first_tranche_pct: int,
    experts_per_bid: int,
    achievement_id: int | None,
    duration_months: int,
) -> list[Problem]:
    """Everything a publishable call needs, as a list of problems (empty means fine)."""
    problems: list[Problem] = []
    if not indicators:
        problems.append(("indicators", "indicators_required", "a call needs measurable indicators with targets"))
    for i, ind in enumerate(indicators):
        if not str(ind.get("name", "")).strip() or not str(ind.get("target", "")).strip():
            problems.append((f"indicators.{i}", "indicator_incomplete", "each indicator needs a name and a target"))
    problems += check_criteria(review_criteria)
    if not 1 <= winners_count <= 5:
        problems.append(("winners_count", "winners_count_range", "one winner, or 2–5 under 赛马制"))
    if not 1 <= notice_days <= 30:
        problems.append(("notice_days", "notice_days_range", "public notice lasts 1–30 days"))
    if not 0 <= first_tranche_pct <= 100:
        problems.append(("first_tranche_pct", "first_tranche_range", "the first tranche is 0–100 % of the grant"))
    if not 1 <= experts_per_bid <= 15:
        problems.append(("experts_per_bid", "experts_per_bid_range", "1–15 experts per bid"))
    if not 1 <= duration_months <= 120:
        problems.append(("duration_months", "duration_range", "duration is 1–120 months"))
    if kind == CallKind.adopt and achievement_id is None:
        problems.append(("achievement_id", "achievement_required", "揭榜转化 names the achievement to take up"))
    return problems


def check_criteria(criteria: Sequence[Mapping]) -> list[Problem]:
    """Review criteria: named, unique, positive integer weights summing to exactly 100."""
    if not criteria:
        return [("review_criteria", "criteria_required", "a call needs review criteria")]
    problems: list[Problem] = []
    names = [str(c.get("name", "")).strip() for c in criteria]
    if any(not n for n in names) or len(set(names)) != len(names):
        problems.append(("review_criteria", "criteria_names", "criteria need unique, non-empty names"))
    weights = [c.get("weight") for c in criteria]
    positive = [w for w in weights if isinstance(w, int) and not isinstance(w, bool) and w > 0]
    if len(positive) != len(weights):
        problems.append(("review_criteria", "criteria_weight_positive", "each weight is a positive integer"))
    elif sum(positive) != 100:
        problems.append(("review_criteria", "criteria_weights_sum", f"weights sum to {sum(positive)}, not 100"))
    return problems


def check_milestones(milestones: Sequence[Mapping], duration_months: int) -> list[Problem]:
    """Bid milestones: each with a title, deliverable, due month within the duration, shares summing to 100 %."""
    if not milestones:
        return [("milestones", "milestones_required", "a bid needs at least one milestone")]
    problems: list[Problem] = []
    shares = []
    last_month = 0
    for i, m in enumerate(milestones):
        if not str(m.get("title", "")).strip() or not str(m.get("deliverable", "")).strip():
            problems.append((f"milestones.{i}", "milestone_incomplete", "each milestone has a title and deliverable"))
        month = m.get("due_month")
        if not isinstance(month, int) or not 1 <= month <= duration_months:
            problems.append((f"milestones.{i}.due_month", "due_month_range", f"due month is 1..{duration_months}"))
        elif month < last_month:
            problems.append((f"milestones.{i}.due_month", "due_month_order", "milestones are in due order"))
        else:
            last_month = month
        share = m.get("payment_share_pct")
        if not isinstance(share, int) or isinstance(share, bool) or share <= 0:
            problems.append((f"milestones.{i}.payment_share_pct", "share_positive", "a share is a positive integer"))
        else:
            shares.append(share)
    if len(shares) == len(milestones) and sum(shares) != 100:
        problems.append(("milestones", "shares_sum", f"payment shares sum to {sum(shares)} %, not 100 %"))
    return problems


@dataclass(frozen=True)
class OrgFacts:
    """What eligibility looks at about one organisation."""

    id: int
    entity_type_code: str
    region_code: str
    verified: bool
    blacklisted: bool


@dataclass(frozen=True)
class Eligibility:
    """A call's conditions. Empty lists mean no restriction (不论资质、不设门槛)."""

    kind: str
    entity_types: Sequence[str] = ()  # codes ("022") or prefixes ("1" = every domestic enterprise)
    regions: Sequence[str] = ()  # GB/T 2260 prefixes ("3302" = Ningbo)
    consortium_allowed: bool = True
    posing_org_id: int | None = None  # the posing firm (or achievement holder) cannot take up its own call


def _matches(value: str, prefixes: Sequence[str]) -> bool:
    return not prefixes or any(value.startswith(p) for p in prefixes)


def check_eligibility(elig: Eligibility, lead: OrgFacts, members: Sequence[OrgFacts]) -> list[Problem]:
    """Who may bid: the lead meets entity type and region; nobody in the team is unverified or blacklisted.

    Entity type and region apply to the lead only, so a university-led consortium may include firms
    from elsewhere; 科研失信 excludes the whole team, since any member would spend the grant.
    """
    problems: list[Problem] = []
    if members and not elig.consortium_allowed:
        problems.append(("members", "consortium_not_allowed", "this call does not accept consortia (联合体)"))
    if elig.posing_org_id is not None and elig.posing_org_id in {lead.id, *(m.id for m in members)}:
        problems.append(("lead_org", "posing_org_excluded", "the organisation posing the call cannot bid on it"))
    if lead.id in {m.id for m in members} or len({m.id for m in members}) != len(members):
        problems.append(("members", "members_duplicate", "consortium members are distinct and exclude the lead"))
    if not _matches(lead.entity_type_code, elig.entity_types):
        problems.append(("lead_org", "entity_type_not_eligible", "the lead's entity type (法人性质) is not eligible"))
    if elig.kind == CallKind.adopt and not is_enterprise_entity(lead.entity_type_code):
        problems.append(("lead_org", "enterprise_required", "揭榜转化 is taken up by an enterprise"))
    if not _matches(lead.region_code, elig.regions):
        problems.append(("lead_org", "region_not_eligible", "the lead's region is not eligible"))
    for org in (lead, *members):
        if not org.verified:
            problems.append(
                (
                    "members" if org is not lead else "lead_org",
                    "org_not_verified",
                    f"organisation {org.id} is not verified",
                )
            )
    if any(org.blacklisted for org in (lead, *members)):
        # The bidder learns only that it is not eligible; the bureau reads the record itself.
        problems.append(("team", "not_eligible", "this team is not eligible for this call"))
    return problems


# --- review -----------------------------------------------------------------------------------------

SCORE_MIN, SCORE_MAX = 0, 100
DISAGREEMENT_SPREAD = Decimal("25")  # points between the highest and lowest weighted totals
DISAGREEMENT_STDEV = Decimal("12")  # population standard deviation of the weighted totals
TWO = Decimal("0.01")


def weighted_total(criteria: Sequence[Mapping], scores: Mapping[str, int]) -> Decimal:
    """One expert's total: Σ weight × score / 100, each criterion scored 0–100; every criterion must be scored."""
    names = {c["name"] for c in criteria}
    if set(scores) != names:
        raise ValueError("score every criterion, and only those: " + ", ".join(sorted(names)))
    for name, s in scores.items():
        if not isinstance(s, int) or isinstance(s, bool) or not SCORE_MIN <= s <= SCORE_MAX:
            raise ValueError(f"score for {name} must be an integer {SCORE_MIN}..{SCORE_MAX}")
    total = sum((Decimal(c["weight"]) * scores[c["name"]] for c in criteria), Decimal("0")) / 100
    return total.quantize(TWO, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Aggregate:
    score: Decimal | None
    n_scored: int
    trimmed: bool  # highest and lowest dropped
    spread: Decimal | None
    stdev: Decimal | None
    disagreement: bool


def aggregate(totals: Sequence[Decimal]) -> Aggregate:
    """Mean of the experts' totals, dropping one highest and one lowest where five or more scored."""
    n = len(totals)
    if n == 0:
        return Aggregate(None, 0, False, None, None, False)
    ordered = sorted(Decimal(t) for t in totals)
    trimmed = n >= 5
    kept = ordered[1:-1] if trimmed else ordered
    score = (sum(kept, Decimal("0")) / len(kept)).quantize(TWO, rounding=ROUND_HALF_UP)
    spread = (ordered[-1] - ordered[0]).quantize(TWO)
    stdev = Decimal(str(statistics.pstdev([float(t) for t in ordered]))).quantize(TWO, rounding=ROUND_HALF_UP)
    disagreement = n >= 2 and (spread > DISAGREEMENT_SPREAD or stdev > DISAGREEMENT_STDEV)
    return Aggregate(score, n, trimmed, spread, stdev, disagreement)


@dataclass(frozen=True)
class ExpertFacts:
    user_id: int
    org_id: int
    fields: frozenset[str]


def eligible_experts(
    experts: Sequence[ExpertFacts],
    *,
    field: str,
    team_org_ids: set[int],
    conflict_org_ids: Mapping[int, set[int]],
    conflict_bid: set[int],
    bid_id: int,
) -> list[ExpertFacts]:
    """Experts in the call's field, not from any team organisation, with no declared conflict with it or the bid."""
    out = []
    for e in experts:
        if field not in e.fields or e.org_id in team_org_ids or e.user_id in conflict_bid:
            continue
        if conflict_org_ids.get(e.user_id, set()) & team_org_ids:
            continue
        out.append(e)
    return out


def pick_experts(candidates: Sequence[ExpertFacts], n: int, load: Mapping[int, int], bid_id: int) -> list[int]:
    """The n least-loaded candidates; ties broken by a per-bid rotation so assignments spread evenly."""
    ranked = sorted(candidates, key=lambda e: (load.get(e.user_id, 0), (e.user_id * 7919 + bid_id) % 10007, e.user_id))
    return [e.user_id for e in ranked[:n]]


# --- delivery --------------------------------------------------------------------------------------

MAX_EXTENSION_MONTHS = 12


def check_extension(already_extended: bool, months: int) -> None:
    """At most one extension per project, of 1..12 months."""
    if already_extended:
        raise TransitionError("extension_used", "a project may be extended once only")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise TransitionError("extension_range", f"an extension is 1..{MAX_EXTENSION_MONTHS} months")


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- sealed bids ------------------------------------------------------------------------------------


def can_read_bid(
    *,
    role: str | None,
    org_id: int | None,
    user_id: int | None,
    team_org_ids: set[int],
    bid_state: str,
    call_state: str,
    assigned_expert_ids: set[int],
) -> bool:
    """Bids are sealed: bureau staff see all; an expert only those assigned (and not recused); a bidder its own
    (lead or consortium member); everyone else — the posing firm and the public included — only the winners,
    and only once the call is awarded. Anything else is reported as not found, never as forbidden."""
    from market.accounts.roles import BUREAU_ROLES

    if role in BUREAU_ROLES:
        return True
    if role == Role.expert:
        if user_id in assigned_expert_ids:
            return True
    elif org_id is not None and org_id in team_org_ids:
        return True
    return call_state in AWARDED_CALL_STATES and bid_state == BidState.winner
