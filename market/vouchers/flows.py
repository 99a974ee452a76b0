"""Voucher workflows (创新券): issue, book, deliver, confirm, claim, review, expire, void — the multi-step part.

Each step checks its rule (rules.py), changes state, writes the audit entry and the notices, and flushes;
the request or the beat task commits. Lock order wherever the budget moves: programme, then voucher.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.auth.actor import Actor
from market.contracts.models import Contract, ContractParty, ContractStatus
from market.core.db import utcnow
from market.core.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from market.vouchers import notices, rules
from market.vouchers.models import (
    Voucher,
    VoucherBooking,
    VoucherFinding,
    VoucherPayment,
    VoucherProgramme,
    VoucherProvider,
    VoucherRedemptionClaim,
    VoucherRelationship,
)
from market.vouchers.service import (
    ZERO,
    audit_change,
    get_org,
    get_programme,
    get_voucher,
    lock_booking,
    refusal,
    require_officer,
    terms_of,
    visible_booking,
    visible_voucher,
)


def approve_voucher(
    session: Session, actor: Actor, voucher_id: int, granted: Decimal | None, today: dt.date
) -> Voucher:
    """Issue the voucher against the programme's remaining budget (never overcommitted, even concurrently)."""
    require_officer(actor)
    programme_id = get_voucher(session, voucher_id).programme_id
    # Lock order: programme, then voucher — every path that changes `committed` takes them in this order.
    programme = get_programme(session, programme_id, for_update=True)
    voucher = get_voucher(session, voucher_id, for_update=True)
    if voucher.status != "applied":
        raise InvalidState(f"the application is {voucher.status}", code="invalid_state")
    if programme.status != "open":
        raise InvalidState("the programme is closed", code="programme_closed")
    try:
        value = rules.voucher_value(terms_of(programme), voucher.requested_amount, granted)
        rules.check_budget(programme.total_budget, programme.committed, value)
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    programme.committed = programme.committed + value
    voucher.status, voucher.value, voucher.balance = "issued", value, value
    voucher.number = rules.voucher_number(programme.year, programme.id, voucher.id)
    voucher.issued_on, voucher.expires_on = today, programme.valid_until
    session.flush()
    audit_change(
        session, actor, "voucher", voucher.id, "approved", "applied", "issued", value=value, number=voucher.number
    )
    notices.emit(
        session,
        voucher.firm_org_id,
        "voucher",
        voucher.id,
        f"创新券已发放: {voucher.number}",
        {"number": voucher.number, "value": str(value), "expires_on": voucher.expires_on.isoformat()},
    )
    return voucher


def reject_voucher(session: Session, actor: Actor, voucher_id: int, note: str) -> Voucher:
    require_officer(actor)
    voucher = get_voucher(session, voucher_id, for_update=True)
    if voucher.status != "applied":
        raise InvalidState(f"the application is {voucher.status}", code="invalid_state")
    voucher.status, voucher.decision_note = "rejected", note
    audit_change(session, actor, "voucher", voucher.id, "rejected", "applied", "rejected", note=note)
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
        programme = get_programme(session, get_voucher(session, voucher_id).programme_id, for_update=True)
        voucher = get_voucher(session, voucher_id, for_update=True)
        if not rules.is_due_to_expire(voucher.status, voucher.expires_on, today):
            continue
        unused = _give_back(session, voucher, programme)
        voucher.status = "expired"
        audit_change(session, None, "voucher", voucher.id, "expired", "issued", "expired", returned=unused)
        notices.emit(
            session,
            voucher.firm_org_id,
            "voucher",
            voucher.id,
            f"创新券已过期: {voucher.number}",
            {"returned": str(unused)},
        )
        expired.append(voucher.id)
    session.flush()
    return expired


