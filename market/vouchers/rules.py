"""Voucher rules (创新券): pure functions over plain data — eligibility, budget, booking checks, shares, states.

No database here; every refusal is a (code, message) pair the service turns into a MarketError.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")

# seed 000 篇三 #25: the professional science and technology services a voucher may buy.
CATEGORIES: dict[str, str] = {
    "research_development": "研究开发",
    "technology_transfer": "技术转移",
    "testing_certification": "检验检测认证",
    "incubation": "创业孵化",
    "intellectual_property": "知识产权",
    "consulting": "科技咨询",
    "finance": "科技金融",
    "popularisation": "科学技术普及",
}
# seed 004 §5(3): 科技型中小微企业, and 创客团队 in incubators, 众创空间 and university science parks.
FIRM_KINDS: dict[str, str] = {
    "sme": "科技型中小微企业",
    "startup": "创业团队",
    "maker_team": "孵化器、众创空间、大学科技园内的创客团队",
}
# seed 004 §5(3): province 60 %, city 30 % of the service's price.
DEFAULT_PROVINCE_SHARE = Decimal("0.60")
DEFAULT_CITY_SHARE = Decimal("0.30")
SETTLEMENTS: dict[str, str] = {
    "general": "通用: the firm pays in full and is reimbursed the voucher share",
    "direct": "通兑: the provider redeems the voucher share, the firm pays the rest",
}
SCORE_ITEMS = ("quality", "timeliness", "attitude")  # 服务质量, 及时性, 服务态度: 1–5 each
PAYERS = ("province", "city")


class RuleViolation(ValueError):
    """A voucher rule refused an action: `code` is stable, `message` says why."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def fen(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# ---- programmes ----------------------------------------------------------------------------------


def check_programme(
    *,
    total_budget: Decimal,
    province_share: Decimal,
    city_share: Decimal,
    face_value: Decimal | None,
    per_firm_ceiling: Decimal | None,
    firm_kinds: list[str],
    categories: list[str],
    valid_from: dt.date,
    valid_until: dt.date,
) -> None:
    if total_budget <= 0:
        raise RuleViolation("budget_not_positive", "the total budget must be positive", "total_budget")
    for name, share in (("province_share", province_share), ("city_share", city_share)):
        if share < 0 or share > 1:
            raise RuleViolation("share_out_of_range", f"{name} must be between 0 and 1", name)
    if province_share + city_share <= 0 or province_share + city_share > 1:
        raise RuleViolation("shares_out_of_range", "province + city shares must be above 0 and at most 1", "city_share")
    if (face_value is None) == (per_firm_ceiling is None):
        raise RuleViolation("value_rule_required", "give either a face value or a per-firm ceiling", "face_value")
    for name, value in (("face_value", face_value), ("per_firm_ceiling", per_firm_ceiling)):
        if value is not None and (value <= 0 or value > total_budget):
            raise RuleViolation("value_out_of_range", f"{name} must be positive and within the budget", name)
    if not firm_kinds or set(firm_kinds) - set(FIRM_KINDS):
        raise RuleViolation(
            "unknown_firm_kind", f"firm kinds must be among {', '.join(FIRM_KINDS)}", "eligible_firm_kinds"
        )
    if not categories or set(categories) - set(CATEGORIES):
        raise RuleViolation(
            "unknown_category", f"categories must be among {', '.join(CATEGORIES)}", "eligible_categories"
        )
    if valid_until < valid_from:
        raise RuleViolation("bad_validity", "valid_until is before valid_from", "valid_until")


# ---- applications and budget ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProgrammeTerms:
    status: str
    face_value: Decimal | None
    per_firm_ceiling: Decimal | None
    firm_kinds: frozenset[str]
    valid_from: dt.date
    valid_until: dt.date
    region_prefix: str


