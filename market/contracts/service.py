"""Contract registration: filing, 补正, registrar decisions, numbers, amendments, cancellations, payments."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.accounts.roles import Role
from market.auth.actor import Actor
from market.contracts import rules
from market.contracts.models import (
    Contract,
    ContractDeduction,
    ContractEvent,
    ContractParty,
    ContractPayment,
    ContractStatus,
    EventKind,
    FilingAuthorisation,
    IdempotencyKey,
    LedgerEntry,
    NumberCounter,
    PartyRole,
)
from market.contracts.schemas import AmendmentIn, ContractIn, PartyIn
from market.core import audit, workdays
from market.core.audit import AuditEntry
from market.core.config import get_settings
from market.core.db import to_money, utcnow
from market.core.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from market.core.transitions import TransitionError
from market.stats import rollup

REGISTRAR_ROLES = frozenset({Role.registrar, Role.bureau_admin})
FILER_ROLES = frozenset({Role.org_admin, Role.member})


def today() -> dt.date:
    return workdays.china_date(utcnow())


def _calendar() -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    s = get_settings()
    # The official calendar (chinese-calendar), the environment's lists laid over it (market.core.workdays).
    return workdays.calendar(
        rules.parse_holidays(s.contract_holidays), rules.parse_holidays(s.contract_extra_working_days)
    )


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


def _facts(
    contract: Contract,
    parties: list[ContractParty],
    deductions: list[ContractDeduction],
    *,
    claimed_tta: Decimal | None,
) -> rules.ContractFacts:
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
                role=p.role,
                name=p.name,
                credit_code=p.credit_code,
                entity_type_code=p.entity_type_code,
                region_code=p.region_code,
                country=p.country,
                org_id=p.org_id,
            )
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
    "project_name",
    "contract_type",
    "subtype",
    "signing_date",
    "valid_from",
    "valid_until",
    "total_amount",
    "payment_method",
    "ip_type",
    "technical_field",
    "plan_source",
    "related_party",
    "domestic_first",
    "first_set",
    "technology_import",
    "disputed",
    "achievement_id",
    "demand_id",
    "call_id",
    "reregistration_of_id",
)


def _apply_input(
    session: Session, actor: Actor, contract: Contract, data: ContractIn
) -> tuple[list[ContractParty], list[ContractDeduction]]:
    if contract.achievement_id != data.achievement_id:  # a changed link is confirmed anew
        contract.achievement_link_confirmed_by = contract.achievement_link_confirmed_at = None
    for name in CONTRACT_FIELDS:
        setattr(contract, name, getattr(data, name))
    contract.total_amount = to_money(data.total_amount)
    parties = _party_rows(session, data.parties)
    filer_role = rules.filer_role(data.technology_import)
    filer = next((p for p in parties if p.role == filer_role), None)
    if filer is None:
        raise ValidationFailed.field("parties", "missing_party", f"the contract has no {filer_role}")
    if filer.org_id != actor.org_id:
        named = any(p.role == PartyRole.intermediary and p.org_id == actor.org_id for p in parties)
        _require_authorised_intermediary(session, actor, filer.org_id, named, filer_role)
    _check_links(session, actor, data)
    deductions = [
        ContractDeduction(kind=d.kind, description=d.description, amount=to_money(d.amount)) for d in data.deductions
    ]
    contract.technical_transaction_amount = rules.derived_technical_amount(
        contract.total_amount, [d.amount for d in deductions]
    )
    if filer.org_id is not None:
        contract.filer_org_id = filer.org_id
    return parties, deductions


def _replace_children(
    session: Session, contract: Contract, parties: list[ContractParty], deductions: list[ContractDeduction]
) -> None:
    session.execute(sa.delete(ContractParty).where(ContractParty.contract_id == contract.id))
    session.execute(sa.delete(ContractDeduction).where(ContractDeduction.contract_id == contract.id))
    rows: list[ContractParty | ContractDeduction] = [*parties, *deductions]
    for row in rows:
        row.contract_id = contract.id
        session.add(row)
    session.flush()


def request_hash(data: ContractIn) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- filing -------------------------------------------------------------------------------------


def _require_filer(actor: Actor) -> None:
    if actor.is_bureau:
        raise Forbidden(
            "bureau staff do not file or edit a firm's contract; the party (or its authorised intermediary) does",
            code="bureau_may_not_file",
        )
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
                session.add(
                    IdempotencyKey(
                        user_id=actor.user_id, key=idempotency_key, request_hash=digest, contract_id=contract.id
                    )
                )
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
        raise Conflict("this Idempotency-Key was already used for a different request", code="idempotency_key_reused")
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
    audit.record(
        session, entity_type="contract", entity_id=contract.id, action="create", actor=actor, to_state=contract.status
    )
    if data.submit:
        _submit(session, actor, contract)
    return contract


DRAFT_BLOCKING = frozenset(
    {
        "unknown_contract_type",
        "unknown_subtype",
        "technical_amount_exceeds_total",
        "deductions_exceed_total",
        "deductions_do_not_add_up",
        "self_contract",
        "amount_not_positive",
        "deduction_not_positive",
    }
)


def _submit(session: Session, actor: Actor, contract: Contract) -> None:
    before = contract.status
    try:
        contract.status = rules.next_status(contract.status, "submit")
    except TransitionError as exc:
        raise InvalidState(exc.message, code=exc.code) from None
    now = utcnow()
    contract.submitted_at = now
    holidays, extra = _calendar()
    contract.decision_deadline = rules.decision_deadline(
        workdays.china_date(now), contract.technical_transaction_amount, contract.disputed, holidays, extra
    )
    contract.correction_items = None
    session.flush()
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="submit",
        actor=actor,
        from_state=before,
        to_state=contract.status,
        detail={"decision_deadline": contract.decision_deadline.isoformat()},
    )


def authorised(session: Session, party_org_id: int, intermediary_org_id: int) -> bool:
    """Whether the party has recorded (and not revoked) an authorisation of the intermediary to file for it."""
    return (
        session.scalar(
            sa.select(FilingAuthorisation.id)
            .where(
                FilingAuthorisation.party_org_id == party_org_id,
                FilingAuthorisation.intermediary_org_id == intermediary_org_id,
                FilingAuthorisation.revoked_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def _require_authorised_intermediary(
    session: Session, actor: Actor, party_org_id: int | None, named: bool, filer_role: str
) -> None:
    if not named:
        raise Forbidden(
            f"only the {filer_role} files the contract (技术引进: the domestic buyer), or an intermediary named on it "
            "with the party's authorisation",
            code="not_the_filer",
        )
    if party_org_id is None or not authorised(session, party_org_id, actor.org_id):
        raise Forbidden(
            f"the {filer_role} has not authorised your organisation to file for it", code="no_filing_authorisation"
        )


def _require_filer_of(session: Session, actor: Actor, contract: Contract) -> None:
    """The filing party itself, or an intermediary named on the contract with the party's authorisation."""
    _require_filer(actor)
    if contract.filer_org_id == actor.org_id:
        return
    named = any(p.role == PartyRole.intermediary and p.org_id == actor.org_id for p in parties_of(session, contract.id))
    _require_authorised_intermediary(
        session, actor, contract.filer_org_id, named, rules.filer_role(contract.technology_import)
    )


