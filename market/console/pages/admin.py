"""Console pages of the bureau's administration: organisations to verify, intermediary filings, users and
roles, subsidy policies and runs (results with their working, a correction's diff, four-eyes approval, export).

Each action is the service call the API endpoint makes (`market.accounts.service`, `market.filings.service`,
`market.subsidies.service`), parsed by the API's schema; the services decide who may do what.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from market.accounts import service as accounts
from market.accounts.models import Organisation, User
from market.accounts.roles import BUREAU_ROLES, Role
from market.accounts.schemas import UserIn, VerificationIn
from market.auth.actor import Actor
from market.console.acting import form_values, parse, text
from market.console.auth import AdminUser, BureauUser
from market.console.menu import MenuItem
from market.console.web import ConsoleRoute, FormErrors, attempt, redirect, render
from market.core.deps import SessionDep
from market.core.errors import MarketError, ValidationFailed
from market.core.vocab import TECHNICAL_FIELD_LABELS, OrgKind
from market.filings import rules as filing_rules
from market.filings import service as filings
from market.filings.models import FilingStatus, IntermediaryFiling
from market.filings.schemas import RecordIn, RejectIn
from market.subsidies import rules as subsidy_rules
from market.subsidies import service as subsidies
from market.subsidies.calculator import explain
from market.subsidies.models import ComputeState, RunStatus, SubsidyPolicy, SubsidyRun
from market.subsidies.schemas import PolicyEdit, RunIn
from market.subsidies.settlement import settlement_items

router = APIRouter(route_class=ConsoleRoute)
ADMIN = "/console/admin"
MENU = [
    MenuItem("机构核验", f"{ADMIN}/organisations", BUREAU_ROLES, group="科技局管理", order=60),
    MenuItem("中介机构备案", f"{ADMIN}/filings", BUREAU_ROLES, group="科技局管理", order=61),
    MenuItem("用户与角色", f"{ADMIN}/users", frozenset({Role.bureau_admin}), group="科技局管理", order=62),
    MenuItem("补助政策与核算", f"{ADMIN}/subsidies", BUREAU_ROLES, group="科技局管理", order=63),
]

ROLE_LABELS = {
    Role.bureau_admin: "科技局管理员",
    Role.registrar: "登记员",
    Role.programme_officer: "项目主管",
    Role.expert: "评审专家",
    Role.org_admin: "机构管理员",
    Role.member: "机构成员",
}
VERIFICATION_LABELS = {"pending": "待核验", "disputed": "信用代码争议", "verified": "已核验", "rejected": "已驳回"}
FILING_LABELS = {"applied": "待审核", "recorded": "已备案", "rejected": "不予备案", "revoked": "已撤销"}
LEVEL_LABELS = {"national": "国家级", "provincial": "省级", "city": "市级"}
RUN_LABELS = {"draft": "草稿", "reviewed": "已复核", "approved": "已批准", "frozen": "已冻结"}
COMPUTE_LABELS = {"queued": "排队计算", "computing": "计算中", "computed": "已计算", "failed": "计算失败"}
RUN_ACTIONS = {"review": "复核", "reopen": "退回草稿", "approve": "批准", "freeze": "冻结"}


def _names(session: Session, model: Any, column: Any, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(sa.select(model.id, column).where(model.id.in_(wanted))).all())


def _page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    error: MarketError | None = None,
    form: dict[str, Any] | None = None,
    form_name: str | None = None,
) -> Response:
    context = {
        "errors": FormErrors(error),
        "done": request.query_params.get("done"),
        "form": form or {},
        "form_name": form_name,
        "admin": ADMIN,
        **context,
    }
    return render(request, template, context, status_code=error.status_code if error else 200)


# --- organisations awaiting verification ----------------------------------------------------------------


def _orgs_page(request: Request, session: Session, **shown: Any) -> Response:
    waiting = session.scalars(
        sa.select(Organisation)
        .where(Organisation.verification_status.in_(("pending", "disputed")))
        .order_by(Organisation.created_at, Organisation.id)
    ).all()
    recent = session.scalars(
        sa.select(Organisation)
        .where(Organisation.verification_status.in_(("verified", "rejected")), Organisation.kind != OrgKind.bureau)
        .order_by(Organisation.updated_at.desc(), Organisation.id.desc())
        .limit(20)
    ).all()
    context = {"waiting": waiting, "recent": recent, "labels": VERIFICATION_LABELS}
    return _page(request, "console/admin/organisations.html", context, **shown)


@router.get("/admin/organisations")
def organisations_page(request: Request, session: SessionDep, user: BureauUser) -> Response:
    return _orgs_page(request, session)


@router.post("/admin/organisations/{org_id}/verification")
async def verify_organisation(org_id: int, request: Request, session: SessionDep, user: BureauUser) -> Response:
    """The API's POST /organisations/{id}/verification: verify, or reject with a reason."""
    form, actor = form_values(await request.form()), user.actor

    def work() -> None:
        body = parse(VerificationIn, {"verified": form.get("decision") == "verify", "reason": text(form, "reason")})
        org = accounts.get_org(session, org_id)
        accounts.set_verification(session, org, actor, verified=body.verified, reason=body.reason)

    error = attempt(session, work)
    if error:
        return _orgs_page(request, session, error=error, form=form, form_name=f"org_{org_id}")
    return redirect(f"{ADMIN}/organisations?done=verification")


