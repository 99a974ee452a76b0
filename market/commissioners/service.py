"""Commissioner services: registry, dispatch, annual evaluation awards (proposed, then approved by another officer), figures.

Services flush, never commit. Every state change is audited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.accounts.roles import Role
from market.commissioners import rules
from market.commissioners.models import Commissioner, CommissionerAward, CommissionerDispatch
from market.core import audit
from market.core.deps import Actor
from market.core.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from market.stats.service import Table

OFFICERS = (Role.bureau_admin, Role.programme_officer)


def _require_officer(actor: Actor) -> None:
    if actor.role not in OFFICERS:
        raise Forbidden("only bureau programme officers and administrators run the commissioner programme",
                        code="role_required")  # fmt: skip


def _audit(session: Session, actor: Actor, entity_type: str, entity_id: int, action: str,
           from_state: str | None = None, to_state: str | None = None, **detail: Any) -> None:  # fmt: skip
    audit.record(session, entity_type=entity_type, entity_id=entity_id, action=action, actor=actor,
                 from_state=from_state, to_state=to_state, detail={k: str(v) for k, v in detail.items()} or None)  # fmt: skip


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
    row = Commissioner(**data, status="active")
    session.add(row)
    session.flush()
    _audit(session, actor, "commissioner", row.id, "register", to_state="active", kind=row.kind, level=row.level)
    return row


def dispatch(session: Session, actor: Actor, commissioner_id: int, data: dict[str, Any]) -> CommissionerDispatch:
    _require_officer(actor)
    commissioner = get(session, commissioner_id)
    if commissioner.status != "active":
        raise InvalidState(f"the commissioner is {commissioner.status}", code="commissioner_not_active")
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
    _audit(session, actor, "commissioner", commissioner.id, "dispatch", host=row.host_name,
           start_date=row.start_date, end_date=row.end_date)  # fmt: skip
    return row


def dispatches(session: Session, commissioner_id: int) -> list[CommissionerDispatch]:
    return list(session.scalars(sa.select(CommissionerDispatch).where(CommissionerDispatch.commissioner_id == commissioner_id)
                                .order_by(CommissionerDispatch.start_date, CommissionerDispatch.id)))  # fmt: skip


def propose_award(session: Session, actor: Actor, data: dict[str, Any]) -> CommissionerAward:
    """A selection of the annual evaluation, its amount computed from the seed's rule with the working kept."""
    _require_officer(actor)
    commissioner = get(session, data["commissioner_id"])
    fixed = rules.FIXED_AWARDS.get(data["kind"])
    one_off_paid = False
    if fixed is not None and fixed[2]:  # one-off awards: once per commissioner and kind, ever
        one_off_paid = session.scalar(sa.select(CommissionerAward.id).where(
            CommissionerAward.commissioner_id == commissioner.id, CommissionerAward.kind == data["kind"])) is not None  # fmt: skip
    try:
        amount, working = rules.award_amount(data["kind"], provincial_amount=data.get("provincial_amount"),
                                             one_off_already_paid=one_off_paid, commissioner_kind=commissioner.kind)  # fmt: skip
    except rules.RuleViolation as exc:
        if exc.code == "one_off_already_awarded":
            raise InvalidState(exc.message, code=exc.code) from None
        raise ValidationFailed.field(exc.field or "kind", exc.code, exc.message) from None
    row = CommissionerAward(year=data["year"], commissioner_id=commissioner.id, kind=data["kind"],
                            subject=data.get("subject"), provincial_amount=data.get("provincial_amount"), amount=amount,
                            working=working, status="proposed", proposed_by=actor.user_id)  # fmt: skip
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
    _audit(session, actor, "commissioner_award", row.id, "approve", "proposed", "approved", amount=row.amount)
    row.status, row.approved_by = "approved", actor.user_id
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
        sa.select(Commissioner.level, Commissioner.field, sa.func.count()).where(Commissioner.status == "active")
        .group_by(Commissioner.level, Commissioner.field).order_by(Commissioner.level, Commissioner.field)
    ):  # fmt: skip
        rows.append({"item": "commissioners", "level": level, "field": field or "", "value": Decimal(count)})
    hosts = session.scalar(sa.select(sa.func.count(sa.distinct(CommissionerDispatch.host_name))).where(
        CommissionerDispatch.start_date <= dt.date(year, 12, 31),
        CommissionerDispatch.end_date >= dt.date(year, 1, 1)))  # fmt: skip
    rows.append({"item": "hosts_served", "level": "", "field": "", "value": Decimal(hosts or 0)})
    for kind, total in session.execute(
        sa.select(CommissionerAward.kind, sa.func.sum(CommissionerAward.amount))
        .where(CommissionerAward.year == year, CommissionerAward.status == "approved")
        .group_by(CommissionerAward.kind).order_by(CommissionerAward.kind)
    ):  # fmt: skip
        rows.append({"item": f"awards:{kind}", "level": "", "field": "", "value": Decimal(total)})
    return Table(title=f"commissioners-{year}", columns=["item", "level", "field", "value"], rows=rows, meta={"year": year})
