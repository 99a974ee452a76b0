"""Broker services: registry, training, employment moves, status, contract links, performance.

Services flush, never commit. Every state change is audited.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.accounts.service import org_names
from market.auth.actor import Actor
from market.brokers import notices, rules, subsidy
from market.brokers.models import (
    Broker,
    BrokerEmployment,
    BrokerLink,
    BrokerListing,
    BrokerPerformanceWeights,
    BrokerTraining,
)
from market.contracts.models import Contract, ContractParty, ContractStatus, PartyRole
from market.contracts.service import today
from market.core import audit
from market.core.config import get_settings
from market.core.errors import Forbidden, InvalidState, MarketError, NotFound, ValidationFailed
from market.core.transitions import TransitionError
from market.core.vocab import OrgKind
from market.listings.models import Achievement, Demand
from market.stats.service import Table

ZERO = Decimal("0")
# An intermediary's administrators manage its brokers (a broker's own account is a plain member: it reads,
# it does not manage itself). The filer's administrators and members confirm a broker on their contract.
INTERMEDIARY_ROLES = (Role.org_admin,)
FILER_ROLES = (Role.org_admin, Role.member)
BUREAU_MANAGERS = (Role.bureau_admin, Role.programme_officer)


def refusal(exc: rules.RuleViolation) -> MarketError:
    if exc.code in ("invalid_state", "already_employed", "broker_not_active"):
        return InvalidState(exc.message, code=exc.code)
    if exc.field:
        return ValidationFailed.field(exc.field, exc.code, exc.message)
    return ValidationFailed(exc.message, code=exc.code)


def _audit(
    session: Session,
    actor: Actor | None,
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


def _pepper() -> str:
    # Keyed, so the digest of a (guessable) ID number cannot be looked up without the deployment's secret.
    return get_settings().secret_key or "market-broker-id"


def stints(session: Session, broker_id: int) -> list[BrokerEmployment]:
    return list(
        session.scalars(
            sa.select(BrokerEmployment)
            .where(BrokerEmployment.broker_id == broker_id)
            .order_by(BrokerEmployment.start_date)
        )
    )


def _stints(rows: list[BrokerEmployment]) -> list[rules.Stint]:
    return [rules.Stint(r.intermediary_org_id, r.start_date, r.end_date) for r in rows]


def current_employment(session: Session, broker_id: int) -> BrokerEmployment | None:
    return session.scalar(
        sa.select(BrokerEmployment).where(BrokerEmployment.broker_id == broker_id, BrokerEmployment.end_date.is_(None))
    )


def get_broker(session: Session, broker_id: int) -> Broker:
    broker = session.get(Broker, broker_id)
    if broker is None:
        raise NotFound("no such broker", code="broker_not_found")
    return broker


def _is_intermediary_staff(actor: Actor, org_id: int | None) -> bool:
    return org_id is not None and actor.org_id == org_id and actor.role in INTERMEDIARY_ROLES


def _require_manager(session: Session, actor: Actor, broker: Broker) -> None:
    """The bureau, or the broker's current employer's staff, manage a broker."""
    if actor.role in BUREAU_MANAGERS:
        return
    current = current_employment(session, broker.id)
    if current is None or not _is_intermediary_staff(actor, current.intermediary_org_id):
        raise Forbidden("only the broker's intermediary or the bureau manage a broker", code="not_broker_manager")


def may_read(session: Session, actor: Actor, broker: Broker) -> bool:
    if actor.is_bureau or broker.user_id == actor.user_id:
        return True
    return any(_is_intermediary_staff(actor, s.intermediary_org_id) for s in stints(session, broker.id))


def _intermediary(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None or org.kind != OrgKind.intermediary:
        raise ValidationFailed.field(
            "intermediary_org_id",
            "not_an_intermediary",
            "intermediary_org_id must be an intermediary (技术转移服务机构)",
        )
    return org


def _link_user(session: Session, user_id: int | None, org_id: int, broker_id: int | None = None) -> None:
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise ValidationFailed.field(
            "user_id", "user_not_in_intermediary", "the broker's account must belong to the intermediary"
        )
    taken = session.scalar(sa.select(Broker.id).where(Broker.user_id == user_id))
    if taken is not None and taken != broker_id:
        raise InvalidState("this account is already another broker's", code="user_already_broker")


# ---- registry -------------------------------------------------------------------------------------


def register(session: Session, actor: Actor, data: dict[str, Any]) -> Broker:
    """Register a broker employed by an intermediary from `start_date` (its own staff, or the bureau for any)."""
    org_id = data.get("intermediary_org_id") or actor.org_id
    if actor.role not in BUREAU_MANAGERS and not _is_intermediary_staff(actor, org_id):
        raise Forbidden(
            "only an intermediary (for its own staff) or the bureau register brokers", code="not_broker_manager"
        )
    _intermediary(session, org_id)
    if data["level"] not in rules.LEVELS:
        raise ValidationFailed.field("level", "invalid_level", f"level: one of {', '.join(rules.LEVELS)}")
    try:
        number = rules.normalise_id_number(data["id_number"])
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    digest = rules.id_number_digest(number, _pepper())
    if session.scalar(sa.select(Broker.id).where(Broker.id_number_digest == digest)) is not None:
        raise InvalidState("a broker with this ID number is already registered", code="broker_already_registered")
    _link_user(session, data.get("user_id"), org_id)
    broker = Broker(
        name=data["name"],
        id_number_masked=rules.mask_id_number(number),
        id_number_digest=digest,
        level=data["level"],
        field=data.get("field"),
        status="active",
        user_id=data.get("user_id"),
        created_by=actor.user_id,
    )
    session.add(broker)
    session.flush()
    session.add(BrokerEmployment(broker_id=broker.id, intermediary_org_id=org_id, start_date=data["start_date"]))
    _audit(
        session,
        actor,
        "broker",
        broker.id,
        "register",
        to_state="active",
        intermediary_org_id=org_id,
        level=broker.level,
        start_date=data["start_date"],
    )
    session.flush()
    return broker


def update(session: Session, actor: Actor, broker_id: int, data: dict[str, Any]) -> Broker:
    broker = get_broker(session, broker_id)
    _require_manager(session, actor, broker)
    for required in ("name", "level"):
        if required in data and data[required] is None:
            raise ValidationFailed.field(required, "null_not_allowed", f"{required} cannot be cleared")
    if "level" in data and data["level"] not in rules.LEVELS:
        raise ValidationFailed.field("level", "invalid_level", f"level: one of {', '.join(rules.LEVELS)}")
    if "user_id" in data:
        current = current_employment(session, broker.id)
        _link_user(session, data["user_id"], current.intermediary_org_id if current else -1, broker.id)
    for key, value in data.items():
        setattr(broker, key, value)
    _audit(session, actor, "broker", broker.id, "update", **data)
    session.flush()
    return broker


def change_status(session: Session, actor: Actor, broker_id: int, action: str, note: str | None) -> Broker:
    """Suspend, reinstate or remove a broker (the bureau)."""
    if actor.role not in BUREAU_MANAGERS:
        raise Forbidden("only the bureau suspends, reinstates or removes brokers", code="role_required")
    broker = get_broker(session, broker_id)
    try:
        new = rules.next_status(broker.status, action)
    except TransitionError as exc:
        raise InvalidState(exc.message, code=exc.code) from None
    _audit(session, actor, "broker", broker.id, action, broker.status, new, note=note or "")
    current = current_employment(session, broker.id)
    if current is not None:
        notices.emit(
            session,
            current.intermediary_org_id,
            "broker",
            broker.id,
            f"技术经纪人状态: {broker.name} → {new}",
            {"status": new, "note": note or ""},
        )
    broker.status = new
    session.flush()
    return broker


def add_training(session: Session, actor: Actor, broker_id: int, data: dict[str, Any]) -> BrokerTraining:
    broker = get_broker(session, broker_id)
    _require_manager(session, actor, broker)
    row = BrokerTraining(broker_id=broker.id, **data)
    session.add(row)
    session.flush()
    _audit(session, actor, "broker", broker.id, "training", course=row.course, certificate=row.certificate_number or "")
    return row


def trainings(session: Session, broker_id: int) -> list[BrokerTraining]:
    return list(
        session.scalars(
            sa.select(BrokerTraining)
            .where(BrokerTraining.broker_id == broker_id)
            .order_by(BrokerTraining.completed_on, BrokerTraining.id)
        )
    )


def move(session: Session, actor: Actor, broker_id: int, new_org_id: int, start: dt.date) -> BrokerEmployment:
    """A move to another intermediary from `start`: the current employment ends the day before.

    The bureau, or staff of the current or the new intermediary, record it.
    """
    broker = get_broker(session, broker_id)
    current = current_employment(session, broker.id)
    allowed = (
        actor.role in BUREAU_MANAGERS
        or _is_intermediary_staff(actor, new_org_id)
        or (current is not None and _is_intermediary_staff(actor, current.intermediary_org_id))
    )
    if not allowed:
        raise Forbidden("only the bureau or one of the two intermediaries record a move", code="not_broker_manager")
    if broker.status == "removed":
        raise InvalidState("a removed broker cannot move", code="invalid_state")
    _intermediary(session, new_org_id)
    try:
        end = rules.check_move(
            rules.Stint(current.intermediary_org_id, current.start_date) if current else None, new_org_id, start
        )
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    if current is not None:
        current.end_date = end
    row = BrokerEmployment(broker_id=broker.id, intermediary_org_id=new_org_id, start_date=start)
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        "broker",
        broker.id,
        "move",
        detail_from=current.intermediary_org_id if current else "",
        to=new_org_id,
        start_date=start,
    )
    return row


def brokers_query(actor: Actor, status: str | None, intermediary_org_id: int | None) -> sa.Select:
    """The bureau sees every broker; an intermediary its current staff; a broker themself."""
    stmt = sa.select(Broker).order_by(Broker.id)
    current = sa.select(BrokerEmployment.broker_id).where(BrokerEmployment.end_date.is_(None))
    if not actor.is_bureau:
        mine = Broker.user_id == actor.user_id
        if actor.role in INTERMEDIARY_ROLES:
            mine = sa.or_(mine, Broker.id.in_(current.where(BrokerEmployment.intermediary_org_id == actor.org_id)))
        stmt = stmt.where(mine)
    if status:
        stmt = stmt.where(Broker.status == status)
    if intermediary_org_id:
        stmt = stmt.where(Broker.id.in_(current.where(BrokerEmployment.intermediary_org_id == intermediary_org_id)))
    return stmt


def read(session: Session, actor: Actor, broker_id: int) -> Broker:
    broker = get_broker(session, broker_id)
    if not may_read(session, actor, broker):
        raise NotFound("no such broker", code="broker_not_found")
    return broker


def me(session: Session, actor: Actor) -> Broker:
    broker = session.scalar(sa.select(Broker).where(Broker.user_id == actor.user_id))
    if broker is None:
        raise NotFound("this account is no broker's", code="broker_not_found")
    return broker


# ---- contract links -------------------------------------------------------------------------------


def _contract_intermediary(session: Session, contract_id: int) -> int | None:
    return session.scalar(
        sa.select(ContractParty.org_id).where(
            ContractParty.contract_id == contract_id, ContractParty.role == PartyRole.intermediary
        )
    )


def propose_link(session: Session, actor: Actor, broker_id: int, contract_id: int) -> BrokerLink:
    """The contract's intermediary puts one of its brokers on it; the filer confirms."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("no such contract", code="contract_not_found")
    broker = get_broker(session, broker_id)
    intermediary = _contract_intermediary(session, contract.id)
    if not _is_intermediary_staff(actor, intermediary):
        raise Forbidden("only the contract's intermediary puts a broker on it", code="not_contract_intermediary")
    if contract.status in (ContractStatus.refused, ContractStatus.cancelled):
        raise InvalidState(f"the contract is {contract.status}", code="invalid_state")
    try:
        rules.check_link(
            broker_status=broker.status,
            intermediary_org_id=intermediary,
            signing_date=contract.signing_date,
            stints=_stints(stints(session, broker.id)),
        )
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    existing = session.scalar(
        sa.select(BrokerLink).where(BrokerLink.broker_id == broker.id, BrokerLink.contract_id == contract.id)
    )
    if existing is not None and existing.status != "rejected":
        raise InvalidState("this broker is already on the contract", code="duplicate_link")
    if existing is not None:
        existing.status, existing.proposed_by, existing.decided_by = "proposed", actor.user_id, None
        link = existing
    else:
        link = BrokerLink(
            broker_id=broker.id,
            contract_id=contract.id,
            intermediary_org_id=intermediary,
            status="proposed",
            proposed_by=actor.user_id,
        )
        session.add(link)
    session.flush()
    _audit(
        session,
        actor,
        "broker_link",
        link.id,
        "propose",
        to_state="proposed",
        broker_id=broker.id,
        contract_id=contract.id,
    )
    notices.emit(
        session,
        contract.filer_org_id,
        "broker_link",
        link.id,
        f"技术经纪人待确认: {broker.name} · {contract.project_name}",
        {"broker_id": broker.id, "contract_id": contract.id, "status": "proposed"},
    )
    return link


