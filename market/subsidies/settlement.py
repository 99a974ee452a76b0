"""Settling a policy's year across runs (pure): what frozen runs paid, what is due now, and the difference.

The rules (README "Subsidy runs across a year"):
- A run covers one calendar year. What is due for a beneficiary under a policy is computed over the
  run's period together with every period already covered by frozen runs of that policy in the year
  (its *coverage*), so caps, thresholds and brackets see the year as one.
- What frozen runs paid stands (`paid_before`: the sum of their differences, recoveries included);
  a run pays `due_now − paid_before` when positive and records the shortfall as an amount to
  recover when negative — never netted against anything else.
- Each activity (a registration with its amendments and re-registrations) and each payment sits in
  the books as an item; an item's net over frozen runs is what it was paid, so nothing is paid twice.
  Activities paid in another year are not paid again; a per-contract cap spans the years.
The service builds `Books` from the database; tests build it in memory with `Books.freeze`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from market.subsidies import calculator as calc
from market.subsidies.calculator import (
    Basis,
    BeneficiaryResult,
    ContractFact,
    History,
    Period,
    Policy,
    PolicyOutcome,
    Prepared,
    Recognition,
)

ZERO = Decimal(0)
AWARD = "award:"


@dataclass(frozen=True)
class Coverage:
    """The days of one year a settlement covers: the run's period and the frozen runs' periods."""

    year: int
    ranges: tuple[Period, ...]

    def __contains__(self, day: dt.date) -> bool:
        return day.year == self.year and any(r.start <= day <= r.end for r in self.ranges)


def spans_one_year(period: Period) -> bool:
    return period.start.year == period.end.year


def facts_in(basis: Basis, facts: Iterable[ContractFact], coverage: Coverage) -> list[ContractFact]:
    """The facts that earn in the coverage; on the paid basis, each carries only its payments there."""
    out = []
    for f in facts:
        if basis is not Basis.paid:
            if f.registered_on in coverage:
                out.append(f)
            continue
        earned = [(day, amount) for day, amount in f.payments if day in coverage]
        if earned:
            paid = sum((a for _, a in earned), ZERO)
            out.append(dataclasses.replace(f, paid_amount=paid, earned_on=max(d for d, _ in earned)))
    return out


# ---- the books of frozen runs --------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """What frozen runs of a year hold for one beneficiary: net paid, and net per item."""

    name: str
    org_id: int | None
    paid: Decimal
    items: Mapping[str, Decimal]
    contracts: Mapping[str, int | None]


@dataclass
class Books:
    """The frozen settlements of one policy: covered periods and per-beneficiary, per-item differences."""

    periods: list[Period] = field(default_factory=list)
    # (year, beneficiary key) -> [name, org_id, net paid, {item: net}, {item: contract id}]
    entries: dict[tuple[int, str], list] = field(default_factory=dict)

    def add_period(self, period: Period) -> None:
        self.periods.append(period)

    def add(
        self,
        year: int,
        key: str,
        name: str,
        org_id: int | None,
        difference: Decimal,
        items: Iterable[tuple[str, int | None, Decimal]],
    ) -> None:
        entry = self.entries.setdefault((year, key), [name, org_id, ZERO, defaultdict(lambda: ZERO), {}])
        entry[0], entry[1] = name or entry[0], org_id if org_id is not None else entry[1]
        entry[2] += difference
        for item, contract_id, amount in items:
            entry[3][item] += amount
            entry[4].setdefault(item, contract_id)

    def coverage(self, period: Period) -> Coverage:
        year = period.start.year
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        ranges = [period]
        for p in self.periods:
            start, end = max(p.start, first), min(p.end, last)
            if start <= end:
                ranges.append(Period(start, end))
        return Coverage(year, tuple(_merge(ranges)))

    def standing(self, year: int) -> dict[str, Standing]:
        return {
            key: Standing(e[0], e[1], e[2], dict(e[3]), dict(e[4])) for (y, key), e in self.entries.items() if y == year
        }

    def history(self, year: int, marks: Mapping[tuple[int, str], Decimal] | None = None) -> History:
        """Other years' frozen payments: activities paid, one-off awards paid, per-activity amounts."""
        awarded: set[tuple[str, str]] = set()
        paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for (y, key), e in self.entries.items():
            if y == year:
                continue
            for item, amount in e[3].items():
                if item.startswith(AWARD):
                    if amount > 0:
                        awarded.add((key, item[len(AWARD) :]))
                    continue
                paid[item] += amount
        activities = {a for a, amount in paid.items() if amount > 0}
        return History(frozenset(activities), frozenset(awarded), marks or {}, {a: v for a, v in paid.items() if v > 0})

    def freeze(self, period: Period, settlements: Iterable[Settlement]) -> None:
        """Record a run's settlements as frozen (what the database does by freezing the run)."""
        self.add_period(period)
        for s in settlements:
            self.add(
                s.year, s.key, s.name, s.org_id, s.difference, ((i.item, i.contract_id, i.difference) for i in s.items)
            )


def _merge(ranges: list[Period]) -> list[Period]:
    out: list[Period] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if out and r.start <= out[-1].end + dt.timedelta(days=1):
            last = out[-1]
            out[-1] = Period(last.start, max(last.end, r.end))
        else:
            out.append(r)
    return out


