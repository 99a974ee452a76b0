"""Voucher services (创新券): programmes, providers, applications, bookings, redemption, expiry, figures.

Services flush, never commit. Every state change is audited; whoever must hear of it gets an outbox
notice (market.vouchers.notices), drained after the commit into the inbox and webhooks.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.accounts.roles import Role
from market.accounts.service import org_names
from market.auth.actor import Actor
from market.core import audit
from market.core.db import to_money, utcnow
from market.core.errors import Forbidden, InvalidState, MarketError, NotFound, ValidationFailed
from market.vouchers import notices, rules
from market.vouchers.models import (
    ProvincialServiceAward,
    Voucher,
    VoucherBooking,
    VoucherFinding,
    VoucherPayment,
    VoucherProgramme,
    VoucherProvider,
    VoucherRedemptionClaim,
    VoucherRelationship,
)

ZERO = Decimal("0")
NIL = Decimal("0.00")  # an amount of nothing, shown with its two places
# Bureau roles that run the scheme; a registrar reads but does not decide.
OFFICERS = (Role.bureau_admin, Role.programme_officer)


def refusal(exc: rules.RuleViolation) -> MarketError:
    if exc.code in (
        "invalid_state",
        "budget_exhausted",
        "voucher_balance_insufficient",
        "voucher_not_active",
        "voucher_expired",
        "programme_closed",
        "duplicate_application",
    ):
        return InvalidState(exc.message, code=exc.code)
    if exc.code in (
        "related_party",
        "provider_not_approved",
        "firm_not_eligible",
        "org_not_verified",
        "firm_outside_city",
        "out_of_city_not_allowed",
    ):
        return Forbidden(exc.message, code=exc.code)
    if exc.field:
        return ValidationFailed.field(exc.field, exc.code, exc.message)
    return ValidationFailed(exc.message, code=exc.code)


def require_officer(actor: Actor) -> None:
    if actor.role not in OFFICERS:
        raise Forbidden(
            "only bureau programme officers and administrators run the voucher scheme", code="role_required"
        )


def get_org(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation", code="organisation_not_found")
    return org


def audit_change(
    session: Session,
    actor: Actor | None,
    entity_type: str,
    entity_id: int,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    **detail: Any,
) -> None:
    audit.record(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        detail={k: str(v) for k, v in detail.items()} or None,
    )


# ---- programmes ----------------------------------------------------------------------------------


def create_programme(session: Session, actor: Actor, data: dict[str, Any], region_prefix: str) -> VoucherProgramme:
    require_officer(actor)
    try:
        rules.check_programme(
            total_budget=data["total_budget"],
            province_share=data["province_share"],
            city_share=data["city_share"],
            face_value=data.get("face_value"),
            per_firm_ceiling=data.get("per_firm_ceiling"),
            firm_kinds=data["eligible_firm_kinds"],
            categories=data["eligible_categories"],
            valid_from=data["valid_from"],
            valid_until=data["valid_until"],
        )
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    programme = VoucherProgramme(
        **data, committed=ZERO, region_prefix=region_prefix, status="open", created_by=actor.user_id
    )
    session.add(programme)
    session.flush()
    audit_change(
        session, actor, "voucher_programme", programme.id, "opened", None, "open", budget=programme.total_budget
    )
    return programme


def get_programme(session: Session, programme_id: int, *, for_update: bool = False) -> VoucherProgramme:
    stmt = sa.select(VoucherProgramme).where(VoucherProgramme.id == programme_id)
    if for_update:
        # The budget check reads and writes `committed`: concurrent approvals queue on this row (PostgreSQL);
        # SQLite's transactions already begin IMMEDIATE, one writer at a time.
        # populate_existing: a row this session already loaded is read again under the lock, not reused stale.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    programme = session.scalar(stmt)
    if programme is None:
        raise NotFound("no such voucher programme", code="programme_not_found")
    return programme


def programmes_query() -> sa.Select:
    return sa.select(VoucherProgramme).order_by(VoucherProgramme.id.desc())


def update_programme(session: Session, actor: Actor, programme_id: int, changes: dict[str, Any]) -> VoucherProgramme:
    """Edit a programme's terms (shares, values, categories, validity, budget); the budget never drops below what is committed."""
    require_officer(actor)
    programme = get_programme(session, programme_id, for_update=True)
    merged = {
        k: getattr(programme, k)
        for k in (
            "total_budget",
            "province_share",
            "city_share",
            "face_value",
            "per_firm_ceiling",
            "eligible_firm_kinds",
            "eligible_categories",
            "valid_from",
            "valid_until",
        )
    }
    merged.update(changes)
    try:
        rules.check_programme(
            total_budget=merged["total_budget"],
            province_share=merged["province_share"],
            city_share=merged["city_share"],
            face_value=merged["face_value"],
            per_firm_ceiling=merged["per_firm_ceiling"],
            firm_kinds=merged["eligible_firm_kinds"],
            categories=merged["eligible_categories"],
            valid_from=merged["valid_from"],
            valid_until=merged["valid_until"],
        )
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    if merged["total_budget"] < programme.committed:
        raise InvalidState(f"{programme.committed} yuan is already committed", code="budget_below_committed")
    for key, value in changes.items():
        setattr(programme, key, value)
    session.flush()
    audit_change(session, actor, "voucher_programme", programme.id, "edited", **{k: v for k, v in changes.items()})
    return programme