UNKNOWN_LINK = "the linked record does not exist or is not visible to you"


def _check_links(session: Session, actor: Actor, data: ContractIn) -> None:
    """Achievement, demand, call and re-registration links must exist and be visible to the filer.

    Missing and hidden records get the same answer, so the reply never tells whether a hidden one exists.
    """
    from market.calls.models import Call
    from market.calls.service import can_read_call
    from market.listings.models import Achievement, Demand
    from market.listings.service import is_visible

    checks: tuple[tuple[str, type[Any], Callable[[Actor, Any], bool]], ...] = (
        ("achievement_id", Achievement, is_visible),
        ("demand_id", Demand, is_visible),
        ("call_id", Call, lambda a, call: can_read_call(call, a)),
        (
            "reregistration_of_id",
            Contract,
            lambda a, c: (
                c.status in (ContractStatus.registered, ContractStatus.cancelled)
                and (c.filer_org_id == a.org_id or is_party(session, c, a.org_id))
            ),
        ),
    )
    for field, model, visible in checks:
        value = getattr(data, field)
        if value is None:
            continue
        row = session.get(model, value)
        if row is None or not visible(actor, row):
            raise ValidationFailed.field(field, "unknown_link", UNKNOWN_LINK)


def grant_authorisation(session: Session, actor: Actor, intermediary_org_id: int) -> FilingAuthorisation:
    """A party's administrator authorises an intermediary to file its contracts."""
    _require_filer(actor)
    if actor.role != Role.org_admin:
        raise Forbidden("your organisation's administrator records authorisations", code="role_required")
    org = session.get(Organisation, intermediary_org_id)
    if org is None or org.kind != "intermediary":
        raise ValidationFailed.field(
            "intermediary_org_id",
            "not_an_intermediary",
            "authorisations are given to intermediaries (技术转移服务机构)",
        )
    existing = session.scalar(
        sa.select(FilingAuthorisation).where(
            FilingAuthorisation.party_org_id == actor.org_id,
            FilingAuthorisation.intermediary_org_id == org.id,
            FilingAuthorisation.revoked_at.is_(None),
        )
    )
    if existing is not None:
        return existing
    row = FilingAuthorisation(party_org_id=actor.org_id, intermediary_org_id=org.id, granted_by=actor.user_id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity_type="filing_authorisation",
        entity_id=row.id,
        action="granted",
        actor=actor,
        detail={"party_org_id": actor.org_id, "intermediary_org_id": org.id},
    )
    return row


