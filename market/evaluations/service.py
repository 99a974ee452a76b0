"""Agencies registered and approved; evaluations requested, assigned, reported; what each party may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.auth.actor import Actor
from market.core import audit, outbox
from market.core.db import utcnow
from market.core.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from market.evaluations import rules
from market.evaluations.models import Evaluation, EvaluationAgency
from market.evaluations.subsidy import evaluated_trls  # the one reading of the verified TRL
from market.listings.models import Achievement


def register_agency(session: Session, actor: Actor, hide_evaluators: bool) -> EvaluationAgency:
    """The actor's organisation asks to be an evaluation agency (its admin only)."""
    if actor.role != Role.org_admin:
        raise Forbidden("an organisation's admin registers it as an agency", code="org_admin_required")
    if session.scalar(sa.select(EvaluationAgency).where(EvaluationAgency.org_id == actor.org_id)) is not None:
        raise InvalidState("this organisation is registered already", code="agency_exists")
    agency = EvaluationAgency(org_id=actor.org_id, status="pending", hide_evaluators=hide_evaluators)
    session.add(agency)
    session.flush()
    audit.record(
        session,
        entity_type="evaluation_agency",
        entity_id=agency.id,
        action="register",
        actor=actor,
        to_state="pending",
    )
    return agency


def decide_agency(session: Session, actor: Actor, org_id: int, approve: bool) -> EvaluationAgency:
    agency = session.scalar(sa.select(EvaluationAgency).where(EvaluationAgency.org_id == org_id))
    if agency is None:
        raise NotFound("no such agency", code="agency_not_found")
    before = agency.status
    agency.status, agency.decided_by = ("approved" if approve else "rejected"), actor.user_id
    session.flush()
    audit.record(
        session,
        entity_type="evaluation_agency",
        entity_id=agency.id,
        action="decide",
        actor=actor,
        from_state=before,
        to_state=agency.status,
    )
    return agency


def request(
    session: Session, actor: Actor, achievement_id: int, agency_org_id: int, declared_conflicts: list[int]
) -> Evaluation:
    """The achievement's holder asks an approved agency for an evaluation."""
    achievement = session.get(Achievement, achievement_id)
    if achievement is None:
        raise NotFound("no such achievement", code="achievement_not_found")
    if achievement.org_id != actor.org_id:
        raise Forbidden("only the achievement's holder requests its evaluation", code="not_the_holder")
    agency = session.scalar(sa.select(EvaluationAgency).where(EvaluationAgency.org_id == agency_org_id))
    if agency is None or agency.status != "approved":
        raise ValidationFailed.field("agency_org_id", "agency_not_approved", "the agency is not approved by the bureau")
    if agency_org_id == actor.org_id:
        raise ValidationFailed.field("agency_org_id", "own_agency", "an organisation does not evaluate its own work")
    ev = Evaluation(
        achievement_id=achievement_id,
        holder_org_id=actor.org_id,
        agency_org_id=agency_org_id,
        status="requested",
        declared_conflicts=sorted(set(declared_conflicts)),
        evaluator_ids=[],
    )
    session.add(ev)
    session.flush()
    audit.record(
        session, entity_type="evaluation", entity_id=ev.id, action="request", actor=actor, to_state="requested"
    )
    return ev


def _for_agency(session: Session, actor: Actor, evaluation_id: int, action: str) -> Evaluation:
    ev = session.get(Evaluation, evaluation_id)
    if ev is None:
        raise NotFound("no such evaluation", code="evaluation_not_found")
    if actor.org_id != ev.agency_org_id:
        raise Forbidden("only the agency asked does this", code="not_the_agency")
    if rules.next_state(ev.status, action) is None:
        raise InvalidState(f"an evaluation that is {ev.status} cannot {action}", code="invalid_evaluation_state")
    return ev


def assign(session: Session, actor: Actor, evaluation_id: int, evaluator_ids: list[int]) -> Evaluation:
    """The agency names the evaluators: none from the holder's organisation, none the holder declared conflicted."""
    ev = _for_agency(session, actor, evaluation_id, "assign")
    ids = sorted(set(evaluator_ids))
    users = {u.id: u.org_id for u in session.scalars(sa.select(User).where(User.id.in_(ids)))}
    if len(users) != len(ids):
        raise ValidationFailed.field("evaluator_ids", "unknown_user", "every evaluator must be a user")
    bad = rules.conflicted(users, ev.holder_org_id, ev.declared_conflicts)
    if bad:
        raise ValidationFailed.field(
            "evaluator_ids", "conflicted_evaluator", f"conflicted (holder's organisation or declared): {bad}"
        )
    before = ev.status
    ev.evaluator_ids, ev.status = ids, rules.next_state(ev.status, "assign") or ev.status
    session.flush()
    audit.record(
        session,
        entity_type="evaluation",
        entity_id=ev.id,
        action="assign",
        actor=actor,
        from_state=before,
        to_state=ev.status,
        detail={"evaluators": ids},
    )
    return ev


