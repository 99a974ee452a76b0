"""Registrar pages: the queue by deadline, a contract's page, and the decisions as the API's service calls."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.console import auth
from market.contracts.models import Contract
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.core.vocab import OrgKind
from tests.console.conftest import csrf_in, csrf_tokens, sign_in
from tests.contracts.payloads import contract_body
from tests.factories import Member, World


def file_contract(client: TestClient, world: World, **overrides: object) -> tuple[int, Member]:
    seller = world.member(OrgKind.university, region_code="330212")
    buyer = world.org(OrgKind.enterprise)
    r = client.post("/api/v1/contracts", json=contract_body(seller.org_id, buyer, **overrides), headers=seller.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"], seller


def test_queue_lists_filed_contracts_by_deadline(client: TestClient, world: World) -> None:
    small, _ = file_contract(client, world, project_name="小额合同")
    # ≥ 5,000,000 技术交易额: 30 working days instead of 15, so it comes after
    large, _ = file_contract(
        client,
        world,
        project_name="大额合同",
        total_amount="6000000.00",
        technical_transaction_amount="5800000.00",
    )
    registrar = world.bureau(Role.registrar)
    sign_in(client, registrar)
    r = client.get("/console/registrar")
    assert r.status_code == 200
    assert r.text.index("小额合同") < r.text.index("大额合同")
    assert "剩余工作日" in r.text and f'data-contract="{small}"' in r.text and f'data-contract="{large}"' in r.text
    # the htmx refresh gets the table alone
    part = client.get("/console/registrar", headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text and "小额合同" in part.text


def test_contract_page_shows_parties_amounts_checks_and_events(client: TestClient, world: World) -> None:
    contract_id, _ = file_contract(client, world)
    sign_in(client, world.bureau(Role.registrar))
    r = client.get(f"/console/registrar/contracts/{contract_id}")
    assert r.status_code == 200
    for text in ("卖方", "买方", "1,200,000.00", "1,000,000.00", "样机", "规则校验", "办理记录", "鄞州区"):
        assert text in r.text, text
    assert client.get("/console/registrar/contracts/999999").status_code == 404


def test_register_one_and_return_another(client: TestClient, world: World) -> None:
    first, _ = file_contract(client, world)
    second, seller = file_contract(client, world)
    registrar = world.bureau(Role.registrar)
    csrf = sign_in(client, registrar)
    r = client.post(f"/console/registrar/contracts/{first}/register", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "已认定登记" in page.text and 'id="registration-number"' in page.text
    # returning with an item missing its message: the error sits next to that item, nothing changes
    r = client.post(
        f"/console/registrar/contracts/{second}/return",
        data={"csrf_token": csrf, "item_field": ["total_amount", "parties"], "item_message": ["请附发票", ""]},
    )
    assert r.status_code == 422 and "correction_item_incomplete" in r.text
    assert client.get(f"/api/v1/contracts/{second}", headers=seller.headers).json()["status"] == "submitted"
    r = client.post(
        f"/console/registrar/contracts/{second}/return",
        data={"csrf_token": csrf, "item_field": ["total_amount", ""], "item_message": ["请附发票", ""]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    seen = client.get(f"/api/v1/contracts/{second}", headers=seller.headers).json()
    assert seen["status"] == "returned" and seen["correction_items"] == [
        {"field": "total_amount", "message": "请附发票"}
    ]
    # the same audit entries the API writes, by this registrar
    with session_scope() as s:
        actions = {
            (e.entity_id, e.action)
            for e in s.query(AuditEntry).filter_by(entity_type="contract", actor_user_id=registrar.user_id)
        }
    assert actions == {(first, "register"), (second, "return")}


def test_refuse_needs_a_reason_shown_next_to_the_field(client: TestClient, world: World) -> None:
    contract_id, seller = file_contract(client, world)
    csrf = sign_in(client, world.bureau(Role.registrar))
    r = client.post(f"/console/registrar/contracts/{contract_id}/refuse", data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 422
    assert 'id="reason-error"' in r.text and "unknown_refusal_reason" in r.text
    r = client.post(
        f"/console/registrar/contracts/{contract_id}/refuse",
        data={"csrf_token": csrf, "reason": "seals_missing", "note": "乙方未盖章"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    seen = client.get(f"/api/v1/contracts/{contract_id}", headers=seller.headers).json()
    assert (seen["status"], seen["refusal_reason"], seen["refusal_note"]) == ("refused", "seals_missing", "乙方未盖章")


def test_amend_and_cancel_a_registered_contract(client: TestClient, world: World) -> None:
    contract_id, seller = file_contract(client, world)
    csrf = sign_in(client, world.bureau(Role.registrar))
    client.post(f"/console/registrar/contracts/{contract_id}/register", data={"csrf_token": csrf})
    page = client.get(f"/console/registrar/contracts/{contract_id}")
    assert 'id="amend-form"' in page.text and 'id="cancel-form"' in page.text
    # an amendment that changes nothing: the service's error code is shown
    r = client.post(f"/console/registrar/contracts/{contract_id}/amend", data={"csrf_token": csrf, "reason": "更正"})
    assert r.status_code == 422 and "empty_amendment" in r.text
    bad = client.post(
        f"/console/registrar/contracts/{contract_id}/amend",
        data={"csrf_token": csrf, "reason": "更正", "total_amount": "abc"},
    )
    assert bad.status_code == 422 and 'id="total_amount-error"' in bad.text
    r = client.post(
        f"/console/registrar/contracts/{contract_id}/amend",
        data={"csrf_token": csrf, "reason": "补充协议增加金额", "total_amount": "1500000.00"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    seen = client.get(f"/api/v1/contracts/{contract_id}", headers=seller.headers).json()
    assert seen["total_amount"] == "1500000.00" and seen["version"] == 2
    r = client.post(
        f"/console/registrar/contracts/{contract_id}/cancel",
        data={"csrf_token": csrf, "reason": "双方解除合同"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get(f"/api/v1/contracts/{contract_id}", headers=seller.headers).json()["status"] == "cancelled"
    assert "注销登记" in client.get("/console/registrar/registered").text


@pytest.mark.parametrize("role", [Role.programme_officer, Role.expert, Role.org_admin])
def test_others_may_not_open_or_decide(client: TestClient, world: World, role: Role) -> None:
    contract_id, seller = file_contract(client, world)
    member = world.expert() if role == Role.expert else world.member() if role == Role.org_admin else world.bureau(role)
    csrf = sign_in(client, member)
    assert client.get("/console/registrar").status_code == 403
    assert client.get(f"/console/registrar/contracts/{contract_id}").status_code == 403
    r = client.post(f"/console/registrar/contracts/{contract_id}/register", data={"csrf_token": csrf})
    assert r.status_code == 403
    assert client.get(f"/api/v1/contracts/{contract_id}", headers=seller.headers).json()["status"] == "submitted"


def test_anonymous_and_csrf_less_posts_change_nothing(client: TestClient, world: World) -> None:
    contract_id, seller = file_contract(client, world)
    client.cookies.clear()
    r = client.get(f"/console/registrar/contracts/{contract_id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")
    registrar = world.bureau(Role.registrar)
    sign_in(client, registrar)
    r = client.post(f"/console/registrar/contracts/{contract_id}/register")
    assert r.status_code == 403 and "csrf_failed" in r.text
    r = client.post(f"/console/registrar/contracts/{contract_id}/register", data={"csrf_token": "0" * 64})
    assert r.status_code == 403
    assert client.get(f"/api/v1/contracts/{contract_id}", headers=seller.headers).json()["status"] == "submitted"
    # every form of the page (logout, register, return, refuse) carries this session's token
    assert csrf_tokens(client.get(f"/console/registrar/contracts/{contract_id}").text) == {
        auth.csrf_token(registrar.token)
    }
    assert csrf_in(client.get("/console/registrar").text)


def test_overdue_contracts_are_marked_with_the_working_days_past(client: TestClient, world: World) -> None:
    late, _ = file_contract(client, world, project_name="超期合同")
    on_time, _ = file_contract(client, world, project_name="未超期合同")
    # the filing date cannot be set through any service: the test moves the deadline back instead
    with session_scope() as s:
        contract = s.get(Contract, late)
        assert contract is not None
        contract.decision_deadline = dt.date(2026, 11, 2)  # a Monday; the ten working days up to 2026-11-16
    sign_in(client, world.bureau(Role.registrar))
    r = client.get("/console/registrar")
    late_row = re.search(rf'<tr class="overdue" data-contract="{late}">(.*?)</tr>', r.text, re.S)
    assert late_row and "已超期" in late_row.group(1)
    assert r.text.index("超期合同") < r.text.index("未超期合同")  # the earliest deadline first
    assert f'<tr class="" data-contract="{on_time}">' in r.text
    assert "其中超期 1 件" in r.text
    page = client.get(f"/console/registrar/contracts/{late}")
    assert "已超期" in page.text


def test_working_days_left_follow_the_official_calendar() -> None:
    from market.console.pages.registrar import working_days_left

    # 2026-09-30 (Wed) → 2026-10-10 (Sat): 1–7 Oct are the National Day holidays; the 8th, 9th and the
    # Saturday 10th (调休) are working days
    assert working_days_left(dt.date(2026, 9, 30), dt.date(2026, 10, 10)) == 3
    assert working_days_left(dt.date(2026, 11, 16), dt.date(2026, 11, 2)) == -10
    assert working_days_left(dt.date(2026, 11, 16), dt.date(2026, 11, 16)) == 0


def _visible_words(html: str) -> set[str]:
    """Latin words a reader sees on the page: no markup, attributes, scripts or <code> (the API's error codes)."""
    text = re.sub(r"<(script|style|code)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    return set(re.findall(r"[A-Za-z]*[a-z]{2,}[A-Za-z]*", text))


def test_contract_page_speaks_chinese_including_the_rule_checks(client: TestClient, world: World) -> None:
    contract_id, _ = file_contract(client, world, project_name="失效合同")
    with session_scope() as s:  # the contract ran out while it waited: the rules flag it on the registrar's page
        contract = s.get(Contract, contract_id)
        assert contract is not None and contract.valid_from is not None
        contract.valid_from = contract.valid_from - dt.timedelta(days=800)
        contract.valid_until = contract.valid_from + dt.timedelta(days=30)
        contract.signing_date = contract.valid_from
    sign_in(client, world.bureau(Role.registrar))
    r = client.get(f"/console/registrar/contracts/{contract_id}")
    assert r.status_code == 200
    checks = r.text[r.text.index('id="checks"') :]
    checks = checks[: checks.index("</ul>")]
    assert "有效期止" in checks and "合同已失效" in checks and "<code>contract_expired</code>" in checks
    assert "valid_until" not in checks and "only contracts in force" not in checks
    # the test world's data is Latin (users u12_registrar, organisations "university 7"); the labels must not be
    page = re.sub(r"\bu\d+_\w+|\b(?:university|enterprise) \d+\b", " ", r.text)
    assert not _visible_words(page), _visible_words(page)


def test_a_check_on_a_party_names_the_party_in_chinese() -> None:
    from market.console.pages.registrar import check_field_label

    assert check_field_label("parties.1.credit_code") == "当事人信息 · 第 2 项 · 统一社会信用代码"
    assert check_field_label("total_amount") == "合同成交额"
    assert check_field_label("something_new") == "something_new"  # a field the console does not know stays visible
