"""HTTP endpoints of innovation vouchers (创新券): /api/v1/vouchers/…"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from market.auth.dependencies import BureauActor, CurrentActor, OptionalActor
from market.core.db import utcnow
from market.core.deps import SessionDep
from market.core.pagination import Page, PageDep, paginate
from market.core.workdays import china_date
from market.stats.endpoints import FormatQ, render
from market.subsidies.service import jurisdiction
from market.vouchers import flows, service
from market.vouchers.schemas import (
    ApplicationIn,
    ApprovalIn,
    AwardIn,
    AwardOut,
    BookingIn,
    BookingOut,
    ClaimIn,
    ClaimOut,
    ConfirmIn,
    DecisionIn,
    DeliveryIn,
    FindingOut,
    NoteIn,
    PaymentOut,
    ProgrammeEdit,
    ProgrammeIn,
    ProgrammeOut,
    ProviderIn,
    ProviderOut,
    RelationshipIn,
    RelationshipOut,
    ReviewIn,
    VoidIn,
    VoucherOut,
)

router = APIRouter(prefix="/api/v1/vouchers", tags=["vouchers 创新券"])


def clock() -> dt.date:
    """Today in China; tests pin it with app.dependency_overrides[clock]."""
    return china_date(utcnow())


Today = Annotated[dt.date, Depends(clock)]


def _page(rows: list, total: int, page, out) -> Page:
    return Page(items=[out.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size)


def _claim_out(session, claim) -> ClaimOut:
    out = ClaimOut.model_validate(claim)
    out.payments = [PaymentOut.model_validate(p) for p in service.payments_of(session, claim.id)]
    return out


# --- programmes ------------------------------------------------------------------------------------


@router.post("/programmes", status_code=201, response_model=ProgrammeOut, summary="Open a voucher programme (bureau)")
def create_programme(body: ProgrammeIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.create_programme(session, actor, body.model_dump(), jurisdiction())


@router.get("/programmes", response_model=Page[ProgrammeOut], summary="Voucher programmes (public)")
def list_programmes(session: SessionDep, page: PageDep) -> Any:
    rows, total = paginate(session, service.programmes_query(), page)
    return _page(rows, total, page, ProgrammeOut)


@router.get("/programmes/{programme_id}", response_model=ProgrammeOut)
def get_programme(programme_id: int, session: SessionDep) -> Any:
    return service.get_programme(session, programme_id)


@router.patch("/programmes/{programme_id}", response_model=ProgrammeOut, summary="Edit a programme's terms (bureau)")
def edit_programme(programme_id: int, body: ProgrammeEdit, session: SessionDep, actor: CurrentActor) -> Any:
    return service.update_programme(session, actor, programme_id, body.model_dump(exclude_unset=True))


@router.post("/programmes/{programme_id}/close", response_model=ProgrammeOut)
def close_programme(programme_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return service.close_programme(session, actor, programme_id)


@router.get("/programmes/{programme_id}/figures", summary="Issued, booked, used, redeemed (json, csv or xlsx)")
def programme_figures(programme_id: int, session: SessionDep, actor: BureauActor, fmt: FormatQ = "json") -> Any:
    if fmt == "json":
        return service.figures(session, programme_id)
    return render(service.figures_table(session, programme_id), fmt)


@router.post(
    "/programmes/{programme_id}/applications",
    status_code=201,
    response_model=VoucherOut,
    summary="A firm applies for a voucher",
)
def apply(programme_id: int, body: ApplicationIn, session: SessionDep, actor: CurrentActor, today: Today) -> Any:
    return service.apply_for_voucher(
        session, actor, programme_id, body.firm_kind, body.requested_amount, body.purpose, today
    )


# --- providers -------------------------------------------------------------------------------------


@router.post("/providers", status_code=201, response_model=ProviderOut, summary="Apply to serve voucher holders")
def apply_as_provider(body: ProviderIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.apply_as_provider(session, actor, [i.model_dump() for i in body.catalogue])


@router.get("/providers", response_model=Page[ProviderOut], summary="Approved providers (the bureau sees all)")
def list_providers(
    session: SessionDep, actor: OptionalActor, page: PageDep, status: Annotated[str | None, Query()] = None
) -> Any:
    rows, total = paginate(session, service.providers_query(actor, status), page)
    return _page(rows, total, page, ProviderOut)


@router.get("/providers/{provider_id}", response_model=ProviderOut)
def get_provider(provider_id: int, session: SessionDep, actor: OptionalActor) -> Any:
    return service.get_provider(session, actor, provider_id)


@router.post(
    "/providers/{provider_id}/decision", response_model=ProviderOut, summary="Approve, reject, suspend or remove"
)
def decide_provider(provider_id: int, body: DecisionIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.decide_provider(session, actor, provider_id, body.action, body.note)


@router.post("/relationships", status_code=201, response_model=RelationshipOut, summary="Declare a related party")
def declare_relationship(body: RelationshipIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.declare_relationship(session, actor, body.provider_org_id, body.firm_org_id, body.kind)


@router.post("/provincial-awards", status_code=201, response_model=AwardOut, summary="Record a 省服务绩效奖励")
def record_award(body: AwardIn, session: SessionDep, actor: CurrentActor) -> Any:
    return service.record_provincial_award(
        session, actor, body.provider_org_id, body.awarded_on, body.amount, body.reference
    )


# --- vouchers --------------------------------------------------------------------------------------


@router.get("/vouchers", response_model=Page[VoucherOut], summary="The firm's vouchers (the bureau sees all)")
def list_vouchers(
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    programme_id: Annotated[int | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
) -> Any:
    rows, total = paginate(session, service.vouchers_query(actor, programme_id, status), page)
    return _page(rows, total, page, VoucherOut)


@router.get("/vouchers/{voucher_id}", response_model=VoucherOut)
def get_voucher(voucher_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return service.visible_voucher(session, actor, voucher_id)


@router.post("/vouchers/{voucher_id}/approve", response_model=VoucherOut, summary="Issue the voucher (bureau)")
def approve(voucher_id: int, body: ApprovalIn, session: SessionDep, actor: CurrentActor, today: Today) -> Any:
    return flows.approve_voucher(session, actor, voucher_id, body.granted_amount, today)


@router.post("/vouchers/{voucher_id}/reject", response_model=VoucherOut)
def reject(voucher_id: int, body: NoteIn, session: SessionDep, actor: CurrentActor) -> Any:
    return flows.reject_voucher(session, actor, voucher_id, body.note)


@router.post("/vouchers/{voucher_id}/void", response_model=FindingOut, summary="Void for fraud and record the finding")
def void(voucher_id: int, body: VoidIn, session: SessionDep, actor: CurrentActor) -> Any:
    return flows.void_for_fraud(session, actor, voucher_id, body.description, body.org_id)


@router.get("/findings/{org_id}", response_model=list[FindingOut], summary="Findings against an organisation")
def findings(org_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return service.findings_of(session, actor, org_id)


@router.post("/vouchers/{voucher_id}/bookings", status_code=201, response_model=BookingOut, summary="Book a service")
def book(voucher_id: int, body: BookingIn, session: SessionDep, actor: CurrentActor, today: Today) -> Any:
    return flows.book_service(session, actor, voucher_id, body.model_dump(), today)


# --- bookings and claims ---------------------------------------------------------------------------


@router.get("/bookings", response_model=Page[BookingOut], summary="Bookings the actor is party to (bureau: all)")
def list_bookings(
    session: SessionDep, actor: CurrentActor, page: PageDep, voucher_id: Annotated[int | None, Query()] = None
) -> Any:
    rows, total = paginate(session, service.bookings_query(actor, voucher_id), page)
    return _page(rows, total, page, BookingOut)


@router.get("/bookings/{booking_id}", response_model=BookingOut)
def get_booking(booking_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return service.visible_booking(session, actor, booking_id)[0]


@router.post(
    "/bookings/{booking_id}/deliver", response_model=BookingOut, summary="The provider delivers, with evidence"
)
def deliver(booking_id: int, body: DeliveryIn, session: SessionDep, actor: CurrentActor) -> Any:
    return flows.deliver(session, actor, booking_id, [e.model_dump() for e in body.evidence])


@router.post("/bookings/{booking_id}/confirm", response_model=BookingOut, summary="The firm confirms and scores")
def confirm(booking_id: int, body: ConfirmIn, session: SessionDep, actor: CurrentActor) -> Any:
    return flows.confirm(session, actor, booking_id, body.scores)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
def cancel(booking_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return flows.cancel_booking(session, actor, booking_id)


@router.post(
    "/bookings/{booking_id}/claim", status_code=201, response_model=ClaimOut, summary="兑现: claim the voucher share"
)
def claim(booking_id: int, body: ClaimIn, session: SessionDep, actor: CurrentActor) -> Any:
    return _claim_out(session, flows.submit_claim(session, actor, booking_id, body.model_dump()))


@router.get("/claims", response_model=Page[ClaimOut], summary="Redemption claims (the claimant's; bureau: all)")
def list_claims(
    session: SessionDep, actor: CurrentActor, page: PageDep, status: Annotated[str | None, Query()] = None
) -> Any:
    rows, total = paginate(session, service.claims_query(actor, status), page)
    return Page(items=[_claim_out(session, c) for c in rows], total=total, page=page.page, page_size=page.page_size)


@router.get("/claims/{claim_id}", response_model=ClaimOut)
def get_claim(claim_id: int, session: SessionDep, actor: CurrentActor) -> Any:
    return _claim_out(session, service.visible_claim(session, actor, claim_id))


@router.post("/claims/{claim_id}/review", response_model=ClaimOut, summary="Approve (pay by shares) or reject (bureau)")
def review(claim_id: int, body: ReviewIn, session: SessionDep, actor: CurrentActor, today: Today) -> Any:
    return _claim_out(session, flows.review_claim(session, actor, claim_id, body.approve, body.note, today))
