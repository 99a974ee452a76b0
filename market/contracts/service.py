"""Contract registration: filing, 补正, registrar decisions, numbers, amendments, cancellations, payments."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.accounts.roles import Role
from market.contracts import rules
from market.contracts.models import (
    Contract,
    ContractDeduction,
    ContractEvent,
    ContractParty,
    ContractPayment,
    ContractStatus,
    EventKind,
    IdempotencyKey,
    LedgerEntry,
    NumberCounter,
    PartyRole,
)
from market.contracts.schemas import AmendmentIn, ContractIn, PartyIn
from market.core import audit, workdays
from market.core.config import get_settings
from market.core.db import to_money, utcnow
from market.core.deps import Actor
from market.core.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from market.stats import rollup

REGISTRAR_ROLES = frozenset({Role.registrar, Role.bureau_admin})
FILER_ROLES = frozenset({Role.org_admin, Role.member})


def today() -> dt.date:
    return rules.china_date(utcnow())


def _calendar() -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    s = get_settings()
    # The official calendar (chinese-calendar), the environment's lists laid over it (market.core.workdays).
    return workdays.calendar(rules.parse_holidays(s.contract_holidays), rules.parse_holidays(s.contract_extra_working_days))


# --- reading ------------------------------------------------------------------------------------


def parties_of(session: Session, contract_id: int) -> list[ContractParty]:
    stmt = sa.select(ContractParty).where(ContractParty.contract_id == contract_id).order_by(ContractParty.id)
    return list(session.scalars(stmt))


def deductions_of(session: Session, contract_id: int) -> list[ContractDeduction]:
    stmt = sa.select(ContractDeduction).where(ContractDeduction.contract_id == contract_id)
    return list(session.scalars(stmt.order_by(ContractDeduction.id)))


def performed_amount(session: Session, contract_id: int) -> Decimal:
    """实际履行金额: the sum of payments received under the contract."""
    total = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ContractPayment.amount), 0)).where(
            ContractPayment.contract_id == contract_id
        )
    )
    return to_money(total or 0)


def is_party(session: Session, contract: Contract, org_id: int) -> bool:
    if contract.filer_org_id == org_id:
        return True
    return bool(
        session.scalar(
            sa.select(sa.literal(True)).where(ContractParty.contract_id == contract.id, ContractParty.org_id == org_id)
        )
    )


def get_visible(session: Session, actor: Actor, contract_id: int, *, for_update: bool = False) -> Contract:
    """A contract the actor may see: bureau staff see all, parties their own; others get 404."""
    stmt = sa.select(Contract).where(Contract.id == contract_id)
    if for_update:
        stmt = stmt.with_for_update()
    contract = session.scalar(stmt)
    if contract is None or not (actor.is_bureau or is_party(session, contract, actor.org_id)):
        raise NotFound("contract not found", code="contract_not_found")
    return contract


def list_visible(actor: Actor, *, status: str | None = None) -> sa.Select:
    stmt = sa.select(Contract)
    if not actor.is_bureau:
        own = sa.select(ContractParty.contract_id).where(ContractParty.org_id == actor.org_id)
        stmt = stmt.where(sa.or_(Contract.filer_org_id == actor.org_id, Contract.id.in_(own)))
    if status:
        stmt = stmt.where(Contract.status == status)
    return stmt.order_by(Contract.id.desc())


def overdue(as_of: dt.date | None = None) -> sa.Select:
    """Filed contracts whose decision deadline has passed without a decision."""
    as_of = as_of or today()
    return (
        sa.select(Contract)
        .where(Contract.status == ContractStatus.submitted, Contract.decision_deadline < as_of)
        .order_by(Contract.decision_deadline, Contract.id)
    )


# --- building from input ------------------------------------------------------------------------


def _party_rows(session: Session, parties: list[PartyIn]) -> list[ContractParty]:
    rows = []
    for p in parties:
        org = session.get(Organisation, p.org_id) if p.org_id is not None else None
        if p.org_id is not None and org is None:
            raise ValidationFailed.field("parties", "unknown_org", f"organisation {p.org_id} does not exist")
        country = (p.country or (org.country if org else None) or "CN").upper()
        rows.append(
            ContractParty(
                role=p.role,
                org_id=p.org_id,
                name=(p.name or (org.name if org else "")).strip(),
                credit_code=(p.credit_code or (org.credit_code if org else None) or None),
                entity_type_code=p.entity_type_code or (org.entity_type_code if org else None),
                region_code=(p.region_code or (org.region_code if org else None) or None) if country == "CN" else None,
                country=country,
                broker_name=p.broker_name if p.role == PartyRole.intermediary else None,
            )
        )
    return rows


def _facts(contract: Contract, parties: list[ContractParty], deductions: list[ContractDeduction], *,
           claimed_tta: Decimal | None) -> rules.ContractFacts:  # fmt: skip
    return rules.ContractFacts(
        contract_type=contract.contract_type,
        subtype=contract.subtype,
        total_amount=to_money(contract.total_amount),
        deductions=[to_money(d.amount) for d in deductions],
        deduction_kinds=[d.kind for d in deductions],
        technical_transaction_amount=claimed_tta,
        signing_date=contract.signing_date,
        valid_from=contract.valid_from,
        valid_until=contract.valid_until,
        parties=[
            rules.PartyFacts(
                role=p.role, name=p.name, credit_code=p.credit_code, entity_type_code=p.entity_type_code,
                region_code=p.region_code, country=p.country, org_id=p.org_id,
            )  # fmt: skip
            for p in parties
        ],
        technology_import=contract.technology_import,
        payment_method=contract.payment_method,
        ip_type=contract.ip_type,
        technical_field=contract.technical_field,
        plan_source=contract.plan_source,
    )


def _raise_problems(problems: list[rules.Problem]) -> None:
    if not problems:
        return
    first = problems[0]
    message = first.message if len(problems) == 1 else f"{first.message} (and {len(problems) - 1} more)"
    raise ValidationFailed(message, code=first.code, details=[p.as_detail() for p in problems])


CONTRACT_FIELDS = (
    "project_name", "contract_type", "subtype", "signing_date", "valid_from", "valid_until", "total_amount",
    "payment_method", "ip_type", "technical_field", "plan_source", "related_party", "domestic_first", "first_set",
    "technology_import", "disputed", "achievement_id", "demand_id", "call_id",
)  # fmt: skip


def _apply_input(session: Session, actor: Actor, contract: Contract, data: ContractIn) -> tuple[
    list[ContractParty], list[ContractDeduction]
]:  # fmt: skip
    for name in CONTRACT_FIELDS:
        setattr(contract, name, getattr(data, name))
    contract.total_amount = to_money(data.total_amount)
    parties = _party_rows(session, data.parties)
    filer_role = rules.filer_role(data.technology_import)
    filer = next((p for p in parties if p.role == filer_role), None)
    if filer is None:
        raise ValidationFailed.field("parties", "missing_party", f"the contract has no {filer_role}")
    if not actor.is_bureau and filer.org_id != actor.org_id:
        raise Forbidden(
            f"only the {filer_role} files the contract (技术引进: the domestic buyer); name your own organisation "
            f"as {filer_role}", code="not_the_filer",
        )  # fmt: skip
    deductions = [
        ContractDeduction(kind=d.kind, description=d.description, amount=to_money(d.amount)) for d in data.deductions
    ]
    contract.technical_transaction_amount = rules.derived_technical_amount(
        contract.total_amount, [d.amount for d in deductions]
    )
    if filer.org_id is not None:
        contract.filer_org_id = filer.org_id
    return parties, deductions


def _replace_children(session: Session, contract: Contract, parties: list[ContractParty],
                      deductions: list[ContractDeduction]) -> None:  # fmt: skip
    session.execute(sa.delete(ContractParty).where(ContractParty.contract_id == contract.id))
    session.execute(sa.delete(ContractDeduction).where(ContractDeduction.contract_id == contract.id))
    for row in (*parties, *deductions):
        row.contract_id = contract.id
        session.add(row)
    session.flush()


def request_hash(data: ContractIn) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- filing -------------------------------------------------------------------------------------


def _require_filer(actor: Actor) -> None:
    if actor.is_bureau:
        return
    if actor.role not in FILER_ROLES:
        raise Forbidden("only an organisation's members file contracts", code="role_required")
    if not actor.org_verified:
        raise Forbidden("your organisation is not verified yet", code="org_not_verified")


def file_contract(
    session: Session, actor: Actor, data: ContractIn, *, idempotency_key: str | None = None
) -> tuple[Contract, bool]:
    """File a contract (or save a draft). Returns (contract, created); a replayed key returns the first one."""
    _require_filer(actor)
    digest = request_hash(data)
    if idempotency_key:
        replay = _replay(session, actor, idempotency_key, digest)
        if replay is not None:
            return replay, False
    try:
        with session.begin_nested():
            contract = _new_contract(session, actor, data)
            if idempotency_key:
                session.add(IdempotencyKey(user_id=actor.user_id, key=idempotency_key, request_hash=digest,
                                           contract_id=contract.id))  # fmt: skip
                session.flush()
    except IntegrityError:
        # A concurrent request with the same key won the race; answer with what it created.
        replay = _replay(session, actor, idempotency_key or "", digest) if idempotency_key else None
        if replay is None:
            raise
        return replay, False
    return contract, True


def _replay(session: Session, actor: Actor, key: str, digest: str) -> Contract | None:
    row = session.scalar(
        sa.select(IdempotencyKey).where(IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == key)
    )
    if row is None:
        return None
    if row.request_hash != digest:
        raise Conflict(
            "this Idempotency-Key was already used for a different request", code="idempotency_key_reused"
        )
    return session.get(Contract, row.contract_id)


def _new_contract(session: Session, actor: Actor, data: ContractIn) -> Contract:
    contract = Contract(status=ContractStatus.draft, created_by=actor.user_id, filer_org_id=actor.org_id, version=1)
    parties, deductions = _apply_input(session, actor, contract, data)
    problems = rules.validate_contract(
        _facts(contract, parties, deductions, claimed_tta=data.technical_transaction_amount), today()
    )
    if data.submit:
        _raise_problems(problems)
    else:
        # A draft may be incomplete, but never inconsistent.
        _raise_problems([p for p in problems if p.code in DRAFT_BLOCKING])
    session.add(contract)
    session.flush()
    _replace_children(session, contract, parties, deductions)
    audit.record(session, entity_type="contract", entity_id=contract.id, action="create", actor=actor,
                 to_state=contract.status)  # fmt: skip
    if data.submit:
        _submit(session, actor, contract)
    return contract


DRAFT_BLOCKING = frozenset({
    "unknown_contract_type", "unknown_subtype", "technical_amount_exceeds_total", "deductions_exceed_total",
    "deductions_do_not_add_up", "self_contract", "amount_not_positive", "deduction_not_positive",
})  # fmt: skip


def _submit(session: Session, actor: Actor, contract: Contract) -> None:
    before = contract.status
    try:
        contract.status = rules.next_status(contract.status, "submit")
    except rules.TransitionError as exc:
        raise InvalidState(str(exc), code="invalid_state") from None
    now = utcnow()
    contract.submitted_at = now
    holidays, extra = _calendar()
    contract.decision_deadline = rules.decision_deadline(
        rules.china_date(now), contract.technical_transaction_amount, contract.disputed, holidays, extra
    )
    contract.correction_items = None
    session.flush()
    audit.record(session, entity_type="contract", entity_id=contract.id, action="submit", actor=actor,
                 from_state=before, to_state=contract.status,
                 detail={"decision_deadline": contract.decision_deadline.isoformat()})  # fmt: skip


def update_contract(session: Session, actor: Actor, contract_id: int, data: ContractIn) -> Contract:
    """Edit a draft or a returned contract (补正); `data.submit` files it again."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    if not actor.is_bureau and contract.filer_org_id != actor.org_id:
        raise Forbidden("only the filer edits the contract", code="not_the_filer")
    _require_filer(actor)
    if contract.status not in rules.EDITABLE_STATUSES:
        raise InvalidState(f"a {contract.status} contract cannot be edited", code="contract_not_editable")
    parties, deductions = _apply_input(session, actor, contract, data)
    problems = rules.validate_contract(
        _facts(contract, parties, deductions, claimed_tta=data.technical_transaction_amount), today()
    )
    _raise_problems(problems if data.submit else [p for p in problems if p.code in DRAFT_BLOCKING])
    _replace_children(session, contract, parties, deductions)
    audit.record(session, entity_type="contract", entity_id=contract.id, action="edit", actor=actor,
                 from_state=contract.status, to_state=contract.status)  # fmt: skip
    if data.submit:
        _submit(session, actor, contract)
    return contract


