"""Fixtures of the accounts tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def settings_env() -> Iterator[Callable[..., None]]:
    """Set MARKET_* settings for one test; the environment and the settings cache are restored afterwards."""
    from market.core.config import get_settings

    saved: dict[str, str | None] = {}

    def set_(**values: str) -> None:
        for name, value in values.items():
            key = f"MARKET_{name.upper()}"
            saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        get_settings.cache_clear()

    yield set_
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
