"""The actor: the user behind a request or a command, their organisation, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass

from market.accounts.roles import BUREAU_ROLES, Role


@dataclass(frozen=True)
class Actor:
    """Who is asking: the user, their organisation, and what they may do."""

    user_id: int
    org_id: int
    role: Role
    org_kind: str
    org_verified: bool
    username: str = ""
    # The credential that authenticated this request (None for actors made in code, e.g. in tasks),
    # and an API key's scopes (None: a login session, acting with the user's full role).
    credential_id: int | None = None
    scopes: frozenset[str] | None = None

    @property
    def is_bureau(self) -> bool:
        return self.role in BUREAU_ROLES

    @property
    def is_expert(self) -> bool:
        return self.role == Role.expert

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles
