"""HTTP endpoints of contract registration: filing, 补正, registrar decisions, amendments, payments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy.orm import Session

from market.auth.dependencies import BureauActor, CurrentActor
from market.contracts import rules, service
from market.contracts.models import Contract
from market.contracts.schemas import (
    AmendmentIn,
    AuthorisationIn,
    AuthorisationOut,
    CancellationIn,
    ContractIn,
    ContractOut,
    ContractSummary,
    DeductionOut,
    EventOut,
    ImportIn,
    ImportOut,
    PartyOut,
    PaymentIn,
    PaymentOut,
    RefuseIn,
    RegisterIn,
    ReturnIn,
    ReversalIn,
)
from market.core.deps import SessionDep
from market.core.errors import ValidationFailed
from market.core.pagination import Page, PageDep, paginate
from market.core.vocab import IP_TYPE_LABELS, TECHNICAL_FIELD_LABELS

router = APIRouter(prefix="/api/v1", tags=["contracts"])


def _out(session: Session, contract: Contract) -> ContractOut:
    out = ContractOut.model_validate(contract)
    out.parties = [PartyOut.model_validate(p) for p in service.parties_of(session, contract.id)]
    out.deductions = [DeductionOut.model_validate(d) for d in service.deductions_of(session, contract.id)]
    out.performed_amount = service.performed_amount(session, contract.id)
    return out


@router.get("/contracts/catalogue")
def catalogue() -> dict:
    """Contract types and subtypes (民法典 851–887), refusal reasons, and the other code lists."""
    return {
        "contract_types": [
            {"code": code, "label": label, "subtypes": [{"code": c, "label": lab} for c, lab in subtypes.items()]}
            for code, (label, subtypes) in rules.CONTRACT_TYPES.items()
        ],
        "refusal_reasons": [{"code": r.value, "label": rules.REFUSAL_REASON_LABELS[r]} for r in rules.RefusalReason],
        "payment_methods": rules.PAYMENT_METHODS,
        "plan_sources": rules.PLAN_SOURCES,
        "deduction_kinds": rules.DEDUCTION_KINDS,
        "ip_types": {k.value: v for k, v in IP_TYPE_LABELS.items()},
        "technical_fields": {k.value: v for k, v in TECHNICAL_FIELD_LABELS.items()},
    }


@router.post("/contracts/authorisations", status_code=201, response_model=AuthorisationOut)
def grant_authorisation(data: AuthorisationIn, session: SessionDep, actor: CurrentActor) -> AuthorisationOut:
    """A party authorises an intermediary to file its contracts (its administrator records it)."""
    return AuthorisationOut.model_validate(service.grant_authorisation(session, actor, data.intermediary_org_id))


@router.get("/contracts/authorisations", response_model=list[AuthorisationOut])
def list_authorisations(session: SessionDep, actor: CurrentActor) -> list[AuthorisationOut]:
    return [AuthorisationOut.model_validate(a) for a in service.authorisations_of(session, actor)]


@router.delete("/contracts/authorisations/{authorisation_id}", response_model=AuthorisationOut)
def revoke_authorisation(authorisation_id: int, session: SessionDep, actor: CurrentActor) -> AuthorisationOut:
    return AuthorisationOut.model_validate(service.revoke_authorisation(session, actor, authorisation_id))


@router.post("/contracts", status_code=201, response_model=ContractOut)
def file_contract(
    data: ContractIn,
    session: SessionDep,
    actor: CurrentActor,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=100, description="retry-safe filing")] = None,
) -> ContractOut:
    """File a contract for registration (the seller; for a technology import the domestic buyer)."""
    contract, created = service.file_contract(session, actor, data, idempotency_key=idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return _out(session, contract)


@router.get("/contracts", response_model=Page[ContractSummary])
def list_contracts(
    session: SessionDep, actor: CurrentActor, page: PageDep, status: Annotated[str | None, Query()] = None
) -> Page[ContractSummary]:
    """Contracts the caller may see: its own organisation's, or all for bureau staff."""
    rows, total = paginate(session, service.list_visible(actor, status=status), page)
    return Page(
        items=[ContractSummary.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.get("/contracts/overdue", response_model=Page[ContractSummary])
def overdue_contracts(session: SessionDep, actor: BureauActor, page: PageDep) -> Page[ContractSummary]:
    """Filed contracts past their decision deadline (15 / 30 working days)."""
    rows, total = paginate(session, service.overdue(), page)
    return Page(
        items=[ContractSummary.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.get("/contracts/{contract_id}", response_model=ContractOut)
def get_contract(contract_id: int, session: SessionDep, actor: CurrentActor) -> ContractOut:
    return _out(session, service.get_visible(session, actor, contract_id))


@router.put("/contracts/{contract_id}", response_model=ContractOut)
def update_contract(contract_id: int, data: ContractIn, session: SessionDep, actor: CurrentActor) -> ContractOut:
    """Edit a draft or a returned contract (补正); with submit=true it is filed again."""
    return _out(session, service.update_contract(session, actor, contract_id, data))


@router.post("/contracts/{contract_id}/submit", response_model=ContractOut)
def submit_contract(contract_id: int, session: SessionDep, actor: CurrentActor) -> ContractOut:
    return _out(session, service.submit_contract(session, actor, contract_id))


@router.post("/contracts/{contract_id}/register", response_model=ContractOut)
def register_contract(
    contract_id: int, session: SessionDep, actor: BureauActor, data: RegisterIn | None = None
) -> ContractOut:
    """认定登记 (registrar): assigns the registration number; the registration date is the day of the decision."""
    if data is not None and data.registration_date is not None:
        raise ValidationFailed.field(
            "registration_date",
            "registration_date_is_decision_date",
            "the registration date is the decision date; historical registrations come through the import",
        )
    return _out(session, service.register(session, actor, contract_id))


@router.post("/contracts/{contract_id}/return", response_model=ContractOut)
def return_contract(contract_id: int, data: ReturnIn, session: SessionDep, actor: BureauActor) -> ContractOut:
    """退回补正 (registrar), naming what to fix."""
    items = [i.model_dump() for i in data.items]
    return _out(session, service.return_for_correction(session, actor, contract_id, items))


@router.post("/contracts/{contract_id}/refuse", response_model=ContractOut)
def refuse_contract(contract_id: int, data: RefuseIn, session: SessionDep, actor: BureauActor) -> ContractOut:
    """不予登记 (registrar), with one of the rule's reasons."""
    return _out(session, service.refuse(session, actor, contract_id, data.reason, data.note))


@router.post("/contracts/{contract_id}/amendments", status_code=201, response_model=EventOut)
def amend_contract(contract_id: int, data: AmendmentIn, session: SessionDep, actor: BureauActor) -> EventOut:
    """变更登记 (registrar): a new version, counted from its registration date on."""
    return EventOut.model_validate(service.amend(session, actor, contract_id, data))


@router.post("/contracts/{contract_id}/cancellation", status_code=201, response_model=EventOut)
def cancel_contract(contract_id: int, data: CancellationIn, session: SessionDep, actor: BureauActor) -> EventOut:
    """注销登记 (registrar)."""
    return EventOut.model_validate(service.cancel(session, actor, contract_id, data.reason, data.effective_date))


@router.get("/contracts/{contract_id}/events", response_model=list[EventOut])
def contract_events(contract_id: int, session: SessionDep, actor: CurrentActor) -> list[EventOut]:
    """The registration history: registered, amended, cancelled — each with its own date."""
    service.get_visible(session, actor, contract_id)
    return [EventOut.model_validate(e) for e in service.history_of(session, contract_id)]


@router.post("/contracts/{contract_id}/payments", status_code=201, response_model=PaymentOut)
def record_payment(contract_id: int, data: PaymentIn, session: SessionDep, actor: CurrentActor) -> PaymentOut:
    """Record money received; 实际履行金额 is their sum."""
    payment = service.record_payment(session, actor, contract_id, data.amount, data.received_on, data.note)
    return PaymentOut.model_validate(payment)


@router.get("/contracts/{contract_id}/payments", response_model=list[PaymentOut])
def list_payments(contract_id: int, session: SessionDep, actor: CurrentActor) -> list[PaymentOut]:
    service.get_visible(session, actor, contract_id)
    return [PaymentOut.model_validate(p) for p in service.payments_of(session, contract_id)]


@router.post("/contracts/{contract_id}/payments/{payment_id}/reversal", status_code=201, response_model=PaymentOut)
def reverse_payment(
    contract_id: int, payment_id: int, data: ReversalIn, session: SessionDep, actor: CurrentActor
) -> PaymentOut:
    """Correct a wrong payment with a reversing entry; payments are never edited or deleted."""
    return PaymentOut.model_validate(service.reverse_payment(session, actor, contract_id, payment_id, data.reason))


@router.post("/contracts/import", status_code=201, response_model=ImportOut)
def import_contracts(data: ImportIn, session: SessionDep, actor: BureauActor) -> ImportOut:
    """Historical registrations (bureau admin): original numbers and dates, marked imported; row-level errors."""
    contracts = service.import_rows(session, actor, data.rows)
    return ImportOut(imported=len(contracts), contract_ids=[c.id for c in contracts])


@router.post("/contracts/{contract_id}/achievement-link/confirm", response_model=ContractOut)
def confirm_achievement_link(contract_id: int, session: SessionDep, actor: BureauActor) -> ContractOut:
    """The registrar confirms the link to the achievement (it drives the re-transfer "value added only" rule)."""
    return _out(session, service.confirm_achievement_link(session, actor, contract_id))
