"""Subsidy services: policies and versions, loading contract facts, runs through approval, what-if, export."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.accounts.roles import ORG_ROLES
from market.contracts.models import Contract, ContractParty, ContractPayment
from market.core import audit, export, outbox, regions
from market.core.config import get_settings
from market.core.db import bulk_insert, session_scope, utcnow
from market.core.deps import Actor
from market.core.errors import Conflict, Forbidden, InvalidState, MarketError, NotFound, ValidationFailed
from market.filings.rules import level_in_force
from market.subsidies import calculator as calc
from market.subsidies import rules
from market.subsidies import settlement as settle
from market.subsidies.calculator import ContractFact, Party, Period, Policy, PolicyError, Recognition
from market.subsidies.models import (
    ComputeState,
    ContractRecognition,
    RunStatus,
    SubsidyExclusion,
    SubsidyPolicy,
    SubsidyPolicyVersion,
    SubsidyResult,
    SubsidyRun,
    SubsidyRunPolicy,
    VoucherRedemption,
)
from market.subsidies.presets import all_presets

log = logging.getLogger(__name__)
ZERO = Decimal(0)


def jurisdiction() -> str:
    """The deployment's city as a region prefix (330200 → 3302)."""
    return regions.region_prefix(regions.city_code(get_settings().region_code))


def require(actor: Actor, action: str) -> None:
    if actor.role not in rules.ACTION_ROLES[action]:
        raise Forbidden(f"your role may not {action} subsidies", code="subsidy_role_required")


# ---- policies -----------------------------------------------------------------------------------


def parse_policy(spec: dict[str, Any]) -> Policy:
    spec = spec | {"jurisdiction": spec.get("jurisdiction") or jurisdiction()}
    try:
        return calc.policy_from_dict(spec)
    except PolicyError as exc:
        raise ValidationFailed.field("policy", exc.code, exc.message) from exc


def ensure_presets(session: Session) -> None:
    """Install the shipped presets once (version 1 each); existing policies are left as edited."""
    have = set(session.scalars(sa.select(SubsidyPolicy.code)))
    for policy in all_presets(jurisdiction()):
        if policy.code in have:
            continue
        try:
            with session.begin_nested():  # two first requests at once: the loser's savepoint rolls back
                # Another city's preset ships disabled: it runs here only once adopted (a version for this city).
                row = SubsidyPolicy(
                    code=policy.code,
                    name=policy.name,
                    current_version=1,
                    is_preset=True,
                    active=policy.jurisdiction == jurisdiction(),
                )
                session.add(row)
                session.flush()
                session.add(SubsidyPolicyVersion(policy_id=row.id, version=1, spec=calc.policy_to_dict(policy)))
                session.flush()
        except sa.exc.IntegrityError:
            continue


def enabled(session: Session, policy: SubsidyPolicy) -> bool:
    """Active, and its current version is this deployment's rules (never another city's)."""
    return policy.active and current_version(session, policy).spec.get("jurisdiction") == jurisdiction()


def get_policy(session: Session, code: str) -> SubsidyPolicy:
    row = session.scalar(sa.select(SubsidyPolicy).where(SubsidyPolicy.code == code))
    if row is None:
        raise NotFound(f"no subsidy policy {code!r}", code="policy_not_found")
    return row


def current_version(session: Session, policy: SubsidyPolicy) -> SubsidyPolicyVersion:
    return session.scalars(
        sa.select(SubsidyPolicyVersion).where(
            SubsidyPolicyVersion.policy_id == policy.id, SubsidyPolicyVersion.version == policy.current_version
        )
    ).one()


def versions_of(session: Session, policy: SubsidyPolicy) -> list[SubsidyPolicyVersion]:
    return list(
        session.scalars(
            sa.select(SubsidyPolicyVersion)
            .where(SubsidyPolicyVersion.policy_id == policy.id)
            .order_by(SubsidyPolicyVersion.version)
        )
    )


def list_policies(session: Session) -> list[SubsidyPolicy]:
    ensure_presets(session)
    return list(session.scalars(sa.select(SubsidyPolicy).order_by(SubsidyPolicy.id)))


def create_policy(session: Session, actor: Actor, spec: dict[str, Any]) -> SubsidyPolicy:
    require(actor, "edit_policy")
    policy = parse_policy(spec)
    if session.scalar(sa.select(SubsidyPolicy.id).where(SubsidyPolicy.code == policy.code)):
        raise ValidationFailed.field("code", "policy_code_taken", f"a policy {policy.code!r} exists; edit it instead")
    row = SubsidyPolicy(
        code=policy.code, name=policy.name, current_version=1, active=policy.jurisdiction == jurisdiction()
    )
    session.add(row)
    session.flush()
    session.add(
        SubsidyPolicyVersion(policy_id=row.id, version=1, spec=calc.policy_to_dict(policy), created_by=actor.user_id)
    )
    audit.record(session, entity_type="subsidy_policy", entity_id=row.id, action="created", actor=actor)
    session.flush()
    return row


