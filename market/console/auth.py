"""Who is at the console: the session cookie, CSRF tokens and role checks.

The cookie holds a login token issued by market/accounts (`service.login`), the same credential the API's bearer
tokens are: it expires, is listed under the user's sessions and is revoked by logout. There is no second credential
store. The CSRF token of a form is an HMAC of the cookie's secret (per session, nothing stored); before login the
same is done with a random pre-login cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.accounts.roles import BUREAU_ROLES, Role
from market.auth.actor import Actor
from market.core.config import get_settings
from market.core.deps import SessionDep
from market.core.errors import Unauthorized

SESSION_COOKIE = "market_console"
LOGIN_COOKIE = "market_console_login"  # random, before login: what the login form's CSRF token is bound to
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"  # htmx requests send the token as a header (hx-headers on <body>)
PREFIX = "/console"
# Who may use the console at all: the bureau's staff and the outside experts. Firms' users get nothing of it.
CONSOLE_ROLES = frozenset(BUREAU_ROLES | {Role.expert})


class LoginRequired(Exception):
    """No (valid) console session: the page answers with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class ConsoleForbidden(Exception):
    """Signed in, but this page is not for this user's role: a 403 page."""

    def __init__(self, message: str = "您的角色无权打开此页面。") -> None:
        super().__init__(message)
        self.message = message


def csrf_token(secret: str) -> str:
    key = (get_settings().secret_key or "market-console").encode()
    return hmac.new(key, b"console-csrf:" + secret.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, sent: str | None) -> bool:
    """Does the token sent with a POST belong to this browser's session (or its pre-login cookie)?"""
    if not sent:
        return False
    for name in (SESSION_COOKIE, LOGIN_COOKIE):
        secret = request.cookies.get(name)
        if secret and hmac.compare_digest(csrf_token(secret), sent):
            return True
    return False


def new_login_secret() -> str:
    return secrets.token_urlsafe(32)


def cookie_options(request: Request) -> dict[str, Any]:
    """HttpOnly and SameSite=Lax always; Secure when the request came over TLS (directly or via the proxy)."""
    return {"httponly": True, "samesite": "lax", "secure": request.url.scheme == "https", "path": PREFIX}


@dataclass(frozen=True)
class ConsoleUser:
    actor: Actor
    display_name: str
    csrf: str

    @property
    def role(self) -> Role:
        return self.actor.role


def safe_next(path: str | None) -> str:
    """Only a console path is a place to go after login (no open redirect)."""
    if path and path.startswith(PREFIX + "/") and not path.startswith("//") and "\\" not in path:
        return path
    return PREFIX + "/"


def here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def login_url(next_path: str) -> str:
    return f"{PREFIX}/login?next={quote(next_path, safe='')}"


def user_from_cookie(session: Session, request: Request) -> ConsoleUser | None:
    """The console user behind the session cookie, or None (no cookie, expired, revoked, disabled)."""
    from market.accounts.service import actor_from_secret

    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        actor = actor_from_secret(session, secret)
    except Unauthorized:
        return None
    if actor.scopes is not None:  # an API key pasted into the cookie is not a login session
        return None
    user = session.get(User, actor.user_id)
    name = (user.display_name if user is not None else "") or actor.username
    return ConsoleUser(actor=actor, display_name=name, csrf=csrf_token(secret))


def console_user(request: Request, session: SessionDep) -> ConsoleUser:
    """Any console page: a signed-in bureau user or expert; anonymous → login, a firm's user → 403."""
    user = user_from_cookie(session, request)
    if user is None:
        raise LoginRequired(here(request))
    if user.role not in CONSOLE_ROLES:
        raise ConsoleForbidden("控制台仅供科技局工作人员和评审专家使用。")
    request.state.console_user = user
    return user


ConsoleUserDep = Annotated[ConsoleUser, Depends(console_user)]


def allow(*roles: Role) -> Any:
    """Dependency: the console user, who must hold one of `roles` (the API's roles, `market.accounts.roles`)."""

    def check(user: ConsoleUserDep) -> ConsoleUser:
        if user.role not in roles:
            raise ConsoleForbidden()
        return user

    return Depends(check)


BureauUser = Annotated[ConsoleUser, allow(*BUREAU_ROLES)]
RegistrarUser = Annotated[ConsoleUser, allow(Role.registrar, Role.bureau_admin)]
ExpertUser = Annotated[ConsoleUser, allow(Role.expert)]
OfficerUser = Annotated[ConsoleUser, allow(Role.programme_officer, Role.bureau_admin)]
AdminUser = Annotated[ConsoleUser, allow(Role.bureau_admin)]
