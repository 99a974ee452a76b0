"""Voucher redemptions as subsidy facts: what the subsidy engine needs for seed 004 §5(3).

The calculator (market.subsidies.calculator) pays on ContractFact rows. An approved redemption is a
voucher-eligible service contract (兑现条件服务合同) whose seller is the provider, so the preset
`lc2020-voucher-provider` (5 %, cap 500,000 per provider and year) applies to it unchanged. A provincial
service-performance award (省服务绩效奖励) is a fact of its own type, and the city's 1:1 match is a
plain per-contract policy at rate 1 over that type (`award_match_policy`). Nothing in the engine changes.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.subsidies import calculator as calc
from market.vouchers.models import ProvincialServiceAward, Voucher, VoucherBooking, VoucherRedemptionClaim

# Contract type of a provincial award fact; no registered technology contract has it.
AWARD_TYPE = "provincial_award"
# Fact ids are the claim / award ids offset into a range no contract id reaches, so they never collide.
CLAIM_ID_BASE = 8_000_000_000_000
AWARD_ID_BASE = 9_000_000_000_000


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


def redemption_facts(session: Session, period: calc.Period) -> list[calc.ContractFact]:
    """Approved redemptions reviewed in the period, as voucher-eligible service contracts (seller: the provider).

    The amount is the whole service contract (兑现条件服务合同额), paid is what the firm paid plus the voucher share.
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
    orgs = {
        o.id: o
        for o in session.scalars(
            sa.select(Organisation).where(
                Organisation.id.in_({r[1].provider_org_id for r in rows} | {r[2].firm_org_id for r in rows} or {0})
            )
        )
    }
    facts = []
    for claim, booking, voucher in rows:
        facts.append(
            calc.ContractFact(
                contract_id=CLAIM_ID_BASE + claim.id,
                registration_number=f"{voucher.number}/{booking.id}",
                contract_type="service",
                subtype="voucher_service",
                seller=_party(orgs[booking.provider_org_id]),
                buyer=_party(orgs[voucher.firm_org_id]),
                total_amount=booking.price,
                technical_amount=booking.price,
                paid_amount=booking.price,
                registered_on=claim.reviewed_on,
                voucher_eligible=True,
                activity_id=f"voucher-booking:{booking.id}",
            )
        )
    return facts


def award_facts(session: Session, period: calc.Period) -> list[calc.ContractFact]:
    """Provincial service-performance awards received in the period (the province is the paying party)."""
    awards = session.scalars(
        sa.select(ProvincialServiceAward)
        .where(
            ProvincialServiceAward.awarded_on >= period.start,
            ProvincialServiceAward.awarded_on <= period.end,
        )
        .order_by(ProvincialServiceAward.id)
    ).all()
    orgs = {
        o.id: o
        for o in session.scalars(
            sa.select(Organisation).where(Organisation.id.in_({a.provider_org_id for a in awards} or {0}))
        )
    }
    province = calc.Party("省科技厅 (provincial award)", ident="province")
    return [
        calc.ContractFact(
            contract_id=AWARD_ID_BASE + a.id,
            registration_number=a.reference,
            contract_type=AWARD_TYPE,
            subtype=AWARD_TYPE,
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


def subsidy_facts(session: Session, period: calc.Period) -> list[calc.ContractFact]:
    """Everything the voucher scheme contributes to a subsidy run (call beside the contracts' load_facts)."""
    return redemption_facts(session, period) + award_facts(session, period)


def award_match_policy(jurisdiction: tuple[str, ...], valid_from=None) -> calc.Policy:
    """seed 004 §5(3): 对获得省服务绩效奖励的，市财政给予1∶1配套奖励 — rate 1 on each provincial award."""
    return calc.Policy(
        code="lc2020-voucher-provider-award-match",
        name="创新券服务机构省绩效奖励市级1:1配套",
        beneficiary=calc.Beneficiary.service_provider,
        basis=calc.Basis.total,
        aggregation=calc.Aggregation.per_contract,
        brackets=(calc.Bracket(Decimal("1")),),
        contract_types=frozenset({AWARD_TYPE}),
        seller_regions=jurisdiction,
        value_added_only=False,
        valid_from=valid_from,
        source="seed 004 五(三)",
        description="对获得省服务绩效奖励的科技服务机构，市财政给予1∶1配套奖励。",
    )


def provider_subsidy(session: Session, year: int, jurisdiction: str) -> list[dict]:
    """The year's provider subsidy from real redemptions and awards: the §5(3) preset and the 1:1 match, by provider.

    A preview through the engine (the bureau's subsidy run is what pays); each line keeps the engine's working.
    """
    from market.subsidies.presets import preset

    period = calc.Period.year(year)
    facts = calc.Prepared(subsidy_facts(session, period))
    policies = [preset("lc2020-voucher-provider", jurisdiction), award_match_policy((jurisdiction,))]
    lines: dict[str, dict] = {}
    for policy in policies:
        for result in calc.compute(policy, facts, period).results:
            line = lines.setdefault(
                result.key,
                {
                    "provider_org_id": result.org_id,
                    "provider": result.name,
                    "post_subsidy": Decimal("0"),
                    "award_match": Decimal("0"),
                    "total": Decimal("0"),
                    "working": {},
                },
            )
            part = "post_subsidy" if policy.code == "lc2020-voucher-provider" else "award_match"
            line[part] += result.total
            line["total"] += result.total
            line["working"][policy.code] = calc.working_json(result, policy)
    return sorted(lines.values(), key=lambda line: line["provider_org_id"] or 0)
