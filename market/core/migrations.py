"""The one way to bring a database to a schema revision: Alembic, on a given engine or the configured one."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from market.core.config import PROJECT_ROOT


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    if connection is not None:
        cfg.attributes["connection"] = connection
        cfg.attributes["skip_logging"] = True
    return cfg


def upgrade(engine: sa.Engine | None = None, revision: str = "head") -> None:
    """Upgrade `engine`'s database (default: the configured one, MARKET_DATABASE_URL or the SQLite file)."""
    if engine is None:
        command.upgrade(alembic_config(), revision)
        return
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