# ---- settling -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemLine:
    item: str  # an activity id, or "award:<level>"
    contract_id: int | None
    paid_before: Decimal
    due_now: Decimal

    @property
    def difference(self) -> Decimal:
        return self.due_now - self.paid_before


@dataclass(frozen=True)
class Settlement:
    """One beneficiary's year under one policy: paid before, due now, the difference."""

    year: int
    key: str
    name: str
    org_id: int | None
    result: BeneficiaryResult | None  # None: nothing is due any more (e.g. the contracts were cancelled)
    paid_before: Decimal
    due_now: Decimal
    items: tuple[ItemLine, ...]

    @property
    def difference(self) -> Decimal:
        return self.due_now - self.paid_before

    @property
    def to_pay(self) -> Decimal:
        return max(ZERO, self.difference)

    @property
    def to_recover(self) -> Decimal:
        return max(ZERO, -self.difference)


def item_amounts(result: BeneficiaryResult) -> dict[str, tuple[int | None, Decimal]]:
    out: dict[str, tuple[int | None, Decimal]] = {}
    for c in result.contributions:
        contract_id, amount = out.get(c.activity_id, (c.contract_id, ZERO))
        out[c.activity_id] = (contract_id, amount + c.paid)
    for a in result.awards:
        out[AWARD + a.filing_level] = (None, a.amount)
    return out


def settle(outcome: PolicyOutcome, year: int, standing: Mapping[str, Standing]) -> list[Settlement]:
    out = []
    results = outcome.by_key()
    for key in sorted(set(results) | set(standing)):
        r, before = results.get(key), standing.get(key)
        due_items = item_amounts(r) if r is not None else {}
        before_items = before.items if before is not None else {}
        lines = []
        for item in sorted(set(due_items) | set(before_items)):
            contract_id, due = due_items.get(item, (None, ZERO))
            if contract_id is None and before is not None:
                contract_id = before.contracts.get(item)
            lines.append(ItemLine(item, contract_id, before_items.get(item, ZERO), due))
        out.append(
            Settlement(
                year=year,
                key=key,
                name=r.name if r else standing[key].name,  # no result: the key is one of the standing's
                org_id=r.org_id if r else standing[key].org_id,
                result=r,
                paid_before=before.paid if before else ZERO,
                due_now=r.total if r else ZERO,
                items=tuple(lines),
            )
        )
    return out


def settle_policy(
    policy: Policy,
    facts: Sequence[ContractFact],
    period: Period,
    books: Books,
    recognitions: Sequence[Recognition] = (),
    marks: Mapping[tuple[int, str], Decimal] | None = None,
    prepared: dict | None = None,
) -> tuple[list[Settlement], PolicyOutcome, Coverage]:
    """A run of `policy` over `period` (one year) against the frozen books: every beneficiary's settlement."""
    coverage = books.coverage(period)
    scoped_key = (coverage, policy.basis is Basis.paid)
    cache = prepared if prepared is not None else {}
    if scoped_key not in cache:
        cache[scoped_key] = Prepared(facts_in(policy.basis, facts, coverage))
    outcome = calc.compute(policy, cache[scoped_key], coverage, books.history(coverage.year, marks), recognitions)
    return settle(outcome, coverage.year, books.standing(coverage.year)), outcome, coverage


def _money(v: Decimal) -> str:
    return str(v.quantize(Decimal("0.01")))


def settlement_json(s: Settlement) -> dict:
    """The settlement as stored: only items with something paid before are listed (`carried`); every other
    item is due exactly what the working's contributions and awards say (`settlement_items` expands them)."""
    return {
        "year": s.year,
        "paid_before": _money(s.paid_before),
        "due_now": _money(s.due_now),
        "difference": _money(s.difference),
        "to_pay": _money(s.to_pay),
        "to_recover": _money(s.to_recover),
        "carried": [
            {
                "item": i.item,
                "contract_id": i.contract_id,
                "paid_before": _money(i.paid_before),
                "due_now": _money(i.due_now),
            }
            for i in s.items
            if i.paid_before
        ],
    }


def settlement_items(working: dict) -> list[dict]:
    """Every item of a stored settlement: paid before / due now / difference (what the books sum)."""
    due: dict[str, list] = {}
    for c in working.get("contributions", []):
        entry = due.setdefault(c["activity_id"], [c["contract_id"], ZERO])
        entry[1] += Decimal(c["paid"])
    for a in working.get("awards", []):
        due[AWARD + a["filing_level"]] = [None, Decimal(a["amount"])]
    lines = {
        item: {"item": item, "contract_id": contract_id, "paid_before": ZERO, "due_now": amount}
        for item, (contract_id, amount) in due.items()
    }
    for c in working.get("settlement", {}).get("carried", []):
        lines[c["item"]] = {
            "item": c["item"],
            "contract_id": c["contract_id"],
            "paid_before": Decimal(c["paid_before"]),
            "due_now": Decimal(c["due_now"]),
        }
    return [
        {
            k: _money(v) if isinstance(v, Decimal) else v
            for k, v in (line | {"difference": line["due_now"] - line["paid_before"]}).items()
        }
        for _, line in sorted(lines.items())
    ]