def get_link(session: Session, link_id: int) -> BrokerLink:
    link = session.get(BrokerLink, link_id)
    if link is None:
        raise NotFound("no such broker link", code="broker_link_not_found")
    return link


def decide_link(session: Session, actor: Actor, link_id: int, accept: bool) -> BrokerLink:
    """The contract's filer confirms or rejects a proposed broker."""
    link = get_link(session, link_id)
    contract = session.get_one(Contract, link.contract_id)
    if actor.org_id != contract.filer_org_id or actor.role not in FILER_ROLES:
        raise Forbidden("only the contract's filer confirms its broker", code="not_contract_filer")
    if link.status != "proposed":
        raise InvalidState(f"the link is already {link.status}", code="invalid_state")
    if accept:  # employment may have been corrected since the proposal
        broker = get_broker(session, link.broker_id)
        try:
            rules.check_link(
                broker_status=broker.status,
                intermediary_org_id=link.intermediary_org_id,
                signing_date=contract.signing_date,
                stints=_stints(stints(session, broker.id)),
            )
        except rules.RuleViolation as exc:
            raise refusal(exc) from None
    new = "confirmed" if accept else "rejected"
    _audit(session, actor, "broker_link", link.id, "confirm" if accept else "reject", link.status, new)
    link.status, link.decided_by = new, actor.user_id
    notices.emit(
        session,
        link.intermediary_org_id,
        "broker_link",
        link.id,
        f"技术经纪人{'已确认' if accept else '被拒绝'}: {contract.project_name}",
        {"broker_id": link.broker_id, "contract_id": contract.id, "status": new},
    )
    session.flush()
    return link