# --- intermediary filings ---------------------------------------------------------------------------------


def _filings_page(request: Request, session: Session, actor: Actor, **shown: Any) -> Response:
    rows = session.scalars(
        filings.visible(actor)
        .order_by(None)
        .order_by(IntermediaryFiling.status != FilingStatus.applied, IntermediaryFiling.id.desc())
        .limit(200)
    ).all()
    context = {
        "filings": rows,
        "orgs": _names(session, Organisation, Organisation.name, {f.org_id for f in rows}),
        "labels": FILING_LABELS,
        "levels": LEVEL_LABELS,
        "may_decide": actor.role in filing_rules.REVIEW_ROLES,
    }
    return _page(request, "console/admin/filings.html", context, **shown)


@router.get("/admin/filings")
def filings_page(request: Request, session: SessionDep, user: BureauUser) -> Response:
    return _filings_page(request, session, user.actor)


@router.post("/admin/filings/{filing_id}/record")
async def record_filing(filing_id: int, request: Request, session: SessionDep, user: BureauUser) -> Response:
    """备案: the API's POST /filings/{id}/record."""
    form, actor = form_values(await request.form()), user.actor

    def work() -> IntermediaryFiling:
        data = {k: text(form, k) for k in ("filing_number", "level", "filed_on", "valid_until", "note")}
        return filings.record(session, actor, filing_id, parse(RecordIn, data))

    error = attempt(session, work)
    if error:
        return _filings_page(request, session, actor, error=error, form=form, form_name=f"filing_{filing_id}")
    return redirect(f"{ADMIN}/filings?done=record")


@router.post("/admin/filings/{filing_id}/reject")
async def reject_filing(filing_id: int, request: Request, session: SessionDep, user: BureauUser) -> Response:
    form, actor = form_values(await request.form()), user.actor

    def work() -> IntermediaryFiling:
        body = parse(RejectIn, {"note": text(form, "note") or ""})
        return filings.reject(session, actor, filing_id, body.note)

    error = attempt(session, work)
    if error:
        return _filings_page(request, session, actor, error=error, form=form, form_name=f"filing_{filing_id}")
    return redirect(f"{ADMIN}/filings?done=reject")


# --- users and roles ------------------------------------------------------------------------------------


def _users_page(request: Request, session: Session, **shown: Any) -> Response:
    staff_roles = [r.value for r in (*BUREAU_ROLES, Role.expert)]
    users = session.scalars(sa.select(User).where(User.role.in_(staff_roles)).order_by(User.role, User.id)).all()
    context = {
        "users": users,
        "orgs": _names(session, Organisation, Organisation.name, {u.org_id for u in users}),
        "roles": ROLE_LABELS,
        "new_roles": [Role.registrar, Role.programme_officer, Role.bureau_admin, Role.expert],
        "technical_fields": TECHNICAL_FIELD_LABELS,
    }
    return _page(request, "console/admin/users.html", context, **shown)


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, user: AdminUser) -> Response:
    return _users_page(request, session)


