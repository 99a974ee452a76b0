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
from market.core import audit
from market.core.db import to_money, utcnow
from market.core.deps import Actor
from market.core.errors import Forbidden, InvalidState, MarketError, NotFound, ValidationFailed
from market.vouchers import notices, rules
from market.vouchers.models import (
    ProvincialServiceAward, Voucher, VoucherBooking, VoucherFinding, VoucherPayment, VoucherProgramme,
    VoucherProvider, VoucherRedemptionClaim, VoucherRelationship,
)  # fmt: skip

ZERO = Decimal("0")
NIL = Decimal("0.00")  # an amount of nothing, shown with its two places
# Bureau roles that run the scheme; a registrar reads but does not decide.
OFFICERS = (Role.bureau_admin, Role.programme_officer)


def _refused(exc: rules.RuleViolation) -> MarketError:
    if exc.code in ("invalid_state", "budget_exhausted", "voucher_balance_insufficient", "voucher_not_active", "voucher_expired",
                    "programme_closed", "duplicate_application"):  # fmt: skip
        return InvalidState(exc.message, code=exc.code)
    if exc.code in ("related_party", "provider_not_approved", "firm_not_eligible", "org_not_verified",
                    "firm_outside_city", "out_of_city_not_allowed"):  # fmt: skip
        return Forbidden(exc.message, code=exc.code)
    if exc.field:
        return ValidationFailed.field(exc.field, exc.code, exc.message)
    return ValidationFailed(exc.message, code=exc.code)


def require_officer(actor: Actor) -> None:
    if actor.role not in OFFICERS:
        raise Forbidden("only bureau programme officers and administrators run the voucher scheme", code="role_required")