def submit_contract(session: Session, actor: Actor, contract_id: int) -> Contract:
    """File a draft (or a corrected returned contract) as it stands."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    if not actor.is_bureau and contract.filer_org_id != actor.org_id:
        raise Forbidden("only the filer submits the contract", code="not_the_filer")
    _require_filer(actor)
    if contract.status not in rules.EDITABLE_STATUSES:
        raise InvalidState(f"a {contract.status} contract cannot be submitted", code="invalid_state")
    parties, deductions = parties_of(session, contract.id), deductions_of(session, contract.id)
    _raise_problems(rules.validate_contract(_facts(contract, parties, deductions, claimed_tta=None), today()))
    _submit(session, actor, contract)
    return contract


def create_draft_contract(session: Session, actor: Actor | None, data: Mapping[str, Any]) -> Contract:
    """Create a draft contract between two member organisations, e.g. when an open call is awarded.

    Signature: create_draft_contract(session, actor, data) -> Contract (flushed, status "draft").
    `actor` may be bureau staff or None (a system task); it is recorded in the audit log only.
    `data` keys: project_name (str), contract_type (str, default "development"), subtype (str, default
    "commissioned"), seller_org_id (int), buyer_org_id (int), total_amount (Decimal | str | int),
    call_id (int | None), and optionally achievement_id, demand_id, technical_field.
    The seller files it later (PUT /contracts/{id} with submit=true) after completing dates and details.
    """
    seller = session.get(Organisation, data["seller_org_id"])
    buyer = session.get(Organisation, data["buyer_org_id"])
    if seller is None or buyer is None:
        raise NotFound("seller or buyer organisation not found", code="org_not_found")
    contract_type = data.get("contract_type", "development")
    subtype = data.get("subtype", "commissioned")
    total = to_money(data["total_amount"])
    problems = [*rules.check_catalogue(contract_type, subtype)]
    if seller.id == buyer.id:
        problems.append(rules.Problem("parties", "self_contract", "seller and buyer are the same organisation"))
    if total <= 0:
        problems.append(rules.Problem("total_amount", "amount_not_positive", "合同成交额 must be greater than zero"))
    _raise_problems(problems)
    contract = Contract(
        status=ContractStatus.draft, contract_type=contract_type, subtype=subtype,
        project_name=data["project_name"], total_amount=total, technical_transaction_amount=total,
        call_id=data.get("call_id"), achievement_id=data.get("achievement_id"), demand_id=data.get("demand_id"),
        technical_field=data.get("technical_field"), filer_org_id=seller.id,
        created_by=getattr(actor, "user_id", None), version=1,
    )  # fmt: skip
    session.add(contract)
    session.flush()
    for role, org in ((PartyRole.seller, seller), (PartyRole.buyer, buyer)):
        session.add(ContractParty(
            contract_id=contract.id, role=role, org_id=org.id, name=org.name, credit_code=org.credit_code,
            entity_type_code=org.entity_type_code, region_code=org.region_code, country=org.country,
        ))  # fmt: skip
    session.flush()
    audit.record(session, entity_type="contract", entity_id=contract.id, action="create_draft", actor=actor,
                 to_state=contract.status, detail={"call_id": contract.call_id})  # fmt: skip
    return contract


# --- registrar decisions ------------------------------------------------------------------------


def _require_registrar(actor: Actor) -> None:
    if actor.role not in REGISTRAR_ROLES:
        raise Forbidden("only a registrar (登记员) decides registrations", code="role_required")


def _transition(contract: Contract, action: str) -> str:
    try:
        return rules.next_status(contract.status, action)
    except rules.TransitionError as exc:
        raise InvalidState(str(exc), code="invalid_state") from None


def allocate_number(session: Session, office: str, year: int) -> int:
    """Take the next sequence for (office, year); the counter row stays locked until commit (gapless)."""
    table = NumberCounter.__table__
    where = sa.and_(table.c.office == office, table.c.year == year)
    current = session.execute(sa.select(table.c.last_value).where(where).with_for_update()).scalar()
    if current is None:
        try:
            with session.begin_nested():
                session.execute(sa.insert(table).values(office=office, year=year, last_value=0))
        except IntegrityError:
            pass  # another transaction created it first; the lock below waits for it
        current = session.execute(sa.select(table.c.last_value).where(where).with_for_update()).scalar_one()
    session.execute(sa.update(table).where(where).values(last_value=current + 1))
    return current + 1


def snapshot(contract: Contract, parties: list[ContractParty], deductions: list[ContractDeduction]) -> dict:
    return {
        "version": contract.version,
        "project_name": contract.project_name,
        "contract_type": contract.contract_type,
        "subtype": contract.subtype,
        "valid_until": contract.valid_until.isoformat() if contract.valid_until else None,
        "total_amount": str(to_money(contract.total_amount)),
        "technical_transaction_amount": str(to_money(contract.technical_transaction_amount)),
        "payment_method": contract.payment_method,
        "ip_type": contract.ip_type,
        "technical_field": contract.technical_field,
        "plan_source": contract.plan_source,
        "deductions": [{"kind": d.kind, "description": d.description, "amount": str(d.amount)} for d in deductions],
        "parties": [
            {"role": p.role, "org_id": p.org_id, "name": p.name, "credit_code": p.credit_code,
             "entity_type_code": p.entity_type_code, "region_code": p.region_code, "country": p.country,
             "broker_name": p.broker_name}  # fmt: skip
            for p in parties
        ],
    }


def _ledger_entry(contract: Contract, parties: list[ContractParty], event: ContractEvent) -> LedgerEntry:
    by_role = {p.role: p for p in parties}
    seller, buyer, broker = by_role[PartyRole.seller], by_role[PartyRole.buyer], by_role.get(PartyRole.intermediary)
    day = event.effective_date
    return LedgerEntry(
        contract_id=contract.id, event_id=event.id, entry_date=day, entry_year=day.year, entry_month=day.month,
        sign=1, total_amount=contract.total_amount, technical_transaction_amount=contract.technical_transaction_amount,
        contract_type=contract.contract_type, subtype=contract.subtype,
        technical_field=contract.technical_field or "", ip_type=contract.ip_type or "",
        seller_org_id=seller.org_id, seller_name=seller.name, seller_credit_code=seller.credit_code or "",
        seller_entity_type=seller.entity_type_code or "", seller_region=seller.region_code or "",
        seller_country=seller.country,
        buyer_org_id=buyer.org_id, buyer_name=buyer.name, buyer_credit_code=buyer.credit_code or "",
        buyer_entity_type=buyer.entity_type_code or "", buyer_region=buyer.region_code or "",
        buyer_country=buyer.country,
        intermediary_org_id=broker.org_id if broker else None, intermediary_name=broker.name if broker else "",
        plan_source=contract.plan_source or "", payment_method=contract.payment_method or "",
    )  # fmt: skip


def _reversal(session: Session, contract: Contract, event: ContractEvent) -> LedgerEntry:
    """The exact opposite of the entry currently in force, dated at `event`."""
    last = session.scalar(
        sa.select(LedgerEntry)
        .where(LedgerEntry.contract_id == contract.id, LedgerEntry.sign == 1)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    assert last is not None, "a registered contract always has a ledger entry"
    columns = {c.key: getattr(last, c.key) for c in LedgerEntry.__table__.columns if c.key != "id"}
    day = event.effective_date
    columns.update(
        event_id=event.id, entry_date=day, entry_year=day.year, entry_month=day.month, sign=-1,
        total_amount=-last.total_amount, technical_transaction_amount=-last.technical_transaction_amount,
    )  # fmt: skip
    return LedgerEntry(**columns)


def _enter(session: Session, *entries: LedgerEntry) -> None:
    """Write ledger entries and, in the same transaction, add them to the statistics rollup."""
    session.add_all(entries)
    rollup.apply(session, entries)


def _check_event_date(contract: Contract, day: dt.date) -> None:
    if day > today():
        raise ValidationFailed.field("effective_date", "date_in_future", "a registration date cannot be in the future")
    last = contract.registration_date
    if last is not None and day < last:
        raise ValidationFailed.field("effective_date", "before_registration", "the date precedes the registration")


def register(session: Session, actor: Actor, contract_id: int, *, registration_date: dt.date | None = None) -> Contract:
    """认定登记: assign the next gapless number of this office and year and enter the contract in the ledger."""
    _require_registrar(actor)
    contract = get_visible(session, actor, contract_id, for_update=True)
    before = contract.status
    contract.status = _transition(contract, "register")
    day = registration_date or today()
    if day > today():
        raise ValidationFailed.field("registration_date", "date_in_future", "a registration date cannot be in the future")
    if contract.valid_until is not None and contract.valid_until < day:
        raise InvalidState("the contract is no longer in force; refuse it (invalid_or_not_in_force)",
                           code="contract_expired")  # fmt: skip
    settings = get_settings()
    office = settings.registration_office_code
    seq = allocate_number(session, office, day.year)
    contract.registration_office, contract.registration_year, contract.registration_sequence = office, day.year, seq
    contract.registration_number = rules.format_registration_number(
        day.year, office, seq, settings.registration_number_template
    )
    contract.registered_at = utcnow()
    contract.registration_date = day
    contract.decided_at, contract.decided_by = contract.registered_at, actor.user_id
    parties, deductions = parties_of(session, contract.id), deductions_of(session, contract.id)
    event = ContractEvent(
        contract_id=contract.id, kind=EventKind.registered, version=contract.version, effective_date=day,
        registrar_user_id=actor.user_id, snapshot=snapshot(contract, parties, deductions),
    )  # fmt: skip
    session.add(event)
    session.flush()
    _enter(session, _ledger_entry(contract, parties, event))
    audit.record(session, entity_type="contract", entity_id=contract.id, action="register", actor=actor,
                 from_state=before, to_state=contract.status,
                 detail={"registration_number": contract.registration_number})  # fmt: skip
    session.flush()
    return contract


def return_for_correction(session: Session, actor: Actor, contract_id: int, items: list[dict[str, str]]) -> Contract:
    """退回补正: the filer must fix `items` and submit again."""
    _require_registrar(actor)
    contract = get_visible(session, actor, contract_id, for_update=True)
    before = contract.status
    contract.status = _transition(contract, "return")
    contract.correction_items = items
    contract.decided_at, contract.decided_by = utcnow(), actor.user_id
    audit.record(session, entity_type="contract", entity_id=contract.id, action="return", actor=actor,
                 from_state=before, to_state=contract.status, detail={"items": items})  # fmt: skip
    session.flush()
    return contract


def refuse(session: Session, actor: Actor, contract_id: int, reason: str, note: str | None) -> Contract:
    """不予登记 with one of the rule's reasons."""
    _require_registrar(actor)
    if reason not in rules.RefusalReason.__members__:
        raise ValidationFailed.field(
            "reason", "unknown_refusal_reason", f"reason must be one of: {', '.join(rules.RefusalReason)}"
        )
    contract = get_visible(session, actor, contract_id, for_update=True)
    before = contract.status
    contract.status = _transition(contract, "refuse")
    contract.refusal_reason, contract.refusal_note = reason, note
    contract.decided_at, contract.decided_by = utcnow(), actor.user_id
    audit.record(session, entity_type="contract", entity_id=contract.id, action="refuse", actor=actor,
                 from_state=before, to_state=contract.status, detail={"reason": reason, "note": note})  # fmt: skip
    session.flush()
    return contract