@router.post("/admin/users")
async def add_user(request: Request, session: SessionDep, user: AdminUser) -> Response:
    """The API's POST /organisations/{id}/users: staff join the bureau; an expert the organisation given."""
    raw, actor = await request.form(), user.actor
    form = form_values(raw)

    def work() -> User:
        body = parse(
            UserIn,
            {
                "username": text(form, "username") or "",
                "display_name": text(form, "display_name") or "",
                "role": form.get("role") or "",
                "password": form.get("password") or None,
                "email": text(form, "email"),
                "expert_fields": [str(f) for f in raw.getlist("expert_fields")] or None,
            },
        )
        org_id = text(form, "org_id")
        if org_id is not None and not org_id.isdigit():
            raise ValidationFailed.field("org_id", "invalid_org_id", "机构编号须为数字")
        org = accounts.get_org(session, int(org_id) if org_id else actor.org_id)
        return accounts.add_user(session, actor, org, **body.model_dump())

    error = attempt(session, work)
    if error:
        return _users_page(request, session, error=error, form=form, form_name="add_user")
    return redirect(f"{ADMIN}/users?done=add_user")


@router.post("/admin/users/{user_id}/disable")
def disable_user(user_id: int, request: Request, session: SessionDep, user: AdminUser) -> Response:
    """The API's POST /users/{id}/disable: every session and key of theirs stops working."""
    error = attempt(session, lambda: accounts.set_user_active(session, user.actor, user_id, active=False))
    if error:
        return _users_page(request, session, error=error, form_name=f"user_{user_id}")
    return redirect(f"{ADMIN}/users?done=disable")


@router.post("/admin/users/{user_id}/enable")
def enable_user(user_id: int, request: Request, session: SessionDep, user: AdminUser) -> Response:
    error = attempt(session, lambda: accounts.set_user_active(session, user.actor, user_id, active=True))
    if error:
        return _users_page(request, session, error=error, form_name=f"user_{user_id}")
    return redirect(f"{ADMIN}/users?done=enable")


# --- subsidies: policies and runs ------------------------------------------------------------------------


def _subsidies_page(request: Request, session: Session, actor: Actor, **shown: Any) -> Response:
    policies = [(p, subsidies.current_version(session, p)) for p in subsidies.list_policies(session)]
    runs = session.scalars(subsidies.runs_query(actor).limit(100)).all()
    context = {
        "policies": policies,
        "enabled": {p.id: subsidies.enabled(session, p) for p, _ in policies},
        "runs": runs,
        "frozen": [r for r in runs if r.status == RunStatus.frozen],
        "labels": RUN_LABELS,
        "compute_labels": COMPUTE_LABELS,
        "may_create": actor.role in subsidy_rules.ACTION_ROLES["create"],
    }
    return _page(request, "console/admin/subsidies.html", context, **shown)


@router.get("/admin/subsidies")
def subsidies_page(request: Request, session: SessionDep, user: BureauUser) -> Response:
    subsidies.ensure_presets(session)  # as the API's policy reads do (a GET that may write, see core.deps)
    return _subsidies_page(request, session, user.actor)


@router.post("/admin/subsidies/runs")
async def create_run(request: Request, session: SessionDep, user: BureauUser) -> Response:
    """The API's POST /subsidies/runs: a draft run, its computation queued."""
    raw, actor = await request.form(), user.actor
    form = form_values(raw)

    def work() -> SubsidyRun:
        body = parse(
            RunIn,
            {
                "period_start": text(form, "period_start"),
                "period_end": text(form, "period_end"),
                "name": text(form, "name"),
                "policy_codes": [str(c) for c in raw.getlist("policy_codes")] or None,
                "corrects_run_id": text(form, "corrects_run_id"),
            },
        )
        run = subsidies.create_run(
            session,
            actor,
            period_start=body.period_start,
            period_end=body.period_end,
            policy_codes=body.policy_codes,
            name=body.name,
            corrects_run_id=body.corrects_run_id,
        )
        subsidies.enqueue_compute(session, run.id)
        created.append(run.id)
        return run

    created: list[int] = []
    error = attempt(session, work)
    if error:
        return _subsidies_page(request, session, actor, error=error, form=form, form_name="run")
    return redirect(f"{ADMIN}/subsidies/runs/{created[0]}?done=created")


# --- a policy's parameters: edited through the API's PUT /subsidies/policies/{code} (a new version) ---------

