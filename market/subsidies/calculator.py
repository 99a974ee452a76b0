"""Subsidy arithmetic (补助 / 奖励): pure functions over plain frozen data, every amount with its working.

Rounding (documented once, here): all amounts are Decimal yuan. Rates apply to exact
amounts; a contribution is rounded to the fen (0.01 yuan, ROUND_HALF_UP) exactly once.
Per-contract policies round each contract's amount. Per-year policies apply their
(marginal) brackets to the beneficiary's running annual basis and give each contract
round(F(running total after it)) − round(F(running total before it)), so the contributions
telescope to round(F(annual basis)) — the working always adds up to the fen. Caps are
whole amounts applied after rounding, so they cut by exactly what the working shows.

Thresholds: `min_annual_basis` compares the beneficiary's qualifying amount of the period (before
the value-added rule) — the "年度技术合同成交额300万元以上" a bureau would read off its statistics.
One-off awards (newly recognised intermediaries) are paid once and sit outside the caps.

Recurring rules (seed 004 §4(1)):
- 同一项技术转移活动仅补助一次: contracts sharing an `activity_id` (an amendment or a
  re-registration of the same deal) are one activity; only its latest version counts, and
  an activity paid under the policy in an earlier (frozen) run is not paid again.
- 同一项目多次转让，仅就增值部分给予补助: a transfer or licence of an achievement that was
  transferred before counts only above the highest earlier transfer value (a high-water
  mark per achievement, on the policy's own basis), so no value is ever subsidised twice.
- Cancelled (注销) and unregistered contracts drop out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from pydantic import ValidationError

from market.subsidies.spec import Aggregation, Basis, Beneficiary, PolicyError, PolicyModel

CENT = Decimal("0.01")
ZERO = Decimal("0")


def fen(value: Decimal) -> Decimal:
    """Round to the fen, half up (the one rounding step of this module)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# Contract types (民法典 arts. 851–887) as the contracts ledger spells them.
CONTRACT_TYPES = ("development", "transfer", "license", "consulting", "service")
# Types that move an achievement from one holder to another: the re-transfer rule applies.
TRANSFER_TYPES = frozenset({"transfer", "license"})


@dataclass(frozen=True, slots=True)
class Party:
    """A contract party as registered: identity, 法人性质, region, filing level (intermediaries)."""

    name: str
    org_id: int | None = None
    credit_code: str | None = None
    entity_type: str = ""
    region: str = ""  # 6-digit 行政区划代码; "" abroad
    filing_level: str | None = None  # national / provincial / city
    filing_date: dt.date | None = None
    ident: str | None = None  # an explicit beneficiary key (brokers: people, not organisations)

    @property
    def key(self) -> str:
        if self.ident:
            return self.ident
        if self.org_id is not None:
            return f"org:{self.org_id}"
        if self.credit_code:
            return f"cc:{self.credit_code}"
        return f"name:{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractFact:
    """One registered (or cancelled) technology contract, as the calculator needs it (built by keyword only)."""

    contract_id: int
    registration_number: str
    contract_type: str
    subtype: str
    seller: Party
    buyer: Party
    total_amount: Decimal  # 成交额
    technical_amount: Decimal  # 技术交易额
    paid_amount: Decimal  # 实际履行金额 up to the end of the period
    registered_on: dt.date
    intermediary: Party | None = None
    broker: str | None = None  # 技术经纪人 (name; the beneficiary key is the intermediary's broker)
    domestic_first: bool = False  # 国内首创
    first_set: bool = False  # 首台套
    voucher_eligible: bool = False  # 创新券兑现条件
    achievement_id: int | None = None
    # TRL of the achievement's latest finished evaluation (科技成果评价, market/evaluations): a verified fact.
    evaluated_trl: int | None = None
    status: str = "registered"  # registered / cancelled
    activity_id: str = ""  # amendments and re-registrations of one deal share it; "" = contract_id
    # Payments received (net of reversals), each dated when it counts: the later of receipt and registration.
    payments: tuple[tuple[dt.date, Decimal], ...] = ()
    # The day the fact earns (paid-amount policies: its last payment in the covered period); None = registered_on.
    earned_on: dt.date | None = None

    @property
    def day(self) -> dt.date:
        return self.earned_on or self.registered_on

    @property
    def activity(self) -> str:
        return self.activity_id or f"contract:{self.contract_id}"

    def amount(self, basis: Basis) -> Decimal:
        if basis is Basis.total:
            return self.total_amount
        if basis is Basis.technical:
            return self.technical_amount
        return self.paid_amount

    def flag(self, name: str) -> bool:
        return bool(getattr(self, name))


