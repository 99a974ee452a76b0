"""Runs across a year: caps, once-only and paid-amount rules hold however many runs cover the year."""

from __future__ import annotations

import datetime as dt

import pytest

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from market.subsidies import flows
from tests.subsidies.helpers import adopt
from tests.subsidies.ledger import add_contract, add_payment, set_contract

SELLER = "lc2020-seller-development-transfer"  # 1.5 % of the year's 成交额, cap 500,000 per seller per year
SERVICE = "lc2020-seller-consulting-service"  # 1 ‰, cap 200,000
CENTRE = "s000-transfer-centre"  # 10 % of the amount actually paid, cap 200,000 per contract


@pytest.fixture
def m(world, client):
    uni = world.org(OrgKind.university, region_code="330203")
    firm = world.org(OrgKind.enterprise, region_code="330206")
    officer = world.bureau(Role.programme_officer)
    adopt(client, officer, SELLER, SERVICE)  # 聊城's rules, adopted for this (Ningbo) deployment
    return {"uni": uni, "firm": firm, "officer": officer, "admin": world.bureau(Role.bureau_admin)}


def run(client, m, start, end, codes, **extra) -> dict:
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=m["officer"].headers,
        json={"period_start": start, "period_end": end, "policy_codes": codes, **extra},
    )
    assert r.status_code == 202, r.text
    flows.compute_run(r.json()["id"])
    return client.get(f"/api/v1/subsidies/runs/{r.json()['id']}", headers=m["officer"].headers).json()


def freeze(client, m, run_id) -> None:
    for action, who in (("review", "officer"), ("approve", "admin"), ("freeze", "admin")):
        r = client.post(f"/api/v1/subsidies/runs/{run_id}/{action}", headers=m[who].headers)
        assert r.status_code == 200, r.text


def results(client, m, run_id) -> dict[tuple[str, int | None], dict]:
    r = client.get(f"/api/v1/subsidies/runs/{run_id}/results?page_size=200", headers=m["officer"].headers)
    return {(x["policy_code"], x["beneficiary_org_id"]): x for x in r.json()["items"]}


def test_the_yearly_cap_holds_across_runs_of_the_year(client, m):
    add_contract(m["uni"], m["firm"], 10_000_000, type="development", subtype="commissioned", on=dt.date(2024, 2, 1))
    q1 = run(client, m, "2024-01-01", "2024-03-31", [SELLER])
    assert results(client, m, q1["id"])[(SELLER, m["uni"])]["total"] == "150000.00"
    freeze(client, m, q1["id"])
    add_contract(m["uni"], m["firm"], 40_000_000, type="development", subtype="commissioned", on=dt.date(2024, 5, 1))
    q2 = run(client, m, "2024-04-01", "2024-06-30", [SELLER])
    r = results(client, m, q2["id"])[(SELLER, m["uni"])]
    assert r["total"] == "350000.00"  # was 500,000: 650,000 in the year against a 500,000 cap
    assert (r["paid_before"], r["due_total"], r["total"]) == ("150000.00", "500000.00", "350000.00")
    assert q2["total"] == "350000.00"


def test_a_full_year_run_after_a_frozen_quarter_pays_only_what_is_still_due(client, m):
    add_contract(m["uni"], m["firm"], 10_000_000, type="development", subtype="commissioned", on=dt.date(2024, 2, 1))
    q1 = run(client, m, "2024-01-01", "2024-03-31", [SELLER])
    freeze(client, m, q1["id"])
    add_contract(m["uni"], m["firm"], 2_000_000, type="development", subtype="commissioned", on=dt.date(2024, 8, 1))
    year = run(client, m, "2024-01-01", "2024-12-31", [SELLER])
    r = results(client, m, year["id"])[(SELLER, m["uni"])]
    assert r["total"] == "30000.00"  # was 180,000: the Q1 contract paid again
    assert (r["paid_before"], r["due_total"], r["total"]) == ("150000.00", "180000.00", "30000.00")
    # Each activity is settled once: the Q1 contract shows as paid before, not as due again.
    detail = client.get(f"/api/v1/subsidies/results/{r['id']}", headers=m["officer"].headers).json()
    items = {i["contract_id"]: (i["paid_before"], i["difference"]) for i in detail["working"]["settlement"]["items"]}
    assert sorted(items.values()) == [("0.00", "30000.00"), ("150000.00", "0.00")]


def test_two_registered_contracts_with_the_same_names_are_two_activities(client, m):
    for _ in range(2):
        add_contract(
            m["uni"],
            m["firm"],
            3_000_000,
            type="service",
            subtype="technical_service",
            project="设备调试技术服务",
            on=dt.date(2024, 3, 1),
        )
    year = run(client, m, "2024-01-01", "2024-12-31", [SERVICE])
    r = results(client, m, year["id"])[(SERVICE, m["uni"])]
    assert r["total"] == "6000.00" and r["excluded_count"] == 0


