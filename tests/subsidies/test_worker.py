"""The run's computation through a real Celery worker: queued by the endpoint, progress written to the run."""

from __future__ import annotations

from market.accounts.roles import Role
from market.core.vocab import OrgKind
from tests.services import wait_until
from tests.subsidies.ledger import add_contract


def test_a_worker_computes_a_queued_run_and_reports_progress(pg_client, pg_world, celery_worker):
    uni = pg_world.org(OrgKind.university, region_code="330203")
    firm = pg_world.org(OrgKind.enterprise, region_code="330206")
    add_contract(uni, firm, 1_000_000)
    officer = pg_world.bureau(Role.programme_officer)
    celery_worker(queues="subsidies")
    r = pg_client.post(
        "/api/v1/subsidies/runs",
        headers=officer.headers,
        json={
            "period_start": "2024-01-01",
            "period_end": "2024-12-31",
            "policy_codes": ["nb2014-seller", "nb2014-buyer"],
        },
    )
    assert r.status_code == 202 and r.json()["compute_state"] == "queued"
    url = f"/api/v1/subsidies/runs/{r.json()['id']}"

    def computed():
        run = pg_client.get(url, headers=officer.headers).json()
        return run if run["compute_state"] == "computed" else None

    run = wait_until(computed, timeout=60)
    assert (run["progress_done"], run["progress_total"], run["total"]) == (3, 3, "150000.00")


def test_a_run_queued_while_redis_is_down_is_computed_by_the_beat_sweep(client, world, redis_down):
    from workers.app import celery_app

    uni = world.org(OrgKind.university, region_code="330203")
    firm = world.org(OrgKind.enterprise, region_code="330206")
    add_contract(uni, firm, 1_000_000)
    officer = world.bureau(Role.programme_officer)
    r = client.post(
        "/api/v1/subsidies/runs",
        headers=officer.headers,
        json={
            "period_start": "2024-01-01",
            "period_end": "2024-12-31",
            "policy_codes": ["nb2014-seller", "nb2014-buyer"],
        },
    )
    assert r.status_code == 202 and r.json()["compute_state"] == "queued"
    # Redis is down: no message reached any worker. What beat runs on the subsidies queue picks the run up.
    sweeps = [e["task"] for e in celery_app.conf.beat_schedule.values() if e["options"]["queue"] == "subsidies"]
    for name in sweeps:
        celery_app.tasks[name]()
    run = client.get(f"/api/v1/subsidies/runs/{r.json()['id']}", headers=officer.headers).json()
    assert (run["compute_state"], run["total"]) == ("computed", "150000.00")
