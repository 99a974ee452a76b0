"""Request dependencies: the session and its unit of work (the actor is `market.auth`'s)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.core.db import ReadOnlyUnitOfWork, new_session, session_scope

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


async def in_unit_of_work(work: Callable[[Session], T], *, write: bool = True) -> T:
    """Run `work(session)` in one trip to the worker threads, in its own unit of work (as `SessionDep` commits).

    Every sync dependency and a sync endpoint cost a trip each (SessionDep alone costs two); for the
    hottest read paths, search and match, those trips were a third of the time they add to Meilisearch's.
    """

    def run() -> T:
        with session_scope(write=write) as session:
            return work(session)

    return await run_in_threadpool(run)