def report(session: Session, actor: Actor, evaluation_id: int, data: dict[str, Any]) -> Evaluation:
    ev = _for_agency(session, actor, evaluation_id, "report")
    low, high = data.get("value_low"), data.get("value_high")
    if (low is None) != (high is None) or (low is not None and high is not None and Decimal(low) > Decimal(high)):
        raise ValidationFailed.field("value_high", "invalid_value_range", "give both ends of the range, low ≤ high")
    ev.trl, ev.innovation_grade, ev.advancement_grade = data["trl"], data["innovation_grade"], data["advancement_grade"]
    ev.value_low, ev.value_high, ev.report_reference = low, high, data["report_reference"]
    ev.status, ev.completed_at = "completed", utcnow()
    session.flush()
    reindex_achievement(session, ev.achievement_id)
    audit.record(
        session,
        entity_type="evaluation",
        entity_id=ev.id,
        action="report",
        actor=actor,
        from_state="assigned",
        to_state="completed",
        detail={"trl": ev.trl, "innovation_grade": ev.innovation_grade, "advancement_grade": ev.advancement_grade},
    )
    return ev


def view(session: Session, actor: Actor | None, ev: Evaluation) -> dict[str, Any]:
    """An evaluation as the asker may see it: evaluators' identities only for the agency and the bureau, or the
    holder when the agency does not hide them; the public sees completed evaluations' results."""
    agency = session.scalar(sa.select(EvaluationAgency).where(EvaluationAgency.org_id == ev.agency_org_id))
    agency_name = session.scalar(sa.select(Organisation.name).where(Organisation.id == ev.agency_org_id))
    party = actor is not None and (actor.is_bureau or actor.org_id in (ev.agency_org_id, ev.holder_org_id))
    if not party and ev.status != "completed":
        raise NotFound("no such evaluation", code="evaluation_not_found")
    sees_evaluators = actor is not None and (
        actor.is_bureau
        or actor.org_id == ev.agency_org_id
        or (actor.org_id == ev.holder_org_id and agency is not None and not agency.hide_evaluators)
    )
    out: dict[str, Any] = {
        "id": ev.id,
        "achievement_id": ev.achievement_id,
        "agency_org_id": ev.agency_org_id,
        "agency_name": agency_name,
        "status": ev.status,
        "trl": ev.trl,
        "trl_label": rules.TRL.get(ev.trl) if ev.trl else None,
        "innovation_grade": ev.innovation_grade,
        "innovation_grade_label": rules.INNOVATION_GRADES.get(ev.innovation_grade or ""),
        "advancement_grade": ev.advancement_grade,
        "advancement_grade_label": rules.ADVANCEMENT_GRADES.get(ev.advancement_grade or ""),
        "value_low": ev.value_low,
        "value_high": ev.value_high,
        "report_reference": ev.report_reference,
        "completed_at": ev.completed_at,
        "evaluator_count": len(ev.evaluator_ids or []),
    }
    if sees_evaluators:
        out["evaluator_ids"] = list(ev.evaluator_ids or [])
    return out


def completed_for(session: Session, achievement_id: int) -> list[Evaluation]:
    return list(
        session.scalars(
            sa.select(Evaluation)
            .where(Evaluation.achievement_id == achievement_id, Evaluation.status == "completed")
            .order_by(Evaluation.id)
        )
    )


def verified_trl(session: Session, achievement_id: int) -> int | None:
    """The TRL of the latest completed evaluation: a verified fact for matching and subsidies (hook)."""
    return evaluated_trls(session, {achievement_id}).get(achievement_id)


class Summary(NamedTuple):
    """A finished evaluation as listings, search documents and matching show it (the latest per achievement)."""

    evaluation_id: int
    trl: int | None
    innovation_grade: str | None
    advancement_grade: str | None
    agency_org_id: int
    agency_name: str
    completed_at: dt.datetime | None

    def public(self) -> dict[str, Any]:
        """The listing's `evaluation` block: grades with their labels, the agency, the date."""
        return {
            "evaluation_id": self.evaluation_id,
            "trl": self.trl,
            "trl_label": rules.TRL.get(self.trl) if self.trl else None,
            "innovation_grade": self.innovation_grade,
            "innovation_grade_label": rules.INNOVATION_GRADES.get(self.innovation_grade or ""),
            "advancement_grade": self.advancement_grade,
            "advancement_grade_label": rules.ADVANCEMENT_GRADES.get(self.advancement_grade or ""),
            "agency_org_id": self.agency_org_id,
            "agency_name": self.agency_name,
            "completed_at": self.completed_at,
        }


def summaries(session: Session, achievement_ids: Iterable[int]) -> dict[int, Summary]:
    """The latest completed evaluation of each achievement that has one: one query for a whole page or batch."""
    ids = sorted(set(achievement_ids))
    if not ids:
        return {}
    rows = session.execute(
        sa.select(
            Evaluation.achievement_id,
            Evaluation.id,
            Evaluation.trl,
            Evaluation.innovation_grade,
            Evaluation.advancement_grade,
            Evaluation.agency_org_id,
            Organisation.name,
            Evaluation.completed_at,
        )
        .join(Organisation, Organisation.id == Evaluation.agency_org_id)
        .where(Evaluation.achievement_id.in_(ids), Evaluation.status == "completed")
        .order_by(Evaluation.achievement_id, Evaluation.completed_at, Evaluation.id)
    ).all()
    out: dict[int, Summary] = {}
    for achievement_id, eid, trl, innovation, advancement, agency_id, agency_name, completed in rows:
        out[achievement_id] = Summary(
            eid, trl, innovation, advancement, agency_id, agency_name, completed
        )  # latest wins
    return out


def reindex_achievement(session: Session, achievement_id: int) -> None:
    """A finished evaluation changes the achievement's search document (grades, evaluated maturity): queue it
    for the index in the same transaction (the outbox; the drain skips it when the listing is not public)."""
    outbox.emit(session, outbox.SEARCH_INDEX, "achievement", achievement_id)