def check_application(
    terms: ProgrammeTerms,
    *,
    org_kind: str,
    org_verified: bool,
    org_region: str,
    firm_kind: str,
    requested: Decimal,
    today: dt.date,
) -> None:
    """May this organisation apply for a voucher of `requested` yuan?"""
    if terms.status != "open" or today > terms.valid_until:
        raise RuleViolation("programme_closed", "the programme is not taking applications")
    if org_kind != "enterprise":
        raise RuleViolation("firm_not_eligible", "only enterprises and their teams hold vouchers")
    if not org_verified:
        raise RuleViolation("org_not_verified", "the organisation must be verified first")
    if not org_region.startswith(terms.region_prefix):
        raise RuleViolation("firm_outside_city", "vouchers are for firms of the city")
    if firm_kind not in terms.firm_kinds:
        raise RuleViolation(
            "firm_kind_not_eligible", f"the programme is open to: {', '.join(sorted(terms.firm_kinds))}", "firm_kind"
        )
    if requested <= 0:
        raise RuleViolation("amount_not_positive", "the requested amount must be positive", "requested_amount")
    if terms.per_firm_ceiling is not None and requested > terms.per_firm_ceiling:
        raise RuleViolation("above_firm_ceiling", f"at most {terms.per_firm_ceiling} yuan per firm", "requested_amount")


def voucher_value(terms: ProgrammeTerms, requested: Decimal, granted: Decimal | None = None) -> Decimal:
    """The value an approval issues: the face value, or what was asked (the bureau may grant less)."""
    if terms.face_value is not None:
        return terms.face_value
    value = requested if granted is None else granted
    if value <= 0 or value > requested:
        raise RuleViolation(
            "bad_granted_amount", "the granted amount must be positive and at most the requested", "granted_amount"
        )
    return value


def check_budget(total_budget: Decimal, committed: Decimal, value: Decimal) -> Decimal:
    """Remaining budget after issuing `value`; refuses to overcommit."""
    remaining = total_budget - committed
    if value > remaining:
        raise RuleViolation("budget_exhausted", f"the programme has {remaining} yuan left; this voucher needs {value}")
    return remaining - value


def voucher_number(year: int, programme_id: int, voucher_id: int) -> str:
    """CXQ-<year>-<programme>-<voucher>: unique because the voucher id is."""
    return f"CXQ-{year}-{programme_id:03d}-{voucher_id:06d}"


# ---- booking a service ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingFacts:
    voucher_status: str
    voucher_balance: Decimal
    voucher_expires_on: dt.date
    firm_org_id: int
    provider_org_id: int
    provider_status: str
    provider_region: str
    provider_categories: frozenset[str]
    related: bool  # a declared relationship between provider and firm
    eligible_categories: frozenset[str]
    out_of_city_allowed: bool
    region_prefix: str
    province_share: Decimal
    city_share: Decimal


def max_voucher_amount(price: Decimal, province_share: Decimal, city_share: Decimal) -> Decimal:
    """The voucher pays at most the province + city shares of the price (rounded down to the fen)."""
    return (price * (province_share + city_share)).quantize(CENT, rounding="ROUND_DOWN")


