"""The `market demo-data` command."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from market.cli import main
from market.core.db import session_scope
from market.listings.models import Achievement, Demand


def test_demo_data_command_loads_once(sqlite_engine):
    runner = CliRunner()
    first = runner.invoke(main, ["demo-data", "--listings", "30"])
    assert first.exit_code == 0, first.output
    assert "achievements: 18, demands: 12" in first.output
    with session_scope() as s:
        total = sum(s.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Achievement, Demand))
    assert total == 30
    again = runner.invoke(main, ["demo-data"])
    assert again.exit_code == 0 and "already exist" in again.output
