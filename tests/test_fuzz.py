"""Property-based fuzz of the whole OpenAPI (schemathesis): no 5xx and no response off its schema, per role.

Bounded: 8 examples per operation (valid and invalid data), as a bureau admin and as an enterprise member, on one real
SQLite database and a real Meilisearch for the module (the whole file runs in about two minutes on
two cores). `MARKET_FUZZ_EXAMPLES` raises the bound for a longer run by hand.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from market.accounts.roles import Role
from market.app import create_app
from market.core.db import create_db_engine, set_engine
from tests.factories import World

EXAMPLES = int(os.environ.get("MARKET_FUZZ_EXAMPLES", "8"))

app = create_app()
# The fuzzing phase only, valid and invalid data: the coverage phase alone took 4.5 minutes on two cores.
config = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all"},
        "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.fixture(scope="module")
def fuzz_headers(sqlite_template: Path, meili_server, meili_app_key: str, tmp_path_factory) -> Iterator[dict]:
    """One database and one Meilisearch index prefix for the whole fuzz run; tokens of both roles."""
    from market.matching import synonyms
    from search import runtime, writer
    from search.client import MeiliClient

    path = tmp_path_factory.mktemp("fuzz") / "market.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    set_engine(engine)
    if not meili_server.popen or meili_server.popen.poll() is not None:
        meili_server.start()
    client = MeiliClient(meili_server.url, meili_app_key)
    runtime.configure(client, f"t_fuzz{secrets.token_hex(3)}")
    synonyms.reset_cache()
    try:
        writer.apply_settings(client)
    except BaseException:
        client.close()
        raise
    world = World()
    bureau = world.bureau(Role.bureau_admin)
    member = world.member(role=Role.member)
    yield {"bureau": bureau.headers, "enterprise": member.headers}
    runtime.configure(None)
    client.close()
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("role", ["bureau", "enterprise"])
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_responses_match_schema(case, role: str, fuzz_headers: dict) -> None:
    if case.path == "/readyz":
        # 503 is readiness's documented "not ready" answer (this run has no Redis, so no worker), not a server error.
        response = case.call_and_validate(headers=fuzz_headers[role], checks=[response_schema_conformance])
        assert response.status_code in (200, 503)
        assert response.json()["status"] == ("ok" if response.status_code == 200 else "unavailable")
        return
    case.call_and_validate(headers=fuzz_headers[role], checks=[not_a_server_error, response_schema_conformance])
