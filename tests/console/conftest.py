"""Console test helpers: a TestClient signed in through the session cookie, and the CSRF token for its forms."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from market.calls.endpoints import clock
from market.console import auth
from tests.calls.conftest import T0, Clock, Kit
from tests.factories import Member, World


def sign_in(client: TestClient, member: Member) -> str:
    """Put `member`'s login token in the console cookie (as the login form would); returns the session's CSRF token."""
    client.cookies.clear()
    client.cookies.set(auth.SESSION_COOKIE, member.token)
    return auth.csrf_token(member.token)


def csrf_tokens(html: str) -> set[str]:
    """Every CSRF token the page's forms carry."""
    return set(re.findall(r'name="csrf_token" value="([^"]*)"', html))


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture
def kit(client: TestClient, world: World) -> Kit:
    """The open-call kit of tests/calls (pinned clock): the console's pages use the same clock dependency."""
    pinned = Clock(T0)
    client.app.dependency_overrides[clock] = pinned  # type: ignore[attr-defined]  # TestClient.app is the FastAPI app
    return Kit(client, world, pinned)
