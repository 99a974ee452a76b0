"""FastAPI dependencies for the actor: the current (or optional) actor, role checks and API-key scopes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from market.accounts import scopes
from market.accounts.roles import BUREAU_ROLES, Role
from market.accounts.service import actor_from_secret
from market.auth.actor import Actor
from market.core.deps import SessionDep
from market.core.errors import Forbidden, Unauthorized

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# The bearer token as sent (or None); reading it needs no database, so it costs no worker-thread trip.
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def actor_for(session: Session, request: Request, token: str | None) -> Actor | None:
    """The actor behind a bearer token or an X-API-Key header; None when the request carries neither.

    An API key acts only within its scopes, on every route: a write outside them is refused here.
    """
    secret = token or request.headers.get("X-API-Key")
    if not secret:
        return None
    actor = actor_from_secret(session, secret)
    if not scopes.allows(actor.scopes, request.method, request.url.path):
        needed = scopes.required_scope(request.method, request.url.path)
        if needed == scopes.SESSION_ONLY_SCOPE:
            raise Forbidden("this needs a login session, not an API key", code="session_required")
        raise Forbidden(f"this API key lacks the '{needed}' scope", code="scope_required")
    return actor


async def get_optional_actor(request: Request, session: SessionDep, token: BearerToken) -> Actor | None:
    # Anonymous requests (most reads) need no database and so no trip to the worker threads.
    if not (token or request.headers.get("X-API-Key")):
        return None
    return await run_in_threadpool(actor_for, session, request, token)


def get_actor(actor: Annotated[Actor | None, Depends(get_optional_actor)]) -> Actor:
    if actor is None:
        raise Unauthorized(headers={"WWW-Authenticate": "Bearer"})
    return actor


OptionalActor = Annotated[Actor | None, Depends(get_optional_actor)]
CurrentActor = Annotated[Actor, Depends(get_actor)]


def require_roles(*roles: Role) -> Any:
    """Dependency factory: the actor must hold one of `roles`."""

    def _check(actor: CurrentActor) -> Actor:
        if actor.role not in roles:
            raise Forbidden(f"requires one of the roles: {', '.join(r.value for r in roles)}", code="role_required")
        return actor

    return Depends(_check)


BureauActor = Annotated[Actor, require_roles(*BUREAU_ROLES)]