# --- amendments, cancellations ------------------------------------------------------------------

AMENDABLE = ("project_name", "contract_type", "subtype", "valid_until", "payment_method", "ip_type",
             "technical_field", "plan_source")  # fmt: skip


def amend(session: Session, actor: Actor, contract_id: int, data: AmendmentIn) -> ContractEvent:
    """变更登记: a new version of the figures, in force (and counted) from its registration date on."""
    _require_registrar(actor)
    contract = get_visible(session, actor, contract_id, for_update=True)
    _transition(contract, "amend")
    day = data.effective_date or today()
    _check_event_date(contract, day)
    old_parties, old_deductions = parties_of(session, contract.id), deductions_of(session, contract.id)
    previous = snapshot(contract, old_parties, old_deductions)
    changed = [name for name in AMENDABLE if getattr(data, name) is not None]
    for name in changed:
        setattr(contract, name, getattr(data, name))
    if data.total_amount is not None:
        contract.total_amount = to_money(data.total_amount)
        changed.append("total_amount")
    parties, deductions = old_parties, old_deductions
    if data.parties is not None:
        parties = _party_rows(session, data.parties)
        changed.append("parties")
    if data.deductions is not None:
        deductions = [ContractDeduction(kind=d.kind, description=d.description, amount=to_money(d.amount))
                      for d in data.deductions]  # fmt: skip
        changed.append("deductions")
    if not changed:
        raise ValidationFailed("an amendment must change something", code="empty_amendment")
    contract.technical_transaction_amount = rules.derived_technical_amount(
        contract.total_amount, [d.amount for d in deductions]
    )
    # Expiry and signing are judged at filing; an amendment only has to be consistent.
    problems = [p for p in rules.validate_contract(_facts(contract, parties, deductions, claimed_tta=None), day)
                if p.code not in {"contract_expired", "signing_date_in_future"}]  # fmt: skip
    _raise_problems(problems)
    if data.parties is not None:
        session.execute(sa.delete(ContractParty).where(ContractParty.contract_id == contract.id))
        for row in parties:
            row.contract_id = contract.id
            session.add(row)
    if data.deductions is not None:
        session.execute(sa.delete(ContractDeduction).where(ContractDeduction.contract_id == contract.id))
        for row in deductions:
            row.contract_id = contract.id
            session.add(row)
    session.flush()
    contract.version += 1
    event = ContractEvent(
        contract_id=contract.id, kind=EventKind.amended, version=contract.version, effective_date=day,
        registrar_user_id=actor.user_id, reason=data.reason, snapshot=snapshot(contract, parties, deductions),
        previous=previous,
    )  # fmt: skip
    session.add(event)
    session.flush()
    _enter(session, _reversal(session, contract, event), _ledger_entry(contract, parties, event))
    audit.record(session, entity_type="contract", entity_id=contract.id, action="amend", actor=actor,
                 from_state=contract.status, to_state=contract.status,
                 detail={"changed": changed, "version": contract.version})  # fmt: skip
    session.flush()
    return event