def revoke_authorisation(session: Session, actor: Actor, authorisation_id: int) -> FilingAuthorisation:
    _require_filer(actor)
    row = session.get(FilingAuthorisation, authorisation_id)
    if row is None or row.party_org_id != actor.org_id:
        raise NotFound("no such authorisation", code="authorisation_not_found")
    if actor.role != Role.org_admin:
        raise Forbidden("your organisation's administrator records authorisations", code="role_required")
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = utcnow(), actor.user_id
        audit.record(session, entity_type="filing_authorisation", entity_id=row.id, action="revoked", actor=actor)
        session.flush()
    return row


def authorisations_of(session: Session, actor: Actor) -> list[FilingAuthorisation]:
    """Given by the caller's organisation, or given to it (an intermediary)."""
    return list(
        session.scalars(
            sa.select(FilingAuthorisation)
            .where(
                sa.or_(
                    FilingAuthorisation.party_org_id == actor.org_id,
                    FilingAuthorisation.intermediary_org_id == actor.org_id,
                )
            )
            .order_by(FilingAuthorisation.id)
        )
    )


def update_contract(session: Session, actor: Actor, contract_id: int, data: ContractIn) -> Contract:
    """Edit a draft or a returned contract (补正); `data.submit` files it again."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    _require_filer_of(session, actor, contract)
    if contract.status not in rules.EDITABLE_STATUSES:
        raise InvalidState(f"a {contract.status} contract cannot be edited", code="contract_not_editable")
    parties, deductions = _apply_input(session, actor, contract, data)
    problems = rules.validate_contract(
        _facts(contract, parties, deductions, claimed_tta=data.technical_transaction_amount), today()
    )
    _raise_problems(problems if data.submit else [p for p in problems if p.code in DRAFT_BLOCKING])
    _replace_children(session, contract, parties, deductions)
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="edit",
        actor=actor,
        from_state=contract.status,
        to_state=contract.status,
    )
    if data.submit:
        _submit(session, actor, contract)
    return contract


def submit_contract(session: Session, actor: Actor, contract_id: int) -> Contract:
    """File a draft (or a corrected returned contract) as it stands."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    _require_filer_of(session, actor, contract)
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
        status=ContractStatus.draft,
        contract_type=contract_type,
        subtype=subtype,
        project_name=data["project_name"],
        total_amount=total,
        technical_transaction_amount=total,
        call_id=data.get("call_id"),
        achievement_id=data.get("achievement_id"),
        demand_id=data.get("demand_id"),
        technical_field=data.get("technical_field"),
        filer_org_id=seller.id,
        created_by=getattr(actor, "user_id", None),
        version=1,
    )
    session.add(contract)
    session.flush()
    for role, org in ((PartyRole.seller, seller), (PartyRole.buyer, buyer)):
        session.add(
            ContractParty(
                contract_id=contract.id,
                role=role,
                org_id=org.id,
                name=org.name,
                credit_code=org.credit_code,
                entity_type_code=org.entity_type_code,
                region_code=org.region_code,
                country=org.country,
            )
        )
    session.flush()
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="create_draft",
        actor=actor,
        to_state=contract.status,
        detail={"call_id": contract.call_id},
    )
    return contract