@dataclass(frozen=True, slots=True)
class Bracket:
    """A marginal rate band: `rate` applies to the part of the basis up to `upto` (None = no upper edge)."""

    rate: Decimal
    upto: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OneOffAward:
    """A one-off award for a newly recognised intermediary (e.g. national-level: 1,000,000 once)."""

    filing_level: str
    amount: Decimal
    label: str = ""


@dataclass(frozen=True, slots=True)
class Recognition:
    """An organisation newly filed / recognised at a level on a date (the trigger of a one-off award)."""

    party: Party
    filing_level: str
    recognised_on: dt.date


@dataclass(frozen=True)
class Policy:
    """A subsidy policy as data. `None` in a criterion means "any"."""

    code: str
    name: str
    beneficiary: Beneficiary
    basis: Basis = Basis.total
    aggregation: Aggregation = Aggregation.per_contract
    brackets: tuple[Bracket, ...] = ()
    contract_types: frozenset[str] | None = None
    subtypes: frozenset[str] | None = None
    seller_entity_types: frozenset[str] | None = None  # codes ("022") or classes (research, enterprise…)
    buyer_entity_types: frozenset[str] | None = None
    seller_regions: tuple[str, ...] | None = None  # region-code prefixes, e.g. ("3302",)
    buyer_regions: tuple[str, ...] | None = None
    intermediary_regions: tuple[str, ...] | None = None
    intermediary_filing_levels: frozenset[str] | None = None
    required_flags_any: frozenset[str] | None = None  # at least one of these flags is set
    min_annual_basis: Decimal | None = None  # the beneficiary's qualifying annual 成交额 etc. must reach it
    min_evaluated_trl: int | None = None  # the achievement's finished evaluation must rate it at least this TRL
    cap_per_contract: Decimal | None = None
    cap_per_year: Decimal | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    one_off_awards: tuple[OneOffAward, ...] = ()
    value_added_only: bool = True
    source: str = ""
    description: str = ""
    jurisdiction: str = ""  # the region-code prefix whose rules these are (3715 聊城, 3302 宁波); "" = not said

    def __post_init__(self) -> None:
        check_policy(self)


def check_policy(policy: Policy) -> None:
    """Every Policy, however made, keeps the one schema's rules (market/subsidies/spec.py)."""
    _validated(policy_to_dict(policy))


class Days(Protocol):
    """Days a computation covers: a Period, or a settlement's coverage of a year (its period and frozen runs')."""

    def __contains__(self, day: dt.date, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))


@dataclass(frozen=True)
class History:
    """What earlier (frozen) runs and earlier periods already settled, for the once-only rules."""

    subsidised_activities: frozenset[str] = frozenset()  # activity ids paid under this policy before
    awarded: frozenset[tuple[str, str]] = frozenset()  # (beneficiary key, filing level) one-offs paid before
    # Highest earlier transfer value of an achievement, per basis: {(achievement_id, basis): amount}.
    prior_transfer_values: Mapping[tuple[int, str], Decimal] = field(default_factory=dict)
    # What each activity was paid under this policy in other years (a per-contract cap spans the years).
    paid_elsewhere: Mapping[str, Decimal] = field(default_factory=dict)


NO_HISTORY = History()


# ---- the working --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BracketPiece:
    lower: Decimal
    upper: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Contribution:
    """One contract's part of a beneficiary's amount, from basis to what is paid."""

    contract_id: int
    registration_number: str
    activity_id: str
    basis_amount: Decimal  # the contract's amount on the policy's basis
    counted_amount: Decimal  # after the value-added rule
    prior_transfer_value: Decimal | None  # the high-water mark it was reduced by, if any
    pieces: tuple[BracketPiece, ...]  # where it sits in the brackets (annual running basis for per_year)
    amount: Decimal  # before caps
    contract_cap_cut: Decimal
    year_cap_cut: Decimal

    @property
    def paid(self) -> Decimal:
        return self.amount - self.contract_cap_cut - self.year_cap_cut


