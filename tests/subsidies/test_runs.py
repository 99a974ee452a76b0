"""Runs on a real database: compute, approve, freeze, correct, what-if, visibility, export."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from market.accounts.roles import Role
from market.core.db import session_scope
from market.core.errors import InvalidState
from market.core.vocab import OrgKind
from market.subsidies import flows
from market.subsidies.models import SubsidyResult, SubsidyRun
from market.subsidies.presets import all_presets
from tests.subsidies.helpers import adopt, filed
from tests.subsidies.ledger import add_contract, set_contract

NB = ["nb2014-seller", "nb2014-buyer", "lc2020-seller-development-transfer"]


LIAOCHENG = [p.code for p in all_presets() if p.jurisdiction == "3715"]


@pytest.fixture
def market(world, client):
    """A Ningbo university selling to two local firms and one in Shanghai, and the bureau's staff."""
    uni = world.org(OrgKind.university, region_code="330203")
    firm = world.org(OrgKind.enterprise, region_code="330206")
    firm2 = world.org(OrgKind.enterprise, region_code="330281")
    shanghai = world.org(OrgKind.enterprise, region_code="310115")
    contracts = {
        "big": add_contract(uni, firm, 10_000_000, on=dt.date(2024, 3, 1)),  # seller 500,000; buyer 1,000,000
        "small": add_contract(uni, firm2, 2_000_000, on=dt.date(2024, 4, 1)),  # seller 100,000; buyer 200,000
        "away": add_contract(uni, shanghai, 4_000_000, on=dt.date(2024, 5, 1)),  # not converted in Ningbo
        "cancelled": add_contract(uni, firm, 9_000_000, on=dt.date(2024, 6, 1), status="cancelled"),
        "last_year": add_contract(uni, firm, 1_000_000, on=dt.date(2023, 6, 1)),
    }
    officer = world.bureau(Role.programme_officer)
    adopt(client, officer, *LIAOCHENG)  # this is Ningbo: 聊城's rules run here only once adopted
    return {
        "uni": uni,
        "firm": firm,
        "firm2": firm2,
        "shanghai": shanghai,
        "c": contracts,
        "officer": officer,
        "admin": world.bureau(Role.bureau_admin),
        "firm_admin": world.user(firm, Role.org_admin),
        "uni_member": world.user(uni, Role.member),
    }


def create_and_compute(client, who, codes=NB, **extra) -> int:
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=who.headers,
        json={"period_start": "2024-01-01", "period_end": "2024-12-31", "policy_codes": codes, **extra},
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "draft" and r.json()["compute_state"] == "queued"
    flows.compute_run(r.json()["id"])
    return r.json()["id"]


def totals(client, who, run_id) -> dict[tuple[str, int | None], str]:
    r = client.get(f"/api/v1/subsidies/runs/{run_id}/results?page_size=200", headers=who.headers)
    assert r.status_code == 200, r.text
    return {(x["policy_code"], x["beneficiary_org_id"]): x["total"] for x in r.json()["items"]}