def links_query(session: Session, actor: Actor, contract_id: int | None, broker_id: int | None) -> sa.Select:
    stmt = sa.select(BrokerLink).order_by(BrokerLink.id)
    if not actor.is_bureau:
        filed = sa.select(Contract.id).where(Contract.filer_org_id == actor.org_id)
        own = sa.select(Broker.id).where(Broker.user_id == actor.user_id)
        mine: list[sa.ColumnElement[bool]] = [BrokerLink.broker_id.in_(own)]
        if actor.role in INTERMEDIARY_ROLES:
            mine.append(BrokerLink.intermediary_org_id == actor.org_id)
        if actor.role in FILER_ROLES:
            mine.append(BrokerLink.contract_id.in_(filed))
        stmt = stmt.where(sa.or_(*mine))
    if contract_id:
        stmt = stmt.where(BrokerLink.contract_id == contract_id)
    if broker_id:
        stmt = stmt.where(BrokerLink.broker_id == broker_id)
    return stmt


# ---- listings brought in -------------------------------------------------------------------------

LISTING_MODELS: dict[str, type[Achievement] | type[Demand]] = {"achievement": Achievement, "demand": Demand}


def _listing(session: Session, listing_type: str, listing_id: int) -> Achievement | Demand | None:
    if listing_type == "achievement":
        return session.get(Achievement, listing_id)
    return session.get(Demand, listing_id)


