"""API key scopes: which part of the API a key may change (pure rules, no database).

Every key reads whatever its user's role may read; each scope adds the writes of one area. Session
management, passwords and API keys themselves are changed only with a login session, never with a key.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    read = "read"  # reading only: a key with just this scope changes nothing
    listings = "listings"  # achievements and demands (科技成果 / 技术需求)
    contracts = "contracts"  # technology contract filing and registration (技术合同认定登记)
    bids = "bids"  # bids on open calls (揭榜)
    calls = "calls"  # open calls and their projects, other than bids
    matching = "matching"  # saved searches, inbox, webhooks, synonyms
    subsidies = "subsidies"
    stats = "stats"  # statistics targets
    accounts = "accounts"  # organisations and their users


ALL_SCOPES = frozenset(Scope)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/v1/"
# The first path segment under /api/v1 → the scope its writes need.
AREA_SCOPES = {
    "achievements": Scope.listings,
    "demands": Scope.listings,
    "contracts": Scope.contracts,
    "calls": Scope.calls,
    "saved-searches": Scope.matching,
    "inbox": Scope.matching,
    "webhooks": Scope.matching,
    "synonyms": Scope.matching,
    "subsidies": Scope.subsidies,
    "stats": Scope.stats,
    "organisations": Scope.accounts,
    "users": Scope.accounts,
}
# Writes under these segments need a login session: a key cannot mint keys or manage sessions and passwords.
SESSION_ONLY = frozenset({"auth"})
SESSION_ONLY_SCOPE = "session"


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs from an API key: None for reads, "session" where no key may act."""
    if method.upper() in READ_METHODS:
        return None
    parts = path.removeprefix(API_PREFIX).strip("/").split("/")
    area = parts[0]
    if area in SESSION_ONLY:
        return SESSION_ONLY_SCOPE
    if area == "calls" and "bids" in parts[1:]:
        return Scope.bids
    # An area nobody mapped is refused rather than open: a new router must say which scope it needs.
    return AREA_SCOPES.get(area, SESSION_ONLY_SCOPE)


def parse(scopes: str | None) -> frozenset[str] | None:
    """Stored scopes → a set; None (a login session) means the user's full role."""
    return None if scopes is None else frozenset(scopes.split())


def serialise(scopes: set[str] | frozenset[str] | list[str]) -> str:
    return " ".join(sorted(set(scopes) | {Scope.read}))


def allows(scopes: frozenset[str] | None, method: str, path: str) -> bool:
    needed = required_scope(method, path)
    return scopes is None or needed is None or needed in scopes