def close_programme(session: Session, actor: Actor, programme_id: int) -> VoucherProgramme:
    require_officer(actor)
    programme = get_programme(session, programme_id, for_update=True)
    if programme.status != "open":
        raise InvalidState("the programme is already closed", code="invalid_state")
    programme.status = "closed"
    audit_change(session, actor, "voucher_programme", programme.id, "closed", "open", "closed")
    session.flush()
    return programme


# ---- providers -----------------------------------------------------------------------------------


def apply_as_provider(session: Session, actor: Actor, catalogue: list[dict[str, Any]]) -> VoucherProvider:
    if actor.is_bureau or actor.is_expert:
        raise Forbidden("an organisation's members apply for it", code="role_required")
    org = get_org(session, actor.org_id)
    if not org.is_verified:
        raise Forbidden("the organisation must be verified first", code="org_not_verified")
    unknown = {item["category"] for item in catalogue} - set(rules.CATEGORIES)
    if unknown or not catalogue:
        raise ValidationFailed.field(
            "catalogue", "unknown_category", f"categories must be among {', '.join(rules.CATEGORIES)}"
        )
    provider = session.scalar(sa.select(VoucherProvider).where(VoucherProvider.org_id == actor.org_id))
    items = [{"category": i["category"], "name": i["name"], "price": str(to_money(i["price"]))} for i in catalogue]
    if provider is None:
        provider = VoucherProvider(org_id=actor.org_id, status="pending", catalogue=items)
        session.add(provider)
        session.flush()
        audit_change(session, actor, "voucher_provider", provider.id, "applied", None, "pending")
    elif provider.status in ("pending", "rejected", "approved"):
        # A new catalogue is reviewed again before the provider serves from it.
        before = provider.status
        provider.catalogue, provider.status = items, "pending"
        audit_change(session, actor, "voucher_provider", provider.id, "catalogue_changed", before, "pending")
    else:
        raise InvalidState(f"the provider is {provider.status}", code="provider_" + provider.status)
    session.flush()
    return provider


PROVIDER_DECISIONS = {
    "approve": ({"pending", "suspended"}, "approved"),
    "reject": ({"pending"}, "rejected"),
    "suspend": ({"approved"}, "suspended"),
    "remove": ({"pending", "approved", "suspended", "rejected"}, "removed"),
}


def decide_provider(session: Session, actor: Actor, provider_id: int, action: str, note: str | None) -> VoucherProvider:
    require_officer(actor)
    provider = session.get(VoucherProvider, provider_id)
    if provider is None:
        raise NotFound("no such provider", code="provider_not_found")
    allowed, target = PROVIDER_DECISIONS[action]
    if provider.status not in allowed:
        raise InvalidState(f"cannot {action} a provider that is {provider.status}", code="invalid_state")
    before, provider.status, provider.decision_note = provider.status, target, note
    audit_change(session, actor, "voucher_provider", provider.id, action, before, target, note=note or "")
    notices.emit(
        session,
        provider.org_id,
        "voucher_provider",
        provider.id,
        f"创新券服务机构资格: {target}",
        {"status": target, "note": note},
    )
    session.flush()
    return provider