def test_a_re_registration_is_the_same_activity_and_is_not_paid_again(client, m):
    first = add_contract(
        m["uni"], m["firm"], 10_000_000, type="development", subtype="commissioned", on=dt.date(2023, 6, 1)
    )
    freeze(client, m, run(client, m, "2023-01-01", "2023-12-31", [SELLER])["id"])
    set_contract(first, status="cancelled", cancelled_on=dt.date(2024, 1, 10))
    add_contract(
        m["uni"],
        m["firm"],
        10_000_000,
        type="development",
        subtype="commissioned",
        on=dt.date(2024, 1, 10),
        reregistration_of_id=first,
    )
    year = run(client, m, "2024-01-01", "2024-12-31", [SELLER])
    assert results(client, m, year["id"])[(SELLER, m["uni"])]["total"] == "0.00"


def test_paid_amount_policies_pay_on_payments_received_in_the_period(client, m, world):
    centre = world.org(OrgKind.intermediary, region_code="330201")
    c = add_contract(m["uni"], m["firm"], 1_000_000, intermediary=centre, on=dt.date(2023, 11, 20))
    add_payment(c, 400_000, dt.date(2024, 2, 10))
    y2023 = run(client, m, "2023-01-01", "2023-12-31", [CENTRE])
    assert y2023["total"] == "0.00"
    y2024 = run(client, m, "2024-01-01", "2024-12-31", [CENTRE])
    assert results(client, m, y2024["id"])[(CENTRE, centre)]["total"] == "40000.00"
    # Paid once: after a frozen Q1, the year pays only the later payment.
    q1 = run(client, m, "2024-01-01", "2024-03-31", [CENTRE])
    freeze(client, m, q1["id"])
    add_payment(c, 100_000, dt.date(2024, 7, 1))
    rest = run(client, m, "2024-01-01", "2024-12-31", [CENTRE])
    assert results(client, m, rest["id"])[(CENTRE, centre)]["total"] == "10000.00"


def test_a_correction_records_a_negative_difference_as_an_amount_to_recover(client, m):
    big = add_contract(
        m["uni"], m["firm"], 20_000_000, type="development", subtype="commissioned", on=dt.date(2024, 2, 1)
    )
    add_contract(m["uni"], m["firm"], 4_000_000, type="development", subtype="commissioned", on=dt.date(2024, 3, 1))
    year = run(client, m, "2024-01-01", "2024-12-31", [SELLER])
    assert results(client, m, year["id"])[(SELLER, m["uni"])]["total"] == "360000.00"
    freeze(client, m, year["id"])
    set_contract(big, status="cancelled", cancelled_on=dt.date(2024, 9, 1))
    fix = run(client, m, "2024-01-01", "2024-12-31", [SELLER], corrects_run_id=year["id"])
    r = results(client, m, fix["id"])[(SELLER, m["uni"])]
    assert (r["paid_before"], r["due_total"], r["difference"], r["total"], r["to_recover"]) == (
        "360000.00",
        "60000.00",
        "-300000.00",
        "0.00",
        "300000.00",
    )
    assert (fix["total"], fix["to_recover"]) == ("0.00", "300000.00")  # never netted against other payees
    d = client.get(f"/api/v1/subsidies/runs/{fix['id']}/diff", headers=m["officer"].headers).json()
    assert [(c["paid_before"], c["due_now"], c["difference"], c["to_recover"]) for c in d["changes"]] == [
        ("360000.00", "60000.00", "-300000.00", "300000.00"),
    ]
    freeze(client, m, fix["id"])
    # The recovery is part of the books: a later run owes again only above what stands after it.
    add_contract(m["uni"], m["firm"], 2_000_000, type="development", subtype="commissioned", on=dt.date(2024, 10, 1))
    later = run(client, m, "2024-10-01", "2024-12-31", [SELLER])
    r = results(client, m, later["id"])[(SELLER, m["uni"])]
    assert (r["paid_before"], r["due_total"], r["total"]) == ("60000.00", "90000.00", "30000.00")


def test_a_run_spans_one_calendar_year(client, m):
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=m["officer"].headers,
        json={"period_start": "2023-07-01", "period_end": "2024-06-30", "policy_codes": [SELLER]},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "period_spans_years"


def test_freezing_a_run_computed_before_another_froze_is_refused(client, m):
    add_contract(m["uni"], m["firm"], 10_000_000, type="development", subtype="commissioned", on=dt.date(2024, 2, 1))
    a = run(client, m, "2024-01-01", "2024-12-31", [SELLER])
    b = run(client, m, "2024-01-01", "2024-03-31", [SELLER])
    freeze(client, m, b["id"])
    for action, who in (("review", "officer"), ("approve", "admin")):
        client.post(f"/api/v1/subsidies/runs/{a['id']}/{action}", headers=m[who].headers)
    r = client.post(f"/api/v1/subsidies/runs/{a['id']}/freeze", headers=m["admin"].headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "run_outdated"
