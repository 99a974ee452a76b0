"""The one error type: MarketError subclasses carry an HTTP status and a stable code."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    def field(cls, field: str, code: str, message: str) -> "ValidationFailed":
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MarketError)
    async def _market_error(_: Request, exc: MarketError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            ctx = err.get("ctx") or {}
            inner = ctx.get("error")
            code = getattr(inner, "code", None) or f"invalid_{err.get('type', 'value')}".replace(".", "_")
            message = getattr(inner, "message", None) or err.get("msg", "invalid value")
            details.append({"field": _field_path(tuple(err.get("loc", ()))), "code": code, "message": message})
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

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body("internal_error", "An internal error occurred; it has been logged."), status_code=500
        )