def get_provider(session: Session, actor: Actor | None, provider_id: int) -> VoucherProvider:
    provider = session.get(VoucherProvider, provider_id)
    public = provider is not None and provider.status == "approved"
    own = provider is not None and actor is not None and (actor.is_bureau or actor.org_id == provider.org_id)
    if provider is None or not (public or own):
        raise NotFound("no such provider", code="provider_not_found")
    return provider


def providers_query(actor: Actor | None, status: str | None) -> sa.Select:
    stmt = sa.select(VoucherProvider).order_by(VoucherProvider.id)
    if actor is None or not actor.is_bureau:
        return stmt.where(VoucherProvider.status == "approved")  # the public sees the admitted ones
    return stmt.where(VoucherProvider.status == status) if status else stmt


def declare_relationship(
    session: Session, actor: Actor, provider_org_id: int, firm_org_id: int, kind: str
) -> VoucherRelationship:
    """A party (or the bureau) declares a relationship; from then on the provider may not serve the firm."""
    if not (actor.is_bureau or actor.org_id in (provider_org_id, firm_org_id)):
        raise Forbidden("only one of the two parties or the bureau declares a relationship", code="forbidden")
    for org_id in (provider_org_id, firm_org_id):
        get_org(session, org_id)
    existing = session.scalar(
        sa.select(VoucherRelationship).where(
            VoucherRelationship.provider_org_id == provider_org_id, VoucherRelationship.firm_org_id == firm_org_id
        )
    )
    if existing is not None:
        return existing
    rel = VoucherRelationship(
        provider_org_id=provider_org_id,
        firm_org_id=firm_org_id,
        kind=kind,
        declared_by=actor.user_id,
        declared_at=utcnow(),
    )
    session.add(rel)
    session.flush()
    audit_change(session, actor, "voucher_relationship", rel.id, "declared", kind=kind)
    return rel


# ---- applications and vouchers ---------------------------------------------------------------------


def terms_of(p: VoucherProgramme) -> rules.ProgrammeTerms:
    return rules.ProgrammeTerms(
        p.status,
        p.face_value,
        p.per_firm_ceiling,
        frozenset(p.eligible_firm_kinds),
        p.valid_from,
        p.valid_until,
        p.region_prefix,
    )


def apply_for_voucher(
    session: Session,
    actor: Actor,
    programme_id: int,
    firm_kind: str,
    requested: Decimal | None,
    purpose: str,
    today: dt.date,
) -> Voucher:
    if actor.is_bureau or actor.is_expert:
        raise Forbidden("a firm's members apply for its voucher", code="role_required")
    programme = get_programme(session, programme_id)
    org = get_org(session, actor.org_id)
    asked = programme.face_value if programme.face_value is not None else requested
    if asked is None:
        raise ValidationFailed.field("requested_amount", "amount_required", "say how much the firm asks for")
    try:
        rules.check_application(
            terms_of(programme),
            org_kind=org.kind,
            org_verified=org.is_verified,
            org_region=org.region_code,
            firm_kind=firm_kind,
            requested=asked,
            today=today,
        )
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    if session.scalar(sa.select(Voucher.id).where(Voucher.programme_id == programme_id, Voucher.firm_org_id == org.id)):
        raise InvalidState("the firm has already applied in this programme", code="duplicate_application")
    voucher = Voucher(
        programme_id=programme_id,
        firm_org_id=org.id,
        firm_kind=firm_kind,
        purpose=purpose,
        requested_amount=asked,
        status="applied",
        value=ZERO,
        balance=ZERO,
        returned=ZERO,
    )
    session.add(voucher)
    session.flush()
    audit_change(session, actor, "voucher", voucher.id, "applied", None, "applied", requested=asked)
    return voucher