# --- registrar decisions ------------------------------------------------------------------------


def _require_registrar(actor: Actor) -> None:
    if actor.role not in REGISTRAR_ROLES:
        raise Forbidden("only a registrar (登记员) decides registrations", code="role_required")


def _require_four_eyes(session: Session, actor: Actor, contract: Contract) -> None:
    """The registrar who decides never created, filed or edited the contract (nor returned and then edited it)."""
    touched = session.scalars(
        sa.select(AuditEntry.actor_user_id).where(
            AuditEntry.entity_type == "contract",
            AuditEntry.entity_id == contract.id,
            AuditEntry.action.in_(("create", "create_draft", "edit", "submit")),
        )
    ).all()
    if not rules.may_decide(actor.user_id, [contract.created_by, *touched]):
        raise Forbidden("you created, filed or edited this contract; another registrar decides it", code="four_eyes")


def _transition(contract: Contract, action: str) -> str:
    try:
        return rules.next_status(contract.status, action)
    except TransitionError as exc:
        raise InvalidState(exc.message, code=exc.code) from None


def allocate_number(session: Session, office: str, year: int) -> int:
    """Take the next sequence for (office, year); the counter row stays locked until commit (gapless)."""
    table = cast(sa.Table, NumberCounter.__table__)  # a mapped class's table
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
            {
                "role": p.role,
                "org_id": p.org_id,
                "name": p.name,
                "credit_code": p.credit_code,
                "entity_type_code": p.entity_type_code,
                "region_code": p.region_code,
                "country": p.country,
                "broker_name": p.broker_name,
            }
            for p in parties
        ],
    }


def _ledger_entry(contract: Contract, parties: list[ContractParty], event: ContractEvent) -> LedgerEntry:
    by_role = {p.role: p for p in parties}
    seller, buyer, broker = by_role[PartyRole.seller], by_role[PartyRole.buyer], by_role.get(PartyRole.intermediary)
    day = event.effective_date
    return LedgerEntry(
        contract_id=contract.id,
        event_id=event.id,
        entry_date=day,
        entry_year=day.year,
        entry_month=day.month,
        sign=1,
        total_amount=contract.total_amount,
        technical_transaction_amount=contract.technical_transaction_amount,
        contract_type=contract.contract_type,
        subtype=contract.subtype,
        technical_field=contract.technical_field or "",
        ip_type=contract.ip_type or "",
        seller_org_id=seller.org_id,
        seller_name=seller.name,
        seller_credit_code=seller.credit_code or "",
        seller_entity_type=seller.entity_type_code or "",
        seller_region=seller.region_code or "",
        seller_country=seller.country,
        buyer_org_id=buyer.org_id,
        buyer_name=buyer.name,
        buyer_credit_code=buyer.credit_code or "",
        buyer_entity_type=buyer.entity_type_code or "",
        buyer_region=buyer.region_code or "",
        buyer_country=buyer.country,
        intermediary_org_id=broker.org_id if broker else None,
        intermediary_name=broker.name if broker else "",
        plan_source=contract.plan_source or "",
        payment_method=contract.payment_method or "",
    )


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
        event_id=event.id,
        entry_date=day,
        entry_year=day.year,
        entry_month=day.month,
        sign=-1,
        total_amount=-last.total_amount,
        technical_transaction_amount=-last.technical_transaction_amount,
    )
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