def _org(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation", code="organisation_not_found")
    return org


def _audit(session: Session, actor: Actor | None, entity_type: str, entity_id: int, action: str,
           from_state: str | None = None, to_state: str | None = None, **detail: Any) -> None:  # fmt: skip
    audit.record(session, entity_type=entity_type, entity_id=entity_id, action=action, actor=actor,
                 from_state=from_state, to_state=to_state, detail={k: str(v) for k, v in detail.items()} or None)  # fmt: skip


# ---- programmes ----------------------------------------------------------------------------------


def create_programme(session: Session, actor: Actor, data: dict[str, Any], region_prefix: str) -> VoucherProgramme:
    require_officer(actor)
    try:
        rules.check_programme(
            total_budget=data["total_budget"], province_share=data["province_share"], city_share=data["city_share"],
            face_value=data.get("face_value"), per_firm_ceiling=data.get("per_firm_ceiling"),
            firm_kinds=data["eligible_firm_kinds"], categories=data["eligible_categories"],
            valid_from=data["valid_from"], valid_until=data["valid_until"],
        )  # fmt: skip
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    programme = VoucherProgramme(**data, committed=ZERO, region_prefix=region_prefix, status="open", created_by=actor.user_id)
    session.add(programme)
    session.flush()
    _audit(session, actor, "voucher_programme", programme.id, "opened", None, "open", budget=programme.total_budget)
    return programme


def get_programme(session: Session, programme_id: int, *, for_update: bool = False) -> VoucherProgramme:
    stmt = sa.select(VoucherProgramme).where(VoucherProgramme.id == programme_id)
    if for_update:
        # The budget check reads and writes `committed`: concurrent approvals queue on this row (PostgreSQL);
        # SQLite's transactions already begin IMMEDIATE, one writer at a time.
        stmt = stmt.with_for_update()
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
    merged = {k: getattr(programme, k) for k in ("total_budget", "province_share", "city_share", "face_value",
              "per_firm_ceiling", "eligible_firm_kinds", "eligible_categories", "valid_from", "valid_until")}  # fmt: skip
    merged.update(changes)
    try:
        rules.check_programme(
            total_budget=merged["total_budget"], province_share=merged["province_share"],
            city_share=merged["city_share"], face_value=merged["face_value"],
            per_firm_ceiling=merged["per_firm_ceiling"], firm_kinds=merged["eligible_firm_kinds"],
            categories=merged["eligible_categories"], valid_from=merged["valid_from"], valid_until=merged["valid_until"],
        )  # fmt: skip
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    if merged["total_budget"] < programme.committed:
        raise InvalidState(f"{programme.committed} yuan is already committed", code="budget_below_committed")
    for key, value in changes.items():
        setattr(programme, key, value)
    session.flush()
    _audit(session, actor, "voucher_programme", programme.id, "edited", **{k: v for k, v in changes.items()})
    return programme


def close_programme(session: Session, actor: Actor, programme_id: int) -> VoucherProgramme:
    require_officer(actor)
    programme = get_programme(session, programme_id, for_update=True)
    if programme.status != "open":
        raise InvalidState("the programme is already closed", code="invalid_state")
    programme.status = "closed"
    _audit(session, actor, "voucher_programme", programme.id, "closed", "open", "closed")
    session.flush()
    return programme


# ---- providers -----------------------------------------------------------------------------------


def apply_as_provider(session: Session, actor: Actor, catalogue: list[dict[str, Any]]) -> VoucherProvider:
    if actor.is_bureau or actor.is_expert:
        raise Forbidden("an organisation's members apply for it", code="role_required")
    org = _org(session, actor.org_id)
    if not org.is_verified:
        raise Forbidden("the organisation must be verified first", code="org_not_verified")
    unknown = {item["category"] for item in catalogue} - set(rules.CATEGORIES)
    if unknown or not catalogue:
        raise ValidationFailed.field("catalogue", "unknown_category", f"categories must be among {', '.join(rules.CATEGORIES)}")
    provider = session.scalar(sa.select(VoucherProvider).where(VoucherProvider.org_id == actor.org_id))
    items = [{"category": i["category"], "name": i["name"], "price": str(to_money(i["price"]))} for i in catalogue]
    if provider is None:
        provider = VoucherProvider(org_id=actor.org_id, status="pending", catalogue=items)
        session.add(provider)
        session.flush()
        _audit(session, actor, "voucher_provider", provider.id, "applied", None, "pending")
    elif provider.status in ("pending", "rejected", "approved"):
        # A new catalogue is reviewed again before the provider serves from it.
        before = provider.status
        provider.catalogue, provider.status = items, "pending"
        _audit(session, actor, "voucher_provider", provider.id, "catalogue_changed", before, "pending")
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
    _audit(session, actor, "voucher_provider", provider.id, action, before, target, note=note or "")
    notices.emit(session, provider.org_id, "voucher_provider", provider.id, f"创新券服务机构资格: {target}",
                 {"status": target, "note": note})  # fmt: skip
    session.flush()
    return provider


def get_provider(session: Session, actor: Actor | None, provider_id: int) -> VoucherProvider:
    provider = session.get(VoucherProvider, provider_id)
    public = provider is not None and provider.status == "approved"
    own = provider is not None and actor is not None and (actor.is_bureau or actor.org_id == provider.org_id)
    if not (public or own):
        raise NotFound("no such provider", code="provider_not_found")
    return provider


def providers_query(actor: Actor | None, status: str | None) -> sa.Select:
    stmt = sa.select(VoucherProvider).order_by(VoucherProvider.id)
    if actor is None or not actor.is_bureau:
        return stmt.where(VoucherProvider.status == "approved")  # the public sees the admitted ones
    return stmt.where(VoucherProvider.status == status) if status else stmt


def declare_relationship(session: Session, actor: Actor, provider_org_id: int, firm_org_id: int, kind: str) -> VoucherRelationship:
    """A party (or the bureau) declares a relationship; from then on the provider may not serve the firm."""
    if not (actor.is_bureau or actor.org_id in (provider_org_id, firm_org_id)):
        raise Forbidden("only one of the two parties or the bureau declares a relationship", code="forbidden")
    for org_id in (provider_org_id, firm_org_id):
        _org(session, org_id)
    existing = session.scalar(sa.select(VoucherRelationship).where(
        VoucherRelationship.provider_org_id == provider_org_id, VoucherRelationship.firm_org_id == firm_org_id))  # fmt: skip
    if existing is not None:
        return existing
    rel = VoucherRelationship(provider_org_id=provider_org_id, firm_org_id=firm_org_id, kind=kind,
                              declared_by=actor.user_id, declared_at=utcnow())  # fmt: skip
    session.add(rel)
    session.flush()
    _audit(session, actor, "voucher_relationship", rel.id, "declared", kind=kind)
    return rel


# ---- applications and vouchers ---------------------------------------------------------------------


def _terms(p: VoucherProgramme) -> rules.ProgrammeTerms:
    return rules.ProgrammeTerms(p.status, p.face_value, p.per_firm_ceiling, frozenset(p.eligible_firm_kinds),
                                p.valid_from, p.valid_until, p.region_prefix)  # fmt: skip


def apply_for_voucher(session: Session, actor: Actor, programme_id: int, firm_kind: str, requested: Decimal | None,
                      purpose: str, today: dt.date) -> Voucher:  # fmt: skip
    if actor.is_bureau or actor.is_expert:
        raise Forbidden("a firm's members apply for its voucher", code="role_required")
    programme = get_programme(session, programme_id)
    org = _org(session, actor.org_id)
    asked = programme.face_value if programme.face_value is not None else requested
    if asked is None:
        raise ValidationFailed.field("requested_amount", "amount_required", "say how much the firm asks for")
    try:
        rules.check_application(_terms(programme), org_kind=org.kind, org_verified=org.is_verified,
                                org_region=org.region_code, firm_kind=firm_kind, requested=asked, today=today)  # fmt: skip
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    if session.scalar(sa.select(Voucher.id).where(Voucher.programme_id == programme_id, Voucher.firm_org_id == org.id)):
        raise InvalidState("the firm has already applied in this programme", code="duplicate_application")
    voucher = Voucher(programme_id=programme_id, firm_org_id=org.id, firm_kind=firm_kind, purpose=purpose,
                      requested_amount=asked, status="applied", value=ZERO, balance=ZERO, returned=ZERO)  # fmt: skip
    session.add(voucher)
    session.flush()
    _audit(session, actor, "voucher", voucher.id, "applied", None, "applied", requested=asked)
    return voucher


def _voucher(session: Session, voucher_id: int, *, for_update: bool = False) -> Voucher:
    stmt = sa.select(Voucher).where(Voucher.id == voucher_id)
    if for_update:
        stmt = stmt.with_for_update()
    voucher = session.scalar(stmt)
    if voucher is None:
        raise NotFound("no such voucher", code="voucher_not_found")
    return voucher


def visible_voucher(session: Session, actor: Actor, voucher_id: int) -> Voucher:
    """The firm and the bureau see a voucher; to anyone else it does not exist."""
    voucher = _voucher(session, voucher_id)
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


def approve_voucher(session: Session, actor: Actor, voucher_id: int, granted: Decimal | None, today: dt.date) -> Voucher:
    """Issue the voucher against the programme's remaining budget (never overcommitted, even concurrently)."""
    require_officer(actor)
    programme_id = _voucher(session, voucher_id).programme_id
    # Lock order: programme, then voucher — every path that changes `committed` takes them in this order.
    programme = get_programme(session, programme_id, for_update=True)
    voucher = _voucher(session, voucher_id, for_update=True)
    session.refresh(programme)
    if voucher.status != "applied":
        raise InvalidState(f"the application is {voucher.status}", code="invalid_state")
    if programme.status != "open":
        raise InvalidState("the programme is closed", code="programme_closed")
    try:
        value = rules.voucher_value(_terms(programme), voucher.requested_amount, granted)
        rules.check_budget(programme.total_budget, programme.committed, value)
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    programme.committed = programme.committed + value
    voucher.status, voucher.value, voucher.balance = "issued", value, value
    voucher.number = rules.voucher_number(programme.year, programme.id, voucher.id)
    voucher.issued_on, voucher.expires_on = today, programme.valid_until
    session.flush()
    _audit(session, actor, "voucher", voucher.id, "approved", "applied", "issued", value=value, number=voucher.number)
    notices.emit(session, voucher.firm_org_id, "voucher", voucher.id, f"创新券已发放: {voucher.number}",
                 {"number": voucher.number, "value": str(value), "expires_on": voucher.expires_on.isoformat()})  # fmt: skip
    return voucher


def reject_voucher(session: Session, actor: Actor, voucher_id: int, note: str) -> Voucher:
    require_officer(actor)
    voucher = _voucher(session, voucher_id, for_update=True)
    if voucher.status != "applied":
        raise InvalidState(f"the application is {voucher.status}", code="invalid_state")
    voucher.status, voucher.decision_note = "rejected", note
    _audit(session, actor, "voucher", voucher.id, "rejected", "applied", "rejected", note=note)
    notices.emit(session, voucher.firm_org_id, "voucher", voucher.id, "创新券申请未通过", {"note": note})
    session.flush()
    return voucher


def _give_back(session: Session, voucher: Voucher, programme: VoucherProgramme) -> Decimal:
    """Return the voucher's unused balance to the programme's budget."""
    unused = voucher.balance
    programme.committed = programme.committed - unused
    voucher.returned = voucher.returned + unused
    voucher.balance = ZERO
    return unused


def expire_due(session: Session, today: dt.date) -> list[int]:
    """Expire every issued voucher past its date; unused value returns to the budget (idempotent)."""
    due = session.scalars(
        sa.select(Voucher.id).where(Voucher.status == "issued", Voucher.expires_on < today).order_by(Voucher.id)
    ).all()
    expired = []
    for voucher_id in due:
        programme = get_programme(session, _voucher(session, voucher_id).programme_id, for_update=True)
        voucher = _voucher(session, voucher_id, for_update=True)
        session.refresh(programme)
        if not rules.is_due_to_expire(voucher.status, voucher.expires_on, today):
            continue
        unused = _give_back(session, voucher, programme)
        voucher.status = "expired"
        _audit(session, None, "voucher", voucher.id, "expired", "issued", "expired", returned=unused)
        notices.emit(session, voucher.firm_org_id, "voucher", voucher.id, f"创新券已过期: {voucher.number}",
                     {"returned": str(unused)})  # fmt: skip
        expired.append(voucher.id)
    session.flush()
    return expired


def void_for_fraud(session: Session, actor: Actor, voucher_id: int, description: str, org_id: int | None) -> VoucherFinding:
    """Void a voucher (作废): open bookings are cancelled, unused value returns, the finding stands against the org."""
    require_officer(actor)
    programme = get_programme(session, _voucher(session, voucher_id).programme_id, for_update=True)
    voucher = _voucher(session, voucher_id, for_update=True)
    session.refresh(programme)
    if voucher.status not in ("issued", "applied", "expired"):
        raise InvalidState(f"the voucher is {voucher.status}", code="invalid_state")
    target_org = org_id or voucher.firm_org_id
    _org(session, target_org)
    open_bookings = session.scalars(sa.select(VoucherBooking).where(
        VoucherBooking.voucher_id == voucher.id, VoucherBooking.status.in_(("booked", "delivered", "confirmed", "claimed"))))  # fmt: skip
    for booking in open_bookings:
        for claim in session.scalars(sa.select(VoucherRedemptionClaim).where(
                VoucherRedemptionClaim.booking_id == booking.id, VoucherRedemptionClaim.status == "submitted")):  # fmt: skip
            claim.status, claim.review_note = "rejected", "voucher voided"
            _audit(session, actor, "voucher_claim", claim.id, "rejected", "submitted", "rejected", note="voucher voided")
        voucher.balance = voucher.balance + booking.voucher_amount
        _audit(session, actor, "voucher_booking", booking.id, "voided", booking.status, "voided")
        booking.status = "voided"
    # Whatever the voucher still holds (its balance plus the voided bookings' amounts) goes back to the budget.
    returned = _give_back(session, voucher, programme)
    before, voucher.status = voucher.status, "voided"
    finding = VoucherFinding(org_id=target_org, voucher_id=voucher.id, kind="fraud", description=description,
                             recorded_by=actor.user_id, recorded_at=utcnow())  # fmt: skip
    session.add(finding)
    session.flush()
    _audit(session, actor, "voucher", voucher.id, "voided", before, "voided", returned=returned, finding=finding.id)
    _audit(session, actor, "organisation", target_org, "finding_recorded", kind="fraud", voucher=voucher.id)
    notices.emit(session, voucher.firm_org_id, "voucher", voucher.id, f"创新券已作废: {voucher.number}",
                 {"reason": description})  # fmt: skip
    return finding


def findings_of(session: Session, actor: Actor, org_id: int) -> list[VoucherFinding]:
    if not (actor.is_bureau or actor.org_id == org_id):
        raise Forbidden("findings are seen by the bureau and the organisation itself", code="forbidden")
    return list(session.scalars(sa.select(VoucherFinding).where(VoucherFinding.org_id == org_id).order_by(VoucherFinding.id)))


# ---- bookings -------------------------------------------------------------------------------------


def book_service(session: Session, actor: Actor, voucher_id: int, data: dict[str, Any], today: dt.date) -> VoucherBooking:
    """The firm books a service with a provider: a service contract paid partly by the voucher."""
    voucher = visible_voucher(session, actor, voucher_id)
    if actor.org_id != voucher.firm_org_id:
        raise Forbidden("only the voucher's firm books with it", code="forbidden")
    voucher = _voucher(session, voucher_id, for_update=True)
    programme = get_programme(session, voucher.programme_id)
    provider = session.scalar(sa.select(VoucherProvider).where(VoucherProvider.org_id == data["provider_org_id"]))
    provider_org = session.get(Organisation, data["provider_org_id"])
    if provider is None or provider_org is None:
        raise NotFound("no such voucher provider", code="provider_not_found")
    related = session.scalar(sa.select(VoucherRelationship.id).where(
        VoucherRelationship.provider_org_id == provider.org_id, VoucherRelationship.firm_org_id == voucher.firm_org_id)) is not None  # fmt: skip
    facts = rules.BookingFacts(
        voucher.status, voucher.balance, voucher.expires_on or today, voucher.firm_org_id, provider.org_id,
        provider.status, provider_org.region_code, frozenset(i["category"] for i in provider.catalogue), related,
        frozenset(programme.eligible_categories), programme.out_of_city_allowed, programme.region_prefix,
        programme.province_share, programme.city_share,
    )  # fmt: skip
    try:
        rules.check_booking(facts, category=data["category"], price=data["price"], voucher_amount=data["voucher_amount"],
                            settlement=data["settlement"], today=today)  # fmt: skip
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    booking = VoucherBooking(voucher_id=voucher.id, provider_org_id=provider.org_id, category=data["category"],
                             scope=data["scope"], price=data["price"], voucher_amount=data["voucher_amount"],
                             settlement=data["settlement"], status="booked", evidence=[])  # fmt: skip
    voucher.balance = voucher.balance - booking.voucher_amount
    session.add(booking)
    session.flush()
    _audit(session, actor, "voucher_booking", booking.id, "booked", None, "booked", price=booking.price,
           voucher_amount=booking.voucher_amount, settlement=booking.settlement)  # fmt: skip
    notices.emit(session, provider.org_id, "voucher_booking", booking.id, "新的创新券服务预约",
                 {"voucher": voucher.number, "category": booking.category, "price": str(booking.price)})  # fmt: skip
    return booking


def visible_booking(session: Session, actor: Actor, booking_id: int) -> tuple[VoucherBooking, Voucher]:
    booking = session.get(VoucherBooking, booking_id)
    voucher = session.get(Voucher, booking.voucher_id) if booking else None
    if booking is None or voucher is None or not (
        actor.is_bureau or actor.org_id in (voucher.firm_org_id, booking.provider_org_id)
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


def _step(session: Session, actor: Actor, booking: VoucherBooking, action: str, **detail: Any) -> str:
    try:
        target = rules.next_booking_state(booking.status, action)
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    before, booking.status = booking.status, target
    _audit(session, actor, "voucher_booking", booking.id, action, before, target, **detail)
    return target


def deliver(session: Session, actor: Actor, booking_id: int, evidence: list[dict[str, str]]) -> VoucherBooking:
    booking, voucher = visible_booking(session, actor, booking_id)
    if actor.org_id != booking.provider_org_id:
        raise Forbidden("only the provider records delivery", code="forbidden")
    if not evidence:
        raise ValidationFailed.field("evidence", "evidence_required", "delivery needs evidence (report, test certificate…)")
    _step(session, actor, booking, "deliver", evidence=len(evidence))
    booking.evidence, booking.delivered_at = evidence, utcnow()
    notices.emit(session, voucher.firm_org_id, "voucher_booking", booking.id, "服务已交付，请确认并评价", {})
    session.flush()
    return booking


def confirm(session: Session, actor: Actor, booking_id: int, scores: dict[str, int]) -> VoucherBooking:
    booking, voucher = visible_booking(session, actor, booking_id)
    if actor.org_id != voucher.firm_org_id:
        raise Forbidden("only the firm confirms and scores the service", code="forbidden")
    try:
        score = rules.service_score(scores)
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    _step(session, actor, booking, "confirm", score=score)
    booking.scores, booking.score, booking.confirmed_at = dict(scores), score, utcnow()
    notices.emit(session, booking.provider_org_id, "voucher_booking", booking.id, "服务已确认", {"score": str(score)})
    session.flush()
    return booking


def cancel_booking(session: Session, actor: Actor, booking_id: int) -> VoucherBooking:
    """Before delivery the firm (or provider) may cancel; the voucher amount goes back on the voucher."""
    booking, voucher = visible_booking(session, actor, booking_id)
    if not (actor.org_id in (voucher.firm_org_id, booking.provider_org_id)):
        raise Forbidden("only the parties cancel a booking", code="forbidden")
    # The lock order of every path that touches the budget: programme, then voucher.
    programme = get_programme(session, voucher.programme_id, for_update=True)
    voucher = _voucher(session, voucher.id, for_update=True)
    session.refresh(programme)
    _step(session, actor, booking, "cancel")
    if voucher.status == "issued":
        voucher.balance = voucher.balance + booking.voucher_amount
    else:  # expired meanwhile: the released amount goes straight back to the budget
        programme.committed = programme.committed - booking.voucher_amount
        voucher.returned = voucher.returned + booking.voucher_amount
    session.flush()
    return booking


# ---- redemption -----------------------------------------------------------------------------------


def submit_claim(session: Session, actor: Actor, booking_id: int, data: dict[str, Any]) -> VoucherRedemptionClaim:
    """兑现: the firm (通用) or the provider (通兑) claims the voucher share with contract and proof of payment."""
    booking, voucher = visible_booking(session, actor, booking_id)
    who = rules.claimant(booking.settlement)
    claimant_org = voucher.firm_org_id if who == "firm" else booking.provider_org_id
    if actor.org_id != claimant_org:
        raise Forbidden(f"under this settlement the {who} claims the voucher share", code="wrong_claimant")
    if voucher.status == "voided":
        raise InvalidState("the voucher is void", code="voucher_not_active")
    try:
        rules.check_claim(booking.settlement, booking.price, booking.voucher_amount, data["paid_amount"],
                          data["contract_reference"], data["payment_proof"])  # fmt: skip
    except rules.RuleViolation as exc:
        raise _refused(exc) from None
    _step(session, actor, booking, "claim")
    claim = VoucherRedemptionClaim(booking_id=booking.id, claimant_org_id=claimant_org, amount=booking.voucher_amount,
                                   contract_reference=data["contract_reference"], payment_proof=data["payment_proof"],
                                   paid_amount=data["paid_amount"], status="submitted")  # fmt: skip
    session.add(claim)
    session.flush()
    _audit(session, actor, "voucher_claim", claim.id, "submitted", None, "submitted", amount=claim.amount)
    return claim


def visible_claim(session: Session, actor: Actor, claim_id: int) -> VoucherRedemptionClaim:
    claim = session.get(VoucherRedemptionClaim, claim_id)
    if claim is None:
        raise NotFound("no such claim", code="claim_not_found")
    visible_booking(session, actor, claim.booking_id)
    return claim


def review_claim(session: Session, actor: Actor, claim_id: int, approve: bool, note: str | None, today: dt.date
                 ) -> VoucherRedemptionClaim:  # fmt: skip
    """Bureau review: an approval pays the voucher share split by the programme's shares, each with its payer."""
    require_officer(actor)
    claim = session.scalar(sa.select(VoucherRedemptionClaim).where(VoucherRedemptionClaim.id == claim_id).with_for_update())
    if claim is None:
        raise NotFound("no such claim", code="claim_not_found")
    if claim.status != "submitted":
        raise InvalidState(f"the claim is {claim.status}", code="invalid_state")
    booking = session.get(VoucherBooking, claim.booking_id)
    voucher = session.get(Voucher, booking.voucher_id)
    programme = get_programme(session, voucher.programme_id)
    _step(session, actor, booking, "approve" if approve else "reject", claim=claim.id)
    claim.status = "approved" if approve else "rejected"
    claim.reviewed_by, claim.reviewed_on, claim.review_note = actor.user_id, today, note
    shares: dict[str, Decimal] = {}
    if approve:
        shares = rules.split_shares(claim.amount, programme.province_share, programme.city_share)
        for payer, amount in shares.items():
            session.add(VoucherPayment(claim_id=claim.id, payer=payer, payee_org_id=claim.claimant_org_id, amount=amount))
    session.flush()
    _audit(session, actor, "voucher_claim", claim.id, claim.status, "submitted", claim.status,
           **{f"{k}_share": v for k, v in shares.items()})  # fmt: skip
    notices.emit(session, claim.claimant_org_id, "voucher_claim", claim.id,
                 "创新券兑现已批准" if approve else "创新券兑现未通过",
                 {"amount": str(claim.amount), **{k: str(v) for k, v in shares.items()}, "note": note})  # fmt: skip
    return claim


def payments_of(session: Session, claim_id: int) -> list[VoucherPayment]:
    return list(session.scalars(sa.select(VoucherPayment).where(VoucherPayment.claim_id == claim_id).order_by(VoucherPayment.id)))


def claims_query(actor: Actor, status: str | None) -> sa.Select:
    stmt = sa.select(VoucherRedemptionClaim).order_by(VoucherRedemptionClaim.id)
    if not actor.is_bureau:
        stmt = stmt.where(VoucherRedemptionClaim.claimant_org_id == actor.org_id)
    return stmt.where(VoucherRedemptionClaim.status == status) if status else stmt


# ---- provincial awards (the 1:1 match) --------------------------------------------------------------


def record_provincial_award(session: Session, actor: Actor, provider_org_id: int, awarded_on: dt.date,
                            amount: Decimal, reference: str) -> ProvincialServiceAward:  # fmt: skip
    require_officer(actor)
    _org(session, provider_org_id)
    if amount <= 0:
        raise ValidationFailed.field("amount", "amount_not_positive", "the award must be positive")
    award = ProvincialServiceAward(provider_org_id=provider_org_id, awarded_on=awarded_on, amount=amount,
                                   reference=reference, recorded_by=actor.user_id)  # fmt: skip
    session.add(award)
    session.flush()
    _audit(session, actor, "voucher_provincial_award", award.id, "recorded", amount=amount, reference=reference)
    return award


# ---- figures --------------------------------------------------------------------------------------

BOOKED = ("booked", "delivered", "confirmed", "claimed", "redeemed")
USED = ("confirmed", "claimed", "redeemed")


def figures(session: Session, programme_id: int) -> dict[str, Any]:
    """Issued, booked, used, redeemed amounts and rates (of the issued value), in all, by category and by provider."""
    programme = get_programme(session, programme_id)
    issued = session.scalar(sa.select(sa.func.sum(Voucher.value)).where(
        Voucher.programme_id == programme_id, Voucher.number.is_not(None))) or NIL  # fmt: skip
    rows = session.execute(
        sa.select(VoucherBooking.category, VoucherBooking.provider_org_id, VoucherBooking.status,
                  VoucherBooking.voucher_amount, VoucherRedemptionClaim.amount)
        .join(Voucher, Voucher.id == VoucherBooking.voucher_id)
        .outerjoin(VoucherRedemptionClaim, sa.and_(VoucherRedemptionClaim.booking_id == VoucherBooking.id,
                                                   VoucherRedemptionClaim.status == "approved"))
        .where(Voucher.programme_id == programme_id)
    ).all()  # fmt: skip
    names = dict(session.execute(sa.select(Organisation.id, Organisation.name).where(
        Organisation.id.in_({r[1] for r in rows} or {0}))).all())  # fmt: skip

    def blank() -> dict[str, Decimal]:
        return {"booked": NIL, "used": NIL, "redeemed": NIL}

    total, by_category, by_provider = blank(), defaultdict(blank), defaultdict(blank)
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
        "programme_id": programme.id, "year": programme.year, "total_budget": programme.total_budget,
        "committed": programme.committed, "remaining": programme.total_budget - programme.committed,
        "issued": issued, **with_rates(total),
        "by_category": [{"category": c, "label": rules.CATEGORIES.get(c, c), **with_rates(b)} for c, b in sorted(by_category.items())],
        "by_provider": [{"provider_org_id": p, "provider": names.get(p, ""), **with_rates(b)} for p, b in sorted(by_provider.items())],
    }  # fmt: skip


def figures_table(session: Session, programme_id: int):
    """The figures as a statistics Table (one row for the programme, then each category and provider) for export."""
    from market.stats.service import Table

    f = figures(session, programme_id)
    columns = ["dimension", "key", "label", "issued", "booked", "used", "redeemed", "booked_rate", "used_rate", "redeemed_rate"]
    pick = ("booked", "used", "redeemed", "booked_rate", "used_rate", "redeemed_rate")
    rows = [{"dimension": "programme", "key": str(f["programme_id"]), "label": str(f["year"]), "issued": f["issued"],
             **{k: f[k] for k in pick}}]  # fmt: skip
    rows += [{"dimension": "category", "key": c["category"], "label": c["label"], "issued": None, **{k: c[k] for k in pick}}
             for c in f["by_category"]]  # fmt: skip
    rows += [{"dimension": "provider", "key": str(p["provider_org_id"]), "label": p["provider"], "issued": None,
              **{k: p[k] for k in pick}} for p in f["by_provider"]]  # fmt: skip
    return Table(title=f"vouchers-{f['year']}-{f['programme_id']}", columns=columns, rows=rows)