def cancel(session: Session, actor: Actor, contract_id: int, reason: str, effective_date: dt.date | None) -> ContractEvent:
    """注销登记: the contract leaves the figures from the cancellation's registration date on."""
    _require_registrar(actor)
    contract = get_visible(session, actor, contract_id, for_update=True)
    before = contract.status
    contract.status = _transition(contract, "cancel")
    day = effective_date or today()
    _check_event_date(contract, day)
    contract.cancelled_on = day
    parties, deductions = parties_of(session, contract.id), deductions_of(session, contract.id)
    event = ContractEvent(
        contract_id=contract.id, kind=EventKind.cancelled, version=contract.version, effective_date=day,
        registrar_user_id=actor.user_id, reason=reason, snapshot=snapshot(contract, parties, deductions),
    )  # fmt: skip
    session.add(event)
    session.flush()
    _enter(session, _reversal(session, contract, event))
    audit.record(session, entity_type="contract", entity_id=contract.id, action="cancel", actor=actor,
                 from_state=before, to_state=contract.status, detail={"reason": reason})  # fmt: skip
    session.flush()
    return event


def events_of(session: Session, contract_id: int) -> list[ContractEvent]:
    stmt = sa.select(ContractEvent).where(ContractEvent.contract_id == contract_id).order_by(ContractEvent.id)
    return list(session.scalars(stmt))


