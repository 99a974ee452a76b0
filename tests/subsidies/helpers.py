"""Builders of plain calculator inputs for the subsidy tests."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from market.subsidies.calculator import ContractFact, Party

_ids = itertools.count(1)

UNI = Party("宁波某大学", org_id=9001, entity_type="022", region="330203")
INSTITUTE = Party("宁波某研究院", org_id=9002, entity_type="021", region="330212")
FIRM = Party("宁波某企业", org_id=9101, entity_type="150", region="330206")
FIRM_2 = Party("宁波另一企业", org_id=9102, entity_type="170", region="330281")
OUTSIDE_FIRM = Party("上海某企业", org_id=9201, entity_type="150", region="310115")
CITY_BROKER = Party("市级技术转移机构", org_id=9301, entity_type="150", region="330201", filing_level="city")
PROVINCIAL_BROKER = Party(
    "省级技术转移机构", org_id=9302, entity_type="150", region="330201", filing_level="provincial"
)


def fact(
    amount: str | int,
    *,
    type: str = "transfer",
    seller: Party = UNI,
    buyer: Party = FIRM,
    technical: str | int | None = None,
    paid: str | int | None = None,
    on: dt.date = dt.date(2024, 6, 1),
    **kw,
) -> ContractFact:
    n = kw.pop("contract_id", None) or next(_ids)
    total = Decimal(str(amount))
    return ContractFact(
        contract_id=n,
        registration_number=kw.pop("registration_number", f"330200-2024-{n:05d}"),
        contract_type=type,
        subtype=kw.pop("subtype", ""),
        seller=seller,
        buyer=buyer,
        total_amount=total,
        technical_amount=total if technical is None else Decimal(str(technical)),
        paid_amount=total if paid is None else Decimal(str(paid)),
        registered_on=on,
        **kw,
    )


def adopt(client, who, *codes: str, jurisdiction: str = "3302") -> None:
    """The bureau adopts another city's presets for its own city: a new version of each (through the API)."""
    from market.subsidies.calculator import policy_from_dict, policy_to_dict
    from market.subsidies.presets import adopted

    for code in codes:
        spec = client.get(f"/api/v1/subsidies/policies/{code}", headers=who.headers).json()["spec"]
        r = client.put(
            f"/api/v1/subsidies/policies/{code}",
            headers=who.headers,
            json=policy_to_dict(adopted(policy_from_dict(spec), jurisdiction)),
        )
        assert r.status_code == 200, r.text


def filed(
    client, world, level: str, filed_on: dt.date, *, region: str = "330201", valid_until: dt.date | None = None
) -> int:
    """An intermediary that applied for a filing and had it recorded by the bureau (through the API)."""
    from market.accounts.roles import Role
    from market.core.vocab import OrgKind

    member = world.member(OrgKind.intermediary, region_code=region)
    fid = client.post("/api/v1/filings", json={"level": level}, headers=member.headers).json()["id"]
    body = {
        "filing_number": f"F-{fid}",
        "level": level,
        "filed_on": filed_on.isoformat(),
        "valid_until": valid_until.isoformat() if valid_until else None,
    }
    r = client.post(f"/api/v1/filings/{fid}/record", json=body, headers=world.bureau(Role.bureau_admin).headers)
    assert r.status_code == 200, r.text
    return member.org_id


def enable(client, who, code: str, **changes) -> dict:
    """The bureau turns a shipped-off preset on: its first edit (a version with the bureau's figures)."""
    spec = client.get(f"/api/v1/subsidies/policies/{code}", headers=who.headers).json()["spec"]
    r = client.put(f"/api/v1/subsidies/policies/{code}", headers=who.headers, json={**spec, **changes})
    assert r.status_code == 200, r.text
    return r.json()


def run_year(client, who, year: int, codes: list[str] | None = None) -> int:
    """Create a run for the year through the API and compute it (as the worker does)."""
    from market.subsidies.flows import compute_run

    body: dict = {"period_start": f"{year}-01-01", "period_end": f"{year}-12-31"}
    if codes is not None:
        body["policy_codes"] = codes
    r = client.post("/api/v1/subsidies/runs", headers=who.headers, json=body)
    assert r.status_code == 202, r.text
    compute_run(r.json()["id"])
    return r.json()["id"]
