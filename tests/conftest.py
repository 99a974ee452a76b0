"""Fixtures: real PostgreSQL / SQLite databases built by `alembic upgrade head`, one fresh database per test."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.core.db import create_db_engine, set_engine
from market.core.migrations import upgrade
from market.embedded import start_postgres
from tests.factories import World

pytest_plugins = ["tests.services"]

TEST_ROOT = Path(os.environ.get("MARKET_TEST_DIR") or tempfile.mkdtemp(prefix="market-test-"))


def migrate(engine: sa.Engine) -> None:
    upgrade(engine)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 18 server for the whole run; yields an admin URL (psycopg form)."""
    url = os.environ.get("MARKET_TEST_POSTGRES_URL")
    server = None
    if not url:
        server = start_postgres(TEST_ROOT / "pg" / "data")
        url = server.url
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    yield url
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(postgres_server: str) -> str:
    """A database migrated to head once; each test copies it (CREATE DATABASE … TEMPLATE)."""
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    name = f"market_template_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = create_db_engine(_with_db(postgres_server, name), poolclass=sa.NullPool)
    migrate(engine)
    engine.dispose()
    admin.dispose()
    return name


def _with_db(url: str, name: str) -> str:
    u = sa.engine.make_url(url)
    return u.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def pg_engine(postgres_server: str, pg_template: str) -> Iterator[sa.Engine]:
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"t_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    engine = create_db_engine(_with_db(postgres_server, name))
    set_engine(engine)
    yield engine
    leaked = engine.pool.checkedout()
    engine.dispose()
    assert leaked == 0, f"{leaked} database connection(s) still checked out after the test"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    path = TEST_ROOT / "sqlite-template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    path = tmp_path / "market.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    set_engine(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """Both databases: PostgreSQL (reference) and SQLite (embedded default)."""
    return request.getfixturevalue("pg_engine" if request.param == "postgresql" else "sqlite_engine")


@pytest.fixture
def client(engine: sa.Engine) -> Iterator[TestClient]:
    from market.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def pg_client(pg_engine: sa.Engine) -> Iterator[TestClient]:
    from market.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(engine: sa.Engine) -> World:
    return World()


@pytest.fixture
def pg_world(pg_engine: sa.Engine) -> World:
    return World()