def version_in_force(session: Session, contract_id: int, on: dt.date) -> dict | None:
    """The registered figures in force on a day (None before registration or after cancellation)."""
    event = session.scalar(
        sa.select(ContractEvent)
        .where(ContractEvent.contract_id == contract_id, ContractEvent.effective_date <= on)
        .order_by(ContractEvent.effective_date.desc(), ContractEvent.id.desc())
        .limit(1)
    )
    if event is None or event.kind == EventKind.cancelled:
        return None
    return event.snapshot


# --- payments -----------------------------------------------------------------------------------


def record_payment(session: Session, actor: Actor, contract_id: int, amount: Decimal, received_on: dt.date,
                   note: str | None) -> ContractPayment:  # fmt: skip
    """A payment received under a registered contract (recorded by the filer or bureau staff)."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    if not actor.is_bureau and contract.filer_org_id != actor.org_id:
        raise Forbidden("only the filer or the bureau records payments", code="not_the_filer")
    if contract.status != ContractStatus.registered:
        raise InvalidState("payments are recorded against registered contracts only", code="contract_not_registered")
    amount = to_money(amount)
    if amount <= 0:
        raise ValidationFailed.field("amount", "amount_not_positive", "a payment must be greater than zero")
    if received_on > today():
        raise ValidationFailed.field("received_on", "date_in_future", "a payment cannot be received in the future")
    if contract.signing_date and received_on < contract.signing_date:
        raise ValidationFailed.field("received_on", "before_signing", "a payment cannot precede the signing date")
    # Royalties (提成) may exceed the amount estimated at signing; everything else is capped by it.
    if contract.payment_method != "royalty" and performed_amount(session, contract.id) + amount > contract.total_amount:
        raise ValidationFailed.field(
            "amount", "payments_exceed_total", "payments received would exceed 合同成交额"
        )
    payment = ContractPayment(contract_id=contract.id, amount=amount, received_on=received_on, note=note,
                              recorded_by=actor.user_id)  # fmt: skip
    session.add(payment)
    session.flush()
    audit.record(session, entity_type="contract", entity_id=contract.id, action="payment", actor=actor,
                 detail={"payment_id": payment.id, "amount": str(amount), "received_on": received_on.isoformat()})
    return payment


def payments_of(session: Session, contract_id: int) -> list[ContractPayment]:
    stmt = sa.select(ContractPayment).where(ContractPayment.contract_id == contract_id)
    return list(session.scalars(stmt.order_by(ContractPayment.received_on, ContractPayment.id)))



# --- open-call award contracts (called by market.calls) ----------------------------------------------


def add_consortium_members(session: Session, actor: Actor | None, contract_id: int, org_ids: list[int]) -> None:
    """Name an award draft's consortium members (联合体成员, co-developers with the seller) as parties."""
    contract = session.get(Contract, contract_id)
    if contract is None or contract.status != ContractStatus.draft:
        raise InvalidState("only a draft contract takes consortium members", code="invalid_state")
    for org in session.scalars(sa.select(Organisation).where(Organisation.id.in_(org_ids)).order_by(Organisation.id)):
        session.add(ContractParty(
            contract_id=contract.id, role=PartyRole.consortium_member, org_id=org.id, name=org.name,
            credit_code=org.credit_code, entity_type_code=org.entity_type_code, region_code=org.region_code,
            country=org.country,
        ))  # fmt: skip
    session.flush()
    audit.record(session, entity_type="contract", entity_id=contract.id, action="add_consortium_members", actor=actor,
                 detail={"org_ids": list(org_ids)})  # fmt: skip


