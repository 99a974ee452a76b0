"""Monthly reports produced or re-produced on demand: the CLI and the endpoint, back-filling a past month."""

from click.testing import CliRunner

from market.accounts.roles import Role
from market.cli import main as cli
from market.contracts.service import today
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body

API = "/api/v1/stats"


def test_cli_and_endpoint_produce_and_reproduce(client, world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    registrar = world.bureau(Role.registrar)
    year, month = today().year, today().month
    # a past month with nothing registered can be back-filled
    result = CliRunner().invoke(cli, ["stats-report", "--year", "2024", "--month", "2"])
    assert result.exit_code == 0, result.output
    r = client.get(f"{API}/reports/2024/2", headers=registrar.headers)
    assert r.status_code == 200 and r.json()["region_name"] == "宁波市"
    assert {t["title"]: t for t in r.json()["content"]["tables"]}["summary"]["rows"][0]["count"] == 0

    r = client.post(f"{API}/reports/{year}/{month}", headers=registrar.headers)
    assert r.status_code == 201, r.text
    first = r.json()
    cid = client.post(
        "/api/v1/contracts", json=contract_body(seller.org_id, buyer.org_id), headers=seller.headers
    ).json()["id"]
    assert client.post(f"/api/v1/contracts/{cid}/register", headers=registrar.headers).status_code == 200
    # produced once: without replace the stored report stands; with replace it counts the new registration
    assert client.post(f"{API}/reports/{year}/{month}", headers=registrar.headers).json()["id"] == first["id"]
    summary = lambda: {
        t["title"]: t
        for t in client.get(f"{API}/reports/{year}/{month}", headers=registrar.headers).json()["content"]["tables"]  # noqa: E731
    }["summary"]["rows"][0]["count"]
    assert summary() == 0
    r = client.post(f"{API}/reports/{year}/{month}", params={"replace": "true"}, headers=registrar.headers)
    assert r.status_code == 201 and r.json()["id"] == first["id"] and summary() == 1
    result = CliRunner().invoke(cli, ["stats-report", "--year", str(year), "--month", str(month), "--replace"])
    assert result.exit_code == 0 and f"id {first['id']}" in result.output

    assert client.post(f"{API}/reports/{year}/{month}", headers=seller.headers).status_code == 403
    assert client.post(f"{API}/reports/{year}/13", headers=registrar.headers).status_code == 422