def register(session: Session, actor: Actor, contract_id: int) -> Contract:
    """认定登记: assign the next gapless number of this office and year and enter the contract in the ledger.

    The registration date is the day of the decision; historical registrations come in through `import_rows`.
    """
    _require_registrar(actor)
    contract = get_visible(session, actor, contract_id, for_update=True)
    _require_four_eyes(session, actor, contract)
    before = contract.status
    contract.status = _transition(contract, "register")
    day = today()
    office = get_settings().registration_office_code
    applicant = next(
        (p for p in parties_of(session, contract.id) if p.role == rules.filer_role(contract.technology_import)), None
    )
    if applicant is None or not rules.in_jurisdiction(applicant.region_code, office):
        raise Forbidden(
            f"this office ({office}) registers applicants located in its own jurisdiction; the applicant "
            "registers where it is located",
            code="outside_jurisdiction",
        )
    if contract.valid_until is not None and contract.valid_until < day:
        raise InvalidState(
            "the contract is no longer in force; refuse it (invalid_or_not_in_force)", code="contract_expired"
        )
    settings = get_settings()
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
        contract_id=contract.id,
        kind=EventKind.registered,
        version=contract.version,
        effective_date=day,
        registrar_user_id=actor.user_id,
        snapshot=snapshot(contract, parties, deductions),
    )
    session.add(event)
    session.flush()
    _enter(session, _ledger_entry(contract, parties, event))
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="register",
        actor=actor,
        from_state=before,
        to_state=contract.status,
        detail={"registration_number": contract.registration_number},
    )
    session.flush()
    return contract


def return_for_correction(session: Session, actor: Actor, contract_id: int, items: list[dict[str, str]]) -> Contract:
    """退回补正: the filer must fix `items` and submit again."""
    _require_registrar(actor)
    contract = get_visible(session, actor, contract_id, for_update=True)
    _require_four_eyes(session, actor, contract)
    before = contract.status
    contract.status = _transition(contract, "return")
    contract.correction_items = items
    contract.decided_at, contract.decided_by = utcnow(), actor.user_id
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="return",
        actor=actor,
        from_state=before,
        to_state=contract.status,
        detail={"items": items},
    )
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
    _require_four_eyes(session, actor, contract)
    before = contract.status
    contract.status = _transition(contract, "refuse")
    contract.refusal_reason, contract.refusal_note = reason, note
    contract.decided_at, contract.decided_by = utcnow(), actor.user_id
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="refuse",
        actor=actor,
        from_state=before,
        to_state=contract.status,
        detail={"reason": reason, "note": note},
    )
    session.flush()
    return contract


# --- amendments, cancellations ------------------------------------------------------------------

AMENDABLE = (
    "project_name",
    "contract_type",
    "subtype",
    "valid_until",
    "payment_method",
    "ip_type",
    "technical_field",
    "plan_source",
)


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
        received = performed_amount(session, contract.id)
        if to_money(data.total_amount) < received:
            raise ValidationFailed.field(
                "total_amount",
                "total_below_received",
                f"合同成交额 cannot go below what has been received ({received})",
            )
        contract.total_amount = to_money(data.total_amount)
        changed.append("total_amount")
    parties, deductions = old_parties, old_deductions
    if data.parties is not None:
        parties = _party_rows(session, data.parties)
        changed.append("parties")
    if data.deductions is not None:
        deductions = [
            ContractDeduction(kind=d.kind, description=d.description, amount=to_money(d.amount))
            for d in data.deductions
        ]
        changed.append("deductions")
    if not changed:
        raise ValidationFailed("an amendment must change something", code="empty_amendment")
    contract.technical_transaction_amount = rules.derived_technical_amount(
        contract.total_amount, [d.amount for d in deductions]
    )
    # Expiry and signing are judged at filing; an amendment only has to be consistent.
    problems = [
        p
        for p in rules.validate_contract(_facts(contract, parties, deductions, claimed_tta=None), day)
        if p.code not in {"contract_expired", "signing_date_in_future"}
    ]
    _raise_problems(problems)
    if data.parties is not None:
        session.execute(sa.delete(ContractParty).where(ContractParty.contract_id == contract.id))
        for party in parties:
            party.contract_id = contract.id
            session.add(party)
    if data.deductions is not None:
        session.execute(sa.delete(ContractDeduction).where(ContractDeduction.contract_id == contract.id))
        for deduction in deductions:
            deduction.contract_id = contract.id
            session.add(deduction)
    session.flush()
    contract.version += 1
    event = ContractEvent(
        contract_id=contract.id,
        kind=EventKind.amended,
        version=contract.version,
        effective_date=day,
        registrar_user_id=actor.user_id,
        reason=data.reason,
        snapshot=snapshot(contract, parties, deductions),
        previous=previous,
    )
    session.add(event)
    session.flush()
    _enter(session, _reversal(session, contract, event), _ledger_entry(contract, parties, event))
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="amend",
        actor=actor,
        from_state=contract.status,
        to_state=contract.status,
        detail={"changed": changed, "version": contract.version},
    )
    session.flush()
    return event