def file_signed_draft(
    session: Session, actor: Actor, contract_id: int, *, signing_date: dt.date, valid_until: dt.date,
    payment_method: str, ip_type: str, plan_source: str,
) -> Contract:
    """An award draft is signed: its dates and terms are set and it is filed like any contract (normal
    registration; every filing check applies)."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    if contract.status != ContractStatus.draft:
        raise InvalidState(f"a {contract.status} contract is not awaiting signature", code="invalid_state")
    contract.signing_date, contract.valid_from, contract.valid_until = signing_date, signing_date, valid_until
    contract.payment_method, contract.ip_type, contract.plan_source = payment_method, ip_type, plan_source
    session.flush()
    return submit_contract(session, actor, contract_id)


def withdraw_award_contract(session: Session, actor: Actor, contract_id: int, reason: str) -> Contract:
    """The team will not deliver: an unregistered award contract is cancelled; a registered one is cancelled
    (注销登记) when the actor is a registrar, and otherwise left for the registrar (returned unchanged)."""
    contract = session.get(Contract, contract_id, with_for_update=True)
    if contract is None:
        raise NotFound("contract not found", code="contract_not_found")
    if contract.status == ContractStatus.registered:
        if actor.role in REGISTRAR_ROLES:
            cancel(session, actor, contract_id, reason, None)
        return contract
    if contract.status in (ContractStatus.draft, ContractStatus.returned, ContractStatus.submitted):
        before, contract.status = contract.status, ContractStatus.cancelled
        session.flush()
        audit.record(session, entity_type="contract", entity_id=contract.id, action="withdraw_award", actor=actor,
                     from_state=before, to_state=contract.status, detail={"reason": reason})  # fmt: skip
    return contract
