"""Pure rules of contract registration: catalogue, validation, deadlines, numbers, state transitions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from market.core import regions, transitions
from market.core.identifiers import IdentifierError, check_credit_code, check_region_code
from market.core.vocab import IPType, TechnicalField, is_known_entity_type

# 民法典 arts. 851–887: five types and their subtypes (code -> Chinese label).
CONTRACT_TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "development": (
        "技术开发",
        {
            "commissioned": "委托开发",
            "cooperative": "合作开发",
        },
    ),
    "transfer": (
        "技术转让",
        {
            "patent_right": "专利权转让",
            "patent_application_right": "专利申请权转让",
            "technical_secret": "技术秘密转让",
            "software_copyright": "计算机软件著作权转让",
            "ic_layout": "集成电路布图设计专有权转让",
            "plant_variety": "植物新品种权转让",
        },
    ),
    "license": (
        "技术许可",
        {
            "patent_exclusive": "专利实施独占许可",
            "patent_sole": "专利实施排他许可",
            "patent_ordinary": "专利实施普通许可",
            "technical_secret": "技术秘密使用许可",
        },
    ),
    "consulting": (
        "技术咨询",
        {
            "feasibility_study": "可行性论证",
            "technology_forecast": "技术预测",
            "special_survey": "专题技术调查",
            "analysis_evaluation": "分析评价报告",
        },
    ),
    "service": (
        "技术服务",
        {
            "technical_service": "一般技术服务",
            "technical_training": "技术培训",
            "technical_intermediary": "技术中介",
        },
    ),
}

PAYMENT_METHODS = {"lump_sum": "一次总付", "instalments": "分期支付", "royalty": "提成支付", "equity": "作价入股"}
PLAN_SOURCES = {
    "national": "国家计划",
    "ministry": "部门计划",
    "provincial": "省级计划",
    "municipal": "地市县计划",
    "unplanned": "计划外",
}
# Non-technical costs a registrar deducts from 成交额; a reasonable quantity of deliverables is not one.
DEDUCTION_KINDS = {
    "equipment": "设备",
    "instruments": "仪器",
    "parts": "零部件",
    "raw_materials": "原材料",
    "other_non_technical": "其他非技术性费用",
}


class RefusalReason(StrEnum):
    """不予登记 reasons (技术合同认定规则)."""

    invalid_or_not_in_force = "invalid_or_not_in_force"  # 合同无效或者不生效
    not_technology_contract = "not_technology_contract"  # 非技术合同
    unclear_terms = "unclear_terms"  # 当事人、标的、价款不明确
    approval_missing = "approval_missing"  # 依法应当审批而未审批
    title_mismatch = "title_mismatch"  # 合同名称与权利义务不符
    unreasonable_restrictions = "unreasonable_restrictions"  # 不合理的限制性条款
    documents_missing = "documents_missing"  # 证明文件缺失
    seals_missing = "seals_missing"  # 未签章或签章不符


REFUSAL_REASON_LABELS = {
    RefusalReason.invalid_or_not_in_force: "合同无效或者不生效",
    RefusalReason.not_technology_contract: "不属于技术合同",
    RefusalReason.unclear_terms: "当事人、标的或价款不明确",
    RefusalReason.approval_missing: "依法应当办理批准手续而未办理",
    RefusalReason.title_mismatch: "合同名称与合同中的权利义务不一致",
    RefusalReason.unreasonable_restrictions: "含有不合理的限制性条款",
    RefusalReason.documents_missing: "未提交应当提交的证明文件",
    RefusalReason.seals_missing: "未签章或签章与当事人不符",
}

LARGE_CONTRACT_THRESHOLD = Decimal("5000000")  # 技术交易额 ≥ this: 30 working days to decide
NORMAL_DECISION_DAYS = 15
LONG_DECISION_DAYS = 30
DEFAULT_NUMBER_TEMPLATE = "{year:04d}{office:0>6}{seq:06d}"


# --- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class PartyFacts:
    role: str
    name: str
    credit_code: str | None = None
    entity_type_code: str | None = None
    region_code: str | None = None
    country: str = "CN"
    org_id: int | None = None


@dataclass(frozen=True)
class ContractFacts:
    """What validation needs to know about a contract, as plain data."""

    contract_type: str
    subtype: str
    total_amount: Decimal
    deductions: Sequence[Decimal] = ()
    technical_transaction_amount: Decimal | None = None  # as claimed by the filer; derived when None
    signing_date: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    parties: Sequence[PartyFacts] = ()
    technology_import: bool = False
    payment_method: str | None = None
    ip_type: str | None = None
    technical_field: str | None = None
    plan_source: str | None = None
    deduction_kinds: Sequence[str] = field(default_factory=tuple)


def derived_technical_amount(total: Decimal, deductions: Iterable[Decimal]) -> Decimal:
    """技术交易额 = 合同成交额 − Σ non-technical deductions."""
    return total - sum(deductions, Decimal(0))


def check_catalogue(contract_type: str, subtype: str) -> list[Problem]:
    if contract_type not in CONTRACT_TYPES:
        known = ", ".join(CONTRACT_TYPES)
        return [Problem("contract_type", "unknown_contract_type", f"未知合同类型 {contract_type!r}; one of: {known}")]
    subtypes = CONTRACT_TYPES[contract_type][1]
    if subtype not in subtypes:
        return [
            Problem(
                "subtype",
                "unknown_subtype",
                f"{CONTRACT_TYPES[contract_type][0]} has no subtype {subtype!r}; one of: {', '.join(subtypes)}",
            )
        ]
    return []


def _check_amounts(f: ContractFacts) -> list[Problem]:
    problems: list[Problem] = []
    if f.total_amount <= 0:
        problems.append(Problem("total_amount", "amount_not_positive", "合同成交额 must be greater than zero"))
    for i, amount in enumerate(f.deductions):
        if amount <= 0:
            problems.append(Problem(f"deductions.{i}.amount", "deduction_not_positive", "a deduction must be > 0"))
    for i, kind in enumerate(f.deduction_kinds):
        if kind not in DEDUCTION_KINDS:
            problems.append(
                Problem(
                    f"deductions.{i}.kind",
                    "unknown_deduction_kind",
                    f"deduction kind must be one of: {', '.join(DEDUCTION_KINDS)}",
                )
            )
    derived = derived_technical_amount(f.total_amount, f.deductions)
    if f.technical_transaction_amount is not None and f.technical_transaction_amount > f.total_amount:
        problems.append(
            Problem(
                "technical_transaction_amount",
                "technical_amount_exceeds_total",
                f"技术交易额 {f.technical_transaction_amount} exceeds 合同成交额 {f.total_amount}",
            )
        )
    elif derived < 0:
        problems.append(
            Problem(
                "deductions",
                "deductions_exceed_total",
                f"非技术性费用 total {f.total_amount - derived} exceeds 合同成交额",
            )
        )
    elif f.technical_transaction_amount is not None and f.technical_transaction_amount != derived:
        problems.append(
            Problem(
                "technical_transaction_amount",
                "deductions_do_not_add_up",
                f"技术交易额 {f.technical_transaction_amount} ≠ 合同成交额 {f.total_amount} − deductions "
                f"{f.total_amount - derived} = {derived}",
            )
        )
    return problems


def _check_dates(f: ContractFacts, today: dt.date) -> list[Problem]:
    problems: list[Problem] = []
    if f.signing_date is None:
        problems.append(Problem("signing_date", "signing_date_required", "签订日期 is required"))
    elif f.signing_date > today:
        problems.append(Problem("signing_date", "signing_date_in_future", "签订日期 is in the future"))
    if f.valid_until is None:
        problems.append(Problem("valid_until", "validity_required", "合同有效期 (valid_until) is required"))
        return problems
    if f.valid_from is not None and f.valid_from > f.valid_until:
        problems.append(Problem("valid_from", "validity_out_of_order", "valid_from is after valid_until"))
    if f.signing_date is not None and f.signing_date > f.valid_until:
        problems.append(Problem("signing_date", "signed_after_expiry", "签订日期 is after the end of validity"))
    if f.valid_until < today:
        problems.append(
            Problem(
                "valid_until",
                "contract_expired",
                f"合同已于 {f.valid_until} 失效: only contracts in force can be registered",
            )
        )
    return problems


def _party_key(p: PartyFacts) -> tuple[str, str]:
    if p.org_id is not None:
        return ("org", str(p.org_id))
    if p.credit_code:
        return ("code", p.credit_code.strip().upper())
    return ("name", p.name.strip())


def _check_parties(f: ContractFacts) -> list[Problem]:
    problems: list[Problem] = []
    by_role: dict[str, list[PartyFacts]] = {}
    for p in f.parties:
        by_role.setdefault(p.role, []).append(p)
    for i, p in enumerate(f.parties):
        where = f"parties.{i}"
        if p.role not in {"seller", "buyer", "intermediary", "consortium_member"}:
            problems.append(
                Problem(f"{where}.role", "unknown_party_role", "role must be seller, buyer or intermediary")
            )
        if not p.name.strip():
            problems.append(Problem(f"{where}.name", "party_name_required", "party name is required"))
        domestic = p.country.upper() == "CN"
        if domestic:
            if not p.credit_code:
                problems.append(
                    Problem(f"{where}.credit_code", "credit_code_required", "a domestic party needs 统一社会信用代码")
                )
            else:
                try:
                    check_credit_code(p.credit_code)
                except IdentifierError as exc:
                    problems.append(Problem(f"{where}.credit_code", exc.code, exc.message))
            try:
                check_region_code(p.region_code or "")
            except IdentifierError as exc:
                problems.append(Problem(f"{where}.region_code", exc.code, exc.message))
            if not p.entity_type_code or not is_known_entity_type(p.entity_type_code):
                problems.append(Problem(f"{where}.entity_type_code", "invalid_entity_type", "unknown 法人性质 code"))
    for role, label in (("seller", "卖方"), ("buyer", "买方")):
        if role not in by_role:
            problems.append(Problem("parties", "missing_party", f"the contract has no {role} ({label})"))
    for role, listed in by_role.items():
        if len(listed) > 1 and role != "consortium_member":  # a consortium has any number of members
            problems.append(Problem("parties", "duplicate_party", f"more than one {role} on the contract"))
    seller, buyer = by_role.get("seller", [None])[0], by_role.get("buyer", [None])[0]
    if seller and buyer and _party_key(seller) == _party_key(buyer):
        problems.append(Problem("parties", "self_contract", "seller and buyer are the same party (自己与自己订立合同)"))
    for broker in by_role.get("intermediary", []):
        if any(p and _party_key(p) == _party_key(broker) for p in (seller, buyer)):
            problems.append(Problem("parties", "intermediary_is_party", "the intermediary is also the seller or buyer"))
    if f.technology_import and seller and buyer:
        if seller.country.upper() == "CN":
            problems.append(
                Problem("parties", "import_seller_not_foreign", "a technology import needs a seller abroad")
            )
        if buyer.country.upper() != "CN":
            problems.append(
                Problem("parties", "import_buyer_not_domestic", "a technology import needs a domestic buyer")
            )
    return problems


def _check_vocab(f: ContractFacts) -> list[Problem]:
    checks = (
        ("payment_method", f.payment_method, PAYMENT_METHODS),
        ("ip_type", f.ip_type, {v.value for v in IPType}),
        ("technical_field", f.technical_field, {v.value for v in TechnicalField}),
        ("plan_source", f.plan_source, PLAN_SOURCES),
    )
    problems = []
    for name, value, allowed in checks:
        if value is None:
            problems.append(Problem(name, f"{name}_required", f"{name} is required"))
        elif value not in allowed:
            problems.append(Problem(name, f"unknown_{name}", f"{name} must be one of: {', '.join(sorted(allowed))}"))
    return problems


def validate_contract(f: ContractFacts, today: dt.date) -> list[Problem]:
    """Everything a registrar would catch on the form; empty when the contract can be filed."""
    return [
        *check_catalogue(f.contract_type, f.subtype),
        *_check_amounts(f),
        *_check_dates(f, today),
        *_check_parties(f),
        *_check_vocab(f),
    ]


def filer_role(technology_import: bool) -> str:
    """Who applies: the seller, or for a technology import the domestic buyer."""
    return "buyer" if technology_import else "seller"


# --- decision deadline --------------------------------------------------------------------------


def parse_holidays(raw: str) -> frozenset[dt.date]:
    """A comma/space separated list of ISO dates (the configurable public-holiday list)."""
    return frozenset(dt.date.fromisoformat(part) for part in re.split(r"[\s,]+", raw.strip()) if part)


def is_working_day(day: dt.date, holidays: frozenset[dt.date], extra_working_days: frozenset[dt.date]) -> bool:
    if day in extra_working_days:  # 调休: a weekend made a working day
        return True
    return day.weekday() < 5 and day not in holidays


def add_working_days(
    start: dt.date,
    days: int,
    holidays: frozenset[dt.date] = frozenset(),
    extra_working_days: frozenset[dt.date] = frozenset(),
) -> dt.date:
    """The date `days` working days after `start` (start itself not counted)."""
    day = start
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays, extra_working_days):
            remaining -= 1
    return day


def decision_days(technical_transaction_amount: Decimal, disputed: bool) -> int:
    return (
        LONG_DECISION_DAYS
        if disputed or technical_transaction_amount >= LARGE_CONTRACT_THRESHOLD
        else NORMAL_DECISION_DAYS
    )


def decision_deadline(
    submitted_on: dt.date,
    technical_transaction_amount: Decimal,
    disputed: bool = False,
    holidays: frozenset[dt.date] = frozenset(),
    extra_working_days: frozenset[dt.date] = frozenset(),
) -> dt.date:
    """15 working days from filing, 30 when 技术交易额 ≥ 5,000,000 or the contract is disputed."""
    return add_working_days(
        submitted_on, decision_days(technical_transaction_amount, disputed), holidays, extra_working_days
    )


# --- registration numbers -----------------------------------------------------------------------


class NumberFormatError(ValueError):
    pass


def format_registration_number(year: int, office: str, seq: int, template: str = DEFAULT_NUMBER_TEMPLATE) -> str:
    """Render a registration number; the default is 16 digits: year (4) + office region (6) + sequence (6)."""
    if seq < 1:
        raise NumberFormatError("sequence starts at 1")
    if template == DEFAULT_NUMBER_TEMPLATE and (seq > 999_999 or not re.fullmatch(r"\d{6}", office)):
        raise NumberFormatError("the default format holds a 6-digit office code and at most 999999 per year")
    return template.format(year=year, office=office, seq=seq)


def parse_registration_number(number: str) -> tuple[int, str, int]:
    """(year, office, sequence) of a number in the default format."""
    if not re.fullmatch(r"\d{16}", number):
        raise NumberFormatError("a registration number in the default format is 16 digits")
    return int(number[:4]), number[4:10], int(number[10:])


# --- states -------------------------------------------------------------------------------------

# (from status, action) -> to status
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "submit"): "submitted",
    ("returned", "submit"): "submitted",
    ("submitted", "register"): "registered",
    ("submitted", "return"): "returned",
    ("submitted", "refuse"): "refused",
    ("registered", "amend"): "registered",
    ("registered", "cancel"): "cancelled",
}
EDITABLE_STATUSES = frozenset({"draft", "returned"})


def next_status(status: str, action: str) -> str:
    """The contract's status after `action`; TransitionError("invalid_state") if not allowed."""
    return transitions.next_status(TRANSITIONS, status, action, subject="a contract")


# --- regions ------------------------------------------------------------------------------------


# The one GB/T 2260 prefix helper lives in market.core.regions; re-exported here for existing callers.
region_prefix = regions.region_prefix


def office_jurisdiction(office: str) -> str:
    """The region prefix an office registers for: 330200 (a city office) → 3302, 330203 → 330203."""
    return region_prefix(office)


def in_jurisdiction(region: str | None, office: str) -> bool:
    """An office registers applicants located in its own jurisdiction (the seller; an import's domestic buyer)."""
    return bool(region and region.startswith(office_jurisdiction(office)))


def may_decide(decider_id: int, touched_by: Iterable[int | None]) -> bool:
    """Four eyes: whoever decides a registration did not create, file or edit the contract."""
    return decider_id not in set(touched_by)