def cancel(
    session: Session, actor: Actor, contract_id: int, reason: str, effective_date: dt.date | None
) -> ContractEvent:
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
        contract_id=contract.id,
        kind=EventKind.cancelled,
        version=contract.version,
        effective_date=day,
        registrar_user_id=actor.user_id,
        reason=reason,
        snapshot=snapshot(contract, parties, deductions),
    )
    session.add(event)
    session.flush()
    _enter(session, _reversal(session, contract, event))
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="cancel",
        actor=actor,
        from_state=before,
        to_state=contract.status,
        detail={"reason": reason},
    )
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


def record_payment(
    session: Session, actor: Actor, contract_id: int, amount: Decimal, received_on: dt.date, note: str | None
) -> ContractPayment:
    """A payment received under a registered contract (recorded by the filer or bureau staff)."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    _require_payment_recorder(actor, contract)
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
        raise ValidationFailed.field("amount", "payments_exceed_total", "payments received would exceed 合同成交额")
    payment = ContractPayment(
        contract_id=contract.id, amount=amount, received_on=received_on, note=note, recorded_by=actor.user_id
    )
    session.add(payment)
    session.flush()
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="payment",
        actor=actor,
        detail={"payment_id": payment.id, "amount": str(amount), "received_on": received_on.isoformat()},
    )
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
        session.add(
            ContractParty(
                contract_id=contract.id,
                role=PartyRole.consortium_member,
                org_id=org.id,
                name=org.name,
                credit_code=org.credit_code,
                entity_type_code=org.entity_type_code,
                region_code=org.region_code,
                country=org.country,
            )
        )
    session.flush()
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="add_consortium_members",
        actor=actor,
        detail={"org_ids": list(org_ids)},
    )


def file_signed_draft(
    session: Session,
    actor: Actor,
    contract_id: int,
    *,
    signing_date: dt.date,
    valid_until: dt.date,
    payment_method: str,
    ip_type: str,
    plan_source: str,
) -> Contract:
    """An award draft is signed: its dates and terms are set and it is filed like any contract (normal
    registration; every filing check applies)."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    _require_filer_of(session, actor, contract)
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
        audit.record(
            session,
            entity_type="contract",
            entity_id=contract.id,
            action="withdraw_award",
            actor=actor,
            from_state=before,
            to_state=contract.status,
            detail={"reason": reason},
        )
    return contract


def _require_payment_recorder(actor: Actor, contract: Contract) -> None:
    if actor.is_bureau:
        _require_registrar(actor)  # programme officers never change a contract
    elif contract.filer_org_id != actor.org_id:
        raise Forbidden("only the filer or a registrar records payments", code="not_the_filer")


def reverse_payment(session: Session, actor: Actor, contract_id: int, payment_id: int, reason: str) -> ContractPayment:
    """Correct a wrong payment with a reversing entry (the opposite amount); nothing is deleted or edited."""
    contract = get_visible(session, actor, contract_id, for_update=True)
    _require_payment_recorder(actor, contract)
    original = session.get(ContractPayment, payment_id)
    if original is None or original.contract_id != contract.id:
        raise NotFound("no such payment", code="payment_not_found")
    if original.reverses_payment_id is not None:
        raise ValidationFailed.field(
            "payment_id", "reversal_not_reversible", "a reversing entry is not reversed; record the payment again"
        )
    if session.scalar(sa.select(ContractPayment.id).where(ContractPayment.reverses_payment_id == original.id)):
        raise Conflict("this payment has already been reversed", code="payment_already_reversed")
    reversal = ContractPayment(
        contract_id=contract.id,
        amount=-original.amount,
        received_on=today(),
        note=reason,
        recorded_by=actor.user_id,
        reverses_payment_id=original.id,
    )
    session.add(reversal)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("this payment has already been reversed", code="payment_already_reversed") from None
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract.id,
        action="payment_reversal",
        actor=actor,
        detail={"payment_id": reversal.id, "reverses": original.id, "amount": str(reversal.amount), "reason": reason},
    )
    return reversal


