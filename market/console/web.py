"""What every console page shares: the route class (CSRF on every POST, errors as pages), templates, `render`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from market.console import auth
from market.console.menu import MenuItem, visible
from market.core.errors import MarketError

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))
MENU: list[MenuItem] = []  # filled by market.console.pages from each page module's MENU


def _money(value: Any) -> str:
    """An amount as 4,000,000.00 — Decimals, and the decimal strings a result's stored working holds."""
    if value is None:
        return "—"
    if isinstance(value, Decimal | int | float):
        return f"{Decimal(value):,.2f}"
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return value
        return f"{amount:,.2f}" if amount.is_finite() else value
    return str(value)


def _datetime(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return "—" if value is None else str(value)


templates.env.filters["money"] = _money
templates.env.filters["when"] = _datetime


class FormErrors:
    """An error from a service, as the API would send it, split so each message sits next to its field."""

    def __init__(self, exc: MarketError | None = None) -> None:
        self.code = exc.code if exc else ""
        self.message = exc.message if exc else ""
        self.fields: dict[str, tuple[str, str]] = {}
        for detail in (exc.details or []) if exc else []:
            field = str(detail.get("field") or "")
            if field:
                self.fields[field.rsplit(".", 1)[-1]] = (str(detail.get("code", "")), str(detail.get("message", "")))
                self.fields.setdefault(field, self.fields[field.rsplit(".", 1)[-1]])

    def __bool__(self) -> bool:
        return bool(self.code)

    def field(self, name: str) -> tuple[str, str] | None:
        return self.fields.get(name)

    @property
    def general(self) -> bool:
        """Shown at the top of the form: an error not tied to one field."""
        return bool(self.code) and not self.fields


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    user: auth.ConsoleUser | None = getattr(request.state, "console_user", None)
    ctx: dict[str, Any] = {
        "user": user,
        "menu": visible(MENU, user.role) if user else [],
        "csrf": user.csrf if user else "",
        "csrf_field": auth.CSRF_FIELD,
        "errors": FormErrors(),
        "path": request.url.path,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)


def redirect(path: str) -> RedirectResponse:
    """After a successful POST: see the result with a GET (303)."""
    return RedirectResponse(path, status_code=303)


def attempt(session: Session, action: Callable[[], Any]) -> MarketError | None:
    """Run a service call; on its error undo whatever it flushed and hand the error back for the form to show."""
    try:
        action()
    except MarketError as exc:
        session.rollback()
        return exc
    return None


def error_page(request: Request, status_code: int, code: str, message: str) -> HTMLResponse:
    return render(request, "console/error.html", {"code": code, "message": message}, status_code=status_code)


class ConsoleRoute(APIRoute):
    """The route class of every console page.

    Every POST must carry the session's CSRF token (form field `csrf_token` or header X-CSRF-Token) or is refused
    with 403 before the endpoint runs. No session → a redirect to the login form; a role the page is not for → a
    403 page; a service error not handled by the page → an error page with the API's code and message.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if request.method == "POST":
                sent = request.headers.get(auth.CSRF_HEADER)
                if sent is None:
                    form = await request.form()
                    value = form.get(auth.CSRF_FIELD)
                    sent = value if isinstance(value, str) else None
                if not auth.csrf_ok(request, sent):
                    return error_page(
                        request, 403, "csrf_failed", "表单已失效或来源不明（CSRF 校验失败），请刷新页面后重试。"
                    )
            try:
                return await handler(request)
            except auth.LoginRequired as exc:
                return RedirectResponse(auth.login_url(exc.next_path), status_code=303)
            except auth.ConsoleForbidden as exc:
                return error_page(request, 403, "role_required", exc.message)
            except MarketError as exc:
                return error_page(request, exc.status_code, exc.code, exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                return error_page(request, 422, "validation_failed", str(first.get("msg", "请求无效")))

        return route