BASIS_LABELS = {"total": "合同成交额", "technical": "技术交易额", "paid": "实际履行金额"}
AGGREGATION_LABELS = {"per_contract": "按每份合同", "per_year": "按受益方全年合计（分段累进）"}
BENEFICIARY_LABELS = {"seller": "卖方（技术输出方）", "buyer": "买方（技术吸纳方）", "intermediary": "技术转移服务机构"}
POLICY_AMOUNTS = ("min_annual_basis", "cap_per_contract", "cap_per_year")
POLICY_TEXTS = ("name", "basis", "aggregation", *POLICY_AMOUNTS, "valid_from", "valid_until", "source", "description")
BLANK_BRACKETS = 2  # empty bracket rows offered below the policy's own


def _policy_form(spec: dict[str, Any]) -> dict[str, Any]:
    """A version's spec as the edit form shows it (amounts and dates as typed text, brackets as rows)."""
    shown: dict[str, Any] = {name: "" if spec.get(name) is None else str(spec.get(name)) for name in POLICY_TEXTS}
    shown["value_added_only"] = bool(spec.get("value_added_only", True))
    shown["brackets"] = [
        {"rate": str(b.get("rate", "")), "upto": "" if b.get("upto") is None else str(b["upto"])}
        for b in spec.get("brackets") or []
    ]
    return shown


def _policy_page(request: Request, session: Session, actor: Actor, code: str, **shown: Any) -> Response:
    subsidies.ensure_presets(session)
    policy = subsidies.get_policy(session, code)
    version = subsidies.current_version(session, policy)
    values = dict(shown.pop("values", None) or _policy_form(version.spec))
    values["brackets"] = list(values["brackets"]) + [{} for _ in range(BLANK_BRACKETS)]
    context = {
        "policy": policy,
        "version": version,
        "spec": version.spec,
        "values": values,
        "versions": subsidies.versions_of(session, policy),
        "basis_labels": BASIS_LABELS,
        "aggregation_labels": AGGREGATION_LABELS,
        "beneficiary_labels": BENEFICIARY_LABELS,
        "may_edit": actor.role in subsidy_rules.ACTION_ROLES["edit_policy"],
    }
    return _page(request, "console/admin/policy.html", context, **shown)


@router.get("/admin/subsidies/policies/{code}")
def policy_page(code: str, request: Request, session: SessionDep, user: BureauUser) -> Response:
    return _policy_page(request, session, user.actor, code)


@router.post("/admin/subsidies/policies/{code}")
async def edit_policy(code: str, request: Request, session: SessionDep, user: BureauUser) -> Response:
    """The API's PUT /subsidies/policies/{code} (PolicyEdit → service.edit_policy): the form's parameters over the
    current version's spec (criteria it does not show are kept), validated by the API's schema, a new version."""
    raw, actor = await request.form(), user.actor
    shown: dict[str, Any] = {name: str(raw.get(name) or "").strip() for name in POLICY_TEXTS}
    shown["value_added_only"] = raw.get("value_added_only") == "on"
    rows = zip(raw.getlist("bracket_rate"), raw.getlist("bracket_upto"), strict=False)
    shown["brackets"] = [
        {"rate": str(r).strip(), "upto": str(u).strip()} for r, u in rows if str(r).strip() or str(u).strip()
    ]

    def work() -> Any:
        subsidies.ensure_presets(session)
        current = subsidies.current_version(session, subsidies.get_policy(session, code)).spec
        data: dict[str, Any] = {k: v for k, v in current.items() if k != "code"}
        data.update({name: shown[name] or None for name in POLICY_TEXTS})
        data["source"], data["description"] = shown["source"], shown["description"]
        data["value_added_only"] = shown["value_added_only"]
        data["brackets"] = [{"rate": b["rate"] or None, "upto": b["upto"] or None} for b in shown["brackets"]]
        body = parse(PolicyEdit, data)
        return subsidies.edit_policy(session, actor, code, body.as_dict())

    error = attempt(session, work)
    if error:
        return _policy_page(request, session, actor, code, error=error, values=shown, form_name="policy")
    return redirect(f"{ADMIN}/subsidies/policies/{code}?done=policy")


PAGE_SIZE = 50