def test_a_run_computes_every_beneficiary_with_its_working(client, market):
    m = market
    run_id = create_and_compute(client, m["officer"])
    run = client.get(f"/api/v1/subsidies/runs/{run_id}", headers=m["officer"].headers).json()
    assert run["compute_state"] == "computed" and run["progress_done"] == run["progress_total"] == 4
    assert run["contract_count"] == 4  # the cancelled one is loaded (and excluded), 2023 is not in the period
    assert sorted((p["code"], p["version"]) for p in run["policies"]) == sorted(
        (c, 2 if c in LIAOCHENG else 1) for c in NB
    )
    t = totals(client, m["officer"], run_id)
    assert t[("nb2014-seller", m["uni"])] == "600000.00"
    assert t[("nb2014-buyer", m["firm"])] == "1000000.00" and t[("nb2014-buyer", m["firm2"])] == "200000.00"
    # 1.5 % of 16,000,000 registered in 2024 = 240,000 (the cancelled contract drops out).
    assert t[("lc2020-seller-development-transfer", m["uni"])] == "240000.00"
    assert D(run["total"]) == D("600000") + D("1200000") + D("240000")

    items = client.get(
        f"/api/v1/subsidies/runs/{run_id}/results?policy_code=nb2014-seller", headers=m["officer"].headers
    ).json()["items"]
    detail = client.get(f"/api/v1/subsidies/results/{items[0]['id']}", headers=m["officer"].headers).json()
    working = detail["working"]
    assert {c["contract_id"]: c["paid"] for c in working["contributions"]} == {
        m["c"]["big"]: "500000.00",
        m["c"]["small"]: "100000.00",
    }
    assert {e["contract_id"]: (e["reason"], e["message"]) for e in working["exclusions"]} == {
        m["c"]["away"]: ("buyer_region", "买方所在地区不符合政策"),
        m["c"]["cancelled"]: ("cancelled", "合同已注销登记"),
    }
    why = client.get(
        f"/api/v1/subsidies/runs/{run_id}/exclusions?contract_id={m['c']['away']}", headers=m["officer"].headers
    )
    assert {(e["reason"], e["message"]) for e in why.json()} == {("buyer_region", "买方所在地区不符合政策")}


def test_approval_visibility_and_freezing(client, market):
    m = market
    run_id = create_and_compute(client, m["officer"])
    url = f"/api/v1/subsidies/runs/{run_id}"
    # Beneficiaries do not see a draft at all.
    assert client.get("/api/v1/subsidies/runs", headers=m["firm_admin"].headers).json()["total"] == 0
    assert client.get(f"{url}/results", headers=m["firm_admin"].headers).json()["error"]["code"] == "run_not_found"
    assert client.post(f"{url}/approve", headers=m["admin"].headers).json()["error"]["code"] == "invalid_run_transition"
    assert client.post(f"{url}/review", headers=m["officer"].headers).json()["status"] == "reviewed"
    assert client.post(f"{url}/compute", headers=m["officer"].headers).json()["error"]["code"] == "run_not_draft"
    assert (
        client.post(f"{url}/approve", headers=m["officer"].headers).json()["error"]["code"] == "subsidy_role_required"
    )
    assert client.post(f"{url}/approve", headers=m["admin"].headers).json()["status"] == "approved"

    listed = client.get("/api/v1/subsidies/runs", headers=m["firm_admin"].headers).json()
    assert [x["id"] for x in listed["items"]] == [run_id] and listed["total"] == 1
    mine = totals(client, m["firm_admin"], run_id)
    assert mine == {("nb2014-buyer", m["firm"]): "1000000.00"}  # own results only
    other = client.get(f"{url}/results?page_size=200", headers=m["officer"].headers).json()["items"]
    someone_else = next(x for x in other if x["beneficiary_org_id"] != m["firm"])
    assert (
        client.get(f"/api/v1/subsidies/results/{someone_else['id']}", headers=m["firm_admin"].headers).status_code
        == 404
    )
    assert [
        r["policy_code"] for r in client.get("/api/v1/subsidies/my-results", headers=m["uni_member"].headers).json()
    ] == [
        "lc2020-seller-development-transfer",
        "nb2014-seller",
    ]

    assert client.post(f"{url}/freeze", headers=m["admin"].headers).json()["status"] == "frozen"
    before = _stored(run_id)
    r = client.post(f"{url}/compute", headers=m["admin"].headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "run_frozen"
    set_contract(m["c"]["small"], total_amount=D("3000000"), technical_transaction_amount=D("3000000"))
    with pytest.raises(InvalidState):
        flows.compute_run(run_id)
    assert _stored(run_id) == before  # re-running a frozen run changes nothing


def _stored(run_id):
    with session_scope() as s:
        run = s.get(SubsidyRun, run_id)
        rows = s.execute(
            sa.select(
                SubsidyResult.policy_code, SubsidyResult.beneficiary_key, SubsidyResult.total, SubsidyResult.working
            )
            .where(SubsidyResult.run_id == run_id)
            .order_by(SubsidyResult.id)
        ).all()
        return run.status, run.total, run.computed_at, [tuple(r) for r in rows]


def _freeze(client, m, run_id):
    for action, who in (("review", "officer"), ("approve", "admin"), ("freeze", "admin")):
        assert client.post(f"/api/v1/subsidies/runs/{run_id}/{action}", headers=m[who].headers).status_code == 200


def test_a_correction_run_shows_its_difference_to_the_frozen_run(client, market):
    m = market
    frozen = create_and_compute(client, m["officer"])
    _freeze(client, m, frozen)
    set_contract(m["c"]["small"], total_amount=D("3000000"), technical_transaction_amount=D("3000000"))  # an amendment
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=m["officer"].headers,
        json={
            "period_start": "2024-01-01",
            "period_end": "2024-12-31",
            "policy_codes": ["nb2014-buyer"],
            "corrects_run_id": frozen,
        },
    )
    correction = r.json()["id"]
    flows.compute_run(correction)
    d = client.get(f"/api/v1/subsidies/runs/{correction}/diff", headers=m["officer"].headers).json()
    assert d["against_run_id"] == frozen
    assert [
        (c["policy_code"], c["before"], c["after"], c["change"])
        for c in d["changes"]
        if c["policy_code"] == "nb2014-buyer"
    ] == [
        ("nb2014-buyer", "200000.00", "300000.00", "100000.00"),
    ]
    unfrozen = create_and_compute(client, m["officer"])
    bad = client.post(
        "/api/v1/subsidies/runs",
        headers=m["officer"].headers,
        json={"period_start": "2024-01-01", "period_end": "2024-12-31", "corrects_run_id": unfrozen},
    )
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "corrects_unfrozen_run"