def propose_listing(
    session: Session, actor: Actor, broker_id: int, listing_type: str, listing_id: int
) -> BrokerListing:
    """The broker's current intermediary records a demand or achievement the broker brought in; its owner confirms."""
    broker = get_broker(session, broker_id)
    current = current_employment(session, broker.id)
    if current is None or not _is_intermediary_staff(actor, current.intermediary_org_id):
        raise Forbidden(
            "only the broker's current intermediary records what they brought in", code="not_broker_manager"
        )
    if broker.status != "active":
        raise InvalidState(f"the broker is {broker.status}", code="broker_not_active")
    listing = _listing(session, listing_type, listing_id)
    if listing is None:
        raise NotFound(f"no such {listing_type}", code="listing_not_found")
    existing = session.scalar(
        sa.select(BrokerListing).where(
            BrokerListing.broker_id == broker.id,
            BrokerListing.listing_type == listing_type,
            BrokerListing.listing_id == listing_id,
        )
    )
    if existing is not None:
        raise InvalidState("this listing is already recorded for the broker", code="duplicate_link")
    row = BrokerListing(
        broker_id=broker.id,
        listing_type=listing_type,
        listing_id=listing_id,
        intermediary_org_id=current.intermediary_org_id,
        status="proposed",
        proposed_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    _audit(
        session, actor, "broker_listing", row.id, "propose", to_state="proposed", listing=f"{listing_type}:{listing_id}"
    )
    notices.emit(
        session,
        listing.org_id,
        "broker_listing",
        row.id,
        f"技术经纪人引入待确认: {broker.name}",
        {"broker_id": broker.id, "listing_type": listing_type, "listing_id": listing_id},
    )
    return row


def decide_listing(session: Session, actor: Actor, row_id: int, accept: bool) -> BrokerListing:
    row = session.get(BrokerListing, row_id)
    if row is None:
        raise NotFound("no such broker listing", code="broker_listing_not_found")
    listing = _listing(session, row.listing_type, row.listing_id)
    if listing is None or actor.org_id != listing.org_id or actor.role not in FILER_ROLES:
        raise Forbidden("only the listing's owner confirms who brought it in", code="not_listing_owner")
    if row.status != "proposed":
        raise InvalidState(f"already {row.status}", code="invalid_state")
    new = "confirmed" if accept else "rejected"
    _audit(session, actor, "broker_listing", row.id, "confirm" if accept else "reject", row.status, new)
    row.status, row.decided_by, row.decided_on = new, actor.user_id, today()
    session.flush()
    return row


def listings_query(actor: Actor, broker_id: int | None) -> sa.Select:
    stmt = sa.select(BrokerListing).order_by(BrokerListing.id)
    if not actor.is_bureau:
        own = sa.select(Broker.id).where(Broker.user_id == actor.user_id)
        mine: list[sa.ColumnElement[bool]] = [BrokerListing.broker_id.in_(own)]
        if actor.role in INTERMEDIARY_ROLES:
            mine.append(BrokerListing.intermediary_org_id == actor.org_id)
        if actor.role in FILER_ROLES:
            for kind, model in LISTING_MODELS.items():
                mine.append(
                    sa.and_(
                        BrokerListing.listing_type == kind,
                        BrokerListing.listing_id.in_(sa.select(model.id).where(model.org_id == actor.org_id)),
                    )
                )
        stmt = stmt.where(sa.or_(*mine))
    if broker_id:
        stmt = stmt.where(BrokerListing.broker_id == broker_id)
    return stmt


# ---- performance ----------------------------------------------------------------------------------


def weights_for(session: Session, year: int) -> dict[str, Decimal]:
    row = session.scalar(sa.select(BrokerPerformanceWeights).where(BrokerPerformanceWeights.year == year))
    if row is None:
        return dict(rules.DEFAULT_WEIGHTS)
    return {k: Decimal(v) for k, v in row.weights.items()}


def set_weights(session: Session, actor: Actor, year: int, weights: dict[str, Decimal]) -> dict[str, Decimal]:
    if actor.role not in BUREAU_MANAGERS:
        raise Forbidden("only the bureau sets performance weights", code="role_required")
    try:
        full = rules.check_weights(weights)
    except rules.RuleViolation as exc:
        raise refusal(exc) from None
    row = session.scalar(sa.select(BrokerPerformanceWeights).where(BrokerPerformanceWeights.year == year))
    stored = {k: str(v) for k, v in full.items()}
    if row is None:
        row = BrokerPerformanceWeights(year=year, weights=stored, set_by=actor.user_id)
        session.add(row)
    else:
        row.weights, row.set_by = stored, actor.user_id
    session.flush()
    _audit(session, actor, "broker_weights", row.id, "set", **stored)
    return full


def _deals(session: Session, start: dt.date, end: dt.date) -> list[tuple[BrokerLink, Contract]]:
    """Confirmed links on contracts signed in the period (refused and cancelled contracts never count)."""
    return list(
        session.execute(
            sa.select(BrokerLink, Contract)
            .join(Contract, Contract.id == BrokerLink.contract_id)
            .where(
                BrokerLink.status == "confirmed",
                Contract.signing_date >= start,
                Contract.signing_date <= end,
                Contract.status.not_in([ContractStatus.refused, ContractStatus.cancelled]),
            )
            .order_by(BrokerLink.id)
        )
    )


def tallies(session: Session, start: dt.date, end: dt.date, by: str) -> dict[int, rules.Tally]:
    """Per broker (by="broker") or per intermediary (by="intermediary"): deals, 成交额, 技术交易额 (registered only),
    listings brought in (confirmed in the period) and matches turned into contracts (deals on those listings, any time)."""
    brought = session.execute(sa.select(BrokerListing).where(BrokerListing.status == "confirmed")).scalars().all()
    by_broker: dict[int, set[tuple[str, int]]] = defaultdict(set)
    acc: dict[int, list] = defaultdict(lambda: [0, ZERO, ZERO, 0, 0])
    for row in brought:
        by_broker[row.broker_id].add((row.listing_type, row.listing_id))
        if row.decided_on is not None and start <= row.decided_on <= end:
            acc[row.broker_id if by == "broker" else row.intermediary_org_id][3] += 1
    for link, contract in _deals(session, start, end):
        key = link.broker_id if by == "broker" else link.intermediary_org_id
        acc[key][0] += 1
        acc[key][1] += contract.total_amount
        if contract.status == ContractStatus.registered:
            acc[key][2] += contract.technical_transaction_amount
        mine = by_broker.get(link.broker_id, set())
        if ("achievement", contract.achievement_id) in mine or ("demand", contract.demand_id) in mine:
            acc[key][4] += 1
    return {k: rules.Tally(v[0], v[1], v[2], v[3], v[4]) for k, v in acc.items()}


PERF_COLUMNS = [
    "rank",
    "id",
    "name",
    "deals",
    "total_amount",
    "technical_transaction_amount",
    "listings",
    "matches",
    "rewards",
    "performance_value",
    "points_deals",
    "points_total_amount",
    "points_technical_amount",
    "points_listings",
    "points_matches",
]


def performance(session: Session, actor: Actor, start: dt.date, end: dt.date, by: str) -> Table:
    """The ranking for a period: the bureau sees all, an intermediary its own rows, a broker their own."""
    if end < start:
        raise ValidationFailed.field("end", "invalid_period", "end must not be before start")
    weights = weights_for(session, end.year)
    counted = tallies(session, start, end, by)
    if by == "broker":
        names = dict(session.execute(sa.select(Broker.id, Broker.name).where(Broker.id.in_(set(counted) or {0}))).all())
    else:
        names = org_names(session, counted)
    rewards = subsidy.rewards_by(session, start, end, by)
    values = {k: rules.performance_value(t, weights) for k, t in counted.items()}
    ranks = rules.rank([(k, v[0]) for k, v in values.items()])
    visible = set(counted)
    if not actor.is_bureau:
        if by == "intermediary":
            visible = {actor.org_id} if actor.role in INTERMEDIARY_ROLES else set()
        else:
            own = {b for (b,) in session.execute(sa.select(Broker.id).where(Broker.user_id == actor.user_id))}
            staff = set()
            if actor.role in INTERMEDIARY_ROLES:
                staff = {
                    link.broker_id
                    for link, _ in _deals(session, start, end)
                    if link.intermediary_org_id == actor.org_id
                }
            visible = own | staff
    rows = []
    for key in sorted(counted, key=lambda k: (ranks[k], k)):
        if key not in visible:
            continue
        t, (value, parts) = counted[key], values[key]
        rows.append(
            {
                "rank": ranks[key],
                "id": key,
                "name": names.get(key, ""),
                "deals": t.deals,
                "total_amount": t.total_amount,
                "technical_transaction_amount": t.technical_amount,
                "listings": t.listings,
                "matches": t.matches,
                "rewards": rewards.get(key, Decimal("0.00")),
                "performance_value": value,
                "points_deals": Decimal(parts["deals"]),
                "points_total_amount": Decimal(parts["total_amount_wan"]),
                "points_technical_amount": Decimal(parts["technical_amount_wan"]),
                "points_listings": Decimal(parts["listings"]),
                "points_matches": Decimal(parts["matches"]),
            }
        )
    title = f"broker-performance-{by}-{start.isoformat()}-{end.isoformat()}"
    return Table(
        title=title,
        columns=PERF_COLUMNS,
        rows=rows,
        meta={
            "start": start.isoformat(),
            "end": end.isoformat(),
            "by": by,
            "weights": {k: str(v) for k, v in weights.items()},
        },
    )
