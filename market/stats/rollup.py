"""The ledger rollup: `contract_ledger` summed per dimension value and year/quarter/month/day, kept in step with it.

A statistic over [start, end] is read from `stats_rollup` alone, as whole years, whole quarters,
whole months and the days left at the edges (`split_period`): a handful of rows per dimension value
whatever the period, never the ledger's scattered rows, and exactly the ledger's SUM. `apply` runs
in the transaction that writes the ledger entries; `rebuild` recomputes everything from the ledger;
`differences` says where the two disagree (there should be none).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.contracts.models import LedgerEntry as L
from market.core.db import lock_against_writes, to_money, upsert_adding
from market.stats.models import RollupRow as R

# The tables as sa.Table (a mapped class's __table__ is typed as a FromClause).
RollupTable = R.metadata.tables[R.__tablename__]
LedgerTable = L.metadata.tables[L.__tablename__]

EMPTY = sa.literal_column("''", sa.String)


def _party(code: Any, name: Any) -> Any:
    # A party is its credit code when it has one (names drift between contracts), else its name.
    return sa.func.coalesce(sa.func.nullif(code, ""), name)


# dimension -> (key, key2, name, condition) as expressions over the ledger; `entry_keys` is the same in Python.
LEDGER_KEYS: dict[str, tuple[Any, Any, Any, Any]] = {
    "subtype": (L.contract_type, L.subtype, EMPTY, None),
    "technical_field": (L.technical_field, EMPTY, EMPTY, None),
    "ip_type": (L.ip_type, EMPTY, EMPTY, None),
    "seller_entity_type": (L.seller_entity_type, EMPTY, EMPTY, None),
    "buyer_entity_type": (L.buyer_entity_type, EMPTY, EMPTY, None),
    "region": (L.seller_region, L.buyer_region, EMPTY, None),
    "seller": (_party(L.seller_credit_code, L.seller_name), EMPTY, L.seller_name, None),
    "buyer": (_party(L.buyer_credit_code, L.buyer_name), EMPTY, L.buyer_name, None),
    "intermediary": (L.intermediary_name, EMPTY, L.intermediary_name, L.intermediary_name != ""),
    "plan_source": (L.plan_source, EMPTY, EMPTY, None),
    "payment_method": (L.payment_method, EMPTY, EMPTY, None),
}


LATER_COLUMNS = ("plan_source", "payment_method")  # dimensions read from a ledger column of the same name


def entry_keys(e: L) -> list[tuple[str, str, str, str]]:
    """(dimension, key, key2, name) of every rollup row a ledger entry counts in."""
    keys = [
        ("subtype", e.contract_type, e.subtype, ""),
        ("technical_field", e.technical_field, "", ""),
        ("ip_type", e.ip_type, "", ""),
        ("seller_entity_type", e.seller_entity_type, "", ""),
        ("buyer_entity_type", e.buyer_entity_type, "", ""),
        ("region", e.seller_region, e.buyer_region, ""),
        ("seller", e.seller_credit_code or e.seller_name, "", e.seller_name),
        ("buyer", e.buyer_credit_code or e.buyer_name, "", e.buyer_name),
        ("plan_source", e.plan_source or "", "", ""),
        ("payment_method", e.payment_method or "", "", ""),
    ]
    if e.intermediary_name:
        keys.append(("intermediary", e.intermediary_name, "", e.intermediary_name))
    return keys


def ledger_month() -> Any:
    """yyyymm of a ledger entry (entry_year is a SMALLINT: widen before multiplying)."""
    return sa.cast(L.entry_year, sa.Integer) * 100 + L.entry_month


def ledger_day() -> Any:
    """yyyymmdd of a ledger entry (extract() is strftime() on SQLite, numeric on PostgreSQL: cast both)."""
    return ledger_month() * 100 + sa.cast(sa.extract("day", L.entry_date), sa.Integer)


# The grains and how their `period` is written: y yyyy, q yyyyq (quarter 1-4), m yyyymm, d yyyymmdd.
GRAINS = ("y", "q", "m", "d")


def periods(day: dt.date) -> tuple[tuple[str, int], ...]:
    """(grain, period) of every rollup row a ledger entry dated `day` counts in."""
    return (
        ("y", day.year),
        ("q", day.year * 10 + (day.month + 2) // 3),
        ("m", day.year * 100 + day.month),
        ("d", day.year * 10000 + day.month * 100 + day.day),
    )


KEY_COLUMNS = ["dimension", "grain", "period", "key", "key2"]
SUMS = ["count", "total_amount", "technical_transaction_amount"]


def apply(session: Session, entries: Iterable[L]) -> None:
    """Add ledger entries (not yet committed, same transaction) to the rollup's year, quarter, month and day rows."""
    acc: dict[tuple[Any, ...], list[Any]] = {}
    for e in entries:
        total, tta = to_money(e.total_amount), to_money(e.technical_transaction_amount)
        for dimension, key, key2, name in entry_keys(e):
            for grain, period in periods(e.entry_date):
                # Name is part of the key here: which of two names is "greatest" is the database's
                # collation's call, so both go to the database (as max() over the ledger would see them).
                row = acc.setdefault((dimension, grain, period, key, key2, name), [0, Decimal(0), Decimal(0)])
                row[0] += e.sign
                row[1] += total
                row[2] += tta
    # One statement may not touch a row twice: rows differing only by name go in later batches.
    # Sorted, so concurrent writers lock rollup rows in the same order and never deadlock.
    batches: list[list[dict[str, Any]]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for k in sorted(acc):
        n = seen[k[:5]] = seen.get(k[:5], -1) + 1
        if n == len(batches):
            batches.append([])
        batches[n].append(dict(zip([*KEY_COLUMNS, "name", *SUMS], (*k, *acc[k]), strict=True)))
    for rows in batches:
        upsert_adding(session, RollupTable, rows, keys=KEY_COLUMNS, add=SUMS, keep_greatest=["name"])


def _ledger_select(dimension: str, grain: str = "d") -> sa.Select:
    """The rows of one dimension at one grain, computed from the ledger."""
    key, key2, name, condition = LEDGER_KEYS[dimension]
    period = {
        "y": L.entry_year,
        "q": sa.cast(L.entry_year, sa.Integer) * 10 + (L.entry_month + 2) // 3,
        "m": ledger_month(),
        "d": ledger_day(),
    }[grain].label("period")
    stmt = sa.select(
        sa.literal(dimension).label("dimension"),
        sa.literal(grain).label("grain"),
        period,
        key.label("key"),
        key2.label("key2"),
        sa.func.max(name).label("name"),
        sa.func.sum(L.sign).label("count"),
        sa.func.sum(L.total_amount).label("total_amount"),
        sa.func.sum(L.technical_transaction_amount).label("technical_transaction_amount"),
    ).group_by(period, *(k for k in (key, key2) if k is not EMPTY))
    return stmt.where(condition) if condition is not None else stmt


# How a coarser grain's period is computed from a finer one's: (coarser, finer, period expression).
_COARSER = (
    ("m", "d", lambda p: p // 100),
    ("q", "m", lambda p: p // 100 * 10 + (p % 100 + 2) // 3),
    ("y", "q", lambda p: p // 10),
)


def _coarser_select(grain: str, finer: str, period_of: Any) -> sa.Select:
    period = period_of(R.period).label("period")
    return (
        sa.select(
            R.dimension,
            sa.literal(grain).label("grain"),
            period,
            R.key,
            R.key2,
            sa.func.max(R.name).label("name"),
            sa.func.sum(R.count).label("count"),
            sa.func.sum(R.total_amount).label("total_amount"),
            sa.func.sum(R.technical_transaction_amount).label("technical_transaction_amount"),
        )
        .where(R.grain == finer)
        .group_by(R.dimension, period, R.key, R.key2)
    )


def rebuild(session: Session) -> int:
    """Recompute the whole rollup from the ledger (ledger writers wait meanwhile); returns its row count."""
    lock_against_writes(session, LedgerTable)
    session.execute(sa.delete(R))
    columns = [*KEY_COLUMNS, "name", *SUMS]
    # Written in key order (as time-ordered writes leave them), so a period's rows share pages: its range
    # scan reads a few hundred pages instead of one per row.
    # Migrations before 0018 rebuild too, on a ledger that has no plan_source / payment_method column yet.
    present = {c["name"] for c in sa.inspect(session.connection()).get_columns(L.__tablename__)}
    for dimension in LEDGER_KEYS:
        if dimension in LATER_COLUMNS and dimension not in present:
            continue
        stmt = _ledger_select(dimension, "d")
        session.execute(sa.insert(R).from_select(columns, stmt.order_by(*stmt.selected_columns[2:5])))
    # Each coarser grain from the finer one just written: the ledger is read once.
    for grain, finer, period_of in _COARSER:
        stmt = _coarser_select(grain, finer, period_of)
        session.execute(sa.insert(R).from_select(columns, stmt.order_by(*stmt.selected_columns[:5])))
    return session.scalar(sa.select(sa.func.count()).select_from(R)) or 0


@dataclass
class Difference:
    row: tuple[Any, ...]  # dimension, grain, period, key, key2
    expected: tuple[Any, ...] | None  # name, count, 成交额, 技术交易额 summed from the ledger
    actual: tuple[Any, ...] | None  # the same as stored in the rollup


def _figures(r: Any) -> tuple[Any, ...]:
    return (r.name, int(r.count), to_money(r.total_amount), to_money(r.technical_transaction_amount))


def differences(session: Session) -> list[Difference]:
    """Every rollup row that disagrees with a GROUP BY over the ledger (missing, extra or different)."""
    expected = {
        tuple(r[:5]): _figures(r)
        for dimension in LEDGER_KEYS
        for grain in GRAINS
        for r in session.execute(_ledger_select(dimension, grain))
    }
    actual = {tuple(r[:5]): _figures(r) for r in session.execute(sa.select(R.__table__))}
    return [
        Difference(k, expected.get(k), actual.get(k))
        for k in sorted(expected.keys() | actual.keys(), key=lambda t: tuple(map(str, t)))
        if expected.get(k) != actual.get(k)
    ]


# --- periods ------------------------------------------------------------------------------------


@dataclass
class Split:
    """A date range as whole years + whole quarters + whole months + the days at its edges, all rollup grains."""

    years: tuple[int, int] | None = None  # inclusive
    quarters: list[tuple[int, int]] = field(default_factory=list)  # inclusive yyyyq ranges
    months: list[tuple[int, int]] = field(default_factory=list)  # inclusive yyyymm ranges
    days: list[tuple[dt.date, dt.date]] = field(default_factory=list)  # inclusive date ranges


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _cut(lo: int, hi: int, size: int) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """Months lo..hi (index year*12 + month-1, inclusive) as whole aligned blocks of `size` (their block
    indexes, inclusive) and the month runs left before and after them."""
    a, b = -(-lo // size) * size, (hi + 1) // size * size  # first month of the first block, month after the last
    if a >= b:
        return None, [(lo, hi)]
    return (a // size, b // size - 1), [r for r in ((lo, a - 1), (b, hi)) if r[0] <= r[1]]


def _yyyymm(index: int) -> int:
    return index // 12 * 100 + index % 12 + 1


def split_period(start: dt.date, end: dt.date, *, years: bool = True, quarters: bool = True) -> Split:
    """Cut [start, end] into whole years (if `years`), whole quarters (if `quarters`), whole months and the days
    left at either edge: the coarsest rows that add up to exactly the period."""
    split = Split()
    if start > end:
        return split
    first = start if start.day == 1 else _next_month(start)  # first day of the first whole month
    after = _next_month(end) if _next_month(end) - dt.timedelta(days=1) == end else dt.date(end.year, end.month, 1)
    # `after` is the first day after the last whole month
    if first >= after:
        split.days.append((start, end))
        return split
    if start < first:
        split.days.append((start, first - dt.timedelta(days=1)))
    if after <= end:
        split.days.append((after, end))
    runs = [(first.year * 12 + first.month - 1, after.year * 12 + after.month - 2)]
    if years:
        blocks, runs = _cut(*runs[0], 12)
        split.years = blocks
    if quarters:
        cut = [_cut(lo, hi, 3) for lo, hi in runs]
        split.quarters = [
            (q0 // 4 * 10 + q0 % 4 + 1, q1 // 4 * 10 + q1 % 4 + 1)
            for q0, q1 in (block for block, _ in cut if block is not None)
        ]
        runs = [r for _, rest in cut for r in rest]
    split.months = [(_yyyymm(lo), _yyyymm(hi)) for lo, hi in sorted(runs)]
    split.quarters.sort()
    return split