def edit_policy(session: Session, actor: Actor, code: str, spec: dict[str, Any]) -> SubsidyPolicyVersion:
    """Editing never changes a version: it adds the next one (runs keep pointing at theirs)."""
    require(actor, "edit_policy")
    row = get_policy(session, code)
    policy = parse_policy(spec | {"code": code})
    session.execute(sa.select(SubsidyPolicy.id).where(SubsidyPolicy.id == row.id).with_for_update())
    row.current_version += 1
    row.name = policy.name
    row.active = policy.jurisdiction == jurisdiction()
    version = SubsidyPolicyVersion(
        policy_id=row.id, version=row.current_version, spec=calc.policy_to_dict(policy), created_by=actor.user_id
    )
    session.add(version)
    audit.record(
        session,
        entity_type="subsidy_policy",
        entity_id=row.id,
        action="new_version",
        actor=actor,
        detail={"version": row.current_version},
    )
    session.flush()
    return version


# ---- contract facts (the only place that reads the contracts tables) -------------------------------

SUBSIDY_STATUSES = ("registered", "cancelled")


def _party(row: Any) -> Party:
    return Party(
        name=row.name,
        org_id=row.org_id,
        credit_code=row.credit_code,
        entity_type=row.entity_type_code or "",
        region=row.region_code or "",
        filing_level=row.filing_level,
        filing_date=row.filing_date,
    )


def activity_roots(session: Session) -> dict[int, int]:
    """Each re-registered contract's first registration: one deal is one activity, whatever its names."""
    links = dict(
        session.execute(
            sa.select(Contract.id, Contract.reregistration_of_id).where(Contract.reregistration_of_id.is_not(None))
        ).all()
    )
    roots = {}
    for cid in links:
        root, seen = cid, set()
        while root in links and root not in seen:
            seen.add(root)
            root = links[root]
        roots[cid] = root
    return roots


def load_facts(session: Session, period: Period) -> list[ContractFact]:
    """Contracts that earn in the period: registered (or cancelled) in it, or paid in it (paid-amount policies).

    Identity is the registration: a contract is its own activity, and a re-registration joins the
    activity of the registration it re-registers (never a match on names). A payment counts from the
    later of its receipt and the contract's registration; a reversing entry nets into the payment it reverses.
    """
    paid_in_period = sa.select(ContractPayment.contract_id).where(
        ContractPayment.received_on >= period.start, ContractPayment.received_on <= period.end
    )
    in_period = sa.and_(
        Contract.status.in_(SUBSIDY_STATUSES),
        Contract.registration_date <= period.end,
        sa.or_(Contract.registration_date >= period.start, Contract.id.in_(paid_in_period)),
    )
    parties: dict[int, dict[str, Any]] = defaultdict(dict)
    connection = session.connection()  # Core rows: no ORM bookkeeping for 100k+ plain tuples
    # A filing level typed on a profile or a contract is a claim: the level comes from the bureau's records below.
    party_rows = connection.execute(
        sa.select(
            ContractParty.contract_id,
            ContractParty.role,
            ContractParty.org_id,
            ContractParty.name,
            ContractParty.credit_code,
            ContractParty.entity_type_code,
            ContractParty.region_code,
            ContractParty.broker_name,
            sa.null().label("filing_level"),
            sa.null().label("filing_date"),
        )
        .join(Contract, Contract.id == ContractParty.contract_id)
        .where(in_period)
    )
    brokers: dict[int, str] = {}
    known: dict[tuple, Party] = {}  # one Party per distinct party as written: thousands of orgs, 100k+ rows
    for row in party_rows:
        contract_id, role, broker = row[0], row[1], row[7]
        ident = (row[2], row[3], row[4], row[5], row[6], row[8], row[9])
        party = known.get(ident)
        if party is None:
            party = known[ident] = _party(row)
        parties[contract_id][role] = party
        if broker:
            brokers[contract_id] = broker
    payments: dict[int, dict[int, list]] = defaultdict(dict)  # contract -> original payment -> [day, amount]
    for pid, cid, amount, received, reverses in connection.execute(
        sa.select(
            ContractPayment.id,
            ContractPayment.contract_id,
            ContractPayment.amount,
            ContractPayment.received_on,
            ContractPayment.reverses_payment_id,
        )
        .join(Contract, Contract.id == ContractPayment.contract_id)
        .where(in_period, ContractPayment.received_on <= period.end)
        .order_by(ContractPayment.id)
    ):
        entry = payments[cid].setdefault(reverses or pid, [received, ZERO])
        if reverses is None:
            entry[0] = received
        entry[1] += amount
    vouchers = set(
        connection.scalars(
            sa.select(VoucherRedemption.contract_id)
            .join(Contract, Contract.id == VoucherRedemption.contract_id)
            .where(in_period)
        )
    )
    recognised: dict[int, set[str]] = defaultdict(set)
    for cid, kind in connection.execute(
        sa.select(ContractRecognition.contract_id, ContractRecognition.kind)
        .join(Contract, Contract.id == ContractRecognition.contract_id)
        .where(in_period)
    ):
        recognised[cid].add(kind)
    roots = activity_roots(session)
    filed = filing_records(session)
    filed_party: dict[tuple, Party] = {}
    facts = []
    rows = connection.execute(
        sa.select(
            Contract.id,
            Contract.registration_number,
            Contract.contract_type,
            Contract.subtype,
            Contract.total_amount,
            Contract.technical_transaction_amount,
            Contract.registration_date,
            Contract.status,
            sa.case((Contract.achievement_link_confirmed_at.is_not(None), Contract.achievement_id)),
        )
        .where(in_period)
        .order_by(Contract.id)
    )
    empty: dict[str, Party] = {}
    for cid, number, ctype, subtype, total, technical, day, status, achievement in rows:
        p = parties.get(cid, empty)
        seller, buyer = p.get("seller"), p.get("buyer")
        inter = p.get("intermediary")
        if inter is not None and inter.org_id in filed:
            record = level_in_force(filed[inter.org_id], day)  # the level in force on the contract's date
            if record is not None:
                key = (inter, record.level, record.filed_on)
                if key not in filed_party:
                    filed_party[key] = dataclasses.replace(
                        inter, filing_level=record.level, filing_date=record.filed_on
                    )
                inter = filed_party[key]
        if seller is None or buyer is None:
            continue  # a registered contract always has both; a broken row earns nothing
        paid = payments.get(cid, {})
        facts.append(
            ContractFact(
                cid,
                number or "",
                ctype,
                subtype,
                seller,
                buyer,
                total,
                technical,
                sum((a for _, a in paid.values()), ZERO),
                day,
                inter,
                brokers.get(cid),
                "domestic_first" in recognised[cid],
                "first_set" in recognised[cid],
                cid in vouchers,
                achievement,
                status,
                f"contract:{roots.get(cid, cid)}",
                tuple((max(received, day), amount) for received, amount in paid.values() if amount != 0),
            )
        )
    return facts