def history_of(session: Session, contract_id: int) -> list[dict[str, Any]]:
    """The registration events and the payments (with their reversing entries), in the order they were recorded."""
    rows: list[dict[str, Any]] = [
        {
            "id": e.id,
            "kind": e.kind,
            "version": e.version,
            "effective_date": e.effective_date,
            "recorded_at": e.recorded_at,
            "reason": e.reason,
            "snapshot": e.snapshot,
            "previous": e.previous,
            "payment": None,
        }
        for e in events_of(session, contract_id)
    ]
    for p in payments_of(session, contract_id):
        rows.append(
            {
                "id": p.id,
                "kind": "payment_reversal" if p.reverses_payment_id else "payment",
                "version": None,
                "effective_date": p.received_on,
                "recorded_at": p.recorded_at,
                "reason": p.note,
                "snapshot": {},
                "previous": None,
                "payment": {
                    "id": p.id,
                    "amount": str(to_money(p.amount)),
                    "received_on": p.received_on.isoformat(),
                    "reverses_payment_id": p.reverses_payment_id,
                },
            }
        )
    return sorted(rows, key=lambda r: r["recorded_at"])


# --- historical registrations: the audited import ------------------------------------------------

IMPORT_ROLES = frozenset({Role.bureau_admin})
# A back-catalogue row may lack what a live filing must have; it must still be consistent.
IMPORT_TOLERATED = frozenset(
    {
        "signing_date_required",
        "signing_date_in_future",
        "valid_from_required",
        "valid_until_required",
        "payment_method_required",
        "ip_type_required",
        "technical_field_required",
        "plan_source_required",
    }
)


def _row_parties(session: Session, row: Any) -> list[ContractParty]:
    out = []
    for role in ("seller", "buyer", "intermediary"):
        name = getattr(row, f"{role}_name")
        if not name:
            continue
        code = getattr(row, f"{role}_credit_code") or None
        org = session.scalar(sa.select(Organisation).where(Organisation.credit_code == code)) if code else None
        country = (getattr(row, f"{role}_country") or "CN").upper()
        out.append(
            ContractParty(
                role=role,
                org_id=org.id if org else None,
                name=name,
                credit_code=code,
                entity_type_code=getattr(row, f"{role}_entity_type") or (org.entity_type_code if org else None),
                region_code=(getattr(row, f"{role}_region") or (org.region_code if org else None))
                if country == "CN"
                else None,
                country=country,
                broker_name=row.broker_name if role == "intermediary" else None,
            )
        )
    return out


