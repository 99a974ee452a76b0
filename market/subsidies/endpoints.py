"""HTTP endpoints of subsidies: policies and versions, what-if, runs through approval, results, export."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Response, status

from market.auth.dependencies import BureauActor, CurrentActor
from market.core.deps import SessionDep
from market.core.pagination import Page, PageDep, paginate
from market.subsidies import service
from market.subsidies.calculator import REASON_MESSAGES, Period, explain
from market.subsidies.models import SubsidyPolicy, SubsidyRun
from market.subsidies.schemas import (
    DiffOut,
    ExclusionOut,
    PolicyDetail,
    PolicyEdit,
    PolicyOut,
    PolicySpec,
    PolicyVersionOut,
    RecognitionIn,
    ResultDetail,
    ResultOut,
    RunIn,
    RunOut,
    RunPolicyOut,
    VoucherIn,
    WhatIfIn,
    WhatIfOut,
)
from market.subsidies.settlement import settlement_items

router = APIRouter(prefix="/api/v1/subsidies", tags=["subsidies 补助"])


def _policy_out(session, row: SubsidyPolicy) -> PolicyOut:
    return PolicyOut(
        code=row.code,
        name=row.name,
        current_version=row.current_version,
        is_preset=row.is_preset,
        active=row.active,
        spec=service.current_version(session, row).spec,
    )


def _run_out(session, run: SubsidyRun) -> RunOut:
    out = RunOut.model_validate(run)
    codes = dict(session.execute(sa.select(SubsidyPolicy.id, SubsidyPolicy.code)).all())
    out.policies = [
        RunPolicyOut(code=codes[v.policy_id], version=v.version, policy_version_id=v.id)
        for v in service.run_policy_versions(session, run.id)
    ]
    return out


@router.get("/policies", response_model=list[PolicyOut], summary="Subsidy policies (presets included)")
def list_policies(session: SessionDep, actor: BureauActor) -> list[PolicyOut]:
    return [_policy_out(session, p) for p in service.list_policies(session)]


@router.post("/policies", response_model=PolicyOut, status_code=status.HTTP_201_CREATED)
def create_policy(body: PolicySpec, session: SessionDep, actor: BureauActor) -> PolicyOut:
    return _policy_out(session, service.create_policy(session, actor, body.as_dict()))


@router.get("/policies/{code}", response_model=PolicyDetail)
def get_policy(code: str, session: SessionDep, actor: BureauActor) -> PolicyDetail:
    service.ensure_presets(session)
    row = service.get_policy(session, code)
    base = _policy_out(session, row)
    versions = [PolicyVersionOut.model_validate(v) for v in service.versions_of(session, row)]
    return PolicyDetail(**base.model_dump(), versions=versions)


@router.put("/policies/{code}", response_model=PolicyVersionOut, summary="Edit a policy: adds a new version")
def edit_policy(code: str, body: PolicyEdit, session: SessionDep, actor: BureauActor) -> PolicyVersionOut:
    service.ensure_presets(session)
    return PolicyVersionOut.model_validate(service.edit_policy(session, actor, code, body.as_dict()))


@router.post(
    "/what-if", response_model=WhatIfOut, summary="Compute an unsaved policy over a past period (nothing stored)"
)
def what_if(body: WhatIfIn, session: SessionDep, actor: BureauActor) -> WhatIfOut:
    period = Period(body.period_start, body.period_end)
    return WhatIfOut(**service.what_if(session, actor, body.policy.as_dict(), period))


@router.post(
    "/runs",
    response_model=RunOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Create a run and queue its computation",
)
def create_run(body: RunIn, session: SessionDep, actor: BureauActor) -> RunOut:
    run = service.create_run(
        session,
        actor,
        period_start=body.period_start,
        period_end=body.period_end,
        policy_codes=body.policy_codes,
        name=body.name,
        corrects_run_id=body.corrects_run_id,
    )
    service.enqueue_compute(session, run.id)
    return _run_out(session, run)


@router.get("/runs", response_model=Page[RunOut], summary="Runs (beneficiaries see approved and frozen ones)")
def list_runs(session: SessionDep, actor: CurrentActor, page: PageDep) -> Page[RunOut]:
    rows, total = paginate(session, service.runs_query(actor), page)
    return Page(items=[_run_out(session, r) for r in rows], total=total, page=page.page, page_size=page.page_size)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: int, session: SessionDep, actor: CurrentActor) -> RunOut:
    return _run_out(session, service.visible_run(session, actor, run_id))


@router.post(
    "/runs/{run_id}/compute",
    response_model=RunOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Recompute a draft run (a frozen run never changes)",
)
def recompute(run_id: int, session: SessionDep, actor: BureauActor) -> RunOut:
    run = service.request_compute(session, actor, run_id)
    service.enqueue_compute(session, run.id)
    return _run_out(session, run)


@router.post("/runs/{run_id}/{action}", response_model=RunOut, summary="review / reopen / approve / freeze")
def act(
    run_id: int, action: Literal["review", "reopen", "approve", "freeze"], session: SessionDep, actor: BureauActor
) -> RunOut:
    return _run_out(session, service.transition(session, actor, run_id, action))


@router.get(
    "/runs/{run_id}/results",
    response_model=Page[ResultOut],
    summary="Per-beneficiary results (yours only unless bureau)",
)
def run_results(
    run_id: int,
    session: SessionDep,
    actor: CurrentActor,
    page: PageDep,
    policy_code: str | None = None,
    org_id: int | None = None,
) -> Page[ResultOut]:
    run = service.visible_run(session, actor, run_id)
    rows, total = paginate(session, service.results_query(actor, run, policy_code=policy_code, org_id=org_id), page)
    return Page(
        items=[ResultOut.model_validate(r) for r in rows], total=total, page=page.page, page_size=page.page_size
    )


@router.get("/results/{result_id}", response_model=ResultDetail, summary="One result with its full working")
def result_detail(result_id: int, session: SessionDep, actor: CurrentActor) -> ResultDetail:
    return _detail(service.get_result(session, actor, result_id))


def _detail(result) -> ResultDetail:
    out = ResultDetail.model_validate(result)
    out.working = explain(result.working)
    if "settlement" in out.working:  # stored compactly; shown item by item
        out.working["settlement"] = out.working["settlement"] | {"items": settlement_items(result.working)}
    return out


@router.get("/my-results", response_model=list[ResultDetail], summary="Your organisation's approved results")
def my_results(session: SessionDep, actor: CurrentActor) -> list[ResultDetail]:
    return [_detail(r) for r in service.my_results(session, actor)]


@router.get(
    "/runs/{run_id}/diff", response_model=DiffOut, summary="What a correction run changes against the frozen run"
)
def run_diff(run_id: int, session: SessionDep, actor: BureauActor, against: int | None = None) -> DiffOut:
    return DiffOut(**service.run_diff(session, actor, run_id, against))


@router.get("/runs/{run_id}/exclusions", response_model=list[ExclusionOut], summary="Why a contract was excluded")
def exclusions(
    run_id: int, contract_id: Annotated[int, Query()], session: SessionDep, actor: BureauActor
) -> list[ExclusionOut]:
    return [
        ExclusionOut(
            policy_version_id=e.policy_version_id,
            contract_id=e.contract_id,
            beneficiary_key=e.beneficiary_key,
            reason=e.reason,
            message=REASON_MESSAGES.get(e.reason, e.reason),
        )
        for e in service.exclusions_of_contract(session, actor, run_id, contract_id)
    ]


@router.get("/runs/{run_id}/export.csv", response_class=Response, summary="Results as CSV")
def export_csv(run_id: int, session: SessionDep, actor: CurrentActor) -> Response:
    body = service.export_csv(session, actor, run_id)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subsidy-run-{run_id}.csv"'},
    )


@router.get("/runs/{run_id}/export.xlsx", response_class=Response, summary="Results as XLSX (汇总 + 明细)")
def export_xlsx(run_id: int, session: SessionDep, actor: CurrentActor) -> Response:
    body = service.export_xlsx(session, actor, run_id)
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="subsidy-run-{run_id}.xlsx"'},
    )


@router.post("/vouchers", status_code=status.HTTP_201_CREATED, summary="Record a contract's 创新券 redemption")
def record_voucher(body: VoucherIn, session: SessionDep, actor: BureauActor) -> dict[str, int]:
    row = service.record_voucher(session, actor, body.contract_id)
    return {"id": row.id, "contract_id": row.contract_id}


@router.post("/recognitions", status_code=status.HTTP_201_CREATED, summary="Record 国内首创 / 首台套 with its document")
def record_recognition(body: RecognitionIn, session: SessionDep, actor: BureauActor) -> dict[str, int | str]:
    row = service.record_recognition(session, actor, body.contract_id, body.kind, body.document_reference)
    return {
        "id": row.id,
        "contract_id": row.contract_id,
        "kind": row.kind,
        "document_reference": row.document_reference,
    }