def check_booking(
    f: BookingFacts, *, category: str, price: Decimal, voucher_amount: Decimal, settlement: str, today: dt.date
) -> None:
    if f.voucher_status != "issued":
        raise RuleViolation("voucher_not_active", f"the voucher is {f.voucher_status}")
    if today > f.voucher_expires_on:
        raise RuleViolation("voucher_expired", "the voucher has expired")
    if f.provider_status != "approved":
        raise RuleViolation("provider_not_approved", "the provider is not an approved voucher provider")
    if f.provider_org_id == f.firm_org_id or f.related:
        raise RuleViolation(
            "related_party", "a provider may not serve a related party (same organisation or declared relationship)"
        )
    if not f.out_of_city_allowed and not f.provider_region.startswith(f.region_prefix):
        raise RuleViolation(
            "out_of_city_not_allowed", "this programme's vouchers are used with providers of the city only"
        )
    if category not in f.eligible_categories:
        raise RuleViolation("category_not_eligible", "the programme does not cover this service category", "category")
    if category not in f.provider_categories:
        raise RuleViolation("not_in_catalogue", "the provider does not offer this category", "category")
    if settlement not in SETTLEMENTS:
        raise RuleViolation("unknown_settlement", f"settlement must be one of {', '.join(SETTLEMENTS)}", "settlement")
    if price <= 0 or voucher_amount <= 0:
        raise RuleViolation("amount_not_positive", "price and voucher amount must be positive", "voucher_amount")
    if voucher_amount > max_voucher_amount(price, f.province_share, f.city_share):
        raise RuleViolation(
            "voucher_share_exceeded",
            "the voucher pays at most the province and city shares of the price",
            "voucher_amount",
        )
    if voucher_amount > f.voucher_balance:
        raise RuleViolation(
            "voucher_balance_insufficient", f"the voucher's balance is {f.voucher_balance}", "voucher_amount"
        )


# ---- delivery, confirmation, redemption ------------------------------------------------------------

# booking state → {action: next state}
BOOKING_FLOW: dict[str, dict[str, str]] = {
    "booked": {"deliver": "delivered", "cancel": "cancelled"},
    "delivered": {"confirm": "confirmed"},
    "confirmed": {"claim": "claimed"},
    "claimed": {"approve": "redeemed", "reject": "confirmed"},
}


def next_booking_state(state: str, action: str) -> str:
    try:
        return BOOKING_FLOW[state][action]
    except KeyError:
        raise RuleViolation("invalid_state", f"cannot {action} a booking that is {state}") from None


def service_score(scores: dict[str, int]) -> Decimal:
    """Satisfaction: every item scored 1–5; the score is their mean to 2 places."""
    if set(scores) != set(SCORE_ITEMS):
        raise RuleViolation("bad_scores", f"score exactly these items: {', '.join(SCORE_ITEMS)}", "scores")
    for item, value in scores.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise RuleViolation("bad_scores", f"{item} must be a whole number from 1 to 5", "scores")
    return fen(Decimal(sum(scores.values())) / len(scores))


def claimant(settlement: str) -> str:
    """Who claims the voucher share: the firm (通用, reimbursed) or the provider (通兑, redeems)."""
    return "firm" if settlement == "general" else "provider"


def required_payment(settlement: str, price: Decimal, voucher_amount: Decimal) -> Decimal:
    """What the firm must have paid the provider before a claim: all of it (通用) or the rest (通兑)."""
    return price if settlement == "general" else price - voucher_amount


def check_claim(
    settlement: str, price: Decimal, voucher_amount: Decimal, paid: Decimal, contract_reference: str, payment_proof: str
) -> None:
    if not contract_reference.strip():
        raise RuleViolation("contract_required", "the service contract is required", "contract_reference")
    if not payment_proof.strip():
        raise RuleViolation("payment_proof_required", "proof of payment is required", "payment_proof")
    need = required_payment(settlement, price, voucher_amount)
    if paid < need:
        raise RuleViolation(
            "payment_incomplete", f"the firm must have paid {need} yuan; proof shows {paid}", "paid_amount"
        )


def split_shares(amount: Decimal, province_share: Decimal, city_share: Decimal) -> dict[str, Decimal]:
    """Split a voucher amount between its payers in the programme's ratio; the city's part takes the rounding."""
    province = fen(amount * province_share / (province_share + city_share))
    return {"province": province, "city": amount - province}


# ---- expiry and voiding ----------------------------------------------------------------------------


def is_due_to_expire(status: str, expires_on: dt.date | None, today: dt.date) -> bool:
    return status == "issued" and expires_on is not None and today > expires_on


def rate(part: Decimal, whole: Decimal) -> Decimal | None:
    """part / whole to 4 places (a rate), None when nothing was issued."""
    if whole == 0:
        return None
    return (part / whole).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
