"""Registrar (登记员): the queue of contracts awaiting decision, a contract's page, and the decisions.

Every decision is the contracts service call the API's endpoint makes (`register`, `return_for_correction`,
`refuse`, `amend`, `cancel`): same role rule (REGISTRAR_ROLES), same four-eyes rule, same audit entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from market.accounts.models import Organisation, User
from market.console import auth
from market.console.forms import blank_to_none, parse
from market.console.menu import MenuItem
from market.console.web import ConsoleRoute, FormErrors, attempt, redirect, render
from market.contracts import rules
from market.contracts import service as contracts
from market.contracts.models import Contract, ContractParty, ContractStatus
from market.contracts.schemas import AmendmentIn, CancellationIn, ReturnIn
from market.core.audit import AuditEntry
from market.core.deps import SessionDep
from market.core.errors import ValidationFailed
from market.core.regions import region_name
from market.core.vocab import ENTITY_TYPE_LABELS, IP_TYPE_LABELS, TECHNICAL_FIELD_LABELS

router = APIRouter(route_class=ConsoleRoute)
REGISTRAR = frozenset(contracts.REGISTRAR_ROLES)
MENU = [
    MenuItem("待登记合同", "/console/registrar", REGISTRAR, group="技术合同登记", order=10),
    MenuItem("已登记合同", "/console/registrar/registered", REGISTRAR, group="技术合同登记", order=11),
]
Registrar = Annotated[auth.ConsoleUser, auth.allow(*contracts.REGISTRAR_ROLES)]

STATUS_LABELS = {
    ContractStatus.draft: "草稿",
    ContractStatus.submitted: "待登记",
    ContractStatus.returned: "退回补正",
    ContractStatus.registered: "已登记",
    ContractStatus.refused: "不予登记",
    ContractStatus.cancelled: "已注销",
}
ROLE_LABELS = {"seller": "卖方", "buyer": "买方", "intermediary": "中介方", "consortium_member": "联合体成员"}
ACTION_LABELS = {
    "create": "创建",
    "create_draft": "生成草稿",
    "edit": "修改",
    "submit": "提交申请",
    "register": "认定登记",
    "return": "退回补正",
    "refuse": "不予登记",
    "amend": "变更登记",
    "cancel": "注销登记",
    "import": "历史登记导入",
    "payment": "登记履行（付款）",
    "payment_reversal": "冲销付款",
    "add_consortium_members": "添加联合体成员",
    "achievement_link_confirmed": "确认关联成果",
    "withdraw_award": "撤销立项",
}
EVENT_LABELS = {"registered": "认定登记", "amended": "变更登记", "cancelled": "注销登记"}
# What a return for correction (补正) can name: the contract's fields, as the filer's form calls them.
CORRECTABLE = {
    "project_name": "项目名称",
    "contract_type": "合同类型",
    "subtype": "合同子类",
    "signing_date": "签订日期",
    "valid_from": "有效期起",
    "valid_until": "有效期止",
    "total_amount": "合同成交额",
    "deductions": "非技术性费用",
    "parties": "当事人信息",
    "payment_method": "支付方式",
    "ip_type": "知识产权类型",
    "technical_field": "技术领域",
    "plan_source": "计划来源",
    "documents": "证明文件",
    "seals": "签章",
}
# The rule checks in Chinese: the field each one concerns and what it says (the API's code is shown beside it).
CHECK_FIELDS = {
    **CORRECTABLE,
    "technical_transaction_amount": "技术交易额",
    "role": "角色",
    "name": "名称",
    "credit_code": "统一社会信用代码",
    "region_code": "所在地",
    "entity_type_code": "法人性质",
    "amount": "金额",
    "kind": "类别",
}
CHECK_MESSAGES = {
    "unknown_contract_type": "合同类型不在认定范围内",
    "unknown_subtype": "合同子类与合同类型不符",
    "amount_not_positive": "合同成交额应大于零",
    "deduction_not_positive": "扣除项金额应大于零",
    "unknown_deduction_kind": "非技术性费用类别不在规定范围内",
    "technical_amount_exceeds_total": "技术交易额超过合同成交额",
    "deductions_exceed_total": "非技术性费用合计超过合同成交额",
    "deductions_do_not_add_up": "技术交易额不等于合同成交额减去非技术性费用",
    "signing_date_required": "缺少签订日期",
    "signing_date_in_future": "签订日期晚于今天",
    "validity_required": "缺少合同有效期",
    "validity_out_of_order": "有效期起始日期晚于终止日期",
    "signed_after_expiry": "签订日期晚于有效期终止日期",
    "contract_expired": "合同已失效，只有在有效期内的合同才能登记",
    "unknown_party_role": "当事人角色应为卖方、买方或中介方",
    "party_name_required": "缺少当事人名称",
    "credit_code_required": "境内当事人须填写统一社会信用代码",
    "invalid_entity_type": "法人性质代码无效",
    "missing_party": "缺少卖方或买方",
    "duplicate_party": "同一角色的当事人不止一个",
    "self_contract": "卖方与买方为同一单位",
    "intermediary_is_party": "中介方不能同时是合同当事人",
    "import_seller_not_foreign": "技术进口合同的卖方应为境外单位",
    "import_buyer_not_domestic": "技术进口合同的买方应为境内单位",
}


def check_field_label(field: str) -> str:
    """'parties.1.credit_code' → '当事人信息 · 第 2 项 · 统一社会信用代码'; an unknown part stays as it is."""
    return " · ".join(
        f"第 {int(part) + 1} 项" if part.isdigit() else CHECK_FIELDS.get(part, part) for part in field.split(".")
    )


RETURN_ROWS = 3  # correction items offered on the form at once
AMEND_FIELDS = ("project_name", "total_amount", "valid_until", "technical_field", "payment_method")


def working_days_left(today: dt.date, deadline: dt.date) -> int:
    """Working days from today to the deadline (0 on the day itself; negative: that many working days overdue)."""
    holidays, extra = contracts._calendar()
    step = 1 if deadline >= today else -1
    count, day = 0, today
    while day != deadline:
        day += dt.timedelta(days=step)
        if rules.is_working_day(day, holidays, extra):
            count += step
    return count


def type_label(contract: Contract) -> str:
    label, subtypes = rules.CONTRACT_TYPES.get(contract.contract_type, (contract.contract_type, {}))
    return f"{label} · {subtypes.get(contract.subtype, contract.subtype)}"


def _seller_names(session: Session, ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        sa.select(ContractParty.contract_id, ContractParty.name).where(
            ContractParty.contract_id.in_(ids), ContractParty.role == "seller"
        )
    ).all()
    names: dict[int, str] = {}
    for contract_id, name in rows:
        names[contract_id] = f"{names[contract_id]}、{name}" if contract_id in names else name
    return names


def queue_rows(session: Session) -> list[dict[str, Any]]:
    """Filed contracts awaiting a decision, the nearest deadline first."""
    found = list(
        session.scalars(
            sa.select(Contract)
            .where(Contract.status == ContractStatus.submitted)
            .order_by(Contract.decision_deadline.is_(None), Contract.decision_deadline, Contract.id)
        )
    )
    today = contracts.today()
    sellers = _seller_names(session, [c.id for c in found])
    rows = []
    for c in found:
        left = working_days_left(today, c.decision_deadline) if c.decision_deadline else None
        rows.append(
            {
                "contract": c,
                "type": type_label(c),
                "sellers": sellers.get(c.id, "—"),
                "left": left,
                "overdue": c.decision_deadline is not None and c.decision_deadline < today,
            }
        )
    return rows


@router.get("/registrar")
def queue(request: Request, session: SessionDep, user: Registrar) -> Response:
    template = "console/registrar/_queue.html" if request.headers.get("HX-Request") else "console/registrar/queue.html"
    return render(request, template, {"rows": queue_rows(session), "today": contracts.today()})


@router.get("/registrar/registered")
def registered(request: Request, session: SessionDep, user: Registrar) -> Response:
    found = list(
        session.scalars(
            sa.select(Contract)
            .where(Contract.status.in_((ContractStatus.registered, ContractStatus.cancelled)))
            .order_by(Contract.registered_at.desc(), Contract.id.desc())
            .limit(100)
        )
    )
    sellers = _seller_names(session, [c.id for c in found])
    rows = [{"contract": c, "type": type_label(c), "sellers": sellers.get(c.id, "—")} for c in found]
    return render(request, "console/registrar/registered.html", {"rows": rows, "status_labels": STATUS_LABELS})


def _contract_page(
    request: Request,
    session: Session,
    user: auth.ConsoleUser,
    contract_id: int,
    *,
    errors: FormErrors | None = None,
    form: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    contract = contracts.get_visible(session, user.actor, contract_id)
    parties = contracts.parties_of(session, contract.id)
    deductions = contracts.deductions_of(session, contract.id)
    checks = rules.validate_contract(
        contracts._facts(contract, parties, deductions, claimed_tta=None), contracts.today()
    )
    filer = session.get(Organisation, contract.filer_org_id)
    audit_rows = list(
        session.execute(
            sa.select(AuditEntry, User.display_name)
            .outerjoin(User, User.id == AuditEntry.actor_user_id)
            .where(AuditEntry.entity_type == "contract", AuditEntry.entity_id == contract.id)
            .order_by(AuditEntry.id)
        )
    )
    today = contracts.today()
    context = {
        "c": contract,
        "type": type_label(contract),
        "status": STATUS_LABELS.get(ContractStatus(contract.status), contract.status),
        "filer": filer,
        "parties": [
            {
                "p": p,
                "role": ROLE_LABELS.get(p.role, p.role),
                "region": region_name(p.region_code) if p.country in (None, "", "CN") else p.country,
                "entity": ENTITY_TYPE_LABELS.get(p.entity_type_code or "", p.entity_type_code or "—"),
            }
            for p in parties
        ],
        "deductions": deductions,
        "kinds": rules.DEDUCTION_KINDS,
        "performed": contracts.performed_amount(session, contract.id),
        "history": contracts.history_of(session, contract.id),
        "event_labels": EVENT_LABELS,
        "action_labels": ACTION_LABELS,
        "status_labels": {str(k): v for k, v in STATUS_LABELS.items()},
        "audit": audit_rows,
        "checks": [
            {"field": check_field_label(p.field), "code": p.code, "message": CHECK_MESSAGES.get(p.code, p.message)}
            for p in checks
        ],
        "left": working_days_left(today, contract.decision_deadline) if contract.decision_deadline else None,
        "overdue": contract.decision_deadline is not None
        and contract.decision_deadline < today
        and contract.status == ContractStatus.submitted,
        "refusal_reasons": [(r.value, rules.REFUSAL_REASON_LABELS[r]) for r in rules.RefusalReason],
        "refusal_label": {r.value: label for r, label in rules.REFUSAL_REASON_LABELS.items()}.get(
            contract.refusal_reason or "", contract.refusal_reason
        ),
        "correctable": CORRECTABLE,
        "return_rows": range(RETURN_ROWS),
        "technical_fields": {k.value: v for k, v in TECHNICAL_FIELD_LABELS.items()},
        "ip_types": {k.value: v for k, v in IP_TYPE_LABELS.items()},
        "payment_methods": rules.PAYMENT_METHODS,
        "errors": errors or FormErrors(),
        "form": form,
        "notice": notice,
        "values": dict(getattr(request.state, "form_values", {})),
    }
    return render(request, "console/registrar/contract.html", context, status_code=status_code)


@router.get("/registrar/contracts/{contract_id}")
def contract_page(request: Request, contract_id: int, session: SessionDep, user: Registrar, done: str = "") -> Response:
    notices = {
        "register": "已认定登记。",
        "return": "已退回补正。",
        "refuse": "已作出不予登记决定。",
        "amend": "已办理变更登记。",
        "cancel": "已办理注销登记。",
    }
    return _contract_page(request, session, user, contract_id, notice=notices.get(done, ""))


def _decide(
    request: Request, session: Session, user: auth.ConsoleUser, contract_id: int, form: str, action: Any
) -> Response:
    """Run the decision; on success show the contract again (303), on an error the form with it beside the field."""
    error = attempt(session, action)
    if error is None:
        return redirect(f"/console/registrar/contracts/{contract_id}?done={form}")
    return _contract_page(
        request, session, user, contract_id, errors=FormErrors(error), form=form, status_code=error.status_code
    )


@router.post("/registrar/contracts/{contract_id}/register")
def register(request: Request, contract_id: int, session: SessionDep, user: Registrar) -> Response:
    return _decide(
        request, session, user, contract_id, "register", lambda: contracts.register(session, user.actor, contract_id)
    )


@router.post("/registrar/contracts/{contract_id}/return")
async def return_for_correction(request: Request, contract_id: int, session: SessionDep, user: Registrar) -> Response:
    form = await request.form()
    fields, messages = form.getlist("item_field"), form.getlist("item_message")
    items = [
        {"field": str(f), "message": str(m).strip()}
        for f, m in zip(fields, messages, strict=False)
        if str(f).strip() or str(m).strip()
    ]
    request.state.form_values = {"items": items}

    def act() -> None:
        for i, item in enumerate(items):
            if not item["field"] or not item["message"]:
                raise ValidationFailed.field(f"items.{i}", "correction_item_incomplete", "每一项补正都要写明字段和说明")
        data = parse(ReturnIn, {"items": items})
        contracts.return_for_correction(session, user.actor, contract_id, [i.model_dump() for i in data.items])

    return await _in_thread(request, session, user, contract_id, "return", act)


async def _in_thread(
    request: Request, session: Session, user: auth.ConsoleUser, contract_id: int, form: str, action: Any
) -> Response:
    """An async page (it reads a form with repeated fields) runs the service call in a worker thread, as sync ones do."""
    return await run_in_threadpool(_decide, request, session, user, contract_id, form, action)


@router.post("/registrar/contracts/{contract_id}/refuse")
def refuse(
    request: Request,
    contract_id: int,
    session: SessionDep,
    user: Registrar,
    reason: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    request.state.form_values = {"reason": reason, "note": note}
    return _decide(
        request,
        session,
        user,
        contract_id,
        "refuse",
        lambda: contracts.refuse(session, user.actor, contract_id, reason, note.strip() or None),
    )


@router.post("/registrar/contracts/{contract_id}/amend")
async def amend(request: Request, contract_id: int, session: SessionDep, user: Registrar) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("reason", "effective_date", *AMEND_FIELDS)}
    request.state.form_values = values

    def act() -> None:
        contracts.amend(session, user.actor, contract_id, parse(AmendmentIn, blank_to_none(values)))

    return await _in_thread(request, session, user, contract_id, "amend", act)


@router.post("/registrar/contracts/{contract_id}/cancel")
async def cancel(request: Request, contract_id: int, session: SessionDep, user: Registrar) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("reason", "effective_date")}
    request.state.form_values = values

    def act() -> None:
        data = parse(CancellationIn, blank_to_none(values))
        contracts.cancel(session, user.actor, contract_id, data.reason, data.effective_date)

    return await _in_thread(request, session, user, contract_id, "cancel", act)
