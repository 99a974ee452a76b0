"""Technology-transfer income-tax relief as plain arithmetic (seed 000 篇三 #28; 企业所得税法实施条例 第九十条).

In one tax year, qualifying 技术转让所得 up to 5,000,000 yuan is exempt and the part above it is taxed at
half: the taxable amount falls by the first 5,000,000 plus half the excess. 技术转让所得 = transfer income
− its costs (and related taxes). Licences qualify only for a term of 5 years or more (财税〔2010〕111号,
〔2015〕116号). Everything here is an estimate: the tax office decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

THRESHOLD = Decimal("5000000.00")  # 500万元
STANDARD_RATE = Decimal("0.25")  # 企业所得税 standard rate; a 高新技术企业 pays 15 %
QUALIFYING_TYPES = {"transfer": "技术转让", "license": "技术许可"}
LICENCE_MIN_YEARS = 5
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

CAVEATS = (
    "Only contracts registered with the technology-contract registry (技术合同认定登记) qualify.",
    "技术转让所得 is income less its costs and related taxes: enter the costs, or the estimate overstates the relief.",
    "Transfers between parties in a 100 % shareholding relation (关联交易) do not qualify.",
    "Income must be accounted for separately from other income; the tax office decides — this is an estimate.",
)


def money(v: Decimal) -> Decimal:
    return Decimal(v).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ContractFact:
    contract_id: int
    registration_number: str | None
    contract_type: str
    subtype: str
    status: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    related_party: bool
    received_in_year: Decimal  # Σ payments received in the tax year


@dataclass(frozen=True)
class Qualification:
    contract_id: int
    registration_number: str | None
    contract_type: str
    qualifies: bool
    income: Decimal
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _years_between(start: dt.date, end: dt.date) -> bool:
    """Whether [start, end] spans LICENCE_MIN_YEARS full years."""
    try:
        anniversary = start.replace(year=start.year + LICENCE_MIN_YEARS)
    except ValueError:  # 29 February
        anniversary = dt.date(start.year + LICENCE_MIN_YEARS, 3, 1)
    return end >= anniversary - dt.timedelta(days=1)


def qualify(c: ContractFact) -> Qualification:
    """Whether a contract's income counts toward the relief, and why not."""
    reasons: list[str] = []
    warnings: list[str] = []
    if c.contract_type not in QUALIFYING_TYPES:
        reasons.append("type_not_transfer_or_licence")
    if c.status != "registered":
        reasons.append("not_registered")
    if c.contract_type == "license":
        if c.valid_from is None or c.valid_until is None:
            reasons.append("licence_term_unknown")
        elif not _years_between(c.valid_from, c.valid_until):
            reasons.append("licence_term_under_5_years")
    if c.related_party:
        warnings.append("related_party: excluded if the parties are in a 100 % shareholding relation")
    return Qualification(
        c.contract_id,
        c.registration_number,
        c.contract_type,
        not reasons,
        money(c.received_in_year),
        tuple(reasons),
        tuple(warnings),
    )


@dataclass(frozen=True)
class Estimate:
    income: Decimal  # 技术转让收入
    costs: Decimal  # 成本费用 and related taxes
    gain: Decimal  # 技术转让所得 (never below 0)
    exempt: Decimal  # 免征部分 (≤ 5,000,000)
    excess: Decimal  # the part above 5,000,000
    taxable: Decimal  # 减半征收: half the excess
    reduction: Decimal  # how much the taxable amount falls (exempt + excess / 2)
    rate: Decimal
    tax_saving: Decimal  # reduction × rate
    working: list[str] = field(default_factory=list)


def estimate(income: Decimal, costs: Decimal = ZERO, rate: Decimal = STANDARD_RATE) -> Estimate:
    """The year's relief on `income` of qualifying transfers less `costs`, at the enterprise's `rate`."""
    income, costs = money(income), money(costs)
    gain = max(ZERO, income - costs)
    exempt = min(gain, THRESHOLD)
    excess = gain - exempt
    taxable = money(excess / 2)
    reduction = exempt + (excess - taxable)
    saving = money(reduction * rate)
    working = [
        f"技术转让所得 = income {income} − costs {costs} = {gain}",
        f"exempt (免征, up to {THRESHOLD}) = {exempt}",
        f"excess over {THRESHOLD} = {excess}; taxed at half: taxable {taxable}",
        f"taxable amount reduced by {exempt} + ({excess} − {taxable}) = {reduction}",
        f"estimated tax saving at {rate * 100:.0f} % = {saving}",
    ]
    return Estimate(income, costs, gain, exempt, excess, taxable, reduction, rate, saving, working)