def _run_page(request: Request, session: Session, actor: Actor, run_id: int, **shown: Any) -> Response:
    run = subsidies.visible_run(session, actor, run_id)
    raw_page = request.query_params.get("page") or "1"
    page_no = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
    query = subsidies.results_query(actor, run)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    results = session.scalars(query.limit(PAGE_SIZE).offset((page_no - 1) * PAGE_SIZE)).all()
    diff = subsidies.run_diff(session, actor, run.id) if run.corrects_run_id is not None else None
    people = {run.created_by, run.reviewed_by, run.approved_by, run.frozen_by}
    codes = dict(session.execute(sa.select(SubsidyPolicy.id, SubsidyPolicy.code)).all())
    # What the page offers is what subsidies.rules would allow; the service decides again on submit.
    allowed = {
        action: actor.role in subsidy_rules.ACTION_ROLES[action]
        and run.status in subsidy_rules.TRANSITIONS[action][0]
        and (action == "reopen" or run.compute_state == ComputeState.computed)
        and (action != "approve" or subsidy_rules.four_eyes(run.reviewed_by, actor.user_id))
        for action in RUN_ACTIONS
    }
    context = {
        "run": run,
        "policies": [(codes.get(v.policy_id), v.version) for v in subsidies.run_policy_versions(session, run.id)],
        "results": results,
        "total": total,
        "page_no": page_no,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "diff": diff,
        "users": _names(session, User, User.display_name, people),
        "labels": RUN_LABELS,
        "compute_labels": COMPUTE_LABELS,
        "actions": RUN_ACTIONS,
        "allowed": allowed,
        "may_compute": actor.role in subsidy_rules.ACTION_ROLES["compute"] and subsidy_rules.can_recompute(run.status),
        "four_eyes_blocked": run.status == RunStatus.reviewed
        and actor.role in subsidy_rules.ACTION_ROLES["approve"]
        and not subsidy_rules.four_eyes(run.reviewed_by, actor.user_id),
    }
    return _page(request, "console/admin/run.html", context, **shown)


@router.get("/admin/subsidies/runs/{run_id}")
def run_page(run_id: int, request: Request, session: SessionDep, user: BureauUser) -> Response:
    return _run_page(request, session, user.actor, run_id)


@router.post("/admin/subsidies/runs/{run_id}/compute")
def recompute_run(run_id: int, request: Request, session: SessionDep, user: BureauUser) -> Response:
    """The API's POST /subsidies/runs/{id}/compute."""
    actor = user.actor

    def work() -> SubsidyRun:
        run = subsidies.request_compute(session, actor, run_id)
        subsidies.enqueue_compute(session, run.id)
        return run

    error = attempt(session, work)
    if error:
        return _run_page(request, session, actor, run_id, error=error, form_name="run_action")
    return redirect(f"{ADMIN}/subsidies/runs/{run_id}?done=compute")


@router.post("/admin/subsidies/runs/{run_id}/{action}")
def run_action(
    run_id: int,
    action: Literal["review", "reopen", "approve", "freeze"],
    request: Request,
    session: SessionDep,
    user: BureauUser,
) -> Response:
    """The API's POST /subsidies/runs/{id}/{action}: four eyes — whoever reviewed may not approve."""
    error = attempt(session, lambda: subsidies.transition(session, user.actor, run_id, action))
    if error:
        return _run_page(request, session, user.actor, run_id, error=error, form_name="run_action")
    return redirect(f"{ADMIN}/subsidies/runs/{run_id}?done={action}")


@router.get("/admin/subsidies/results/{result_id}")
def result_page(result_id: int, request: Request, session: SessionDep, user: BureauUser) -> Response:
    """One beneficiary's result with its full working, as GET /subsidies/results/{id} gives it."""
    result = subsidies.get_result(session, user.actor, result_id)
    working = explain(result.working)
    items = settlement_items(result.working) if "settlement" in working else []
    run = subsidies.get_run(session, result.run_id)
    context = {"result": result, "working": working, "items": items, "run": run}
    return _page(request, "console/admin/result.html", context)


@router.get("/admin/subsidies/runs/{run_id}/export.csv")
def export_csv(run_id: int, session: SessionDep, user: BureauUser) -> Response:
    return Response(
        subsidies.export_csv(session, user.actor, run_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subsidy-run-{run_id}.csv"'},
    )


@router.get("/admin/subsidies/runs/{run_id}/export.xlsx")
def export_xlsx(run_id: int, session: SessionDep, user: BureauUser) -> Response:
    return Response(
        subsidies.export_xlsx(session, user.actor, run_id),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="subsidy-run-{run_id}.xlsx"'},
    )