@dataclass(frozen=True, slots=True)
class Exclusion:
    contract_id: int
    registration_number: str
    reason: str
    message: str
    beneficiary_key: str | None = None


@dataclass(frozen=True, slots=True)
class AwardLine:
    filing_level: str
    amount: Decimal
    recognised_on: dt.date
    label: str


@dataclass(frozen=True)
class BeneficiaryResult:
    key: str
    name: str
    org_id: int | None
    basis_total: Decimal  # qualifying annual basis (before the value-added rule): what the threshold sees
    contributions: tuple[Contribution, ...]
    before_caps: Decimal
    contract_cap_cut: Decimal
    year_cap_cut: Decimal
    awards: tuple[AwardLine, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()

    @property
    def contract_amount(self) -> Decimal:
        """What the contracts earn after caps (one-off awards are outside the caps)."""
        return self.before_caps - self.contract_cap_cut - self.year_cap_cut

    @property
    def total(self) -> Decimal:
        return self.contract_amount + sum((a.amount for a in self.awards), ZERO)


@dataclass(frozen=True)
class PolicyOutcome:
    policy_code: str
    results: tuple[BeneficiaryResult, ...]  # beneficiaries with something paid or something excluded
    out_of_scope: int  # contracts of other types / without the beneficiary role: not listed

    @property
    def total(self) -> Decimal:
        return sum((r.total for r in self.results), ZERO)

    def by_key(self) -> dict[str, BeneficiaryResult]:
        return {r.key: r for r in self.results}


# ---- rates --------------------------------------------------------------------------------------


def bracket_amount(brackets: Sequence[Bracket], basis: Decimal) -> Decimal:
    """Exact (unrounded) marginal amount: each rate applies only to the part of `basis` in its band."""
    return sum((b.rate * (hi - lo) for b, lo, hi in _bands(brackets, ZERO, basis)), ZERO)


def _bands(brackets: Sequence[Bracket], start: Decimal, end: Decimal):
    lower = ZERO
    for b in brackets:
        upper = b.upto
        lo = max(lower, start)
        hi = end if upper is None else min(upper, end)
        if hi > lo:
            yield b, lo, hi
        if upper is None or upper >= end:
            break
        lower = upper


def bracket_pieces(brackets: Sequence[Bracket], start: Decimal, end: Decimal) -> tuple[BracketPiece, ...]:
    return tuple(BracketPiece(lo, hi, b.rate) for b, lo, hi in _bands(brackets, start, end))


# ---- eligibility --------------------------------------------------------------------------------

REASON_MESSAGES = {
    "cancelled": "合同已注销登记",
    "not_registered": "合同未认定登记",
    "outside_period": "登记日期不在计算期间内",
    "outside_validity": "登记日期不在政策有效期内",
    "superseded": "同一项技术转移活动以最新登记版本计(变更/重新登记)",
    "already_subsidised": "同一项技术转移活动已在以往批次补助",
    "seller_entity_type": "卖方法人性质不符合政策",
    "buyer_entity_type": "买方法人性质不符合政策",
    "seller_region": "卖方所在地区不符合政策",
    "buyer_region": "买方所在地区不符合政策",
    "intermediary_region": "中介机构所在地区不符合政策",
    "intermediary_filing_level": "中介机构备案级别不符合政策",
    "no_value_added": "同一项目再次转让，无增值部分",
    "zero_basis": "计补金额为零",
    "below_annual_threshold": "年度合同额未达到政策门槛",
    "evaluated_trl": "所涉成果无已完成的科技成果评价，或评价的技术就绪度低于政策要求",
}


def entity_matches(code: str, allowed: frozenset[str]) -> bool:
    """`allowed` holds 法人性质 codes or classes: enterprise, research, university, institute."""
    if code in allowed:
        return True
    if "enterprise" in allowed and code[:1] in {"1", "2", "3"}:
        return True
    if "research" in allowed and code in {"021", "022"}:
        return True
    if "university" in allowed and code == "022":
        return True
    return "institute" in allowed and code == "021"


def region_matches(region: str, prefixes: tuple[str, ...]) -> bool:
    return bool(region) and region.startswith(prefixes)


def beneficiary_party(policy: Policy, fact: ContractFact) -> Party | None:
    role = policy.beneficiary
    if role in (Beneficiary.seller, Beneficiary.service_provider):
        return fact.seller
    if role is Beneficiary.buyer:
        return fact.buyer
    if role is Beneficiary.intermediary:
        return fact.intermediary
    if fact.broker and fact.intermediary is not None:
        # A broker is identified within their intermediary: names are unique there, not citywide. The money is
        # paid through that intermediary (经中介机构发放), so the result is the intermediary organisation's to see.
        return Party(
            name=fact.broker, org_id=fact.intermediary.org_id, ident=f"{fact.intermediary.key}/broker:{fact.broker}"
        )
    return None


def scope_party(policy: Policy, fact: ContractFact) -> Party | None:
    """The beneficiary if the policy is about this contract at all, else None.

    Contracts of other types or subtypes, without the beneficiary's role (no intermediary…), or
    lacking the flags a 首台套 / 创新券 policy is about are unrelated to it, not "excluded": they
    are counted (out_of_scope) but not listed.
    """
    if policy.contract_types is not None and fact.contract_type not in policy.contract_types:
        return None
    if policy.subtypes is not None and fact.subtype not in policy.subtypes:
        return None
    if policy.required_flags_any and not any(getattr(fact, name) for name in policy.required_flags_any):
        return None
    return beneficiary_party(policy, fact)


def _scoped(policy: Policy, facts: list[ContractFact]) -> list[tuple[ContractFact, Party]]:
    out = []
    for f in facts:
        party = scope_party(policy, f)
        if party is not None:
            out.append((f, party))
    return out


def ineligibility(policy: Policy, fact: ContractFact, period: Days) -> str | None:
    """The first reason a contract does not qualify, or None."""
    if fact.status == "cancelled":
        return "cancelled"
    if fact.status != "registered":
        return "not_registered"
    if fact.day not in period:
        return "outside_period"
    if (policy.valid_from and fact.day < policy.valid_from) or (policy.valid_until and fact.day > policy.valid_until):
        return "outside_validity"
    if policy.seller_entity_types is not None and not entity_matches(
        fact.seller.entity_type, policy.seller_entity_types
    ):
        return "seller_entity_type"
    if policy.buyer_entity_types is not None and not entity_matches(fact.buyer.entity_type, policy.buyer_entity_types):
        return "buyer_entity_type"
    if policy.seller_regions is not None and not region_matches(fact.seller.region, policy.seller_regions):
        return "seller_region"
    if policy.buyer_regions is not None and not region_matches(fact.buyer.region, policy.buyer_regions):
        return "buyer_region"
    inter = fact.intermediary
    if policy.intermediary_regions is not None and (
        inter is None or not region_matches(inter.region, policy.intermediary_regions)
    ):
        return "intermediary_region"
    if policy.intermediary_filing_levels is not None and (
        inter is None or inter.filing_level not in policy.intermediary_filing_levels
    ):
        return "intermediary_filing_level"
    if policy.min_evaluated_trl is not None and (fact.evaluated_trl or 0) < policy.min_evaluated_trl:
        return "evaluated_trl"
    return None


# ---- the computation ----------------------------------------------------------------------------


def _exclusion(fact: ContractFact, reason: str, key: str | None) -> Exclusion:
    return Exclusion(fact.contract_id, fact.registration_number, reason, REASON_MESSAGES[reason], key)


def current_versions(facts: Iterable[ContractFact]) -> tuple[list[ContractFact], list[ContractFact]]:
    """Split into the latest version of each activity and the versions it superseded."""
    latest: dict[str, ContractFact] = {}
    superseded: list[ContractFact] = []
    for fact in facts:
        seen = latest.get(fact.activity)
        if seen is None:
            latest[fact.activity] = fact
        elif (fact.registered_on, fact.contract_id) > (seen.registered_on, seen.contract_id):
            superseded.append(seen)
            latest[fact.activity] = fact
        else:
            superseded.append(fact)
    return list(latest.values()), superseded


def value_added(
    facts: Iterable[ContractFact], basis: Basis, history: History
) -> dict[int, tuple[Decimal, Decimal | None]]:
    """For every transfer of an achievement: (counted amount, prior high-water mark or None)."""
    by_achievement: dict[int, list[ContractFact]] = defaultdict(list)
    for f in facts:
        if f.achievement_id is not None and f.contract_type in TRANSFER_TYPES and f.status == "registered":
            by_achievement[f.achievement_id].append(f)
    counted: dict[int, tuple[Decimal, Decimal | None]] = {}
    for achievement_id, transfers in by_achievement.items():
        mark = history.prior_transfer_values.get((achievement_id, basis.value))
        for f in sorted(transfers, key=lambda f: (f.registered_on, f.contract_id)):
            amount = f.amount(basis)
            counted[f.contract_id] = (amount if mark is None else max(ZERO, amount - mark), mark)
            mark = amount if mark is None else max(mark, amount)
    return counted


class Prepared:
    """Facts sorted out once for any number of policies: latest versions, superseded ones, re-transfer marks."""

    def __init__(self, facts: Iterable[ContractFact]) -> None:
        self.facts = list(facts)
        self.current, self.superseded = current_versions(self.facts)
        self._by_type: dict[str, tuple[list[ContractFact], list[ContractFact]]] = {}
        for f in self.current:
            self._by_type.setdefault(f.contract_type, ([], []))[0].append(f)
        for f in self.superseded:
            self._by_type.setdefault(f.contract_type, ([], []))[1].append(f)
        self._marks: dict[tuple[str, int], dict[int, tuple[Decimal, Decimal | None]]] = {}

    def of_types(self, types: frozenset[str] | None) -> tuple[list[ContractFact], list[ContractFact]]:
        if types is None:
            return self.current, self.superseded
        current: list[ContractFact] = []
        superseded: list[ContractFact] = []
        for t in sorted(types):
            c, s = self._by_type.get(t, ([], []))
            current += c
            superseded += s
        return current, superseded

    def value_added(self, basis: Basis, history: History) -> dict[int, tuple[Decimal, Decimal | None]]:
        key = (basis.value, id(history.prior_transfer_values))
        if key not in self._marks:
            self._marks[key] = value_added(self.current, basis, history)
        return self._marks[key]


def compute(
    policy: Policy,
    facts: Iterable[ContractFact] | Prepared,
    period: Days,
    history: History | None = None,
    recognitions: Sequence[Recognition] = (),
) -> PolicyOutcome:
    """Every beneficiary's amount under one policy for one period, with its working."""
    history = history or NO_HISTORY
    prepared = facts if isinstance(facts, Prepared) else Prepared(facts)
    current, superseded = prepared.of_types(policy.contract_types)
    current_scoped = _scoped(policy, current)
    superseded_scoped = _scoped(policy, superseded)
    out_of_scope = len(prepared.facts) - len(current_scoped) - len(superseded_scoped)
    # The re-transfer rule looks at every earlier transfer of the achievement, not only qualifying ones.
    retransfer = prepared.value_added(policy.basis, history) if policy.value_added_only else {}

    names: dict[str, Party] = {}
    exclusions: dict[str, list[Exclusion]] = defaultdict(list)
    qualifying: dict[str, list[ContractFact]] = defaultdict(list)
    for fact, party in superseded_scoped:
        names.setdefault(party.key, party)
        exclusions[party.key].append(_exclusion(fact, "superseded", party.key))
    paid_before = history.subsidised_activities
    for fact, party in current_scoped:
        key = party.key
        if key not in names:
            names[key] = party
        reason = ineligibility(policy, fact, period)
        # Paid-amount policies pay on payments, each once (the run's settlement sees to that), not once per deal.
        if reason is None and paid_before and policy.basis is not Basis.paid and fact.activity in paid_before:
            reason = "already_subsidised"
        if reason is not None:
            exclusions[key].append(_exclusion(fact, reason, key))
        else:
            qualifying[key].append(fact)

    results: list[BeneficiaryResult] = []
    for key in sorted(set(qualifying) | set(exclusions) | _award_keys(policy, recognitions)):
        party = names.get(key) or next(r.party for r in recognitions if r.party.key == key)
        results.append(
            _beneficiary(
                policy,
                party,
                qualifying.get(key, []),
                exclusions.get(key, []),
                retransfer,
                period,
                history,
                recognitions,
            )
        )
    return PolicyOutcome(policy.code, tuple(results), out_of_scope)


def _award_keys(policy: Policy, recognitions: Sequence[Recognition]) -> set[str]:
    levels = {a.filing_level for a in policy.one_off_awards}
    return {r.party.key for r in recognitions if r.filing_level in levels}


def _awards(policy: Policy, party: Party, period: Days, history: History, recognitions: Sequence[Recognition]):
    lines = []
    for award in policy.one_off_awards:
        for r in recognitions:
            if r.party.key != party.key or r.filing_level != award.filing_level:
                continue
            if r.recognised_on not in period or (party.key, award.filing_level) in history.awarded:
                continue
            if (policy.valid_from and r.recognised_on < policy.valid_from) or (
                policy.valid_until and r.recognised_on > policy.valid_until
            ):
                continue
            if policy.intermediary_regions is not None and not region_matches(
                r.party.region, policy.intermediary_regions
            ):
                continue
            lines.append(AwardLine(award.filing_level, fen(award.amount), r.recognised_on, award.label))
            break  # once
    return tuple(lines)


def _beneficiary(
    policy: Policy,
    party: Party,
    facts: list[ContractFact],
    exclusions: list[Exclusion],
    retransfer: Mapping[int, tuple[Decimal, Decimal | None]],
    period: Days,
    history: History,
    recognitions: Sequence[Recognition],
) -> BeneficiaryResult:
    facts = sorted(facts, key=lambda f: (f.day, f.contract_id))
    awards = _awards(policy, party, period, history, recognitions)
    basis_total = sum((f.amount(policy.basis) for f in facts), ZERO)
    exclusions = list(exclusions)
    if policy.min_annual_basis is not None and basis_total < policy.min_annual_basis:
        exclusions += [_exclusion(f, "below_annual_threshold", party.key) for f in facts]
        facts = []

    contributions: list[Contribution] = []
    brackets = policy.brackets
    flat_rate = brackets[0].rate if len(brackets) == 1 else None  # the common case, without band walking
    per_contract = policy.aggregation is Aggregation.per_contract
    cap = policy.cap_per_contract
    running = ZERO  # the annual running basis (per_year)
    f_running = ZERO  # round(F(running)), carried from the previous contract
    for f in facts:
        full = f.amount(policy.basis)
        counted, mark = retransfer.get(f.contract_id, (full, None))
        if counted <= 0:
            exclusions.append(_exclusion(f, "no_value_added" if mark is not None else "zero_basis", party.key))
            continue
        start = ZERO if per_contract else running
        end = start + counted
        if flat_rate is not None:
            pieces: tuple[BracketPiece, ...] = (BracketPiece(start, end, flat_rate),)
            f_end = fen(flat_rate * end)
        else:
            pieces = bracket_pieces(brackets, start, end)
            f_end = fen(bracket_amount(brackets, end))
        if per_contract:
            amount = f_end
        else:
            amount = f_end - f_running
            running, f_running = end, f_end
        room = cap
        if cap is not None and history.paid_elsewhere:
            room = max(ZERO, cap - history.paid_elsewhere.get(f.activity, ZERO))
        contract_cut = amount - room if room is not None and amount > room else ZERO
        contributions.append(
            Contribution(
                f.contract_id,
                f.registration_number,
                f.activity,
                full,
                counted,
                mark,
                pieces,
                amount,
                contract_cut,
                ZERO,
            )
        )

    # The annual cap is filled in registration order: the contract that crosses it is cut in part,
    # later ones in full — so each contract shows exactly what it was paid.
    if policy.cap_per_year is not None:
        room = policy.cap_per_year
        for i, c in enumerate(contributions):
            after_contract_cap = c.amount - c.contract_cap_cut
            take = min(room, after_contract_cap)
            room -= take
            if take < after_contract_cap:
                contributions[i] = _replace_year_cut(c, after_contract_cap - take)

    before = sum((c.amount for c in contributions), ZERO)
    contract_cut = sum((c.contract_cap_cut for c in contributions), ZERO)
    year_cut = sum((c.year_cap_cut for c in contributions), ZERO)
    return BeneficiaryResult(
        key=party.key,
        name=party.name,
        org_id=party.org_id,
        basis_total=basis_total,
        contributions=tuple(contributions),
        before_caps=before,
        contract_cap_cut=contract_cut,
        year_cap_cut=year_cut,
        awards=awards,
        exclusions=tuple(sorted(exclusions, key=lambda e: e.contract_id)),
    )


def _replace_year_cut(c: Contribution, cut: Decimal) -> Contribution:
    return Contribution(
        c.contract_id,
        c.registration_number,
        c.activity_id,
        c.basis_amount,
        c.counted_amount,
        c.prior_transfer_value,
        c.pieces,
        c.amount,
        c.contract_cap_cut,
        cut,
    )


def compute_all(
    policies: Sequence[Policy],
    facts: Sequence[ContractFact],
    period: Days,
    histories: Mapping[str, History] | None = None,
    recognitions: Sequence[Recognition] = (),
) -> list[PolicyOutcome]:
    histories = histories or {}
    prepared = Prepared(facts)
    return [compute(p, prepared, period, histories.get(p.code), recognitions) for p in policies]


# ---- the working as plain JSON ------------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    if value is None:
        return None
    # Nearly every amount here is already in fen; quantizing again would only cost time (1.5M calls a year).
    text = str(value)
    dot = text.find(".")
    if dot != -1 and len(text) - dot == 3 and "E" not in text:
        return text
    return str(fen(value))


def explain(working: dict) -> dict:
    """The stored working with a human message next to each exclusion reason."""
    exclusions = [e | {"message": REASON_MESSAGES.get(e["reason"], e["reason"])} for e in working.get("exclusions", [])]
    return working | {"exclusions": exclusions}


def working_json(result: BeneficiaryResult, policy: Policy) -> dict:
    """A beneficiary's working as JSON-ready data (money as strings: exact, no floats)."""
    out = _working(result, policy)
    if policy.beneficiary is Beneficiary.broker:
        out["paid_through_org_id"] = result.org_id  # 经中介机构发放: the intermediary that receives the broker's money
    return out


def _working(result: BeneficiaryResult, policy: Policy) -> dict:
    return {
        "policy": policy.code,
        "basis": policy.basis.value,
        "aggregation": policy.aggregation.value,
        "basis_total": _money(result.basis_total),
        "threshold": _money(policy.min_annual_basis),
        "contributions": [
            {
                "contract_id": c.contract_id,
                "registration_number": c.registration_number,
                "activity_id": c.activity_id,
                "basis_amount": _money(c.basis_amount),
                "counted_amount": _money(c.counted_amount),
                "prior_transfer_value": _money(c.prior_transfer_value),
                "brackets": [{"from": _money(p.lower), "to": _money(p.upper), "rate": str(p.rate)} for p in c.pieces],
                "amount": _money(c.amount),
                "contract_cap_cut": _money(c.contract_cap_cut),
                "year_cap_cut": _money(c.year_cap_cut),
                "paid": _money(c.paid),
            }
            for c in result.contributions
        ],
        "cap_per_contract": _money(policy.cap_per_contract),
        "cap_per_year": _money(policy.cap_per_year),
        "before_caps": _money(result.before_caps),
        "contract_cap_cut": _money(result.contract_cap_cut),
        "year_cap_cut": _money(result.year_cap_cut),
        "awards": [
            {
                "filing_level": a.filing_level,
                "amount": _money(a.amount),
                "recognised_on": a.recognised_on.isoformat(),
                "label": a.label,
            }
            for a in result.awards
        ],
        # Reason codes only: the messages are REASON_MESSAGES[reason] (added when read, not stored 100k times).
        "exclusions": [
            {"contract_id": e.contract_id, "registration_number": e.registration_number, "reason": e.reason}
            for e in result.exclusions
        ],
        "total": _money(result.total),
    }


# ---- a policy as plain data (stored versions, API, what-if) ----------------------------------------

_SETS = (
    "contract_types",
    "subtypes",
    "seller_entity_types",
    "buyer_entity_types",
    "intermediary_filing_levels",
    "required_flags_any",
)
_TUPLES = ("seller_regions", "buyer_regions", "intermediary_regions")
_MONEY = ("min_annual_basis", "cap_per_contract", "cap_per_year")
_DATES = ("valid_from", "valid_until")


def policy_to_dict(policy: Policy) -> dict:
    """JSON-ready form (money and rates as strings, sets sorted) — what a policy version stores."""
    out: dict = {
        "code": policy.code,
        "name": policy.name,
        "beneficiary": policy.beneficiary.value,
        "basis": policy.basis.value,
        "aggregation": policy.aggregation.value,
        "brackets": [{"rate": str(b.rate), "upto": None if b.upto is None else str(b.upto)} for b in policy.brackets],
        "one_off_awards": [
            {"filing_level": a.filing_level, "amount": str(a.amount), "label": a.label} for a in policy.one_off_awards
        ],
        "value_added_only": policy.value_added_only,
        "min_evaluated_trl": policy.min_evaluated_trl,
        "jurisdiction": policy.jurisdiction,
        "source": policy.source,
        "description": policy.description,
    }
    for name in _SETS:
        value = getattr(policy, name)
        out[name] = None if value is None else sorted(value)
    for name in _TUPLES:
        value = getattr(policy, name)
        out[name] = None if value is None else list(value)
    for name in _MONEY:
        value = getattr(policy, name)
        out[name] = None if value is None else str(value)
    for name in _DATES:
        value = getattr(policy, name)
        out[name] = None if value is None else value.isoformat()
    return out


def _refuse_floats(data: Mapping) -> None:
    """Amounts and rates come as strings or integers: a float has already lost the exact value."""
    values = [(name, data.get(name)) for name in _MONEY]
    values += [("rate", b.get("rate")) for b in data.get("brackets") or () if isinstance(b, Mapping)]
    values += [("upto", b.get("upto")) for b in data.get("brackets") or () if isinstance(b, Mapping)]
    values += [("amount", a.get("amount")) for a in data.get("one_off_awards") or () if isinstance(a, Mapping)]
    for name, value in values:
        if isinstance(value, float):
            raise PolicyError(
                "policy_float_amount", f"{name}: give amounts and rates as strings or integers, not floats"
            )


def _validated(data: Mapping) -> PolicyModel:
    try:
        return PolicyModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, PolicyError):
            raise inner from None
        kind = err["type"]
        code = {"missing": "policy_missing_field", "enum": "policy_bad_enum"}.get(kind) or (
            "policy_bad_number" if kind.startswith("decimal") else "policy_bad_field"
        )
        where = ".".join(str(p) for p in err["loc"])
        raise PolicyError(code, f"{where}: {err['msg']}") from None


