"""Helpers for search tests: listings posted and published through the real listings API."""

from __future__ import annotations

from typing import Any

from market.matching import indexing

ACHIEVEMENT = {
    "title": "高镍三元锂离子电池正极材料制备技术",
    "technical_field": "new_energy",
    "keywords": ["正极材料", "高镍"],
    "region_code": "330203",
    "summary": "一种高镍三元正极材料的共沉淀制备方法，提高动力电池能量密度与循环寿命。",
    "maturity": "pilot",
    "ip_type": "invention_patent",
    "patent_numbers": [],
    "transfer_modes": ["license", "transfer"],
    "asking_price": "800000.00",
}
DEMAND = {
    "title": "锂电正极材料能量密度提升",
    "technical_field": "new_energy",
    "keywords": ["锂电"],
    "region_code": "330212",
    "description": "我公司生产锂电池，需要提升正极材料的能量密度，寻求成熟的制备工艺。",
    "wanted_maturity": "pilot",
    "budget": "1000000.00",
    "cooperation_modes": ["license"],
}


def post(client, member, kind: str, publish: bool = True, **overrides: Any) -> int:
    base = ACHIEVEMENT if kind == "achievement" else DEMAND
    r = client.post(f"/api/v1/{kind}s", json={**base, **overrides}, headers=member.headers)
    assert r.status_code == 201, r.text
    listing_id = r.json()["id"]
    if publish:
        transition(client, member, kind, listing_id, "publish")
    return listing_id


def transition(client, member, kind: str, listing_id: int, action: str) -> None:
    r = client.post(f"/api/v1/{kind}s/{listing_id}/transitions", json={"action": action}, headers=member.headers)
    assert r.status_code == 200, r.text


def drain() -> indexing.DrainResult:
    result = indexing.drain_index()
    assert result.error is None, result.error
    return result


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]
