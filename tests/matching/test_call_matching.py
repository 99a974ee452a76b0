"""A published open call is matched to the organisations whose public listings fit it."""

from market.calls.endpoints import clock
from market.core.vocab import OrgKind
from tests.calls.conftest import T0, Clock, Kit
from tests.search.conftest import drain, post


def test_solve_call_finds_holders_of_fitting_achievements(pg_client, pg_world, meili):
    pinned = Clock(T0)
    pg_client.app.dependency_overrides[clock] = pinned
    kit = Kit(pg_client, pg_world, pinned)
    holder = pg_world.member(OrgKind.institute)
    unrelated = pg_world.member(OrgKind.university)
    drafter = pg_world.member(OrgKind.university)
    fit = post(
        pg_client,
        holder,
        "achievement",
        title="硫化物固态电解质室温高离子电导率制备技术",
        summary="硫化物体系固态电解质，室温离子电导率达1.5e-3 S/cm，适用于全固态锂离子电池。",
        keywords=["固态电解质", "锂离子电池"],
    )
    post(
        pg_client,
        unrelated,
        "achievement",
        title="水稻抗倒伏栽培技术",
        technical_field="agriculture",
        summary="通过调控氮肥与密植，显著降低水稻倒伏率，适合长江中下游稻区。",
        keywords=["水稻"],
    )
    post(
        pg_client,
        drafter,
        "achievement",
        publish=False,
        title="固态电解质界面改性（未公开草稿）",
        summary="硫化物固态电解质与锂金属负极界面改性，草稿不应参与匹配。",
        keywords=["固态电解质"],
    )
    call = kit.published_call()
    drain()

    r = pg_client.get(f"/api/v1/match/call/{call['id']}/organisations")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["matched_against"] == "achievement"
    orgs = [item["org_id"] for item in body["items"]]
    assert orgs[0] == holder.org_id
    assert unrelated.org_id not in orgs[:1] and drafter.org_id not in orgs
    first = body["items"][0]["listings"][0]
    assert first["id"] == fit and first["matched_terms"]
    assert kit.firm.org_id not in orgs


def test_unpublished_call_is_not_matched(pg_client, pg_world, meili):
    pg_client.app.dependency_overrides[clock] = Clock(T0)
    kit = Kit(pg_client, pg_world, Clock(T0))
    from tests.calls.conftest import call_body

    proposed = kit.post(kit.firm, "/api/v1/calls", call_body(), 201)
    r = pg_client.get(f"/api/v1/match/call/{proposed['id']}/organisations")
    assert r.status_code == 404 and r.json()["error"]["code"] == "call_not_found"