def policy_from_model(m: PolicyModel) -> Policy:
    """The calculator's frozen Policy of a validated model."""

    def aset(values: list[str] | None) -> frozenset[str] | None:
        return None if values is None else frozenset(values)

    def prefixes(values: list[str] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(values)

    return Policy(
        code=m.code,
        name=m.name,
        beneficiary=m.beneficiary,
        basis=m.basis,
        aggregation=m.aggregation,
        brackets=tuple(Bracket(b.rate, b.upto) for b in m.brackets),
        contract_types=aset(m.contract_types),
        subtypes=aset(m.subtypes),
        seller_entity_types=aset(m.seller_entity_types),
        buyer_entity_types=aset(m.buyer_entity_types),
        seller_regions=prefixes(m.seller_regions),
        buyer_regions=prefixes(m.buyer_regions),
        intermediary_regions=prefixes(m.intermediary_regions),
        intermediary_filing_levels=aset(m.intermediary_filing_levels),
        required_flags_any=aset(m.required_flags_any),
        min_annual_basis=m.min_annual_basis,
        min_evaluated_trl=m.min_evaluated_trl,
        cap_per_contract=m.cap_per_contract,
        cap_per_year=m.cap_per_year,
        valid_from=m.valid_from,
        valid_until=m.valid_until,
        one_off_awards=tuple(OneOffAward(a.filing_level, a.amount, a.label) for a in m.one_off_awards),
        value_added_only=m.value_added_only,
        source=m.source,
        description=m.description,
        jurisdiction=m.jurisdiction or "",
    )


def policy_from_dict(data: Mapping) -> Policy:
    """Inverse of policy_to_dict, through the one schema; raises PolicyError with a stable code on bad input."""
    _refuse_floats(data)
    return policy_from_model(_validated(data))