def get_voucher(session: Session, voucher_id: int, *, for_update: bool = False) -> Voucher:
    stmt = sa.select(Voucher).where(Voucher.id == voucher_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    voucher = session.scalar(stmt)
    if voucher is None:
        raise NotFound("no such voucher", code="voucher_not_found")
    return voucher


def visible_voucher(session: Session, actor: Actor, voucher_id: int) -> Voucher:
    """The firm and the bureau see a voucher; to anyone else it does not exist."""
    voucher = get_voucher(session, voucher_id)
    if not (actor.is_bureau or actor.org_id == voucher.firm_org_id):
        raise NotFound("no such voucher", code="voucher_not_found")
    return voucher


def vouchers_query(actor: Actor, programme_id: int | None, status: str | None) -> sa.Select:
    stmt = sa.select(Voucher).order_by(Voucher.id)
    if not actor.is_bureau:
        stmt = stmt.where(Voucher.firm_org_id == actor.org_id)
    if programme_id is not None:
        stmt = stmt.where(Voucher.programme_id == programme_id)
    if status:
        stmt = stmt.where(Voucher.status == status)
    return stmt


def findings_of(session: Session, actor: Actor, org_id: int) -> list[VoucherFinding]:
    if not (actor.is_bureau or actor.org_id == org_id):
        raise Forbidden("findings are seen by the bureau and the organisation itself", code="forbidden")
    return list(
        session.scalars(sa.select(VoucherFinding).where(VoucherFinding.org_id == org_id).order_by(VoucherFinding.id))
    )


# ---- bookings -------------------------------------------------------------------------------------


def lock_booking(session: Session, booking_id: int) -> VoucherBooking:
    """The booking row, locked and read afresh (take its voucher's lock first where both are needed)."""
    booking = session.scalar(
        sa.select(VoucherBooking)
        .where(VoucherBooking.id == booking_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if booking is None:
        raise NotFound("no such booking", code="booking_not_found")
    return booking


def visible_booking(session: Session, actor: Actor, booking_id: int) -> tuple[VoucherBooking, Voucher]:
    booking = session.get(VoucherBooking, booking_id)
    voucher = session.get(Voucher, booking.voucher_id) if booking else None
    if (
        booking is None
        or voucher is None
        or not (actor.is_bureau or actor.org_id in (voucher.firm_org_id, booking.provider_org_id))
    ):
        raise NotFound("no such booking", code="booking_not_found")
    return booking, voucher


def bookings_query(actor: Actor, voucher_id: int | None) -> sa.Select:
    stmt = sa.select(VoucherBooking).join(Voucher, Voucher.id == VoucherBooking.voucher_id).order_by(VoucherBooking.id)
    if not actor.is_bureau:
        stmt = stmt.where(sa.or_(Voucher.firm_org_id == actor.org_id, VoucherBooking.provider_org_id == actor.org_id))
    if voucher_id is not None:
        stmt = stmt.where(VoucherBooking.voucher_id == voucher_id)
    return stmt


# ---- redemption -----------------------------------------------------------------------------------


def visible_claim(session: Session, actor: Actor, claim_id: int) -> VoucherRedemptionClaim:
    claim = session.get(VoucherRedemptionClaim, claim_id)
    if claim is None:
        raise NotFound("no such claim", code="claim_not_found")
    visible_booking(session, actor, claim.booking_id)
    return claim


def payments_of(session: Session, claim_id: int) -> list[VoucherPayment]:
    return list(
        session.scalars(
            sa.select(VoucherPayment).where(VoucherPayment.claim_id == claim_id).order_by(VoucherPayment.id)
        )
    )


def claims_query(actor: Actor, status: str | None) -> sa.Select:
    stmt = sa.select(VoucherRedemptionClaim).order_by(VoucherRedemptionClaim.id)
    if not actor.is_bureau:
        stmt = stmt.where(VoucherRedemptionClaim.claimant_org_id == actor.org_id)
    return stmt.where(VoucherRedemptionClaim.status == status) if status else stmt


# ---- provincial awards (the 1:1 match) --------------------------------------------------------------


def record_provincial_award(
    session: Session, actor: Actor, provider_org_id: int, awarded_on: dt.date, amount: Decimal, reference: str
) -> ProvincialServiceAward:
    require_officer(actor)
    get_org(session, provider_org_id)
    if amount <= 0:
        raise ValidationFailed.field("amount", "amount_not_positive", "the award must be positive")
    award = ProvincialServiceAward(
        provider_org_id=provider_org_id,
        awarded_on=awarded_on,
        amount=amount,
        reference=reference,
        recorded_by=actor.user_id,
    )
    session.add(award)
    session.flush()
    audit_change(session, actor, "voucher_provincial_award", award.id, "recorded", amount=amount, reference=reference)
    return award


# ---- figures --------------------------------------------------------------------------------------

BOOKED = ("booked", "delivered", "confirmed", "claimed", "redeemed")
USED = ("confirmed", "claimed", "redeemed")


def figures(session: Session, programme_id: int) -> dict[str, Any]:
    """Issued, booked, used, redeemed amounts and rates (of the issued value), in all, by category and by provider."""
    programme = get_programme(session, programme_id)
    issued = (
        session.scalar(
            sa.select(sa.func.sum(Voucher.value)).where(
                Voucher.programme_id == programme_id, Voucher.number.is_not(None)
            )
        )
        or NIL
    )
    rows = session.execute(
        sa.select(
            VoucherBooking.category,
            VoucherBooking.provider_org_id,
            VoucherBooking.status,
            VoucherBooking.voucher_amount,
            VoucherRedemptionClaim.amount,
        )
        .join(Voucher, Voucher.id == VoucherBooking.voucher_id)
        .outerjoin(
            VoucherRedemptionClaim,
            sa.and_(
                VoucherRedemptionClaim.booking_id == VoucherBooking.id, VoucherRedemptionClaim.status == "approved"
            ),
        )
        .where(Voucher.programme_id == programme_id)
    ).all()
    names = org_names(session, {r[1] for r in rows})

    def blank() -> dict[str, Decimal]:
        return {"booked": NIL, "used": NIL, "redeemed": NIL}

    total = blank()
    by_category: defaultdict[str, dict[str, Decimal]] = defaultdict(blank)
    by_provider: defaultdict[int, dict[str, Decimal]] = defaultdict(blank)
    for category, provider, status, amount, redeemed in rows:
        if status not in BOOKED:
            continue  # cancelled or voided: never counted
        for bucket in (total, by_category[category], by_provider[provider]):
            if status in BOOKED:
                bucket["booked"] += amount
            if status in USED:
                bucket["used"] += amount
            if redeemed is not None:
                bucket["redeemed"] += redeemed

    def with_rates(b: dict[str, Decimal]) -> dict[str, Any]:
        return {**b, **{f"{k}_rate": rules.rate(b[k], issued) for k in ("booked", "used", "redeemed")}}

    return {
        "programme_id": programme.id,
        "year": programme.year,
        "total_budget": programme.total_budget,
        "committed": programme.committed,
        "remaining": programme.total_budget - programme.committed,
        "issued": issued,
        **with_rates(total),
        "by_category": [
            {"category": c, "label": rules.CATEGORIES.get(c, c), **with_rates(b)}
            for c, b in sorted(by_category.items())
        ],
        "by_provider": [
            {"provider_org_id": p, "provider": names.get(p, ""), **with_rates(b)}
            for p, b in sorted(by_provider.items())
        ],
    }


def figures_table(session: Session, programme_id: int):
    """The figures as a statistics Table (one row for the programme, then each category and provider) for export."""
    from market.stats.service import Table

    f = figures(session, programme_id)
    columns = [
        "dimension",
        "key",
        "label",
        "issued",
        "booked",
        "used",
        "redeemed",
        "booked_rate",
        "used_rate",
        "redeemed_rate",
    ]
    pick = ("booked", "used", "redeemed", "booked_rate", "used_rate", "redeemed_rate")
    rows = [
        {
            "dimension": "programme",
            "key": str(f["programme_id"]),
            "label": str(f["year"]),
            "issued": f["issued"],
            **{k: f[k] for k in pick},
        }
    ]
    rows += [
        {"dimension": "category", "key": c["category"], "label": c["label"], "issued": None, **{k: c[k] for k in pick}}
        for c in f["by_category"]
    ]
    rows += [
        {
            "dimension": "provider",
            "key": str(p["provider_org_id"]),
            "label": p["provider"],
            "issued": None,
            **{k: p[k] for k in pick},
        }
        for p in f["by_provider"]
    ]
    return Table(title=f"vouchers-{f['year']}-{f['programme_id']}", columns=columns, rows=rows)
