"""Login, logout and the console's front page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from market.accounts import service as accounts
from market.accounts.throttle import client_address, get_throttle
from market.console import auth
from market.console.menu import MenuItem
from market.console.web import ConsoleRoute, redirect, render
from market.core.config import get_settings
from market.core.deps import SessionDep
from market.core.errors import MarketError, Unauthorized

router = APIRouter(route_class=ConsoleRoute)
MENU = [MenuItem("首页", "/console/", auth.CONSOLE_ROLES, order=0)]


def _login_form(
    request: Request, *, next_path: str, error: str = "", username: str = "", status: int = 200
) -> Response:
    secret = request.cookies.get(auth.LOGIN_COOKIE) or auth.new_login_secret()
    response = render(
        request,
        "console/login.html",
        {"next": next_path, "error": error, "username": username, "login_csrf": auth.csrf_token(secret)},
        status_code=status,
    )
    if request.cookies.get(auth.LOGIN_COOKIE) != secret:
        response.set_cookie(auth.LOGIN_COOKIE, secret, **auth.cookie_options(request))
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/console/") -> Response:
    return _login_form(request, next_path=auth.safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/console/",
) -> Response:
    """The API's login (same throttle, same credential): a login token kept in an HttpOnly cookie."""
    throttle, address = get_throttle(request), client_address(request)
    try:
        throttle.check_login(username, address)
        secret = accounts.login(session, username, password)
    except Unauthorized:
        throttle.login_failed(username, address)
        session.rollback()
        return _login_form(
            request, next_path=auth.safe_next(next), error="用户名或密码错误。", username=username, status=401
        )
    except MarketError as exc:  # throttled (429)
        session.rollback()
        return _login_form(
            request, next_path=auth.safe_next(next), error=exc.message, username=username, status=exc.status_code
        )
    actor = accounts.actor_from_secret(session, secret)
    if actor.role not in auth.CONSOLE_ROLES:
        # A firm's user: the session just made is revoked again (audited as a logout), and nothing of the console shown.
        accounts.logout(session, actor)
        return _login_form(request, next_path="/console/", error="控制台仅供科技局工作人员和评审专家使用。", status=403)
    response = redirect(auth.safe_next(next))
    response.set_cookie(
        auth.SESSION_COOKIE, secret, max_age=get_settings().access_token_minutes * 60, **auth.cookie_options(request)
    )
    response.delete_cookie(auth.LOGIN_COOKIE, path=auth.PREFIX)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: auth.ConsoleUserDep) -> Response:
    """The API's logout: the session's token is revoked (audited), and the cookie dropped."""
    accounts.logout(session, user.actor)
    response = redirect("/console/login")
    response.delete_cookie(auth.SESSION_COOKIE, path=auth.PREFIX)
    return response


@router.get("/")
def home(request: Request, user: auth.ConsoleUserDep) -> Response:
    return render(request, "console/home.html")
