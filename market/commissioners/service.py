"""Commissioner services: registry, dispatch, annual evaluation awards (proposed, then approved by another officer), figures.

Services flush, never commit. Every state change is audited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.auth.actor import Actor
from market.commissioners import notices, rules
from market.commissioners.models import (
    Commissioner,
    CommissionerAward,
    CommissionerDispatch,
    CommissionerProject,
    CommissionerServiceLog,
    CommissionerStation,
)
from market.contracts.models import Contract
from market.core import audit
from market.core.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from market.stats.service import Table

OFFICERS = (Role.bureau_admin, Role.programme_officer)


def _require_officer(actor: Actor) -> None:
    if actor.role not in OFFICERS:
        raise Forbidden(
            "only bureau programme officers and administrators run the commissioner programme", code="role_required"
        )


def _audit(
    session: Session,
    actor: Actor,
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


def _org(session: Session, org_id: int | None, field: str) -> Organisation | None:
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    if org is None:
        raise ValidationFailed.field(field, "organisation_not_found", f"{field}: no such organisation")
    return org


def get(session: Session, commissioner_id: int) -> Commissioner:
    row = session.get(Commissioner, commissioner_id)
    if row is None:
        raise NotFound("no such commissioner", code="commissioner_not_found")
    return row


def register(session: Session, actor: Actor, data: dict[str, Any]) -> Commissioner:
    _require_officer(actor)
    home = _org(session, data.get("home_org_id"), "home_org_id")
    if not data.get("home_institution"):
        if home is None:
            raise ValidationFailed.field("home_institution", "home_institution_required", "name the home institution")
        data["home_institution"] = home.name
    if data.get("user_id") is not None and session.get(User, data["user_id"]) is None:
        raise ValidationFailed.field("user_id", "user_not_found", "user_id: no such user")
    row = Commissioner(**data, status="active")
    session.add(row)
    session.flush()
    _audit(session, actor, "commissioner", row.id, "register", to_state="active", kind=row.kind, level=row.level)
    return row


def _require_active(commissioner: Commissioner) -> None:
    if commissioner.status != "active":
        raise InvalidState(f"the commissioner is {commissioner.status}", code="commissioner_not_active")


def change_status(session: Session, actor: Actor, commissioner_id: int, action: str, reason: str) -> Commissioner:
    """Suspend or reinstate a commissioner (the bureau), with the reason audited and told to the home organisation."""
    _require_officer(actor)
    commissioner = session.scalar(sa.select(Commissioner).where(Commissioner.id == commissioner_id).with_for_update())
    if commissioner is None:
        raise NotFound("no such commissioner", code="commissioner_not_found")
    try:
        new = rules.next_status(commissioner.status, action)
    except rules.RuleViolation as exc:
        raise InvalidState(exc.message, code=exc.code) from None
    _audit(session, actor, "commissioner", commissioner.id, action, commissioner.status, new, reason=reason)
    commissioner.status = new
    if commissioner.home_org_id is not None:
        notices.emit(
            session,
            commissioner.home_org_id,
            "commissioner",
            commissioner.id,
            f"科技特派员状态: {commissioner.name} → {new}",
            {"status": new, "reason": reason},
        )
    session.flush()
    return commissioner


def dispatch(session: Session, actor: Actor, commissioner_id: int, data: dict[str, Any]) -> CommissionerDispatch:
    _require_officer(actor)
    commissioner = get(session, commissioner_id)
    _require_active(commissioner)
    if data["end_date"] < data["start_date"]:
        raise ValidationFailed.field("end_date", "invalid_period", "end_date must not be before start_date")
    host = _org(session, data.get("host_org_id"), "host_org_id")
    if not data.get("host_name"):
        if host is None:
            raise ValidationFailed.field("host_name", "host_required", "name the host or give host_org_id")
        data["host_name"] = host.name
    row = CommissionerDispatch(commissioner_id=commissioner.id, **data)
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        "commissioner",
        commissioner.id,
        "dispatch",
        host=row.host_name,
        start_date=row.start_date,
        end_date=row.end_date,
    )
    if row.host_org_id is not None:
        notices.emit(
            session,
            row.host_org_id,
            "dispatch",
            row.id,
            f"科技特派员选派: {commissioner.name}",
            {"commissioner_id": commissioner.id, "start_date": str(row.start_date), "end_date": str(row.end_date)},
        )
    return row


def dispatches(session: Session, commissioner_id: int) -> list[CommissionerDispatch]:
    return list(
        session.scalars(
            sa.select(CommissionerDispatch)
            .where(CommissionerDispatch.commissioner_id == commissioner_id)
            .order_by(CommissionerDispatch.start_date, CommissionerDispatch.id)
        )
    )


def _require_commissioner_or_officer(actor: Actor, commissioner: Commissioner) -> None:
    if actor.role in OFFICERS or (commissioner.user_id is not None and commissioner.user_id == actor.user_id):
        return
    raise Forbidden("only the commissioner or the bureau's officers record this", code="not_commissioner")


def add_station(session: Session, actor: Actor, data: dict[str, Any]) -> CommissionerStation:
    _require_officer(actor)
    host = _org(session, data.get("host_org_id"), "host_org_id")
    if not data.get("host_name"):
        if host is None:
            raise ValidationFailed.field("host_name", "host_required", "name the host or give host_org_id")
        data["host_name"] = host.name
    for cid in data.get("commissioner_ids") or []:
        get(session, cid)
    row = CommissionerStation(**data)
    session.add(row)
    session.flush()
    _audit(session, actor, "commissioner_station", row.id, "create", kind=row.kind, host=row.host_name)
    return row


def stations(session: Session) -> list[CommissionerStation]:
    return list(session.scalars(sa.select(CommissionerStation).order_by(CommissionerStation.id)))


def _contract(session: Session, contract_id: int | None) -> None:
    if contract_id is not None and session.get(Contract, contract_id) is None:
        raise ValidationFailed.field("contract_id", "contract_not_found", "contract_id: no such contract")


def add_project(session: Session, actor: Actor, commissioner_id: int, data: dict[str, Any]) -> CommissionerProject:
    """实质性技术合作 with a host firm, recorded by the commissioner or the bureau."""
    commissioner = get(session, commissioner_id)
    _require_commissioner_or_officer(actor, commissioner)
    _org(session, data["host_org_id"], "host_org_id")
    _contract(session, data.get("contract_id"))
    row = CommissionerProject(commissioner_id=commissioner.id, status="ongoing", **data)
    session.add(row)
    session.flush()
    _audit(session, actor, "commissioner_project", row.id, "create", to_state="ongoing", host_org_id=row.host_org_id)
    return row


def update_project(session: Session, actor: Actor, project_id: int, data: dict[str, Any]) -> CommissionerProject:
    row = session.get(CommissionerProject, project_id)
    if row is None:
        raise NotFound("no such project", code="project_not_found")
    _require_commissioner_or_officer(actor, get(session, row.commissioner_id))
    _contract(session, data.get("contract_id"))
    before = row.status
    for key, value in data.items():
        if value is not None:
            setattr(row, key, value)
    _audit(
        session,
        actor,
        "commissioner_project",
        row.id,
        "update",
        before,
        row.status,
        **{k: v for k, v in data.items() if v is not None},
    )
    session.flush()
    return row


def projects_query(actor: Actor, commissioner_id: int | None) -> sa.Select:
    """The bureau sees all; a commissioner their own; a host firm the projects it hosts."""
    stmt = sa.select(CommissionerProject).order_by(CommissionerProject.id)
    if not actor.is_bureau:
        own = sa.select(Commissioner.id).where(Commissioner.user_id == actor.user_id)
        stmt = stmt.where(
            sa.or_(CommissionerProject.commissioner_id.in_(own), CommissionerProject.host_org_id == actor.org_id)
        )
    if commissioner_id:
        stmt = stmt.where(CommissionerProject.commissioner_id == commissioner_id)
    return stmt


def add_log(session: Session, actor: Actor, commissioner_id: int, data: dict[str, Any]) -> CommissionerServiceLog:
    commissioner = get(session, commissioner_id)
    _require_commissioner_or_officer(actor, commissioner)
    row = CommissionerServiceLog(commissioner_id=commissioner.id, **data)
    session.add(row)
    session.flush()
    _audit(session, actor, "commissioner", commissioner.id, "service_log", kind=row.kind, on=row.on)
    return row


def logs(session: Session, actor: Actor, commissioner_id: int) -> list[CommissionerServiceLog]:
    commissioner = get(session, commissioner_id)
    if not actor.is_bureau and commissioner.user_id != actor.user_id:
        raise Forbidden("only the commissioner or the bureau read the service log", code="not_commissioner")
    return list(
        session.scalars(
            sa.select(CommissionerServiceLog)
            .where(CommissionerServiceLog.commissioner_id == commissioner.id)
            .order_by(CommissionerServiceLog.on, CommissionerServiceLog.id)
        )
    )


def propose_award(session: Session, actor: Actor, data: dict[str, Any]) -> CommissionerAward:
    """A selection of the annual evaluation, its amount computed from the seed's rule with the working kept."""
    _require_officer(actor)
    commissioner = get(session, data["commissioner_id"])
    _require_active(commissioner)
    fixed = rules.FIXED_AWARDS.get(data["kind"])
    one_off_paid = False
    if fixed is not None and fixed[2]:  # one-off awards: once per commissioner and kind, ever
        one_off_paid = (
            session.scalar(
                sa.select(CommissionerAward.id).where(
                    CommissionerAward.commissioner_id == commissioner.id, CommissionerAward.kind == data["kind"]
                )
            )
            is not None
        )
    try:
        amount, working = rules.award_amount(
            data["kind"],
            provincial_amount=data.get("provincial_amount"),
            one_off_already_paid=one_off_paid,
            commissioner_kind=commissioner.kind,
        )
    except rules.RuleViolation as exc:
        if exc.code == "one_off_already_awarded":
            raise InvalidState(exc.message, code=exc.code) from None
        raise ValidationFailed.field(exc.field or "kind", exc.code, exc.message) from None
    row = CommissionerAward(
        year=data["year"],
        commissioner_id=commissioner.id,
        kind=data["kind"],
        subject=data.get("subject"),
        provincial_amount=data.get("provincial_amount"),
        amount=amount,
        working=working,
        status="proposed",
        proposed_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    _audit(session, actor, "commissioner_award", row.id, "propose", to_state="proposed", amount=amount, kind=row.kind)
    return row


def approve_award(session: Session, actor: Actor, award_id: int) -> CommissionerAward:
    """Four eyes: the officer who proposed an award does not approve it."""
    _require_officer(actor)
    row = session.get(CommissionerAward, award_id)
    if row is None:
        raise NotFound("no such award", code="award_not_found")
    if row.status != "proposed":
        raise InvalidState(f"the award is already {row.status}", code="invalid_state")
    if row.proposed_by == actor.user_id:
        raise Forbidden("another officer approves the award", code="four_eyes")
    _require_active(get(session, row.commissioner_id))
    _audit(session, actor, "commissioner_award", row.id, "approve", "proposed", "approved", amount=row.amount)
    row.status, row.approved_by = "approved", actor.user_id
    commissioner = get(session, row.commissioner_id)
    if commissioner.home_org_id is not None:
        notices.emit(
            session,
            commissioner.home_org_id,
            "commissioner_award",
            row.id,
            f"科技特派员奖励: {commissioner.name}",
            {"kind": row.kind, "amount": str(row.amount), "year": row.year},
        )
    session.flush()
    return row


def awards(session: Session, year: int | None) -> list[CommissionerAward]:
    stmt = sa.select(CommissionerAward).order_by(CommissionerAward.id)
    if year:
        stmt = stmt.where(CommissionerAward.year == year)
    return list(session.scalars(stmt))


def figures(session: Session, year: int) -> Table:
    """Commissioners by level and field, hosts served in the year, approved awards of the year."""
    rows = []
    for level, field, count in session.execute(
        sa.select(Commissioner.level, Commissioner.field, sa.func.count())
        .where(Commissioner.status == "active")
        .group_by(Commissioner.level, Commissioner.field)
        .order_by(Commissioner.level, Commissioner.field)
    ):
        rows.append({"item": "commissioners", "level": level, "field": field or "", "value": Decimal(count)})
    hosts = session.scalar(
        sa.select(sa.func.count(sa.distinct(CommissionerDispatch.host_name))).where(
            CommissionerDispatch.start_date <= dt.date(year, 12, 31),
            CommissionerDispatch.end_date >= dt.date(year, 1, 1),
        )
    )
    rows.append({"item": "hosts_served", "level": "", "field": "", "value": Decimal(hosts or 0)})
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    firm_hosts = set(
        session.scalars(
            sa.select(CommissionerDispatch.host_org_id).where(
                CommissionerDispatch.host_kind == "firm",
                CommissionerDispatch.host_org_id.is_not(None),
                CommissionerDispatch.start_date <= last,
                CommissionerDispatch.end_date >= first,
            )
        )
    )
    projects = session.execute(
        sa.select(CommissionerProject.host_org_id, CommissionerProject.contract_id).where(
            CommissionerProject.start_date >= first, CommissionerProject.start_date <= last
        )
    ).all()
    firm_hosts |= {host for host, _ in projects}
    rows.append({"item": "firms_served", "level": "", "field": "", "value": Decimal(len(firm_hosts))})
    rows.append({"item": "projects", "level": "", "field": "", "value": Decimal(len(projects))})
    rows.append(
        {"item": "contracts_led_to", "level": "", "field": "", "value": Decimal(sum(1 for _, c in projects if c))}
    )
    for kind, total in session.execute(
        sa.select(CommissionerAward.kind, sa.func.sum(CommissionerAward.amount))
        .where(CommissionerAward.year == year, CommissionerAward.status == "approved")
        .group_by(CommissionerAward.kind)
        .order_by(CommissionerAward.kind)
    ):
        rows.append({"item": f"awards:{kind}", "level": "", "field": "", "value": Decimal(total)})
    return Table(
        title=f"commissioners-{year}", columns=["item", "level", "field", "value"], rows=rows, meta={"year": year}
    )
