"""Voucher redemptions and provincial awards as subsidy facts (seed 004 §5(3)), registered with the engine.

An approved redemption is a voucher-eligible service contract (兑现条件服务合同, fact type `voucher_service`: not a
registered technology contract, so contract policies leave it alone) whose seller is the provider; the preset
`lc2020-voucher-provider` (5 %, cap 500,000 per provider and year) pays on it. A
provincial service-performance award (省服务绩效奖励) is a fact of type `provincial_award`, and the city's 1:1
match is the preset `lc2020-voucher-provider-award-match` (rate 1 on that type). The bureau's subsidy runs pay
both; the firm's own 60 % + 30 % are paid by the reimbursement itself, never by a run.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.subsidies import calculator as calc
from market.subsidies import service as subsidies
from market.subsidies import sources
from market.vouchers.models import ProvincialServiceAward, Voucher, VoucherBooking, VoucherRedemptionClaim


def _party(org: Organisation) -> calc.Party:
    return calc.Party(
        org.name,
        org_id=org.id,
        credit_code=org.credit_code,
        entity_type=org.entity_type_code or "",
        region=org.region_code or "",
        filing_level=org.filing_level,
        filing_date=org.filing_date,
    )


def _orgs(session: Session, ids: set[int]) -> dict[int, Organisation]:
    return {o.id: o for o in session.scalars(sa.select(Organisation).where(Organisation.id.in_(ids or {0})))}


def redemption_facts(session: Session, period: calc.Period) -> list[calc.ContractFact]:
    """Approved redemptions reviewed in the period, as voucher-eligible service contracts (seller: the provider).

    The amount is the whole service contract (兑现条件服务合同额).
    """
    rows = session.execute(
        sa.select(VoucherRedemptionClaim, VoucherBooking, Voucher)
        .join(VoucherBooking, VoucherBooking.id == VoucherRedemptionClaim.booking_id)
        .join(Voucher, Voucher.id == VoucherBooking.voucher_id)
        .where(
            VoucherRedemptionClaim.status == "approved",
            VoucherRedemptionClaim.reviewed_on >= period.start,
            VoucherRedemptionClaim.reviewed_on <= period.end,
        )
        .order_by(VoucherRedemptionClaim.id)
    ).all()
    orgs = _orgs(session, {r[1].provider_org_id for r in rows} | {r[2].firm_org_id for r in rows})
    return [
        calc.ContractFact(
            contract_id=sources.ID_BASES["voucher_claim"] + claim.id,
            registration_number=f"{voucher.number}/{booking.id}",
            contract_type=sources.VOUCHER_SERVICE,
            subtype=sources.VOUCHER_SERVICE,
            seller=_party(orgs[booking.provider_org_id]),
            buyer=_party(orgs[voucher.firm_org_id]),
            total_amount=booking.price,
            technical_amount=booking.price,
            paid_amount=booking.price,
            registered_on=claim.reviewed_on,
            voucher_eligible=True,
            activity_id=f"voucher-booking:{booking.id}",
        )
        for claim, booking, voucher in rows
        if claim.reviewed_on is not None
    ]


def award_facts(session: Session, period: calc.Period) -> list[calc.ContractFact]:
    """Provincial service-performance awards received in the period (the province is the paying party)."""
    awards = session.scalars(
        sa.select(ProvincialServiceAward)
        .where(ProvincialServiceAward.awarded_on >= period.start, ProvincialServiceAward.awarded_on <= period.end)
        .order_by(ProvincialServiceAward.id)
    ).all()
    orgs = _orgs(session, {a.provider_org_id for a in awards})
    province = calc.Party("省科技厅 (provincial award)", ident="province")
    return [
        calc.ContractFact(
            contract_id=sources.ID_BASES["provincial_award"] + a.id,
            registration_number=a.reference,
            contract_type=sources.PROVINCIAL_AWARD,
            subtype=sources.PROVINCIAL_AWARD,
            seller=_party(orgs[a.provider_org_id]),
            buyer=province,
            total_amount=a.amount,
            technical_amount=a.amount,
            paid_amount=a.amount,
            registered_on=a.awarded_on,
            voucher_eligible=True,
            activity_id=f"provincial-award:{a.id}",
        )
        for a in awards
    ]


def _named_contracts(session: Session, where: sa.ColumnElement[bool]) -> dict[int, int]:
    """claim id -> the registered contract an approved claim names, for the claims `where` selects."""
    return {
        claim_id: contract_id
        for claim_id, contract_id in session.execute(
            sa.select(VoucherRedemptionClaim.id, VoucherRedemptionClaim.contract_id).where(
                VoucherRedemptionClaim.status == "approved", VoucherRedemptionClaim.contract_id.is_not(None), where
            )
        )
        if contract_id is not None
    }


def one_payment_per_service(session: Session, facts: list[calc.ContractFact]) -> list[calc.ContractFact]:
    """A registered contract that an approved redemption names is paid through the redemption, once.

    Its contract fact stops being voucher-eligible (the old marking pays nothing for it), and when the contract is
    not among this run's facts (registered in another year) the redemption's fact joins the contract's activity, so
    a provider subsidy already paid on the contract in a frozen run is not paid again (`already_subsidised`).
    """
    base = sources.ID_BASES["voucher_claim"]
    contract_ids = {f.contract_id for f in facts if f.contract_id < min(sources.ID_BASES.values())}
    claim_ids = {f.contract_id - base for f in facts if f.contract_type == sources.VOUCHER_SERVICE}
    covered = set(_named_contracts(session, VoucherRedemptionClaim.contract_id.in_(contract_ids or {0})).values())
    named = _named_contracts(session, VoucherRedemptionClaim.id.in_(claim_ids or {0}))
    roots = subsidies.activity_roots(session) if set(named.values()) - contract_ids else {}
    out = []
    for f in facts:
        if f.contract_id in covered and f.voucher_eligible:
            f = dataclasses.replace(f, voucher_eligible=False)
        elif f.contract_type == sources.VOUCHER_SERVICE and named.get(f.contract_id - base) not in (
            None,
            *contract_ids,
        ):
            cid = named[f.contract_id - base]
            f = dataclasses.replace(f, activity_id=f"contract:{roots.get(cid, cid)}")
        out.append(f)
    return out


def covers(session: Session, contract_id: int) -> bool:
    """A redemption claim not rejected names the contract: its voucher funding is the redemption's."""
    return (
        session.scalar(
            sa.select(VoucherRedemptionClaim.id).where(
                VoucherRedemptionClaim.contract_id == contract_id, VoucherRedemptionClaim.status != "rejected"
            )
        )
        is not None
    )


def register() -> None:
    """Called once at app and worker start (market/wiring.py)."""
    sources.register("voucher_redemptions", load=redemption_facts)
    sources.register("voucher_provincial_awards", load=award_facts)
    sources.register("voucher_redemption_links", refine=one_payment_per_service)
    sources.register_voucher_cover("voucher_redemptions", covers)
