"""Figures the market computes from its own records, per region (GB/T 2260 code or prefix) and period.

Each figure has a code, a label, a unit and a function that returns the value with its working (the records
counted, the period, the basis). They feed two things: indicators of a set that name a figure (`"market"` on
the indicator, or on a per-item rule: {item: figure}), filled by `service.compute_values`; and the monthly
monitoring view (月度监测, seed 001), `monthly.view`.

Bases (the same as the statistics'): contract figures are 技术输出 — registered contracts whose seller is in
the region, by registration date, net of amendments and cancellations (`market.stats`); organisation figures
take the organisation's registered region.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.brokers.models import Broker, BrokerEmployment
from market.core import regions
from market.core.db import to_money
from market.evaluations.models import Evaluation
from market.filings.models import FilingLevel, FilingStatus, IntermediaryFiling
from market.filings.rules import Record as FilingRecord
from market.stats import rules as stats_rules
from market.stats.models import Denominator
from market.stats.service import period_bounds, totals
from market.vouchers.models import Voucher, VoucherBooking, VoucherRedemptionClaim


@dataclass(frozen=True)
class Figure:
    value: Decimal | None  # None: cannot be computed (the working says why)
    working: str


@dataclass(frozen=True)
class Metric:
    code: str
    label: str
    unit: str
    compute: Callable[[Session, str, dt.date, dt.date], Figure]
    yearly_only: bool = False


def bounds(period: str) -> tuple[dt.date, dt.date]:
    """A period ("2025" or "2025-06") as its first and last day."""
    year, _, month = period.partition("-")
    return period_bounds(int(year), int(month) if month else None)


def _span(start: dt.date, end: dt.date) -> str:
    return f"{start.isoformat()} … {end.isoformat()}"


def _where(prefix: str) -> str:
    return f"{regions.region_name(prefix)} ({prefix})"


def _contracts(attr: str, label: str) -> Callable[[Session, str, dt.date, dt.date], Figure]:
    def compute(session: Session, prefix: str, start: dt.date, end: dt.date) -> Figure:
        f = totals(session, start, end, seller_region=prefix)
        value = Decimal(f.count) if attr == "count" else to_money(getattr(f, attr))
        return Figure(
            value,
            f"{label} of the contracts registered {_span(start, end)} with the seller in {_where(prefix)} "
            f"(技术输出, net of amendments and cancellations): {f.count} contracts → {value}",
        )

    return compute


def _turnover_gdp(session: Session, prefix: str, start: dt.date, end: dt.date) -> Figure:
    turnover = totals(session, start, end, seller_region=prefix).total_amount
    gdp = session.scalar(
        sa.select(Denominator.amount).where(
            Denominator.name == "gdp", Denominator.region_prefix == prefix, Denominator.year == start.year
        )
    )
    if not gdp:
        return Figure(None, f"no GDP of {_where(prefix)} for {start.year} entered (PUT /api/v1/stats/denominators)")
    pct = stats_rules.pct(turnover, gdp, stats_rules.RATIO)
    return Figure(pct, f"技术合同成交额 {to_money(turnover)} / GDP {gdp} × 100 = {pct} %")


def _org_ids(prefix: str) -> sa.Select[Any]:
    """The organisations registered in the region."""
    return sa.select(Organisation.id).where(Organisation.region_code.startswith(prefix))


def _filed_intermediaries(session: Session, prefix: str, start: dt.date, end: dt.date) -> Figure:
    F = IntermediaryFiling
    rows = session.execute(
        sa.select(F.org_id, F.level, F.filed_on, F.valid_until, F.revoked_on).where(
            F.status.in_((FilingStatus.recorded, FilingStatus.revoked)),
            F.filed_on.is_not(None),
            F.level.in_((FilingLevel.national, FilingLevel.provincial)),
            F.org_id.in_(_org_ids(prefix)),
        )
    )
    in_force = {
        r.org_id for r in rows if FilingRecord(r.org_id, r.level, r.filed_on, r.valid_until, r.revoked_on).in_force(end)
    }
    return Figure(
        Decimal(len(in_force)),
        f"technology-transfer institutions in {_where(prefix)} with a national or provincial filing (备案) in "
        f"force on {end.isoformat()}: {len(in_force)}",
    )


def _brokers(session: Session, prefix: str, start: dt.date, end: dt.date) -> Figure:
    n = session.scalar(
        sa.select(sa.func.count(sa.distinct(Broker.id)))
        .join(BrokerEmployment, BrokerEmployment.broker_id == Broker.id)
        .where(
            Broker.status == "active",
            BrokerEmployment.start_date <= end,
            sa.or_(BrokerEmployment.end_date.is_(None), BrokerEmployment.end_date >= end),
            BrokerEmployment.intermediary_org_id.in_(_org_ids(prefix)),
        )
    )
    return Figure(
        Decimal(n or 0),
        f"active technology brokers (技术经纪人) employed on {end.isoformat()} by intermediaries in {_where(prefix)}: "
        f"{n}",
    )


def _evaluations(session: Session, prefix: str, start: dt.date, end: dt.date) -> Figure:
    from market.core.workdays import CHINA_TZ

    lo = dt.datetime.combine(start, dt.time(), CHINA_TZ)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), CHINA_TZ)
    n = session.scalar(
        sa.select(sa.func.count(Evaluation.id)).where(
            Evaluation.status == "completed",
            Evaluation.completed_at >= lo,
            Evaluation.completed_at < hi,
            Evaluation.holder_org_id.in_(_org_ids(prefix)),
        )
    )
    return Figure(
        Decimal(n or 0),
        f"achievement evaluations (科技成果评价) completed {_span(start, end)} for holders in {_where(prefix)}: {n}",
    )


def _vouchers(session: Session, prefix: str, start: dt.date, end: dt.date) -> Figure:
    count, amount = session.execute(
        sa.select(
            sa.func.count(VoucherRedemptionClaim.id), sa.func.coalesce(sa.func.sum(VoucherRedemptionClaim.amount), 0)
        )
        .join(VoucherBooking, VoucherBooking.id == VoucherRedemptionClaim.booking_id)
        .join(Voucher, Voucher.id == VoucherBooking.voucher_id)
        .where(
            VoucherRedemptionClaim.status == "approved",
            VoucherRedemptionClaim.reviewed_on >= start,
            VoucherRedemptionClaim.reviewed_on <= end,
            Voucher.firm_org_id.in_(_org_ids(prefix)),
        )
    ).one()
    value = to_money(Decimal(amount))
    return Figure(
        value,
        f"innovation-voucher redemptions (创新券兑现) approved {_span(start, end)} for firms in {_where(prefix)}: "
        f"{count} claims → {value}",
    )


METRICS: dict[str, Metric] = {
    m.code: m
    for m in (
        Metric("contracts_registered", "登记技术合同数", "项", _contracts("count", "count")),
        Metric("contract_turnover", "技术合同成交额", "元", _contracts("total_amount", "合同成交额")),
        Metric(
            "technical_transaction_amount",
            "技术交易额",
            "元",
            _contracts("technical_transaction_amount", "技术交易额"),
        ),
        Metric("turnover_gdp_pct", "技术合同成交额占GDP比重", "%", _turnover_gdp, yearly_only=True),
        Metric("filed_intermediaries", "省级以上技术转移机构 (备案在册)", "家", _filed_intermediaries),
        Metric("brokers_employed", "在岗技术经纪人", "人", _brokers),
        Metric("evaluations_completed", "完成的科技成果评价", "项", _evaluations),
        Metric("vouchers_redeemed", "创新券兑现金额", "元", _vouchers),
    )
}


def compute(session: Session, metric: str, region_code: str, period: str) -> Figure:
    """One figure for a region (code or prefix: 330200 → the whole city) and a period."""
    m = METRICS[metric]
    if m.yearly_only and "-" in period:
        return Figure(None, f"{m.label} is yearly: GDP is entered per year")
    start, end = bounds(period)
    return m.compute(session, regions.region_prefix(region_code), start, end)