def void_for_fraud(
    session: Session, actor: Actor, voucher_id: int, description: str, org_id: int | None
) -> VoucherFinding:
    """Void a voucher (作废): open bookings are cancelled, unused value returns, the finding stands against the org."""
    require_officer(actor)
    programme = get_programme(session, get_voucher(session, voucher_id).programme_id, for_update=True)
    voucher = get_voucher(session, voucher_id, for_update=True)
    if voucher.status not in ("issued", "applied", "expired"):
        raise InvalidState(f"the voucher is {voucher.status}", code="invalid_state")
    target_org = org_id or voucher.firm_org_id
    get_org(session, target_org)
    open_bookings = session.scalars(
        sa.select(VoucherBooking)
        .where(
            VoucherBooking.voucher_id == voucher.id,
            VoucherBooking.status.in_(("booked", "delivered", "confirmed", "claimed")),
        )
        .order_by(VoucherBooking.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for booking in open_bookings:
        for claim in session.scalars(
            sa.select(VoucherRedemptionClaim)
            .where(VoucherRedemptionClaim.booking_id == booking.id, VoucherRedemptionClaim.status == "submitted")
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all():
            claim.status, claim.review_note = "rejected", "voucher voided"
            audit_change(
                session, actor, "voucher_claim", claim.id, "rejected", "submitted", "rejected", note="voucher voided"
            )
        voucher.balance = voucher.balance + booking.voucher_amount
        audit_change(session, actor, "voucher_booking", booking.id, "voided", booking.status, "voided")
        booking.status = "voided"
    # Whatever the voucher still holds (its balance plus the voided bookings' amounts) goes back to the budget.
    returned = _give_back(session, voucher, programme)
    before, voucher.status = voucher.status, "voided"
    finding = VoucherFinding(
        org_id=target_org,
        voucher_id=voucher.id,
        kind="fraud",
        description=description,
        recorded_by=actor.user_id,
        recorded_at=utcnow(),
    )
    session.add(finding)
    session.flush()
    audit_change(
        session, actor, "voucher", voucher.id, "voided", before, "voided", returned=returned, finding=finding.id
    )
    audit_change(session, actor, "organisation", target_org, "finding_recorded", kind="fraud", voucher=voucher.id)
    notices.emit(
        session, voucher.firm_org_id, "voucher", voucher.id, f"创新券已作废: {voucher.number}", {"reason": description}
    )
    return finding


def book_service(
    session: Session, actor: Actor, voucher_id: int, data: dict[str, Any], today: dt.date
) -> VoucherBooking:
    """The firm books a service with a provider: a service contract paid partly by the voucher."""
    voucher = visible_voucher(session, actor, voucher_id)
    if actor.org_id != voucher.firm_org_id:
        raise Forbidden("only the voucher's firm books with it", code="forbidden")
    voucher = get_voucher(session, voucher_id, for_update=True)
    programme = get_programme(session, voucher.programme_id)
    provider = session.scalar(sa.select(VoucherProvider).where(VoucherProvider.org_id == data["provider_org_id"]))
    provider_org = session.get(Organisation, data["provider_org_id"])
    if provider is None or provider_org is None:
        raise NotFound("no such voucher provider", code="provider_not_found")
    related = (
        session.scalar(
            sa.select(VoucherRelationship.id).where(
                VoucherRelationship.provider_org_id == provider.org_id,
                VoucherRelationship.firm_org_id == voucher.firm_org_id,
            )
        )
        is not None
    )
    facts = rules.BookingFacts(
        voucher.status,
        voucher.balance,
        voucher.expires_on or today,
        voucher.firm_org_id,
        provider.org_id,
        provider.status,
        provider_org.region_code,
        frozenset(i["category"] for i in provider.catalogue),
        related,
        frozenset(programme.eligible_categories),
        programme.out_of_city_allowed,
        programme.region_prefix,
        programme.province_share,
        programme.city_share,
    )
    try:
        rules.check_booking(
            facts,
            category=data["category"],
            price=data["price"],
            voucher_amount=data["voucher_amount"],
            settlement=data["settlement"],
            today=today,
        )
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    booking = VoucherBooking(
        voucher_id=voucher.id,
        provider_org_id=provider.org_id,
        category=data["category"],
        scope=data["scope"],
        price=data["price"],
        voucher_amount=data["voucher_amount"],
        settlement=data["settlement"],
        status="booked",
        evidence=[],
    )
    voucher.balance = voucher.balance - booking.voucher_amount
    session.add(booking)
    session.flush()
    audit_change(
        session,
        actor,
        "voucher_booking",
        booking.id,
        "booked",
        None,
        "booked",
        price=booking.price,
        voucher_amount=booking.voucher_amount,
        settlement=booking.settlement,
    )
    notices.emit(
        session,
        provider.org_id,
        "voucher_booking",
        booking.id,
        "新的创新券服务预约",
        {"voucher": voucher.number, "category": booking.category, "price": str(booking.price)},
    )
    return booking


def _step(session: Session, actor: Actor, booking: VoucherBooking, action: str, **detail: Any) -> str:
    try:
        target = rules.next_booking_state(booking.status, action)
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    before, booking.status = booking.status, target
    audit_change(session, actor, "voucher_booking", booking.id, action, before, target, **detail)
    return target


def deliver(session: Session, actor: Actor, booking_id: int, evidence: list[dict[str, str]]) -> VoucherBooking:
    booking, voucher = visible_booking(session, actor, booking_id)
    if actor.org_id != booking.provider_org_id:
        raise Forbidden("only the provider records delivery", code="forbidden")
    if not evidence:
        raise ValidationFailed.field(
            "evidence", "evidence_required", "delivery needs evidence (report, test certificate…)"
        )
    booking = lock_booking(session, booking.id)
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
        raise refusal(exc) from None
    booking = lock_booking(session, booking.id)
    _step(session, actor, booking, "confirm", score=score)
    booking.scores, booking.score, booking.confirmed_at = dict(scores), score, utcnow()
    notices.emit(session, booking.provider_org_id, "voucher_booking", booking.id, "服务已确认", {"score": str(score)})
    session.flush()
    return booking


def cancel_booking(session: Session, actor: Actor, booking_id: int) -> VoucherBooking:
    """Before delivery the firm (or provider) may cancel; the voucher amount goes back on the voucher."""
    booking, voucher = visible_booking(session, actor, booking_id)
    if actor.org_id not in (voucher.firm_org_id, booking.provider_org_id):
        raise Forbidden("only the parties cancel a booking", code="forbidden")
    # The lock order of every path that touches the budget: programme, then voucher.
    programme = get_programme(session, voucher.programme_id, for_update=True)
    voucher = get_voucher(session, voucher.id, for_update=True)
    booking = lock_booking(session, booking.id)
    _step(session, actor, booking, "cancel")
    if voucher.status == "issued":
        voucher.balance = voucher.balance + booking.voucher_amount
    else:  # expired meanwhile: the released amount goes straight back to the budget
        programme.committed = programme.committed - booking.voucher_amount
        voucher.returned = voucher.returned + booking.voucher_amount
    session.flush()
    return booking


def registered_service_contract(session: Session, booking: VoucherBooking, voucher: Voucher, contract_id: int) -> None:
    """A claim may name a registered technology contract only if it is this service: provider sells, firm buys.

    One registered contract is redeemed once (a claim not rejected holds it). A contract that is not this service's,
    or does not exist, gets one answer, so a claimant learns nothing about others' contracts.
    """
    contract = session.get(Contract, contract_id, with_for_update=True)
    orgs: dict[str, int | None] = {}
    if contract is not None:
        rows = session.execute(
            sa.select(ContractParty.role, ContractParty.org_id).where(ContractParty.contract_id == contract_id)
        )
        orgs = {role: org for role, org in rows}
    if (
        contract is None
        or contract.status != ContractStatus.registered
        or orgs.get("seller") != booking.provider_org_id
        or orgs.get("buyer") != voucher.firm_org_id
    ):
        raise ValidationFailed.field(
            "contract_id",
            "contract_not_of_booking",
            "no registered contract with this provider as seller and this firm as buyer has that id",
        )
    taken = session.scalar(
        sa.select(VoucherRedemptionClaim.id).where(
            VoucherRedemptionClaim.contract_id == contract_id, VoucherRedemptionClaim.status != "rejected"
        )
    )
    if taken is not None:
        raise Conflict("another redemption claim already names this contract", code="contract_already_redeemed")


def submit_claim(session: Session, actor: Actor, booking_id: int, data: dict[str, Any]) -> VoucherRedemptionClaim:
    """兑现: the firm (通用) or the provider (通兑) claims the voucher share with contract and proof of payment."""
    booking, voucher = visible_booking(session, actor, booking_id)
    who = rules.claimant(booking.settlement)
    claimant_org = voucher.firm_org_id if who == "firm" else booking.provider_org_id
    if actor.org_id != claimant_org:
        raise Forbidden(f"under this settlement the {who} claims the voucher share", code="wrong_claimant")
    # voucher, then booking: a void running at the same time either sees this claim or this claim sees the void
    voucher = get_voucher(session, voucher.id, for_update=True)
    booking = lock_booking(session, booking.id)
    if voucher.status == "voided":
        raise InvalidState("the voucher is void", code="voucher_not_active")
    try:
        rules.check_claim(
            booking.settlement,
            booking.price,
            booking.voucher_amount,
            data["paid_amount"],
            data["contract_reference"],
            data["payment_proof"],
        )
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    contract_id = data.get("contract_id")
    if contract_id is not None:
        registered_service_contract(session, booking, voucher, contract_id)
    _step(session, actor, booking, "claim")
    claim = VoucherRedemptionClaim(
        booking_id=booking.id,
        claimant_org_id=claimant_org,
        amount=booking.voucher_amount,
        contract_reference=data["contract_reference"],
        contract_id=contract_id,
        payment_proof=data["payment_proof"],
        paid_amount=data["paid_amount"],
        status="submitted",
    )
    session.add(claim)
    session.flush()
    audit_change(
        session,
        actor,
        "voucher_claim",
        claim.id,
        "submitted",
        None,
        "submitted",
        amount=claim.amount,
        contract_id=contract_id,
    )
    return claim


def review_claim(
    session: Session, actor: Actor, claim_id: int, approve: bool, note: str | None, today: dt.date
) -> VoucherRedemptionClaim:
    """Bureau review: an approval pays the voucher share split by the programme's shares, each with its payer."""
    require_officer(actor)
    found = session.get(VoucherRedemptionClaim, claim_id)
    if found is None:
        raise NotFound("no such claim", code="claim_not_found")
    # Lock order as a void takes them: voucher, booking, claim.
    voucher = get_voucher(session, session.get_one(VoucherBooking, found.booking_id).voucher_id, for_update=True)
    booking = lock_booking(session, found.booking_id)
    claim = session.scalars(
        sa.select(VoucherRedemptionClaim)
        .where(VoucherRedemptionClaim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if claim.status != "submitted":
        raise InvalidState(f"the claim is {claim.status}", code="invalid_state")
    programme = get_programme(session, voucher.programme_id)
    _step(session, actor, booking, "approve" if approve else "reject", claim=claim.id)
    claim.status = "approved" if approve else "rejected"
    claim.reviewed_by, claim.reviewed_on, claim.review_note = actor.user_id, today, note
    shares: dict[str, Decimal] = {}
    if approve:
        shares = rules.split_shares(claim.amount, programme.province_share, programme.city_share)
        for payer, amount in shares.items():
            session.add(
                VoucherPayment(claim_id=claim.id, payer=payer, payee_org_id=claim.claimant_org_id, amount=amount)
            )
    session.flush()
    audit_change(
        session,
        actor,
        "voucher_claim",
        claim.id,
        claim.status,
        "submitted",
        claim.status,
        **{f"{k}_share": v for k, v in shares.items()},
    )
    notices.emit(
        session,
        claim.claimant_org_id,
        "voucher_claim",
        claim.id,
        "创新券兑现已批准" if approve else "创新券兑现未通过",
        {"amount": str(claim.amount), **{k: str(v) for k, v in shares.items()}, "note": note},
    )
    return claim
