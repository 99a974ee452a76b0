"""Request dependencies: the session, and the actor making the request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.accounts.roles import BUREAU_ROLES, Role
from market.core.db import ReadOnlyUnitOfWork, new_session, session_scope
from market.core.errors import Forbidden, Unauthorized

T = TypeVar("T")
log = logging.getLogger(__name__)


# Requests that only read: their unit of work is read-only (on SQLite a deferred transaction that waits for
# no other reader or writer; see market/core/db.py). Every other method takes the write lock up front.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITES = "market_writes"  # set in a request's scope state: this read request is served by a writing unit


class ReadThatWritesMiddleware:
    """A GET that turns out to write (e.g. installs shipped presets on first read) is run again as a writer.

    Its read-only unit refused the write (`ReadOnlyUnitOfWork`, before anything was committed or sent);
    the request has no body, so it is replayed once with a writing unit of work, and a warning names the route.
    Must sit inside `CatchAllMiddleware`, which would otherwise answer the refusal with a 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READ_METHODS:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
            return
        except ReadOnlyUnitOfWork:
            if started:
                raise
            log.warning(
                "%s %s wrote in a read-only unit of work: served again as a writer", scope["method"], scope.get("path")
            )
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return await receive()

        state = {**scope.get("state", {}), WRITES: True}
        await self.app({**scope, "state": state}, replay_receive, send)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; commits when the endpoint returns, rolls back on error.

    Async, so opening it costs no trip to the worker threads (a session connects on its first query, which
    runs in the endpoint's thread); ending it costs one, and none when the request never touched the database.
    Same unit of work as `session_scope`.
    """
    write = request.method not in READ_METHODS or bool(request.scope.get("state", {}).get(WRITES))
    session = new_session(write=write)
    try:
        yield session
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        raise
    finally:
        if session.in_transaction():  # cancelled mid-commit: give the connection back from a thread
            await run_in_threadpool(session.close)
        else:
            session.close()


# scope="function": commit before the response is sent, so a client never reads ahead of its own write
# (with the default "request" scope the commit ran after the response, and a follow-up request raced it).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


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


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# The bearer token as sent (or None); reading it needs no database, so it costs no worker-thread trip.
BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def actor_for(session: Session, request: Request, token: str | None) -> Actor | None:
    """The actor behind a bearer token or an X-API-Key header; None when the request carries neither.

    An API key acts only within its scopes, on every route: a write outside them is refused here.
    """
    from market.accounts import scopes
    from market.accounts.service import actor_from_secret

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


def require_roles(*roles: Role):
    """Dependency factory: the actor must hold one of `roles`."""

    def _check(actor: CurrentActor) -> Actor:
        if actor.role not in roles:
            raise Forbidden(f"requires one of the roles: {', '.join(r.value for r in roles)}", code="role_required")
        return actor

    return Depends(_check)


BureauActor = Annotated[Actor, require_roles(*BUREAU_ROLES)]


async def in_unit_of_work(work: Callable[[Session], T], *, write: bool = True) -> T:
    """Run `work(session)` in one trip to the worker threads, in its own unit of work (as `SessionDep` commits).

    Every sync dependency and a sync endpoint cost a trip each (SessionDep alone costs two); for the
    hottest read paths, search and match, those trips were a third of the time they add to Meilisearch's.
    """

    def run() -> T:
        with session_scope(write=write) as session:
            return work(session)

    return await run_in_threadpool(run)