def test_editing_a_policy_adds_a_version_and_runs_keep_theirs(client, market):
    m = market
    old_run = create_and_compute(client, m["officer"], codes=["nb2014-seller"])
    spec = client.get("/api/v1/subsidies/policies/nb2014-seller", headers=m["officer"].headers).json()["spec"]
    spec["brackets"] = [{"rate": "0.06", "upto": None}]
    r = client.put("/api/v1/subsidies/policies/nb2014-seller", headers=m["officer"].headers, json=spec)
    assert r.status_code == 200 and r.json()["version"] == 2
    detail = client.get("/api/v1/subsidies/policies/nb2014-seller", headers=m["officer"].headers).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2] and detail["versions"][0]["spec"]["brackets"][0][
        "rate"
    ] == "0.05"
    new_run = create_and_compute(client, m["officer"], codes=["nb2014-seller"])
    old = client.get(f"/api/v1/subsidies/runs/{old_run}", headers=m["officer"].headers).json()
    new = client.get(f"/api/v1/subsidies/runs/{new_run}", headers=m["officer"].headers).json()
    assert old["policies"][0]["version"] == 1 and new["policies"][0]["version"] == 2
    assert (old["total"], new["total"]) == ("600000.00", "720000.00")
    bad = client.put(
        "/api/v1/subsidies/policies/nb2014-seller",
        headers=m["officer"].headers,
        json=spec | {"brackets": [{"rate": "0.05", "upto": "100"}]},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "policy_bad_brackets"


def test_what_if_shows_the_effect_of_a_draft_and_stores_nothing(client, market):
    m = market
    spec = client.get("/api/v1/subsidies/policies/nb2014-buyer", headers=m["officer"].headers).json()["spec"]
    with session_scope() as s:
        counts = (
            s.scalar(sa.select(sa.func.count()).select_from(SubsidyRun)),
            s.scalar(sa.select(sa.func.count()).select_from(SubsidyResult)),
        )
    draft = spec | {"brackets": [{"rate": "0.12", "upto": None}], "buyer_regions": None}  # also pay the Shanghai buyer
    r = client.post(
        "/api/v1/subsidies/what-if",
        headers=m["officer"].headers,
        json={"policy": draft, "period_start": "2024-01-01", "period_end": "2024-12-31"},
    )
    assert r.status_code == 200, r.text
    w = r.json()
    assert (w["current_total"], w["total"], w["change"]) == ("1200000.00", "1920000.00", "720000.00")
    by_change = sorted(D(c["change"]) for c in w["changes"])
    assert by_change == [D("40000"), D("200000"), D("480000")]  # firm2 +2 %, firm +2 %, Shanghai 12 % of 4M
    with session_scope() as s:
        assert counts == (
            s.scalar(sa.select(sa.func.count()).select_from(SubsidyRun)),
            s.scalar(sa.select(sa.func.count()).select_from(SubsidyResult)),
        )
    assert (
        client.post(
            "/api/v1/subsidies/what-if",
            headers=m["firm_admin"].headers,
            json={"policy": draft, "period_start": "2024-01-01", "period_end": "2024-12-31"},
        ).status_code
        == 403
    )


def test_export_csv_and_xlsx_respect_visibility(client, market):
    m = market
    run_id = create_and_compute(client, m["officer"])
    _freeze(client, m, run_id)
    csv_all = client.get(f"/api/v1/subsidies/runs/{run_id}/export.csv", headers=m["officer"].headers)
    assert csv_all.status_code == 200 and csv_all.headers["content-type"].startswith("text/csv")
    assert csv_all.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Chinese
    lines = csv_all.text.lstrip("\ufeff").strip().splitlines()
    assert (
        lines[0].startswith("run_id,policy_code,policy_version") and len(lines) == 1 + 5
    )  # uni×2, firm, firm2, shanghai
    mine = (
        client.get(f"/api/v1/subsidies/runs/{run_id}/export.csv", headers=m["firm_admin"].headers)
        .text.strip()
        .splitlines()
    )
    assert len(mine) == 2 and mine[1].split(",")[-3] == "1000000.00"
    x = client.get(f"/api/v1/subsidies/runs/{run_id}/export.xlsx", headers=m["officer"].headers)
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["汇总", "明细"]
    summary = list(wb["汇总"].values)
    assert summary[0][0] == "批次" and len(summary) == 6
    assert sum(D(str(row[10])) for row in summary[1:]) == D("2040000")
    assert len(list(wb["明细"].values)) == 1 + 2 + 2 + 3  # contributing contracts: seller ×2, buyer ×2, 1.5 % seller ×3


def test_access_per_role(client, market, world):
    m = market
    registrar = world.bureau(Role.registrar)
    expert = world.expert()
    body = {"period_start": "2024-01-01", "period_end": "2024-12-31", "policy_codes": NB}
    assert client.post("/api/v1/subsidies/runs", json=body).status_code == 401
    assert (
        client.post("/api/v1/subsidies/runs", headers=m["firm_admin"].headers, json=body).json()["error"]["code"]
        == "role_required"
    )
    assert client.post("/api/v1/subsidies/runs", headers=expert.headers, json=body).status_code == 403
    assert (
        client.post("/api/v1/subsidies/runs", headers=registrar.headers, json=body).json()["error"]["code"]
        == "subsidy_role_required"
    )
    assert client.get("/api/v1/subsidies/policies", headers=registrar.headers).status_code == 200  # bureau staff read
    assert client.get("/api/v1/subsidies/policies", headers=m["firm_admin"].headers).status_code == 403
    run_id = create_and_compute(client, m["admin"])
    url = f"/api/v1/subsidies/runs/{run_id}"
    assert client.post(f"{url}/review", headers=registrar.headers).status_code == 403
    assert client.post(f"{url}/review", headers=m["admin"].headers).status_code == 200
    r = client.post(f"{url}/approve", headers=m["admin"].headers)  # the reviewer may not approve
    assert r.status_code == 403 and r.json()["error"]["code"] == "four_eyes"
    assert client.get(f"{url}/diff?against={run_id}", headers=m["firm_admin"].headers).status_code == 403
    assert client.get(f"{url}/export.csv", headers=m["firm_admin"].headers).status_code == 404  # not approved yet
    r = client.get("/api/v1/subsidies/my-results", headers=expert.headers)  # an expert is no beneficiary's voice
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_beneficiary"


def test_once_per_activity_and_award_across_years(client, market, world):
    m = market
    national = filed(client, world, "national", dt.date(2023, 9, 1))  # recorded by the bureau
    run_2023 = client.post(
        "/api/v1/subsidies/runs",
        headers=m["officer"].headers,
        json={
            "period_start": "2023-01-01",
            "period_end": "2023-12-31",
            "policy_codes": ["nb2014-buyer", "lc2020-intermediary-recognition"],
        },
    ).json()["id"]
    flows.compute_run(run_2023)
    assert totals(client, m["officer"], run_2023) == {
        ("nb2014-buyer", m["firm"]): "100000.00",
        ("lc2020-intermediary-recognition", national): "1000000.00",
    }
    _freeze(client, m, run_2023)
    # The 2023 deal re-registered in 2024 (the registration says so): the same activity, not paid again.
    again = add_contract(
        m["uni"], m["firm"], 1_000_000, on=dt.date(2024, 2, 1), reregistration_of_id=m["c"]["last_year"]
    )
    run_2024 = create_and_compute(client, m["officer"], codes=["nb2014-buyer", "lc2020-intermediary-recognition"])
    t = totals(client, m["officer"], run_2024)
    assert t[("nb2014-buyer", m["firm"])] == "1000000.00"  # only "big"
    assert ("lc2020-intermediary-recognition", national) not in t
    with session_scope() as s:
        reasons = (
            s.execute(
                sa.text("select reason from subsidy_exclusions where run_id = :r and contract_id = :c"),
                {"r": run_2024, "c": again},
            )
            .scalars()
            .all()
        )
    assert reasons == ["already_subsidised"]


def test_voucher_redemption_makes_a_service_contract_eligible(client, market, world):
    m = market
    provider = world.org(OrgKind.enterprise, region_code="330205")
    service_contract = add_contract(
        provider, m["firm"], 1_000_000, type="service", subtype="technical_service", paid=400_000
    )
    codes = ["lc2020-voucher-provider"]
    before = totals(client, m["officer"], create_and_compute(client, m["officer"], codes=codes))
    assert all(v == "0.00" for v in before.values())
    r = client.post("/api/v1/subsidies/vouchers", headers=m["officer"].headers, json={"contract_id": service_contract})
    assert r.status_code == 201
    after = totals(client, m["officer"], create_and_compute(client, m["officer"], codes=codes))
    # The provider's 5 %; the firm's city 30 % is the voucher programme's to pay (lc2020-voucher-sme is retired).
    assert after == {("lc2020-voucher-provider", provider): "50000.00"}


def test_a_computation_whose_worker_died_can_be_queued_again(client, market):
    import sqlalchemy as sa

    from market.core.db import session_scope, utcnow
    from market.subsidies.models import SubsidyRun

    m = market
    run_id = create_and_compute(client, m["officer"])
    url = f"/api/v1/subsidies/runs/{run_id}/compute"

    def computing_since(minutes: int) -> None:
        with session_scope() as s:
            s.execute(
                sa.update(SubsidyRun)
                .where(SubsidyRun.id == run_id)
                .values(compute_state="computing", updated_at=utcnow() - dt.timedelta(minutes=minutes))
            )

    computing_since(1)  # a live computation: refused
    r = client.post(url, headers=m["officer"].headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "run_computing"
    computing_since(30)  # silent for 30 minutes: its worker is gone
    r = client.post(url, headers=m["officer"].headers)
    assert r.status_code == 202, r.text
    assert r.json()["compute_state"] == "queued"
    flows.compute_run(run_id)
    assert (
        client.get(f"/api/v1/subsidies/runs/{run_id}", headers=m["officer"].headers).json()["compute_state"]
        == "computed"
    )
