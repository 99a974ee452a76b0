"""The settings that guard a deployment do their job: a production deployment needs its secret, a typo is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from market.core.config import Settings


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(ValidationError, match="MARKET_SECRET_KEY must be set in production"):
        Settings(environment="production", secret_key="")
    settings = Settings(environment="production", secret_key="a-real-secret-0f3c")
    assert not settings.docs_enabled  # production serves no API docs unless asked to


@pytest.mark.parametrize("value", ["prod", "Production", "staging", ""])
def test_an_unknown_environment_is_refused_not_taken_for_development(value):
    with pytest.raises(ValidationError, match="MARKET_ENVIRONMENT must be one of"):
        Settings(environment=value)


@pytest.mark.parametrize("placeholder", ["changeme", "secret", "CHANGE-ME"])
def test_a_placeholder_secret_is_refused(placeholder):
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(secret_key=placeholder)


def test_development_needs_no_secret():
    assert Settings(environment="development", secret_key="").docs_enabled
