"""Schema only through Alembic: one linear history, and models that match the migrations."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import market.models  # noqa: F401
from market.core.config import PROJECT_ROOT
from market.core.db import Base
from market.core.migrations import alembic_config


def test_history_has_one_head_and_no_forks():
    script = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini")))
    assert len(script.get_heads()) == 1, f"migration history forked: heads {script.get_heads()}"
    for rev in script.walk_revisions():
        assert not isinstance(rev.down_revision, tuple | list), f"{rev.revision} merges branches; keep it linear"


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations drift: {diff}"


def test_downgrade_to_base_and_up_again(sqlite_engine):
    with sqlite_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
        command.upgrade(alembic_config(conn), "head")
