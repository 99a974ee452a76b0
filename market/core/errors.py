"""The one error type: MarketError subclasses carry an HTTP status and a stable code."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class MarketError(Exception):
    status_code = 400
    code = "bad_request"
    message = "The request cannot be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        if code:
            self.code = code
        self.details = details
        self.headers = headers
        super().__init__(self.message)


class BadRequest(MarketError):
    status_code = 400
    code = "bad_request"


class Unauthorized(MarketError):
    status_code = 401
    code = "not_authenticated"
    message = "Authentication required (bearer token or X-API-Key)."


class Forbidden(MarketError):
    status_code = 403
    code = "forbidden"
    message = "You are not allowed to do this."


class NotFound(MarketError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(MarketError):
    status_code = 409
    code = "conflict"


class InvalidState(Conflict):
    code = "invalid_state"
    message = "This action is not allowed in the current state."


class ValidationFailed(MarketError):
    status_code = 422
    code = "validation_failed"
    message = "The request is invalid."

    @classmethod
    def field(cls, field: str, code: str, message: str) -> ValidationFailed:
        return cls(message, code=code, details=[{"field": field, "code": code, "message": message}])


class TooManyRequests(MarketError):
    status_code = 429
    code = "rate_limited"
    message = "Too many attempts; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ServiceUnavailable(MarketError):
    status_code = 503
    code = "service_unavailable"
    message = "A backing service is unavailable; try again shortly."


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as the API reports them: field, stable code, message (also used by the console's forms)."""
    details = []
    for err in errors:
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        code = getattr(inner, "code", None) or f"invalid_{err.get('type', 'value')}".replace(".", "_")
        message = getattr(inner, "message", None) or err.get("msg", "invalid value")
        details.append({"field": _field_path(tuple(err.get("loc", ()))), "code": code, "message": message})
    return details


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MarketError)
    async def _market_error(_: Request, exc: MarketError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc.errors())
        first = details[0] if details else {"code": "validation_failed", "message": "invalid request"}
        code = first["code"] if len(details) == 1 else "validation_failed"
        message = f"{first['field']}: {first['message']}" if len(details) == 1 else "The request has invalid fields."
        return JSONResponse(error_body(code, message, details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated", 403: "forbidden"}
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(sa.exc.IntegrityError)
    async def _integrity_error(_: Request, exc: sa.exc.IntegrityError) -> JSONResponse:
        # A backstop: the schemas and services check first; a constraint that still fires is the client's input.
        err = integrity_error(exc)
        log.warning("constraint refused a request: %s (%s)", err.code, type(exc.orig).__name__)
        return JSONResponse(error_body(err.code, err.message), status_code=err.status_code)

    @app.exception_handler(sa.exc.DataError)
    @app.exception_handler(OverflowError)
    async def _data_error(_: Request, exc: Exception) -> JSONResponse:
        # Input past what a column holds (PostgreSQL "integer out of range", SQLite "Python int too large").
        err = data_error(exc)
        log.warning("database refused a value: %s (%s)", err.code, type(getattr(exc, "orig", exc)).__name__)
        return JSONResponse(error_body(err.code, err.message), status_code=err.status_code)

    # Unexpected exceptions are answered by `CatchAllMiddleware`, not by an `Exception` handler: Starlette
    # re-raises after such a handler's response, and the server then closes the keep-alive connection.
    app.add_middleware(CatchAllMiddleware)


def integrity_error(exc: sa.exc.IntegrityError) -> MarketError:
    """The 4xx a constraint violation means, the same on PostgreSQL (SQLSTATE) and SQLite (message)."""
    state = getattr(exc.orig, "sqlstate", None) or ""
    text = str(exc.orig).upper()
    if state == "23503" or "FOREIGN KEY" in text:
        return ValidationFailed("A referenced record does not exist.", code="unknown_reference")
    if state == "23505" or "UNIQUE" in text:
        return Conflict("A record with these values already exists.", code="already_exists")
    if state == "23502" or "NOT NULL" in text:
        return ValidationFailed("A required value is missing.", code="missing_value")
    return ValidationFailed("The values break a rule of the record.", code="constraint_violated")


def data_error(exc: Exception) -> MarketError:
    """The 422 a value the database cannot store means (a backstop behind the shared input types)."""
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None) or ""
    if isinstance(orig, OverflowError) or state == "22003":
        return ValidationFailed("A value is out of the range the field allows.", code="out_of_range")
    if state in ("22021", "22P05") or "0x00" in str(orig):
        return ValidationFailed("Text contains characters that cannot be stored.", code="invalid_text")
    if state == "22001":
        return ValidationFailed("A value is too long for its field.", code="too_long")
    return ValidationFailed("A value cannot be stored in its field.", code="invalid_value")


INTERNAL_ERROR = error_body("internal_error", "An internal error occurred; it has been logged.")


class CatchAllMiddleware:
    """Answer an unhandled exception with the one error shape and a 500, and keep the connection usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("unhandled error", exc_info=exc)
            if started:
                raise  # half a response is out: only closing the connection can tell the client
            await JSONResponse(INTERNAL_ERROR, status_code=500)(scope, receive, send)