def import_rows(session: Session, actor: Actor, raw_rows: list[dict[str, Any]]) -> list[Contract]:
    """Historical registrations with their original numbers and dates, marked imported and audited.

    Every row is checked first; one bad row imports nothing, and the error lists every bad row
    (`details[].row`, 1-based). The live decision never takes a date: this is the only way to a past one.
    """
    from pydantic import ValidationError

    from market.contracts.schemas import ImportRow

    if actor.role not in IMPORT_ROLES:
        raise Forbidden("historical registrations are imported by a bureau admin", code="role_required")
    errors: list[dict[str, Any]] = []
    prepared = []
    numbers: set[str] = set()
    for i, raw in enumerate(raw_rows, start=1):
        try:
            row = ImportRow.model_validate(raw)
        except ValidationError as exc:
            errors += [
                {
                    "row": i,
                    "field": ".".join(str(x) for x in e["loc"]) or "row",
                    "code": f"invalid_{e['type']}",
                    "message": e["msg"],
                }
                for e in exc.errors()
            ]
            continue
        problems: list[rules.Problem] = []
        if row.registration_date > today():
            problems.append(
                rules.Problem("registration_date", "date_in_future", "a registration date cannot be in the future")
            )
        if row.registration_number in numbers or session.scalar(
            sa.select(Contract.id).where(Contract.registration_number == row.registration_number)
        ):
            problems.append(
                rules.Problem(
                    "registration_number",
                    "duplicate_registration_number",
                    "this registration number is already in the ledger",
                )
            )
        numbers.add(row.registration_number)
        total = to_money(row.total_amount)
        technical = (
            to_money(row.technical_transaction_amount) if row.technical_transaction_amount is not None else total
        )
        deductions = (
            [
                ContractDeduction(
                    kind="other_non_technical", description="导入: 成交额 − 技术交易额", amount=total - technical
                )
            ]
            if technical < total
            else []
        )
        contract = Contract(
            status=ContractStatus.registered,
            imported=True,
            version=1,
            created_by=actor.user_id,
            total_amount=total,
            technical_transaction_amount=technical,
            **{
                f: getattr(row, f)
                for f in (
                    "project_name",
                    "contract_type",
                    "subtype",
                    "signing_date",
                    "valid_from",
                    "valid_until",
                    "payment_method",
                    "ip_type",
                    "technical_field",
                    "plan_source",
                    "technology_import",
                )
            },
        )
        parties = _row_parties(session, row)
        facts = _facts(contract, parties, deductions, claimed_tta=technical)
        problems += [p for p in rules.validate_contract(facts, row.registration_date) if p.code not in IMPORT_TOLERATED]
        errors += [{"row": i, **p.as_detail()} for p in problems]
        prepared.append((row, contract, parties, deductions))
    if errors:
        bad = len({e["row"] for e in errors})
        raise ValidationFailed(
            f"{bad} of {len(raw_rows)} rows have errors; nothing was imported",
            code="import_rows_invalid",
            details=errors,
        )
    office = get_settings().registration_office_code
    out = []
    for row, contract, parties, deductions in prepared:
        day = row.registration_date
        filer = next((p for p in parties if p.role == rules.filer_role(contract.technology_import)), None)
        contract.filer_org_id = filer.org_id if filer and filer.org_id else actor.org_id
        contract.registration_number, contract.registration_date = row.registration_number, day
        contract.registration_year, contract.registered_at = day.year, utcnow()
        contract.decided_at, contract.decided_by = contract.registered_at, actor.user_id
        contract.registration_office = office
        _reserve_imported_number(session, office, row.registration_number)
        session.add(contract)
        session.flush()
        _replace_children(session, contract, parties, deductions)
        event = ContractEvent(
            contract_id=contract.id,
            kind=EventKind.registered,
            version=1,
            effective_date=day,
            registrar_user_id=actor.user_id,
            reason="imported (historical registration)",
            snapshot=snapshot(contract, parties, deductions),
        )
        session.add(event)
        session.flush()
        _enter(session, _ledger_entry(contract, parties, event))
        audit.record(
            session,
            entity_type="contract",
            entity_id=contract.id,
            action="import",
            actor=actor,
            to_state=contract.status,
            detail={"registration_number": row.registration_number, "registration_date": day.isoformat()},
        )
        out.append(contract)
    session.flush()
    return out


def _reserve_imported_number(session: Session, office: str, number: str) -> None:
    """An imported number in this office's own format moves the live counter past it (numbers stay unique)."""
    try:
        year, number_office, seq = rules.parse_registration_number(number)
    except rules.NumberFormatError:
        return
    if number_office != office:
        return
    table = cast(sa.Table, NumberCounter.__table__)  # a mapped class's table
    where = sa.and_(table.c.office == office, table.c.year == year)
    if session.execute(sa.select(table.c.last_value).where(where).with_for_update()).scalar() is None:
        try:
            with session.begin_nested():
                session.execute(sa.insert(table).values(office=office, year=year, last_value=seq))
            return
        except IntegrityError:
            pass  # created meanwhile: raise it below
    session.execute(sa.update(table).where(where, table.c.last_value < seq).values(last_value=seq))


def confirm_achievement_link(session: Session, actor: Actor, contract_id: int) -> Contract:
    """The registrar confirms the contract's link to an achievement; only then does the re-transfer rule use it."""
    _require_registrar(actor)
    contract = get_visible(session, actor, contract_id, for_update=True)
    if contract.achievement_id is None:
        raise InvalidState("the contract names no achievement", code="no_achievement_link")
    if contract.achievement_link_confirmed_at is None:
        contract.achievement_link_confirmed_by, contract.achievement_link_confirmed_at = actor.user_id, utcnow()
        audit.record(
            session,
            entity_type="contract",
            entity_id=contract.id,
            action="achievement_link_confirmed",
            actor=actor,
            detail={"achievement_id": contract.achievement_id},
        )
        session.flush()
    return contract
