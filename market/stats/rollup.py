"""The ledger rollup: `contract_ledger` summed per dimension value and month/year, kept in step with every ledger write.

A statistic over [start, end] is read as whole years and whole months from `stats_rollup` plus
the ledger rows of the partial months at the edges (`split_period`), so it costs a few thousand
rows whatever the period and stays exactly the ledger's SUM. `apply` runs in the transaction
that writes the ledger entries; `rebuild` recomputes everything from the ledger; `differences`
says where the two disagree (there should be none).
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
}


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
    ]
    if e.intermediary_name:
        keys.append(("intermediary", e.intermediary_name, "", e.intermediary_name))
    return keys


def ledger_month() -> Any:
    """yyyymm of a ledger entry (entry_year is a SMALLINT: widen before multiplying)."""
    return sa.cast(L.entry_year, sa.Integer) * 100 + L.entry_month


KEY_COLUMNS = ["dimension", "grain", "period", "key", "key2"]
SUMS = ["count", "total_amount", "technical_transaction_amount"]


def apply(session: Session, entries: Iterable[L]) -> None:
    """Add ledger entries (not yet committed, same transaction) to the rollup's month and year rows."""
    acc: dict[tuple[Any, ...], list[Any]] = {}
    for e in entries:
        total, tta = to_money(e.total_amount), to_money(e.technical_transaction_amount)
        for dimension, key, key2, name in entry_keys(e):
            for grain, period in (("m", e.entry_year * 100 + e.entry_month), ("y", e.entry_year)):
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
        upsert_adding(session, R.__table__, rows, keys=KEY_COLUMNS, add=SUMS, keep_greatest=["name"])


def _ledger_select(dimension: str, grain: str = "m") -> sa.Select:
    """The month (or year) rows of one dimension, computed from the ledger."""
    key, key2, name, condition = LEDGER_KEYS[dimension]
    period = (ledger_month() if grain == "m" else L.entry_year).label("period")
    stmt = sa.select(
        sa.literal(dimension).label("dimension"), sa.literal(grain).label("grain"), period, key.label("key"),
        key2.label("key2"), sa.func.max(name).label("name"), sa.func.sum(L.sign).label("count"),
        sa.func.sum(L.total_amount).label("total_amount"),
        sa.func.sum(L.technical_transaction_amount).label("technical_transaction_amount"),
    ).group_by(period, *(k for k in (key, key2) if k is not EMPTY))  # fmt: skip
    return stmt.where(condition) if condition is not None else stmt


def _years_select() -> sa.Select:
    year = (R.period // 100).label("period")
    return (
        sa.select(R.dimension, sa.literal("y").label("grain"), year, R.key, R.key2, sa.func.max(R.name).label("name"),
                  sa.func.sum(R.count).label("count"), sa.func.sum(R.total_amount).label("total_amount"),
                  sa.func.sum(R.technical_transaction_amount).label("technical_transaction_amount"))
        .where(R.grain == "m")
        .group_by(R.dimension, year, R.key, R.key2)
    )  # fmt: skip


def rebuild(session: Session) -> int:
    """Recompute the whole rollup from the ledger (ledger writers wait meanwhile); returns its row count."""
    lock_against_writes(session, L.__table__)
    session.execute(sa.delete(R))
    columns = [*KEY_COLUMNS, "name", *SUMS]
    for dimension in LEDGER_KEYS:
        session.execute(sa.insert(R).from_select(columns, _ledger_select(dimension)))
    # Years from the months just written: a ninth of the rows to read.
    session.execute(sa.insert(R).from_select(columns, _years_select()))
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
        for grain in ("m", "y")
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
    """A date range as whole years + whole months (read from the rollup) + edge days (read from the ledger)."""

    years: tuple[int, int] | None = None  # inclusive
    months: list[tuple[int, int]] = field(default_factory=list)  # inclusive yyyymm ranges
    days: list[tuple[dt.date, dt.date]] = field(default_factory=list)  # inclusive date ranges


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _ym(d: dt.date) -> int:
    return d.year * 100 + d.month


def split_period(start: dt.date, end: dt.date, *, years: bool = True) -> Split:
    """Cut [start, end] into whole years (if `years`), whole months and the days left at either edge."""
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
    last = after - dt.timedelta(days=1)  # last day of the last whole month
    y0 = first.year if first.month == 1 else first.year + 1
    y1 = last.year if last.month == 12 else last.year - 1
    if years and y0 <= y1:
        split.years = (y0, y1)
        if first < dt.date(y0, 1, 1):
            split.months.append((_ym(first), first.year * 100 + 12))
        if dt.date(y1, 12, 31) < last:
            split.months.append(((y1 + 1) * 100 + 1, _ym(last)))
    else:
        split.months.append((_ym(first), _ym(last)))
    return split
