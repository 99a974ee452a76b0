"""Computing a run: the one multi-transaction workflow of subsidies, called by the worker (and by tests directly).

Why a flow and not a service: a run at 100k contracts takes seconds per policy, so each policy's results are
committed with the run's progress as it finishes (the bureau watches it move, and a stale computation is told
apart from a slow one); a service only flushes into its caller's transaction and could not do that.
"""

from __future__ import annotations

import gc
import logging
from decimal import Decimal

import sqlalchemy as sa

from market.core import audit
from market.core.db import session_scope, utcnow
from market.core.errors import InvalidState, MarketError
from market.subsidies import calculator as calc
from market.subsidies import rules, service
from market.subsidies import settlement as settle
from market.subsidies.calculator import Period
from market.subsidies.models import ComputeState, RunStatus, SubsidyExclusion, SubsidyResult, SubsidyRun

log = logging.getLogger(__name__)
ZERO = Decimal(0)


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
    """Compute a draft run: load every source's facts once, then policy by policy, each committed with its progress."""
    with session_scope() as s:
        run = service.get_run(s, run_id, for_update=True)
        service.check_recomputable(run)
        run.compute_state = ComputeState.computing
        run.progress_done = 0
        run.error = None
        s.execute(sa.delete(SubsidyExclusion).where(SubsidyExclusion.run_id == run_id))
        s.execute(sa.delete(SubsidyResult).where(SubsidyResult.run_id == run_id))
        period = Period(run.period_start, run.period_end)
    frozen = False
    try:
        year = Period.year(period.start.year)
        with session_scope(write=False) as s:
            versions = service.run_policy_versions(s, run_id)
            policies = [(v.id, calc.policy_from_dict(v.spec)) for v in versions]
            facts = service.load_facts(s, year)
            recognitions = service.load_recognitions(s, year)
            books = service.load_books(s, [p.code for _, p in policies], exclude_run=run_id)
            marks = service.prior_transfer_values(s, year.start)
        # The loaded year (~10⁶ long-lived objects) is moved out of the collector's sight for the computation, so
        # each full collection no longer rescans it (gc.freeze: collection stays on for everything made after).
        gc.freeze()
        frozen = True
        with session_scope() as s:
            service.progress(s, run_id, 1)
        grand_total = to_recover = ZERO
        prepared: dict = {}
        for i, (version_id, policy) in enumerate(policies, start=2):
            settlements, _, _ = settle.settle_policy(
                policy, facts, period, books[policy.code], recognitions, marks, prepared
            )
            with session_scope() as s:
                if service.get_run(s, run_id).status != RunStatus.draft:  # reviewed meanwhile: stop writing
                    raise InvalidState("the run left draft while computing", code="run_not_draft")
                service.store(s, run_id, version_id, policy, settlements, batch)
                service.progress(s, run_id, i)
            grand_total += sum((x.to_pay for x in settlements), ZERO)
            to_recover += sum((x.to_recover for x in settlements), ZERO)
        counted = {f.contract_id for p in prepared.values() for f in p.facts}
        with session_scope() as s:
            run = service.get_run(s, run_id, for_update=True)
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
            run = service.get_run(s, run_id)
            if run.compute_state == ComputeState.computing:
                run.compute_state = ComputeState.failed
                run.error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        if frozen:
            gc.unfreeze()