def filing_records(session: Session) -> dict[int, list]:
    """The bureau's recorded intermediary filings by organisation (market.filings)."""
    from market.filings.service import records

    return records(session)


def load_recognitions(session: Session, period: Period) -> list[Recognition]:
    """Intermediaries newly filed at national / provincial level within the period, from the bureau's records."""
    recognised = [
        r
        for rs in filing_records(session).values()
        for r in rs
        if r.level in ("national", "provincial") and r.filed_on in period and r.revoked_on is None
    ]
    orgs = {
        o.id: o
        for o in session.scalars(sa.select(Organisation).where(Organisation.id.in_({r.org_id for r in recognised})))
    }
    return [
        Recognition(
            Party(
                orgs[r.org_id].name,
                org_id=r.org_id,
                credit_code=orgs[r.org_id].credit_code,
                entity_type=orgs[r.org_id].entity_type_code,
                region=orgs[r.org_id].region_code,
                filing_level=r.level,
                filing_date=r.filed_on,
            ),
            r.level,
            r.filed_on,
        )
        for r in recognised
    ]


def prior_transfer_values(session: Session, before: dt.date) -> dict[tuple[int, str], Decimal]:
    """Highest earlier transfer value of each achievement, per basis (the re-transfer high-water mark)."""
    paid = (
        sa.select(ContractPayment.contract_id, sa.func.sum(ContractPayment.amount).label("paid"))
        .group_by(ContractPayment.contract_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(Contract.achievement_id, Contract.total_amount, Contract.technical_transaction_amount, paid.c.paid)
        .outerjoin(paid, paid.c.contract_id == Contract.id)
        .where(
            Contract.achievement_id.is_not(None),
            Contract.achievement_link_confirmed_at.is_not(None),
            Contract.status == "registered",
            Contract.contract_type.in_(calc.TRANSFER_TYPES),
            Contract.registration_date < before,
        )
    )
    marks: dict[tuple[int, str], Decimal] = {}
    for a, total, technical, paid_amount in rows:
        for basis, value in (("total", total), ("technical", technical), ("paid", paid_amount or ZERO)):
            marks[(a, basis)] = max(marks.get((a, basis), ZERO), value)
    return marks


def load_books(session: Session, codes: Iterable[str], *, exclude_run: int | None = None) -> dict[str, settle.Books]:
    """Per policy code, the frozen runs' books: the periods they covered and what they settled, item by item."""
    codes = list(dict.fromkeys(codes))
    books = {code: settle.Books() for code in codes}
    periods = session.execute(
        sa.select(SubsidyPolicy.code, SubsidyRun.period_start, SubsidyRun.period_end)
        .join(SubsidyPolicyVersion, SubsidyPolicyVersion.policy_id == SubsidyPolicy.id)
        .join(SubsidyRunPolicy, SubsidyRunPolicy.policy_version_id == SubsidyPolicyVersion.id)
        .join(SubsidyRun, SubsidyRun.id == SubsidyRunPolicy.run_id)
        .where(
            SubsidyRun.status == RunStatus.frozen, SubsidyPolicy.code.in_(codes), SubsidyRun.id != (exclude_run or 0)
        )
    )
    for code, start, end in periods:
        books[code].add_period(Period(start, end))
    rows = session.execute(
        sa.select(
            SubsidyResult.policy_code,
            SubsidyResult.year,
            SubsidyRun.period_start,
            SubsidyResult.beneficiary_key,
            SubsidyResult.beneficiary_name,
            SubsidyResult.beneficiary_org_id,
            SubsidyResult.difference,
            SubsidyResult.working,
        )
        .join(SubsidyRun, SubsidyRun.id == SubsidyResult.run_id)
        .where(SubsidyRun.status == RunStatus.frozen, SubsidyResult.policy_code.in_(codes))
        .order_by(SubsidyResult.id)
    )
    for code, year, start, key, name, org_id, difference, working in rows:
        books[code].add(year or start.year, key, name, org_id, difference, _items(working))
    return books


def _items(working: dict) -> list[tuple[str, int | None, Decimal]]:
    if "settlement" in working:
        return [(i["item"], i["contract_id"], Decimal(i["difference"])) for i in settle.settlement_items(working)]
    # A result frozen before settlements were kept (0010): what it paid is each contribution and award.
    items = [(c["activity_id"], c["contract_id"], Decimal(c["paid"])) for c in working.get("contributions", [])]
    return items + [(settle.AWARD + a["filing_level"], None, Decimal(a["amount"])) for a in working.get("awards", [])]


# ---- runs ---------------------------------------------------------------------------------------


def get_run(session: Session, run_id: int, *, for_update: bool = False) -> SubsidyRun:
    stmt = sa.select(SubsidyRun).where(SubsidyRun.id == run_id)
    run = session.scalar(stmt.with_for_update() if for_update else stmt)
    if run is None:
        raise NotFound("no such subsidy run", code="run_not_found")
    return run


def run_policy_versions(session: Session, run_id: int) -> list[SubsidyPolicyVersion]:
    return list(
        session.scalars(
            sa.select(SubsidyPolicyVersion)
            .join(SubsidyRunPolicy, SubsidyRunPolicy.policy_version_id == SubsidyPolicyVersion.id)
            .where(SubsidyRunPolicy.run_id == run_id)
            .order_by(SubsidyPolicyVersion.id)
        )
    )


def create_run(
    session: Session,
    actor: Actor,
    *,
    period_start: dt.date,
    period_end: dt.date,
    policy_codes: Sequence[str] | None = None,
    name: str | None = None,
    corrects_run_id: int | None = None,
) -> SubsidyRun:
    """A draft run using the current version of each policy (all active ones when none are named)."""
    require(actor, "create")
    if period_end < period_start:
        raise ValidationFailed.field("period_end", "bad_period", "period_end is before period_start")
    if not settle.spans_one_year(Period(period_start, period_end)):
        raise ValidationFailed.field(
            "period_end",
            "period_spans_years",
            "a run covers one calendar year (caps are per year); run each year on its own",
        )
    ensure_presets(session)
    if policy_codes:
        policies = [get_policy(session, c) for c in dict.fromkeys(policy_codes)]
        for p in policies:
            if not enabled(session, p):
                raise ValidationFailed.field(
                    "policy_codes",
                    "policy_not_enabled",
                    f"{p.code} is not enabled for this deployment ({jurisdiction()}): another "
                    "city's rules run only once adopted as a version for this city",
                )
    else:
        active = sa.select(SubsidyPolicy).where(SubsidyPolicy.active).order_by(SubsidyPolicy.id)
        policies = [p for p in session.scalars(active) if enabled(session, p)]
    if corrects_run_id is not None:
        corrected = get_run(session, corrects_run_id)
        if corrected.status != RunStatus.frozen:
            raise InvalidState("only a frozen run is corrected by a new run", code="corrects_unfrozen_run")
    run = SubsidyRun(
        name=name or f"{period_start.isoformat()} – {period_end.isoformat()}",
        period_start=period_start,
        period_end=period_end,
        status=RunStatus.draft,
        compute_state=ComputeState.queued,
        progress_total=len(policies) + 1,
        corrects_run_id=corrects_run_id,
        created_by=actor.user_id,
    )
    session.add(run)
    session.flush()
    for p in policies:
        session.add(SubsidyRunPolicy(run_id=run.id, policy_version_id=current_version(session, p).id))
    audit.record(
        session, entity_type="subsidy_run", entity_id=run.id, action="created", actor=actor, to_state=run.status
    )
    session.flush()
    return run


def request_compute(session: Session, actor: Actor, run_id: int) -> SubsidyRun:
    """Queue a (re)computation; refused unless the run is a draft (a frozen run never changes)."""
    require(actor, "compute")
    run = get_run(session, run_id, for_update=True)
    _check_recomputable(run)
    if run.compute_state == ComputeState.computing and run.updated_at > utcnow() - STALE_COMPUTATION:
        raise InvalidState("the run is being computed; wait for it to finish", code="run_computing")
    # A computation silent for longer than STALE_COMPUTATION lost its worker: it may be queued again.
    before = run.compute_state
    run.compute_state = ComputeState.queued
    run.progress_done = 0
    session.flush()
    audit.record(
        session,
        entity_type="subsidy_run",
        entity_id=run.id,
        action="compute_requested",
        actor=actor,
        from_state=str(before),
        to_state=str(ComputeState.queued),
    )
    return run


# Each policy step commits its progress (bumping updated_at) within seconds even at 100k contracts.
STALE_COMPUTATION = dt.timedelta(minutes=10)


def _check_recomputable(run: SubsidyRun) -> None:
    if run.status == RunStatus.frozen:
        raise InvalidState("a frozen run never changes; start a new run to correct it", code="run_frozen")
    if not rules.can_recompute(run.status):
        raise InvalidState(f"a {run.status} run is not recomputed; reopen it first", code="run_not_draft")


# Outbox topic of queued computations: written with the run, drained by the worker (nudged after the
# commit, and swept by beat, so a run queued while Redis is down is computed once it is back or by the sweep).
COMPUTE_TOPIC = "subsidies.compute"
# The worker's task that drains it, by name (workers/subsidies.py registers it; market never imports workers).
COMPUTE_QUEUED_TASK = "market.subsidies.compute_queued"
outbox.route(COMPUTE_TOPIC, COMPUTE_QUEUED_TASK, "subsidies")


def enqueue_compute(session: Session, run_id: int) -> None:
    """Queue the computation durably, in the transaction that queued the run."""
    outbox.emit(session, COMPUTE_TOPIC, "subsidy_run", run_id)


def compute_queued(entity_type: str, run_id: int, _payload: object = None) -> None:
    """The COMPUTE_TOPIC handler: compute the run unless it is no longer waiting (a decision, not a failure)."""
    with session_scope() as s:
        run = s.get(SubsidyRun, run_id)
        if run is None or run.compute_state != ComputeState.queued or not rules.can_recompute(run.status):
            return
    try:
        compute_run(run_id)
    except MarketError as exc:
        log.warning("subsidy run %s not computed: %s (%s)", run_id, exc.message, exc.code)


def compute_run(run_id: int, *, batch: int = 5000) -> SubsidyRun:
    """Compute a draft run: policy by policy, each committed with its progress. Callable directly (tests)."""
    with session_scope() as s:
        run = get_run(s, run_id, for_update=True)
        _check_recomputable(run)
        run.compute_state = ComputeState.computing
        run.progress_done = 0
        run.error = None
        s.execute(sa.delete(SubsidyExclusion).where(SubsidyExclusion.run_id == run_id))
        s.execute(sa.delete(SubsidyResult).where(SubsidyResult.run_id == run_id))
        period = Period(run.period_start, run.period_end)
    # A run builds ~10⁶ short-lived objects and no garbage cycles worth collecting: without this the
    # cyclic GC rescans the growing heap again and again (≈ 30 % of the wall time at 100k contracts).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        year = Period.year(period.start.year)
        with session_scope() as s:
            versions = run_policy_versions(s, run_id)
            policies = [(v.id, calc.policy_from_dict(v.spec)) for v in versions]
            facts = load_facts(s, year)
            recognitions = load_recognitions(s, year)
            books = load_books(s, [p.code for _, p in policies], exclude_run=run_id)
            marks = prior_transfer_values(s, year.start)
            _progress(s, run_id, 1)
        grand_total = to_recover = ZERO
        prepared: dict = {}
        for i, (version_id, policy) in enumerate(policies, start=2):
            settlements, _, _ = settle.settle_policy(
                policy, facts, period, books[policy.code], recognitions, marks, prepared
            )
            with session_scope() as s:
                if get_run(s, run_id).status != RunStatus.draft:  # reviewed meanwhile: stop writing
                    raise InvalidState("the run left draft while computing", code="run_not_draft")
                _store(s, run_id, version_id, policy, settlements, batch)
                _progress(s, run_id, i)
            grand_total += sum((x.to_pay for x in settlements), ZERO)
            to_recover += sum((x.to_recover for x in settlements), ZERO)
        counted = {f.contract_id for p in prepared.values() for f in p.facts}
        with session_scope() as s:
            run = get_run(s, run_id, for_update=True)
            run.compute_state = ComputeState.computed
            run.total, run.to_recover = grand_total, to_recover
            run.contract_count = len(counted)
            run.computed_at = utcnow()
            audit.record(
                s,
                entity_type="subsidy_run",
                entity_id=run_id,
                action="computed",
                detail={"total": str(grand_total), "to_recover": str(to_recover)},
            )
            return run
    except Exception as exc:
        with session_scope() as s:
            run = get_run(s, run_id)
            if run.compute_state == ComputeState.computing:
                run.compute_state = ComputeState.failed
                run.error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        if gc_was_enabled:
            gc.enable()


def _progress(session: Session, run_id: int, done: int, contract_count: int | None = None) -> None:
    values: dict[str, Any] = {"progress_done": done}
    if contract_count is not None:
        values["contract_count"] = contract_count
    session.execute(sa.update(SubsidyRun).where(SubsidyRun.id == run_id).values(**values))


def _store(
    session: Session, run_id: int, version_id: int, policy: Policy, settlements: list[settle.Settlement], batch: int
) -> None:
    results, exclusions = [], []
    for x in settlements:
        r = x.result
        working = (
            calc.working_json(r, policy)
            if r is not None
            else {
                "policy": policy.code,
                "basis": policy.basis.value,
                "aggregation": policy.aggregation.value,
                "contributions": [],
                "awards": [],
                "exclusions": [],
                "total": "0.00",
            }
        )
        working["settlement"] = settle.settlement_json(x)
        results.append(
            {
                "run_id": run_id,
                "policy_version_id": version_id,
                "policy_code": policy.code,
                "beneficiary_key": x.key,
                "beneficiary_org_id": x.org_id,
                "beneficiary_name": x.name[:200],
                "basis_total": r.basis_total if r else ZERO,
                "before_caps": r.before_caps if r else ZERO,
                "contract_cap_cut": r.contract_cap_cut if r else ZERO,
                "year_cap_cut": r.year_cap_cut if r else ZERO,
                "awards": r.total - r.contract_amount if r else ZERO,
                "year": x.year,
                "due_total": x.due_now,
                "paid_before": x.paid_before,
                "difference": x.difference,
                "to_recover": x.to_recover,
                "total": x.to_pay,
                "contract_count": len(r.contributions) if r else 0,
                "excluded_count": len(r.exclusions) if r else 0,
                "working": working,
            }
        )
        if r is not None:
            exclusions.extend(
                {
                    "run_id": run_id,
                    "policy_version_id": version_id,
                    "contract_id": e.contract_id,
                    "beneficiary_key": e.beneficiary_key,
                    "reason": e.reason,
                }
                for e in r.exclusions
            )
    for rows, table in ((results, SubsidyResult), (exclusions, SubsidyExclusion)):
        for start in range(0, len(rows), batch):
            bulk_insert(session, table.__table__, rows[start : start + batch])


def _check_current(session: Session, run: SubsidyRun) -> None:
    """A run settles against the frozen runs it was computed with; one frozen since makes it outdated."""
    policy_ids = (
        sa.select(SubsidyPolicyVersion.policy_id)
        .join(SubsidyRunPolicy, SubsidyRunPolicy.policy_version_id == SubsidyPolicyVersion.id)
        .where(SubsidyRunPolicy.run_id == run.id)
    )
    year = run.period_start.year
    newer = session.scalar(
        sa.select(SubsidyRun.id)
        .join(SubsidyRunPolicy, SubsidyRunPolicy.run_id == SubsidyRun.id)
        .join(SubsidyPolicyVersion, SubsidyPolicyVersion.id == SubsidyRunPolicy.policy_version_id)
        .where(
            SubsidyRun.id != run.id,
            SubsidyRun.status == RunStatus.frozen,
            SubsidyRun.frozen_at > run.computed_at,
            SubsidyRun.period_start <= dt.date(year, 12, 31),
            SubsidyRun.period_end >= dt.date(year, 1, 1),
            SubsidyPolicyVersion.policy_id.in_(policy_ids),
        )
        .limit(1)
    )
    if newer is not None:
        raise InvalidState(
            f"run {newer} was frozen after this run was computed; reopen and recompute it", code="run_outdated"
        )


def transition(session: Session, actor: Actor, run_id: int, action: str) -> SubsidyRun:
    """Review, reopen, approve or freeze a run (the pure rules decide, this records)."""
    if action not in rules.ACTION_ROLES or action not in rules.TRANSITIONS:
        raise NotFound(f"unknown action {action!r}", code="unknown_action")
    require(actor, action)
    run = get_run(session, run_id, for_update=True)
    try:
        to = rules.next_status(action, run.status, run.compute_state)
    except rules.TransitionError as exc:
        raise InvalidState(exc.message, code=exc.code) from exc
    if action == "approve" and not rules.four_eyes(run.reviewed_by, actor.user_id):
        raise Forbidden("the reviewer may not also approve the run", code="four_eyes")
    if action == "freeze":
        # Frozen runs are settled one at a time: the lock orders concurrent freezes, the check refuses a stale one.
        session.execute(sa.select(SubsidyPolicy.id).order_by(SubsidyPolicy.id).with_for_update())
        _check_current(session, run)
    before, now = run.status, utcnow()
    run.status = to
    if action == "review":
        run.reviewed_by, run.reviewed_at = actor.user_id, now
    elif action == "approve":
        run.approved_by, run.approved_at = actor.user_id, now
    elif action == "freeze":
        run.frozen_by, run.frozen_at = actor.user_id, now
    elif action == "reopen":
        run.reviewed_by = run.reviewed_at = run.approved_by = run.approved_at = None
    audit.record(
        session, entity_type="subsidy_run", entity_id=run.id, action=action, actor=actor, from_state=before, to_state=to
    )
    session.flush()
    return run


# ---- reading results ----------------------------------------------------------------------------


def _require_reader(actor: Actor) -> None:
    """Bureau staff read everything; an organisation's own people read its results; nobody else (experts)."""
    if not actor.is_bureau and actor.role not in ORG_ROLES:
        raise Forbidden("subsidy results are for the bureau and the beneficiary organisation", code="not_a_beneficiary")


def visible_run(session: Session, actor: Actor, run_id: int) -> SubsidyRun:
    _require_reader(actor)
    run = get_run(session, run_id)
    if not actor.is_bureau and run.status not in rules.VISIBLE_TO_BENEFICIARIES:
        raise NotFound("no such subsidy run", code="run_not_found")  # drafts do not exist for outsiders
    return run


def runs_query(actor: Actor) -> sa.Select:
    _require_reader(actor)
    stmt = sa.select(SubsidyRun).order_by(SubsidyRun.id.desc())
    if not actor.is_bureau:
        stmt = stmt.where(SubsidyRun.status.in_(rules.VISIBLE_TO_BENEFICIARIES))
    return stmt


def results_query(
    actor: Actor, run: SubsidyRun, *, policy_code: str | None = None, org_id: int | None = None
) -> sa.Select:
    stmt = sa.select(SubsidyResult).where(SubsidyResult.run_id == run.id)
    if not actor.is_bureau:
        stmt = stmt.where(SubsidyResult.beneficiary_org_id == actor.org_id)
    elif org_id is not None:
        stmt = stmt.where(SubsidyResult.beneficiary_org_id == org_id)
    if policy_code:
        stmt = stmt.where(SubsidyResult.policy_code == policy_code)
    return stmt.order_by(SubsidyResult.policy_code, SubsidyResult.total.desc(), SubsidyResult.id)


def get_result(session: Session, actor: Actor, result_id: int) -> SubsidyResult:
    result = session.get(SubsidyResult, result_id)
    if result is None:
        raise NotFound("no such result", code="result_not_found")
    visible_run(session, actor, result.run_id)
    if not actor.is_bureau and result.beneficiary_org_id != actor.org_id:
        raise NotFound("no such result", code="result_not_found")
    return result


def my_results(session: Session, actor: Actor) -> list[SubsidyResult]:
    """An organisation's own results in every approved or frozen run."""
    _require_reader(actor)
    return list(
        session.scalars(
            sa.select(SubsidyResult)
            .join(SubsidyRun, SubsidyRun.id == SubsidyResult.run_id)
            .where(
                SubsidyResult.beneficiary_org_id == actor.org_id, SubsidyRun.status.in_(rules.VISIBLE_TO_BENEFICIARIES)
            )
            .order_by(SubsidyRun.period_start.desc(), SubsidyResult.policy_code)
        )
    )


def exclusions_of_contract(session: Session, actor: Actor, run_id: int, contract_id: int) -> list[SubsidyExclusion]:
    if not actor.is_bureau:
        raise Forbidden("exclusions are for bureau staff; beneficiaries read them in their working", code="bureau_only")
    get_run(session, run_id)
    return list(
        session.scalars(
            sa.select(SubsidyExclusion)
            .where(SubsidyExclusion.run_id == run_id, SubsidyExclusion.contract_id == contract_id)
            .order_by(SubsidyExclusion.id)
        )
    )


def totals_by_key(session: Session, run_id: int) -> dict[tuple[str, str], tuple[str, Decimal]]:
    rows = session.execute(
        sa.select(
            SubsidyResult.policy_code,
            SubsidyResult.beneficiary_key,
            SubsidyResult.beneficiary_name,
            SubsidyResult.due_total,
        ).where(SubsidyResult.run_id == run_id)
    )
    return {(code, key): (name, total) for code, key, name, total in rows}


def diff(
    old: dict[tuple[str, str], tuple[str, Decimal]], new: dict[tuple[str, str], tuple[str, Decimal]]
) -> list[dict[str, Any]]:
    """Per policy and beneficiary: what changed between two sets of totals (unchanged rows left out)."""
    out = []
    for key in sorted(set(old) | set(new)):
        was = old.get(key, ("", ZERO))[1]
        now = new.get(key, ("", ZERO))[1]
        if was != now:
            name = (new.get(key) or old.get(key))[0]
            out.append(
                {
                    "policy_code": key[0],
                    "beneficiary_key": key[1],
                    "beneficiary_name": name,
                    "before": was,
                    "after": now,
                    "change": now - was,
                }
            )
    return out


def run_diff(session: Session, actor: Actor, run_id: int, against: int | None = None) -> dict[str, Any]:
    """Per beneficiary: paid before (frozen runs) / due now / difference; or, with `against`, two runs' dues."""
    if not actor.is_bureau:
        raise Forbidden("run differences are for bureau staff", code="bureau_only")
    run = get_run(session, run_id)
    if against is None:
        rows = session.scalars(
            sa.select(SubsidyResult)
            .where(SubsidyResult.run_id == run.id, SubsidyResult.difference != 0)
            .order_by(SubsidyResult.policy_code, SubsidyResult.beneficiary_key)
        ).all()
        changes = [
            {
                "policy_code": r.policy_code,
                "beneficiary_key": r.beneficiary_key,
                "beneficiary_name": r.beneficiary_name,
                "before": r.paid_before,
                "after": r.due_total,
                "change": r.difference,
                "paid_before": r.paid_before,
                "due_now": r.due_total,
                "difference": r.difference,
                "to_pay": r.total,
                "to_recover": r.to_recover,
            }
            for r in rows
        ]
        before = sum((c["paid_before"] for c in changes), ZERO)
        after = sum((c["due_now"] for c in changes), ZERO)
        return {
            "run_id": run.id,
            "against_run_id": run.corrects_run_id,
            "total_before": before,
            "total_after": after,
            "change": after - before,
            "to_pay": run.total,
            "to_recover": run.to_recover,
            "changes": changes,
        }
    other = get_run(session, against)
    changes = diff(totals_by_key(session, other.id), totals_by_key(session, run.id))
    old, new = (sum((v for _, v in totals_by_key(session, x).values()), ZERO) for x in (other.id, run.id))
    return {
        "run_id": run.id,
        "against_run_id": other.id,
        "total_before": old,
        "total_after": new,
        "change": new - old,
        "to_pay": run.total,
        "to_recover": run.to_recover,
        "changes": changes,
    }


# ---- what-if: a draft policy against a past period, nothing stored ---------------------------------


def what_if(
    session: Session, actor: Actor, spec: dict[str, Any], period: Period, *, limit: int = 200
) -> dict[str, Any]:
    """Compute an unsaved policy over a period; compare with the current version of the same code if any."""
    require(actor, "edit_policy")
    draft = parse_policy(spec)
    if not settle.spans_one_year(period):
        raise ValidationFailed.field("period_end", "period_spans_years", "a what-if covers one calendar year")
    year = Period.year(period.start.year)
    coverage = settle.Coverage(year.start.year, (period,))
    facts = settle.facts_in(draft.basis, load_facts(session, year), coverage)
    recognitions = load_recognitions(session, year)
    history = load_books(session, [draft.code])[draft.code].history(
        year.start.year, prior_transfer_values(session, year.start)
    )
    new = calc.compute(draft, facts, coverage, history, recognitions)
    existing = session.scalar(sa.select(SubsidyPolicy).where(SubsidyPolicy.code == draft.code))
    old_totals: dict[tuple[str, str], tuple[str, Decimal]] = {}
    old_total = ZERO
    if existing is not None:
        current = calc.policy_from_dict(current_version(session, existing).spec)
        old = calc.compute(
            current,
            settle.facts_in(current.basis, load_facts(session, year), coverage),
            coverage,
            history,
            recognitions,
        )
        old_totals = {(draft.code, r.key): (r.name, r.total) for r in old.results}
        old_total = old.total
    new_totals = {(draft.code, r.key): (r.name, r.total) for r in new.results}
    changes = diff(old_totals, new_totals)
    return {
        "policy_code": draft.code,
        "period_start": period.start,
        "period_end": period.end,
        "contracts": len(facts),
        "total": new.total,
        "current_total": old_total if existing is not None else None,
        "change": new.total - old_total,
        "beneficiaries_paid": sum(1 for r in new.results if r.total > 0),
        "changes": changes[:limit],
        "changes_truncated": len(changes) > limit,
    }


# ---- 创新券 redemptions ------------------------------------------------------------------------


def record_voucher(session: Session, actor: Actor, contract_id: int) -> VoucherRedemption:
    require(actor, "edit_policy")
    if session.get(Contract, contract_id) is None:
        raise NotFound("no such contract", code="contract_not_found")
    existing = session.scalar(sa.select(VoucherRedemption).where(VoucherRedemption.contract_id == contract_id))
    if existing is not None:
        return existing
    row = VoucherRedemption(contract_id=contract_id, recorded_by=actor.user_id)
    session.add(row)
    audit.record(session, entity_type="contract", entity_id=contract_id, action="voucher_redemption", actor=actor)
    session.flush()
    return row


# ---- export -------------------------------------------------------------------------------------

EXPORT_HEADER = [
    "run_id",
    "policy_code",
    "policy_version",
    "beneficiary",
    "beneficiary_org_id",
    "basis_total",
    "before_caps",
    "contract_cap_cut",
    "year_cap_cut",
    "awards",
    "total",
    "contracts",
    "excluded",
]
EXPORT_HEADER_ZH = [
    "批次",
    "政策",
    "政策版本",
    "受益方",
    "机构ID",
    "计补基数",
    "封顶前",
    "单合同封顶扣减",
    "年度封顶扣减",
    "一次性奖励",
    "补助金额",
    "合同数",
    "排除数",
]
DETAIL_HEADER = [
    "政策",
    "受益方",
    "合同ID",
    "登记号",
    "基数",
    "计补额(增值)",
    "前次转让额",
    "封顶前",
    "单合同封顶扣减",
    "年度封顶扣减",
    "补助",
]


def export_rows(session: Session, actor: Actor, run: SubsidyRun) -> Iterable[list[Any]]:
    version_numbers = dict(session.execute(sa.select(SubsidyPolicyVersion.id, SubsidyPolicyVersion.version)).all())
    for r in session.scalars(results_query(actor, run)):
        yield [
            run.id,
            r.policy_code,
            version_numbers.get(r.policy_version_id),
            r.beneficiary_name,
            r.beneficiary_org_id,
            r.basis_total,
            r.before_caps,
            r.contract_cap_cut,
            r.year_cap_cut,
            r.awards,
            r.total,
            r.contract_count,
            r.excluded_count,
        ]


def export_csv(session: Session, actor: Actor, run_id: int) -> bytes:
    run = visible_run(session, actor, run_id)
    return export.to_csv(EXPORT_HEADER, export_rows(session, actor, run))


def export_xlsx(session: Session, actor: Actor, run_id: int) -> bytes:
    """Two sheets: 汇总 (one row per beneficiary and policy) and 明细 (one row per contributing contract)."""
    run = visible_run(session, actor, run_id)

    def detail_rows() -> Iterable[list[Any]]:
        for r in session.scalars(results_query(actor, run)):
            for c in r.working.get("contributions", []):
                amounts = [
                    c[k]
                    for k in (
                        "basis_amount",
                        "counted_amount",
                        "prior_transfer_value",
                        "amount",
                        "contract_cap_cut",
                        "year_cap_cut",
                        "paid",
                    )
                ]
                yield [
                    r.policy_code,
                    r.beneficiary_name,
                    c["contract_id"],
                    c["registration_number"],
                    *(None if a is None else Decimal(a) for a in amounts),
                ]

    # Decimal cells: written as exact numbers.
    return export.to_xlsx(
        [
            export.Sheet("汇总", EXPORT_HEADER_ZH, export_rows(session, actor, run)),
            export.Sheet("明细", DETAIL_HEADER, detail_rows()),
        ]
    )


# ---- recognitions that change payouts (国内首创 / 首台套) -----------------------------------------------

RECOGNITION_KINDS = ("domestic_first", "first_set")


def record_recognition(
    session: Session, actor: Actor, contract_id: int, kind: str, document_reference: str
) -> ContractRecognition:
    """Bureau staff record a recognition with its document; until then the filer's flag is only a claim."""
    require(actor, "record_recognition")
    if kind not in RECOGNITION_KINDS:
        raise ValidationFailed.field(
            "kind", "unknown_recognition", "kind is domestic_first (国内首创) or first_set (首台套)"
        )
    if session.get(Contract, contract_id) is None:
        raise NotFound("no such contract", code="contract_not_found")
    existing = session.scalar(
        sa.select(ContractRecognition).where(
            ContractRecognition.contract_id == contract_id, ContractRecognition.kind == kind
        )
    )
    if existing is not None:
        raise Conflict("this recognition is already recorded", code="recognition_recorded")
    row = ContractRecognition(
        contract_id=contract_id, kind=kind, document_reference=document_reference, recorded_by=actor.user_id
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity_type="contract",
        entity_id=contract_id,
        action="recognition_recorded",
        actor=actor,
        detail={"kind": kind, "document_reference": document_reference},
    )
    return row
