"""Subsidy inputs are verified facts: filing levels from the bureau's records, recognitions with documents, confirmed links."""

from __future__ import annotations

import datetime as dt

import pytest

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from market.subsidies import flows
from tests.subsidies.helpers import adopt, filed
from tests.subsidies.ledger import add_contract, add_payment

CITY = "lc2020-intermediary-city"  # a city-filed intermediary: 1.5 % of the year's 成交额 ≥ 3,000,000


@pytest.fixture
def m(world, client):
    officer = world.bureau(Role.programme_officer)
    adopt(client, officer, CITY)
    return {
        "uni": world.org(OrgKind.university, region_code="330203"),
        "firm": world.org(OrgKind.enterprise, region_code="330206"),
        "officer": officer,
    }


def total(client, m, codes, year=2024) -> str:
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=m["officer"].headers,
        json={"period_start": f"{year}-01-01", "period_end": f"{year}-12-31", "policy_codes": codes},
    )
    assert r.status_code == 202, r.text
    flows.compute_run(r.json()["id"])
    return client.get(f"/api/v1/subsidies/runs/{r.json()['id']}", headers=m["officer"].headers).json()["total"]


def test_a_filing_level_typed_on_the_profile_never_counts(client, m, world):
    claimed = world.org(
        OrgKind.intermediary, region_code="330201", filing_level="city", filing_date=dt.date(2020, 1, 1)
    )
    add_contract(m["uni"], m["firm"], 4_000_000, intermediary=claimed, on=dt.date(2024, 6, 1))
    assert total(client, m, [CITY]) == "0.00"


def test_the_level_in_force_on_the_contracts_date_counts(client, m, world):
    on_time = filed(client, world, "city", dt.date(2024, 1, 10))
    late = filed(client, world, "city", dt.date(2024, 7, 1))  # filed after the contract: not in force on its date
    expired = filed(client, world, "city", dt.date(2023, 1, 1), valid_until=dt.date(2024, 5, 31))
    for broker in (on_time, late, expired):
        add_contract(m["uni"], m["firm"], 4_000_000, intermediary=broker, on=dt.date(2024, 6, 1))
    assert total(client, m, [CITY]) == "60000.00"  # 1.5 % of 4,000,000, once


def test_first_of_kind_counts_only_once_recorded_with_a_document(client, m, world):
    c = add_contract(m["uni"], m["firm"], 1_000_000, on=dt.date(2024, 3, 1), domestic_first=True)  # the filer's claim
    add_payment(c, 500_000, dt.date(2024, 4, 1))
    assert total(client, m, ["s000-buyer-first-of-kind"]) == "0.00"
    body = {"contract_id": c, "kind": "domestic_first", "document_reference": "浙科发〔2024〕12号"}
    for who in (world.bureau(Role.registrar), world.member(OrgKind.enterprise)):
        assert client.post("/api/v1/subsidies/recognitions", json=body, headers=who.headers).status_code == 403
    r = client.post("/api/v1/subsidies/recognitions", json=body, headers=m["officer"].headers)
    assert r.status_code == 201, r.text
    assert total(client, m, ["s000-buyer-first-of-kind"]) == "50000.00"
    again = client.post("/api/v1/subsidies/recognitions", json=body, headers=m["officer"].headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "recognition_recorded"


def test_a_re_transfer_pays_the_value_added_only_once_the_link_is_confirmed(client, m, world, engine):
    import sqlalchemy as sa

    from market.listings.models import Achievement

    firm2 = world.org(OrgKind.enterprise, region_code="330212")
    with engine.begin() as conn:
        achievement = conn.execute(
            sa.insert(Achievement.__table__)
            .values(
                title="专利",
                summary="x",
                org_id=m["uni"],
                status="published",
                keywords=[],
                technical_field="new_energy",
                region_code="330203",
                version=1,
                maturity="pilot",
                ip_type="other",
                patent_numbers=[],
                transfer_modes=[],
                price_negotiable=True,
                inventors=[],
                recognitions=[],
                created_at=sa.func.now(),
                updated_at=sa.func.now(),
            )
            .returning(Achievement.__table__.c.id)
        ).scalar_one()
    first = add_contract(m["uni"], m["firm"], 1_000_000, on=dt.date(2023, 5, 1), achievement_id=achievement)
    second = add_contract(m["uni"], firm2, 1_500_000, on=dt.date(2024, 5, 1), achievement_id=achievement)
    assert total(client, m, ["nb2014-seller"]) == "75000.00"  # unconfirmed: 5 % of the whole 1,500,000
    registrar = world.bureau(Role.registrar)
    for who in (m["officer"], world.member(OrgKind.enterprise)):
        assert client.post(f"/api/v1/contracts/{first}/achievement-link/confirm", headers=who.headers).status_code in (
            403,
            404,
        )
    for cid in (first, second):
        r = client.post(f"/api/v1/contracts/{cid}/achievement-link/confirm", headers=registrar.headers)
        assert r.status_code == 200 and r.json()["achievement_link_confirmed_at"], r.text
    assert total(client, m, ["nb2014-seller"]) == "25000.00"  # confirmed: the value added, 500,000
