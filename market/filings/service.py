"""Intermediary filings: an intermediary applies, bureau staff record (or reject) it, and may revoke it — all audited."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.accounts.roles import Role
from market.auth.actor import Actor
from market.core import audit
from market.core.db import utcnow
from market.core.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from market.core.transitions import TransitionError
from market.core.vocab import OrgKind
from market.filings import rules
from market.filings.models import FilingStatus, IntermediaryFiling
from market.filings.schemas import ApplicationIn, RecordIn, RevokeIn


def _today() -> dt.date:
    from market.core.workdays import china_date

    return china_date(utcnow())


def _transition(filing: IntermediaryFiling, action: str) -> str:
    try:
        return rules.next_status(filing.status, action)
    except TransitionError as exc:
        raise InvalidState(exc.message, code=exc.code) from None


def _require_reviewer(actor: Actor) -> None:
    if actor.role not in rules.REVIEW_ROLES:
        raise Forbidden("filings are reviewed by a bureau admin or registrar", code="role_required")


def apply(session: Session, actor: Actor, data: ApplicationIn) -> IntermediaryFiling:
    """An intermediary's administrator applies for a filing at a level."""
    if actor.is_bureau or actor.role != Role.org_admin:
        raise Forbidden("an intermediary's administrator applies for its filing", code="role_required")
    org = session.get(Organisation, actor.org_id)
    if org is None or org.kind != OrgKind.intermediary:
        raise Forbidden("only intermediaries (技术转移服务机构) are filed", code="not_an_intermediary")
    if not actor.org_verified:
        raise Forbidden("your organisation is not verified yet", code="org_not_verified")
    row = IntermediaryFiling(
        org_id=org.id,
        level=data.level,
        status=FilingStatus.applied,
        claimed_on=data.claimed_on,
        note=data.note,
        applied_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity_type="intermediary_filing",
        entity_id=row.id,
        action="applied",
        actor=actor,
        to_state=row.status,
        detail={"level": data.level},
    )
    return row


def get_visible(session: Session, actor: Actor, filing_id: int, *, for_update: bool = False) -> IntermediaryFiling:
    stmt = sa.select(IntermediaryFiling).where(IntermediaryFiling.id == filing_id)
    row = session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None or not (actor.is_bureau or row.org_id == actor.org_id):
        raise NotFound("no such filing", code="filing_not_found")
    return row


def visible(actor: Actor, *, status: str | None = None, org_id: int | None = None) -> sa.Select:
    stmt = sa.select(IntermediaryFiling).order_by(IntermediaryFiling.id.desc())
    if not actor.is_bureau:
        stmt = stmt.where(IntermediaryFiling.org_id == actor.org_id)
    elif org_id is not None:
        stmt = stmt.where(IntermediaryFiling.org_id == org_id)
    if status:
        stmt = stmt.where(IntermediaryFiling.status == status)
    return stmt


def record(session: Session, actor: Actor, filing_id: int, data: RecordIn) -> IntermediaryFiling:
    """备案: the bureau records the filing with its number, level, date and validity."""
    _require_reviewer(actor)
    row = get_visible(session, actor, filing_id, for_update=True)
    before, to = row.status, _transition(row, "record")
    if data.filed_on > _today():
        raise ValidationFailed.field("filed_on", "date_in_future", "a filing date cannot be in the future")
    if data.valid_until is not None and data.valid_until < data.filed_on:
        raise ValidationFailed.field("valid_until", "bad_validity", "valid_until is before the filing date")
    if session.scalar(sa.select(IntermediaryFiling.id).where(IntermediaryFiling.filing_number == data.filing_number)):
        raise Conflict("this filing number is already recorded", code="filing_number_taken")
    row.status, row.level, row.filing_number = to, data.level, data.filing_number
    row.filed_on, row.valid_until, row.decision_note = data.filed_on, data.valid_until, data.note
    row.decided_by, row.decided_at = actor.user_id, utcnow()
    session.flush()
    audit.record(
        session,
        entity_type="intermediary_filing",
        entity_id=row.id,
        action="recorded",
        actor=actor,
        from_state=before,
        to_state=to,
        detail={
            "filing_number": data.filing_number,
            "level": data.level,
            "filed_on": data.filed_on.isoformat(),
            "valid_until": data.valid_until.isoformat() if data.valid_until else None,
        },
    )
    return row


def reject(session: Session, actor: Actor, filing_id: int, note: str) -> IntermediaryFiling:
    _require_reviewer(actor)
    row = get_visible(session, actor, filing_id, for_update=True)
    before, row.status = row.status, _transition(row, "reject")
    row.decision_note, row.decided_by, row.decided_at = note, actor.user_id, utcnow()
    session.flush()
    audit.record(
        session,
        entity_type="intermediary_filing",
        entity_id=row.id,
        action="rejected",
        actor=actor,
        from_state=before,
        to_state=row.status,
        detail={"note": note},
    )
    return row


def revoke(session: Session, actor: Actor, filing_id: int, data: RevokeIn) -> IntermediaryFiling:
    """撤销备案: the filing stops being in force from `revoked_on`."""
    _require_reviewer(actor)
    row = get_visible(session, actor, filing_id, for_update=True)
    before, to = row.status, _transition(row, "revoke")
    day = data.revoked_on or _today()
    if day > _today():
        raise ValidationFailed.field("revoked_on", "date_in_future", "a revocation cannot be dated in the future")
    if row.filed_on is not None and day < row.filed_on:
        raise ValidationFailed.field("revoked_on", "before_filing", "a revocation cannot precede the filing")
    row.status, row.revoked_on, row.revocation_reason, row.revoked_by = to, day, data.reason, actor.user_id
    session.flush()
    audit.record(
        session,
        entity_type="intermediary_filing",
        entity_id=row.id,
        action="revoked",
        actor=actor,
        from_state=before,
        to_state=to,
        detail={"reason": data.reason, "revoked_on": day.isoformat()},
    )
    return row


def records(session: Session, org_ids: Iterable[int] | None = None) -> dict[int, list[rules.Record]]:
    """Every recorded (or later revoked) filing by organisation: what the subsidy engine reads."""
    stmt = sa.select(
        IntermediaryFiling.org_id,
        IntermediaryFiling.level,
        IntermediaryFiling.filed_on,
        IntermediaryFiling.valid_until,
        IntermediaryFiling.revoked_on,
    ).where(
        IntermediaryFiling.status.in_((FilingStatus.recorded, FilingStatus.revoked)),
        IntermediaryFiling.filed_on.is_not(None),
    )
    if org_ids is not None:
        stmt = stmt.where(IntermediaryFiling.org_id.in_(list(org_ids)))
    out: dict[int, list[rules.Record]] = defaultdict(list)
    for org_id, level, filed_on, valid_until, revoked_on in session.execute(stmt):
        if filed_on is not None:  # always, by the query: a record counts from its filing date
            out[org_id].append(rules.Record(org_id, level, filed_on, valid_until, revoked_on))
    return dict(out)
